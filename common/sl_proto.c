/*
 * sl_proto: encode and decode the internal msgpack frames (see sl_proto.h
 * and docs/PROTOCOL.md). No state; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "sl_err.h"
#include "sl_mpck.h"
#include "sl_proto.h"
#include "sl_trace.h"

int
sl_proto_check(const void *data, size_t len, unsigned max_depth)
{
	return sl_mpck_check(data, len, max_depth);
}

/* ---- decoding ------------------------------------------------------------
 */

void
sl_proto_msg_init(sl_msg_t *m)
{
	memset(m, 0, sizeof *m);
	msgpack_unpacked_init(&m->unpacked);
}

void
sl_proto_msg_clear(sl_msg_t *m)
{
	msgpack_unpacked_destroy(&m->unpacked);
	memset(&m->u, 0, sizeof m->u);
	m->type = 0;
	msgpack_unpacked_init(&m->unpacked);
}

void
sl_proto_rid_name(const uint8_t *rid, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	bool text = true;

	for (i = 0; i < len; i++)
		if (rid[i] < 0x21 || rid[i] > 0x7e)
			text = false;
	for (i = 0; i < len && o + 3 < outlen; i++)
		o += (size_t) snprintf(
		    out + o, outlen - o, text ? "%c" : "%02x", rid[i]);
	out[o] = '\0';
}

bool
sl_proto_name_ok(const char *s, size_t len, size_t max, const char *chars)
{
	if (!len || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr(chars, s[i]))
			return false;
	return true;
}

bool
sl_proto_task_name_ok(const char *s, size_t len)
{
	return sl_proto_name_ok(s, len, SL_PROTO_MAX_NAME,
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-");
}

bool
sl_proto_str_eq(sl_str_t s, const char *c)
{
	size_t n = strlen(c);

	return s.len == n && !memcmp(s.ptr, c, n);
}

static const msgpack_object *
s_field(const msgpack_object_map *map, const char *key)
{
	for (uint32_t i = 0; i < map->size; i++) {
		const msgpack_object *k = &map->ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR
		    && k->via.str.size == strlen(key)
		    && !memcmp(k->via.str.ptr, key, k->via.str.size))
			return &map->ptr[i].val;
	}
	return NULL;
}

/* A required unsigned field no larger than max. */
static int
s_get_uint(const msgpack_object_map *map, const char *key, uint64_t max,
    uint64_t *out, const char **why, const char *why_bad)
{
	const msgpack_object *o = s_field(map, key);

	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER
	    || o->via.u64 > max) {
		*why = why_bad;
		return SL_EPROTO;
	}
	*out = o->via.u64;
	return 0;
}

/* A string field: required ones (names) have 1..max bytes, optional ones
 * (free text) may be absent or empty. */
static int
s_get_str(const msgpack_object_map *map, const char *key, size_t max,
    bool required, sl_str_t *out, const char **why, const char *why_bad)
{
	const msgpack_object *o = s_field(map, key);

	if (!o && !required)
		return 0;
	if (!o || o->type != MSGPACK_OBJECT_STR
	    || (required && !o->via.str.size) || o->via.str.size > max) {
		*why = why_bad;
		return SL_EPROTO;
	}
	/* msgpack-c may give an empty string a NULL pointer. */
	out->ptr = o->via.str.size ? o->via.str.ptr : "";
	out->len = o->via.str.size;
	return 0;
}

/* READY.tasks: an array of 1..SL_PROTO_MAX_TASKS names of 1..32 bytes. */
static int
s_decode_tasks(
    const msgpack_object *tasks, sl_msg_ready_t *r, const char **why)
{
	if (!tasks || tasks->type != MSGPACK_OBJECT_ARRAY
	    || !tasks->via.array.size
	    || tasks->via.array.size > SL_PROTO_MAX_TASKS) {
		*why = "READY.tasks must be an array of 1..64 names";
		return SL_EPROTO;
	}
	r->n_tasks = tasks->via.array.size;
	for (size_t i = 0; i < r->n_tasks; i++) {
		const msgpack_object *t = &tasks->via.array.ptr[i];

		if (t->type != MSGPACK_OBJECT_STR || !t->via.str.size
		    || t->via.str.size > SL_PROTO_MAX_NAME) {
			*why = "READY.tasks entries must be names of 1..32 "
			       "bytes";
			return SL_EPROTO;
		}
		r->tasks[i].ptr = t->via.str.ptr;
		r->tasks[i].len = t->via.str.size;
	}
	return 0;
}

