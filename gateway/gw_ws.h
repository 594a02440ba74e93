/*
 * gw_ws: the WebSocket side of the gateway.
 *
 * Two subprotocols share this code: "sluice" (JSON text frames; also
 * what a client asking for no subprotocol gets) and "sluice.msgpack.v1"
 * (the same messages as binary msgpack maps, gw_pproto, never converted
 * to JSON). Receives data frames, reassembling fragments up to max_frame bytes
 * (a larger frame is discarded as it arrives and answered with too_large, so
 * memory stays bounded), parses them with gw_cproto and hands them to the
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
 * 1008 for unread output) and its buffers freed at once. lws service
 * thread only.
 */
#ifndef GW_WS_H
#define GW_WS_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <msgpack.h>

#include "gw_addr.h"
#include "gw_broker.h"
#include "gw_hs.h"
#include "gw_hist.h"
#include "sl_list.h"

/* What the protocols (WebSocket, HTTP) need; the lws context's user
 * pointer. */
typedef struct gw_ws_env {
	gw_broker_t *broker;      /* borrowed */
	struct gw_prod *prod;     /* borrowed, for /metrics; NULL: none */
	struct gw_policy *policy; /* borrowed; NULL: everyone may connect */
	size_t max_frame;         /* bytes in one client message */
	size_t max_items;         /* items in one submit */
	size_t out_high;      /* queued bytes that pause the client's jobs */
	size_t out_low;       /* ... and that resume them */
	size_t max_out_bytes; /* queued bytes before a client is cut off */
	int64_t stall_us;     /* queued output without progress: cut off */
	uint64_t next_conn;   /* connection ids for logs */
	sl_list_t conns;      /* gw_ws_pss_t, open connections */
	size_t n_conns;
	size_t max_conns;          /* open connections; more get HTTP 503 */
	uint64_t refused_conns;    /* upgrades refused: over max_conns */
	gw_addr_t *addrs;          /* open connections per address; owned
	                            * (freed by gw_ws_env_fini); NULL: no
	                            * per-address limit */
	size_t max_conns_per_addr; /* more from one address get HTTP 429 */
	uint64_t refused_addr;     /* upgrades refused: over that */
	uint64_t conns_total;      /* connections ever established */
	uint64_t slow_closed;      /* closed with 1008: over the byte cap */
	uint64_t stall_closed;     /* closed with 1008: no reading progress */
	size_t buffered;         /* receive buffers + out queues, all conns */
	size_t max_buffered;     /* over it, the biggest holders are closed */
	uint64_t bufcap_closed;  /* closed for that (1009 or 1008) */
	gw_hs_stats_t hs;        /* RFC 6455 refusals (gw_hs) */
	gw_hist_t forward_delay; /* result at the gateway -> written */
	int64_t last_tick_us;    /* the loop's timer last ran (healthz) */
	char *scratch;           /* serialising and batching frames; owned */
	size_t scratch_cap;
	msgpack_sbuffer sb; /* encoding msgpack frames; owned */
	/* The gw_out_t.serial whose encoding scratch (JSON) and sb
	 * (msgpack) hold now, to reuse it for the next watcher; 0: none. */
	uint64_t json_serial, mp_serial;
	size_t json_len;
} gw_ws_env_t;

/* The msgpack subprotocol's name, and the lws protocol ids (struct
 * lws_protocols.id) that tell the two apart. */
#define GW_WS_MSGPACK "sluice.msgpack.v1"
#define GW_WS_PROTO_JSON 0
#define GW_WS_PROTO_MSGPACK 1

/* Bytes queued to all connections, for /metrics. */
size_t gw_ws_queued_bytes(const gw_ws_env_t *env);

/* Prepare env's connection list (the rest the caller fills in); pair
 * with gw_ws_env_fini after the lws context is destroyed. */
void gw_ws_env_init(gw_ws_env_t *env);
void gw_ws_env_fini(gw_ws_env_t *env);

/* Timers: cut off connections that made no reading progress. */
void gw_ws_tick(gw_ws_env_t *env, int64_t now_us);

/* Close every connection with status and reason once its queued frames
 * are written (hard deadline: 3 s). For shutdown. */
void gw_ws_close_all(gw_ws_env_t *env, uint16_t status, const char *reason);

/* The protocol callback for both subprotocols, in the vhost's protocol
 * table: "sluice" with id GW_WS_PROTO_JSON at index 0 (so that clients
 * asking for no subprotocol land there), GW_WS_MSGPACK with id
 * GW_WS_PROTO_MSGPACK. */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

/* Per-connection state size, for the protocol table. */
size_t gw_ws_pss_size(void);

/* gw_broker_ops_t.client_send: queue frame for the connection user. */
int gw_ws_client_send(void *ctx, void *user, const gw_out_t *frame);

#endif
