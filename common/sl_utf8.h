/*
 * sl_utf8: well-formed UTF-8 (RFC 3629), checked and repaired.
 *
 * Strings from peers that go on to JSON clients (request ids, a worker's
 * error code and message, msgpack strings that need a JSON form) must be
 * well-formed UTF-8: these say whether they are, or make them so. No
 * state; any thread.
 */
#ifndef SL_UTF8_H
#define SL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* s holds len bytes of well-formed UTF-8 (no overlong forms, surrogates
 * or code points past U+10FFFF; NUL is allowed). */
bool sl_utf8_valid(const char *s, size_t len);

/* Make the NUL-terminated s well-formed UTF-8 in place: each byte that
 * starts no valid sequence (a cut-off character too) becomes '?'. For
 * text from peers that is passed on, e.g. a worker's error message. */
void sl_utf8_clean(char *s);

#endif
