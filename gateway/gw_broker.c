/*
 * gw_broker: the gateway's requests, jobs and dispatch (see gw_broker.h
 * for the rules). lws service thread only.
 *
 * Ownership: the broker owns clients and every job; a client owns its
 * requests; a request owns its queued jobs. A job a worker holds is linked
 * on that worker's list in gw_workers (job->req may then be NULL: the
 * request ended early, the result will be dropped) and comes back through
 * s_on_job_result or s_on_job_lost. Every job is on exactly one list: its
 * request's queue or its worker's.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "gw_broker.h"
#include "gw_notify.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_list.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_utf8.h"

/* Job ids start at a random value in 1..2^52 (PROTOCOL.md §2): a
 * restarted gateway's ids never meet the old ones that workers may still
 * answer, and every id stays exact as a JSON number (a double) should one
 * ever be shown to a client: 2^52 more jobs before 2^53. */
#define GW_JOB_ID_SPAN (UINT64_C(1) << 52)

typedef struct gw_request gw_request_t;

typedef struct gw_job {
	/* wj.link: in req->queue, or in its holder's list (gw_workers);
	 * wj.id: unique across gateway processes; wj.holder: NULL while
	 * queued. */
	gw_workers_job_t wj;
	gw_request_t *req; /* NULL once the request has ended */
	uint32_t seq;      /* item index in its request */
	uint32_t attempts; /* workers that died holding it, in a row */
	size_t item_len;   /* bytes in item */
	uint8_t item[];    /* the item, packed msgpack */
} gw_job_t;

struct gw_request {
	sl_list_t client_link; /* in client->requests */
	sl_list_t active_link; /* in broker->active while queue non-empty */
	gw_client_t *client;   /* owner */
	char id[GW_CMSG_MAX_ID + 1];
	char task[SL_PROTO_MAX_NAME + 1];
	sl_list_t queue;        /* gw_job_t waiting for a worker, seq order */
	size_t n_items;         /* jobs created */
	size_t n_running;       /* jobs held by workers */
	size_t n_ok;            /* results forwarded */
	size_t n_failed;        /* item errors forwarded */
	int64_t t_start_us;     /* monotonic, at accept */
	int64_t deadline_us;    /* monotonic; 0: no timeout_ms */
	int64_t unserved_us;    /* monotonic: since then no worker runs task */
	bool timing;            /* results carry the worker's timings */
	gw_notify_chan_t *chan; /* notify channel (held), or NULL */
};

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
	void *user;             /* the transport's handle */
	gw_broker_send_fn send; /* the transport: WebSocket or producers */
	void *send_ctx;         /* first argument of send */
	sl_list_t requests;     /* gw_request_t, unfinished */
	size_t n_requests;
	gw_notify_watcher_t watch; /* its subscriptions */
	bool paused;               /* slow reader: dispatch none of its jobs */
};

struct gw_broker {
	gw_broker_ops_t ops;
	gw_broker_limits_t lim;
	const gw_workers_ops_t *wops; /* the workers (gw_workers_ops) */
	void *workers;                /* their first argument */
	sl_list_t clients;            /* gw_client_t */
	sl_list_t active;    /* gw_request_t with queued jobs, in turn order */
	sl_list_t shares;    /* gw_share_t, keyed */
	gw_notify_t *notify; /* channels and subscriptions */
	size_t n_active;
	bool draining; /* shutting down: refuse new requests */
	uint64_t next_job;
	gw_broker_stats_t st;
};

static void s_dispatch(gw_broker_t *self);

/* The first job id: random in 1..GW_JOB_ID_SPAN. Without getrandom (no
 * entropy yet at boot) the clock and pid still differ between restarts. */
static uint64_t
s_first_job_id(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r)
		r = (uint64_t) sl_clock_wall_us() * 1000003u
		    ^ (uint64_t) getpid();
	return 1 + r % GW_JOB_ID_SPAN;
}

static int s_notify_send(void *ctx, void *client, const gw_out_t *f);
static void s_notify_error(void *ctx, void *client, const gw_cmsg_err_t *err);

