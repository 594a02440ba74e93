/*
 * gw_out: frames to clients, before and as JSON.
 *
 * A frame is a typed gw_out_t record that each transport encodes itself
 * (gw_out_json for JSON clients, gw_pproto_encode for msgpack ones), so a
 * msgpack client's path never goes through JSON. Which keys a frame of
 * each type carries, in which order, of which kind and when, is written
 * once, in gw_out.c's field table; both encoders only walk it
 * (gw_out_walk), so the two forms cannot drift apart. Free values (results,
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
	GW_OUT_ACCEPTED = 1, /* id, items, workers, resume */
	GW_OUT_RESULT,       /* id, seq, value (+ timings) */
	GW_OUT_ITEM_ERROR,   /* id, seq, code, message (+ timings) */
	GW_OUT_DONE,         /* id, ok, failed, cancelled, elapsed_ms */
	GW_OUT_ERROR,        /* code, message; id or channel if known */
	GW_OUT_PONG, /* data, server_us, workers, queued, running, draining */
	GW_OUT_SUBSCRIBED,   /* channel, subscriptions */
	GW_OUT_UNSUBSCRIBED, /* channel, subscriptions */
	GW_OUT_PROGRESS,     /* id, seq, progress, text (revision 7) */
	GW_OUT_PARTIAL,      /* id, seq, index, value, restart (revision 7) */
} gw_out_type_t;

/* Where an item's time went: what a result (or a worker's item error)
 * of a request submitted with timing carries. */
typedef struct gw_out_timing {
	int64_t t_done_us; /* the worker's wall clock when it finished */
	uint64_t cpu_us;   /* CPU time the task used */
	int64_t queue_us;  /* in the gateway's queue, every attempt's wait */
	int64_t start_us;  /* on the worker before its task started;
	                      -1: not said (a worker before revision 7) */
	int64_t run_us;    /* the task's run time; -1: not said */
	uint32_t attempts; /* workers that took it, this one included */
	char worker[24];   /* the gateway's label of that worker (w1...) */
} gw_out_timing_t;

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
	/* RESULT, PARTIAL: the value; PONG: data, may be empty */
	gw_cmsg_value_t value;
	const char *code, *message;
	const char *resume; /* ACCEPTED: the token, to its client only */
	size_t items, workers, ok, failed, cancelled, queued, running;
	size_t subscriptions;
	int64_t elapsed_ms, server_us;
	bool timing;   /* RESULT, ITEM_ERROR: add tm's fields */
	bool draining; /* PONG: the gateway is shutting down (sent if true) */
	gw_out_timing_t tm;
	const char *traceparent; /* ACCEPTED: the request's, or NULL */
	double progress;         /* PROGRESS: 0..1 */
	const char *text;        /* PROGRESS: NULL or its text */
	uint32_t index;          /* PARTIAL: 0, 1, ... within one attempt */
	bool restart;            /* PARTIAL, RESULT: the item started again on
	                            another worker; what came before is void */
	/* 0, or a number several sends of one identical frame share (a
	 * channel's fan-out): a transport may encode the first and reuse
	 * its bytes for the rest. */
	uint64_t serial;
} gw_out_t;

/* An error frame for err (which it borrows). */
gw_out_t gw_out_error(const gw_cmsg_err_t *err);
/* The "type" a frame of this type carries ("error" twice). */
const char *gw_out_type_name(gw_out_type_t t);

/* What an encoder does with each key of a frame, in wire order. Each
 * returns 0, or non-zero to stop the walk (gw_out_walk returns it). */
typedef struct gw_out_visitor {
	int (*str)(void *ctx, const char *key, const char *s);
	int (*integer)(void *ctx, const char *key, int64_t i);
	/* A free value: neither form set means null. */
	int (*value)(void *ctx, const char *key, const gw_cmsg_value_t *v);
	int (*yes)(void *ctx, const char *key); /* the literal true */
	int (*real)(void *ctx, const char *key, double d); /* finite */
} gw_out_visitor_t;

/* The keys f carries: what gw_out_walk visits (a msgpack map's size). */
size_t gw_out_count(const gw_out_t *f);
/* Visit f's keys in wire order: 0, or the first non-zero a callback
 * returned. */
int gw_out_walk(const gw_out_t *f, const gw_out_visitor_t *v, void *ctx);

/*
 * The frame as compact JSON text (not NUL-terminated) in *buf, which has
 * *cap bytes and is grown with realloc when the text needs more (both
 * may be NULL/0 at first; the caller frees *buf). Written directly, a
 * msgpack value included (sl_jtext: bin becomes base64), without a
 * jansson tree: the JSON result path's hot spot. Its length, or 0 when it
 * could not be encoded: out of memory, a value without JSON form or a
 * NULL string the frame must carry (the broker checks values before, so
 * only a caller's bug).
 */
size_t gw_out_json_text(const gw_out_t *f, char **buf, size_t *cap);

/*
 * The same frame parsed back into a jansson value (a new reference in
 * *out), for tests and tools that look inside frames; the gateway only
 * writes text. 0, SL_EPROTO (gw_out_json_text gave nothing) or SL_ENOMEM.
 */
int gw_out_json(const gw_out_t *f, struct json_t **out);

#endif
