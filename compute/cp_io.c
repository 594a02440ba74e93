/*
 * cp_io: the worker's I/O thread (see cp_io.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "cp_io.h"
#include "cp_pool.h"
#include "cp_tasks.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define CP_RESULTS_EP "inproc://sluice-results"
#define CP_FORWARD_BATCH 256     /* results forwarded per poll wake-up */
#define CP_BACKOFF_MIN_US 250000 /* first reconnect delay */

typedef struct cp_io {
	const cp_io_cfg_t *cfg;
	void *zctx;
	void *dealer; /* to the gateway */
	void *pull;   /* results from the pool */
	cp_pool_t *pool;
	msgpack_sbuffer sb; /* scratch for frames this thread builds */
	char id[128];       /* routing id */
	char host[64];      /* for READY */
	int64_t gw_expiry;  /* gateway presumed gone if silent until then */
	int64_t next_ping;  /* when the gateway gets our next PING */
	int64_t backoff_us; /* next reconnect delay */
	int64_t drain_end;  /* 0, or when a drain gives up on running jobs */
	bool gw_seen;       /* the gateway spoke since we (re)connected */
	bool gw_ever;       /* ... or ever, since we started */
	bool registered; /* the gateway said REGISTERED since we connected */
	uint64_t gen;    /* connection generation: +1 at each reconnect */
	uint64_t jobs;   /* counters for the closing log line */
	uint64_t results;
	uint64_t old; /* results of jobs from a previous connection */
	uint64_t reconnects;
} cp_io_t;

static int
s_send(cp_io_t *self, const void *data, size_t len)
{
	if (zmq_send(self->dealer, data, len, ZMQ_DONTWAIT) < 0) {
		SL_WARN("IO-SEND", "to gateway: %s", zmq_strerror(errno));
		return SL_ESYS;
	}
	return 0;
}

static int
s_send_empty(cp_io_t *self, sl_msg_type_t type)
{
	msgpack_sbuffer_clear(&self->sb);
	if (sl_proto_encode_empty(&self->sb, type))
		return SL_ENOMEM;
	return s_send(self, self->sb.data, self->sb.size);
}

