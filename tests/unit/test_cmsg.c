/*
 * test_cmsg: client messages checked at the edge (gateway/gw_cmsg).
 *
 * One table of client frames, each with the outcome gw_cmsg_parse must
 * give (type, or error code plus the id it echoes); then what a parsed
 * message carries (items packed as msgpack); then the promise that error
 * messages stay printable ASCII (and their frames serialise). Single
 * threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_cmsg.h"
#include "gw_out.h"
#include "sl_err.h"
#include "sl_proto.h"

#define MAX_ITEMS 3

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* 64 characters, every kind a channel name may hold */
#define CH64 "AZaz09_.:-0123456789abcdef0123456789abcdef0123456789abcdef012345"
#define NAME32 "abcdefghijklmnopqrstuvwxyz012345"

typedef struct parse_row {
	const char *name;
	const char *text;
	size_t len;          /* 0: strlen(text) */
	const char *code;    /* NULL: must parse */
	const char *id;      /* id in the message, or echoed in the error */
	gw_cmsg_type_t type; /* when it parses */
} parse_row_t;

/* clang-format off */
#define PARSES(name, text, type, id) { name, text, 0, NULL, id, type }
#define REFUSED(name, text, code, id) { name, text, 0, code, id, 0 }
/* clang-format on */
#define SUBMIT_WITH(fields) "{\"type\":\"submit\",\"id\":\"r1\"," fields "}"

