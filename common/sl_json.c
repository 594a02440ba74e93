/*
 * sl_json: JSON <-> msgpack (see sl_json.h). No state; any thread.
 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sl_err.h"
#include "sl_json.h"
#include "sl_utf8.h"

static int
s_to_mp(const json_t *j, msgpack_packer *pk, unsigned depth)
{
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (!depth)
			return SL_ETOOBIG;
		break;
	default:
		break;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, (uint32_t) json_object_size(j)))
			return SL_ENOMEM;
		json_object_foreach((json_t *) j, key, v)
		{
			if (msgpack_pack_str_with_body(pk, key, strlen(key)))
				return SL_ENOMEM;
			if ((rc = s_to_mp(v, pk, depth - 1)))
				return rc;
		}
		return 0;
	case JSON_ARRAY:
		if (msgpack_pack_array(pk, (uint32_t) json_array_size(j)))
			return SL_ENOMEM;
		json_array_foreach(j, i, v)
		{
			if ((rc = s_to_mp(v, pk, depth - 1)))
				return rc;
		}
		return 0;
	case JSON_STRING:
		return msgpack_pack_str_with_body(
		           pk, json_string_value(j), json_string_length(j))
		    ? SL_ENOMEM
		    : 0;
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(j))
		    ? SL_ENOMEM
		    : 0;
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(j)) ? SL_ENOMEM
		                                                   : 0;
	case JSON_TRUE:
		return msgpack_pack_true(pk) ? SL_ENOMEM : 0;
	case JSON_FALSE:
		return msgpack_pack_false(pk) ? SL_ENOMEM : 0;
	case JSON_NULL:
		return msgpack_pack_nil(pk) ? SL_ENOMEM : 0;
	}
	return SL_EINVAL;
}

int
sl_json_to_mp(const json_t *j, msgpack_packer *pk, unsigned max_depth)
{
	return s_to_mp(j, pk, max_depth);
}

static json_t *
s_base64(const void *data, size_t len)
{
	/* EVP_EncodeBlock writes 4 bytes per 3 plus a NUL, no newlines. */
	size_t cap = 4 * ((len + 2) / 3) + 1;
	unsigned char *buf = malloc(cap);
	json_t *s;
	int n;

	if (!buf)
		return NULL;
	n = EVP_EncodeBlock(buf, data, (int) len);
	s = json_stringn((const char *) buf, (size_t) n);
	free(buf);
	return s;
}

typedef struct s_key {
	const char *ptr;
	size_t len;
} s_key_t;

