/*
 * gw_gateway: wiring, the timer and the drain (see gw_gateway.h). Main
 * thread, which is the lws service thread once gw_gateway_run turns.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <zmq.h>

#include "gw_auth.h"
#include "gw_broker.h"
#include "gw_fds.h"
#include "gw_gateway.h"
#include "gw_http.h"
#include "gw_listen.h"
#include "gw_loop.h"
#include "gw_policy.h"
#include "gw_prod.h"
#include "gw_workers.h"
#include "gw_ws.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_curve.h"
#include "sl_err.h"
#include "sl_log.h"

#define GW_TICK_US 100000        /* timers: heartbeats, timeouts, stalls */
#define GW_CLOSE_WAIT_US 3500000 /* > gw_ws_close_all's hard deadline */
#define GW_SETTLE_ROUNDS 8       /* drains after one turn's sends, at most */

struct gw_gateway {
	const gw_opts_t *opts; /* borrowed */
	void *zctx;            /* owned; terminated last */
	gw_broker_t *broker;
	gw_policy_t *policy;   /* owns the ZAP handler in zctx */
	gw_workers_t *workers; /* the workers endpoint */
	gw_prod_t *prod;       /* NULL: no producers endpoint */
	gw_ws_t *ws;
	gw_fds_t *fds;
	gw_loop_t *loop;       /* under lws: poll or libuv */
	long fd_limit, fd_was; /* RLIMIT_NOFILE after and before raising */
	gw_hist_t forward;  /* result at the gateway -> written (ws, prod) */
	gw_http_src_t http; /* /metrics' source: the protocol's user */
	/* lws keeps pointers to these: they live as long as the context. */
	struct lws_protocols protocols[5];
	struct lws_http_mount mounts[4];
	lws_retry_bo_t keepalive;
	char ifname[IF_NAMESIZE + 1];
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;
	int64_t last_tick_us; /* the timer last ran (healthz) */
	int64_t deadline;     /* draining: end of the wait; 0: not yet */
	bool closing;         /* clients were told to go */
};

/* The periodic timer that drives every module's timeouts. */
static void
s_tick(lws_sorted_usec_list_t *sul)
{
	gw_gateway_t *self = lws_container_of(sul, gw_gateway_t, tick);
	int64_t now = sl_clock_mono_us();

	self->last_tick_us = now;
	gw_broker_tick(self->broker, now);
	gw_workers_tick(self->workers, now);
	gw_ws_tick(self->ws, now);
	if (self->prod)
		gw_prod_tick(self->prod, now);
	sl_log_flush(false); /* "N more suppressed" of ended windows */
	lws_sul_schedule(self->ctx, 0, &self->tick, s_tick, GW_TICK_US);
}

/*
 * After every loop turn, before the loop may sleep again: the JOBs the
 * turn held leave (one BATCH per worker), the ZeroMQ sockets that sent
 * are drained (a send may have consumed the edge that would announce
 * their input; what the drain handles may send again, so until quiet,
 * within a bound: the rest comes back on a timer), and the frames queued
 * for clients are written. Doing these here rather than per event is
 * what batches them: one BATCH, one drain, one send() per connection per
 * turn, and no POLLOUT toggles (gw_ws_set_direct).
 */
static void
s_settle(gw_gateway_t *self)
{
	bool again = true;

	for (int round = 0; again && round < GW_SETTLE_ROUNDS; round++) {
		again = gw_workers_settle(self->workers, false);
		if (self->prod && gw_prod_settle(self->prod, false))
			again = true;
		/* may resume a paused client: its JOBs wait for the next */
		gw_ws_flush(self->ws);
	}
	/* Bounded: what is still held leaves now, and a socket that sent
	 * since its drain is drained on the next turn (a timer). */
	gw_workers_settle(self->workers, true);
	if (self->prod)
		gw_prod_settle(self->prod, true);
}

/* gw_http_src_t.stats: every module's stats for /metrics. */
static void
s_http_stats(void *user, gw_http_stats_t *out)
{
	const gw_gateway_t *self = user;

	gw_broker_stats(self->broker, &out->broker);
	gw_workers_stats(self->workers, &out->workers);
	gw_ws_stats(self->ws, &out->ws);
	gw_prod_stats(self->prod, &out->prod);
	gw_policy_stats(self->policy, &out->policy);
	out->forward = self->forward;
	out->last_tick_us = self->last_tick_us;
}

