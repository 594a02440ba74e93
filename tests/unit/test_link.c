/*
 * test_link: one gateway connection of a worker (compute/cp_link).
 *
 * A real ROUTER on a loopback port plays the gateway: a link opens,
 * sends under the worker's routing id, counts as silent after
 * hb_liveness intervals without a word, closes, and is due again after
 * its jittered backoff, which doubles up to the cap and starts over once
 * the gateway speaks. Single threaded; times are given, not measured.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <zmq.h>

#include "cp_link.h"
#include "sl_err.h"

typedef struct fixture {
	void *zctx;
	void *router;
	char ep[128];
	cp_link_opts_t o;
	cp_link_t *link;
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	size_t eplen = sizeof f->ep;
	int zero = 0;

	if (!f)
		return -1;
	f->zctx = zmq_ctx_new();
	f->router = zmq_socket(f->zctx, ZMQ_ROUTER);
	if (!f->router
	    || zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_bind(f->router, "tcp://127.0.0.1:*")
	    || zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->ep, &eplen))
		return -1;
	f->o = (cp_link_opts_t) { "w-link", 100000, 3, 1000000, NULL, NULL };
	f->link = cp_link_new(f->ep);
	*state = f;
	return f->link ? 0 : -1;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	cp_link_destroy(&f->link);
	cp_link_destroy(&f->link); /* NULL-safe */
	zmq_close(f->router);
	zmq_ctx_term(f->zctx);
	free(f);
	return 0;
}

static void
test_link_sends_under_the_workers_routing_id(void **state)
{
	fixture_t *f = *state;
	char rid[64], body[16];
	int timeout = 5000;
	int n;

	assert_true(cp_link_due(f->link, 0)); /* a new link opens at once */
	assert_int_equal(cp_link_open(f->link, f->zctx, &f->o, 7, 1000), 0);
	assert_false(cp_link_due(f->link, 1000));
	assert_int_equal(f->link->gen, 7);
	assert_int_equal(cp_link_send(f->link, "hi", 2), 0);
	zmq_setsockopt(f->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	n = zmq_recv(f->router, rid, sizeof rid, 0);
	assert_int_equal(n, 6);
	assert_memory_equal(rid, "w-link", 6);
	assert_int_equal(zmq_recv(f->router, body, sizeof body, 0), 2);
	assert_memory_equal(body, "hi", 2);
}

static void
test_link_is_silent_after_liveness_intervals(void **state)
{
	fixture_t *f = *state;
	const int64_t t0 = 1000000;

	assert_int_equal(cp_link_open(f->link, f->zctx, &f->o, 1, t0), 0);
	assert_int_equal(cp_link_next_event(f->link), t0 + 100000); /* PING */
	assert_false(cp_link_silent(f->link, t0 + 299999));
	assert_true(cp_link_silent(f->link, t0 + 300000));
	cp_link_heard(f->link, &f->o, t0 + 250000);
	assert_true(f->link->seen && f->link->ever);
	assert_false(cp_link_silent(f->link, t0 + 500000));
	assert_true(cp_link_silent(f->link, t0 + 550000));
}

/* Closing drops the connection's state and schedules the reopen: 250 ms
 * +- 20 % at first, then doubling to the cap; a word from the gateway
 * resets the delay. */
static void
test_link_reopens_after_a_growing_jittered_delay(void **state)
{
	fixture_t *f = *state;
	int64_t t = 0;

	assert_int_equal(cp_link_open(f->link, f->zctx, &f->o, 1, t), 0);
	f->link->held = 3;
	f->link->registered = true;
	cp_link_close(f->link, &f->o, 0, t); /* rnd 0: -20 % */
	assert_null(f->link->dealer);
	assert_int_equal(f->link->gen, 0);
	assert_int_equal(f->link->held, 0);
	assert_false(f->link->registered);
	assert_false(cp_link_silent(f->link, t + 10000000));
	assert_int_equal(f->link->reopen_at, 200000);
	assert_false(cp_link_due(f->link, 199999));
	assert_true(cp_link_due(f->link, 200000));
	assert_int_equal(cp_link_next_event(f->link), 200000);
	assert_int_equal(cp_link_send(f->link, "x", 1), SL_ESYS);
	for (int i = 0; i < 4; i++) { /* 500 ms, 1 s, then capped at 1 s */
		assert_int_equal(
		    cp_link_open(f->link, f->zctx, &f->o, 2, t), 0);
		cp_link_close(f->link, &f->o, 20, t); /* rnd 20: +- 0 */
	}
	assert_int_equal(f->link->reopen_at, 1000000);
	assert_int_equal(f->link->reconnects, 5);
	assert_int_equal(cp_link_open(f->link, f->zctx, &f->o, 3, t), 0);
	cp_link_heard(f->link, &f->o, t);
	cp_link_close(f->link, &f->o, 20, t);
	assert_int_equal(f->link->reopen_at, 250000);
}

static void
test_link_refuses_an_endpoint_too_long_or_malformed(void **state)
{
	fixture_t *f = *state;
	char longep[CP_RESOLVE_EP_MAX + 1];
	cp_link_t *bad;

	memset(longep, 'a', sizeof longep - 1);
	longep[sizeof longep - 1] = '\0';
	assert_null(cp_link_new(longep));
	bad = cp_link_new("nonsense://nowhere");
	assert_non_null(bad);
	assert_int_equal(cp_link_open(bad, f->zctx, &f->o, 1, 0), SL_ESYS);
	assert_null(bad->dealer);
	assert_false(cp_link_due(bad, 0)); /* it waits its backoff */
	cp_link_destroy(&bad);
	assert_null(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_link_sends_under_the_workers_routing_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_link_is_silent_after_liveness_intervals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_link_reopens_after_a_growing_jittered_delay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_link_refuses_an_endpoint_too_long_or_malformed, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
