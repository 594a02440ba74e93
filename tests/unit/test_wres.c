/*
 * test_wres: a worker's RESULT, PARTIAL and PROGRESS checked at the edge
 * (gateway/gw_wres), from frames decoded by sl_proto as the gateway
 * receives them.
 */
#include "sl_test.h" /* std headers, then <cmocka.h> */
#include "gw_wres.h"
#include "sl_err.h"

typedef struct fixture {
	msgpack_sbuffer sb;
	sl_msg_t m;
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	msgpack_sbuffer_init(&f->sb);
	sl_proto_msg_init(&f->m);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	sl_proto_msg_clear(&f->m);
	msgpack_sbuffer_destroy(&f->sb);
	free(f);
	return 0;
}

/* Decode the frame given as JSON text into f->m. */
static void
s_decode(fixture_t *f, const char *json)
{
	msgpack_sbuffer_clear(&f->sb);
	sl_test_pack_json(&f->sb, json);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
}

/* A value with a JSON form passes; an error's texts pass cleaned. */
static void
test_wres_result_passes_good_values_and_cleans_texts(void **state)
{
	fixture_t *f = *state;
	gw_workers_result_t res;
	gw_wres_text_t t;

	s_decode(f, "[1,\"RESULT\",{\"job\":1,\"ok\":true,\"value\":[1,2]}]");
	gw_wres_result(&f->m.u.result, &res, &t);
	assert_true(res.ok);
	assert_ptr_equal(res.value, f->m.u.result.value);
	assert_false(res.restart);
	s_decode(f, "[1,\"RESULT\",{\"job\":1,\"ok\":false,\"code\":\"x\"}]");
	gw_wres_result(&f->m.u.result, &res, &t);
	assert_false(res.ok);
	assert_string_equal(res.code, "x");
	assert_string_equal(res.message, "");
}

/* The next index with a JSON value passes; a gap, a repeat or a value
 * without JSON form (a map with a non-string key) is a bad_result. */
static void
test_wres_partial_must_be_the_next_one_with_a_json_form(void **state)
{
	fixture_t *f = *state;
	gw_workers_result_t res;
	gw_wres_text_t t;

	s_decode(f, "[1,\"PARTIAL\",{\"job\":1,\"index\":3,\"value\":\"v\"}]");
	assert_int_equal(gw_wres_partial(&f->m.u.partial, 3, &res, &t), 0);
	assert_int_equal(
	    gw_wres_partial(&f->m.u.partial, 4, &res, &t), SL_EPROTO);
	assert_false(res.ok);
	assert_string_equal(res.code, "bad_result");
	assert_non_null(strstr(res.message, "out of order"));
	assert_int_equal(
	    gw_wres_partial(&f->m.u.partial, 2, &res, &t), SL_EPROTO);
	/* {1: 2} as the value: an integer key has no JSON form */
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(
	    sl_proto_encode_partial(&f->sb, 1, 0, "\x81\x01\x02", 3), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(
	    gw_wres_partial(&f->m.u.partial, 0, &res, &t), SL_EPROTO);
	assert_string_equal(res.code, "bad_result");
	assert_non_null(strstr(res.message, "JSON"));
}

/* A progress text comes up as UTF-8, or NULL when there is none. */
static void
test_wres_progress_text_is_utf8_or_null(void **state)
{
	fixture_t *f = *state;
	char buf[SL_PROTO_MAX_PROGRESS_TEXT + 1];

	s_decode(f, "[1,\"PROGRESS\",{\"job\":1,\"progress\":0.5}]");
	assert_null(gw_wres_progress_text(&f->m.u.progress, buf));
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_progress(&f->sb, 1, 0.5,
	                     "a\xff"
	                     "b"),
	    0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_string_equal(
	    gw_wres_progress_text(&f->m.u.progress, buf), "a?b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_wres_result_passes_good_values_and_cleans_texts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wres_partial_must_be_the_next_one_with_a_json_form,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wres_progress_text_is_utf8_or_null, setup, teardown),
	};

	return cmocka_run_group_tests_name("wres", tests, NULL, NULL);
}