static int
s_send_ready(cp_io_t *self)
{
	const char *names[SL_PROTO_MAX_TASKS];
	size_t n = cp_tasks_count(self->cfg->tasks);

	for (size_t i = 0; i < n; i++) /* n <= SL_PROTO_MAX_TASKS */
		names[i] = cp_tasks_at(self->cfg->tasks, i)->name;
	msgpack_sbuffer_clear(&self->sb);
	if (sl_proto_encode_ready(&self->sb, self->cfg->threads,
	        (uint32_t) getpid(), self->host, names, n))
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

/* The gateway accepted our READY: say so once per connection, with the
 * label its logs use for us. */
static void
s_on_registered(cp_io_t *self, const sl_msg_registered_t *m)
{
	char label[SL_PROTO_MAX_NAME + 1] = "-";

	if (self->registered) {
		SL_DEBUG("WRK-REGISTERED", "again; ignored");
		return;
	}
	self->registered = true;
	if (m->worker.len)
		sl_proto_rid_name((const uint8_t *) m->worker.ptr,
		    m->worker.len, label, sizeof label);
	SL_NOTICE("WRK-REGISTERED", "gateway=%s threads=%u as=%s",
	    self->cfg->gateway, self->cfg->threads, label);
}

static void
s_on_gateway_frame(cp_io_t *self, const void *data, size_t len)
{
	cp_work_t *w = cp_pool_work_new(data, len);
	const sl_msg_job_t *job;
	const char *why;
	bool found;
	int rc;

	if (!w) {
		SL_ERR("IO-ENOMEM", "dropping a frame of %zu bytes", len);
		return;
	}
	rc = sl_proto_decode(w->frame, w->len, &w->msg, &why);
	if (rc == SL_ETYPE) {
		/* A newer gateway's message: ignoring it keeps us working. */
		SL_DEBUG(
		    "IO-UNKNOWN", "bytes=%zu: unknown type, ignored", len);
		goto out;
	}
	if (rc) {
		SL_WARN("IO-BADMSG", "bytes=%zu err=%s why=\"%s\"", len,
		    sl_strerror(rc), why);
		goto out;
	}
	switch (w->msg.type) {
	case SL_MSG_JOB:
		job = &w->msg.u.job;
		w->task = cp_tasks_find(
		    self->cfg->tasks, job->task.ptr, job->task.len);
		self->jobs++;
		if (!w->task) {
			s_refuse(self, job->job, "unknown_task",
			    "this worker does not run that task");
			break;
		}
		SL_DEBUG("JOB-START", "job=%" PRIu64 " task=%s", job->job,
		    w->task->name);
		w->gen = self->gen;
		cp_pool_push(self->pool, &w);
		break;
	case SL_MSG_CANCEL:
		/* Not inside the log macro: its arguments are only evaluated
		 * when debug logging is on. */
		found = cp_pool_cancel(self->pool, w->msg.u.cancel.job);
		SL_DEBUG("JOB-CANCEL", "job=%" PRIu64 " found=%d",
		    w->msg.u.cancel.job, found);
		break;
	case SL_MSG_PING:
		s_send_empty(self, SL_MSG_PONG);
		break;
	case SL_MSG_PONG:
		break;
	case SL_MSG_REGISTERED:
		s_on_registered(self, &w->msg.u.registered);
		break;
	default:
		SL_WARN("IO-BADMSG", "type=%s is not for a worker",
		    sl_proto_type_name(w->msg.type));
		break;
	}
out:
	cp_pool_work_destroy(&w);
}

/* Handle every message waiting from the gateway; any proves it alive. */
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
		self->gw_expiry = sl_clock_mono_us()
		    + self->cfg->hb_ivl_us * (int64_t) self->cfg->hb_liveness;
		self->backoff_us = CP_BACKOFF_MIN_US;
		self->gw_seen = self->gw_ever = true;
		s_on_gateway_frame(self, zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
	}
}

/*
 * Take one result from the pool: its job's connection generation, and
 * the RESULT frame in *m (initialised here; the caller closes it). 0, or
 * -1 if none was waiting.
 */
static int
s_recv_result(cp_io_t *self, uint64_t *gen, zmq_msg_t *m)
{
	zmq_msg_init(m);
	if (zmq_msg_recv(m, self->pull, ZMQ_DONTWAIT) < 0)
		return -1;
	*gen = 0; /* never current: a malformed pair is dropped */
	if (zmq_msg_size(m) == sizeof *gen)
		memcpy(gen, zmq_msg_data(m), sizeof *gen);
	/* The frame follows at once: inproc multipart is atomic. */
	while (zmq_msg_more(m)) {
		zmq_msg_close(m);
		zmq_msg_init(m);
		if (zmq_msg_recv(m, self->pull, ZMQ_DONTWAIT) < 0)
			return -1;
	}
	return 0;
}

/*
 * Forward results to the gateway as they are: the pool encoded them. A
 * result of a job that came on a previous connection is dropped: that
 * gateway requeued the job when we left, and the gateway we talk to now
 * (maybe a restarted one) never sent it (PROTOCOL.md §2, "Job ids").
 */
static void
s_forward_results(cp_io_t *self)
{
	uint64_t gen;
	zmq_msg_t m;

	for (int i = 0; i < CP_FORWARD_BATCH; i++) {
		if (s_recv_result(self, &gen, &m)) {
			zmq_msg_close(&m);
			return;
		}
		if (gen != self->gen) {
			self->old++;
			SL_INFO("JOB-OLD",
			    "a result of connection %" PRIu64 " dropped "
			    "(now %" PRIu64 ")",
			    gen, self->gen);
			zmq_msg_close(&m);
			continue;
		}
		if (zmq_msg_send(&m, self->dealer, ZMQ_DONTWAIT) < 0) {
			SL_INFO("IO-SEND", "result dropped: %s",
			    zmq_strerror(errno));
			zmq_msg_close(&m);
		}
		self->results++;
	}
}

