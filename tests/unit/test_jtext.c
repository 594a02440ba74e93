/*
 * test_jtext: msgpack -> JSON text (common/sl_jtext) against the encoder
 * it replaced, jansson: for every value, either both refuse it or the
 * text is byte for byte json_dumpb(sl_json_from_mp(value), JSON_COMPACT).
 * A hand-written corpus of the edges, then random values. Single
 * threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <math.h>

#include "sl_err.h"
#include "sl_jtext.h"

/* The old encoder's text for o, malloc'd (NUL-terminated), or NULL when
 * it refuses o. */
static char *
s_oracle(const msgpack_object *o)
{
	json_t *j = NULL;
	char *text;

	if (sl_json_from_mp(o, &j, NULL))
		return NULL;
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(text);
	json_decref(j);
	return text;
}

/* Both encoders on the msgpack bytes (one value); returns whether the
 * value has a JSON form. */
static bool
s_same(const char *bytes, size_t len)
{
	msgpack_unpacked u;
	sl_jtext_t w = { 0 };
	size_t off = 0;
	char *want;
	int rc;

	msgpack_unpacked_init(&u);
	assert_int_equal(
	    msgpack_unpack_next(&u, bytes, len, &off), MSGPACK_UNPACK_SUCCESS);
	want = s_oracle(&u.data);
	rc = sl_jtext_mp(&w, &u.data);
	if (!want) {
		assert_int_equal(rc, SL_EPROTO);
	} else {
		assert_int_equal(rc, 0);
		if (w.len != strlen(want) || memcmp(w.buf, want, w.len)) {
			print_error(
			    "new %.*s\nold %s\n", (int) w.len, w.buf, want);
			fail();
		}
	}
	free(want);
	free(w.buf);
	msgpack_unpacked_destroy(&u);
	return rc == 0;
}

/* A packer into a fresh buffer; s_check packs nothing more. */
typedef struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
} pk_t;

static msgpack_packer *
s_pk(pk_t *pk)
{
	msgpack_sbuffer_init(&pk->sb);
	msgpack_packer_init(&pk->p, &pk->sb, msgpack_sbuffer_write);
	return &pk->p;
}

static bool
s_check(pk_t *pk)
{
	bool ok = s_same(pk->sb.data, pk->sb.size);

	msgpack_sbuffer_destroy(&pk->sb);
	return ok;
}

static bool
s_str(const char *s, size_t n)
{
	pk_t pk;

	msgpack_pack_str_with_body(s_pk(&pk), s, n);
	return s_check(&pk);
}

static bool
s_real(double d, bool f32)
{
	pk_t pk;

	if (f32)
		msgpack_pack_float(s_pk(&pk), (float) d);
	else
		msgpack_pack_double(s_pk(&pk), d);
	return s_check(&pk);
}

