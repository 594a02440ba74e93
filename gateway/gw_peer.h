/*
 * gw_peer: a peer of one of the gateway's ROUTERs (a worker, a producer)
 * as the gateway knows it: its routing id, the CURVE key that routing id
 * is bound to, and its label for logs.
 *
 * A routing id is bound to the key its first frame came with. Another key
 * under it means ZeroMQ now routes that id to another connection (without
 * ZMQ_ROUTER_HANDOVER, which CURVE rules out, only once the peer's own is
 * gone): the peer is gone, and nothing more may be sent under its id
 * (WRK-HIJACK, PRD-HIJACK). Peers are labelled w1, w2... or p1, p2... in
 * logs, never by routing id, which is what another peer would need to
 * pose as one.
 *
 * Plain data embedded by its endpoint (gw_workers, gw_prod), which owns
 * it; no state here. lws service thread only.
 */
#ifndef GW_PEER_H
#define GW_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_list.h"
#include "sl_proto.h"
#include "sl_zap.h"

typedef struct gw_peer {
	sl_list_t link; /* in its endpoint's list of peers */
	uint8_t rid[SL_PROTO_MAX_RID];
	size_t rid_len;
	char name[24];                    /* label for logs: w1, p1... */
	char key[SL_ZAP_USER_ID_MAX + 1]; /* bound CURVE key; "": none */
} gw_peer_t;

/* Fill p for routing id rid and key (NULL: no CURVE), labelled prefix
 * and ++*counter. 0, or SL_EINVAL when rid is not 1..SL_PROTO_MAX_RID
 * bytes (p untouched). */
int gw_peer_init(gw_peer_t *p, const uint8_t *rid, size_t rid_len,
    const char *key, char prefix, uint64_t *counter);

/* The peer on list (gw_peer_t, by link) with routing id rid, or NULL. */
gw_peer_t *gw_peer_find(
    const sl_list_t *list, const uint8_t *rid, size_t rid_len);

/* Is key (NULL: no CURVE) the one p is bound to? */
bool gw_peer_key_is(const gw_peer_t *p, const char *key);

#endif
