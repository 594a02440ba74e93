/*
 * gw_peer: routing id, bound CURVE key and label of a ROUTER's peer (see
 * gw_peer.h). No state; lws service thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gw_peer.h"
#include "sl_err.h"

int
gw_peer_init(gw_peer_t *p, const uint8_t *rid, size_t rid_len, const char *key,
    char prefix, uint64_t *counter)
{
	if (!rid_len || rid_len > SL_PROTO_MAX_RID)
		return SL_EINVAL;
	memcpy(p->rid, rid, rid_len);
	p->rid_len = rid_len;
	snprintf(p->name, sizeof p->name, "%c%" PRIu64, prefix, ++*counter);
	snprintf(p->key, sizeof p->key, "%s", key ? key : "");
	return 0;
}

gw_peer_t *
gw_peer_find(const sl_list_t *list, const uint8_t *rid, size_t rid_len)
{
	for (sl_list_t *e = list->next; e != list; e = e->next) {
		gw_peer_t *p = sl_container_of(e, gw_peer_t, link);

		if (p->rid_len == rid_len && !memcmp(p->rid, rid, rid_len))
			return p;
	}
	return NULL;
}

bool
gw_peer_key_is(const gw_peer_t *p, const char *key)
{
	return !strncmp(p->key, key ? key : "", sizeof p->key);
}
