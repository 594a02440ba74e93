/*
 * cp_io: the worker's I/O thread: the one owner of its ZeroMQ sockets.
 *
 * A DEALER connects to the gateway and announces READY (capacity = compute
 * threads, the task names); JOB frames are decoded and queued to the pool;
 * RESULT frames from the pool (PULL, inproc) are forwarded to the gateway
 * unchanged, the moment each arrives. Because this thread never computes,
 * it keeps heartbeating (PING/PONG) while every compute thread is busy.
 * A gateway silent for hb_liveness intervals is presumed gone: the socket
 * is reopened after a capped exponential backoff with jitter, running
 * jobs are cancelled (the gateway has requeued them) and READY is sent
 * again. On stop it says DRAIN, finishes what runs, then BYE, so the
 * gateway requeues whatever this worker still held.
 *
 * Runs on the thread that calls cp_io_run (main).
 */
#ifndef CP_IO_H
#define CP_IO_H

#include <signal.h>
#include <stdint.h>

#include "sl_curve.h"

typedef struct cp_io_cfg {
	const char *gateway; /* ZeroMQ endpoint to connect to */
	const char *id;      /* routing id; NULL: w-<host>-<pid>-<random> */
	unsigned threads;    /* compute threads = capacity */
	const struct cp_tasks *tasks; /* what this worker runs; borrowed */
	int64_t hb_ivl_us;            /* PING the gateway this often */
	unsigned hb_liveness;    /* silent intervals before reconnecting */
	int64_t drain_us;        /* on stop, time to finish running jobs */
	int64_t backoff_max_us;  /* reconnect delay cap */
	const char *health_file; /* state file rewritten each heartbeat, or
	                            NULL; see cp_io_check_health() */
	const char *curve_server_key;    /* the gateway's Z85 public key, or
	                                    NULL: no CURVE */
	const sl_curve_keypair_t *curve; /* ours, with curve_server_key */
} cp_io_cfg_t;

/*
 * For container health checks: 0 if the health file says the gateway is
 * answering and was written within stale_us, else SL_EINVAL with the
 * reason in why.
 */
int cp_io_check_health(
    const char *health_file, int64_t stale_us, char *why, size_t whylen);

/*
 * The reconnect delay rule (zguide ppworker, plus jitter so a fleet of
 * workers does not reconnect in lockstep): the first delay is 250 ms, each
 * next one twice the last, capped; the wait is that delay +- 20 %, the
 * point picked by rnd % 41 (0: -20 %, 40: +20 %).
 */
int64_t cp_io_backoff_jitter(int64_t backoff_us, unsigned rnd);
int64_t cp_io_backoff_next(int64_t backoff_us, int64_t max_us);

/*
 * Serve jobs until stopped: *stop == 1 drains (DRAIN: no new jobs; finish
 * the running ones for up to drain_us; BYE), *stop >= 2 stops at once.
 * A signal handler sets it; the signal also interrupts the poll. Returns 0
 * after a clean stop, or an SL_E* code after logging why it could not
 * start.
 */
int cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop);

#endif
