/*
 * gw_wsping: when each WebSocket client is pinged, and when a silent one
 * is given up, in O(1) per event however many are open.
 *
 * lws 4.1.6 keeps its per-connection validity timers (ping, hangup) in
 * one sorted list and re-inserts a connection's timer by walking that
 * list: with 10,000 idle clients connected together, every ping round
 * re-inserted 10,000 timers at the list's end, and the gateway spent
 * 84 % of its time in lws_dll2_add_sorted, stalling every client for up
 * to 3 s every --ws-ping-secs (docs/BENCHMARKS.md). Every connection
 * here waits the same interval, so a plain FIFO stays sorted: a client
 * heard from goes to the tail of `idle` (due = now + ping); a pinged one
 * to the tail of `pinged` (due = now + hangup - ping). The tick looks at
 * the heads only.
 *
 * Plain data embedded in its owner (gw_ws); nodes are embedded in each
 * connection. lws service thread only.
 */
#ifndef GW_WSPING_H
#define GW_WSPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_list.h"

typedef struct gw_wsping {
	sl_list_t idle;     /* gw_wsping_node_t by due: ping when due */
	sl_list_t pinged;   /* ... pinged, unanswered: hang up when due */
	int64_t ping_us;    /* silence before a ping */
	int64_t answer_us;  /* after the ping, silence before hanging up */
	size_t max_per_run; /* pings per gw_wsping_run, the rest next run */
} gw_wsping_t;

typedef struct gw_wsping_node {
	sl_list_t link; /* in idle or pinged, or not linked */
	int64_t due;    /* monotonic us */
} gw_wsping_node_t;

/* hangup_us > ping_us > 0 (gw_opts checks that). */
void gw_wsping_init(
    gw_wsping_t *k, int64_t ping_us, int64_t hangup_us, size_t max_per_run);

void gw_wsping_node_init(gw_wsping_node_t *n);

/* The client was heard from (any frame, a pong): ping it after ping_us
 * more of silence. O(1). */
void gw_wsping_heard(gw_wsping_t *k, gw_wsping_node_t *n, int64_t now_us);

/* The connection is gone (NULL-safe for a node never linked). */
void gw_wsping_remove(gw_wsping_node_t *n);

typedef struct gw_wsping_ops {
	void (*ping)(void *ctx, gw_wsping_node_t *n);   /* send a PING */
	void (*hangup)(void *ctx, gw_wsping_node_t *n); /* close it; the
	                                      node is already unlinked */
} gw_wsping_ops_t;

/* What is due at now_us: hang up the clients that did not answer, ping
 * up to max_per_run of the silent ones (the rest stay due: a burst is
 * spread over the runs that follow). Returns the pings sent. */
size_t gw_wsping_run(
    gw_wsping_t *k, int64_t now_us, const gw_wsping_ops_t *ops, void *ctx);

#endif
