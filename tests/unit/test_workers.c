/*
 * test_workers: the workers endpoint (gateway/gw_workers) on real
 * sockets.
 *
 * gw_workers binds its ROUTER on inproc:// and joins a real lws loop
 * (no listener); a DEALER plays the worker, speaking sl_proto. The upward
 * events land in plain functions that record them. The loop is served
 * until what a test waits for has happened, with a deadline. Single
 * threaded, like the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <zmq.h>

#include "gw_workers.h"
#include "gw_zmq.h"
#include "sl_batch.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define ENDPOINT "inproc://test-workers"
#define MAX_EV 16

/* What the events told us. */
typedef struct events {
	gw_workers_job_t *results[MAX_EV]; /* jobs whose result came */
	uint64_t result_ids[MAX_EV];       /* ...their ids */
	char codes[MAX_EV][40];            /* ...and "ok" or the error code */
	size_t n_results;
	gw_workers_job_t *lost[MAX_EV]; /* jobs handed back */
	bool crashed[MAX_EV];           /* ...and how */
	bool returned[MAX_EV];          /* ... (RETURN: not an attempt) */
	size_t n_lost;
	size_t n_changed;
	uint32_t partials[MAX_EV]; /* indexes of PARTIALs that came up */
	size_t n_partials;
	double progress; /* the last PROGRESS that came up */
	char text[40];   /* ...its text, or "-" */
	size_t n_progress;
	gw_workers_t *gw;            /* for refill */
	gw_workers_job_t *refill[4]; /* jobs changed sends, while credit */
	size_t n_refill;
} events_t;

typedef struct fixture {
	void *zctx;
	struct lws_context *lws;
	gw_workers_t *w;
	void *dealer; /* the worker */
	events_t ev;
	gw_workers_job_t jobs[8];   /* the jobs' owner is the fixture */
	lws_sorted_usec_list_t sul; /* wakes the loop every 10 ms */
} fixture_t;

/* lws_service sleeps until an event: a timer makes sure it returns, as
 * the gateway's tick does. */
static void
s_wake(lws_sorted_usec_list_t *sul)
{
	fixture_t *f = lws_container_of(sul, fixture_t, sul);

	lws_sul_schedule(f->lws, 0, &f->sul, s_wake, 10000);
}

static void
s_on_result(void *ctx, gw_workers_job_t *job, const gw_workers_result_t *res)
{
	events_t *e = ctx;

	assert_true(e->n_results < MAX_EV);
	assert_null(job->holder);
	e->result_ids[e->n_results] = job->id;
	snprintf(e->codes[e->n_results], sizeof e->codes[0], "%s",
	    res->ok ? "ok" : res->code);
	e->results[e->n_results++] = job;
}

static void
s_on_lost(void *ctx, gw_workers_job_t *job, gw_workers_loss_t how)
{
	events_t *e = ctx;

	assert_true(e->n_lost < MAX_EV);
	assert_null(job->holder);
	e->crashed[e->n_lost] = how == GW_WORKERS_CRASHED;
	e->returned[e->n_lost] = how == GW_WORKERS_RETURNED;
	e->lost[e->n_lost++] = job;
}

/* Counted; and the jobs in refill go out while a worker has credit, as
 * the broker's dispatch sends them. */
static void
s_on_changed(void *ctx)
{
	events_t *e = ctx;
	void *w;

	e->n_changed++;
	while (e->n_refill && (w = gw_workers_pick(e->gw, "sum")))
		assert_int_equal(
		    gw_workers_send_job(
		        e->gw, w, e->refill[--e->n_refill], "sum", "\x05", 1),
		    0);
}

static void
s_on_progress(
    void *ctx, gw_workers_job_t *job, double progress, const char *text)
{
	events_t *e = ctx;

	assert_non_null(job->holder);
	e->progress = progress;
	snprintf(e->text, sizeof e->text, "%s", text ? text : "-");
	e->n_progress++;
}

static void
s_on_partial(void *ctx, gw_workers_job_t *job, uint32_t index,
    const msgpack_object *value)
{
	events_t *e = ctx;

	assert_non_null(job->holder);
	assert_non_null(value);
	assert_true(e->n_partials < MAX_EV);
	e->partials[e->n_partials++] = index;
}

