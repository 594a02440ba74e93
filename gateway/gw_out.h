/*
 * gw_out: frames to clients, before and as JSON.
 *
 * A frame is a typed gw_out_t record that each transport encodes itself
 * (gw_out_json for JSON clients, gw_pproto_encode for msgpack ones), so a
 * msgpack client's path never goes through JSON. Free values (results,
 * ping data) keep the form they came in: msgpack objects from workers and
 * msgpack clients, JSON values from JSON clients. No state; lws service
 * thread (and unit tests).
 */
#ifndef GW_OUT_H
#define GW_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_cmsg.h"

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
	/* RESULT: the value; PONG: data, may be empty */
	gw_cmsg_value_t value;
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
gw_out_t gw_out_error(const gw_cmsg_err_t *err);
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