/* gw_prod's CURVE setup: ZAP domain "producers". */
static int
s_producers_curve(void *sock, const void *kp)
{
	return sl_curve_server_setup(sock, kp, "producers");
}

/* ---- start-up ---- */

/* Tokens, origins and CURVE from the options (gw_policy); warn about an
 * endpoint that other hosts reach with nobody checked. */
static int
s_start_policy(gw_gateway_t *self, char *err, size_t errlen)
{
	const gw_opts_t *o = self->opts;
	gw_policy_cfg_t pc = { gw_opts_str(o->tokens_file),
		gw_opts_str(o->tokens),
		strcmp(o->allow_origins, "any") ? o->allow_origins : NULL,
		o->allow_no_origin, o->metrics_token,
		gw_opts_str(o->curve_secret_file),
		gw_opts_str(o->curve_clients_file),
		gw_opts_str(o->curve_producers_file) };

	self->policy = gw_policy_new(&pc, self->zctx, err, errlen);
	if (!self->policy)
		return SL_EINVAL;
	if (!gw_auth_n_tokens(gw_policy_auth(self->policy))
	    && !gw_opts_str(o->tls_cert) && !gw_auth_host_is_loopback(o->host))
		SL_WARN("GW-INSECURE",
		    "listen=%s reaches other hosts with neither tokens nor "
		    "TLS: anyone who can connect may submit work (see "
		    "docs/SECURITY.md)",
		    o->listen);
	if (!gw_policy_curve(self->policy, "workers")
	    && !gw_auth_endpoint_is_local(o->workers))
		SL_WARN("GW-INSECURE",
		    "workers=%s reaches other hosts without CURVE: anyone who "
		    "can connect may register as a worker and read jobs (see "
		    "docs/SECURITY.md)",
		    o->workers);
	return 0;
}

/* The broker and both ZeroMQ endpoints. */
static int
s_start_zmq(gw_gateway_t *self, char *err, size_t errlen)
{
	const gw_opts_t *o = self->opts;
	gw_broker_limits_t lim = {
		.max_items = (size_t) o->max_items,
		.max_item_bytes = (size_t) o->max_item_bytes,
		.max_requests = (size_t) o->max_requests,
		.max_queued_jobs = (size_t) o->max_queued,
		.max_client_jobs = (size_t) o->max_queued_per_client,
		.max_subscriptions = (size_t) o->max_subs,
		.unknown_task_us = o->unknown_task_ms * 1000,
		.resume_us = o->resume_ms * 1000,
		.max_resume_bytes = (size_t) o->max_resume_bytes,
		.progress_us = o->progress_ms * 1000,
	};
	/* gw_ws_client_send finds all it needs in the connection */
	gw_broker_ops_t ops
	    = { .client_send = gw_ws_client_send, .ctx = NULL };
	gw_workers_limits_t wlim = { .max_frame = o->max_frame,
		.max_items = (size_t) o->max_items,
		.hb_ivl_us = o->hb_ivl_ms * 1000,
		.hb_liveness = (unsigned) o->hb_liveness };
	gw_workers_events_t wev;
	gw_prod_limits_t plim = { .max_frame = o->max_frame,
		.max_items = (size_t) o->max_items,
		.timeout_us = o->producer_timeout_ms * 1000,
		.max_out_bytes = (size_t) o->max_producer_out };
	const sl_curve_keypair_t *pkp;

	self->broker = gw_broker_new(&ops, &lim);
	self->zctx = zmq_ctx_new();
	if (!self->broker || !self->zctx) {
		snprintf(err, errlen, "out of memory");
		return SL_ENOMEM;
	}
	if (s_start_policy(self, err, errlen))
		return SL_EINVAL;
	gw_broker_workers_events(self->broker, &wev);
	self->workers = gw_workers_new(self->zctx, o->workers, &wlim,
	    gw_policy_curve(self->policy, "workers"), &wev, err, errlen);
	if (!self->workers)
		return SL_EINVAL;
	gw_broker_set_workers(self->broker, &gw_workers_ops, self->workers);
	if (!gw_opts_str(o->producers))
		return 0;
	pkp = gw_policy_curve(self->policy, "producers");
	if (!pkp && !gw_auth_endpoint_is_local(o->producers))
		SL_WARN("GW-INSECURE",
		    "producers=%s reaches other hosts without CURVE: "
		    "anyone who can connect may submit work (see "
		    "docs/SECURITY.md)",
		    o->producers);
	self->prod = gw_prod_new(self->broker, self->zctx, o->producers, &plim,
	    pkp ? s_producers_curve : NULL, pkp, err, errlen);
	if (!self->prod)
		return SL_EINVAL;
	gw_prod_set_forward_hist(self->prod, &self->forward);
	return 0;
}

