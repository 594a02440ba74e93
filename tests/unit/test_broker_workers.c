/*
 * test_broker_workers: the workers as the broker sees them: registration,
 * routing ids bound to CURVE keys, bad frames, exactly-once results,
 * failed sends, heartbeats, poison items, DRAIN (gateway/gw_broker,
 * gw_req, gw_workers).
 *
 * Shared fixture: broker_fixture.h (a real broker and gw_workers, a fake
 * transport, gw_zmq wrapped at the link). Single threaded, like the lws
 * service thread.
 */
#include "broker_fixture.h"

static void
test_broker_job_ids_start_at_a_random_value_below_2_to_the_52(void **state)
{
	fake_t *f = *state;
	uint64_t first[4];

	/* A restarted gateway must not number its jobs as the old one did:
	 * a worker may still answer one of the old jobs (PROTOCOL.md §2). */
	for (size_t i = 0; i < SL_N(first); i++) {
		gw_client_t *c;

		bf_rebuild(f, &bf_limits);
		c = bf_client(f, 0);
		bf_submit(f, c, "r1", "sum", "[1,2]");
		bf_ready(f, "w1", 2);
		assert_int_equal(f->n_jobs, 2);
		first[i] = f->jobs[0].job;
		assert_true(first[i] >= 1 && first[i] <= (UINT64_C(1) << 52));
		assert_true(f->jobs[1].job == first[i] + 1);
	}
	/* Four equal draws out of 2^52: a fixed start, not chance. */
	assert_false(first[0] == first[1] && first[1] == first[2]
	    && first[2] == first[3]);
}

static void
test_broker_ready_is_answered_with_registered_and_the_label(void **state)
{
	fake_t *f = *state;

	bf_ready(f, "alpha", 1);
	bf_ready(f, "beta", 2);
	assert_int_equal(f->n_registered, 2);
	assert_string_equal(f->registered[0], "alpha w1");
	assert_string_equal(f->registered[1], "beta w2");
	/* a restarted worker (READY again) is told again, as a new worker */
	bf_ready(f, "alpha", 1);
	assert_int_equal(f->n_registered, 3);
	assert_string_equal(f->registered[2], "alpha w3");
	assert_int_equal(f->n_jobs, 0);
}

static void
test_broker_a_producers_frame_on_the_workers_endpoint_is_answered(void **state)
{
	fake_t *f = *state;
	const char *const frames[] = {
		/* a producer's: answered (wrong_endpoint) */
		"{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
		"\"items\":[1]}",
		"{\"type\":\"nosuch\"}",
		/* nobody's: dropped unanswered */
		"[1,\"HELLO\",{}]",
		"{\"no_type\":1}",
		"[1,\"JOB\",{}]",
	};

	/* The answer is counted here, not decoded (it is a producer-protocol
	 * map, which e2e.open_queue reads through sluice-submit). */
	snprintf(f->fail_rid, sizeof f->fail_rid, "prod");
	f->fail_rc = SL_ENOTFOUND;
	for (size_t i = 0; i < SL_N(frames); i++) {
		msgpack_sbuffer sb;

		msgpack_sbuffer_init(&sb);
		sl_test_pack_json(&sb, frames[i]);
		bf_worker_frame(f, "prod", &sb);
		assert_int_equal(f->n_refused, i < 2 ? i + 1 : 2);
	}
	assert_int_equal(bf_stats(f).bad_frames, SL_N(frames));
	assert_int_equal(bf_stats(f).workers, 0);
}

static void
test_broker_a_routing_id_is_bound_to_its_workers_curve_key(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;
	size_t frames;

	f->key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[5]");
	assert_int_equal(f->n_jobs, 1);
	frames = f->n_frames;
	/* Another key under w1's id: ZeroMQ only routes it there once w1's
	 * own connection is gone. Its forged result is dropped, w1 is gone
	 * and its job goes back to the queue; nothing reaches the client. */
	f->key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
	bf_result(f, "w1", f->jobs[0].job, "666");
	assert_int_equal(f->n_frames, frames);
	st = bf_stats(f);
	assert_int_equal(st.hijacks, 1);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.results, 0);
	/* The other key may register under the id, now free, like any
	 * allowed worker: it gets the job afresh, under a new id. */
	bf_ready(f, "w1", 1);
	assert_int_equal(f->n_jobs, 2);
	assert_true(bf_resent(f, 1, 0));
	/* The first key's late frames are now the stranger's. */
	f->key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	bf_result(f, "w1", f->jobs[1].job, "5");
	assert_int_equal(f->n_frames, frames);
	assert_int_equal(bf_stats(f).hijacks, 2);
	/* The same key again is the same worker, as without CURVE. */
	bf_ready(f, "w1", 1);
	bf_result(f, "w1", f->jobs[2].job, "5");
	bf_assert_result(f, frames, 0, "r1", 0, "5");
	assert_int_equal(bf_stats(f).hijacks, 2);
}

