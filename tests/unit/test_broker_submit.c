/*
 * test_broker_submit: accepting requests, dispatching their jobs with
 * credit, forwarding results, taking turns, and refusing what is over a
 * limit (gateway/gw_broker, gw_req).
 *
 * Shared fixture: broker_fixture.h (a real broker and gw_workers, a fake
 * transport, gw_zmq wrapped at the link). Single threaded, like the lws
 * service thread.
 */
#include "broker_fixture.h"

static void
test_broker_submit_with_zero_workers_is_accepted_and_queued(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	assert_int_equal(f->n_frames, 1);
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	assert_int_equal(bf_fint(f, 0, "items"), 3);
	assert_int_equal(bf_fint(f, 0, "workers"), 0);
	assert_int_equal(f->n_jobs, 0);
	st = bf_stats(f);
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
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_submit(f, c, "r1", "sum", "[10,11,12,13,14]");
	bf_ready(f, "w1", 2);
	assert_int_equal(f->n_jobs, 2);
	bf_assert_job(f, 0, "w1", "10");
	bf_assert_job(f, 1, "w1", "11");
	assert_string_equal(f->jobs[0].task, "sum");
	assert_true(f->jobs[0].job != f->jobs[1].job);
	st = bf_stats(f);
	assert_int_equal(st.workers, 1);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 3);
	/* nothing that is not a RESULT frees credit */
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	bf_submit(f, c, "r2", "sum", "[20]");
	assert_int_equal(f->n_jobs, 2);
}

static void
test_broker_a_result_returns_credit_and_the_next_job_follows(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_submit(f, c, "r1", "sum", "[10,11,12,13,14]");
	bf_ready(f, "w1", 2);
	bf_result(f, "w1", f->jobs[0].job, "100");
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 2, "w1", "12");
	bf_assert_result(f, 1, 0, "r1", 0, "100");
	st = bf_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.results, 1);
}

static void
test_broker_jobs_go_to_the_worker_with_most_free_credit(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "small", 1);
	bf_ready(f, "big", 3);
	bf_submit(f, c, "r1", "sum", "[1,2,3,4]");
	/* big 3 free > small 1; then 2 > 1; then 1 = 1 (first registered
	 * wins a tie); never more than either capacity */
	assert_int_equal(f->n_jobs, 4);
	bf_assert_job(f, 0, "big", "1");
	bf_assert_job(f, 1, "big", "2");
	assert_string_equal(f->jobs[2].rid, "small");
	assert_string_equal(f->jobs[3].rid, "big");
	assert_int_equal(bf_stats(f).running, 4);
	assert_int_equal(bf_fint(f, 0, "workers"), 2);
}

static void
test_broker_results_are_forwarded_in_arrival_order_with_their_seq(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 4);
	bf_submit(f, c, "r1", "sum", "[\"a\",\"b\",\"c\"]");
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 0, "w1", "\"a\"");
	bf_assert_job(f, 2, "w1", "\"c\"");
	bf_result(f, "w1", f->jobs[2].job, "\"C\"");
	bf_result(f, "w1", f->jobs[0].job, "{\"v\":[\"A\"]}");
	bf_result(f, "w1", f->jobs[1].job, "\"B\"");
	assert_int_equal(f->n_frames, 5);
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	assert_int_equal(bf_fint(f, 0, "workers"), 1);
	bf_assert_result(f, 1, 0, "r1", 2, "\"C\"");
	bf_assert_result(f, 2, 0, "r1", 0, "{\"v\":[\"A\"]}");
	bf_assert_result(f, 3, 0, "r1", 1, "\"B\"");
	bf_assert_done(f, 4, 0, "r1", 3, 0);
	st = bf_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.results, 3);
}

