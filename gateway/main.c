/*
 * sluice-gateway: process concerns only: options, signals, wiring the
 * broker to lws and ZeroMQ, and the event loop. One thread runs
 * everything after start-up (docs/ARCHITECTURE.md).
 */
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <zmq.h>

#include "gw_auth.h"
#include "gw_policy.h"
#include "gw_broker.h"
#include "gw_fds.h"
#include "gw_http.h"
#include "gw_listen.h"
#include "gw_prod.h"
#include "gw_ws.h"
#include "gw_workers.h"
#include "gw_zmq.h"
#include "sl_cfg.h"
#include "sl_clock.h"
#include "sl_curve.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct gw_cfg {
	const char *listen;
	const char *workers;
	const char *producers; /* "none": no producers endpoint */
	long long producer_timeout_ms;
	long long max_producer_out;
	long long max_frame;
	long long max_items;
	long long max_item_bytes;
	long long max_conns;
	long long max_conns_per_addr;
	long long max_requests;
	long long max_subs;
	long long max_queued;
	long long max_queued_per_client;
	long long unknown_task_ms;
	long long max_out;
	long long max_buffered;
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
	/* who may connect (docs/SECURITY.md) */
	const char *tokens_file;
	const char *tokens;
	const char *allow_origins;
	int allow_no_origin;
	int metrics_token;
	const char *tls_cert;
	const char *tls_key;
	const char *curve_secret_file;
	const char *curve_clients_file;
	const char *curve_producers_file;
} gw_cfg_t;

#define KIB 1024LL
#define MIB (1024LL * 1024)

