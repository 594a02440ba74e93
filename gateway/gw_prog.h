/*
 * gw_prog: one item's progress on its way to the client: at most one
 * report per interval, the latest value winning. A report that comes
 * sooner waits as the pending one (a newer report replaces it) until its
 * turn (gw_prog_due, from the 100 ms tick), so the last value before a
 * pause is not lost and a worker reporting in a tight loop costs its
 * client one frame per interval.
 *
 * Plain data embedded by its owner (gw_jobs keeps the pending ones on a
 * list through link). No state of its own; lws service thread.
 */
#ifndef GW_PROG_H
#define GW_PROG_H

#include <stdbool.h>
#include <stdint.h>

#include "sl_list.h"
#include "sl_proto.h"

typedef struct gw_prog {
	sl_list_t link;  /* the owner's, while pending */
	int64_t sent_us; /* last report forwarded (monotonic); 0: none */
	bool pending;    /* value and text wait for their turn */
	double value;    /* the pending report's */
	bool has_text;
	char text[SL_PROTO_MAX_PROGRESS_TEXT + 1];
} gw_prog_t;

void gw_prog_init(gw_prog_t *p);

/* A report (value, text: NULL or NUL-terminated) at now_us: true if it
 * goes now (the caller forwards it); false if it is now the pending one,
 * replacing any older. ivl_us > 0. */
bool gw_prog_offer(gw_prog_t *p, int64_t now_us, int64_t ivl_us, double value,
    const char *text);

/* Is the pending report's turn there at now_us? true: the caller
 * forwards p->value (and p->text if has_text); it is pending no more. */
bool gw_prog_due(gw_prog_t *p, int64_t now_us, int64_t ivl_us);

#endif
