/*
 * gw_broker: clients, their shares and the client protocol (see
 * gw_broker.h for the rules). lws service thread only.
 *
 * Ownership: the broker owns clients, shares, the request pool (gw_req,
 * which owns requests and jobs) and the notify channels (gw_notify). A
 * client embeds what those two keep of it (gw_req_owner_t,
 * gw_notify_watcher_t). The workers are borrowed (gw_broker_set_workers).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_broker.h"
#include "gw_notify.h"
#include "gw_req.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"

/* The clients whose unfinished jobs count together against
 * max_client_jobs: one connection, or every connection of one token. */
typedef struct gw_share {
	sl_list_t link; /* in broker->shares while keyed */
	uint8_t key[GW_BROKER_SHARE_KEY];
	size_t key_len;
	bool keyed;  /* false: a client's own share, inside it */
	size_t refs; /* clients using it (keyed) */
	size_t open; /* items accepted and not ended, its clients' */
} gw_share_t;

struct gw_client {
	sl_list_t link;    /* in broker->clients */
	gw_share_t *share; /* &own, or a keyed one (counted) */
	gw_share_t own;
	gw_req_owner_t reqs;       /* its requests, its transport */
	gw_notify_watcher_t watch; /* its subscriptions */
	size_t resumes;            /* resume frames it sent */
};

struct gw_broker {
	gw_broker_ops_t ops;
	gw_broker_limits_t lim;
	const gw_workers_ops_t *wops; /* the workers (gw_workers_ops) */
	gw_workers_t *workers;        /* their first argument */
	sl_list_t clients;            /* gw_client_t */
	sl_list_t detached;           /* gw_client_t gone, with requests */
	sl_list_t shares;             /* gw_share_t, keyed */
	gw_notify_t *notify;          /* channels and subscriptions */
	gw_req_pool_t *pool;          /* requests and jobs */
	bool draining;                /* shutting down: refuse new requests */
	gw_broker_stats_t st;
};

static int s_notify_send(void *ctx, void *client, const gw_out_t *f);
static void s_notify_error(void *ctx, void *client, const gw_cmsg_err_t *err);

gw_broker_t *
gw_broker_new(const gw_broker_ops_t *ops, const gw_broker_limits_t *limits)
{
	gw_broker_t *self = calloc(1, sizeof *self);
	gw_req_limits_t rlim;

	if (!self)
		return NULL;
	self->ops = *ops;
	self->lim = *limits;
	sl_list_init(&self->clients);
	sl_list_init(&self->detached);
	sl_list_init(&self->shares);
	rlim.max_item_bytes = limits->max_item_bytes;
	rlim.unknown_task_us = limits->unknown_task_us;
	rlim.resume_us = limits->resume_us;
	rlim.max_resume_bytes = limits->max_resume_bytes;
	rlim.progress_us = limits->progress_us;
	self->notify = gw_notify_new(
	    &(gw_notify_ops_t) { s_notify_send, s_notify_error, self },
	    limits->max_subscriptions);
	self->pool
	    = self->notify ? gw_req_pool_new(&rlim, self->notify) : NULL;
	if (!self->pool)
		gw_broker_destroy(&self);
	return self;
}

void
gw_broker_set_workers(
    gw_broker_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers)
{
	self->wops = ops;
	self->workers = workers;
	gw_req_use_workers(self->pool, ops, workers);
}

void
gw_broker_workers_events(gw_broker_t *self, gw_workers_events_t *out)
{
	gw_req_workers_events(self->pool, out);
}

/* ---- sending ------------------------------------------------------- */

/* Each client carries its own transport (WebSocket JSON or msgpack,
 * producers), which encodes the frame before it returns. */
static int
s_send(gw_client_t *c, const gw_out_t *f)
{
	return c->reqs.send(c->reqs.send_ctx, c->reqs.user, f);
}

void
gw_broker_client_error(
    gw_broker_t *self, gw_client_t *client, const gw_cmsg_err_t *err)
{
	SL_INFO("CLI-BADMSG", "code=%s id=%s msg=\"%s\"", err->code,
	    err->id[0] ? err->id : "-", err->message);
	gw_out_t f = gw_out_error(err);

	self->st.refused++;
	s_send(client, &f);
}

/* gw_notify's way to clients. */
static int
s_notify_send(void *ctx, void *client, const gw_out_t *f)
{
	(void) ctx;
	return s_send(client, f);
}

static void
s_notify_error(void *ctx, void *client, const gw_cmsg_err_t *err)
{
	gw_broker_client_error(ctx, client, err);
}

static void
s_error(gw_broker_t *self, gw_client_t *c, const char *id, const char *code,
    const char *msg)
{
	gw_cmsg_err_t err;

	gw_cmsg_err_set(&err, id, code, "%s", msg);
	gw_broker_client_error(self, c, &err);
}

/* ---- client messages ----------------------------------------------- */

static size_t
s_n_workers(const gw_broker_t *self)
{
	gw_workers_stats_t ws;

	self->wops->stats(self->workers, &ws);
	return ws.workers;
}

