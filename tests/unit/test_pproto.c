/*
 * test_pproto: the client protocol as msgpack maps (gateway/gw_pproto),
 * as producers and sluice.msgpack.v1 WebSocket clients speak it.
 *
 * A table of frames, given as JSON text packed to msgpack or as raw
 * msgpack bytes, each with the outcome gw_pproto_parse must give (type,
 * or error code plus the id it echoes); then that items stay msgpack
 * (bin stays bin: no JSON on this path), and that an outgoing frame
 * encodes to the map it describes. Leaks
 * show up under SLUICE_SANITIZER=address. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_pproto.h"
#include "sl_err.h"
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

/* A submit of items [1, 2] whose "seqs" is the msgpack bytes after it. */
#define SEQS2(seqs)                                                           \
	"\x85\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"                      \
	"echo\xa5items\x92\x01\x02\xa4seqs" seqs

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
	J_NO("unknown type", "{\"type\":\"rewind\"}", "unknown_type", NULL),
	J_OK("resume with have",
	    "{\"type\":\"resume\",\"id\":\"r1\",\"token\":\"t\","
	    "\"have\":[2,0]}",
	    GW_CMSG_RESUME, "r1"),
	J_NO("resume with a seq past 32 bits",
	    "{\"type\":\"resume\",\"id\":\"r1\",\"token\":\"t\","
	    "\"have\":[1,4294967296]}",
	    "bad_message", "r1"),
	J_NO("resume with too many seqs",
	    "{\"type\":\"resume\",\"id\":\"r1\",\"token\":\"t\","
	    "\"have\":[0,0,0,0]}",
	    "too_many_items", "r1"),
	J_OK("subscribe", "{\"type\":\"subscribe\",\"channel\":\"c-1\"}",
	    GW_CMSG_SUBSCRIBE, NULL),
	J_OK("unsubscribe", "{\"type\":\"unsubscribe\",\"channel\":\"c-1\"}",
	    GW_CMSG_UNSUBSCRIBE, NULL),
	J_NO("subscribe to a bad name",
	    "{\"type\":\"subscribe\",\"channel\":\"c 1\"}", "bad_message",
	    NULL),
	J_OK("submit with notify",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1],\"notify\":\"c-1\"}",
	    GW_CMSG_SUBMIT, "r1"),
	J_NO("submit with a bad notify",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1],\"notify\":[]}",
	    "bad_message", "r1"),
	J_NO("timeout_ms not an integer",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1],\"timeout_ms\":1.5}",
	    "bad_message", "r1"),
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
	/* ping data only returns to its sender: echoed as it came */
	R_OK("NaN in ping data",
	    "\x82\xa4type\xa4ping\xa4"
	    "data\xcb\x7f\xf8\0\0\0\0\0\0",
	    GW_CMSG_PING, NULL),
	R_NO("type as bin", "\x81\xa4type\xc4\x04ping", "bad_message", NULL),
	R_NO("id not UTF-8",
	    "\x82\xa4type\xa6"
	    "cancel\xa2id\xa2r\xff",
	    "bad_message", NULL),
	R_NO("id with NUL",
	    "\x82\xa4type\xa6"
	    "cancel\xa2id\xa2r\x00",
	    "bad_message", NULL),
	R_NO("timeout_ms above INT64_MAX",
	    "\x85\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x01\xaatimeout_ms"
	    "\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
	    "bad_message", "r1"),
	R_NO("item string not UTF-8",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\xa1\xc3",
	    "bad_item", "r1"),
	R_NO("item map with a repeated key",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x82\xa1k\x01\xa1k\x02",
	    "bad_item", "r1"),
	R_NO("item nested 13 deep",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
	    "\x91\x91\x01",
	    "bad_item", "r1"),
	R_OK("item nested 12 deep",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
	    "\x91\x01",
	    GW_CMSG_SUBMIT, "r1"),
	/* seqs: one distinct integer 0..2^32-1 per item, every encoding */
	J_OK("submit with seqs",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1,2,3],\"seqs\":[5,9,2]}",
	    GW_CMSG_SUBMIT, "r1"),
	R_OK("seqs uint32 max and 0", SEQS2("\x92\xce\xff\xff\xff\xff\x00"),
	    GW_CMSG_SUBMIT, "r1"),
	R_OK("seqs as int8 and int16", SEQS2("\x92\xd0\x05\xd1\x00\x07"),
	    GW_CMSG_SUBMIT, "r1"),
	R_NO("seqs 2^32", SEQS2("\x92\x01\xcf\0\0\0\x01\0\0\0\0"), "bad_seqs",
	    "r1"),
	R_NO("seqs uint64 max",
	    SEQS2("\x92\x01\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "bad_seqs",
	    "r1"),
	R_NO("seqs -1", SEQS2("\x92\x01\xff"), "bad_seqs", "r1"),
	R_NO("seqs int64 min", SEQS2("\x92\x01\xd3\x80\0\0\0\0\0\0\0"),
	    "bad_seqs", "r1"),
	R_NO("seqs float32 1.0", SEQS2("\x92\x00\xca\x3f\x80\0\0"), "bad_seqs",
	    "r1"),
	R_NO("seqs float64 0.0", SEQS2("\x92\x01\xcb\0\0\0\0\0\0\0\0"),
	    "bad_seqs", "r1"),
	R_NO("seqs a str",
	    SEQS2("\x92\x01\xa1"
	          "2"),
	    "bad_seqs", "r1"),
	R_NO("seqs a bin", SEQS2("\x92\x01\xc4\x01\x02"), "bad_seqs", "r1"),
	R_NO("seqs nil", SEQS2("\x92\x01\xc0"), "bad_seqs", "r1"),
	R_NO("seqs true", SEQS2("\x92\x01\xc3"), "bad_seqs", "r1"),
	R_NO("seqs an ext", SEQS2("\x92\x01\xd4\x01\x00"), "bad_seqs", "r1"),
	R_NO("seqs nested", SEQS2("\x92\x01\x91\x02"), "bad_seqs", "r1"),
	R_NO("seqs repeat a seq", SEQS2("\x92\x07\x07"), "bad_seqs", "r1"),
	R_NO("seqs shorter than items", SEQS2("\x91\x01"), "bad_seqs", "r1"),
	R_NO("seqs longer than items", SEQS2("\x93\x01\x02\x03"), "bad_seqs",
	    "r1"),
	R_NO("seqs empty", SEQS2("\x90"), "bad_seqs", "r1"),
	R_NO("seqs not an array", SEQS2("\x01"), "bad_seqs", "r1"),
	R_NO("seqs a map", SEQS2("\x81\x00\x01"), "bad_seqs", "r1"),
	R_NO("seqs nil instead of an array", SEQS2("\xc0"), "bad_seqs", "r1"),
	R_NO("seqs claiming 2^32-1 elements", SEQS2("\xdd\xff\xff\xff\xff"),
	    "bad_msgpack", NULL),
	R_NO("seqs key twice",
	    "\x86\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x01\xa4seqs\x91\x01\xa4seqs\x91\x02",
	    "bad_message", NULL),
	R_NO("seqs without items",
	    "\x84\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa4seqs\x91\x01",
	    "bad_items", "r1"),
	/* traceparent: a str holding a W3C traceparent; bin is not a str */
	J_OK("submit with traceparent",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1],\"traceparent\":"
	    "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}",
	    GW_CMSG_SUBMIT, "r1"),
	J_NO("traceparent all zeros",
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
	    "\"items\":[1],\"traceparent\":"
	    "\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"}",
	    "bad_message", "r1"),
	R_NO("traceparent a bin",
	    "\x85\xa4type\xa6submit\xa2id\xa2r1\xa4task\xa4"
	    "echo\xa5items\x91\x01\xabtraceparent\xc4\x01\x30",
	    "bad_message", "r1"),
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
		gw_cmsg_err_t err;
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

