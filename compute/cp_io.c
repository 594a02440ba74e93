/*
 * cp_io: the worker's I/O thread (see cp_io.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "cp_io.h"
#include "cp_pool.h"
#include "cp_task.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define CP_RESULTS_EP "inproc://sluice-results"
#define CP_FORWARD_BATCH 256 /* results forwarded per poll wake-up */

typedef struct cp_io {
	const cp_io_cfg_t *cfg;
	void *zctx;
	void *dealer; /* to the gateway */
	void *pull;   /* results from the pool */
	cp_pool_t *pool;
	msgpack_sbuffer sb; /* scratch for frames this thread builds */
	char id[128];	    /* routing id */
	uint64_t jobs;	    /* counters for the closing log line */
	uint64_t results;
} cp_io_t;

static int
s_send(cp_io_t *self, const void *data, size_t len)
{
	if (zmq_send(self->dealer, data, len, 0) < 0) {
		SL_WARN("IO-SEND", "to gateway: %s", zmq_strerror(errno));
		return SL_ESYS;
	}
	return 0;
}

static int
s_send_ready(cp_io_t *self)
{
	const char *names[SL_PROTO_MAX_TASKS];
	const cp_task_t *tasks;
	char host[64];
	size_t n;

	tasks = cp_task_all(&n);
	for (size_t i = 0; i < n && i < SL_PROTO_MAX_TASKS; i++)
		names[i] = tasks[i].name;
	if (gethostname(host, sizeof host))
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	msgpack_sbuffer_clear(&self->sb);
	if (sl_proto_encode_ready(&self->sb, self->cfg->threads,
		(uint32_t) getpid(), host, names, n))
		return SL_ENOMEM;
	return s_send(self, self->sb.data, self->sb.size);
}

/* Answer a job that cannot run with an error RESULT at once. */
static void
s_refuse(cp_io_t *self, uint64_t job, const char *code, const char *msg)
{
	msgpack_sbuffer_clear(&self->sb);
	if (!sl_proto_encode_result_err(
		&self->sb, job, code, msg, 0, sl_clock_wall_us()))
		s_send(self, self->sb.data, self->sb.size);
}

static void
s_on_gateway_frame(cp_io_t *self, const void *data, size_t len)
{
	cp_work_t *w = cp_work_new(data, len);
	const char *why;
	int rc;

	if (!w) {
		SL_ERR("IO-ENOMEM", "dropping a frame of %zu bytes", len);
		return;
	}
	rc = sl_proto_decode(w->frame, w->len, &w->msg, &why);
	if (rc) {
		SL_WARN("IO-BADMSG", "bytes=%zu err=%s why=\"%s\"", len,
		    sl_strerror(rc), why);
	} else if (w->msg.type != SL_MSG_JOB) {
		SL_WARN("IO-BADMSG", "type=%s is not for a worker",
		    sl_proto_type_name(w->msg.type));
	} else {
		const sl_msg_job_t *job = &w->msg.u.job;

		w->task = cp_task_find(job->task.ptr, job->task.len);
		self->jobs++;
		if (!w->task) {
			s_refuse(self, job->job, "unknown_task",
			    "this worker does not run that task");
		} else {
			SL_DEBUG("JOB-START", "job=%" PRIu64 " task=%s",
			    job->job, w->task->name);
			cp_pool_push(self->pool, &w);
		}
	}
	cp_work_destroy(&w);
}

/* Receive every message waiting on sock and hand it to the handler. */
static void
s_drain_gateway(cp_io_t *self)
{
	zmq_msg_t m;

	for (;;) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, self->dealer, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		s_on_gateway_frame(self, zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
	}
}

/* Forward results to the gateway as they are: the pool encoded them. */
static void
s_forward_results(cp_io_t *self)
{
	zmq_msg_t m;

	for (int i = 0; i < CP_FORWARD_BATCH; i++) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, self->pull, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		if (zmq_msg_send(&m, self->dealer, 0) < 0) {
			SL_WARN("IO-SEND", "result to gateway: %s",
			    zmq_strerror(errno));
			zmq_msg_close(&m);
		}
		self->results++;
	}
}

