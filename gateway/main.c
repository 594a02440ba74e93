/*
 * sluice-gateway: process concerns only: options, signals, wiring the
 * broker to lws and ZeroMQ, and the event loop. One thread runs
 * everything after start-up (docs/ARCHITECTURE.md).
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <zmq.h>

#include "gw_broker.h"
#include "gw_http.h"
#include "gw_ws.h"
#include "gw_zmq.h"
#include "sl_cfg.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct gw_cfg {
	const char *listen;
	const char *workers;
	long long max_frame;
	long long max_items;
	long long max_item_bytes;
	long long max_conns;
	long long max_requests;
	long long max_queued;
	long long max_out;
	long long out_high;
	long long out_low;
	long long stall_ms;
	long long hb_ivl_ms;
	long long hb_liveness;
	long long ws_ping;
	long long ws_hangup;
	long long drain_ms;
	const char *www;
	int log_level;
	int log_format;
} gw_cfg_t;

#define KIB 1024LL
#define MIB (1024LL * 1024)

static const sl_opt_t s_opts[] = {
	{ "listen", "SLUICE_LISTEN", SL_OPT_STR, "127.0.0.1:8080", 0, 0, NULL,
	    offsetof(gw_cfg_t, listen),
	    "WebSocket/HTTP address HOST:PORT ('*:PORT' for every "
	    "interface)" },
	{ "workers", "SLUICE_WORKERS", SL_OPT_STR, "tcp://127.0.0.1:5555", 0,
	    0, NULL, offsetof(gw_cfg_t, workers),
	    "ZeroMQ endpoint to bind for workers" },
	{ "max-frame-bytes", "SLUICE_MAX_FRAME_BYTES", SL_OPT_INT, "1048576",
	    1 * KIB, 64 * MIB, NULL, offsetof(gw_cfg_t, max_frame),
	    "largest client message or worker frame, in bytes" },
	{ "max-items", "SLUICE_MAX_ITEMS", SL_OPT_INT, "10000", 1, 1000000,
	    NULL, offsetof(gw_cfg_t, max_items), "items in one request" },
	{ "max-item-bytes", "SLUICE_MAX_ITEM_BYTES", SL_OPT_INT, "65536", 16,
	    64 * MIB, NULL, offsetof(gw_cfg_t, max_item_bytes),
	    "one item as sent to a worker (msgpack), in bytes" },
	{ "max-connections", "SLUICE_MAX_CONNECTIONS", SL_OPT_INT, "1024", 1,
	    1000000, NULL, offsetof(gw_cfg_t, max_conns),
	    "open WebSocket connections; more are refused with HTTP 503" },
	{ "max-requests", "SLUICE_MAX_REQUESTS", SL_OPT_INT, "64", 1, 100000,
	    NULL, offsetof(gw_cfg_t, max_requests),
	    "unfinished requests per connection" },
	{ "max-queued-jobs", "SLUICE_MAX_QUEUED_JOBS", SL_OPT_INT, "100000", 1,
	    100000000, NULL, offsetof(gw_cfg_t, max_queued),
	    "jobs waiting for a worker, over all clients" },
	{ "max-out-bytes", "SLUICE_MAX_OUT_BYTES", SL_OPT_INT, "8388608",
	    64 * KIB, 1024 * MIB, NULL, offsetof(gw_cfg_t, max_out),
	    "bytes queued to one client before it is closed as too slow" },
	{ "out-high-bytes", "SLUICE_OUT_HIGH_BYTES", SL_OPT_INT, "1048576",
	    4 * KIB, 1024 * MIB, NULL, offsetof(gw_cfg_t, out_high),
	    "bytes queued to one client above which its jobs wait" },
	{ "out-low-bytes", "SLUICE_OUT_LOW_BYTES", SL_OPT_INT, "262144", 0,
	    1024 * MIB, NULL, offsetof(gw_cfg_t, out_low),
	    "bytes queued to one client below which its jobs resume" },
	{ "stall-ms", "SLUICE_STALL_MS", SL_OPT_INT, "30000", 100, 3600000,
	    NULL, offsetof(gw_cfg_t, stall_ms),
	    "close a client whose queued output made no progress this long" },
	{ "hb-interval-ms", "SLUICE_HB_INTERVAL_MS", SL_OPT_INT, "1000", 50,
	    60000, NULL, offsetof(gw_cfg_t, hb_ivl_ms),
	    "heartbeat interval with workers" },
	{ "hb-liveness", "SLUICE_HB_LIVENESS", SL_OPT_INT, "3", 2, 100, NULL,
	    offsetof(gw_cfg_t, hb_liveness),
	    "silent heartbeat intervals before a worker is declared dead" },
	{ "ws-ping-secs", "SLUICE_WS_PING_SECS", SL_OPT_INT, "20", 1, 3600,
	    NULL, offsetof(gw_cfg_t, ws_ping),
	    "WebSocket ping after this many seconds without a pong" },
	{ "ws-hangup-secs", "SLUICE_WS_HANGUP_SECS", SL_OPT_INT, "30", 2, 7200,
	    NULL, offsetof(gw_cfg_t, ws_hangup),
	    "close a WebSocket client silent this long (> ws-ping-secs)" },
	{ "drain-ms", "SLUICE_DRAIN_MS", SL_OPT_INT, "10000", 0, 3600000, NULL,
	    offsetof(gw_cfg_t, drain_ms),
	    "on SIGTERM, time to finish running requests before closing" },
	{ "www", "SLUICE_WWW", SL_OPT_STR, "auto", 0, 0, NULL,
	    offsetof(gw_cfg_t, www),
	    "directory of the demo page (auto: www/ beside the binary, or "
	    "../share/sluice/www)" },
	{ "log-level", "SLUICE_LOG_LEVEL", SL_OPT_ENUM, "notice", 0, 0,
	    SL_LOG_LEVEL_NAMES, offsetof(gw_cfg_t, log_level),
	    "least severe log level printed" },
	{ "log-format", "SLUICE_LOG_FORMAT", SL_OPT_ENUM, "text", 0, 0,
	    SL_LOG_FORMAT_NAMES, offsetof(gw_cfg_t, log_format),
	    "log lines as text or as one JSON object each" },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

#define GW_TICK_US 100000 /* timers: heartbeats, timeouts, stalls */

