/*
 * gw_zmq: a ZeroMQ ROUTER socket served by the lws event loop.
 *
 * The socket's ZMQ_FD is dup()'d and adopted as an lws raw-file wsi, so
 * one thread multiplexes WebSocket clients and workers without locks
 * (docs/ARCHITECTURE.md says why). ZMQ_FD is edge-triggered: every wake
 * drains until a recv finds nothing, with a budget per turn so clients
 * are served in between, and every send is followed by a drain, because a
 * send may consume the edge that announced new input: on the next loop
 * turn (a 0 us lws timer), or, once the owner says it settles the socket
 * itself, when it calls gw_zmq_settle after each turn (no timer: on
 * libuv each such timer cost a loop turn and an epoll_wait of its own).
 *
 * Each [routing id, payload] message goes to the callback given at
 * creation. lws service thread only.
 */
#ifndef GW_ZMQ_H
#define GW_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

typedef struct gw_zmq gw_zmq_t;

typedef void (*gw_zmq_frame_cb)(void *user, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len);

/*
 * Create and bind a ROUTER on endpoint; frames larger than max_msg bytes
 * disconnect their sender (ZMQ_MAXMSGSIZE). NULL with err filled on
 * failure. Caller owns the result.
 */
gw_zmq_t *gw_zmq_new(void *zctx, const char *endpoint, int64_t max_msg,
    gw_zmq_frame_cb cb, void *user, char *err, size_t errlen);

/*
 * The same, with setup(sock, setup_arg) called on the socket before bind
 * (e.g. sl_curve_server_setup for CURVE); a non-zero return fails the
 * creation.
 */
gw_zmq_t *gw_zmq_new_ex(void *zctx, const char *endpoint, int64_t max_msg,
    int (*setup)(void *sock, const void *setup_arg), const void *setup_arg,
    gw_zmq_frame_cb cb, void *user, char *err, size_t errlen);

/* Join the lws loop of vh (protocol "zmq" must be in its table). */
int gw_zmq_attach(
    gw_zmq_t *self, struct lws_context *ctx, struct lws_vhost *vh);

/* Send one payload to a peer: 0, SL_ENOTFOUND (no such peer) or SL_EFULL
 * (peer's queue at its high-water mark). */
int gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len);

/* From now on the owner calls gw_zmq_settle after every loop turn (and
 * before the loop sleeps): sends no longer schedule a drain. */
void gw_zmq_set_owner_settles(gw_zmq_t *self);

/* If something was sent since the last drain, drain now: true if it did
 * (its frame callbacks may have sent more: call again until false). The
 * owner bounds that: with last, nothing is drained now, but on the next
 * loop turn (a 0 us timer), if something was sent. */
bool gw_zmq_settle(gw_zmq_t *self, bool last);

/* Call wake(user) on every wake-up of the socket's fd, after ZeroMQ has
 * processed its commands: a peer's pipe that was full (SL_EFULL) may have
 * room again. Not called for the drains that sends schedule, so a wake
 * that only retries sends cannot wake itself again. NULL: none. */
void gw_zmq_set_wake(gw_zmq_t *self, void (*wake)(void *user));

/* Call wake(user) once after us microseconds too (a send may have
 * consumed the fd's wake-up); a pending call is moved. Nothing before
 * gw_zmq_attach or after the lws context goes. */
void gw_zmq_wake_after(gw_zmq_t *self, int64_t us);

/* Close the socket, after lws_context_destroy(); NULL-safe. */
void gw_zmq_destroy(gw_zmq_t **self_p);

/* Inside the frame callback only: the sender's identity from ZAP (its
 * Z85 CURVE public key, see sl_zap.h), or NULL on an endpoint without
 * CURVE. Borrowed, valid until the callback returns. */
const char *gw_zmq_peer_key(const gw_zmq_t *self);

/* The ROUTER itself, for options a user of the socket needs beyond
 * gw_zmq_new's (e.g. ZMQ_SNDHWM); borrowed. */
void *gw_zmq_socket(gw_zmq_t *self);

/* The "zmq" protocol's callback, for the vhost's protocol table. */
int gw_zmq_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

#endif
