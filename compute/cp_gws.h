/*
 * cp_gws: the set of gateways a worker serves, one cp_link each.
 *
 * The operator's specs (each maybe a comma separated list) are resolved
 * (cp_resolve) into endpoints. The first resolution runs at start, on
 * the caller's thread (a malformed spec stops the worker there); then a
 * resolver thread of this module resolves them again every every_us, so
 * that a slow or dead DNS server never holds up the I/O thread's
 * heartbeats and results, and hands each fresh list over under a mutex.
 * cp_gws_poll (the I/O thread) applies it: a link for each new endpoint
 * (closed, due to open at once: GW-ADD), and each link whose endpoint is
 * no longer listed goes to the caller's drop function before it is
 * forgotten (GW-DROP is the caller's). A name that does not resolve
 * (GW-RESOLVE, warn) drops nothing that round: a DNS hiccup is no reason
 * to leave live gateways. At most CP_GWS_MAX gateways: more are left out,
 * logged (a hostile or mistaken DNS answer must not open thousands of
 * sockets).
 *
 * Links: the I/O thread (cp_io) only. The struct is cp_io's member; its
 * {lock} fields are shared with the resolver thread.
 */
#ifndef CP_GWS_H
#define CP_GWS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_link.h"

#define CP_GWS_MAX 64

/* One resolution's outcome. */
typedef struct cp_gws_list {
	char ep[CP_GWS_MAX][CP_RESOLVE_EP_MAX];
	size_t n;
	bool failed; /* a name did not resolve: drop nothing */
} cp_gws_list_t;

typedef struct cp_gws {
	const char *const *specs;     /* {lock} borrowed: the --gateway values;
	                                 the array is never changed, only (in
	                                 tests) replaced by another */
	size_t n_specs;               /* {lock} */
	int64_t every_us;             /* resolve again this often */
	cp_link_t *links[CP_GWS_MAX]; /* owned; in no particular order */
	size_t n;
	bool failed; /* the last list applied had a name fail */
	bool ready;  /* cp_gws_init ran (a zeroed struct may be destroyed) */
	/* the resolver thread */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* {lock} stop was set */
	bool stop;             /* {lock} the thread ends */
	bool fresh;            /* {lock} next holds a list not applied */
	cp_gws_list_t next;    /* {lock} the thread's latest list */
	cp_gws_list_t scratch; /* the thread's own, while it resolves */
} cp_gws_t;

/* Called for a link about to be forgotten (its endpoint is gone); the
 * link is destroyed right after. */
typedef void (*cp_gws_drop_fn)(void *arg, cp_link_t *link);

/*
 * Set up self (specs borrowed) and resolve once, now, on this thread.
 * Returns 0, or with err set: SL_EINVAL (a malformed spec; it never will
 * work) or SL_ENOMEM. Then cp_gws_start, or just cp_gws_destroy.
 */
int cp_gws_init(cp_gws_t *self, const char *const *specs, size_t n_specs,
    int64_t every_us, char *err, size_t errlen);

/* Start the resolver thread: 0, or SL_ESYS. */
int cp_gws_start(cp_gws_t *self);

/* Apply the resolver thread's latest list, if one came since the last
 * call (cheap otherwise). */
void cp_gws_poll(cp_gws_t *self, cp_gws_drop_fn drop, void *arg);

/* The open link whose current connection is gen, or NULL. */
cp_link_t *cp_gws_of_gen(cp_gws_t *self, uint64_t gen);

/* Stop the thread, destroy every link (their sockets linger to deliver a
 * last BYE). Safe after a failed init, and on a zeroed struct. */
void cp_gws_destroy(cp_gws_t *self);

#endif