/* With the ZeroMQ sockets open: the connections that fit in what the
 * open files limit leaves, and the spare descriptor to shed with. */
static int
s_start_fds(gw_gateway_t *self, size_t *max_conns, char *err, size_t errlen)
{
	long open_now = gw_fds_count_open(), ask = self->opts->max_conns;
	long fit = gw_fds_budget(self->fd_limit, open_now < 0 ? 32 : open_now);

	if (!fit) {
		snprintf(err, errlen,
		    "open files limit %ld (ulimit -n) leaves no descriptor "
		    "for clients: %ld open, %d kept back; raise it",
		    self->fd_limit, open_now, GW_FDS_RESERVE);
		return SL_EINVAL;
	}
	self->fds = gw_fds_new();
	if (!self->fds) {
		snprintf(
		    err, errlen, "cannot open /dev/null: %s", strerror(errno));
		return SL_ESYS;
	}
	*max_conns = (size_t) (ask > fit ? fit : ask);
	if (ask > fit)
		SL_WARN("GW-FDS",
		    "--max-connections %ld lowered to %ld: open files limit "
		    "%ld (ulimit -n; was %ld), %ld open, %d kept for workers, "
		    "producers, HTTP and lws",
		    ask, fit, self->fd_limit, self->fd_was, open_now,
		    GW_FDS_RESERVE);
	else
		SL_INFO("GW-FDS",
		    "open files limit %ld (was %ld), %ld open, room for %ld "
		    "connections",
		    self->fd_limit, self->fd_was, open_now, fit);
	return 0;
}

/* The WebSocket side, and the protocol table: its two subprotocols,
 * plain HTTP, the ZeroMQ sockets' raw fds. */
static int
s_start_ws(gw_gateway_t *self, size_t max_conns)
{
	const gw_opts_t *o = self->opts;
	gw_ws_limits_t wlim = {
		.max_frame = (size_t) o->max_frame,
		.max_items = (size_t) o->max_items,
		.out_high = (size_t) o->out_high,
		.out_low = (size_t) o->out_low,
		.max_out_bytes = (size_t) o->max_out,
		.stall_us = o->stall_ms * 1000,
		.max_conns = max_conns,
		.max_conns_per_addr = (size_t) o->max_conns_per_addr,
		.max_buffered = (size_t) o->max_buffered,
		.ping_us = (int64_t) o->ws_ping * 1000000,
		.hangup_us = (int64_t) o->ws_hangup * 1000000,
	};

	self->ws
	    = gw_ws_new(self->broker, self->policy, &wlim, &self->forward);
	if (!self->ws)
		return SL_ENOMEM;
	self->http.stats = s_http_stats;
	self->http.user = self;
	self->http.policy = self->policy;
	gw_ws_protocols(self->ws, &self->protocols[0]);
	gw_http_protocol(&self->http, &self->protocols[2]);
	self->protocols[3].name = "zmq";
	self->protocols[3].callback = gw_zmq_callback;
	/* No validity timers in lws: gw_ws pings (gw_wsping.h says why). */
	self->keepalive.secs_since_valid_ping = 0;
	self->keepalive.secs_since_valid_hangup = 0;
	return 0;
}

/* The lws context on --listen: TLS, the exact interface, a port that is
 * free, then the proof that lws bound only what was asked. */
