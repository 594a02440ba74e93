/*
 * test_broker: requests, jobs, workers and credit (gateway/gw_broker).
 *
 * The broker is driven through its public seams only: client messages
 * come from gw_cmsg_parse, worker frames from the sl_proto encoders, and
 * everything it sends lands in a fake transport (two plain functions that
 * record into arrays). JOB frames are decoded with sl_proto_decode to
 * learn job ids and items, so the fake worker answers exactly as a real
 * one would. Leaks and use-after-free show up under
 * SLUICE_SANITIZER=address. Single threaded, like the lws service thread.
 */
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

/* ---- the fake transport --------------------------------------------------
 */

/* Frames are borrowed for the call: keep them as JSON, as a JSON client
 * would see them (which also proves every frame the broker builds
 * encodes). */
static json_t *
s_keep(const gw_out_t *frame)
{
	json_t *j = NULL;

	assert_int_equal(gw_out_json(frame, &j), 0);
	return j;
}

static int
s_client_send(void *ctx, void *client_user, const gw_out_t *frame)
{
	fake_t *f = ctx;

	if (client_user == f->gone_user) {
		f->n_to_gone++;
		return -1;
	}
	assert_true(f->n_frames < MAX_SENT);
	f->frames[f->n_frames].user = client_user;
	f->frames[f->n_frames].frame = s_keep(frame);
	f->frames[f->n_frames].other = false;
	f->frames[f->n_frames].serial = frame->serial;
	f->n_frames++;
	return 0;
}

/* A second transport, as producers have: same records, marked. */
static int
s_other_send(void *ctx, void *client_user, const gw_out_t *frame)
{
	fake_t *f = ctx;

	assert_true(f->n_frames < MAX_SENT);
	f->frames[f->n_frames].user = client_user;
	f->frames[f->n_frames].frame = s_keep(frame);
	f->frames[f->n_frames].other = true;
	f->n_frames++;
	return 0;
}

/* gw_zmq is replaced at the link (-Wl,--wrap): gw_workers is real, and
 * what it sends to workers lands in the fake below. */
static fake_t *s_fake; /* the wrapped functions have no context pointer */
static char s_sock;    /* stands for the gw_zmq_t */

gw_zmq_t *__wrap_gw_zmq_new_ex(void *zctx, const char *endpoint,
    int64_t max_msg, int (*setup)(void *sock, const void *setup_arg),
    const void *setup_arg, gw_zmq_frame_cb cb, void *user, char *err,
    size_t errlen);
int __wrap_gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len);
void __wrap_gw_zmq_destroy(gw_zmq_t **self_p);

gw_zmq_t *
__wrap_gw_zmq_new_ex(void *zctx, const char *endpoint, int64_t max_msg,
    int (*setup)(void *sock, const void *setup_arg), const void *setup_arg,
    gw_zmq_frame_cb cb, void *user, char *err, size_t errlen)
{
	(void) zctx;
	(void) endpoint;
	(void) max_msg;
	(void) setup;
	(void) setup_arg;
	(void) cb; /* frames are fed to gw_workers_on_frame directly */
	(void) user;
	(void) err;
	(void) errlen;
	return (gw_zmq_t *) &s_sock;
}

void
__wrap_gw_zmq_destroy(gw_zmq_t **self_p)
{
	*self_p = NULL;
}

int
__wrap_gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	fake_t *f = s_fake;
	sent_job_t *j;
	const char *why = NULL;
	json_t *item = NULL;
	sl_msg_t m;

	(void) self;
	assert_true(rid_len < sizeof j->rid);
	if (rid_len == strlen(f->fail_rid)
	    && !memcmp(rid, f->fail_rid, rid_len)) {
		f->n_refused++;
		return f->fail_rc;
	}
	assert_true(f->n_jobs < MAX_SENT);
	j = &f->jobs[f->n_jobs++];
	memcpy(j->rid, rid, rid_len);
	j->rid[rid_len] = '\0';
	/* what a worker would see: the broker must send a valid JOB */
	sl_msg_init(&m);
	if (sl_proto_decode(data, len, &m, &why)) {
		print_error("broker sent an undecodable frame: %s\n", why);
		fail();
	}
	if (m.type == SL_MSG_CANCEL) {
		f->n_jobs--; /* not a job: undo the slot */
		assert_true(f->n_cancels < MAX_SENT);
		memcpy(f->cancel_rids[f->n_cancels], rid, rid_len);
		f->cancel_rids[f->n_cancels][rid_len] = '\0';
		f->cancels[f->n_cancels++] = m.u.cancel.job;
		sl_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_PING) {
		f->n_jobs--;
		assert_true(f->n_pings < MAX_SENT);
		memcpy(f->ping_rids[f->n_pings], rid, rid_len);
		f->ping_rids[f->n_pings++][rid_len] = '\0';
		sl_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_REGISTERED) {
		f->n_jobs--;
		assert_true(f->n_registered < MAX_SENT);
		snprintf(f->registered[f->n_registered++], 64, "%.*s %.*s",
		    (int) rid_len, (const char *) rid,
		    (int) m.u.registered.worker.len,
		    m.u.registered.worker.ptr);
		sl_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_PONG) {
		f->n_jobs--;
		assert_true(f->n_pongs < MAX_SENT);
		memcpy(f->pong_rids[f->n_pongs], rid, rid_len);
		f->pong_rids[f->n_pongs++][rid_len] = '\0';
		sl_msg_clear(&m);
		return 0;
	}
	assert_int_equal(m.type, SL_MSG_JOB);
	j->job = m.u.job.job;
	assert_true(m.u.job.task.len < sizeof j->task);
	memcpy(j->task, m.u.job.task.ptr, m.u.job.task.len);
	j->task[m.u.job.task.len] = '\0';
	assert_int_equal(sl_json_from_mp(m.u.job.item, &item, &why), 0);
	j->item = sl_test_dumps(item);
	json_decref(item);
	sl_msg_clear(&m);
	msgpack_unpacked_destroy(&m.unpacked);
	return 0;
}

static const gw_broker_limits_t s_limits = {
	.max_items = 100,
	.max_requests = 4,
	.max_queued_jobs = 50,
	.max_subscriptions = 2,
};

static void
s_fake_free_records(fake_t *f)
{
	for (size_t i = 0; i < f->n_frames; i++)
		json_decref(f->frames[i].frame);
	for (size_t i = 0; i < f->n_jobs; i++)
		free(f->jobs[i].item);
	f->n_frames = 0;
	f->n_jobs = 0;
	f->n_cancels = 0;
	f->n_pings = 0;
	f->n_pongs = 0;
	f->n_refused = 0;
}

/* The workers go first: they hand the jobs they hold back to the
 * broker. */
static void
s_destroy(fake_t *f)
{
	gw_workers_destroy(&f->w);
	gw_broker_destroy(&f->b);
}

/* A broker with lim and its workers with f->wlim, wired as in the
 * gateway. 0 or -1. */
static int
s_build(fake_t *f, const gw_broker_limits_t *lim)
{
	gw_broker_ops_t ops = { s_client_send, f };
	gw_workers_events_t ev;
	char err[64];

	f->b = gw_broker_new(&ops, lim);
	if (!f->b)
		return -1;
	gw_broker_workers_events(f->b, &ev);
	f->w = gw_workers_new(
	    NULL, "inproc://test", &f->wlim, NULL, &ev, err, sizeof err);
	if (!f->w)
		return -1;
	gw_broker_set_workers(f->b, &gw_workers_ops, f->w);
	return 0;
}

/* Replace the broker with a fresh one using other limits. */
static void
s_rebuild(fake_t *f, const gw_broker_limits_t *lim)
{
	s_destroy(f);
	s_fake_free_records(f);
	assert_int_equal(s_build(f, lim), 0);
}

static int
setup(void **state)
{
	fake_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	s_fake = f;
	f->wlim.max_items = 100;
	if (s_build(f, &s_limits)) {
		s_destroy(f);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fake_t *f = *state;

	s_destroy(f);
	s_fake_free_records(f);
	free(f);
	s_fake = NULL;
	return 0;
}

/* Both timers, as the gateway's tick runs them. */
static void
s_tick(fake_t *f, int64_t now_us)
{
	gw_broker_tick(f->b, now_us);
	gw_workers_tick(f->w, now_us);
}

/* ---- driving the broker ------------------------------------------------- */

static void
s_worker_frame(fake_t *f, const char *rid, msgpack_sbuffer *sb)
{
	gw_workers_on_frame(f->w, (const uint8_t *) rid, strlen(rid), f->key,
	    sb->data, sb->size);
	msgpack_sbuffer_destroy(sb);
}

static void
s_ready_tasks(fake_t *f, const char *rid, uint32_t capacity,
    const char *const *tasks, size_t n)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_ready(&sb, capacity, 100, "test", tasks, n), 0);
	s_worker_frame(f, rid, &sb);
}

/* READY from a worker that runs only "sum". */
static void
s_ready(fake_t *f, const char *rid, uint32_t capacity)
{
	const char *tasks[] = { "sum" };

	s_ready_tasks(f, rid, capacity, tasks, 1);
}

/* RESULT ok carrying the JSON value text. */
static void
s_result(fake_t *f, const char *rid, uint64_t job, const char *value)
{
	msgpack_sbuffer sb, v;

	msgpack_sbuffer_init(&v);
	sl_test_pack_json(&v, value);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_result_ok(&sb, job, v.data, v.size, 10, 20), 0);
	msgpack_sbuffer_destroy(&v);
	s_worker_frame(f, rid, &sb);
}

static void
s_result_err(fake_t *f, const char *rid, uint64_t job, const char *code,
    const char *message)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_result_err(&sb, job, code, message, 10, 20), 0);
	s_worker_frame(f, rid, &sb);
}

static void
s_bye(fake_t *f, const char *rid)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_empty(&sb, SL_MSG_BYE), 0);
	s_worker_frame(f, rid, &sb);
}

static gw_client_t *
s_client(fake_t *f, int n)
{
	gw_client_t *c = gw_broker_client_new(f->b, &f->users[n]);

	assert_non_null(c);
	return c;
}

/* A client text frame, which must parse, handed to the broker. */
static void
s_send_text(fake_t *f, gw_client_t *c, const char *text)
{
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	if (gw_cmsg_parse(text, strlen(text), 100, &m, &err)) {
		print_error(
		    "test frame %s: %s %s\n", text, err.code, err.message);
		fail();
	}
	gw_broker_on_client_msg(f->b, c, &m);
	gw_cmsg_clear(&m);
}

/* submit {id, task, items} where items is JSON array text. */
static void
s_submit(fake_t *f, gw_client_t *c, const char *id, const char *task,
    const char *items)
{
	char text[2048];

	snprintf(text, sizeof text,
	    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"%s\",\"items\":%s}",
	    id, task, items);
	s_send_text(f, c, text);
}

static gw_broker_stats_t
s_stats(fake_t *f)
{
	gw_broker_stats_t st;

	gw_broker_stats(f->b, &st);
	return st;
}

/* With heartbeats: PING every second, dead after three silent seconds. */
static const gw_broker_limits_t s_hb_limits = {
	.max_items = 100,
	.max_requests = 4,
	.max_queued_jobs = 50,
};

/* The broker with s_hb_limits, its workers with heartbeats. */
static void
s_rebuild_hb(fake_t *f)
{
	f->wlim.hb_ivl_us = 1000000;
	f->wlim.hb_liveness = 3;
	s_rebuild(f, &s_hb_limits);
}

#define HB_EXPIRY_US 3000000 /* hb_ivl_us * hb_liveness */

/* A field-less frame from a worker: PING, PONG, DRAIN, BYE. */
static void
s_worker_empty(fake_t *f, const char *rid, sl_msg_type_t type)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_empty(&sb, type), 0);
	s_worker_frame(f, rid, &sb);
}

