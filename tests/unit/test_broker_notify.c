/*
 * test_broker_notify: notify channels through the broker: watchers get a
 * request's frames marked with its channel (gateway/gw_broker,
 * gw_notify).
 *
 * Shared fixture: broker_fixture.h (a real broker and gw_workers, a fake
 * transport, gw_zmq wrapped at the link). Single threaded, like the lws
 * service thread.
 */
#include "broker_fixture.h"

/* Frame i has "channel": ch, or none when ch is NULL. */
static void
s_assert_channel(fake_t *f, size_t i, const char *ch)
{
	const char *got = bf_fstr(f, i, "channel");

	if (ch ? !got || strcmp(got, ch) : got != NULL) {
		print_error("frame %zu channel %s, expected %s\n", i,
		    got ? got : "(none)", ch ? ch : "(none)");
		fail();
	}
}

static void
test_broker_watchers_get_a_requests_frames_marked_with_its_channel(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = bf_client(f, 0);
	gw_client_t *owner = bf_client(f, 1);
	gw_client_t *other = bf_client(f, 2);

	bf_send_text(
	    f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	bf_assert_frame(f, 0, 0, "subscribed", NULL);
	s_assert_channel(f, 0, "ch");
	assert_int_equal(bf_fint(f, 0, "subscriptions"), 1);
	bf_send_text(f, other, "{\"type\":\"subscribe\",\"channel\":\"x\"}");
	bf_assert_frame(f, 1, 2, "subscribed", NULL);
	bf_ready(f, "w1", 2);
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"ch\"}");
	/* the owner's frame first, unmarked; then the watcher's copy */
	bf_assert_frame(f, 2, 1, "accepted", "r1");
	s_assert_channel(f, 2, NULL);
	bf_assert_frame(f, 3, 0, "accepted", "r1");
	s_assert_channel(f, 3, "ch");
	assert_int_equal(bf_fint(f, 3, "items"), 2);
	/* a watcher's copy may be encoded once for all; the owner's is its
	 * own */
	assert_int_equal(f->frames[2].serial, 0);
	assert_true(f->frames[3].serial != 0);
	bf_result(f, "w1", f->jobs[1].job, "\"b\"");
	bf_assert_result(f, 4, 1, "r1", 1, "\"b\"");
	bf_assert_result(f, 5, 0, "r1", 1, "\"b\"");
	s_assert_channel(f, 5, "ch");
	bf_result_err(f, "w1", f->jobs[0].job, "task_failed", "no");
	bf_assert_item_error(f, 6, 1, "r1", 0, "task_failed");
	bf_assert_item_error(f, 7, 0, "r1", 0, "task_failed");
	s_assert_channel(f, 7, "ch");
	bf_assert_done(f, 8, 1, "r1", 1, 1);
	bf_assert_done(f, 9, 0, "r1", 1, 1);
	s_assert_channel(f, 9, "ch");
	/* the client on another channel saw none of it */
	assert_int_equal(f->n_frames, 10);
	assert_int_equal(bf_stats(f).notified, 4);
	/* the request is gone; the channel stays while watched */
	assert_int_equal(bf_stats(f).channels, 2);
	assert_int_equal(bf_stats(f).subscriptions, 2);
}

static void
test_broker_a_watcher_joining_late_sees_only_what_follows(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = bf_client(f, 0);
	gw_client_t *owner = bf_client(f, 1);

	bf_ready(f, "w1", 2);
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"ch\"}");
	bf_result(f, "w1", f->jobs[0].job, "1");
	assert_int_equal(f->n_frames, 2); /* accepted, result: owner only */
	assert_int_equal(bf_stats(f).channels, 1); /* notified, unwatched */
	bf_send_text(
	    f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	bf_assert_frame(f, 2, 0, "subscribed", NULL);
	/* a cancel ends it: the watcher gets the done, with cancelled */
	bf_cancel_req(f, owner, "r1");
	bf_assert_frame(f, 3, 1, "done", "r1");
	bf_assert_frame(f, 4, 0, "done", "r1");
	assert_int_equal(bf_fint(f, 4, "cancelled"), 1);
	s_assert_channel(f, 4, "ch");
	assert_int_equal(f->n_frames, 5);
}

static void
test_broker_subscriptions_are_bounded_per_client_and_idempotent(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"a\"}");
	bf_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"a\"}");
	assert_int_equal(bf_fint(f, 1, "subscriptions"), 1);
	bf_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"b\"}");
	assert_int_equal(bf_fint(f, 2, "subscriptions"), 2);
	/* max_subscriptions is 2 */
	bf_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"c\"}");
	bf_assert_error(f, 3, 0, NULL, "too_many_subscriptions");
	s_assert_channel(f, 3, "c");
	bf_send_text(f, c, "{\"type\":\"unsubscribe\",\"channel\":\"z\"}");
	bf_assert_error(f, 4, 0, NULL, "not_subscribed");
	s_assert_channel(f, 4, "z");
	bf_send_text(f, c, "{\"type\":\"unsubscribe\",\"channel\":\"a\"}");
	bf_assert_frame(f, 5, 0, "unsubscribed", NULL);
	s_assert_channel(f, 5, "a");
	assert_int_equal(bf_fint(f, 5, "subscriptions"), 1);
	bf_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"c\"}");
	bf_assert_frame(f, 6, 0, "subscribed", NULL);
	assert_int_equal(bf_stats(f).subscriptions, 2);
	assert_int_equal(bf_stats(f).channels, 2);
}

