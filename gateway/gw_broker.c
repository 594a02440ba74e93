/*
 * gw_broker: the gateway's requests, jobs, workers and credit (see
 * gw_broker.h for the rules). lws service thread only.
 *
 * Ownership: the broker owns clients and workers; a client owns its
 * requests; a request owns its queued jobs; a worker owns the jobs it
 * holds (job->req may then be NULL: the request ended early, the result
 * will be dropped). Every job is on exactly one list: its request's queue
 * or its worker's list.
 */
#include <inttypes.h>
#include <search.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <msgpack.h>

#include "gw_broker.h"
#include "gw_pproto.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_list.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_utf8.h"

#define GW_MAX_KEY 64 /* a ZAP User-Id we bind to (a Z85 key is 40) */
/* Job ids start at a random value in 1..2^52 (PROTOCOL.md §2): a
 * restarted gateway's ids never meet the old ones that workers may still
 * answer, and every id stays exact as a JSON number (a double) should one
 * ever be shown to a client: 2^52 more jobs before 2^53. */
#define GW_JOB_ID_SPAN (UINT64_C(1) << 52)

typedef struct gw_request gw_request_t;
typedef struct gw_worker gw_worker_t;

/* A notify channel: who watches it, and how many requests notify it. */
typedef struct gw_chan {
	char name[GW_CMSG_MAX_CHANNEL + 1]; /* first: the tree's key */
	sl_list_t subs;                     /* gw_sub_t, by chan_link */
	size_t n_requests; /* unfinished requests with notify = name */
} gw_chan_t;

/* One client watching one channel; on both their lists. */
typedef struct gw_sub {
	sl_list_t chan_link;   /* in chan->subs */
	sl_list_t client_link; /* in client->subs */
	gw_chan_t *chan;
	gw_client_t *client;
} gw_sub_t;

typedef struct gw_job {
	sl_list_t link;      /* in req->queue or worker->jobs */
	uint64_t id;         /* unique across gateway processes */
	gw_request_t *req;   /* NULL once the request has ended */
	gw_worker_t *worker; /* holder, NULL while queued */
	uint32_t seq;        /* item index in its request */
	uint32_t attempts;   /* workers that died holding it, in a row */
	size_t item_len;     /* bytes in item */
	uint8_t item[];      /* the item, packed msgpack */
} gw_job_t;

struct gw_request {
	sl_list_t client_link; /* in client->requests */
	sl_list_t active_link; /* in broker->active while queue non-empty */
	gw_client_t *client;   /* owner */
	char id[GW_CMSG_MAX_ID + 1];
	char task[SL_PROTO_MAX_NAME + 1];
	sl_list_t queue;     /* gw_job_t waiting for a worker, seq order */
	size_t n_items;      /* jobs created */
	size_t n_running;    /* jobs held by workers */
	size_t n_ok;         /* results forwarded */
	size_t n_failed;     /* item errors forwarded */
	int64_t t_start_us;  /* monotonic, at accept */
	int64_t deadline_us; /* monotonic; 0: no timeout_ms */
	int64_t unserved_us; /* monotonic: since then no worker runs task */
	bool timing;         /* results carry the worker's timings */
	gw_chan_t *chan;     /* notify channel (counted), or NULL */
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
	sl_list_t subs; /* gw_sub_t, by client_link */
	size_t n_subs;
	bool paused; /* slow reader: dispatch none of its jobs */
};

struct gw_worker {
	sl_list_t link; /* in broker->workers */
	uint8_t rid[SL_PROTO_MAX_RID];
	size_t rid_len;
	char name[24]; /* its label for logs (w1, w2...): never the rid, which
	                  is what another peer would need to pose as it */
	char key[GW_MAX_KEY + 1]; /* its CURVE key (ZAP User-Id); "": none */
	uint32_t capacity;        /* jobs it may hold */
	bool draining;            /* said DRAIN: no more jobs for it */
	int64_t expiry_us;        /* dead if silent until then (monotonic) */
	sl_list_t jobs;           /* gw_job_t it holds */
	size_t n_jobs;
	size_t n_tasks;
	char tasks[SL_PROTO_MAX_TASKS][SL_PROTO_MAX_NAME + 1];
};