static void
test_broker_duplicate_result_is_dropped_and_client_sees_the_item_once(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 2);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	bf_result(f, "w1", f->jobs[0].job, "\"first\"");
	bf_result(f, "w1", f->jobs[0].job, "\"again\"");
	assert_int_equal(f->n_frames, 2);
	bf_assert_result(f, 1, 0, "r1", 0, "\"first\"");
	st = bf_stats(f);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.results, 1);
	assert_int_equal(st.running, 1);
	bf_result(f, "w1", f->jobs[1].job, "2");
	bf_assert_done(f, 3, 0, "r1", 2, 0);
	/* a duplicate of the last result, after done */
	bf_result(f, "w1", f->jobs[1].job, "2");
	assert_int_equal(f->n_frames, 4);
	assert_int_equal(bf_stats(f).stale, 2);
	/* duplicates returned no credit: capacity 2 still means 2 jobs */
	bf_submit(f, c, "r2", "sum", "[5,6,7]");
	assert_int_equal(f->n_jobs, 4);
	assert_int_equal(bf_stats(f).running, 2);
}

static void
test_broker_result_from_an_unknown_worker_is_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	bf_result(f, "w9", f->jobs[0].job, "\"forged\"");
	/* a registered worker that does not hold the job is no better */
	bf_ready(f, "w2", 1);
	bf_result(f, "w2", f->jobs[0].job, "\"forged\"");
	st = bf_stats(f);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_frames, 1); /* accepted only */
	bf_result(f, "w1", f->jobs[0].job, "\"real\"");
	bf_assert_result(f, 1, 0, "r1", 0, "\"real\"");
	bf_assert_done(f, 2, 0, "r1", 1, 0);
	/* BYE from a stranger changes nothing */
	bf_bye(f, "w9");
	assert_int_equal(bf_stats(f).workers, 2);
}

static void
test_broker_bye_requeues_jobs_to_another_worker_exactly_once(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;
	int seen[3] = { 0 };

	bf_submit(f, c, "r1", "sum", "[0,1,2]");
	bf_ready(f, "w1", 3);
	bf_ready(f, "w2", 3);
	assert_int_equal(f->n_jobs, 3); /* all on w1, none left for w2 */
	bf_result(f, "w1", f->jobs[0].job, "0");
	bf_bye(f, "w1");
	/* w1's two unanswered jobs, now on w2 */
	assert_int_equal(f->n_jobs, 5);
	assert_string_equal(f->jobs[3].rid, "w2");
	assert_string_equal(f->jobs[4].rid, "w2");
	assert_true((bf_resent(f, 3, 1) && bf_resent(f, 4, 2))
	    || (bf_resent(f, 3, 2) && bf_resent(f, 4, 1)));
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 3);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	/* w1 answers late anyway: it is gone, the answer is dropped */
	bf_result(f, "w1", f->jobs[1].job, "1");
	assert_int_equal(bf_stats(f).stale, 1);
	bf_result(f, "w2", f->jobs[3].job, "10");
	bf_result(f, "w2", f->jobs[4].job, "20");
	/* accepted, then one result per item, then done */
	assert_int_equal(f->n_frames, 5);
	for (size_t i = 1; i < 4; i++) {
		bf_assert_frame(f, i, 0, "result", "r1");
		seen[bf_fint(f, i, "seq")]++;
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	bf_assert_done(f, 4, 0, "r1", 3, 0);
}

/*
 * A worker that reconnects keeps its routing id, and a result it computed
 * before (e.g. "cancelled" on the reconnect) may still arrive: it must not
 * be taken as the outcome of the job that was sent again.
 */