static const parse_row_t s_rows[] = {
	/* valid */
	PARSES("submit", SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3]"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("submit with extra keys",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"x\":{}"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("submit with 64-byte id",
	    "{\"type\":\"submit\",\"id\":\"" ID64
	    "\",\"task\":\"sum\",\"items\":[1]}",
	    GW_CMSG_SUBMIT, ID64),
	PARSES("submit with unicode id",
	    "{\"type\":\"submit\",\"id\":\"r\\u00e9\",\"task\":\"sum\","
	    "\"items\":[1]}",
	    GW_CMSG_SUBMIT, "r\xc3\xa9"),
	PARSES("submit with 32-byte task",
	    SUBMIT_WITH("\"task\":\"" NAME32 "\",\"items\":[1]"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("submit task of every allowed character",
	    SUBMIT_WITH("\"task\":\"a-z_0.9\",\"items\":[1]"), GW_CMSG_SUBMIT,
	    "r1"),
	PARSES("submit with exactly max items",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[null,{},[]]"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("submit with timeout_ms 1",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":1"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("submit with timeout_ms of a day",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"timeout_ms\":86400000"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("cancel", "{\"type\":\"cancel\",\"id\":\"r1\"}", GW_CMSG_CANCEL,
	    "r1"),
	PARSES("cancel with 64-byte id and extra keys",
	    "{\"type\":\"cancel\",\"id\":\"" ID64 "\",\"items\":[1]}",
	    GW_CMSG_CANCEL, ID64),
	PARSES("ping", "{\"type\":\"ping\"}", GW_CMSG_PING, NULL),
	PARSES("ping with id and data",
	    "{\"type\":\"ping\",\"id\":\"p1\",\"data\":{\"t\":1}}",
	    GW_CMSG_PING, "p1"),
	PARSES("ping surrounded by whitespace", " \n{\"type\":\"ping\"}\t ",
	    GW_CMSG_PING, NULL),
	/* bad_json */
	REFUSED("empty", "", "bad_json", NULL),
	REFUSED("open brace", "{", "bad_json", NULL),
	REFUSED("trailing garbage", "{} x", "bad_json", NULL),
	REFUSED("two objects", "{\"type\":\"ping\"}{\"type\":\"ping\"}",
	    "bad_json", NULL),
	REFUSED("duplicate keys", "{\"type\":\"ping\",\"type\":\"ping\"}",
	    "bad_json", NULL),
	REFUSED("duplicate id",
	    "{\"type\":\"ping\",\"id\":\"a\",\"id\":\"b\"}", "bad_json", NULL),
	REFUSED("invalid UTF-8 in a string", "{\"type\":\"\xff\"}", "bad_json",
	    NULL),
	REFUSED("invalid UTF-8 in a key", "{\"\xc3\":1}", "bad_json", NULL),
	REFUSED("lone surrogate", "{\"type\":\"\\ud800\"}", "bad_json", NULL),
	REFUSED("escaped NUL", "{\"type\":\"ping\",\"id\":\"a\\u0000b\"}",
	    "bad_json", NULL),
	REFUSED("single quotes", "{'type':'ping'}", "bad_json", NULL),
	REFUSED("trailing comma", "{\"type\":\"ping\",}", "bad_json", NULL),
	/* valid JSON, but not an object: bad_message (JSON_DECODE_ANY) */
	REFUSED("string at top level", "\"ping\"", "bad_message", NULL),
	REFUSED("null at top level", "null", "bad_message", NULL),
	REFUSED("integer too big",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":"
	                "[12345678901234567890]"),
	    "bad_json", NULL),
	/* bad_message */
	REFUSED("array at top level", "[{\"type\":\"ping\"}]", "bad_message",
	    NULL),
	REFUSED("missing type", "{\"id\":\"r1\"}", "bad_message", "r1"),
	REFUSED(
	    "numeric type", "{\"type\":1,\"id\":\"r1\"}", "bad_message", "r1"),
	REFUSED("null type", "{\"type\":null}", "bad_message", NULL),
	REFUSED("id empty",
	    "{\"type\":\"submit\",\"id\":\"\",\"task\":\"sum\",\"items\":[1]}",
	    "bad_message", NULL),
	REFUSED("id of 65 bytes",
	    "{\"type\":\"submit\",\"id\":\"" ID64
	    "x\",\"task\":\"sum\",\"items\":[1]}",
	    "bad_message", NULL),
	REFUSED("id a number",
	    "{\"type\":\"submit\",\"id\":7,\"task\":\"sum\",\"items\":[1]}",
	    "bad_message", NULL),
	REFUSED("id null on a ping", "{\"type\":\"ping\",\"id\":null}",
	    "bad_message", NULL),
	REFUSED("missing id on submit",
	    "{\"type\":\"submit\",\"task\":\"sum\",\"items\":[1]}",
	    "bad_message", NULL),
	REFUSED(
	    "missing task", SUBMIT_WITH("\"items\":[1]"), "bad_message", "r1"),
	REFUSED("task a number", SUBMIT_WITH("\"task\":5,\"items\":[1]"),
	    "bad_message", "r1"),
	REFUSED("task empty", SUBMIT_WITH("\"task\":\"\",\"items\":[1]"),
	    "bad_message", "r1"),
	REFUSED("task upper case",
	    SUBMIT_WITH("\"task\":\"Sum\",\"items\":[1]"), "bad_message",
	    "r1"),
	REFUSED("task with a space",
	    SUBMIT_WITH("\"task\":\"a b\",\"items\":[1]"), "bad_message",
	    "r1"),
	REFUSED("task with a slash",
	    SUBMIT_WITH("\"task\":\"../x\",\"items\":[1]"), "bad_message",
	    "r1"),
	REFUSED("task non-ASCII",
	    SUBMIT_WITH("\"task\":\"s\\u00fcm\",\"items\":[1]"), "bad_message",
	    "r1"),
	REFUSED("task of 33 bytes",
	    SUBMIT_WITH("\"task\":\"" NAME32 "x\",\"items\":[1]"),
	    "bad_message", "r1"),
	REFUSED(
	    "cancel without id", "{\"type\":\"cancel\"}", "bad_message", NULL),
	REFUSED("cancel with empty id", "{\"type\":\"cancel\",\"id\":\"\"}",
	    "bad_message", NULL),
	REFUSED("cancel with numeric id", "{\"type\":\"cancel\",\"id\":1}",
	    "bad_message", NULL),
	REFUSED("cancel with 65-byte id",
	    "{\"type\":\"cancel\",\"id\":\"" ID64 "x\"}", "bad_message", NULL),
	REFUSED("timeout_ms 0",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":0"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms -1",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":-1"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms 1.5",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":1.5"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms 1.0",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":1.0"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms a string",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"timeout_ms\":\"10\""),
	    "bad_message", "r1"),
	REFUSED("timeout_ms true",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"timeout_ms\":true"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms over a day",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"timeout_ms\":86400001"),
	    "bad_message", "r1"),
	REFUSED("timeout_ms huge",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"timeout_ms\":9223372036854775807"),
	    "bad_message", "r1"),
	/* unknown_type */
	REFUSED("unknown type", "{\"type\":\"rewind\",\"id\":\"r9\"}",
	    "unknown_type", "r9"),
	/* resume: any token string (a wrong one is the broker's answer),
	 * have bounded by max_items, each a seq below it */
	PARSES("resume", "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\"}",
	    GW_CMSG_RESUME, "r9"),
	PARSES("resume with have",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\","
	    "\"have\":[0,2,1]}",
	    GW_CMSG_RESUME, "r9"),
	REFUSED("resume without id", "{\"type\":\"resume\",\"token\":\"x\"}",
	    "bad_message", NULL),
	REFUSED("resume without token", "{\"type\":\"resume\",\"id\":\"r9\"}",
	    "bad_message", "r9"),
	REFUSED("resume with an empty token",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"\"}",
	    "bad_message", "r9"),
	REFUSED("resume with a token of 129 bytes",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"" ID64 ID64 "x\"}",
	    "bad_message", "r9"),
	REFUSED("resume with a numeric token",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":7}", "bad_message",
	    "r9"),
	REFUSED("resume with have an object",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\",\"have\":{}}",
	    "bad_message", "r9"),
	REFUSED("resume with more seqs in have than items",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\","
	    "\"have\":[0,1,2,0]}",
	    "too_many_items", "r9"),
	REFUSED("resume with a seq past 32 bits",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\",\"have\":["
	    "4294967296]}",
	    "bad_message", "r9"),
	REFUSED("resume with a negative seq",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\",\"have\":[-1]"
	    "}",
	    "bad_message", "r9"),
	REFUSED("resume with a string seq",
	    "{\"type\":\"resume\",\"id\":\"r9\",\"token\":\"x\",\"have\":["
	    "\"0\"]}",
	    "bad_message", "r9"),
	REFUSED("type in another case", "{\"type\":\"Submit\",\"id\":\"r9\"}",
	    "unknown_type", "r9"),
	REFUSED("empty type", "{\"type\":\"\"}", "unknown_type", NULL),
	/* bad_items */
	REFUSED("items missing", SUBMIT_WITH("\"task\":\"sum\""), "bad_items",
	    "r1"),
	REFUSED("items an object",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":{}"), "bad_items", "r1"),
	REFUSED("items a string",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":\"1,2\""), "bad_items",
	    "r1"),
	REFUSED("items empty", SUBMIT_WITH("\"task\":\"sum\",\"items\":[]"),
	    "bad_items", "r1"),
	/* too_many_items */
	REFUSED("one item too many",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3,4]"),
	    "too_many_items", "r1"),
	/* channels: subscribe, unsubscribe, submit's notify */
	PARSES("subscribe", "{\"type\":\"subscribe\",\"channel\":\"a\"}",
	    GW_CMSG_SUBSCRIBE, NULL),
	PARSES("subscribe to a 64-character channel of every kind",
	    "{\"type\":\"subscribe\",\"channel\":\"" CH64 "\"}",
	    GW_CMSG_SUBSCRIBE, NULL),
	PARSES("unsubscribe",
	    "{\"type\":\"unsubscribe\",\"channel\":\"a\",\"id\":\"u\"}",
	    GW_CMSG_UNSUBSCRIBE, "u"),
	PARSES("submit with notify",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"notify\":\"n.1\""),
	    GW_CMSG_SUBMIT, "r1"),
	REFUSED("subscribe without channel", "{\"type\":\"subscribe\"}",
	    "bad_message", NULL),
	REFUSED("subscribe to an empty channel",
	    "{\"type\":\"subscribe\",\"channel\":\"\"}", "bad_message", NULL),
	REFUSED("subscribe to a channel with a space",
	    "{\"type\":\"subscribe\",\"channel\":\"a b\"}", "bad_message",
	    NULL),
	REFUSED("subscribe to a channel with a slash",
	    "{\"type\":\"subscribe\",\"channel\":\"a/b\"}", "bad_message",
	    NULL),
	REFUSED("subscribe to a non-ASCII channel",
	    "{\"type\":\"subscribe\",\"channel\":\"\\u00e9\"}", "bad_message",
	    NULL),
	REFUSED("subscribe to a 65-byte channel",
	    "{\"type\":\"subscribe\",\"channel\":\"" ID64 "x\"}",
	    "bad_message", NULL),
	REFUSED("subscribe to a number",
	    "{\"type\":\"subscribe\",\"channel\":7}", "bad_message", NULL),
	REFUSED("unsubscribe without channel",
	    "{\"type\":\"unsubscribe\",\"id\":\"u\"}", "bad_message", "u"),
	REFUSED("submit with an empty notify",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"notify\":\"\""),
	    "bad_message", "r1"),
	REFUSED("submit with notify not a string",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"notify\":true"),
	    "bad_message", "r1"),
	/* seqs: one distinct integer 0..2^32-1 per item */
	PARSES("submit with seqs",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3],"
	                "\"seqs\":[5,9,2]"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("seqs at both ends of the range",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2],"
	                "\"seqs\":[4294967295,0]"),
	    GW_CMSG_SUBMIT, "r1"),
	PARSES("seqs on a cancel are ignored, as unknown fields",
	    "{\"type\":\"cancel\",\"id\":\"r1\",\"seqs\":\"x\"}",
	    GW_CMSG_CANCEL, "r1"),
	REFUSED("seqs shorter than items",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2],\"seqs\":[1]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs longer than items",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":[1,2]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs empty",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":[]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs longer than the item limit",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3],"
	                "\"seqs\":[1,2,3,4]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs without items",
	    SUBMIT_WITH("\"task\":\"sum\",\"seqs\":[1]"), "bad_items", "r1"),
	REFUSED("seqs with too many items",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3,4],"
	                "\"seqs\":[1,2,3,4]"),
	    "too_many_items", "r1"),
	REFUSED("seqs with a duplicate",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3],"
	                "\"seqs\":[7,8,7]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs negative",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":[-1]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs of 2^32",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[4294967296]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs of int64 max",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[9223372036854775807]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs of int64 min",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[-9223372036854775808]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs beyond int64",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[18446744073709551616]"),
	    "bad_json", NULL),
	REFUSED("seqs a float",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":[1.5]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs an integral float",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":[1.0]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs a string",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[\"1\"]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs null",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[null]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs true",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[true]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs nested",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":[[1]]"),
	    "bad_seqs", "r1"),
	REFUSED("seqs not an array",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":1"),
	    "bad_seqs", "r1"),
	REFUSED("seqs an object",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],"
	                "\"seqs\":{\"0\":1}"),
	    "bad_seqs", "r1"),
	REFUSED("seqs null instead of an array",
	    SUBMIT_WITH("\"task\":\"sum\",\"items\":[1],\"seqs\":null"),
	    "bad_seqs", "r1"),
};

