/*
 * gw_cproto: parse client frames, build gateway frames (see gw_cproto.h).
 * No state; lws service thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gw_cproto.h"
#include "sl_proto.h"

int
gw_cerr_set(
    gw_cerr_t *err, const char *id, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	err->id[0] = '\0';
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

/* A name as tasks are named: 1..32 of [a-z0-9_.-]. */
static int
s_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > SL_PROTO_MAX_NAME)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int
s_parse_submit(gw_cmsg_t *m, const char *id, size_t max_items, gw_cerr_t *err)
{
	json_t *task = json_object_get(m->root, "task");
	json_t *timeout, *timing;
	size_t n;

	if (!id)
		return gw_cerr_set(err, NULL, "bad_message",
		    "submit needs \"id\": a string of 1..%d bytes",
		    GW_CPROTO_MAX_ID);
	if (!json_is_string(task) || !s_valid_name(json_string_value(task)))
		return gw_cerr_set(err, id, "bad_message",
		    "submit needs \"task\": a name of 1..32 characters "
		    "[a-z0-9_.-]");
	m->items = json_object_get(m->root, "items");
	if (!json_is_array(m->items))
		return gw_cerr_set(
		    err, id, "bad_items", "\"items\" must be an array");
	n = json_array_size(m->items);
	if (!n)
		return gw_cerr_set(err, id, "bad_items", "\"items\" is empty");
	if (n > max_items)
		return gw_cerr_set(err, id, "too_many_items",
		    "%zu items, the limit is %zu", n, max_items);
	timeout = json_object_get(m->root, "timeout_ms");
	if (timeout
	    && (!json_is_integer(timeout) || json_integer_value(timeout) < 1
	        || json_integer_value(timeout) > GW_CPROTO_MAX_TIMEOUT_MS))
		return gw_cerr_set(err, id, "bad_message",
		    "\"timeout_ms\" must be an integer from 1 to %d",
		    GW_CPROTO_MAX_TIMEOUT_MS);
	m->timeout_ms = timeout ? json_integer_value(timeout) : 0;
	timing = json_object_get(m->root, "timing");
	if (timing && !json_is_boolean(timing))
		return gw_cerr_set(err, id, "bad_message",
		    "\"timing\" must be true or false");
	m->timing = json_is_true(timing);
	m->type = GW_CMSG_SUBMIT;
	m->id = id;
	m->task = json_string_value(task);
	return 0;
}

int
gw_cmsg_parse(const char *text, size_t len, size_t max_items, gw_cmsg_t *out,
    gw_cerr_t *err)
{
	json_error_t jerr;
	json_t *root;

	/* Strict RFC 8259: invalid UTF-8, duplicate keys, \u0000 and
	 * trailing garbage are all refused. */
	root = json_loadb(
	    text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		memset(out, 0, sizeof *out);
		return gw_cerr_set(err, NULL, "bad_json",
		    "invalid JSON at byte %d: %s", jerr.position, jerr.text);
	}
	return gw_cmsg_parse_value(root, max_items, out, err);
}

int
gw_cmsg_parse_value(
    json_t *root, size_t max_items, gw_cmsg_t *out, gw_cerr_t *err)
{
	json_t *type, *id;
	const char *t, *idstr = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	out->root = root;
	if (!json_is_object(out->root)) {
		rc = gw_cerr_set(
		    err, NULL, "bad_message", "a frame must be a JSON object");
		goto fail;
	}
	id = json_object_get(out->root, "id");
	if (id) {
		if (!json_is_string(id) || !json_string_length(id)
		    || json_string_length(id) > GW_CPROTO_MAX_ID) {
			rc = gw_cerr_set(err, NULL, "bad_message",
			    "\"id\" must be a string of 1..%d bytes",
			    GW_CPROTO_MAX_ID);
			goto fail;
		}
		idstr = json_string_value(id);
	}
	type = json_object_get(out->root, "type");
	if (!json_is_string(type)) {
		rc = gw_cerr_set(
		    err, idstr, "bad_message", "\"type\" must be a string");
		goto fail;
	}
	t = json_string_value(type);
	if (!strcmp(t, "submit")) {
		if ((rc = s_parse_submit(out, idstr, max_items, err)))
			goto fail;
	} else if (!strcmp(t, "cancel")) {
		if (!idstr) {
			rc = gw_cerr_set(err, NULL, "bad_message",
			    "cancel needs \"id\": a string of 1..%d bytes",
			    GW_CPROTO_MAX_ID);
			goto fail;
		}
		out->type = GW_CMSG_CANCEL;
		out->id = idstr;
	} else if (!strcmp(t, "ping")) {
		out->type = GW_CMSG_PING;
		out->id = idstr;
		out->data = json_object_get(out->root, "data");
	} else {
		rc = gw_cerr_set(err, idstr, "unknown_type",
		    "unknown type; expected submit, cancel or ping");
		goto fail;
	}
	return 0;
fail:
	gw_cmsg_clear(out);
	return rc;
}

void
gw_cmsg_clear(gw_cmsg_t *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof *m);
}

json_t *
gw_frame_accepted(const char *id, size_t items, size_t workers)
{
	return json_pack("{s:s, s:s, s:I, s:I}", "type", "accepted", "id", id,
	    "items", (json_int_t) items, "workers", (json_int_t) workers);
}

json_t *
gw_frame_result(const char *id, uint32_t seq, json_t *value, bool timing,
    int64_t t_done_us, uint64_t cpu_us)
{
	/* "o" steals value, also when json_pack fails. */
	if (timing)
		return json_pack("{s:s, s:s, s:I, s:o, s:I, s:I}", "type",
		    "result", "id", id, "seq", (json_int_t) seq, "value",
		    value, "t_done_us", (json_int_t) t_done_us, "cpu_us",
		    (json_int_t) cpu_us);
	return json_pack("{s:s, s:s, s:I, s:o}", "type", "result", "id", id,
	    "seq", (json_int_t) seq, "value", value);
}

json_t *
gw_frame_item_error(
    const char *id, uint32_t seq, const char *code, const char *message)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", "error", "id",
	    id, "seq", (json_int_t) seq, "code", code, "message", message);
}

json_t *
gw_frame_done(const char *id, size_t ok, size_t failed, size_t cancelled,
    int64_t elapsed_ms)
{
	json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:I}", "type", "done",
	    "id", id, "ok", (json_int_t) ok, "failed", (json_int_t) failed,
	    "elapsed_ms", (json_int_t) elapsed_ms);

	/* Only a cancelled request says so: the common frame stays small. */
	if (f && cancelled
	    && json_object_set_new(
	        f, "cancelled", json_integer((json_int_t) cancelled))) {
		json_decref(f);
		return NULL;
	}
	return f;
}

json_t *
gw_frame_error(const gw_cerr_t *err)
{
	json_t *f = json_pack("{s:s, s:s, s:s}", "type", "error", "code",
	    err->code, "message", err->message);

	if (f && err->id[0]
	    && json_object_set_new(f, "id", json_string(err->id))) {
		json_decref(f);
		return NULL;
	}
	return f;
}

json_t *
gw_frame_pong(json_t *data, int64_t server_us, size_t workers, size_t queued,
    size_t running)
{
	json_t *f = json_pack("{s:s, s:I, s:I, s:I, s:I}", "type", "pong",
	    "server_us", (json_int_t) server_us, "workers",
	    (json_int_t) workers, "queued", (json_int_t) queued, "running",
	    (json_int_t) running);

	if (f && data && json_object_set(f, "data", data)) {
		json_decref(f);
		return NULL;
	}
	return f;
}