static void
test_broker_late_result_of_a_first_attempt_is_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7]");
	bf_ready(f, "w1", 1); /* reconnected: 7 is sent again */
	assert_int_equal(f->n_jobs, 2);
	bf_result_err(f, "w1", f->jobs[0].job, "cancelled", "job cancelled");
	assert_int_equal(bf_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 1); /* only accepted so far */
	bf_result(f, "w1", f->jobs[1].job, "7");
	bf_assert_result(f, 1, 0, "r1", 0, "7");
	bf_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_ready_again_from_the_same_worker_requeues_its_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7,8]");
	assert_int_equal(f->n_jobs, 1);
	/* the worker restarted: what it held comes back to it */
	bf_ready(f, "w1", 2);
	assert_int_equal(f->n_jobs, 3);
	assert_true(bf_resent(f, 1, 0));
	bf_assert_job(f, 1, "w1", "7");
	bf_assert_job(f, 2, "w1", "8");
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2); /* replaced, not added */
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	bf_result(f, "w1", f->jobs[1].job, "7");
	bf_result(f, "w1", f->jobs[2].job, "8");
	assert_int_equal(f->n_frames, 4);
	bf_assert_result(f, 1, 0, "r1", 0, "7");
	bf_assert_result(f, 2, 0, "r1", 1, "8");
	bf_assert_done(f, 3, 0, "r1", 2, 0);
}

static void
test_broker_failed_send_removes_the_worker_and_requeues(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	snprintf(f->fail_rid, sizeof f->fail_rid, "gone");
	f->fail_rc = SL_ENOTFOUND;
	bf_ready(f, "gone", 4); /* most credit: picked first */
	bf_ready(f, "w2", 1);
	bf_submit(f, c, "r1", "sum", "[5]");
	/* its REGISTERED, then the JOB: only the JOB's failure removes it */
	assert_int_equal(f->n_refused, 2);
	assert_int_equal(f->n_jobs, 1);
	bf_assert_job(f, 0, "w2", "5");
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 1);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.queued, 0);
	bf_result(f, "w2", f->jobs[0].job, "5");
	bf_assert_result(f, 1, 0, "r1", 0, "5");
	bf_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_failed_send_to_the_only_worker_keeps_the_job_queued(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	snprintf(f->fail_rid, sizeof f->fail_rid, "gone");
	f->fail_rc = SL_ESYS;
	bf_ready(f, "gone", 2);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	assert_int_equal(f->n_refused, 2); /* REGISTERED, then the JOB */
	st = bf_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.capacity, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 2);
	bf_ready(f, "w2", 2);
	assert_int_equal(f->n_jobs, 2);
	bf_assert_job(f, 0, "w2", "1"); /* still in seq order */
	bf_assert_job(f, 1, "w2", "2");
}

static void
test_broker_worker_leaving_after_its_client_left_frees_the_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 3);
	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	gw_broker_client_destroy(f->b, &c);
	f->gone_user = &f->users[0];
	bf_bye(f, "w1"); /* orphaned jobs: nothing to requeue them to */
	st = bf_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(f->n_to_gone, 0);
}