static void
test_cmsg_parse_gives_each_frame_its_outcome(void **state)
{
	(void) state;
	for (size_t i = 0; i < SL_N(s_rows); i++) {
		const parse_row_t *t = &s_rows[i];
		size_t len = t->len ? t->len : strlen(t->text);
		gw_cmsg_t m;
		gw_cmsg_err_t err;
		int rc;

		memset(&err, 0x5a, sizeof err);
		rc = gw_cmsg_parse(t->text, len, MAX_ITEMS, &m, &err);
		if (t->code) {
			sl_assert_row_int(t->name, rc, -1);
			sl_assert_row_str(t->name, err.code, t->code);
			sl_assert_row_str(t->name, err.id, t->id ? t->id : "");
			sl_assert_row_int(t->name, err.message[0] != '\0', 1);
			/* nothing is left for the caller to free */
			sl_assert_row_int(t->name, m.root == NULL, 1);
			sl_assert_row_int(t->name, m.items.data == NULL, 1);
			sl_assert_row_int(t->name, m.item_end == NULL, 1);
			sl_assert_row_int(t->name, m.seqs == NULL, 1);
			continue;
		}
		sl_assert_row_int(t->name, rc, 0);
		sl_assert_row_int(t->name, m.type, t->type);
		sl_assert_row_str(t->name, m.id, t->id ? t->id : "");
		if (m.type == GW_CMSG_SUBMIT) {
			const json_t *items = json_object_get(m.root, "items");

			sl_assert_row_int(t->name, json_is_array(items), 1);
			sl_assert_row_int(
			    t->name, m.n_items == json_array_size(items), 1);
			/* each item packed, one after the other */
			sl_assert_row_int(t->name,
			    m.item_end[m.n_items - 1] == m.items.size, 1);
			sl_assert_row_int(t->name, m.task[0] != '\0', 1);
		}
		gw_cmsg_clear(&m);
		sl_assert_row_int(t->name, m.root == NULL, 1);
	}
}

