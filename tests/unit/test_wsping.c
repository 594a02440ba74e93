/*
 * gw_wsping: clients heard from are pinged after the ping interval of
 * silence, in the order they went silent; a pinged client that stays
 * silent is hung up at the hang-up time, one that answers is not; a
 * burst of due pings is spread over runs; a removed client is never
 * pinged. Plain data, no lws: times are given.
 */
#include "sl_test.h"

#include "gw_wsping.h"

#define PING 1000
#define HANGUP 3000

typedef struct rec {
	gw_wsping_node_t *pinged[16], *hung[16];
	size_t n_pinged, n_hung;
} rec_t;

static void
s_ping(void *ctx, gw_wsping_node_t *n)
{
	rec_t *r = ctx;

	assert_true(r->n_pinged < 16);
	r->pinged[r->n_pinged++] = n;
}

static void
s_hangup(void *ctx, gw_wsping_node_t *n)
{
	rec_t *r = ctx;

	assert_true(r->n_hung < 16);
	r->hung[r->n_hung++] = n;
}

static const gw_wsping_ops_t s_ops = { s_ping, s_hangup };

static void
test_wsping_silent_client_is_pinged_then_hung_up(void **state)
{
	gw_wsping_t k;
	gw_wsping_node_t a;
	rec_t r = { 0 };

	(void) state;
	gw_wsping_init(&k, PING, HANGUP, 100);
	gw_wsping_node_init(&a);
	gw_wsping_heard(&k, &a, 0);
	assert_int_equal(gw_wsping_run(&k, PING - 1, &s_ops, &r), 0);
	assert_int_equal(gw_wsping_run(&k, PING, &s_ops, &r), 1);
	assert_ptr_equal(r.pinged[0], &a);
	assert_int_equal(gw_wsping_run(&k, PING + 1, &s_ops, &r), 0);
	gw_wsping_run(&k, HANGUP - 1, &s_ops, &r);
	assert_int_equal(r.n_hung, 0);
	gw_wsping_run(&k, HANGUP, &s_ops, &r);
	assert_int_equal(r.n_hung, 1);
	assert_ptr_equal(r.hung[0], &a);
	assert_int_equal(r.n_pinged, 1); /* pinged once, not again */
	gw_wsping_run(&k, 10 * HANGUP, &s_ops, &r);
	assert_int_equal(r.n_hung, 1); /* and hung up once */
	gw_wsping_remove(&a);          /* after a hang-up: harmless */
}

static void
test_wsping_an_answer_keeps_the_client(void **state)
{
	gw_wsping_t k;
	gw_wsping_node_t a;
	rec_t r = { 0 };

	(void) state;
	gw_wsping_init(&k, PING, HANGUP, 100);
	gw_wsping_node_init(&a);
	gw_wsping_heard(&k, &a, 0);
	gw_wsping_run(&k, PING, &s_ops, &r);
	gw_wsping_heard(&k, &a, PING + 10); /* the pong */
	assert_int_equal(gw_wsping_run(&k, 2 * PING + 9, &s_ops, &r), 0);
	/* past the first ping's hang-up time: pinged again, not hung up */
	assert_int_equal(gw_wsping_run(&k, HANGUP, &s_ops, &r), 1);
	assert_int_equal(r.n_hung, 0);
	assert_int_equal(r.n_pinged, 2);
	gw_wsping_remove(&a);
	gw_wsping_run(&k, 100 * HANGUP, &s_ops, &r);
	assert_int_equal(r.n_hung, 0); /* removed: never hung up */
}

static void
test_wsping_order_and_bursts(void **state)
{
	gw_wsping_t k;
	gw_wsping_node_t n[10];
	rec_t r = { 0 };

	(void) state;
	gw_wsping_init(&k, PING, HANGUP, 4);
	for (int i = 0; i < 10; i++) {
		gw_wsping_node_init(&n[i]);
		gw_wsping_heard(&k, &n[i], i);
	}
	/* n[3] is heard again: it goes last; n[5] leaves */
	gw_wsping_heard(&k, &n[3], 20);
	gw_wsping_remove(&n[5]);
	assert_int_equal(gw_wsping_run(&k, PING + 9, &s_ops, &r), 4);
	assert_int_equal(gw_wsping_run(&k, PING + 9, &s_ops, &r), 4);
	assert_int_equal(gw_wsping_run(&k, PING + 9, &s_ops, &r), 0);
	assert_int_equal(r.n_pinged, 8);
	assert_ptr_equal(r.pinged[0], &n[0]);
	assert_ptr_equal(r.pinged[1], &n[1]);
	assert_ptr_equal(r.pinged[2], &n[2]);
	assert_ptr_equal(r.pinged[3], &n[4]);
	assert_ptr_equal(r.pinged[4], &n[6]);
	assert_ptr_equal(r.pinged[7], &n[9]);
	assert_int_equal(gw_wsping_run(&k, PING + 19, &s_ops, &r), 0);
	assert_int_equal(r.n_pinged, 8);
	assert_int_equal(gw_wsping_run(&k, PING + 20, &s_ops, &r), 1);
	assert_ptr_equal(r.pinged[8], &n[3]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_wsping_silent_client_is_pinged_then_hung_up),
		cmocka_unit_test(test_wsping_an_answer_keeps_the_client),
		cmocka_unit_test(test_wsping_order_and_bursts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
