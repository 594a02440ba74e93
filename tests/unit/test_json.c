/*
 * test_json: JSON <-> msgpack conversions (common/sl_json).
 *
 * JSON text is loaded with jansson, packed with sl_json_to_mp, unpacked
 * by msgpack-c and turned back with sl_json_from_mp; the result must
 * equal the original. Then the depth limit, and a table of msgpack
 * values that have no JSON form. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_err.h"

/* Per-test state: the packed bytes and their unpacked form. */
typedef struct fixture {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	msgpack_sbuffer_init(&f->sb);
	msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&f->u);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	msgpack_unpacked_destroy(&f->u);
	msgpack_sbuffer_destroy(&f->sb);
	free(f);
	return 0;
}

/* Unpack exactly one object from data into f->u. */
static const msgpack_object *
s_unpack(fixture_t *f, const void *data, size_t len)
{
	size_t off = 0;

	assert_int_equal(msgpack_unpack_next(&f->u, data, len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	return &f->u.data;
}

static json_t *
s_load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (!j) {
		print_error("test JSON '%s': %s\n", text, jerr.text);
		fail();
	}
	return j;
}

/* ---- round trips ---------------------------------------------------------
 */

static const char *const s_round_trips[] = {
	"{}",
	"[]",
	"null",
	"true",
	"false",
	"0",
	"-1",
	"255",
	"65536",
	"4294967296",
	"-9223372036854775808", /* INT64_MIN */
	"9223372036854775807",  /* INT64_MAX */
	"1.5",
	"-0.25",
	"1e300",
	"3.141592653589793",
	"\"plain ascii\"",
	"\"h\\u00e9llo w\\u00f6rld \\u2603 \\ud83d\\ude00\"",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x89\"",
	"\"nul\\u0000inside\"",
	"\"quote \\\" backslash \\\\ newline \\n tab \\t\"",
	"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
	"{\"\\u043a\\u043b\\u044e\\u0447\":\"\\u0437\\u043d\\u0430\"}",
	"[1,2.5,\"three\",[4,[5,[6]]],{\"seven\":7}]",
	"[[],{},[{}],{\"x\":[]}]",
	"{\"big\":9223372036854775807,\"small\":-9223372036854775808}",
};

static void
test_json_values_survive_a_round_trip_through_msgpack(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(s_round_trips); i++) {
		const char *text = s_round_trips[i];
		json_t *in = s_load(text), *out = NULL;
		const char *why = NULL;

		msgpack_sbuffer_clear(&f->sb);
		sl_assert_row_int(text, sl_json_to_mp(in, &f->pk, 32), 0);
		s_unpack(f, f->sb.data, f->sb.size);
		sl_assert_row_int(
		    text, sl_json_from_mp(&f->u.data, &out, &why), 0);
		if (!json_equal(in, out)) {
			char *got = sl_test_dumps(out);

			print_error(
			    "row \"%s\": came back as %s\n", text, got);
			free(got);
			fail();
		}
		json_decref(in);
		json_decref(out);
	}
}

/*
 * msgpack-c 4.0 hands out a zero-length str with ptr == NULL when no
 * str/bin came before it in the buffer (top level, first element, first
 * key), and jansson's json_stringn(NULL, 0) returns NULL. An empty string
 * or map key must still come back as "", not be refused as invalid UTF-8.
 */
static void
s_assert_round_trip(fixture_t *f, const char *text)
{
	json_t *in = s_load(text), *out = NULL;
	const char *why = "";

	msgpack_sbuffer_clear(&f->sb);
	sl_assert_row_int(text, sl_json_to_mp(in, &f->pk, 4), 0);
	s_unpack(f, f->sb.data, f->sb.size);
	if (sl_json_from_mp(&f->u.data, &out, &why)) {
		print_error("row '%s': refused: %s\n", text, why);
		json_decref(in);
		fail();
	}
	sl_assert_row_int(text, json_equal(in, out), 1);
	json_decref(in);
	json_decref(out);
}

