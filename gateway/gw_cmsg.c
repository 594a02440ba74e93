/*
 * gw_cmsg: check client frames, parse JSON ones, pack items (see
 * gw_cmsg.h). No state; lws service thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_cmsg.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"
#include "sl_utf8.h"

int
gw_cmsg_err_set(
    gw_cmsg_err_t *err, const char *id, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	err->id[0] = '\0';
	err->channel[0] = '\0';
	if (id)
		snprintf(err->id, sizeof err->id, "%s", id);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	/* Messages may quote the client's bytes (jansson does); keep them
	 * printable ASCII so the error frame itself is always valid JSON. */
	for (char *c = err->message; *c; c++)
		if ((unsigned char) *c < 0x20 || (unsigned char) *c > 0x7e)
			*c = '?';
	return -1;
}

/* The one table of a client frame's keys (gw_cmsg_key_t). */
static const struct {
	const char *name;
	size_t off; /* its member of gw_cmsg_fields_t */
} s_keys[GW_CMSG_K_COUNT] = {
	[GW_CMSG_K_TYPE] = { "type", offsetof(gw_cmsg_fields_t, type) },
	[GW_CMSG_K_ID] = { "id", offsetof(gw_cmsg_fields_t, id) },
	[GW_CMSG_K_TASK] = { "task", offsetof(gw_cmsg_fields_t, task) },
	[GW_CMSG_K_ITEMS] = { "items", offsetof(gw_cmsg_fields_t, items) },
	[GW_CMSG_K_TIMEOUT_MS]
	= { "timeout_ms", offsetof(gw_cmsg_fields_t, timeout_ms) },
	[GW_CMSG_K_TIMING] = { "timing", offsetof(gw_cmsg_fields_t, timing) },
	[GW_CMSG_K_CHANNEL]
	= { "channel", offsetof(gw_cmsg_fields_t, channel) },
	[GW_CMSG_K_NOTIFY] = { "notify", offsetof(gw_cmsg_fields_t, notify) },
	[GW_CMSG_K_SEQS] = { "seqs", offsetof(gw_cmsg_fields_t, seqs) },
	[GW_CMSG_K_TOKEN] = { "token", offsetof(gw_cmsg_fields_t, token) },
	[GW_CMSG_K_HAVE] = { "have", offsetof(gw_cmsg_fields_t, have) },
	[GW_CMSG_K_DATA] = { "data", offsetof(gw_cmsg_fields_t, data) },
	[GW_CMSG_K_TRACEPARENT]
	= { "traceparent", offsetof(gw_cmsg_fields_t, traceparent) },
};

const char *
gw_cmsg_key_name(gw_cmsg_key_t k)
{
	return s_keys[k].name;
}

gw_cmsg_key_t
gw_cmsg_key_find(const char *s, size_t len)
{
	for (int k = 0; k < GW_CMSG_K_COUNT; k++)
		if (strlen(s_keys[k].name) == len
		    && !memcmp(s_keys[k].name, s, len))
			return (gw_cmsg_key_t) k;
	return GW_CMSG_K_COUNT;
}

gw_cmsg_field_t *
gw_cmsg_fields_at(gw_cmsg_fields_t *f, gw_cmsg_key_t k)
{
	return (gw_cmsg_field_t *) ((char *) f + s_keys[k].off);
}

#define S_CHANNEL_CHARS                                                       \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"

/* Copy a checked string field into a NUL-terminated buffer of cap bytes. */
static void
s_copy(char *dst, size_t cap, const gw_cmsg_field_t *f)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;

	memcpy(dst, f->s, n);
	dst[n] = '\0';
}

/* A channel field (subscribe's channel, submit's notify): 0 or -1. */
static int
s_check_channel(const gw_cmsg_field_t *f, const char *name, const char *id,
    char *dst, gw_cmsg_err_t *err)
{
	if (f->kind != GW_CMSG_F_STR
	    || !sl_proto_name_ok(
	        f->s, f->len, GW_CMSG_MAX_CHANNEL, S_CHANNEL_CHARS))
		return gw_cmsg_err_set(err, id, "bad_message",
		    "\"%s\" must be a name of 1..%d characters "
		    "[A-Za-z0-9_.:-]",
		    name, GW_CMSG_MAX_CHANNEL);
	s_copy(dst, GW_CMSG_MAX_CHANNEL + 1, f);
	return 0;
}