static int
s_key_cmp(const void *a, const void *b)
{
	const s_key_t *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n ? memcmp(x->ptr, y->ptr, n) : 0;

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Maps this small are checked for repeated keys pairwise, larger ones by
 * sorting a copy of their keys: never quadratic in what a peer sends. */
#define S_PAIRWISE_KEYS 16

int
sl_json_mp_dup_keys(const msgpack_object_map *m, bool *dup)
{
	s_key_t *keys;

	*dup = false;
	if (m->size <= S_PAIRWISE_KEYS) {
		for (uint32_t i = 0; i < m->size; i++)
			for (uint32_t k = 0; k < i; k++) {
				const msgpack_object_str *a
				    = &m->ptr[i].key.via.str,
				    *b = &m->ptr[k].key.via.str;

				if (a->size == b->size
				    && (!a->size
				        || !memcmp(a->ptr, b->ptr, a->size)))
					*dup = true;
			}
		return 0;
	}
	keys = malloc(m->size * sizeof *keys);
	if (!keys)
		return SL_ENOMEM;
	for (uint32_t i = 0; i < m->size; i++)
		keys[i] = (s_key_t) { m->ptr[i].key.via.str.ptr,
			m->ptr[i].key.via.str.size };
	qsort(keys, m->size, sizeof *keys, s_key_cmp);
	for (uint32_t i = 1; i < m->size && !*dup; i++)
		*dup = !s_key_cmp(&keys[i - 1], &keys[i]);
	free(keys);
	return 0;
}

/* ---- msgpack -> JSON: one walk for the conversion and the check ---- */

/*
 * The rules of a JSON form live in s_walk and its helpers only: each
 * value is checked, and built into *out when out is not NULL (a check is
 * a conversion without output), so sl_json_from_mp and sl_json_mp_check
 * cannot disagree. On failure *out is untouched and *why is set for
 * SL_EPROTO.
 */
static int s_walk(
    const msgpack_object *o, unsigned depth, json_t **out, const char **why);

/* Hand over a value built for out; SL_ENOMEM if building it failed. */
static int
s_give(json_t **out, json_t *j)
{
	if (!j)
		return SL_ENOMEM;
	*out = j;
	return 0;
}

static int
s_refuse(const char **why, const char *reason)
{
	*why = reason;
	return SL_EPROTO;
}

static int
s_string(const msgpack_object_str *o, json_t **out, const char **why)
{
	/* An empty string may come with a NULL pointer (msgpack-c). */
	const char *s = o->size ? o->ptr : "";

	if (!sl_utf8_valid(s, o->size))
		return s_refuse(why, "string is not valid UTF-8");
	return out ? s_give(out, json_stringn(s, o->size)) : 0;
}

static int
s_scalar(const msgpack_object *o, json_t **out, const char **why)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return out ? s_give(out, json_null()) : 0;
	case MSGPACK_OBJECT_BOOLEAN:
		return out ? s_give(out, json_boolean(o->via.boolean)) : 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return s_refuse(why, "integer above INT64_MAX");
		return out ? s_give(out, json_integer((json_int_t) o->via.u64))
		           : 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return out ? s_give(out, json_integer((json_int_t) o->via.i64))
		           : 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return s_refuse(
			    why, "NaN or infinity has no JSON form");
		return out ? s_give(out, json_real(o->via.f64)) : 0;
	case MSGPACK_OBJECT_STR:
		return s_string(&o->via.str, out, why);
	case MSGPACK_OBJECT_BIN:
		return out
		    ? s_give(out, s_base64(o->via.bin.ptr, o->via.bin.size))
		    : 0;
	case MSGPACK_OBJECT_EXT:
		return s_refuse(why, "msgpack ext values have no JSON form");
	default:
		return s_refuse(why, "unknown msgpack type");
	}
}

static int
s_walk_array(
    const msgpack_object *o, unsigned depth, json_t **out, const char **why)
{
	json_t *j = out ? json_array() : NULL, *v = NULL;
	int rc = out && !j ? SL_ENOMEM : 0;

	for (uint32_t i = 0; !rc && i < o->via.array.size; i++) {
		rc = s_walk(&o->via.array.ptr[i], depth, j ? &v : NULL, why);
		if (!rc && j && json_array_append_new(j, v))
			rc = SL_ENOMEM;
	}
	if (rc) {
		json_decref(j);
		return rc;
	}
	return out ? s_give(out, j) : 0;
}

/* A map key: a string without NUL, well-formed UTF-8. */
static int
s_key_ok(const msgpack_object *k, const char **why)
{
	/* The type first: another key's via holds no size. */
	if (k->type != MSGPACK_OBJECT_STR
	    || (k->via.str.size
	        && memchr(k->via.str.ptr, '\0', k->via.str.size)))
		return s_refuse(why, "map key is not a string");
	if (!sl_utf8_valid(k->via.str.ptr, k->via.str.size))
		return s_refuse(why, "map key is not valid UTF-8");
	return 0;
}

static int
s_walk_map(
    const msgpack_object *o, unsigned depth, json_t **out, const char **why)
{
	json_t *j = out ? json_object() : NULL, *v = NULL;
	int rc = out && !j ? SL_ENOMEM : 0;
	bool dup = false;

	for (uint32_t i = 0; !rc && i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];

		if ((rc = s_key_ok(&kv->key, why))
		    || (rc = s_walk(&kv->val, depth, j ? &v : NULL, why)))
			break;
		if (j
		    && json_object_setn_new(j,
		        kv->key.via.str.size ? kv->key.via.str.ptr : "",
		        kv->key.via.str.size, v))
			rc = SL_ENOMEM;
	}
	/* JSON objects have unique keys: a repeated one would silently
	 * replace the first, so refuse it. */
	if (!rc && !(rc = sl_json_mp_dup_keys(&o->via.map, &dup)) && dup)
		rc = s_refuse(why, "duplicate map key");
	if (rc) {
		json_decref(j);
		return rc;
	}
	return out ? s_give(out, j) : 0;
}

