/*
 * gw_notify: notify channels and subscriptions (see gw_notify.h). lws
 * service thread only.
 *
 * Ownership: this module owns channels and subscriptions; a subscription
 * is on two lists, its channel's and its watcher's (which lives in the
 * broker's client).
 */
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_notify.h"
#include "sl_log.h"

struct gw_notify_chan {
	char name[GW_CMSG_MAX_CHANNEL + 1]; /* first: the tree's key */
	sl_list_t subs;                     /* gw_sub_t, by chan_link */
	size_t n_requests; /* unfinished requests with notify = name */
};

/* One client watching one channel; on both their lists. */
typedef struct gw_sub {
	sl_list_t chan_link;    /* in chan->subs */
	sl_list_t watcher_link; /* in watcher->subs */
	gw_notify_chan_t *chan;
	gw_notify_watcher_t *watcher;
} gw_sub_t;

struct gw_notify {
	gw_notify_ops_t ops;
	size_t max_subs;      /* per watcher */
	void *chans;          /* gw_notify_chan_t by name: a tsearch tree */
	uint64_t next_serial; /* gw_out_t.serial of a fan-out */
	gw_notify_stats_t st;
};

gw_notify_t *
gw_notify_new(const gw_notify_ops_t *ops, size_t max_subscriptions)
{
	gw_notify_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->ops = *ops;
	self->max_subs = max_subscriptions;
	return self;
}

/* ---- channels ------------------------------------------------------- */

/* Channels are looked up at subscribe and at submit with notify (never
 * per result: a request holds its channel), in a balanced tree (glibc's
 * tsearch is a red-black tree): many channels stay cheap. */
static int
s_chan_cmp(const void *a, const void *b)
{
	return strcmp(((const gw_notify_chan_t *) a)->name,
	    ((const gw_notify_chan_t *) b)->name);
}

/* The channel called name, made if new; NULL on ENOMEM. */
static gw_notify_chan_t *
s_chan_get(gw_notify_t *self, const char *name)
{
	gw_notify_chan_t *ch = calloc(1, sizeof *ch);
	void *node;

	if (!ch)
		return NULL;
	snprintf(ch->name, sizeof ch->name, "%s", name);
	node = tsearch(ch, &self->chans, s_chan_cmp);
	if (!node) {
		free(ch);
		return NULL;
	}
	if (*(gw_notify_chan_t **) node != ch) { /* it was there already */
		free(ch);
		return *(gw_notify_chan_t **) node;
	}
	sl_list_init(&ch->subs);
	self->st.channels++;
	return ch;
}

/* Free ch once nobody watches it and no request notifies it. */
static void
s_chan_put(gw_notify_t *self, gw_notify_chan_t *ch)
{
	if (!sl_list_empty(&ch->subs) || ch->n_requests)
		return;
	tdelete(ch, &self->chans, s_chan_cmp);
	self->st.channels--;
	free(ch);
}

gw_notify_chan_t *
gw_notify_hold(gw_notify_t *self, const char *name)
{
	gw_notify_chan_t *ch = s_chan_get(self, name);

	if (ch)
		ch->n_requests++;
	return ch;
}

void
gw_notify_release(gw_notify_t *self, gw_notify_chan_t *ch)
{
	ch->n_requests--;
	s_chan_put(self, ch);
}

void
gw_notify_fanout(gw_notify_t *self, gw_notify_chan_t *ch, gw_out_t *frame)
{
	if (!ch)
		return;
	frame->channel = ch->name;
	frame->serial = ++self->next_serial; /* one encoding for all */
	for (sl_list_t *e = ch->subs.next; e != &ch->subs; e = e->next) {
		gw_sub_t *sub = sl_container_of(e, gw_sub_t, chan_link);

		if (!self->ops.send(
		        self->ops.ctx, sub->watcher->client, frame))
			self->st.notified++;
	}
	frame->channel = NULL;
	frame->serial = 0;
}

/* ---- subscriptions -------------------------------------------------- */

