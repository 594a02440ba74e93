/*
 * gw_addr: open WebSocket connections counted per client address, so that
 * one address cannot hold every connection the gateway allows
 * (--max-connections-per-address; HTTP 429 past it).
 *
 * An address is an IPv4 address, or an IPv6 /64: one host on IPv6
 * usually owns a whole /64 and could otherwise open each connection from
 * another address. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) count as their
 * IPv4 address. The table is a chained hash keyed with a random seed (so
 * that nobody can pick addresses that all land in one chain); an address
 * leaves it with its last connection. lws service thread only.
 */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A client address as counted: 16 bytes, IPv4 as ::ffff:a.b.c.d, IPv6
 * with its last 64 bits zero. */
typedef struct gw_addr_key {
	uint8_t b[16];
} gw_addr_key_t;

typedef struct gw_addr gw_addr_t;

/* The key of a peer's socket address (AF_INET or AF_INET6). 0, or
 * SL_EINVAL for another family or a short len. */
int gw_addr_key(const struct sockaddr *sa, socklen_t len, gw_addr_key_t *out);

/* The key of the peer connected on fd (getpeername). 0, or SL_ESYS /
 * SL_EINVAL. */
int gw_addr_key_of_fd(int fd, gw_addr_key_t *out);

/* The key as text for logs: "192.0.2.1" or "2001:db8:1:2::/64". */
void gw_addr_key_str(const gw_addr_key_t *key, char *buf, size_t cap);

/* An empty table sized for about expected addresses. NULL on ENOMEM;
 * caller owns. */
gw_addr_t *gw_addr_new(size_t expected);
/* NULL-safe; sets *self_p = NULL. */
void gw_addr_destroy(gw_addr_t **self_p);

/* Open connections of key's address (0 if none). */
size_t gw_addr_count(const gw_addr_t *self, const gw_addr_key_t *key);
/* One more connection from key: 0, or SL_ENOMEM. */
int gw_addr_add(gw_addr_t *self, const gw_addr_key_t *key);
/* One connection from key ended (nothing if none was counted). */
void gw_addr_release(gw_addr_t *self, const gw_addr_key_t *key);
/* Addresses with at least one open connection. */
size_t gw_addr_n_addresses(const gw_addr_t *self);

#endif