/* Process-wide, for the signal handler only: 1 = drain, 2 = now. */
static volatile sig_atomic_t s_stop;
static struct lws_context *s_ctx;

static void
s_on_signal(int sig)
{
	(void) sig;
	if (s_stop < 2)
		s_stop++;
	if (s_ctx)
		lws_cancel_service(s_ctx); /* wakes the loop; async-safe */
}

/* The periodic timer that drives the broker's and the connections'. */
typedef struct gw_tick {
	lws_sorted_usec_list_t sul;
	gw_ws_env_t *env;
} gw_tick_t;

static void
s_tick(lws_sorted_usec_list_t *sul)
{
	gw_tick_t *t = lws_container_of(sul, gw_tick_t, sul);
	int64_t now = sl_clock_mono_us();

	t->env->last_tick_us = now;
	gw_broker_tick(t->env->broker, now);
	gw_ws_tick(t->env, now);
	lws_sul_schedule(s_ctx, 0, &t->sul, s_tick, GW_TICK_US);
}

static void
s_lws_log(int level, const char *line)
{
	/* lws' notices are chatty (one per partial send): debug for us. */
	int l = level == LLL_ERR ? SL_LOG_ERR
	    : level == LLL_WARN  ? SL_LOG_WARN
	                         : SL_LOG_DEBUG;

	sl_log(l, "LWS", "%s", line);
}

/* The demo page's directory: as configured, or found beside the binary
 * (build tree: www/; installed: ../share/sluice/www). */
static int
s_find_www(const char *opt, char *out, size_t outlen)
{
	static const char *const rel[] = { "www", "../share/sluice/www" };
	char exe[2048], *slash;
	ssize_t n;

	if (strcmp(opt, "auto")) {
		snprintf(out, outlen, "%s", opt);
		return access(out, R_OK) ? SL_EINVAL : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return SL_ESYS;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		snprintf(out, outlen, "%s/%s", exe, rel[i]);
		if (!access(out, R_OK))
			return 0;
	}
	return SL_EINVAL;
}

