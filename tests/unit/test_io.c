/*
 * test_io: the worker's I/O loop (compute/cp_io) against a real gateway
 * socket.
 *
 * The test plays the gateway: a ROUTER on an ephemeral loopback port that
 * decodes what the worker sends with sl_proto and answers with real
 * frames. cp_io_run runs on a second thread with one compute thread and
 * the built-in tasks; the test stops it through *stop as a signal handler
 * would. The reconnect tests keep the ROUTER silent and time the READYs
 * of the worker's successive connections. The delay rule itself
 * (cp_link_backoff_*) is checked as a table.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cp_health.h"
#include "cp_io.h"
#include "cp_link.h"
#include "cp_tasks.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_batch.h"
#include "sl_proto.h"

/* The test's gateway end, and the worker running against it. */
typedef struct fixture {
	void *zctx;
	void *router;
	void *router_a; /* the one setup made (router may be switched) */
	void *router_b; /* a second gateway, if the test makes one */
	char ep[128];
	const char *gws[2]; /* cfg.gateways: ep (and a second, if any) */
	char rid[256];      /* the worker's routing id, from its last frame */
	size_t rid_len;
	char frame[4096]; /* the last frame received; msg points into it */
	sl_msg_t msg;
	msgpack_sbuffer sb;
	cp_tasks_t *tasks;
	cp_io_cfg_t cfg;
	volatile sig_atomic_t stop;
	pthread_t thread;
	bool running;
	int rc; /* cp_io_run's */
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	int zero = 0, one = 1;
	size_t eplen = sizeof f->ep;

	if (!f)
		return -1;
	sl_log_setup("ut", SL_LOG_ERR);
	f->zctx = zmq_ctx_new();
	f->router = f->router_a = zmq_socket(f->zctx, ZMQ_ROUTER);
	/* A reconnecting worker comes back under its routing id. */
	if (!f->router
	    || zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_setsockopt(f->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one)
	    || zmq_bind(f->router, "tcp://127.0.0.1:*")
	    || zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->ep, &eplen))
		return -1;
	f->tasks = cp_tasks_new();
	if (!f->tasks)
		return -1;
	msgpack_sbuffer_init(&f->sb);
	sl_proto_msg_init(&f->msg);
	f->gws[0] = f->ep;
	f->cfg.gateways = f->gws;
	f->cfg.n_gateways = 1;
	f->cfg.resolve_us = 5000000;
	f->cfg.id = "w-ut";
	f->cfg.threads = 1;
	f->cfg.tasks = f->tasks;
	f->cfg.hb_ivl_us = 100000;
	f->cfg.hb_liveness = 50; /* silence is not what most tests test */
	f->cfg.drain_us = 2000000;
	f->cfg.backoff_max_us = 5000000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	if (f->running) {
		f->stop = 2;
		pthread_join(f->thread, NULL);
	}
	sl_proto_msg_clear(&f->msg);
	msgpack_sbuffer_destroy(&f->sb);
	cp_tasks_destroy(&f->tasks);
	/* f->router may point at router_b: close what setup made */
	zmq_close(f->router_a);
	if (f->router_b)
		zmq_close(f->router_b);
	zmq_ctx_term(f->zctx);
	free(f);
	return 0;
}

static void
s_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

static void *
s_worker(void *arg)
{
	fixture_t *f = arg;

	f->rc = cp_io_run(&f->cfg, &f->stop);
	return NULL;
}

static void
s_start(fixture_t *f)
{
	assert_int_equal(pthread_create(&f->thread, NULL, s_worker, f), 0);
	f->running = true;
}

/* Stop with *stop = level, wait for the worker, return cp_io_run's rc. */
static int
s_stop(fixture_t *f, int level)
{
	f->stop = level;
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	f->running = false;
	return f->rc;
}

/*
 * The next frame from the worker other than a PING, decoded into f->msg,
 * within timeout_ms: 0, or -1 on timeout.
 */
