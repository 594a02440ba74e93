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
#include <unistd.h>

#include <zmq.h>

#include "cp_gws.h"
#include "cp_health.h"
#include "cp_fwd.h"
#include "cp_io.h"
#include "cp_link.h"
#include "cp_pool.h"
#include "cp_tasks.h"
#include "sl_batch.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define CP_FORWARD_BATCH 1024 /* frames forwarded per poll wake-up */
#define CP_IO_MAX_LINKS                                                       \
	64 /* gateways served at once; more are logged                        \
	      and left out (a hostile DNS answer) */

typedef struct cp_io {
	const cp_io_cfg_t *cfg;
	cp_link_opts_t lo; /* what every link shares */
	void *zctx;
	cp_fwd_t fwd;  /* the pool's frames forwarded to their links */
	bool fwd_more; /* ... some taken are left to send now */
	cp_pool_t *pool;
	cp_work_t *jobs_in, **jobs_end; /* JOBs decoded from the message in
	                                   hand, queued together after it */
	msgpack_sbuffer sb;  /* scratch for frames this thread builds */
	char id[128];        /* routing id */
	char host[64];       /* for READY */
	cp_gws_t gws;        /* the gateways, one link each */
	uint64_t last_gen;   /* generations handed out (cp_link.h) */
	int64_t next_health; /* when the health file is rewritten */
	int64_t drain_end;   /* 0, or when a drain gives up on running jobs */
	uint64_t jobs;       /* counters for the closing log line */
	uint64_t returned;   /* jobs handed back unstarted (RETURN) */
} cp_io_t;

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

static int
s_send(cp_link_t *l, const void *data, size_t len)
{
	int rc = cp_link_send(l, data, len);

	if (rc)
		SL_WARN("IO-SEND", "to gateway=%s: %s", l->endpoint,
		    zmq_strerror(errno));
	return rc;
}

static int
s_send_empty(cp_io_t *self, cp_link_t *l, sl_msg_type_t type)
{
	msgpack_sbuffer_clear(&self->sb);
	if (sl_proto_encode_empty(&self->sb, type))
		return SL_ENOMEM;
	return s_send(l, self->sb.data, self->sb.size);
}

static int
s_send_ready(cp_io_t *self, cp_link_t *l)
{
	const char *names[SL_PROTO_MAX_TASKS];
	size_t n = cp_tasks_count(self->cfg->tasks);

	for (size_t i = 0; i < n; i++) /* n <= SL_PROTO_MAX_TASKS */
		names[i] = cp_tasks_at(self->cfg->tasks, i)->name;
	msgpack_sbuffer_clear(&self->sb);
	if (sl_proto_encode_ready(&self->sb, self->cfg->threads,
	        (uint32_t) getpid(), self->host, names, n))
		return SL_ENOMEM;
	return s_send(l, self->sb.data, self->sb.size);
}

/* Answer a job that cannot run with an error RESULT at once. */
static void
s_refuse(cp_io_t *self, cp_link_t *l, uint64_t job, const char *code,
    const char *msg)
{
	sl_proto_times_t t = { 0, sl_clock_wall_us(), -1, -1 };

	msgpack_sbuffer_clear(&self->sb);
	if (!sl_proto_encode_result_err(&self->sb, job, code, msg, &t))
		s_send(l, self->sb.data, self->sb.size);
}

/* The gateway accepted our READY: say so once per connection, with the
 * label its logs use for us. */
static void
s_on_registered(cp_io_t *self, cp_link_t *l, const sl_msg_registered_t *m)
{
	char label[SL_PROTO_MAX_NAME + 1] = "-";

	if (l->registered) {
		SL_DEBUG("WRK-REGISTERED", "again; ignored");
		return;
	}
	l->registered = true;
	/* What the gateway assumes from READY; s_offer corrects it. */
	l->credit = m->credit;
	l->progress = m->progress;
	l->window = self->cfg->threads;
	if (m->worker.len)
		sl_proto_rid_name((const uint8_t *) m->worker.ptr,
		    m->worker.len, label, sizeof label);
	SL_NOTICE("WRK-REGISTERED", "gateway=%s threads=%u as=%s", l->endpoint,
	    self->cfg->threads, label);
}

/*
 * Threads taken: the jobs of the gateways we are connected to. Jobs of a
 * connection we left were cancelled, and count as ended: a built-in task
 * stops within 10 ms; one that ignores the cancel delays the next job,
 * which then waits in the pool's queue (as before revision 6), rather
 * than leaving the thread offered to nobody.
 */
