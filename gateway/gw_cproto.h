/*
 * gw_cproto: the client protocol of the gateway, both directions.
 *
 * Clients speak it as JSON text frames (WebSocket, the default) or as
 * msgpack maps (producers, and WebSocket clients of sluice.msgpack.v1: see
 * gw_pproto.h). Either way a frame is validated once, at the edge, into a
 * typed gw_cmsg_t by the same rules (gw_cmsg_check), and anything
 * unacceptable becomes a gw_cerr_t with a stable code (docs/PROTOCOL.md
 * lists them) and a readable message.
 *
 * Items become msgpack here, at the edge: a submit carries them packed as
 * workers receive them, whatever the transport, so the broker and the job
 * path never see JSON (nor include jansson: json_t is only declared).
 * Other free values (ping data, results) keep the form they came in: JSON
 * values from JSON clients, msgpack objects from msgpack clients and
 * workers. Frames to clients are typed gw_out_t records that each
 * transport encodes itself, so a msgpack client's path never goes through
 * JSON. No state; lws service thread (and unit tests).
 */
#ifndef GW_CPROTO_H
#define GW_CPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "sl_proto.h" /* SL_PROTO_MAX_NAME: the task-name rule */

struct json_t; /* jansson's value: only JSON transports look inside */

#define GW_CPROTO_MAX_ID 64      /* bytes in a client's request id */
#define GW_CPROTO_MAX_CHANNEL 64 /* bytes in a notify channel's name */
#define GW_CPROTO_MAX_TIMEOUT_MS 86400000 /* a day */

typedef enum {
	GW_CMSG_SUBMIT = 1,  /* run task on every item */
	GW_CMSG_PING,        /* answer with pong, echoing data */
	GW_CMSG_CANCEL,      /* drop a running request */
	GW_CMSG_SUBSCRIBE,   /* watch the requests submitted with notify */
	GW_CMSG_UNSUBSCRIBE, /* ... no longer */
} gw_cmsg_type_t;

/* A value as its transport decoded it: at most one of the two is set. */
typedef struct gw_value {
	const struct json_t *json;
	const msgpack_object *mp;
} gw_value_t;

typedef struct gw_cmsg {
	gw_cmsg_type_t type;
	char id[GW_CPROTO_MAX_ID + 1];    /* SUBMIT, CANCEL; PING: or "" */
	char task[SL_PROTO_MAX_NAME + 1]; /* SUBMIT */
	char channel[GW_CPROTO_MAX_CHANNEL + 1]; /* (UN)SUBSCRIBE; SUBMIT:
	                                            notify, or "" */
	size_t n_items;                          /* SUBMIT: 1..max_items */
	/* SUBMIT: the items packed as msgpack one after the other, each
	 * with a JSON form; gw_cmsg_item() finds item i. */
	msgpack_sbuffer items;
	size_t *item_end;   /* item i ends at this offset in items.data */
	gw_value_t data;    /* PING: payload to echo; may be empty */
	int64_t timeout_ms; /* SUBMIT: end unfinished items after; 0: none */
	bool timing;        /* SUBMIT: results carry the worker's timings */
	/* Own what the borrowed pointers above point into. */
	struct json_t *root;
	msgpack_unpacked unpacked;
	bool has_unpacked;
} gw_cmsg_t;

typedef struct gw_cerr {
	const char *code;              /* stable, e.g. "bad_json"; static */
	char id[GW_CPROTO_MAX_ID + 1]; /* the frame's id if one was readable */
	char channel[GW_CPROTO_MAX_CHANNEL + 1]; /* ... or its channel */
	char message[200];                       /* for humans */
} gw_cerr_t;

/*
 * One top-level field of a client frame as a transport decoded it, for
 * gw_cmsg_check. Strings are not NUL-terminated.
 */
typedef enum {
	GW_F_ABSENT = 0,
	GW_F_STR,
	GW_F_INT,
	GW_F_BOOL,
	GW_F_ARRAY,
	GW_F_OTHER,
} gw_fkind_t;

typedef struct gw_field {
	gw_fkind_t kind;
	const char *s; /* STR */
	size_t len;    /* STR: bytes; ARRAY: elements */
	int64_t i;     /* INT (an integer outside int64 is OTHER) */
	bool b;        /* BOOL */
} gw_field_t;