static int
s_recv(fixture_t *f, int timeout_ms)
{
	int64_t end = sl_clock_mono_us() + (int64_t) timeout_ms * 1000;

	for (;;) {
		zmq_pollitem_t it = { f->router, 0, ZMQ_POLLIN, 0 };
		long left = (long) ((end - sl_clock_mono_us()) / 1000);
		const char *why;
		int n;

		if (left <= 0 || zmq_poll(&it, 1, left) <= 0)
			return -1;
		n = zmq_recv(f->router, f->rid, sizeof f->rid, 0);
		assert_true(n > 0 && (size_t) n <= sizeof f->rid);
		f->rid_len = (size_t) n;
		n = zmq_recv(f->router, f->frame, sizeof f->frame, 0);
		assert_true(n > 0 && (size_t) n <= sizeof f->frame);
		assert_int_equal(
		    sl_proto_decode(f->frame, (size_t) n, &f->msg, &why), 0);
		if (f->msg.type != SL_MSG_PING)
			return 0;
	}
}

/* The next frame must be of type t. */
static void
s_expect(fixture_t *f, sl_msg_type_t t)
{
	assert_int_equal(s_recv(f, 5000), 0);
	if (f->msg.type != t) {
		print_error("got %s, expected %s\n",
		    sl_proto_type_name(f->msg.type), sl_proto_type_name(t));
		fail();
	}
}

/* Send f->sb to the worker that spoke last. */
static void
s_send(fixture_t *f)
{
	assert_int_equal(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE),
	    (int) f->rid_len);
	assert_int_equal(
	    zmq_send(f->router, f->sb.data, f->sb.size, 0), (int) f->sb.size);
	msgpack_sbuffer_clear(&f->sb);
}

static void
s_send_job(fixture_t *f, uint64_t job, const char *task, const char *item)
{
	msgpack_sbuffer item_mp;
	msgpack_packer pk;

	msgpack_sbuffer_init(&item_mp);
	msgpack_packer_init(&pk, &item_mp, msgpack_sbuffer_write);
	assert_int_equal(
	    msgpack_pack_str_with_body(&pk, item, strlen(item)), 0);
	assert_int_equal(sl_proto_encode_job(&f->sb, job, task, strlen(task),
	                     item_mp.data, item_mp.size, NULL),
	    0);
	msgpack_sbuffer_destroy(&item_mp);
	s_send(f);
}

static bool
s_has_task(const sl_msg_ready_t *r, const char *name)
{
	for (size_t i = 0; i < r->n_tasks; i++)
		if (sl_proto_str_eq(r->tasks[i], name))
			return true;
	return false;
}

static void
test_io_registers_runs_a_job_and_answers_ping(void **state)
{
	fixture_t *f = *state;
	const msgpack_object *v;

	s_start(f);
	s_expect(f, SL_MSG_READY);
	assert_int_equal(f->rid_len, 4);
	assert_memory_equal(f->rid, "w-ut", 4);
	assert_int_equal(f->msg.u.ready.capacity, 1);
	assert_int_equal(f->msg.u.ready.pid, (uint32_t) getpid());
	assert_true(s_has_task(&f->msg.u.ready, "echo"));
	assert_true(s_has_task(&f->msg.u.ready, "sha256"));
	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w1", false, false), 0);
	s_send(f);

	s_send_job(f, 7, "echo", "hello");
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 7);
	assert_true(f->msg.u.result.ok);
	v = f->msg.u.result.value;
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	assert_int_equal(v->via.str.size, 5);
	assert_memory_equal(v->via.str.ptr, "hello", 5);

	assert_int_equal(sl_proto_encode_empty(&f->sb, SL_MSG_PING), 0);
	s_send(f);
	s_expect(f, SL_MSG_PONG);

	assert_int_equal(s_stop(f, 1), 0);
	s_expect(f, SL_MSG_DRAIN);
	s_expect(f, SL_MSG_BYE);
}

static void
test_io_unknown_task_is_refused_at_once(void **state)
{
	fixture_t *f = *state;

	s_start(f);
	s_expect(f, SL_MSG_READY);
	s_send_job(f, 9, "nope", "x");
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 9);
	assert_false(f->msg.u.result.ok);
	assert_true(sl_proto_str_eq(f->msg.u.result.code, "unknown_task"));
	assert_int_equal(s_stop(f, 2), 0);
}

