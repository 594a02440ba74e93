/*
 * gw_notify: notify channels and the clients that watch them.
 *
 * A request submitted with notify CHANNEL holds that channel; each of its
 * frames (accepted, results, item errors, done) is fanned out to every
 * client subscribed to CHANNEL, marked with the channel's name, encoded
 * once for all of them (gw_out_t.serial). Subscriptions are bounded per
 * client and end with it; a channel lives while it has subscribers or
 * holding requests. Channels are found by name in a balanced tree.
 *
 * Clients are the broker's: each embeds a gw_notify_watcher_t, and frames
 * reach them through gw_notify_ops_t. This module answers subscribe and
 * unsubscribe itself (subscribed, unsubscribed, or an error frame).
 *
 * lws service thread only.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_cmsg.h"
#include "gw_out.h"
#include "sl_list.h"

typedef struct gw_notify gw_notify_t;
typedef struct gw_notify_chan gw_notify_chan_t;

/* How frames reach a client (client: gw_notify_watcher_t.client). */
typedef struct gw_notify_ops {
	/* Queue frame for client; 0, or < 0 if it was dropped. frame is
	 * borrowed for the call. */
	int (*send)(void *ctx, void *client, const gw_out_t *frame);
	/* Answer client with an error frame (and count it). */
	void (*error)(void *ctx, void *client, const gw_cmsg_err_t *err);
	void *ctx;
} gw_notify_ops_t;

/* One client's subscriptions; embedded in the client by its owner. */
typedef struct gw_notify_watcher {
	sl_list_t subs; /* its subscriptions (private) */
	size_t n_subs;  /* channels it watches */
	void *client;   /* handed to ops.send / ops.error */
} gw_notify_watcher_t;

typedef struct gw_notify_stats {
	size_t subscriptions; /* (client, channel) pairs, all clients */
	size_t channels;      /* channels watched or notified */
	uint64_t notified;    /* frames sent to a channel's watchers */
} gw_notify_stats_t;

/* max_subscriptions: channels one client may watch. ops is copied.
 * NULL on ENOMEM. Caller owns the result. */
gw_notify_t *gw_notify_new(
    const gw_notify_ops_t *ops, size_t max_subscriptions);
/* Every watcher must have gone (gw_notify_watcher_fini) and every
 * channel been released first. NULL-safe. */
void gw_notify_destroy(gw_notify_t **self_p);

void gw_notify_watcher_init(gw_notify_watcher_t *w, void *client);
/* The client goes: all its subscriptions end (no frame is sent). */
void gw_notify_watcher_fini(gw_notify_t *self, gw_notify_watcher_t *w);

/* A client's subscribe / unsubscribe: answered through ops, with
 * subscribed / unsubscribed or an error (too_many_subscriptions,
 * not_subscribed, internal). Subscribing twice is not an error. */
void gw_notify_subscribe(
    gw_notify_t *self, gw_notify_watcher_t *w, const char *name);
void gw_notify_unsubscribe(
    gw_notify_t *self, gw_notify_watcher_t *w, const char *name);

/* A request notifies name: its channel, held until released. NULL on
 * ENOMEM. */
gw_notify_chan_t *gw_notify_hold(gw_notify_t *self, const char *name);
void gw_notify_release(gw_notify_t *self, gw_notify_chan_t *ch);

/* Send frame to every watcher of ch (NULL: none), marked with ch's name
 * and a fresh serial; frame is as it was when this returns. A watcher
 * that cannot keep up is its transport's to cut off: it never holds the
 * request back. */
void gw_notify_fanout(
    gw_notify_t *self, gw_notify_chan_t *ch, gw_out_t *frame);

void gw_notify_stats(const gw_notify_t *self, gw_notify_stats_t *out);

#endif