struct gw_broker {
	gw_broker_ops_t ops;
	gw_broker_limits_t lim;
	sl_list_t clients; /* gw_client_t */
	sl_list_t workers; /* gw_worker_t */
	sl_list_t active;  /* gw_request_t with queued jobs, in turn order */
	sl_list_t shares;  /* gw_share_t, keyed */
	void *chans;       /* gw_chan_t by name: a <search.h> tree (tsearch) */
	size_t n_active;
	bool draining;        /* shutting down: refuse new requests */
	int64_t next_ping_us; /* when workers get their next PING */
	uint64_t next_job;
	uint64_t next_label;  /* of the next worker to register: w1, w2... */
	uint64_t next_serial; /* gw_out_t.serial of a fan-out */
	msgpack_sbuffer sb;   /* scratch for encoding, reused */
	gw_broker_stats_t st;
};

static void s_dispatch(gw_broker_t *self);
static void s_worker_remove(
    gw_broker_t *self, gw_worker_t *w, const char *why, bool crashed);

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

gw_broker_t *
gw_broker_new(const gw_broker_ops_t *ops, const gw_broker_limits_t *limits)
{
	gw_broker_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->ops = *ops;
	self->lim = *limits;
	if (!self->lim.hb_liveness)
		self->lim.hb_liveness = 3;
	sl_list_init(&self->clients);
	sl_list_init(&self->workers);
	sl_list_init(&self->active);
	sl_list_init(&self->shares);
	self->next_job = s_first_job_id();
	msgpack_sbuffer_init(&self->sb);
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

/* A request's frame: to its client, then to its channel's watchers,
 * marked with the channel. A watcher that cannot keep up is the
 * transport's to cut off; it never holds the request back. */
static void
s_send_watchers(gw_broker_t *self, gw_request_t *r, gw_out_t *f)
{
	if (!r->chan)
		return;
	f->channel = r->chan->name;
	f->serial = ++self->next_serial; /* one encoding for all watchers */
	for (sl_list_t *e = r->chan->subs.next; e != &r->chan->subs;
	     e = e->next) {
		if (!s_send(
		        sl_container_of(e, gw_sub_t, chan_link)->client, f))
			self->st.notified++;
	}
	f->channel = NULL;
	f->serial = 0;
}

static void
s_send_req(gw_broker_t *self, gw_request_t *r, gw_out_t *f)
{
	s_send(r->client, f);
	s_send_watchers(self, r, f);
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

static void
s_error(gw_broker_t *self, gw_client_t *c, const char *id, const char *code,
    const char *msg)
{
	gw_cmsg_err_t err;

	gw_cmsg_err_set(&err, id, code, "%s", msg);
	gw_broker_client_error(self, c, &err);
}

/* Encode a field-less message (PING, PONG) or CANCEL and send it. */
static int
s_worker_send(
    gw_broker_t *self, gw_worker_t *w, sl_msg_type_t type, uint64_t job)
{
	int rc;

	msgpack_sbuffer_clear(&self->sb);
	rc = type == SL_MSG_CANCEL ? sl_proto_encode_cancel(&self->sb, job)
	                           : sl_proto_encode_empty(&self->sb, type);
	if (!rc)
		rc = self->ops.worker_send(self->ops.ctx, w->rid, w->rid_len,
		    self->sb.data, self->sb.size);
	return rc;
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
static void
s_release_running(gw_broker_t *self, gw_request_t *r, const char *err_code,
    const char *err_msg)
{
	/* Held jobs point back at r: walk the workers once. Only requests
	 * that end early pay for this. */
	for (sl_list_t *e = self->workers.next;
	     r->n_running && e != &self->workers; e = e->next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

		for (sl_list_t *j = w->jobs.next; j != &w->jobs; j = j->next) {
			gw_job_t *job = sl_container_of(j, gw_job_t, link);

			if (job->req != r)
				continue;
			job->req = NULL;
			r->n_running--;
			/* A failed send means the worker is gone: the next
			 * heartbeat finds out and frees the job. */
			s_worker_send(self, w, SL_MSG_CANCEL, job->id);
			if (err_code) {
				r->n_failed++;
				r->client->share->open--;
				s_item_error(
				    self, r, job->seq, err_code, err_msg);
			}
		}
	}
}

/* ---- channels -------------------------------------------------------
 */

/* Channels are looked up at subscribe and at submit with notify (never
 * per result: a request holds its channel), in a balanced tree (glibc's
 * tsearch is a red-black tree): many channels stay cheap. */
static int
s_chan_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const gw_chan_t *) a)->name, ((const gw_chan_t *) b)->name);
}

