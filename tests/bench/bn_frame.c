/*
 * bn_frame: frame readers (see bn_frame.h). No state.
 */
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "bn_frame.h"

typedef struct bn_scan {
	const char *p, *end;
} bn_scan_t;

static void
s_ws(bn_scan_t *s)
{
	while (s->p < s->end
	    && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
	        || *s->p == '\r'))
		s->p++;
}

/* A string without escapes: its body in [*b, *b + *n). */
static int
s_plain_string(bn_scan_t *s, const char **b, size_t *n)
{
	const char *q;

	if (s->p >= s->end || *s->p != '"')
		return -1;
	q = memchr(s->p + 1, '"', (size_t) (s->end - s->p - 1));
	if (!q || memchr(s->p + 1, '\\', (size_t) (q - s->p - 1)))
		return -1;
	*b = s->p + 1;
	*n = (size_t) (q - s->p - 1);
	s->p = q + 1;
	return 0;
}

/* An integer with nothing after it but a separator. */
static int
s_int(bn_scan_t *s, int64_t *out)
{
	int neg = 0;
	int64_t v = 0;
	const char *start;

	if (s->p < s->end && *s->p == '-') {
		neg = 1;
		s->p++;
	}
	start = s->p;
	while (
	    s->p < s->end && *s->p >= '0' && *s->p <= '9' && s->p - start < 18)
		v = v * 10 + (*s->p++ - '0');
	if (s->p == start
	    || (s->p < s->end
	        && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'
	            || (*s->p >= '0' && *s->p <= '9'))))
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* Skip any JSON value: strings honour escapes, containers nest. */
static int
s_skip(bn_scan_t *s)
{
	int depth = 0;

	do {
		if (s->p >= s->end)
			return -1;
		switch (*s->p) {
		case '"':
			for (s->p++; s->p < s->end && *s->p != '"'; s->p++)
				if (*s->p == '\\')
					s->p++;
			if (s->p >= s->end)
				return -1;
			s->p++;
			break;
		case '{':
		case '[':
			depth++;
			s->p++;
			break;
		case '}':
		case ']':
			if (!depth)
				return -1;
			depth--;
			s->p++;
			break;
		case ',':
		case ':':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (!depth)
				return -1;
			s->p++;
			break;
		default: /* number, true, false, null */
			while (s->p < s->end && !strchr(",:]} \t\n\r", *s->p))
				s->p++;
			break;
		}
	} while (depth);
	return 0;
}

static bn_ftype_t
s_type(const char *b, size_t n)
{
	static const struct {
		const char *name;
		bn_ftype_t type;
	} types[] = {
		{ "result", BN_F_RESULT },
		{ "error", BN_F_ERROR },
		{ "done", BN_F_DONE },
		{ "accepted", BN_F_ACCEPTED },
		{ "pong", BN_F_PONG },
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strlen(types[i].name) == n && !memcmp(types[i].name, b, n))
			return types[i].type;
	return BN_F_OTHER;
}

static int
s_copy(char *dst, size_t cap, const char *b, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, b, n);
	dst[n] = '\0';
	return 0;
}

#define KEY_IS(lit) (kn == sizeof lit - 1 && !memcmp(k, lit, kn))

int
bn_frame_scan(const char *text, size_t len, bn_frame_t *out)
{
	bn_scan_t s = { text, text + len };
	const char *k, *b;
	size_t kn, n;

	memset(out, 0, sizeof *out);
	s_ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	for (;;) {
		s_ws(&s);
		if (s.p < s.end && *s.p == '}')
			break;
		if (s_plain_string(&s, &k, &kn))
			return -1;
		s_ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return -1;
		s_ws(&s);
		if (KEY_IS("type")) {
			if (s_plain_string(&s, &b, &n))
				return -1;
			out->type = s_type(b, n);
		} else if (KEY_IS("id")) {
			if (s_plain_string(&s, &b, &n)
			    || s_copy(out->id, sizeof out->id, b, n))
				return -1;
		} else if (KEY_IS("code")) {
			if (s_plain_string(&s, &b, &n)
			    || s_copy(out->code, sizeof out->code, b, n))
				return -1;
		} else if (KEY_IS("seq")) {
			if (s_int(&s, &out->seq))
				return -1;
			out->has_seq = 1;
		} else if (KEY_IS("t_done_us")) {
			if (s_int(&s, &out->t_done_us))
				return -1;
			out->has_t_done = 1;
		} else if (KEY_IS("data") && s.p < s.end
		    && (*s.p == '-' || (*s.p >= '0' && *s.p <= '9'))) {
			if (s_int(&s, &out->data))
				return -1;
			out->has_data = 1;
		} else if (s_skip(&s)) {
			return -1;
		}
		s_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.end && *s.p == '}')
			break;
		return -1;
	}
	s.p++;
	s_ws(&s);
	return s.p == s.end ? 0 : -1;
}

int
bn_frame_parse_jansson(const char *text, size_t len, bn_frame_t *out)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	json_t *v;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!json_is_object(root))
		goto out;
	v = json_object_get(root, "type");
	if (json_is_string(v))
		out->type
		    = s_type(json_string_value(v), json_string_length(v));
	v = json_object_get(root, "id");
	if (json_is_string(v)
	    && s_copy(out->id, sizeof out->id, json_string_value(v),
	        json_string_length(v)))
		goto out;
	v = json_object_get(root, "code");
	if (json_is_string(v))
		s_copy(out->code, sizeof out->code, json_string_value(v),
		    json_string_length(v));
	v = json_object_get(root, "seq");
	if ((out->has_seq = json_is_integer(v)))
		out->seq = json_integer_value(v);
	v = json_object_get(root, "t_done_us");
	if ((out->has_t_done = json_is_integer(v)))
		out->t_done_us = json_integer_value(v);
	v = json_object_get(root, "data");
	if ((out->has_data = json_is_integer(v)))
		out->data = json_integer_value(v);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int
s_mp_int(const msgpack_object *v, int64_t *out)
{
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
	    && v->via.u64 <= INT64_MAX) {
		*out = (int64_t) v->via.u64;
		return 1;
	}
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = v->via.i64;
		return 1;
	}
	return 0;
}

static int
s_mp_key(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
	    && !memcmp(k->via.str.ptr, name, n);
}

int
bn_frame_parse_mp(const void *data, size_t len, bn_frame_t *out)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS
	    || off != len || u.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;
		const msgpack_object *v = &u.data.via.map.ptr[i].val;

		if (v->type == MSGPACK_OBJECT_STR && s_mp_key(k, "type"))
			out->type = s_type(v->via.str.ptr, v->via.str.size);
		else if (v->type == MSGPACK_OBJECT_STR && s_mp_key(k, "id")) {
			if (s_copy(out->id, sizeof out->id, v->via.str.ptr,
			        v->via.str.size))
				goto out;
		} else if (v->type == MSGPACK_OBJECT_STR
		    && s_mp_key(k, "code"))
			s_copy(out->code, sizeof out->code, v->via.str.ptr,
			    v->via.str.size);
		else if (s_mp_key(k, "seq"))
			out->has_seq = s_mp_int(v, &out->seq);
		else if (s_mp_key(k, "t_done_us"))
			out->has_t_done = s_mp_int(v, &out->t_done_us);
		else if (s_mp_key(k, "data"))
			out->has_data = s_mp_int(v, &out->data);
	}
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}
