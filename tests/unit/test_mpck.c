#include "sl_test.h" /* std headers, then <cmocka.h> */
#include "sl_err.h"
#include "sl_mpck.h"

/* One object of each kind passes; what sl_proto relies on is tested in
 * test_proto.c (sl_proto_check is this function). */
static void
test_mpck_accepts_exactly_one_object(void **state)
{
	static const uint8_t one[] = { 0x2a };
	static const uint8_t map[] = { 0x81, 0xa1, 'k', 0xc3 };
	static const uint8_t two[] = { 0x2a, 0x2a };

	(void) state;
	assert_int_equal(sl_mpck_check(one, sizeof one, 1), 0);
	assert_int_equal(sl_mpck_check(map, sizeof map, 2), 0);
	assert_int_equal(sl_mpck_check(two, sizeof two, 1), SL_EPROTO);
	assert_int_equal(sl_mpck_check(NULL, 0, 1), SL_EPROTO);
}

/* A count larger than the bytes left is refused before anything is
 * allocated; so is nesting past max_depth. */
static void
test_mpck_refuses_hostile_counts_and_depth(void **state)
{
	static const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
	static const uint8_t nested[] = { 0x91, 0x91, 0x91, 0x00 };

	(void) state;
	assert_int_equal(sl_mpck_check(huge, sizeof huge, 4), SL_EPROTO);
	assert_int_equal(sl_mpck_check(nested, sizeof nested, 4), 0);
	assert_int_equal(sl_mpck_check(nested, sizeof nested, 3), SL_EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpck_accepts_exactly_one_object),
		cmocka_unit_test(test_mpck_refuses_hostile_counts_and_depth),
	};

	return cmocka_run_group_tests_name("mpck", tests, NULL, NULL);
}