/* The packed items of m, unpacked one by one, are the JSON array want. */
static void
s_assert_items(const gw_cmsg_t *m, const char *want)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < m->n_items; i++) {
		msgpack_unpacked u;
		const char *why = NULL;
		size_t len, off = 0;
		const char *item = gw_cmsg_item(m, i, &len);
		json_t *j = NULL;

		msgpack_unpacked_init(&u);
		assert_int_equal(msgpack_unpack_next(&u, item, len, &off),
		    MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, len); /* exactly one object */
		assert_int_equal(sl_json_from_mp(&u.data, &j, &why), 0);
		json_array_append_new(arr, j);
		msgpack_unpacked_destroy(&u);
	}
	sl_test_assert_json(arr, want);
	json_decref(arr);
}

/*
 * Items are packed at the edge, as workers receive them: one nested
 * deeper than SL_PROTO_MAX_ITEM_DEPTH is refused there as bad_item,
 * naming its index; one at the limit is accepted.
 */
static void
test_cmsg_items_nested_too_deeply_are_refused_at_the_edge(void **state)
{
	char text[256], items[128];
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	for (int depth = SL_PROTO_MAX_ITEM_DEPTH;
	     depth <= SL_PROTO_MAX_ITEM_DEPTH + 1; depth++) {
		int n = 0;

		n += snprintf(items + n, sizeof items - n, "[1,2,");
		for (int i = 0; i < depth; i++)
			n += snprintf(items + n, sizeof items - n, "[");
		for (int i = 0; i < depth; i++)
			n += snprintf(items + n, sizeof items - n, "]");
		snprintf(items + n, sizeof items - n, "]");
		snprintf(text, sizeof text,
		    SUBMIT_WITH("\"task\":\"sum\",\"items\":%s"), items);
		if (depth == SL_PROTO_MAX_ITEM_DEPTH) {
			assert_int_equal(
			    gw_cmsg_parse(text, strlen(text), 5, &m, &err), 0);
			assert_int_equal(m.n_items, 3);
			gw_cmsg_clear(&m);
			continue;
		}
		assert_int_equal(
		    gw_cmsg_parse(text, strlen(text), 5, &m, &err), -1);
		assert_string_equal(err.code, "bad_item");
		assert_string_equal(err.id, "r1");
		assert_string_equal(err.message, "item 2: nested too deeply");
		assert_null(m.root);
		assert_null(m.items.data);
	}
}

