/*
 * cp_pool: compute threads (see cp_pool.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cp_pool.h"
#include "cp_prio.h"
#include "cp_stream.h"
#include "sl_clock.h"
#include "sl_log.h"

struct cp_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* {lock} work queued or stopping */
	cp_work_t *head, *tail; /* {lock} FIFO of jobs to run */
	size_t load;            /* {lock} queued + running */
	atomic_bool stop;       /* tasks and threads give up */
	unsigned n_threads;     /* started */
	pthread_t *threads;
	cp_work_t **running; /* {lock} per thread: the job it runs, or NULL */
	_Atomic pid_t *tids; /* per thread: its kernel id once started, or 0 */
	cp_prio_t prio;      /* what each thread sets itself to at start */
	atomic_bool prio_warned; /* a thread could not: said once, for all */
};

typedef struct cp_thread_arg {
	cp_pool_t *pool;
	unsigned index; /* slot in pool->running */
	void *push;     /* its socket to the I/O thread; the thread owns it */
} cp_thread_arg_t;

/* A connected PUSH socket for one compute thread, or NULL (errno set).
 * Made here so that a failure fails cp_pool_new; pthread_create is the
 * memory barrier ZeroMQ asks for when a socket changes threads. */
static void *
s_push_socket(void *zctx, const char *endpoint)
{
	void *push = zmq_socket(zctx, ZMQ_PUSH);
	int zero = 0;

	if (push
	    && (zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero)
	        || zmq_connect(push, endpoint))) {
		int saved = errno;

		zmq_close(push);
		errno = saved;
		return NULL;
	}
	return push;
}

cp_work_t *
cp_pool_work_new(const void *frame, size_t len)
{
	cp_work_t *w = malloc(sizeof *w + len);

	if (!w)
		return NULL;
	w->next = NULL;
	atomic_init(&w->cancel, false);
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

/* Run one job (its progress and partials leave through st as it runs)
 * and encode its RESULT into sb. */
static void
s_run(cp_pool_t *self, cp_work_t *w, msgpack_sbuffer *sb,
    msgpack_sbuffer *value, cp_stream_t *st)
{
	const sl_msg_job_t *job = &w->msg.u.job;
	cp_task_ctx_t ctx = { &self->stop, &w->cancel, &cp_stream_host, st };
	cp_task_err_t err = { "task_failed", "" };
	msgpack_packer pk;
	int64_t t0 = sl_clock_thread_cpu_ns(), start = sl_clock_mono_us();
	sl_proto_times_t t = { .start_us = start - w->t_recv_us };
	int rc;

	cp_stream_begin(st, w->gen, job->job);
	msgpack_sbuffer_clear(value);
	msgpack_packer_init(&pk, value, msgpack_sbuffer_write);
	if (atomic_load(&w->cancel)) /* cancelled while queued */
		rc = cp_task_fail(&err, "cancelled", "job cancelled");
	else
		rc = w->task->run(job->item, &pk, &err, &ctx);
	t.run_us = sl_clock_mono_us() - start;
	t.cpu_us = (uint64_t) (sl_clock_thread_cpu_ns() - t0) / 1000;
	t.t_done_us = sl_clock_wall_us();
	SL_DEBUG("JOB-END",
	    "job=%llu trace=%.*s ok=%d start_us=%lld run_us=%lld",
	    (unsigned long long) job->job, (int) job->trace.len,
	    job->trace.len ? job->trace.ptr : "-", rc == 0 && value->size,
	    (long long) t.start_us, (long long) t.run_us);
	msgpack_sbuffer_clear(sb);
	if (rc == 0 && value->size)
		rc = sl_proto_encode_result_ok(
		    sb, job->job, value->data, value->size, &t);
	else
		rc = sl_proto_encode_result_err(
		    sb, job->job, err.code, err.message, &t);
	if (rc) /* out of memory even for the error: say so, smaller */
		SL_ERR("JOB-ENOMEM", "job=%llu result lost",
		    (unsigned long long) job->job);
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

static void *
s_thread(void *arg)
{
	cp_thread_arg_t *ta = arg;
	cp_pool_t *self = ta->pool;
	unsigned index = ta->index;
	msgpack_sbuffer sb, value;
	void *push = ta->push; /* ours alone from now on */
	cp_stream_t st;

	s_thread_start(self, index);
	cp_stream_init(&st, push);
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&value);
	for (;;) {
		cp_work_t *w;

		pthread_mutex_lock(&self->lock);
		while (!self->head && !atomic_load(&self->stop))
			pthread_cond_wait(&self->cond, &self->lock);
		if (atomic_load(&self->stop)) {
			pthread_mutex_unlock(&self->lock);
			break;
		}
		w = self->head;
		self->head = w->next;
		if (!self->head)
			self->tail = NULL;
		self->running[index] = w;
		pthread_mutex_unlock(&self->lock);

		s_run(self, w, &sb, &value, &st);
		/* Blocking send: inproc, drained by the I/O thread. The
		 * generation goes first so that it can drop a result of a
		 * job from a previous connection (cp_pool.h). */
		if (sb.size
		    && (zmq_send(push, &w->gen, sizeof w->gen, ZMQ_SNDMORE) < 0
		        || zmq_send(push, sb.data, sb.size, 0) < 0))
			SL_WARN("POOL-SEND", "result not handed over: %s",
			    zmq_strerror(errno));
		pthread_mutex_lock(&self->lock);
		self->running[index] = NULL;
		self->load--;
		pthread_mutex_unlock(&self->lock);
		cp_pool_work_destroy(&w);
	}
	cp_stream_fini(&st);
	zmq_close(push);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&value);
	free(ta);
	return NULL;
}

