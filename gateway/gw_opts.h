/*
 * gw_opts: the gateway's options. One table (name, environment variable,
 * type, range, default, help: sl_cfg; the rows both programs share come
 * from sl_cfg.h), the rules between options, and what the options resolve
 * to before anything starts: the demo page's directory and the listen
 * address. Main thread, at start; the result is plain data the caller
 * owns (its strings point into argv, the environment or the table).
 */
#ifndef GW_OPTS_H
#define GW_OPTS_H

#include <stdio.h>

typedef struct gw_opts {
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
	long long resume_ms;
	long long progress_ms; /* an item's progress at most this often */
	long long max_resume_bytes;
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
	int event_lib; /* GW_LOOP_POLL or GW_LOOP_UV (gw_loop.h) */
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
	/* resolved by gw_opts_load */
	char www_dir[4096]; /* the demo page's directory */
	char host[128];     /* --listen's address or interface, for lws */
	int port;           /* ... and port */
} gw_opts_t;

/*
 * Defaults < environment (SLUICE_*) < argv into *out, checked and
 * resolved: 0; SL_CFG_EXIT_OK when --help or --version was printed to
 * help_out; SL_EINVAL with err naming the option (a value out of range,
 * two options in the wrong order, no readable page directory, a --listen
 * that is not HOST:PORT).
 */
int gw_opts_load(gw_opts_t *out, int argc, char **argv, FILE *help_out,
    char *err, size_t errlen);

/* Log the effective options once (CFG), and warn (GW-LIMITS) about a
 * combination that refuses every request of some size. */
void gw_opts_log(const gw_opts_t *opts);

/* An optional string option: NULL for "none". */
const char *gw_opts_str(const char *v);

#endif
