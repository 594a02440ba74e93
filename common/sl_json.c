/*
 * sl_json: JSON <-> msgpack (see sl_json.h). No state; any thread.
 */
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

static int
s_from_mp(const msgpack_object *o, json_t **out, const char **why)
{
	json_t *j = NULL, *v;
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		j = json_null();
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		j = json_boolean(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX) {
			*why = "integer above INT64_MAX";
			return SL_EPROTO;
		}
		j = json_integer((json_int_t) o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		j = json_integer((json_int_t) o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) {
			*why = "NaN or infinity has no JSON form";
			return SL_EPROTO;
		}
		j = json_real(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		/* An empty string may come with a NULL pointer (msgpack-c). */
		j = o->via.str.size
		    ? json_stringn(o->via.str.ptr, o->via.str.size)
		    : json_string("");
		if (!j) {
			*why = "string is not valid UTF-8";
			return SL_EPROTO;
		}
		break;
	case MSGPACK_OBJECT_BIN:
		j = s_base64(o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j && i < o->via.array.size; i++) {
			if ((rc = s_from_mp(&o->via.array.ptr[i], &v, why))) {
				json_decref(j);
				return rc;
			}
			if (json_array_append_new(j, v)) {
				json_decref(j);
				return SL_ENOMEM;
			}
		}
		break;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; j && i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			const char *kp;

			/* The type first: another key's via holds no size. */
			if (k->type != MSGPACK_OBJECT_STR
			    || memchr(k->via.str.size ? k->via.str.ptr : "",
			        '\0', k->via.str.size)) {
				*why = "map key is not a string";
				json_decref(j);
				return SL_EPROTO;
			}
			kp = k->via.str.size ? k->via.str.ptr : "";
			if ((rc = s_from_mp(
			         &o->via.map.ptr[i].val, &v, why))) {
				json_decref(j);
				return rc;
			}
			if (json_object_setn_new(j, kp, k->via.str.size, v)) {
				*why = "map key is not valid UTF-8";
				json_decref(j);
				return SL_EPROTO;
			}
			/* JSON objects have unique keys: a repeated one would
			 * silently replace the first, so refuse it. */
			if (json_object_size(j) != (size_t) i + 1) {
				*why = "duplicate map key";
				json_decref(j);
				return SL_EPROTO;
			}
		}
		break;
	case MSGPACK_OBJECT_EXT:
		*why = "msgpack ext values have no JSON form";
		return SL_EPROTO;
	}
	if (!j)
		return SL_ENOMEM;
	*out = j;
	return 0;
}

int
sl_json_from_mp(const msgpack_object *o, json_t **out, const char **why)
{
	const char *dummy;

	return s_from_mp(o, out, why ? why : &dummy);
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

static int
s_dup_keys(const msgpack_object_map *m, bool *dup)
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

static int
s_check(const msgpack_object *o, unsigned depth, const char **why)
{
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_BOOLEAN:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_BIN:
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX) {
			*why = "integer above INT64_MAX";
			return SL_EPROTO;
		}
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) {
			*why = "NaN or infinity has no JSON form";
			return SL_EPROTO;
		}
		return 0;
	case MSGPACK_OBJECT_STR:
		if (!sl_utf8_valid(o->via.str.ptr, o->via.str.size)) {
			*why = "string is not valid UTF-8";
			return SL_EPROTO;
		}
		return 0;
	case MSGPACK_OBJECT_ARRAY:
		if (!depth)
			return SL_ETOOBIG;
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if ((rc = s_check(
			         &o->via.array.ptr[i], depth - 1, why)))
				return rc;
		return 0;
	case MSGPACK_OBJECT_MAP: {
		bool dup;

		if (!depth)
			return SL_ETOOBIG;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;

			if (k->type != MSGPACK_OBJECT_STR
			    || (k->via.str.size
			        && memchr(
			            k->via.str.ptr, '\0', k->via.str.size))) {
				*why = "map key is not a string";
				return SL_EPROTO;
			}
			if (!sl_utf8_valid(k->via.str.ptr, k->via.str.size)) {
				*why = "map key is not valid UTF-8";
				return SL_EPROTO;
			}
			if ((rc = s_check(
			         &o->via.map.ptr[i].val, depth - 1, why)))
				return rc;
		}
		if ((rc = s_dup_keys(&o->via.map, &dup)))
			return rc;
		if (dup) {
			*why = "duplicate map key";
			return SL_EPROTO;
		}
		return 0;
	}
	case MSGPACK_OBJECT_EXT:
		*why = "msgpack ext values have no JSON form";
		return SL_EPROTO;
	}
	*why = "unknown msgpack type";
	return SL_EPROTO;
}

