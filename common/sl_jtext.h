/*
 * sl_jtext: compact JSON text written straight into a growing buffer,
 * from C values and from msgpack objects, without a jansson tree.
 *
 * Values leave to JSON clients as text: building a jansson tree per value
 * only to serialise it cost more than the rest of the result path. The
 * output is byte for byte what jansson 2.14's json_dumpb(..., JSON_COMPACT)
 * writes for the tree sl_json_from_mp builds (escapes, "%.17g" reals, key
 * order), and a msgpack object is refused by the same rules (see
 * sl_json.h), so a JSON client cannot tell which encoder ran. No state of
 * its own; any thread, one writer per thread.
 */
#ifndef SL_JTEXT_H
#define SL_JTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* The text so far: buf holds len bytes (not NUL-terminated) of cap. The
 * caller owns buf (free()); it is kept across uses, so a writer reused
 * for each frame stops allocating once it has seen the largest one. */
typedef struct sl_jtext {
	char *buf;
	size_t len;
	size_t cap;
} sl_jtext_t;

/*
 * Each appends to w and returns 0, SL_ENOMEM (buf could not grow) or, for
 * text that has no JSON form, SL_EPROTO. After a failure w->len is
 * somewhere inside the failed value: the caller drops the text.
 */
/* Room for n more bytes after len: for a writer that fills buf itself
 * (then adds to len). 0 or SL_ENOMEM. */
int sl_jtext_room(sl_jtext_t *w, size_t n);
/* n bytes as they are (for text that is JSON already). */
int sl_jtext_raw(sl_jtext_t *w, const char *s, size_t n);
/* A JSON string of n bytes of s: SL_EPROTO if not well-formed UTF-8.
 * Quote, backslash and control characters are escaped as jansson does
 * (\b \f \n \r \t, else \u00XX in upper case); nothing else is. */
int sl_jtext_str(sl_jtext_t *w, const char *s, size_t n);
int sl_jtext_int(sl_jtext_t *w, int64_t i);
/* A finite double as jansson writes a real; SL_EPROTO for NaN/Inf. */
int sl_jtext_real(sl_jtext_t *w, double d);
/* A msgpack object as the JSON value sl_json_from_mp would build, dumped:
 * bin as base64; ext, NaN/Inf, integers above INT64_MAX, map keys that
 * are not strings (or hold NUL), invalid UTF-8 and repeated map keys are
 * SL_EPROTO. Recursion is as deep as o: bound it before (sl_proto_check). */
int sl_jtext_mp(sl_jtext_t *w, const msgpack_object *o);

#endif
