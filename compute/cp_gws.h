/*
 * cp_gws: the set of gateways a worker serves, one cp_link each.
 *
 * The operator's specs (each maybe a comma separated list) are resolved
 * (cp_resolve) into endpoints; cp_gws_resolve, called at start and then
 * every --resolve-ms, makes a link for each new endpoint (closed, due to
 * open at once: GW-ADD) and hands each link whose endpoint is no longer
 * listed to the caller's drop function before it forgets it (GW-DROP is
 * the caller's). A name that does not resolve this time (GW-RESOLVE,
 * warn) drops nothing that round: a DNS hiccup is no reason to leave
 * live gateways. At most CP_GWS_MAX gateways: more are left out, logged
 * (a hostile or mistaken DNS answer must not open thousands of sockets).
 *
 * The worker's I/O thread (cp_io) only; the struct is cp_io's member.
 */
#ifndef CP_GWS_H
#define CP_GWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_link.h"

#define CP_GWS_MAX 64

typedef struct cp_gws {
	const char *const *specs; /* borrowed: the --gateway values */
	size_t n_specs;
	int64_t retry_us;             /* for the GW-RESOLVE message only */
	cp_link_t *links[CP_GWS_MAX]; /* owned; in no particular order */
	size_t n;
	bool failed; /* a name did not resolve this round */
} cp_gws_t;

/* Called for a link about to be forgotten (its endpoint is gone); the
 * link is destroyed right after. */
typedef void (*cp_gws_drop_fn)(void *arg, cp_link_t *link);

/*
 * Resolve every spec again and update the links. Returns 0, or with err
 * set: SL_EINVAL (a malformed spec; it never will work) or SL_ENOMEM.
 */
int cp_gws_resolve(
    cp_gws_t *self, cp_gws_drop_fn drop, void *arg, char *err, size_t errlen);

/* The open link whose current connection is gen, or NULL. */
cp_link_t *cp_gws_of_gen(cp_gws_t *self, uint64_t gen);

/* Destroy every link (their sockets linger to deliver a last BYE). */
void cp_gws_clear(cp_gws_t *self);

#endif
