/*
 * gw_wres: a worker's RESULT, PARTIAL and PROGRESS checked (see
 * gw_wres.h). No state; lws service thread.
 */
#include <inttypes.h>
#include <stdio.h>

#include "gw_wres.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_utf8.h"

/* A value's JSON form: 0, or the reason it has none in t->message. */
static int
s_json_ok(const msgpack_object *value, gw_wres_text_t *t)
{
	const char *why = NULL;
	int rc = sl_json_mp_check(value, SL_PROTO_MAX_ITEM_DEPTH, &why);

	if (rc)
		snprintf(t->message, sizeof t->message,
		    "the worker's value has no JSON form: %s",
		    rc == SL_ETOOBIG      ? "nested too deeply"
		        : rc == SL_ENOMEM ? "out of memory"
		                          : why);
	return rc;
}

/* res as the item error bad_result, reason in t->message. */
static void
s_bad(gw_workers_result_t *res, gw_wres_text_t *t)
{
	snprintf(t->code, sizeof t->code, "bad_result");
	res->ok = false;
	res->code = t->code;
	res->message = t->message;
}

void
gw_wres_result(
    const sl_msg_result_t *m, gw_workers_result_t *res, gw_wres_text_t *t)
{
	*res = (gw_workers_result_t) { .ok = m->ok,
		.value = m->value,
		.code = "",
		.message = "",
		.times = m->times };
	if (m->ok) {
		if (s_json_ok(m->value, t))
			s_bad(res, t);
		return;
	}
	snprintf(
	    t->code, sizeof t->code, "%.*s", (int) m->code.len, m->code.ptr);
	snprintf(t->message, sizeof t->message, "%.*s", (int) m->message.len,
	    m->message.ptr ? m->message.ptr : "");
	sl_utf8_clean(t->code);
	sl_utf8_clean(t->message);
	res->code = t->code;
	res->message = t->message;
}

int
gw_wres_partial(const sl_msg_partial_t *m, uint32_t next,
    gw_workers_result_t *res, gw_wres_text_t *t)
{
	*res = (gw_workers_result_t) { .ok = true };
	if (m->index != next) {
		snprintf(t->message, sizeof t->message,
		    "the worker's partial value %" PRIu32
		    " came out of order (expected %" PRIu32 ")",
		    m->index, next);
		s_bad(res, t);
		return SL_EPROTO;
	}
	if (s_json_ok(m->value, t)) {
		s_bad(res, t);
		return SL_EPROTO;
	}
	return 0;
}

const char *
gw_wres_progress_text(const sl_msg_progress_t *m,
    char buf[static SL_PROTO_MAX_PROGRESS_TEXT + 1])
{
	if (!m->text.len)
		return NULL;
	snprintf(buf, SL_PROTO_MAX_PROGRESS_TEXT + 1, "%.*s",
	    (int) m->text.len, m->text.ptr);
	sl_utf8_clean(buf);
	return buf;
}
