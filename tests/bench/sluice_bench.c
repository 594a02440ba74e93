/*
 * sluice-bench: load generator and meter for sluice-gateway (or anything
 * that speaks its client protocol). Process concerns only: options,
 * limits, signals, the lws client context and its loop, then the report.
 * One thread: lws runs every connection and timer (bn_client).
 *
 *   sluice-bench --connect 127.0.0.1:8080 --conns 10 --items 10 \
 *       --rate 200 --duration-ms 5000 --item-bytes 100
 *
 * Exit status: 0 clean run, 1 something was lost, refused or failed, 2 bad
 * options or setup.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "bn_client.h"
#include "bn_proc.h"
#include "bn_report.h"
#include "sl_cfg.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct bn_cfg {
	const char *connect;
	const char *path;
	long long conns;
	long long idle;
	const char *task;
	const char *item;
	long long item_bytes;
	const char *items;
	long long rate;
	long long inflight;
	long long duration_ms;
	long long requests;
	long long stagger_ms;
	long long ping_ms;
	long long drain_ms;
	long long idle_hold_ms;
	long long connect_timeout_ms;
	long long connect_parallel;
	int parser;
	int protocol; /* json,msgpack */
	int push;
	int park;
	const char *ready_file;
	long long gateway_pid;
	const char *worker_pids;
	int json;
	const char *json_out;
	int log_level;
} bn_cfg_t;