static int
s_decode_ready(
    const msgpack_object_map *b, sl_msg_ready_t *r, const char **why)
{
	static const char bad_capacity[] = "READY.capacity must be 1..4096";
	uint64_t v;
	int rc;

	/* 0 fits the type but not the meaning: no capacity, no jobs. */
	if ((rc = s_get_uint(
	         b, "capacity", SL_PROTO_MAX_CAPACITY, &v, why, bad_capacity)))
		return rc;
	if (!v) {
		*why = bad_capacity;
		return SL_EPROTO;
	}
	r->capacity = (uint32_t) v;
	if ((rc = s_get_uint(b, "pid", UINT32_MAX, &v, why,
	         "READY.pid must be an unsigned integer")))
		return rc;
	r->pid = (uint32_t) v;
	if ((rc = s_get_str(b, "host", SL_PROTO_MAX_TEXT, false, &r->host, why,
	         "READY.host must be a string")))
		return rc;
	return s_decode_tasks(s_field(b, "tasks"), r, why);
}

static int
s_decode_job(const msgpack_object_map *b, sl_msg_job_t *j, const char **why)
{
	int rc;

	if ((rc = s_get_uint(b, "job", UINT64_MAX, &j->job, why,
	         "JOB.job must be an unsigned integer")))
		return rc;
	if ((rc = s_get_str(b, "task", SL_PROTO_MAX_NAME, true, &j->task, why,
	         "JOB.task must be a name of 1..32 bytes")))
		return rc;
	j->item = s_field(b, "item");
	if (!j->item) {
		*why = "JOB.item is missing";
		return SL_EPROTO;
	}
	if (s_field(b, "traceparent")
	    && ((rc = s_get_str(b, "traceparent", SL_TRACE_LEN, true,
	             &j->trace, why,
	             "JOB.traceparent must be a W3C traceparent"))
	        || !sl_trace_ok(j->trace.ptr, j->trace.len, why)))
		return rc ? rc : SL_EPROTO;
	return 0;
}

/* An optional time in µs (0..INT64_MAX) into *out, absent: dflt. */
static int
s_get_time(const msgpack_object_map *b, const char *key, int64_t *out,
    int64_t dflt, const char **why)
{
	uint64_t v;
	int rc;

	*out = dflt;
	if (!s_field(b, key))
		return 0;
	if ((rc = s_get_uint(b, key, INT64_MAX, &v, why,
	         "RESULT times must be unsigned integers")))
		return rc;
	*out = (int64_t) v;
	return 0;
}

static int
s_decode_result(
    const msgpack_object_map *b, sl_msg_result_t *res, const char **why)
{
	const msgpack_object *ok = s_field(b, "ok");
	int rc;

	if ((rc = s_get_uint(b, "job", UINT64_MAX, &res->job, why,
	         "RESULT.job must be an unsigned integer")))
		return rc;
	if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN) {
		*why = "RESULT.ok must be a boolean";
		return SL_EPROTO;
	}
	res->ok = ok->via.boolean;
	if (res->ok) {
		res->value = s_field(b, "value");
		if (!res->value) {
			*why = "RESULT.value is missing";
			return SL_EPROTO;
		}
	} else {
		if ((rc = s_get_str(b, "code", SL_PROTO_MAX_NAME, true,
		         &res->code, why,
		         "RESULT.code must be a name of 1..32 bytes")))
			return rc;
		if ((rc = s_get_str(b, "message", SL_PROTO_MAX_TEXT, false,
		         &res->message, why,
		         "RESULT.message must be a string")))
			return rc;
	}
	/* Timings are optional: a minimal worker may leave them out. */
	if (s_field(b, "cpu_us")
	    && (rc = s_get_uint(b, "cpu_us", UINT64_MAX, &res->times.cpu_us,
	            why, "RESULT.cpu_us must be an unsigned integer")))
		return rc;
	if ((rc = s_get_time(b, "t_done_us", &res->times.t_done_us, 0, why))
	    || (rc = s_get_time(b, "start_us", &res->times.start_us, -1, why)))
		return rc;
	return s_get_time(b, "run_us", &res->times.run_us, -1, why);
}

/* REGISTERED: worker (optional label), credit (optional bool). */
static int
s_decode_registered(
    const msgpack_object_map *b, sl_msg_registered_t *r, const char **why)
{
	const msgpack_object *credit = s_field(b, "credit");
	const msgpack_object *progress = s_field(b, "progress");

	if ((credit && credit->type != MSGPACK_OBJECT_BOOLEAN)
	    || (progress && progress->type != MSGPACK_OBJECT_BOOLEAN)) {
		*why = "REGISTERED.credit and .progress must be booleans";
		return SL_EPROTO;
	}
	r->credit = credit && credit->via.boolean;
	r->progress = progress && progress->via.boolean;
	return s_get_str(b, "worker", SL_PROTO_MAX_NAME, false, &r->worker,
	    why, "REGISTERED.worker must be a string of at most 32 bytes");
}