/* The channel called name, made if new; NULL on ENOMEM. */
static gw_chan_t *
s_chan_get(gw_broker_t *self, const char *name)
{
	gw_chan_t *ch = calloc(1, sizeof *ch);
	void *node;

	if (!ch)
		return NULL;
	snprintf(ch->name, sizeof ch->name, "%s", name);
	node = tsearch(ch, &self->chans, s_chan_cmp);
	if (!node) {
		free(ch);
		return NULL;
	}
	if (*(gw_chan_t **) node != ch) { /* it was there already */
		free(ch);
		return *(gw_chan_t **) node;
	}
	sl_list_init(&ch->subs);
	self->st.channels++;
	return ch;
}

/* Free ch once nobody watches it and no request notifies it. */
static void
s_chan_put(gw_broker_t *self, gw_chan_t *ch)
{
	if (!sl_list_empty(&ch->subs) || ch->n_requests)
		return;
	tdelete(ch, &self->chans, s_chan_cmp);
	self->st.channels--;
	free(ch);
}

static gw_sub_t *
s_sub_find(gw_client_t *c, const char *name)
{
	for (sl_list_t *e = c->subs.next; e != &c->subs; e = e->next) {
		gw_sub_t *sub = sl_container_of(e, gw_sub_t, client_link);

		if (!strcmp(sub->chan->name, name))
			return sub;
	}
	return NULL;
}

static void
s_sub_free(gw_broker_t *self, gw_sub_t *sub)
{
	gw_chan_t *ch = sub->chan;

	sl_list_remove(&sub->chan_link);
	sl_list_remove(&sub->client_link);
	sub->client->n_subs--;
	self->st.subscriptions--;
	free(sub);
	s_chan_put(self, ch);
}

static void
s_chan_error(gw_broker_t *self, gw_client_t *c, const char *channel,
    const char *code, const char *msg)
{
	gw_cmsg_err_t err;

	gw_cmsg_err_set(&err, NULL, code, "%s", msg);
	snprintf(err.channel, sizeof err.channel, "%s", channel);
	gw_broker_client_error(self, c, &err);
}

static void
s_subscribe(gw_broker_t *self, gw_client_t *c, const char *name)
{
	gw_out_t f = { .type = GW_OUT_SUBSCRIBED, .channel = name };
	gw_sub_t *sub = s_sub_find(c, name);

	if (!sub) {
		if (c->n_subs >= self->lim.max_subscriptions)
			return s_chan_error(self, c, name,
			    "too_many_subscriptions",
			    "this connection watches as many channels as it "
			    "may; unsubscribe first");
		sub = calloc(1, sizeof *sub);
		if (!sub || !(sub->chan = s_chan_get(self, name))) {
			free(sub);
			return s_chan_error(
			    self, c, name, "internal", "out of memory");
		}
		sub->client = c;
		sl_list_push_back(&sub->chan->subs, &sub->chan_link);
		sl_list_push_back(&c->subs, &sub->client_link);
		c->n_subs++;
		self->st.subscriptions++;
		SL_INFO("CHAN-SUB", "channel=%s subscriptions=%zu", name,
		    c->n_subs);
	}
	f.subscriptions = c->n_subs;
	s_send(c, &f);
}

