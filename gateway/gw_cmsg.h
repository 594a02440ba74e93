/*
 * gw_cmsg: client messages, checked once at the edge.
 *
 * Clients speak the client protocol as JSON text frames (WebSocket, the
 * default) or as msgpack maps (producers, and WebSocket clients of
 * sluice.msgpack.v1: gw_pproto). Either way a frame is validated once,
 * at the edge, into a typed gw_cmsg_t by the same rules (gw_cmsg_check),
 * and anything unacceptable becomes a gw_cmsg_err_t with a stable code
 * (docs/PROTOCOL.md lists them) and a readable message; gw_cmsg_parse is
 * the JSON transport's parser.
 *
 * Items become msgpack here, at the edge: a submit carries them packed as
 * workers receive them, whatever the transport, so the broker and the job
 * path never see JSON (nor include jansson: json_t is only declared).
 * Ping data keeps the form it came in. A gw_cmsg_t owns what it points
 * into until gw_cmsg_clear. No state; lws service thread (and unit
 * tests).
 */
#ifndef GW_CMSG_H
#define GW_CMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "sl_proto.h" /* SL_PROTO_MAX_NAME: the task-name rule */
#include "sl_trace.h" /* SL_TRACE_LEN */

struct json_t; /* jansson's value: only JSON transports look inside */

#define GW_CMSG_MAX_ID 64               /* bytes in a client's request id */
#define GW_CMSG_MAX_CHANNEL 64          /* bytes in a notify channel's name */
#define GW_CMSG_MAX_TIMEOUT_MS 86400000 /* a day */
/* The largest seq a submit's seqs may give: a job keeps its seq in 32
 * bits, and any client language holds that exactly (2^53 in JS). */
#define GW_CMSG_MAX_SEQ UINT32_MAX
#define GW_CMSG_MAX_TOKEN 128 /* bytes in a resume token as sent */

typedef enum {
	GW_CMSG_SUBMIT = 1,  /* run task on every item */
	GW_CMSG_PING,        /* answer with pong, echoing data */
	GW_CMSG_CANCEL,      /* drop a running request */
	GW_CMSG_SUBSCRIBE,   /* watch the requests submitted with notify */
	GW_CMSG_UNSUBSCRIBE, /* ... no longer */
	GW_CMSG_RESUME,      /* take a request over with its token */
} gw_cmsg_type_t;

/* A value as its transport decoded it: at most one of the two is set. */
typedef struct gw_cmsg_value {
	const struct json_t *json;
	const msgpack_object *mp;
} gw_cmsg_value_t;

typedef struct gw_cmsg {
	gw_cmsg_type_t type;
	char id[GW_CMSG_MAX_ID + 1];      /* SUBMIT, CANCEL; PING: or "" */
	char task[SL_PROTO_MAX_NAME + 1]; /* SUBMIT */
	char channel[GW_CMSG_MAX_CHANNEL + 1]; /* (UN)SUBSCRIBE; SUBMIT:
	                                            notify, or "" */
	size_t n_items;                        /* SUBMIT: 1..max_items */
	/* SUBMIT: the items packed as msgpack one after the other, each
	 * with a JSON form; gw_cmsg_item() finds item i. */
	msgpack_sbuffer items;
	size_t *item_end; /* item i ends at this offset in items.data */
	/* SUBMIT: the seq item i's result or item error carries: seqs[i],
	 * or i without seqs (NULL); gw_cmsg_seq() reads it. */
	uint32_t *seqs;
	gw_cmsg_value_t data; /* PING: payload to echo; may be empty */
	int64_t timeout_ms;   /* SUBMIT: end unfinished items after; 0: none */
	bool timing;          /* SUBMIT: results carry the worker's timings */
	char traceparent[SL_TRACE_LEN + 1]; /* SUBMIT: a W3C traceparent,
	                                       checked; "": none given */
	char token[GW_CMSG_MAX_TOKEN + 1];  /* RESUME: as sent */
	size_t token_len;
	uint32_t *have; /* RESUME: seqs the client holds (owned), or NULL */
	size_t n_have;  /* ... how many: at most max_items */
	/* Own what the borrowed pointers above point into. */
	struct json_t *root;
	msgpack_unpacked unpacked;
	bool has_unpacked;
} gw_cmsg_t;

typedef struct gw_cmsg_err {
	const char *code;            /* stable, e.g. "bad_json"; static */
	char id[GW_CMSG_MAX_ID + 1]; /* the frame's id if one was readable */
	char channel[GW_CMSG_MAX_CHANNEL + 1]; /* ... or its channel */
	char message[200];                     /* for humans */
} gw_cmsg_err_t;