/* Item i of m is exactly the msgpack bytes want (len of them). */
static void
s_assert_item(const gw_cmsg_t *m, size_t i, const char *want, size_t len)
{
	size_t got_len;
	const char *got = gw_cmsg_item(m, i, &got_len);

	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
}

static void
test_pproto_items_stay_msgpack_bin_included(void **state)
{
	/* {"type":"submit","id":"b","task":"t","items":[bin 01 02, -1, 1.5]}
	 */
	static const char raw[] = "\x84\xa4type\xa6submit\xa2id\xa1"
	                          "b\xa4task\xa1t\xa5items\x93\xc4\x02\x01\x02"
	                          "\xff\xcb\x3f\xf8\0\0\0\0\0\0";
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(
	    gw_pproto_parse(raw, sizeof raw - 1, MAX_ITEMS, &m, &err), 0);
	assert_null(m.root); /* no JSON value was built */
	assert_int_equal(m.n_items, 3);
	assert_non_null(m.items.data);
	/* packed for workers byte for byte as they came: bin 01 02, -1,
	 * float64 1.5 */
	s_assert_item(&m, 0, B("\xc4\x02\x01\x02"));
	s_assert_item(&m, 1, B("\xff"));
	s_assert_item(&m, 2, B("\xcb\x3f\xf8\0\0\0\0\0\0"));
	assert_string_equal(m.task, "t");
	assert_string_equal(m.id, "b");
	gw_cmsg_clear(&m);
}

