/*
 * test_sub_items: the running items sluice-submit shows on its bar
 * (gateway/sub_items): the latest few kept, ended ones gone, text from
 * tasks made safe for a terminal. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <errno.h>
#include <math.h>

#include "sub_items.h"

static void
test_sub_items_shows_reports_by_seq_until_the_item_ends(void **state)
{
	sub_items_t t;
	char buf[256];

	(void) state;
	sub_items_init(&t);
	assert_int_equal(sub_items_format(&t, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(sub_items_set(&t, 7, 0.25, NULL, 10), 0);
	assert_int_equal(sub_items_set(&t, 2, 0.999, "rendering", 11), 0);
	sub_items_format(&t, buf, sizeof buf);
	/* by seq; 99.9 % is not yet 100 % */
	assert_string_equal(buf, " #2 99% rendering #7 25%");
	/* the latest report of an item replaces its earlier one */
	assert_int_equal(sub_items_set(&t, 7, 0.5, "half", 12), 0);
	sub_items_format(&t, buf, sizeof buf);
	assert_string_equal(buf, " #2 99% rendering #7 50% half");
	sub_items_end(&t, 2);
	sub_items_end(&t, 99); /* never shown: nothing happens */
	assert_int_equal(sub_items_count(&t), 1);
	sub_items_format(&t, buf, sizeof buf);
	assert_string_equal(buf, " #7 50% half");
}

static void
test_sub_items_keeps_the_items_reported_last(void **state)
{
	sub_items_t t;
	char buf[256];

	(void) state;
	sub_items_init(&t);
	/* a million items: the table stays SUB_ITEMS_MAX long */
	for (uint64_t seq = 0; seq < 1000000; seq++)
		assert_int_equal(
		    sub_items_set(&t, seq, 0.5, NULL, (int64_t) seq), 0);
	assert_int_equal(sub_items_count(&t), SUB_ITEMS_MAX);
	sub_items_format(&t, buf, sizeof buf);
	assert_string_equal(buf,
	    " #999996 50% #999997 50% #999998 50% "
	    "#999999 50%");
	/* a report of a shown item pushes out no other */
	assert_int_equal(sub_items_set(&t, 999996, 0.75, NULL, 2000000), 0);
	assert_int_equal(sub_items_set(&t, 5, 0.1, NULL, 2000001), 0);
	sub_items_format(&t, buf, sizeof buf);
	assert_string_equal(buf,
	    " #5 10% #999996 75% #999998 50% "
	    "#999999 50%");
}

static void
test_sub_items_refuses_a_progress_outside_0_to_1(void **state)
{
	static const double bad[]
	    = { -0.01, 1.0001, 1e300, -INFINITY, INFINITY, NAN };
	sub_items_t t;

	(void) state;
	sub_items_init(&t);
	for (size_t i = 0; i < SL_N(bad); i++)
		assert_int_equal(
		    sub_items_set(&t, 1, bad[i], "x", 1), -EINVAL);
	assert_int_equal(sub_items_count(&t), 0);
	assert_int_equal(sub_items_set(&t, 1, 0.0, NULL, 1), 0);
	assert_int_equal(sub_items_set(&t, 2, 1.0, NULL, 1), 0);
	assert_int_equal(sub_items_count(&t), 2);
}

static void
test_sub_items_formats_only_whole_items_into_a_short_buffer(void **state)
{
	sub_items_t t;
	char buf[12];

	(void) state;
	sub_items_init(&t);
	sub_items_set(&t, 1, 0.5, NULL, 1); /* " #1 50%": 7 bytes */
	sub_items_set(&t, 2, 0.5, "ab", 2); /* " #2 50% ab": 10 more */
	assert_int_equal(sub_items_format(&t, buf, sizeof buf), 7);
	assert_string_equal(buf, " #1 50%");
	assert_int_equal(sub_items_format(&t, buf, 1), 0);
	assert_string_equal(buf, "");
}

/* A task's text reaches a terminal: no escape sequence gets through. */
static void
test_sub_items_makes_hostile_text_printable(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "plain", "plain" },
		{ "\033]0;owned\007", "?]0;owned?" }, /* retitle the window */
		{ "\033[2J\r\nx\x7f", "?[2J??x?" },   /* clear, newline, DEL */
		{ "\xc2\x9b"
		  "31m",
		    "?31m" }, /* C1 CSI in UTF-8 */
		{ "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93" },
		{ "\xff\xfe", "??" },    /* no UTF-8 at all */
		{ "ab\xe2\x9c", "ab?" }, /* cut-off character */
	};
	char dst[64];

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		sub_items_clean(dst, sizeof dst, rows[i].in, 64);
		if (strcmp(dst, rows[i].out))
			fail_msg(
			    "row %zu: '%s', want '%s'", i, dst, rows[i].out);
	}
}

static void
test_sub_items_cuts_text_at_whole_characters(void **state)
{
	char dst[64], small[5];
	sub_items_t t;
	char long_text[400];

	(void) state;
	/* 3 characters of "ééé…" are 6 bytes */
	assert_int_equal(sub_items_clean(dst, sizeof dst,
	                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3),
	    6);
	/* 5 bytes hold 2 of them, never half of the third */
	assert_int_equal(sub_items_clean(small, sizeof small,
	                     "\xc3\xa9\xc3\xa9\xc3\xa9", 10),
	    4);
	assert_string_equal(small, "\xc3\xa9\xc3\xa9");
	/* a text of any length is shown as SUB_ITEMS_TEXT characters */
	memset(long_text, 'y', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	sub_items_init(&t);
	assert_int_equal(sub_items_set(&t, 0, 0.5, long_text, 1), 0);
	assert_int_equal(strlen(t.slot[0].text), SUB_ITEMS_TEXT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_sub_items_shows_reports_by_seq_until_the_item_ends),
		cmocka_unit_test(test_sub_items_keeps_the_items_reported_last),
		cmocka_unit_test(
		    test_sub_items_refuses_a_progress_outside_0_to_1),
		cmocka_unit_test(
		    test_sub_items_formats_only_whole_items_into_a_short_buffer),
		cmocka_unit_test(test_sub_items_makes_hostile_text_printable),
		cmocka_unit_test(test_sub_items_cuts_text_at_whole_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
