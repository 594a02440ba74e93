/*
 * test_pool: a worker's compute threads (compute/cp_pool).
 *
 * A pool of two threads; this thread plays the I/O thread: it polls the
 * pool's results eventfd and takes its frames (cp_results). JOB frames
 * are built with sl_proto_encode_job and decoded into cp_work_t exactly
 * as cp_io does. RESULTs are waited for with a bounded poll(2), decoded
 * and checked by job id. Timing bounds are generous (a
 * loaded 2-core machine): seconds, never milliseconds.
 */
#define _GNU_SOURCE  /* SCHED_BATCH, SCHED_IDLE */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "cp_pool.h"
#include "cp_stream.h"
#include "cp_task.h"
#include "sl_clock.h"
#include "sl_log.h"
#include "sl_proto.h"

#define THREADS 2
#define WAIT_MS 5000 /* longest wait for any one RESULT */

typedef struct fixture {
	cp_pool_t *pool;
	cp_result_t *taken; /* taken from the pool's results, not yet read */
	unsigned streamed;  /* PROGRESS and PARTIAL frames s_recv skipped */
	unsigned progress;  /* ... of which PROGRESS */
} fixture_t;

/* One RESULT frame, decoded. */
typedef struct result {
	uint64_t job;
	bool ok;
	char *value; /* ok: canonical JSON text; malloc'd */
	char code[SL_PROTO_MAX_NAME + 1];
	uint64_t cpu_us;
	uint64_t gen; /* the connection generation sent with it */
} result_t;