static void
s_cancel_req(fake_t *f, gw_client_t *c, const char *id)
{
	char text[256];

	snprintf(text, sizeof text, "{\"type\":\"cancel\",\"id\":\"%s\"}", id);
	s_send_text(f, c, text);
}

/* submit with "timeout_ms". */
static void
s_submit_timeout(fake_t *f, gw_client_t *c, const char *id, const char *items,
    long timeout_ms)
{
	char text[2048];

	snprintf(text, sizeof text,
	    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"sum\","
	    "\"items\":%s,\"timeout_ms\":%ld}",
	    id, items, timeout_ms);
	s_send_text(f, c, text);
}

/*
 * Wait until the monotonic clock has passed t, so that whatever the broker
 * does next reads a time strictly later than t. Heartbeat tests bracket
 * the (unknown) instant a worker was last heard with such readings.
 */
static void
s_mono_after(int64_t t)
{
	struct timespec ts = { 0, 1000000 };

	while (sl_clock_mono_us() <= t)
		nanosleep(&ts, NULL);
}

/* CANCEL for job went to worker rid, exactly once. */
static void
s_assert_cancel_sent(fake_t *f, uint64_t job, const char *rid)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_cancels; i++)
		if (f->cancels[i] == job && !strcmp(f->cancel_rids[i], rid))
			n++;
	if (n != 1) {
		print_error("CANCEL for job %llu to %s sent %zu times, "
		            "expected once\n",
		    (unsigned long long) job, rid, n);
		fail();
	}
}

static size_t
s_pings_to(fake_t *f, const char *rid)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_pings; i++)
		if (!strcmp(f->ping_rids[i], rid))
			n++;
	return n;
}

/* Answer every JOB from index from on (and those that follow), each with
 * its own item as the value. Returns the number of jobs then sent. */
static size_t
s_answer_all(fake_t *f, size_t from)
{
	for (size_t i = from; i < f->n_jobs; i++)
		s_result(f, f->jobs[i].rid, f->jobs[i].job, f->jobs[i].item);
	return f->n_jobs;
}

/* ---- checking what was sent ----------------------------------------------
 */

static json_t *
s_frame(fake_t *f, size_t i)
{
	if (i >= f->n_frames) {
		print_error(
		    "frame %zu wanted, only %zu sent\n", i, f->n_frames);
		fail();
	}
	return f->frames[i].frame;
}

static const char *
s_fstr(fake_t *f, size_t i, const char *key)
{
	return json_string_value(json_object_get(s_frame(f, i), key));
}

static json_int_t
s_fint(fake_t *f, size_t i, const char *key)
{
	json_t *v = json_object_get(s_frame(f, i), key);

	if (!json_is_integer(v)) {
		print_error("frame %zu has no integer \"%s\"\n", i, key);
		fail();
	}
	return json_integer_value(v);
}

/* Frame i has this type and id, and went to client user n. */
static void
s_assert_frame(fake_t *f, size_t i, int n, const char *type, const char *id)
{
	char *text = sl_test_dumps(s_frame(f, i));

	if (f->frames[i].user != &f->users[n]
	    || strcmp(s_fstr(f, i, "type") ? s_fstr(f, i, "type") : "", type)
	    || (id
	        && strcmp(s_fstr(f, i, "id") ? s_fstr(f, i, "id") : "", id))) {
		print_error("frame %zu is %s (to client %d?), expected type "
		            "%s id %s to client %d\n",
		    i, text, f->frames[i].user == &f->users[n] ? n : -1, type,
		    id ? id : "-", n);
		free(text);
		fail();
	}
	free(text);
}

/* Frame i is a result for seq with value (canonical JSON text). */
static void
s_assert_result(fake_t *f, size_t i, int n, const char *id, json_int_t seq,
    const char *value)
{
	char *got;

	s_assert_frame(f, i, n, "result", id);
	assert_int_equal(s_fint(f, i, "seq"), seq);
	got = sl_test_dumps(json_object_get(s_frame(f, i), "value"));
	if (strcmp(got, value)) {
		print_error(
		    "frame %zu value %s, expected %s\n", i, got, value);
		free(got);
		fail();
	}
	free(got);
}

static void
s_assert_done(fake_t *f, size_t i, int n, const char *id, json_int_t ok,
    json_int_t failed)
{
	s_assert_frame(f, i, n, "done", id);
	assert_int_equal(s_fint(f, i, "ok"), ok);
	assert_int_equal(s_fint(f, i, "failed"), failed);
	assert_true(s_fint(f, i, "elapsed_ms") >= 0);
}

static void
s_assert_error(fake_t *f, size_t i, int n, const char *id, const char *code)
{
	s_assert_frame(f, i, n, "error", id);
	assert_string_equal(s_fstr(f, i, "code"), code);
	assert_non_null(s_fstr(f, i, "message"));
}

/* Job a is job b sent again: the same item under a fresh id, so that a
 * late result of the first attempt cannot pass for the second. */
static bool
s_resent(const fake_t *f, size_t a, size_t b)
{
	return !strcmp(f->jobs[a].item, f->jobs[b].item)
	    && !strcmp(f->jobs[a].task, f->jobs[b].task)
	    && f->jobs[a].job != f->jobs[b].job;
}

static void
s_assert_job(fake_t *f, size_t i, const char *rid, const char *item)
{
	if (i >= f->n_jobs) {
		print_error("JOB %zu wanted, only %zu sent\n", i, f->n_jobs);
		fail();
	}
	assert_string_equal(f->jobs[i].rid, rid);
	assert_string_equal(f->jobs[i].item, item);
}

/* Frame i is an item error for seq with code. */
static void
s_assert_item_error(fake_t *f, size_t i, int n, const char *id, json_int_t seq,
    const char *code)
{
	s_assert_error(f, i, n, id, code);
	assert_int_equal(s_fint(f, i, "seq"), seq);
}

/* ---- accepting and dispatching ----------------------------------------- */

static void
test_broker_submit_with_zero_workers_is_accepted_and_queued(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_submit(f, c, "r1", "sum", "[1,2,3]");
	assert_int_equal(f->n_frames, 1);
	s_assert_frame(f, 0, 0, "accepted", "r1");
	assert_int_equal(s_fint(f, 0, "items"), 3);
	assert_int_equal(s_fint(f, 0, "workers"), 0);
	assert_int_equal(f->n_jobs, 0);
	st = s_stats(f);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.running, 0);
}

static void
test_broker_ready_with_capacity_two_gets_exactly_two_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_submit(f, c, "r1", "sum", "[10,11,12,13,14]");
	s_ready(f, "w1", 2);
	assert_int_equal(f->n_jobs, 2);
	s_assert_job(f, 0, "w1", "10");
	s_assert_job(f, 1, "w1", "11");
	assert_string_equal(f->jobs[0].task, "sum");
	assert_true(f->jobs[0].job != f->jobs[1].job);
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 3);
	/* nothing that is not a RESULT frees credit */
	s_send_text(f, c, "{\"type\":\"ping\"}");
	s_submit(f, c, "r2", "sum", "[20]");
	assert_int_equal(f->n_jobs, 2);
}

static void
test_broker_job_ids_start_at_a_random_value_below_2_to_the_52(void **state)
{
	fake_t *f = *state;
	uint64_t first[4];

	/* A restarted gateway must not number its jobs as the old one did:
	 * a worker may still answer one of the old jobs (PROTOCOL.md §2). */
	for (size_t i = 0; i < SL_N(first); i++) {
		gw_client_t *c;

		s_rebuild(f, &s_limits);
		c = s_client(f, 0);
		s_submit(f, c, "r1", "sum", "[1,2]");
		s_ready(f, "w1", 2);
		assert_int_equal(f->n_jobs, 2);
		first[i] = f->jobs[0].job;
		assert_true(first[i] >= 1 && first[i] <= (UINT64_C(1) << 52));
		assert_true(f->jobs[1].job == first[i] + 1);
	}
	/* Four equal draws out of 2^52: a fixed start, not chance. */
	assert_false(first[0] == first[1] && first[1] == first[2]
	    && first[2] == first[3]);
}

static void
test_broker_ready_is_answered_with_registered_and_the_label(void **state)
{
	fake_t *f = *state;

	s_ready(f, "alpha", 1);
	s_ready(f, "beta", 2);
	assert_int_equal(f->n_registered, 2);
	assert_string_equal(f->registered[0], "alpha w1");
	assert_string_equal(f->registered[1], "beta w2");
	/* a restarted worker (READY again) is told again, as a new worker */
	s_ready(f, "alpha", 1);
	assert_int_equal(f->n_registered, 3);
	assert_string_equal(f->registered[2], "alpha w3");
	assert_int_equal(f->n_jobs, 0);
}

static void
test_broker_a_producers_frame_on_the_workers_endpoint_is_answered(void **state)
{
	fake_t *f = *state;
	const char *const frames[] = {
		/* a producer's: answered (wrong_endpoint) */
		"{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"echo\","
		"\"items\":[1]}",
		"{\"type\":\"nosuch\"}",
		/* nobody's: dropped unanswered */
		"[1,\"HELLO\",{}]",
		"{\"no_type\":1}",
		"[1,\"JOB\",{}]",
	};

	/* The answer is counted here, not decoded (it is a producer-protocol
	 * map, which e2e.open_queue reads through sluice-submit). */
	snprintf(f->fail_rid, sizeof f->fail_rid, "prod");
	f->fail_rc = SL_ENOTFOUND;
	for (size_t i = 0; i < SL_N(frames); i++) {
		msgpack_sbuffer sb;

		msgpack_sbuffer_init(&sb);
		sl_test_pack_json(&sb, frames[i]);
		s_worker_frame(f, "prod", &sb);
		assert_int_equal(f->n_refused, i < 2 ? i + 1 : 2);
	}
	assert_int_equal(s_stats(f).bad_frames, SL_N(frames));
	assert_int_equal(s_stats(f).workers, 0);
}

static void
test_broker_a_routing_id_is_bound_to_its_workers_curve_key(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;
	size_t frames;

	f->key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[5]");
	assert_int_equal(f->n_jobs, 1);
	frames = f->n_frames;
	/* Another key under w1's id: ZeroMQ only routes it there once w1's
	 * own connection is gone. Its forged result is dropped, w1 is gone
	 * and its job goes back to the queue; nothing reaches the client. */
	f->key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
	s_result(f, "w1", f->jobs[0].job, "666");
	assert_int_equal(f->n_frames, frames);
	st = s_stats(f);
	assert_int_equal(st.hijacks, 1);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.results, 0);
	/* The other key may register under the id, now free, like any
	 * allowed worker: it gets the job afresh, under a new id. */
	s_ready(f, "w1", 1);
	assert_int_equal(f->n_jobs, 2);
	assert_true(s_resent(f, 1, 0));
	/* The first key's late frames are now the stranger's. */
	f->key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	s_result(f, "w1", f->jobs[1].job, "5");
	assert_int_equal(f->n_frames, frames);
	assert_int_equal(s_stats(f).hijacks, 2);
	/* The same key again is the same worker, as without CURVE. */
	s_ready(f, "w1", 1);
	s_result(f, "w1", f->jobs[2].job, "5");
	s_assert_result(f, frames, 0, "r1", 0, "5");
	assert_int_equal(s_stats(f).hijacks, 2);
}

static void
test_broker_a_result_returns_credit_and_the_next_job_follows(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_submit(f, c, "r1", "sum", "[10,11,12,13,14]");
	s_ready(f, "w1", 2);
	s_result(f, "w1", f->jobs[0].job, "100");
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 2, "w1", "12");
	s_assert_result(f, 1, 0, "r1", 0, "100");
	st = s_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.results, 1);
}

static void
test_broker_jobs_go_to_the_worker_with_most_free_credit(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "small", 1);
	s_ready(f, "big", 3);
	s_submit(f, c, "r1", "sum", "[1,2,3,4]");
	/* big 3 free > small 1; then 2 > 1; then 1 = 1 (first registered
	 * wins a tie); never more than either capacity */
	assert_int_equal(f->n_jobs, 4);
	s_assert_job(f, 0, "big", "1");
	s_assert_job(f, 1, "big", "2");
	assert_string_equal(f->jobs[2].rid, "small");
	assert_string_equal(f->jobs[3].rid, "big");
	assert_int_equal(s_stats(f).running, 4);
	assert_int_equal(s_fint(f, 0, "workers"), 2);
}