static int
setup(void **state)
{
	static const struct lws_protocols protocols[] = {
		{ "zmq", gw_zmq_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	/* PING every 100 ms, dead after 300 ms of silence */
	static const gw_workers_limits_t lim = { 1 << 20, 10, 100000, 3 };
	struct lws_context_creation_info ci;
	fixture_t *f = calloc(1, sizeof *f);
	gw_workers_events_t ev = { s_on_result, s_on_lost, s_on_changed, NULL,
		s_on_progress, s_on_partial };
	char err[200];

	if (!f)
		return -1;
	ev.ctx = &f->ev;
	f->zctx = zmq_ctx_new();
	f->w = gw_workers_new(
	    f->zctx, ENDPOINT, &lim, NULL, &ev, err, sizeof err);
	if (!f->w)
		return -1;
	f->ev.gw = f->w;
	memset(&ci, 0, sizeof ci);
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	f->lws = lws_create_context(&ci);
	if (!f->lws
	    || gw_workers_attach(
	        f->w, f->lws, lws_get_vhost_by_name(f->lws, "default")))
		return -1;
	lws_sul_schedule(f->lws, 0, &f->sul, s_wake, 10000);
	f->dealer = zmq_socket(f->zctx, ZMQ_DEALER);
	if (zmq_setsockopt(f->dealer, ZMQ_ROUTING_ID, "wA", 2)
	    || zmq_connect(f->dealer, ENDPOINT))
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;
	int linger = 0;

	zmq_setsockopt(f->dealer, ZMQ_LINGER, &linger, sizeof linger);
	zmq_close(f->dealer);
	if (f->lws)
		lws_sul_cancel(&f->sul);
	lws_context_destroy(f->lws);
	gw_workers_destroy(&f->w);
	zmq_ctx_term(f->zctx);
	free(f);
	return 0;
}

/* ---- the worker's side ---------------------------------------------- */

static void
s_send(fixture_t *f, msgpack_sbuffer *sb)
{
	assert_int_equal(
	    zmq_send(f->dealer, sb->data, sb->size, 0), (int) sb->size);
	msgpack_sbuffer_destroy(sb);
}

static void
s_ready(fixture_t *f, uint32_t capacity)
{
	const char *tasks[] = { "sum", "len" };
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_ready(&sb, capacity, 7, "host", tasks, 2), 0);
	s_send(f, &sb);
}

static void
s_result(fixture_t *f, uint64_t job)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_ok(&sb, job, "\x01", 1,
	                     &(sl_proto_times_t) { 1, 2, -1, -1 }),
	    0);
	s_send(f, &sb);
}

static void
s_empty(fixture_t *f, sl_msg_type_t type)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_empty(&sb, type), 0);
	s_send(f, &sb);
}

/* Serve the gateway's loop until *count reaches want (2 s at most). */
static void
s_serve_until(fixture_t *f, const size_t *count, size_t want)
{
	int64_t end = sl_clock_mono_us() + 2000000;

	while (*count < want && sl_clock_mono_us() < end)
		lws_service(f->lws, 0);
	assert_int_equal(*count, want);
}

/* The next frame the worker gets other than a BATCH (the announcement
 * after REGISTERED), decoded into m (caller clears it); serves the loop
 * meanwhile, 2 s at most. */
static void
s_recv(fixture_t *f, sl_msg_t *m, void *buf, size_t cap)
{
	int64_t end = sl_clock_mono_us() + 2000000;
	const char *why = NULL;
	int n = -1;

	while (n < 0 && sl_clock_mono_us() < end) {
		lws_service(f->lws, 0);
		n = zmq_recv(f->dealer, buf, cap, ZMQ_DONTWAIT);
		if (n > 0 && (size_t) n <= cap && sl_batch_is(buf, (size_t) n))
			n = -1;
	}
	assert_true(n > 0 && (size_t) n <= cap);
	sl_proto_msg_init(m);
	assert_int_equal(sl_proto_decode(buf, (size_t) n, m, &why), 0);
}

static gw_workers_stats_t
s_stats(fixture_t *f)
{
	gw_workers_stats_t st;

	gw_workers_stats(f->w, &st);
	return st;
}