static void
test_broker_item_error_is_forwarded_with_seq_and_code(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 3);
	bf_submit(f, c, "r1", "sum", "[1,\"x\",3]");
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_result_err(
	    f, "w1", f->jobs[1].job, "bad_item", "item must be an integer");
	bf_result(f, "w1", f->jobs[2].job, "3");
	assert_int_equal(f->n_frames, 5);
	bf_assert_result(f, 1, 0, "r1", 0, "1");
	bf_assert_error(f, 2, 0, "r1", "bad_item");
	assert_int_equal(bf_fint(f, 2, "seq"), 1);
	assert_string_equal(
	    bf_fstr(f, 2, "message"), "item must be an integer");
	bf_assert_result(f, 3, 0, "r1", 2, "3");
	bf_assert_done(f, 4, 0, "r1", 2, 1);
	assert_int_equal(bf_stats(f).results, 3);
}

static void
test_broker_worker_error_text_reaches_clients_as_utf8(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	/* a message cut inside a character, from a careless worker */
	bf_result_err(f, "w1", f->jobs[0].job, "bad\xffitem", "caf\xc3");
	/* the frame exists (it would not encode as JSON otherwise) */
	bf_assert_error(f, 1, 0, "r1", "bad?item");
	assert_string_equal(bf_fstr(f, 1, "message"), "caf?");
	bf_assert_done(f, 2, 0, "r1", 0, 1);
}

static void
test_broker_value_without_json_form_becomes_a_bad_result_error(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	msgpack_sbuffer sb;

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_proto_encode_result_ok(&sb, f->jobs[0].job,
	                     B("\xcb\x7f\xf8\0\0\0\0\0\0"),
	                     &(sl_proto_times_t) { 1, 2, -1, -1 }),
	    0); /* NaN */
	bf_worker_frame(f, "w1", &sb);
	assert_int_equal(f->n_frames, 3);
	bf_assert_error(f, 1, 0, "r1", "bad_result");
	assert_int_equal(bf_fint(f, 1, "seq"), 0);
	bf_assert_done(f, 2, 0, "r1", 0, 1);
}

/*
 * The echo task sends back what it got: an item "" must come back as "".
 * (msgpack-c may give a zero-length str a NULL ptr; see test_json.)
 */
static void
test_broker_empty_string_value_reaches_the_client(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[\"\"]");
	bf_result(f, "w1", f->jobs[0].job, "\"\"");
	assert_int_equal(f->n_frames, 3);
	bf_assert_result(f, 1, 0, "r1", 0, "\"\"");
	bf_assert_done(f, 2, 0, "r1", 1, 0);
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
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	bf_result_err(f, "w1", f->jobs[0].job, "task_failed", "");
	assert_int_equal(bf_stats(f).bad_frames, 0);
	assert_int_equal(f->n_frames, 3);
	bf_assert_error(f, 1, 0, "r1", "task_failed");
	bf_assert_done(f, 2, 0, "r1", 0, 1);
}

