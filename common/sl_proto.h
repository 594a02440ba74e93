/*
 * sl_proto: the internal wire protocol between the gateway and workers.
 *
 * Every message is one ZeroMQ frame (after the ROUTER routing id) holding
 * one msgpack array [version, type, body]: version is SL_PROTO_VERSION,
 * type a short string, body a map with string keys. docs/PROTOCOL.md holds
 * the table of messages and fields; this header mirrors it.
 *
 * Decoding treats its input as hostile: sl_proto_check() walks the bytes
 * without allocating (container counts must fit the bytes that remain,
 * nesting is bounded, exactly one object, no trailing bytes) before
 * msgpack-c sees them, then every field is type-checked. Bad input yields
 * an SL_E* code and a static reason, never a crash. Unknown body keys are
 * ignored so that newer peers can add fields.
 *
 * No state; any thread.
 */
#ifndef SL_PROTO_H
#define SL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define SL_PROTO_VERSION 1
#define SL_PROTO_MAX_DEPTH 16 /* whole frame; msgpack-c itself stops at 32 */
#define SL_PROTO_MAX_ITEM_DEPTH 12 /* an item or value inside a frame */
#define SL_PROTO_MAX_TASKS 64      /* task names in one READY */
#define SL_PROTO_MAX_NAME 32       /* bytes in a task name */
#define SL_PROTO_MAX_RID 255       /* ZeroMQ routing ids are 1..255 bytes */
#define SL_PROTO_MAX_TEXT 256      /* bytes in host, code, message */
#define SL_PROTO_MAX_CAPACITY 4096 /* jobs one worker may hold at once */
#define SL_PROTO_MAX_PROGRESS_TEXT 128 /* bytes in PROGRESS.text */

typedef enum {
	SL_MSG_READY = 1,  /* worker -> gateway: register, with capacity */
	SL_MSG_JOB,        /* gateway -> worker: run one item */
	SL_MSG_RESULT,     /* worker -> gateway: one item's outcome */
	SL_MSG_BYE,        /* worker -> gateway: leaving, requeue my jobs */
	SL_MSG_PING,       /* either way: heartbeat; answer with PONG */
	SL_MSG_PONG,       /* either way: answer to PING */
	SL_MSG_CANCEL,     /* gateway -> worker: stop this job, if running */
	SL_MSG_DRAIN,      /* worker -> gateway: send me no more jobs */
	SL_MSG_REGISTERED, /* gateway -> worker: your READY was accepted */
	SL_MSG_CREDIT,     /* worker -> gateway: hold at most window jobs */
	SL_MSG_RETURN,     /* worker -> gateway: not started; requeue it */
	SL_MSG_PROGRESS,   /* worker -> gateway: how far a job is (rev. 7) */
	SL_MSG_PARTIAL,    /* worker -> gateway: a job's partial value */
} sl_msg_type_t;

/* A borrowed byte string inside a decoded frame; not NUL-terminated. */
typedef struct sl_str {
	const char *ptr;
	size_t len;
} sl_str_t;

typedef struct sl_msg_ready {
	uint32_t capacity;                  /* jobs it may hold at once */
	uint32_t pid;                       /* for logs only */
	sl_str_t host;                      /* for logs only */
	size_t n_tasks;                     /* entries used in tasks */
	sl_str_t tasks[SL_PROTO_MAX_TASKS]; /* task names it runs */
} sl_msg_ready_t;

typedef struct sl_msg_job {
	uint64_t job;               /* gateway-chosen id, echoed in RESULT */
	sl_str_t task;              /* task name */
	const msgpack_object *item; /* the item; lives in the msg's zone */
	sl_str_t trace; /* its request's W3C traceparent (revision 7),
	                   checked by sl_trace_ok; len 0 if absent */
} sl_msg_job_t;

/* A RESULT's timings, every one optional on the wire. */
typedef struct sl_proto_times {
	uint64_t cpu_us;   /* CPU time the task used; 0 if absent */
	int64_t t_done_us; /* wall clock when it finished; 0 if absent */
	int64_t start_us;  /* the job received -> its task started (it
	                      waited for a thread); -1: absent (revision 7) */
	int64_t run_us;    /* the task's run time (monotonic clock);
	                      -1: absent (revision 7) */
} sl_proto_times_t;

typedef struct sl_msg_result {
	uint64_t job;                /* id from the JOB */
	bool ok;                     /* value if true, code+message if false */
	const msgpack_object *value; /* ok: the result value */
	sl_str_t code;          /* !ok: stable error code, e.g. bad_item */
	sl_str_t message;       /* !ok: human-readable reason */
	sl_proto_times_t times; /* how long it took */
} sl_msg_result_t;

typedef struct sl_msg_cancel {
	uint64_t job; /* id from the JOB */
} sl_msg_cancel_t;

typedef struct sl_msg_registered {
	sl_str_t worker; /* the gateway's label for the worker (its logs);
	                    optional: len 0 if absent */
	bool credit;     /* the gateway takes CREDIT and RETURN (revision 6);
	                    optional: false if absent */
	bool progress;   /* the gateway takes PROGRESS and PARTIAL
	                    (revision 7); optional: false if absent */
} sl_msg_registered_t;

typedef struct sl_msg_progress {
	uint64_t job;    /* id from the JOB */
	double progress; /* 0..1 (finite) */
	sl_str_t text;   /* optional, at most SL_PROTO_MAX_PROGRESS_TEXT
	                    bytes; len 0 if absent */
} sl_msg_progress_t;

