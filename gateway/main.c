/*
 * sluice-gateway: process concerns only: options, logging, signals, and
 * running the gateway object (gw_gateway), which owns everything else.
 * One thread runs everything after start-up (docs/ARCHITECTURE.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "gw_gateway.h"
#include "gw_opts.h"
#include "sl_cfg.h"
#include "sl_log.h"

/* Process-wide, for the signal handlers and lws's log callback (neither
 * takes a user pointer): s_stop 1 = drain, 2 = now; s_reload: SIGHUP
 * came, read the access lists again. */
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;
static gw_gateway_t *s_gw;

static void
s_on_signal(int sig)
{
	if (sig == SIGHUP)
		s_reload = 1;
	else if (s_stop < 2)
		s_stop++;
	gw_gateway_wake(s_gw); /* the loop reads the flags; async-safe */
}

/* lws's log lines, into ours (lws passes no user pointer). */
static void
s_lws_log(int level, const char *line)
{
	gw_gateway_lws_log(s_gw, level, line);
}

int
main(int argc, char **argv)
{
	gw_opts_t opts;
	struct sigaction sa;
	char err[512];
	int rc;

	rc = gw_opts_load(&opts, argc, argv, stdout, err, sizeof err);
	if (rc == SL_CFG_EXIT_OK)
		return 0;
	if (rc) {
		fprintf(stderr, "sluice-gateway: %s\n", err);
		return 2;
	}
	sl_log_setup("gw", opts.log_level);
	sl_log_set_format(opts.log_format);
	lws_set_log_level(LLL_ERR | LLL_WARN
	        | (opts.log_level >= SL_LOG_DEBUG ? LLL_NOTICE : 0),
	    s_lws_log);
	gw_opts_log(&opts);
	s_gw = gw_gateway_new(&opts, err, sizeof err);
	if (!s_gw) {
		SL_ERR("GW-START", "%s", err);
		sl_log_flush(true);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = gw_gateway_run(s_gw, &s_stop, &s_reload);
	gw_gateway_destroy(&s_gw);
	sl_log_flush(true); /* every count still held, before we go */
	return rc;
}
