/*
 * bn_proc: what sluice-bench reads about processes: another process's
 * resident memory and CPU time from /proc, its own CPU time, and its file
 * descriptor limit. No state; the bench's single thread.
 */
#ifndef BN_PROC_H
#define BN_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* VmRSS of pid in KiB into *kib. 0, or SL_ESYS (no such process...). */
int bn_proc_rss_kib(pid_t pid, int64_t *kib);

/* utime + stime of pid (all its threads) in µs. 0 or SL_ESYS. */
int bn_proc_cpu_us(pid_t pid, int64_t *cpu_us);

/* CPU time every CPU of the machine spent busy (not idle or iowait), in
 * µs, from /proc/stat. 0 or SL_ESYS. */
int bn_proc_machine_busy_us(int64_t *busy_us);

/* This process's user + system CPU time in µs (getrusage). */
int64_t bn_proc_self_cpu_us(void);

/*
 * Raise RLIMIT_NOFILE's soft limit to want (at most the hard limit).
 * *got is the soft limit afterwards. 0, or SL_ESYS.
 */
int bn_proc_raise_nofile(uint64_t want, uint64_t *got);

/* Parse "1,2,3" into at most max pids; the count, or SL_EINVAL. */
int bn_proc_parse_pids(const char *text, pid_t *pids, int max);

#endif
