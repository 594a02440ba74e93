/*
 * cp_pool: compute threads (see cp_pool.h).
 */
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_pool.h"
#include "cp_prio.h"
#include "cp_stream.h"
#include "sl_clock.h"
#include "sl_log.h"

/* A task's run-time estimate: an exponentially weighted moving average
 * (1/8 weight to the newest run), in 1/16 µs. */
typedef struct cp_pool_est {
	const cp_task_t *task;
	int64_t avg16;
} cp_pool_est_t;

struct cp_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* {lock} work queued or stopping */
	cp_work_t *head, *tail; /* {lock} FIFO of jobs to run */
	size_t load;            /* {lock} queued + taken, result not handed */
	unsigned idle;          /* {lock} threads waiting on cond */
	unsigned woken;         /* {lock} of those, signalled, not yet up */
	cp_pool_est_t est[SL_PROTO_MAX_TASKS]; /* {lock} per task */
	size_t n_est;                          /* {lock} in use */
	cp_pool_stats_t stats;                 /* {lock} */
	atomic_bool stop;                      /* tasks and threads give up */
	unsigned n_threads;                    /* started */
	pthread_t *threads;
	cp_work_t **running; /* {lock} per thread: the chunk it took (a chain
	                        through next), or NULL */
	_Atomic pid_t *tids; /* per thread: its kernel id once started, or 0 */
	cp_prio_t prio;      /* what each thread sets itself to at start */
	atomic_bool prio_warned; /* a thread could not: said once, for all */
	cp_results_t *res;       /* frames to the I/O thread */
};

typedef struct cp_thread_arg {
	cp_pool_t *pool;
	unsigned index; /* slot in pool->running */
} cp_thread_arg_t;

/* What a compute thread keeps between jobs. */
typedef struct cp_thread {
	cp_pool_t *pool;
	unsigned index;
	msgpack_sbuffer sb, value; /* the RESULT, the task's value */
	cp_stream_t st;            /* its PROGRESS and PARTIAL */
	cp_result_list_t held;     /* results of the chunk, not yet handed */
	int64_t cpu_ns;            /* thread CPU time at its last read */
} cp_thread_t;

cp_work_t *
cp_pool_work_new(const void *frame, size_t len)
{
	cp_work_t *w = malloc(sizeof *w + len);

	if (!w)
		return NULL;
	w->next = NULL;
	atomic_init(&w->cancel, false);
	atomic_init(&w->done, false);
	w->run_ns = 0;
	w->tiny = false;
	w->task = NULL;
	w->gen = 0;
	w->t_recv_us = sl_clock_mono_us();
	w->len = len;
	memcpy(w->frame, frame, len);
	sl_proto_msg_init(&w->msg);
	return w;
}

void
cp_pool_work_destroy(cp_work_t **work_p)
{
	if (!work_p || !*work_p)
		return;
	sl_proto_msg_clear(&(*work_p)->msg);
	free(*work_p);
	*work_p = NULL;
}

/* task's estimate slot, or NULL (none yet; or the table is full: such
 * tasks are taken as long ones). */
static cp_pool_est_t *
s_est_locked(cp_pool_t *self, const cp_task_t *task, bool add)
{
	for (size_t i = 0; i < self->n_est; i++)
		if (self->est[i].task == task)
			return &self->est[i];
	if (!add || self->n_est == SL_PROTO_MAX_TASKS)
		return NULL;
	self->est[self->n_est] = (cp_pool_est_t) { task, -1 };
	return &self->est[self->n_est++];
}

/* task's estimate in µs, -1 if none (a task never seen counts as long:
 * its first job is taken alone). */
static int64_t
s_estimate_locked(cp_pool_t *self, const cp_task_t *task)
{
	cp_pool_est_t *e = s_est_locked(self, task, false);

	return e && e->avg16 >= 0 ? e->avg16 / 16 : -1;
}