/* Open the DEALER, connect, announce READY (queued until connected). */
static int
s_connect(cp_io_t *self)
{
	int linger = 1000, ivl = 100, ivl_max = 5000;

	self->dealer = zmq_socket(self->zctx, ZMQ_DEALER);
	if (!self->dealer)
		return SL_ESYS;
	/* LINGER: give BYE a second to leave at shutdown. RECONNECT: back
	 * off from 100 ms to 5 s while the gateway is away. Messages queue
	 * until connected, so READY reaches a gateway that starts later. */
	if (zmq_setsockopt(
	        self->dealer, ZMQ_ROUTING_ID, self->id, strlen(self->id))
	    || zmq_setsockopt(self->dealer, ZMQ_LINGER, &linger, sizeof linger)
	    || zmq_setsockopt(
	        self->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl)
	    || zmq_setsockopt(
	        self->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max)
	    || (self->cfg->curve_server_key
	        && sl_curve_client_setup(self->dealer,
	            self->cfg->curve_server_key, self->cfg->curve))
	    || zmq_connect(self->dealer, self->cfg->gateway))
		return SL_ESYS;
	self->gw_expiry = sl_clock_mono_us()
	    + self->cfg->hb_ivl_us * (int64_t) self->cfg->hb_liveness;
	self->gw_seen = false;
	self->registered = false;
	return 0;
}

/* Rewrite the health file (atomically: a reader never sees half). */
static void
s_write_health(cp_io_t *self, int64_t now)
{
	char tmp[4200], text[256];
	bool ok = self->gw_seen && now < self->gw_expiry;
	FILE *f;
	int n;

	if (!self->cfg->health_file)
		return;
	n = snprintf(text, sizeof text, "%s gateway=%s id=%s load=%zu\n",
	    ok ? "ok" : "waiting", self->cfg->gateway, self->id,
	    cp_pool_load(self->pool));
	if (n < 0 || (size_t) n >= sizeof text)
		n = (int) strlen(text);
	snprintf(tmp, sizeof tmp, "%s.tmp", self->cfg->health_file);
	f = fopen(tmp, "w");
	if (!f || fwrite(text, 1, (size_t) n, f) != (size_t) n) {
		if (f)
			fclose(f);
		SL_WARN("IO-HEALTH", "cannot write %s", tmp);
		return;
	}
	if (fclose(f) || rename(tmp, self->cfg->health_file))
		SL_WARN(
		    "IO-HEALTH", "cannot replace %s", self->cfg->health_file);
}

int
cp_io_check_health(
    const char *health_file, int64_t stale_us, char *why, size_t whylen)
{
	char text[256] = "";
	struct stat stt;
	FILE *f = fopen(health_file, "r");
	int64_t age;

	if (!f || stat(health_file, &stt)) {
		snprintf(
		    why, whylen, "%s: %s\n", health_file, strerror(errno));
		if (f)
			fclose(f);
		return SL_EINVAL;
	}
	if (!fgets(text, sizeof text, f))
		text[0] = '\0';
	fclose(f);
	age = sl_clock_wall_us() - (int64_t) stt.st_mtime * 1000000;
	if (age > stale_us) {
		snprintf(why, whylen, "stale: written %lld s ago\n",
		    (long long) (age / 1000000));
		return SL_EINVAL;
	}
	if (strncmp(text, "ok ", 3)) {
		snprintf(why, whylen, "%s", text[0] ? text : "empty\n");
		return SL_EINVAL;
	}
	return 0;
}

/* Random bits from the kernel (ids, jitter): no libc rand() state shared
 * with the tasks. */
static uint64_t
s_random64(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r)
		r = (uint64_t) sl_clock_wall_us() ^ (uint64_t) getpid();
	return r;
}

/*
 * The gateway has been silent too long: presume it gone. Whatever runs
 * here was requeued on its side, so cancel it; wait a jittered, growing
 * delay (so a fleet of workers does not reconnect in lockstep), then
 * reopen the socket and register again.
 */
