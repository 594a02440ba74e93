/*
 * test_prod: the producers endpoint's byte-counted output queue
 * (gateway/gw_prod).
 *
 * gw_zmq is replaced at the link (-Wl,--wrap): gw_zmq_new_ex hands us
 * the frame callback, so producers' frames are injected as if ZeroMQ had
 * received them, and gw_zmq_send records frames or answers SL_EFULL /
 * SL_ENOTFOUND on demand, as a full pipe or a vanished peer would. The
 * broker is real; its workers are plain functions. Single threaded, like
 * the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_broker.h"
#include "gw_prod.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

#define MAX_SENT 64

/* What the fake gw_zmq saw and how it answers. */
typedef struct fake_zmq {
	gw_zmq_frame_cb cb; /* gw_prod's frame callback */
	void *user;
	void (*wake)(void *user);
	int send_rc;          /* what gw_zmq_send answers: 0, SL_EFULL, ... */
	char *sent[MAX_SENT]; /* "data" of each frame sent, in order */
	size_t n_sent;
	size_t n_wake_after; /* retries asked for */
	const char *key;     /* CURVE key frames come with; NULL: none */
} fake_zmq_t;

static fake_zmq_t s_z; /* the wrapped functions have no context pointer */
static char s_sock;    /* stands for the gw_zmq_t */

gw_zmq_t *__wrap_gw_zmq_new_ex(void *zctx, const char *endpoint,
    int64_t max_msg, int (*setup)(void *sock, const void *setup_arg),
    const void *setup_arg, gw_zmq_frame_cb cb, void *user, char *err,
    size_t errlen);
void __wrap_gw_zmq_set_wake(gw_zmq_t *self, void (*wake)(void *user));
void __wrap_gw_zmq_wake_after(gw_zmq_t *self, int64_t us);
int __wrap_gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len);
void __wrap_gw_zmq_destroy(gw_zmq_t **self_p);
const char *__wrap_gw_zmq_peer_key(const gw_zmq_t *self);

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
	(void) err;
	(void) errlen;
	s_z.cb = cb;
	s_z.user = user;
	return (gw_zmq_t *) &s_sock;
}

void
__wrap_gw_zmq_set_wake(gw_zmq_t *self, void (*wake)(void *user))
{
	(void) self;
	s_z.wake = wake;
}

void
__wrap_gw_zmq_wake_after(gw_zmq_t *self, int64_t us)
{
	(void) self;
	assert_true(us > 0);
	s_z.n_wake_after++;
}

/* The "data" string of a msgpack pong, or "?" for anything else. */
static char *
s_pong_data(const void *data, size_t len)
{
	msgpack_unpacked u;
	size_t off = 0;
	char *out = NULL;

	msgpack_unpacked_init(&u);
	assert_int_equal(
	    msgpack_unpack_next(&u, data, len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		msgpack_object_kv *kv = &u.data.via.map.ptr[i];

		if (kv->key.via.str.size == 4
		    && !memcmp(kv->key.via.str.ptr, "data", 4)
		    && kv->val.type == MSGPACK_OBJECT_STR)
			out = strndup(
			    kv->val.via.str.ptr, kv->val.via.str.size);
	}
	msgpack_unpacked_destroy(&u);
	return out ? out : strdup("?");
}

int
__wrap_gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	(void) self;
	(void) rid;
	(void) rid_len;
	if (s_z.send_rc)
		return s_z.send_rc;
	assert_true(s_z.n_sent < MAX_SENT);
	s_z.sent[s_z.n_sent++] = s_pong_data(data, len);
	return 0;
}

void
__wrap_gw_zmq_destroy(gw_zmq_t **self_p)
{
	*self_p = NULL;
}

/* The CURVE key behind the frame being handed over (NULL: a plain
 * endpoint, the default). */
const char *
__wrap_gw_zmq_peer_key(const gw_zmq_t *self)
{
	(void) self;
	return s_z.key;
}

/* ---- fixture ------------------------------------------------------------
 */

/* The workers, as plain functions (the broker's gw_workers_ops_t seam):
 * none until s_worker_ready, then one that runs "sum", one job at a
 * time. */