static size_t
s_queued(const gw_broker_t *self)
{
	gw_req_stats_t rs;

	gw_req_stats(self->pool, &rs);
	return rs.queued;
}

/* May c take on one more request, id, of n open items? The limits of a
 * submit and of a resume alike (a client cannot dodge them by leaving
 * and resuming); false after an error frame. */
static bool
s_admit(gw_broker_t *self, gw_client_t *c, const char *id, size_t n)
{
	char why[160];

	if (gw_req_find(&c->reqs, id))
		return s_error(self, c, id, "duplicate_id",
		           "a request with this id is still running"),
		       false;
	if (c->reqs.n_requests >= self->lim.max_requests)
		return s_error(self, c, id, "too_many_requests",
		           "too many unfinished requests on this connection"),
		       false;
	/* The share first: one client (or token) never takes the queue
	 * from the others. */
	if (self->lim.max_client_jobs
	    && c->share->open + n > self->lim.max_client_jobs) {
		snprintf(why, sizeof why,
		    "this %s's share of the job queue is full: %zu jobs "
		    "unfinished + %zu > %zu; retry when some have ended",
		    c->share->keyed ? "token" : "connection", c->share->open,
		    n, self->lim.max_client_jobs);
		self->st.share_full++;
		s_error(self, c, id, "queue_full", why);
		return false;
	}
	return true;
}

/* Accept m into the pool, or refuse it with an error frame. */
static void
s_submit(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	size_t n = m->n_items;
	size_t workers = s_n_workers(self);
	char why[160];
	int rc;

	if (self->draining)
		return s_error(self, c, m->id, "shutting_down",
		    "the gateway is shutting down; retry elsewhere");
	if (!s_admit(self, c, m->id, n))
		return;
	if (s_queued(self) + n > self->lim.max_queued_jobs)
		return s_error(self, c, m->id, "queue_full",
		    "the gateway's job queue is full; retry later");
	/* With no worker registered we cannot know the task yet: queue it,
	 * the first worker that runs it will take it. */
	if (workers && !self->wops->runs(self->workers, m->task, false))
		return s_error(self, c, m->id, "unknown_task",
		    "no registered worker runs this task");
	rc = gw_req_submit(self->pool, &c->reqs, m, workers, why, sizeof why);
	if (rc)
		s_error(self, c, m->id,
		    rc == SL_EFULL ? "item_too_large" : "internal", why);
}

static void
s_cancel(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	gw_req_t *r = gw_req_find(&c->reqs, m->id);

	if (!r)
		return s_error(self, c, m->id, "unknown_id",
		    "no unfinished request with this id");
	gw_req_cancel(self->pool, r);
}

/*
 * c takes a request over with its token: the same refusal whether the id
 * is unknown or the token wrong (or expired, or another gateway's), and
 * the limits of a submit when the request changes hands.
 */
static void
s_resume(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	gw_req_t *r;

	if (++c->resumes > self->lim.max_requests + GW_BROKER_SPARE_RESUMES) {
		self->st.resume_refused++;
		return s_error(self, c, m->id, "too_many_resumes",
		    "too many resume frames on this connection");
	}
	r = gw_req_find_token(self->pool, m->id, m->token, m->token_len);
	if (!r) {
		self->st.resume_refused++;
		return s_error(self, c, m->id, "unknown_request",
		    "this gateway holds no request with this id and token "
		    "(wrong or expired token, or another gateway's): submit "
		    "the missing items");
	}
	if (!gw_req_owned_by(r, &c->reqs)
	    && !s_admit(self, c, m->id, gw_req_open(r))) {
		self->st.resume_refused++;
		return;
	}
	gw_req_resume(self->pool, r, &c->reqs, m->have, m->n_have);
}

static void
s_ping(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	gw_req_stats_t rs;
	gw_out_t f = { .type = GW_OUT_PONG,
		.value = m->data,
		.server_us = sl_clock_wall_us(),
		.workers = s_n_workers(self),
		.draining = self->draining };

	gw_req_stats(self->pool, &rs);
	f.queued = rs.queued;
	f.running = rs.running;
	s_send(c, &f);
}

void
gw_broker_on_client_msg(
    gw_broker_t *self, gw_client_t *client, const gw_cmsg_t *msg)
{
	switch (msg->type) {
	case GW_CMSG_SUBMIT:
		s_submit(self, client, msg);
		break;
	case GW_CMSG_CANCEL:
		s_cancel(self, client, msg);
		break;
	case GW_CMSG_RESUME:
		s_resume(self, client, msg);
		break;
	case GW_CMSG_PING:
		s_ping(self, client, msg);
		break;
	case GW_CMSG_SUBSCRIBE:
		gw_notify_subscribe(
		    self->notify, &client->watch, msg->channel);
		break;
	case GW_CMSG_UNSUBSCRIBE:
		gw_notify_unsubscribe(
		    self->notify, &client->watch, msg->channel);
		break;
	}
}

/* ---- clients ------------------------------------------------------- */

gw_client_t *
gw_broker_client_new(gw_broker_t *self, void *user)
{
	return gw_broker_client_new_on(
	    self, self->ops.client_send, self->ops.ctx, user);
}