static void
test_json_empty_strings_round_trip(void **state)
{
	fixture_t *f = *state;

	s_assert_round_trip(f, "{\"k\":\"\"}"); /* a key came first */
	s_assert_round_trip(f, "[\"\"]");
	s_assert_round_trip(f, "\"\"");
}

/* Last in the run: under UBSan the NULL key reaches memchr() and aborts. */
static void
test_json_empty_map_key_round_trips(void **state)
{
	s_assert_round_trip(*state, "{\"\":1}");
}

static void
test_json_integers_pack_as_integers_and_reals_as_float64(void **state)
{
	static const struct {
		const char *text;
		msgpack_object_type type;
	} rows[] = {
		{ "7", MSGPACK_OBJECT_POSITIVE_INTEGER },
		{ "-7", MSGPACK_OBJECT_NEGATIVE_INTEGER },
		{ "9223372036854775807", MSGPACK_OBJECT_POSITIVE_INTEGER },
		{ "-9223372036854775808", MSGPACK_OBJECT_NEGATIVE_INTEGER },
		{ "7.0", MSGPACK_OBJECT_FLOAT64 },
		{ "0.1", MSGPACK_OBJECT_FLOAT64 },
		{ "\"7\"", MSGPACK_OBJECT_STR },
		{ "null", MSGPACK_OBJECT_NIL },
		{ "true", MSGPACK_OBJECT_BOOLEAN },
		{ "{\"k\":1}", MSGPACK_OBJECT_MAP },
		{ "[1]", MSGPACK_OBJECT_ARRAY },
	};
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(rows); i++) {
		json_t *in = s_load(rows[i].text);

		msgpack_sbuffer_clear(&f->sb);
		sl_assert_row_int(
		    rows[i].text, sl_json_to_mp(in, &f->pk, 4), 0);
		json_decref(in);
		sl_assert_row_int(rows[i].text,
		    s_unpack(f, f->sb.data, f->sb.size)->type, rows[i].type);
	}
	/* the real keeps its exact bits: 0.1 is not rounded through float */
	msgpack_sbuffer_clear(&f->sb);
	{
		json_t *r = json_real(0.1);

		assert_int_equal(sl_json_to_mp(r, &f->pk, 1), 0);
		json_decref(r);
	}
	assert_int_equal(f->sb.size, 9);
	assert_int_equal((unsigned char) f->sb.data[0], 0xcb);
	assert_true(s_unpack(f, f->sb.data, f->sb.size)->via.f64 == 0.1);
}

/* ---- the depth limit -----------------------------------------------------
 */

/* n nested containers (arrays, or objects under key "k") around 1. */
static json_t *
s_nested(unsigned n, bool objects)
{
	json_t *j = json_integer(1);

	for (unsigned i = 0; i < n; i++) {
		json_t *outer = objects ? json_object() : json_array();

		if (objects)
			json_object_set_new(outer, "k", j);
		else
			json_array_append_new(outer, j);
		j = outer;
	}
	return j;
}

static void
test_json_to_mp_allows_max_depth_and_refuses_one_more(void **state)
{
	fixture_t *f = *state;

	for (int objects = 0; objects < 2; objects++) {
		for (unsigned max = 1; max <= 12; max++) {
			json_t *ok = s_nested(max, objects);
			json_t *deep = s_nested(max + 1, objects);
			char row[48];

			snprintf(row, sizeof row, "%s, max_depth %u",
			    objects ? "objects" : "arrays", max);
			msgpack_sbuffer_clear(&f->sb);
			sl_assert_row_int(
			    row, sl_json_to_mp(ok, &f->pk, max), 0);
			msgpack_sbuffer_clear(&f->sb);
			sl_assert_row_int(
			    row, sl_json_to_mp(deep, &f->pk, max), SL_ETOOBIG);
			json_decref(ok);
			json_decref(deep);
		}
	}
}

static void
test_json_to_mp_depth_counts_containers_not_scalars(void **state)
{
	fixture_t *f = *state;
	json_t *scalar = json_string("x");
	json_t *empty = json_array();

	assert_int_equal(sl_json_to_mp(scalar, &f->pk, 0), 0);
	assert_int_equal(sl_json_to_mp(empty, &f->pk, 0), SL_ETOOBIG);
	assert_int_equal(sl_json_to_mp(empty, &f->pk, 1), 0);
	json_decref(scalar);
	json_decref(empty);
}

