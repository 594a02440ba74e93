/*
 * gw_out: frames to clients, encoded as JSON (see gw_out.h). No state;
 * lws service thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_out.h"
#include "sl_err.h"
#include "sl_jtext.h"

gw_out_t
gw_out_error(const gw_cmsg_err_t *err)
{
	return (gw_out_t) {
		.type = GW_OUT_ERROR,
		.id = err->id[0] ? err->id : NULL,
		.channel = err->channel[0] ? err->channel : NULL,
		.code = err->code,
		.message = err->message,
	};
}

/* ---- the frames' fields, written once ------------------------------- */

/* How a field is stored in gw_out_t, and so how it is sent. */
typedef enum {
	S_TYPE,  /* gw_out_type_name(type) as a string */
	S_STR,   /* const char * */
	S_SIZE,  /* size_t, sent as an integer */
	S_I64,   /* int64_t */
	S_U32,   /* uint32_t, sent as an integer */
	S_U64,   /* uint64_t, sent as an int64 */
	S_VALUE, /* gw_cmsg_value_t */
	S_FLAG,  /* bool, sent as true and only when set */
	S_CHARS, /* char[], a string in place */
	S_REAL,  /* double */
} s_kind_t;

/* When a frame carries the field. */
typedef enum {
	S_ALWAYS,
	S_IF_SET,    /* non-NULL, non-zero, a value present */
	S_IF_TIMING, /* RESULT with the worker's timings */
	S_IF_TIMED,  /* ... and the int64 is not negative (the worker said) */
} s_when_t;

typedef struct s_field {
	const char *key; /* on the wire; NULL ends a table */
	s_kind_t kind;
	size_t off; /* where in gw_out_t */
	s_when_t when;
} s_field_t;

/* clang-format off */
/* A field whose key is its member's name; S_KEYED when they differ. */
#define S_KEYED(key, member, kind, when) \
	{ key, kind, offsetof(gw_out_t, member), when }
#define S_F(member, kind, when) S_KEYED(#member, member, kind, when)
/* Every frame starts with its type and id and ends with its channel; keys
 * in the order docs/PROTOCOL.md shows them. */
#define S_HEAD S_F(type, S_TYPE, S_ALWAYS), S_F(id, S_STR, S_IF_SET)
#define S_TAIL S_F(channel, S_STR, S_IF_SET), { .key = NULL }

static const s_field_t s_accepted[] = { S_HEAD, S_F(items, S_SIZE, S_ALWAYS),
	S_F(workers, S_SIZE, S_ALWAYS), S_F(resume, S_STR, S_IF_SET),
	S_F(traceparent, S_STR, S_IF_SET), S_TAIL };
/* With timing: where the item's time went (gw_out_timing_t). */
#define S_TM(key, kind, when) S_KEYED(#key, tm.key, kind, when)
#define S_TIMING S_TM(t_done_us, S_I64, S_IF_TIMING), \
	S_TM(cpu_us, S_U64, S_IF_TIMING), S_TM(queue_us, S_I64, S_IF_TIMING), \
	S_TM(start_us, S_I64, S_IF_TIMED), S_TM(run_us, S_I64, S_IF_TIMED), \
	S_TM(worker, S_CHARS, S_IF_TIMING), S_TM(attempts, S_U32, S_IF_TIMING)
static const s_field_t s_result[] = { S_HEAD, S_F(seq, S_U32, S_ALWAYS),
	S_F(value, S_VALUE, S_ALWAYS), S_TIMING, S_F(restart, S_FLAG, S_IF_SET),
	S_TAIL };
static const s_field_t s_progress[] = { S_HEAD, S_F(seq, S_U32, S_ALWAYS),
	S_F(progress, S_REAL, S_ALWAYS), S_F(text, S_STR, S_IF_SET), S_TAIL };
static const s_field_t s_partial[] = { S_HEAD, S_F(seq, S_U32, S_ALWAYS),
	S_F(index, S_U32, S_ALWAYS), S_F(value, S_VALUE, S_ALWAYS),
	S_F(restart, S_FLAG, S_IF_SET), S_TAIL };
static const s_field_t s_item_error[] = { S_HEAD, S_F(seq, S_U32, S_ALWAYS),
	S_F(code, S_STR, S_ALWAYS), S_F(message, S_STR, S_ALWAYS), S_TIMING,
	S_TAIL };
static const s_field_t s_error[] = { S_HEAD, S_F(code, S_STR, S_ALWAYS),
	S_F(message, S_STR, S_ALWAYS), S_TAIL };