/*
 * One top-level field of a client frame as a transport decoded it, for
 * gw_cmsg_check. Strings are not NUL-terminated.
 */
typedef enum {
	GW_CMSG_F_ABSENT = 0,
	GW_CMSG_F_STR,
	GW_CMSG_F_INT,
	GW_CMSG_F_BOOL,
	GW_CMSG_F_ARRAY,
	GW_CMSG_F_OTHER,
} gw_cmsg_fkind_t;

typedef struct gw_cmsg_field {
	gw_cmsg_fkind_t kind;
	const char *s; /* STR */
	size_t len;    /* STR: bytes; ARRAY: elements */
	int64_t i;     /* INT (an integer outside int64 is OTHER) */
	bool b;        /* BOOL */
	/* ARRAY: element i (< len) of the transport's array arr, as a
	 * field of its own (NULL where no check reads elements). */
	struct gw_cmsg_field (*at)(const void *arr, size_t i);
	const void *arr;
} gw_cmsg_field_t;

/*
 * The top-level keys of a client frame. gw_cmsg.c's table gives each its
 * name and its member of gw_cmsg_fields_t, and both transports look keys
 * up there: a new field is one value here, one row there, one member.
 */
typedef enum {
	GW_CMSG_K_TYPE,
	GW_CMSG_K_ID,
	GW_CMSG_K_TASK,
	GW_CMSG_K_ITEMS,
	GW_CMSG_K_TIMEOUT_MS,
	GW_CMSG_K_TIMING,
	GW_CMSG_K_CHANNEL,
	GW_CMSG_K_NOTIFY,
	GW_CMSG_K_SEQS,
	GW_CMSG_K_TOKEN,
	GW_CMSG_K_HAVE,
	GW_CMSG_K_DATA,
	GW_CMSG_K_TRACEPARENT,
	GW_CMSG_K_COUNT /* also: not a key of the protocol */
} gw_cmsg_key_t;

typedef struct gw_cmsg_fields {
	gw_cmsg_field_t type, id, task, items, timeout_ms, timing, channel,
	    notify, seqs, token, have, traceparent;
	gw_cmsg_field_t data; /* PING: unchecked, the transport keeps it */
} gw_cmsg_fields_t;

/* Key k's name, e.g. "timeout_ms" (static). */
const char *gw_cmsg_key_name(gw_cmsg_key_t k);
/* The key whose name is the len bytes at s, or GW_CMSG_K_COUNT for one
 * the protocol does not know (transports ignore those). */
gw_cmsg_key_t gw_cmsg_key_find(const char *s, size_t len);
/* Key k's member of f. */
gw_cmsg_field_t *gw_cmsg_fields_at(gw_cmsg_fields_t *f, gw_cmsg_key_t k);

/*
 * The rules every client frame obeys, whatever its transport: fill out's
 * typed fields from f (items and data are the caller's to set). Returns 0,
 * or -1 with err filled.
 */
int gw_cmsg_check(const gw_cmsg_fields_t *f, size_t max_items, gw_cmsg_t *out,
    gw_cmsg_err_t *err);

/*
 * A field that must be an array of integers 0..GW_CMSG_MAX_SEQ (submit's
 * seqs), n of them when n is not 0, all different when distinct. Fills
 * *out with a new array (caller frees; NULL for an empty one) and returns
 * 0, or -1 with err filled: code, with a message naming the field name
 * and the first offending element; internal when out of memory. id is
 * echoed (may be NULL).
 */
int gw_cmsg_check_seqs(const gw_cmsg_field_t *f, const char *name, size_t n,
    bool distinct, const char *code, const char *id, uint32_t **out,
    gw_cmsg_err_t *err);

/* The seq of a submit's item i (< n_items): see gw_cmsg_t.seqs. */
uint32_t gw_cmsg_seq(const gw_cmsg_t *m, size_t i);

/*
 * Parse one complete JSON text frame. Returns 0 with *out filled (caller
 * calls gw_cmsg_clear), or -1 with *err filled and nothing to free.
 */
int gw_cmsg_parse(const char *text, size_t len, size_t max_items,
    gw_cmsg_t *out, gw_cmsg_err_t *err);
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
    gw_cmsg_t *m, gw_cmsg_pack_fn pack, const void *items, gw_cmsg_err_t *err);

/* Fill err; id may be NULL. Returns -1 so callers can return it. */
int gw_cmsg_err_set(gw_cmsg_err_t *err, const char *id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