static int
s_walk(const msgpack_object *o, unsigned depth, json_t **out, const char **why)
{
	switch (o->type) {
	case MSGPACK_OBJECT_ARRAY:
		return depth ? s_walk_array(o, depth - 1, out, why)
		             : SL_ETOOBIG;
	case MSGPACK_OBJECT_MAP:
		return depth ? s_walk_map(o, depth - 1, out, why) : SL_ETOOBIG;
	default:
		return s_scalar(o, out, why);
	}
}

int
sl_json_from_mp(const msgpack_object *o, json_t **out, const char **why)
{
	const char *dummy;

	/* No depth limit of its own: what msgpack-c unpacked was bounded
	 * by sl_proto_check before. */
	return s_walk(o, UINT_MAX, out, why ? why : &dummy);
}

int
sl_json_mp_check(const msgpack_object *o, unsigned max_depth, const char **why)
{
	const char *dummy;

	return s_walk(o, max_depth, NULL, why ? why : &dummy);
}

/* ---- sl_json_bad_offset: a JSON syntax scanner that only finds where ---- */

#define SL_JSON_SCAN_DEPTH 4096 /* deeper than any parser here accepts */

/* One scanned token: *i moves past it. Returns 0, 1 when the byte at *i
 * is invalid, or 2 when the text ends inside the token. */
static int
s_scan_utf8(const unsigned char *s, size_t len, size_t *i)
{
	size_t bad, n = sl_utf8_seq((const char *) s + *i, len - *i, &bad);

	*i += n ? n : bad;
	return n ? 0 : *i >= len ? 2 : 1;
}

