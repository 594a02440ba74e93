/*
 * gw_prod: the producers endpoint, the open queue's front door.
 *
 * A second ZeroMQ ROUTER (gw_zmq) in the lws loop where any DEALER can
 * submit work with the client protocol's semantics, in msgpack
 * (gw_pproto). Each routing id is one broker client with this module as
 * its transport, so producers and WebSocket clients share the workers
 * round-robin between requests.
 *
 * Liveness (docs/PROTOCOL.md §3): any frame from a producer counts as a
 * sign of life; a producer silent for timeout is forgotten and its
 * unfinished requests are cancelled, so one that waits for long requests
 * pings. A send that finds the peer gone also forgets it, on the next
 * tick: never from inside the broker's own call.
 *
 * Slow readers: ZeroMQ holds at most GW_PROD_SNDHWM frames for a producer;
 * what does not fit waits here, in a per-producer queue counted in bytes,
 * and is retried when the socket's fd wakes (a pipe got room) and on a
 * timer that backs off while nothing moves. Above half of max_out_bytes none
 * of the producer's jobs is dispatched (backpressure, as for WebSocket
 * clients), below a quarter they resume. Past max_out_bytes (a producer that
 * does not read but keeps asking, e.g. pings) it is cut: its queue is dropped,
 * its requests cancelled, PRD-SLOW logged. libzmq 4.3.4 cannot disconnect one
 * peer of a ROUTER, so "cut" means forgotten: what ZeroMQ already holds
 * for it (at most GW_PROD_SNDHWM frames) may still reach it, and a frame
 * it sends afterwards starts it afresh, with an empty queue.
 *
 * lws service thread only.
 */
#ifndef GW_PROD_H
#define GW_PROD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "gw_broker.h"
#include "gw_hist.h"

/* Frames ZeroMQ may hold for one producer, each way (ZMQ_SNDHWM,
 * ZMQ_RCVHWM): small, so that memory is counted in gw_prod's own queue
 * (bytes, capped) and not in libzmq's pipes (frames of up to max_frame
 * bytes each, uncapped in bytes). */
#define GW_PROD_SNDHWM 16
#define GW_PROD_RCVHWM 16

/* While a producer's queue is not empty, it is retried at once after a
 * retry that moved frames, else after 1 ms doubling up to 50 ms (the fd's
 * wake-up may have been consumed by a send). */
#define GW_PROD_RETRY_MIN_US 1000
#define GW_PROD_RETRY_MAX_US 50000

typedef struct gw_prod gw_prod_t;

typedef struct gw_prod_limits {
	int64_t max_frame;    /* bytes in one frame (ZMQ_MAXMSGSIZE) */
	size_t max_items;     /* items in one request */
	int64_t timeout_us;   /* forget a producer silent this long */
	size_t max_out_bytes; /* bytes queued to one producer: cut past it */
} gw_prod_limits_t;

typedef struct gw_prod_stats {
	size_t queued_bytes; /* waiting in producers' queues, all producers */
	uint64_t slow_cut;   /* producers cut: queue over max_out_bytes */
	uint64_t progress_dropped; /* progress frames skipped: queue not
	                              empty */
	uint64_t hijacks; /* frames under a routing id bound to another
	                     CURVE key (PRD-HIJACK) */
} gw_prod_stats_t;

/*
 * Bind a ROUTER on endpoint for broker's producers; setup (may be NULL)
 * runs on the socket before bind, as in gw_zmq_new_ex (CURVE). NULL with
 * err filled on failure. Caller owns the result; broker must outlive it.
 */
gw_prod_t *gw_prod_new(gw_broker_t *broker, void *zctx, const char *endpoint,
    const gw_prod_limits_t *limits,
    int (*setup)(void *sock, const void *setup_arg), const void *setup_arg,
    char *err, size_t errlen);

/* Time item frames (results, item errors) from the broker to ZeroMQ into
 * hist (sluice_forward_delay_seconds, shared with the WebSocket clients);
 * NULL: not timed. hist must outlive self. */
void gw_prod_set_forward_hist(gw_prod_t *self, gw_hist_t *hist);

/* Join the lws loop (protocol "zmq" must be in vh's table). */
int gw_prod_attach(
    gw_prod_t *self, struct lws_context *ctx, struct lws_vhost *vh);

/* The owner calls gw_prod_settle after every loop turn from now on;
 * gw_prod_settle drains the socket if it sent since (gw_zmq_settle, with
 * last as there): true if it did. */
void gw_prod_set_owner_settles(gw_prod_t *self);
bool gw_prod_settle(gw_prod_t *self, bool last);

/* Forget silent and failed producers, retry queued frames. Call every
 * 100 ms or so. */
void gw_prod_tick(gw_prod_t *self, int64_t now_us);

/* Producers currently known. */
size_t gw_prod_count(const gw_prod_t *self);

/* Counters for /metrics; self may be NULL (all zero). */
void gw_prod_stats(const gw_prod_t *self, gw_prod_stats_t *out);

/* Forget every producer (cancelling its requests), close the socket;
 * after lws_context_destroy(), before the broker goes. NULL-safe. */
void gw_prod_destroy(gw_prod_t **self_p);

#endif