gw_broker_t *
gw_broker_new(const gw_broker_ops_t *ops, const gw_broker_limits_t *limits)
{
	gw_broker_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->ops = *ops;
	self->lim = *limits;
	self->notify = gw_notify_new(
	    &(gw_notify_ops_t) { s_notify_send, s_notify_error, self },
	    limits->max_subscriptions);
	if (!self->notify) {
		free(self);
		return NULL;
	}
	sl_list_init(&self->clients);
	sl_list_init(&self->active);
	sl_list_init(&self->shares);
	self->next_job = s_first_job_id();
	gw_hist_init_latency(&self->st.item_latency);
	return self;
}

/* ---- sending -------------------------------------------------------------
 */

/* Each client carries its own transport (WebSocket JSON or msgpack,
 * producers), which encodes the frame before it returns. */
static int
s_send(gw_client_t *c, const gw_out_t *f)
{
	return c->send(c->send_ctx, c->user, f);
}

/* A request's frame: to its client, then to its channel's watchers. */
static void
s_send_req(gw_broker_t *self, gw_request_t *r, gw_out_t *f)
{
	s_send(r->client, f);
	gw_notify_fanout(self->notify, r->chan, f);
}

/* An item of r ended in error: tell its client and watchers. */
static void
s_item_error(gw_broker_t *self, gw_request_t *r, uint32_t seq,
    const char *code, const char *msg)
{
	gw_out_t f = { .type = GW_OUT_ITEM_ERROR,
		.id = r->id,
		.seq = seq,
		.code = code,
		.message = msg };

	s_send_req(self, r, &f);
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

/* ---- requests ------------------------------------------------------------
 */

static void
s_activate(gw_broker_t *self, gw_request_t *r)
{
	if (!sl_list_linked(&r->active_link) && !sl_list_empty(&r->queue)) {
		sl_list_push_back(&self->active, &r->active_link);
		self->n_active++;
	}
}

static void
s_deactivate(gw_broker_t *self, gw_request_t *r)
{
	if (sl_list_linked(&r->active_link)) {
		sl_list_remove(&r->active_link);
		self->n_active--;
	}
}

/*
 * Let go of r's running jobs: each is orphaned (its result will be
 * dropped) and its worker told to CANCEL it, so the worker is free again
 * within a slice of work. With err_code, each also ends as an item error.
 */
typedef struct s_release {
	gw_broker_t *self;
	gw_request_t *r;
	const char *code; /* item error to end each with, or NULL */
	const char *msg;
} s_release_t;

static bool
s_release_one(void *arg, gw_workers_job_t *wj)
{
	s_release_t *a = arg;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_request_t *r = a->r;

	if (job->req != r)
		return true;
	job->req = NULL;
	r->n_running--;
	a->self->wops->cancel(a->self->workers, wj);
	if (a->code) {
		r->n_failed++;
		r->client->share->open--;
		s_item_error(a->self, r, job->seq, a->code, a->msg);
	}
	return r->n_running > 0;
}

static void
s_release_running(gw_broker_t *self, gw_request_t *r, const char *err_code,
    const char *err_msg)
{
	s_release_t a = { self, r, err_code, err_msg };

	/* Held jobs point back at r: walk the held jobs once. Only requests
	 * that end early pay for this. */
	if (r->n_running)
		self->wops->each_job(self->workers, s_release_one, &a);
}

/* ---- requests -------------------------------------------------------
 */

/* Free a request: queued jobs go with it, running ones are cancelled. */
static void
s_request_free(gw_broker_t *self, gw_request_t *r)
{
	sl_list_t *e;

	s_deactivate(self, r);
	while ((e = sl_list_first(&r->queue))) {
		sl_list_remove(e);
		free(sl_container_of(e, gw_job_t, wj.link));
		self->st.queued--;
	}
	s_release_running(self, r, NULL, NULL);
	r->client->share->open -= r->n_items - r->n_ok - r->n_failed;
	sl_list_remove(&r->client_link);
	r->client->n_requests--;
	self->st.requests--;
	if (r->chan)
		gw_notify_release(self->notify, r->chan);
	free(r);
}

static gw_request_t *
s_request_find(gw_client_t *c, const char *id)
{
	for (sl_list_t *e = c->requests.next; e != &c->requests; e = e->next) {
		gw_request_t *r
		    = sl_container_of(e, gw_request_t, client_link);

		if (!strcmp(r->id, id))
			return r;
	}
	return NULL;
}

/* One more item of r has an outcome; finish r after its last. */
static void
s_request_progress(gw_broker_t *self, gw_request_t *r, size_t cancelled)
{
	size_t ended = r->n_ok + r->n_failed + cancelled;
	gw_out_t f = { .type = GW_OUT_DONE, .id = r->id };

	if (ended < r->n_items)
		return;
	f.ok = r->n_ok;
	f.failed = r->n_failed;
	f.cancelled = cancelled;
	f.elapsed_ms = (sl_clock_mono_us() - r->t_start_us) / 1000;
	SL_INFO("REQ-DONE",
	    "req=%s ok=%zu failed=%zu cancelled=%zu elapsed_ms=%" PRId64,
	    r->id, r->n_ok, r->n_failed, cancelled, f.elapsed_ms);
	s_send_req(self, r, &f);
	s_request_free(self, r);
}

/* End every queued item of r as an item error code (msg): r leaves the
 * turn list, each item counts as failed and leaves its client's share.
 * How many. */
static size_t
s_end_queued(
    gw_broker_t *self, gw_request_t *r, const char *code, const char *msg)
{
	size_t n = 0;
	sl_list_t *e;

	s_deactivate(self, r);
	while ((e = sl_list_first(&r->queue))) {
		gw_job_t *job = sl_container_of(e, gw_job_t, wj.link);

		sl_list_remove(e);
		self->st.queued--;
		r->n_failed++;
		r->client->share->open--;
		n++;
		s_item_error(self, r, job->seq, code, msg);
		free(job);
	}
	return n;
}

/* End every unfinished item of r now: as item errors (timeout) or, with
 * code NULL, as cancelled. Then done, and r is freed. */
static void
s_request_end(
    gw_broker_t *self, gw_request_t *r, const char *code, const char *msg)
{
	size_t open = r->n_items - r->n_ok - r->n_failed;

	if (code) {
		s_end_queued(self, r, code, msg);
		s_release_running(self, r, code, msg);
		self->st.timeouts += open;
		open = 0;
	} else {
		self->st.cancelled += open;
	}
	s_request_progress(self, r, open);
}

/*
 * r's queued items waited unknown_task_us for a worker that runs r's task
 * and none came: each ends as item error unknown_task (running ones go
 * on; with none running, done follows).
 */
static void
s_request_end_unserved(gw_broker_t *self, gw_request_t *r, int64_t now_us)
{
	char msg[SL_PROTO_MAX_NAME + 80];
	size_t n;

	snprintf(msg, sizeof msg,
	    "no registered worker runs task %s (waited %lld ms)", r->task,
	    (long long) (now_us - r->unserved_us) / 1000);
	n = s_end_queued(self, r, "unknown_task", msg);
	self->st.unknown_task += n;
	SL_INFO("REQ-NOTASK", "req=%s task=%s items=%zu waited_ms=%lld", r->id,
	    r->task, n, (long long) (now_us - r->unserved_us) / 1000);
	s_request_progress(self, r, 0);
}

/* Some registered worker runs task. */
static bool
s_task_known(const gw_broker_t *self, const char *task)
{
	return self->wops->runs(self->workers, task, false);
}

static size_t
s_n_workers(const gw_broker_t *self)
{
	gw_workers_stats_t ws;

	self->wops->stats(self->workers, &ws);
	return ws.workers;
}

/*
 * Build every job of a submit before accepting it (all or nothing): one
 * per item, from the item as the edge packed it. Returns 0, or SL_EFULL
 * (over max_item_bytes) or SL_ENOMEM, with why naming the item's index.
 */
static int
s_make_jobs(gw_broker_t *self, gw_request_t *r, const gw_cmsg_t *m, char *why,
    size_t whylen)
{
	for (size_t i = 0; i < m->n_items; i++) {
		size_t len;
		const char *item = gw_cmsg_item(m, i, &len);
		gw_job_t *job;

		if (self->lim.max_item_bytes
		    && len > self->lim.max_item_bytes) {
			snprintf(why, whylen,
			    "item %zu: %zu bytes packed, the limit is %zu", i,
			    len, self->lim.max_item_bytes);
			return SL_EFULL;
		}
		job = malloc(sizeof *job + len);
		if (!job) {
			snprintf(why, whylen, "out of memory");
			return SL_ENOMEM;
		}
		job->wj.id = self->next_job++;
		job->wj.holder = NULL;
		job->req = r;
		job->seq = (uint32_t) i;
		job->attempts = 0;
		job->item_len = len;
		memcpy(job->item, item, len);
		sl_list_push_back(&r->queue, &job->wj.link);
		r->n_items++;
		r->client->share->open++;
		self->st.queued++;
	}
	return 0;
}

static void
s_submit(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	size_t n = m->n_items;
	size_t workers = s_n_workers(self);
	gw_out_t f
	    = { .type = GW_OUT_ACCEPTED, .items = n, .workers = workers };
	gw_request_t *r;
	char why[160];
	int rc;

	if (self->draining)
		return s_error(self, c, m->id, "shutting_down",
		    "the gateway is shutting down; retry elsewhere");
	if (s_request_find(c, m->id))
		return s_error(self, c, m->id, "duplicate_id",
		    "a request with this id is still running");
	if (c->n_requests >= self->lim.max_requests)
		return s_error(self, c, m->id, "too_many_requests",
		    "too many unfinished requests on this connection");
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
		return s_error(self, c, m->id, "queue_full", why);
	}
	if (self->st.queued + n > self->lim.max_queued_jobs)
		return s_error(self, c, m->id, "queue_full",
		    "the gateway's job queue is full; retry later");
	/* With no worker registered we cannot know the task yet: queue it,
	 * the first worker that runs it will take it. */
	if (workers && !s_task_known(self, m->task))
		return s_error(self, c, m->id, "unknown_task",
		    "no registered worker runs this task");
	r = calloc(1, sizeof *r);
	if (!r)
		return s_error(self, c, m->id, "internal", "out of memory");
	snprintf(r->id, sizeof r->id, "%s", m->id);
	snprintf(r->task, sizeof r->task, "%s", m->task);
	sl_list_init(&r->queue);
	sl_list_init(&r->active_link);
	r->client = c;
	sl_list_push_back(&c->requests, &r->client_link);
	c->n_requests++;
	self->st.requests++;
	rc = s_make_jobs(self, r, m, why, sizeof why);
	if (rc) {
		s_request_free(self, r);
		return s_error(self, c, m->id,
		    rc == SL_EFULL ? "item_too_large" : "internal", why);
	}
	r->t_start_us = sl_clock_mono_us();
	/* Only with no worker at all (see above): the wait for one that
	 * runs the task starts now. */
	if (!s_task_known(self, r->task))
		r->unserved_us = r->t_start_us;
	if (m->timeout_ms)
		r->deadline_us = r->t_start_us + m->timeout_ms * 1000;
	r->timing = m->timing;
	if (m->channel[0]) {
		r->chan = gw_notify_hold(self->notify, m->channel);
		if (!r->chan) {
			s_request_free(self, r);
			return s_error(
			    self, c, m->id, "internal", "out of memory");
		}
	}
	SL_INFO("REQ-ACCEPT", "req=%s task=%s items=%zu notify=%s", r->id,
	    r->task, n, m->channel[0] ? m->channel : "-");
	self->st.accepted++;
	f.id = r->id;
	s_send_req(self, r, &f);
	s_activate(self, r);
	s_dispatch(self);
}