static void
test_broker_requests_take_turns_round_robin(void **state)
{
	fake_t *f = *state;
	gw_client_t *ca = bf_client(f, 0);
	gw_client_t *cb = bf_client(f, 1);
	char order[32] = "";
	size_t done = 0;

	bf_submit(f, ca, "A", "sum",
	    "[\"a0\",\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\","
	    "\"a8\",\"a9\"]");
	bf_submit(f, cb, "B", "sum", "[\"b0\",\"b1\",\"b2\"]");
	bf_ready(f, "w1", 1);
	/* one job at a time: answer each, note whose it was */
	while (done < f->n_jobs) {
		sent_job_t *j = &f->jobs[done++];

		assert_true(strlen(order) < sizeof order - 1);
		strncat(order, j->item + 1, 2); /* "a3" from "\"a3\"" */
		bf_result(f, "w1", j->job, j->item);
		assert_true(f->n_jobs <= done + 1); /* credit 1 */
	}
	assert_string_equal(order, "a0b0a1b1a2b2a3a4a5a6a7a8a9");
	/* every frame went to the client that asked */
	for (size_t i = 0; i < f->n_frames; i++) {
		const char *id = bf_fstr(f, i, "id");

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
	gw_client_t *ws = bf_client(f, 0);
	gw_client_t *prod
	    = gw_broker_client_new_on(f->b, bf_other_send, f, &f->users[1]);
	char order[64] = "";
	size_t done = 0;

	assert_non_null(prod);
	bf_submit(f, prod, "P", "sum",
	    "[\"p0\",\"p1\",\"p2\",\"p3\",\"p4\",\"p5\",\"p6\",\"p7\"]");
	bf_submit(f, ws, "W", "sum", "[\"w0\",\"w1\"]");
	bf_ready(f, "w1", 1);
	while (done < f->n_jobs) {
		sent_job_t *j = &f->jobs[done++];

		assert_true(strlen(order) < sizeof order - 2);
		strncat(order, j->item + 1, 2);
		bf_result(f, "w1", j->job, j->item);
	}
	/* the browser's 2 items do not wait behind the producer's 8 */
	assert_string_equal(order, "p0w0p1w1p2p3p4p5p6p7");
	assert_int_equal(f->n_frames, 2 + 10 + 2);
	for (size_t i = 0; i < f->n_frames; i++) {
		bool is_p = !strcmp(bf_fstr(f, i, "id"), "P");

		assert_ptr_equal(f->frames[i].user, &f->users[is_p ? 1 : 0]);
		assert_int_equal(f->frames[i].other, is_p);
	}
	gw_broker_client_destroy(f->b, &prod);
	assert_null(prod);
	assert_int_equal(bf_stats(f).clients, 1);
}

static void
test_broker_request_whose_task_no_worker_runs_does_not_block_others(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	/* no workers yet: any task is queued */
	bf_submit(f, c, "r1", "burn", "[1,2]");
	bf_submit(f, c, "r2", "sum", "[3,4]");
	bf_ready(f, "w1", 4); /* runs sum only */
	assert_int_equal(f->n_jobs, 2);
	bf_assert_job(f, 0, "w1", "3");
	bf_assert_job(f, 1, "w1", "4");
	st = bf_stats(f);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.running, 2);
	{
		const char *tasks[] = { "echo", "burn" };

		bf_ready_tasks(f, "w2", 1, tasks, 2);
	}
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 2, "w2", "1");
	assert_string_equal(f->jobs[2].task, "burn");
}

static void
test_broker_unknown_task_is_refused_when_workers_run_other_tasks(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	const char *tasks[] = { "sum", "echo" };
	bf_stats_t st;

	bf_ready_tasks(f, "w1", 2, tasks, 2);
	bf_submit(f, c, "r1", "burn", "[1]");
	assert_int_equal(f->n_frames, 1);
	bf_assert_error(f, 0, 0, "r1", "unknown_task");
	assert_null(json_object_get(bf_frame(f, 0), "seq"));
	st = bf_stats(f);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(f->n_jobs, 0);
	bf_submit(f, c, "r1", "echo", "[1]"); /* the id is free again */
	bf_assert_frame(f, 1, 0, "accepted", "r1");
	assert_int_equal(f->n_jobs, 1);
}

/* Queued items of a task no worker runs end as unknown_task after
 * unknown_task_us: with no worker at all, with workers of other tasks only,
 * and after the last worker of the task left. */
