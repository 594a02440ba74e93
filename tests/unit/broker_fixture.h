/*
 * broker_fixture: what the broker's tests share (test_broker_*.c).
 *
 * A real broker wired to a real gw_workers, as in the gateway; gw_zmq is
 * replaced at the link (-Wl,--wrap): what gw_workers sends to workers is
 * decoded with sl_proto_decode into the fake below (JOB frames give job
 * ids and items, so a test answers exactly as a real worker would), and
 * worker frames are fed to gw_workers_on_frame. What the broker sends to
 * clients lands in the same fake, kept as JSON. Leaks and use-after-free
 * show up under SLUICE_SANITIZER=address. Single threaded, like the lws
 * service thread.
 */
#ifndef BROKER_FIXTURE_H
#define BROKER_FIXTURE_H

#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <time.h>

#include "gw_broker.h"
#include "gw_cmsg.h"
#include "gw_out.h"
#include "gw_workers.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define MAX_SENT 256

/* One JOB frame the broker sent to a worker, decoded. */
typedef struct sent_job {
	char rid[32]; /* worker it went to */
	uint64_t job; /* job id, echoed in RESULT */
	char task[SL_PROTO_MAX_NAME + 1];
	char *item; /* canonical JSON text; malloc'd */
} sent_job_t;

/* One frame the broker queued for a client. */
typedef struct sent_frame {
	void *user;      /* the client's transport handle */
	json_t *frame;   /* our own reference */
	bool other;      /* came through the second transport (producers) */
	uint64_t serial; /* gw_out_t.serial: shared by a fan-out's copies */
} sent_frame_t;

/* The fake transport, and the broker under test. */
typedef struct fake {
	gw_broker_t *b;
	gw_workers_t *w;          /* real, over the fake gw_zmq below */
	gw_workers_limits_t wlim; /* its limits */
	sent_frame_t frames[MAX_SENT];
	size_t n_frames;
	sent_job_t jobs[MAX_SENT];
	size_t n_jobs;
	char fail_rid[32];          /* worker_send to this worker fails... */
	int fail_rc;                /* ...with this code */
	size_t n_refused;           /* sends that failed on purpose */
	void *gone_user;            /* a destroyed client: must get nothing */
	size_t n_to_gone;           /* frames that reached it anyway */
	uint64_t cancels[MAX_SENT]; /* job ids the broker sent CANCEL for */
	char cancel_rids[MAX_SENT][32]; /* ...and the worker each went to */
	size_t n_cancels;
	size_t n_pings;               /* PING frames sent to workers */
	char ping_rids[MAX_SENT][32]; /* ...and the worker each went to */
	size_t n_pongs;               /* PONG frames sent to workers */
	char pong_rids[MAX_SENT][32]; /* ...and the worker each went to */
	int users[8];                 /* addresses serve as client handles */
	const char *key; /* CURVE key worker frames come from; NULL: none */
	size_t n_registered;           /* REGISTERED frames sent */
	char registered[MAX_SENT][64]; /* ...each as "rid label" */
} fake_t;

/* Every counter a broker test reads, in one flat struct as the broker
 * once had it: the broker's, its requests' and channels', and the
 * workers' (stale summed). */
typedef struct bf_stats {
	size_t workers;         /* registered workers */
	size_t capacity;        /* sum of their capacities */
	size_t running;         /* jobs held by workers */
	size_t queued;          /* jobs waiting for a worker */
	size_t requests;        /* unfinished requests */
	size_t clients;         /* connected clients */
	uint64_t results;       /* results forwarded (ok or item error) */
	uint64_t stale;         /* results dropped: duplicate, late, unknown */
	uint64_t bad_frames;    /* worker frames that failed to decode */
	uint64_t requeued;      /* jobs given back to the queue by a worker */
	uint64_t workers_lost;  /* workers declared dead (silence, crash) */
	uint64_t poisoned;      /* jobs ended as worker_lost */
	uint64_t timeouts;      /* items ended by a request's timeout_ms */
	uint64_t unknown_task;  /* items ended: no worker ran their task */
	uint64_t cancelled;     /* items ended by cancel or disconnect */
	uint64_t items_ok;      /* results forwarded */
	uint64_t items_failed;  /* item errors reported by workers */
	uint64_t accepted;      /* requests accepted */
	uint64_t refused;       /* client frames answered with an error */
	uint64_t share_full;    /* submits refused: over max_client_jobs */
	uint64_t hb_missed;     /* workers declared dead for silence */
	uint64_t hijacks;       /* frames under a routing id bound to
	                           another CURVE key (workers, producers) */
	size_t subscriptions;   /* (client, channel) pairs, all clients */
	size_t channels;        /* channels watched or notified */
	uint64_t notified;      /* frames sent to a channel's subscribers */
	bool draining;          /* refusing new requests (shutdown) */
	gw_hist_t item_latency; /* accept -> result at the gateway */
} bf_stats_t;