static int
s_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* seqs[0..n) all different, or -1 with err naming two equal ones. Sorts
 * (seq, index) pairs: O(n log n) for the longest array a frame holds. */
static int
s_check_distinct(const uint32_t *seqs, size_t n, const char *name,
    const char *code, const char *id, gw_cmsg_err_t *err)
{
	uint64_t *k = malloc(n * sizeof *k);

	if (!k)
		return gw_cmsg_err_set(err, id, "internal", "out of memory");
	for (size_t i = 0; i < n; i++)
		k[i] = (uint64_t) seqs[i] << 32 | (uint32_t) i;
	qsort(k, n, sizeof *k, s_cmp_u64);
	for (size_t i = 1; i < n; i++) {
		if (k[i] >> 32 != k[i - 1] >> 32)
			continue;
		gw_cmsg_err_set(err, id, code,
		    "\"%s\" must be distinct: %s[%u] and %s[%u] are both "
		    "%u",
		    name, name, (unsigned) (uint32_t) k[i - 1], name,
		    (unsigned) (uint32_t) k[i], (unsigned) (k[i] >> 32));
		free(k);
		return -1;
	}
	free(k);
	return 0;
}

int
gw_cmsg_check_seqs(const gw_cmsg_field_t *f, const char *name, size_t n,
    bool distinct, const char *code, const char *id, uint32_t **out,
    gw_cmsg_err_t *err)
{
	uint32_t *seqs = NULL;

	if (f->kind != GW_CMSG_F_ARRAY || !f->at)
		return gw_cmsg_err_set(err, id, code,
		    "\"%s\" must be an array of integers 0..%" PRIu32, name,
		    (uint32_t) GW_CMSG_MAX_SEQ);
	if (n && f->len != n)
		return gw_cmsg_err_set(err, id, code,
		    "\"%s\" has %zu elements and \"items\" %zu: one seq "
		    "per item",
		    name, f->len, n);
	if (f->len && !(seqs = malloc(f->len * sizeof *seqs)))
		return gw_cmsg_err_set(err, id, "internal", "out of memory");
	for (size_t i = 0; i < f->len; i++) {
		gw_cmsg_field_t e = f->at(f->arr, i);

		if (e.kind != GW_CMSG_F_INT) {
			free(seqs);
			return gw_cmsg_err_set(err, id, code,
			    "%s[%zu] is not an integer 0..%" PRIu32, name, i,
			    (uint32_t) GW_CMSG_MAX_SEQ);
		}
		if (e.i < 0 || e.i > (int64_t) GW_CMSG_MAX_SEQ) {
			free(seqs);
			return gw_cmsg_err_set(err, id, code,
			    "%s[%zu] is %" PRId64 ", outside 0..%" PRIu32,
			    name, i, e.i, (uint32_t) GW_CMSG_MAX_SEQ);
		}
		seqs[i] = (uint32_t) e.i;
	}
	/* Fewer than two cannot repeat (and malloc(0) may be NULL). */
	if (distinct && f->len > 1
	    && s_check_distinct(seqs, f->len, name, code, id, err)) {
		free(seqs);
		return -1;
	}
	*out = seqs;
	return 0;
}

uint32_t
gw_cmsg_seq(const gw_cmsg_t *m, size_t i)
{
	return m->seqs ? m->seqs[i] : (uint32_t) i;
}

/* submit's traceparent: a W3C traceparent of version 00 (sl_trace), copied
 * to out; or -1 with err naming the field and what is wrong. */