/* A pool of THREADS at priority prio, as setup makes it. */
static int
s_setup_prio(void **state, cp_prio_t prio)
{
	fixture_t *f = calloc(1, sizeof *f);
	char err[128] = "";

	if (!f)
		return -1;
	f->pool = cp_pool_new(THREADS, prio, err, sizeof err);
	if (!f->pool) {
		print_error("cp_pool_new: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return s_setup_prio(state, CP_PRIO_NORMAL);
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	cp_pool_destroy(&f->pool);
	cp_result_free_all(f->taken);
	free(f);
	return 0;
}

/* The generation s_push gives a job: a function of its id. */
#define S_GEN(job) ((job) *1000 + 7)

/* A decoded JOB: id job running task on the item (JSON text), as cp_io
 * makes it. */
static cp_work_t *
s_work(uint64_t job, const char *task, const char *item)
{
	msgpack_sbuffer it, sb;
	const char *why = NULL;
	cp_work_t *w;

	msgpack_sbuffer_init(&it);
	msgpack_sbuffer_init(&sb);
	sl_test_pack_json(&it, item);
	assert_int_equal(sl_proto_encode_job(&sb, job, task, strlen(task),
	                     it.data, it.size, NULL),
	    0);
	w = cp_pool_work_new(sb.data, sb.size);
	assert_non_null(w);
	msgpack_sbuffer_destroy(&it);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(sl_proto_decode(w->frame, w->len, &w->msg, &why), 0);
	assert_int_equal(w->msg.type, SL_MSG_JOB);
	assert_int_equal(w->msg.u.job.job, job);
	w->task = cp_task_find(w->msg.u.job.task.ptr, w->msg.u.job.task.len);
	assert_non_null(w->task);
	w->gen = S_GEN(job);
	return w;
}

/* Queue one job, as cp_io does for a lone JOB. */
static void
s_push(fixture_t *f, uint64_t job, const char *task, const char *item)
{
	cp_work_t *w = s_work(job, task, item);

	cp_pool_push(f->pool, &w);
	assert_null(w);
}

/* The next frame from the pool within timeout_ms (< 0: forever), or
 * NULL; the caller frees it. After cp_pool_destroy: NULL. */
static cp_result_t *
s_frame(fixture_t *f, long timeout_ms)
{
	int64_t deadline = sl_clock_mono_us() + timeout_ms * 1000;
	cp_result_t *r;

	while (!f->taken && f->pool) {
		struct pollfd pfd
		    = { cp_results_fd(cp_pool_results(f->pool)), POLLIN, 0 };
		int64_t left = (deadline - sl_clock_mono_us()) / 1000;
		int rc = poll(&pfd, 1,
		    timeout_ms < 0 ? -1
		        : left > 0 ? (int) left
		                   : 0);

		assert_true(rc >= 0);
		if (rc == 0)
			return NULL;
		f->taken = cp_results_take(cp_pool_results(f->pool));
	}
	if (!(r = f->taken))
		return NULL;
	f->taken = r->next;
	r->next = NULL;
	return r;
}

/* The next RESULT within timeout_ms: true with *r filled (caller frees
 * r->value), false if none came. */
static bool
s_recv(fixture_t *f, long timeout_ms, result_t *r)
{
	int64_t deadline = sl_clock_mono_us() + timeout_ms * 1000;
	const char *why = NULL;
	cp_result_t *fr;
	sl_msg_t m;

	memset(r, 0, sizeof *r);
	/* stream frames do not extend the wait */
	while (
	    (fr = s_frame(f,
	         timeout_ms < 0 ? -1 : (deadline - sl_clock_mono_us()) / 1000))
	    && fr->stream) {
		/* a running task's stream frame (test_stream.c): count it */
		sl_proto_msg_init(&m);
		assert_int_equal(
		    sl_proto_decode(fr->data, fr->len, &m, &why), 0);
		f->streamed++;
		f->progress += m.type == SL_MSG_PROGRESS;
		sl_proto_msg_clear(&m);
		free(fr);
	}
	if (!fr)
		return false;
	r->gen = fr->gen;
	sl_proto_msg_init(&m);
	if (sl_proto_decode(fr->data, fr->len, &m, &why)) {
		print_error("pool sent an undecodable frame: %s\n", why);
		fail();
	}
	assert_int_equal(m.type, SL_MSG_RESULT);
	r->job = m.u.result.job;
	r->ok = m.u.result.ok;
	r->cpu_us = m.u.result.times.cpu_us;
	if (r->ok) {
		json_t *j = NULL;

		assert_int_equal(
		    sl_json_from_mp(m.u.result.value, &j, &why), 0);
		r->value = sl_test_dumps(j);
		json_decref(j);
	} else {
		assert_true(m.u.result.code.len < sizeof r->code);
		memcpy(r->code, m.u.result.code.ptr, m.u.result.code.len);
		r->code[m.u.result.code.len] = '\0';
	}
	sl_proto_msg_clear(&m);
	free(fr);
	return true;
}

/* The next RESULT, which must come within WAIT_MS. */
static result_t
s_expect(fixture_t *f)
{
	result_t r;

	if (!s_recv(f, WAIT_MS, &r)) {
		print_error("no RESULT within %d ms\n", WAIT_MS);
		fail();
	}
	return r;
}

/* Wait (bounded) until the pool's load is want. */
static void
s_wait_load(fixture_t *f, size_t want)
{
	struct timespec ts = { 0, 1000000 };
	int64_t end = sl_clock_mono_us() + WAIT_MS * 1000LL;
	size_t load;

	while (
	    (load = cp_pool_load(f->pool)) != want && sl_clock_mono_us() < end)
		nanosleep(&ts, NULL);
	if (load != want) {
		print_error("load is %zu, expected %zu\n", load, want);
		fail();
	}
}

static void
s_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- running jobs ------------------------------------------------------- */

typedef struct job_row {
	uint64_t job;
	const char *task;
	const char *item;
	const char *value; /* NULL: fails with code */
	const char *code;
} job_row_t;

static void
test_pool_runs_each_job_and_sends_one_result_for_it(void **state)
{
	static const job_row_t rows[] = {
		{ 1, "echo", "{\"a\":[1,2]}", "{\"a\":[1,2]}", NULL },
		{ 2, "sha256", "\"abc\"",
		    "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
		    "1"
		    "f20015ad\"",
		    NULL },
		{ 3, "primes", "100", "25", NULL },
		{ 4, "sleep", "10", "10", NULL },
		{ 5, "burn", "\"x\"", NULL, "bad_item" },
		{ 6, "primes", "-1", NULL, "bad_item" },
		{ 1ULL << 40, "echo", "null", "null", NULL },
	};
	fixture_t *f = *state;
	int seen[SL_N(rows)] = { 0 };
	result_t r;

	for (size_t i = 0; i < SL_N(rows); i++)
		s_push(f, rows[i].job, rows[i].task, rows[i].item);
	for (size_t n = 0; n < SL_N(rows); n++) {
		size_t i;

		r = s_expect(f);
		for (i = 0; i < SL_N(rows) && rows[i].job != r.job; i++)
			;
		if (i == SL_N(rows)) {
			print_error("RESULT for unknown job %llu\n",
			    (unsigned long long) r.job);
			fail();
		}
		seen[i]++;
		sl_assert_row_int(rows[i].item, r.ok, rows[i].value != NULL);
		if (rows[i].value)
			sl_assert_row_str(
			    rows[i].item, r.value, rows[i].value);
		else
			sl_assert_row_str(rows[i].item, r.code, rows[i].code);
		free(r.value);
	}
	for (size_t i = 0; i < SL_N(rows); i++)
		sl_assert_row_int(rows[i].item, seen[i], 1);
	s_wait_load(f, 0);
	/* and nothing more */
	assert_false(s_recv(f, 100, &r));
}

static void
test_pool_result_reports_the_cpu_time_of_the_task(void **state)
{
	fixture_t *f = *state;
	result_t r;

	s_push(f, 9, "burn", "30");
	r = s_expect(f);
	assert_int_equal(r.job, 9);
	assert_true(r.ok);
	assert_string_equal(r.value, "30");
	free(r.value);
	if (r.cpu_us < 30000) {
		print_error("burn 30 reported cpu_us %llu\n",
		    (unsigned long long) r.cpu_us);
		fail();
	}
}

/* burn reports its progress as it runs (task API 2): a 200 ms item
 * gives several PROGRESS frames (one per 10 ms slice at most, coalesced
 * to one per 25 ms of wall time), all
 * before its RESULT. */
static void
test_pool_burn_reports_progress_before_its_result(void **state)
{
	fixture_t *f = *state;
	result_t r;

	s_push(f, 10, "burn", "200");
	r = s_expect(f);
	assert_true(r.ok);
	free(r.value);
	if (f->progress < 3 || f->progress > 40) {
		print_error("burn 200 gave %u progress frames\n", f->progress);
		fail();
	}
}

static void
test_pool_many_jobs_each_come_back_exactly_once(void **state)
{
	fixture_t *f = *state;
	int seen[40] = { 0 };
	result_t r;

	for (uint64_t j = 0; j < SL_N(seen); j++) {
		char item[16];

		snprintf(item, sizeof item, "%llu", (unsigned long long) j);
		s_push(f, 100 + j, "echo", item);
	}
	for (size_t n = 0; n < SL_N(seen); n++) {
		char want[16];

		r = s_expect(f);
		assert_true(r.job >= 100 && r.job < 100 + SL_N(seen));
		seen[r.job - 100]++;
		snprintf(want, sizeof want, "%llu",
		    (unsigned long long) (r.job - 100));
		assert_true(r.ok);
		assert_string_equal(r.value, want);
		free(r.value);
	}
	for (size_t j = 0; j < SL_N(seen); j++)
		assert_int_equal(seen[j], 1);
	assert_false(s_recv(f, 100, &r));
	s_wait_load(f, 0);
}

static void
test_pool_results_carry_their_jobs_connection_generation(void **state)
{
	fixture_t *f = *state;
	result_t r;

	/* cp_io drops a result whose generation is not its current one:
	 * each result must carry its own job's, not another's. */
	s_push(f, 3, "echo", "1");
	s_push(f, 9, "echo", "2");
	for (int i = 0; i < 2; i++) {
		r = s_expect(f);
		assert_int_equal(r.gen, S_GEN(r.job));
		free(r.value);
	}
}

/* ---- load and cancel ---------------------------------------------------- */

static void
test_pool_cancel_of_a_running_job_ends_it_as_cancelled(void **state)
{
	fixture_t *f = *state;
	int64_t t0;
	result_t r;

	s_push(f, 7, "sleep", "5000");
	s_sleep_ms(100); /* let a thread take it */
	t0 = sl_clock_mono_us();
	assert_true(cp_pool_cancel(f->pool, 7));
	r = s_expect(f);
	assert_int_equal(r.job, 7);
	assert_false(r.ok);
	assert_string_equal(r.code, "cancelled");
	if (sl_clock_mono_us() - t0 > 2000000) {
		print_error("cancelled sleep 5000 took %lld us to end\n",
		    (long long) (sl_clock_mono_us() - t0));
		fail();
	}
	s_wait_load(f, 0);
	/* it is gone: cancelling it again finds nothing */
	assert_false(cp_pool_cancel(f->pool, 7));
}

static void
test_pool_cancel_of_an_unknown_job_returns_false(void **state)
{
	fixture_t *f = *state;
	result_t r;

	assert_false(cp_pool_cancel(f->pool, 12345));
	s_push(f, 1, "sleep", "5000");
	assert_false(cp_pool_cancel(f->pool, 2));
	assert_int_equal(cp_pool_load(f->pool), 1);
	assert_true(cp_pool_cancel(f->pool, 1));
	r = s_expect(f);
	assert_int_equal(r.job, 1);
	assert_string_equal(r.code, "cancelled");
}

static void
test_pool_cancel_of_a_queued_job_ends_it_without_running_it(void **state)
{
	fixture_t *f = *state;
	int got[4] = { 0 };
	result_t r;

	/* both threads busy, a third job waits */
	s_push(f, 1, "sleep", "5000");
	s_push(f, 2, "sleep", "5000");
	s_push(f, 3, "echo", "\"must not run\"");
	assert_int_equal(cp_pool_load(f->pool), 3);
	assert_true(cp_pool_cancel(f->pool, 3));
	assert_true(cp_pool_cancel(f->pool, 1));
	assert_true(cp_pool_cancel(f->pool, 2));
	for (int n = 0; n < 3; n++) {
		r = s_expect(f);
		assert_true(r.job >= 1 && r.job <= 3);
		got[r.job]++;
		assert_false(r.ok);
		assert_string_equal(r.code, "cancelled");
	}
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 1);
	assert_int_equal(got[3], 1);
	s_wait_load(f, 0);
}

static void
test_pool_load_counts_queued_and_running_jobs_and_cancel_all_ends_them(
    void **state)
{
	fixture_t *f = *state;
	int got[6] = { 0 };
	int64_t t0;
	result_t r;

	assert_int_equal(cp_pool_load(f->pool), 0);
	for (uint64_t j = 1; j <= 5; j++)
		s_push(f, j, "sleep", "5000");
	/* two run, three wait: five either way */
	assert_int_equal(cp_pool_load(f->pool), 5);
	s_sleep_ms(100);
	assert_int_equal(cp_pool_load(f->pool), 5);
	assert_false(s_recv(f, 0, &r));
	t0 = sl_clock_mono_us();
	cp_pool_cancel_all(f->pool);
	for (int n = 0; n < 5; n++) {
		r = s_expect(f);
		assert_true(r.job >= 1 && r.job <= 5);
		got[r.job]++;
		assert_false(r.ok);
		assert_string_equal(r.code, "cancelled");
	}
	assert_true(sl_clock_mono_us() - t0 < 3000000);
	for (int j = 1; j <= 5; j++)
		assert_int_equal(got[j], 1);
	s_wait_load(f, 0);
	/* the pool still works afterwards: cancel_all is not a stop */
	cp_pool_cancel_all(f->pool); /* nothing to cancel */
	s_push(f, 6, "echo", "6");
	r = s_expect(f);
	assert_int_equal(r.job, 6);
	assert_true(r.ok);
	assert_string_equal(r.value, "6");
	free(r.value);
	s_wait_load(f, 0);
}

/* Job ids are unique per gateway only: a gateway's CANCEL reaches only
 * its own connection's job, and a lost gateway's jobs are cancelled by
 * generation, the others' left running. */
static void
test_pool_cancel_by_generation_leaves_other_connections_jobs(void **state)
{
	fixture_t *f = *state;
	result_t r;

	for (uint64_t j = 1; j <= 3; j++) /* 1 and 2 run, 3 waits */
		s_push(f, j, "sleep", "5000");
	s_sleep_ms(50);
	assert_false(cp_pool_cancel_job(f->pool, S_GEN(1) + 1, 1));
	assert_true(cp_pool_cancel_job(f->pool, S_GEN(1), 1));
	assert_int_equal(cp_pool_cancel_gen(f->pool, S_GEN(3)), 1);
	assert_int_equal(cp_pool_cancel_gen(f->pool, 12345), 0);
	for (int n = 0; n < 2; n++) {
		r = s_expect(f);
		assert_true(r.job == 1 || r.job == 3);
		assert_string_equal(r.code, "cancelled");
	}
	assert_false(s_recv(f, 200, &r)); /* job 2 runs on */
	assert_int_equal(cp_pool_load(f->pool), 1);
	cp_pool_cancel_all(f->pool);
	r = s_expect(f);
	assert_int_equal(r.job, 2);
	s_wait_load(f, 0);
}

/* ---- chunks: several jobs per lock hold and wake-up --------------------- */

/* Run task on item alone until the pool's estimate of it is under
 * CP_POOL_SHORT_US / 2 (a loaded machine may need a few runs). */
static void
s_warm(fixture_t *f, const char *task, const char *item)
{
	const cp_task_t *t = cp_task_find(task, strlen(task));
	int64_t e = -1;
	result_t r;

	for (uint64_t j = 0; j < 200; j++) {
		s_push(f, 90000 + j, task, item);
		r = s_expect(f);
		free(r.value);
		s_wait_load(f, 0);
		e = cp_pool_estimate_us(f->pool, t);
		if (e >= 0 && e < CP_POOL_SHORT_US / 2)
			return;
	}
	print_error(
	    "%s never estimated short: %lld us\n", task, (long long) e);
	fail();
}

/* Queue jobs first..first+n-1 of task on item as one list (a BATCH). */
static void
s_push_n(
    fixture_t *f, uint64_t first, size_t n, const char *task, const char *item)
{
	cp_work_t *head = NULL, **end = &head;

	for (size_t i = 0; i < n; i++) {
		*end = s_work(first + i, task, item);
		end = &(*end)->next;
	}
	cp_pool_push_list(f->pool, &head);
	assert_null(head);
}

/* A BATCH of 64 short jobs: at most one wake-up per sleeping thread,
 * taken several at a time, each answered once. */
static void
test_pool_takes_short_jobs_in_chunks_and_wakes_few_threads(void **state)
{
	fixture_t *f = *state;
	cp_pool_stats_t a, b;
	int seen[64] = { 0 };
	result_t r;

	s_warm(f, "echo", "1");
	s_sleep_ms(20); /* both threads asleep */
	cp_pool_stats(f->pool, &a);
	s_push_n(f, 1, SL_N(seen), "echo", "2");
	for (size_t n = 0; n < SL_N(seen); n++) {
		r = s_expect(f);
		assert_true(r.job >= 1 && r.job <= SL_N(seen));
		seen[r.job - 1]++;
		assert_true(r.ok);
		/* not timed (under 1 us: 0), or bounded by its wall time */
		assert_true(r.cpu_us < 1000000);
		free(r.value);
	}
	s_wait_load(f, 0);
	cp_pool_stats(f->pool, &b);
	for (size_t j = 0; j < SL_N(seen); j++)
		assert_int_equal(seen[j], 1);
	if (b.wakes - a.wakes > THREADS || b.chunks - a.chunks > 16) {
		print_error("64 echo jobs: %llu wake-ups, %llu chunks\n",
		    (unsigned long long) (b.wakes - a.wakes),
		    (unsigned long long) (b.chunks - a.chunks));
		fail();
	}
	assert_true(b.jobs - a.jobs == SL_N(seen));
}

/* Jobs of a task estimated under 1 us are not timed by the thread CPU
 * clock (a system call); a long job between them on the same threads
 * still reports its own CPU time, not theirs or less. */
static void
test_pool_cpu_time_stays_per_job_beside_untimed_tiny_jobs(void **state)
{
	fixture_t *f = *state;
	cp_work_t *head = NULL, **end = &head;
	result_t r;

	s_warm(f, "echo", "1");
	for (uint64_t j = 1; j <= 41; j++) {
		*end = j == 21 ? s_work(j, "burn", "30")
		               : s_work(j, "echo", "1");
		end = &(*end)->next;
	}
	cp_pool_push_list(f->pool, &head);
	for (int n = 0; n < 41; n++) {
		r = s_expect(f);
		assert_true(r.ok);
		if (r.job == 21 && (r.cpu_us < 30000 || r.cpu_us > 2000000)) {
			print_error("burn 30 beside echo jobs: cpu_us %llu\n",
			    (unsigned long long) r.cpu_us);
			fail();
		}
		free(r.value);
	}
	s_wait_load(f, 0);
}

/* Long jobs are never taken together: two of them run on two threads at
 * once, whatever the list they came in. */
static void
test_pool_takes_long_jobs_one_per_thread(void **state)
{
	fixture_t *f = *state;
	cp_pool_stats_t a, b;
	result_t r;

	s_push(f, 1, "sleep", "100"); /* estimate: 100 ms */
	r = s_expect(f);
	free(r.value);
	s_wait_load(f, 0);
	cp_pool_stats(f->pool, &a);
	s_push_n(f, 2, 2, "sleep", "300");
	s_sleep_ms(100);
	cp_pool_stats(f->pool, &b);
	assert_true(b.chunks - a.chunks == 2); /* both started */
	assert_true(b.wakes - a.wakes == 2);
	for (int n = 0; n < 2; n++) {
		r = s_expect(f);
		assert_true(r.ok);
		free(r.value);
	}
	s_wait_load(f, 0);
}

/* A job's PARTIAL frames come in order and before its RESULT, also with
 * several such jobs running on both threads and short jobs between. */
static void
test_pool_partials_come_before_their_result_in_order(void **state)
{
	fixture_t *f = *state;
	uint32_t next[4] = { 0 };
	int results = 0;
	cp_result_t *fr;

	for (uint64_t j = 1; j <= 3; j++) {
		s_push(f, j, "partials", "{\"n\":2000,\"ms\":0}");
		s_push(f, 10 + j, "echo", "1");
	}
	while (results < 6 && (fr = s_frame(f, WAIT_MS))) {
		sl_msg_t m;

		sl_proto_msg_init(&m);
		assert_int_equal(
		    sl_proto_decode(fr->data, fr->len, &m, NULL), 0);
		if (m.type == SL_MSG_PARTIAL) {
			uint64_t j = m.u.partial.job;

			assert_true(fr->stream && j >= 1 && j <= 3);
			assert_int_equal(m.u.partial.index, next[j]);
			next[j]++;
		} else if (m.type == SL_MSG_RESULT) {
			uint64_t j = m.u.result.job;

			assert_false(fr->stream);
			if (j <= 3)
				assert_int_equal(next[j], 2000);
			results++;
		}
		sl_proto_msg_clear(&m);
		free(fr);
	}
	assert_int_equal(results, 6);
	s_wait_load(f, 0);
}

/* A job waiting in a thread's taken chunk (behind a job that turned out
 * long) can still be cancelled: found, counted in the load, and it ends
 * as cancelled. */
static void
test_pool_cancel_reaches_a_job_in_a_taken_chunk(void **state)
{
	fixture_t *f = *state;
	cp_work_t *head = s_work(1, "sleep", "400");
	cp_pool_stats_t a, b;
	int got[3] = { 0 };
	result_t r;

	s_warm(f, "sleep", "0");
	s_sleep_ms(20); /* both threads asleep */
	cp_pool_stats(f->pool, &a);
	head->next = s_work(2, "sleep", "0");
	cp_pool_push_list(f->pool, &head);
	s_sleep_ms(100);
	cp_pool_stats(f->pool, &b);
	/* one thread took both (sleep is estimated short), one wake-up */
	assert_true(b.chunks - a.chunks == 1);
	assert_true(b.jobs - a.jobs == 2);
	assert_true(b.wakes - a.wakes == 1);
	assert_int_equal(cp_pool_load(f->pool), 2);
	assert_true(cp_pool_cancel(f->pool, 2));
	for (int n = 0; n < 2; n++) {
		r = s_expect(f);
		assert_true(r.job == 1 || r.job == 2);
		got[r.job]++;
		if (r.job == 1) {
			assert_true(r.ok);
			free(r.value);
		} else {
			assert_false(r.ok);
			assert_string_equal(r.code, "cancelled");
		}
	}
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 1);
	s_wait_load(f, 0);
	assert_false(cp_pool_cancel(f->pool, 2));
}