static int
s_reconnect(cp_io_t *self, volatile sig_atomic_t *stop)
{
	int zero = 0;
	int64_t delay;

	SL_WARN("GW-SILENT",
	    "gateway=%s silent for %u heartbeats; "
	    "reconnecting in ~%" PRId64 " ms%s",
	    self->cfg->gateway, self->cfg->hb_liveness,
	    self->backoff_us / 1000,
	    self->gw_ever ? ""
	        /* A gateway that never answered is often one we cannot
	         * talk to at all: say what to check. */
	        : self->cfg->curve_server_key
	        ? "; it never answered: is it up at that address, with "
	          "this server key, and our public key in its allow-list?"
	        : "; it never answered: is it up at that address, and "
	          "without CURVE (else set --curve-server-key)?");
	cp_pool_cancel_all(self->pool);
	zmq_setsockopt(self->dealer, ZMQ_LINGER, &zero, sizeof zero);
	zmq_close(self->dealer);
	self->dealer = NULL;
	delay
	    = cp_io_backoff_jitter(self->backoff_us, (unsigned) s_random64());
	/* From now on, results of the jobs we held are old. */
	self->gen++;
	for (int64_t end = sl_clock_mono_us() + delay;
	     !*stop && sl_clock_mono_us() < end;) {
		zmq_pollitem_t it = { self->pull, 0, ZMQ_POLLIN, 0 };
		uint64_t gen;
		zmq_msg_t m;

		/* Results of cancelled jobs still arrive: discard them. */
		if (zmq_poll(&it, 1, 50) > 0) {
			if (!s_recv_result(self, &gen, &m))
				self->old++;
			zmq_msg_close(&m);
		}
	}
	self->backoff_us
	    = cp_io_backoff_next(self->backoff_us, self->cfg->backoff_max_us);
	self->reconnects++;
	if (s_connect(self))
		return SL_ESYS;
	return s_send_ready(self);
}

