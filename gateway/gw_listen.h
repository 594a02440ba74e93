/*
 * gw_listen: make the WebSocket listener bind exactly the address asked
 * for, and prove it did.
 *
 * lws 4.1 takes the listen address as an interface *name*
 * (lws_context_creation_info.iface); given an IPv4 address it matches no
 * interface and listens on every address instead, so "127.0.0.1" would
 * reach the network. So an IPv4 address is turned into the name of the
 * interface that holds it (IPv6 addresses lws binds as given), and after
 * the context is up the listening socket is looked at: if it is not bound
 * to the address asked, the gateway refuses to run. No state; main thread.
 */
#ifndef GW_LISTEN_H
#define GW_LISTEN_H

#include <stddef.h>

/*
 * Split a --listen value HOST:PORT, [IPV6]:PORT or *:PORT into host (the
 * brackets dropped; "localhost" becomes 127.0.0.1, since lws takes an
 * address or an interface name, not a host name) and port (1..65535).
 * 0, or SL_EINVAL.
 */
int gw_listen_parse(const char *s, char *host, size_t hostlen, int *port);

/*
 * The iface for lws from a --listen host: NULL into *iface for "", "*",
 * "0.0.0.0" and "::" (every address); an IPv6 address as it is; an IPv4
 * address as the name of the interface holding it, written into ifname. 0, or
 * SL_EINVAL with err filled (no interface has that address).
 */
int gw_listen_iface(const char *host, char *ifname, size_t ifname_len,
    const char **iface, char *err, size_t errlen);

/*
 * Check this process's TCP listening socket(s) on port: each must be
 * bound to host (an IPv4 one may also show as ::ffff:host on an IPv6
 * socket), or to anything for the wildcards. 0, or SL_EINVAL with err
 * naming what was bound instead (or that nothing listens on port).
 */
int gw_listen_check(const char *host, int port, char *err, size_t errlen);

/*
 * Before lws tries: can host:port be bound? lws reports a port in use
 * only as "ERROR on binding fd ... (-1 98)", so the gateway asks first and
 * says it plainly. Binds a throwaway socket (SO_REUSEADDR, as lws does)
 * and closes it. 0 when the bind worked or cannot be tried here (an
 * interface name: lws will say); SL_EINVAL with err "address HOST port
 * PORT is already in use (...)" or the bind's error otherwise.
 */
int gw_listen_probe(const char *host, int port, char *err, size_t errlen);

#endif