static void
s_unsubscribe(gw_broker_t *self, gw_client_t *c, const char *name)
{
	gw_out_t f = { .type = GW_OUT_UNSUBSCRIBED, .channel = name };
	gw_sub_t *sub = s_sub_find(c, name);

	if (!sub)
		return s_chan_error(self, c, name, "not_subscribed",
		    "this connection does not watch this channel");
	s_sub_free(self, sub);
	SL_INFO("CHAN-UNSUB", "channel=%s subscriptions=%zu", name, c->n_subs);
	f.subscriptions = c->n_subs;
	s_send(c, &f);
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
		free(sl_container_of(e, gw_job_t, link));
		self->st.queued--;
	}
	s_release_running(self, r, NULL, NULL);
	r->client->share->open -= r->n_items - r->n_ok - r->n_failed;
	sl_list_remove(&r->client_link);
	r->client->n_requests--;
	self->st.requests--;
	if (r->chan) {
		r->chan->n_requests--;
		s_chan_put(self, r->chan);
	}
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
		gw_job_t *job = sl_container_of(e, gw_job_t, link);

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

static bool
s_worker_runs(const gw_worker_t *w, const char *task)
{
	for (size_t i = 0; i < w->n_tasks; i++)
		if (!strcmp(w->tasks[i], task))
			return true;
	return false;
}

static bool
s_task_known(const gw_broker_t *self, const char *task)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next)
		if (s_worker_runs(sl_container_of(e, gw_worker_t, link), task))
			return true;
	return false;
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
		job->id = self->next_job++;
		job->req = r;
		job->worker = NULL;
		job->seq = (uint32_t) i;
		job->attempts = 0;
		job->item_len = len;
		memcpy(job->item, item, len);
		sl_list_push_back(&r->queue, &job->link);
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
	size_t workers = self->st.workers;
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
		r->chan = s_chan_get(self, m->channel);
		if (!r->chan) {
			s_request_free(self, r);
			return s_error(
			    self, c, m->id, "internal", "out of memory");
		}
		r->chan->n_requests++;
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
			.workers = self->st.workers,
			.queued = self->st.queued,
			.running = self->st.running,
			.draining = self->draining };

		s_send(client, &f);
		break;
	}
	case GW_CMSG_SUBSCRIBE:
		s_subscribe(self, client, msg->channel);
		break;
	case GW_CMSG_UNSUBSCRIBE:
		s_unsubscribe(self, client, msg->channel);
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
	sl_list_init(&c->subs);
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
	while ((e = sl_list_first(&c->subs)))
		s_sub_free(self, sl_container_of(e, gw_sub_t, client_link));
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
		s_send_watchers(self, r, &f);
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

/* ---- workers -------------------------------------------------------------
 */

static gw_worker_t *
s_worker_find(gw_broker_t *self, const uint8_t *rid, size_t rid_len)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

		if (w->rid_len == rid_len && !memcmp(w->rid, rid, rid_len))
			return w;
	}
	return NULL;
}

/*
 * Take a held job back from its worker. It returns to the front of its
 * request's queue, unless the worker died holding it for the second time
 * in a row (crashed): then it is a poison item and ends as an error.
 */
static void
s_take_back(gw_broker_t *self, gw_job_t *job, bool crashed)
{
	gw_request_t *r = job->req;

	sl_list_remove(&job->link);
	job->worker->n_jobs--;
	job->worker = NULL;
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
	job->id = self->next_job++;
	sl_list_push_front(&r->queue, &job->link);
	self->st.queued++;
	self->st.requeued++;
	s_activate(self, r);
}

