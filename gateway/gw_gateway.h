/*
 * gw_gateway: the gateway as one object. It owns everything that runs:
 * the broker, the access policy (gw_policy), the WebSocket side (gw_ws)
 * and plain HTTP (gw_http) on one lws context, the workers and producers
 * endpoints (ZeroMQ ROUTERs in the same loop), the descriptor budget
 * (gw_fds), the 100 ms timer that drives every module's timeouts, and
 * the drain on shutdown. Each module keeps its state private; the
 * gateway wires them and gathers their typed stats for /metrics.
 *
 * Made on the main thread; gw_gateway_run then turns the lws loop on the
 * same thread until the gateway has stopped. Only gw_gateway_wake may be
 * called from elsewhere (a signal handler).
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <signal.h>

#include "gw_opts.h"

typedef struct gw_gateway gw_gateway_t;

/*
 * Start everything opts asks for: bind the endpoints, load the policy,
 * size the connections to the open files limit (raised first), create
 * the lws context listening on opts->host:port. opts must outlive the
 * gateway. NULL with err filled (what failed, for GW-START) on failure.
 * Caller owns.
 */
gw_gateway_t *gw_gateway_new(const gw_opts_t *opts, char *err, size_t errlen);

/*
 * Serve until told to stop: *stop 1 drains (new requests refused, running
 * ones get up to --drain-ms, then clients are closed with 1001 after their
 * queued frames), 2 skips the wait; *reload nonzero reloads the policy
 * (and is reset). Both are read after each turn of the loop, so whoever
 * sets them calls gw_gateway_wake. Returns 0 once stopped.
 */
int gw_gateway_run(gw_gateway_t *self, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *reload);

/* Make the loop turn now; async-signal-safe. */
void gw_gateway_wake(gw_gateway_t *self);

/* One line lws logs (lws_set_log_level's callback, level an LLL_*):
 * into sl_log under "LWS", rate-limited; a failed accept() it reports
 * makes gw_fds shed after this turn. self may be NULL (before the
 * gateway exists). */
void gw_gateway_lws_log(gw_gateway_t *self, int level, const char *line);

/* Close everything in order: the lws context (its connections), then the
 * modules, the ZeroMQ context last. NULL-safe; sets *self_p = NULL. */
void gw_gateway_destroy(gw_gateway_t **self_p);

#endif
