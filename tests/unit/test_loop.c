/*
 * unit.loop: the event loop choice. A missing libuv plugin is named with
 * its Debian package and the way out (--event-lib poll); both loops
 * create a real lws context that serves a turn and is destroyed whole.
 */
#include "sl_test.h"

#include <string.h>

#include <libwebsockets.h>

#include "gw_loop.h"

static void
test_loop_missing_plugin_is_named(void **state)
{
	char err[512] = "";
	gw_loop_t *l = gw_loop_new(
	    GW_LOOP_UV, "libwebsockets-evlib_absent.so", err, sizeof err);

	(void) state;
	assert_null(l);
	assert_non_null(strstr(err, "libwebsockets-evlib-uv"));
	assert_non_null(strstr(err, "--event-lib poll"));
}

/* A context on the loop, one turn woken by lws_cancel_service, then the
 * whole teardown: *pctx is NULL and (under ASan/valgrind) nothing leaks. */
static void
s_context_round_trip(int kind, const char *name)
{
	static struct lws_protocols protos[]
	    = { { "x", lws_callback_http_dummy, 0, 0, 0, NULL, 0 },
		      { NULL, NULL, 0, 0, 0, NULL, 0 } };
	struct lws_context_creation_info ci;
	struct lws_context *ctx;
	char err[256] = "";
	gw_loop_t *l = gw_loop_new(kind, NULL, err, sizeof err);

	assert_non_null(l);
	assert_string_equal(gw_loop_name(l), name);
	memset(&ci, 0, sizeof ci);
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protos;
	gw_loop_prepare(l, &ci, &ctx);
	ctx = lws_create_context(&ci);
	assert_non_null(ctx);
	lws_cancel_service(ctx);
	assert_true(gw_loop_turn(l, ctx) >= 0);
	gw_loop_destroy_context(l, &ctx);
	assert_null(ctx);
	gw_loop_destroy(&l);
	assert_null(l);
	gw_loop_destroy(&l); /* NULL-safe */
}

static void
test_loop_poll_round_trip(void **state)
{
	(void) state;
	s_context_round_trip(GW_LOOP_POLL, "poll");
}

static void
test_loop_uv_round_trip(void **state)
{
	(void) state;
	s_context_round_trip(GW_LOOP_UV, "uv");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_missing_plugin_is_named),
		cmocka_unit_test(test_loop_poll_round_trip),
		cmocka_unit_test(test_loop_uv_round_trip),
	};

	lws_set_log_level(LLL_ERR, NULL);
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
