/*
 * test_notify: notify channels and subscriptions (gateway/gw_notify).
 *
 * Clients are plain watchers; what gw_notify sends them (frames, errors)
 * lands in a record through two plain functions. Single threaded, like
 * the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_notify.h"
#include "sl_log.h"

#define MAX_SENT 16

/* One thing a client received. */
typedef struct got {
	void *client;
	gw_out_type_t type;   /* frames; GW_OUT_ERROR for errors */
	char channel[80];     /* "" for none */
	char code[40];        /* errors: their code */
	size_t subscriptions; /* subscribed / unsubscribed */
	uint64_t serial;
} got_t;

typedef struct fixture {
	gw_notify_t *n;
	gw_notify_watcher_t w[3];
	int clients[3]; /* their addresses stand for clients */
	got_t got[MAX_SENT];
	size_t n_got;
	void *refuse; /* this client's sends fail (a closing one) */
} fixture_t;

static int
s_send(void *ctx, void *client, const gw_out_t *frame)
{
	fixture_t *f = ctx;
	got_t *g;

	if (client == f->refuse)
		return -1;
	assert_true(f->n_got < MAX_SENT);
	g = &f->got[f->n_got++];
	g->client = client;
	g->type = frame->type;
	snprintf(g->channel, sizeof g->channel, "%s",
	    frame->channel ? frame->channel : "");
	g->code[0] = '\0';
	g->subscriptions = frame->subscriptions;
	g->serial = frame->serial;
	return 0;
}

static void
s_error(void *ctx, void *client, const gw_cmsg_err_t *err)
{
	fixture_t *f = ctx;
	got_t *g;

	assert_true(f->n_got < MAX_SENT);
	g = &f->got[f->n_got++];
	g->client = client;
	g->type = GW_OUT_ERROR;
	snprintf(g->channel, sizeof g->channel, "%s", err->channel);
	snprintf(g->code, sizeof g->code, "%s", err->code);
	g->serial = 0;
}

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->n = gw_notify_new(&(gw_notify_ops_t) { s_send, s_error, f }, 2);
	if (!f->n)
		return -1;
	for (int i = 0; i < 3; i++)
		gw_notify_watcher_init(&f->w[i], &f->clients[i]);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	for (int i = 0; i < 3; i++)
		gw_notify_watcher_fini(f->n, &f->w[i]);
	gw_notify_destroy(&f->n);
	assert_null(f->n);
	free(f);
	return 0;
}

static gw_notify_stats_t
s_stats(fixture_t *f)
{
	gw_notify_stats_t st;

	gw_notify_stats(f->n, &st);
	return st;
}

static void
test_notify_subscribe_is_answered_and_idempotent(void **state)
{
	fixture_t *f = *state;

	gw_notify_subscribe(f->n, &f->w[0], "c1");
	gw_notify_subscribe(f->n, &f->w[0], "c1");
	assert_int_equal(f->n_got, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(f->got[i].type, GW_OUT_SUBSCRIBED);
		assert_string_equal(f->got[i].channel, "c1");
		assert_int_equal(f->got[i].subscriptions, 1);
		assert_ptr_equal(f->got[i].client, &f->clients[0]);
	}
	assert_int_equal(s_stats(f).subscriptions, 1);
	assert_int_equal(s_stats(f).channels, 1);
	assert_int_equal(f->w[0].n_subs, 1);
}

static void
test_notify_subscriptions_are_bounded_per_watcher(void **state)
{
	fixture_t *f = *state;

	gw_notify_subscribe(f->n, &f->w[0], "a");
	gw_notify_subscribe(f->n, &f->w[0], "b");
	gw_notify_subscribe(f->n, &f->w[0], "c");
	assert_int_equal(f->n_got, 3);
	assert_int_equal(f->got[2].type, GW_OUT_ERROR);
	assert_string_equal(f->got[2].code, "too_many_subscriptions");
	assert_string_equal(f->got[2].channel, "c");
	/* another watcher has its own bound */
	gw_notify_subscribe(f->n, &f->w[1], "c");
	assert_int_equal(f->got[3].type, GW_OUT_SUBSCRIBED);
	assert_int_equal(s_stats(f).subscriptions, 3);
	assert_int_equal(s_stats(f).channels, 3);
}

