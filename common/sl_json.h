/*
 * sl_json: conversions between JSON values (jansson) and msgpack.
 *
 * Items arrive from clients as JSON and travel to workers as msgpack;
 * values come back as msgpack and leave to clients as JSON. Both
 * directions refuse what the other side cannot represent, with a static
 * reason. No state; any thread.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

/* jansson's value, only declared: code that checks msgpack values (the
 * broker's job path) needs no jansson header. */
struct json_t;

/*
 * Pack a JSON value. Objects become maps, arrays arrays, integers int64,
 * reals float64. Nesting deeper than max_depth is refused (SL_ETOOBIG).
 * Returns 0, SL_ETOOBIG or SL_ENOMEM.
 */
int sl_json_to_mp(
    const struct json_t *j, msgpack_packer *pk, unsigned max_depth);

/*
 * Build a JSON value from a msgpack object; *out is a new reference the
 * caller owns. Strings must be valid UTF-8; bin becomes a base64 string;
 * ext, NaN/Inf, integers above INT64_MAX, non-string and duplicate map
 * keys are refused. Returns 0, SL_EPROTO (with *why) or SL_ENOMEM.
 */
int sl_json_from_mp(
    const msgpack_object *o, struct json_t **out, const char **why);

/*
 * Whether sl_json_from_mp would accept o, without building anything: the
 * same rules, plus nesting of at most max_depth containers. For values
 * that stay msgpack but must keep a JSON form (a JSON client may receive
 * them). Returns 0, SL_EPROTO (with *why), SL_ETOOBIG (too deep) or
 * SL_ENOMEM (a large map's keys are sorted to find repeats).
 */
int sl_json_mp_check(
    const msgpack_object *o, unsigned max_depth, const char **why);

/*
 * Whether m, whose keys are all strings, repeats a key, in *dup: pairwise
 * for small maps, by sorting a copy of the keys for large ones (never
 * quadratic in what a peer sends). 0 or SL_ENOMEM.
 */
int sl_json_mp_dup_keys(const msgpack_object_map *m, bool *dup);

/*
 * Where text (len bytes) stops being JSON (RFC 8259): the offset of the
 * first byte that no valid JSON text can have there, len if the text
 * ends too early, or SIZE_MAX if it is syntactically valid (what jansson
 * may still refuse for other reasons: duplicate keys, \u0000, depth).
 * One NUL byte right after a number or literal is skipped, as jansson
 * does; any other NUL is invalid.
 * For error messages: jansson's own position points past the token it
 * was reading ("not..." -> 3), this points at the 'o'. Any thread.
 */
size_t sl_json_bad_offset(const char *text, size_t len);

#endif
