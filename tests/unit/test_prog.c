/*
 * test_prog: an item's progress, throttled (gateway/gw_prog). Times are
 * given, not read: no clock in these tests.
 */
#include "sl_test.h" /* std headers, then <cmocka.h> */
#include "gw_prog.h"

#define IVL 100000 /* 100 ms */

/* The first report goes at once; the next ones within the interval wait,
 * the latest replacing the others; at its turn the pending one goes. */
static void
test_prog_first_goes_then_the_latest_waits_its_turn(void **state)
{
	gw_prog_t p;

	(void) state;
	gw_prog_init(&p);
	assert_true(gw_prog_offer(&p, 1000, IVL, 0.1, NULL));
	assert_false(gw_prog_offer(&p, 2000, IVL, 0.2, "a"));
	assert_false(gw_prog_offer(&p, 3000, IVL, 0.3, NULL));
	assert_true(p.pending);
	assert_false(gw_prog_due(&p, 1000 + IVL - 1, IVL));
	assert_true(gw_prog_due(&p, 1000 + IVL, IVL));
	assert_true(p.value == 0.3);
	assert_false(p.has_text);
	assert_false(p.pending);
	/* nothing pending: nothing due, however late */
	assert_false(gw_prog_due(&p, 10 * IVL, IVL));
	/* the interval counts from the last one sent */
	assert_false(gw_prog_offer(&p, 1000 + IVL + 10, IVL, 0.4, "b"));
	assert_true(gw_prog_offer(&p, 1000 + 2 * IVL, IVL, 0.5, "c"));
	assert_false(p.pending);
}

/* A text is kept with its report, cut to the protocol's limit. */
static void
test_prog_keeps_the_pending_text(void **state)
{
	char text[SL_PROTO_MAX_PROGRESS_TEXT + 20];
	gw_prog_t p;

	(void) state;
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	gw_prog_init(&p);
	assert_true(gw_prog_offer(&p, 1, IVL, 0, NULL));
	assert_false(gw_prog_offer(&p, 2, IVL, 0.5, text));
	assert_true(gw_prog_due(&p, 2 * IVL, IVL));
	assert_true(p.has_text);
	assert_int_equal(strlen(p.text), SL_PROTO_MAX_PROGRESS_TEXT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_prog_first_goes_then_the_latest_waits_its_turn),
		cmocka_unit_test(test_prog_keeps_the_pending_text),
	};

	return cmocka_run_group_tests_name("prog", tests, NULL, NULL);
}