static int
s_check_trace(const gw_cmsg_field_t *f, const char *id,
    char out[SL_TRACE_LEN + 1], gw_cmsg_err_t *err)
{
	const char *why = "it must be a string";

	if (f->kind != GW_CMSG_F_STR || !sl_trace_ok(f->s, f->len, &why))
		return gw_cmsg_err_set(err, id, "bad_message",
		    "\"traceparent\" must be a W3C traceparent "
		    "00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all "
		    "zeros: %s",
		    why);
	memcpy(out, f->s, SL_TRACE_LEN);
	out[SL_TRACE_LEN] = '\0';
	return 0;
}

static int
s_check_submit(const gw_cmsg_fields_t *f, size_t max_items, gw_cmsg_t *m,
    gw_cmsg_err_t *err)
{
	const char *id = m->id[0] ? m->id : NULL;

	if (!id)
		return gw_cmsg_err_set(err, NULL, "bad_message",
		    "submit needs \"id\": a string of 1..%d bytes",
		    GW_CMSG_MAX_ID);
	if (f->task.kind != GW_CMSG_F_STR
	    || !sl_proto_task_name_ok(f->task.s, f->task.len))
		return gw_cmsg_err_set(err, id, "bad_message",
		    "submit needs \"task\": a name of 1..32 characters "
		    "[a-z0-9_.-]");
	if (f->items.kind != GW_CMSG_F_ARRAY)
		return gw_cmsg_err_set(
		    err, id, "bad_items", "\"items\" must be an array");
	if (!f->items.len)
		return gw_cmsg_err_set(
		    err, id, "bad_items", "\"items\" is empty");
	if (f->items.len > max_items)
		return gw_cmsg_err_set(err, id, "too_many_items",
		    "%zu items, the limit is %zu", f->items.len, max_items);
	if (f->timeout_ms.kind != GW_CMSG_F_ABSENT
	    && (f->timeout_ms.kind != GW_CMSG_F_INT || f->timeout_ms.i < 1
	        || f->timeout_ms.i > GW_CMSG_MAX_TIMEOUT_MS))
		return gw_cmsg_err_set(err, id, "bad_message",
		    "\"timeout_ms\" must be an integer from 1 to %d",
		    GW_CMSG_MAX_TIMEOUT_MS);
	if (f->timing.kind != GW_CMSG_F_ABSENT
	    && f->timing.kind != GW_CMSG_F_BOOL)
		return gw_cmsg_err_set(err, id, "bad_message",
		    "\"timing\" must be true or false");
	if (f->notify.kind != GW_CMSG_F_ABSENT
	    && s_check_channel(&f->notify, "notify", id, m->channel, err))
		return -1;
	if (f->traceparent.kind != GW_CMSG_F_ABSENT
	    && s_check_trace(&f->traceparent, id, m->traceparent, err))
		return -1;
	/* Last: the only check that allocates (m->seqs, freed by
	 * gw_cmsg_clear). */
	if (f->seqs.kind != GW_CMSG_F_ABSENT
	    && gw_cmsg_check_seqs(&f->seqs, "seqs", f->items.len, true,
	        "bad_seqs", id, &m->seqs, err))
		return -1;
	s_copy(m->task, sizeof m->task, &f->task);
	m->n_items = f->items.len;
	m->timeout_ms
	    = f->timeout_ms.kind == GW_CMSG_F_INT ? f->timeout_ms.i : 0;
	m->timing = f->timing.kind == GW_CMSG_F_BOOL && f->timing.b;
	m->type = GW_CMSG_SUBMIT;
	return 0;
}

/* resume: id, token (any string: a wrong one is unknown_request, the
 * broker's answer), have (optional, at most max_items seqs). */