static const sl_opt_t s_opts[] = {
	{ "connect", "SLUICE_BENCH_CONNECT", SL_OPT_STR, "127.0.0.1:8080", 0,
	    0, NULL, offsetof(bn_cfg_t, connect),
	    "the gateway's WebSocket address HOST:PORT" },
	{ "path", "SLUICE_BENCH_PATH", SL_OPT_STR, "/", 0, 0, NULL,
	    offsetof(bn_cfg_t, path), "WebSocket URL path" },
	{ "conns", "SLUICE_BENCH_CONNS", SL_OPT_INT, "1", 0, 50000, NULL,
	    offsetof(bn_cfg_t, conns),
	    "connections that submit requests (0: only --idle ones)" },
	{ "idle", "SLUICE_BENCH_IDLE", SL_OPT_INT, "0", 0, 200000, NULL,
	    offsetof(bn_cfg_t, idle),
	    "extra connections that only stay open (memory tests; opened "
	    "first)" },
	{ "task", "SLUICE_BENCH_TASK", SL_OPT_STR, "echo", 0, 0, NULL,
	    offsetof(bn_cfg_t, task), "task of every request" },
	{ "item", "SLUICE_BENCH_ITEM", SL_OPT_STR, "0", 0, 0, NULL,
	    offsetof(bn_cfg_t, item),
	    "every item, as JSON text (burn/sleep: milliseconds)" },
	{ "item-bytes", "SLUICE_BENCH_ITEM_BYTES", SL_OPT_INT, "0", 0, 1048576,
	    NULL, offsetof(bn_cfg_t, item_bytes),
	    "instead of --item: a JSON string this many bytes long, quotes "
	    "included (0: use --item)" },
	{ "items", "SLUICE_BENCH_ITEMS", SL_OPT_STR, "10", 0, 0, NULL,
	    offsetof(bn_cfg_t, items),
	    "items per request K; a list K1,K2,... is cycled over the "
	    "connections" },
	{ "rate", "SLUICE_BENCH_RATE", SL_OPT_INT, "0", 0, 1000000, NULL,
	    offsetof(bn_cfg_t, rate),
	    "requests per second per connection, open loop (0: closed loop, "
	    "--inflight requests in flight)" },
	{ "inflight", "SLUICE_BENCH_INFLIGHT", SL_OPT_INT, "1", 1, 100000,
	    NULL, offsetof(bn_cfg_t, inflight),
	    "requests in flight per connection (closed loop), or the cap in "
	    "rate mode (the gateway allows --max-requests, 64)" },
	{ "duration-ms", "SLUICE_BENCH_DURATION_MS", SL_OPT_INT, "5000", 0,
	    3600000, NULL, offsetof(bn_cfg_t, duration_ms),
	    "stop submitting after this long (0: only --requests bounds the "
	    "run)" },
	{ "requests", "SLUICE_BENCH_REQUESTS", SL_OPT_INT, "0", 0,
	    1000000000000LL, NULL, offsetof(bn_cfg_t, requests),
	    "requests in total over all connections (0: only --duration-ms "
	    "bounds the run)" },
	{ "stagger-ms", "SLUICE_BENCH_STAGGER_MS", SL_OPT_INT, "0", 0, 600000,
	    NULL, offsetof(bn_cfg_t, stagger_ms),
	    "connection i starts submitting i x this later" },
	{ "ping-ms", "SLUICE_BENCH_PING_MS", SL_OPT_INT, "0", 0, 600000, NULL,
	    offsetof(bn_cfg_t, ping_ms),
	    "send an app-level ping on every loaded connection this often "
	    "during the run, and time its pong (0: no pings)" },
	{ "drain-ms", "SLUICE_BENCH_DRAIN_MS", SL_OPT_INT, "10000", 0, 3600000,
	    NULL, offsetof(bn_cfg_t, drain_ms),
	    "after submitting, wait this long at most for outstanding "
	    "results; what has not come by then is lost" },
	{ "idle-hold-ms", "SLUICE_BENCH_IDLE_HOLD_MS", SL_OPT_INT, "1000", 0,
	    600000, NULL, offsetof(bn_cfg_t, idle_hold_ms),
	    "with --idle: wait this long after every connection is open "
	    "before the run" },
	{ "connect-timeout-ms", "SLUICE_BENCH_CONNECT_TIMEOUT_MS", SL_OPT_INT,
	    "60000", 100, 3600000, NULL,
	    offsetof(bn_cfg_t, connect_timeout_ms),
	    "give up if the connections are not all open by then" },
	{ "connect-parallel", "SLUICE_BENCH_CONNECT_PARALLEL", SL_OPT_INT,
	    "128", 1, 10000, NULL, offsetof(bn_cfg_t, connect_parallel),
	    "WebSocket handshakes in progress at once" },
	{ "protocol", "SLUICE_BENCH_PROTOCOL", SL_OPT_ENUM, "json", 0, 0,
	    "json,msgpack", offsetof(bn_cfg_t, protocol),
	    "what the connections speak: JSON text, or the sluice.msgpack.v1 "
	    "subprotocol (binary msgpack frames)" },
	{ "push", "SLUICE_BENCH_PUSH", SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(bn_cfg_t, push),
	    "submit nothing: send each loaded connection's server one start "
	    "frame and read the result lines it pushes (websocketd running "
	    "sluice-bench-ticker): --rate bursts/s of --items lines of "
	    "--item-bytes for --duration-ms" },
	{ "park", "SLUICE_BENCH_PARK", SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(bn_cfg_t, park),
	    "after the run (RSS and CPU measured), keep every connection open "
	    "until SIGINT/SIGTERM, then close and report: holds --idle "
	    "connections while another bench runs" },
	{ "ready-file", "SLUICE_BENCH_READY_FILE", SL_OPT_STR, "none", 0, 0,
	    NULL, offsetof(bn_cfg_t, ready_file),
	    "with --park: create this file once parked (none: don't)" },
	{ "parser", "SLUICE_BENCH_PARSER", SL_OPT_ENUM, "fast", 0, 0,
	    BN_PARSER_NAMES, offsetof(bn_cfg_t, parser),
	    "how frames are read: a scanner that decodes only the fields "
	    "needed (jansson for anything unusual), or jansson for all" },
	{ "gateway-pid", "SLUICE_BENCH_GATEWAY_PID", SL_OPT_INT, "0", 0,
	    4194304, NULL, offsetof(bn_cfg_t, gateway_pid),
	    "watch this process: VmRSS (peak during the run, and at the end "
	    "with every connection still open) and CPU (0: none)" },
	{ "worker-pids", "SLUICE_BENCH_WORKER_PIDS", SL_OPT_STR, "none", 0, 0,
	    NULL, offsetof(bn_cfg_t, worker_pids),
	    "comma separated pids whose CPU is reported together (none)" },
	{ "json", "SLUICE_BENCH_JSON", SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(bn_cfg_t, json), "print one JSON object, not a table" },
	{ "json-out", "SLUICE_BENCH_JSON_OUT", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(bn_cfg_t, json_out),
	    "also write the JSON object to this file (none: don't)" },
	{ "log-level", "SLUICE_BENCH_LOG_LEVEL", SL_OPT_ENUM, "warn", 0, 0,
	    SL_LOG_LEVEL_NAMES, offsetof(bn_cfg_t, log_level),
	    "least severe log level printed (stderr)" },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

/* Process-wide, for the signal handler only. */
static volatile sig_atomic_t s_stop;
static struct lws_context *s_ctx;

static void
s_on_signal(int sig)
{
	(void) sig;
	s_stop = 1;
	if (s_ctx)
		lws_cancel_service(s_ctx);
}

/* --json-out: the report as it stands (now, and again at the end). */
static const char *s_json_out;

static void
s_write_json_out(bn_run_t *run)
{
	FILE *f;

	if (!s_json_out)
		return;
	f = fopen(s_json_out, "w");
	if (!f) {
		fprintf(stderr, "sluice-bench: cannot write %s\n", s_json_out);
		return;
	}
	bn_report_print(run, 1, f);
	fclose(f);
}

static void
s_lws_log(int level, const char *line)
{
	sl_log(level == LLL_ERR ? SL_LOG_ERR : SL_LOG_WARN, "LWS", "%s", line);
}

/* "K" or "K1,K2,..." into plan->items. */
static int
s_parse_items(const char *text, bn_plan_t *plan)
{
	const char *p = text;

	plan->n_items = 0;
	while (*p) {
		char *end;
		long long k = strtoll(p, &end, 10);

		if (end == p || k < 1 || k > 1000000
		    || plan->n_items >= BN_MAX_ITEMS_LIST
		    || (*end && *end != ','))
			return SL_EINVAL;
		plan->items[plan->n_items++] = (size_t) k;
		p = *end ? end + 1 : end;
	}
	return plan->n_items ? 0 : SL_EINVAL;
}

/* HOST:PORT into plan (host borrowed into buf). */
static int
s_parse_connect(const char *s, char *buf, size_t buflen, bn_plan_t *plan)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t) (colon - s) >= buflen || colon == s)
		return SL_EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return SL_EINVAL;
	memcpy(buf, s, (size_t) (colon - s));
	buf[colon - s] = '\0';
	plan->host = buf;
	plan->port = (int) port;
	return 0;
}

