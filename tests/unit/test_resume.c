/*
 * test_resume: resume tokens and the logs of finished items
 * (gateway/gw_resume): tokens are 128 random bits compared in constant
 * time, a log replays what the client lacks and only that, and all logs
 * stay within their byte budget.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_resume.h"
#include "sl_log.h"

#define MAX_GOT 16

typedef struct got {
	gw_out_type_t type[MAX_GOT];
	uint32_t seq[MAX_GOT];
	uint64_t value[MAX_GOT];
	char code[MAX_GOT][16];
	bool timing[MAX_GOT];
	gw_out_timing_t tm[MAX_GOT];
	size_t n;
} got_t;

static int
s_record(void *ctx, const gw_out_t *f)
{
	got_t *g = ctx;

	assert_true(g->n < MAX_GOT);
	assert_string_equal(f->id, "r1");
	g->type[g->n] = f->type;
	g->seq[g->n] = f->seq;
	g->timing[g->n] = f->timing;
	g->tm[g->n] = f->tm;
	if (f->type == GW_OUT_RESULT)
		g->value[g->n] = f->value.mp->via.u64;
	else
		snprintf(g->code[g->n], sizeof g->code[0], "%s", f->code);
	g->n++;
	return 0;
}

static gw_out_t
s_result(uint32_t seq, const msgpack_object *v)
{
	return (gw_out_t) {
		.type = GW_OUT_RESULT, .id = "r1", .seq = seq, .value.mp = v
	};
}

static void
test_resume_tokens_are_128_random_bits_in_hex(void **state)
{
	gw_resume_budget_t b = { .max = 1 << 20 };
	gw_resume_t *x, *y;
	int rc;

	(void) state;
	x = gw_resume_new(4, &rc);
	y = gw_resume_new(4, &rc);
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(strlen(gw_resume_token(x)), GW_RESUME_TOKEN_LEN);
	assert_int_equal(strspn(gw_resume_token(x), "0123456789abcdef"),
	    GW_RESUME_TOKEN_LEN);
	assert_string_not_equal(gw_resume_token(x), gw_resume_token(y));
	assert_true(
	    gw_resume_token_eq(x, gw_resume_token(x), GW_RESUME_TOKEN_LEN));
	assert_false(
	    gw_resume_token_eq(x, gw_resume_token(y), GW_RESUME_TOKEN_LEN));
	/* a prefix, a longer string, nothing at all */
	assert_false(gw_resume_token_eq(
	    x, gw_resume_token(x), GW_RESUME_TOKEN_LEN - 1));
	assert_false(gw_resume_token_eq(x, "", 0));
	assert_false(
	    gw_resume_token_eq(NULL, gw_resume_token(x), GW_RESUME_TOKEN_LEN));
	assert_false(gw_resume_token_eq(
	    NULL, "00000000000000000000000000000000", GW_RESUME_TOKEN_LEN));
	gw_resume_destroy(&x, &b);
	gw_resume_destroy(&y, &b);
	assert_null(x);
	gw_resume_destroy(&x, &b); /* NULL-safe */
}

static void
test_resume_replays_what_the_client_lacks_in_order(void **state)
{
	gw_resume_budget_t b = { .max = 1 << 20 };
	msgpack_object v7
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 7 };
	gw_out_t err = { .type = GW_OUT_ITEM_ERROR,
		.id = "r1",
		.seq = 1,
		.code = "boom",
		.message = "it broke" };
	uint32_t have[] = { 99, 2 }; /* 99: not an item's, harmless */
	got_t g = { 0 };
	gw_resume_t *rs;
	gw_out_t f;
	int rc;

	(void) state;
	rs = gw_resume_new(4, &rc);
	f = s_result(2, &v7);
	assert_true(gw_resume_on_item(rs, &b, &f, false));
	assert_true(gw_resume_on_item(rs, &b, &err, false));
	f = s_result(0, &v7);
	assert_true(gw_resume_on_item(rs, &b, &f, false));
	assert_int_equal(gw_resume_count(rs), 3);
	assert_true(b.used > 0);
	assert_int_equal(gw_resume_take(rs, have, 2, "r1", s_record, &g), 2);
	assert_int_equal(g.type[0], GW_OUT_ITEM_ERROR);
	assert_int_equal(g.seq[0], 1);
	assert_string_equal(g.code[0], "boom");
	assert_int_equal(g.type[1], GW_OUT_RESULT);
	assert_int_equal(g.seq[1], 0);
	assert_int_equal(g.value[1], 7);
	/* after the resume, an item the client holds is not sent again */
	f = s_result(2, &v7);
	assert_false(gw_resume_on_item(rs, &b, &f, false));
	f = s_result(3, &v7);
	assert_true(gw_resume_on_item(rs, &b, &f, false));
	gw_resume_destroy(&rs, &b);
	assert_int_equal(b.used, 0);
}

