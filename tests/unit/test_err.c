/*
 * test_err: the SL_E* codes and their descriptions (common/sl_err).
 *
 * Every code has its own text (they end up in logs and error replies, so
 * they must say different things), and a code that does not exist still
 * gets a string, never NULL. Single threaded, no state.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_err.h"

static const struct {
	int code;
	const char *text;
} s_codes[] = {
	{ SL_OK, "ok" },
	{ SL_EINVAL, "invalid argument" },
	{ SL_ENOMEM, "out of memory" },
	{ SL_EPROTO, "malformed message" },
	{ SL_EVERSION, "unsupported protocol version" },
	{ SL_ETYPE, "unknown message type" },
	{ SL_ETOOBIG, "over size limit" },
	{ SL_ESYS, "system call failed" },
	{ SL_EFULL, "queue full" },
	{ SL_ENOTFOUND, "not found" },
};

static void
test_err_every_code_has_its_text(void **state)
{
	(void) state;
	for (size_t i = 0; i < SL_N(s_codes); i++)
		assert_string_equal(
		    sl_strerror(s_codes[i].code), s_codes[i].text);
}

static void
test_err_codes_are_0_then_consecutive_negatives(void **state)
{
	(void) state;
	/* The table above is complete: the codes run 0, -1, -2, ... and the
	 * one after the last has no text of its own. */
	for (size_t i = 0; i < SL_N(s_codes); i++)
		assert_int_equal(s_codes[i].code, -(int) i);
	assert_string_equal(
	    sl_strerror(-(int) SL_N(s_codes)), "unknown error");
}

static void
test_err_texts_are_all_different(void **state)
{
	(void) state;
	for (size_t i = 0; i < SL_N(s_codes); i++)
		for (size_t j = i + 1; j < SL_N(s_codes); j++)
			assert_string_not_equal(sl_strerror(s_codes[i].code),
			    sl_strerror(s_codes[j].code));
}

static void
test_err_unknown_codes_get_a_text_not_null(void **state)
{
	static const int unknown[]
	    = { 1, 42, -10, -1000, INT32_MIN, INT32_MAX };

	(void) state;
	for (size_t i = 0; i < SL_N(unknown); i++)
		assert_string_equal(sl_strerror(unknown[i]), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_every_code_has_its_text),
		cmocka_unit_test(
		    test_err_codes_are_0_then_consecutive_negatives),
		cmocka_unit_test(test_err_texts_are_all_different),
		cmocka_unit_test(test_err_unknown_codes_get_a_text_not_null),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
