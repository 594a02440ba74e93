/*
 * broker_fixture: the broker's tests' shared fixture (see
 * broker_fixture.h).
 */
#include "broker_fixture.h"
#include "sl_batch.h"

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
int
bf_other_send(void *ctx, void *client_user, const gw_out_t *frame)
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
	/* The BATCH announcement after REGISTERED: nothing a test counts
	 * (these workers never answer it, so they get no BATCH of JOBs). */
	if (sl_batch_is(data, len))
		return 0;
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
	sl_proto_msg_init(&m);
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
		sl_proto_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_PING) {
		f->n_jobs--;
		assert_true(f->n_pings < MAX_SENT);
		memcpy(f->ping_rids[f->n_pings], rid, rid_len);
		f->ping_rids[f->n_pings++][rid_len] = '\0';
		sl_proto_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_REGISTERED) {
		f->n_jobs--;
		assert_true(f->n_registered < MAX_SENT);
		snprintf(f->registered[f->n_registered++], 64, "%.*s %.*s",
		    (int) rid_len, (const char *) rid,
		    (int) m.u.registered.worker.len,
		    m.u.registered.worker.ptr);
		sl_proto_msg_clear(&m);
		return 0;
	}
	if (m.type == SL_MSG_PONG) {
		f->n_jobs--;
		assert_true(f->n_pongs < MAX_SENT);
		memcpy(f->pong_rids[f->n_pongs], rid, rid_len);
		f->pong_rids[f->n_pongs++][rid_len] = '\0';
		sl_proto_msg_clear(&m);
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
	sl_proto_msg_clear(&m);
	msgpack_unpacked_destroy(&m.unpacked);
	return 0;
}

const gw_broker_limits_t bf_limits = {
	.max_items = 100,
	.max_requests = 4,
	.max_queued_jobs = 50,
	.max_subscriptions = 2,
};

void
bf_fake_free_records(fake_t *f)
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
void
bf_rebuild(fake_t *f, const gw_broker_limits_t *lim)
{
	s_destroy(f);
	bf_fake_free_records(f);
	assert_int_equal(s_build(f, lim), 0);
}

int
bf_setup(void **state)
{
	fake_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	s_fake = f;
	f->wlim.max_items = 100;
	if (s_build(f, &bf_limits)) {
		s_destroy(f);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int
bf_teardown(void **state)
{
	fake_t *f = *state;

	s_destroy(f);
	bf_fake_free_records(f);
	free(f);
	s_fake = NULL;
	return 0;
}

/* Both timers, as the gateway's tick runs them. */
void
bf_tick(fake_t *f, int64_t now_us)
{
	gw_broker_tick(f->b, now_us);
	gw_workers_tick(f->w, now_us);
}

/* ---- driving the broker ------------------------------------------------- */

void
bf_worker_frame(fake_t *f, const char *rid, msgpack_sbuffer *sb)
{
	gw_workers_on_frame(f->w, (const uint8_t *) rid, strlen(rid), f->key,
	    sb->data, sb->size);
	msgpack_sbuffer_destroy(sb);
}

void
bf_ready_tasks(fake_t *f, const char *rid, uint32_t capacity,
    const char *const *tasks, size_t n)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(
	    sl_proto_encode_ready(&sb, capacity, 100, "test", tasks, n), 0);
	bf_worker_frame(f, rid, &sb);
}

/* READY from a worker that runs only "sum". */
void
bf_ready(fake_t *f, const char *rid, uint32_t capacity)
{
	const char *tasks[] = { "sum" };

	bf_ready_tasks(f, rid, capacity, tasks, 1);
}

/* RESULT ok carrying the JSON value text. */
void
bf_result(fake_t *f, const char *rid, uint64_t job, const char *value)
{
	msgpack_sbuffer sb, v;

	msgpack_sbuffer_init(&v);
	sl_test_pack_json(&v, value);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_ok(&sb, job, v.data, v.size,
	                     &(sl_proto_times_t) { 10, 20, -1, -1 }),
	    0);
	msgpack_sbuffer_destroy(&v);
	bf_worker_frame(f, rid, &sb);
}

