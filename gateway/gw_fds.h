/*
 * gw_fds: the gateway's file descriptor budget.
 *
 * Every WebSocket client holds one descriptor, and so does everything
 * else: ZeroMQ's sockets and its connections to workers and producers,
 * the listener, lws's own pipe, HTTP requests, page files being served.
 * With the common container default of 1,024 and --max-connections 1024,
 * clients used up the descriptors before the 503 refusal began, and lws
 * 4.1.6 then spun on accept() failing with EMFILE (it logs the error and
 * returns with the listener still readable: lib/roles/listen/ops-listen.c)
 * at 100 % CPU, and /healthz hung. So, at start:
 *
 *   1. the soft RLIMIT_NOFILE is raised to the hard one;
 *   2. the connections that fit are the limit minus what is open now and
 *      a reserve (GW_FDS_RESERVE, below); --max-connections is lowered to
 *      that, with a warning (GW-FDS);
 *
 * and while running, a spare descriptor (/dev/null) is kept open: when
 * lws's accept() fails for want of descriptors, the spare is closed, the
 * waiting connections are accepted and closed at once, and the spare is
 * opened again, so the listener is never left readable to spin on.
 *
 * Main (lws service) thread only.
 */
#ifndef GW_FDS_H
#define GW_FDS_H

#include <stddef.h>

/* Descriptors kept for everything but WebSocket clients, on top of those
 * open when the budget is made (stdio, ZeroMQ's context and sockets): */
#define GW_FDS_LWS 8    /* listener(s), lws's pipe, adopted ZMQ_FDs, spare */
#define GW_FDS_PEERS 64 /* TCP connections of workers and producers */
#define GW_FDS_HTTP 32  /* HTTP requests, handshakes, page files in flight */
#define GW_FDS_RESERVE (GW_FDS_LWS + GW_FDS_PEERS + GW_FDS_HTTP)

typedef struct gw_fds gw_fds_t;

/* Raise the soft RLIMIT_NOFILE to the hard limit (or, if the hard one is
 * unlimited, to the kernel's fs.nr_open), at most to 1,048,576 (lws sizes
 * two tables by it). The soft limit in force after
 * the attempt into *limit, and the one before into *was. 0, or SL_ESYS
 * (errno) if the limit could not be read; failing to raise it is not an
 * error: *limit then equals *was. */
int gw_fds_raise_limit(long *limit, long *was);

/* Descriptors this process has open now (/proc/self/fd); -1 if unknown. */
long gw_fds_count_open(void);

/* WebSocket connections that fit in limit descriptors with open_now
 * already open and GW_FDS_RESERVE kept back; 0 if none fit. */
long gw_fds_budget(long limit, long open_now);

/* The spare descriptor and the listener(s) to shed on. NULL if /dev/null
 * cannot be opened. Caller owns; destroy closes the spare only. */
gw_fds_t *gw_fds_new(void);
void gw_fds_destroy(gw_fds_t **self_p);

/* Find this process's listening TCP socket(s) on port (lws's, once its
 * context exists). The number found (0: shedding cannot work). */
size_t gw_fds_find_listeners(gw_fds_t *self, int port);

/* lws reported accept() failing with err: if it is a shortage of
 * descriptors or memory, the next gw_fds_shed() sheds. */
void gw_fds_accept_failed(gw_fds_t *self, int err);

/* If an accept failed since the last call (or force), release the spare,
 * accept and close every connection waiting on the listeners, and take
 * the spare again. Returns the connections closed. Call it after each
 * lws_service() turn: cheap when nothing failed. */
size_t gw_fds_shed(gw_fds_t *self, int force);

/* Connections closed by shedding so far. */
unsigned long long gw_fds_shed_total(const gw_fds_t *self);

#endif
