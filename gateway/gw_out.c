/*
 * gw_out: frames to clients, encoded as JSON (see gw_out.h). No state;
 * lws service thread.
 */
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_out.h"
#include "sl_err.h"
#include "sl_json.h"

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

/* obj[key] = integer; false on ENOMEM. */
static bool
s_set_int(json_t *obj, const char *key, int64_t v)
{
	return !json_object_set_new(obj, key, json_integer((json_int_t) v));
}

static bool
s_set_str(json_t *obj, const char *key, const char *v)
{
	return !json_object_set_new(obj, key, json_string(v));
}

/* obj[key] = the value in whichever form it came; 0 or SL_E*. */
static int
s_set_value(json_t *obj, const char *key, const gw_cmsg_value_t *v)
{
	json_t *j;
	const char *why;
	int rc;

	if (v->json)
		return json_object_set(obj, key, (json_t *) v->json)
		    ? SL_ENOMEM
		    : 0;
	if ((rc = sl_json_from_mp(v->mp, &j, &why)))
		return rc;
	return json_object_set_new(obj, key, j) ? SL_ENOMEM : 0;
}

static const char *const s_type_names[] = {
	[GW_OUT_ACCEPTED] = "accepted",
	[GW_OUT_RESULT] = "result",
	[GW_OUT_ITEM_ERROR] = "error",
	[GW_OUT_DONE] = "done",
	[GW_OUT_ERROR] = "error",
	[GW_OUT_PONG] = "pong",
	[GW_OUT_SUBSCRIBED] = "subscribed",
	[GW_OUT_UNSUBSCRIBED] = "unsubscribed",
};

const char *
gw_out_type_name(gw_out_type_t t)
{
	return t >= GW_OUT_ACCEPTED && t <= GW_OUT_UNSUBSCRIBED
	    ? s_type_names[t]
	    : "?";
}

int
gw_out_json(const gw_out_t *f, json_t **out)
{
	json_t *o = json_object();
	bool ok;
	int rc = 0;

	*out = NULL;
	if (!o)
		return SL_ENOMEM;
	/* Keys in the order docs/PROTOCOL.md shows them. */
	ok = s_set_str(o, "type", gw_out_type_name(f->type));
	if (ok && f->id)
		ok = s_set_str(o, "id", f->id);
	switch (f->type) {
	case GW_OUT_ACCEPTED:
		ok = ok && s_set_int(o, "items", (int64_t) f->items)
		    && s_set_int(o, "workers", (int64_t) f->workers);
		break;
	case GW_OUT_RESULT:
		ok = ok && s_set_int(o, "seq", f->seq);
		if (ok && (rc = s_set_value(o, "value", &f->value)))
			break;
		if (ok && f->timing)
			ok = s_set_int(o, "t_done_us", f->t_done_us)
			    && s_set_int(o, "cpu_us", (int64_t) f->cpu_us);
		break;
	case GW_OUT_ITEM_ERROR:
		ok = ok && s_set_int(o, "seq", f->seq);
		/* fall through */
	case GW_OUT_ERROR:
		ok = ok && s_set_str(o, "code", f->code)
		    && s_set_str(o, "message", f->message);
		break;
	case GW_OUT_DONE:
		ok = ok && s_set_int(o, "ok", (int64_t) f->ok)
		    && s_set_int(o, "failed", (int64_t) f->failed)
		    && s_set_int(o, "elapsed_ms", f->elapsed_ms);
		/* Only a cancelled request says so: the common frame stays
		 * small. */
		if (ok && f->cancelled)
			ok = s_set_int(o, "cancelled", (int64_t) f->cancelled);
		break;
	case GW_OUT_PONG:
		ok = ok && s_set_int(o, "server_us", f->server_us)
		    && s_set_int(o, "workers", (int64_t) f->workers)
		    && s_set_int(o, "queued", (int64_t) f->queued)
		    && s_set_int(o, "running", (int64_t) f->running);
		/* Only while shutting down: a page can show the drain. */
		if (ok && f->draining)
			ok = !json_object_set_new(o, "draining", json_true());
		if (ok && (f->value.json || f->value.mp))
			rc = s_set_value(o, "data", &f->value);
		break;
	case GW_OUT_SUBSCRIBED:
	case GW_OUT_UNSUBSCRIBED:
		ok = ok
		    && s_set_int(
		        o, "subscriptions", (int64_t) f->subscriptions);
		break;
	}
	if (ok && !rc && f->channel)
		ok = s_set_str(o, "channel", f->channel);
	if (!ok || rc) {
		json_decref(o);
		return rc ? rc : SL_ENOMEM;
	}
	*out = o;
	return 0;
}
