/*
 * cp_io: the worker's I/O thread: the one owner of its ZeroMQ sockets.
 *
 * A DEALER connects to the gateway and announces READY (capacity = compute
 * threads, the task names); JOB frames are decoded and queued to the pool;
 * RESULT frames from the pool (PULL, inproc) are forwarded to the gateway
 * unchanged, the moment each arrives. Because this thread never computes,
 * it stays responsive while every compute thread is busy. On stop it says
 * BYE, so the gateway requeues what this worker still held.
 *
 * Runs on the thread that calls cp_io_run (main).
 */
#ifndef CP_IO_H
#define CP_IO_H

#include <signal.h>

typedef struct cp_io_cfg {
	const char *gateway; /* ZeroMQ endpoint to connect to */
	const char *id;	     /* routing id; NULL: w-<host>-<pid> */
	unsigned threads;    /* compute threads = capacity */
} cp_io_cfg_t;

/*
 * Serve jobs until *stop becomes non-zero (a signal handler sets it; the
 * signal also interrupts the poll). Returns 0 after a clean stop, or an
 * SL_E* code after logging why it could not start.
 */
int cp_io_run(const cp_io_cfg_t *cfg, volatile sig_atomic_t *stop);

#endif