static int
s_open(cp_io_t *self)
{
	int zero = 0;

	if (gethostname(self->host, sizeof self->host))
		snprintf(self->host, sizeof self->host, "unknown");
	self->host[sizeof self->host - 1] = '\0';
	if (self->cfg->id)
		snprintf(self->id, sizeof self->id, "%s", self->cfg->id);
	else /* in a container the pid is often 1 and the host name may be
	        shared: a random suffix keeps ids apart, and makes them hard
	        to guess (an id is what a takeover needs, SECURITY.md) */
		snprintf(self->id, sizeof self->id, "w-%s-%ld-%016" PRIx64,
		    self->host, (long) getpid(), s_random64());
	self->pull = zmq_socket(self->zctx, ZMQ_PULL);
	if (!self->pull
	    || zmq_setsockopt(self->pull, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_bind(self->pull, CP_RESULTS_EP))
		return SL_ESYS;
	return s_connect(self);
}

int64_t
cp_io_backoff_jitter(int64_t backoff_us, unsigned rnd)
{
	return backoff_us * (80 + rnd % 41) / 100;
}

int64_t
cp_io_backoff_next(int64_t backoff_us, int64_t max_us)
{
	return backoff_us * 2 > max_us ? max_us : backoff_us * 2;
}

/* Sockets, pool, READY: 0, or an SL_E* code after logging why. */
static int
s_start(cp_io_t *io)
{
	const cp_io_cfg_t *cfg = io->cfg;
	sigset_t sigs, old;
	char err[160];
	int rc;

	/* ZeroMQ starts its own threads with the first socket: they must not
	 * take our SIGTERM, or the poll below would not be interrupted. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	io->zctx = zmq_ctx_new();
	rc = io->zctx ? s_open(io) : SL_ESYS;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		SL_ERR("IO-START", "gateway=%s: %s", cfg->gateway,
		    zmq_strerror(errno));
		return SL_ESYS;
	}
	io->pool = cp_pool_new(
	    io->zctx, CP_RESULTS_EP, cfg->threads, err, sizeof err);
	if (!io->pool) {
		SL_ERR("IO-START", "%s", err);
		return SL_ESYS;
	}
	if ((rc = s_send_ready(io)))
		return rc;
	/* Our routing id is what another peer would need to pose as us on
	 * an endpoint without CURVE: at debug level only (SECURITY.md). */
	SL_NOTICE("WRK-UP", "pid=%ld gateway=%s threads=%u", (long) getpid(),
	    cfg->gateway, cfg->threads);
	SL_DEBUG("WRK-ID", "id=%s", io->id);
	io->next_ping = sl_clock_mono_us() + cfg->hb_ivl_us;
	return 0;
}

/* On the first stop request, say DRAIN; true once the drain is over:
 * nothing runs, its time is up, or a second request came. */
static bool
s_drain_over(cp_io_t *io, volatile sig_atomic_t *stop, int64_t now)
{
	if (*stop && !io->drain_end) {
		size_t load = cp_pool_load(io->pool);

		SL_NOTICE("WRK-DRAIN",
		    "finishing %zu job%s, up to "
		    "%" PRId64 " ms",
		    load, load == 1 ? "" : "s", io->cfg->drain_us / 1000);
		s_send_empty(io, SL_MSG_DRAIN);
		io->drain_end = now + io->cfg->drain_us;
	}
	return io->drain_end
	    && (!cp_pool_load(io->pool) || now >= io->drain_end || *stop > 1);
}

/* Wait for results or gateway frames until the next PING is due, and
 * handle them: 0, or SL_ESYS after logging why. */
static int
s_poll(cp_io_t *io, int64_t now)
{
	zmq_pollitem_t items[] = {
		{ io->pull, 0, ZMQ_POLLIN, 0 },
		{ io->dealer, 0, ZMQ_POLLIN, 0 },
	};
	long timeout_ms = (long) ((io->next_ping - now) / 1000) + 1;

	if (io->drain_end && timeout_ms > 20)
		timeout_ms = 20; /* watch the pool empty */
	if (zmq_poll(items, 2, timeout_ms) < 0) {
		if (errno == EINTR)
			return 0; /* a signal: the caller checks *stop */
		SL_ERR("IO-POLL", "%s", zmq_strerror(errno));
		return SL_ESYS;
	}
	/* Results first: they are what clients are waiting for. */
	if (items[0].revents & ZMQ_POLLIN)
		s_forward_results(io);
	if (items[1].revents & ZMQ_POLLIN)
		s_drain_gateway(io);
	return 0;
}

/* Forward what finished during the drain, then BYE: the gateway requeues
 * anything we still hold, and drops results that the stopping tasks
 * produce after it. */
static void
s_leave(cp_io_t *io)
{
	s_forward_results(io);
	s_send_empty(io, SL_MSG_BYE);
	SL_NOTICE("WRK-STOP",
	    "pid=%ld jobs=%" PRIu64 " results=%" PRIu64 " old=%" PRIu64
	    " reconnects=%" PRIu64,
	    (long) getpid(), io->jobs, io->results, io->old, io->reconnects);
}

int
cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop)
{
	cp_io_t io = { .cfg = cfg, .backoff_us = CP_BACKOFF_MIN_US, .gen = 1 };
	int rc;

	msgpack_sbuffer_init(&io.sb);
	if ((rc = s_start(&io)))
		goto out;
	for (;;) {
		int64_t now = sl_clock_mono_us();

		if (s_drain_over(&io, stop, now))
			break;
		if (now >= io.next_ping) {
			s_send_empty(&io, SL_MSG_PING);
			s_write_health(&io, now);
			sl_log_flush(false); /* suppressed-line counts */
			io.next_ping = now + cfg->hb_ivl_us;
		}
		if (now >= io.gw_expiry && !io.drain_end)
			rc = s_reconnect(&io, stop);
		else
			rc = s_poll(&io, now);
		if (rc)
			break;
	}
	s_leave(&io);
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