static int
s_check_resume(const gw_cmsg_fields_t *f, size_t max_items, gw_cmsg_t *m,
    gw_cmsg_err_t *err)
{
	const char *id = m->id[0] ? m->id : NULL;

	if (!id)
		return gw_cmsg_err_set(err, NULL, "bad_message",
		    "resume needs \"id\": a string of 1..%d bytes",
		    GW_CMSG_MAX_ID);
	if (f->token.kind != GW_CMSG_F_STR || !f->token.len
	    || f->token.len > GW_CMSG_MAX_TOKEN)
		return gw_cmsg_err_set(err, id, "bad_message",
		    "resume needs \"token\": a string of 1..%d bytes",
		    GW_CMSG_MAX_TOKEN);
	if (f->have.kind == GW_CMSG_F_ARRAY && f->have.len > max_items)
		return gw_cmsg_err_set(err, id, "too_many_items",
		    "\"have\" has %zu seqs, a request has at most %zu",
		    f->have.len, max_items);
	/* Last: the only check that allocates (m->have, freed by
	 * gw_cmsg_clear). */
	if (f->have.kind != GW_CMSG_F_ABSENT
	    && gw_cmsg_check_seqs(
	        &f->have, "have", 0, false, "bad_message", id, &m->have, err))
		return -1;
	memcpy(m->token, f->token.s, f->token.len);
	m->token[f->token.len] = '\0';
	m->token_len = f->token.len;
	m->n_have = f->have.kind == GW_CMSG_F_ARRAY ? f->have.len : 0;
	m->type = GW_CMSG_RESUME;
	return 0;
}

static bool
s_is(const gw_cmsg_field_t *f, const char *s)
{
	return f->len == strlen(s) && !memcmp(f->s, s, f->len);
}

int
gw_cmsg_check(const gw_cmsg_fields_t *f, size_t max_items, gw_cmsg_t *m,
    gw_cmsg_err_t *err)
{
	const char *id = NULL;

	if (f->id.kind != GW_CMSG_F_ABSENT) {
		/* NUL inside would cut the id short: refuse it. */
		if (f->id.kind != GW_CMSG_F_STR || !f->id.len
		    || f->id.len > GW_CMSG_MAX_ID
		    || memchr(f->id.s, '\0', f->id.len)
		    || !sl_utf8_valid(f->id.s, f->id.len))
			return gw_cmsg_err_set(err, NULL, "bad_message",
			    "\"id\" must be a string of 1..%d bytes",
			    GW_CMSG_MAX_ID);
		s_copy(m->id, sizeof m->id, &f->id);
		id = m->id;
	}
	if (f->type.kind != GW_CMSG_F_STR)
		return gw_cmsg_err_set(
		    err, id, "bad_message", "\"type\" must be a string");
	if (s_is(&f->type, "submit"))
		return s_check_submit(f, max_items, m, err);
	if (s_is(&f->type, "cancel")) {
		if (!id)
			return gw_cmsg_err_set(err, NULL, "bad_message",
			    "cancel needs \"id\": a string of 1..%d bytes",
			    GW_CMSG_MAX_ID);
		m->type = GW_CMSG_CANCEL;
		return 0;
	}
	if (s_is(&f->type, "resume"))
		return s_check_resume(f, max_items, m, err);
	if (s_is(&f->type, "ping")) {
		m->type = GW_CMSG_PING;
		return 0;
	}
	if (s_is(&f->type, "subscribe") || s_is(&f->type, "unsubscribe")) {
		if (s_check_channel(
		        &f->channel, "channel", id, m->channel, err))
			return -1;
		m->type = s_is(&f->type, "subscribe") ? GW_CMSG_SUBSCRIBE
		                                      : GW_CMSG_UNSUBSCRIBE;
		return 0;
	}
	return gw_cmsg_err_set(err, id, "unknown_type",
	    "unknown type; expected submit, cancel, resume, ping, subscribe "
	    "or unsubscribe");
}

static gw_cmsg_field_t s_field(const json_t *v);

/* Element i of a JSON array, for gw_cmsg_field_t.at. */
static gw_cmsg_field_t
s_field_at(const void *arr, size_t i)
{
	return s_field(json_array_get(arr, i));
}

/* A JSON member as gw_cmsg_check sees it. */
static gw_cmsg_field_t
s_field(const json_t *v)
{
	gw_cmsg_field_t f = { 0 };

	if (!v)
		return f;
	f.kind = GW_CMSG_F_OTHER;
	if (json_is_string(v)) {
		f.kind = GW_CMSG_F_STR;
		f.s = json_string_value(v);
		f.len = json_string_length(v);
	} else if (json_is_integer(v)) {
		f.kind = GW_CMSG_F_INT;
		f.i = json_integer_value(v);
	} else if (json_is_boolean(v)) {
		f.kind = GW_CMSG_F_BOOL;
		f.b = json_is_true(v);
	} else if (json_is_array(v)) {
		f.kind = GW_CMSG_F_ARRAY;
		f.len = json_array_size(v);
		f.at = s_field_at;
		f.arr = v;
	}
	return f;
}