static void
test_broker_items_no_worker_runs_end_as_unknown_task_in_time(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	const char *tasks[] = { "echo" };
	gw_client_t *c;
	int64_t t0;

	lim.unknown_task_us = 1000000;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	t0 = sl_clock_mono_us();
	bf_submit(f, c, "r1", "sum", "[1,2]"); /* no worker yet: accepted */
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	bf_ready_tasks(f, "w0", 1, tasks, 1); /* runs echo only */
	bf_tick(f, t0 + 500000);
	assert_int_equal(f->n_frames, 1); /* still in time */
	bf_tick(f, sl_clock_mono_us() + 1000001);
	assert_int_equal(f->n_frames, 4);
	bf_assert_item_error(f, 1, 0, "r1", 0, "unknown_task");
	bf_assert_item_error(f, 2, 0, "r1", 1, "unknown_task");
	bf_assert_done(f, 3, 0, "r1", 0, 2);
	assert_int_equal(bf_stats(f).unknown_task, 2);
	assert_int_equal(bf_stats(f).queued, 0);
	assert_int_equal(bf_stats(f).requests, 0);
	/* its worker leaves holding an item: the others wait for the next
	 * one from then on, and end in time when none comes */
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r2", "sum", "[3,4]");
	assert_int_equal(f->n_jobs, 1);
	bf_bye(f, "w1");
	t0 = sl_clock_mono_us();
	bf_tick(f, t0);
	bf_tick(f, t0 + 900000);
	assert_int_equal(bf_stats(f).queued, 2);
	bf_tick(f, t0 + 1000000);
	assert_int_equal(bf_stats(f).queued, 0);
	assert_int_equal(bf_stats(f).unknown_task, 4);
	assert_int_equal(bf_stats(f).requests, 0);
}

/* A worker with the task that arrives in time runs the items; 0 waits
 * forever. */
static void
test_broker_worker_arriving_in_time_runs_items_of_a_new_task(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	gw_client_t *c;
	int64_t t0;

	lim.unknown_task_us = 1000000;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	t0 = sl_clock_mono_us();
	bf_submit(f, c, "r1", "sum", "[1,2]");
	bf_tick(f, t0 + 900000);
	bf_ready(f, "w1", 1); /* runs sum */
	assert_int_equal(f->n_jobs, 1);
	bf_tick(f, t0 + 5000000); /* one still queued: served */
	assert_int_equal(bf_stats(f).unknown_task, 0);
	bf_answer_all(f, 0);
	bf_assert_done(f, f->n_frames - 1, 0, "r1", 2, 0);
	lim.unknown_task_us = 0;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	bf_submit(f, c, "r2", "sum", "[1]");
	bf_tick(f, sl_clock_mono_us() + 3600 * 1000000LL);
	assert_int_equal(bf_stats(f).queued, 1);
	assert_int_equal(bf_stats(f).unknown_task, 0);
}

static void
test_broker_duplicate_id_is_refused_while_the_first_runs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	gw_client_t *other = bf_client(f, 1);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	bf_submit(f, c, "r1", "sum", "[2]");
	bf_assert_error(f, 1, 0, "r1", "duplicate_id");
	assert_int_equal(bf_stats(f).requests, 1);
	/* ids are per connection */
	bf_submit(f, other, "r1", "sum", "[3]");
	bf_assert_frame(f, 2, 1, "accepted", "r1");
	/* once done, the id may be used again */
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_assert_done(f, 4, 0, "r1", 1, 0);
	bf_submit(f, c, "r1", "sum", "[4]");
	bf_assert_frame(f, 5, 0, "accepted", "r1");
}

