/*
 * gw_cproto: the client protocol of the gateway, both directions.
 *
 * In: one JSON text frame is parsed and validated once, here, into a typed
 * gw_cmsg_t; anything unacceptable becomes a gw_cerr_t with a stable code
 * (docs/PROTOCOL.md lists them) and a readable message. Out: builders for
 * every frame the gateway sends, as jansson values that the transport
 * serialises. No state; lws service thread (and unit tests).
 */
#ifndef GW_CPROTO_H
#define GW_CPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define GW_CPROTO_MAX_ID 64 /* bytes in a client's request id */

typedef enum {
	GW_CMSG_SUBMIT = 1, /* run task on every item */
	GW_CMSG_PING,       /* answer with pong, echoing data */
	GW_CMSG_CANCEL,     /* drop a running request */
} gw_cmsg_type_t;

#define GW_CPROTO_MAX_TIMEOUT_MS 86400000 /* a day */

typedef struct gw_cmsg {
	gw_cmsg_type_t type;
	const char *id;     /* SUBMIT, CANCEL: request id, 1..64 bytes */
	const char *task;   /* SUBMIT: task name, 1..32 bytes; borrowed */
	json_t *items;      /* SUBMIT: non-empty array; borrowed */
	json_t *data;       /* PING: payload to echo, or NULL; borrowed */
	int64_t timeout_ms; /* SUBMIT: end unfinished items after; 0: none */
	bool timing;        /* SUBMIT: results carry the worker's timings */
	json_t *root;       /* owns everything above; freed by gw_cmsg_clear */
} gw_cmsg_t;

typedef struct gw_cerr {
	const char *code;              /* stable, e.g. "bad_json"; static */
	char id[GW_CPROTO_MAX_ID + 1]; /* the frame's id if one was readable */
	char message[200];             /* for humans */
} gw_cerr_t;

/*
 * Parse one complete text frame. Returns 0 with *out filled (caller calls
 * gw_cmsg_clear), or -1 with *err filled and nothing to free.
 */
int gw_cmsg_parse(const char *text, size_t len, size_t max_items,
    gw_cmsg_t *out, gw_cerr_t *err);
/*
 * The same checks on a value already decoded by another transport (the
 * producers' msgpack, see gw_pproto.h). Takes ownership of root, also on
 * failure. Returns 0 with *out filled, or -1 with *err filled.
 */
int gw_cmsg_parse_value(
    json_t *root, size_t max_items, gw_cmsg_t *out, gw_cerr_t *err);
void gw_cmsg_clear(gw_cmsg_t *m);

/* Fill err; id may be NULL. Returns -1 so callers can return it. */
int gw_cerr_set(gw_cerr_t *err, const char *id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Frame builders: each returns a new reference, or NULL on ENOMEM. */
json_t *gw_frame_accepted(const char *id, size_t items, size_t workers);
/* With timing, the worker's t_done_us (wall clock at finish) and cpu_us
 * are added, for benchmarks that measure the forward delay. */
json_t *gw_frame_result(const char *id, uint32_t seq, json_t *value,
    bool timing, int64_t t_done_us, uint64_t cpu_us);
json_t *gw_frame_item_error(
    const char *id, uint32_t seq, const char *code, const char *message);
json_t *gw_frame_done(const char *id, size_t ok, size_t failed,
    size_t cancelled, int64_t elapsed_ms);
json_t *gw_frame_error(const gw_cerr_t *err);
json_t *gw_frame_pong(json_t *data, int64_t server_us, size_t workers,
    size_t queued, size_t running);

#endif
