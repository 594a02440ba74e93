/*
 * gw_wframe: the workers endpoint's wire in: every frame a worker sends,
 * decoded (sl_proto), a BATCH unwrapped into its entries (sl_batch), each
 * checked at the edge and dispatched to the registry (gw_workers_int.h):
 * READY, RESULT (a value without a JSON form becomes bad_result), CREDIT,
 * RETURN, DRAIN, BYE, PING/PONG. A frame that is not a worker's is
 * counted and dropped, or, if it is a producer's, answered
 * wrong_endpoint. events.changed is called once per frame that changed
 * something, so a BATCH of results is dispatched as one.
 *
 * lws service thread only.
 */
#ifndef GW_WFRAME_H
#define GW_WFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "gw_workers.h"

/* gw_workers_on_frame's work (see gw_workers.h). */
void gw_wframe_on_frame(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const void *data, size_t len);

#endif