static void
test_broker_results_are_forwarded_in_arrival_order_with_their_seq(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 4);
	s_submit(f, c, "r1", "sum", "[\"a\",\"b\",\"c\"]");
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 0, "w1", "\"a\"");
	s_assert_job(f, 2, "w1", "\"c\"");
	s_result(f, "w1", f->jobs[2].job, "\"C\"");
	s_result(f, "w1", f->jobs[0].job, "{\"v\":[\"A\"]}");
	s_result(f, "w1", f->jobs[1].job, "\"B\"");
	assert_int_equal(f->n_frames, 5);
	s_assert_frame(f, 0, 0, "accepted", "r1");
	assert_int_equal(s_fint(f, 0, "workers"), 1);
	s_assert_result(f, 1, 0, "r1", 2, "\"C\"");
	s_assert_result(f, 2, 0, "r1", 0, "{\"v\":[\"A\"]}");
	s_assert_result(f, 3, 0, "r1", 1, "\"B\"");
	s_assert_done(f, 4, 0, "r1", 3, 0);
	st = s_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.results, 3);
}

static void
test_broker_item_error_is_forwarded_with_seq_and_code(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 3);
	s_submit(f, c, "r1", "sum", "[1,\"x\",3]");
	s_result(f, "w1", f->jobs[0].job, "1");
	s_result_err(
	    f, "w1", f->jobs[1].job, "bad_item", "item must be an integer");
	s_result(f, "w1", f->jobs[2].job, "3");
	assert_int_equal(f->n_frames, 5);
	s_assert_result(f, 1, 0, "r1", 0, "1");
	s_assert_error(f, 2, 0, "r1", "bad_item");
	assert_int_equal(s_fint(f, 2, "seq"), 1);
	assert_string_equal(
	    s_fstr(f, 2, "message"), "item must be an integer");
	s_assert_result(f, 3, 0, "r1", 2, "3");
	s_assert_done(f, 4, 0, "r1", 2, 1);
	assert_int_equal(s_stats(f).results, 3);
}

static void
test_broker_worker_error_text_reaches_clients_as_utf8(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	/* a message cut inside a character, from a careless worker */
	s_result_err(f, "w1", f->jobs[0].job, "bad\xffitem", "caf\xc3");
	/* the frame exists (it would not encode as JSON otherwise) */
	s_assert_error(f, 1, 0, "r1", "bad?item");
	assert_string_equal(s_fstr(f, 1, "message"), "caf?");
	s_assert_done(f, 2, 0, "r1", 0, 1);
}

static void
test_broker_value_without_json_form_becomes_a_bad_result_error(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	msgpack_sbuffer sb;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_ok(&sb, f->jobs[0].job,
	                     B("\xcb\x7f\xf8\0\0\0\0\0\0"), 1, 2),
	    0); /* NaN */
	s_worker_frame(f, "w1", &sb);
	assert_int_equal(f->n_frames, 3);
	s_assert_error(f, 1, 0, "r1", "bad_result");
	assert_int_equal(s_fint(f, 1, "seq"), 0);
	s_assert_done(f, 2, 0, "r1", 0, 1);
}

/*
 * The echo task sends back what it got: an item "" must come back as "".
 * (msgpack-c may give a zero-length str a NULL ptr; see test_json.)
 */
static void
test_broker_empty_string_value_reaches_the_client(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[\"\"]");
	s_result(f, "w1", f->jobs[0].job, "\"\"");
	assert_int_equal(f->n_frames, 3);
	s_assert_result(f, 1, 0, "r1", 0, "\"\"");
	s_assert_done(f, 2, 0, "r1", 1, 0);
}

/*
 * compute's cp_pool answers a task that failed without a reason with
 * message "": the item must still reach the client as an error, and the
 * request must finish (see test_proto).
 */
static void
test_broker_item_error_without_message_still_finishes_the_request(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	s_result_err(f, "w1", f->jobs[0].job, "task_failed", "");
	assert_int_equal(s_stats(f).bad_frames, 0);
	assert_int_equal(f->n_frames, 3);
	s_assert_error(f, 1, 0, "r1", "task_failed");
	s_assert_done(f, 2, 0, "r1", 0, 1);
}

/* ---- exactly once
 * ------------------------------------------------------------ */

static void
test_broker_duplicate_result_is_dropped_and_client_sees_the_item_once(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 2);
	s_submit(f, c, "r1", "sum", "[1,2]");
	s_result(f, "w1", f->jobs[0].job, "\"first\"");
	s_result(f, "w1", f->jobs[0].job, "\"again\"");
	assert_int_equal(f->n_frames, 2);
	s_assert_result(f, 1, 0, "r1", 0, "\"first\"");
	st = s_stats(f);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.results, 1);
	assert_int_equal(st.running, 1);
	s_result(f, "w1", f->jobs[1].job, "2");
	s_assert_done(f, 3, 0, "r1", 2, 0);
	/* a duplicate of the last result, after done */
	s_result(f, "w1", f->jobs[1].job, "2");
	assert_int_equal(f->n_frames, 4);
	assert_int_equal(s_stats(f).stale, 2);
	/* duplicates returned no credit: capacity 2 still means 2 jobs */
	s_submit(f, c, "r2", "sum", "[5,6,7]");
	assert_int_equal(f->n_jobs, 4);
	assert_int_equal(s_stats(f).running, 2);
}

static void
test_broker_result_from_an_unknown_worker_is_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	s_result(f, "w9", f->jobs[0].job, "\"forged\"");
	/* a registered worker that does not hold the job is no better */
	s_ready(f, "w2", 1);
	s_result(f, "w2", f->jobs[0].job, "\"forged\"");
	st = s_stats(f);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_frames, 1); /* accepted only */
	s_result(f, "w1", f->jobs[0].job, "\"real\"");
	s_assert_result(f, 1, 0, "r1", 0, "\"real\"");
	s_assert_done(f, 2, 0, "r1", 1, 0);
	/* BYE from a stranger changes nothing */
	s_bye(f, "w9");
	assert_int_equal(s_stats(f).workers, 2);
}

static void
test_broker_bye_requeues_jobs_to_another_worker_exactly_once(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;
	int seen[3] = { 0 };

	s_submit(f, c, "r1", "sum", "[0,1,2]");
	s_ready(f, "w1", 3);
	s_ready(f, "w2", 3);
	assert_int_equal(f->n_jobs, 3); /* all on w1, none left for w2 */
	s_result(f, "w1", f->jobs[0].job, "0");
	s_bye(f, "w1");
	/* w1's two unanswered jobs, now on w2 */
	assert_int_equal(f->n_jobs, 5);
	assert_string_equal(f->jobs[3].rid, "w2");
	assert_string_equal(f->jobs[4].rid, "w2");
	assert_true((s_resent(f, 3, 1) && s_resent(f, 4, 2))
	    || (s_resent(f, 3, 2) && s_resent(f, 4, 1)));
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 3);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	/* w1 answers late anyway: it is gone, the answer is dropped */
	s_result(f, "w1", f->jobs[1].job, "1");
	assert_int_equal(s_stats(f).stale, 1);
	s_result(f, "w2", f->jobs[3].job, "10");
	s_result(f, "w2", f->jobs[4].job, "20");
	/* accepted, then one result per item, then done */
	assert_int_equal(f->n_frames, 5);
	for (size_t i = 1; i < 4; i++) {
		s_assert_frame(f, i, 0, "result", "r1");
		seen[s_fint(f, i, "seq")]++;
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	s_assert_done(f, 4, 0, "r1", 3, 0);
}

/*
 * A worker that reconnects keeps its routing id, and a result it computed
 * before (e.g. "cancelled" on the reconnect) may still arrive: it must not
 * be taken as the outcome of the job that was sent again.
 */
static void
test_broker_late_result_of_a_first_attempt_is_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7]");
	s_ready(f, "w1", 1); /* reconnected: 7 is sent again */
	assert_int_equal(f->n_jobs, 2);
	s_result_err(f, "w1", f->jobs[0].job, "cancelled", "job cancelled");
	assert_int_equal(s_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 1); /* only accepted so far */
	s_result(f, "w1", f->jobs[1].job, "7");
	s_assert_result(f, 1, 0, "r1", 0, "7");
	s_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_ready_again_from_the_same_worker_requeues_its_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7,8]");
	assert_int_equal(f->n_jobs, 1);
	/* the worker restarted: what it held comes back to it */
	s_ready(f, "w1", 2);
	assert_int_equal(f->n_jobs, 3);
	assert_true(s_resent(f, 1, 0));
	s_assert_job(f, 1, "w1", "7");
	s_assert_job(f, 2, "w1", "8");
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2); /* replaced, not added */
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	s_result(f, "w1", f->jobs[1].job, "7");
	s_result(f, "w1", f->jobs[2].job, "8");
	assert_int_equal(f->n_frames, 4);
	s_assert_result(f, 1, 0, "r1", 0, "7");
	s_assert_result(f, 2, 0, "r1", 1, "8");
	s_assert_done(f, 3, 0, "r1", 2, 0);
}

static void
test_broker_failed_send_removes_the_worker_and_requeues(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	snprintf(f->fail_rid, sizeof f->fail_rid, "gone");
	f->fail_rc = SL_ENOTFOUND;
	s_ready(f, "gone", 4); /* most credit: picked first */
	s_ready(f, "w2", 1);
	s_submit(f, c, "r1", "sum", "[5]");
	/* its REGISTERED, then the JOB: only the JOB's failure removes it */
	assert_int_equal(f->n_refused, 2);
	assert_int_equal(f->n_jobs, 1);
	s_assert_job(f, 0, "w2", "5");
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 1);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.queued, 0);
	s_result(f, "w2", f->jobs[0].job, "5");
	s_assert_result(f, 1, 0, "r1", 0, "5");
	s_assert_done(f, 2, 0, "r1", 1, 0);
}

static void
test_broker_failed_send_to_the_only_worker_keeps_the_job_queued(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	snprintf(f->fail_rid, sizeof f->fail_rid, "gone");
	f->fail_rc = SL_ESYS;
	s_ready(f, "gone", 2);
	s_submit(f, c, "r1", "sum", "[1,2]");
	assert_int_equal(f->n_refused, 2); /* REGISTERED, then the JOB */
	st = s_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.capacity, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 2);
	s_ready(f, "w2", 2);
	assert_int_equal(f->n_jobs, 2);
	s_assert_job(f, 0, "w2", "1"); /* still in seq order */
	s_assert_job(f, 1, "w2", "2");
}

/* ---- fairness ---------------------------------------------------------- */

static void
test_broker_requests_take_turns_round_robin(void **state)
{
	fake_t *f = *state;
	gw_client_t *ca = s_client(f, 0);
	gw_client_t *cb = s_client(f, 1);
	char order[32] = "";
	size_t done = 0;

	s_submit(f, ca, "A", "sum",
	    "[\"a0\",\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\","
	    "\"a8\",\"a9\"]");
	s_submit(f, cb, "B", "sum", "[\"b0\",\"b1\",\"b2\"]");
	s_ready(f, "w1", 1);
	/* one job at a time: answer each, note whose it was */
	while (done < f->n_jobs) {
		sent_job_t *j = &f->jobs[done++];

		assert_true(strlen(order) < sizeof order - 1);
		strncat(order, j->item + 1, 2); /* "a3" from "\"a3\"" */
		s_result(f, "w1", j->job, j->item);
		assert_true(f->n_jobs <= done + 1); /* credit 1 */
	}
	assert_string_equal(order, "a0b0a1b1a2b2a3a4a5a6a7a8a9");
	/* every frame went to the client that asked */
	for (size_t i = 0; i < f->n_frames; i++) {
		const char *id = s_fstr(f, i, "id");

		assert_ptr_equal(
		    f->frames[i].user, &f->users[!strcmp(id, "A") ? 0 : 1]);
	}
	assert_int_equal(f->n_frames, 2 + 13 + 2);
}