/* Forget a worker; every job it held goes back to its queue. */
static void
s_worker_remove(
    gw_broker_t *self, gw_worker_t *w, const char *why, bool crashed)
{
	size_t held = w->n_jobs;
	sl_list_t *e;

	/* Last first: each goes to the front of its queue, so every request
	 * gets its items back in the order they were sent. */
	while ((e = sl_list_last(&w->jobs)))
		s_take_back(self, sl_container_of(e, gw_job_t, link), crashed);
	self->st.capacity -= w->capacity;
	self->st.workers--;
	if (crashed)
		self->st.workers_lost++;
	sl_list_remove(&w->link);
	SL_NOTICE("WRK-GONE", "worker=%s reason=%s requeued=%zu", w->name, why,
	    held);
	free(w);
}

static void
s_on_ready(gw_broker_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const sl_msg_ready_t *m)
{
	gw_worker_t *w = s_worker_find(self, rid, rid_len);
	char id[48];

	/* READY from a known worker means it restarted and holds nothing:
	 * what it had died with it. */
	if (w)
		s_worker_remove(self, w, "re-registered", true);
	w = calloc(1, sizeof *w);
	if (!w) {
		SL_ERR("WRK-ENOMEM", "cannot register a worker");
		return;
	}
	memcpy(w->rid, rid, rid_len);
	w->rid_len = rid_len;
	snprintf(w->name, sizeof w->name, "w%" PRIu64, ++self->next_label);
	snprintf(w->key, sizeof w->key, "%s", key);
	w->capacity = m->capacity;
	sl_list_init(&w->jobs);
	for (size_t i = 0; i < m->n_tasks; i++) {
		memcpy(w->tasks[i], m->tasks[i].ptr, m->tasks[i].len);
		w->tasks[i][m->tasks[i].len] = '\0';
	}
	w->n_tasks = m->n_tasks;
	sl_list_push_back(&self->workers, &w->link);
	self->st.capacity += w->capacity;
	self->st.workers++;
	SL_NOTICE("WRK-READY",
	    "worker=%s capacity=%u tasks=%zu pid=%u host=%.*s", w->name,
	    w->capacity, w->n_tasks, m->pid, (int) m->host.len,
	    m->host.ptr ? m->host.ptr : "");
	if (SL_LOG_DEBUG <= sl_log_level()) {
		sl_rid_name(rid, rid_len, id, sizeof id);
		SL_DEBUG("WRK-ID", "worker=%s id=%s key=%.8s", w->name, id,
		    w->key[0] ? w->key : "-");
	}
	/* Tell it (PROTOCOL.md §2): a worker that never hears this is
	 * talking to something that is not a gateway that accepts it. A
	 * failed send shows again at the next PING. */
	msgpack_sbuffer_clear(&self->sb);
	if (!sl_proto_encode_registered(&self->sb, w->name))
		self->ops.worker_send(self->ops.ctx, w->rid, w->rid_len,
		    self->sb.data, self->sb.size);
}

static gw_job_t *
s_worker_job(gw_worker_t *w, uint64_t job_id)
{
	for (sl_list_t *e = w->jobs.next; e != &w->jobs; e = e->next) {
		gw_job_t *job = sl_container_of(e, gw_job_t, link);

		if (job->id == job_id)
			return job;
	}
	return NULL;
}

