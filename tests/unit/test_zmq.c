/*
 * gw_zmq: a real ROUTER in a real lws loop (no listener), with real
 * DEALER peers: frames arrive with their routing id, replies reach the
 * peer, a send to an unknown peer fails, an oversized frame is dropped
 * with its sender, wake-ups come when asked, and an owner that settles
 * the socket after each turn gets its drains there. Single threaded: the
 * test serves the loop itself.
 */
#include "sl_test.h"

#include <libwebsockets.h>
#include <zmq.h>

#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

#define MAX_FRAME 1024

typedef struct fixture {
	void *zctx;
	gw_zmq_t *z;
	struct lws_context *lws;
	lws_sorted_usec_list_t sul; /* wakes the loop every 10 ms */
	char endpoint[64];          /* where the ROUTER is bound */
	size_t n_frames;            /* frames the callback got */
	char rid[32];               /* ... the last one's routing id */
	char data[64];              /* ... and payload */
	bool key_null;              /* ... and gw_zmq_peer_key was NULL */
	size_t n_wakes;             /* wake callbacks */
} fixture_t;

static void
s_tick(lws_sorted_usec_list_t *sul)
{
	fixture_t *f = lws_container_of(sul, fixture_t, sul);

	lws_sul_schedule(f->lws, 0, &f->sul, s_tick, 10000);
}

static void
s_on_frame(void *user, const uint8_t *rid, size_t rid_len, const void *data,
    size_t len)
{
	fixture_t *f = user;

	f->n_frames++;
	snprintf(
	    f->rid, sizeof f->rid, "%.*s", (int) rid_len, (const char *) rid);
	snprintf(
	    f->data, sizeof f->data, "%.*s", (int) len, (const char *) data);
	f->key_null = gw_zmq_peer_key(f->z) == NULL;
}

static void
s_on_wake(void *user)
{
	((fixture_t *) user)->n_wakes++;
}