/* cancelled only when something was: the common frame stays small */
static const s_field_t s_done[] = { S_HEAD, S_F(ok, S_SIZE, S_ALWAYS),
	S_F(failed, S_SIZE, S_ALWAYS), S_F(elapsed_ms, S_I64, S_ALWAYS),
	S_F(cancelled, S_SIZE, S_IF_SET), S_TAIL };
/* draining only while shutting down: a page can show the drain */
static const s_field_t s_pong[] = { S_HEAD, S_F(server_us, S_I64, S_ALWAYS),
	S_F(workers, S_SIZE, S_ALWAYS), S_F(queued, S_SIZE, S_ALWAYS),
	S_F(running, S_SIZE, S_ALWAYS), S_F(draining, S_FLAG, S_IF_SET),
	S_KEYED("data", value, S_VALUE, S_IF_SET), S_TAIL };
static const s_field_t s_subscribed[] = { S_HEAD,
	S_F(subscriptions, S_SIZE, S_ALWAYS), S_TAIL };
static const s_field_t s_unknown[] = { S_HEAD, S_TAIL };
/* clang-format on */

static const struct {
	const char *name; /* the frame's "type" */
	const s_field_t *fields;
} s_types[] = {
	[GW_OUT_ACCEPTED] = { "accepted", s_accepted },
	[GW_OUT_RESULT] = { "result", s_result },
	[GW_OUT_ITEM_ERROR] = { "error", s_item_error },
	[GW_OUT_DONE] = { "done", s_done },
	[GW_OUT_ERROR] = { "error", s_error },
	[GW_OUT_PONG] = { "pong", s_pong },
	[GW_OUT_SUBSCRIBED] = { "subscribed", s_subscribed },
	[GW_OUT_UNSUBSCRIBED] = { "unsubscribed", s_subscribed },
	[GW_OUT_PROGRESS] = { "progress", s_progress },
	[GW_OUT_PARTIAL] = { "partial", s_partial },
};

static bool
s_known(gw_out_type_t t)
{
	return t >= GW_OUT_ACCEPTED && t <= GW_OUT_PARTIAL;
}

const char *
gw_out_type_name(gw_out_type_t t)
{
	return s_known(t) ? s_types[t].name : "?";
}

/* The field's integer (integer kinds only). */
static int64_t
s_int(const gw_out_t *f, const s_field_t *d)
{
	const char *at = (const char *) f + d->off;

	switch (d->kind) {
	case S_SIZE:
		return (int64_t) * (const size_t *) at;
	case S_I64:
		return *(const int64_t *) at;
	case S_U32:
		return *(const uint32_t *) at;
	case S_U64:
		return (int64_t) * (const uint64_t *) at;
	default:
		return 0;
	}
}

static bool
s_has(const gw_out_t *f, const s_field_t *d)
{
	const void *at = (const char *) f + d->off;
	const gw_cmsg_value_t *v = at;

	if (d->when == S_ALWAYS)
		return true;
	if (d->when == S_IF_TIMING)
		return f->timing;
	if (d->when == S_IF_TIMED)
		return f->timing && s_int(f, d) >= 0;
	switch (d->kind) {
	case S_STR:
		return *(const char *const *) at != NULL;
	case S_VALUE:
		return v->json || v->mp;
	case S_FLAG:
		return *(const bool *) at;
	default:
		return s_int(f, d) != 0;
	}
}

static int
s_visit(const gw_out_t *f, const s_field_t *d, const gw_out_visitor_t *v,
    void *ctx)
{
	const void *at = (const char *) f + d->off;

	switch (d->kind) {
	case S_TYPE:
		return v->str(ctx, d->key, gw_out_type_name(f->type));
	case S_STR:
		return v->str(ctx, d->key, *(const char *const *) at);
	case S_CHARS:
		return v->str(ctx, d->key, at);
	case S_VALUE:
		return v->value(ctx, d->key, at);
	case S_FLAG:
		return v->yes(ctx, d->key);
	case S_REAL:
		return v->real(ctx, d->key, *(const double *) at);
	default:
		return v->integer(ctx, d->key, s_int(f, d));
	}
}

static const s_field_t *
s_fields(const gw_out_t *f)
{
	return s_known(f->type) ? s_types[f->type].fields : s_unknown;
}

size_t
gw_out_count(const gw_out_t *f)
{
	size_t n = 0;

	for (const s_field_t *d = s_fields(f); d->key; d++)
		n += s_has(f, d);
	return n;
}

int
gw_out_walk(const gw_out_t *f, const gw_out_visitor_t *v, void *ctx)
{
	int rc;

	for (const s_field_t *d = s_fields(f); d->key; d++)
		if (s_has(f, d) && (rc = s_visit(f, d, v, ctx)))
			return rc;
	return 0;
}

