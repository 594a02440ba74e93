/*
 * gw_ws: the WebSocket side of the gateway.
 *
 * Two subprotocols share this code: "sluice" (JSON text frames; also
 * what a client asking for no subprotocol gets) and "sluice.msgpack.v1"
 * (the same messages as binary msgpack maps, gw_pproto, never converted
 * to JSON). Receives data frames, reassembling fragments up to max_frame bytes
 * (a larger frame is discarded as it arrives and answered with too_large, so
 * memory stays bounded), parses them with gw_cmsg and hands them to the
 * broker. Sends what the broker queues through a per-connection list of
 * ready-to-write frames (LWS_PRE headroom included, so each frame is
 * serialised once and never copied again), several frames per WRITEABLE
 * while the socket takes them.
 *
 * Slow readers get backpressure before punishment: above out_high queued
 * bytes the broker stops dispatching the client's jobs, below out_low it
 * resumes; computed results are always kept. Only past max_out_bytes, or
 * with output queued and no write progress for stall_us, is a connection
 * closed with 1008 (its queue dropped). All connections together hold at
 * most max_buffered bytes of receive buffers and out queues: past it the
 * connection holding the most is closed (1009 for an unfinished message,
 * 1008 for unread output) and its buffers freed at once.
 *
 * Owns its connections' state and counters (typed stats for /metrics);
 * borrows the broker and the policy. lws service thread only.
 */
#ifndef GW_WS_H
#define GW_WS_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "gw_broker.h"
#include "gw_hist.h"
#include "gw_hs.h"

struct gw_policy;
typedef struct gw_ws gw_ws_t;

typedef struct gw_ws_limits {
	size_t max_frame;          /* bytes in one client message */
	size_t max_items;          /* items in one submit */
	size_t out_high;           /* queued bytes that pause its jobs */
	size_t out_low;            /* ... and that resume them */
	size_t max_out_bytes;      /* queued bytes before it is cut off */
	int64_t stall_us;          /* queued output without progress: cut */
	size_t max_conns;          /* open connections; more get HTTP 503 */
	size_t max_conns_per_addr; /* more from one address get HTTP 429;
	                            * 0: no per-address limit */
	size_t max_buffered; /* over it, the biggest holders are closed */
	int64_t ping_us;     /* a client silent this long is pinged ... */
	int64_t hangup_us;   /* ... and closed at this much silence; 0: no
	                      * pings (gw_wsping.h says why not lws's) */
} gw_ws_limits_t;

/* For /metrics. */
typedef struct gw_ws_stats {
	size_t conns;              /* open connections */
	uint64_t conns_total;      /* connections ever established */
	uint64_t refused_conns;    /* upgrades refused: over max_conns */
	uint64_t refused_addr;     /* upgrades refused: over per address */
	uint64_t slow_closed;      /* closed with 1008: over the byte cap */
	uint64_t progress_dropped; /* progress frames skipped: the client's
	                              queue held a backlog */
	uint64_t stall_closed;     /* closed with 1008: no reading progress */
	uint64_t bufcap_closed; /* closed: held the most over max_buffered */
	size_t buffered;        /* receive buffers + out queues, all conns */
	size_t queued_bytes;    /* out queues alone, all conns */
	gw_hs_stats_t hs;       /* RFC 6455 refusals (gw_hs) */
} gw_ws_stats_t;

/* The msgpack subprotocol's name, and the lws protocol ids (struct
 * lws_protocols.id) that tell the two apart. */
#define GW_WS_MSGPACK "sluice.msgpack.v1"
#define GW_WS_PROTO_JSON 0
#define GW_WS_PROTO_MSGPACK 1

/*
 * The WebSocket side for broker's clients, checked against policy (may be
 * NULL: everyone may connect; its auth is asked for at each handshake, so
 * a reload applies to the next one). Item frames' way out is timed into
 * forward (may be NULL), which like broker and policy must outlive self.
 * NULL on ENOMEM. Caller owns.
 */
gw_ws_t *gw_ws_new(gw_broker_t *broker, const struct gw_policy *policy,
    const gw_ws_limits_t *lim, gw_hist_t *forward);

/* After lws_context_destroy() (which closes every connection). NULL-safe;
 * sets *self_p = NULL. */
void gw_ws_destroy(gw_ws_t **self_p);

/* The vhost's protocol table entries for both subprotocols, with self as
 * their user: "sluice" (id GW_WS_PROTO_JSON) must go at index 0, so that
 * clients asking for no subprotocol land there, then GW_WS_MSGPACK. */
void gw_ws_protocols(gw_ws_t *self, struct lws_protocols out[2]);

void gw_ws_stats(const gw_ws_t *self, gw_ws_stats_t *out);

/* Open connections (a drain waits for none). */
size_t gw_ws_conns(const gw_ws_t *self);

/*
 * From now on the owner calls gw_ws_flush after every loop turn: queued
 * frames are written there, directly, instead of from WRITEABLE. Asking
 * lws for WRITEABLE toggles POLLOUT on the descriptor twice per write,
 * and on libuv each toggle is two or three epoll_ctl calls (uv_poll_start
 * drops and re-adds the fd): more system calls than the send itself.
 * WRITEABLE is still asked for what a flush leaves (a partial send, more
 * than GW_WS_FLUSH_BATCHES batches) and for closing.
 */
void gw_ws_set_direct(gw_ws_t *self);

/* Write what the connections given frames since the last call have queued
 * (gw_ws_set_direct). Outside any lws callback only. */
void gw_ws_flush(gw_ws_t *self);

/* Timers: cut off connections that made no reading progress (only
 * connections with queued output are looked at: idle ones cost nothing). */
void gw_ws_tick(gw_ws_t *self, int64_t now_us);

/* Close every connection with status and reason once its queued frames
 * are written (hard deadline: 3 s). For shutdown. */
void gw_ws_close_all(gw_ws_t *self, uint16_t status, const char *reason);

/* The protocol callback for both subprotocols (see gw_ws_protocols). */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

/* gw_broker_ops_t.client_send: queue frame for the connection user. */
int gw_ws_client_send(void *ctx, void *user, const gw_out_t *frame);

#endif