/* Producers are broker clients with their own transport: each client's
 * frames go through its own send function, and both kinds of client take
 * turns for the same worker. */
static void
test_broker_clients_of_two_transports_share_workers_round_robin(void **state)
{
	fake_t *f = *state;
	gw_client_t *ws = s_client(f, 0);
	gw_client_t *prod
	    = gw_broker_client_new_on(f->b, s_other_send, f, &f->users[1]);
	char order[64] = "";
	size_t done = 0;

	assert_non_null(prod);
	s_submit(f, prod, "P", "sum",
	    "[\"p0\",\"p1\",\"p2\",\"p3\",\"p4\",\"p5\",\"p6\",\"p7\"]");
	s_submit(f, ws, "W", "sum", "[\"w0\",\"w1\"]");
	s_ready(f, "w1", 1);
	while (done < f->n_jobs) {
		sent_job_t *j = &f->jobs[done++];

		assert_true(strlen(order) < sizeof order - 2);
		strncat(order, j->item + 1, 2);
		s_result(f, "w1", j->job, j->item);
	}
	/* the browser's 2 items do not wait behind the producer's 8 */
	assert_string_equal(order, "p0w0p1w1p2p3p4p5p6p7");
	assert_int_equal(f->n_frames, 2 + 10 + 2);
	for (size_t i = 0; i < f->n_frames; i++) {
		bool is_p = !strcmp(s_fstr(f, i, "id"), "P");

		assert_ptr_equal(f->frames[i].user, &f->users[is_p ? 1 : 0]);
		assert_int_equal(f->frames[i].other, is_p);
	}
	gw_broker_client_destroy(f->b, &prod);
	assert_null(prod);
	assert_int_equal(s_stats(f).clients, 1);
}

static void
test_broker_request_whose_task_no_worker_runs_does_not_block_others(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	/* no workers yet: any task is queued */
	s_submit(f, c, "r1", "burn", "[1,2]");
	s_submit(f, c, "r2", "sum", "[3,4]");
	s_ready(f, "w1", 4); /* runs sum only */
	assert_int_equal(f->n_jobs, 2);
	s_assert_job(f, 0, "w1", "3");
	s_assert_job(f, 1, "w1", "4");
	st = s_stats(f);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.running, 2);
	{
		const char *tasks[] = { "echo", "burn" };

		s_ready_tasks(f, "w2", 1, tasks, 2);
	}
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 2, "w2", "1");
	assert_string_equal(f->jobs[2].task, "burn");
}

/* ---- refusals ------------------------------------------------------------
 */

static void
test_broker_unknown_task_is_refused_when_workers_run_other_tasks(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	const char *tasks[] = { "sum", "echo" };
	gw_broker_stats_t st;

	s_ready_tasks(f, "w1", 2, tasks, 2);
	s_submit(f, c, "r1", "burn", "[1]");
	assert_int_equal(f->n_frames, 1);
	s_assert_error(f, 0, 0, "r1", "unknown_task");
	assert_null(json_object_get(s_frame(f, 0), "seq"));
	st = s_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(f->n_jobs, 0);
	s_submit(f, c, "r1", "echo", "[1]"); /* the id is free again */
	s_assert_frame(f, 1, 0, "accepted", "r1");
	assert_int_equal(f->n_jobs, 1);
}

/* Queued items of a task no worker runs end as unknown_task after
 * unknown_task_us: with no worker at all, with workers of other tasks only,
 * and after the last worker of the task left. */
static void
test_broker_items_no_worker_runs_end_as_unknown_task_in_time(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	const char *tasks[] = { "echo" };
	gw_client_t *c;
	int64_t t0;

	lim.unknown_task_us = 1000000;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	t0 = sl_clock_mono_us();
	s_submit(f, c, "r1", "sum", "[1,2]"); /* no worker yet: accepted */
	s_assert_frame(f, 0, 0, "accepted", "r1");
	s_ready_tasks(f, "w0", 1, tasks, 1); /* runs echo only */
	s_tick(f, t0 + 500000);
	assert_int_equal(f->n_frames, 1); /* still in time */
	s_tick(f, sl_clock_mono_us() + 1000001);
	assert_int_equal(f->n_frames, 4);
	s_assert_item_error(f, 1, 0, "r1", 0, "unknown_task");
	s_assert_item_error(f, 2, 0, "r1", 1, "unknown_task");
	s_assert_done(f, 3, 0, "r1", 0, 2);
	assert_int_equal(s_stats(f).unknown_task, 2);
	assert_int_equal(s_stats(f).queued, 0);
	assert_int_equal(s_stats(f).requests, 0);
	/* its worker leaves holding an item: the others wait for the next
	 * one from then on, and end in time when none comes */
	s_ready(f, "w1", 1);
	s_submit(f, c, "r2", "sum", "[3,4]");
	assert_int_equal(f->n_jobs, 1);
	s_bye(f, "w1");
	t0 = sl_clock_mono_us();
	s_tick(f, t0);
	s_tick(f, t0 + 900000);
	assert_int_equal(s_stats(f).queued, 2);
	s_tick(f, t0 + 1000000);
	assert_int_equal(s_stats(f).queued, 0);
	assert_int_equal(s_stats(f).unknown_task, 4);
	assert_int_equal(s_stats(f).requests, 0);
}

/* A worker with the task that arrives in time runs the items; 0 waits
 * forever. */
static void
test_broker_worker_arriving_in_time_runs_items_of_a_new_task(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	gw_client_t *c;
	int64_t t0;

	lim.unknown_task_us = 1000000;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	t0 = sl_clock_mono_us();
	s_submit(f, c, "r1", "sum", "[1,2]");
	s_tick(f, t0 + 900000);
	s_ready(f, "w1", 1); /* runs sum */
	assert_int_equal(f->n_jobs, 1);
	s_tick(f, t0 + 5000000); /* one still queued: served */
	assert_int_equal(s_stats(f).unknown_task, 0);
	s_answer_all(f, 0);
	s_assert_done(f, f->n_frames - 1, 0, "r1", 2, 0);
	lim.unknown_task_us = 0;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	s_submit(f, c, "r2", "sum", "[1]");
	s_tick(f, sl_clock_mono_us() + 3600 * 1000000LL);
	assert_int_equal(s_stats(f).queued, 1);
	assert_int_equal(s_stats(f).unknown_task, 0);
}

static void
test_broker_duplicate_id_is_refused_while_the_first_runs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_client_t *other = s_client(f, 1);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	s_submit(f, c, "r1", "sum", "[2]");
	s_assert_error(f, 1, 0, "r1", "duplicate_id");
	assert_int_equal(s_stats(f).requests, 1);
	/* ids are per connection */
	s_submit(f, other, "r1", "sum", "[3]");
	s_assert_frame(f, 2, 1, "accepted", "r1");
	/* once done, the id may be used again */
	s_result(f, "w1", f->jobs[0].job, "1");
	s_assert_done(f, 4, 0, "r1", 1, 0);
	s_submit(f, c, "r1", "sum", "[4]");
	s_assert_frame(f, 5, 0, "accepted", "r1");
}

static void
test_broker_too_many_requests_per_client_are_refused(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	gw_client_t *c, *other;

	lim.max_requests = 2;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	other = s_client(f, 1);
	s_submit(f, c, "r1", "sum", "[1]");
	s_submit(f, c, "r2", "sum", "[1]");
	s_submit(f, c, "r3", "sum", "[1]");
	s_assert_error(f, 2, 0, "r3", "too_many_requests");
	assert_int_equal(s_stats(f).requests, 2);
	assert_int_equal(s_stats(f).queued, 2);
	s_submit(f, other, "r3", "sum", "[1]"); /* the limit is per client */
	s_assert_frame(f, 3, 1, "accepted", "r3");
}

static void
test_broker_queue_full_is_refused_and_counts_only_waiting_jobs(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	gw_client_t *c;

	lim.max_queued_jobs = 5;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	s_submit(f, c, "r1", "sum", "[1,2,3]");
	s_submit(f, c, "r2", "sum", "[1,2,3]");
	s_assert_error(f, 1, 0, "r2", "queue_full");
	s_submit(f, c, "r3", "sum", "[1,2]"); /* exactly fills it */
	s_assert_frame(f, 2, 0, "accepted", "r3");
	assert_int_equal(s_stats(f).queued, 5);
	/* a worker takes three: three places are free again */
	s_ready(f, "w1", 3);
	assert_int_equal(s_stats(f).queued, 2);
	s_submit(f, c, "r4", "sum", "[1,2,3]");
	s_assert_frame(f, 3, 0, "accepted", "r4");
	s_submit(f, c, "r5", "sum", "[1]");
	s_assert_error(f, 4, 0, "r5", "queue_full");
}

/* One client's unfinished jobs (queued or running) stop at
 * max_client_jobs; another client still gets in, and the share frees up
 * as items end. */
static void
test_broker_one_client_cannot_take_the_whole_queue(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	gw_client_t *a, *b;

	lim.max_queued_jobs = 10;
	lim.max_client_jobs = 4;
	s_rebuild(f, &lim);
	a = s_client(f, 0);
	b = s_client(f, 1);
	s_submit(f, a, "r1", "sum", "[1,2,3]");
	s_assert_frame(f, 0, 0, "accepted", "r1");
	s_submit(f, a, "r2", "sum", "[1,2]");
	s_assert_error(f, 1, 0, "r2", "queue_full");
	assert_non_null(strstr(s_fstr(f, 1, "message"), "connection's share"));
	assert_int_equal(s_stats(f).share_full, 1);
	s_submit(f, b, "r1", "sum", "[1,2,3,4]");
	s_assert_frame(f, 2, 1, "accepted", "r1");
	/* Running jobs still count; a result frees one place. */
	s_ready(f, "w1", 1);
	s_submit(f, a, "r3", "sum", "[1,2]");
	s_assert_error(f, 3, 0, "r3", "queue_full");
	s_result(f, "w1", f->jobs[0].job, "1");
	s_submit(f, a, "r4", "sum", "[1]");
	s_assert_frame(f, f->n_frames - 1, 0, "accepted", "r4");
}

/* Clients given the same key (one token's connections) share one quota;
 * it outlives a client that leaves, and comes back as its items go. */
static void
test_broker_clients_of_one_key_share_their_quota(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	const uint8_t key[] = "token-a", other[] = "token-b";
	gw_client_t *a1, *a2, *b;

	lim.max_client_jobs = 4;
	s_rebuild(f, &lim);
	a1 = s_client(f, 0);
	a2 = s_client(f, 1);
	b = s_client(f, 2);
	assert_int_equal(gw_broker_client_share(f->b, a1, key, sizeof key), 0);
	assert_int_equal(gw_broker_client_share(f->b, a2, key, sizeof key), 0);
	assert_int_equal(
	    gw_broker_client_share(f->b, b, other, sizeof other), 0);
	assert_int_equal(
	    gw_broker_client_share(f->b, b, other, sizeof other), SL_EINVAL);
	s_submit(f, a1, "r1", "sum", "[1,2,3]");
	s_assert_frame(f, 0, 0, "accepted", "r1");
	s_submit(f, a2, "r1", "sum", "[1,2]");
	s_assert_error(f, 1, 1, "r1", "queue_full");
	assert_non_null(strstr(s_fstr(f, 1, "message"), "token's share"));
	s_submit(f, b, "r1", "sum", "[1,2,3,4]");
	s_assert_frame(f, 2, 2, "accepted", "r1");
	/* a1 leaves: its items are dropped, a2 gets the whole quota. */
	gw_broker_client_destroy(f->b, &a1);
	s_submit(f, a2, "r2", "sum", "[1,2,3,4]");
	s_assert_frame(f, f->n_frames - 1, 1, "accepted", "r2");
	assert_int_equal(
	    gw_broker_client_share(f->b, a2, other, sizeof other), SL_EINVAL);
}