typedef struct sl_msg_partial {
	uint64_t job;                /* id from the JOB */
	uint32_t index;              /* 0, 1, 2... within one attempt */
	const msgpack_object *value; /* the partial value */
} sl_msg_partial_t;

typedef struct sl_msg_credit {
	uint32_t window; /* 0..SL_PROTO_MAX_CAPACITY: jobs the gateway may
	                    hold on this worker, those it holds now included */
} sl_msg_credit_t;

typedef struct sl_msg {
	sl_msg_type_t type;
	union {
		sl_msg_ready_t ready;
		sl_msg_job_t job;
		sl_msg_result_t result;
		sl_msg_cancel_t cancel; /* also RETURN's job */
		sl_msg_registered_t registered;
		sl_msg_credit_t credit;
		sl_msg_progress_t progress;
		sl_msg_partial_t partial;
	} u;
	msgpack_unpacked unpacked; /* owns the objects item/value point to */
} sl_msg_t;

/* Prepare m for sl_proto_decode(); pair with sl_proto_msg_clear(). */
void sl_proto_msg_init(sl_msg_t *m);
/* Free what a decode allocated; m may be decoded into again, and needs
 * no other teardown (an initialised, cleared msg holds no memory). */
void sl_proto_msg_clear(sl_msg_t *m);

/*
 * Validate msgpack bytes without allocating: exactly one object, nesting
 * at most max_depth, every length within the buffer. 0 or SL_EPROTO.
 */
int sl_proto_check(const void *data, size_t len, unsigned max_depth);

/*
 * Decode one frame into m (cleared first). Strings and objects in m point
 * into data and m's zone: keep data alive while m is used. Returns 0,
 * SL_EPROTO, SL_EVERSION, SL_ETYPE or SL_ETOOBIG; *why (if non-NULL) gets
 * a static reason for logs. SL_ETYPE means a well-formed frame of a type
 * this build does not know (a newer peer's): receivers drop it quietly.
 */
int sl_proto_decode(
    const void *data, size_t len, sl_msg_t *m, const char **why);

/* The wire name of a type ("READY", ...). */
const char *sl_proto_type_name(sl_msg_type_t type);

/*
 * Encoders append one whole frame to sb (caller owns sb and clears it
 * between frames). item_mp / value_mp are exactly one msgpack object, as
 * the caller packed it. Return 0 or SL_ENOMEM.
 */
int sl_proto_encode_ready(msgpack_sbuffer *sb, uint32_t capacity, uint32_t pid,
    const char *host, const char *const *tasks, size_t n_tasks);
/* JOB; trace is the request's traceparent, NULL or "" for none. */
int sl_proto_encode_job(msgpack_sbuffer *sb, uint64_t job, const char *task,
    size_t task_len, const void *item_mp, size_t item_len, const char *trace);
/* RESULT: cpu_us and t_done_us always, start_us and run_us when >= 0. */
int sl_proto_encode_result_ok(msgpack_sbuffer *sb, uint64_t job,
    const void *value_mp, size_t value_len, const sl_proto_times_t *t);
int sl_proto_encode_result_err(msgpack_sbuffer *sb, uint64_t job,
    const char *code, const char *message, const sl_proto_times_t *t);
int sl_proto_encode_cancel(msgpack_sbuffer *sb, uint64_t job);
/* REGISTERED, naming the worker as the gateway's logs do (label); credit:
 * this gateway takes CREDIT and RETURN; progress: PROGRESS and PARTIAL. */
int sl_proto_encode_registered(
    msgpack_sbuffer *sb, const char *label, bool credit, bool progress);
/* PROGRESS: fraction in 0..1 (the caller clamps), text NULL or at most
 * SL_PROTO_MAX_PROGRESS_TEXT bytes (longer is cut). */
int sl_proto_encode_progress(
    msgpack_sbuffer *sb, uint64_t job, double fraction, const char *text);
/* PARTIAL: value_mp is exactly one msgpack object. */
int sl_proto_encode_partial(msgpack_sbuffer *sb, uint64_t job, uint32_t index,
    const void *value_mp, size_t value_len);
/* CREDIT (window) and RETURN (job): a worker's say over its capacity. */
int sl_proto_encode_credit(msgpack_sbuffer *sb, uint32_t window);
int sl_proto_encode_return(msgpack_sbuffer *sb, uint64_t job);
/* A message without fields: BYE, PING, PONG, DRAIN. */
int sl_proto_encode_empty(msgpack_sbuffer *sb, sl_msg_type_t type);

/* A ZeroMQ routing id in printable form for logs: as text when it is
 * printable ASCII (w-host-pid-rand), else hex; cut to fit outlen. */
void sl_proto_rid_name(
    const uint8_t *rid, size_t len, char *out, size_t outlen);

/*
 * The task-name rule, for every side that accepts one (a client's submit,
 * a producer's, a plugin's task table): 1..SL_PROTO_MAX_NAME of [a-z0-9_.-].
 * s is len bytes, not NUL-terminated; a NUL byte in it is refused.
 */
bool sl_proto_task_name_ok(const char *s, size_t len);

/* A name on the wire (task, notify channel): s is 1..max bytes, each one of
 * chars (a NUL byte never is). */
bool sl_proto_name_ok(
    const char *s, size_t len, size_t max, const char *chars);

/* True if s equals the NUL-terminated c. */
bool sl_proto_str_eq(sl_str_t s, const char *c);

#endif
