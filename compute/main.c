/*
 * sluice-compute: process concerns only: options, signals, then the I/O
 * loop (cp_io), which owns the sockets and the compute pool.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cp_health.h"
#include "cp_io.h"
#include "cp_tasks.h"
#include "sl_cfg.h"
#include "sl_curve.h"
#include "sl_lines.h"
#include "sl_log.h"

typedef struct cp_cfg {
	sl_cfg_list_t gateways;
	long long resolve_ms;
	const char *id;
	long long threads;
	int pool_priority; /* cp_prio_t */
	long long hb_ivl_ms;
	long long hb_liveness;
	long long drain_ms;
	long long backoff_max_ms;
	const char *health_file;
	const char *plugins;
	int check_health;
	int log_level;
	int log_format;
	const char *curve_server_key;
	const char *curve_secret_file;
	int gen_keypair;
} cp_cfg_t;

static const sl_opt_t s_opts[] = {
	{ "gateway", "SLUICE_GATEWAY", SL_OPT_LIST, "tcp://127.0.0.1:5555", 0,
	    0, NULL, offsetof(cp_cfg_t, gateways),
	    "a gateway's worker endpoint (ZeroMQ) to connect to; give it "
	    "several times (or comma separated) to serve several gateways; "
	    "tcp://NAME:PORT connects to every address NAME resolves to "
	    "(tasks.<service>, a headless Service)" },
	{ "resolve-ms", "SLUICE_RESOLVE_MS", SL_OPT_INT, "5000", 100, 3600000,
	    NULL, offsetof(cp_cfg_t, resolve_ms),
	    "resolve the --gateway names again this often, to follow the "
	    "gateways as they scale" },
	{ "threads", "SLUICE_THREADS", SL_OPT_INT, "0", 0, 1024, NULL,
	    offsetof(cp_cfg_t, threads),
	    "compute threads, i.e. jobs run at once (0: one per core)" },
	{ "pool-priority", "SLUICE_POOL_PRIORITY", SL_OPT_ENUM, "batch", 0, 0,
	    CP_PRIO_CHOICES, offsetof(cp_cfg_t, pool_priority),
	    "CPU priority of the compute threads: batch (SCHED_BATCH, nice "
	    "+10) and idle (SCHED_IDLE) keep the I/O threads and a gateway "
	    "on the same cores responsive while tasks burn CPU; normal runs "
	    "them like the rest of the process" },
	{ "id", "SLUICE_WORKER_ID", SL_OPT_STR, "auto", 0, 0, NULL,
	    offsetof(cp_cfg_t, id),
	    "worker id on the wire and in logs, unique per gateway (auto: "
	    "w-HOST-PID-RANDOM)" },
	SL_CFG_OPT_HB_INTERVAL_MS(
	    cp_cfg_t, hb_ivl_ms, "heartbeat interval with the gateway"),
	SL_CFG_OPT_HB_LIVENESS(cp_cfg_t, hb_liveness,
	    "silent heartbeat intervals before reconnecting"),
	SL_CFG_OPT_DRAIN_MS(cp_cfg_t, drain_ms,
	    "on SIGTERM, time to finish running jobs before leaving"),
	{ "reconnect-max-ms", "SLUICE_RECONNECT_MAX_MS", SL_OPT_INT, "5000",
	    250, 600000, NULL, offsetof(cp_cfg_t, backoff_max_ms),
	    "longest delay between reconnection attempts" },
	{ "plugin", "SLUICE_PLUGIN", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(cp_cfg_t, plugins),
	    "shared objects with more tasks (sluice_task.h), comma separated "
	    "(none: built-ins only)" },
	{ "health-file", "SLUICE_HEALTH_FILE", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(cp_cfg_t, health_file),
	    "file rewritten every heartbeat with the worker's state (none: "
	    "off)" },
	{ "check-health", "SLUICE_CHECK_HEALTH", SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(cp_cfg_t, check_health),
	    "only check --health-file: exit 0 if a running worker wrote 'ok' "
	    "there lately (for container health checks)" },
	{ "curve-server-key", "SLUICE_CURVE_SERVER_KEY", SL_OPT_STR, "none", 0,
	    0, NULL, offsetof(cp_cfg_t, curve_server_key),
	    "the gateway's CURVE public key (Z85): encrypt and authenticate "
	    "the connection (none: plain ZeroMQ)" },
	SL_CFG_OPT_CURVE_SECRET_FILE(cp_cfg_t, curve_secret_file,
	    "file with this worker's CURVE secret key (Z85); its public key "
	    "must be in the gateway's --curve-clients-file"),
	{ "gen-keypair", NULL, SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(cp_cfg_t, gen_keypair),
	    "print a new CURVE key pair and exit; with --curve-secret-file, "
	    "write the secret there (mode 0600, never overwritten) and print "
	    "the public key" },
	SL_CFG_OPTS_LOG(cp_cfg_t, log_level, log_format),
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

/* Process-wide, for the signal handler only: 1 = drain, 2 = now. */
static volatile sig_atomic_t s_stop;

/* --gen-keypair: 0 or 1, like main. */
static int
s_gen_keypair(const char *secret_file)
{
	sl_curve_keypair_t kp;
	char err[256];

	if (sl_curve_keypair_new(&kp)) {
		fprintf(stderr, "sluice-compute: this libzmq has no CURVE\n");
		return 1;
	}
	if (!strcmp(secret_file, "none")) {
		printf(
		    "public: %s\nsecret: %s\n", kp.public_key, kp.secret_key);
		return 0;
	}
	if (sl_curve_write_secret_file(secret_file, &kp, err, sizeof err)) {
		fprintf(stderr, "sluice-compute: %s\n", err);
		return 1;
	}
	printf("public: %s\n", kp.public_key);
	return 0;
}

/* The CURVE options into io: 0, or 2 after a message. */
static int
s_curve_cfg(const cp_cfg_t *cfg, sl_curve_keypair_t *kp, cp_io_cfg_t *io)
{
	char err[256];
	bool loose;

	io->curve_server_key = NULL;
	io->curve = NULL;
	if (!strcmp(cfg->curve_server_key, "none")
	    && !strcmp(cfg->curve_secret_file, "none"))
		return 0;
	if (!sl_curve_key_valid(cfg->curve_server_key)
	    || !strcmp(cfg->curve_secret_file, "none")) {
		fprintf(stderr,
		    "sluice-compute: CURVE needs --curve-server-key (40 Z85 "
		    "characters) and --curve-secret-file\n");
		return 2;
	}
	if (sl_curve_read_secret_file(
	        cfg->curve_secret_file, kp, &loose, err, sizeof err)) {
		fprintf(stderr, "sluice-compute: %s\n", err);
		return 2;
	}
	if (loose)
		SL_WARN("IO-INSECURE",
		    "%s is readable by other users: chmod "
		    "600 it",
		    cfg->curve_secret_file);
	io->curve_server_key = cfg->curve_server_key;
	io->curve = kp;
	return 0;
}

static void
s_on_signal(int sig)
{
	(void) sig;
	if (s_stop < 2)
		s_stop++;
}

/* sl_lines_fn: one --plugin path. */
static int
s_load_plugin(void *tasks, char *path, size_t len, char *err, size_t errlen)
{
	int rc = cp_tasks_load_plugin(tasks, path, err, errlen);

	(void) len;
	if (!rc)
		SL_NOTICE("WRK-PLUGIN", "path=%s tasks=%zu", path,
		    cp_tasks_count(tasks));
	return rc;
}

/* The built-in tasks plus those of every plugin in the comma separated
 * list; NULL (after saying why) if one cannot be loaded. */
static cp_tasks_t *
s_load_tasks(const char *plugins)
{
	cp_tasks_t *tasks = cp_tasks_new();
	char err[512];

	if (!tasks) {
		fprintf(stderr, "sluice-compute: out of memory\n");
		return NULL;
	}
	if (strcmp(plugins, "none")
	    && sl_lines_csv(plugins, s_load_plugin, tasks, err, sizeof err)) {
		fprintf(stderr, "sluice-compute: --plugin: %s\n", err);
		cp_tasks_destroy(&tasks);
		return NULL;
	}
	return tasks;
}

/* After --help: the built-in tasks, one line each. */
static void
s_print_tasks(void)
{
	size_t n;
	const cp_task_t *t = cp_task_all(&n);

	printf("\nTasks:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-8s %s\n", t[i].name, t[i].help);
}

/* --check-health: the exit status for a container health check. */
static int
s_check_health(const cp_cfg_t *cfg)
{
	/* Stale after three missed heartbeats, and never under 3 s. */
	int64_t stale = 3 * cfg->hb_ivl_ms * 1000;
	char err[256];

	if (!strcmp(cfg->health_file, "none")) {
		fprintf(stderr,
		    "sluice-compute: --check-health needs --health-file\n");
		return 2;
	}
	if (cp_health_check(cfg->health_file,
	        stale > 3000000 ? stale : 3000000, err, sizeof err)) {
		printf("unhealthy: %s", err);
		return 1;
	}
	printf("healthy\n");
	return 0;
}

static const sl_cfg_info_t s_info = { "sluice-compute",
	"worker that runs sluice tasks for a gateway, one job per compute "
	"thread",
	SLUICE_VERSION };

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sl_curve_keypair_t kp;
	cp_io_cfg_t io = { 0 };
	cp_tasks_t *tasks = NULL;
	cp_cfg_t cfg;
	char err[256];
	long cores;
	int rc;

	rc = sl_cfg_load(s_opts, N_OPTS, &cfg, argc, argv, &s_info, stdout,
	    err, sizeof err);
	if (rc == SL_CFG_EXIT_OK) {
		if (argc > 1 && strcmp(argv[1], "--version"))
			s_print_tasks();
		return 0;
	}
	if (rc) {
		fprintf(stderr, "sluice-compute: %s\n", err);
		return 2;
	}
	if (cfg.gen_keypair)
		return s_gen_keypair(cfg.curve_secret_file);
	if (strlen(cfg.id) > 100) {
		fprintf(stderr, "sluice-compute: --id: at most 100 bytes\n");
		return 2;
	}
	if (cfg.check_health)
		return s_check_health(&cfg);
	sl_log_setup("cp", cfg.log_level);
	sl_log_set_format(cfg.log_format);
	/* 0 means one per core: log the count the pool really gets. */
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (!cfg.threads)
		cfg.threads = cores > 0 ? (cores < 1024 ? cores : 1024) : 1;
	sl_cfg_log(s_opts, N_OPTS, &cfg);
	io.gateways = cfg.gateways.v;
	io.n_gateways = cfg.gateways.n;
	io.resolve_us = cfg.resolve_ms * 1000;
	io.id = strcmp(cfg.id, "auto") ? cfg.id : NULL;
	io.threads = (unsigned) cfg.threads;
	io.pool_priority = (cp_prio_t) cfg.pool_priority;
	io.hb_ivl_us = cfg.hb_ivl_ms * 1000;
	io.hb_liveness = (unsigned) cfg.hb_liveness;
	io.drain_us = cfg.drain_ms * 1000;
	io.backoff_max_us = cfg.backoff_max_ms * 1000;
	io.health_file
	    = strcmp(cfg.health_file, "none") ? cfg.health_file : NULL;
	if (s_curve_cfg(&cfg, &kp, &io))
		return 2;
	if (io.curve)
		SL_NOTICE("WRK-CURVE",
		    "CURVE to server key %.8s..., our public "
		    "key %s",
		    io.curve_server_key, kp.public_key);

	/* Last of the checks: from here on every exit frees the tasks. */
	tasks = s_load_tasks(cfg.plugins);
	if (!tasks)
		return 2;
	io.tasks = tasks;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal; /* no SA_RESTART: interrupt the poll */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = cp_io_run(&io, &s_stop) ? 1 : 0;
	sl_log_flush(
	    true); /* the pool's threads have ended: counts are final */
	cp_tasks_destroy(&tasks);
	return rc;
}