/* How many jobs from w on make one chunk: the jobs of short tasks while
 * their estimates fit CP_POOL_CHUNK_US; at least one. */
static size_t
s_chunk_len_locked(cp_pool_t *self, const cp_work_t *w)
{
	int64_t sum = 0;
	size_t n = 0;

	for (; w && n < CP_POOL_CHUNK_MAX; w = w->next, n++) {
		int64_t e = s_estimate_locked(self, w->task);

		if (e < 0 || e >= CP_POOL_SHORT_US
		    || (n && sum + e > CP_POOL_CHUNK_US))
			return n ? n : 1;
		sum += e;
	}
	return n;
}

/* Wake as many sleeping threads as the queue has chunks for, counting
 * those already woken and not yet up. */
static void
s_wake_locked(cp_pool_t *self)
{
	unsigned asleep
	    = self->idle > self->woken ? self->idle - self->woken : 0,
	    want = 0;
	const cp_work_t *w = self->head;

	while (w && want < asleep) {
		size_t n = s_chunk_len_locked(self, w);

		while (n-- && w)
			w = w->next;
		want++;
	}
	for (unsigned i = 0; i < want; i++)
		pthread_cond_signal(&self->cond);
	self->woken += want;
	self->stats.wakes += want;
}

static int64_t
s_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * RESULT's cpu_us for a job that ran wall_ns, its thread's CPU clock read
 * at cpu0 before it unless it is tiny. That clock is a system call (1.8
 * us on this VM, more than an echo job costs), so a job of a task that
 * takes under 1 us (its estimate) is not timed: CPU time never exceeds
 * wall time, so under 1 us of wall time it is 0 us, exactly. If such a
 * job ran longer after all, the clock is read after it and the smaller
 * of two upper bounds is reported: its wall time, and the CPU time since
 * the thread's last read. Otherwise it is exact.
 */
static uint64_t
s_cpu_us(cp_thread_t *t, bool tiny, int64_t cpu0, int64_t wall_ns)
{
	int64_t cpu, us;

	if (tiny && wall_ns < 1000)
		return 0;
	cpu = sl_clock_thread_cpu_ns();
	us = (cpu - (tiny ? t->cpu_ns : cpu0)) / 1000;
	t->cpu_ns = cpu;
	if (tiny && us > wall_ns / 1000)
		us = wall_ns / 1000;
	return us > 0 ? (uint64_t) us : 0;
}

/* Run one job (its progress and partials leave through t->st as it
 * runs) and add its RESULT to t->held. */
static void
s_run(cp_thread_t *t, cp_work_t *w)
{
	const sl_msg_job_t *job = &w->msg.u.job;
	cp_task_ctx_t ctx
	    = { &t->pool->stop, &w->cancel, &cp_stream_host, &t->st };
	cp_task_err_t err = { "task_failed", "" };
	msgpack_sbuffer *value = &t->value, *sb = &t->sb;
	msgpack_packer pk;
	int64_t cpu0 = w->tiny ? 0 : sl_clock_thread_cpu_ns();
	int64_t start = s_mono_ns(), wall;
	sl_proto_times_t times = { .start_us = start / 1000 - w->t_recv_us };
	cp_result_t *r;
	int rc;

	cp_stream_begin(&t->st, w->gen, job->job);
	msgpack_sbuffer_clear(value);
	msgpack_packer_init(&pk, value, msgpack_sbuffer_write);
	if (atomic_load(&w->cancel)) /* cancelled while queued */
		rc = cp_task_fail(&err, "cancelled", "job cancelled");
	else
		rc = w->task->run(job->item, &pk, &err, &ctx);
	wall = s_mono_ns() - start;
	w->run_ns = wall;
	times.run_us = wall / 1000;
	times.cpu_us = s_cpu_us(t, w->tiny, cpu0, wall);
	times.t_done_us = sl_clock_wall_us();
	SL_DEBUG("JOB-END",
	    "job=%llu trace=%.*s ok=%d start_us=%lld run_us=%lld",
	    (unsigned long long) job->job, (int) job->trace.len,
	    job->trace.len ? job->trace.ptr : "-", rc == 0 && value->size,
	    (long long) times.start_us, (long long) times.run_us);
	msgpack_sbuffer_clear(sb);
	if (rc == 0 && value->size)
		rc = sl_proto_encode_result_ok(
		    sb, job->job, value->data, value->size, &times);
	else
		rc = sl_proto_encode_result_err(
		    sb, job->job, err.code, err.message, &times);
	r = rc ? NULL : cp_result_new(w->gen, false, sb->data, sb->size);
	if (!r) /* out of memory even for the error: say so, smaller */
		SL_ERR("JOB-ENOMEM", "job=%llu result lost",
		    (unsigned long long) job->job);
	else
		cp_result_list_push(&t->held, r);
	atomic_store(&w->done, true);
}