/*
 * An item nested deeper than SL_PROTO_MAX_ITEM_DEPTH is refused as
 * bad_item at the edge (gw_cmsg_parse packs items), as a transport
 * answers it: the broker only sends the error, no request or job is
 * counted.
 */
static void
test_broker_bad_item_is_refused_and_leaves_the_counters_as_they_were(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	char items[128] = "[1,2,";
	char text[256];
	gw_broker_stats_t st;
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH + 1; i++)
		strcat(items, "[");
	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH + 1; i++)
		strcat(items, "]");
	strcat(items, "]");
	snprintf(text, sizeof text,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":%s}",
	    items);
	assert_int_equal(gw_cmsg_parse(text, strlen(text), 100, &m, &err), -1);
	gw_broker_client_error(f->b, c, &err);
	assert_int_equal(f->n_frames, 1);
	s_assert_error(f, 0, 0, "r1", "bad_item");
	st = s_stats(f);
	assert_int_equal(st.requests, 0);
	if (st.queued != 0) {
		print_error("stats.queued is %zu after a refused submit, "
		            "expected 0\n",
		    st.queued);
		fail();
	}
	/* and the queue still has room for one item */
	s_submit(f, c, "r2", "sum", "[1]");
	s_assert_frame(f, 1, 0, "accepted", "r2");
}

/*
 * --max-item-bytes: an item whose msgpack form is over the limit refuses
 * the whole request with item_too_large, naming the item; one exactly at
 * the limit is accepted. Up to 31 bytes a string packs with a 1-byte
 * header (fixstr), from 32 with 2 (str8).
 */
static void
test_broker_item_over_max_item_bytes_is_refused_with_its_index(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = s_limits;
	gw_client_t *c;
	const char *msg;
	char items[128];

	lim.max_item_bytes = 32;
	s_rebuild(f, &lim);
	c = s_client(f, 0);
	/* item 1 packs to 1 + 31 = 32 bytes, item 2 to 2 + 32 = 34 */
	snprintf(items, sizeof items, "[1,\"%s\",\"%s\"]",
	    "abcdefghijklmnopqrstuvwxyz01234",
	    "abcdefghijklmnopqrstuvwxyz01234x");
	s_submit(f, c, "r1", "sum", items);
	assert_int_equal(f->n_frames, 1);
	s_assert_error(f, 0, 0, "r1", "item_too_large");
	msg = s_fstr(f, 0, "message");
	if (!strstr(msg, "item 2") || !strstr(msg, "limit is 32")) {
		print_error(
		    "message does not name item 2 and the limit: %s\n", msg);
		fail();
	}
	assert_int_equal(s_stats(f).queued, 0);
	assert_int_equal(s_stats(f).requests, 0);
	/* 31 characters: exactly 32 bytes packed */
	s_submit(f, c, "r2", "sum", "[\"abcdefghijklmnopqrstuvwxyz01234\"]");
	s_assert_frame(f, 1, 0, "accepted", "r2");
}

static void
test_broker_item_at_max_depth_is_accepted(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	char items[128] = "[";
	char item[64] = "";

	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH; i++)
		strcat(item, "[");
	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH; i++)
		strcat(item, "]");
	strcat(items, item);
	strcat(items, "]");
	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", items);
	s_assert_frame(f, 0, 0, "accepted", "r1");
	/* and the worker can decode the JOB it gets (__wrap_gw_zmq_send) */
	s_assert_job(f, 0, "w1", item);
}

/* ---- clients leaving, other messages ----------------------------------- */

static void
test_broker_client_destroy_drops_queued_jobs_and_late_results(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_client_t *c2;
	gw_broker_stats_t st;
	size_t frames;

	s_ready(f, "w1", 2);
	s_submit(f, c, "r1", "sum", "[1,2,3,4,5]");
	s_submit(f, c, "r2", "sum", "[6]");
	st = s_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 4);
	gw_broker_client_destroy(f->b, &c);
	assert_null(c);
	f->gone_user = &f->users[0];
	st = s_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.running, 2); /* the worker still holds two */
	frames = f->n_frames;
	s_result(f, "w1", f->jobs[0].job, "1");
	s_result_err(f, "w1", f->jobs[1].job, "bad_item", "late");
	assert_int_equal(f->n_frames, frames);
	assert_int_equal(f->n_to_gone, 0);
	st = s_stats(f);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.results, 0);
	/* the credit came back: a new client's jobs go out at once */
	c2 = s_client(f, 1);
	s_submit(f, c2, "r1", "sum", "[7,8,9]");
	assert_int_equal(f->n_jobs, 4);
	gw_broker_client_destroy(f->b, &c); /* NULL-safe */
	gw_broker_client_destroy(f->b, NULL);
}

static void
test_broker_worker_leaving_after_its_client_left_frees_the_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 3);
	s_submit(f, c, "r1", "sum", "[1,2,3]");
	gw_broker_client_destroy(f->b, &c);
	f->gone_user = &f->users[0];
	s_bye(f, "w1"); /* orphaned jobs: nothing to requeue them to */
	st = s_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(f->n_to_gone, 0);
}

static void
test_broker_destroy_with_everything_live_frees_everything(void **state)
{
	fake_t *f = *state;
	gw_client_t *c1 = s_client(f, 0);
	gw_client_t *c2 = s_client(f, 1);

	(void) s_client(f, 2); /* idle client */
	s_ready(f, "w1", 2);
	s_ready(f, "w2", 1);
	s_submit(f, c1, "r1", "sum", "[1,2,3,4]");
	s_submit(f, c2, "r1", "sum", "[5,6]");
	s_submit(f, c2, "r2", "nope", "[7]");
	s_result(f, "w1", f->jobs[0].job, "1");
	assert_true(s_stats(f).running > 0);
	assert_true(s_stats(f).queued > 0);
	/* requests, queued and held jobs, workers, clients: ASan checks */
	gw_broker_destroy(&f->b);
	assert_null(f->b);
	gw_broker_destroy(&f->b); /* NULL-safe */
	gw_broker_destroy(NULL);
}

static void
test_broker_ping_reports_workers_and_queue_and_echoes_data(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1,2,3]");
	s_send_text(f, c, "{\"type\":\"ping\",\"data\":{\"n\":[1,2]}}");
	s_assert_frame(f, 1, 0, "pong", NULL);
	assert_int_equal(s_fint(f, 1, "workers"), 1);
	assert_int_equal(s_fint(f, 1, "queued"), 2);
	assert_true(s_fint(f, 1, "server_us") > 0);
	sl_test_assert_json(
	    json_object_get(s_frame(f, 1), "data"), "{\"n\":[1,2]}");
	s_send_text(f, c, "{\"type\":\"ping\"}");
	assert_null(json_object_get(s_frame(f, 2), "data"));
}

static void
test_broker_client_error_is_answered_with_an_error_frame(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	assert_int_equal(
	    gw_cmsg_parse(B("{\"type\":\"x\",\"id\":\"q\"}"), 10, &m, &err),
	    -1);
	gw_broker_client_error(f->b, c, &err);
	assert_int_equal(f->n_frames, 1);
	s_assert_error(f, 0, 0, "q", "unknown_type");
}

static void
test_broker_malformed_worker_frames_are_counted_and_dropped(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	msgpack_sbuffer sb;
	uint8_t long_rid[300];
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	gw_workers_on_frame(
	    f->w, (const uint8_t *) "w1", 2, NULL, B("\xdd\x01\x00\x00\x00"));
	gw_workers_on_frame(f->w, (const uint8_t *) "w1", 2, NULL, "", 0);
	/* a JOB is for workers, not from them */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_job(&sb, 1, "sum", 3, B("\x01")), 0);
	s_worker_frame(f, "w1", &sb);
	st = s_stats(f);
	assert_int_equal(st.bad_frames, 3);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_frames, 1);
	/* a routing id longer than ZeroMQ allows does not register */
	memset(long_rid, 'x', sizeof long_rid);
	msgpack_sbuffer_init(&sb);
	{
		const char *tasks[] = { "sum" };

		assert_int_equal(
		    sl_proto_encode_ready(&sb, 1, 1, "h", tasks, 1), 0);
	}
	gw_workers_on_frame(
	    f->w, long_rid, sizeof long_rid, NULL, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(s_stats(f).workers, 1);
	/* binary routing ids (as ZeroMQ makes them) work like text ones */
	{
		const uint8_t rid[] = { 0x00, 0x6b, 0x8b, 0x45, 0x67 };
		const char *tasks[] = { "sum" };

		msgpack_sbuffer_init(&sb);
		assert_int_equal(
		    sl_proto_encode_ready(&sb, 1, 1, "h", tasks, 1), 0);
		gw_workers_on_frame(
		    f->w, rid, sizeof rid, NULL, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	assert_int_equal(s_stats(f).workers, 2);
}

/* ---- cancel ------------------------------------------------------------- */

static void
test_broker_cancel_drops_queued_jobs_cancels_running_ones_and_sends_done(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 2);
	s_submit(f, c, "r1", "sum", "[1,2,3,4,5,6]");
	s_result(f, "w1", f->jobs[0].job, "1");
	s_result_err(f, "w1", f->jobs[1].job, "bad_item", "no");
	/* items 3 and 4 run on w1, items 5 and 6 wait */
	assert_int_equal(f->n_jobs, 4);
	st = s_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.results, 2);
	s_cancel_req(f, c, "r1");
	/* accepted, result, error, then done at once */
	assert_int_equal(f->n_frames, 4);
	s_assert_done(f, 3, 0, "r1", 1, 1);
	assert_int_equal(s_fint(f, 3, "cancelled"), 4);
	assert_int_equal(f->n_cancels, 2);
	s_assert_cancel_sent(f, f->jobs[2].job, "w1");
	s_assert_cancel_sent(f, f->jobs[3].job, "w1");
	st = s_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.running, 2); /* until w1 answers */
	assert_int_equal(st.cancelled, 4);
	/* w1 has no credit left: a new request waits */
	s_submit(f, c, "r2", "sum", "[9]");
	s_assert_frame(f, 4, 0, "accepted", "r2");
	assert_int_equal(f->n_jobs, 4);
	/* the answer to a cancelled job is dropped, and returns the credit */
	s_result_err(f, "w1", f->jobs[2].job, "cancelled", "job cancelled");
	assert_int_equal(f->n_frames, 5);
	assert_int_equal(s_stats(f).stale, 1);
	assert_int_equal(f->n_jobs, 5);
	s_assert_job(f, 4, "w1", "9");
	/* a late ok result of a cancelled job is dropped all the same */
	s_result(f, "w1", f->jobs[3].job, "4");
	assert_int_equal(f->n_frames, 5);
	st = s_stats(f);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.results, 2);
	assert_int_equal(st.running, 1);
	s_result(f, "w1", f->jobs[4].job, "9");
	s_assert_result(f, 5, 0, "r2", 0, "9");
	s_assert_done(f, 6, 0, "r2", 1, 0);
	/* only a cancelled request says "cancelled" */
	assert_null(json_object_get(s_frame(f, 6), "cancelled"));
	/* r1 is over: cancelling it again is an unknown id */
	s_cancel_req(f, c, "r1");
	s_assert_error(f, 7, 0, "r1", "unknown_id");
}

static void
test_broker_cancel_of_a_request_still_waiting_for_workers(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_submit(f, c, "r1", "sum", "[1,2,3]");
	s_cancel_req(f, c, "r1");
	assert_int_equal(f->n_frames, 2);
	s_assert_done(f, 1, 0, "r1", 0, 0);
	assert_int_equal(s_fint(f, 1, "cancelled"), 3);
	assert_int_equal(f->n_cancels, 0);
	st = s_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.cancelled, 3);
	/* nothing is left for a worker to take */
	s_ready(f, "w1", 4);
	assert_int_equal(f->n_jobs, 0);
}

