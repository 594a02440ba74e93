/*
 * gw_wres: what a worker says about a job's outcome, checked at the edge
 * before it goes up to the broker: RESULT (its value must have a JSON
 * form; its error texts are made UTF-8), PARTIAL (the next index, a value
 * with a JSON form) and PROGRESS (its text made UTF-8). A bad PARTIAL
 * fails its item as a bad RESULT value does: code bad_result.
 *
 * No state; lws service thread (and unit tests).
 */
#ifndef GW_WRES_H
#define GW_WRES_H

#include <stdint.h>

#include "gw_workers.h"
#include "sl_proto.h"

/* Room for the texts a checked message points to. */
typedef struct gw_wres_text {
	char code[SL_PROTO_MAX_NAME + 1];
	char message[SL_PROTO_MAX_TEXT + 1];
} gw_wres_text_t;

/* res from m: ok, or failed with code bad_result when m's value has no
 * JSON form; texts (in t) cleaned. res borrows from m and t. */
void gw_wres_result(
    const sl_msg_result_t *m, gw_workers_result_t *res, gw_wres_text_t *t);

/* 0 if m is the PARTIAL a job expects next (index next, a value with a
 * JSON form); else SL_EPROTO with res filled as the bad_result that ends
 * the item (borrowing t). */
int gw_wres_partial(const sl_msg_partial_t *m, uint32_t next,
    gw_workers_result_t *res, gw_wres_text_t *t);

/* m's text, well-formed UTF-8, in buf; NULL when it has none. */
const char *gw_wres_progress_text(const sl_msg_progress_t *m,
    char buf[static SL_PROTO_MAX_PROGRESS_TEXT + 1]);

#endif