/* ---- destroy ------------------------------------------------------------ */

static void
test_pool_destroy_stops_running_jobs_and_frees_queued_ones(void **state)
{
	fixture_t *f = *state;
	int64_t t0;
	result_t r;

	s_push(f, 1, "sleep", "5000");
	s_push(f, 2, "burn", "60000");
	s_sleep_ms(100);
	/* queued behind them: freed unrun (ASan checks the frees) */
	s_push(f, 3, "echo", "3");
	s_push(f, 4, "sleep", "5000");
	s_push(f, 5, "primes", "1000");
	assert_int_equal(cp_pool_load(f->pool), 5);
	t0 = sl_clock_mono_us();
	cp_pool_destroy(&f->pool);
	assert_null(f->pool);
	if (sl_clock_mono_us() - t0 > 3000000) {
		print_error("destroy took %lld us\n",
		    (long long) (sl_clock_mono_us() - t0));
		fail();
	}
	/* whatever came back ended as cancelled, and only the running
	 * ones: a queued job is never started once stopping */
	while (s_recv(f, 200, &r)) {
		assert_true(r.job == 1 || r.job == 2);
		assert_false(r.ok);
		assert_string_equal(r.code, "cancelled");
	}
	cp_pool_destroy(&f->pool); /* NULL-safe */
	cp_pool_destroy(NULL);
}

