/*
 * cp_prio: compute thread priority (see cp_prio.h). No state; any thread.
 */
#define _GNU_SOURCE /* SCHED_BATCH, SCHED_IDLE, SYS_gettid */
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cp_prio.h"

const char *
cp_prio_name(cp_prio_t p)
{
	switch (p) {
	case CP_PRIO_BATCH:
		return "batch";
	case CP_PRIO_IDLE:
		return "idle";
	default:
		return "normal";
	}
}

pid_t
cp_prio_tid(void)
{
	return (pid_t) syscall(SYS_gettid);
}

int
cp_prio_apply(cp_prio_t p)
{
	struct sched_param sp = { .sched_priority = 0 };
	pid_t tid = cp_prio_tid();
	int nice;

	if (p == CP_PRIO_NORMAL)
		return 0;
	/* sched_setscheduler and setpriority with a tid act on that thread
	 * alone on Linux (not the process, despite POSIX's names). */
	if (sched_setscheduler(
	        tid, p == CP_PRIO_IDLE ? SCHED_IDLE : SCHED_BATCH, &sp))
		return -errno;
	if (p == CP_PRIO_IDLE) /* nice has no meaning under SCHED_IDLE */
		return 0;
	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t) tid);
	if (errno)
		return -errno;
	if (nice < 19
	    && setpriority(PRIO_PROCESS, (id_t) tid,
	        nice + CP_PRIO_NICE > 19 ? 19 : nice + CP_PRIO_NICE))
		return -errno;
	return 0;
}