void
bf_result_err(fake_t *f, const char *rid, uint64_t job, const char *code,
    const char *message)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_err(&sb, job, code, message,
	                     &(sl_proto_times_t) { 10, 20, -1, -1 }),
	    0);
	bf_worker_frame(f, rid, &sb);
}

void
bf_bye(fake_t *f, const char *rid)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_empty(&sb, SL_MSG_BYE), 0);
	bf_worker_frame(f, rid, &sb);
}

gw_client_t *
bf_client(fake_t *f, int n)
{
	gw_client_t *c = gw_broker_client_new(f->b, &f->users[n]);

	assert_non_null(c);
	return c;
}

/* A client text frame, which must parse, handed to the broker. */
void
bf_send_text(fake_t *f, gw_client_t *c, const char *text)
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
void
bf_submit(fake_t *f, gw_client_t *c, const char *id, const char *task,
    const char *items)
{
	char text[2048];

	snprintf(text, sizeof text,
	    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"%s\",\"items\":%s}",
	    id, task, items);
	bf_send_text(f, c, text);
}

bf_stats_t
bf_stats(fake_t *f)
{
	gw_broker_stats_t b;
	gw_workers_stats_t w;
	const gw_req_stats_t *r = &b.req;
	bf_stats_t st = { 0 };

	gw_broker_stats(f->b, &b);
	gw_workers_stats(f->w, &w);
	st.workers = w.workers;
	st.capacity = w.capacity;
	st.running = r->running;
	st.queued = r->queued;
	st.requests = r->requests;
	st.clients = b.clients;
	st.results = r->results;
	st.stale = r->stale + w.stale;
	st.bad_frames = w.bad_frames;
	st.requeued = r->requeued;
	st.workers_lost = w.workers_lost;
	st.poisoned = r->poisoned;
	st.timeouts = r->timeouts;
	st.unknown_task = r->unknown_task;
	st.cancelled = r->cancelled;
	st.items_ok = r->items_ok;
	st.items_failed = r->items_failed;
	st.accepted = r->accepted;
	st.refused = b.refused;
	st.share_full = b.share_full;
	st.hb_missed = w.hb_missed;
	st.hijacks = w.hijacks;
	st.subscriptions = b.notify.subscriptions;
	st.channels = b.notify.channels;
	st.notified = b.notify.notified;
	st.draining = b.draining;
	st.item_latency = r->item_latency;
	return st;
}

/* With heartbeats: PING every second, dead after three silent seconds. */
static const gw_broker_limits_t s_hb_limits = {
	.max_items = 100,
	.max_requests = 4,
	.max_queued_jobs = 50,
};

/* The broker with s_hb_limits, its workers with heartbeats. */
void
bf_rebuild_hb(fake_t *f)
{
	f->wlim.hb_ivl_us = 1000000;
	f->wlim.hb_liveness = 3;
	bf_rebuild(f, &s_hb_limits);
}

/* A field-less frame from a worker: PING, PONG, DRAIN, BYE. */
void
bf_worker_empty(fake_t *f, const char *rid, sl_msg_type_t type)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_empty(&sb, type), 0);
	bf_worker_frame(f, rid, &sb);
}

void
bf_cancel_req(fake_t *f, gw_client_t *c, const char *id)
{
	char text[256];

	snprintf(text, sizeof text, "{\"type\":\"cancel\",\"id\":\"%s\"}", id);
	bf_send_text(f, c, text);
}

/* submit with "timeout_ms". */
void
bf_submit_timeout(fake_t *f, gw_client_t *c, const char *id, const char *items,
    long timeout_ms)
{
	char text[2048];

	snprintf(text, sizeof text,
	    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"sum\","
	    "\"items\":%s,\"timeout_ms\":%ld}",
	    id, items, timeout_ms);
	bf_send_text(f, c, text);
}

/*
 * Wait until the monotonic clock has passed t, so that whatever the broker
 * does next reads a time strictly later than t. Heartbeat tests bracket
 * the (unknown) instant a worker was last heard with such readings.
 */
void
bf_mono_after(int64_t t)
{
	struct timespec ts = { 0, 1000000 };

	while (sl_clock_mono_us() <= t)
		nanosleep(&ts, NULL);
}

/* CANCEL for job went to worker rid, exactly once. */
void
bf_assert_cancel_sent(fake_t *f, uint64_t job, const char *rid)
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