static void
test_broker_cancel_of_an_unknown_id_is_refused_with_unknown_id(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_client_t *other = s_client(f, 1);

	s_ready(f, "w1", 1);
	s_submit(f, other, "r1", "sum", "[1,2]");
	s_cancel_req(f, c, "nope");
	s_assert_error(f, 1, 0, "nope", "unknown_id");
	assert_null(json_object_get(s_frame(f, 1), "seq"));
	/* ids are per connection: another client's r1 is not c's */
	s_cancel_req(f, c, "r1");
	s_assert_error(f, 2, 0, "r1", "unknown_id");
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(s_stats(f).requests, 1);
	assert_int_equal(s_stats(f).queued, 1);
	assert_int_equal(s_stats(f).cancelled, 0);
	s_answer_all(f, 0);
	s_assert_done(f, 5, 1, "r1", 2, 0);
}

static void
test_broker_client_destroy_mid_request_sends_cancel_for_each_running_job(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_client_t *c2 = s_client(f, 1);
	gw_broker_stats_t st;

	s_ready(f, "w1", 2);
	s_ready(f, "w2", 1);
	s_submit(f, c, "r1", "sum", "[1,2,3,4,5]");
	s_submit(f, c, "r2", "sum", "[6]");
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(s_stats(f).queued, 3);
	s_submit(f, c2, "r1", "sum", "[7]"); /* waits for credit */
	gw_broker_client_destroy(f->b, &c);
	f->gone_user = &f->users[0];
	/* one CANCEL per running job, to the worker that holds it */
	assert_int_equal(f->n_cancels, 3);
	for (size_t i = 0; i < 3; i++)
		s_assert_cancel_sent(f, f->jobs[i].job, f->jobs[i].rid);
	st = s_stats(f);
	assert_int_equal(st.cancelled, 6);
	assert_int_equal(st.queued, 1); /* c2's */
	assert_int_equal(st.running, 3);
	/* their answers are dropped; the credit goes to c2 */
	for (size_t i = 0; i < 3; i++)
		s_result_err(f, f->jobs[i].rid, f->jobs[i].job, "cancelled",
		    "job cancelled");
	assert_int_equal(s_stats(f).stale, 3);
	assert_int_equal(f->n_to_gone, 0);
	assert_int_equal(f->n_jobs, 4);
	assert_string_equal(f->jobs[3].item, "7");
	s_answer_all(f, 3);
	s_assert_done(f, f->n_frames - 1, 1, "r1", 1, 0);
}

/* ---- timeout_ms ----------------------------------------------------------
 */

static void
test_broker_timeout_ends_every_unfinished_item_as_a_timeout_error(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;
	int64_t t_before, t_after;
	int seen[4] = { 0 };

	s_ready(f, "w1", 2);
	t_before = sl_clock_mono_us();
	s_submit_timeout(f, c, "r1", "[1,2,3,4]", 50);
	t_after = sl_clock_mono_us();
	s_submit(f, c, "r2", "sum", "[9]"); /* no timeout */
	s_result(f, "w1", f->jobs[0].job, "1");
	/* items 2 and 3 run on w1; items 4 and r2's 9 wait */
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(f->n_frames, 3);
	/* before the deadline: nothing happens */
	s_tick(f, t_before + 40000);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(s_stats(f).timeouts, 0);
	/* past it: each unfinished item, queued or running, ends once */
	s_tick(f, t_after + 50000);
	assert_int_equal(f->n_frames, 3 + 3 + 1);
	for (size_t i = 3; i < 6; i++) {
		json_int_t seq;

		s_assert_error(f, i, 0, "r1", "timeout");
		seq = s_fint(f, i, "seq");
		assert_true(seq >= 1 && seq <= 3);
		seen[seq]++;
	}
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	assert_int_equal(seen[3], 1);
	s_assert_done(f, 6, 0, "r1", 1, 3);
	assert_null(json_object_get(s_frame(f, 6), "cancelled"));
	/* the running ones are cancelled on w1 */
	assert_int_equal(f->n_cancels, 2);
	s_assert_cancel_sent(f, f->jobs[1].job, "w1");
	s_assert_cancel_sent(f, f->jobs[2].job, "w1");
	st = s_stats(f);
	assert_int_equal(st.timeouts, 3);
	assert_int_equal(st.requests, 1); /* r2 */
	assert_int_equal(st.queued, 1);
	/* late answers are dropped and give the credit to r2 */
	s_result(f, "w1", f->jobs[1].job, "2");
	assert_int_equal(s_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 7);
	assert_int_equal(f->n_jobs, 4);
	s_assert_job(f, 3, "w1", "9");
	/* r2 has no deadline: a tick a day later leaves it alone */
	s_tick(f, t_after + 86400000000LL);
	assert_int_equal(f->n_frames, 7);
	s_result(f, "w1", f->jobs[3].job, "9");
	s_assert_result(f, 7, 0, "r2", 0, "9");
	s_assert_done(f, 8, 0, "r2", 1, 0);
}

static void
test_broker_timeout_of_a_request_no_worker_took(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	int64_t t_after;

	s_submit_timeout(f, c, "r1", "[1,2]", 1000);
	t_after = sl_clock_mono_us();
	s_tick(f, t_after + 1000000);
	assert_int_equal(f->n_frames, 4);
	s_assert_item_error(f, 1, 0, "r1", 0, "timeout");
	s_assert_item_error(f, 2, 0, "r1", 1, "timeout");
	s_assert_done(f, 3, 0, "r1", 0, 2);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(s_stats(f).queued, 0);
	assert_int_equal(s_stats(f).requests, 0);
	assert_int_equal(s_stats(f).timeouts, 2);
}

static void
test_broker_finished_request_is_not_timed_out_later(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	int64_t t_after;

	s_ready(f, "w1", 1);
	s_submit_timeout(f, c, "r1", "[1]", 50);
	t_after = sl_clock_mono_us();
	s_answer_all(f, 0);
	assert_int_equal(f->n_frames, 3);
	s_tick(f, t_after + 60000);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(s_stats(f).timeouts, 0);
}

/* ---- heartbeats ----------------------------------------------------------
 */

static void
test_broker_tick_pings_every_worker_once_per_interval(void **state)
{
	fake_t *f = *state;
	int64_t t;

	s_rebuild_hb(f);
	t = sl_clock_mono_us(); /* before the workers were heard */
	s_ready(f, "w1", 1);
	s_ready(f, "w2", 1);
	s_tick(f, t);
	assert_int_equal(f->n_pings, 2);
	assert_int_equal(s_pings_to(f, "w1"), 1);
	assert_int_equal(s_pings_to(f, "w2"), 1);
	s_tick(f, t + 500000); /* half an interval on: no PING */
	assert_int_equal(f->n_pings, 2);
	s_tick(f, t + 1000000);
	assert_int_equal(f->n_pings, 4);
	assert_int_equal(s_pings_to(f, "w1"), 2);
	assert_int_equal(s_pings_to(f, "w2"), 2);
	assert_int_equal(f->n_pongs, 0);
	assert_int_equal(s_stats(f).workers, 2);
	assert_int_equal(s_stats(f).workers_lost, 0);
}

static void
test_broker_worker_ping_is_answered_with_pong(void **state)
{
	fake_t *f = *state;

	s_ready(f, "w1", 1);
	s_worker_empty(f, "w1", SL_MSG_PING);
	assert_int_equal(f->n_pongs, 1);
	assert_string_equal(f->pong_rids[0], "w1");
	assert_int_equal(f->n_pings, 0);
	/* a stranger gets no answer: it must register first */
	s_worker_empty(f, "w9", SL_MSG_PING);
	assert_int_equal(f->n_pongs, 1);
	assert_int_equal(s_stats(f).stale, 1);
	/* a PONG is not answered */
	s_worker_empty(f, "w1", SL_MSG_PONG);
	assert_int_equal(f->n_pongs, 1);
	assert_int_equal(f->n_pings, 0);
	assert_int_equal(s_stats(f).bad_frames, 0);
}

static void
test_broker_silent_worker_is_removed_and_its_jobs_go_to_another(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	gw_broker_stats_t st;
	int64_t t0, t1;

	s_rebuild_hb(f);
	c = s_client(f, 0);
	t0 = sl_clock_mono_us();
	s_ready(f, "w1", 2); /* last heard of between t0 and t1 */
	t1 = sl_clock_mono_us();
	s_submit(f, c, "r1", "sum", "[1,2]");
	assert_int_equal(f->n_jobs, 2);
	s_mono_after(t1);
	s_ready(f, "w2", 2); /* heard of after t1 */
	/* just before w1 can have expired: nobody is removed */
	s_tick(f, t0 + HB_EXPIRY_US - 1);
	assert_int_equal(s_stats(f).workers, 2);
	/* w1 has been silent for three intervals, w2 has not */
	s_tick(f, t1 + HB_EXPIRY_US);
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.requeued, 2);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.poisoned, 0);
	/* the same two jobs, now on w2 */
	assert_int_equal(f->n_jobs, 4);
	assert_string_equal(f->jobs[2].rid, "w2");
	assert_string_equal(f->jobs[3].rid, "w2");
	assert_true((s_resent(f, 2, 0) && s_resent(f, 3, 1))
	    || (s_resent(f, 2, 1) && s_resent(f, 3, 0)));
	/* w1 wakes up and answers: it is not registered any more */
	s_result(f, "w1", f->jobs[0].job, "\"late\"");
	assert_int_equal(s_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 1);
	s_answer_all(f, 2);
	assert_int_equal(f->n_frames, 4);
	s_assert_done(f, 3, 0, "r1", 2, 0);
}

static void
test_broker_worker_that_keeps_sending_is_not_removed(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	gw_broker_stats_t st;

	s_rebuild_hb(f);
	c = s_client(f, 0);
	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	assert_int_equal(f->n_jobs, 1);
	/* each round: a worker heard of once, then silent, is removed;
	 * w1, which sent something since, stays, whatever it sent */
	for (int round = 0; round < 5; round++) {
		char silent[8];
		int64_t t;

		snprintf(silent, sizeof silent, "s%d", round);
		s_ready(f, silent, 1);
		t = sl_clock_mono_us();
		s_mono_after(t);
		switch (round) {
		case 0:
			s_worker_empty(f, "w1", SL_MSG_PONG);
			break;
		case 1:
			s_worker_empty(f, "w1", SL_MSG_PING);
			break;
		case 2:
			s_result(f, "w1", f->jobs[0].job, "1");
			break;
		case 3: /* a duplicate is dropped, but w1 is alive */
			s_result(f, "w1", f->jobs[0].job, "1");
			break;
		default:
			s_worker_empty(f, "w1", SL_MSG_DRAIN);
			break;
		}
		s_tick(f, t + HB_EXPIRY_US);
		st = s_stats(f);
		if (st.workers != 1
		    || st.workers_lost != (uint64_t) round + 1) {
			print_error("round %d: workers %zu (want 1), lost "
			            "%llu (want %d)\n",
			    round, st.workers,
			    (unsigned long long) st.workers_lost, round + 1);
			fail();
		}
	}
	s_assert_done(f, 2, 0, "r1", 1, 0);
	/* and the survivor is w1 */
	s_bye(f, "w1");
	assert_int_equal(s_stats(f).workers, 0);
}

static void
test_broker_without_heartbeats_tick_never_removes_workers(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1]");
	s_tick(f, sl_clock_mono_us() + 3600 * 1000000LL);
	s_tick(f, INT64_MAX);
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.workers_lost, 0);
	assert_int_equal(st.running, 1);
	assert_int_equal(f->n_pings, 0);
	assert_int_equal(f->n_frames, 1);
	s_answer_all(f, 0);
	s_assert_done(f, 2, 0, "r1", 1, 0);
}

/* ---- poison items --------------------------------------------------------
 */