static void
s_on_result(gw_broker_t *self, gw_worker_t *w, const sl_msg_result_t *m)
{
	gw_job_t *job = s_worker_job(w, m->job);
	gw_request_t *r;
	const char *why = NULL;
	char code[SL_PROTO_MAX_NAME + 1], msg[SL_PROTO_MAX_TEXT + 1];
	int rc = 0;

	if (!job) {
		/* Not held by this worker: a duplicate, or the job was
		 * requeued and someone else has it. Never forward twice. */
		self->st.stale++;
		SL_INFO(
		    "JOB-STALE", "worker=%s job=%" PRIu64, w->name, m->job);
		return;
	}
	sl_list_remove(&job->link);
	w->n_jobs--;
	self->st.running--;
	r = job->req;
	if (r) {
		r->n_running--;
		gw_hist_observe_us(&self->st.item_latency,
		    sl_clock_mono_us() - r->t_start_us);
		/* Values stay msgpack (a msgpack client gets them as the
		 * worker sent them) but must have a JSON form: checked once,
		 * here, whoever receives them. */
		if (m->ok)
			rc = sl_json_mp_check(
			    m->value, SL_PROTO_MAX_ITEM_DEPTH, &why);
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
			if (m->ok) {
				snprintf(code, sizeof code, "bad_result");
				snprintf(msg, sizeof msg,
				    "the worker's value has no JSON form: %s",
				    rc == SL_ETOOBIG      ? "nested too deeply"
				        : rc == SL_ENOMEM ? "out of memory"
				                          : why);
			} else {
				snprintf(code, sizeof code, "%.*s",
				    (int) m->code.len, m->code.ptr);
				snprintf(msg, sizeof msg, "%.*s",
				    (int) m->message.len,
				    m->message.ptr ? m->message.ptr : "");
				/* Passed on to clients (and watchers) as
				 * strings: well-formed UTF-8, even if the
				 * worker's was not or was cut above. */
				sl_utf8_clean(code);
				sl_utf8_clean(msg);
			}
			r->n_failed++;
			r->client->share->open--;
			self->st.items_failed++;
			s_item_error(self, r, job->seq, code, msg);
		}
		self->st.results++;
		s_request_progress(self, r, 0);
	} else {
		self->st.stale++; /* its request ended early */
	}
	free(job);
}

void
gw_broker_on_worker_frame(gw_broker_t *self, const uint8_t *rid,
    size_t rid_len, const void *data, size_t len)
{
	gw_broker_on_worker_frame_from(self, rid, rid_len, NULL, data, len);
}

/* An unregistered sender has no label; its routing id is logged at
 * debug level only. */
static void
s_log_unregistered(const uint8_t *rid, size_t rid_len)
{
	char id[48];

	if (SL_LOG_DEBUG > sl_log_level())
		return;
	sl_rid_name(rid, rid_len, id, sizeof id);
	SL_DEBUG("WRK-ID", "worker=unregistered id=%s", id);
}

/*
 * A frame from an unregistered sender that failed to decode as a worker
 * frame: if it is a producer's (a msgpack map with a type, PROTOCOL.md
 * §3), someone pointed a producer such as sluice-submit at the workers
 * endpoint. Answer it in its own protocol with error wrong_endpoint
 * instead of leaving it to wait. Returns true if it was one.
 */
static bool
s_answer_producer(gw_broker_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	gw_cmsg_t msg;
	gw_cmsg_err_t err;
	gw_out_t f;

	if (!gw_pproto_parse(data, len, self->lim.max_items, &msg, &err)) {
		gw_cmsg_err_set(&err, msg.id, "wrong_endpoint", "-");
		gw_cmsg_clear(&msg);
	} else if (!strcmp(err.code, "bad_msgpack")
	    || !strcmp(err.code, "bad_message")) {
		return false; /* not a producer's either */
	}
	err.code = "wrong_endpoint";
	snprintf(err.message, sizeof err.message,
	    "this is the gateway's workers endpoint; producers connect to "
	    "its producers endpoint (--producers, default "
	    "tcp://127.0.0.1:5556)");
	f = gw_out_error(&err);
	msgpack_sbuffer_clear(&self->sb);
	if (!gw_pproto_encode(&f, &self->sb))
		self->ops.worker_send(
		    self->ops.ctx, rid, rid_len, self->sb.data, self->sb.size);
	return true;
}

/* Is key (NULL: no CURVE) the one w registered with? */
static bool
s_key_is(const gw_worker_t *w, const char *key)
{
	return !strncmp(w->key, key ? key : "", sizeof w->key);
}