static void
test_broker_a_closed_watcher_leaves_no_subscription_behind(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = bf_client(f, 0);
	gw_client_t *owner = bf_client(f, 1);

	bf_send_text(
	    f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	bf_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"d\"}");
	bf_ready(f, "w1", 1);
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"ch\"}");
	gw_broker_client_destroy(f->b, &watcher);
	f->gone_user = &f->users[0];
	assert_int_equal(bf_stats(f).subscriptions, 0);
	assert_int_equal(bf_stats(f).channels, 1); /* r1 still notifies ch */
	bf_result(f, "w1", f->jobs[0].job, "1");
	assert_int_equal(f->n_to_gone, 0);
	bf_assert_done(f, f->n_frames - 1, 1, "r1", 1, 0);
	assert_int_equal(bf_stats(f).channels, 0);
}

static void
test_broker_an_owner_closing_ends_its_channel_too(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = bf_client(f, 0);
	gw_client_t *owner = bf_client(f, 1);

	bf_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"w\"}");
	/* the owner watches its own channel: it gets both copies */
	bf_send_text(f, owner, "{\"type\":\"subscribe\",\"channel\":\"w\"}");
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"w\"}");
	bf_assert_frame(f, 2, 1, "accepted", "r1");
	s_assert_channel(f, 2, NULL);
	bf_assert_frame(f, 3, 0, "accepted", "r1");
	bf_assert_frame(f, 4, 1, "accepted", "r1");
	s_assert_channel(f, 4, "w");
	gw_broker_client_destroy(f->b, &owner);
	/* the watcher learns the request ended: its items were cancelled;
	 * the owner, gone, gets nothing */
	assert_int_equal(f->n_frames, 6);
	bf_assert_frame(f, 5, 0, "done", "r1");
	s_assert_channel(f, 5, "w");
	assert_int_equal(bf_fint(f, 5, "cancelled"), 2);
	assert_int_equal(bf_stats(f).channels, 1); /* still watched */
	gw_broker_client_destroy(f->b, &watcher);
	assert_int_equal(bf_stats(f).channels, 0);
}

static void
test_broker_many_channels_are_found_and_freed(void **state)
{
	enum { N = 100 }; /* 2 N frames fit MAX_SENT */
	fake_t *f = *state;
	gw_client_t *c[N], *owner;
	char text[128];

	for (int i = 0; i < N; i++) {
		c[i] = gw_broker_client_new(f->b, &f->users[0]);
		assert_non_null(c[i]);
		snprintf(text, sizeof text,
		    "{\"type\":\"subscribe\",\"channel\":\"c%d\"}", i);
		bf_send_text(f, c[i], text);
		bf_send_text(
		    f, c[i], "{\"type\":\"subscribe\",\"channel\":\"all\"}");
	}
	assert_int_equal(bf_stats(f).channels, N + 1);
	assert_int_equal(bf_stats(f).subscriptions, 2 * N);
	for (int i = 0; i < N; i += 2)
		gw_broker_client_destroy(f->b, &c[i]);
	assert_int_equal(bf_stats(f).channels, N / 2 + 1);
	assert_int_equal(bf_stats(f).subscriptions, N);
	bf_fake_free_records(f);
	/* c17 is watched by one client, c18's watcher is gone */
	owner = bf_client(f, 1);
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"a\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"c17\"}");
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"b\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"c18\"}");
	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"c\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"all\"}");
	/* a: owner + 1; b: owner; c: owner + the N / 2 left */
	assert_int_equal(f->n_frames, 2 + 1 + 1 + N / 2);
	/* c's watchers share one frame: one serial, not a's */
	for (size_t i = 5; i < f->n_frames; i++)
		assert_int_equal(f->frames[i].serial, f->frames[4].serial);
	assert_true(f->frames[4].serial != f->frames[1].serial);
	assert_int_equal(bf_stats(f).channels, N / 2 + 2); /* c18 is back */
	for (int i = 1; i < N; i += 2)
		gw_broker_client_destroy(f->b, &c[i]);
	assert_int_equal(bf_stats(f).channels, 3); /* notified: c17 c18 all */
	gw_broker_client_destroy(f->b, &owner);
	assert_int_equal(bf_stats(f).channels, 0);
	assert_int_equal(bf_stats(f).subscriptions, 0);
}

static void
test_broker_an_unwatched_owner_closing_frees_its_channel(void **state)
{
	fake_t *f = *state;
	gw_client_t *owner = bf_client(f, 1);

	bf_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"ch\"}");
	assert_int_equal(bf_stats(f).channels, 1);
	gw_broker_client_destroy(f->b, &owner);
	assert_int_equal(bf_stats(f).channels, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_watchers_get_a_requests_frames_marked_with_its_channel,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_watcher_joining_late_sees_only_what_follows,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_subscriptions_are_bounded_per_client_and_idempotent,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_closed_watcher_leaves_no_subscription_behind,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_an_owner_closing_ends_its_channel_too,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_an_unwatched_owner_closing_frees_its_channel,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_many_channels_are_found_and_freed, bf_setup,
		    bf_teardown),
	};

	/* Every log line is formatted (DEBUG), so its arguments are checked
	 * under the sanitizers too; ctest keeps the output. */
	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("broker_notify", tests, NULL, NULL);
}
