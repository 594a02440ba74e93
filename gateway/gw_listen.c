/*
 * gw_listen: the listener's address, asked and checked (see gw_listen.h).
 * No state; main thread.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_listen.h"
#include "sl_err.h"

/* Every address: "", "*", and the wildcards of each family. */
static bool
s_any(const char *host)
{
	return !host[0] || !strcmp(host, "*") || !strcmp(host, "0.0.0.0")
	    || !strcmp(host, "::");
}

int
gw_listen_iface(const char *host, char *ifname, size_t ifname_len,
    const char **iface, char *err, size_t errlen)
{
	struct in_addr want;
	struct ifaddrs *ifs, *i;
	int rc = SL_EINVAL;

	*iface = NULL;
	if (s_any(host))
		return 0;
	if (inet_pton(AF_INET, host, &want) != 1) {
		*iface = host; /* IPv6 address or interface name: lws's */
		return 0;
	}
	if (getifaddrs(&ifs)) {
		snprintf(err, errlen, "cannot list the interfaces: %m");
		return SL_ESYS;
	}
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET
		    || ((struct sockaddr_in *) (void *) i->ifa_addr)
		            ->sin_addr.s_addr
		        != want.s_addr)
			continue;
		snprintf(ifname, ifname_len, "%s", i->ifa_name);
		*iface = ifname;
		rc = 0;
		break;
	}
	freeifaddrs(ifs);
	if (rc)
		snprintf(
		    err, errlen, "no network interface has address %s", host);
	return rc;
}

/* Whether sa (a bound socket's name) is host, as asked. */
static bool
s_is(const struct sockaddr_storage *sa, const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (s_any(host))
		return true;
	if (sa->ss_family == AF_INET)
		return inet_pton(AF_INET, host, &v4) == 1
		    && ((const struct sockaddr_in *) (const void *) sa)
		           ->sin_addr.s_addr
		    == v4.s_addr;
	if (sa->ss_family != AF_INET6)
		return false;
	v6 = ((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return IN6_IS_ADDR_V4MAPPED(&v6)
		    && !memcmp(&v6.s6_addr[12], &v4, 4);
	{
		struct in6_addr w;

		return inet_pton(AF_INET6, host, &w) == 1
		    && !memcmp(&v6, &w, sizeof w);
	}
}

int
gw_listen_check(const char *host, int port, char *err, size_t errlen)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0, rc = 0;

	if (!d) {
		snprintf(err, errlen, "cannot list /proc/self/fd: %m");
		return SL_ESYS;
	}
	while ((e = readdir(d)) && !rc) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		int fd = atoi(e->d_name), on = 0;
		socklen_t ol = sizeof on;
		char txt[INET6_ADDRSTRLEN] = "?";
		int p;

		if (e->d_name[0] < '0' || e->d_name[0] > '9'
		    || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol)
		    || !on || getsockname(fd, (struct sockaddr *) &sa, &len))
			continue;
		if (sa.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (void *) &sa;

			p = ntohs(s4->sin_port);
			inet_ntop(AF_INET, &s4->sin_addr, txt, sizeof txt);
		} else if (sa.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (void *) &sa;

			p = ntohs(s6->sin6_port);
			inet_ntop(AF_INET6, &s6->sin6_addr, txt, sizeof txt);
		} else {
			continue;
		}
		if (p != port)
			continue;
		found++;
		if (!s_is(&sa, host)) {
			snprintf(err, errlen,
			    "asked to listen on %s port %d, but the socket is "
			    "bound to %s",
			    host, port, txt);
			rc = SL_EINVAL;
		}
	}
	closedir(d);
	if (!rc && !found) {
		snprintf(err, errlen, "nothing listens on port %d", port);
		rc = SL_EINVAL;
	}
	return rc;
}

int
gw_listen_probe(const char *host, int port, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	struct sockaddr_in *s4 = (void *) &sa;
	struct sockaddr_in6 *s6 = (void *) &sa;
	socklen_t len;
	int fd, on = 1, off = 0, rc = 0;

	memset(&sa, 0, sizeof sa);
	if (s_any(host)) {
		/* lws binds the wildcard as a dual-stack IPv6 socket */
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t) port);
		len = sizeof *s6;
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t) port);
		len = sizeof *s4;
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t) port);
		len = sizeof *s6;
	} else {
		return 0; /* an interface name */
	}
	fd = socket(sa.ss_family, SOCK_STREAM, 0);
	if (fd < 0 && s_any(host)) { /* no IPv6 here: lws uses IPv4 then */
		memset(&sa, 0, sizeof sa);
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons((uint16_t) port);
		len = sizeof *s4;
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	if (fd < 0)
		return 0; /* cannot try: lws will say what fails */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
	if (bind(fd, (struct sockaddr *) &sa, len)) {
		int e = errno;

		if (e == EADDRINUSE)
			snprintf(err, errlen,
			    "address %s port %d is already in use (another "
			    "program, or another gateway, listens there)",
			    s_any(host) ? "*" : host, port);
		else
			snprintf(err, errlen, "cannot bind %s port %d: %s",
			    s_any(host) ? "*" : host, port, strerror(e));
		rc = SL_EINVAL;
	}
	close(fd);
	return rc;
}

int
gw_listen_parse(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t hl;
	char *end;
	long p;

	if (!colon)
		return SL_EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return SL_EINVAL;
	hl = (size_t) (colon - s);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return SL_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	/* lws takes an address or an interface name, not a host name */
	if (!strcmp(host, "localhost"))
		snprintf(host, hostlen, "127.0.0.1");
	*port = (int) p;
	return 0;
}