static int
s_scan_string(const unsigned char *s, size_t len, size_t *i)
{
	for (++*i; *i < len;) {
		unsigned c = s[*i];

		if (c == '"') {
			++*i;
			return 0;
		}
		if (c < 0x20)
			return 1;
		if (c >= 0x80) {
			int rc = s_scan_utf8(s, len, i);

			if (rc)
				return rc;
			continue;
		}
		if (c != '\\') {
			++*i;
			continue;
		}
		if (++*i >= len)
			return 2;
		if (s[*i] == 'u') {
			for (int k = 0; k < 4; k++) {
				if (++*i >= len)
					return 2;
				if (!s[*i]
				    || !strchr(
				        "0123456789abcdefABCDEF", s[*i]))
					return 1;
			}
		} else if (!strchr("\"\\/bfnrt", s[*i]) || !s[*i]) {
			return 1;
		}
		++*i;
	}
	return 2;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
s_scan_number(const unsigned char *s, size_t len, size_t *i)
{
	enum { SIGN, INT0, INT, DOT, FRAC, E, ESIGN, EXP } st = SIGN;

	if (s[*i] == '-')
		++*i; /* the first digit comes next */
	for (; *i < len; ++*i) {
		unsigned c = s[*i];
		bool digit = c >= '0' && c <= '9';

		switch (st) {
		case SIGN:
			if (!digit)
				return 1;
			st = c == '0' ? INT0 : INT;
			continue;
		case INT0:
		case INT:
			if (digit && st == INT)
				continue;
			if (c == '.') {
				st = DOT;
				continue;
			}
			if (c == 'e' || c == 'E') {
				st = E;
				continue;
			}
			return 0; /* the number ends here */
		case DOT:
		case FRAC:
			if (digit) {
				st = FRAC;
				continue;
			}
			if (st == DOT)
				return 1;
			if (c == 'e' || c == 'E') {
				st = E;
				continue;
			}
			return 0;
		case E:
			if (c == '+' || c == '-') {
				st = ESIGN;
				continue;
			}
			/* fall through */
		case ESIGN:
		case EXP:
			if (digit) {
				st = EXP;
				continue;
			}
			return st == EXP ? 0 : 1;
		}
	}
	/* at the end of the text: complete or cut short */
	return st == INT0 || st == INT || st == FRAC || st == EXP ? 0 : 2;
}

static int
s_scan_literal(const unsigned char *s, size_t len, size_t *i)
{
	const char *lit = s[*i] == 't' ? "true"
	    : s[*i] == 'f'             ? "false"
	                               : "null";

	for (; *lit; lit++, ++*i) {
		if (*i >= len)
			return 2;
		if (s[*i] != (unsigned char) *lit)
			return 1;
	}
	return 0;
}

/* What may come next in the text. */
typedef enum {
	S_VALUE,
	S_FIRST_IN_ARRAY,
	S_KEY,
	S_FIRST_KEY,
	S_COLON,
	S_NEXT,
	S_END
} s_expect_t;

typedef struct s_scan {
	const unsigned char *s;
	size_t len;
	size_t i;     /* the byte being read */
	size_t depth; /* open containers */
	s_expect_t st;
	unsigned char objects[SL_JSON_SCAN_DEPTH / 8]; /* bit: an object */
} s_scan_t;

/* The token scanner's verdict rc (1: invalid at i, 2: cut short): true
 * when the scan is over, with *at its answer. */
static bool
s_verdict(const s_scan_t *sc, int rc, size_t *at)
{
	if (rc)
		*at = rc == 1 ? sc->i : sc->len;
	return rc != 0;
}

static bool
s_in_object(const s_scan_t *sc)
{
	return sc->objects[(sc->depth - 1) / 8]
	    & (1u << ((sc->depth - 1) % 8));
}

/* The byte at i closed the innermost container. */
static void
s_close(s_scan_t *sc)
{
	sc->i++;
	sc->st = --sc->depth ? S_NEXT : S_END;
}

/* The byte c at i opens a container; false when too deep to follow. */
static bool
s_open(s_scan_t *sc, unsigned c)
{
	unsigned char bit = (unsigned char) (1u << (sc->depth % 8));

	if (sc->depth == SL_JSON_SCAN_DEPTH)
		return false;
	if (c == '{')
		sc->objects[sc->depth / 8] |= bit;
	else
		sc->objects[sc->depth / 8] &= (unsigned char) ~bit;
	sc->depth++;
	sc->i++;
	sc->st = c == '{' ? S_FIRST_KEY : S_FIRST_IN_ARRAY;
	return true;
}

/* A value starts at i with c; see s_step. */
static bool
s_step_value(s_scan_t *sc, unsigned c, size_t *at)
{
	int rc;

	if (c == '{' || c == '[') {
		if (s_open(sc, c))
			return false;
		*at = SIZE_MAX; /* jansson will say */
		return true;
	}
	if (c == '"')
		rc = s_scan_string(sc->s, sc->len, &sc->i);
	else if (c == '-' || (c >= '0' && c <= '9'))
		rc = s_scan_number(sc->s, sc->len, &sc->i);
	else if (c == 't' || c == 'f' || c == 'n')
		rc = s_scan_literal(sc->s, sc->len, &sc->i);
	else
		rc = 1;
	if (s_verdict(sc, rc, at))
		return true;
	/* jansson 2.14 skips one NUL byte right after a number or a
	 * literal (its lexer puts the byte back, and a NUL in its look-ahead
	 * buffer reads as "take the next"); anywhere else a NUL is invalid,
	 * for both */
	if (c != '"' && sc->i < sc->len && !sc->s[sc->i])
		sc->i++;
	sc->st = sc->depth ? S_NEXT : S_END;
	return false;
}

/* Read what starts at i (not white space) as the state allows: true when
 * the scan is over, with *at its answer. */
static bool
s_step(s_scan_t *sc, size_t *at)
{
	unsigned c = sc->s[sc->i];

	*at = sc->i; /* unless said otherwise, the byte at i is invalid */
	switch (sc->st) {
	case S_END:
		return true;
	case S_COLON:
		sc->i++;
		sc->st = S_VALUE;
		return c != ':';
	case S_NEXT:
		if (c == ',') {
			sc->i++;
			sc->st = s_in_object(sc) ? S_KEY : S_VALUE;
			return false;
		}
		if (c != (s_in_object(sc) ? '}' : ']'))
			return true;
		s_close(sc);
		return false;
	case S_FIRST_KEY:
	case S_KEY:
		if (c == '}' && sc->st == S_FIRST_KEY) {
			s_close(sc);
			return false;
		}
		if (c != '"')
			return true;
		sc->st = S_COLON;
		return s_verdict(
		    sc, s_scan_string(sc->s, sc->len, &sc->i), at);
	case S_FIRST_IN_ARRAY:
		if (c == ']') {
			s_close(sc);
			return false;
		}
		/* fall through */
	case S_VALUE:
		break;
	}
	return s_step_value(sc, c, at);
}

size_t
sl_json_bad_offset(const char *text, size_t len)
{
	s_scan_t sc = { .s = (const unsigned char *) text, .len = len };
	size_t at;

	while (sc.i < len) {
		unsigned c = sc.s[sc.i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			sc.i++;
		else if (s_step(&sc, &at))
			return at;
	}
	return sc.st == S_END ? SIZE_MAX : len;
}