/* The item as JSON text: --item checked with jansson, or a string of
 * --item-bytes. Caller owns the result. */
static char *
s_item_text(const bn_cfg_t *cfg, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	char *t;

	if (cfg->item_bytes) {
		if (cfg->item_bytes < 2) {
			snprintf(err, errlen, "--item-bytes: at least 2");
			return NULL;
		}
		t = malloc((size_t) cfg->item_bytes + 1);
		if (!t)
			return NULL;
		memset(t, 'x', (size_t) cfg->item_bytes);
		t[0] = t[cfg->item_bytes - 1] = '"';
		t[cfg->item_bytes] = '\0';
		return t;
	}
	j = json_loads(cfg->item, JSON_DECODE_ANY, &jerr);
	if (!j) {
		snprintf(err, errlen, "--item: not JSON: %s", jerr.text);
		return NULL;
	}
	t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return t;
}

static int
s_plan(const bn_cfg_t *cfg, bn_plan_t *plan, char *hostbuf, size_t hostlen,
    char **item, char *err, size_t errlen)
{
	memset(plan, 0, sizeof *plan);
	if (s_parse_connect(cfg->connect, hostbuf, hostlen, plan)) {
		snprintf(err, errlen, "--connect: '%s' is not HOST:PORT",
		    cfg->connect);
		return SL_EINVAL;
	}
	if (s_parse_items(cfg->items, plan)) {
		snprintf(err, errlen,
		    "--items: '%s' is not K or K1,K2,... (1..1000000, at "
		    "most %d values)",
		    cfg->items, BN_MAX_ITEMS_LIST);
		return SL_EINVAL;
	}
	if (!cfg->conns && (!cfg->idle || cfg->push)) {
		snprintf(err, errlen,
		    "--conns 0 needs --idle connections, and no --push");
		return SL_EINVAL;
	}
	if (cfg->push
	    && (cfg->protocol || cfg->ping_ms || cfg->item_bytes < 2
	        || !cfg->duration_ms)) {
		snprintf(err, errlen,
		    "--push: JSON only, no --ping-ms, needs --item-bytes and "
		    "--duration-ms");
		return SL_EINVAL;
	}
	if (!cfg->duration_ms && !cfg->requests) {
		snprintf(err, errlen,
		    "need --duration-ms or --requests: every run is bounded");
		return SL_EINVAL;
	}
	if (strcmp(cfg->worker_pids, "none")) {
		plan->n_worker_pids = bn_proc_parse_pids(
		    cfg->worker_pids, plan->worker_pids, BN_MAX_PIDS);
		if (plan->n_worker_pids < 0) {
			snprintf(err, errlen,
			    "--worker-pids: '%s' is not a list of at most %d "
			    "pids",
			    cfg->worker_pids, BN_MAX_PIDS);
			return SL_EINVAL;
		}
	}
	*item = s_item_text(cfg, err, errlen);
	if (!*item)
		return SL_EINVAL;
	plan->item_json = *item;
	plan->path = cfg->path;
	plan->task = cfg->task;
	plan->conns = (int) cfg->conns;
	plan->idle = (int) cfg->idle;
	plan->rate = (double) cfg->rate;
	plan->inflight = (int) cfg->inflight;
	plan->duration_us = cfg->duration_ms * 1000;
	plan->requests = (uint64_t) cfg->requests;
	plan->stagger_us = cfg->stagger_ms * 1000;
	plan->ping_us = cfg->ping_ms * 1000;
	plan->drain_us = cfg->drain_ms * 1000;
	plan->idle_hold_us = cfg->idle_hold_ms * 1000;
	plan->connect_timeout_us = cfg->connect_timeout_ms * 1000;
	plan->connect_parallel = (int) cfg->connect_parallel;
	plan->parser = cfg->parser;
	plan->msgpack = cfg->protocol == 1;
	plan->push = cfg->push;
	plan->park = cfg->park;
	plan->ready_file
	    = strcmp(cfg->ready_file, "none") ? cfg->ready_file : NULL;
	plan->gw_pid = (pid_t) cfg->gateway_pid;
	return 0;
}