static void
test_broker_job_whose_workers_go_silent_twice_ends_as_worker_lost(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	gw_broker_stats_t st;
	int64_t t;

	s_rebuild_hb(f);
	c = s_client(f, 0);
	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7,8]");
	t = sl_clock_mono_us();
	s_tick(f, t + HB_EXPIRY_US); /* w1 dies holding 7 */
	st = s_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(f->n_frames, 1);
	s_ready(f, "w2", 1); /* takes 7 again */
	assert_int_equal(f->n_jobs, 2);
	assert_true(s_resent(f, 1, 0));
	t = sl_clock_mono_us();
	s_tick(f, t + HB_EXPIRY_US); /* and dies too */
	assert_int_equal(f->n_frames, 2);
	s_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	st = s_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.queued, 1); /* 8 waits */
	assert_int_equal(st.running, 0);
	assert_int_equal(st.requests, 1);
	/* 8 is unharmed: done follows its result */
	s_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 2, "w3", "8");
	s_answer_all(f, 2);
	s_assert_result(f, 2, 0, "r1", 1, "8");
	s_assert_done(f, 3, 0, "r1", 1, 1);
}

static void
test_broker_job_whose_workers_fail_the_ping_twice_ends_as_worker_lost(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c;
	gw_broker_stats_t st;
	int64_t t, t2;

	s_rebuild_hb(f);
	c = s_client(f, 0);
	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7]");
	snprintf(f->fail_rid, sizeof f->fail_rid, "w1");
	f->fail_rc = SL_ENOTFOUND;
	t = sl_clock_mono_us();
	s_tick(f, t); /* the PING to w1 fails */
	assert_int_equal(f->n_refused, 1);
	st = s_stats(f);
	assert_int_equal(st.workers, 0);
	assert_int_equal(st.workers_lost, 1);
	assert_int_equal(st.queued, 1);
	assert_int_equal(f->n_frames, 1);
	s_ready(f, "w2", 1);
	assert_int_equal(f->n_jobs, 2);
	assert_true(s_resent(f, 1, 0));
	snprintf(f->fail_rid, sizeof f->fail_rid, "w2");
	t2 = sl_clock_mono_us();
	s_worker_empty(f, "w2", SL_MSG_PONG); /* alive until t2 + 3 s */
	s_tick(f, t2 + 1000000);              /* next PING: fails */
	assert_int_equal(f->n_refused, 2);
	assert_int_equal(f->n_frames, 3);
	s_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	s_assert_done(f, 2, 0, "r1", 0, 1);
	st = s_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.running, 0);
}

static void
test_broker_job_whose_worker_re_registers_twice_ends_as_worker_lost(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7]");
	s_ready(f, "w1", 1); /* restarted: 7 comes back to it */
	assert_int_equal(f->n_jobs, 2);
	assert_true(s_resent(f, 1, 0));
	assert_int_equal(f->n_frames, 1);
	s_ready(f, "w1", 1); /* restarted again while running 7 */
	assert_int_equal(f->n_jobs, 2);
	assert_int_equal(f->n_frames, 3);
	s_assert_item_error(f, 1, 0, "r1", 0, "worker_lost");
	s_assert_done(f, 2, 0, "r1", 0, 1);
	st = s_stats(f);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.workers_lost, 2);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.running, 0);
	/* the stale answer of the first run is dropped */
	s_result(f, "w1", f->jobs[0].job, "7");
	assert_int_equal(f->n_frames, 3);
}

static void
test_broker_bye_does_not_count_as_a_death(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[7]");
	s_bye(f, "w1");
	s_ready(f, "w2", 1);
	s_bye(f, "w2");
	/* two BYEs: still requeued, to a third worker */
	s_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 2, "w3", "7");
	/* one real death after two BYEs is a first death, not a second */
	s_ready(f, "w3", 1);
	assert_int_equal(f->n_jobs, 4);
	s_assert_job(f, 3, "w3", "7");
	assert_int_equal(f->n_frames, 1);
	st = s_stats(f);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(st.requeued, 3);
	assert_int_equal(st.workers_lost, 1);
	s_answer_all(f, 3);
	s_assert_result(f, 1, 0, "r1", 0, "7");
	s_assert_done(f, 2, 0, "r1", 1, 0);
}

/* ---- worker DRAIN, client pause, gateway drain ------------------------- */

static void
test_broker_draining_worker_gets_no_new_jobs_but_its_results_count(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);
	gw_broker_stats_t st;

	s_ready(f, "w1", 2);
	s_ready(f, "w2", 1);
	s_submit(f, c, "r1", "sum", "[1,2]");
	s_assert_job(f, 0, "w1", "1"); /* most free credit */
	s_assert_job(f, 1, "w1", "2");
	s_worker_empty(f, "w1", SL_MSG_DRAIN);
	assert_int_equal(s_stats(f).workers, 2);
	s_submit(f, c, "r2", "sum", "[3,4,5]");
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 2, "w2", "3");
	assert_int_equal(s_stats(f).queued, 2);
	/* w1's result still reaches the client; its credit stays unused */
	s_result(f, "w1", f->jobs[0].job, "1");
	s_assert_result(f, 2, 0, "r1", 0, "1");
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(s_stats(f).queued, 2);
	s_result(f, "w2", f->jobs[2].job, "3");
	assert_int_equal(f->n_jobs, 4);
	s_assert_job(f, 3, "w2", "4");
	/* BYE: w1 leaves, the job it still held is requeued */
	s_bye(f, "w1");
	st = s_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 1);
	assert_int_equal(st.workers_lost, 0);
	assert_int_equal(st.requeued, 1);
	assert_int_equal(st.queued, 2);
	for (size_t i = 3; i < f->n_jobs; i++)
		assert_string_equal(f->jobs[i].rid, "w2");
	s_answer_all(f, 3);
	st = s_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.results, 5);
	assert_int_equal(f->n_jobs, 6);
}

static void
test_broker_paused_client_jobs_wait_while_others_run(void **state)
{
	fake_t *f = *state;
	gw_client_t *a = s_client(f, 0);
	gw_client_t *b = s_client(f, 1);

	gw_broker_client_pause(f->b, a, true);
	s_submit(f, a, "ra", "sum", "[1,2]");
	s_assert_frame(f, 0, 0, "accepted", "ra");
	s_submit(f, b, "rb", "sum", "[3]");
	s_ready(f, "w1", 4);
	assert_int_equal(f->n_jobs, 1);
	s_assert_job(f, 0, "w1", "3");
	assert_int_equal(s_stats(f).queued, 2);
	gw_broker_client_pause(f->b, a, true); /* again: no change */
	s_answer_all(f, 0);
	s_assert_done(f, 3, 1, "rb", 1, 0);
	assert_int_equal(f->n_jobs, 1); /* free credit, still nothing of a's */
	gw_broker_client_pause(f->b, a, false);
	assert_int_equal(f->n_jobs, 3);
	s_assert_job(f, 1, "w1", "1");
	s_assert_job(f, 2, "w1", "2");
	assert_int_equal(s_stats(f).queued, 0);
	/* paused again: results of running jobs still arrive */
	gw_broker_client_pause(f->b, a, true);
	s_answer_all(f, 1);
	s_assert_result(f, 4, 0, "ra", 0, "1");
	s_assert_result(f, 5, 0, "ra", 1, "2");
	s_assert_done(f, 6, 0, "ra", 2, 0);
}

static void
test_broker_drain_refuses_new_submits_and_finishes_running_ones(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 1);
	s_submit(f, c, "r1", "sum", "[1,2]");
	gw_broker_drain(f->b);
	s_submit(f, c, "r2", "sum", "[3]");
	s_assert_error(f, 1, 0, "r2", "shutting_down");
	assert_int_equal(s_stats(f).requests, 1);
	/* pings are still answered */
	s_send_text(f, c, "{\"type\":\"ping\"}");
	s_assert_frame(f, 2, 0, "pong", NULL);
	s_answer_all(f, 0);
	assert_int_equal(f->n_jobs, 2);
	s_assert_result(f, 3, 0, "r1", 0, "1");
	s_assert_result(f, 4, 0, "r1", 1, "2");
	s_assert_done(f, 5, 0, "r1", 2, 0);
	assert_int_equal(s_stats(f).requests, 0);
}

static void
test_broker_can_progress_only_while_a_worker_can_end_a_request(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	assert_false(gw_broker_can_progress(f->b)); /* nothing to finish */
	s_submit(f, c, "r1", "sum", "[1,2]");
	assert_false(gw_broker_can_progress(f->b)); /* no worker at all */
	{
		const char *tasks[] = { "echo" };

		s_ready_tasks(f, "w0", 1, tasks, 1); /* not r1's task */
	}
	assert_false(gw_broker_can_progress(f->b));
	s_ready(f, "w1", 1);
	assert_int_equal(f->n_jobs, 1);
	assert_true(
	    gw_broker_can_progress(f->b)); /* one running, one queued */
	s_worker_empty(f, "w1", SL_MSG_DRAIN);
	assert_true(gw_broker_can_progress(f->b)); /* its job may still end */
	s_answer_all(f, 0);
	/* item 1 waits, and the only worker for it is draining */
	assert_int_equal(s_stats(f).queued, 1);
	assert_false(gw_broker_can_progress(f->b));
	s_ready(f, "w2", 1);
	assert_true(gw_broker_can_progress(f->b));
	s_answer_all(f, 1);
	assert_int_equal(s_stats(f).requests, 0);
	assert_false(gw_broker_can_progress(f->b));
}

/* ---- notify channels -----------------------------------------------------
 */

/* Frame i has "channel": ch, or none when ch is NULL. */
static void
s_assert_channel(fake_t *f, size_t i, const char *ch)
{
	const char *got = s_fstr(f, i, "channel");

	if (ch ? !got || strcmp(got, ch) : got != NULL) {
		print_error("frame %zu channel %s, expected %s\n", i,
		    got ? got : "(none)", ch ? ch : "(none)");
		fail();
	}
}

static void
test_broker_watchers_get_a_requests_frames_marked_with_its_channel(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = s_client(f, 0);
	gw_client_t *owner = s_client(f, 1);
	gw_client_t *other = s_client(f, 2);

	s_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	s_assert_frame(f, 0, 0, "subscribed", NULL);
	s_assert_channel(f, 0, "ch");
	assert_int_equal(s_fint(f, 0, "subscriptions"), 1);
	s_send_text(f, other, "{\"type\":\"subscribe\",\"channel\":\"x\"}");
	s_assert_frame(f, 1, 2, "subscribed", NULL);
	s_ready(f, "w1", 2);
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"ch\"}");
	/* the owner's frame first, unmarked; then the watcher's copy */
	s_assert_frame(f, 2, 1, "accepted", "r1");
	s_assert_channel(f, 2, NULL);
	s_assert_frame(f, 3, 0, "accepted", "r1");
	s_assert_channel(f, 3, "ch");
	assert_int_equal(s_fint(f, 3, "items"), 2);
	/* a watcher's copy may be encoded once for all; the owner's is its
	 * own */
	assert_int_equal(f->frames[2].serial, 0);
	assert_true(f->frames[3].serial != 0);
	s_result(f, "w1", f->jobs[1].job, "\"b\"");
	s_assert_result(f, 4, 1, "r1", 1, "\"b\"");
	s_assert_result(f, 5, 0, "r1", 1, "\"b\"");
	s_assert_channel(f, 5, "ch");
	s_result_err(f, "w1", f->jobs[0].job, "task_failed", "no");
	s_assert_item_error(f, 6, 1, "r1", 0, "task_failed");
	s_assert_item_error(f, 7, 0, "r1", 0, "task_failed");
	s_assert_channel(f, 7, "ch");
	s_assert_done(f, 8, 1, "r1", 1, 1);
	s_assert_done(f, 9, 0, "r1", 1, 1);
	s_assert_channel(f, 9, "ch");
	/* the client on another channel saw none of it */
	assert_int_equal(f->n_frames, 10);
	assert_int_equal(s_stats(f).notified, 4);
	/* the request is gone; the channel stays while watched */
	assert_int_equal(s_stats(f).channels, 2);
	assert_int_equal(s_stats(f).subscriptions, 2);
}