static void
test_broker_malformed_worker_frames_are_counted_and_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	msgpack_sbuffer sb;
	uint8_t long_rid[300];
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	gw_workers_on_frame(
	    f->w, (const uint8_t *) "w1", 2, NULL, B("\xdd\x01\x00\x00\x00"));
	gw_workers_on_frame(f->w, (const uint8_t *) "w1", 2, NULL, "", 0);
	/* a JOB is for workers, not from them */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_job(&sb, 1, "sum", 3, B("\x01"), NULL), 0);
	bf_worker_frame(f, "w1", &sb);
	st = bf_stats(f);
	assert_int_equal(st.bad_frames, 3);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_frames, 1);
	/* a routing id longer than ZeroMQ allows does not register */
	memset(long_rid, 'x', sizeof long_rid);
	msgpack_sbuffer_init(&sb);
	{
		const char *tasks[] = { "sum" };

		assert_int_equal(
		    sl_proto_encode_ready(&sb, 1, 1, "h", tasks, 1), 0);
	}
	gw_workers_on_frame(
	    f->w, long_rid, sizeof long_rid, NULL, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(bf_stats(f).workers, 1);
	/* binary routing ids (as ZeroMQ makes them) work like text ones */
	{
		const uint8_t rid[] = { 0x00, 0x6b, 0x8b, 0x45, 0x67 };
		const char *tasks[] = { "sum" };

		msgpack_sbuffer_init(&sb);
		assert_int_equal(
		    sl_proto_encode_ready(&sb, 1, 1, "h", tasks, 1), 0);
		gw_workers_on_frame(
		    f->w, rid, sizeof rid, NULL, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	assert_int_equal(bf_stats(f).workers, 2);
}

static void
test_broker_tick_pings_every_worker_once_per_interval(void **state)
{
	fake_t *f = *state;
	int64_t t;

	bf_rebuild_hb(f);
	t = sl_clock_mono_us(); /* before the workers were heard */
	bf_ready(f, "w1", 1);
	bf_ready(f, "w2", 1);
	bf_tick(f, t);
	assert_int_equal(f->n_pings, 2);
	assert_int_equal(bf_pings_to(f, "w1"), 1);
	assert_int_equal(bf_pings_to(f, "w2"), 1);
	bf_tick(f, t + 500000); /* half an interval on: no PING */
	assert_int_equal(f->n_pings, 2);
	bf_tick(f, t + 1000000);
	assert_int_equal(f->n_pings, 4);
	assert_int_equal(bf_pings_to(f, "w1"), 2);
	assert_int_equal(bf_pings_to(f, "w2"), 2);
	assert_int_equal(f->n_pongs, 0);
	assert_int_equal(bf_stats(f).workers, 2);
	assert_int_equal(bf_stats(f).workers_lost, 0);
}

static void
test_broker_worker_ping_is_answered_with_pong(void **state)
{
	fake_t *f = *state;

	bf_ready(f, "w1", 1);
	bf_worker_empty(f, "w1", SL_MSG_PING);
	assert_int_equal(f->n_pongs, 1);
	assert_string_equal(f->pong_rids[0], "w1");
	assert_int_equal(f->n_pings, 0);
	/* a stranger gets no answer: it must register first */
	bf_worker_empty(f, "w9", SL_MSG_PING);
	assert_int_equal(f->n_pongs, 1);
	assert_int_equal(bf_stats(f).stale, 1);
	/* a PONG is not answered */
	bf_worker_empty(f, "w1", SL_MSG_PONG);
	assert_int_equal(f->n_pongs, 1);
	assert_int_equal(f->n_pings, 0);
	assert_int_equal(bf_stats(f).bad_frames, 0);
}

static void
test_broker_silent_worker_is_removed_and_its_jobs_go_to_another(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	bf_stats_t st;
	int64_t t0, t1;

	bf_rebuild_hb(f);
	c = bf_client(f, 0);
	t0 = sl_clock_mono_us();
	bf_ready(f, "w1", 2); /* last heard of between t0 and t1 */
	t1 = sl_clock_mono_us();
	bf_submit(f, c, "r1", "sum", "[1,2]");
	assert_int_equal(f->n_jobs, 2);
	bf_mono_after(t1);
	bf_ready(f, "w2", 2); /* heard of after t1 */
	/* just before w1 can have expired: nobody is removed */
	bf_tick(f, t0 + HB_EXPIRY_US - 1);
	assert_int_equal(bf_stats(f).workers, 2);
	/* w1 has been silent for three intervals, w2 has not */
	bf_tick(f, t1 + HB_EXPIRY_US);
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.requeued, 2);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.poisoned, 0);
	/* the same two jobs, now on w2 */
	assert_int_equal(f->n_jobs, 4);
	assert_string_equal(f->jobs[2].rid, "w2");
	assert_string_equal(f->jobs[3].rid, "w2");
	assert_true((bf_resent(f, 2, 0) && bf_resent(f, 3, 1))
	    || (bf_resent(f, 2, 1) && bf_resent(f, 3, 0)));
	/* w1 wakes up and answers: it is not registered any more */
	bf_result(f, "w1", f->jobs[0].job, "\"late\"");
	assert_int_equal(bf_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 1);
	bf_answer_all(f, 2);
	assert_int_equal(f->n_frames, 4);
	bf_assert_done(f, 3, 0, "r1", 2, 0);
}