static int
s_start_lws(gw_gateway_t *self, char *err, size_t errlen)
{
	const gw_opts_t *o = self->opts;
	struct lws_context_creation_info ci;
	const char *cert = gw_opts_str(o->tls_cert);
	char why[200];

	memset(&ci, 0, sizeof ci);
	ci.port = o->port;
	if (cert) {
		ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		ci.ssl_cert_filepath = cert;
		ci.ssl_private_key_filepath = o->tls_key;
	}
	if (gw_listen_iface(o->host, self->ifname, sizeof self->ifname,
	        &ci.iface, why, sizeof why)
	    || gw_listen_probe(o->host, o->port, why, sizeof why))
		goto bad_listen;
	ci.protocols = self->protocols;
	/* lws sizes its descriptor tables from this (one service thread);
	 * equal to the process limit it keeps its direct fd lookup. */
	ci.fd_limit_per_thread = (unsigned) self->fd_limit;
	ci.mounts = gw_http_mounts(self->mounts, o->www_dir);
	ci.retry_and_idle_policy = &self->keepalive;
	ci.options
	    |= LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	gw_loop_prepare(self->loop, &ci, &self->ctx);
	self->ctx = lws_create_context(&ci);
	if (!self->ctx) {
		snprintf(err, errlen, "cannot listen on %s", o->listen);
		return SL_EINVAL;
	}
	/* Never serve on more addresses than asked (a loopback default must
	 * stay loopback, whatever lws made of it). */
	if (gw_listen_check(o->host, o->port, why, sizeof why))
		goto bad_listen;
	return 0;
bad_listen:
	snprintf(err, errlen, "--listen %s: %s", o->listen, why);
	return SL_EINVAL;
}

/* The endpoints join the loop, the timer starts. */
static int
s_start_loop(gw_gateway_t *self, char *err, size_t errlen)
{
	struct lws_vhost *vh = lws_get_vhost_by_name(self->ctx, "default");

	if (!gw_fds_find_listeners(self->fds, self->opts->port))
		SL_WARN("GW-FDS",
		    "listener on port %d not found: connections cannot be "
		    "shed when descriptors run out",
		    self->opts->port);
	if (gw_workers_attach(self->workers, self->ctx, vh)) {
		snprintf(
		    err, errlen, "cannot add the ZeroMQ socket to the loop");
		return SL_EINVAL;
	}
	if (self->prod && gw_prod_attach(self->prod, self->ctx, vh)) {
		snprintf(err, errlen,
		    "cannot add the producers socket to the loop");
		return SL_EINVAL;
	}
	/* gw_gateway_run settles after every turn (s_settle). */
	gw_workers_set_owner_settles(self->workers);
	if (self->prod)
		gw_prod_set_owner_settles(self->prod);
	gw_ws_set_direct(self->ws);
	lws_sul_schedule(self->ctx, 0, &self->tick, s_tick, GW_TICK_US);
	return 0;
}

gw_gateway_t *
gw_gateway_new(const gw_opts_t *opts, char *err, size_t errlen)
{
	gw_gateway_t *self = calloc(1, sizeof *self);
	size_t max_conns = 0;

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->opts = opts;
	gw_hist_init_forward(&self->forward);
	/* Configuration errors before anything is bound: they say more than
	 * a busy port, and a gateway that will not run takes no port. */
	if (!gw_opts_str(opts->tls_cert) != !gw_opts_str(opts->tls_key)) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		goto fail;
	}
	self->loop = gw_loop_new((int) opts->event_lib, NULL, err, errlen);
	if (!self->loop)
		goto fail;
	/* Before ZeroMQ's and lws's first descriptors: both size tables
	 * from the limit in force when they start. */
	if (gw_fds_raise_limit(&self->fd_limit, &self->fd_was)) {
		snprintf(err, errlen, "cannot read RLIMIT_NOFILE: %s",
		    strerror(errno));
		goto fail;
	}
	if (s_start_zmq(self, err, errlen)
	    || s_start_fds(self, &max_conns, err, errlen))
		goto fail;
	if (s_start_ws(self, max_conns)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (s_start_lws(self, err, errlen) || s_start_loop(self, err, errlen))
		goto fail;
	return self;
fail:
	gw_gateway_destroy(&self);
	return NULL;
}

/* After a turn of the loop while stopping: drain, then close the
 * clients; true once the loop may end. */