gw_client_t *
gw_broker_client_new_on(
    gw_broker_t *self, gw_broker_send_fn send, void *ctx, void *user)
{
	gw_client_t *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->share = &c->own;
	gw_req_owner_init(self->pool, &c->reqs, send, ctx, user, &c->own.open);
	gw_notify_watcher_init(&c->watch, c);
	sl_list_push_back(&self->clients, &c->link);
	self->st.clients++;
	return c;
}

/* Free c, gone and without requests (or with them: they end). */
static void
s_client_free(gw_broker_t *self, gw_client_t *c)
{
	gw_req_owner_fini(self->pool, &c->reqs);
	if (c->share->keyed && !--c->share->refs) {
		sl_list_remove(&c->share->link);
		free(c->share);
	}
	sl_list_remove(&c->link);
	free(c);
}

/* c is gone; with resumable, its requests may wait for a resume. */
static void
s_client_gone(gw_broker_t *self, gw_client_t **client_p, bool resumable)
{
	gw_client_t *c = client_p ? *client_p : NULL;

	if (!c)
		return;
	*client_p = NULL;
	/* Its own subscriptions first: it must not watch its own requests
	 * end below. */
	gw_notify_watcher_fini(self->notify, &c->watch);
	self->st.clients--;
	if (resumable && self->lim.resume_us && c->reqs.n_requests)
		gw_req_owner_detach(self->pool, &c->reqs);
	if (!c->reqs.detached || !c->reqs.n_requests)
		return s_client_free(self, c);
	/* Its requests wait for a resume: it stays, with its share, until
	 * they are taken over or expire (gw_broker_tick). */
	sl_list_remove(&c->link);
	sl_list_push_back(&self->detached, &c->link);
	self->st.detached_clients++;
}

void
gw_broker_client_destroy(gw_broker_t *self, gw_client_t **client_p)
{
	s_client_gone(self, client_p, false);
}

void
gw_broker_client_drop(gw_broker_t *self, gw_client_t **client_p)
{
	s_client_gone(self, client_p, true);
}

int
gw_broker_client_share(
    gw_broker_t *self, gw_client_t *client, const uint8_t *key, size_t len)
{
	gw_share_t *sh = NULL;

	if (client->reqs.n_requests || client->share->keyed || !len
	    || len > GW_BROKER_SHARE_KEY)
		return SL_EINVAL;
	for (sl_list_t *e = self->shares.next; e != &self->shares;
	     e = e->next) {
		gw_share_t *x = sl_container_of(e, gw_share_t, link);

		if (x->key_len == len && !memcmp(x->key, key, len)) {
			sh = x;
			break;
		}
	}
	if (!sh) {
		sh = calloc(1, sizeof *sh);
		if (!sh)
			return SL_ENOMEM;
		memcpy(sh->key, key, len);
		sh->key_len = len;
		sh->keyed = true;
		sl_list_push_back(&self->shares, &sh->link);
	}
	sh->refs++;
	client->share = sh;
	client->reqs.open = &sh->open;
	return 0;
}

void
gw_broker_client_pause(gw_broker_t *self, gw_client_t *client, bool paused)
{
	if (client->reqs.paused == paused)
		return;
	client->reqs.paused = paused;
	SL_INFO(paused ? "CLI-PAUSE" : "CLI-RESUME", "requests=%zu",
	    client->reqs.n_requests);
	if (!paused)
		gw_req_dispatch(self->pool);
}

/* ---- timers and the rest ------------------------------------------- */

void
gw_broker_tick(gw_broker_t *self, int64_t now_us)
{
	sl_list_t *e, *next;

	gw_req_tick(self->pool, now_us);
	for (e = self->detached.next; e != &self->detached; e = next) {
		gw_client_t *c = sl_container_of(e, gw_client_t, link);

		next = e->next;
		if (!c->reqs.n_requests) {
			self->st.detached_clients--;
			s_client_free(self, c);
		}
	}
}

void
gw_broker_drain(gw_broker_t *self)
{
	self->draining = true;
	self->st.draining = true;
}

bool
gw_broker_can_progress(const gw_broker_t *self)
{
	return gw_req_can_progress(self->pool);
}

void
gw_broker_stats(const gw_broker_t *self, gw_broker_stats_t *out)
{
	*out = self->st;
	gw_req_stats(self->pool, &out->req);
	gw_notify_stats(self->notify, &out->notify);
}

void
gw_broker_destroy(gw_broker_t **self_p)
{
	gw_broker_t *self = self_p ? *self_p : NULL;
	sl_list_t *e;

	if (!self)
		return;
	while ((e = sl_list_first(&self->clients))) {
		gw_client_t *c = sl_container_of(e, gw_client_t, link);

		gw_broker_client_destroy(self, &c);
	}
	while ((e = sl_list_first(&self->detached)))
		s_client_free(self, sl_container_of(e, gw_client_t, link));
	gw_req_pool_destroy(&self->pool);
	gw_notify_destroy(&self->notify); /* after the pool's requests */
	free(self);
	*self_p = NULL;
}
