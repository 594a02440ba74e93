/*
 * gw_fds: descriptor budget and the spare descriptor (see gw_fds.h).
 * Main thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_fds.h"
#include "sl_err.h"
#include "sl_log.h"

#define GW_FDS_LISTENERS 4 /* lws binds one or two; room to spare */
/* lws allocates two tables of this many entries (8 bytes each); a hard
 * limit in the billions would make that fail. */
#define GW_FDS_CEILING 1048576
#define GW_FDS_SHED_MAX 4096 /* connections closed in one call, at most */

struct gw_fds {
	int spare;                       /* /dev/null; -1 while released */
	int listeners[GW_FDS_LISTENERS]; /* borrowed: lws owns them */
	size_t n_listeners;
	bool failed;                   /* accept failed for want of fds */
	unsigned long long shed_total; /* connections closed by shedding */
};

/* The kernel's ceiling for RLIMIT_NOFILE, for an unlimited hard limit. */
static rlim_t
s_nr_open(void)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned long long n = 0;

	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n ? (rlim_t) n : 1048576;
}

int
gw_fds_raise_limit(long *limit, long *was)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return SL_ESYS;
	*was = *limit = (long) rl.rlim_cur;
	want = rl.rlim_max == RLIM_INFINITY ? s_nr_open() : rl.rlim_max;
	if (want > GW_FDS_CEILING)
		want = GW_FDS_CEILING;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (!setrlimit(RLIMIT_NOFILE, &rl))
			*limit = (long) want;
	}
	return 0;
}

long
gw_fds_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

long
gw_fds_budget(long limit, long open_now)
{
	long fit = limit - open_now - GW_FDS_RESERVE;

	return fit > 0 ? fit : 0;
}

gw_fds_t *
gw_fds_new(void)
{
	gw_fds_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (self->spare < 0) {
		free(self);
		return NULL;
	}
	return self;
}

void
gw_fds_destroy(gw_fds_t **self_p)
{
	gw_fds_t *self = *self_p;

	if (!self)
		return;
	if (self->spare >= 0)
		close(self->spare);
	free(self);
	*self_p = NULL;
}

/* Is fd a listening TCP socket on port? */
static bool
s_is_listener(int fd, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int on = 0;
	socklen_t onlen = sizeof on;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &onlen) || !on)
		return false;
	if (getsockname(fd, (struct sockaddr *) &ss, &len))
		return false;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *) (void *) &ss)->sin_port)
		    == port;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *) (void *) &ss)->sin6_port)
		    == port;
	return false;
}

size_t
gw_fds_find_listeners(gw_fds_t *self, int port)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	self->n_listeners = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) && self->n_listeners < GW_FDS_LISTENERS) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || end == e->d_name || fd == dirfd(d))
			continue;
		if (s_is_listener((int) fd, port))
			self->listeners[self->n_listeners++] = (int) fd;
	}
	closedir(d);
	return self->n_listeners;
}

void
gw_fds_accept_failed(gw_fds_t *self, int err)
{
	/* Other failures (ECONNABORTED: the peer left first) take their
	 * connection off the queue: lws does not spin on those. */
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
		self->failed = true;
}

/* Accept and close what waits on fd, without blocking; the count. */
static size_t
s_drain(int fd, size_t max)
{
	size_t n = 0;

	while (n < max) {
		struct pollfd p = { fd, POLLIN, 0 };
		int c;

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			break;
		c = accept(fd, NULL, NULL);
		if (c < 0)
			break; /* out of descriptors even so, or gone */
		close(c);
		n++;
	}
	return n;
}

size_t
gw_fds_shed(gw_fds_t *self, int force)
{
	size_t n = 0;

	if (!self->failed && !force)
		return 0;
	self->failed = false;
	if (self->spare >= 0) {
		close(self->spare); /* one descriptor to accept with */
		self->spare = -1;
	}
	for (size_t i = 0; i < self->n_listeners; i++)
		n += s_drain(self->listeners[i], GW_FDS_SHED_MAX - n);
	/* A ZeroMQ thread may take the freed number first; then the next
	 * call tries again. */
	self->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	self->shed_total += n;
	SL_WARN("GW-FDS",
	    "out of file descriptors: %zu new connections closed at once "
	    "(%llu so far)%s",
	    n, self->shed_total,
	    self->spare < 0 ? "; no spare descriptor left" : "");
	return n;
}

unsigned long long
gw_fds_shed_total(const gw_fds_t *self)
{
	return self->shed_total;
}