/* Serve the loop until want frames were dropped as stale (2 s at most). */
static void
s_serve_until_stale(fixture_t *f, uint64_t want)
{
	int64_t end = sl_clock_mono_us() + 2000000;

	while (s_stats(f).stale < want && sl_clock_mono_us() < end)
		lws_service(f->lws, 0);
	assert_int_equal(s_stats(f).stale, want);
}

/* READY, answered with REGISTERED and label w1. */
static void
s_register(fixture_t *f, uint32_t capacity)
{
	char buf[256];
	sl_msg_t m;

	s_ready(f, capacity);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_REGISTERED);
	assert_true(sl_proto_str_eq(m.u.registered.worker, "w1"));
	sl_proto_msg_clear(&m);
	assert_int_equal(s_stats(f).workers, 1);
	assert_int_equal(s_stats(f).capacity, capacity);
}

/* Send job to the worker with credit for "sum"; it gets the JOB, under
 * the id the send gave the job. */
static void
s_job(fixture_t *f, gw_workers_job_t *job)
{
	void *w = gw_workers_pick(f->w, "sum");
	char buf[256];
	sl_msg_t m;

	assert_non_null(w);
	assert_string_equal(gw_workers_name(w), "w1");
	assert_int_equal(
	    gw_workers_send_job(f->w, w, job, "sum", "\x05", 1), 0);
	assert_ptr_equal(job->holder, w);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_JOB);
	assert_int_equal(m.u.job.job, job->id);
	assert_true(sl_proto_str_eq(m.u.job.task, "sum"));
	sl_proto_msg_clear(&m);
}

/* gw_workers_each_job's fn: count into *arg. */
static bool
s_count(void *arg, gw_workers_job_t *job)
{
	(void) job;
	++*(size_t *) arg;
	return true;
}

/* ---- tests ---------------------------------------------------------- */

static void
test_workers_ready_registers_a_worker_and_its_tasks(void **state)
{
	fixture_t *f = *state;

	assert_false(gw_workers_runs(f->w, "sum", false));
	assert_null(gw_workers_pick(f->w, "sum"));
	s_register(f, 2);
	assert_true(gw_workers_runs(f->w, "sum", false));
	assert_true(gw_workers_runs(f->w, "len", true));
	assert_false(gw_workers_runs(f->w, "other", false));
	assert_true(gw_workers_any_credit(f->w));
	assert_true(f->ev.n_changed >= 1);
}

static void
test_workers_a_result_comes_up_once_and_frees_the_credit(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];

	s_register(f, 1);
	s_job(f, a);
	assert_false(gw_workers_any_credit(f->w));
	assert_null(gw_workers_pick(f->w, "sum"));
	s_result(f, a->id);
	s_serve_until(f, &f->ev.n_results, 1);
	assert_ptr_equal(f->ev.results[0], a);
	assert_int_equal(f->ev.result_ids[0], a->id);
	assert_true(gw_workers_any_credit(f->w));
	/* the same result again: not held any more, dropped as stale */
	s_result(f, a->id);
	s_serve_until_stale(f, 1);
	assert_int_equal(f->ev.n_results, 1);
	s_job(f, b);
}

static void
test_workers_a_result_is_checked_before_it_comes_up(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];
	msgpack_sbuffer sb;

	s_register(f, 2);
	s_job(f, a);
	s_job(f, b);
	/* NaN has no JSON form: it comes up failed, as bad_result */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_result_ok(&sb, a->id, "\xcb\x7f\xf8\0\0\0\0\0\0",
	        9, &(sl_proto_times_t) { 1, 2, -1, -1 }),
	    0);
	s_send(f, &sb);
	/* a worker's error code reaches clients as UTF-8 */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_err(&sb, b->id, "bad\xff", "m",
	                     &(sl_proto_times_t) { 1, 2, -1, -1 }),
	    0);
	s_send(f, &sb);
	s_serve_until(f, &f->ev.n_results, 2);
	assert_string_equal(f->ev.codes[0], "bad_result");
	assert_non_null(strstr(f->ev.codes[1], "bad"));
	assert_null(strchr(f->ev.codes[1], '\xff'));
}

/* A PARTIAL (revision 7) of job with index and value (packed). */
static void
s_partial(
    fixture_t *f, uint64_t job, uint32_t index, const char *value, size_t len)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_partial(&sb, job, index, value, len), 0);
	s_send(f, &sb);
}