static void
test_cmsg_submit_fields_point_into_the_message(void **state)
{
	const char *text
	    = SUBMIT_WITH("\"task\":\"echo\",\"items\":[1,\"two\","
	                  "{\"three\":3}]");
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 10, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_SUBMIT);
	assert_string_equal(m.id, "r1");
	assert_string_equal(m.task, "echo");
	assert_int_equal(m.n_items, 3);
	s_assert_items(&m, "[1,\"two\",{\"three\":3}]");
	assert_false(m.has_unpacked); /* no msgpack frame behind them */
	assert_string_equal(m.channel, "");
	assert_null(m.data.json);
	assert_null(m.data.mp);
	assert_non_null(m.root);
	gw_cmsg_clear(&m);
	assert_null(m.root);
	assert_null(m.items.data);
	assert_null(m.item_end);
	gw_cmsg_clear(&m); /* twice is harmless */
}

static void
test_cmsg_ping_data_is_borrowed_from_the_message(void **state)
{
	const char *text = "{\"type\":\"ping\",\"data\":[1,{\"a\":null}]}";
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 1, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_PING);
	assert_string_equal(m.id, "");
	sl_test_assert_json(m.data.json, "[1,{\"a\":null}]");
	assert_null(m.data.mp);
	gw_cmsg_clear(&m);
}

typedef struct timeout_row {
	const char *fields; /* after id and type */
	int64_t timeout_ms; /* what the message carries */
} timeout_row_t;

static void
test_cmsg_submit_carries_its_timeout_ms(void **state)
{
	static const timeout_row_t rows[] = {
		{ "\"task\":\"sum\",\"items\":[1]", 0 },
		{ "\"task\":\"sum\",\"items\":[1],\"timeout_ms\":1", 1 },
		{ "\"task\":\"sum\",\"items\":[1],\"timeout_ms\":50", 50 },
		{ "\"timeout_ms\":86400000,\"task\":\"sum\",\"items\":[1]",
		    86400000 },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char text[256];
		gw_cmsg_t m;
		gw_cmsg_err_t err;

		snprintf(text, sizeof text,
		    "{\"type\":\"submit\",\"id\":\"r1\",%s}", rows[i].fields);
		sl_assert_row_int(
		    text, gw_cmsg_parse(text, strlen(text), 5, &m, &err), 0);
		sl_assert_row_int(text, m.timeout_ms, rows[i].timeout_ms);
		gw_cmsg_clear(&m);
	}
}

static void
test_cmsg_subscribe_and_notify_carry_channels(void **state)
{
	const char *sub = "{\"type\":\"subscribe\",\"channel\":\"c:1\"}";
	const char *submit = SUBMIT_WITH(
	    "\"task\":\"echo\",\"items\":[1],\"notify\":\"watch-me\"");
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(sub, strlen(sub), 5, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_SUBSCRIBE);
	assert_string_equal(m.channel, "c:1");
	gw_cmsg_clear(&m);
	assert_int_equal(
	    gw_cmsg_parse(submit, strlen(submit), 5, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_SUBMIT);
	assert_string_equal(m.channel, "watch-me");
	gw_cmsg_clear(&m);
}

static void
test_cmsg_cancel_carries_only_its_id(void **state)
{
	const char *text = "{\"type\":\"cancel\",\"id\":\"job-7\","
	                   "\"task\":\"sum\",\"items\":[1]}";
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 5, &m, &err), 0);
	assert_int_equal(m.type, GW_CMSG_CANCEL);
	assert_string_equal(m.id, "job-7");
	assert_string_equal(m.task, "");
	assert_null(m.items.data);
	assert_null(m.item_end);
	assert_int_equal(m.n_items, 0);
	assert_null(m.data.json);
	assert_int_equal(m.timeout_ms, 0);
	gw_cmsg_clear(&m);
}

static void
test_cmsg_parse_reads_only_len_bytes(void **state)
{
	/* a frame is not NUL-terminated: what follows len is not read */
	const char text[] = "{\"type\":\"ping\"}GARBAGE";
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, 15, 1, &m, &err), 0);
	gw_cmsg_clear(&m);
	assert_int_equal(gw_cmsg_parse(text, 16, 1, &m, &err), -1);
	assert_string_equal(err.code, "bad_json");
}

static void
test_cmsg_too_many_items_message_gives_count_and_limit(void **state)
{
	const char *text
	    = SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3,4,5]");
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 2, &m, &err), -1);
	assert_string_equal(err.code, "too_many_items");
	assert_string_equal(err.message, "5 items, the limit is 2");
}