static void
test_broker_a_watcher_joining_late_sees_only_what_follows(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = s_client(f, 0);
	gw_client_t *owner = s_client(f, 1);

	s_ready(f, "w1", 2);
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"ch\"}");
	s_result(f, "w1", f->jobs[0].job, "1");
	assert_int_equal(f->n_frames, 2); /* accepted, result: owner only */
	assert_int_equal(s_stats(f).channels, 1); /* notified, unwatched */
	s_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	s_assert_frame(f, 2, 0, "subscribed", NULL);
	/* a cancel ends it: the watcher gets the done, with cancelled */
	s_cancel_req(f, owner, "r1");
	s_assert_frame(f, 3, 1, "done", "r1");
	s_assert_frame(f, 4, 0, "done", "r1");
	assert_int_equal(s_fint(f, 4, "cancelled"), 1);
	s_assert_channel(f, 4, "ch");
	assert_int_equal(f->n_frames, 5);
}

static void
test_broker_subscriptions_are_bounded_per_client_and_idempotent(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"a\"}");
	s_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"a\"}");
	assert_int_equal(s_fint(f, 1, "subscriptions"), 1);
	s_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"b\"}");
	assert_int_equal(s_fint(f, 2, "subscriptions"), 2);
	/* max_subscriptions is 2 */
	s_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"c\"}");
	s_assert_error(f, 3, 0, NULL, "too_many_subscriptions");
	s_assert_channel(f, 3, "c");
	s_send_text(f, c, "{\"type\":\"unsubscribe\",\"channel\":\"z\"}");
	s_assert_error(f, 4, 0, NULL, "not_subscribed");
	s_assert_channel(f, 4, "z");
	s_send_text(f, c, "{\"type\":\"unsubscribe\",\"channel\":\"a\"}");
	s_assert_frame(f, 5, 0, "unsubscribed", NULL);
	s_assert_channel(f, 5, "a");
	assert_int_equal(s_fint(f, 5, "subscriptions"), 1);
	s_send_text(f, c, "{\"type\":\"subscribe\",\"channel\":\"c\"}");
	s_assert_frame(f, 6, 0, "subscribed", NULL);
	assert_int_equal(s_stats(f).subscriptions, 2);
	assert_int_equal(s_stats(f).channels, 2);
}

static void
test_broker_a_closed_watcher_leaves_no_subscription_behind(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = s_client(f, 0);
	gw_client_t *owner = s_client(f, 1);

	s_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"ch\"}");
	s_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"d\"}");
	s_ready(f, "w1", 1);
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"ch\"}");
	gw_broker_client_destroy(f->b, &watcher);
	f->gone_user = &f->users[0];
	assert_int_equal(s_stats(f).subscriptions, 0);
	assert_int_equal(s_stats(f).channels, 1); /* r1 still notifies ch */
	s_result(f, "w1", f->jobs[0].job, "1");
	assert_int_equal(f->n_to_gone, 0);
	s_assert_done(f, f->n_frames - 1, 1, "r1", 1, 0);
	assert_int_equal(s_stats(f).channels, 0);
}

static void
test_broker_an_owner_closing_ends_its_channel_too(void **state)
{
	fake_t *f = *state;
	gw_client_t *watcher = s_client(f, 0);
	gw_client_t *owner = s_client(f, 1);

	s_send_text(f, watcher, "{\"type\":\"subscribe\",\"channel\":\"w\"}");
	/* the owner watches its own channel: it gets both copies */
	s_send_text(f, owner, "{\"type\":\"subscribe\",\"channel\":\"w\"}");
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,2],\"notify\":\"w\"}");
	s_assert_frame(f, 2, 1, "accepted", "r1");
	s_assert_channel(f, 2, NULL);
	s_assert_frame(f, 3, 0, "accepted", "r1");
	s_assert_frame(f, 4, 1, "accepted", "r1");
	s_assert_channel(f, 4, "w");
	gw_broker_client_destroy(f->b, &owner);
	/* the watcher learns the request ended: its items were cancelled;
	 * the owner, gone, gets nothing */
	assert_int_equal(f->n_frames, 6);
	s_assert_frame(f, 5, 0, "done", "r1");
	s_assert_channel(f, 5, "w");
	assert_int_equal(s_fint(f, 5, "cancelled"), 2);
	assert_int_equal(s_stats(f).channels, 1); /* still watched */
	gw_broker_client_destroy(f->b, &watcher);
	assert_int_equal(s_stats(f).channels, 0);
}

static void
test_broker_many_channels_are_found_and_freed(void **state)
{
	enum { N = 100 }; /* 2 N frames fit MAX_SENT */
	fake_t *f = *state;
	gw_client_t *c[N], *owner;
	char text[128];

	for (int i = 0; i < N; i++) {
		c[i] = gw_broker_client_new(f->b, &f->users[0]);
		assert_non_null(c[i]);
		snprintf(text, sizeof text,
		    "{\"type\":\"subscribe\",\"channel\":\"c%d\"}", i);
		s_send_text(f, c[i], text);
		s_send_text(
		    f, c[i], "{\"type\":\"subscribe\",\"channel\":\"all\"}");
	}
	assert_int_equal(s_stats(f).channels, N + 1);
	assert_int_equal(s_stats(f).subscriptions, 2 * N);
	for (int i = 0; i < N; i += 2)
		gw_broker_client_destroy(f->b, &c[i]);
	assert_int_equal(s_stats(f).channels, N / 2 + 1);
	assert_int_equal(s_stats(f).subscriptions, N);
	s_fake_free_records(f);
	/* c17 is watched by one client, c18's watcher is gone */
	owner = s_client(f, 1);
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"a\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"c17\"}");
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"b\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"c18\"}");
	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"c\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"all\"}");
	/* a: owner + 1; b: owner; c: owner + the N / 2 left */
	assert_int_equal(f->n_frames, 2 + 1 + 1 + N / 2);
	/* c's watchers share one frame: one serial, not a's */
	for (size_t i = 5; i < f->n_frames; i++)
		assert_int_equal(f->frames[i].serial, f->frames[4].serial);
	assert_true(f->frames[4].serial != f->frames[1].serial);
	assert_int_equal(s_stats(f).channels, N / 2 + 2); /* c18 is back */
	for (int i = 1; i < N; i += 2)
		gw_broker_client_destroy(f->b, &c[i]);
	assert_int_equal(s_stats(f).channels, 3); /* notified: c17 c18 all */
	gw_broker_client_destroy(f->b, &owner);
	assert_int_equal(s_stats(f).channels, 0);
	assert_int_equal(s_stats(f).subscriptions, 0);
}

static void
test_broker_an_unwatched_owner_closing_frees_its_channel(void **state)
{
	fake_t *f = *state;
	gw_client_t *owner = s_client(f, 1);

	s_send_text(f, owner,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1],\"notify\":\"ch\"}");
	assert_int_equal(s_stats(f).channels, 1);
	gw_broker_client_destroy(f->b, &owner);
	assert_int_equal(s_stats(f).channels, 0);
}

static void
test_broker_ping_reports_running_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = s_client(f, 0);

	s_ready(f, "w1", 2);
	s_submit(f, c, "r1", "sum", "[1,2,3]");
	s_send_text(f, c, "{\"type\":\"ping\"}");
	s_assert_frame(f, 1, 0, "pong", NULL);
	assert_int_equal(s_fint(f, 1, "workers"), 1);
	assert_int_equal(s_fint(f, 1, "running"), 2);
	assert_int_equal(s_fint(f, 1, "queued"), 1);
	s_result(f, "w1", f->jobs[0].job, "1");
	s_send_text(f, c, "{\"type\":\"ping\"}");
	s_assert_frame(f, 3, 0, "pong", NULL);
	assert_int_equal(s_fint(f, 3, "running"), 2);
	assert_int_equal(s_fint(f, 3, "queued"), 0);
	s_answer_all(f, 1);
	s_send_text(f, c, "{\"type\":\"ping\"}");
	assert_int_equal(s_fint(f, f->n_frames - 1, "running"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_submit_with_zero_workers_is_accepted_and_queued,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_with_capacity_two_gets_exactly_two_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_result_returns_credit_and_the_next_job_follows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_ids_start_at_a_random_value_below_2_to_the_52,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_routing_id_is_bound_to_its_workers_curve_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_is_answered_with_registered_and_the_label,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_producers_frame_on_the_workers_endpoint_is_answered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_jobs_go_to_the_worker_with_most_free_credit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_results_are_forwarded_in_arrival_order_with_their_seq,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_error_is_forwarded_with_seq_and_code,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_error_text_reaches_clients_as_utf8,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_value_without_json_form_becomes_a_bad_result_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_empty_string_value_reaches_the_client, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_error_without_message_still_finishes_the_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_duplicate_result_is_dropped_and_client_sees_the_item_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_result_from_an_unknown_worker_is_dropped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bye_requeues_jobs_to_another_worker_exactly_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_again_from_the_same_worker_requeues_its_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_late_result_of_a_first_attempt_is_dropped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_failed_send_removes_the_worker_and_requeues,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_failed_send_to_the_only_worker_keeps_the_job_queued,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_requests_take_turns_round_robin, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_clients_of_two_transports_share_workers_round_robin,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_request_whose_task_no_worker_runs_does_not_block_others,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_unknown_task_is_refused_when_workers_run_other_tasks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_items_no_worker_runs_end_as_unknown_task_in_time,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_arriving_in_time_runs_items_of_a_new_task,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_duplicate_id_is_refused_while_the_first_runs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_too_many_requests_per_client_are_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_queue_full_is_refused_and_counts_only_waiting_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_one_client_cannot_take_the_whole_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_clients_of_one_key_share_their_quota, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bad_item_is_refused_and_leaves_the_counters_as_they_were,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_over_max_item_bytes_is_refused_with_its_index,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_at_max_depth_is_accepted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_client_destroy_drops_queued_jobs_and_late_results,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_leaving_after_its_client_left_frees_the_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_destroy_with_everything_live_frees_everything,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ping_reports_workers_and_queue_and_echoes_data,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_client_error_is_answered_with_an_error_frame,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_malformed_worker_frames_are_counted_and_dropped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_drops_queued_jobs_cancels_running_ones_and_sends_done,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_of_a_request_still_waiting_for_workers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_of_an_unknown_id_is_refused_with_unknown_id,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_client_destroy_mid_request_sends_cancel_for_each_running_job,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_timeout_ends_every_unfinished_item_as_a_timeout_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_timeout_of_a_request_no_worker_took, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_finished_request_is_not_timed_out_later, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_tick_pings_every_worker_once_per_interval,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_ping_is_answered_with_pong, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_silent_worker_is_removed_and_its_jobs_go_to_another,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_that_keeps_sending_is_not_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_without_heartbeats_tick_never_removes_workers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_workers_go_silent_twice_ends_as_worker_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_workers_fail_the_ping_twice_ends_as_worker_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_job_whose_worker_re_registers_twice_ends_as_worker_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bye_does_not_count_as_a_death, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_draining_worker_gets_no_new_jobs_but_its_results_count,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_paused_client_jobs_wait_while_others_run,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_drain_refuses_new_submits_and_finishes_running_ones,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_can_progress_only_while_a_worker_can_end_a_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ping_reports_running_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_watchers_get_a_requests_frames_marked_with_its_channel,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_watcher_joining_late_sees_only_what_follows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_subscriptions_are_bounded_per_client_and_idempotent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_closed_watcher_leaves_no_subscription_behind,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_an_owner_closing_ends_its_channel_too, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_an_unwatched_owner_closing_frees_its_channel,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_many_channels_are_found_and_freed, setup,
		    teardown),
	};

	/* Every log line is formatted (DEBUG), so its arguments are checked
	 * under the sanitizers too; ctest keeps the output. */
	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}