typedef struct gw_fields {
	gw_field_t type, id, task, items, timeout_ms, timing, channel, notify;
} gw_fields_t;

/*
 * The rules every client frame obeys, whatever its transport: fill out's
 * typed fields from f (items and data are the caller's to set). Returns 0,
 * or -1 with err filled.
 */
int gw_cmsg_check(
    const gw_fields_t *f, size_t max_items, gw_cmsg_t *out, gw_cerr_t *err);

/*
 * Parse one complete JSON text frame. Returns 0 with *out filled (caller
 * calls gw_cmsg_clear), or -1 with *err filled and nothing to free.
 */
int gw_cmsg_parse(const char *text, size_t len, size_t max_items,
    gw_cmsg_t *out, gw_cerr_t *err);
/* Free what a parse left in m; m is zeroed. */
void gw_cmsg_clear(gw_cmsg_t *m);

/* Item i (< n_items) of a submit: its msgpack bytes, *len of them,
 * borrowed from m. */
const char *gw_cmsg_item(const gw_cmsg_t *m, size_t i, size_t *len);

/*
 * Item i of the transport's own form (items) packed into pk, 0, or
 * SL_ETOOBIG (nested too deeply), SL_EPROTO (no JSON form; *why says
 * why) or SL_ENOMEM.
 */
typedef int (*gw_cmsg_pack_fn)(
    const void *items, size_t i, msgpack_packer *pk, const char **why);

/*
 * Pack a checked submit's n_items items into m->items at the edge, the
 * same way for every transport. 0, or -1 with err filled (bad_item, or
 * internal when out of memory) naming the item's index.
 */
int gw_cmsg_pack_items(
    gw_cmsg_t *m, gw_cmsg_pack_fn pack, const void *items, gw_cerr_t *err);

/* Fill err; id may be NULL. Returns -1 so callers can return it. */
int gw_cerr_set(gw_cerr_t *err, const char *id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- frames to clients ---------------------------------------------- */

typedef enum {
	GW_OUT_ACCEPTED = 1, /* id, items, workers */
	GW_OUT_RESULT,       /* id, seq, value (+ timings) */
	GW_OUT_ITEM_ERROR,   /* id, seq, code, message */
	GW_OUT_DONE,         /* id, ok, failed, cancelled, elapsed_ms */
	GW_OUT_ERROR,        /* code, message; id or channel if known */
	GW_OUT_PONG, /* data, server_us, workers, queued, running, draining */
	GW_OUT_SUBSCRIBED,   /* channel, subscriptions */
	GW_OUT_UNSUBSCRIBED, /* channel, subscriptions */
} gw_out_type_t;

/*
 * One frame for a client, before encoding. Everything is borrowed for the
 * duration of the send call: transports encode before they return.
 * channel on a request's frame (accepted, result, error, done) marks the
 * copy a subscriber of that channel receives.
 */
typedef struct gw_out {
	gw_out_type_t type;
	const char *id;      /* NULL: none */
	const char *channel; /* NULL: none */
	uint32_t seq;
	gw_value_t value; /* RESULT: the value; PONG: data, may be empty */
	const char *code, *message;
	size_t items, workers, ok, failed, cancelled, queued, running;
	size_t subscriptions;
	int64_t elapsed_ms, server_us;
	bool timing;   /* RESULT: add t_done_us and cpu_us */
	bool draining; /* PONG: the gateway is shutting down (sent if true) */
	int64_t t_done_us;
	uint64_t cpu_us;
	/* 0, or a number several sends of one identical frame share (a
	 * channel's fan-out): a transport may encode the first and reuse
	 * its bytes for the rest. */
	uint64_t serial;
} gw_out_t;

/* An error frame for err (which it borrows). */
gw_out_t gw_out_error(const gw_cerr_t *err);
/* The "type" a frame of this type carries ("error" twice). */
const char *gw_out_type_name(gw_out_type_t t);

/*
 * The frame as a JSON value (a new reference in *out). A msgpack value is
 * converted here, for JSON clients only (bin becomes base64). 0, SL_EPROTO
 * (a value without JSON form; the broker checks values before, so only a
 * caller's bug) or SL_ENOMEM.
 */
int gw_out_json(const gw_out_t *f, struct json_t **out);

#endif