static unsigned
s_busy(const cp_io_t *self)
{
	unsigned n = 0;

	for (size_t i = 0; i < self->gws.n; i++)
		n += self->gws.links[i]->held;
	return n;
}

/*
 * Tell every gateway that takes CREDIT what it may hold on us now: the
 * jobs of its own we hold plus the threads no job holds (PROTOCOL.md §2,
 * "Several gateways"). Each free thread is offered to every gateway, so
 * none idles while some gateway has work; if two take the same thread,
 * the later job is RETURNed. Sent only when a window changes.
 */
static void
s_offer(cp_io_t *self)
{
	unsigned threads = self->cfg->threads;
	unsigned busy = s_busy(self);
	unsigned free = busy < threads ? threads - busy : 0;

	for (size_t i = 0; i < self->gws.n; i++) {
		cp_link_t *l = self->gws.links[i];
		unsigned window = l->held + free;

		if (window > threads)
			window = threads;
		if (!l->dealer || !l->credit || window == l->window)
			continue;
		msgpack_sbuffer_clear(&self->sb);
		if (!sl_proto_encode_credit(&self->sb, window)
		    && !s_send(l, self->sb.data, self->sb.size))
			l->window = window;
	}
}

/* A job l sent while every thread is taken (by other gateways' jobs, or
 * its own beyond a window it had not yet heard): hand it back unstarted,
 * so that gateway runs it elsewhere now; it offers us nothing more until
 * our next CREDIT. */
static void
s_return(cp_io_t *self, cp_link_t *l, uint64_t job)
{
	SL_DEBUG("JOB-RETURN", "job=%" PRIu64 " gateway=%s", job, l->endpoint);
	msgpack_sbuffer_clear(&self->sb);
	if (!sl_proto_encode_return(&self->sb, job))
		s_send(l, self->sb.data, self->sb.size);
	l->window = l->held;
	self->returned++;
}

/* A JOB from l: run it (the pool owns w from here) or refuse it. */
static void
s_on_job(cp_io_t *self, cp_link_t *l, cp_work_t **w_p)
{
	cp_work_t *w = *w_p;
	const sl_msg_job_t *job = &w->msg.u.job;

	w->task
	    = cp_tasks_find(self->cfg->tasks, job->task.ptr, job->task.len);
	self->jobs++;
	if (!w->task) {
		s_refuse(self, l, job->job, "unknown_task",
		    "this worker does not run that task");
		return;
	}
	/* A gateway without CREDIT (revision 5) cannot take a job back: its
	 * jobs queue here instead. */
	if (l->credit && s_busy(self) >= self->cfg->threads) {
		s_return(self, l, job->job);
		return;
	}
	SL_DEBUG("JOB-START", "job=%" PRIu64 " task=%s gateway=%s trace=%.*s",
	    job->job, w->task->name, l->endpoint, (int) job->trace.len,
	    job->trace.len ? job->trace.ptr : "-");
	w->gen = l->gen;
	/* Queued when the message (maybe a BATCH of JOBs) is done: one pool
	 * lock hold and only the wake-ups needed (s_push_jobs). */
	*self->jobs_end = w;
	self->jobs_end = &w->next;
	w->next = NULL;
	*w_p = NULL;
	l->held++;
}

/* Hand the pool the JOBs s_on_job collected. */
static void
s_push_jobs(cp_io_t *self)
{
	cp_pool_push_list(self->pool, &self->jobs_in);
	self->jobs_end = &self->jobs_in;
}

static void
s_on_gateway_frame(cp_io_t *self, cp_link_t *l, const void *data, size_t len)
{
	cp_work_t *w = cp_pool_work_new(data, len);
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
		s_on_job(self, l, &w);
		break;
	case SL_MSG_CANCEL:
		s_push_jobs(self); /* a JOB before it in the same BATCH */
		/* Not inside the log macro: its arguments are only evaluated
		 * when debug logging is on. */
		found = cp_pool_cancel_job(
		    self->pool, l->gen, w->msg.u.cancel.job);
		SL_DEBUG("JOB-CANCEL", "job=%" PRIu64 " found=%d",
		    w->msg.u.cancel.job, found);
		break;
	case SL_MSG_PING:
		s_send_empty(self, l, SL_MSG_PONG);
		break;
	case SL_MSG_PONG:
		break;
	case SL_MSG_REGISTERED:
		s_on_registered(self, l, &w->msg.u.registered);
		break;
	default:
		SL_WARN("IO-BADMSG", "type=%s is not for a worker",
		    sl_proto_type_name(w->msg.type));
		break;
	}