void
gw_broker_on_worker_frame_from(gw_broker_t *self, const uint8_t *rid,
    size_t rid_len, const char *key, const void *data, size_t len)
{
	gw_worker_t *w = s_worker_find(self, rid, rid_len);
	const char *why;
	sl_msg_t m;
	int rc;

	sl_msg_init(&m);
	/* A routing id is bound to the key it registered with. Another key
	 * under it means ZeroMQ now routes that id to another connection:
	 * without HANDOVER (CURVE) only once the worker's own is gone. So
	 * the worker is gone, and nothing more may be sent under its id. */
	if (w && !s_key_is(w, key)) {
		self->st.hijacks++;
		SL_WARN("WRK-HIJACK",
		    "worker=%s: a message under its routing id from another "
		    "CURVE key (%.8s...), dropped; its jobs go back",
		    w->name, key ? key : "-");
		/* Not counted as a crash: a stranger must not be able to
		 * make items end as worker_lost. */
		s_worker_remove(self, w, "id_taken", false);
		s_dispatch(self);
		goto out;
	}
	rc = sl_proto_decode(data, len, &m, &why);
	if (rc && !w && s_answer_producer(self, rid, rid_len, data, len)) {
		self->st.bad_frames++;
		SL_WARN("WRK-BADMSG",
		    "worker=unregistered bytes=%zu: a producer's frame on the "
		    "workers endpoint; answered wrong_endpoint",
		    len);
		s_log_unregistered(rid, rid_len);
		goto out;
	}
	if (rc) {
		self->st.bad_frames++;
		SL_WARN("WRK-BADMSG", "worker=%s bytes=%zu err=%s why=\"%s\"",
		    w ? w->name : "unregistered", len, sl_strerror(rc), why);
		if (!w)
			s_log_unregistered(rid, rid_len);
		goto out;
	}
	if (m.type == SL_MSG_READY && rid_len <= SL_PROTO_MAX_RID)
		s_on_ready(self, rid, rid_len, key ? key : "", &m.u.ready);
	w = s_worker_find(self, rid, rid_len);
	if (!w) {
		/* e.g. a worker we declared dead, or from before a gateway
		 * restart: it re-registers when it notices our silence. */
		self->st.stale++;
		SL_INFO("WRK-UNKNOWN", "worker=unregistered type=%s dropped",
		    sl_proto_type_name(m.type));
		s_log_unregistered(rid, rid_len);
		goto out;
	}
	/* Any message proves the worker alive. */
	w->expiry_us = sl_clock_mono_us()
	    + self->lim.hb_ivl_us * (int64_t) self->lim.hb_liveness;
	switch (m.type) {
	case SL_MSG_READY:
	case SL_MSG_PONG:
		break;
	case SL_MSG_PING:
		if (s_worker_send(self, w, SL_MSG_PONG, 0) == SL_ENOTFOUND)
			s_worker_remove(self, w, "unreachable", true);
		break;
	case SL_MSG_RESULT:
		s_on_result(self, w, &m.u.result);
		break;
	case SL_MSG_DRAIN:
		SL_NOTICE(
		    "WRK-DRAIN", "worker=%s running=%zu", w->name, w->n_jobs);
		w->draining = true;
		break;
	case SL_MSG_BYE:
		s_worker_remove(self, w, "bye", false);
		break;
	default:
		self->st.bad_frames++;
		SL_WARN("WRK-BADMSG", "worker=%s type=%s is not for a gateway",
		    w->name, sl_proto_type_name(m.type));
		goto out;
	}
	s_dispatch(self);
out:
	sl_msg_clear(&m);
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
	if (!self->lim.hb_ivl_us)
		return;
	/* Silent workers are dead (Paranoid Pirate): what they held is
	 * requeued at once. Then everybody alive gets a PING. */
	for (e = self->workers.next; e != &self->workers; e = next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

		next = e->next;
		if (now_us >= w->expiry_us) {
			self->st.hb_missed++;
			s_worker_remove(self, w, "silent", true);
		}
	}
	if (now_us >= self->next_ping_us) {
		self->next_ping_us = now_us + self->lim.hb_ivl_us;
		for (e = self->workers.next; e != &self->workers; e = next) {
			gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

			next = e->next;
			/* Only a vanished peer is dead now; one whose queue is
			 * full (SL_EFULL) gets until its expiry to read. */
			if (s_worker_send(self, w, SL_MSG_PING, 0)
			    == SL_ENOTFOUND)
				s_worker_remove(self, w, "unreachable", true);
		}
	}
	s_dispatch(self);
}