static const sl_opt_t s_opts[] = {
	{ "listen", "SLUICE_LISTEN", SL_OPT_STR, "127.0.0.1:8080", 0, 0, NULL,
	    offsetof(gw_cfg_t, listen),
	    "WebSocket/HTTP address ADDRESS:PORT: an IPv4 address, [IPv6], "
	    "localhost, an interface name, or * for every interface" },
	{ "workers", "SLUICE_WORKERS", SL_OPT_STR, "tcp://127.0.0.1:5555", 0,
	    0, NULL, offsetof(gw_cfg_t, workers),
	    "ZeroMQ endpoint to bind for workers" },
	{ "producers", "SLUICE_PRODUCERS", SL_OPT_STR, "tcp://127.0.0.1:5556",
	    0, 0, NULL, offsetof(gw_cfg_t, producers),
	    "ZeroMQ endpoint to bind for producers (msgpack clients); "
	    "'none' disables it" },
	{ "producer-timeout-ms", "SLUICE_PRODUCER_TIMEOUT_MS", SL_OPT_INT,
	    "15000", 500, 86400000, NULL,
	    offsetof(gw_cfg_t, producer_timeout_ms),
	    "forget a producer silent this long, cancelling its requests" },
	{ "max-producer-out-bytes", "SLUICE_MAX_PRODUCER_OUT_BYTES",
	    SL_OPT_INT, "67108864", 64 * KIB, 4096 * MIB, NULL,
	    offsetof(gw_cfg_t, max_producer_out),
	    "bytes queued to one producer before it is cut as too slow (its "
	    "jobs wait above half of it)" },
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
	    "open WebSocket connections; more are refused with HTTP 503 "
	    "(lowered at start to what the open files limit holds)" },
	{ "max-connections-per-address", "SLUICE_MAX_CONNECTIONS_PER_ADDRESS",
	    SL_OPT_INT, "256", 1, 1000000, NULL,
	    offsetof(gw_cfg_t, max_conns_per_addr),
	    "open WebSocket connections from one IPv4 address or IPv6 /64; "
	    "more get HTTP 429" },
	{ "max-requests", "SLUICE_MAX_REQUESTS", SL_OPT_INT, "64", 1, 100000,
	    NULL, offsetof(gw_cfg_t, max_requests),
	    "unfinished requests per connection" },
	{ "max-subscriptions", "SLUICE_MAX_SUBSCRIPTIONS", SL_OPT_INT, "16", 0,
	    10000, NULL, offsetof(gw_cfg_t, max_subs),
	    "notify channels one connection may watch" },
	{ "max-queued-jobs", "SLUICE_MAX_QUEUED_JOBS", SL_OPT_INT, "100000", 1,
	    100000000, NULL, offsetof(gw_cfg_t, max_queued),
	    "jobs waiting for a worker, over all clients" },
	{ "max-queued-per-client", "SLUICE_MAX_QUEUED_PER_CLIENT", SL_OPT_INT,
	    "20000", 1, 100000000, NULL,
	    offsetof(gw_cfg_t, max_queued_per_client),
	    "unfinished jobs (queued or running) of one connection, or of "
	    "all connections of one token; more get queue_full" },
	{ "unknown-task-ms", "SLUICE_UNKNOWN_TASK_MS", SL_OPT_INT, "10000", 0,
	    86400000, NULL, offsetof(gw_cfg_t, unknown_task_ms),
	    "end queued items of a task no registered worker runs after this "
	    "long, as unknown_task (0: wait forever)" },
	{ "max-out-bytes", "SLUICE_MAX_OUT_BYTES", SL_OPT_INT, "8388608",
	    64 * KIB, 1024 * MIB, NULL, offsetof(gw_cfg_t, max_out),
	    "bytes queued to one client before it is closed as too slow" },
	{ "max-buffered-bytes", "SLUICE_MAX_BUFFERED_BYTES", SL_OPT_INT,
	    "536870912", 1 * MIB, 1024 * 1024 * MIB, NULL,
	    offsetof(gw_cfg_t, max_buffered),
	    "bytes of unfinished client messages and queued output over all "
	    "connections; past it the biggest holders are closed" },
	{ "out-high-bytes", "SLUICE_OUT_HIGH_BYTES", SL_OPT_INT, "1048576",
	    4 * KIB, 1024 * MIB, NULL, offsetof(gw_cfg_t, out_high),
	    "bytes queued to one client above which its jobs wait" },
	{ "out-low-bytes", "SLUICE_OUT_LOW_BYTES", SL_OPT_INT, "262144", 0,
	    1024 * MIB, NULL, offsetof(gw_cfg_t, out_low),
	    "bytes queued to one client below which its jobs resume" },
	{ "stall-ms", "SLUICE_STALL_MS", SL_OPT_INT, "30000", 100, 3600000,
	    NULL, offsetof(gw_cfg_t, stall_ms),
	    "close a client whose queued output made no progress this long" },
	SL_CFG_OPT_HB_INTERVAL_MS(
	    gw_cfg_t, hb_ivl_ms, "heartbeat interval with workers"),
	SL_CFG_OPT_HB_LIVENESS(gw_cfg_t, hb_liveness,
	    "silent heartbeat intervals before a worker is declared dead"),
	{ "ws-ping-secs", "SLUICE_WS_PING_SECS", SL_OPT_INT, "20", 1, 3600,
	    NULL, offsetof(gw_cfg_t, ws_ping),
	    "WebSocket ping after this many seconds without a pong" },
	{ "ws-hangup-secs", "SLUICE_WS_HANGUP_SECS", SL_OPT_INT, "30", 2, 7200,
	    NULL, offsetof(gw_cfg_t, ws_hangup),
	    "close a WebSocket client silent this long (> ws-ping-secs)" },
	SL_CFG_OPT_DRAIN_MS(gw_cfg_t, drain_ms,
	    "on SIGTERM, time to finish running requests before closing"),
	{ "www", "SLUICE_WWW", SL_OPT_STR, "auto", 0, 0, NULL,
	    offsetof(gw_cfg_t, www),
	    "directory of the demo page (auto: www/ beside the binary, or "
	    "../share/sluice/www)" },
	{ "tokens-file", "SLUICE_TOKENS_FILE", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_cfg_t, tokens_file),
	    "file of bearer tokens WebSocket clients must present, one per "
	    "line (none: no tokens)" },
	{ "tokens", "SLUICE_TOKENS", SL_OPT_SECRET, "none", 0, 0, NULL,
	    offsetof(gw_cfg_t, tokens),
	    "bearer tokens, comma separated (prefer the environment variable "
	    "or --tokens-file: a command line is visible to other users)" },
	{ "allow-origins", "SLUICE_ALLOW_ORIGINS", SL_OPT_STR, "any", 0, 0,
	    NULL, offsetof(gw_cfg_t, allow_origins),
	    "WebSocket Origins allowed, comma separated scheme://host[:port] "
	    "(any: no check)" },
	{ "allow-no-origin", "SLUICE_ALLOW_NO_ORIGIN", SL_OPT_BOOL, "yes", 0,
	    0, NULL, offsetof(gw_cfg_t, allow_no_origin),
	    "with --allow-origins, also accept handshakes without Origin "
	    "(non-browser clients)" },
	{ "metrics-token", "SLUICE_METRICS_TOKEN", SL_OPT_BOOL, "no", 0, 0,
	    NULL, offsetof(gw_cfg_t, metrics_token),
	    "/metrics asks for a bearer token too (/healthz, /readyz stay "
	    "open)" },
	{ "tls-cert", "SLUICE_TLS_CERT", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_cfg_t, tls_cert),
	    "PEM certificate (chain) for wss:// and https:// (none: plain)" },
	{ "tls-key", "SLUICE_TLS_KEY", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_cfg_t, tls_key), "PEM private key of --tls-cert" },
	SL_CFG_OPT_CURVE_SECRET_FILE(gw_cfg_t, curve_secret_file,
	    "file with the gateway's CURVE secret key (Z85): encrypts the "
	    "workers endpoint (none: plain ZeroMQ)"),
	{ "curve-clients-file", "SLUICE_CURVE_CLIENTS_FILE", SL_OPT_STR,
	    "none", 0, 0, NULL, offsetof(gw_cfg_t, curve_clients_file),
	    "workers allowed with CURVE: one Z85 public key per line, "
	    "optional name after it" },
	{ "curve-producers-file", "SLUICE_CURVE_PRODUCERS_FILE", SL_OPT_STR,
	    "none", 0, 0, NULL, offsetof(gw_cfg_t, curve_producers_file),
	    "producers allowed with CURVE, same format (needs the two "
	    "above; none: the producers endpoint stays plain)" },
	SL_CFG_OPTS_LOG(gw_cfg_t, log_level, log_format),
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