/* A new compute thread takes the pool's priority before any job; a
 * refusal (a container's seccomp profile) costs latency, not function. */
static void
s_thread_start(cp_pool_t *self, unsigned index)
{
	int rc = cp_prio_apply(self->prio);

	if (rc && !atomic_exchange(&self->prio_warned, true))
		SL_WARN("POOL-PRIO",
		    "compute threads run at normal priority, not %s: %s",
		    cp_prio_name(self->prio), strerror(-rc));
	atomic_store(&self->tids[index], cp_prio_tid());
}

/* The chunk that ended (first, a chain) is accounted for: its jobs end
 * (the results are handed over) and feed their tasks' estimates. */
static void
s_finish_locked(cp_pool_t *self, unsigned index, const cp_work_t *first)
{
	size_t n = 0;

	for (const cp_work_t *w = first; w; w = w->next, n++) {
		cp_pool_est_t *e = s_est_locked(self, w->task, true);

		if (e)
			e->avg16 = e->avg16 < 0 ? w->run_ns * 16 / 1000
			                        : e->avg16
			        + (w->run_ns * 16 / 1000 - e->avg16) / 8;
	}
	self->load -= n;
	self->running[index] = NULL;
}

/* The next chunk, sleeping while the queue is empty: its first job (a
 * chain through next), or NULL once the pool stops. */
static cp_work_t *
s_take_locked(cp_pool_t *self, unsigned index)
{
	cp_work_t *first, *last;
	size_t n;

	while (!self->head && !atomic_load(&self->stop)) {
		self->idle++;
		pthread_cond_wait(&self->cond, &self->lock);
		self->idle--;
		if (self->woken) /* (or a spurious wake-up: no matter) */
			self->woken--;
	}
	if (atomic_load(&self->stop))
		return NULL;
	n = s_chunk_len_locked(self, self->head);
	self->stats.chunks++;
	self->stats.jobs += n;
	first = last = self->head;
	while (--n)
		last = last->next;
	self->head = last->next;
	if (!self->head)
		self->tail = NULL;
	last->next = NULL;
	self->running[index] = first;
	for (cp_work_t *w = first; w; w = w->next) {
		cp_pool_est_t *e = s_est_locked(self, w->task, false);

		w->tiny = e && e->avg16 >= 0 && e->avg16 < 16; /* < 1 us */
	}
	/* Jobs left and a thread asleep that nobody woke (the estimates
	 * changed since the push, so the chunks did too): wake it, so that
	 * no job waits for a busy thread while another sleeps. */
	if (self->head)
		s_wake_locked(self);
	return first;
}

/* The chunk overran its budget after w (an estimate was wrong): the jobs
 * after w go back to the queue's head, for any thread. */
static void
s_give_back(cp_pool_t *self, cp_work_t *w)
{
	cp_work_t *rest, *last;

	pthread_mutex_lock(&self->lock);
	rest = last = w->next;
	w->next = NULL;
	self->stats.jobs--;
	while (last->next) {
		last = last->next;
		self->stats.jobs--;
	}
	last->next = self->head;
	self->head = rest;
	if (!self->tail)
		self->tail = last;
	s_wake_locked(self);
	pthread_mutex_unlock(&self->lock);
}