/* PROGRESS and PARTIAL of held jobs come up, in order; REGISTERED said
 * the gateway takes them. */
static void
test_workers_progress_and_partials_of_held_jobs_come_up(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0];
	msgpack_sbuffer sb;

	s_register(f, 1);
	s_job(f, a);
	assert_int_equal(a->next_partial, 0);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_progress(&sb, a->id, 0.5, "half"), 0);
	s_send(f, &sb);
	s_serve_until(f, &f->ev.n_progress, 1);
	assert_true(f->ev.progress == 0.5);
	assert_string_equal(f->ev.text, "half");
	for (uint32_t i = 0; i < 3; i++)
		s_partial(f, a->id, i, "\x01", 1);
	s_serve_until(f, &f->ev.n_partials, 3);
	assert_int_equal(f->ev.partials[2], 2);
	assert_int_equal(a->next_partial, 3);
	s_result(f, a->id);
	s_serve_until(f, &f->ev.n_results, 1);
	assert_string_equal(f->ev.codes[0], "ok");
}

/* A hostile worker's PARTIALs and PROGRESS get what a bad RESULT gets:
 * for a job it does not hold, dropped as stale; out of order or without
 * a JSON form, the item ends as bad_result and the worker is told to
 * CANCEL; a malformed one is a bad frame. Nothing more comes up for the
 * job after that, its RESULT included. */
static void
test_workers_hostile_partials_are_treated_as_bad_results(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];
	msgpack_sbuffer sb;
	char buf[256];
	sl_msg_t m;

	s_register(f, 2);
	s_job(f, a);
	s_job(f, b);
	s_partial(f, a->id + b->id, 0, "\x01", 1); /* nobody's job */
	s_serve_until_stale(f, 1);
	s_partial(f, a->id, 0, "\x01", 1);
	s_partial(f, a->id, 0, "\x01", 1); /* a repeat: out of order */
	s_serve_until(f, &f->ev.n_results, 1);
	assert_int_equal(f->ev.n_partials, 1);
	assert_ptr_equal(f->ev.results[0], a);
	assert_string_equal(f->ev.codes[0], "bad_result");
	assert_int_equal(s_stats(f).bad_partials, 1);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_CANCEL);
	assert_true(m.u.cancel.job == a->id);
	sl_proto_msg_clear(&m);
	/* NaN has no JSON form */
	s_partial(f, b->id, 0, "\xcb\x7f\xf8\0\0\0\0\0\0", 9);
	s_serve_until(f, &f->ev.n_results, 2);
	assert_string_equal(f->ev.codes[1], "bad_result");
	assert_int_equal(s_stats(f).bad_partials, 2);
	/* a's later frames are stale: no second outcome */
	s_partial(f, a->id, 1, "\x01", 1);
	s_result(f, a->id);
	s_serve_until_stale(f, 3);
	/* progress outside 0..1 does not decode */
	msgpack_sbuffer_init(&sb);
	sl_test_pack_json(&sb, "[1,\"PROGRESS\",{\"job\":1,\"progress\":7}]");
	s_send(f, &sb);
	{
		int64_t end = sl_clock_mono_us() + 2000000;

		while (s_stats(f).bad_frames < 1 && sl_clock_mono_us() < end)
			lws_service(f->lws, 0);
	}
	assert_int_equal(s_stats(f).bad_frames, 1);
	assert_int_equal(f->ev.n_results, 2);
	assert_int_equal(f->ev.n_partials, 1);
	assert_int_equal(f->ev.n_progress, 0);
}

static void
test_workers_cancel_reaches_the_holder_and_each_job_lists_held_jobs(
    void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];
	size_t n = 0;
	char buf[256];
	sl_msg_t m;

	s_register(f, 2);
	s_job(f, a);
	s_job(f, b);
	gw_workers_each_job(f->w, s_count, &n);
	assert_int_equal(n, 2);
	gw_workers_cancel(f->w, a);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_CANCEL);
	assert_int_equal(m.u.cancel.job, a->id);
	assert_int_equal(b->id, a->id + 1); /* one id per send */
	sl_proto_msg_clear(&m);
	assert_ptr_equal(a->holder, b->holder);
	assert_non_null(a->holder);
}

