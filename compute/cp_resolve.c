/*
 * cp_resolve: gateway endpoints from names (see cp_resolve.h).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cp_resolve.h"
#include "sl_err.h"

#define CP_RESOLVE_MAX_ADDRS 64 /* distinct addresses kept per name */

/* "ADDR" of one resolved address, IPv6 in brackets; 0 or -1. */
static int
s_addr_text(const struct addrinfo *ai, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const void *src;

	if (ai->ai_family == AF_INET)
		src = &(
		    (const struct sockaddr_in *) (const void *) ai->ai_addr)
		           ->sin_addr;
	else if (ai->ai_family == AF_INET6)
		src = &(
		    (const struct sockaddr_in6 *) (const void *) ai->ai_addr)
		           ->sin6_addr;
	else
		return -1;
	if (!inet_ntop(ai->ai_family, src, a, sizeof a))
		return -1;
	snprintf(buf, len, ai->ai_family == AF_INET6 ? "[%s]" : "%s", a);
	return 0;
}

/* Every distinct address of host, as "tcp://ADDR:port", to fn. */
static int
s_expand(const char *host, const char *port, cp_resolve_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char seen[CP_RESOLVE_MAX_ADDRS][INET6_ADDRSTRLEN + 2];
	size_t n = 0;
	int rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return SL_ESYS;
	}
	rc = 0;
	for (ai = res; ai && !rc && n < CP_RESOLVE_MAX_ADDRS;
	     ai = ai->ai_next) {
		char ep[CP_RESOLVE_EP_MAX];
		size_t i;

		if (s_addr_text(ai, seen[n], sizeof seen[n]))
			continue;
		for (i = 0; i < n && strcmp(seen[i], seen[n]); i++)
			;
		if (i < n)
			continue; /* the same address again (another protocol)
			           */
		snprintf(ep, sizeof ep, "tcp://%s:%s", seen[n++], port);
		rc = fn(arg, ep);
	}
	freeaddrinfo(res);
	return rc;
}

int
cp_resolve_spec(
    const char *spec, cp_resolve_fn fn, void *arg, char *err, size_t errlen)
{
	char host[CP_RESOLVE_EP_MAX];
	const char *rest, *colon;
	size_t hlen;

	if (strlen(spec) >= CP_RESOLVE_EP_MAX) {
		snprintf(err, errlen, "%.40s...: longer than %d bytes", spec,
		    CP_RESOLVE_EP_MAX - 1);
		return SL_EINVAL;
	}
	if (strncmp(spec, "tcp://", 6) || strchr(spec, ';'))
		return fn(arg, spec);
	rest = spec + 6;
	colon = strrchr(rest, ':');
	if (!colon || colon == rest || !colon[1]) {
		snprintf(err, errlen, "%s: not tcp://HOST:PORT", spec);
		return SL_EINVAL;
	}
	hlen = (size_t) (colon - rest);
	/* [v6 address]: the brackets are ZeroMQ's, not the resolver's. */
	if (rest[0] == '[' && colon[-1] == ']') {
		rest++;
		hlen -= 2;
	}
	memcpy(host, rest, hlen);
	host[hlen] = '\0';
	if (!strcmp(host, "*")) {
		snprintf(err, errlen, "%s: a worker connects to a host, not *",
		    spec);
		return SL_EINVAL;
	}
	return s_expand(host, colon + 1, fn, arg, err, errlen);
}