static int
s_decode_credit(
    const msgpack_object_map *b, sl_msg_credit_t *c, const char **why)
{
	uint64_t v = 0;
	int rc = s_get_uint(b, "window", SL_PROTO_MAX_CAPACITY, &v, why,
	    "CREDIT.window must be an unsigned integer 0..4096");

	c->window = (uint32_t) v;
	return rc;
}

/* PROGRESS: job, progress (a number in 0..1), text (optional). */
static int
s_decode_progress(
    const msgpack_object_map *b, sl_msg_progress_t *p, const char **why)
{
	const msgpack_object *o = s_field(b, "progress");
	int rc;

	if ((rc = s_get_uint(b, "job", UINT64_MAX, &p->job, why,
	         "PROGRESS.job must be an unsigned integer")))
		return rc;
	if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		p->progress = o->via.u64 <= 1 ? (double) o->via.u64 : 2;
	else if (o
	    && (o->type == MSGPACK_OBJECT_FLOAT32
	        || o->type == MSGPACK_OBJECT_FLOAT64))
		p->progress = o->via.f64;
	else
		p->progress = 2;
	/* !(x >= 0 && x <= 1) also catches NaN */
	if (!(p->progress >= 0 && p->progress <= 1)) {
		*why = "PROGRESS.progress must be a number from 0 to 1";
		return SL_EPROTO;
	}
	return s_get_str(b, "text", SL_PROTO_MAX_PROGRESS_TEXT, false,
	    &p->text, why,
	    "PROGRESS.text must be a string of at most 128 bytes");
}

/* PARTIAL: job, index, value. */
static int
s_decode_partial(
    const msgpack_object_map *b, sl_msg_partial_t *p, const char **why)
{
	uint64_t index = 0;
	int rc;

	if ((rc = s_get_uint(b, "job", UINT64_MAX, &p->job, why,
	         "PARTIAL.job must be an unsigned integer"))
	    || (rc = s_get_uint(b, "index", UINT32_MAX, &index, why,
	            "PARTIAL.index must be an unsigned 32-bit integer")))
		return rc;
	p->index = (uint32_t) index;
	p->value = s_field(b, "value");
	if (!p->value) {
		*why = "PARTIAL.value is missing";
		return SL_EPROTO;
	}
	return 0;
}

static const struct {
	const char *name;
	sl_msg_type_t type;
} s_types[] = {
	{ "READY", SL_MSG_READY },
	{ "JOB", SL_MSG_JOB },
	{ "RESULT", SL_MSG_RESULT },
	{ "BYE", SL_MSG_BYE },
	{ "PING", SL_MSG_PING },
	{ "PONG", SL_MSG_PONG },
	{ "CANCEL", SL_MSG_CANCEL },
	{ "DRAIN", SL_MSG_DRAIN },
	{ "REGISTERED", SL_MSG_REGISTERED },
	{ "CREDIT", SL_MSG_CREDIT },
	{ "RETURN", SL_MSG_RETURN },
	{ "PROGRESS", SL_MSG_PROGRESS },
	{ "PARTIAL", SL_MSG_PARTIAL },
};

const char *
sl_proto_type_name(sl_msg_type_t type)
{
	for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
		if (s_types[i].type == type)
			return s_types[i].name;
	return "?";
}