static void
s_cancel(gw_broker_t *self, gw_client_t *c, const gw_cmsg_t *m)
{
	gw_request_t *r = s_request_find(c, m->id);

	if (!r)
		return s_error(self, c, m->id, "unknown_id",
		    "no unfinished request with this id");
	SL_INFO("REQ-CANCEL", "req=%s", r->id);
	s_request_end(self, r, NULL, NULL);
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
	case GW_CMSG_PING: {
		gw_out_t f = { .type = GW_OUT_PONG,
			.value = msg->data,
			.server_us = sl_clock_wall_us(),
			.workers = s_n_workers(self),
			.queued = self->st.queued,
			.running = self->st.running,
			.draining = self->draining };

		s_send(client, &f);
		break;
	}
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

/* ---- clients -------------------------------------------------------------
 */

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
	c->user = user;
	c->share = &c->own;
	c->send = send;
	c->send_ctx = ctx;
	sl_list_init(&c->requests);
	gw_notify_watcher_init(&c->watch, c);
	sl_list_push_back(&self->clients, &c->link);
	self->st.clients++;
	return c;
}

void
gw_broker_client_destroy(gw_broker_t *self, gw_client_t **client_p)
{
	gw_client_t *c = client_p ? *client_p : NULL;
	sl_list_t *e;

	if (!c)
		return;
	/* Its own subscriptions first: it must not watch its own requests
	 * end below. */
	gw_notify_watcher_fini(self->notify, &c->watch);
	while ((e = sl_list_first(&c->requests))) {
		gw_request_t *r
		    = sl_container_of(e, gw_request_t, client_link);
		gw_out_t f = { .type = GW_OUT_DONE,
			.id = r->id,
			.ok = r->n_ok,
			.failed = r->n_failed,
			.cancelled = r->n_items - r->n_ok - r->n_failed,
			.elapsed_ms
			= (sl_clock_mono_us() - r->t_start_us) / 1000 };

		/* Its watchers learn that it ended: its items were
		 * cancelled with their submitter. */
		gw_notify_fanout(self->notify, r->chan, &f);
		self->st.cancelled += f.cancelled;
		s_request_free(self, r);
	}
	if (c->share->keyed && !--c->share->refs) {
		sl_list_remove(&c->share->link);
		free(c->share);
	}
	sl_list_remove(&c->link);
	self->st.clients--;
	free(c);
	*client_p = NULL;
}