int
sl_json_mp_check(const msgpack_object *o, unsigned max_depth, const char **why)
{
	const char *dummy;

	return s_check(o, max_depth, why ? why : &dummy);
}

/* ---- sl_json_bad_offset: a JSON syntax scanner that only finds where ---- */

#define SL_JSON_SCAN_DEPTH 4096 /* deeper than any parser here accepts */

/* One scanned token: *i moves past it. Returns 0, 1 when the byte at *i
 * is invalid, or 2 when the text ends inside the token. */
static int
s_scan_utf8(const unsigned char *s, size_t len, size_t *i)
{
	unsigned c = s[*i], n, lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3;
	else
		return 1;
	/* the second byte's range excludes overlong forms, surrogates and
	 * code points past U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (unsigned k = 1; k <= n; k++) {
		if (*i + k >= len)
			return 2;
		if (s[*i + k] < (k == 1 ? lo : 0x80)
		    || s[*i + k] > (k == 1 ? hi : 0xbf)) {
			*i += k;
			return 1;
		}
	}
	*i += n + 1;
	return 0;
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

size_t
sl_json_bad_offset(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;
	/* what may come next */
	enum {
		VALUE,
		FIRST_IN_ARRAY,
		KEY,
		FIRST_KEY,
		COLON,
		NEXT,
		END
	} st
	    = VALUE;
	unsigned char objects[SL_JSON_SCAN_DEPTH / 8]
	    = { 0 }; /* bit: object */
	size_t depth = 0, i = 0;

	while (i < len) {
		unsigned c = s[i];
		int rc = 0;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
			continue;
		}
		switch (st) {
		case END:
			return i;
		case COLON:
			if (c != ':')
				return i;
			i++;
			st = VALUE;
			continue;
		case NEXT: {
			bool obj = objects[(depth - 1) / 8]
			    & (1u << ((depth - 1) % 8));

			if (c == ',') {
				i++;
				st = obj ? KEY : VALUE;
				continue;
			}
			if (c != (obj ? '}' : ']'))
				return i;
			i++;
			st = --depth ? NEXT : END;
			continue;
		}
		case FIRST_KEY:
		case KEY:
			if (c == '}' && st == FIRST_KEY) {
				i++;
				st = --depth ? NEXT : END;
				continue;
			}
			if (c != '"')
				return i;
			rc = s_scan_string(s, len, &i);
			if (rc)
				return rc == 1 ? i : len;
			st = COLON;
			continue;
		case FIRST_IN_ARRAY:
			if (c == ']') {
				i++;
				st = --depth ? NEXT : END;
				continue;
			}
			/* fall through */
		case VALUE:
			if (c == '{' || c == '[') {
				if (depth == SL_JSON_SCAN_DEPTH)
					return SIZE_MAX; /* jansson will say */
				if (c == '{')
					objects[depth / 8]
					    |= (unsigned char) (1u
					        << (depth % 8));
				else
					objects[depth / 8]
					    &= (unsigned char) ~(
					        1u << (depth % 8));
				depth++;
				i++;
				st = c == '{' ? FIRST_KEY : FIRST_IN_ARRAY;
				continue;
			}
			if (c == '"')
				rc = s_scan_string(s, len, &i);
			else if (c == '-' || (c >= '0' && c <= '9'))
				rc = s_scan_number(s, len, &i);
			else if (c == 't' || c == 'f' || c == 'n')
				rc = s_scan_literal(s, len, &i);
			else
				return i;
			if (rc)
				return rc == 1 ? i : len;
			/* jansson 2.14 skips one NUL byte right after a number
			 * or a literal (its lexer puts the byte back, and a
			 * NUL in its look-ahead buffer reads as "take the
			 * next"); anywhere else a NUL is invalid, for both */
			if (c != '"' && i < len && !s[i])
				i++;
			st = depth ? NEXT : END;
			continue;
		}
	}
	return st == END ? SIZE_MAX : len;
}
