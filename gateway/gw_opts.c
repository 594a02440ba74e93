/*
 * gw_opts: the option table and its rules (see gw_opts.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gw_listen.h"
#include "gw_opts.h"
#include "sl_cfg.h"
#include "sl_err.h"
#include "sl_log.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)

static const sl_opt_t s_opts[] = {
	{ "listen", "SLUICE_LISTEN", SL_OPT_STR, "127.0.0.1:8080", 0, 0, NULL,
	    offsetof(gw_opts_t, listen),
	    "WebSocket/HTTP address ADDRESS:PORT: an IPv4 address, [IPv6], "
	    "localhost, an interface name, or * for every interface" },
	{ "workers", "SLUICE_WORKERS", SL_OPT_STR, "tcp://127.0.0.1:5555", 0,
	    0, NULL, offsetof(gw_opts_t, workers),
	    "ZeroMQ endpoint to bind for workers" },
	{ "producers", "SLUICE_PRODUCERS", SL_OPT_STR, "tcp://127.0.0.1:5556",
	    0, 0, NULL, offsetof(gw_opts_t, producers),
	    "ZeroMQ endpoint to bind for producers (msgpack clients); "
	    "'none' disables it" },
	{ "producer-timeout-ms", "SLUICE_PRODUCER_TIMEOUT_MS", SL_OPT_INT,
	    "15000", 500, 86400000, NULL,
	    offsetof(gw_opts_t, producer_timeout_ms),
	    "forget a producer silent this long, cancelling its requests" },
	{ "max-producer-out-bytes", "SLUICE_MAX_PRODUCER_OUT_BYTES",
	    SL_OPT_INT, "67108864", 64 * KIB, 4096 * MIB, NULL,
	    offsetof(gw_opts_t, max_producer_out),
	    "bytes queued to one producer before it is cut as too slow (its "
	    "jobs wait above half of it)" },
	{ "max-frame-bytes", "SLUICE_MAX_FRAME_BYTES", SL_OPT_INT, "1048576",
	    1 * KIB, 64 * MIB, NULL, offsetof(gw_opts_t, max_frame),
	    "largest client message or worker frame, in bytes" },
	{ "max-items", "SLUICE_MAX_ITEMS", SL_OPT_INT, "10000", 1, 1000000,
	    NULL, offsetof(gw_opts_t, max_items), "items in one request" },
	{ "max-item-bytes", "SLUICE_MAX_ITEM_BYTES", SL_OPT_INT, "65536", 16,
	    64 * MIB, NULL, offsetof(gw_opts_t, max_item_bytes),
	    "one item as sent to a worker (msgpack), in bytes" },
	{ "max-connections", "SLUICE_MAX_CONNECTIONS", SL_OPT_INT, "1024", 1,
	    1000000, NULL, offsetof(gw_opts_t, max_conns),
	    "open WebSocket connections; more are refused with HTTP 503 "
	    "(lowered at start to what the open files limit holds)" },
	{ "max-connections-per-address", "SLUICE_MAX_CONNECTIONS_PER_ADDRESS",
	    SL_OPT_INT, "256", 1, 1000000, NULL,
	    offsetof(gw_opts_t, max_conns_per_addr),
	    "open WebSocket connections from one IPv4 address or IPv6 /64; "
	    "more get HTTP 429" },
	{ "max-requests", "SLUICE_MAX_REQUESTS", SL_OPT_INT, "64", 1, 100000,
	    NULL, offsetof(gw_opts_t, max_requests),
	    "unfinished requests per connection" },
	{ "resume-ms", "SLUICE_RESUME_MS", SL_OPT_INT, "30000", 0, 86400000,
	    NULL, offsetof(gw_opts_t, resume_ms),
	    "a client's requests go on this long after its connection drops, "
	    "waiting for a resume (0: they are cancelled with it)" },
	{ "max-resume-bytes", "SLUICE_MAX_RESUME_BYTES", SL_OPT_INT,
	    "268435456", 0, 1024 * 1024 * MIB, NULL,
	    offsetof(gw_opts_t, max_resume_bytes),
	    "finished results kept for resumes, all requests together; a "
	    "request over it is no longer resumable (cancelled if detached)" },
	{ "progress-ms", "SLUICE_PROGRESS_MS", SL_OPT_INT, "100", 0, 60000,
	    NULL, offsetof(gw_opts_t, progress_ms),
	    "send a running item's progress to its client at most this often, "
	    "the latest value winning (0: never)" },
	{ "max-subscriptions", "SLUICE_MAX_SUBSCRIPTIONS", SL_OPT_INT, "16", 0,
	    10000, NULL, offsetof(gw_opts_t, max_subs),
	    "notify channels one connection may watch" },
	{ "max-queued-jobs", "SLUICE_MAX_QUEUED_JOBS", SL_OPT_INT, "100000", 1,
	    100000000, NULL, offsetof(gw_opts_t, max_queued),
	    "jobs waiting for a worker, over all clients" },
	{ "max-queued-per-client", "SLUICE_MAX_QUEUED_PER_CLIENT", SL_OPT_INT,
	    "20000", 1, 100000000, NULL,
	    offsetof(gw_opts_t, max_queued_per_client),
	    "unfinished jobs (queued or running) of one connection, or of "
	    "all connections of one token; more get queue_full" },
	{ "unknown-task-ms", "SLUICE_UNKNOWN_TASK_MS", SL_OPT_INT, "10000", 0,
	    86400000, NULL, offsetof(gw_opts_t, unknown_task_ms),
	    "end queued items of a task no registered worker runs after this "
	    "long, as unknown_task (0: wait forever)" },
	{ "max-out-bytes", "SLUICE_MAX_OUT_BYTES", SL_OPT_INT, "8388608",
	    64 * KIB, 1024 * MIB, NULL, offsetof(gw_opts_t, max_out),
	    "bytes queued to one client before it is closed as too slow" },
	{ "max-buffered-bytes", "SLUICE_MAX_BUFFERED_BYTES", SL_OPT_INT,
	    "536870912", 1 * MIB, 1024 * 1024 * MIB, NULL,
	    offsetof(gw_opts_t, max_buffered),
	    "bytes of unfinished client messages and queued output over all "
	    "connections; past it the biggest holders are closed" },
	{ "out-high-bytes", "SLUICE_OUT_HIGH_BYTES", SL_OPT_INT, "1048576",
	    4 * KIB, 1024 * MIB, NULL, offsetof(gw_opts_t, out_high),
	    "bytes queued to one client above which its jobs wait" },
	{ "out-low-bytes", "SLUICE_OUT_LOW_BYTES", SL_OPT_INT, "262144", 0,
	    1024 * MIB, NULL, offsetof(gw_opts_t, out_low),
	    "bytes queued to one client below which its jobs resume" },
	{ "stall-ms", "SLUICE_STALL_MS", SL_OPT_INT, "30000", 100, 3600000,
	    NULL, offsetof(gw_opts_t, stall_ms),
	    "close a client whose queued output made no progress this long" },
	SL_CFG_OPT_HB_INTERVAL_MS(
	    gw_opts_t, hb_ivl_ms, "heartbeat interval with workers"),
	SL_CFG_OPT_HB_LIVENESS(gw_opts_t, hb_liveness,
	    "silent heartbeat intervals before a worker is declared dead"),
	{ "ws-ping-secs", "SLUICE_WS_PING_SECS", SL_OPT_INT, "20", 1, 3600,
	    NULL, offsetof(gw_opts_t, ws_ping),
	    "WebSocket ping after this many seconds without a pong" },
	{ "ws-hangup-secs", "SLUICE_WS_HANGUP_SECS", SL_OPT_INT, "30", 2, 7200,
	    NULL, offsetof(gw_opts_t, ws_hangup),
	    "close a WebSocket client silent this long (> ws-ping-secs)" },
	{ "event-lib", "SLUICE_EVENT_LIB", SL_OPT_ENUM, "uv", 0, 0, "poll,uv",
	    offsetof(gw_opts_t, event_lib),
	    "event loop under lws: uv (libuv, epoll: a wake-up costs what the "
	    "busy connections cost; needs libwebsockets-evlib-uv) or poll "
	    "(lws's own: every open connection, every wake-up)" },
	SL_CFG_OPT_DRAIN_MS(gw_opts_t, drain_ms,
	    "on SIGTERM, time to finish running requests before closing"),
	{ "www", "SLUICE_WWW", SL_OPT_STR, "auto", 0, 0, NULL,
	    offsetof(gw_opts_t, www),
	    "directory of the demo page (auto: www/ beside the binary, or "
	    "../share/sluice/www)" },
	{ "tokens-file", "SLUICE_TOKENS_FILE", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_opts_t, tokens_file),
	    "file of bearer tokens WebSocket clients must present, one per "
	    "line (none: no tokens)" },
	{ "tokens", "SLUICE_TOKENS", SL_OPT_SECRET, "none", 0, 0, NULL,
	    offsetof(gw_opts_t, tokens),
	    "bearer tokens, comma separated (prefer the environment variable "
	    "or --tokens-file: a command line is visible to other users)" },
	{ "allow-origins", "SLUICE_ALLOW_ORIGINS", SL_OPT_STR, "any", 0, 0,
	    NULL, offsetof(gw_opts_t, allow_origins),
	    "WebSocket Origins allowed, comma separated scheme://host[:port] "
	    "(any: no check)" },
	{ "allow-no-origin", "SLUICE_ALLOW_NO_ORIGIN", SL_OPT_BOOL, "yes", 0,
	    0, NULL, offsetof(gw_opts_t, allow_no_origin),
	    "with --allow-origins, also accept handshakes without Origin "
	    "(non-browser clients)" },
	{ "metrics-token", "SLUICE_METRICS_TOKEN", SL_OPT_BOOL, "no", 0, 0,
	    NULL, offsetof(gw_opts_t, metrics_token),
	    "/metrics asks for a bearer token too (/healthz, /readyz stay "
	    "open)" },
	{ "tls-cert", "SLUICE_TLS_CERT", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_opts_t, tls_cert),
	    "PEM certificate (chain) for wss:// and https:// (none: plain)" },
	{ "tls-key", "SLUICE_TLS_KEY", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(gw_opts_t, tls_key), "PEM private key of --tls-cert" },
	SL_CFG_OPT_CURVE_SECRET_FILE(gw_opts_t, curve_secret_file,
	    "file with the gateway's CURVE secret key (Z85): encrypts the "
	    "workers endpoint (none: plain ZeroMQ)"),
	{ "curve-clients-file", "SLUICE_CURVE_CLIENTS_FILE", SL_OPT_STR,
	    "none", 0, 0, NULL, offsetof(gw_opts_t, curve_clients_file),
	    "workers allowed with CURVE: one Z85 public key per line, "
	    "optional name after it" },
	{ "curve-producers-file", "SLUICE_CURVE_PRODUCERS_FILE", SL_OPT_STR,
	    "none", 0, 0, NULL, offsetof(gw_opts_t, curve_producers_file),
	    "producers allowed with CURVE, same format (needs the two "
	    "above; none: the producers endpoint stays plain)" },
	SL_CFG_OPTS_LOG(gw_opts_t, log_level, log_format),
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

/* Rules between options: each lo must be less than its hi. */
static const struct s_rule {
	const char *lo, *hi;   /* the options' names */
	size_t lo_off, hi_off; /* their long long fields in gw_opts_t */
} s_rules[] = {
	{ "--ws-ping-secs", "--ws-hangup-secs", offsetof(gw_opts_t, ws_ping),
	    offsetof(gw_opts_t, ws_hangup) },
	{ "--out-low-bytes", "--out-high-bytes", offsetof(gw_opts_t, out_low),
	    offsetof(gw_opts_t, out_high) },
	{ "--out-high-bytes", "--max-out-bytes", offsetof(gw_opts_t, out_high),
	    offsetof(gw_opts_t, max_out) },
};