static void
test_jtext_strings_escape_as_jansson_does(void **state)
{
	char all[128];

	(void) state;
	for (int i = 0; i < 128; i++)
		all[i] = (char) i;
	assert_true(s_str(all, sizeof all)); /* NUL, controls, ", \, DEL */
	assert_true(s_str("", 0));
	assert_true(s_str("/ \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 13));
	/* not well-formed UTF-8: both refuse */
	assert_false(s_str("\xff", 1));
	assert_false(s_str("a\xc3", 2));            /* cut short */
	assert_false(s_str("\xc0\xaf", 2));         /* overlong */
	assert_false(s_str("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(s_str("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}

static void
test_jtext_numbers_match_at_their_limits(void **state)
{
	const double reals[]
	    = { 0.0, -0.0, 0.1, 1.0, -1.5, 100.0, 1e15, 1.5e16, 1e17, 1e21,
		      1e22, 1e300, -1e-7, 5e-324, 2.2250738585072014e-308,
		      1.7976931348623157e308, 123456789.125 };
	const int64_t ints[]
	    = { 0, 1, -1, 9, 10, -10, 127, -32, -33, 255, 65536, INT32_MAX,
		      INT32_MIN, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	pk_t pk;

	(void) state;
	for (size_t i = 0; i < SL_N(reals); i++) {
		assert_true(s_real(reals[i], false));
		/* past FLT_MAX a float32 is inf: refused by both */
		s_real(reals[i], true);
	}
	assert_false(s_real(NAN, false));
	assert_false(s_real(INFINITY, false));
	assert_false(s_real(-INFINITY, true));
	for (size_t i = 0; i < SL_N(ints); i++) {
		msgpack_pack_int64(s_pk(&pk), ints[i]);
		assert_true(s_check(&pk));
	}
	msgpack_pack_uint64(s_pk(&pk), (uint64_t) INT64_MAX);
	assert_true(s_check(&pk));
	msgpack_pack_uint64(s_pk(&pk), (uint64_t) INT64_MAX + 1);
	assert_false(s_check(&pk));
	msgpack_pack_uint64(s_pk(&pk), UINT64_MAX);
	assert_false(s_check(&pk));
}

static void
test_jtext_bin_ext_and_map_keys_as_before(void **state)
{
	(void) state;
	/* bin of 0..4 bytes: base64 with every padding */
	assert_true(s_same("\xc4\x00", 2));
	assert_true(s_same("\xc4\x01\xff", 3));
	assert_true(s_same("\xc4\x02\x00\xfe", 4));
	assert_true(s_same("\xc4\x03\x01\x02\x03", 5));
	assert_true(s_same("\xc4\x04\x01\x02\x03\x04", 6));
	assert_false(s_same("\xd4\x01\x02", 3)); /* fixext 1 */
	assert_false(s_same("\xc7\x00\x05", 3)); /* empty ext 8 */
	assert_true(s_same("\x80", 1));          /* {} */
	assert_true(s_same("\x90", 1));          /* [] */
	assert_true(s_same("\x81\xa0\xc0", 3));  /* {"":null} */
	assert_true(s_same("\x82\xa1"
	                   "a\x01\xa1"
	                   "b\x92\xc3\xc2",
	    10));
	assert_false(s_same("\x81\x01\x02", 3)); /* int key */
	assert_false(s_same("\x81\xc4\x01"
	                    "a\x02",
	    5)); /* bin key */
	assert_false(s_same("\x81\xa2"
	                    "a\x00\x02",
	    5));                                     /* NUL in key */
	assert_false(s_same("\x81\xa1\xff\x02", 4)); /* key not UTF-8 */
	assert_false(s_same("\x82\xa1"
	                    "a\x01\xa1"
	                    "a\x02",
	    7));                                     /* repeated */
	assert_false(s_same("\x91\x81\x01\x02", 4)); /* nested refusal */
	assert_true(s_same("\x91\x91\x91\x91\xa3"
	                   "a\"b",
	    8));
}

/* ---- random values -------------------------------------------------- */

static uint64_t
s_rand(uint64_t *x)
{
	/* xorshift64*: reproducible from the seed the failure prints */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

/* Bytes that are often, not always, UTF-8, with escapes and NULs. */
static void
s_rand_bytes(uint64_t *x, char *buf, size_t n)
{
	static const char *const bits[]
	    = { "a", "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9",
		      "\xe2\x82\xac", "\xf0\x9f\x98\x80", "/", "\0", "z" };

	for (size_t i = 0; i < n;) {
		uint64_t r = s_rand(x);
		const char *b = bits[r % SL_N(bits)];
		size_t k = b[0] ? strlen(b) : 1;

		if (r % 97 == 0) /* now and then a stray byte */
			buf[i++] = (char) (r >> 8);
		else if (i + k <= n) {
			memcpy(buf + i, b, k);
			i += k;
		} else
			buf[i++] = 'x';
	}
}

static void s_rand_value(uint64_t *x, msgpack_packer *p, int depth);

static void
s_rand_map(uint64_t *x, msgpack_packer *p, int depth, uint32_t n)
{
	char key[8];

	msgpack_pack_map(p, n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = s_rand(x);

		if (r % 50 == 0) {
			msgpack_pack_int(p, (int) i); /* a key no JSON has */
		} else if (r % 4 == 0) { /* from few: sometimes repeated */
			key[0] = (char) ('a' + (r >> 8) % 24);
			msgpack_pack_str_with_body(p, key, 1);
		} else {
			size_t k = (r >> 16) % sizeof key;

			s_rand_bytes(x, key, k);
			msgpack_pack_str_with_body(p, key, k);
		}
		s_rand_value(x, p, depth - 1);
	}
}

static void
s_rand_value(uint64_t *x, msgpack_packer *p, int depth)
{
	uint64_t r = s_rand(x), v = s_rand(x);
	char buf[40];
	uint32_t n = (uint32_t) (r >> 40) % 6;
	double d;

	switch ((r >> 8) % (depth > 0 ? 12 : 10)) {
	case 0:
		msgpack_pack_nil(p);
		return;
	case 1:
		(v & 1) ? msgpack_pack_true(p) : msgpack_pack_false(p);
		return;
	case 2: /* any 64 bits, also past INT64_MAX */
		msgpack_pack_uint64(p, v >> (r % 64));
		return;
	case 3:
		msgpack_pack_int64(p, (int64_t) v >> (r % 64));
		return;
	case 4: /* any bits: NaN, infinities, subnormals too */
		memcpy(&d, &v, sizeof d);
		(r & 1) ? msgpack_pack_float(p, (float) d)
		        : msgpack_pack_double(p, d);
		return;
	case 5: /* a number a person would send */
		msgpack_pack_double(
		    p, (double) (int64_t) (v % 2000000) / 1000.0);
		return;
	case 6:
	case 7:
		n = (uint32_t) (v % sizeof buf);
		s_rand_bytes(x, buf, n);
		msgpack_pack_str_with_body(p, buf, n);
		return;
	case 8:
		n = (uint32_t) (v % sizeof buf);
		s_rand_bytes(x, buf, n);
		msgpack_pack_bin_with_body(p, buf, n);
		return;
	case 9:
		if (r % 8) { /* rare: ext has no JSON form */
			msgpack_pack_str_with_body(p, "s", 1);
			return;
		}
		msgpack_pack_ext_with_body(p, "xy", 2, 1);
		return;
	case 10:
		msgpack_pack_array(p, n);
		for (uint32_t i = 0; i < n; i++)
			s_rand_value(x, p, depth - 1);
		return;
	default:
		s_rand_map(x, p, depth, n);
	}
}

static void
test_jtext_random_values_match_the_old_encoder(void **state)
{
	size_t accepted = 0, n = 20000;

	(void) state;
	for (uint64_t seed = 1; seed <= n; seed++) {
		uint64_t x = seed * 0x9e3779b97f4a7c15ull;
		pk_t pk;

		s_rand_value(&x, s_pk(&pk), 4);
		accepted += s_check(&pk);
	}
	/* both outcomes were exercised, and mostly the accepting one */
	assert_true(accepted > n / 4);
	assert_true(accepted < n);
}

static void
test_jtext_a_writer_grows_and_keeps_its_buffer(void **state)
{
	sl_jtext_t w = { 0 };
	char big[5000];

	(void) state;
	memset(big, '\n', sizeof big); /* each becomes two bytes */
	assert_int_equal(sl_jtext_str(&w, big, sizeof big), 0);
	assert_int_equal(w.len, 2 * sizeof big + 2);
	assert_true(w.cap >= w.len);
	w.len = 0;
	assert_int_equal(sl_jtext_int(&w, INT64_MIN), 0);
	assert_memory_equal(w.buf, "-9223372036854775808", w.len);
	free(w.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jtext_strings_escape_as_jansson_does),
		cmocka_unit_test(test_jtext_numbers_match_at_their_limits),
		cmocka_unit_test(test_jtext_bin_ext_and_map_keys_as_before),
		cmocka_unit_test(
		    test_jtext_random_values_match_the_old_encoder),
		cmocka_unit_test(
		    test_jtext_a_writer_grows_and_keeps_its_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