cp_pool_t *
cp_pool_new(void *zctx, const char *results_ep, unsigned threads,
    cp_prio_t prio, char *err, size_t errlen)
{
	cp_pool_t *self = calloc(1, sizeof *self);
	sigset_t all, old;

	if (!self || !(self->threads = calloc(threads, sizeof(pthread_t)))
	    || !(self->running = calloc(threads, sizeof(cp_work_t *)))
	    || !(self->tids = calloc(threads, sizeof *self->tids))) {
		if (self) {
			free(self->threads);
			free(self->running);
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

		if (ta && !(ta->push = s_push_socket(zctx, results_ep))) {
			snprintf(err, errlen,
			    "compute thread socket to %s: %s", results_ep,
			    zmq_strerror(errno));
			free(ta);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			cp_pool_destroy(&self);
			return NULL;
		}
		if (ta) {
			ta->pool = self;
			ta->index = self->n_threads;
			rc = pthread_create(&self->threads[self->n_threads],
			    NULL, s_thread, ta);
			if (rc) {
				zmq_close(ta->push);
				free(ta);
			}
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

void
cp_pool_push(cp_pool_t *self, cp_work_t **work_p)
{
	cp_work_t *w = *work_p;

	*work_p = NULL;
	w->next = NULL;
	pthread_mutex_lock(&self->lock);
	if (self->tail)
		self->tail->next = w;
	else
		self->head = w;
	self->tail = w;
	self->load++;
	pthread_cond_signal(&self->cond);
	pthread_mutex_unlock(&self->lock);
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

/* Does w match: of generation gen (0: any), job id job (all: any)? */
static bool
s_matches(const cp_work_t *w, uint64_t gen, uint64_t job, bool all)
{
	return (!gen || w->gen == gen) && (all || w->msg.u.job.job == job);
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
		if (self->running[i]
		    && s_matches(self->running[i], gen, job, all)) {
			atomic_store(&self->running[i]->cancel, true);
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
	for (unsigned i = 0; i < self->n_threads; i++)
		pthread_join(self->threads[i], NULL);
	while (self->head) {
		cp_work_t *w = self->head;

		self->head = w->next;
		cp_pool_work_destroy(&w);
	}
	pthread_cond_destroy(&self->cond);
	pthread_mutex_destroy(&self->lock);
	free(self->threads);
	free(self->running);
	free((void *) self->tids);
	free(self);
	*self_p = NULL;
}