/* Name the first rule cfg breaks, with both values, in err; SL_EINVAL
 * if one is. */
static int
s_check_rules(const gw_opts_t *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++) {
		const struct s_rule *r = &s_rules[i];
		long long lo, hi;

		memcpy(&lo, (const char *) cfg + r->lo_off, sizeof lo);
		memcpy(&hi, (const char *) cfg + r->hi_off, sizeof hi);
		if (lo >= hi) {
			snprintf(err, errlen,
			    "%s (%lld) must be less than %s (%lld)", r->lo, lo,
			    r->hi, hi);
			return SL_EINVAL;
		}
	}
	return 0;
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
int
gw_opts_load(gw_opts_t *out, int argc, char **argv, FILE *help_out, char *err,
    size_t errlen)
{
	static const sl_cfg_info_t info = { "sluice-gateway",
		"WebSocket gateway that streams per-item results from "
		"sluice-compute workers",
		SLUICE_VERSION };
	int rc;

	rc = sl_cfg_load(
	    s_opts, N_OPTS, out, argc, argv, &info, help_out, err, errlen);
	if (rc)
		return rc;
	if (s_check_rules(out, err, errlen))
		return SL_EINVAL;
	if (s_find_www(out->www, out->www_dir, sizeof out->www_dir)) {
		snprintf(err, errlen,
		    "--www: no readable page directory ('%s')", out->www);
		return SL_EINVAL;
	}
	if (gw_listen_parse(
	        out->listen, out->host, sizeof out->host, &out->port)) {
		snprintf(err, errlen, "--listen: '%s' is not HOST:PORT",
		    out->listen);
		return SL_EINVAL;
	}
	return 0;
}

void
gw_opts_log(const gw_opts_t *opts)
{
	sl_cfg_log(s_opts, N_OPTS, opts);
	if (opts->max_queued_per_client < opts->max_items)
		SL_WARN("GW-LIMITS",
		    "--max-queued-per-client %lld is below --max-items %lld: "
		    "a request with more items than that is always refused",
		    opts->max_queued_per_client, opts->max_items);
}

const char *
gw_opts_str(const char *v)
{
	return strcmp(v, "none") ? v : NULL;
}