static void
test_pool_destroy_of_an_idle_pool_returns_promptly(void **state)
{
	fixture_t *f = *state;
	int64_t t0 = sl_clock_mono_us();

	cp_pool_destroy(&f->pool);
	assert_null(f->pool);
	assert_true(sl_clock_mono_us() - t0 < 3000000);
}

/*
 * cp_pool.h: each compute thread sets itself to the pool's priority as it
 * starts (cp_prio.h: batch is SCHED_BATCH at nice +10, idle SCHED_IDLE),
 * seen from outside on its tid as any tool would, and still runs jobs.
 * The I/O thread (this one) keeps its own.
 */
static void
s_check_prio(cp_prio_t prio, int policy, int nice_up)
{
	void *state = NULL;
	fixture_t *f;
	int base, mine;
	result_t r;

	errno = 0;
	base = getpriority(PRIO_PROCESS, 0);
	assert_int_equal(errno, 0);
	assert_int_equal(s_setup_prio(&state, prio), 0);
	f = state;
	for (unsigned i = 0; i < THREADS; i++) {
		pid_t tid = 0;

		for (int k = 0; k < 500 && !tid; k++) {
			tid = cp_pool_thread_tid(f->pool, i);
			if (!tid)
				s_sleep_ms(10);
		}
		assert_true(tid > 0);
		assert_int_not_equal(tid, getpid());
		assert_int_equal(sched_getscheduler(tid), policy);
		errno = 0;
		mine = getpriority(PRIO_PROCESS, (id_t) tid);
		assert_int_equal(errno, 0);
		assert_int_equal(
		    mine, base + nice_up > 19 ? 19 : base + nice_up);
	}
	assert_int_equal(cp_pool_thread_tid(f->pool, THREADS), 0);
	assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
	assert_int_equal(getpriority(PRIO_PROCESS, 0), base);
	s_push(f, 1, "primes", "100");
	r = s_expect(f);
	assert_true(r.ok);
	free(r.value);
	teardown(&state);
}

