/*
 * test_broker_resume: clients whose connection drops and the resume of
 * their requests (gateway/gw_broker, gw_req, gw_resume): a dropped
 * client's requests go on, a resume on another client takes them over
 * within that client's limits, a client that left on purpose ends them,
 * wrong tokens and floods are refused.
 *
 * Shared fixture: broker_fixture.h (a real broker and gw_workers, a fake
 * transport, gw_zmq wrapped at the link). Single threaded, like the lws
 * service thread.
 */
#include "broker_fixture.h"

/* The fixture's limits, with resume on and one request per client. */
static void
s_resume_on(fake_t *f)
{
	gw_broker_limits_t lim = bf_limits;

	lim.resume_us = 1000000;
	lim.max_resume_bytes = 1 << 20;
	lim.max_requests = 1;
	bf_rebuild(f, &lim);
}

static void
s_resume(fake_t *f, gw_client_t *c, const char *id, const char *tok,
    const char *have)
{
	char text[512];

	snprintf(text, sizeof text,
	    "{\"type\":\"resume\",\"id\":\"%s\",\"token\":\"%s\","
	    "\"have\":%s}",
	    id, tok, have);
	bf_send_text(f, c, text);
}

static gw_broker_stats_t
s_bstats(fake_t *f)
{
	gw_broker_stats_t st;

	gw_broker_stats(f->b, &st);
	return st;
}

static void
test_broker_a_dropped_clients_request_is_resumed_within_limits(void **state)
{
	fake_t *f = *state;
	gw_client_t *c, *c2;
	char tok[64];
	size_t mark;

	s_resume_on(f);
	c = bf_client(f, 0);
	c2 = bf_client(f, 1);
	bf_ready(f, "w1", 2);
	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	snprintf(tok, sizeof tok, "%s", bf_fstr(f, 0, "resume"));
	assert_int_equal(strlen(tok), 32);
	bf_result(f, f->jobs[0].rid, f->jobs[0].job, "1"); /* seq 0 */
	gw_broker_client_drop(f->b, &c);
	f->gone_user = &f->users[0];
	assert_int_equal(f->n_cancels, 0); /* its jobs run on */
	assert_int_equal(s_bstats(f).detached_clients, 1);
	assert_int_equal(s_bstats(f).req.detached, 1);
	/* c2 has a request already: taking r1 over would make two */
	bf_submit(f, c2, "r2", "sum", "[9]");
	mark = f->n_frames;
	s_resume(f, c2, "r1", tok, "[0]");
	bf_assert_error(f, mark, 1, "r1", "too_many_requests");
	bf_cancel_req(f, c2, "r2");
	mark = f->n_frames;
	s_resume(f, c2, "r1", tok, "[0]");
	assert_int_equal(f->n_frames, mark); /* nothing finished but seq 0 */
	bf_answer_all(f, 1);
	bf_assert_done(f, f->n_frames - 1, 1, "r1", 3, 0);
	assert_int_equal(f->n_to_gone, 0);
	bf_tick(f, 0);
	assert_int_equal(s_bstats(f).detached_clients, 0);
	assert_int_equal(s_bstats(f).req.resumed, 1);
}

static void
test_broker_wrong_tokens_and_floods_are_refused(void **state)
{
	fake_t *f = *state;
	gw_client_t *c, *c2;
	char tok[64];
	size_t mark;

	s_resume_on(f);
	c = bf_client(f, 0);
	c2 = bf_client(f, 1);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1]");
	snprintf(tok, sizeof tok, "%s", bf_fstr(f, 0, "resume"));
	mark = f->n_frames;
	s_resume(f, c2, "r1", "00000000000000000000000000000000", "[]");
	s_resume(f, c2, "nosuch", tok, "[]");
	bf_assert_error(f, mark, 1, "r1", "unknown_request");
	bf_assert_error(f, mark + 1, 1, "nosuch", "unknown_request");
	assert_string_equal(
	    bf_fstr(f, mark, "message"), bf_fstr(f, mark + 1, "message"));
	/* 1 request + 16 spare resumes per connection, then refused */
	for (int i = 0; i < 15; i++)
		s_resume(f, c2, "x", "y", "[]");
	mark = f->n_frames;
	s_resume(f, c2, "r1", tok, "[]");
	bf_assert_error(f, mark, 1, "r1", "too_many_resumes");
	assert_int_equal(s_bstats(f).resume_refused, 18);
	/* the owner still has it */
	bf_answer_all(f, 0);
	bf_assert_done(f, f->n_frames - 1, 0, "r1", 1, 0);
}

static void
test_broker_a_client_that_leaves_on_purpose_ends_its_requests(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;

	s_resume_on(f);
	c = bf_client(f, 0);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	gw_broker_client_destroy(f->b, &c);
	assert_int_equal(f->n_cancels, 1);
	assert_int_equal(s_bstats(f).detached_clients, 0);
	assert_int_equal(bf_stats(f).requests, 0);
}

static void
test_broker_nobody_resumes_and_the_detached_client_goes(void **state)
{
	fake_t *f = *state;
	gw_client_t *c;

	s_resume_on(f);
	c = bf_client(f, 0);
	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	gw_broker_client_drop(f->b, &c);
	bf_tick(f, sl_clock_mono_us() + 2000000);
	assert_int_equal(f->n_cancels, 1);
	assert_int_equal(s_bstats(f).detached_clients, 0);
	assert_int_equal(s_bstats(f).req.resume_expired, 1);
	assert_int_equal(bf_stats(f).requests, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_a_dropped_clients_request_is_resumed_within_limits,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_wrong_tokens_and_floods_are_refused, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_a_client_that_leaves_on_purpose_ends_its_requests,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_nobody_resumes_and_the_detached_client_goes,
		    bf_setup, bf_teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("broker_resume", tests, NULL, NULL);
}
