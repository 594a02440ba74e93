/*
 * cp_io: the worker's I/O thread: the one owner of its ZeroMQ sockets.
 *
 * It serves every gateway the options name: each spec is resolved
 * (cp_gws, cp_resolve: a name with several addresses gives one gateway
 * per address) and resolved again every resolve_us on cp_gws's own
 * thread, so the worker follows the gateways as they scale; each gateway
 * gets its own link (cp_link: one DEALER, heartbeats, reconnects). The
 * threads are shared by one rule (PROTOCOL.md §2, "Several gateways"):
 * each gateway that takes credit is offered its own jobs plus the free
 * threads (CREDIT), and a job that finds every thread taken goes back
 * unstarted (RETURN). On each link it announces READY
 * (capacity = compute threads, the task names); JOB frames are decoded
 * and queued to the pool, the JOBs of one BATCH together (one lock hold,
 * cp_pool_push_list); RESULT frames from the pool (its results list,
 * whose eventfd this thread polls: cp_results) are taken all at once and
 * forwarded unchanged on the link each job came on, one BATCH per link
 * (cp_fwd), a lone one at once. Because this thread never computes, it keeps
 * heartbeating (PING/PONG) while every compute thread is busy. A gateway
 * silent for hb_liveness intervals is presumed gone: that link's jobs are
 * cancelled (the gateway has requeued them), its socket is reopened after a
 * capped exponential backoff with jitter and READY is sent again; the other
 * links carry on. A gateway whose address no longer resolves is left
 * (BYE) and its jobs cancelled. On stop it says DRAIN on every link,
 * finishes what runs, then BYE, so each gateway requeues whatever this
 * worker still held.
 *
 * Runs on the thread that calls cp_io_run (main); cp_gws adds one
 * resolver thread.
 */
#ifndef CP_IO_H
#define CP_IO_H

#include <signal.h>
#include <stdint.h>

#include "cp_prio.h"
#include "sl_curve.h"

typedef struct cp_io_cfg {
	const char *const *gateways; /* gateway specs (cp_resolve), each
	                                maybe a comma separated list */
	size_t n_gateways;
	int64_t resolve_us; /* resolve the specs again this often */
	const char *id;     /* routing id; NULL: w-<host>-<pid>-<random> */
	unsigned threads;   /* compute threads = capacity */
	cp_prio_t pool_priority;      /* theirs (cp_prio.h) */
	const struct cp_tasks *tasks; /* what this worker runs; borrowed */
	int64_t hb_ivl_us;            /* PING the gateway this often */
	unsigned hb_liveness;    /* silent intervals before reconnecting */
	int64_t drain_us;        /* on stop, time to finish running jobs */
	int64_t backoff_max_us;  /* reconnect delay cap */
	const char *health_file; /* state file rewritten each heartbeat, or
	                            NULL; see cp_health.h */
	const char *curve_server_key;    /* the gateway's Z85 public key, or
	                                    NULL: no CURVE */
	const sl_curve_keypair_t *curve; /* ours, with curve_server_key */
} cp_io_cfg_t;

/*
 * Serve jobs until stopped: *stop == 1 drains (DRAIN: no new jobs; finish
 * the running ones for up to drain_us; BYE), *stop >= 2 stops at once.
 * A signal handler sets it; the signal also interrupts the poll. Returns 0
 * after a clean stop, or an SL_E* code after logging why it could not
 * start.
 */
int cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop);

#endif
