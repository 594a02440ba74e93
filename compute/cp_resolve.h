/*
 * cp_resolve: the gateway endpoints a worker connects to, from what the
 * operator wrote.
 *
 * A spec "tcp://NAME:PORT" stands for every address NAME resolves to
 * (Docker Swarm's tasks.<service>, a Kubernetes headless Service: one
 * address per gateway), so the worker can keep one connection per
 * gateway; it expands to one "tcp://ADDR:PORT" per distinct address (IPv6
 * in brackets), in the resolver's order. Any other spec (ipc://,
 * inproc://, a tcp spec with a source address "SRC;HOST:PORT") is one
 * endpoint as it stands. No state; the calling thread (cp_io's), which
 * blocks for as long as the system resolver takes.
 */
#ifndef CP_RESOLVE_H
#define CP_RESOLVE_H

#include <stddef.h>

/* Longest endpoint handed out, with its NUL. */
#define CP_RESOLVE_EP_MAX 300

/* Called once per endpoint; a non-zero return stops the expansion and is
 * returned. */
typedef int (*cp_resolve_fn)(void *arg, const char *endpoint);

/*
 * Expand spec, calling fn for each endpoint. Returns 0, fn's code, or
 * with the reason in err: SL_EINVAL (a malformed spec: it never will
 * work) or SL_ESYS (the name does not resolve now: the caller keeps what
 * it had, since a DNS hiccup is no reason to drop live gateways, and a
 * gateway may not be in DNS yet).
 */
int cp_resolve_spec(
    const char *spec, cp_resolve_fn fn, void *arg, char *err, size_t errlen);

#endif