/* A replayed item says where its time went as it did the first time. */
static void
test_resume_replays_timing_as_sent(void **state)
{
	gw_resume_budget_t b = { .max = 1 << 20 };
	msgpack_object v7
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 7 };
	gw_out_timing_t tm = { 1, 2, 3, -1, 5, 2, "w7" };
	gw_out_t f = s_result(0, &v7);
	gw_out_t err = { .type = GW_OUT_ITEM_ERROR,
		.id = "r1",
		.seq = 1,
		.code = "boom",
		.message = "m",
		.timing = true,
		.tm = tm };
	got_t g = { 0 };
	gw_resume_t *rs;
	int rc;

	(void) state;
	rs = gw_resume_new(2, &rc);
	f.timing = true;
	f.tm = tm;
	f.tm.start_us = 4;
	assert_true(gw_resume_on_item(rs, &b, &f, false));
	assert_true(gw_resume_on_item(rs, &b, &err, false));
	assert_int_equal(gw_resume_take(rs, NULL, 0, "r1", s_record, &g), 2);
	assert_true(g.timing[0] && g.timing[1]);
	assert_int_equal(g.tm[0].start_us, 4);
	assert_int_equal(g.tm[1].start_us, -1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(g.tm[i].t_done_us, 1);
		assert_int_equal(g.tm[i].cpu_us, 2);
		assert_int_equal(g.tm[i].queue_us, 3);
		assert_int_equal(g.tm[i].run_us, 5);
		assert_int_equal(g.tm[i].attempts, 2);
		assert_string_equal(g.tm[i].worker, "w7");
	}
	gw_resume_destroy(&rs, &b);
}

static void
test_resume_over_the_budget_the_token_is_worthless(void **state)
{
	gw_resume_budget_t b = { .max = 200 }; /* about two records */
	msgpack_object v
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	gw_resume_t *rs;
	gw_out_t f;
	char tok[GW_RESUME_TOKEN_LEN + 1];
	int rc;

	(void) state;
	rs = gw_resume_new(8, &rc);
	snprintf(tok, sizeof tok, "%s", gw_resume_token(rs));
	for (uint32_t i = 0; i < 8; i++) {
		f = s_result(i, &v);
		assert_true(gw_resume_on_item(rs, &b, &f, false));
	}
	assert_int_equal(b.full, 1);
	assert_false(gw_resume_ok(rs));
	assert_false(gw_resume_token_eq(rs, tok, GW_RESUME_TOKEN_LEN));
	assert_int_equal(b.used, 0); /* the log went */
	gw_resume_destroy(&rs, &b);
}

static void
test_resume_detached_over_the_budget_is_doomed(void **state)
{
	gw_resume_budget_t b = { .max = 200 };
	msgpack_object v
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	gw_resume_t *rs;
	gw_out_t f;
	int rc;

	(void) state;
	rs = gw_resume_new(8, &rc);
	gw_resume_detach(rs, 1000);
	assert_false(gw_resume_expired(rs, 1500, 1000));
	assert_true(gw_resume_expired(rs, 2000, 1000));
	for (uint32_t i = 0; i < 8; i++) {
		f = s_result(i, &v);
		gw_resume_on_item(rs, &b, &f, true);
	}
	assert_int_equal(b.full, 1);
	assert_true(gw_resume_expired(rs, 1001, 1000000));
	assert_true(b.used <= b.max);
	gw_resume_destroy(&rs, &b);
	assert_int_equal(b.used, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_resume_tokens_are_128_random_bits_in_hex),
		cmocka_unit_test(
		    test_resume_replays_what_the_client_lacks_in_order),
		cmocka_unit_test(test_resume_replays_timing_as_sent),
		cmocka_unit_test(
		    test_resume_over_the_budget_the_token_is_worthless),
		cmocka_unit_test(
		    test_resume_detached_over_the_budget_is_doomed),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("resume", tests, NULL, NULL);
}