int
main(int argc, char **argv)
{
	static const sl_cfg_info_t info = { "sluice-bench",
		"load generator and meter for sluice-gateway: throughput, "
		"forward delay, latency, bunching, ping RTT, gateway RSS",
		SLUICE_VERSION };
	struct lws_protocols protocols[] = {
		{ BN_CLIENT_PROTOCOL, bn_client_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info ci;
	struct sigaction sa;
	bn_run_t run;
	bn_plan_t plan;
	bn_cfg_t cfg;
	char err[256], host[256], *item = NULL;
	uint64_t nofile = 0, want;
	int rc;

	rc = sl_cfg_load(
	    s_opts, N_OPTS, &cfg, argc, argv, &info, stdout, err, sizeof err);
	if (rc == SL_CFG_EXIT_OK)
		return 0;
	if (rc
	    || s_plan(
	        &cfg, &plan, host, sizeof host, &item, err, sizeof err)) {
		fprintf(stderr, "sluice-bench: %s\n", err);
		free(item);
		return 2;
	}
	sl_log_setup("bench", cfg.log_level);
	lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);

	/* One descriptor per connection plus slack; lws sizes its fd table
	 * from this limit when the context is created, so raise it first. */
	want = (uint64_t) (plan.conns + plan.idle) + 64;
	if (bn_proc_raise_nofile(want, &nofile) || nofile < want) {
		fprintf(stderr,
		    "sluice-bench: need %llu file descriptors, the limit is "
		    "%llu (raise the hard limit: ulimit -Hn / prlimit)\n",
		    (unsigned long long) want, (unsigned long long) nofile);
		free(item);
		return 2;
	}
	if (bn_client_init(&run, &plan, err, sizeof err)) {
		fprintf(stderr, "sluice-bench: %s\n", err);
		free(item);
		return 2;
	}
	run.stop = &s_stop;
	s_json_out = strcmp(cfg.json_out, "none") ? cfg.json_out : NULL;
	run.on_park = s_write_json_out;

	memset(&ci, 0, sizeof ci);
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	ci.user = &run;
	/* Read up to 64 KiB per recv(): many small frames per wake-up. */
	ci.pt_serv_buf_size = 65536;
	s_ctx = lws_create_context(&ci);
	if (!s_ctx) {
		fprintf(stderr, "sluice-bench: lws_create_context failed\n");
		bn_client_fini(&run);
		free(item);
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	bn_client_start(&run, s_ctx);
	while (run.phase != BN_PH_DONE)
		if (lws_service(s_ctx, 0) < 0)
			break;
	lws_context_destroy(s_ctx);
	s_ctx = NULL;

	bn_report_print(&run, cfg.json, stdout);
	s_write_json_out(&run);
	rc = bn_report_ok(&run) ? 0 : 1;
	bn_client_fini(&run);
	free(item);
	return rc;
}