out:
	cp_pool_work_destroy(&w);
}

/* A BATCH from l: each entry as if it came alone (not a BATCH: an unknown
 * type there). The first says l takes BATCH: we answer with an empty one,
 * and l may batch its JOBs from then on (PROTOCOL.md §2, "Batches"). */
static void
s_on_gateway_batch(cp_io_t *self, cp_link_t *l, const void *data, size_t len)
{
	sl_batch_reader_t r;
	const char *why;
	const void *e;
	size_t elen;
	int rc = sl_batch_open(&r, data, len, &why);

	if (rc) {
		SL_WARN("IO-BADMSG", "bytes=%zu err=%s why=\"%s\"", len,
		    sl_strerror(rc), why);
		goto out;
	}
	if (cp_link_batching(l))
		SL_WARN("IO-SEND", "to gateway=%s: BATCH not answered",
		    l->endpoint);
	while ((rc = sl_batch_next(&r, &e, &elen)))
		if (rc < 0)
			SL_WARN("IO-BADMSG", "a BATCH entry is not a bin");
		else
			s_on_gateway_frame(self, l, e, elen);
out:
	sl_batch_close(&r);
}

/* Handle every message waiting from one gateway; any proves it alive. */
static void
s_drain_gateway(cp_io_t *self, cp_link_t *l)
{
	zmq_msg_t m;

	for (;;) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, l->dealer, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		cp_link_heard(l, &self->lo, sl_clock_mono_us());
		if (sl_batch_is(zmq_msg_data(&m), zmq_msg_size(&m)))
			s_on_gateway_batch(
			    self, l, zmq_msg_data(&m), zmq_msg_size(&m));
		else
			s_on_gateway_frame(
			    self, l, zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
		s_push_jobs(self);
	}
}

/* Connect l as a new connection and say READY (queued until connected):
 * 0, or SL_ESYS after logging why (l then waits to try again). */
static int
s_open_link(cp_io_t *self, cp_link_t *l, int64_t now)
{
	if (cp_link_open(l, self->zctx, &self->lo, ++self->last_gen, now)
	    || s_send_ready(self, l)) {
		SL_WARN("IO-START", "gateway=%s: %s", l->endpoint,
		    zmq_strerror(errno));
		cp_link_close(l, &self->lo, (unsigned) s_random64(), now);
		return SL_ESYS;
	}
	return 0;
}

/*
 * A gateway has been silent too long: presume it gone. What it sent us
 * was requeued on its side, so cancel it; the other gateways' jobs run
 * on. Reconnect after a jittered, growing delay (so a fleet of workers
 * does not reconnect in lockstep).
 */
static void
s_lost(cp_io_t *self, cp_link_t *l, int64_t now)
{
	size_t n = cp_pool_cancel_gen(self->pool, l->gen);

	SL_WARN("GW-SILENT",
	    "gateway=%s silent for %u heartbeats; %zu job%s cancelled; "
	    "reconnecting in ~%" PRId64 " ms%s",
	    l->endpoint, self->cfg->hb_liveness, n, n == 1 ? "" : "s",
	    l->backoff_us / 1000,
	    l->ever ? ""
	        /* A gateway that never answered is often one we cannot
	         * talk to at all: say what to check. */
	        : self->cfg->curve_server_key
	        ? "; it never answered: is it up at that address, with "
	          "this server key, and our public key in its allow-list?"
	        : "; it never answered: is it up at that address, and "
	          "without CURVE (else set --curve-server-key)?");
	cp_link_close(l, &self->lo, (unsigned) s_random64(), now);
}

/* cp_gws: leave a gateway whose address no longer resolves: BYE (it
 * requeues what we hold, and we cancel it); cp_gws forgets the link. */
static void
s_drop(void *arg, cp_link_t *l)
{
	cp_io_t *self = arg;
	size_t n = l->dealer ? cp_pool_cancel_gen(self->pool, l->gen) : 0;

	if (l->dealer)
		s_send_empty(self, l, SL_MSG_BYE);
	SL_NOTICE("GW-DROP",
	    "gateway=%s no longer resolves; %zu job%s cancelled", l->endpoint,
	    n, n == 1 ? "" : "s");
}