static void
test_broker_too_many_requests_per_client_are_refused(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	gw_client_t *c, *other;

	lim.max_requests = 2;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	other = bf_client(f, 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	bf_submit(f, c, "r2", "sum", "[1]");
	bf_submit(f, c, "r3", "sum", "[1]");
	bf_assert_error(f, 2, 0, "r3", "too_many_requests");
	assert_int_equal(bf_stats(f).requests, 2);
	assert_int_equal(bf_stats(f).queued, 2);
	bf_submit(f, other, "r3", "sum", "[1]"); /* the limit is per client */
	bf_assert_frame(f, 3, 1, "accepted", "r3");
}

static void
test_broker_queue_full_is_refused_and_counts_only_waiting_jobs(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	gw_client_t *c;

	lim.max_queued_jobs = 5;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	bf_submit(f, c, "r2", "sum", "[1,2,3]");
	bf_assert_error(f, 1, 0, "r2", "queue_full");
	bf_submit(f, c, "r3", "sum", "[1,2]"); /* exactly fills it */
	bf_assert_frame(f, 2, 0, "accepted", "r3");
	assert_int_equal(bf_stats(f).queued, 5);
	/* a worker takes three: three places are free again */
	bf_ready(f, "w1", 3);
	assert_int_equal(bf_stats(f).queued, 2);
	bf_submit(f, c, "r4", "sum", "[1,2,3]");
	bf_assert_frame(f, 3, 0, "accepted", "r4");
	bf_submit(f, c, "r5", "sum", "[1]");
	bf_assert_error(f, 4, 0, "r5", "queue_full");
}

/* One client's unfinished jobs (queued or running) stop at
 * max_client_jobs; another client still gets in, and the share frees up
 * as items end. */
static void
test_broker_one_client_cannot_take_the_whole_queue(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	gw_client_t *a, *b;

	lim.max_queued_jobs = 10;
	lim.max_client_jobs = 4;
	bf_rebuild(f, &lim);
	a = bf_client(f, 0);
	b = bf_client(f, 1);
	bf_submit(f, a, "r1", "sum", "[1,2,3]");
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	bf_submit(f, a, "r2", "sum", "[1,2]");
	bf_assert_error(f, 1, 0, "r2", "queue_full");
	assert_non_null(
	    strstr(bf_fstr(f, 1, "message"), "connection's share"));
	assert_int_equal(bf_stats(f).share_full, 1);
	bf_submit(f, b, "r1", "sum", "[1,2,3,4]");
	bf_assert_frame(f, 2, 1, "accepted", "r1");
	/* Running jobs still count; a result frees one place. */
	bf_ready(f, "w1", 1);
	bf_submit(f, a, "r3", "sum", "[1,2]");
	bf_assert_error(f, 3, 0, "r3", "queue_full");
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_submit(f, a, "r4", "sum", "[1]");
	bf_assert_frame(f, f->n_frames - 1, 0, "accepted", "r4");
}

/* Clients given the same key (one token's connections) share one quota;
 * it outlives a client that leaves, and comes back as its items go. */
static void
test_broker_clients_of_one_key_share_their_quota(void **state)
{
	fake_t *f = *state;
	gw_broker_limits_t lim = bf_limits;
	const uint8_t key[] = "token-a", other[] = "token-b";
	gw_client_t *a1, *a2, *b;

	lim.max_client_jobs = 4;
	bf_rebuild(f, &lim);
	a1 = bf_client(f, 0);
	a2 = bf_client(f, 1);
	b = bf_client(f, 2);
	assert_int_equal(gw_broker_client_share(f->b, a1, key, sizeof key), 0);
	assert_int_equal(gw_broker_client_share(f->b, a2, key, sizeof key), 0);
	assert_int_equal(
	    gw_broker_client_share(f->b, b, other, sizeof other), 0);
	assert_int_equal(
	    gw_broker_client_share(f->b, b, other, sizeof other), SL_EINVAL);
	bf_submit(f, a1, "r1", "sum", "[1,2,3]");
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	bf_submit(f, a2, "r1", "sum", "[1,2]");
	bf_assert_error(f, 1, 1, "r1", "queue_full");
	assert_non_null(strstr(bf_fstr(f, 1, "message"), "token's share"));
	bf_submit(f, b, "r1", "sum", "[1,2,3,4]");
	bf_assert_frame(f, 2, 2, "accepted", "r1");
	/* a1 leaves: its items are dropped, a2 gets the whole quota. */
	gw_broker_client_destroy(f->b, &a1);
	bf_submit(f, a2, "r2", "sum", "[1,2,3,4]");
	bf_assert_frame(f, f->n_frames - 1, 1, "accepted", "r2");
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
	gw_client_t *c = bf_client(f, 0);
	char items[128] = "[1,2,";
	char text[256];
	bf_stats_t st;
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
	bf_assert_error(f, 0, 0, "r1", "bad_item");
	st = bf_stats(f);
	assert_int_equal(st.requests, 0);
	if (st.queued != 0) {
		print_error("stats.queued is %zu after a refused submit, "
		            "expected 0\n",
		    st.queued);
		fail();
	}
	/* and the queue still has room for one item */
	bf_submit(f, c, "r2", "sum", "[1]");
	bf_assert_frame(f, 1, 0, "accepted", "r2");
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
	gw_broker_limits_t lim = bf_limits;
	gw_client_t *c;
	const char *msg;
	char items[128];

	lim.max_item_bytes = 32;
	bf_rebuild(f, &lim);
	c = bf_client(f, 0);
	/* item 1 packs to 1 + 31 = 32 bytes, item 2 to 2 + 32 = 34 */
	snprintf(items, sizeof items, "[1,\"%s\",\"%s\"]",
	    "abcdefghijklmnopqrstuvwxyz01234",
	    "abcdefghijklmnopqrstuvwxyz01234x");
	bf_submit(f, c, "r1", "sum", items);
	assert_int_equal(f->n_frames, 1);
	bf_assert_error(f, 0, 0, "r1", "item_too_large");
	msg = bf_fstr(f, 0, "message");
	if (!strstr(msg, "item 2") || !strstr(msg, "limit is 32")) {
		print_error(
		    "message does not name item 2 and the limit: %s\n", msg);
		fail();
	}
	assert_int_equal(bf_stats(f).queued, 0);
	assert_int_equal(bf_stats(f).requests, 0);
	/* 31 characters: exactly 32 bytes packed */
	bf_submit(f, c, "r2", "sum", "[\"abcdefghijklmnopqrstuvwxyz01234\"]");
	bf_assert_frame(f, 1, 0, "accepted", "r2");
}

static void
test_broker_item_at_max_depth_is_accepted(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	char items[128] = "[";
	char item[64] = "";

	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH; i++)
		strcat(item, "[");
	for (int i = 0; i < SL_PROTO_MAX_ITEM_DEPTH; i++)
		strcat(item, "]");
	strcat(items, item);
	strcat(items, "]");
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", items);
	bf_assert_frame(f, 0, 0, "accepted", "r1");
	/* and the worker can decode the JOB it gets (__wrap_gw_zmq_send) */
	bf_assert_job(f, 0, "w1", item);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_submit_with_zero_workers_is_accepted_and_queued,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ready_with_capacity_two_gets_exactly_two_jobs,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_result_returns_credit_and_the_next_job_follows,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_jobs_go_to_the_worker_with_most_free_credit,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_results_are_forwarded_in_arrival_order_with_their_seq,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_error_is_forwarded_with_seq_and_code,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_error_text_reaches_clients_as_utf8,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_value_without_json_form_becomes_a_bad_result_error,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_empty_string_value_reaches_the_client,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_error_without_message_still_finishes_the_request,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_requests_take_turns_round_robin, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_clients_of_two_transports_share_workers_round_robin,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_request_whose_task_no_worker_runs_does_not_block_others,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_unknown_task_is_refused_when_workers_run_other_tasks,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_items_no_worker_runs_end_as_unknown_task_in_time,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_worker_arriving_in_time_runs_items_of_a_new_task,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_duplicate_id_is_refused_while_the_first_runs,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_too_many_requests_per_client_are_refused,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_queue_full_is_refused_and_counts_only_waiting_jobs,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_one_client_cannot_take_the_whole_queue,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_clients_of_one_key_share_their_quota, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_bad_item_is_refused_and_leaves_the_counters_as_they_were,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_over_max_item_bytes_is_refused_with_its_index,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_item_at_max_depth_is_accepted, bf_setup,
		    bf_teardown),
	};

	/* Every log line is formatted (DEBUG), so its arguments are checked
	 * under the sanitizers too; ctest keeps the output. */
	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("broker_submit", tests, NULL, NULL);
}
