/*
 * gw_ws_int.h: what gw_ws.c (connections: receiving, limits, lws
 * callbacks) and gw_ws_send.c (queueing and writing frames) share. Not
 * for other modules: they use gw_ws.h. lws service thread only.
 */
#ifndef GW_WS_INT_H
#define GW_WS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <msgpack.h>

#include "gw_addr.h"
#include "gw_broker.h"
#include "gw_policy.h"
#include "gw_ws.h"
#include "gw_wsping.h"
#include "gw_wsq.h"
#include "sl_list.h"

/* Frames coalesced into one send() per WRITEABLE: several results for one
 * client leave in one system call instead of one each. */
#define GW_WS_WRITE_BATCH 64
#define GW_WS_WRITE_BYTES 65536 /* ... up to this many bytes */
/* Batches gw_ws_flush writes to one connection before it leaves the rest
 * to WRITEABLE (the others' turn comes first). */
#define GW_WS_FLUSH_BATCHES 4
/* Pings gw_ws_tick sends at most (every 100 ms): a burst of clients
 * that went silent together is spread over the ticks that follow. */
#define GW_WS_PINGS_PER_TICK 2000
/* An idle connection keeps at most this much receive buffer. */
#define GW_WS_RX_KEEP 16384
/* A client with more than this queued gets no progress frames (one
 * write's worth: a reader that keeps up never has more). */
#define GW_WS_PROGRESS_BACKLOG 65536

struct gw_ws {
	gw_broker_t *broker;       /* borrowed */
	const gw_policy_t *policy; /* borrowed; NULL: everyone may connect */
	gw_ws_limits_t lim;
	gw_hist_t *forward; /* borrowed: item frame queued -> written */
	gw_ws_stats_t st;   /* counters; queued_bytes summed when asked */
	uint64_t next_conn; /* connection ids for logs */
	sl_list_t conns;    /* gw_ws_pss_t, open connections */
	sl_list_t queued; /* gw_ws_pss_t with output queued: never the idle */
	sl_list_t dirty;  /* gw_ws_pss_t given a frame since gw_ws_flush */
	gw_wsping_t ping; /* when clients are pinged (lim.ping_us > 0) */
	bool direct;      /* gw_ws_set_direct: the owner calls gw_ws_flush */
	gw_addr_t *addrs; /* open connections per address; owned */
	char *scratch;    /* serialising and batching frames; owned */
	size_t scratch_cap;
	msgpack_sbuffer sb; /* encoding msgpack frames; owned */
	/* The gw_out_t.serial whose encoding scratch (JSON) and sb
	 * (msgpack) hold now, to reuse it for the next watcher; 0: none. */
	uint64_t json_serial, mp_serial;
	size_t json_len;
};

typedef struct gw_ws_pss {
	sl_list_t link;        /* in ws->conns */
	sl_list_t qlink;       /* in ws->queued, or not linked */
	sl_list_t flink;       /* in ws->dirty, or not linked */
	gw_wsping_node_t ping; /* in ws->ping */
	bool ping_pending;     /* a PING to write before the next frames */
	struct lws *wsi;
	gw_ws_t *ws;         /* borrowed from the protocol */
	gw_client_t *client; /* owned by the broker, released in CLOSED */
	uint64_t conn;       /* id for logs */
	bool mp;             /* sluice.msgpack.v1: binary msgpack frames */
	gw_addr_key_t addr;  /* the peer's address, as counted */
	bool addr_counted;   /* ... in ws->addrs */
	char *rx;            /* the message being reassembled */
	size_t rx_len, rx_cap;
	bool rx_in_msg;  /* a message has started and not ended */
	bool rx_binary;  /* ... and it is binary */
	bool rx_drop;    /* ... and it is over max_frame: discarding */
	bool in_message; /* s_message runs on rx: keep it until it returns */
	gw_wsq_t out;    /* frames waiting for WRITEABLE */
	int64_t progress_us; /* last write, or when the queue last filled */
	bool paused;         /* over out_high: the broker holds its jobs */
	bool writable_asked; /* a WRITEABLE is coming (gw_ws_want_writable) */
	bool closing;        /* close sent for; drop further frames */
	bool peer_closed;    /* the client sent a close frame: it left on
	                      * purpose, its requests end (no resume) */
	bool flush_first;    /* ... but write what is queued before closing */
	uint16_t close_status;
	char close_reason[96];
} gw_ws_pss_t;

/* Ask lws for a WRITEABLE callback unless one is coming: every
 * lws_callback_on_writable re-arms the descriptor in the event library,
 * asked before or not (on libuv two epoll_ctl calls each). */
void gw_ws_want_writable(gw_ws_pss_t *pss);

/* gw_wsping_ops_t.ping: write a PING with the next frames (gw_ws_send). */
void gw_ws_ping(void *ctx, gw_wsping_node_t *n);

/* Close pss with status and reason at its next WRITEABLE, after its
 * queued frames if flush (gw_ws.c). */
void gw_ws_close_conn(
    gw_ws_pss_t *pss, uint16_t status, const char *reason, bool flush);

/* Over --max-buffered-bytes: close the connections holding the most until
 * the total fits (gw_ws.c). Walks nothing while under the cap. */
void gw_ws_buffer_cap(gw_ws_t *ws);

/* LWS_CALLBACK_SERVER_WRITEABLE: the close frame, or the next batch of
 * queued frames; -1: lws hangs up (gw_ws_send.c). */
int gw_ws_writeable(gw_ws_pss_t *pss);

#endif