#define GW_TICK_US 100000 /* timers: heartbeats, timeouts, stalls */

/* Process-wide, for the signal handlers only: s_stop 1 = drain, 2 = now;
 * s_reload: SIGHUP came, read the access lists again. */
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;
static struct lws_context *s_ctx;
/* For s_lws_log, which lws calls without a user pointer. */
static gw_fds_t *s_fds;

static void
s_on_signal(int sig)
{
	if (sig == SIGHUP)
		s_reload = 1;
	else if (s_stop < 2)
		s_stop++;
	if (s_ctx)
		lws_cancel_service(s_ctx); /* wakes the loop; async-safe */
}

/* The periodic timer that drives the broker's and the connections'. */
typedef struct gw_tick {
	lws_sorted_usec_list_t sul;
	gw_broker_t *broker;
	gw_workers_t *workers;
	gw_ws_t *ws;
	gw_prod_t *prod;      /* NULL: no producers endpoint */
	gw_policy_t *policy;  /* for /metrics */
	gw_hist_t forward;    /* result at the gateway -> written */
	int64_t last_tick_us; /* the timer last ran (healthz) */
} gw_tick_t;

static void
s_tick(lws_sorted_usec_list_t *sul)
{
	gw_tick_t *t = lws_container_of(sul, gw_tick_t, sul);
	int64_t now = sl_clock_mono_us();

	t->last_tick_us = now;
	gw_broker_tick(t->broker, now);
	gw_workers_tick(t->workers, now);
	gw_ws_tick(t->ws, now);
	if (t->prod)
		gw_prod_tick(t->prod, now);
	sl_log_flush(false); /* "N more suppressed" of ended windows */
	lws_sul_schedule(s_ctx, 0, &t->sul, s_tick, GW_TICK_US);
}