static int
setup(void **state)
{
	static const struct lws_protocols protocols[] = {
		{ "zmq", gw_zmq_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info ci;
	fixture_t *f = calloc(1, sizeof *f);
	size_t len;
	char err[200];

	if (!f)
		return -1;
	f->zctx = zmq_ctx_new();
	/* tcp: ZMQ_MAXMSGSIZE is enforced by the wire decoder */
	f->z = gw_zmq_new(f->zctx, "tcp://127.0.0.1:*", MAX_FRAME, s_on_frame,
	    f, err, sizeof err);
	if (!f->z)
		return -1;
	len = sizeof f->endpoint;
	if (zmq_getsockopt(
	        gw_zmq_socket(f->z), ZMQ_LAST_ENDPOINT, f->endpoint, &len))
		return -1;
	memset(&ci, 0, sizeof ci);
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	f->lws = lws_create_context(&ci);
	if (!f->lws
	    || gw_zmq_attach(
	        f->z, f->lws, lws_get_vhost_by_name(f->lws, "default")))
		return -1;
	lws_sul_schedule(f->lws, 0, &f->sul, s_tick, 10000);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	lws_sul_cancel(&f->sul);
	lws_context_destroy(f->lws); /* closes the dup'd fd first */
	gw_zmq_destroy(&f->z);
	assert_null(f->z);
	gw_zmq_destroy(&f->z); /* NULL-safe */
	zmq_ctx_term(f->zctx);
	free(f);
	return 0;
}

/* A DEALER with routing id rid, connected to the ROUTER. */
static void *
s_dealer(fixture_t *f, const char *rid)
{
	void *d = zmq_socket(f->zctx, ZMQ_DEALER);
	int linger = 0, timeout = 2000;

	assert_non_null(d);
	zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	assert_int_equal(
	    zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, strlen(rid)), 0);
	assert_int_equal(zmq_connect(d, f->endpoint), 0);
	return d;
}

/* Serve the loop until *count reaches want, or for ms at most. */
static void
s_serve_until(fixture_t *f, const size_t *count, size_t want, int ms)
{
	int64_t end = sl_clock_mono_us() + (int64_t) ms * 1000;

	while (*count < want && sl_clock_mono_us() < end)
		lws_service(f->lws, 0);
}

static void
test_zmq_frames_arrive_with_their_routing_id_and_replies_go_back(void **state)
{
	fixture_t *f = *state;
	void *d = s_dealer(f, "peer-1");
	char buf[64];
	int n;

	assert_int_equal(zmq_send(d, "hello", 5, 0), 5);
	s_serve_until(f, &f->n_frames, 1, 2000);
	assert_int_equal(f->n_frames, 1);
	assert_string_equal(f->rid, "peer-1");
	assert_string_equal(f->data, "hello");
	assert_true(f->key_null);           /* no CURVE: no key */
	assert_null(gw_zmq_peer_key(f->z)); /* outside the callback too */
	assert_int_equal(
	    gw_zmq_send(f->z, (const uint8_t *) "peer-1", 6, "world", 5), 0);
	n = zmq_recv(d, buf, sizeof buf, 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "world", 5);
	/* several frames in one wake: all of them */
	for (int i = 0; i < 20; i++)
		assert_int_equal(zmq_send(d, "more", 4, 0), 4);
	s_serve_until(f, &f->n_frames, 21, 2000);
	assert_int_equal(f->n_frames, 21);
	zmq_close(d);
}

static void
test_zmq_send_to_an_unknown_peer_fails(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(
	    gw_zmq_send(f->z, (const uint8_t *) "nobody", 6, "x", 1),
	    SL_ENOTFOUND);
}

static void
test_zmq_an_oversized_frame_is_dropped_with_its_sender(void **state)
{
	fixture_t *f = *state;
	void *big = s_dealer(f, "big");
	void *small = s_dealer(f, "small");
	char *blob = calloc(1, 2 * MAX_FRAME);

	assert_non_null(blob);
	assert_int_equal(zmq_send(big, blob, 2 * MAX_FRAME, 0), 2 * MAX_FRAME);
	assert_int_equal(zmq_send(small, "ok", 2, 0), 2);
	s_serve_until(f, &f->n_frames, 1, 2000);
	s_serve_until(f, &f->n_frames, 2, 200); /* nothing more comes */
	assert_int_equal(f->n_frames, 1);
	assert_string_equal(f->rid, "small");
	free(blob);
	zmq_close(big);
	zmq_close(small);
}

static void
test_zmq_wake_after_calls_back(void **state)
{
	fixture_t *f = *state;

	gw_zmq_set_wake(f->z, s_on_wake);
	gw_zmq_wake_after(f->z, 1000);
	gw_zmq_wake_after(f->z, 5000); /* moves the pending call */
	s_serve_until(f, &f->n_wakes, 1, 2000);
	assert_true(f->n_wakes >= 1);
}

/* Wait until the ROUTER has input: asking ZMQ_EVENTS consumes the edge
 * that would have woken the loop, as a send may. */
static void
s_wait_input(fixture_t *f)
{
	int64_t end = sl_clock_mono_us() + 2000000;
	int ev = 0;
	size_t sz = sizeof ev;

	while (sl_clock_mono_us() < end
	    && !zmq_getsockopt(gw_zmq_socket(f->z), ZMQ_EVENTS, &ev, &sz)
	    && !(ev & ZMQ_POLLIN))
		;
	assert_true(ev & ZMQ_POLLIN);
}

/* The owner settles (gw_gateway): a send no longer schedules a drain;
 * gw_zmq_settle drains at once what waits, without a loop turn, and
 * says whether it did. */
static void
test_zmq_owner_settles_drains_after_sends_only(void **state)
{
	fixture_t *f = *state;
	void *d = s_dealer(f, "peer-s");

	gw_zmq_set_owner_settles(f->z);
	assert_int_equal(zmq_send(d, "hello", 5, 0), 5);
	s_serve_until(f, &f->n_frames, 1, 2000);
	assert_int_equal(f->n_frames, 1);
	assert_false(gw_zmq_settle(f->z, false)); /* nothing sent since */
	for (int i = 0; i < 5; i++)
		assert_int_equal(zmq_send(d, "more", 4, 0), 4);
	s_wait_input(f);
	assert_int_equal(
	    gw_zmq_send(f->z, (const uint8_t *) "peer-s", 6, "ack", 3), 0);
	assert_true(gw_zmq_settle(f->z, false));
	assert_true(f->n_frames >= 2); /* drained, and no loop turn ran */
	assert_string_equal(f->data, "more");
	s_serve_until(f, &f->n_frames, 6, 2000);
	assert_int_equal(f->n_frames, 6);
	assert_false(gw_zmq_settle(f->z, false));
	/* last: no drain now, one on the next turns */
	assert_int_equal(zmq_send(d, "late", 4, 0), 4);
	s_wait_input(f);
	assert_int_equal(
	    gw_zmq_send(f->z, (const uint8_t *) "peer-s", 6, "ack", 3), 0);
	assert_false(gw_zmq_settle(f->z, true));
	assert_int_equal(f->n_frames, 6);
	s_serve_until(f, &f->n_frames, 7, 2000);
	assert_int_equal(f->n_frames, 7);
	assert_string_equal(f->data, "late");
	zmq_close(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_zmq_frames_arrive_with_their_routing_id_and_replies_go_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zmq_send_to_an_unknown_peer_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zmq_an_oversized_frame_is_dropped_with_its_sender,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zmq_wake_after_calls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zmq_owner_settles_drains_after_sends_only, setup,
		    teardown),
	};

	sl_log_setup("test", SL_LOG_WARN);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	return cmocka_run_group_tests_name("zmq", tests, NULL, NULL);
}
