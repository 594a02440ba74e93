/*
 * cp_link: a worker's connection to one gateway.
 *
 * One DEALER per gateway, never one DEALER connected to several: a DEALER
 * round-robins its sends across its connections, and each gateway must
 * get its own READY, heartbeats and results. A link owns its socket and
 * the timers of that one gateway: when to PING, when the gateway counts
 * as gone (silent for hb_liveness intervals), and, once it is closed,
 * when to reopen (a backoff from 250 ms doubling up to backoff_max_us,
 * +-20 % jitter, so a fleet of workers does not reconnect in lockstep).
 * What is said on it (READY, jobs, credit) is cp_io's business; the
 * fields below that cp_io keeps per gateway live here too.
 *
 * Results leave in batches (revision 7): a gateway that takes BATCH
 * (it sent one on this connection) gets the frames queued with
 * cp_link_queue in one BATCH per cp_link_flush, which the I/O thread
 * calls once it has taken every result waiting; a lone frame leaves as
 * itself, and a gateway that never said BATCH gets each frame at once.
 *
 * Each connection of a link has a generation (gen), unique among all of
 * the worker's links and connections: a job carries the gen it came on,
 * so its result goes back on that connection or, if that one is gone,
 * nowhere (PROTOCOL.md §2, "Results belong to their connection").
 *
 * The thread that runs cp_io (the worker's I/O thread) only.
 */
#ifndef CP_LINK_H
#define CP_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_resolve.h"
#include "sl_batch.h"
#include "sl_curve.h"

/* What every link of a worker shares: borrowed, outlives the links. */
typedef struct cp_link_opts {
	const char *id;                  /* our routing id */
	int64_t hb_ivl_us;               /* PING this often */
	unsigned hb_liveness;            /* silent intervals: gone */
	int64_t backoff_max_us;          /* reconnect delay cap */
	const char *curve_server_key;    /* Z85, or NULL: no CURVE */
	const sl_curve_keypair_t *curve; /* ours, with curve_server_key */
} cp_link_opts_t;

typedef struct cp_link {
	char endpoint[CP_RESOLVE_EP_MAX]; /* tcp://ADDR:PORT, resolved */
	void *dealer;       /* NULL while closed (waiting to reopen) */
	uint64_t gen;       /* this connection's generation; 0 while closed */
	int64_t expiry;     /* gone if silent until then */
	int64_t next_ping;  /* when it gets our next PING */
	int64_t reopen_at;  /* while closed: when to connect again */
	int64_t backoff_us; /* next reconnect delay */
	bool seen;          /* it spoke on this connection */
	bool ever;          /* ... or on any, since the link was made */
	bool registered;    /* it answered READY with REGISTERED */
	bool credit;        /* it takes CREDIT and RETURN (REGISTERED said) */
	bool progress;      /* it takes PROGRESS and PARTIAL (REGISTERED) */
	bool batch;      /* it takes BATCH (it sent one on this connection) */
	bool listed;     /* still among the resolved endpoints (cp_io) */
	unsigned held;   /* jobs of this connection queued or running */
	unsigned window; /* the window it last heard from us (CREDIT) */
	uint64_t reconnects;
	sl_batch_t out; /* frames queued for one BATCH (cp_link_queue) */
} cp_link_t;

/* A closed link to endpoint (at most CP_RESOLVE_EP_MAX - 1 bytes), due
 * to open at once; NULL on ENOMEM. */
cp_link_t *cp_link_new(const char *endpoint);
/* Close (what was sent, such as a last BYE, has a second to leave) and
 * free; NULL-safe. */
void cp_link_destroy(cp_link_t **self_p);

/* Open the DEALER and connect (messages queue until connected) as
 * connection gen: 0, or SL_ESYS with errno set. */
int cp_link_open(cp_link_t *self, void *zctx, const cp_link_opts_t *o,
    uint64_t gen, int64_t now);

/* Close at once (unsent messages are dropped) and set the time to reopen
 * from the backoff; rnd picks the jitter. */
void cp_link_close(
    cp_link_t *self, const cp_link_opts_t *o, unsigned rnd, int64_t now);

/* Send one frame without blocking: 0, or SL_ESYS (closed, or ZeroMQ
 * would block; errno says which). */
int cp_link_send(cp_link_t *self, const void *data, size_t len);

/* Send a frame, or queue it for the next cp_link_flush if the gateway
 * takes BATCH (what is queued leaves first if this one does not fit):
 * 0, or SL_ESYS as cp_link_send. */
int cp_link_queue(cp_link_t *self, const void *data, size_t len);

/* The gateway said it takes BATCH: queue from now on, and answer with an
 * empty BATCH (once per connection): 0, or SL_ENOMEM / SL_ESYS. */
int cp_link_batching(cp_link_t *self);

/* Send what is queued, as one frame: 0 (also when nothing was queued),
 * or SL_ESYS as cp_link_send; the queue is empty after it either way. */
int cp_link_flush(cp_link_t *self);

/* The gateway spoke: it is alive, and the backoff starts over. */
void cp_link_heard(cp_link_t *self, const cp_link_opts_t *o, int64_t now);

/* Open and silent past its expiry. */
bool cp_link_silent(const cp_link_t *self, int64_t now);

/* Closed and its reconnect delay is over. */
bool cp_link_due(const cp_link_t *self, int64_t now);

/* The earliest of this link's timers (PING, expiry or reopen). */
int64_t cp_link_next_event(const cp_link_t *self);

/*
 * The reconnect delay rule (zguide ppworker, plus jitter): the first
 * delay is 250 ms, each next one twice the last, capped; the wait is that
 * delay +- 20 %, the point picked by rnd % 41 (0: -20 %, 40: +20 %).
 */
#define CP_LINK_BACKOFF_MIN_US 250000
int64_t cp_link_backoff_jitter(int64_t backoff_us, unsigned rnd);
int64_t cp_link_backoff_next(int64_t backoff_us, int64_t max_us);

#endif