/* ---- JSON ----------------------------------------------------------- */

/* A JSON object being written: the keys so far decide the comma. */
typedef struct s_jobj {
	sl_jtext_t w;
	bool first;
} s_jobj_t;

/* ,"key": -- keys come from the field table above: plain ASCII literals
 * that need no escaping. */
static int
s_json_key(s_jobj_t *o, const char *key)
{
	int rc = o->first ? 0 : sl_jtext_raw(&o->w, ",", 1);

	o->first = false;
	if (!rc)
		rc = sl_jtext_raw(&o->w, "\"", 1);
	if (!rc)
		rc = sl_jtext_raw(&o->w, key, strlen(key));
	return rc ? rc : sl_jtext_raw(&o->w, "\":", 2);
}

static int
s_json_str(void *ctx, const char *key, const char *s)
{
	int rc = s_json_key(ctx, key);

	/* a string field the table sends always but the caller left NULL */
	if (!rc && !s)
		rc = SL_EPROTO;
	return rc ? rc : sl_jtext_str(&((s_jobj_t *) ctx)->w, s, strlen(s));
}

static int
s_json_int(void *ctx, const char *key, int64_t i)
{
	int rc = s_json_key(ctx, key);

	return rc ? rc : sl_jtext_int(&((s_jobj_t *) ctx)->w, i);
}

/* A real: a progress fraction (0..1), written with 4 decimals and no
 * trailing zeros (0.42, not 0.41999999999999998; 1.0 stays a real). */
static int
s_json_real(void *ctx, const char *key, double d)
{
	char num[32];
	int n, rc = s_json_key(ctx, key);

	if (rc)
		return rc;
	n = snprintf(num, sizeof num, "%.4f", d);
	if (n <= 0 || (size_t) n >= sizeof num)
		return SL_EPROTO;
	while (n > 2 && num[n - 1] == '0' && num[n - 2] != '.')
		n--;
	return sl_jtext_raw(&((s_jobj_t *) ctx)->w, num, (size_t) n);
}

static int
s_json_yes(void *ctx, const char *key)
{
	int rc = s_json_key(ctx, key);

	return rc ? rc : sl_jtext_raw(&((s_jobj_t *) ctx)->w, "true", 4);
}

/* A value that came as JSON (from a JSON client): jansson writes it. */
static int
s_json_tree(sl_jtext_t *w, const json_t *j)
{
	size_t room = w->cap - w->len,
	       n = json_dumpb(
	           j, w->buf + w->len, room, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!n)
		return SL_ENOMEM;
	if (n > room) { /* it did not fit: grow, then write it again */
		int rc = sl_jtext_room(w, n);

		if (rc)
			return rc;
		n = json_dumpb(
		    j, w->buf + w->len, n, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	w->len += n;
	return 0;
}

/* The value in whichever form it came; neither is null. */
static int
s_json_value(void *ctx, const char *key, const gw_cmsg_value_t *v)
{
	s_jobj_t *o = ctx;
	int rc = s_json_key(o, key);

	if (rc)
		return rc;
	if (v->json)
		return s_json_tree(&o->w, v->json);
	if (v->mp)
		return sl_jtext_mp(&o->w, v->mp);
	return sl_jtext_raw(&o->w, "null", 4);
}

static const gw_out_visitor_t s_json = { .str = s_json_str,
	.integer = s_json_int,
	.value = s_json_value,
	.yes = s_json_yes,
	.real = s_json_real };

size_t
gw_out_json_text(const gw_out_t *f, char **buf, size_t *cap)
{
	s_jobj_t o
	    = { .w = { .buf = *buf, .cap = *buf ? *cap : 0 }, .first = true };
	int rc = sl_jtext_raw(&o.w, "{", 1);

	if (!rc)
		rc = gw_out_walk(f, &s_json, &o);
	if (!rc)
		rc = sl_jtext_raw(&o.w, "}", 1);
	*buf = o.w.buf; /* it may have moved even when rc says failure */
	*cap = o.w.cap;
	return rc ? 0 : o.w.len;
}

int
gw_out_json(const gw_out_t *f, json_t **out)
{
	char *buf = NULL;
	size_t cap = 0, n = gw_out_json_text(f, &buf, &cap);

	*out = NULL;
	if (n)
		*out = json_loadb(buf, n, JSON_ALLOW_NUL, NULL);
	free(buf);
	if (!n)
		return SL_EPROTO;
	return *out ? 0 : SL_ENOMEM;
}
