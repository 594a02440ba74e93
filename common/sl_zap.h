/*
 * sl_zap: the ZAP handler (ZeroMQ authentication, RFC 27) that decides
 * which CURVE clients may connect to a server socket.
 *
 * One per ZeroMQ context: a REP socket bound to inproc://zeromq.zap.01 in
 * sl_zap_new(), so it exists before any peer connects, served by its own
 * thread. Each ZAP domain (the server socket's ZMQ_ZAP_DOMAIN, e.g.
 * "workers", "producers") has its own allow-list of client public keys,
 * loaded from a file with one Z85 key per line and an optional name
 * ("KEY name", for people). A CURVE client whose key is listed gets 200
 * with its Z85 public key as the ZAP User-Id, which ZeroMQ attaches to
 * every message from that connection (zmq_msg_gets(msg, "User-Id")): the
 * gateway binds each routing id to it;
 * any other gets 400 and a log line (the domain's deny event id, e.g.
 * WRK-DENIED, with the key's first 8 characters), at most one line per
 * key every 10 s because a denied client keeps reconnecting. A domain
 * without a list denies everyone (fail closed); sockets without CURVE and
 * without a ZAP domain never consult the handler.
 *
 * sl_zap_allow_file may be called from any thread at any time (a lock
 * guards the lists); the handler thread is internal.
 */
#ifndef SL_ZAP_H
#define SL_ZAP_H

#include <stddef.h>

/* Bytes in a User-Id this handler gives (a Z85 key: 40), without the NUL:
 * what a server binding peers to their User-Id keeps room for. */
#define SL_ZAP_USER_ID_MAX 64

typedef struct sl_zap sl_zap_t;

/* Bind the handler in zctx and start its thread. NULL with err filled
 * (e.g. a second handler in the same context). Caller owns. */
sl_zap_t *sl_zap_new(void *zctx, char *err, size_t errlen);

/*
 * Allow the keys in path for domain; deny_id is the log event for refused
 * clients of that domain ("WRK-DENIED"). Replaces an earlier list of the
 * same domain. *n_keys (may be NULL) gets the number of keys. 0, or
 * SL_EINVAL/SL_ENOMEM with err ("file:line: why").
 */
int sl_zap_allow_file(sl_zap_t *self, const char *domain, const char *path,
    const char *deny_id, size_t *n_keys, char *err, size_t errlen);

/*
 * Stop the handler: shuts the whole ZeroMQ context down
 * (zmq_ctx_shutdown, so its blocking recv returns ETERM), joins the
 * thread. Call after closing the other sockets, before zmq_ctx_term.
 * NULL-safe; sets *self_p = NULL.
 */
void sl_zap_destroy(sl_zap_t **self_p);

/* ZAP requests answered so far: allowed and denied (for tests, logs). */
void sl_zap_counts(sl_zap_t *self, size_t *allowed, size_t *denied);

#endif