static void
test_io_drain_lets_a_running_job_finish_before_bye(void **state)
{
	fixture_t *f = *state;

	s_start(f);
	s_expect(f, SL_MSG_READY);
	/* sleep takes its item as milliseconds, as a number */
	{
		msgpack_sbuffer item;
		msgpack_packer pk;

		msgpack_sbuffer_init(&item);
		msgpack_packer_init(&pk, &item, msgpack_sbuffer_write);
		assert_int_equal(msgpack_pack_uint32(&pk, 300), 0);
		assert_int_equal(sl_proto_encode_job(&f->sb, 3, "sleep", 5,
		                     item.data, item.size, NULL),
		    0);
		msgpack_sbuffer_destroy(&item);
		s_send(f);
	}
	/* Frames are handled in order: the PONG means the job is queued. */
	assert_int_equal(sl_proto_encode_empty(&f->sb, SL_MSG_PING), 0);
	s_send(f);
	s_expect(f, SL_MSG_PONG);
	f->stop = 1;
	s_expect(f, SL_MSG_DRAIN);
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 3);
	assert_true(f->msg.u.result.ok);
	s_expect(f, SL_MSG_BYE);
	assert_int_equal(s_stop(f, 1), 0);
}

/*
 * A silent gateway: the worker reconnects (a new connection: READY again)
 * after hb_liveness intervals plus a backoff of 250 ms, then doubling up to
 * backoff_max, each +- 20 %. The times between READYs are at least the
 * silence plus 80 % of each backoff, and once capped they stop growing.
 */
static void
test_io_silent_gateway_gets_capped_backoff_reconnects(void **state)
{
	fixture_t *f = *state;
	const int64_t silence = 100000; /* hb 50 ms x liveness 2 */
	const int64_t backoff[] = { 250000, 300000, 300000, 300000 };
	int64_t t[SL_N(backoff) + 1];

	f->cfg.hb_ivl_us = 50000;
	f->cfg.hb_liveness = 2;
	f->cfg.backoff_max_us = 300000;
	s_start(f);
	for (size_t i = 0; i < SL_N(t); i++) {
		s_expect(f, SL_MSG_READY);
		t[i] = sl_clock_mono_us();
		assert_memory_equal(f->rid, "w-ut", 4); /* the same worker */
	}
	assert_int_equal(s_stop(f, 2), 0);
	for (size_t i = 0; i < SL_N(backoff); i++) {
		int64_t gap = t[i + 1] - t[i];

		/* 20 ms for the READYs' own trips, which may differ */
		if (gap < silence + backoff[i] * 8 / 10 - 20000) {
			print_error("reconnect %zu after %lld us, before "
			            "silence + backoff -20 %%\n",
			    i + 1, (long long) gap);
			fail();
		}
		/* Uncapped, the 4th would wait 2 s x 0.8 at least; capped it
		 * is 0.46 s at most, plus what a loaded machine adds. */
		if (gap > 1200000) {
			print_error(
			    "reconnect %zu after %lld us: not capped\n", i + 1,
			    (long long) gap);
			fail();
		}
	}
}

