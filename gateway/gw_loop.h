/*
 * gw_loop: the event loop lws runs on, poll or libuv.
 *
 * lws 4.1.6's default loop poll()s every descriptor on every wake-up and
 * then walks its whole descriptor table for the answers, so with 10,000
 * idle WebSocket clients open each wake-up costs milliseconds and busy
 * clients slow down by a factor of 5 or more (docs/BENCHMARKS.md, "Event
 * loop"). With libuv (epoll) a wake-up costs what the ready descriptors
 * cost. The libuv loop is ours ("foreign" to lws): lws installs no signal
 * handlers on it, so SIGTERM/SIGINT/SIGHUP stay main()'s, and a turn of it
 * returns to gw_gateway_run like a turn of lws_service does. The ZeroMQ
 * descriptors stay lws raw-file wsi on either loop (gw_zmq).
 *
 * lws loads libuv support at run time from a plugin (Debian package
 * libwebsockets-evlib-uv, libwebsockets-evlib_uv.so); gw_loop_new checks
 * that it loads and fails with a message naming the package and
 * --event-lib poll otherwise.
 *
 * Main (lws service) thread only.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stddef.h>

#include <libwebsockets.h>

/* --event-lib's values, in its choices' order ("poll,uv"). */
enum { GW_LOOP_POLL = 0, GW_LOOP_UV = 1 };

typedef struct gw_loop gw_loop_t;

/* The plugin lws 4.1.6 loads for LWS_SERVER_OPTION_LIBUV. */
#define GW_LOOP_UV_PLUGIN "libwebsockets-evlib_uv.so"

/* A loop of kind GW_LOOP_POLL or GW_LOOP_UV; NULL with err filled if
 * plugin (for GW_LOOP_UV; NULL: GW_LOOP_UV_PLUGIN) cannot be loaded, or
 * out of memory. Caller owns it. */
gw_loop_t *gw_loop_new(int kind, const char *plugin, char *err, size_t errlen);

/* "poll" or "uv", for logs. */
const char *gw_loop_name(const gw_loop_t *self);

/* Before lws_create_context: the options and foreign loop ci needs.
 * *pctx is where the caller keeps the context: lws clears it once a
 * context on libuv is wholly gone. */
void gw_loop_prepare(gw_loop_t *self, struct lws_context_creation_info *ci,
    struct lws_context **pctx);

/* One turn: wait for something (a descriptor, a timer, lws_cancel_service)
 * and serve it. < 0 when the loop cannot go on. */
int gw_loop_turn(gw_loop_t *self, struct lws_context *ctx);

/* lws_context_destroy, and on libuv the turns lws needs to close its
 * handles; *pctx is NULL after. Every lws callback has run on return. */
void gw_loop_destroy_context(gw_loop_t *self, struct lws_context **pctx);

/* After gw_loop_destroy_context; NULL-safe. */
void gw_loop_destroy(gw_loop_t **self_p);

#endif