static bool
s_stopping(gw_gateway_t *self, int stop)
{
	int64_t now = sl_clock_mono_us();
	gw_broker_stats_t st;
	size_t conns = gw_ws_conns(self->ws);

	if (!self->deadline) {
		SL_NOTICE("GW-DRAIN", "draining for up to %lld ms",
		    self->opts->drain_ms);
		gw_broker_drain(self->broker);
		self->deadline = now + self->opts->drain_ms * 1000;
	}
	gw_broker_stats(self->broker, &st);
	/* Waiting is pointless once no unfinished request can end by its
	 * workers (none left that runs its task): say so now. */
	if (!self->closing
	    && (!st.req.requests || now >= self->deadline || stop > 1
	        || !gw_broker_can_progress(self->broker))) {
		SL_NOTICE("GW-CLOSE",
		    "closing %zu connection%s, %zu request%s unfinished%s",
		    conns, conns == 1 ? "" : "s", st.req.requests,
		    st.req.requests == 1 ? "" : "s",
		    st.req.requests && now < self->deadline && stop < 2
		        ? " (no worker can run them)"
		        : "");
		gw_ws_close_all(self->ws, LWS_CLOSE_STATUS_GOINGAWAY,
		    "server shutting down");
		self->closing = true;
		self->deadline = now + GW_CLOSE_WAIT_US;
	}
	return self->closing
	    && (!gw_ws_conns(self->ws) || now >= self->deadline);
}

int
gw_gateway_run(gw_gateway_t *self, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *reload)
{
	const gw_opts_t *o = self->opts;

	SL_NOTICE("GW-UP",
	    "listen=%s workers=%s producers=%s event_lib=%s version=%s",
	    o->listen, o->workers, o->producers, gw_loop_name(self->loop),
	    SLUICE_VERSION);
	while (gw_loop_turn(self->loop, self->ctx) >= 0) {
		s_settle(self);
		gw_fds_shed(self->fds, false); /* after a failed accept() */
		if (*reload) {
			*reload = 0;
			gw_policy_reload(self->policy);
		}
		if (*stop && s_stopping(self, *stop))
			break;
	}
	SL_NOTICE("GW-STOP", "shutting down");
	return 0;
}

void
gw_gateway_wake(gw_gateway_t *self)
{
	if (self && self->ctx)
		lws_cancel_service(self->ctx); /* async-signal-safe */
}

void
gw_gateway_lws_log(gw_gateway_t *self, int level, const char *line)
{
	/* lws' notices are chatty (one per partial send): debug for us. */
	int l = level == LLL_ERR ? SL_LOG_ERR
	    : level == LLL_WARN  ? SL_LOG_WARN
	                         : SL_LOG_DEBUG;
	int err;

	/* A refused handshake is logged once, as CLI-DENIED. */
	if (strstr(line, "User code denied connection"))
		l = SL_LOG_DEBUG;
	/* lws 4.1.6 has no callback for a failed accept(), only this line
	 * (lib/roles/listen/ops-listen.c); the listener is still readable,
	 * and gw_fds sheds its queue after this service turn (GW-FDS). */
	if (sscanf(line, "accept: errno %d", &err) == 1) {
		if (self && self->fds)
			gw_fds_accept_failed(self->fds, err);
		l = SL_LOG_DEBUG;
	}
	/* A peer can make lws log an error per connection at will (e.g.
	 * "Ran out of header data space" for oversized headers): its lines
	 * are rate-limited at every level, errors included. */
	if (l <= sl_log_level())
		sl_log_emit_limited(l, "LWS", "%s", line);
}

void
gw_gateway_destroy(gw_gateway_t **self_p)
{
	gw_gateway_t *self = *self_p;

	if (!self)
		return;
	/* Order matters: lws closes the dup'd ZMQ_FDs and every client (the
	 * broker forgets them), then the sockets, then the ZeroMQ context. */
	lws_sul_cancel(&self->tick); /* NULL-safe: never scheduled */
	if (self->loop)
		gw_loop_destroy_context(self->loop, &self->ctx);
	gw_ws_destroy(&self->ws);
	gw_prod_destroy(&self->prod); /* its broker clients, then socket */
	gw_workers_destroy(&self->workers); /* hands held jobs back */
	gw_broker_destroy(&self->broker);
	gw_policy_destroy(&self->policy); /* its ZAP handler shuts zctx */
	if (self->zctx)
		zmq_ctx_term(self->zctx);
	gw_fds_destroy(&self->fds);
	gw_loop_destroy(&self->loop);
	free(self);
	*self_p = NULL;
}
