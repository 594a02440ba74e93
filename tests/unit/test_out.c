/*
 * test_out: frames to clients (gateway/gw_out), compared as canonical
 * JSON text. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_out.h"
#include "sl_err.h"

/* ---- frame builders ------------------------------------------------------
 */

/* The frame as JSON; fails the test if it does not encode. */
static json_t *
s_json(gw_out_t f)
{
	json_t *j = NULL;

	assert_int_equal(gw_out_json(&f, &j), 0);
	assert_non_null(j);
	return j;
}

/* A msgpack object unpacked from bytes, for values that come from
 * workers. */
typedef struct mp_val {
	msgpack_unpacked u;
} mp_val_t;

static const msgpack_object *
s_mp(mp_val_t *v, const char *bytes, size_t len)
{
	size_t off = 0;

	msgpack_unpacked_init(&v->u);
	assert_int_equal(msgpack_unpack_next(&v->u, bytes, len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	return &v->u.data;
}

static void
test_out_frames_have_the_documented_fields(void **state)
{
	gw_cmsg_err_t err;
	mp_val_t v;
	json_t *f;

	(void) state;
	f = s_json((gw_out_t) {
	    .type = GW_OUT_ACCEPTED, .id = "r1", .items = 3, .workers = 2 });
	sl_test_assert_json(f,
	    "{\"id\":\"r1\",\"items\":3,\"type\":\"accepted\",\"workers\":2}");
	json_decref(f);

	/* {"v": [7, "x"]} as a worker sends it */
	f = s_json((gw_out_t) { .type = GW_OUT_RESULT,
	    .id = "r1",
	    .seq = 4,
	    .value.mp = s_mp(&v, "\x81\xa1v\x92\x07\xa1x", 7) });
	msgpack_unpacked_destroy(&v.u);
	sl_test_assert_json(f,
	    "{\"id\":\"r1\",\"seq\":4,\"type\":\"result\","
	    "\"value\":{\"v\":[7,\"x\"]}}");
	json_decref(f);

	f = s_json((gw_out_t) { .type = GW_OUT_RESULT,
	    .id = "r1",
	    .seq = UINT32_MAX,
	    .value.mp = s_mp(&v, "\xc0", 1) });
	msgpack_unpacked_destroy(&v.u);
	sl_test_assert_json(f,
	    "{\"id\":\"r1\",\"seq\":4294967295,\"type\":"
	    "\"result\",\"value\":null}");
	json_decref(f);

	/* timing adds where the time went; bin is base64 */
	f = s_json((gw_out_t) { .type = GW_OUT_RESULT,
	    .id = "r1",
	    .value.mp = s_mp(&v, "\xc4\x02\x00\xff", 4),
	    .timing = true,
	    .tm = { .t_done_us = 1700000000000001,
	        .cpu_us = 42,
	        .queue_us = 7,
	        .start_us = 0,
	        .run_us = 45,
	        .attempts = 2,
	        .worker = "w3" } });
	msgpack_unpacked_destroy(&v.u);
	sl_test_assert_json(f,
	    "{\"attempts\":2,\"cpu_us\":42,\"id\":\"r1\",\"queue_us\":7,"
	    "\"run_us\":45,\"seq\":0,\"start_us\":0,"
	    "\"t_done_us\":1700000000000001,\"type\":\"result\","
	    "\"value\":\"AP8=\",\"worker\":\"w3\"}");
	json_decref(f);

	/* a worker before revision 7 says nothing of start_us and run_us:
	 * they are left out; an item error of a worker has the same */
	f = s_json((gw_out_t) { .type = GW_OUT_ITEM_ERROR,
	    .id = "r1",
	    .code = "bad_item",
	    .message = "m",
	    .timing = true,
	    .tm = { .t_done_us = 1,
	        .cpu_us = 2,
	        .queue_us = 3,
	        .start_us = -1,
	        .run_us = -1,
	        .attempts = 1,
	        .worker = "w1" } });
	sl_test_assert_json(f,
	    "{\"attempts\":1,\"code\":\"bad_item\",\"cpu_us\":2,"
	    "\"id\":\"r1\",\"message\":\"m\",\"queue_us\":3,\"seq\":0,"
	    "\"t_done_us\":1,\"type\":\"error\",\"worker\":\"w1\"}");
	json_decref(f);

	/* accepted names the request's traceparent */
	f = s_json((gw_out_t) { .type = GW_OUT_ACCEPTED,
	    .id = "r1",
	    .items = 1,
	    .traceparent
	    = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
	sl_test_assert_json(f,
	    "{\"id\":\"r1\",\"items\":1,\"traceparent\":"
	    "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
	    "\"type\":\"accepted\",\"workers\":0}");
	json_decref(f);

	f = s_json((gw_out_t) { .type = GW_OUT_ITEM_ERROR,
	    .id = "r1",
	    .seq = 2,
	    .code = "bad_item",
	    .message = "item must be an integer" });
	sl_test_assert_json(f,
	    "{\"code\":\"bad_item\",\"id\":\"r1\","
	    "\"message\":\"item must be an integer\","
	    "\"seq\":2,\"type\":\"error\"}");
	json_decref(f);

	f = s_json((gw_out_t) { .type = GW_OUT_DONE,
	    .id = "r1",
	    .ok = 2,
	    .failed = 1,
	    .elapsed_ms = 1234 });
	sl_test_assert_json(f,
	    "{\"elapsed_ms\":1234,\"failed\":1,\"id\":\"r1\","
	    "\"ok\":2,\"type\":\"done\"}");
	json_decref(f);

	/* cancelled appears only when something was cancelled; channel
	 * only on a watcher's copy */
	f = s_json((gw_out_t) { .type = GW_OUT_DONE,
	    .id = "r1",
	    .channel = "jobs",
	    .ok = 1,
	    .cancelled = 3,
	    .elapsed_ms = 10 });
	sl_test_assert_json(f,
	    "{\"cancelled\":3,\"channel\":\"jobs\",\"elapsed_ms\":10,"
	    "\"failed\":0,\"id\":\"r1\",\"ok\":1,\"type\":\"done\"}");
	json_decref(f);

	gw_cmsg_err_set(
	    &err, "r7", "unknown_task", "no worker runs \"%s\"", "x");
	f = s_json(gw_out_error(&err));
	sl_test_assert_json(f,
	    "{\"code\":\"unknown_task\",\"id\":\"r7\","
	    "\"message\":\"no worker runs \\\"x\\\"\","
	    "\"type\":\"error\"}");
	json_decref(f);

	gw_cmsg_err_set(&err, NULL, "bad_json", "invalid");
	f = s_json(gw_out_error(&err));
	sl_test_assert_json(f,
	    "{\"code\":\"bad_json\",\"message\":\"invalid\","
	    "\"type\":\"error\"}");
	json_decref(f);

	gw_cmsg_err_set(&err, NULL, "not_subscribed", "no");
	snprintf(err.channel, sizeof err.channel, "c.1");
	f = s_json(gw_out_error(&err));
	sl_test_assert_json(f,
	    "{\"channel\":\"c.1\",\"code\":\"not_subscribed\","
	    "\"message\":\"no\",\"type\":\"error\"}");
	json_decref(f);

	f = s_json((gw_out_t) {
	    .type = GW_OUT_SUBSCRIBED, .channel = "c.1", .subscriptions = 2 });
	sl_test_assert_json(f,
	    "{\"channel\":\"c.1\",\"subscriptions\":2,"
	    "\"type\":\"subscribed\"}");
	json_decref(f);

	f = s_json(
	    (gw_out_t) { .type = GW_OUT_UNSUBSCRIBED, .channel = "c.1" });
	sl_test_assert_json(f,
	    "{\"channel\":\"c.1\",\"subscriptions\":0,"
	    "\"type\":\"unsubscribed\"}");
	json_decref(f);
}

static void
test_out_pong_echoes_data_when_given(void **state)
{
	json_t *data = json_pack("{s:i}", "t", 5);
	json_t *f;

	(void) state;
	f = s_json((gw_out_t) { .type = GW_OUT_PONG,
	    .value.json = data,
	    .server_us = 1700000000000000,
	    .workers = 3,
	    .queued = 12,
	    .running = 4 });
	sl_test_assert_json(f,
	    "{\"data\":{\"t\":5},\"queued\":12,\"running\":4,"
	    "\"server_us\":1700000000000000,"
	    "\"type\":\"pong\",\"workers\":3}");
	json_decref(f);
	/* the caller's reference is still its own */
	assert_int_equal(data->refcount, 1);
	json_decref(data);

	f = s_json((gw_out_t) { .type = GW_OUT_PONG, .server_us = 1 });
	sl_test_assert_json(f,
	    "{\"queued\":0,\"running\":0,\"server_us\":1,"
	    "\"type\":\"pong\",\"workers\":0}");
	json_decref(f);
	/* a draining gateway says so; otherwise the key is absent */
	f = s_json((gw_out_t) {
	    .type = GW_OUT_PONG, .server_us = 1, .draining = true });
	sl_test_assert_json(f,
	    "{\"draining\":true,\"queued\":0,\"running\":0,"
	    "\"server_us\":1,\"type\":\"pong\",\"workers\":0}");
	json_decref(f);
}

static void
test_out_unicode_ids_survive_into_frames(void **state)
{
	json_t *f
	    = s_json((gw_out_t) { .type = GW_OUT_DONE, .id = "r\xc3\xa9" });

	(void) state;
	sl_test_assert_json(f,
	    "{\"elapsed_ms\":0,\"failed\":0,\"id\":\"r\xc3\xa9"
	    "\",\"ok\":0,\"type\":\"done\"}");
	json_decref(f);
}

static void
test_out_a_value_without_json_form_is_an_error_not_a_frame(void **state)
{
	mp_val_t v;
	json_t *f = NULL;
	gw_out_t out = { .type = GW_OUT_RESULT, .id = "r1" };

	(void) state;
	/* an ext value: the broker checks values first, so this is only
	 * reached by a caller's mistake, and must not crash */
	out.value.mp = s_mp(&v, "\xd4\x01\x02", 3);
	assert_int_equal(gw_out_json(&out, &f), SL_EPROTO);
	assert_null(f);
	msgpack_unpacked_destroy(&v.u);
}

/* A visitor that writes "key," for every key, in wire order. */
static int
s_key(void *ctx, const char *key)
{
	strcat(ctx, key);
	strcat(ctx, ",");
	return 0;
}

static int
s_key_str(void *ctx, const char *key, const char *s)
{
	(void) s;
	return s_key(ctx, key);
}

static int
s_key_int(void *ctx, const char *key, int64_t i)
{
	(void) i;
	return s_key(ctx, key);
}

static int
s_key_value(void *ctx, const char *key, const gw_cmsg_value_t *v)
{
	(void) v;
	return s_key(ctx, key);
}

static int
s_key_real(void *ctx, const char *key, double d)
{
	(void) d;
	return s_key(ctx, key);
}

/*
 * The field table drives both encoders: every frame's keys come in the
 * order docs/PROTOCOL.md shows (type and id first, channel last),
 * optional ones only when set, and gw_out_count (a msgpack map's size)
 * counts exactly the keys the walk visits, which are the JSON frame's.
 */
static void
test_out_walk_gives_each_type_its_keys_in_wire_order(void **state)
{
	static const gw_out_visitor_t keys = { .str = s_key_str,
		.integer = s_key_int,
		.value = s_key_value,
		.yes = s_key,
		.real = s_key_real };
	static const struct {
		gw_out_type_t type;
		const char *bare, *full;
	} rows[] = {
		{ GW_OUT_ACCEPTED, "type,items,workers,",
		    "type,id,items,workers,traceparent,channel," },
		{ GW_OUT_RESULT, "type,seq,value,",
		    "type,id,seq,value,t_done_us,cpu_us,queue_us,start_us,"
		    "run_us,worker,attempts,restart,channel," },
		{ GW_OUT_PROGRESS, "type,seq,progress,",
		    "type,id,seq,progress,text,channel," },
		{ GW_OUT_PARTIAL, "type,seq,index,value,",
		    "type,id,seq,index,value,restart,channel," },
		{ GW_OUT_ITEM_ERROR, "type,seq,code,message,",
		    "type,id,seq,code,message,t_done_us,cpu_us,queue_us,"
		    "start_us,run_us,worker,attempts,channel," },
		{ GW_OUT_DONE, "type,ok,failed,elapsed_ms,",
		    "type,id,ok,failed,elapsed_ms,cancelled,channel," },
		{ GW_OUT_ERROR, "type,code,message,",
		    "type,id,code,message,channel," },
		{ GW_OUT_PONG, "type,server_us,workers,queued,running,",
		    "type,id,server_us,workers,queued,running,draining,data,"
		    "channel," },
		{ GW_OUT_SUBSCRIBED, "type,subscriptions,",
		    "type,id,subscriptions,channel," },
		{ GW_OUT_UNSUBSCRIBED, "type,subscriptions,",
		    "type,id,subscriptions,channel," },
		{ 0, "type,", "type,id,channel," },
	};
	json_t *data = json_true();

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		for (int full = 0; full < 2; full++) {
			gw_out_t f = { .type = rows[i].type,
				.code = "c",
				.message = "m",
				.value.json = rows[i].type == GW_OUT_RESULT
				        || rows[i].type == GW_OUT_PARTIAL
				        || full
				    ? data
				    : NULL };
			char got[256] = "";
			json_t *j;

			if (full) {
				f.id = "r1";
				f.channel = "c";
				f.traceparent = "t";
				f.timing = f.draining = f.restart = true;
				f.cancelled = 1;
				f.text = "t";
			}
			assert_int_equal(gw_out_walk(&f, &keys, got), 0);
			sl_assert_row_str(gw_out_type_name(rows[i].type), got,
			    full ? rows[i].full : rows[i].bare);
			j = s_json(f);
			sl_assert_row_int(gw_out_type_name(rows[i].type),
			    gw_out_count(&f), json_object_size(j));
			json_decref(j);
		}
	}
	json_decref(data);
}

/* Revision 7's frames as a JSON client reads them: a progress fraction
 * without binary noise, a partial's value and its restart flag. */
static void
test_out_progress_and_partial_frames_as_json_text(void **state)
{
	gw_out_t p = { .type = GW_OUT_PROGRESS,
		.id = "r1",
		.seq = 3,
		.progress = 0.42,
		.text = "pass 2" };
	gw_out_t q = { .type = GW_OUT_PARTIAL,
		.id = "r1",
		.seq = 3,
		.index = 7,
		.restart = true };
	const char *want_p = "{\"type\":\"progress\",\"id\":\"r1\",\"seq\":3,"
	                     "\"progress\":0.42,\"text\":\"pass 2\"}";
	const char *want_q = "{\"type\":\"partial\",\"id\":\"r1\",\"seq\":3,"
	                     "\"index\":7,\"value\":[7,\"x\"],"
	                     "\"restart\":true}";
	char *buf = NULL;
	size_t cap = 0, n;
	mp_val_t v;

	(void) state;
	n = gw_out_json_text(&p, &buf, &cap);
	assert_int_equal(n, strlen(want_p));
	assert_memory_equal(buf, want_p, n);
	q.value.mp = s_mp(&v, "\x92\x07\xa1x", 4);
	n = gw_out_json_text(&q, &buf, &cap);
	msgpack_unpacked_destroy(&v.u);
	assert_int_equal(n, strlen(want_q));
	assert_memory_equal(buf, want_q, n);
	free(buf);
}

/* The text a JSON client receives, keys in wire order; the buffer grows
 * when the text needs more, and a frame without JSON form gives 0. */
static void
test_out_json_text_grows_its_buffer(void **state)
{
	gw_out_t f = { .type = GW_OUT_ACCEPTED,
		.id = "r1",
		.items = 3,
		.workers = 2,
		.channel = "c" };
	const char *want = "{\"type\":\"accepted\",\"id\":\"r1\",\"items\":3,"
	                   "\"workers\":2,\"channel\":\"c\"}";
	char *buf = NULL;
	size_t cap = 0, n;
	mp_val_t v;

	(void) state;
	n = gw_out_json_text(&f, &buf, &cap);
	assert_int_equal(n, strlen(want));
	assert_true(cap >= n);
	assert_memory_equal(buf, want, n);
	/* a big enough buffer is kept as it is */
	buf = realloc(buf, 200);
	cap = 200;
	n = gw_out_json_text(&f, &buf, &cap);
	assert_int_equal(cap, 200);
	assert_memory_equal(buf, want, n);
	f = (gw_out_t) { .type = GW_OUT_RESULT,
		.id = "r1",
		.value.mp = s_mp(&v, "\xd4\x01\x02", 3) };
	assert_int_equal(gw_out_json_text(&f, &buf, &cap), 0);
	msgpack_unpacked_destroy(&v.u);
	free(buf);
}

/* ---- the encoder gw_out_json_text replaced, as the oracle ------------ */

/* Each obj[key] = ...; what gw_out_json did with a jansson tree per
 * frame before the text was written directly. */
static int
s_old_str(void *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, json_string(s)) ? SL_ENOMEM : 0;
}

static int
s_old_int(void *obj, const char *key, int64_t i)
{
	return json_object_set_new(obj, key, json_integer((json_int_t) i))
	    ? SL_ENOMEM
	    : 0;
}

static int
s_old_yes(void *obj, const char *key)
{
	return json_object_set_new(obj, key, json_true()) ? SL_ENOMEM : 0;
}

static int
s_old_value(void *obj, const char *key, const gw_cmsg_value_t *v)
{
	json_t *j = json_null();
	int rc;

	if (v->json)
		return json_object_set(obj, key, (json_t *) v->json)
		    ? SL_ENOMEM
		    : 0;
	if (v->mp && (rc = sl_json_from_mp(v->mp, &j, NULL)))
		return rc;
	return json_object_set_new(obj, key, j) ? SL_ENOMEM : 0;
}

/* A progress fraction: the old encoder's output with JSON_REAL_PRECISION
 * was what jansson gives for these exact binary fractions. */
static int
s_old_real(void *obj, const char *key, double d)
{
	return json_object_set_new(obj, key, json_real(d)) ? SL_ENOMEM : 0;
}

/* Both encoders agree on f: the same bytes, or both refuse. */
static void
s_same_as_old(const gw_out_t *f)
{
	static const gw_out_visitor_t old = { .str = s_old_str,
		.integer = s_old_int,
		.value = s_old_value,
		.yes = s_old_yes,
		.real = s_old_real };
	json_t *o = json_object();
	char *want = NULL, *buf = NULL;
	size_t cap = 0, n = gw_out_json_text(f, &buf, &cap);

	if (!gw_out_walk(f, &old, o))
		want = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!want) {
		assert_int_equal(n, 0);
	} else if (n != strlen(want) || memcmp(buf, want, n)) {
		print_error("new %.*s\nold %s\n", (int) n, buf, want);
		fail();
	}
	free(want);
	free(buf);
}

static void
test_out_every_frame_is_byte_identical_to_the_old_encoder(void **state)
{
	/* values: {"k\n":[1,-2,0.5,"\"\\",true,null,bin]}, ext, none */
	static const char mp[] = "\x81\xa2k\n\x97\x01\xfe\xcb\x3f\xe0\0\0\0\0"
	                         "\0\0\xa2\"\\\xc3\xc0\xc4\x02\x01\x02";
	mp_val_t v, ext;
	gw_cmsg_value_t vals[4] = { { .mp = s_mp(&v, mp, sizeof mp - 1) },
		{ .mp = s_mp(&ext, "\xd4\x01\x02", 3) }, { 0 },
		{ .json = json_pack(
		      "{s:[i,f,s]}", "t\x01", 5, 0.1, "\xc3\xa9") } };
	const char *strs[] = { NULL, "", "r1", "q\"\\\t\x1f/\xe2\x82\xac" };

	(void) state;
	for (int t = 0; t <= GW_OUT_PARTIAL + 1; t++)
		for (size_t i = 0; i < SL_N(vals) * SL_N(strs); i++) {
			const char *s = strs[i % SL_N(strs)];

			s_same_as_old(&(gw_out_t) { .type = (gw_out_type_t) t,
			    .id = s,
			    .channel = strs[(i + 1) % SL_N(strs)],
			    .seq = (uint32_t) i * 1000003u,
			    .value = vals[i / SL_N(strs)],
			    .code = s,
			    .message = strs[(i + 2) % SL_N(strs)],
			    .resume = s,
			    .items = i,
			    .workers = SIZE_MAX / (i + 1),
			    .ok = i & 1,
			    .cancelled = i & 2,
			    .queued = 7,
			    .elapsed_ms = INT64_MIN + (int64_t) i,
			    .server_us = INT64_MAX - (int64_t) i,
			    .timing = i & 1,
			    .draining = i & 4,
			    .traceparent = s,
			    .tm = { .t_done_us = -1,
			        .cpu_us = UINT64_MAX - i,
			        .queue_us = (int64_t) i,
			        .start_us = (int64_t) i - 2,
			        .run_us = INT64_MAX,
			        .attempts = (uint32_t) i,
			        .worker = "w\"1" },
			    .progress = (double) (i % 5) * 0.25,
			    .text = strs[(i + 3) % SL_N(strs)],
			    .index = (uint32_t) i,
			    .restart = i & 8 });
		}
	json_decref((json_t *) vals[3].json);
	msgpack_unpacked_destroy(&v.u);
	msgpack_unpacked_destroy(&ext.u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_out_a_value_without_json_form_is_an_error_not_a_frame),
		cmocka_unit_test(test_out_frames_have_the_documented_fields),
		cmocka_unit_test(
		    test_out_every_frame_is_byte_identical_to_the_old_encoder),
		cmocka_unit_test(test_out_pong_echoes_data_when_given),
		cmocka_unit_test(test_out_unicode_ids_survive_into_frames),
		cmocka_unit_test(
		    test_out_walk_gives_each_type_its_keys_in_wire_order),
		cmocka_unit_test(test_out_json_text_grows_its_buffer),
		cmocka_unit_test(
		    test_out_progress_and_partial_frames_as_json_text),
	};

	return cmocka_run_group_tests_name("out", tests, NULL, NULL);
}
