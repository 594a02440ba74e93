/*
 * test_utf8: well-formed UTF-8 checked and repaired (common/sl_utf8).
 * Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_utf8.h"

static void
test_utf8_clean_replaces_what_is_not_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" }, /* valid: kept */
		{ "caf\xc3", "caf?" },            /* cut off */
		{ "\xe2\x98", "??" },             /* cut off, 3-byte */
		{ "a\xffz", "a?z" },              /* never valid */
		{ "\xc0\xaf", "??" },             /* overlong */
		{ "\xed\xa0\x80", "???" },        /* a surrogate */
		{ "\xf4\x90\x80\x80", "????" },   /* past U+10FFFF */
		{ "\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!" },
	};
	char buf[32];

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		snprintf(buf, sizeof buf, "%s", rows[i].in);
		sl_utf8_clean(buf);
		sl_assert_row_str(rows[i].in, buf, rows[i].out);
		sl_assert_row_int(
		    rows[i].in, sl_utf8_valid(buf, strlen(buf)), 1);
		sl_assert_row_int(rows[i].in,
		    sl_utf8_valid(rows[i].in, strlen(rows[i].in)),
		    !strcmp(rows[i].in, rows[i].out));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_clean_replaces_what_is_not_utf8),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
