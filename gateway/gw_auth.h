/*
 * gw_auth: who may open a WebSocket (and read /metrics) on the gateway.
 *
 * Two independent checks, both made before the WebSocket handshake
 * completes, so a refused client gets an HTTP status instead of a 101:
 *
 *  - bearer tokens (401): from --tokens-file (one per line) and/or
 *    SLUICE_TOKENS (comma separated). A client presents one in the
 *    `Authorization: Bearer TOKEN` header or, because browsers cannot set
 *    headers on a WebSocket, in the `access_token` query parameter.
 *    Only SHA-256 digests of the tokens are kept, and a candidate is
 *    compared with every one of them in constant time.
 *  - an Origin allow-list (403): exact scheme://host[:port] matches,
 *    case-insensitive. Browsers always send Origin on a WebSocket, so the
 *    list protects against cross-site WebSocket hijacking; a request
 *    without Origin comes from a non-browser client and is allowed unless
 *    allow_no_origin is off (anyone can forge Origin outside a browser:
 *    tokens are what authenticate those).
 *
 * With no tokens and no origins configured every client is allowed.
 * Configured on the main thread before the lws context starts; afterwards
 * used by the lws service thread only, which may swap in a new policy
 * between two services of the loop (SIGHUP: gw_policy).
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#define GW_AUTH_TOKEN_MIN 16   /* shorter tokens are refused at start */
#define GW_AUTH_TOKEN_MAX 512  /* longer ones too (and never match) */
#define GW_AUTH_ORIGIN_MAX 256 /* bytes in one allowed origin */
#define GW_AUTH_QUERY_NAME "access_token"

typedef struct gw_auth gw_auth_t;

/* Refusal counters, for /metrics. */
typedef struct gw_auth_stats {
	uint64_t denied_token;  /* 401: missing or unknown token */
	uint64_t denied_origin; /* 403: Origin not in the list */
} gw_auth_stats_t;

/* An empty policy (everyone allowed). NULL on ENOMEM; caller owns. */
gw_auth_t *gw_auth_new(void);

/* NULL-safe; sets *self_p = NULL. */
void gw_auth_destroy(gw_auth_t **self_p);

/*
 * Add the tokens of a comma-separated list (spaces around each are
 * trimmed, empty entries skipped). A token is 16..512 printable ASCII
 * characters without spaces or commas. 0, or SL_EINVAL with the reason in
 * err (never the token itself), or SL_ENOMEM.
 */
int gw_auth_add_tokens(
    gw_auth_t *self, const char *csv, char *err, size_t errlen);

/* Add the tokens of a file: one per line; blank lines and lines starting
 * with '#' are skipped. Same rules and returns as gw_auth_add_tokens. */
int gw_auth_load_tokens_file(
    gw_auth_t *self, const char *path, char *err, size_t errlen);

/* Add the origins of a comma-separated list ("https://app.example.com,
 * http://localhost:8080"). SL_EINVAL for one without "scheme://". */
int gw_auth_add_origins(
    gw_auth_t *self, const char *csv, char *err, size_t errlen);

/* Whether a request without an Origin header passes the origin check
 * (default yes). */
void gw_auth_set_allow_no_origin(gw_auth_t *self, bool allow);

/* Whether /metrics asks for a token too (default no). */
void gw_auth_set_metrics_token(gw_auth_t *self, bool required);

size_t gw_auth_n_tokens(const gw_auth_t *self);
size_t gw_auth_n_origins(const gw_auth_t *self);
bool gw_auth_metrics_token(const gw_auth_t *self);
void gw_auth_stats(const gw_auth_t *self, gw_auth_stats_t *out);
/* A policy that replaces from (a reload) counts on where from stopped:
 * the refusal counters are monotonic for /metrics. */
void gw_auth_carry_stats(gw_auth_t *to, const gw_auth_t *from);

/*
 * true if tok (len bytes, not NUL-terminated) is one of the tokens, or if
 * no tokens are configured. Takes the same time whichever token matches,
 * and whether one does: the candidate's digest is compared with every
 * stored digest with CRYPTO_memcmp.
 */
bool gw_auth_token_ok(const gw_auth_t *self, const char *tok, size_t len);

/* true if origin (NULL: no Origin header) passes the allow-list. */
bool gw_auth_origin_ok(const gw_auth_t *self, const char *origin);

/*
 * The token of an Authorization header value "Bearer TOKEN" (scheme
 * case-insensitive, spaces around the token skipped): 0 with *tok
 * pointing into hdr, or SL_EINVAL for another scheme or no token.
 */
int gw_auth_parse_bearer(
    const char *hdr, size_t len, const char **tok, size_t *tok_len);

/* Constant-time equality of two byte strings of any lengths (only the
 * lengths themselves may leak). */
bool gw_auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* true for "localhost", 127.0.0.0/8 and ::1; "", "*", 0.0.0.0 and any
 * other name are not loopback. */
bool gw_auth_host_is_loopback(const char *host);

/* true for a ZeroMQ endpoint only this host can reach: ipc://, inproc://
 * or tcp:// on a loopback address. */
bool gw_auth_endpoint_is_local(const char *endpoint);

/*
 * The lws side, for LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: check the
 * upgrade request on wsi. Returns 0 to let it through, or -1 after writing
 * a 401 or 403 response (with a one-line reason) and logging CLI-DENIED:
 * the caller returns that -1 to lws, which then closes the connection.
 * self NULL: allowed.
 */
int gw_auth_filter_ws(gw_auth_t *self, struct lws *wsi);

/* Refuse a WebSocket upgrade with status (401, 403 or 503) and a one-line
 * reason as the body, written as HTTP/1.1; returns -1 for the callback to
 * return (lws then closes the connection). */
int gw_auth_refuse(struct lws *wsi, unsigned status, const char *why);

/* The same with more response headers (each line ending in CRLF; "" for
 * none) and any status of 400, 401, 403, 426, 429, 503. */
int gw_auth_refuse_ex(
    struct lws *wsi, unsigned status, const char *headers, const char *why);

/* Bytes in a token's identity (its SHA-256 digest). */
#define GW_AUTH_ID_LEN 32

/*
 * With tokens on: the identity of the valid token wsi's request presents
 * (during its handshake) into id, and true; false with tokens off or
 * without a valid token. Connections of one token share limits by it.
 */
bool gw_auth_token_id(
    const gw_auth_t *self, struct lws *wsi, uint8_t id[GW_AUTH_ID_LEN]);

/*
 * For an HTTP request to a protected path (/metrics with metrics_token
 * on): 0 if allowed, else -1 after writing the 401 response.
 */
int gw_auth_filter_http(gw_auth_t *self, struct lws *wsi);

#endif