/* gw_http_src_t.stats: every module's stats for /metrics. */
static void
s_http_stats(void *user, gw_http_stats_t *out)
{
	const gw_tick_t *t = user;

	gw_broker_stats(t->broker, &out->broker);
	gw_ws_stats(t->ws, &out->ws);
	gw_prod_stats(t->prod, &out->prod);
	gw_policy_stats(t->policy, &out->policy);
	out->forward = t->forward;
	out->last_tick_us = t->last_tick_us;
}

static void
s_lws_log(int level, const char *line)
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
		if (s_fds)
			gw_fds_accept_failed(s_fds, err);
		l = SL_LOG_DEBUG;
	}

	/* A peer can make lws log an error per connection at will (e.g.
	 * "Ran out of header data space" for oversized headers): its lines
	 * are rate-limited at every level, errors included. */
	if (l <= sl_log_level())
		sl_log_emit_limited(l, "LWS", "%s", line);
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
	/* lws takes an address or an interface name, not a host name */
	if (!strcmp(host, "localhost"))
		snprintf(host, hostlen, "127.0.0.1");
	*port = (int) p;
	return 0;
}

/* ---- who may connect: tokens, origins, TLS (docs/SECURITY.md) ---- */

static bool
s_set(const char *v)
{
	return strcmp(v, "none") != 0;
}

/* NULL for an option's "none". */
static const char *
s_opt(const char *v)
{
	return s_set(v) ? v : NULL;
}

/* Tokens, origins and CURVE from the options (gw_policy). */
static gw_policy_t *
s_policy_new(const gw_cfg_t *cfg, void *zctx, char *err, size_t errlen)
{
	gw_policy_cfg_t pc = { s_opt(cfg->tokens_file), s_opt(cfg->tokens),
		strcmp(cfg->allow_origins, "any") ? cfg->allow_origins : NULL,
		cfg->allow_no_origin, cfg->metrics_token,
		s_opt(cfg->curve_secret_file), s_opt(cfg->curve_clients_file),
		s_opt(cfg->curve_producers_file) };

	return gw_policy_new(&pc, zctx, err, errlen);
}

/* TLS on the listener: both files or neither. */
static int
s_tls_setup(const gw_cfg_t *cfg, struct lws_context_creation_info *ci)
{
	if (s_set(cfg->tls_cert) != s_set(cfg->tls_key))
		return SL_EINVAL;
	if (!s_set(cfg->tls_cert))
		return 0;
	ci->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	ci->ssl_cert_filepath = cfg->tls_cert;
	ci->ssl_private_key_filepath = cfg->tls_key;
	return 0;
}

/* Rules between options: each lo must be less than its hi. */
static const struct s_rule {
	const char *lo, *hi;   /* the options' names */
	size_t lo_off, hi_off; /* their long long fields in gw_cfg_t */
} s_rules[] = {
	{ "--ws-ping-secs", "--ws-hangup-secs", offsetof(gw_cfg_t, ws_ping),
	    offsetof(gw_cfg_t, ws_hangup) },
	{ "--out-low-bytes", "--out-high-bytes", offsetof(gw_cfg_t, out_low),
	    offsetof(gw_cfg_t, out_high) },
	{ "--out-high-bytes", "--max-out-bytes", offsetof(gw_cfg_t, out_high),
	    offsetof(gw_cfg_t, max_out) },
};

/* Name the first rule cfg breaks, with both values; -1 if one is. */
static int
s_check_rules(const gw_cfg_t *cfg)
{
	for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++) {
		const struct s_rule *r = &s_rules[i];
		long long lo, hi;

		memcpy(&lo, (const char *) cfg + r->lo_off, sizeof lo);
		memcpy(&hi, (const char *) cfg + r->hi_off, sizeof hi);
		if (lo >= hi) {
			fprintf(stderr,
			    "sluice-gateway: %s (%lld) must be less than %s "
			    "(%lld)\n",
			    r->lo, lo, r->hi, hi);
			return -1;
		}
	}
	return 0;
}