/* Run a chunk, holding its results until it ends (or gives the rest
 * back), then hand them over together. */
static void
s_run_chunk(cp_thread_t *t, cp_work_t *first)
{
	int64_t spent = 0;

	for (cp_work_t *w = first; w; w = w->next) {
		s_run(t, w);
		spent += w->run_ns / 1000;
		if (w->next && spent > CP_POOL_CHUNK_US)
			s_give_back(t->pool, w);
	}
	/* Fails only once the pool stops (the frames are freed then). */
	cp_results_append(t->pool->res, &t->held);
}

static void *
s_thread(void *arg)
{
	cp_thread_arg_t *ta = arg;
	cp_thread_t t = { .pool = ta->pool, .index = ta->index };
	cp_pool_t *self = t.pool;
	cp_work_t *done = NULL;

	free(ta);
	s_thread_start(self, t.index);
	t.cpu_ns = sl_clock_thread_cpu_ns();
	cp_stream_init(&t.st, self->res);
	msgpack_sbuffer_init(&t.sb);
	msgpack_sbuffer_init(&t.value);
	for (;;) {
		cp_work_t *chunk;

		/* One lock hold ends a chunk and takes the next. */
		pthread_mutex_lock(&self->lock);
		if (done)
			s_finish_locked(self, t.index, done);
		chunk = s_take_locked(self, t.index);
		pthread_mutex_unlock(&self->lock);
		while (done) {
			cp_work_t *next = done->next;

			cp_pool_work_destroy(&done);
			done = next;
		}
		if (!chunk)
			break;
		s_run_chunk(&t, chunk);
		done = chunk;
	}
	cp_stream_fini(&t.st);
	msgpack_sbuffer_destroy(&t.sb);
	msgpack_sbuffer_destroy(&t.value);
	return NULL;
}