#define HB_EXPIRY_US 3000000 /* hb_ivl_us * hb_liveness */

extern const gw_broker_limits_t bf_limits;

/* A second transport, as producers have: same records, marked. */
int bf_other_send(void *ctx, void *client_user, const gw_out_t *frame);
void bf_fake_free_records(fake_t *f);
/* Replace the broker with a fresh one using other limits. */
void bf_rebuild(fake_t *f, const gw_broker_limits_t *lim);
int bf_setup(void **state);
int bf_teardown(void **state);
/* Both timers, as the gateway's tick runs them. */
void bf_tick(fake_t *f, int64_t now_us);
void bf_worker_frame(fake_t *f, const char *rid, msgpack_sbuffer *sb);
void bf_ready_tasks(fake_t *f, const char *rid, uint32_t capacity,
    const char *const *tasks, size_t n);
/* READY from a worker that runs only "sum". */
void bf_ready(fake_t *f, const char *rid, uint32_t capacity);
/* RESULT ok carrying the JSON value text. */
void bf_result(fake_t *f, const char *rid, uint64_t job, const char *value);
void bf_result_err(fake_t *f, const char *rid, uint64_t job, const char *code,
    const char *message);
void bf_bye(fake_t *f, const char *rid);
gw_client_t *bf_client(fake_t *f, int n);
/* A client text frame, which must parse, handed to the broker. */
void bf_send_text(fake_t *f, gw_client_t *c, const char *text);
/* submit {id, task, items} where items is JSON array text. */
void bf_submit(fake_t *f, gw_client_t *c, const char *id, const char *task,
    const char *items);
bf_stats_t bf_stats(fake_t *f);
/* The broker with heartbeat limits, its workers with heartbeats. */
void bf_rebuild_hb(fake_t *f);
/* A field-less frame from a worker: PING, PONG, DRAIN, BYE. */
void bf_worker_empty(fake_t *f, const char *rid, sl_msg_type_t type);
void bf_cancel_req(fake_t *f, gw_client_t *c, const char *id);
/* submit with "timeout_ms". */
void bf_submit_timeout(fake_t *f, gw_client_t *c, const char *id,
    const char *items, long timeout_ms);
/*
 * Wait until the monotonic clock has passed t, so that whatever the broker
 * does next reads a time strictly later than t. Heartbeat tests bracket
 * the (unknown) instant a worker was last heard with such readings.
 */
void bf_mono_after(int64_t t);
/* CANCEL for job went to worker rid, exactly once. */
void bf_assert_cancel_sent(fake_t *f, uint64_t job, const char *rid);
size_t bf_pings_to(fake_t *f, const char *rid);
/* Answer every JOB from index from on (and those that follow), each with
 * its own item as the value. Returns the number of jobs then sent. */
size_t bf_answer_all(fake_t *f, size_t from);
json_t *bf_frame(fake_t *f, size_t i);
const char *bf_fstr(fake_t *f, size_t i, const char *key);
json_int_t bf_fint(fake_t *f, size_t i, const char *key);
/* Frame i has this type and id, and went to client user n. */
void bf_assert_frame(
    fake_t *f, size_t i, int n, const char *type, const char *id);
/* Frame i is a result for seq with value (canonical JSON text). */
void bf_assert_result(fake_t *f, size_t i, int n, const char *id,
    json_int_t seq, const char *value);
void bf_assert_done(fake_t *f, size_t i, int n, const char *id, json_int_t ok,
    json_int_t failed);
void bf_assert_error(
    fake_t *f, size_t i, int n, const char *id, const char *code);
/* Job a is job b sent again: the same item under a fresh id, so that a
 * late result of the first attempt cannot pass for the second. */
bool bf_resent(const fake_t *f, size_t a, size_t b);
void bf_assert_job(fake_t *f, size_t i, const char *rid, const char *item);
/* Frame i is an item error for seq with code. */
void bf_assert_item_error(fake_t *f, size_t i, int n, const char *id,
    json_int_t seq, const char *code);

#endif