/* ---- msgpack that has no JSON form -----------------------------------------
 */

typedef struct from_row {
	const char *name;
	const char *raw;
	size_t len;
	int expect;
	const char *json; /* expected canonical JSON when expect == 0 */
} from_row_t;

/* clang-format off */
#define REFUSED(name, bytes) { name, B(bytes), SL_EPROTO, NULL }
#define BECOMES(name, bytes, json) { name, B(bytes), 0, json }
/* clang-format on */

static const from_row_t s_from_rows[] = {
	REFUSED("invalid UTF-8 string", "\xa2\xff\xfe"),
	REFUSED("truncated UTF-8 sequence", "\xa2x\xc3"),
	REFUSED("UTF-16 surrogate as UTF-8", "\xa3\xed\xa0\x80"),
	REFUSED("overlong encoding of '/'", "\xa2\xc0\xaf"),
	REFUSED("fixext 1", "\xd4\x01\x00"),
	REFUSED("ext 8", "\xc7\x01\x05\x00"),
	REFUSED("ext inside an array", "\x92\x01\xd4\x01\x00"),
	REFUSED("float64 NaN", "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
	REFUSED("float64 +Inf", "\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"),
	REFUSED("float32 -Inf", "\xca\xff\x80\x00\x00"),
	REFUSED("float32 NaN", "\xca\x7f\xc0\x00\x00"),
	REFUSED(
	    "uint64 INT64_MAX + 1", "\xcf\x80\x00\x00\x00\x00\x00\x00\x00"),
	REFUSED("uint64 max", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
	REFUSED("integer map key", "\x81\x01\x02"),
	REFUSED("nil map key", "\x81\xc0\x02"),
	REFUSED("bin map key", "\x81\xc4\x01x\x02"),
	REFUSED("map key with NUL", "\x81\xa3x\x00y\x01"),
	REFUSED("map key invalid UTF-8", "\x81\xa1\xff\x01"),
	REFUSED("duplicate map key", "\x82\xa1k\x01\xa1k\x02"),
	REFUSED("duplicate key in a nested map",
	    "\x91\x83\xa1"
	    "a\x01\xa1"
	    "b\x02\xa1"
	    "a\x03"),
	BECOMES("keys differing in length", "\x82\xa1k\x01\xa2kk\x02",
	    "{\"k\":1,\"kk\":2}"),
	REFUSED(
	    "bad value deep in a map", "\x81\xa1k\x91\x81\xa1k\xd4\x01\x00"),
	REFUSED("bad value after good ones",
	    "\x93\x01\xa1x\xcb\x7f\xf8\0\0\0\0\0\0"),
	BECOMES("bin \\x01\\x02", "\xc4\x02\x01\x02", "\"AQI=\""),
	BECOMES("bin empty", "\xc4\x00", "\"\""),
	BECOMES("bin of 3", "\xc4\x03\x00\x01\xff", "\"AAH/\""),
	BECOMES("bin of 1", "\xc4\x01\xfb", "\"+w==\""),
	BECOMES("bin16 in a map", "\x81\xa1x\xc5\x00\x04xyzw",
	    "{\"x\":\"eHl6dw==\"}"),
	BECOMES("uint64 INT64_MAX", "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff",
	    "9223372036854775807"),
	BECOMES("int64 INT64_MIN", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
	    "-9223372036854775808"),
	BECOMES("uint8 200", "\xcc\xc8", "200"),
	BECOMES("int8 -100", "\xd0\x9c", "-100"),
	BECOMES("float32 1.5", "\xca\x3f\xc0\x00\x00", "1.5"),
	BECOMES("string with NUL", "\xa3x\x00y", "\"x\\u0000y\""),
	BECOMES("nil", "\xc0", "null"),
	BECOMES("false", "\xc2", "false"),
	BECOMES("empty map", "\x80", "{}"),
	BECOMES("str8 key", "\x81\xd9\x01k\x90", "{\"k\":[]}"),
};

static void
test_json_from_mp_converts_or_refuses_each_format(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(s_from_rows); i++) {
		const from_row_t *t = &s_from_rows[i];
		json_t *out = NULL;
		const char *why = NULL;

		s_unpack(f, t->raw, t->len);
		sl_assert_row_int(t->name,
		    sl_json_from_mp(&f->u.data, &out, &why), t->expect);
		if (t->expect) {
			if (out || !why || !*why) {
				print_error("row \"%s\": refusal left out=%p "
				            "why=%s\n",
				    t->name, (void *) out, why ? why : "NULL");
				fail();
			}
			continue;
		}
		{
			char *got = sl_test_dumps(out);

			sl_assert_row_str(t->name, got, t->json);
			free(got);
		}
		json_decref(out);
	}
}

static void
test_json_from_mp_accepts_a_null_why(void **state)
{
	fixture_t *f = *state;
	json_t *out = NULL;

	s_unpack(f, B("\xd4\x01\x00"));
	assert_int_equal(sl_json_from_mp(&f->u.data, &out, NULL), SL_EPROTO);
	assert_null(out);
}

/* The check that keeps values msgpack must say yes exactly where the
 * conversion would succeed. */
static void
test_json_mp_check_agrees_with_from_mp_on_every_row(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(s_from_rows); i++) {
		const from_row_t *t = &s_from_rows[i];
		const char *why = NULL;

		s_unpack(f, t->raw, t->len);
		sl_assert_row_int(t->name,
		    sl_json_mp_check(&f->u.data, 32, &why), t->expect);
		if (t->expect && (!why || !*why)) {
			print_error(
			    "row \"%s\": refused without why\n", t->name);
			fail();
		}
	}
}