static int
s_open(cp_io_t *self)
{
	int zero = 0, linger = 1000, ivl = 100, ivl_max = 5000;
	char host[64];

	if (self->cfg->id) {
		snprintf(self->id, sizeof self->id, "%s", self->cfg->id);
	} else {
		if (gethostname(host, sizeof host))
			snprintf(host, sizeof host, "unknown");
		host[sizeof host - 1] = '\0';
		snprintf(self->id, sizeof self->id, "w-%s-%ld", host,
		    (long) getpid());
	}
	self->dealer = zmq_socket(self->zctx, ZMQ_DEALER);
	self->pull = zmq_socket(self->zctx, ZMQ_PULL);
	if (!self->dealer || !self->pull)
		return SL_ESYS;
	/* LINGER: give BYE a second to leave at shutdown. RECONNECT: back
	 * off from 100 ms to 5 s while the gateway is away. */
	if (zmq_setsockopt(self->dealer, ZMQ_ROUTING_ID, self->id,
		strlen(self->id))
	    || zmq_setsockopt(self->dealer, ZMQ_LINGER, &linger, sizeof linger)
	    || zmq_setsockopt(self->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl)
	    || zmq_setsockopt(
		self->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max)
	    || zmq_setsockopt(self->pull, ZMQ_LINGER, &zero, sizeof zero))
		return SL_ESYS;
	if (zmq_bind(self->pull, CP_RESULTS_EP)
	    || zmq_connect(self->dealer, self->cfg->gateway))
		return SL_ESYS;
	return 0;
}

int
cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop)
{
	cp_io_t io = { .cfg = cfg };
	sigset_t sigs, old;
	char err[160];
	int rc;

	msgpack_sbuffer_init(&io.sb);
	/* ZeroMQ starts its own threads with the first socket: they must not
	 * take our SIGTERM, or the poll below would not be interrupted. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	io.zctx = zmq_ctx_new();
	rc = io.zctx ? s_open(&io) : SL_ESYS;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		SL_ERR("IO-START", "gateway=%s: %s", cfg->gateway,
		    zmq_strerror(errno));
		rc = SL_ESYS;
		goto out;
	}
	io.pool = cp_pool_new(io.zctx, CP_RESULTS_EP, cfg->threads, err,
	    sizeof err);
	if (!io.pool) {
		SL_ERR("IO-START", "%s", err);
		rc = SL_ESYS;
		goto out;
	}
	/* Queued until the connection is up: the worker may start first. */
	if ((rc = s_send_ready(&io)))
		goto out;
	SL_NOTICE("WRK-UP", "id=%s gateway=%s threads=%u", io.id,
	    cfg->gateway, cfg->threads);
	while (!*stop) {
		zmq_pollitem_t items[] = {
			{ io.dealer, 0, ZMQ_POLLIN, 0 },
			{ io.pull, 0, ZMQ_POLLIN, 0 },
		};

		if (zmq_poll(items, 2, 1000) < 0) {
			if (errno == EINTR)
				continue; /* a signal: check *stop */
			SL_ERR("IO-POLL", "%s", zmq_strerror(errno));
			rc = SL_ESYS;
			break;
		}
		/* Results first: they are what clients are waiting for. */
		if (items[1].revents & ZMQ_POLLIN)
			s_forward_results(&io);
		if (items[0].revents & ZMQ_POLLIN)
			s_drain_gateway(&io);
	}
	/* BYE before the pool stops: the gateway requeues what we held, and
	 * results the stopping tasks still produce are dropped there. */
	msgpack_sbuffer_clear(&io.sb);
	if (!sl_proto_encode_bye(&io.sb))
		s_send(&io, io.sb.data, io.sb.size);
	SL_NOTICE("WRK-STOP", "id=%s jobs=%" PRIu64 " results=%" PRIu64,
	    io.id, io.jobs, io.results);
out:
	cp_pool_destroy(&io.pool);
	if (io.pull)
		zmq_close(io.pull);
	if (io.dealer)
		zmq_close(io.dealer);
	if (io.zctx)
		zmq_ctx_term(io.zctx);
	msgpack_sbuffer_destroy(&io.sb);
	return rc;
}