static void
test_workers_ping_is_answered_and_silence_loses_the_jobs(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0];
	int64_t t = sl_clock_mono_us();
	char buf[256];
	sl_msg_t m;

	s_register(f, 2);
	s_empty(f, SL_MSG_PING);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_PONG);
	sl_proto_msg_clear(&m);
	s_job(f, a);
	/* the gateway's PING */
	gw_workers_tick(f->w, t);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_PING);
	sl_proto_msg_clear(&m);
	/* three silent intervals later: dead, its job handed back */
	gw_workers_tick(f->w, sl_clock_mono_us() + 300000);
	assert_int_equal(f->ev.n_lost, 1);
	assert_ptr_equal(f->ev.lost[0], a);
	assert_true(f->ev.crashed[0]);
	assert_int_equal(s_stats(f).workers, 0);
	assert_int_equal(s_stats(f).hb_missed, 1);
	assert_int_equal(s_stats(f).workers_lost, 1);
}

static void
test_workers_bye_hands_jobs_back_without_a_crash(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];

	s_register(f, 2);
	s_job(f, a);
	s_job(f, b);
	s_empty(f, SL_MSG_BYE);
	s_serve_until(f, &f->ev.n_lost, 2);
	/* last first: the owner puts each at the front of its queue */
	assert_ptr_equal(f->ev.lost[0], b);
	assert_ptr_equal(f->ev.lost[1], a);
	assert_false(f->ev.crashed[0] || f->ev.crashed[1]);
	assert_int_equal(s_stats(f).workers_lost, 0);
}

/* Serve the loop until some worker has credit, or none (2 s at most). */
static void
s_serve_while_credit_is(fixture_t *f, bool want)
{
	int64_t end = sl_clock_mono_us() + 2000000;

	while (gw_workers_any_credit(f->w) != want && sl_clock_mono_us() < end)
		lws_service(f->lws, 0);
	assert_true(gw_workers_any_credit(f->w) == want);
}

static void
s_credit(fixture_t *f, uint32_t window)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_credit(&sb, window), 0);
	s_send(f, &sb);
}

/*
 * Revision 6: REGISTERED says credit; CREDIT narrows (never widens past
 * READY's capacity) what the worker may hold; RETURN hands a job back
 * unstarted (not a crash, counted in returned) and leaves the worker no
 * credit until its next CREDIT; a RETURN of a job it does not hold is
 * stale.
 */
static void
test_workers_credit_and_return_follow_the_worker(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *a = &f->jobs[0], *b = &f->jobs[1];
	msgpack_sbuffer sb;
	char buf[256];
	sl_msg_t m;

	s_ready(f, 2);
	s_recv(f, &m, buf, sizeof buf);
	assert_int_equal(m.type, SL_MSG_REGISTERED);
	assert_true(m.u.registered.credit);
	sl_proto_msg_clear(&m);
	s_credit(f, 0);
	s_serve_while_credit_is(f, false);
	s_credit(f, 4096); /* capped at capacity 2 */
	s_serve_while_credit_is(f, true);
	s_job(f, a);
	s_job(f, b);
	assert_false(gw_workers_any_credit(f->w));
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_return(&sb, b->id), 0);
	s_send(f, &sb);
	s_serve_until(f, &f->ev.n_lost, 1);
	assert_ptr_equal(f->ev.lost[0], b);
	assert_false(f->ev.crashed[0]);
	assert_int_equal(s_stats(f).returned, 1);
	assert_int_equal(s_stats(f).workers_lost, 0);
	assert_false(gw_workers_any_credit(f->w)); /* until CREDIT */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_return(&sb, b->id), 0);
	s_send(f, &sb); /* again: not held any more */
	s_serve_until_stale(f, 1);
	s_credit(f, 2);
	s_serve_while_credit_is(f, true);
	s_job(f, b);
}

static void
test_workers_garbage_is_counted_and_dropped(void **state)
{
	fixture_t *f = *state;
	assert_int_equal(zmq_send(f->dealer, "\xc1", 1, 0), 1);
	s_register(f, 1); /* still heard afterwards */
	assert_int_equal(s_stats(f).bad_frames, 1);
	s_job(f, &f->jobs[0]);
}

