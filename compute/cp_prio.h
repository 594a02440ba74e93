/*
 * cp_prio: the CPU priority compute threads run at.
 *
 * Tasks burn CPU; the worker's I/O thread, libzmq's and the gateway (often
 * on the same cores) must still be scheduled within a millisecond or pings
 * and results wait behind a 20 ms item. So each pool thread lowers its own
 * priority when it starts (Linux: a thread's scheduling policy and nice
 * value are its own, set through its tid). Lowering needs no privilege,
 * but a container's seccomp profile may refuse it: then the thread runs at
 * normal priority and the caller warns. No state; any thread (each call
 * acts on the calling thread).
 */
#ifndef CP_PRIO_H
#define CP_PRIO_H

#include <sys/types.h>

/* In the order of the --pool-priority choices. */
typedef enum {
	CP_PRIO_NORMAL, /* as the process: SCHED_OTHER, its nice */
	CP_PRIO_BATCH,  /* SCHED_BATCH and nice +CP_PRIO_NICE: a CPU hog that
	                   yields to interactive threads */
	CP_PRIO_IDLE,   /* SCHED_IDLE: runs only on otherwise idle CPU */
} cp_prio_t;

#define CP_PRIO_CHOICES "normal,batch,idle"
/* How much nicer than the process a batch thread is: weight 110 against
 * 1024, so an event loop gets ~90 % of a contended core when it wants it. */
#define CP_PRIO_NICE 10

/* Its name, as the option spells it. */
const char *cp_prio_name(cp_prio_t p);

/*
 * Give the calling thread priority p. 0, or -errno of the first call that
 * failed (the thread then keeps what it could set). CP_PRIO_NORMAL
 * changes nothing.
 */
int cp_prio_apply(cp_prio_t p);

/* The calling thread's kernel id, for tools and tests that look at its
 * policy (sched_getscheduler, getpriority take it). */
pid_t cp_prio_tid(void);

#endif