/* The one key table: every key found by its name and nothing else,
 * each with a member of its own. */
/* submit's traceparent: kept as given when it is a W3C traceparent of
 * version 00, else bad_message naming the field and what is wrong. */
static void
test_cmsg_submit_traceparent_is_checked_and_kept(void **state)
{
#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	static const struct {
		const char *value; /* JSON after "traceparent": */
		const char *why;   /* in the message; NULL: accepted */
	} rows[] = {
		{ "\"" TP "\"", NULL },
		{ "\"" TP "0\"", "55 characters" },
		{ "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7\"",
		    "55 characters" },
		{ "\"\"", "55 characters" },
		{ "\"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-"
		  "01\"",
		    "trace-id must be" },
		{ "\"00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-"
		  "01\"",
		    "trace-id must be" },
		{ "\"00-00000000000000000000000000000000-00f067aa0ba902b7-"
		  "01\"",
		    "all zeros" },
		{ "\"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-"
		  "01\"",
		    "all zeros" },
		{ "\"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
		  "01\"",
		    "version 00" },
		{ "1", "must be a string" },
		{ "null", "must be a string" },
		{ "[\"" TP "\"]", "must be a string" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char text[256];
		gw_cmsg_t m;
		gw_cmsg_err_t err;
		int rc;

		snprintf(text, sizeof text,
		    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
		    "\"items\":[1],\"traceparent\":%s}",
		    rows[i].value);
		rc = gw_cmsg_parse(text, strlen(text), 5, &m, &err);
		if (!rows[i].why) {
			sl_assert_row_int(text, rc, 0);
			sl_assert_row_str(text, m.traceparent, TP);
			gw_cmsg_clear(&m);
			continue;
		}
		sl_assert_row_int(text, rc, -1);
		sl_assert_row_str(text, err.code, "bad_message");
		sl_assert_row_str(text, err.id, "r1");
		if (!strstr(err.message, "\"traceparent\"")
		    || !strstr(err.message, rows[i].why))
			fail_msg("%s: message \"%s\"", text, err.message);
	}
	/* none given: none kept (the gateway makes one) */
	{
		const char *text
		    = SUBMIT_WITH("\"task\":\"sum\",\"items\":[1]");
		gw_cmsg_t m;
		gw_cmsg_err_t err;

		assert_int_equal(
		    gw_cmsg_parse(text, strlen(text), 5, &m, &err), 0);
		assert_string_equal(m.traceparent, "");
		gw_cmsg_clear(&m);
	}
#undef TP
}

static void
test_cmsg_key_table_names_each_field_once(void **state)
{
	gw_cmsg_fields_t f;

	(void) state;
	memset(&f, 0, sizeof f);
	for (int k = 0; k < GW_CMSG_K_COUNT; k++) {
		const char *name = gw_cmsg_key_name(k);

		sl_assert_row_int(
		    name, gw_cmsg_key_find(name, strlen(name)), k);
		/* a prefix or a longer name is not the key */
		sl_assert_row_int(name,
		    gw_cmsg_key_find(name, strlen(name) - 1), GW_CMSG_K_COUNT);
		sl_assert_row_int(name, gw_cmsg_fields_at(&f, k)->kind, 0);
		gw_cmsg_fields_at(&f, k)->kind = GW_CMSG_F_OTHER;
	}
	assert_int_equal(f.type.kind, GW_CMSG_F_OTHER);
	assert_int_equal(f.seqs.kind, GW_CMSG_F_OTHER);
	assert_int_equal(f.data.kind, GW_CMSG_F_OTHER);
	assert_int_equal(gw_cmsg_key_find("typex", 5), GW_CMSG_K_COUNT);
	assert_int_equal(gw_cmsg_key_find("Type", 4), GW_CMSG_K_COUNT);
	assert_int_equal(gw_cmsg_key_find("", 0), GW_CMSG_K_COUNT);
	assert_string_equal(gw_cmsg_key_name(GW_CMSG_K_SEQS), "seqs");
}

/* ---- seqs ---------------------------------------------------------- */

typedef struct seqs_row {
	const char *seqs;    /* the JSON after "seqs": */
	const char *items;   /* the JSON after "items": */
	const char *message; /* bad_seqs' message, or NULL: parses */
	uint32_t want[3];    /* when it parses: each item's seq */
} seqs_row_t;