/* gw_cmsg_pack_fn for a JSON array of items. */
static int
s_pack_json(const void *items, size_t i, msgpack_packer *pk, const char **why)
{
	(void) why; /* every JSON value has a msgpack form */
	return sl_json_to_mp(
	    json_array_get(items, i), pk, SL_PROTO_MAX_ITEM_DEPTH);
}

int
gw_cmsg_parse(const char *text, size_t len, size_t max_items, gw_cmsg_t *out,
    gw_cmsg_err_t *err)
{
	json_error_t jerr;
	gw_cmsg_fields_t f;
	json_t *root;

	memset(out, 0, sizeof *out);
	/* Strict RFC 8259: invalid UTF-8, duplicate keys, \u0000 and
	 * trailing garbage are all refused. */
	root = json_loadb(
	    text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		/* jansson's position is past the token it was reading */
		size_t at = sl_json_bad_offset(text, len);

		return gw_cmsg_err_set(err, NULL, "bad_json",
		    "invalid JSON at byte %zu: %s",
		    at != SIZE_MAX ? at : (size_t) jerr.position, jerr.text);
	}
	out->root = root;
	if (!json_is_object(root)) {
		gw_cmsg_clear(out);
		return gw_cmsg_err_set(
		    err, NULL, "bad_message", "a frame must be a JSON object");
	}
	for (int k = 0; k < GW_CMSG_K_COUNT; k++)
		*gw_cmsg_fields_at(&f, k)
		    = s_field(json_object_get(root, s_keys[k].name));
	if (gw_cmsg_check(&f, max_items, out, err)) {
		gw_cmsg_clear(out);
		return -1;
	}
	if (out->type == GW_CMSG_SUBMIT
	    && gw_cmsg_pack_items(
	        out, s_pack_json, json_object_get(root, "items"), err)) {
		gw_cmsg_clear(out);
		return -1;
	}
	if (out->type == GW_CMSG_PING)
		out->data.json = json_object_get(root, "data");
	return 0;
}

void
gw_cmsg_clear(gw_cmsg_t *m)
{
	json_decref(m->root);
	if (m->has_unpacked)
		msgpack_unpacked_destroy(&m->unpacked);
	msgpack_sbuffer_destroy(&m->items);
	free(m->item_end);
	free(m->seqs);
	free(m->have);
	memset(m, 0, sizeof *m);
}

const char *
gw_cmsg_item(const gw_cmsg_t *m, size_t i, size_t *len)
{
	size_t start = i ? m->item_end[i - 1] : 0;

	*len = m->item_end[i] - start;
	return m->items.data + start;
}

int
gw_cmsg_pack_items(
    gw_cmsg_t *m, gw_cmsg_pack_fn pack, const void *items, gw_cmsg_err_t *err)
{
	msgpack_packer pk;
	const char *why = "";
	int rc;

	msgpack_sbuffer_init(&m->items);
	msgpack_packer_init(&pk, &m->items, msgpack_sbuffer_write);
	m->item_end = malloc(m->n_items * sizeof *m->item_end);
	if (!m->item_end)
		return gw_cmsg_err_set(
		    err, m->id, "internal", "out of memory");
	for (size_t i = 0; i < m->n_items; i++) {
		if ((rc = pack(items, i, &pk, &why)))
			return gw_cmsg_err_set(err, m->id,
			    rc == SL_ENOMEM ? "internal" : "bad_item",
			    "item %zu: %s", i,
			    rc == SL_ETOOBIG      ? "nested too deeply"
			        : rc == SL_ENOMEM ? "out of memory"
			                          : why);
		m->item_end[i] = m->items.size;
	}
	return 0;
}