/* gw_prod's CURVE setup: ZAP domain "producers". */
static int
s_producers_curve(void *sock, const void *kp)
{
	return sl_curve_server_setup(sock, kp, "producers");
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
	struct lws_protocols protocols[5] = { 0 };
	gw_http_src_t http_src = { s_http_stats, &tick, NULL };
	gw_ws_limits_t wlim;
	struct lws_http_mount mounts[4];
	char www[4096]; /* fits any exe dir (2048) plus a relative path */
	struct lws_context_creation_info ci;
	gw_ws_t *ws = NULL;
	gw_broker_ops_t ops;
	gw_broker_limits_t lim;
	gw_broker_t *broker = NULL;
	gw_policy_t *policy = NULL;
	const sl_curve_keypair_t *curve_kp;
	gw_workers_t *workers = NULL;
	gw_workers_events_t wev;
	gw_prod_t *prod = NULL;
	void *zctx = NULL;
	struct sigaction sa;
	char err[256], host[128], ifname[IF_NAMESIZE + 1];
	long fd_limit = 0, fd_was = 0, fd_open, fd_fit;
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
	if (s_check_rules(&cfg))
		return 2;
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
	if (cfg.max_queued_per_client < cfg.max_items)
		SL_WARN("GW-LIMITS",
		    "--max-queued-per-client %lld is below --max-items %lld: "
		    "a request with more items than that is always refused",
		    cfg.max_queued_per_client, cfg.max_items);
	/* Before ZeroMQ's and lws's first descriptors: both size tables
	 * from the limit in force when they start. */
	if (gw_fds_raise_limit(&fd_limit, &fd_was)) {
		SL_ERR("GW-START", "cannot read RLIMIT_NOFILE: %m");
		goto out;
	}
	gw_hist_init_forward(&tick.forward);
	lim.max_items = (size_t) cfg.max_items;
	lim.max_item_bytes = (size_t) cfg.max_item_bytes;
	lim.max_requests = (size_t) cfg.max_requests;
	lim.max_subscriptions = (size_t) cfg.max_subs;
	lim.max_queued_jobs = (size_t) cfg.max_queued;
	lim.max_client_jobs = (size_t) cfg.max_queued_per_client;
	lim.unknown_task_us = cfg.unknown_task_ms * 1000;
	ops.client_send = gw_ws_client_send;
	ops.ctx = NULL; /* gw_ws_client_send finds all in the pss */
	broker = gw_broker_new(&ops, &lim);
	zctx = zmq_ctx_new();
	if (!broker || !zctx) {
		SL_ERR("GW-START", "out of memory");
		goto out;
	}
	policy = s_policy_new(&cfg, zctx, err, sizeof err);
	if (!policy) {
		SL_ERR("GW-START", "%s", err);
		goto out;
	}
	if (!gw_auth_n_tokens(gw_policy_auth(policy)) && !s_set(cfg.tls_cert)
	    && !gw_auth_host_is_loopback(host))
		SL_WARN("GW-INSECURE",
		    "listen=%s reaches other hosts with neither tokens nor "
		    "TLS: anyone who can connect may submit work (see "
		    "docs/SECURITY.md)",
		    cfg.listen);
	curve_kp = gw_policy_curve(policy, "workers");
	if (!curve_kp && !gw_auth_endpoint_is_local(cfg.workers))
		SL_WARN("GW-INSECURE",
		    "workers=%s reaches other hosts without CURVE: anyone who "
		    "can connect may register as a worker and read jobs (see "
		    "docs/SECURITY.md)",
		    cfg.workers);
	gw_broker_workers_events(broker, &wev);
	workers = gw_workers_new(zctx, cfg.workers,
	    &(gw_workers_limits_t) { cfg.max_frame, (size_t) cfg.max_items,
	        cfg.hb_ivl_ms * 1000, (unsigned) cfg.hb_liveness },
	    curve_kp, &wev, err, sizeof err);
	if (!workers) {
		SL_ERR("GW-START", "%s", err);
		goto out;
	}
	gw_broker_set_workers(broker, &gw_workers_ops, workers);
	if (strcmp(cfg.producers, "none")) {
		gw_prod_limits_t plim = { cfg.max_frame,
			(size_t) cfg.max_items, cfg.producer_timeout_ms * 1000,
			(size_t) cfg.max_producer_out };

		const sl_curve_keypair_t *pkp
		    = gw_policy_curve(policy, "producers");

		if (!pkp && !gw_auth_endpoint_is_local(cfg.producers))
			SL_WARN("GW-INSECURE",
			    "producers=%s reaches other hosts without CURVE: "
			    "anyone who can connect may submit work (see "
			    "docs/SECURITY.md)",
			    cfg.producers);
		prod = gw_prod_new(broker, zctx, cfg.producers, &plim,
		    pkp ? s_producers_curve : NULL, pkp, err, sizeof err);
		if (!prod) {
			SL_ERR("GW-START", "%s", err);
			goto out;
		}
		gw_prod_set_forward_hist(prod, &tick.forward);
	}
	/* The ZeroMQ sockets are open: what is left for clients? */
	fd_open = gw_fds_count_open();
	fd_fit = gw_fds_budget(fd_limit, fd_open < 0 ? 32 : fd_open);
	if (!fd_fit) {
		SL_ERR("GW-START",
		    "open files limit %ld (ulimit -n) leaves no descriptor "
		    "for clients: %ld open, %d kept back; raise it",
		    fd_limit, fd_open, GW_FDS_RESERVE);
		goto out;
	}
	s_fds = gw_fds_new();
	if (!s_fds) {
		SL_ERR("GW-START", "cannot open /dev/null: %m");
		goto out;
	}
	wlim.max_conns = (size_t) cfg.max_conns;
	if (cfg.max_conns > fd_fit) {
		wlim.max_conns = (size_t) fd_fit;
		SL_WARN("GW-FDS",
		    "--max-connections %lld lowered to %ld: open files limit "
		    "%ld (ulimit -n; was %ld), %ld open, %d kept for workers, "
		    "producers, HTTP and lws",
		    cfg.max_conns, fd_fit, fd_limit, fd_was, fd_open,
		    GW_FDS_RESERVE);
	} else {
		SL_INFO("GW-FDS",
		    "open files limit %ld (was %ld), %ld open, room for %ld "
		    "connections",
		    fd_limit, fd_was, fd_open, fd_fit);
	}
	wlim.max_frame = (size_t) cfg.max_frame;
	wlim.max_items = (size_t) cfg.max_items;
	wlim.max_conns_per_addr = (size_t) cfg.max_conns_per_addr;
	wlim.max_out_bytes = (size_t) cfg.max_out;
	wlim.max_buffered = (size_t) cfg.max_buffered;
	wlim.out_high = (size_t) cfg.out_high;
	wlim.out_low = (size_t) cfg.out_low;
	wlim.stall_us = cfg.stall_ms * 1000;
	ws = gw_ws_new(broker, policy, &wlim, &tick.forward);
	if (!ws) {
		SL_ERR("GW-START", "out of memory");
		goto out;
	}
	tick.broker = broker;
	tick.workers = workers;
	tick.ws = ws;
	tick.prod = prod;
	tick.policy = policy;
	http_src.policy = policy;
	gw_ws_protocols(ws, &protocols[0]);
	gw_http_protocol(&http_src, &protocols[2]);
	protocols[3].name = "zmq";
	protocols[3].callback = gw_zmq_callback;
	keepalive.secs_since_valid_ping = (uint16_t) cfg.ws_ping;
	keepalive.secs_since_valid_hangup = (uint16_t) cfg.ws_hangup;

	memset(&ci, 0, sizeof ci);
	ci.port = port;
	/* Configuration errors first: they say more than a busy port. */
	if (s_tls_setup(&cfg, &ci)) {
		SL_ERR("GW-START", "--tls-cert and --tls-key go together");
		goto out;
	}
	if (gw_listen_iface(
	        host, ifname, sizeof ifname, &ci.iface, err, sizeof err)) {
		SL_ERR("GW-START", "--listen %s: %s", cfg.listen, err);
		goto out;
	}
	if (gw_listen_probe(host, port, err, sizeof err)) {
		SL_ERR("GW-START", "--listen %s: %s", cfg.listen, err);
		goto out;
	}
	ci.protocols = protocols;
	/* lws sizes its descriptor tables from this (one service thread);
	 * equal to the process limit it keeps its direct fd lookup. */
	ci.fd_limit_per_thread = (unsigned) fd_limit;
	ci.mounts = gw_http_mounts(mounts, www);
	ci.retry_and_idle_policy = &keepalive;
	ci.options
	    |= LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	s_ctx = lws_create_context(&ci);
	if (!s_ctx) {
		SL_ERR("GW-START", "cannot listen on %s", cfg.listen);
		goto out;
	}
	/* Never serve on more addresses than asked (a loopback default must
	 * stay loopback, whatever lws made of it). */
	if (gw_listen_check(host, port, err, sizeof err)) {
		SL_ERR("GW-START", "--listen %s: %s", cfg.listen, err);
		goto out;
	}
	if (!gw_fds_find_listeners(s_fds, port))
		SL_WARN("GW-FDS",
		    "listener on port %d not found: connections cannot be "
		    "shed when descriptors run out",
		    port);
	if (gw_workers_attach(
	        workers, s_ctx, lws_get_vhost_by_name(s_ctx, "default"))) {
		SL_ERR("GW-START", "cannot add the ZeroMQ socket to the loop");
		goto out;
	}
	if (prod
	    && gw_prod_attach(
	        prod, s_ctx, lws_get_vhost_by_name(s_ctx, "default"))) {
		SL_ERR(
		    "GW-START", "cannot add the producers socket to the loop");
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lws_sul_schedule(s_ctx, 0, &tick.sul, s_tick, GW_TICK_US);

	SL_NOTICE("GW-UP", "listen=%s workers=%s producers=%s version=%s",
	    cfg.listen, cfg.workers, cfg.producers, SLUICE_VERSION);
	/* Shutdown: the first signal stops new requests and lets running
	 * ones finish (up to --drain-ms), then clients are closed with 1001
	 * after their queued frames; a second signal skips the wait. */
	while (lws_service(s_ctx, 0) >= 0) {
		int64_t now = sl_clock_mono_us();
		gw_broker_stats_t st;

		gw_fds_shed(s_fds, false); /* after a failed accept() only */
		if (s_reload) {
			s_reload = 0;
			gw_policy_reload(policy);
		}
		if (!s_stop)
			continue;
		if (!deadline) {
			SL_NOTICE("GW-DRAIN", "draining for up to %lld ms",
			    cfg.drain_ms);
			gw_broker_drain(broker);
			deadline = now + cfg.drain_ms * 1000;
		}
		gw_broker_stats(broker, &st);
		/* Waiting is pointless once no unfinished request can end by
		 * its workers (none left that runs its task): say so now. */
		if (!closing
		    && (!st.requests || now >= deadline || s_stop > 1
		        || !gw_broker_can_progress(broker))) {
			SL_NOTICE("GW-CLOSE",
			    "closing %zu connection%s, %zu "
			    "request%s unfinished%s",
			    gw_ws_conns(ws), gw_ws_conns(ws) == 1 ? "" : "s",
			    st.requests, st.requests == 1 ? "" : "s",
			    st.requests && now < deadline && s_stop < 2
			        ? " (no worker can run them)"
			        : "");
			gw_ws_close_all(ws, LWS_CLOSE_STATUS_GOINGAWAY,
			    "server shutting down");
			closing = true;
			deadline = now + 3500000; /* > the close deadline */
		}
		if (closing && (!gw_ws_conns(ws) || now >= deadline))
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
	gw_ws_destroy(&ws);
	gw_prod_destroy(&prod);       /* its broker clients, then its socket */
	gw_workers_destroy(&workers); /* hands held jobs back: broker after */
	gw_broker_destroy(&broker);
	gw_policy_destroy(&policy); /* its ZAP handler shuts zctx down */
	if (zctx)
		zmq_ctx_term(zctx);
	gw_fds_destroy(&s_fds);
	sl_log_flush(true); /* every count still held, before we go */
	return exit_code;
}