/* Rewrite the health file: "ok" while some gateway answers. */
static void
s_write_health(cp_io_t *self, int64_t now)
{
	char text[512];
	const char *gw = "-";
	size_t alive = 0;

	if (!self->cfg->health_file)
		return;
	for (size_t i = 0; i < self->gws.n; i++)
		if (self->gws.links[i]->seen
		    && now < self->gws.links[i]->expiry && !alive++)
			gw = self->gws.links[i]->endpoint;
	snprintf(text, sizeof text,
	    "%s gateway=%s id=%s load=%zu gateways=%zu/%zu\n",
	    alive ? "ok" : "waiting", gw, self->id, cp_pool_load(self->pool),
	    alive, self->gws.n);
	if (cp_health_write(self->cfg->health_file, text))
		SL_WARN("IO-HEALTH", "cannot replace %s: %s",
		    self->cfg->health_file, strerror(errno));
}

static int
s_open(cp_io_t *self)
{
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
	return 0;
}

/* Sockets, pool, the first resolution: 0, or an SL_E* code after
 * logging why. */
static int
s_start(cp_io_t *io)
{
	const cp_io_cfg_t *cfg = io->cfg;
	sigset_t sigs, old;
	char err[300];
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
		SL_ERR("IO-START", "%s", zmq_strerror(errno));
		return SL_ESYS;
	}
	io->pool
	    = cp_pool_new(cfg->threads, cfg->pool_priority, err, sizeof err);
	if (!io->pool) {
		SL_ERR("IO-START", "%s", err);
		return SL_ESYS;
	}
	cp_fwd_init(&io->fwd, cp_pool_results(io->pool));
	io->lo = (cp_link_opts_t) { io->id, cfg->hb_ivl_us, cfg->hb_liveness,
		cfg->backoff_max_us, cfg->curve_server_key, cfg->curve };
	/* A spec or an endpoint that can never work stops us here; a name
	 * that does not resolve yet is tried again. */
	if (cp_gws_init(&io->gws, cfg->gateways, cfg->n_gateways,
	        cfg->resolve_us, err, sizeof err)) {
		SL_ERR("GW-RESOLVE", "%s", err);
		return SL_EINVAL;
	}
	for (size_t i = 0; i < io->gws.n; i++)
		if (s_open_link(io, io->gws.links[i], sl_clock_mono_us()))
			return SL_ESYS;
	/* The resolver thread must not take our signals either. */
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	rc = cp_gws_start(&io->gws);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		SL_ERR("IO-START", "no resolver thread: %s", strerror(errno));
		return SL_ESYS;
	}
	/* Our routing id is what another peer would need to pose as us on
	 * an endpoint without CURVE: at debug level only (SECURITY.md). */
	SL_NOTICE("WRK-UP", "pid=%ld gateway=%s%s threads=%u", (long) getpid(),
	    cfg->n_gateways ? cfg->gateways[0] : "-",
	    cfg->n_gateways > 1 ? ",..." : "", cfg->threads);
	SL_DEBUG("WRK-ID", "id=%s", io->id);
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
		for (size_t i = 0; i < io->gws.n; i++)
			if (io->gws.links[i]->dealer)
				s_send_empty(
				    io, io->gws.links[i], SL_MSG_DRAIN);
		io->drain_end = now + io->cfg->drain_us;
	}
	return io->drain_end
	    && (!cp_pool_load(io->pool) || now >= io->drain_end || *stop > 1);
}

/* Each gateway's timers (PING, silence, reopen), then the worker's own
 * (resolution, health file); returns when the next one is due. */
static int64_t
s_timers(cp_io_t *io, int64_t now)
{
	int64_t next;

	if (!io->drain_end) /* what the resolver thread found, if new */
		cp_gws_poll(&io->gws, s_drop, io);
	if (now >= io->next_health) {
		s_write_health(io, now);
		sl_log_flush(false); /* suppressed-line counts */
		io->next_health = now + io->cfg->hb_ivl_us;
	}
	next = io->next_health;
	for (size_t i = 0; i < io->gws.n; i++) {
		cp_link_t *l = io->gws.links[i];

		if (cp_link_silent(l, now) && !io->drain_end)
			s_lost(io, l, now);
		else if (cp_link_due(l, now) && !io->drain_end)
			s_open_link(io, l, now);
		else if (l->dealer && now >= l->next_ping) {
			s_send_empty(io, l, SL_MSG_PING);
			l->next_ping = now + io->cfg->hb_ivl_us;
		}
		if (cp_link_next_event(l) < next
		    && (l->dealer || !io->drain_end))
			next = cp_link_next_event(l);
	}
	return next;
}

