/*
 * gw_workers_int: what the two halves of the workers endpoint share, and
 * nothing else includes: gw_workers.c (the registry: who is registered,
 * which jobs each holds, credit, heartbeats, what we send) and gw_wframe.c
 * (the wire in: frames from workers, batches unwrapped, checked and
 * dispatched to the registry). lws service thread only.
 */
#ifndef GW_WORKERS_INT_H
#define GW_WORKERS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "gw_peer.h"
#include "gw_workers.h"
#include "gw_zmq.h"
#include "sl_batch.h"
#include "sl_list.h"
#include "sl_proto.h"

typedef struct gw_worker {
	gw_peer_t peer;    /* routing id, bound key, label; link in workers */
	uint32_t capacity; /* jobs it may hold */
	uint32_t window;   /* of which it offers now (CREDIT, RETURN) */
	bool draining;     /* said DRAIN: no more jobs for it */
	int64_t expiry_us; /* dead if silent until then (monotonic) */
	sl_list_t jobs;    /* gw_workers_job_t it holds, in the order sent */
	size_t n_jobs;
	bool batch;     /* it takes BATCH (it sent one) */
	sl_batch_t out; /* JOBs held back for one BATCH (gw_workers_changed) */
	size_t out_other; /* ... of its entries, CANCELs (not JOBs) */
	size_t n_tasks;
	char tasks[SL_PROTO_MAX_TASKS][SL_PROTO_MAX_NAME + 1];
} gw_worker_t;

struct gw_workers {
	gw_zmq_t *zsock;         /* the workers ROUTER */
	gw_workers_events_t ev;  /* copied */
	gw_workers_limits_t lim; /* copied */
	sl_list_t workers;       /* gw_worker_t, in registration order */
	int64_t next_ping_us;    /* when workers get their next PING */
	uint64_t next_job;       /* id of the next job sent */
	uint64_t next_label;     /* of the next worker to register: w1... */
	msgpack_sbuffer sb;      /* scratch for encoding, reused */
	bool hold;               /* JOBs to batching workers wait in their
	                            out until gw_workers_changed flushes */
	bool hold_turn;          /* ... until gw_workers_settle (the owner
	                            settles after every loop turn) */
	gw_workers_stats_t st;
};

/* Send self->sb to rid: 0 or gw_zmq_send's code. */
int gw_workers_send_sb(gw_workers_t *self, const uint8_t *rid, size_t rid_len);

/* Encode a field-less message (PING, PONG) or CANCEL (job) and send it. */
int gw_workers_send_msg(
    gw_workers_t *self, gw_worker_t *w, sl_msg_type_t type, uint64_t job);

/* The registered worker with this routing id, or NULL. */
gw_worker_t *gw_workers_find(
    gw_workers_t *self, const uint8_t *rid, size_t rid_len);

/* Unlink a held job and hand it back to its owner (events.lost). */
void gw_workers_lose(
    gw_workers_t *self, gw_workers_job_t *job, gw_workers_loss_t how);

/* Forget a worker (frees it); every job it held goes back to its owner. */
void gw_workers_remove(
    gw_workers_t *self, gw_worker_t *w, const char *why, bool crashed);

/* READY from rid: register it afresh (a known one restarted) and answer
 * REGISTERED, then the BATCH announcement. */
void gw_workers_register(gw_workers_t *self, const uint8_t *rid,
    size_t rid_len, const char *key, const sl_msg_ready_t *m);

/* events.changed, with every JOB it sends to a worker that takes BATCH
 * held back and then sent in one BATCH per worker (or alone, if one):
 * the credit a BATCH of results gave back costs one frame, not a JOB
 * each. */
void gw_workers_changed(gw_workers_t *self);

#endif