void
gw_notify_watcher_init(gw_notify_watcher_t *w, void *client)
{
	sl_list_init(&w->subs);
	w->n_subs = 0;
	w->client = client;
}

static gw_sub_t *
s_sub_find(gw_notify_watcher_t *w, const char *name)
{
	for (sl_list_t *e = w->subs.next; e != &w->subs; e = e->next) {
		gw_sub_t *sub = sl_container_of(e, gw_sub_t, watcher_link);

		if (!strcmp(sub->chan->name, name))
			return sub;
	}
	return NULL;
}

static void
s_sub_free(gw_notify_t *self, gw_sub_t *sub)
{
	gw_notify_chan_t *ch = sub->chan;

	sl_list_remove(&sub->chan_link);
	sl_list_remove(&sub->watcher_link);
	sub->watcher->n_subs--;
	self->st.subscriptions--;
	free(sub);
	s_chan_put(self, ch);
}

void
gw_notify_watcher_fini(gw_notify_t *self, gw_notify_watcher_t *w)
{
	sl_list_t *e;

	while ((e = sl_list_first(&w->subs)))
		s_sub_free(self, sl_container_of(e, gw_sub_t, watcher_link));
}

static void
s_error(gw_notify_t *self, gw_notify_watcher_t *w, const char *channel,
    const char *code, const char *msg)
{
	gw_cmsg_err_t err;

	gw_cmsg_err_set(&err, NULL, code, "%s", msg);
	snprintf(err.channel, sizeof err.channel, "%s", channel);
	self->ops.error(self->ops.ctx, w->client, &err);
}

/* What a subscribe or an unsubscribe is answered with. */
static void
s_answer(gw_notify_t *self, gw_notify_watcher_t *w, gw_out_type_t type,
    const char *name)
{
	gw_out_t f
	    = { .type = type, .channel = name, .subscriptions = w->n_subs };

	self->ops.send(self->ops.ctx, w->client, &f);
}

void
gw_notify_subscribe(
    gw_notify_t *self, gw_notify_watcher_t *w, const char *name)
{
	gw_sub_t *sub = s_sub_find(w, name);

	if (!sub) {
		if (w->n_subs >= self->max_subs)
			return s_error(self, w, name, "too_many_subscriptions",
			    "this connection watches as many channels as it "
			    "may; unsubscribe first");
		sub = calloc(1, sizeof *sub);
		if (!sub || !(sub->chan = s_chan_get(self, name))) {
			free(sub);
			return s_error(
			    self, w, name, "internal", "out of memory");
		}
		sub->watcher = w;
		sl_list_push_back(&sub->chan->subs, &sub->chan_link);
		sl_list_push_back(&w->subs, &sub->watcher_link);
		w->n_subs++;
		self->st.subscriptions++;
		SL_INFO("CHAN-SUB", "channel=%s subscriptions=%zu", name,
		    w->n_subs);
	}
	s_answer(self, w, GW_OUT_SUBSCRIBED, name);
}

void
gw_notify_unsubscribe(
    gw_notify_t *self, gw_notify_watcher_t *w, const char *name)
{
	gw_sub_t *sub = s_sub_find(w, name);

	if (!sub)
		return s_error(self, w, name, "not_subscribed",
		    "this connection does not watch this channel");
	s_sub_free(self, sub);
	SL_INFO("CHAN-UNSUB", "channel=%s subscriptions=%zu", name, w->n_subs);
	s_answer(self, w, GW_OUT_UNSUBSCRIBED, name);
}

void
gw_notify_stats(const gw_notify_t *self, gw_notify_stats_t *out)
{
	*out = self->st;
}

void
gw_notify_destroy(gw_notify_t **self_p)
{
	gw_notify_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	/* Normally empty by now; a channel left is freed, not its subs. */
	while (self->chans) {
		gw_notify_chan_t *ch = *(gw_notify_chan_t **) self->chans;

		tdelete(ch, &self->chans, s_chan_cmp);
		free(ch);
	}
	free(self);
	*self_p = NULL;
}
