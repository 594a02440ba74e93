/*
 * test_trace: W3C traceparent values checked and made (common/sl_trace).
 * Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_trace.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void
test_trace_accepts_version_00_values(void **state)
{
	static const char *const rows[] = {
		GOOD,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"00-00000000000000000000000000000001-0000000000000001-ff",
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		const char *why = "untouched";

		if (!sl_trace_ok(rows[i], strlen(rows[i]), &why))
			fail_msg("row %zu refused: %s", i, why);
		assert_string_equal(why, "untouched");
	}
}

static void
test_trace_refuses_each_malformed_part_with_its_reason(void **state)
{
	static const struct {
		const char *in;
		const char *why; /* a word the reason must hold */
	} rows[] = {
		{ "", "55" },
		{ GOOD "0", "55" }, /* one too many */
		{ "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		    "55" }, /* one too few */
		{ "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    "'-'" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		    "'-'" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
		    "'-'" },
		{ "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    "version 00" },
		{ "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    "version 00" },
		{ "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    "version and flags" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G",
		    "version and flags" },
		{ "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		    "trace-id must be" }, /* uppercase */
		{ "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
		    "trace-id must be" },
		{ "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		    "trace-id is all zeros" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		    "parent-id must be" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902 7-01",
		    "parent-id must be" },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		    "parent-id is all zeros" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		const char *why = NULL;

		if (sl_trace_ok(rows[i].in, strlen(rows[i].in), &why))
			fail_msg("row %zu accepted", i);
		assert_non_null(why);
		if (!strstr(why, rows[i].why))
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, why,
			    rows[i].why);
	}
	/* No reason wanted: still a plain answer. */
	assert_false(sl_trace_ok("00", 2, NULL));
}

static void
test_trace_a_nul_byte_is_never_hex(void **state)
{
	char s[] = GOOD;

	(void) state;
	s[10] = '\0';
	assert_false(sl_trace_ok(s, SL_TRACE_LEN, NULL));
}

static void
test_trace_new_values_are_valid_and_differ(void **state)
{
	char a[SL_TRACE_LEN + 1], b[SL_TRACE_LEN + 1];

	(void) state;
	memset(a, 'x', sizeof a);
	assert_int_equal(sl_trace_new(a), 0);
	assert_int_equal(sl_trace_new(b), 0);
	assert_int_equal(strlen(a), SL_TRACE_LEN);
	assert_true(sl_trace_ok(a, strlen(a), NULL));
	assert_true(sl_trace_ok(b, strlen(b), NULL));
	assert_memory_equal(a, "00-", 3);
	assert_string_equal(a + SL_TRACE_LEN - 3, "-01");
	/* 128 random bits: two equal trace-ids mean a broken source. */
	assert_memory_not_equal(
	    a + SL_TRACE_ID_OFF, b + SL_TRACE_ID_OFF, SL_TRACE_ID_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_accepts_version_00_values),
		cmocka_unit_test(
		    test_trace_refuses_each_malformed_part_with_its_reason),
		cmocka_unit_test(test_trace_a_nul_byte_is_never_hex),
		cmocka_unit_test(test_trace_new_values_are_valid_and_differ),
	};

	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
