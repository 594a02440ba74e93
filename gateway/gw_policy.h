/*
 * gw_policy: who may connect to the gateway, loaded from the options and
 * reloaded on SIGHUP (docs/SECURITY.md).
 *
 * Two halves: the WebSocket side's tokens and Origin allow-list (a
 * gw_auth_t, also guarding /metrics), and CURVE for the ZeroMQ endpoints
 * (the gateway's key pair and the ZAP handler, sl_zap, with one
 * allow-list per endpoint). A reload reads the token file, the origins
 * and the allow-lists again; whatever fails to load is logged (GW-RELOAD)
 * and the policy in force stays. Open connections are not checked again:
 * a revoked token or key ends no session that already passed.
 *
 * Made on the main thread before the lws context starts; afterwards used
 * by the lws service thread only (the ZAP handler's own thread reads its
 * lists under sl_zap's lock). Owns its gw_auth_t and sl_zap_t.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_auth.h"
#include "sl_curve.h"

typedef struct gw_policy gw_policy_t;

/* Where the policy comes from; NULL: not configured. The strings are
 * borrowed and must outlive the policy (a reload reads them again). */
typedef struct gw_policy_cfg {
	const char *tokens_file;          /* bearer tokens, one per line */
	const char *tokens;               /* ... comma separated */
	const char *allow_origins;        /* comma separated; NULL: any */
	bool allow_no_origin;             /* handshakes without Origin pass */
	bool metrics_token;               /* /metrics asks for a token too */
	const char *curve_secret_file;    /* the gateway's secret key */
	const char *curve_clients_file;   /* workers allowed with CURVE */
	const char *curve_producers_file; /* producers allowed with CURVE */
} gw_policy_cfg_t;

/* For /metrics. */
typedef struct gw_policy_stats {
	uint64_t denied_token;  /* 401: missing or unknown token */
	uint64_t denied_origin; /* 403: Origin not in the list */
	size_t tokens;          /* tokens in force */
	size_t origins;         /* origins in force */
} gw_policy_stats_t;

/*
 * Load the policy of cfg (copied; its strings borrowed). With CURVE
 * configured, the ZAP handler is bound in zctx (before any endpoint of
 * zctx exists); zctx may be NULL without CURVE. NULL with err filled on
 * a bad token file or list, a CURVE option without its partner, an
 * unreadable key or allow-list. Caller owns.
 */
gw_policy_t *gw_policy_new(
    const gw_policy_cfg_t *cfg, void *zctx, char *err, size_t errlen);

/* After the ZeroMQ sockets of zctx are closed (stopping the ZAP handler
 * shuts zctx down), before zmq_ctx_term. NULL-safe; sets *self_p = NULL.
 */
void gw_policy_destroy(gw_policy_t **self_p);

/* SIGHUP: read tokens, origins and allow-lists again; logs GW-RELOAD
 * with what was loaded or what failed (then the old part stays). */
void gw_policy_reload(gw_policy_t *self);

/* The WebSocket side's policy now in force (self NULL: NULL, everyone
 * allowed). Borrowed: a reload replaces it, so ask again after
 * gw_policy_reload rather than keep it. */
gw_auth_t *gw_policy_auth(const gw_policy_t *self);

/* The key pair for the CURVE server on the endpoint of ZAP domain
 * "workers" or "producers"; NULL: that endpoint stays plain. Borrowed. */
const sl_curve_keypair_t *gw_policy_curve(
    const gw_policy_t *self, const char *domain);

/* self may be NULL (all zero). */
void gw_policy_stats(const gw_policy_t *self, gw_policy_stats_t *out);

#endif