cp_pool_t *
cp_pool_new(unsigned threads, cp_prio_t prio, char *err, size_t errlen)
{
	cp_pool_t *self = calloc(1, sizeof *self);
	sigset_t all, old;

	if (!self || !(self->threads = calloc(threads, sizeof(pthread_t)))
	    || !(self->running = calloc(threads, sizeof(cp_work_t *)))
	    || !(self->tids = calloc(threads, sizeof *self->tids))
	    || !(self->res = cp_results_new(CP_RESULTS_MAX_BYTES))) {
		if (self) {
			free(self->threads);
			free(self->running);
			free((void *) self->tids);
		}
		free(self);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&self->lock, NULL);
	pthread_cond_init(&self->cond, NULL);
	atomic_init(&self->stop, false);
	atomic_init(&self->prio_warned, false);
	self->prio = prio;
	for (unsigned i = 0; i < threads; i++)
		atomic_init(&self->tids[i], 0);
	/* Signals belong to the I/O thread: compute threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; self->n_threads < threads; self->n_threads++) {
		cp_thread_arg_t *ta = malloc(sizeof *ta);
		int rc = ENOMEM;

		if (ta) {
			ta->pool = self;
			ta->index = self->n_threads;
			rc = pthread_create(&self->threads[self->n_threads],
			    NULL, s_thread, ta);
			if (rc)
				free(ta);
		}
		if (rc) {
			snprintf(
			    err, errlen, "pthread_create: %s", strerror(rc));
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			cp_pool_destroy(&self);
			return NULL;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return self;
}

cp_results_t *
cp_pool_results(cp_pool_t *self)
{
	return self->res;
}

void
cp_pool_push_list(cp_pool_t *self, cp_work_t **head_p)
{
	cp_work_t *head = *head_p, *last = head;
	size_t n = 1;

	*head_p = NULL;
	if (!head)
		return;
	while (last->next) {
		last = last->next;
		n++;
	}
	pthread_mutex_lock(&self->lock);
	if (self->tail)
		self->tail->next = head;
	else
		self->head = head;
	self->tail = last;
	self->load += n;
	s_wake_locked(self);
	pthread_mutex_unlock(&self->lock);
}

void
cp_pool_push(cp_pool_t *self, cp_work_t **work_p)
{
	(*work_p)->next = NULL;
	cp_pool_push_list(self, work_p);
}

void
cp_pool_stats(cp_pool_t *self, cp_pool_stats_t *out)
{
	pthread_mutex_lock(&self->lock);
	*out = self->stats;
	pthread_mutex_unlock(&self->lock);
}

int64_t
cp_pool_estimate_us(cp_pool_t *self, const cp_task_t *task)
{
	int64_t e;

	pthread_mutex_lock(&self->lock);
	e = s_estimate_locked(self, task);
	pthread_mutex_unlock(&self->lock);
	return e;
}

pid_t
cp_pool_thread_tid(cp_pool_t *self, unsigned index)
{
	return index < self->n_threads ? atomic_load(&self->tids[index]) : 0;
}

size_t
cp_pool_load(cp_pool_t *self)
{
	size_t n;

	pthread_mutex_lock(&self->lock);
	n = self->load;
	pthread_mutex_unlock(&self->lock);
	return n;
}

/* Does w match: of generation gen (0: any), job id job (all: any), and
 * not yet finished? */
static bool
s_matches(const cp_work_t *w, uint64_t gen, uint64_t job, bool all)
{
	return (!gen || w->gen == gen) && (all || w->msg.u.job.job == job)
	    && !atomic_load(&w->done);
}

/* Set the cancel flag of the matching jobs, queued or running: how many
 * (the first only unless all). */
static size_t
s_cancel(cp_pool_t *self, uint64_t gen, uint64_t job, bool all)
{
	size_t n = 0;

	pthread_mutex_lock(&self->lock);
	for (cp_work_t *w = self->head; w && (all || !n); w = w->next)
		if (s_matches(w, gen, job, all)) {
			atomic_store(&w->cancel, true);
			n++;
		}
	for (unsigned i = 0; i < self->n_threads && (all || !n); i++)
		for (cp_work_t *w = self->running[i]; w && (all || !n);
		     w = w->next)
			if (s_matches(w, gen, job, all)) {
				atomic_store(&w->cancel, true);
				n++;
			}
	pthread_mutex_unlock(&self->lock);
	return n;
}

bool
cp_pool_cancel(cp_pool_t *self, uint64_t job)
{
	return s_cancel(self, 0, job, false) > 0;
}

bool
cp_pool_cancel_job(cp_pool_t *self, uint64_t gen, uint64_t job)
{
	return s_cancel(self, gen, job, false) > 0;
}

size_t
cp_pool_cancel_gen(cp_pool_t *self, uint64_t gen)
{
	return s_cancel(self, gen, 0, true);
}

void
cp_pool_cancel_all(cp_pool_t *self)
{
	s_cancel(self, 0, 0, true);
}

void
cp_pool_destroy(cp_pool_t **self_p)
{
	cp_pool_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	pthread_mutex_lock(&self->lock);
	atomic_store(&self->stop, true);
	pthread_cond_broadcast(&self->cond);
	pthread_mutex_unlock(&self->lock);
	cp_results_stop(self->res); /* a thread blocked on the bound */
	for (unsigned i = 0; i < self->n_threads; i++)
		pthread_join(self->threads[i], NULL);
	while (self->head) {
		cp_work_t *w = self->head;

		self->head = w->next;
		cp_pool_work_destroy(&w);
	}
	cp_results_destroy(&self->res);
	pthread_cond_destroy(&self->cond);
	pthread_mutex_destroy(&self->lock);
	free(self->threads);
	free(self->running);
	free((void *) self->tids);
	free(self);
	*self_p = NULL;
}