typedef struct fake_workers {
	bool ready;             /* the worker registered */
	gw_workers_job_t *held; /* the job it holds, or NULL */
} fake_workers_t;

static bool
s_w_runs(const gw_workers_t *self, const char *task, bool ready)
{
	(void) ready;
	return ((const fake_workers_t *) (const void *) self)->ready
	    && !strcmp(task, "sum");
}

static bool
s_w_any_credit(const gw_workers_t *self)
{
	const fake_workers_t *w = (const void *) self;

	return w->ready && !w->held;
}

static void *
s_w_pick(gw_workers_t *self, const char *task)
{
	return s_w_any_credit(self) && s_w_runs(self, task, true)
	    ? (void *) self
	    : NULL;
}

static int
s_w_send_job(gw_workers_t *self, void *worker, gw_workers_job_t *job,
    const char *task, const void *item, size_t len)
{
	fake_workers_t *w = (void *) self;

	(void) task;
	(void) item;
	(void) len;
	assert_ptr_equal(worker, (void *) self);
	job->holder = worker;
	w->held = job;
	return 0;
}

static void
s_w_cancel(gw_workers_t *self, gw_workers_job_t *job)
{
	(void) self;
	(void) job;
}

static void
s_w_each_job(gw_workers_t *self, bool (*fn)(void *arg, gw_workers_job_t *job),
    void *arg)
{
	fake_workers_t *w = (void *) self;

	if (w->held)
		fn(arg, w->held);
}

static void
s_w_stats(const gw_workers_t *self, gw_workers_stats_t *out)
{
	memset(out, 0, sizeof *out);
	out->workers = ((const fake_workers_t *) (const void *) self)->ready;
}

static const char *
s_w_name(const void *worker)
{
	(void) worker;
	return "w1";
}

static const gw_workers_ops_t s_fake_workers_ops
    = { s_w_runs, s_w_any_credit, s_w_pick, s_w_send_job, s_w_cancel,
	      s_w_each_job, s_w_stats, s_w_name };

typedef struct fixture {
	gw_broker_t *broker;
	gw_prod_t *prod;
	fake_workers_t workers;
} fixture_t;

/* A broker with fake workers and gw_prod over the fake gw_zmq; a cap of
 * 1000 bytes, silence forgotten after timeout_us (0: never). */
static int
s_setup(void **state, int64_t timeout_us)
{
	static const gw_broker_ops_t ops = { NULL, NULL };
	static const gw_broker_limits_t blim
	    = { .max_items = 10, .max_requests = 4, .max_queued_jobs = 100 };
	const gw_prod_limits_t plim = { 1 << 20, 10, timeout_us, 1000 };
	fixture_t *f = calloc(1, sizeof *f);
	char err[200];

	memset(&s_z, 0, sizeof s_z);
	if (!f)
		return -1;
	f->broker = gw_broker_new(&ops, &blim);
	if (f->broker)
		gw_broker_set_workers(f->broker, &s_fake_workers_ops,
		    (gw_workers_t *) (void *) &f->workers);
	f->prod = gw_prod_new(f->broker, NULL, "inproc://test", &plim, NULL,
	    NULL, err, sizeof err);
	if (!f->broker || !f->prod || !s_z.cb || !s_z.wake)
		return -1;
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return s_setup(state, 0);
}

static int
setup_timeout(void **state)
{
	return s_setup(state, 1000000); /* 1 s */
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	gw_prod_destroy(&f->prod);
	/* The worker leaves: the broker frees the job it held. */
	if (f->workers.held) {
		gw_workers_events_t ev;

		gw_broker_workers_events(f->broker, &ev);
		ev.lost(ev.ctx, f->workers.held, false);
	}
	gw_broker_destroy(&f->broker);
	for (size_t i = 0; i < s_z.n_sent; i++)
		free(s_z.sent[i]);
	free(f);
	return 0;
}

