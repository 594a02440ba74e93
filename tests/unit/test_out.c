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

	/* timing adds the worker's clock and CPU time; bin is base64 */
	f = s_json((gw_out_t) { .type = GW_OUT_RESULT,
	    .id = "r1",
	    .value.mp = s_mp(&v, "\xc4\x02\x00\xff", 4),
	    .timing = true,
	    .t_done_us = 1700000000000001,
	    .cpu_us = 42 });
	msgpack_unpacked_destroy(&v.u);
	sl_test_assert_json(f,
	    "{\"cpu_us\":42,\"id\":\"r1\",\"seq\":0,"
	    "\"t_done_us\":1700000000000001,\"type\":\"result\","
	    "\"value\":\"AP8=\"}");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_out_a_value_without_json_form_is_an_error_not_a_frame),
		cmocka_unit_test(test_out_frames_have_the_documented_fields),
		cmocka_unit_test(test_out_pong_echoes_data_when_given),
		cmocka_unit_test(test_out_unicode_ids_survive_into_frames),
	};

	return cmocka_run_group_tests_name("out", tests, NULL, NULL);
}