int
gw_broker_client_share(
    gw_broker_t *self, gw_client_t *client, const uint8_t *key, size_t len)
{
	gw_share_t *sh = NULL;

	if (client->n_requests || client->share->keyed || !len
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
	return 0;
}

void
gw_broker_client_pause(gw_broker_t *self, gw_client_t *client, bool paused)
{
	if (client->paused == paused)
		return;
	client->paused = paused;
	SL_INFO(paused ? "CLI-PAUSE" : "CLI-RESUME", "requests=%zu",
	    client->n_requests);
	if (!paused)
		s_dispatch(self);
}

/* ---- workers (the events of gw_workers) ---------------------------------
 */

/*
 * A held job came back from its worker. It returns to the front of its
 * request's queue, unless the worker died holding it for the second time
 * in a row (crashed): then it is a poison item and ends as an error.
 */
static void
s_on_job_lost(void *ctx, gw_workers_job_t *wj, bool crashed)
{
	gw_broker_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_request_t *r = job->req;

	self->st.running--;
	if (!r) {
		free(job);
		return;
	}
	r->n_running--;
	if (crashed && ++job->attempts >= GW_BROKER_MAX_ATTEMPTS) {
		SL_WARN("JOB-POISON", "req=%s seq=%u attempts=%u", r->id,
		    job->seq, job->attempts);
		self->st.poisoned++;
		r->n_failed++;
		r->client->share->open--;
		s_item_error(self, r, job->seq, "worker_lost",
		    "the item's worker died twice in a row running it");
		free(job);
		s_request_progress(self, r, 0);
		return;
	}
	/* A fresh id: a late result of the old attempt (the worker may come
	 * back under the same routing id) can then never pass for this one. */
	job->wj.id = self->next_job++;
	sl_list_push_front(&r->queue, &job->wj.link);
	self->st.queued++;
	self->st.requeued++;
	s_activate(self, r);
}

/* A worker's failed item (code and message from the worker, or a value
 * without a JSON form: why) as an item error to r's client. */
static void
s_result_error(gw_broker_t *self, gw_request_t *r, gw_job_t *job,
    const sl_msg_result_t *m, int rc, const char *why)
{
	char code[SL_PROTO_MAX_NAME + 1], msg[SL_PROTO_MAX_TEXT + 1];

	if (m->ok) {
		snprintf(code, sizeof code, "bad_result");
		snprintf(msg, sizeof msg,
		    "the worker's value has no JSON form: %s",
		    rc == SL_ETOOBIG      ? "nested too deeply"
		        : rc == SL_ENOMEM ? "out of memory"
		                          : why);
	} else {
		snprintf(
		    code, sizeof code, "%.*s", (int) m->code.len, m->code.ptr);
		snprintf(msg, sizeof msg, "%.*s", (int) m->message.len,
		    m->message.ptr ? m->message.ptr : "");
		/* Passed on to clients (and watchers) as strings: well-formed
		 * UTF-8, even if the worker's was not or was cut above. */
		sl_utf8_clean(code);
		sl_utf8_clean(msg);
	}
	r->n_failed++;
	r->client->share->open--;
	self->st.items_failed++;
	s_item_error(self, r, job->seq, code, msg);
}

/* A result from the worker that held the job. */
static void
s_on_job_result(void *ctx, gw_workers_job_t *wj, const sl_msg_result_t *m)
{
	gw_broker_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_request_t *r = job->req;
	const char *why = NULL;
	int rc = 0;

	self->st.running--;
	if (!r) {
		self->st.stale++; /* its request ended early */
		free(job);
		return;
	}
	r->n_running--;
	gw_hist_observe_us(
	    &self->st.item_latency, sl_clock_mono_us() - r->t_start_us);
	/* Values stay msgpack (a msgpack client gets them as the worker sent
	 * them) but must have a JSON form: checked once, here, whoever
	 * receives them. */
	if (m->ok)
		rc = sl_json_mp_check(m->value, SL_PROTO_MAX_ITEM_DEPTH, &why);
	if (m->ok && !rc) {
		gw_out_t f = { .type = GW_OUT_RESULT,
			.id = r->id,
			.seq = job->seq,
			.value.mp = m->value,
			.timing = r->timing,
			.t_done_us = m->t_done_us,
			.cpu_us = m->cpu_us };

		r->n_ok++;
		r->client->share->open--;
		self->st.items_ok++;
		s_send_req(self, r, &f);
	} else {
		s_result_error(self, r, job, m, rc, why);
	}
	self->st.results++;
	free(job);
	s_request_progress(self, r, 0);
}

/* Credit or the workers changed. */
static void
s_on_workers_changed(void *ctx)
{
	s_dispatch(ctx);
}

void
gw_broker_workers_events(gw_broker_t *self, gw_workers_events_t *out)
{
	out->result = s_on_job_result;
	out->lost = s_on_job_lost;
	out->changed = s_on_workers_changed;
	out->ctx = self;
}

void
gw_broker_set_workers(
    gw_broker_t *self, const gw_workers_ops_t *ops, void *workers)
{
	self->wops = ops;
	self->workers = workers;
}

/* ---- timers --------------------------------------------------------------
 */

/* r's queued items wait for a worker that runs its task: from when none
 * does, they get unknown_task_us, then end as unknown_task. */
static void
s_check_unserved(gw_broker_t *self, gw_request_t *r, int64_t now_us)
{
	if (!self->lim.unknown_task_us)
		return;
	if (sl_list_empty(&r->queue) || s_task_known(self, r->task)) {
		r->unserved_us = 0;
		return;
	}
	if (!r->unserved_us)
		r->unserved_us = now_us;
	else if (now_us - r->unserved_us >= self->lim.unknown_task_us)
		s_request_end_unserved(self, r, now_us);
}

void
gw_broker_tick(gw_broker_t *self, int64_t now_us)
{
	sl_list_t *e, *next;

	/* Request deadlines (timeout_ms). */
	for (e = self->clients.next; e != &self->clients; e = e->next) {
		gw_client_t *c = sl_container_of(e, gw_client_t, link);

		for (sl_list_t *q = c->requests.next; q != &c->requests;
		     q = next) {
			gw_request_t *r
			    = sl_container_of(q, gw_request_t, client_link);

			next = q->next; /* r may be freed */
			if (r->deadline_us && now_us >= r->deadline_us) {
				SL_INFO("REQ-TIMEOUT", "req=%s", r->id);
				s_request_end(self, r, "timeout",
				    "the request's timeout_ms passed");
			} else {
				s_check_unserved(self, r, now_us);
			}
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
	for (sl_list_t *e = self->clients.next; e != &self->clients;
	     e = e->next) {
		const gw_client_t *c = sl_container_of(e, gw_client_t, link);

		for (sl_list_t *q = c->requests.next; q != &c->requests;
		     q = q->next) {
			const gw_request_t *r
			    = sl_container_of(q, gw_request_t, client_link);

			/* Orphaned jobs (job->req NULL) do not count: their
			 * results would be dropped anyway. */
			if (r->n_running
			    || (!sl_list_empty(&r->queue)
			        && self->wops->runs(
			            self->workers, r->task, true)))
				return true;
		}
	}
	return false;
}

/* ---- dispatch ------------------------------------------------------------
 */

/* Hand job to w. On failure w is gone and the job back in its queue
 * (gw_workers_send_job). */
static void
s_send_job(gw_broker_t *self, void *w, gw_job_t *job)
{
	gw_request_t *r = job->req;

	/* Counted first: a failed send hands it back (s_on_job_lost). */
	self->st.running++;
	r->n_running++;
	if (self->wops->send_job(
	        self->workers, w, &job->wj, r->task, job->item, job->item_len))
		return;
	SL_DEBUG("JOB-SENT", "req=%s seq=%u job=%" PRIu64 " worker=%s", r->id,
	    job->seq, job->wj.id, self->wops->name(w));
}

/*
 * Round-robin over active requests: each turn takes one job from the
 * request at the head and moves the request to the tail. A request whose
 * task no free worker runs, or whose client is a paused slow reader,
 * waits its next turn; a full round without progress ends the pass.
 */
static void
s_dispatch(gw_broker_t *self)
{
	size_t idle = 0;

	while (self->n_active && idle < self->n_active
	    && self->wops->any_credit(self->workers)) {
		gw_request_t *r = sl_container_of(
		    sl_list_first(&self->active), gw_request_t, active_link);
		void *w = r->client->paused
		    ? NULL
		    : self->wops->pick(self->workers, r->task);
		gw_job_t *job;

		s_deactivate(self, r);
		if (!w) {
			s_activate(self, r);
			idle++;
			continue;
		}
		idle = 0;
		job = sl_container_of(
		    sl_list_first(&r->queue), gw_job_t, wj.link);
		sl_list_remove(&job->wj.link);
		self->st.queued--;
		s_activate(self, r); /* to the tail, if it has more */
		s_send_job(self, w, job);
	}
}

void
gw_broker_note_hijack(gw_broker_t *self)
{
	self->st.hijacks++;
}

void
gw_broker_stats(const gw_broker_t *self, gw_broker_stats_t *out)
{
	gw_workers_stats_t ws;
	gw_notify_stats_t ns;

	*out = self->st;
	gw_notify_stats(self->notify, &ns);
	out->subscriptions = ns.subscriptions;
	out->channels = ns.channels;
	out->notified = ns.notified;
	self->wops->stats(self->workers, &ws);
	out->workers = ws.workers;
	out->capacity = ws.capacity;
	out->stale += ws.stale;
	out->bad_frames = ws.bad_frames;
	out->workers_lost = ws.workers_lost;
	out->hb_missed = ws.hb_missed;
	out->hijacks += ws.hijacks;
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
	gw_notify_destroy(&self->notify);
	free(self);
	*self_p = NULL;
}