/* A ping with data from producer rid, as ZeroMQ would hand it over. */
static void
s_ping(const char *rid, const char *data)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "ping", 4);
	msgpack_pack_str_with_body(&pk, "data", 4);
	msgpack_pack_str_with_body(&pk, data, strlen(data));
	s_z.cb(s_z.user, (const uint8_t *) rid, strlen(rid), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* A submit of one item of task "sum" from producer rid. */
static void
s_submit(const char *rid, const char *id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "submit", 6);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	msgpack_pack_str_with_body(&pk, "task", 4);
	msgpack_pack_str_with_body(&pk, "sum", 3);
	msgpack_pack_str_with_body(&pk, "items", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	s_z.cb(s_z.user, (const uint8_t *) rid, strlen(rid), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* The worker registers: it runs "sum", one job at a time. */
static void
s_worker_ready(fixture_t *f)
{
	gw_workers_events_t ev;

	f->workers.ready = true;
	gw_broker_workers_events(f->broker, &ev);
	ev.changed(ev.ctx);
}

static gw_prod_stats_t
s_stats(fixture_t *f)
{
	gw_prod_stats_t st;

	gw_prod_stats(f->prod, &st);
	return st;
}

/* ---- tests ---------------------------------------------------------------
 */

static void
test_prod_frames_wait_when_zeromq_is_full_and_leave_in_order(void **state)
{
	fixture_t *f = *state;

	s_ping("p1", "a");
	assert_int_equal(s_z.n_sent, 1); /* room: straight through */
	s_z.send_rc = SL_EFULL;
	s_ping("p1", "b");
	s_ping("p1", "c");
	assert_int_equal(s_z.n_sent, 1);
	assert_true(s_stats(f).queued_bytes > 0);
	assert_int_equal(s_z.n_wake_after, 1); /* a retry was asked for */
	/* the pipe has room again: the fd wakes */
	s_z.send_rc = 0;
	s_z.wake(s_z.user);
	assert_int_equal(s_z.n_sent, 3);
	assert_string_equal(s_z.sent[1], "b");
	assert_string_equal(s_z.sent[2], "c");
	assert_int_equal(s_stats(f).queued_bytes, 0);
	/* a new frame does not overtake queued ones */
	s_z.send_rc = SL_EFULL;
	s_ping("p1", "d");
	s_z.send_rc = 0;
	s_ping("p1", "e");
	assert_int_equal(s_z.n_sent, 5);
	assert_string_equal(s_z.sent[3], "d");
	assert_string_equal(s_z.sent[4], "e");
	assert_int_equal(gw_prod_count(f->prod), 1);
}

static void
test_prod_a_producer_past_the_byte_cap_is_cut_and_may_start_afresh(
    void **state)
{
	fixture_t *f = *state;
	char big[251];

	memset(big, 'x', 250);
	big[250] = '\0';
	/* a pong is about 64 bytes plus its data: 3 fit under 1000 */
	s_ping("p2", "ok"); /* another producer, unaffected */
	s_z.send_rc = SL_EFULL;
	s_ping("p1", big);
	s_ping("p1", big);
	s_ping("p1", big);
	assert_int_equal(s_stats(f).slow_cut, 0);
	assert_true(s_stats(f).queued_bytes > 900);
	s_ping("p1", big); /* past 1000 bytes */
	assert_int_equal(s_stats(f).slow_cut, 1);
	assert_int_equal(s_stats(f).queued_bytes, 0);
	gw_prod_tick(f->prod, 0);
	assert_int_equal(gw_prod_count(f->prod), 1); /* p2 only */
	/* p1 talks again: a new start with an empty queue */
	s_z.send_rc = 0;
	s_ping("p1", "again");
	assert_int_equal(gw_prod_count(f->prod), 2);
	assert_string_equal(s_z.sent[s_z.n_sent - 1], "again");
}

static void
test_prod_a_vanished_producer_is_forgotten_with_its_queue(void **state)
{
	fixture_t *f = *state;

	s_z.send_rc = SL_EFULL;
	s_ping("p1", "a");
	assert_true(s_stats(f).queued_bytes > 0);
	s_z.send_rc = SL_ENOTFOUND;
	s_z.wake(s_z.user);
	assert_int_equal(s_stats(f).queued_bytes, 0);
	assert_int_equal(s_stats(f).slow_cut, 0);
	gw_prod_tick(f->prod, 0);
	assert_int_equal(gw_prod_count(f->prod), 0);
}

static void
test_prod_a_held_back_producer_resumes_when_a_send_empties_its_queue(
    void **state)
{
	fixture_t *f = *state;
	gw_broker_stats_t bst;
	char big[251];

	memset(big, 'x', 250);
	big[250] = '\0';
	/* two unread big pongs: over half the 1000-byte cap, held back */
	s_z.send_rc = SL_EFULL;
	s_ping("p1", big);
	s_ping("p1", big);
	assert_true(s_stats(f).queued_bytes > 500);
	/* it reads again; its next ping's pong takes the queue along */
	s_z.send_rc = 0;
	s_ping("p1", "c");
	assert_int_equal(s_stats(f).queued_bytes, 0);
	assert_string_equal(s_z.sent[s_z.n_sent - 1], "c");
	/* the loop's retries and ticks come and go */
	s_z.wake(s_z.user);
	gw_prod_tick(f->prod, 0);
	/* nothing is queued for it any more: its jobs run */
	s_worker_ready(f);
	s_submit("p1", "r1");
	gw_broker_stats(f->broker, &bst);
	assert_int_equal(bst.req.queued, 0);
	assert_int_equal(bst.req.running, 1);
}

/* Silent for longer than the timeout: forgotten on the tick, its
 * unfinished requests cancelled; any frame counts as a sign of life. */
static void
test_prod_a_silent_producer_is_forgotten_and_its_requests_cancelled(
    void **state)
{
	fixture_t *f = *state;
	int64_t t0 = sl_clock_mono_us();
	gw_broker_stats_t bst;

	s_submit("p1", "r1"); /* no worker yet: its job waits */
	s_ping("p2", "alive");
	gw_broker_stats(f->broker, &bst);
	assert_int_equal(bst.req.requests, 1);
	gw_prod_tick(f->prod, t0 + 500000);
	assert_int_equal(gw_prod_count(f->prod), 2);
	gw_prod_tick(f->prod, t0 + 900000);
	assert_int_equal(gw_prod_count(f->prod), 2); /* not yet 1 s */
	gw_prod_tick(f->prod, t0 + 3000000);
	assert_int_equal(gw_prod_count(f->prod), 0); /* both silent */
	gw_broker_stats(f->broker, &bst);
	assert_int_equal(bst.req.requests, 0);
	assert_int_equal(bst.req.queued, 0);
	assert_int_equal(bst.req.cancelled, 1);
	/* it comes back: a new start */
	s_ping("p1", "back");
	assert_int_equal(gw_prod_count(f->prod), 1);
	assert_string_equal(s_z.sent[s_z.n_sent - 1], "back");
}

/* Without a timeout, silence is never held against a producer. */
static void
test_prod_without_timeout_silence_is_kept(void **state)
{
	fixture_t *f = *state;

	s_ping("p1", "a");
	gw_prod_tick(f->prod, sl_clock_mono_us() + 86400000000LL);
	assert_int_equal(gw_prod_count(f->prod), 1);
}

static void
test_prod_a_routing_id_under_another_key_is_a_hijack(void **state)
{
	fixture_t *f = *state;

	s_z.key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	s_ping("p1", "a");
	assert_int_equal(gw_prod_count(f->prod), 1);
	/* another key under p1's routing id: dropped, p1 forgotten */
	s_z.key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf8";
	s_ping("p1", "b");
	assert_int_equal(s_stats(f).hijacks, 1);
	assert_int_equal(gw_prod_count(f->prod), 0);
	assert_int_equal(s_z.n_sent, 1);
	assert_string_equal(s_z.sent[0], "a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_prod_frames_wait_when_zeromq_is_full_and_leave_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_a_producer_past_the_byte_cap_is_cut_and_may_start_afresh,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_a_vanished_producer_is_forgotten_with_its_queue,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_a_held_back_producer_resumes_when_a_send_empties_its_queue,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_a_routing_id_under_another_key_is_a_hijack,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_a_silent_producer_is_forgotten_and_its_requests_cancelled,
		    setup_timeout, teardown),
		cmocka_unit_test_setup_teardown(
		    test_prod_without_timeout_silence_is_kept, setup,
		    teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("prod", tests, NULL, NULL);
}