/* Wait for results or gateway frames until the next timer, and handle
 * them: 0, or SL_ESYS after logging why. */
static int
s_poll(cp_io_t *io, int64_t now, int64_t next)
{
	/* Frames taken and not yet sent (cp_fwd): take nothing more from
	 * the pool; if one waits for its link's queue, wake when that link
	 * can take it. */
	void *waiting = cp_fwd_waiting_on(&io->fwd, &io->gws);
	zmq_pollitem_t items[CP_GWS_MAX + 1] = {
		{ NULL, cp_results_fd(cp_pool_results(io->pool)),
		    io->fwd.pending ? 0 : ZMQ_POLLIN, 0 },
	};
	cp_link_t *of[CP_GWS_MAX + 1] = { NULL };
	long timeout_ms = next > now ? (long) ((next - now) / 1000) + 1 : 0;
	int n = 1;

	for (size_t i = 0; i < io->gws.n; i++)
		if (io->gws.links[i]->dealer) {
			void *d = io->gws.links[i]->dealer;

			of[n] = io->gws.links[i];
			items[n++] = (zmq_pollitem_t) { d, 0,
				ZMQ_POLLIN | (d == waiting ? ZMQ_POLLOUT : 0),
				0 };
		}
	if ((io->fwd.has_stalled || io->fwd.unflushed) && timeout_ms > 20)
		timeout_ms = 20; /* a stalled frame or BATCH: try again */
	if (io->drain_end && timeout_ms > 20)
		timeout_ms = 20; /* watch the pool empty */
	if (io->fwd_more)
		timeout_ms = 0; /* frames taken that can leave now */
	if (zmq_poll(items, n, timeout_ms) < 0) {
		if (errno == EINTR)
			return 0; /* a signal: the caller checks *stop */
		SL_ERR("IO-POLL", "%s", zmq_strerror(errno));
		return SL_ESYS;
	}
	/* Results first: they are what clients are waiting for. */
	if ((items[0].revents & ZMQ_POLLIN) || io->fwd.pending
	    || io->fwd.unflushed)
		io->fwd_more = cp_fwd_run(
		    &io->fwd, &io->gws, CP_FORWARD_BATCH, sl_clock_mono_us());
	for (int i = 1; i < n; i++)
		if (items[i].revents & ZMQ_POLLIN)
			s_drain_gateway(io, of[i]);
	if (!io->drain_end)
		s_offer(io);
	return 0;
}

/* Forward what finished during the drain, then BYE to every gateway: each
 * requeues anything we still hold, and drops results that the stopping
 * tasks produce after it. */
static void
s_leave(cp_io_t *io)
{
	uint64_t reconnects = 0;

	cp_fwd_run(&io->fwd, &io->gws, CP_FORWARD_BATCH, sl_clock_mono_us());
	for (size_t i = 0; i < io->gws.n; i++) {
		if (io->gws.links[i]->dealer)
			s_send_empty(io, io->gws.links[i], SL_MSG_BYE);
		reconnects += io->gws.links[i]->reconnects;
	}
	SL_NOTICE("WRK-STOP",
	    "pid=%ld jobs=%" PRIu64 " results=%" PRIu64 " old=%" PRIu64
	    " reconnects=%" PRIu64 " returned=%" PRIu64,
	    (long) getpid(), io->jobs, io->fwd.results, io->fwd.old,
	    reconnects, io->returned);
}

int
cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop)
{
	cp_io_t io = { .cfg = cfg };
	int rc;

	io.jobs_end = &io.jobs_in;
	msgpack_sbuffer_init(&io.sb);
	if ((rc = s_start(&io)))
		goto out;
	for (;;) {
		int64_t now = sl_clock_mono_us(), next;

		if (s_drain_over(&io, stop, now))
			break;
		next = s_timers(&io, now);
		if ((rc = s_poll(&io, now, next)))
			break;
	}
	s_leave(&io);
out:
	cp_gws_destroy(&io.gws);
	cp_fwd_fini(&io.fwd);
	cp_pool_destroy(&io.pool);
	if (io.zctx)
		zmq_ctx_term(io.zctx);
	msgpack_sbuffer_destroy(&io.sb);
	return rc;
}
