/*
 * gw_wsping: ping and hang-up times of WebSocket clients (see
 * gw_wsping.h).
 */
#include "gw_wsping.h"

void
gw_wsping_init(
    gw_wsping_t *k, int64_t ping_us, int64_t hangup_us, size_t max_per_run)
{
	sl_list_init(&k->idle);
	sl_list_init(&k->pinged);
	k->ping_us = ping_us;
	k->answer_us = hangup_us - ping_us;
	k->max_per_run = max_per_run;
}

void
gw_wsping_node_init(gw_wsping_node_t *n)
{
	sl_list_init(&n->link);
	n->due = 0;
}

void
gw_wsping_heard(gw_wsping_t *k, gw_wsping_node_t *n, int64_t now_us)
{
	/* Every node in idle got now + ping_us when it went in: appending
	 * keeps the list sorted by due. */
	sl_list_remove(&n->link);
	n->due = now_us + k->ping_us;
	sl_list_push_back(&k->idle, &n->link);
}

void
gw_wsping_remove(gw_wsping_node_t *n)
{
	if (n)
		sl_list_remove(&n->link);
}

/* The head of l if it is due at now_us, else NULL. */
static gw_wsping_node_t *
s_due(sl_list_t *l, int64_t now_us)
{
	gw_wsping_node_t *n;

	if (sl_list_empty(l))
		return NULL;
	n = sl_container_of(l->next, gw_wsping_node_t, link);
	return n->due <= now_us ? n : NULL;
}

size_t
gw_wsping_run(
    gw_wsping_t *k, int64_t now_us, const gw_wsping_ops_t *ops, void *ctx)
{
	gw_wsping_node_t *n;
	size_t pings = 0;

	while ((n = s_due(&k->pinged, now_us))) {
		sl_list_remove(&n->link);
		ops->hangup(ctx, n);
	}
	while (pings < k->max_per_run && (n = s_due(&k->idle, now_us))) {
		sl_list_remove(&n->link);
		n->due = now_us + k->answer_us;
		sl_list_push_back(&k->pinged, &n->link);
		ops->ping(ctx, n);
		pings++;
	}
	return pings;
}
