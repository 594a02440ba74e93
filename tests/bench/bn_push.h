/*
 * bn_push: sluice-bench's --push mode, for servers that push rather than
 * answer requests: websocketd running sluice-bench-ticker (bn_ticker.c).
 * A loaded connection sends one start frame,
 *
 *   {"type":"push","rate":R,"burst":K,"ms":D,"bytes":B}
 *
 * (R = --rate, K = --items, D = --duration-ms, B = --item-bytes: the
 * same shape as a submit load of K items per request), then only reads:
 * result lines with seq 0, 1, 2, ... in order and t_done_us, then one
 * done line with "ok" (lines sent) and "cpu_us" (the ticker's CPU). Lost
 * = sent − received; a seq out of order, or a connection that never sends
 * its done line, fails the run. lws service thread only.
 */
#ifndef BN_PUSH_H
#define BN_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "bn_client.h"
#include "bn_frame.h"

/* Write c's start frame (once, from WRITEABLE). 0, or -1: close c. */
int bn_push_send_start(bn_conn_t *c);

/* Account one frame f (text[0..len)) read on c at now (monotonic) and
 * wall (CLOCK_REALTIME), both µs. */
void bn_push_on_frame(bn_conn_t *c, const bn_frame_t *f, const char *text,
    size_t len, int64_t now, int64_t wall);

/* At the end of the drain: count the connections whose done line never
 * came (their lines seen count as sent, so gaps show as lost). */
void bn_push_finish(bn_run_t *run);

#endif
