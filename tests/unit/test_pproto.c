/*
 * test_pproto: the producer protocol (gateway/gw_pproto): client frames
 * as msgpack maps.
 *
 * A table of frames, given as JSON text packed to msgpack or as raw
 * msgpack bytes, each with the outcome gw_pproto_parse must give (type,
 * or error code plus the id it echoes); then what items look like after
 * the trip, and that an outgoing frame encodes to the map it was. Leaks
 * show up under SLUICE_SANITIZER=address. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_pproto.h"
#include "sl_json.h"

#define MAX_ITEMS 3

typedef struct row {
	const char *name;
	const char *json; /* packed with sl_test_pack_json, or NULL */
	const char *raw;  /* msgpack bytes when json is NULL */
	size_t raw_len;
	const char *code;    /* NULL: must parse */
	const char *id;      /* id in the message, or echoed in the error */
	gw_cmsg_type_t type; /* when it parses */
} row_t;

/* clang-format off */
#define J_OK(name, json, type, id) { name, json, NULL, 0, NULL, id, type }
#define J_NO(name, json, code, id) { name, json, NULL, 0, code, id, 0 }
#define R_OK(name, raw, type, id) { name, NULL, B(raw), NULL, id, type }
#define R_NO(name, raw, code, id) { name, NULL, B(raw), code, id, 0 }
/* clang-format on */

static const row_t s_rows[] = {
	J_OK("submit",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1,\"a\",{\"x\":[]}]}",
	    GW_CMSG_SUBMIT, "r1"),
	J_OK("ping with data", "{\"type\":\"ping\",\"data\":{\"t\":1}}",
	    GW_CMSG_PING, NULL),
	J_OK("cancel", "{\"type\":\"cancel\",\"id\":\"r1\"}", GW_CMSG_CANCEL,
	    "r1"),
	J_NO("too many items",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1,2,3,4]}",
	    "too_many_items", "r1"),
	J_NO("empty items",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[]}",
	    "bad_items", "r1"),
	J_NO("bad task name",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"Echo!\","
	    "\"items\":[1]}",
	    "bad_message", "r1"),
	J_NO("unknown type", "{\"type\":\"subscribe\"}", "unknown_type", NULL),
	J_NO("a top-level array", "[\"submit\"]", "bad_message", NULL),
	J_NO("a string", "\"ping\"", "bad_message", NULL),
	J_NO(
	    "cancel without id", "{\"type\":\"cancel\"}", "bad_message", NULL),
	R_NO("empty frame", "", "bad_msgpack", NULL),
	R_NO("reserved byte 0xc1", "\xc1", "bad_msgpack", NULL),
	R_NO("truncated map", "\x82\xa4type\xa4ping", "bad_msgpack", NULL),
	R_NO(
	    "trailing bytes", "\x81\xa4type\xa4ping\x00", "bad_msgpack", NULL),
	R_NO("map claiming 2^32-1 pairs", "\xdf\xff\xff\xff\xff",
	    "bad_msgpack", NULL),
	R_NO("integer key", "\x81\x01\xa4ping", "bad_message", NULL),
	R_NO("repeated key", "\x82\xa4type\xa4ping\xa4type\xa4ping",
	    "bad_message", NULL),
	R_NO("repeated items key",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa5items\x91\x01\xa5items"
	    "\x91\x02",
	    "bad_message", NULL),
	R_NO("ext item, id echoed",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\xd4\x01\x00",
	    "bad_item", "r1"),
	R_NO("NaN in data",
	    "\x82\xa4type\xa4ping\xa4"
	    "data\xcb\x7f\xf8\0\0\0\0\0\0",
	    "bad_message", NULL),
	/* bin is base64 text to the client protocol: "cGluZw==", not ping */
	R_NO("type as bin", "\x81\xa4type\xc4\x04ping", "unknown_type", NULL),
	R_OK("id as str8",
	    "\x82\xa4type\xa6"
	    "cancel\xa2id\xd9\x02r9",
	    GW_CMSG_CANCEL, "r9"),
};

static void
s_pack(const row_t *r, msgpack_sbuffer *sb)
{
	msgpack_sbuffer_init(sb);
	if (r->json)
		sl_test_pack_json(sb, r->json);
	else if (r->raw_len) /* msgpack-c would memcpy into a NULL buffer */
		msgpack_sbuffer_write(sb, r->raw, r->raw_len);
}

static void
test_pproto_parse_accepts_or_refuses_each_frame(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
		const row_t *r = &s_rows[i];
		msgpack_sbuffer sb;
		gw_cmsg_t m;
		gw_cerr_t err;
		int rc;

		s_pack(r, &sb);
		memset(&err, 0, sizeof err);
		rc = gw_pproto_parse(sb.data, sb.size, MAX_ITEMS, &m, &err);
		msgpack_sbuffer_destroy(&sb);
		if (r->code) {
			if (rc != -1
			    || strcmp(err.code ? err.code : "", r->code)
			    || strcmp(err.id, r->id ? r->id : "")) {
				print_error(
				    "%s: rc %d code %s id '%s', expected "
				    "%s id '%s'\n",
				    r->name, rc, err.code ? err.code : "-",
				    err.id, r->code, r->id ? r->id : "");
				fail();
			}
			continue;
		}
		if (rc) {
			print_error("%s: refused %s: %s\n", r->name, err.code,
			    err.message);
			fail();
		}
		assert_int_equal(m.type, r->type);
		if (r->id)
			assert_string_equal(m.id, r->id);
		gw_cmsg_clear(&m);
	}
}

static void
test_pproto_items_arrive_as_json_values_bin_as_base64(void **state)
{
	/* {"type":"submit","id":"b","task":"t","items":[bin 01 02, -1, 1.5]}
	 */
	static const char raw[] = "\x84\xa4type\xa6submit\xa2id\xa1"
	                          "b\xa4task\xa1t\xa5items\x93\xc4\x02\x01\x02"
	                          "\xff\xcb\x3f\xf8\0\0\0\0\0\0";
	gw_cmsg_t m;
	gw_cerr_t err;

	(void) state;
	assert_int_equal(
	    gw_pproto_parse(raw, sizeof raw - 1, MAX_ITEMS, &m, &err), 0);
	sl_test_assert_json(m.items, "[\"AQI=\",-1,1.5]");
	assert_string_equal(m.task, "t");
	gw_cmsg_clear(&m);
}

static void
test_pproto_encode_gives_the_frame_as_a_map(void **state)
{
	json_t *frame = json_pack("{s:s, s:s, s:i, s:{s:[i,s]}}", "type",
	    "result", "id", "r1", "seq", 2, "value", "x", 1, "y");
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	json_t *back = NULL;
	const char *why = NULL;
	size_t off = 0;

	(void) state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(gw_pproto_encode(frame, &sb), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb.size);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(sl_json_from_mp(&u.data, &back, &why), 0);
	sl_test_assert_json(back,
	    "{\"id\":\"r1\",\"seq\":2,\"type\":\"result\","
	    "\"value\":{\"x\":[1,\"y\"]}}");
	json_decref(back);
	json_decref(frame);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_pproto_parse_accepts_or_refuses_each_frame),
		cmocka_unit_test(
		    test_pproto_items_arrive_as_json_values_bin_as_base64),
		cmocka_unit_test(test_pproto_encode_gives_the_frame_as_a_map),
	};

	return cmocka_run_group_tests_name("pproto", tests, NULL, NULL);
}