static void
test_pool_threads_run_at_the_chosen_priority(void **state)
{
	(void) state;
	s_check_prio(CP_PRIO_NORMAL, SCHED_OTHER, 0);
	s_check_prio(CP_PRIO_BATCH, SCHED_BATCH, CP_PRIO_NICE);
	/* SCHED_IDLE keeps the nice value: it means nothing there */
	s_check_prio(CP_PRIO_IDLE, SCHED_IDLE, 0);
}

static void
test_pool_work_new_copies_the_frame(void **state)
{
	uint8_t frame[] = { 1, 2, 3, 4 };
	cp_work_t *w = cp_pool_work_new(frame, sizeof frame);

	(void) state;
	assert_non_null(w);
	frame[0] = 9;
	assert_int_equal(w->len, 4);
	assert_int_equal(w->frame[0], 1);
	assert_null(w->task);
	assert_false(atomic_load(&w->cancel));
	cp_pool_work_destroy(&w);
	assert_null(w);
	cp_pool_work_destroy(&w); /* NULL-safe */
	cp_pool_work_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_pool_runs_each_job_and_sends_one_result_for_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_result_reports_the_cpu_time_of_the_task, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_burn_reports_progress_before_its_result, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_many_jobs_each_come_back_exactly_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cancel_of_a_running_job_ends_it_as_cancelled,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cancel_of_an_unknown_job_returns_false, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cancel_of_a_queued_job_ends_it_without_running_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_load_counts_queued_and_running_jobs_and_cancel_all_ends_them,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cancel_by_generation_leaves_other_connections_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_destroy_stops_running_jobs_and_frees_queued_ones,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_destroy_of_an_idle_pool_returns_promptly, setup,
		    teardown),
		cmocka_unit_test(test_pool_work_new_copies_the_frame),
		cmocka_unit_test(test_pool_threads_run_at_the_chosen_priority),
		cmocka_unit_test_setup_teardown(
		    test_pool_results_carry_their_jobs_connection_generation,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_takes_short_jobs_in_chunks_and_wakes_few_threads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_takes_long_jobs_one_per_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cpu_time_stays_per_job_beside_untimed_tiny_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_partials_come_before_their_result_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_cancel_reaches_a_job_in_a_taken_chunk, setup,
		    teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
