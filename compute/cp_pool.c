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
#include "sl_clock.h"
#include "sl_log.h"

struct cp_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* {lock} work queued or stopping */
	cp_work_t *head, *tail; /* {lock} FIFO of jobs to run */
	size_t load;	       /* {lock} queued + running */
	atomic_bool stop;      /* tasks and threads give up */
	void *zctx;
	char results_ep[64];
	unsigned n_threads; /* started */
	pthread_t *threads;
};

cp_work_t *
cp_work_new(const void *frame, size_t len)
{
	cp_work_t *w = malloc(sizeof *w + len);

	if (!w)
		return NULL;
	w->next = NULL;
	w->task = NULL;
	w->len = len;
	memcpy(w->frame, frame, len);
	sl_msg_init(&w->msg);
	return w;
}

void
cp_work_destroy(cp_work_t **work_p)
{
	cp_work_t *w = work_p ? *work_p : NULL;

	if (!w)
		return;
	sl_msg_clear(&w->msg);
	free(w);
	*work_p = NULL;
}

/* Run one job and encode its RESULT into sb. */
static void
s_run(cp_pool_t *self, cp_work_t *w, msgpack_sbuffer *sb,
    msgpack_sbuffer *value)
{
	const sl_msg_job_t *job = &w->msg.u.job;
	cp_task_ctx_t ctx = { &self->stop };
	cp_task_err_t err = { "task_failed", "" };
	msgpack_packer pk;
	int64_t t0 = sl_clock_thread_cpu_ns();
	uint64_t cpu_us;
	int rc;

	msgpack_sbuffer_clear(value);
	msgpack_packer_init(&pk, value, msgpack_sbuffer_write);
	rc = w->task->run(job->item, &pk, &err, &ctx);
	cpu_us = (uint64_t) (sl_clock_thread_cpu_ns() - t0) / 1000;
	msgpack_sbuffer_clear(sb);
	if (rc == 0 && value->size)
		rc = sl_proto_encode_result_ok(sb, job->job, value->data,
		    value->size, cpu_us, sl_clock_wall_us());
	else
		rc = sl_proto_encode_result_err(sb, job->job, err.code,
		    err.message, cpu_us, sl_clock_wall_us());
	if (rc) /* out of memory even for the error: say so, smaller */
		SL_ERR("JOB-ENOMEM", "job=%llu result lost",
		    (unsigned long long) job->job);
}

static void *
s_thread(void *arg)
{
	cp_pool_t *self = arg;
	msgpack_sbuffer sb, value;
	void *push = zmq_socket(self->zctx, ZMQ_PUSH);
	int zero = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&value);
	if (!push || zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_connect(push, self->results_ep)) {
		SL_ERR("POOL-SOCK", "compute thread cannot reach the I/O "
				    "thread: %s",
		    zmq_strerror(errno));
		atomic_store(&self->stop, true);
	}
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
		pthread_mutex_unlock(&self->lock);

		s_run(self, w, &sb, &value);
		/* Blocking send: inproc, drained by the I/O thread. */
		if (sb.size && zmq_send(push, sb.data, sb.size, 0) < 0)
			SL_WARN("POOL-SEND", "result not handed over: %s",
			    zmq_strerror(errno));
		cp_work_destroy(&w);
		pthread_mutex_lock(&self->lock);
		self->load--;
		pthread_mutex_unlock(&self->lock);
	}
	if (push)
		zmq_close(push);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&value);
	return NULL;
}

cp_pool_t *
cp_pool_new(void *zctx, const char *results_ep, unsigned threads, char *err,
    size_t errlen)
{
	cp_pool_t *self = calloc(1, sizeof *self);
	sigset_t all, old;

	if (!self || !(self->threads = calloc(threads, sizeof(pthread_t)))) {
		free(self);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&self->lock, NULL);
	pthread_cond_init(&self->cond, NULL);
	atomic_init(&self->stop, false);
	self->zctx = zctx;
	snprintf(self->results_ep, sizeof self->results_ep, "%s", results_ep);
	/* Signals belong to the I/O thread: compute threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; self->n_threads < threads; self->n_threads++) {
		int rc = pthread_create(
		    &self->threads[self->n_threads], NULL, s_thread, self);

		if (rc) {
			snprintf(err, errlen, "pthread_create: %s",
			    strerror(rc));
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

size_t
cp_pool_load(cp_pool_t *self)
{
	size_t n;

	pthread_mutex_lock(&self->lock);
	n = self->load;
	pthread_mutex_unlock(&self->lock);
	return n;
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
		cp_work_destroy(&w);
	}
	pthread_cond_destroy(&self->cond);
	pthread_mutex_destroy(&self->lock);
	free(self->threads);
	free(self);
	*self_p = NULL;
}