int
sl_proto_decode(const void *data, size_t len, sl_msg_t *m, const char **why)
{
	const char *dummy;
	const msgpack_object *a;
	const msgpack_object_map *body;
	size_t off = 0;

	if (!why)
		why = &dummy;
	*why = "ok";
	sl_proto_msg_clear(m);
	if (sl_proto_check(data, len, SL_PROTO_MAX_DEPTH)) {
		*why = "not one well-formed msgpack object of bounded depth";
		return SL_EPROTO;
	}
	if (msgpack_unpack_next(&m->unpacked, data, len, &off)
	        != MSGPACK_UNPACK_SUCCESS
	    || off != len) {
		*why = "msgpack-c refused the frame";
		return SL_EPROTO;
	}
	a = &m->unpacked.data;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 3) {
		*why = "frame is not an array [version, type, body]";
		return SL_EPROTO;
	}
	if (a->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*why = "version is not an unsigned integer";
		return SL_EPROTO;
	}
	if (a->via.array.ptr[0].via.u64 != SL_PROTO_VERSION) {
		*why = "unsupported protocol version";
		return SL_EVERSION;
	}
	if (a->via.array.ptr[1].type != MSGPACK_OBJECT_STR
	    || a->via.array.ptr[2].type != MSGPACK_OBJECT_MAP) {
		*why = "type is not a string or body is not a map";
		return SL_EPROTO;
	}
	body = &a->via.array.ptr[2].via.map;
	for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++) {
		sl_str_t t = { a->via.array.ptr[1].via.str.ptr,
			a->via.array.ptr[1].via.str.size };

		if (!sl_proto_str_eq(t, s_types[i].name))
			continue;
		m->type = s_types[i].type;
		switch (m->type) {
		case SL_MSG_READY:
			return s_decode_ready(body, &m->u.ready, why);
		case SL_MSG_JOB:
			return s_decode_job(body, &m->u.job, why);
		case SL_MSG_RESULT:
			return s_decode_result(body, &m->u.result, why);
		case SL_MSG_CANCEL:
			return s_get_uint(body, "job", UINT64_MAX,
			    &m->u.cancel.job, why,
			    "CANCEL.job must be an unsigned integer");
		case SL_MSG_REGISTERED:
			return s_decode_registered(
			    body, &m->u.registered, why);
		case SL_MSG_CREDIT:
			return s_decode_credit(body, &m->u.credit, why);
		case SL_MSG_RETURN:
			return s_get_uint(body, "job", UINT64_MAX,
			    &m->u.cancel.job, why,
			    "RETURN.job must be an unsigned integer");
		case SL_MSG_PROGRESS:
			return s_decode_progress(body, &m->u.progress, why);
		case SL_MSG_PARTIAL:
			return s_decode_partial(body, &m->u.partial, why);
		case SL_MSG_BYE:
		case SL_MSG_PING:
		case SL_MSG_PONG:
		case SL_MSG_DRAIN:
			return 0;
		}
	}
	*why = "unknown message type";
	return SL_ETYPE;
}

/* ---- encoding ------------------------------------------------------------
 */

/* [version, type, {  -- the caller packs n_fields key/value pairs. */
static int
s_begin(msgpack_packer *pk, const char *type, uint32_t n_fields)
{
	return msgpack_pack_array(pk, 3)
	    || msgpack_pack_uint8(pk, SL_PROTO_VERSION)
	    || msgpack_pack_str_with_body(pk, type, strlen(type))
	    || msgpack_pack_map(pk, n_fields);
}

static int
s_key(msgpack_packer *pk, const char *key)
{
	return msgpack_pack_str_with_body(pk, key, strlen(key));
}

static int
s_raw(msgpack_sbuffer *sb, const void *mp, size_t len)
{
	return msgpack_sbuffer_write(sb, mp, len);
}

static int
s_done(int rc)
{
	return rc ? SL_ENOMEM : 0;
}

int
sl_proto_encode_ready(msgpack_sbuffer *sb, uint32_t capacity, uint32_t pid,
    const char *host, const char *const *tasks, size_t n_tasks)
{
	msgpack_packer pk;
	int rc;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	rc = s_begin(&pk, "READY", 4) || s_key(&pk, "capacity")
	    || msgpack_pack_uint32(&pk, capacity) || s_key(&pk, "pid")
	    || msgpack_pack_uint32(&pk, pid) || s_key(&pk, "host")
	    || msgpack_pack_str_with_body(&pk, host, strlen(host))
	    || s_key(&pk, "tasks")
	    || msgpack_pack_array(&pk, (uint32_t) n_tasks);
	for (size_t i = 0; !rc && i < n_tasks; i++)
		rc = msgpack_pack_str_with_body(
		    &pk, tasks[i], strlen(tasks[i]));
	return s_done(rc);
}

int
sl_proto_encode_job(msgpack_sbuffer *sb, uint64_t job, const char *task,
    size_t task_len, const void *item_mp, size_t item_len, const char *trace)
{
	bool traced = trace && trace[0];
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "JOB", 3 + traced) || s_key(&pk, "job")
	    || msgpack_pack_uint64(&pk, job) || s_key(&pk, "task")
	    || msgpack_pack_str_with_body(&pk, task, task_len)
	    || s_key(&pk, "item") || s_raw(sb, item_mp, item_len)
	    || (traced
	        && (s_key(&pk, "traceparent")
	            || msgpack_pack_str_with_body(
	                &pk, trace, strlen(trace)))));
}

/* How many of t's fields a RESULT carries (cpu_us, t_done_us always). */
static uint32_t
s_times_count(const sl_proto_times_t *t)
{
	return 2 + (t->start_us >= 0) + (t->run_us >= 0);
}

