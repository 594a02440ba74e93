/*
 * gw_resume: what lets a request outlive its connection: its resume token
 * and the log of its finished items.
 *
 * A token is 128 random bits from getrandom(2), sent once in accepted as
 * 32 lowercase hex characters; it is compared in constant time and never
 * logged. The log keeps a copy of every result and item error of a
 * resumable request (value bytes, code and message), so that a client
 * that resumes gets again exactly the finished items it says it does not
 * have. All logs of one gateway share one byte budget (--max-resume-bytes,
 * gw_resume_budget_t); a record that does not fit is refused and the
 * caller decides (gw_req: the request stops being resumable, or, if its
 * client is gone, it is cancelled).
 *
 * The caller owns each log and the budget. No other state; lws service
 * thread (and unit tests).
 */
#ifndef GW_RESUME_H
#define GW_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_out.h"

#define GW_RESUME_TOKEN_BYTES 16 /* random bytes in a token */
#define GW_RESUME_TOKEN_LEN (2 * GW_RESUME_TOKEN_BYTES) /* hex chars */

typedef struct gw_resume_budget {
	size_t max;     /* bytes all logs may hold; 0: none at all */
	size_t used;    /* bytes they hold */
	uint64_t full;  /* records refused for want of room */
	uint64_t bytes; /* bytes ever recorded */
} gw_resume_budget_t;

/* One request's resume: its token, its log, what its client holds. */
typedef struct gw_resume gw_resume_t;

/*
 * A request of n_items items becomes resumable: a fresh token, an empty
 * log. NULL, with *rc SL_ENOMEM or SL_ESYS (no randomness: never a weak
 * token). Caller owns it.
 */
gw_resume_t *gw_resume_new(size_t n_items, int *rc);
/* Frees it, giving its bytes back to b. NULL-safe, nulls *self_p. */
void gw_resume_destroy(gw_resume_t **self_p, gw_resume_budget_t *b);

/* Still resumable (its log was never over the budget)? */
bool gw_resume_ok(const gw_resume_t *self);
/* The token for accepted; borrowed. */
const char *gw_resume_token(const gw_resume_t *self);
/* Is tok (len bytes, any content) this request's token? Constant time in
 * the token's content; self may be NULL (then false, after the same
 * work), so a caller can compare once whether or not the id exists. */
bool gw_resume_token_eq(const gw_resume_t *self, const char *tok, size_t len);

/*
 * A RESULT or ITEM_ERROR of the request (f->id names it) goes into the
 * log. Over the budget: with its client here, the request stops being
 * resumable; detached (nobody gets it but the log), it is doomed
 * (gw_resume_expired says so). Either way once, with a RESUME-FULL line.
 * Whether its client should get f (false: it said it holds f->seq).
 */
bool gw_resume_on_item(gw_resume_t *self, gw_resume_budget_t *b,
    const gw_out_t *f, bool detached);

/* The client left (at now_us, monotonic). */
void gw_resume_detach(gw_resume_t *self, int64_t now_us);
/* Detached for window_us by now_us, or doomed? */
bool gw_resume_expired(
    const gw_resume_t *self, int64_t now_us, int64_t window_us);
/* Its last item ended while detached: done waits for a resume. */
void gw_resume_finish(gw_resume_t *self);
bool gw_resume_finished(const gw_resume_t *self);
/* Records in the log. */
size_t gw_resume_count(const gw_resume_t *self);

/*
 * A client takes the request over, holding have[n_have] (the client's
 * seqs, any values; at most the request's item count): every record whose seq
 * it lacks is sent with send(ctx, frame) (borrowed for the call), in the order
 * the items finished; later items it holds are not sent either
 * (gw_resume_on_item). How many were sent; stops when send returns < 0.
 */
size_t gw_resume_take(gw_resume_t *self, const uint32_t *have, size_t n_have,
    const char *id, int (*send)(void *ctx, const gw_out_t *f), void *ctx);

#endif