static void
test_notify_unsubscribe_ends_a_subscription_or_is_refused(void **state)
{
	fixture_t *f = *state;

	gw_notify_unsubscribe(f->n, &f->w[0], "c1");
	assert_int_equal(f->got[0].type, GW_OUT_ERROR);
	assert_string_equal(f->got[0].code, "not_subscribed");
	assert_string_equal(f->got[0].channel, "c1");
	gw_notify_subscribe(f->n, &f->w[0], "c1");
	gw_notify_unsubscribe(f->n, &f->w[0], "c1");
	assert_int_equal(f->got[2].type, GW_OUT_UNSUBSCRIBED);
	assert_int_equal(f->got[2].subscriptions, 0);
	/* nobody watches it, no request holds it: gone */
	assert_int_equal(s_stats(f).channels, 0);
	assert_int_equal(s_stats(f).subscriptions, 0);
}

static void
test_notify_fanout_marks_each_copy_with_the_channel_and_one_serial(
    void **state)
{
	fixture_t *f = *state;
	gw_out_t frame = { .type = GW_OUT_DONE, .id = "r1" };
	gw_notify_chan_t *ch;

	gw_notify_subscribe(f->n, &f->w[0], "c1");
	gw_notify_subscribe(f->n, &f->w[1], "c1");
	gw_notify_subscribe(f->n, &f->w[2], "other");
	f->n_got = 0;
	ch = gw_notify_hold(f->n, "c1");
	assert_non_null(ch);
	gw_notify_fanout(f->n, ch, &frame);
	assert_int_equal(f->n_got, 2);
	assert_ptr_equal(f->got[0].client, &f->clients[0]);
	assert_ptr_equal(f->got[1].client, &f->clients[1]);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(f->got[i].type, GW_OUT_DONE);
		assert_string_equal(f->got[i].channel, "c1");
		assert_true(f->got[i].serial > 0);
	}
	assert_int_equal(f->got[0].serial, f->got[1].serial);
	/* the frame is the caller's again, unmarked */
	assert_null(frame.channel);
	assert_int_equal(frame.serial, 0);
	/* a refused send is not counted; a next fan-out has a new serial */
	f->refuse = &f->clients[1];
	gw_notify_fanout(f->n, ch, &frame);
	assert_int_equal(f->n_got, 3);
	assert_true(f->got[2].serial > f->got[0].serial);
	assert_int_equal(s_stats(f).notified, 3);
	/* no channel: nobody */
	gw_notify_fanout(f->n, NULL, &frame);
	assert_int_equal(f->n_got, 3);
	gw_notify_release(f->n, ch);
}

static void
test_notify_a_held_channel_outlives_its_watchers_and_back(void **state)
{
	fixture_t *f = *state;
	gw_notify_chan_t *ch = gw_notify_hold(f->n, "c1");
	gw_notify_chan_t *again;

	assert_int_equal(s_stats(f).channels, 1);
	gw_notify_subscribe(f->n, &f->w[0], "c1");
	gw_notify_watcher_fini(f->n, &f->w[0]);
	assert_int_equal(f->w[0].n_subs, 0);
	assert_int_equal(s_stats(f).subscriptions, 0);
	assert_int_equal(s_stats(f).channels, 1); /* still held */
	again = gw_notify_hold(f->n, "c1");
	assert_ptr_equal(again, ch); /* one channel per name */
	gw_notify_release(f->n, again);
	assert_int_equal(s_stats(f).channels, 1);
	gw_notify_release(f->n, ch);
	assert_int_equal(s_stats(f).channels, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_notify_subscribe_is_answered_and_idempotent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_notify_subscriptions_are_bounded_per_watcher, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_notify_unsubscribe_ends_a_subscription_or_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_notify_fanout_marks_each_copy_with_the_channel_and_one_serial,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_notify_a_held_channel_outlives_its_watchers_and_back,
		    setup, teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