/* HOST:PORT, [V6]:PORT or *:PORT into an lws iface (NULL: all) and port. */
static int
s_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t hl;
	char *end;
	long p;

	if (!colon)
		return SL_EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return SL_EINVAL;
	hl = (size_t) (colon - s);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return SL_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int) p;
	return 0;
}

static int
s_worker_send(void *ctx, const uint8_t *rid, size_t rid_len, const void *data,
    size_t len)
{
	return gw_zmq_send(*(gw_zmq_t **) ctx, rid, rid_len, data, len);
}

static void
s_worker_frame(void *user, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	gw_broker_on_worker_frame(user, rid, rid_len, data, len);
}

int
main(int argc, char **argv)
{
	static const sl_cfg_info_t info = { "sluice-gateway",
		"WebSocket gateway that streams per-item results from "
		"sluice-compute workers",
		SLUICE_VERSION };
	/* Must outlive the vhost: lws keeps the pointer. */
	lws_retry_bo_t keepalive = { 0 };
	gw_tick_t tick = { 0 };
	int64_t deadline = 0;
	bool closing = false;
	struct lws_protocols protocols[] = {
		{ "sluice", gw_ws_callback, gw_ws_pss_size(), 4096, 0, NULL,
		    0 },
		{ "sluice-http", gw_http_callback, gw_http_pss_size(), 0, 0,
		    NULL, 0 },
		{ "zmq", gw_zmq_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_http_mount mounts[4];
	char www[4096]; /* fits any exe dir (2048) plus a relative path */
	struct lws_context_creation_info ci;
	gw_ws_env_t env = { 0 };
	gw_broker_ops_t ops;
	gw_broker_limits_t lim;
	gw_broker_t *broker = NULL;
	gw_zmq_t *zsock = NULL;
	void *zctx = NULL;
	struct sigaction sa;
	char err[256], host[128];
	gw_cfg_t cfg;
	int port, rc, exit_code = 1;

	rc = sl_cfg_load(
	    s_opts, N_OPTS, &cfg, argc, argv, &info, stdout, err, sizeof err);
	if (rc == SL_CFG_EXIT_OK)
		return 0;
	if (rc) {
		fprintf(stderr, "sluice-gateway: %s\n", err);
		return 2;
	}
	if (cfg.ws_hangup <= cfg.ws_ping || cfg.out_low >= cfg.out_high
	    || cfg.out_high >= cfg.max_out) {
		fprintf(stderr,
		    "sluice-gateway: need --ws-hangup-secs > "
		    "--ws-ping-secs and --out-low-bytes < "
		    "--out-high-bytes < --max-out-bytes\n");
		return 2;
	}
	if (s_find_www(cfg.www, www, sizeof www)) {
		fprintf(stderr,
		    "sluice-gateway: --www: no readable page directory "
		    "('%s')\n",
		    cfg.www);
		return 2;
	}
	if (s_parse_listen(cfg.listen, host, sizeof host, &port)) {
		fprintf(stderr,
		    "sluice-gateway: --listen: '%s' is not HOST:PORT\n",
		    cfg.listen);
		return 2;
	}
	sl_log_setup("gw", cfg.log_level);
	sl_log_set_format(cfg.log_format);
	lws_set_log_level(LLL_ERR | LLL_WARN
	        | (cfg.log_level >= SL_LOG_DEBUG ? LLL_NOTICE : 0),
	    s_lws_log);
	sl_cfg_log(s_opts, N_OPTS, &cfg);

	lim.max_items = (size_t) cfg.max_items;
	lim.max_item_bytes = (size_t) cfg.max_item_bytes;
	lim.max_requests = (size_t) cfg.max_requests;
	lim.max_queued_jobs = (size_t) cfg.max_queued;
	lim.hb_ivl_us = cfg.hb_ivl_ms * 1000;
	lim.hb_liveness = (unsigned) cfg.hb_liveness;
	ops.client_send = gw_ws_client_send;
	ops.worker_send = s_worker_send;
	ops.ctx = &zsock;
	broker = gw_broker_new(&ops, &lim);
	zctx = zmq_ctx_new();
	if (!broker || !zctx) {
		SL_ERR("GW-START", "out of memory");
		goto out;
	}
	zsock = gw_zmq_new(zctx, cfg.workers, cfg.max_frame, s_worker_frame,
	    broker, err, sizeof err);
	if (!zsock) {
		SL_ERR("GW-START", "%s", err);
		goto out;
	}
	env.broker = broker;
	env.max_frame = (size_t) cfg.max_frame;
	env.max_items = (size_t) cfg.max_items;
	env.max_conns = (size_t) cfg.max_conns;
	env.max_out_bytes = (size_t) cfg.max_out;
	env.out_high = (size_t) cfg.out_high;
	env.out_low = (size_t) cfg.out_low;
	env.stall_us = cfg.stall_ms * 1000;
	gw_ws_env_init(&env);
	keepalive.secs_since_valid_ping = (uint16_t) cfg.ws_ping;
	keepalive.secs_since_valid_hangup = (uint16_t) cfg.ws_hangup;

	memset(&ci, 0, sizeof ci);
	ci.port = port;
	ci.iface = (!host[0] || !strcmp(host, "*")) ? NULL : host;
	ci.protocols = protocols;
	ci.mounts = gw_http_mounts(mounts, www);
	ci.user = &env;
	ci.retry_and_idle_policy = &keepalive;
	ci.options
	    = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	s_ctx = lws_create_context(&ci);
	if (!s_ctx) {
		SL_ERR("GW-START", "cannot listen on %s", cfg.listen);
		goto out;
	}
	if (gw_zmq_attach(
	        zsock, s_ctx, lws_get_vhost_by_name(s_ctx, "default"))) {
		SL_ERR("GW-START", "cannot add the ZeroMQ socket to the loop");
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tick.env = &env;
	lws_sul_schedule(s_ctx, 0, &tick.sul, s_tick, GW_TICK_US);

	SL_NOTICE("GW-UP", "listen=%s workers=%s version=%s", cfg.listen,
	    cfg.workers, SLUICE_VERSION);
	/* Shutdown: the first signal stops new requests and lets running
	 * ones finish (up to --drain-ms), then clients are closed with 1001
	 * after their queued frames; a second signal skips the wait. */
	while (lws_service(s_ctx, 0) >= 0) {
		int64_t now = sl_clock_mono_us();
		gw_broker_stats_t st;

		if (!s_stop)
			continue;
		if (!deadline) {
			SL_NOTICE("GW-DRAIN", "draining for up to %lld ms",
			    cfg.drain_ms);
			gw_broker_drain(broker);
			deadline = now + cfg.drain_ms * 1000;
		}
		gw_broker_stats(broker, &st);
		if (!closing
		    && (!st.requests || now >= deadline || s_stop > 1)) {
			SL_NOTICE("GW-CLOSE",
			    "closing %zu connections, %zu "
			    "requests unfinished",
			    env.n_conns, st.requests);
			gw_ws_close_all(&env, LWS_CLOSE_STATUS_GOINGAWAY,
			    "server shutting down");
			closing = true;
			deadline = now + 3500000; /* > the close deadline */
		}
		if (closing && (!env.n_conns || now >= deadline))
			break;
	}
	SL_NOTICE("GW-STOP", "shutting down");
	lws_sul_cancel(&tick.sul);
	exit_code = 0;
out:
	/* Order matters: lws closes the dup'd ZMQ_FD and every client (the
	 * broker forgets them), then the socket, then the ZeroMQ context. */
	if (s_ctx)
		lws_context_destroy(s_ctx);
	s_ctx = NULL;
	gw_broker_destroy(&broker);
	gw_zmq_destroy(&zsock);
	if (zctx)
		zmq_ctx_term(zctx);
	return exit_code;
}