/* Every violation has its own message, naming the offending element. */
static void
test_cmsg_seqs_give_each_item_its_seq_or_a_clear_error(void **state)
{
	static const seqs_row_t rows[] = {
		{ "[5,9,2]", "[1,2,3]", NULL, { 5, 9, 2 } },
		{ "[0]", "[1]", NULL, { 0 } },
		{ "[4294967295,1]", "[1,2]", NULL, { 4294967295u, 1 } },
		{ "[1]", "[1,2]",
		    "\"seqs\" has 1 elements and \"items\" 2: one seq per "
		    "item",
		    { 0 } },
		{ "[1,2,1]", "[1,2,3]",
		    "\"seqs\" must be distinct: seqs[0] and seqs[2] are both "
		    "1",
		    { 0 } },
		{ "[3,0,0]", "[1,2,3]",
		    "\"seqs\" must be distinct: seqs[1] and seqs[2] are both "
		    "0",
		    { 0 } },
		{ "[1,-1]", "[1,2]", "seqs[1] is -1, outside 0..4294967295",
		    { 0 } },
		{ "[4294967296]", "[1]",
		    "seqs[0] is 4294967296, outside 0..4294967295", { 0 } },
		{ "[0,0.5]", "[1,2]",
		    "seqs[1] is not an integer 0..4294967295", { 0 } },
		{ "[\"0\"]", "[1]", "seqs[0] is not an integer 0..4294967295",
		    { 0 } },
		{ "\"0,1\"", "[1,2]",
		    "\"seqs\" must be an array of integers 0..4294967295",
		    { 0 } },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char text[256];
		gw_cmsg_t m;
		gw_cmsg_err_t err;
		int rc;

		snprintf(text, sizeof text,
		    SUBMIT_WITH("\"task\":\"sum\",\"items\":%s,\"seqs\":%s"),
		    rows[i].items, rows[i].seqs);
		rc = gw_cmsg_parse(text, strlen(text), 3, &m, &err);
		if (rows[i].message) {
			sl_assert_row_int(text, rc, -1);
			sl_assert_row_str(text, err.code, "bad_seqs");
			sl_assert_row_str(text, err.id, "r1");
			sl_assert_row_str(text, err.message, rows[i].message);
			continue;
		}
		sl_assert_row_int(text, rc, 0);
		for (size_t j = 0; j < m.n_items; j++)
			sl_assert_row_int(
			    text, gw_cmsg_seq(&m, j), rows[i].want[j]);
		gw_cmsg_clear(&m);
		sl_assert_row_int(text, m.seqs == NULL, 1);
	}
}

static void
test_cmsg_without_seqs_each_item_has_its_index(void **state)
{
	const char *text = SUBMIT_WITH("\"task\":\"sum\",\"items\":[1,2,3]");
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 3, &m, &err), 0);
	assert_null(m.seqs);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(gw_cmsg_seq(&m, i), i);
	gw_cmsg_clear(&m);
}

/* A submit of n items (all 0) with seqs: n..1, then dup (if not -1) at
 * the end instead of 1, then extra more seqs. Caller frees. */
static char *
s_big_submit(size_t n, long long dup, size_t extra)
{
	size_t cap = 64 + n * 2 + (n + extra) * 12;
	char *t = malloc(cap);
	size_t k = 0;

	assert_non_null(t);
	k += snprintf(t + k, cap - k,
	    "{\"type\":\"submit\",\"id\":\"big\",\"task\":\"sum\","
	    "\"items\":[");
	for (size_t i = 0; i < n; i++)
		k += snprintf(t + k, cap - k, i ? ",0" : "0");
	k += snprintf(t + k, cap - k, "],\"seqs\":[");
	for (size_t i = 0; i < n + extra; i++) {
		long long v
		    = i + 1 == n && dup >= 0 ? dup : (long long) (n - i);

		k += snprintf(t + k, cap - k, i ? ",%lld" : "%lld", v);
	}
	snprintf(t + k, cap - k, "]}");
	return t;
}

/* seqs as long as the item limit allows, and one longer; a duplicate
 * found among all of them, whatever its place. */
static void
test_cmsg_seqs_up_to_the_item_limit_and_beyond(void **state)
{
	const size_t max = 10000;
	gw_cmsg_t m;
	gw_cmsg_err_t err;
	char *t;

	(void) state;
	t = s_big_submit(max, -1, 0);
	assert_int_equal(gw_cmsg_parse(t, strlen(t), max, &m, &err), 0);
	assert_int_equal(m.n_items, max);
	assert_int_equal(gw_cmsg_seq(&m, 0), max);
	assert_int_equal(gw_cmsg_seq(&m, max - 1), 1);
	gw_cmsg_clear(&m);
	free(t);

	t = s_big_submit(max, -1, 1);
	assert_int_equal(gw_cmsg_parse(t, strlen(t), max, &m, &err), -1);
	assert_string_equal(err.code, "bad_seqs");
	assert_string_equal(err.message,
	    "\"seqs\" has 10001 elements and \"items\" 10000: one seq per "
	    "item");
	free(t);

	t = s_big_submit(max, 10000, 0); /* the last repeats the first */
	assert_int_equal(gw_cmsg_parse(t, strlen(t), max, &m, &err), -1);
	assert_string_equal(err.code, "bad_seqs");
	assert_string_equal(err.message,
	    "\"seqs\" must be distinct: seqs[0] and seqs[9999] are both "
	    "10000");
	assert_null(m.seqs);
	free(t);

	t = s_big_submit(max + 1, -1, 0);
	assert_int_equal(gw_cmsg_parse(t, strlen(t), max, &m, &err), -1);
	assert_string_equal(err.code, "too_many_items");
	free(t);
}