/* A map of n keys "k0".."k<n-1>"; with dup the last is "k0" again. */
static void
s_pack_map(msgpack_sbuffer *sb, unsigned n, bool dup)
{
	msgpack_packer pk;
	char key[16];

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(
		    key, sizeof key, "k%u", dup && i == n - 1 ? 0 : i);

		msgpack_pack_str_with_body(&pk, key, (size_t) len);
		msgpack_pack_int(&pk, (int) i);
	}
}

static void
test_json_mp_check_finds_repeated_keys_in_small_and_large_maps(void **state)
{
	fixture_t *f = *state;
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	/* 16 keys are compared pairwise, more are sorted */
	for (unsigned n = 2; n <= 300; n = n < 20 ? n + 1 : n * 3) {
		char row[32];

		snprintf(row, sizeof row, "%u keys", n);
		s_pack_map(&sb, n, false);
		s_unpack(f, sb.data, sb.size);
		sl_assert_row_int(
		    row, sl_json_mp_check(&f->u.data, 4, NULL), 0);
		s_pack_map(&sb, n, true);
		s_unpack(f, sb.data, sb.size);
		sl_assert_row_int(
		    row, sl_json_mp_check(&f->u.data, 4, NULL), SL_EPROTO);
	}
	msgpack_sbuffer_destroy(&sb);
}

static void
test_json_mp_check_bounds_nesting(void **state)
{
	fixture_t *f = *state;

	s_unpack(f, B("\x91\x91\x91\x01")); /* 3 containers */
	assert_int_equal(sl_json_mp_check(&f->u.data, 3, NULL), 0);
	assert_int_equal(sl_json_mp_check(&f->u.data, 2, NULL), SL_ETOOBIG);
	s_unpack(f, B("\x81\xa1k\x81\xa1k\x01")); /* maps count too */
	assert_int_equal(sl_json_mp_check(&f->u.data, 1, NULL), SL_ETOOBIG);
	s_unpack(f, B("\x05")); /* a scalar needs no depth */
	assert_int_equal(sl_json_mp_check(&f->u.data, 0, NULL), 0);
}

/* Where a text stops being JSON: the first byte no JSON text can have
 * there, its length when cut short, SIZE_MAX when it is valid. */