static void
test_io_backoff_rule_is_jittered_by_20_percent_and_capped(void **state)
{
	int64_t lo = INT64_MAX, hi = 0, prev = 0;

	(void) state;
	for (unsigned r = 0; r < 41; r++) {
		int64_t d = cp_link_backoff_jitter(1000000, r);

		assert_true(d > prev); /* every r gives its own delay */
		prev = d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_int_equal(lo, 800000);
	assert_int_equal(hi, 1200000);
	assert_int_equal(cp_link_backoff_jitter(1000000, 41), 800000);
	assert_int_equal(cp_link_backoff_jitter(1000000, 20), 1000000);
	assert_int_equal(cp_link_backoff_next(250000, 5000000), 500000);
	assert_int_equal(cp_link_backoff_next(4000000, 5000000), 5000000);
	assert_int_equal(cp_link_backoff_next(5000000, 5000000), 5000000);
}

static void
test_io_health_file_says_ok_while_the_gateway_answers(void **state)
{
	fixture_t *f = *state;
	char path[] = "/tmp/sluice-ut-health-XXXXXX", why[300] = "";
	int fd = mkstemp(path), rc = SL_EINVAL;

	assert_true(fd >= 0);
	close(fd);
	f->cfg.health_file = path;
	s_start(f);
	s_expect(f, SL_MSG_READY);
	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w1", false, false), 0);
	s_send(f);
	/* Written at each heartbeat (100 ms); "ok" once the gateway spoke. */
	for (int i = 0; i < 50 && rc; i++) {
		s_sleep_ms(100);
		rc = cp_health_check(path, 60000000, why, sizeof why);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(s_stop(f, 2), 0);
	unlink(path);
}

/* JOB sleep N ms to the worker that spoke last on f->router. */
static void
s_send_sleep(fixture_t *f, uint64_t job, unsigned ms)
{
	msgpack_sbuffer mp;
	msgpack_packer pk;

	msgpack_sbuffer_init(&mp);
	msgpack_packer_init(&pk, &mp, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_unsigned_int(&pk, ms), 0);
	assert_int_equal(sl_proto_encode_job(
	                     &f->sb, job, "sleep", 5, mp.data, mp.size, NULL),
	    0);
	msgpack_sbuffer_destroy(&mp);
	s_send(f);
}

/*
 * One thread, two gateways that both take CREDIT (PROTOCOL.md §2,
 * "Several gateways"): while gateway A's job runs, B is offered nothing
 * (CREDIT 0) and a job B sends anyway comes back unstarted (RETURN) at
 * once; when A's result is out, B is offered the thread again (CREDIT
 * 1) and its next job runs. Then A goes silent: only A's jobs are
 * cancelled, B's job carries on to its result.
 */
static void
test_io_two_gateways_share_the_threads_by_credit_and_return(void **state)
{
	fixture_t *f = *state;
	void *a = f->router, *b = zmq_socket(f->zctx, ZMQ_ROUTER);
	char ep_b[128];
	size_t eplen = sizeof ep_b;
	int zero = 0;

	assert_non_null(b);
	f->router_b = b; /* teardown closes it, whatever fails */
	assert_int_equal(zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof zero), 0);
	assert_int_equal(zmq_bind(b, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(
	    zmq_getsockopt(b, ZMQ_LAST_ENDPOINT, ep_b, &eplen), 0);
	f->gws[1] = ep_b;
	f->cfg.n_gateways = 2;
	f->cfg.hb_liveness = 10; /* A's silence: 1 s */
	s_start(f);
	for (int i = 0; i < 2; i++) {
		f->router = i ? b : a;
		s_expect(f, SL_MSG_READY);
		assert_int_equal(sl_proto_encode_registered(
		                     &f->sb, i ? "b1" : "a1", true, false),
		    0);
		s_send(f);
	}
	f->router = a;
	s_send_sleep(f, 1, 200);
	f->router = b;
	s_expect(f, SL_MSG_CREDIT);
	assert_int_equal(f->msg.u.credit.window, 0);
	s_send_sleep(f, 2, 10);
	s_expect(f, SL_MSG_RETURN);
	assert_int_equal(f->msg.u.cancel.job, 2);
	f->router = a;
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 1);
	f->router = b;
	s_expect(f, SL_MSG_CREDIT);
	assert_int_equal(f->msg.u.credit.window, 1);
	/* B's job runs; A (never answering PINGs again) is lost meanwhile,
	 * and B's job is not cancelled with A's. */
	s_send_sleep(f, 3, 2500);
	/* A: nothing free while B's job runs. Read now: once A is left and
	 * connects again, the ROUTER's handover may drop what the old
	 * connection still had unread. */
	f->router = a;
	s_expect(f, SL_MSG_CREDIT);
	assert_int_equal(f->msg.u.credit.window, 0);
	f->router = b;
	/* B stays alive: it PINGs every 100 ms until the result (6 s). */
	for (int i = 0; i < 60 && f->msg.type != SL_MSG_RESULT; i++) {
		int64_t next = sl_clock_mono_us() + 100000;

		assert_int_equal(
		    sl_proto_encode_empty(&f->sb, SL_MSG_PING), 0);
		s_send(f);
		while (f->msg.type != SL_MSG_RESULT
		    && sl_clock_mono_us() < next
		    && !s_recv(f, (int) ((next - sl_clock_mono_us()) / 1000)))
			;
	}
	assert_int_equal(f->msg.type, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 3);
	assert_true(f->msg.u.result.ok); /* not cancelled with A's */
	/* A, silent, was left and connected again: a new READY. */
	f->router = a;
	s_expect(f, SL_MSG_READY);
	assert_int_equal(s_stop(f, 2), 0);
}

/*
 * Mixed deployment: a gateway before revision 6 (REGISTERED without
 * credit) cannot take a job back, so a job that finds the one thread
 * busy waits in the worker's queue: no RETURN, no CREDIT, both results.
 */
static void
test_io_a_gateway_without_credit_gets_no_credit_and_no_return(void **state)
{
	fixture_t *f = *state;

	s_start(f);
	s_expect(f, SL_MSG_READY);
	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w1", false, false), 0);
	s_send(f);
	s_send_sleep(f, 1, 200);
	s_send_sleep(f, 2, 10);
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 1);
	s_expect(f, SL_MSG_RESULT);
	assert_int_equal(f->msg.u.result.job, 2);
	assert_true(f->msg.u.result.ok);
	assert_int_equal(s_stop(f, 2), 0);
}

static void
test_io_bad_endpoint_fails_to_start(void **state)
{
	fixture_t *f = *state;
	volatile sig_atomic_t stop = 0;

	f->gws[0] = "nonsense://nowhere";
	assert_int_equal(cp_io_run(&f->cfg, &stop), SL_ESYS);
}

/* The next frame from the worker other than a PING, undecoded, into
 * f->frame: its length, or -1 on timeout. */
static int
s_recv_raw(fixture_t *f, int timeout_ms)
{
	int64_t end = sl_clock_mono_us() + (int64_t) timeout_ms * 1000;

	for (;;) {
		zmq_pollitem_t it = { f->router, 0, ZMQ_POLLIN, 0 };
		long left = (long) ((end - sl_clock_mono_us()) / 1000);
		int n;

		if (left <= 0 || zmq_poll(&it, 1, left) <= 0)
			return -1;
		n = zmq_recv(f->router, f->rid, sizeof f->rid, 0);
		assert_true(n > 0 && (size_t) n <= sizeof f->rid);
		f->rid_len = (size_t) n;
		n = zmq_recv(f->router, f->frame, sizeof f->frame, 0);
		assert_true(n > 0 && (size_t) n <= sizeof f->frame);
		if (sl_batch_is(f->frame, (size_t) n)
		    || sl_proto_decode(f->frame, (size_t) n, &f->msg, NULL)
		    || f->msg.type != SL_MSG_PING)
			return n;
	}
}

/* Count the RESULTs in frame (alone, or the entries of a BATCH) into
 * seen[job], and the frames that are neither RESULT nor PING. */
static void
s_count_results(const void *frame, size_t len, unsigned *seen, size_t n_seen,
    unsigned *other)
{
	sl_batch_reader_t r;
	const void *e = frame;
	size_t elen = len;
	bool batch = sl_batch_is(frame, len);
	sl_msg_t m;
	int rc = 1;

	if (batch)
		assert_int_equal(sl_batch_open(&r, frame, len, NULL), 0);
	sl_proto_msg_init(&m);
	while (!batch || (rc = sl_batch_next(&r, &e, &elen)) > 0) {
		assert_int_equal(sl_proto_decode(e, elen, &m, NULL), 0);
		if (m.type == SL_MSG_RESULT && m.u.result.job < n_seen)
			seen[m.u.result.job]++;
		else if (m.type != SL_MSG_PING)
			(*other)++;
		if (!batch)
			break;
	}
	assert_true(rc >= 0);
	sl_proto_msg_clear(&m);
	if (batch)
		sl_batch_close(&r);
}

/* A JOB frame for echo of a one-character item, appended to sb. */
static void
s_job_frame(msgpack_sbuffer *sb, uint64_t job)
{
	char item[2] = { (char) 0xa1, (char) ('a' + job) }; /* fixstr 1 */

	assert_int_equal(
	    sl_proto_encode_job(sb, job, "echo", 4, item, sizeof item, NULL),
	    0);
}

static void
test_io_batches_both_ways_once_the_gateway_says_it_takes_them(void **state)
{
	fixture_t *f = *state;
	sl_batch_t b;
	msgpack_sbuffer one;
	msgpack_packer pk;
	unsigned seen[8] = { 0 }, other = 0;
	sl_batch_reader_t r;
	int n;

	f->cfg.threads = 2;
	s_start(f);
	s_expect(f, SL_MSG_READY);
	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w1", false, false), 0);
	s_send(f);
	/* The announcement is answered with the worker's own. */
	assert_int_equal(sl_batch_encode_empty(&f->sb), 0);
	s_send(f);
	n = s_recv_raw(f, 5000);
	assert_true(n > 0 && sl_batch_is(f->frame, (size_t) n));
	assert_int_equal(sl_batch_open(&r, f->frame, (size_t) n, NULL), 0);
	assert_int_equal(r.n, 0);
	sl_batch_close(&r);

	/* Five jobs in one BATCH, with hostile entries between them: an
	 * integer, garbage bytes, a BATCH inside; each is dropped alone. */
	sl_batch_init(&b);
	msgpack_sbuffer_init(&one);
	for (uint64_t job = 1; job <= 5; job++) {
		msgpack_sbuffer_clear(&one);
		s_job_frame(&one, job);
		assert_int_equal(sl_batch_add(&b, one.data, one.size), 0);
		if (job == 2)
			assert_int_equal(sl_batch_add(&b, "\xc1junk", 5), 0);
		if (job == 3) {
			msgpack_sbuffer_clear(&one);
			assert_int_equal(sl_batch_encode_empty(&one), 0);
			assert_int_equal(
			    sl_batch_add(&b, one.data, one.size), 0);
		}
	}
	{
		const void *data;
		size_t len;

		sl_batch_frame(&b, &data, &len);
		assert_int_equal(msgpack_sbuffer_write(&f->sb, data, len), 0);
	}
	s_send(f);
	/* Every job answered once, alone or batched. */
	for (unsigned got = 0; got < 5;) {
		n = s_recv_raw(f, 5000);
		assert_true(n > 0);
		s_count_results(f->frame, (size_t) n, seen, 8, &other);
		got = seen[1] + seen[2] + seen[3] + seen[4] + seen[5];
	}
	for (int job = 1; job <= 5; job++)
		assert_int_equal(seen[job], 1);
	assert_int_equal(other, 0);

	/* Too many entries: the whole BATCH is dropped, the worker goes on. */
	msgpack_sbuffer_clear(&f->sb);
	msgpack_packer_init(&pk, &f->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_str_with_body(&pk, "BATCH", 5);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "msgs", 4);
	msgpack_pack_array(&pk, SL_BATCH_MAX_MSGS + 1);
	msgpack_sbuffer_clear(&one);
	s_job_frame(&one, 6);
	for (int i = 0; i <= SL_BATCH_MAX_MSGS; i++)
		msgpack_pack_bin_with_body(&pk, one.data, one.size);
	s_send(f);
	assert_int_equal(sl_proto_encode_empty(&f->sb, SL_MSG_PING), 0);
	s_send(f);
	s_expect(f, SL_MSG_PONG); /* and no RESULT for job 6 before it */
	msgpack_sbuffer_destroy(&one);
	sl_batch_destroy(&b);
	assert_int_equal(s_stop(f, 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_io_backoff_rule_is_jittered_by_20_percent_and_capped),
		cmocka_unit_test_setup_teardown(
		    test_io_registers_runs_a_job_and_answers_ping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_unknown_task_is_refused_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_drain_lets_a_running_job_finish_before_bye, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_silent_gateway_gets_capped_backoff_reconnects,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_health_file_says_ok_while_the_gateway_answers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_bad_endpoint_fails_to_start, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_a_gateway_without_credit_gets_no_credit_and_no_return,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_two_gateways_share_the_threads_by_credit_and_return,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_io_batches_both_ways_once_the_gateway_says_it_takes_them,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