/* ---- error messages stay printable ASCII ----------------------------------
 */

static void
s_assert_printable(const char *row, const char *s)
{
	for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
		if (*c < 0x20 || *c > 0x7e) {
			print_error("row \"%s\": byte 0x%02x in message "
			            "\"%s\"\n",
			    row, *c, s);
			fail();
		}
	}
}

static void
test_cmsg_error_messages_stay_printable_ascii(void **state)
{
	static const char *const inputs[] = {
		"{\"type\":\"ping\", \xc3\xa9}",
		"{\"type\": \xe2\x98\x83}",
		"\xff\xfe\xfd",
		"{\"type\":\"\xff\"}",
		"{\"\xf0\x9f\x98\x80\":1",
		"{\"type\":\"ping\"}\n\x01\x02",
		"{\"type\":\"submit\",\"id\":\"r\xc3\xa9\",\"task\":"
		"\"s\xc3\xbcm\","
		"\"items\":[1]}",
		"{\"type\":\"\xe2\x98\x83\",\"id\":\"\xe2\x98\x83\"}",
	};

	(void) state;
	for (size_t i = 0; i < SL_N(inputs); i++) {
		gw_cmsg_t m;
		gw_cmsg_err_t err;
		gw_out_t out;
		json_t *frame;
		char *text;

		sl_assert_row_int(inputs[i],
		    gw_cmsg_parse(inputs[i], strlen(inputs[i]), 5, &m, &err),
		    -1);
		s_assert_printable(inputs[i], err.message);
		/* and the error frame serialises */
		out = gw_out_error(&err);
		assert_int_equal(gw_out_json(&out, &frame), 0);
		text = json_dumps(frame, JSON_COMPACT);
		assert_non_null(text);
		free(text);
		json_decref(frame);
	}
}

static void
test_cmsg_err_set_replaces_unprintable_bytes(void **state)
{
	gw_cmsg_err_t err;

	(void) state;
	assert_int_equal(gw_cmsg_err_set(&err, "id-1", "bad_json", "a%sb%dc",
	                     "\n\t\xc3\xa9\x7f", 7),
	    -1);
	assert_string_equal(err.code, "bad_json");
	assert_string_equal(err.id, "id-1");
	assert_string_equal(err.message, "a?????b7c");
	assert_int_equal(gw_cmsg_err_set(&err, NULL, "x", "plain"), -1);
	assert_string_equal(err.id, "");
	assert_string_equal(err.message, "plain");
}

static void
test_cmsg_err_set_truncates_to_its_buffers(void **state)
{
	char longer[300];
	gw_cmsg_err_t err;

	(void) state;
	memset(longer, 'm', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	gw_cmsg_err_set(&err, longer, "c", "%s", longer);
	assert_int_equal(strlen(err.id), GW_CMSG_MAX_ID);
	assert_int_equal(strlen(err.message), sizeof err.message - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmsg_parse_gives_each_frame_its_outcome),
		cmocka_unit_test(
		    test_cmsg_subscribe_and_notify_carry_channels),
		cmocka_unit_test(
		    test_cmsg_submit_fields_point_into_the_message),
		cmocka_unit_test(
		    test_cmsg_items_nested_too_deeply_are_refused_at_the_edge),
		cmocka_unit_test(
		    test_cmsg_ping_data_is_borrowed_from_the_message),
		cmocka_unit_test(test_cmsg_submit_carries_its_timeout_ms),
		cmocka_unit_test(test_cmsg_cancel_carries_only_its_id),
		cmocka_unit_test(test_cmsg_parse_reads_only_len_bytes),
		cmocka_unit_test(
		    test_cmsg_too_many_items_message_gives_count_and_limit),
		cmocka_unit_test(
		    test_cmsg_error_messages_stay_printable_ascii),
		cmocka_unit_test(test_cmsg_err_set_replaces_unprintable_bytes),
		cmocka_unit_test(test_cmsg_err_set_truncates_to_its_buffers),
		cmocka_unit_test(
		    test_cmsg_seqs_give_each_item_its_seq_or_a_clear_error),
		cmocka_unit_test(
		    test_cmsg_without_seqs_each_item_has_its_index),
		cmocka_unit_test(
		    test_cmsg_seqs_up_to_the_item_limit_and_beyond),
		cmocka_unit_test(test_cmsg_key_table_names_each_field_once),
		cmocka_unit_test(
		    test_cmsg_submit_traceparent_is_checked_and_kept),
	};

	return cmocka_run_group_tests_name("cmsg", tests, NULL, NULL);
}