static void
test_json_bad_offset_points_at_the_first_invalid_byte(void **state)
{
	static const struct {
		const char *text;
		size_t want;
	} rows[] = {
		{ "not json", 1 },
		{ "nul", 3 },
		{ "null", SIZE_MAX },
		{ " \t\r\n{}", SIZE_MAX },
		{ "{\"type\":\"ping\"}", SIZE_MAX },
		{ "{\"a\":[1,-2.5e+3,true,false,null,\"\\u00e9\\n\"]}",
		    SIZE_MAX },
		{ "", 0 },
		{ "   ", 3 },
		{ "{", 1 },
		{ "{\"a\":}", 5 },
		{ "{\"a\" 1}", 5 },
		{ "{\"a\":1,}", 7 },
		{ "{,}", 1 },
		{ "[1,]", 3 },
		{ "[1 2]", 3 },
		{ "[1]]", 3 },
		{ "{}x", 2 },
		{ "{\"a\":1]", 6 },
		{ "[01]", 2 },
		{ "[-]", 2 },
		{ "[1.]", 3 },
		{ "[1e]", 3 },
		{ "[.5]", 1 },
		{ "[+1]", 1 },
		{ "[tru]", 4 },
		{ "[True]", 1 },
		{ "\"ab\\x\"", 4 },
		{ "\"\\u12G4\"", 5 },
		{ "\"a\nb\"", 2 },
		{ "\"abc", 4 },
		{ "\"\xc3\xa9\"", SIZE_MAX },
		{ "\"\xff\"", 1 },
		{ "\"\xe0\x80\x80\"", 2 }, /* overlong */
		{ "\"\xed\xa0\x80\"", 2 }, /* surrogate */
		{ "\"\xc3(\"", 2 },
		{ "\"\xe2\x82", 3 }, /* cut short */
		{ "[[[[", 4 },
		{ "1", SIZE_MAX },
		{ "12 3", 3 },
	};

	(void) state;
	/* NUL bytes: jansson skips one right after a number or literal */
	assert_int_equal(sl_json_bad_offset("3\0", 2), SIZE_MAX);
	assert_int_equal(sl_json_bad_offset("3\0x", 3), 2);
	assert_int_equal(sl_json_bad_offset("[true\0]", 7), SIZE_MAX);
	assert_int_equal(sl_json_bad_offset("[3\0\0]", 5), 3);
	assert_int_equal(sl_json_bad_offset("[1]\0", 4), 3);
	assert_int_equal(sl_json_bad_offset("\"a\0\"", 4), 2);
	/* a NUL is no hex digit either (strchr finds the terminator) */
	assert_int_equal(sl_json_bad_offset("\"\\u00\0a\"", 8), 5);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t got
		    = sl_json_bad_offset(rows[i].text, strlen(rows[i].text));

		if (got != rows[i].want)
			fail_msg("row %zu %s: got %zu, want %zu", i,
			    rows[i].text, got, rows[i].want);
	}
}

/* Nesting deeper than the scanner's stack is not called invalid. */
static void
test_json_bad_offset_survives_deep_nesting(void **state)
{
	size_t n = 100000;
	char *s = malloc(n);

	(void) state;
	assert_non_null(s);
	memset(s, '[', n);
	assert_int_equal(sl_json_bad_offset(s, n), SIZE_MAX);
	s[n / 2] = 'x';
	assert_int_equal(sl_json_bad_offset(s, n), SIZE_MAX);
	s[10] = 'x';
	assert_int_equal(sl_json_bad_offset(s, n), 10);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_json_values_survive_a_round_trip_through_msgpack,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_empty_strings_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_integers_pack_as_integers_and_reals_as_float64,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_to_mp_allows_max_depth_and_refuses_one_more,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_to_mp_depth_counts_containers_not_scalars, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_from_mp_converts_or_refuses_each_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_from_mp_accepts_a_null_why, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_empty_map_key_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_mp_check_agrees_with_from_mp_on_every_row, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_mp_check_finds_repeated_keys_in_small_and_large_maps,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_mp_check_bounds_nesting, setup, teardown),
		cmocka_unit_test(
		    test_json_bad_offset_points_at_the_first_invalid_byte),
		cmocka_unit_test(test_json_bad_offset_survives_deep_nesting),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