/* Encode f, unpack it, compare with json (keys sorted). */
static void
s_assert_encodes(const gw_out_t *f, const char *json)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	json_t *back = NULL;
	const char *why = NULL;
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(gw_pproto_encode(f, &sb), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb.size);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	/* the map's declared size matches its pairs (or unpacking would
	 * have read past or stopped short) and has no repeated key */
	assert_int_equal(sl_json_from_mp(&u.data, &back, &why), 0);
	sl_test_assert_json(back, json);
	json_decref(back);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_pproto_encode_gives_the_frame_as_a_map(void **state)
{
	/* {"x": [1, "y"]} as a worker sends it */
	static const char value[] = "\x81\xa1x\x92\x01\xa1y";
	msgpack_unpacked v;
	gw_cmsg_err_t err;
	size_t off = 0;

	(void) state;
	msgpack_unpacked_init(&v);
	assert_int_equal(
	    msgpack_unpack_next(&v, value, sizeof value - 1, &off),
	    MSGPACK_UNPACK_SUCCESS);
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_RESULT,
	                     .id = "r1",
	                     .seq = 2,
	                     .value.mp = &v.data },
	    "{\"id\":\"r1\",\"seq\":2,\"type\":\"result\","
	    "\"value\":{\"x\":[1,\"y\"]}}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_RESULT,
	                     .id = "r1",
	                     .channel = "c",
	                     .value.mp = &v.data,
	                     .timing = true,
	                     .tm = { .t_done_us = 5,
	                         .cpu_us = 6,
	                         .queue_us = 7,
	                         .start_us = 8,
	                         .run_us = -1,
	                         .attempts = 2,
	                         .worker = "w9" } },
	    "{\"attempts\":2,\"channel\":\"c\",\"cpu_us\":6,\"id\":\"r1\","
	    "\"queue_us\":7,\"seq\":0,\"start_us\":8,"
	    "\"t_done_us\":5,\"type\":\"result\","
	    "\"value\":{\"x\":[1,\"y\"]},\"worker\":\"w9\"}");
	msgpack_unpacked_destroy(&v);
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_ACCEPTED,
	                     .id = "r1",
	                     .items = 3,
	                     .workers = 1 },
	    "{\"id\":\"r1\",\"items\":3,\"type\":\"accepted\",\"workers\":1}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_ITEM_ERROR,
	                     .id = "r1",
	                     .seq = 1,
	                     .code = "c",
	                     .message = "m" },
	    "{\"code\":\"c\",\"id\":\"r1\",\"message\":\"m\",\"seq\":1,"
	    "\"type\":\"error\"}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_DONE,
	                     .id = "r1",
	                     .ok = 1,
	                     .cancelled = 2,
	                     .elapsed_ms = 3 },
	    "{\"cancelled\":2,\"elapsed_ms\":3,\"failed\":0,\"id\":\"r1\","
	    "\"ok\":1,\"type\":\"done\"}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_DONE, .id = "r1" },
	    "{\"elapsed_ms\":0,\"failed\":0,\"id\":\"r1\",\"ok\":0,"
	    "\"type\":\"done\"}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_PONG, .server_us = 9 },
	    "{\"queued\":0,\"running\":0,\"server_us\":9,\"type\":\"pong\","
	    "\"workers\":0}");
	s_assert_encodes(
	    &(gw_out_t) {
	        .type = GW_OUT_PONG, .server_us = 9, .draining = true },
	    "{\"draining\":true,\"queued\":0,\"running\":0,\"server_us\":9,"
	    "\"type\":\"pong\",\"workers\":0}");
	s_assert_encodes(&(gw_out_t) { .type = GW_OUT_SUBSCRIBED,
	                     .channel = "c",
	                     .subscriptions = 1 },
	    "{\"channel\":\"c\",\"subscriptions\":1,\"type\":\"subscribed\"}");
	s_assert_encodes(
	    &(gw_out_t) { .type = GW_OUT_UNSUBSCRIBED, .channel = "c" },
	    "{\"channel\":\"c\",\"subscriptions\":0,"
	    "\"type\":\"unsubscribed\"}");
	gw_cmsg_err_set(&err, NULL, "too_many_subscriptions", "m");
	snprintf(err.channel, sizeof err.channel, "c");
	{
		gw_out_t f = gw_out_error(&err);

		s_assert_encodes(&f,
		    "{\"channel\":\"c\",\"code\":\"too_many_subscriptions\","
		    "\"message\":\"m\",\"type\":\"error\"}");
	}
}

