/*
 * sl_trace: W3C Trace Context traceparent values, checked and made.
 *
 * A traceparent (https://www.w3.org/TR/trace-context/, version 00) is the
 * 55 characters "00-<trace-id>-<parent-id>-<flags>": 32, 16 and 2 lowercase
 * hex digits, neither id all zeros. A client may give one with submit; the
 * gateway makes one for a request that came without (random ids from
 * getrandom), and every job of the request carries it to its worker, so
 * one string finds an item in both programs' logs (docs/PROTOCOL.md).
 *
 * Only version 00 is accepted: a later version may be longer and mean
 * more, and sluice cannot know what; its text is refused with a reason.
 *
 * No state; any thread.
 */
#ifndef SL_TRACE_H
#define SL_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define SL_TRACE_LEN 55 /* characters in a version 00 traceparent */

/*
 * Is the len bytes at s (not NUL-terminated; a NUL byte in it never is) a
 * version 00 traceparent? true, or false with *why (if non-NULL) a static
 * reason for the client, e.g. "the trace-id is all zeros".
 */
bool sl_trace_ok(const char *s, size_t len, const char **why);

/*
 * A new traceparent in out (NUL-terminated): a random trace-id and
 * parent-id (getrandom, non-zero), flags 01 (sampled: sluice logs it).
 * 0, or SL_ESYS when the kernel gave no random bytes (out untouched).
 */
int sl_trace_new(char out[SL_TRACE_LEN + 1]);

/* The trace-id part of a valid traceparent t (32 characters at t + 3):
 * what to grep for across programs. */
#define SL_TRACE_ID_OFF 3
#define SL_TRACE_ID_LEN 32

#endif
