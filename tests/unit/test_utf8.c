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

/* A sequence's length, or where it stops being one: the first byte that
 * cannot belong to it, or the end of the text when it is cut short. */
static void
test_utf8_seq_says_where_a_sequence_breaks(void **state)
{
	static const struct {
		const char *in;
		size_t n, bad; /* length; when 0, the bad offset */
	} rows[] = {
		{ "A", 1, 0 }, { "\xc3\xa9", 2, 0 }, { "\xe2\x98\x83", 3, 0 },
		{ "\xf0\x9f\x98\x80", 4, 0 },
		{ "\xff", 0, 0 },             /* starts nothing */
		{ "\x80", 0, 0 },             /* a lone continuation */
		{ "\xc3", 0, 1 },             /* cut short */
		{ "\xe2\x98", 0, 2 },         /* cut short, 3-byte */
		{ "\xe2\x41", 0, 1 },         /* not a continuation */
		{ "\xe0\x80\x80", 0, 1 },     /* overlong */
		{ "\xed\xa0\x80", 0, 1 },     /* a surrogate */
		{ "\xf4\x90\x80\x80", 0, 1 }, /* past U+10FFFF */
		{ "\xf0\x9f\x98\x41", 0, 3 }, /* the last byte */
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		size_t bad = 99;

		sl_assert_row_int(rows[i].in,
		    sl_utf8_seq(rows[i].in, strlen(rows[i].in), &bad),
		    rows[i].n);
		if (!rows[i].n)
			sl_assert_row_int(rows[i].in, bad, rows[i].bad);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_clean_replaces_what_is_not_utf8),
		cmocka_unit_test(test_utf8_seq_says_where_a_sequence_breaks),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