static void
test_workers_destroy_hands_held_jobs_back(void **state)
{
	fixture_t *f = *state;
	s_register(f, 1);
	s_job(f, &f->jobs[0]);
	lws_sul_cancel(&f->sul);
	lws_context_destroy(f->lws);
	f->lws = NULL;
	gw_workers_destroy(&f->w);
	assert_null(f->w);
	assert_int_equal(f->ev.n_lost, 1);
	assert_ptr_equal(f->ev.lost[0], &f->jobs[0]);
	assert_false(f->ev.crashed[0]);
}

/* Append a RESULT for job (ok, value 1) to b. */
static void
s_batch_result(sl_batch_t *b, uint64_t job)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_ok(&sb, job, "\x01", 1,
	                     &(sl_proto_times_t) { 1, 2, -1, -1 }),
	    0);
	assert_int_equal(sl_batch_add(b, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_workers_a_batch_of_results_frees_credit_for_one_batch_of_jobs(
    void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *j = f->jobs;
	msgpack_sbuffer sb;
	sl_batch_t b;
	sl_batch_reader_t r;
	const void *data, *e;
	size_t len, elen;
	char buf[1024];
	uint64_t stale = 0, bad = 0;
	int n = -1;

	s_register(f, 3);
	/* The worker says it takes batches (answering the gateway's). */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_batch_encode_empty(&sb), 0);
	s_send(f, &sb);
	s_job(f, &j[0]);
	s_job(f, &j[1]);
	s_job(f, &j[2]);
	stale = s_stats(f).stale;
	bad = s_stats(f).bad_frames;
	f->ev.refill[0] = &j[3];
	f->ev.refill[1] = &j[4];
	f->ev.refill[2] = &j[5];
	f->ev.n_refill = 3;

	/* Three results in one BATCH, with hostile entries between them:
	 * garbage bytes, an unknown job id, a BATCH inside and a duplicate.
	 * Each of those is dropped alone. */
	sl_batch_init(&b);
	s_batch_result(&b, j[0].id);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_batch_encode_empty(&sb), 0);
	assert_int_equal(sl_batch_add(&b, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(sl_batch_add(&b, "\xc1junk", 5), 0);
	s_batch_result(&b, 987654321);
	s_batch_result(&b, j[1].id);
	s_batch_result(&b, j[0].id);
	s_batch_result(&b, j[2].id);
	sl_batch_frame(&b, &data, &len);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(msgpack_sbuffer_write(&sb, data, len), 0);
	s_send(f, &sb);
	s_serve_until(f, &f->ev.n_results, 3);
	assert_ptr_equal(f->ev.results[0], &j[0]);
	assert_ptr_equal(f->ev.results[1], &j[1]);
	assert_ptr_equal(f->ev.results[2], &j[2]);
	assert_int_equal(s_stats(f).stale, stale + 2);
	assert_int_equal(s_stats(f).bad_frames, bad + 2);

	/* The three freed slots: one BATCH of three JOBs. */
	for (int64_t end = sl_clock_mono_us() + 2000000;
	     n < 0 && sl_clock_mono_us() < end;) {
		lws_service(f->lws, 0);
		n = zmq_recv(f->dealer, buf, sizeof buf, ZMQ_DONTWAIT);
	}
	assert_true(n > 0 && sl_batch_is(buf, (size_t) n));
	assert_int_equal(sl_batch_open(&r, buf, (size_t) n, NULL), 0);
	assert_int_equal(r.n, 3);
	for (int i = 0; i < 3; i++) {
		sl_msg_t m;

		assert_int_equal(sl_batch_next(&r, &e, &elen), 1);
		sl_proto_msg_init(&m);
		assert_int_equal(sl_proto_decode(e, elen, &m, NULL), 0);
		assert_int_equal(m.type, SL_MSG_JOB);
		assert_int_equal(m.u.job.job, j[5 - i].id);
		assert_non_null(j[5 - i].holder);
		sl_proto_msg_clear(&m);
	}
	sl_batch_close(&r);
	sl_batch_destroy(&b);
	assert_false(gw_workers_any_credit(f->w));
	/* The worker dies: every job of the batch goes back. */
	s_empty(f, SL_MSG_BYE);
	s_serve_until(f, &f->ev.n_lost, 3);
	for (int i = 3; i < 6; i++)
		assert_null(j[i].holder);
}

/* Owner settles (as gw_gateway runs it): the JOBs of a turn wait and
 * leave as one BATCH at gw_workers_settle, a CANCEL after its JOB in the
 * same BATCH; a JOB still held when its worker dies was never sent: it
 * comes back as not an attempt. */
static void
test_workers_owner_settles_sends_a_turns_jobs_as_one_batch(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *j = f->jobs;
	msgpack_sbuffer sb;
	sl_batch_reader_t r;
	const void *e;
	size_t elen;
	char buf[1024];
	sl_msg_t pong;
	int n = -1;
	static const struct {
		sl_msg_type_t type;
		int job;
	} want[] = { { SL_MSG_JOB, 0 }, { SL_MSG_JOB, 1 }, { SL_MSG_JOB, 2 },
		{ SL_MSG_CANCEL, 1 } };

	s_register(f, 4);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_batch_encode_empty(&sb), 0);
	s_send(f, &sb);
	/* A PING round trip: the BATCH before it has been read by then. */
	s_empty(f, SL_MSG_PING);
	s_recv(f, &pong, buf, sizeof buf);
	assert_int_equal(pong.type, SL_MSG_PONG);
	sl_proto_msg_clear(&pong);
	gw_workers_set_owner_settles(f->w);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    gw_workers_send_job(f->w, gw_workers_pick(f->w, "sum"),
		        &j[i], "sum", "\x05", 1),
		    0);
	gw_workers_cancel(f->w, &j[1]);
	for (int i = 0; i < 5; i++)
		lws_service(f->lws, 0);
	assert_int_equal(zmq_recv(f->dealer, buf, sizeof buf, ZMQ_DONTWAIT),
	    -1); /* held for the turn */
	gw_workers_settle(f->w, false);
	for (int64_t end = sl_clock_mono_us() + 2000000;
	     n < 0 && sl_clock_mono_us() < end;)
		n = zmq_recv(f->dealer, buf, sizeof buf, ZMQ_DONTWAIT);
	assert_true(n > 0 && sl_batch_is(buf, (size_t) n));
	assert_int_equal(sl_batch_open(&r, buf, (size_t) n, NULL), 0);
	assert_int_equal(r.n, 4);
	for (int i = 0; i < 4; i++) {
		sl_msg_t m;

		assert_int_equal(sl_batch_next(&r, &e, &elen), 1);
		sl_proto_msg_init(&m);
		assert_int_equal(sl_proto_decode(e, elen, &m, NULL), 0);
		assert_int_equal(m.type, want[i].type);
		assert_int_equal(
		    m.type == SL_MSG_JOB ? m.u.job.job : m.u.cancel.job,
		    j[want[i].job].id);
		sl_proto_msg_clear(&m);
	}
	sl_batch_close(&r);
	/* One more, held; then the worker falls silent and is lost. */
	assert_int_equal(
	    gw_workers_send_job(
	        f->w, gw_workers_pick(f->w, "sum"), &j[3], "sum", "\x05", 1),
	    0);
	gw_workers_tick(f->w, sl_clock_mono_us() + 1000000);
	assert_int_equal(f->ev.n_lost, 4);
	assert_ptr_equal(f->ev.lost[0], &j[3]); /* last first */
	assert_false(f->ev.crashed[0]);         /* never sent */
	for (int i = 1; i < 4; i++)
		assert_true(f->ev.crashed[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_workers_owner_settles_sends_a_turns_jobs_as_one_batch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_ready_registers_a_worker_and_its_tasks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_a_result_comes_up_once_and_frees_the_credit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_progress_and_partials_of_held_jobs_come_up,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_hostile_partials_are_treated_as_bad_results,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_a_result_is_checked_before_it_comes_up, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_cancel_reaches_the_holder_and_each_job_lists_held_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_ping_is_answered_and_silence_loses_the_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_bye_hands_jobs_back_without_a_crash, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_credit_and_return_follow_the_worker, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_garbage_is_counted_and_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_destroy_hands_held_jobs_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_workers_a_batch_of_results_frees_credit_for_one_batch_of_jobs,
		    setup, teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