size_t
bf_pings_to(fake_t *f, const char *rid)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_pings; i++)
		if (!strcmp(f->ping_rids[i], rid))
			n++;
	return n;
}

/* Answer every JOB from index from on (and those that follow), each with
 * its own item as the value. Returns the number of jobs then sent. */
size_t
bf_answer_all(fake_t *f, size_t from)
{
	for (size_t i = from; i < f->n_jobs; i++)
		bf_result(f, f->jobs[i].rid, f->jobs[i].job, f->jobs[i].item);
	return f->n_jobs;
}

/* ---- checking what was sent ----------------------------------------------
 */

json_t *
bf_frame(fake_t *f, size_t i)
{
	if (i >= f->n_frames) {
		print_error(
		    "frame %zu wanted, only %zu sent\n", i, f->n_frames);
		fail();
	}
	return f->frames[i].frame;
}

const char *
bf_fstr(fake_t *f, size_t i, const char *key)
{
	return json_string_value(json_object_get(bf_frame(f, i), key));
}

json_int_t
bf_fint(fake_t *f, size_t i, const char *key)
{
	json_t *v = json_object_get(bf_frame(f, i), key);

	if (!json_is_integer(v)) {
		print_error("frame %zu has no integer \"%s\"\n", i, key);
		fail();
	}
	return json_integer_value(v);
}

/* Frame i has this type and id, and went to client user n. */
void
bf_assert_frame(fake_t *f, size_t i, int n, const char *type, const char *id)
{
	char *text = sl_test_dumps(bf_frame(f, i));

	if (f->frames[i].user != &f->users[n]
	    || strcmp(bf_fstr(f, i, "type") ? bf_fstr(f, i, "type") : "", type)
	    || (id
	        && strcmp(
	            bf_fstr(f, i, "id") ? bf_fstr(f, i, "id") : "", id))) {
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
void
bf_assert_result(fake_t *f, size_t i, int n, const char *id, json_int_t seq,
    const char *value)
{
	char *got;

	bf_assert_frame(f, i, n, "result", id);
	assert_int_equal(bf_fint(f, i, "seq"), seq);
	got = sl_test_dumps(json_object_get(bf_frame(f, i), "value"));
	if (strcmp(got, value)) {
		print_error(
		    "frame %zu value %s, expected %s\n", i, got, value);
		free(got);
		fail();
	}
	free(got);
}

void
bf_assert_done(fake_t *f, size_t i, int n, const char *id, json_int_t ok,
    json_int_t failed)
{
	bf_assert_frame(f, i, n, "done", id);
	assert_int_equal(bf_fint(f, i, "ok"), ok);
	assert_int_equal(bf_fint(f, i, "failed"), failed);
	assert_true(bf_fint(f, i, "elapsed_ms") >= 0);
}

void
bf_assert_error(fake_t *f, size_t i, int n, const char *id, const char *code)
{
	bf_assert_frame(f, i, n, "error", id);
	assert_string_equal(bf_fstr(f, i, "code"), code);
	assert_non_null(bf_fstr(f, i, "message"));
}

/* Job a is job b sent again: the same item under a fresh id, so that a
 * late result of the first attempt cannot pass for the second. */
bool
bf_resent(const fake_t *f, size_t a, size_t b)
{
	return !strcmp(f->jobs[a].item, f->jobs[b].item)
	    && !strcmp(f->jobs[a].task, f->jobs[b].task)
	    && f->jobs[a].job != f->jobs[b].job;
}

void
bf_assert_job(fake_t *f, size_t i, const char *rid, const char *item)
{
	if (i >= f->n_jobs) {
		print_error("JOB %zu wanted, only %zu sent\n", i, f->n_jobs);
		fail();
	}
	assert_string_equal(f->jobs[i].rid, rid);
	assert_string_equal(f->jobs[i].item, item);
}

/* Frame i is an item error for seq with code. */
void
bf_assert_item_error(fake_t *f, size_t i, int n, const char *id,
    json_int_t seq, const char *code)
{
	bf_assert_error(f, i, n, id, code);
	assert_int_equal(bf_fint(f, i, "seq"), seq);
}