static void
test_pproto_ping_data_stays_msgpack(void **state)
{
	/* {"type":"ping","data":bin ff} */
	static const char raw[] = "\x82\xa4type\xa4ping\xa4"
	                          "data\xc4\x01\xff";
	msgpack_sbuffer sb;
	gw_cmsg_t m;
	gw_cmsg_err_t err;
	gw_out_t f;

	(void) state;
	assert_int_equal(
	    gw_pproto_parse(raw, sizeof raw - 1, MAX_ITEMS, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_PING);
	assert_null(m.data.json);
	assert_non_null(m.data.mp);
	f = (gw_out_t) {
		.type = GW_OUT_PONG, .value = m.data, .server_us = 1
	};
	msgpack_sbuffer_init(&sb);
	assert_int_equal(gw_pproto_encode(&f, &sb), 0);
	/* the pong's last pair is the data, byte for byte */
	assert_true(sb.size > 8);
	assert_memory_equal(sb.data + sb.size - 8,
	    "\xa4"
	    "data\xc4\x01\xff",
	    8);
	msgpack_sbuffer_destroy(&sb);
	gw_cmsg_clear(&m);
}

static void
test_pproto_submit_carries_the_seqs_given(void **state)
{
	static const char raw[] = SEQS2("\x92\xce\xff\xff\xff\xff\x09");
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(
	    gw_pproto_parse(raw, sizeof raw - 1, MAX_ITEMS, &m, &err), 0);
	assert_int_equal(m.n_items, 2);
	assert_int_equal(gw_cmsg_seq(&m, 0), UINT32_MAX);
	assert_int_equal(gw_cmsg_seq(&m, 1), 9);
	gw_cmsg_clear(&m);
}

/* A submit of n items with seqs n-1..0, plus extra more; the last seq
 * repeats the first with dup. */
static void
s_pack_big(msgpack_sbuffer *sb, uint32_t n, uint32_t extra, bool dup)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	sl_test_pack_json(sb, "\"type\"");
	sl_test_pack_json(sb, "\"submit\"");
	sl_test_pack_json(sb, "\"id\"");
	sl_test_pack_json(sb, "\"big\"");
	sl_test_pack_json(sb, "\"task\"");
	sl_test_pack_json(sb, "\"echo\"");
	sl_test_pack_json(sb, "\"items\"");
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		msgpack_pack_nil(&pk);
	sl_test_pack_json(sb, "\"seqs\"");
	msgpack_pack_array(&pk, n + extra);
	for (uint32_t i = 0; i < n + extra; i++)
		msgpack_pack_uint32(
		    &pk, dup && i == n - 1 ? n - 1 : n - 1 - i);
}

static void
test_pproto_seqs_up_to_the_item_limit_and_beyond(void **state)
{
	const uint32_t max = 10000;
	msgpack_sbuffer sb;
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	s_pack_big(&sb, max, 0, false);
	assert_int_equal(gw_pproto_parse(sb.data, sb.size, max, &m, &err), 0);
	assert_int_equal(gw_cmsg_seq(&m, 0), max - 1);
	assert_int_equal(gw_cmsg_seq(&m, max - 1), 0);
	gw_cmsg_clear(&m);
	msgpack_sbuffer_destroy(&sb);

	s_pack_big(&sb, max, 1, false);
	assert_int_equal(gw_pproto_parse(sb.data, sb.size, max, &m, &err), -1);
	assert_string_equal(err.code, "bad_seqs");
	msgpack_sbuffer_destroy(&sb);

	s_pack_big(&sb, max, 0, true);
	assert_int_equal(gw_pproto_parse(sb.data, sb.size, max, &m, &err), -1);
	assert_string_equal(err.code, "bad_seqs");
	assert_string_equal(err.message,
	    "\"seqs\" must be distinct: seqs[0] and seqs[9999] are both "
	    "9999");
	msgpack_sbuffer_destroy(&sb);

	s_pack_big(&sb, max + 1, 0, false);
	assert_int_equal(gw_pproto_parse(sb.data, sb.size, max, &m, &err), -1);
	assert_string_equal(err.code, "too_many_items");
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_pproto_parse_accepts_or_refuses_each_frame),
		cmocka_unit_test(test_pproto_items_stay_msgpack_bin_included),
		cmocka_unit_test(test_pproto_ping_data_stays_msgpack),
		cmocka_unit_test(test_pproto_encode_gives_the_frame_as_a_map),
		cmocka_unit_test(test_pproto_submit_carries_the_seqs_given),
		cmocka_unit_test(
		    test_pproto_seqs_up_to_the_item_limit_and_beyond),
	};

	return cmocka_run_group_tests_name("pproto", tests, NULL, NULL);
}
