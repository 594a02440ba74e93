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

/*
 * The well-formed UTF-8 sequence at s (left > 0 bytes): its length, 1..4;
 * or 0 when there is none, with *bad the offset of the first byte that
 * cannot belong to it (0: s[0] starts none) or left when the text ends
 * inside it. For scanners that say where text stops being UTF-8.
 */
size_t sl_utf8_seq(const char *s, size_t left, size_t *bad);

/* s holds len bytes of well-formed UTF-8 (no overlong forms, surrogates
 * or code points past U+10FFFF; NUL is allowed). */
bool sl_utf8_valid(const char *s, size_t len);

/* Make the NUL-terminated s well-formed UTF-8 in place: each byte that
 * starts no valid sequence (a cut-off character too) becomes '?'. For
 * text from peers that is passed on, e.g. a worker's error message. */
void sl_utf8_clean(char *s);

#endif
