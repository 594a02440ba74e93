/*
 * gw_addr: connections per client address (see gw_addr.h). lws service
 * thread only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw_addr.h"
#include "sl_err.h"

static const uint8_t s_mapped[12]
    = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

typedef struct gw_addr_ent {
	struct gw_addr_ent *next; /* in its bucket */
	gw_addr_key_t key;
	size_t n; /* open connections, > 0 */
} gw_addr_ent_t;

struct gw_addr {
	gw_addr_ent_t **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_addrs;
	uint64_t seed; /* random: chains cannot be aimed at */
};

int
gw_addr_key(const struct sockaddr *sa, socklen_t len, gw_addr_key_t *out)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET
	    && len >= (socklen_t) sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *) sa;

		memcpy(out->b, s_mapped, 12);
		memcpy(out->b + 12, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6
	    && len >= (socklen_t) sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *) sa;

		memcpy(out->b, &in6->sin6_addr, 16);
		/* A mapped IPv4 address is that address; anything else
		 * counts by its /64. */
		if (memcmp(out->b, s_mapped, 12))
			memset(out->b + 8, 0, 8);
		return 0;
	}
	return SL_EINVAL;
}

int
gw_addr_key_of_fd(int fd, gw_addr_key_t *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getpeername(fd, (struct sockaddr *) &ss, &len))
		return SL_ESYS;
	return gw_addr_key((const struct sockaddr *) &ss, len, out);
}

void
gw_addr_key_str(const gw_addr_key_t *key, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (!memcmp(key->b, s_mapped, 12)) {
		inet_ntop(AF_INET, key->b + 12, a, sizeof a);
		snprintf(buf, cap, "%s", a);
	} else {
		inet_ntop(AF_INET6, key->b, a, sizeof a);
		snprintf(buf, cap, "%s/64", a);
	}
}

gw_addr_t *
gw_addr_new(size_t expected)
{
	gw_addr_t *self = calloc(1, sizeof *self);
	size_t n = 64;

	if (!self)
		return NULL;
	/* About one address per bucket at the expected load; a chain only
	 * gets longer past it. */
	while (n < expected && n < (1u << 20))
		n *= 2;
	self->buckets = calloc(n, sizeof *self->buckets);
	if (!self->buckets) {
		free(self);
		return NULL;
	}
	self->n_buckets = n;
	if (getrandom(&self->seed, sizeof self->seed, GRND_NONBLOCK)
	    != (ssize_t) sizeof self->seed)
		self->seed = (uint64_t) (uintptr_t) self ^ 0x9e3779b97f4a7c15u;
	return self;
}

void
gw_addr_destroy(gw_addr_t **self_p)
{
	gw_addr_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	for (size_t i = 0; i < self->n_buckets; i++) {
		gw_addr_ent_t *e = self->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(self->buckets);
	free(self);
	*self_p = NULL;
}

/* Seeded 64-bit mix of the key (splitmix64 over its two halves). */
static size_t
s_bucket(const gw_addr_t *self, const gw_addr_key_t *key)
{
	uint64_t h = self->seed, w[2];

	memcpy(w, key->b, sizeof w);
	for (int i = 0; i < 2; i++) {
		h ^= w[i];
		h += 0x9e3779b97f4a7c15u;
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9u;
		h = (h ^ (h >> 27)) * 0x94d049bb133111ebu;
		h ^= h >> 31;
	}
	return (size_t) (h & (self->n_buckets - 1));
}

static gw_addr_ent_t **
s_find(const gw_addr_t *self, const gw_addr_key_t *key)
{
	gw_addr_ent_t **pp = &self->buckets[s_bucket(self, key)];

	while (*pp && memcmp((*pp)->key.b, key->b, sizeof key->b))
		pp = &(*pp)->next;
	return pp;
}

size_t
gw_addr_count(const gw_addr_t *self, const gw_addr_key_t *key)
{
	gw_addr_ent_t **pp = s_find(self, key);

	return *pp ? (*pp)->n : 0;
}

int
gw_addr_add(gw_addr_t *self, const gw_addr_key_t *key)
{
	gw_addr_ent_t **pp = s_find(self, key);

	if (!*pp) {
		*pp = calloc(1, sizeof **pp);
		if (!*pp)
			return SL_ENOMEM;
		(*pp)->key = *key;
		self->n_addrs++;
	}
	(*pp)->n++;
	return 0;
}

void
gw_addr_release(gw_addr_t *self, const gw_addr_key_t *key)
{
	gw_addr_ent_t **pp = s_find(self, key), *e = *pp;

	if (!e)
		return;
	if (--e->n)
		return;
	*pp = e->next;
	free(e);
	self->n_addrs--;
}

size_t
gw_addr_n_addresses(const gw_addr_t *self)
{
	return self->n_addrs;
}