static void
test_broker_worker_that_keeps_sending_is_not_removed(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	bf_stats_t st;

	bf_rebuild_hb(f);
	c = bf_client(f, 0);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	assert_int_equal(f->n_jobs, 1);
	/* each round: a worker heard of once, then silent, is removed;
	 * w1, which sent something since, stays, whatever it sent */
	for (int round = 0; round < 5; round++) {
		char silent[8];
		int64_t t;

		snprintf(silent, sizeof silent, "s%d", round);
		bf_ready(f, silent, 1);
		t = sl_clock_mono_us();
		bf_mono_after(t);
		switch (round) {
		case 0:
			bf_worker_empty(f, "w1", SL_MSG_PONG);
			break;
		case 1:
			bf_worker_empty(f, "w1", SL_MSG_PING);
			break;
		case 2:
			bf_result(f, "w1", f->jobs[0].job, "1");
			break;
		case 3: /* a duplicate is dropped, but w1 is alive */
			bf_result(f, "w1", f->jobs[0].job, "1");
			break;
		default:
			bf_worker_empty(f, "w1", SL_MSG_DRAIN);
			break;
		}
		bf_tick(f, t + HB_EXPIRY_US);
		st = bf_stats(f);
		if (st.workers != 1
		    || st.workers_lost != (uint64_t) round + 1) {
			print_error("round %d: workers %zu (want 1), lost "
			            "%llu (want %d)\n",
			    round, st.workers,
			    (unsigned long long) st.workers_lost, round + 1);
			fail();
		}
	}
	bf_assert_done(f, 2, 0, "r1", 1, 0);
	/* and the survivor is w1 */
	bf_bye(f, "w1");
	assert_int_equal(bf_stats(f).workers, 0);
}

static void
test_broker_without_heartbeats_tick_never_removes_workers(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	bf_tick(f, sl_clock_mono_us() + 3600 * 1000000LL);
	bf_tick(f, INT64_MAX);
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.workers_lost, 0);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_pings, 0);
	assert_int_equal(f->n_frames, 1);
	bf_answer_all(f, 0);
	bf_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_job_whose_workers_go_silent_twice_ends_as_worker_lost(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	bf_stats_t st;
	int64_t t;

	bf_rebuild_hb(f);
	c = bf_client(f, 0);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7,8]");
	t = sl_clock_mono_us();
	bf_tick(f, t + HB_EXPIRY_US); /* w1 dies holding 7 */
	st = bf_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(f->n_frames, 1);
	bf_ready(f, "w2", 1); /* takes 7 again */
	assert_int_equal(f->n_jobs, 2);
	assert_true(bf_resent(f, 1, 0));
	t = sl_clock_mono_us();
	bf_tick(f, t + HB_EXPIRY_US); /* and dies too */
	assert_int_equal(f->n_frames, 2);
	bf_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	st = bf_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.queued, 1); /* 8 waits */
	assert_int_equal(st.running, 0);
	assert_int_equal(st.requests, 1);
	/* 8 is unharmed: done follows its result */
	bf_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 2, "w3", "8");
	bf_answer_all(f, 2);
	bf_assert_result(f, 2, 0, "r1", 1, "8");
	bf_assert_done(f, 3, 0, "r1", 1, 1);
}

static void
test_broker_job_whose_workers_fail_the_ping_twice_ends_as_worker_lost(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	bf_stats_t st;
	int64_t t, t2;

	bf_rebuild_hb(f);
	c = bf_client(f, 0);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7]");
	snprintf(f->fail_rid, sizeof f->fail_rid, "w1");
	f->fail_rc = SL_ENOTFOUND;
	t = sl_clock_mono_us();
	bf_tick(f, t); /* the PING to w1 fails */
	assert_int_equal(f->n_refused, 1);
	st = bf_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.queued, 1);
	assert_int_equal(f->n_frames, 1);
	bf_ready(f, "w2", 1);
	assert_int_equal(f->n_jobs, 2);
	assert_true(bf_resent(f, 1, 0));
	snprintf(f->fail_rid, sizeof f->fail_rid, "w2");
	t2 = sl_clock_mono_us();
	bf_worker_empty(f, "w2", SL_MSG_PONG); /* alive until t2 + 3 s */
	bf_tick(f, t2 + 1000000);              /* next PING: fails */
	assert_int_equal(f->n_refused, 2);
	assert_int_equal(f->n_frames, 3);
	bf_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	bf_assert_done(f, 2, 0, "r1", 0, 1);
	st = bf_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.running, 0);
}