void
gw_broker_drain(gw_broker_t *self)
{
	self->draining = true;
	self->st.draining = true;
}

/* A worker that will take jobs of task (now, or when it has credit). */
static bool
s_task_served(const gw_broker_t *self, const char *task)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		const gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

		if (!w->draining && s_worker_runs(w, task))
			return true;
	}
	return false;
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
			        && s_task_served(self, r->task)))
				return true;
		}
	}
	return false;
}

/* ---- dispatch ------------------------------------------------------------
 */

static bool
s_has_credit(const gw_worker_t *w)
{
	return !w->draining && w->n_jobs < w->capacity;
}

/* The worker with the most free credit that runs task, or NULL. */
static gw_worker_t *
s_pick_worker(gw_broker_t *self, const char *task)
{
	gw_worker_t *best = NULL;

	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, link);

		if (s_has_credit(w) && s_worker_runs(w, task)
		    && (!best
		        || w->capacity - w->n_jobs
		            > best->capacity - best->n_jobs))
			best = w;
	}
	return best;
}

static bool
s_any_credit(const gw_broker_t *self)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next)
		if (s_has_credit(sl_container_of(e, gw_worker_t, link)))
			return true;
	return false;
}

/* Hand job to w. On failure w is removed and the job requeued. */
static void
s_send_job(gw_broker_t *self, gw_worker_t *w, gw_job_t *job)
{
	gw_request_t *r = job->req;
	int rc;

	sl_list_push_back(&w->jobs, &job->link);
	job->worker = w;
	w->n_jobs++;
	self->st.running++;
	r->n_running++;
	msgpack_sbuffer_clear(&self->sb);
	rc = sl_proto_encode_job(&self->sb, job->id, r->task, strlen(r->task),
	    job->item, job->item_len);
	if (!rc)
		rc = self->ops.worker_send(self->ops.ctx, w->rid, w->rid_len,
		    self->sb.data, self->sb.size);
	if (rc) {
		/* It never reached w: back in the queue, not an attempt. */
		s_take_back(self, job, false);
		s_worker_remove(self, w, sl_strerror(rc), true);
		return;
	}
	SL_DEBUG("JOB-SENT", "req=%s seq=%u job=%" PRIu64 " worker=%s", r->id,
	    job->seq, job->id, w->name);
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

	while (self->n_active && idle < self->n_active && s_any_credit(self)) {
		gw_request_t *r = sl_container_of(
		    sl_list_first(&self->active), gw_request_t, active_link);
		gw_worker_t *w
		    = r->client->paused ? NULL : s_pick_worker(self, r->task);
		gw_job_t *job;

		s_deactivate(self, r);
		if (!w) {
			s_activate(self, r);
			idle++;
			continue;
		}
		idle = 0;
		job = sl_container_of(
		    sl_list_first(&r->queue), gw_job_t, link);
		sl_list_remove(&job->link);
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
	*out = self->st;
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
	while ((e = sl_list_first(&self->workers)))
		s_worker_remove(self, sl_container_of(e, gw_worker_t, link),
		    "shutdown", false);
	msgpack_sbuffer_destroy(&self->sb);
	free(self);
	*self_p = NULL;
}