/* A RESULT's timings, the last s_times_count(t) of its fields. */
static int
s_times(msgpack_packer *pk, const sl_proto_times_t *t)
{
	return s_key(pk, "cpu_us") || msgpack_pack_uint64(pk, t->cpu_us)
	    || s_key(pk, "t_done_us")
	    || msgpack_pack_uint64(pk, (uint64_t) t->t_done_us)
	    || (t->start_us >= 0
	        && (s_key(pk, "start_us")
	            || msgpack_pack_uint64(pk, (uint64_t) t->start_us)))
	    || (t->run_us >= 0
	        && (s_key(pk, "run_us")
	            || msgpack_pack_uint64(pk, (uint64_t) t->run_us)));
}

int
sl_proto_encode_result_ok(msgpack_sbuffer *sb, uint64_t job,
    const void *value_mp, size_t value_len, const sl_proto_times_t *t)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "RESULT", 3 + s_times_count(t))
	    || s_key(&pk, "job") || msgpack_pack_uint64(&pk, job)
	    || s_key(&pk, "ok") || msgpack_pack_true(&pk)
	    || s_key(&pk, "value") || s_raw(sb, value_mp, value_len)
	    || s_times(&pk, t));
}

int
sl_proto_encode_result_err(msgpack_sbuffer *sb, uint64_t job, const char *code,
    const char *message, const sl_proto_times_t *t)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "RESULT", 4 + s_times_count(t))
	    || s_key(&pk, "job") || msgpack_pack_uint64(&pk, job)
	    || s_key(&pk, "ok") || msgpack_pack_false(&pk)
	    || s_key(&pk, "code")
	    || msgpack_pack_str_with_body(&pk, code, strlen(code))
	    || s_key(&pk, "message")
	    || msgpack_pack_str_with_body(&pk, message, strlen(message))
	    || s_times(&pk, t));
}

/* A message whose body is one uint: CANCEL and RETURN (job), CREDIT
 * (window). */
static int
s_encode_uint(
    msgpack_sbuffer *sb, const char *type, const char *key, uint64_t v)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, type, 1) || s_key(&pk, key)
	    || msgpack_pack_uint64(&pk, v));
}

int
sl_proto_encode_cancel(msgpack_sbuffer *sb, uint64_t job)
{
	return s_encode_uint(sb, "CANCEL", "job", job);
}

int
sl_proto_encode_registered(
    msgpack_sbuffer *sb, const char *label, bool credit, bool progress)
{
	msgpack_packer pk;

	/* Without credit (progress) the field is left out: what a revision
	 * 5 (6) gateway sends, byte for byte. */
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "REGISTERED", 1u + credit + progress)
	    || s_key(&pk, "worker")
	    || msgpack_pack_str_with_body(&pk, label, strlen(label))
	    || (credit && (s_key(&pk, "credit") || msgpack_pack_true(&pk)))
	    || (progress
	        && (s_key(&pk, "progress") || msgpack_pack_true(&pk))));
}

int
sl_proto_encode_progress(
    msgpack_sbuffer *sb, uint64_t job, double fraction, const char *text)
{
	size_t n = text ? strnlen(text, SL_PROTO_MAX_PROGRESS_TEXT) : 0;
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "PROGRESS", n ? 3 : 2) || s_key(&pk, "job")
	    || msgpack_pack_uint64(&pk, job) || s_key(&pk, "progress")
	    || msgpack_pack_double(&pk, fraction)
	    || (n
	        && (s_key(&pk, "text")
	            || msgpack_pack_str_with_body(&pk, text, n))));
}

int
sl_proto_encode_partial(msgpack_sbuffer *sb, uint64_t job, uint32_t index,
    const void *value_mp, size_t value_len)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, "PARTIAL", 3) || s_key(&pk, "job")
	    || msgpack_pack_uint64(&pk, job) || s_key(&pk, "index")
	    || msgpack_pack_uint32(&pk, index) || s_key(&pk, "value")
	    || s_raw(sb, value_mp, value_len));
}

int
sl_proto_encode_credit(msgpack_sbuffer *sb, uint32_t window)
{
	return s_encode_uint(sb, "CREDIT", "window", window);
}

int
sl_proto_encode_return(msgpack_sbuffer *sb, uint64_t job)
{
	return s_encode_uint(sb, "RETURN", "job", job);
}

int
sl_proto_encode_empty(msgpack_sbuffer *sb, sl_msg_type_t type)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return s_done(s_begin(&pk, sl_proto_type_name(type), 0));
}