static void
test_broker_job_whose_worker_re_registers_twice_ends_as_worker_lost(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7]");
	bf_ready(f, "w1", 1); /* restarted: 7 comes back to it */
	assert_int_equal(f->n_jobs, 2);
	assert_true(bf_resent(f, 1, 0));
	assert_int_equal(f->n_frames, 1);
	bf_ready(f, "w1", 1); /* restarted again while running 7 */
	assert_int_equal(f->n_jobs, 2);
	assert_int_equal(f->n_frames, 3);
	bf_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	bf_assert_done(f, 2, 0, "r1", 0, 1);
	st = bf_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.running, 0);
	/* the stale answer of the first run is dropped */
	bf_result(f, "w1", f->jobs[0].job, "7");
	assert_int_equal(f->n_frames, 3);
}

static void
test_broker_bye_does_not_count_as_a_death(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[7]");
	bf_bye(f, "w1");
	bf_ready(f, "w2", 1);
	bf_bye(f, "w2");
	/* two BYEs: still requeued, to a third worker */
	bf_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 2, "w3", "7");
	/* one real death after two BYEs is a first death, not a second */
	bf_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 4);
	bf_assert_job(f, 3, "w3", "7");
	assert_int_equal(f->n_frames, 1);
	st = bf_stats(f);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(st.requeued, 3);
	assert_int_equal(st.workers_lost, 1);
	bf_answer_all(f, 3);
	bf_assert_result(f, 1, 0, "r1", 0, "7");
	bf_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_draining_worker_gets_no_new_jobs_but_its_results_count(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 2);
	bf_ready(f, "w2", 1);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	bf_assert_job(f, 0, "w1", "1"); /* most free credit */
	bf_assert_job(f, 1, "w1", "2");
	bf_worker_empty(f, "w1", SL_MSG_DRAIN);
	assert_int_equal(bf_stats(f).workers, 2);
	bf_submit(f, c, "r2", "sum", "[3,4,5]");
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 2, "w2", "3");
	assert_int_equal(bf_stats(f).queued, 2);
	/* w1's result still reaches the client; its credit stays unused */
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_assert_result(f, 2, 0, "r1", 0, "1");
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(bf_stats(f).queued, 2);
	bf_result(f, "w2", f->jobs[2].job, "3");
	assert_int_equal(f->n_jobs, 4);
	bf_assert_job(f, 3, "w2", "4");
	/* BYE: w1 leaves, the job it still held is requeued */
	bf_bye(f, "w1");
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 1);
	assert_int_equal(st.workers_lost, 0);
	assert_int_equal(st.requeued, 1);
	assert_int_equal(st.queued, 2);
	for (size_t i = 3; i < f->n_jobs; i++)
		assert_string_equal(f->jobs[i].rid, "w2");
	bf_answer_all(f, 3);
	st = bf_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.results, 5);
	assert_int_equal(f->n_jobs, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_job_ids_start_at_a_random_value_below_2_to_the_52,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_routing_id_is_bound_to_its_workers_curve_key,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_is_answered_with_registered_and_the_label,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_producers_frame_on_the_workers_endpoint_is_answered,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_duplicate_result_is_dropped_and_client_sees_the_item_once,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_result_from_an_unknown_worker_is_dropped,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bye_requeues_jobs_to_another_worker_exactly_once,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_again_from_the_same_worker_requeues_its_jobs,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_late_result_of_a_first_attempt_is_dropped,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_failed_send_removes_the_worker_and_requeues,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_failed_send_to_the_only_worker_keeps_the_job_queued,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_leaving_after_its_client_left_frees_the_jobs,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_malformed_worker_frames_are_counted_and_dropped,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_tick_pings_every_worker_once_per_interval,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_ping_is_answered_with_pong, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_silent_worker_is_removed_and_its_jobs_go_to_another,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_that_keeps_sending_is_not_removed,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_without_heartbeats_tick_never_removes_workers,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_workers_go_silent_twice_ends_as_worker_lost,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_workers_fail_the_ping_twice_ends_as_worker_lost,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_worker_re_registers_twice_ends_as_worker_lost,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bye_does_not_count_as_a_death, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_draining_worker_gets_no_new_jobs_but_its_results_count,
		    bf_setup, bf_teardown),
	};

	/* Every log line is formatted (DEBUG), so its arguments are checked
	 * under the sanitizers too; ctest keeps the output. */
	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name(
	    "broker_workers", tests, NULL, NULL);
}
