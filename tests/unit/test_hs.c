/*
 * Unit tests for gw_hs: the RFC 6455 handshake and close-code checks, as
 * tables of input -> verdict. Pure functions, no lws context. Test main
 * thread only.
 */
#include "sl_test.h"

#include "gw_hs.h"

static void
test_hs_key_must_be_base64_of_16_bytes(void **state)
{
	static const struct {
		const char *key;
		bool ok;
	} cases[] = {
		{ "dGhlIHNhbXBsZSBub25jZQ==", true }, /* RFC 6455 §1.3 */
		{ "AAAAAAAAAAAAAAAAAAAAAA==", true },
		{ "ab+/AAAAAAAAAAAAAAAAAA==", true },
		{ NULL, false },
		{ "", false },
		{ "abc", false },
		{ "dGhlIHNhbXBsZSBub25jZQ=", false },   /* 23 */
		{ "dGhlIHNhbXBsZSBub25jZQ===", false }, /* 25 */
		{ "dGhlIHNhbXBsZSBub25jZQAA", false },  /* no padding */
		{ "dGhlIHNhbXBsZSBub25j!Q==", false },  /* not base64 */
		{ "dGhlIHNhbXBsZSBub25j Q==", false },
		{ "dGhlIHNhbXBsZSBub25jZ=Q=", false },
		{ "dGhlIHNhbXBsZSBub25jZQ-_", false }, /* base64url */
		{ "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==", false },
	};

	(void) state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (gw_hs_key_ok(cases[i].key) != cases[i].ok)
			fail_msg("key %s: want %d",
			    cases[i].key ? cases[i].key : "(null)",
			    cases[i].ok);
}

static void
test_hs_version_13_only_checked_before_the_key(void **state)
{
	const char *good = "dGhlIHNhbXBsZSBub25jZQ==";

	(void) state;
	assert_int_equal(gw_hs_check("13", good), GW_HS_OK);
	assert_int_equal(gw_hs_check("8", good), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check("13 ", good), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check("130", good), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check("", good), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check(NULL, good), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check("8", "bad"), GW_HS_BAD_VERSION);
	assert_int_equal(gw_hs_check("13", "bad"), GW_HS_BAD_KEY);
	assert_int_equal(gw_hs_check("13", NULL), GW_HS_BAD_KEY);
}

static void
test_hs_close_codes_follow_rfc6455_7_4(void **state)
{
	static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008,
		1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016,
		2000, 2999, 5000, 5001, 65535 };

	(void) state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!gw_hs_close_code_ok(ok[i]))
			fail_msg("%u refused", ok[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (gw_hs_close_code_ok(bad[i]))
			fail_msg("%u accepted", bad[i]);
}

static void
test_hs_peer_close_rewrites_codes_over_4999(void **state)
{
	gw_hs_stats_t st = { 0 };
	uint8_t close5000[] = { 0x13, 0x88, 'x' }; /* 5000 + reason */
	uint8_t close1000[] = { 0x03, 0xe8 };
	uint8_t half[] = { 0x03 };

	(void) state;
	assert_int_equal(gw_hs_peer_close(NULL, close5000, 3, 1, &st), 0);
	assert_int_equal(close5000[0] << 8 | close5000[1], 1002);
	assert_int_equal(close5000[2], 'x');
	assert_int_equal(gw_hs_peer_close(NULL, close1000, 2, 1, &st), 0);
	assert_int_equal(close1000[0] << 8 | close1000[1], 1000);
	assert_int_equal(gw_hs_peer_close(NULL, half, 1, 1, &st), -1);
	assert_int_equal(gw_hs_peer_close(NULL, NULL, 0, 1, &st), 0);
	assert_int_equal(st.bad_close, 2);
}

static void
test_hs_h2c_upgrade_is_blanked_websocket_kept(void **state)
{
	gw_hs_stats_t st = { 0 };
	char h2c[] = "H2C", ws[] = "websocket";

	(void) state;
	assert_int_equal(gw_hs_confirm_upgrade(h2c, &st), 0);
	assert_string_equal(h2c, "");
	assert_int_equal(gw_hs_confirm_upgrade(ws, &st), 0);
	assert_string_equal(ws, "websocket");
	assert_int_equal(gw_hs_confirm_upgrade(NULL, &st), 0);
	assert_int_equal(st.h2c_ignored, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs_key_must_be_base64_of_16_bytes),
		cmocka_unit_test(
		    test_hs_version_13_only_checked_before_the_key),
		cmocka_unit_test(test_hs_close_codes_follow_rfc6455_7_4),
		cmocka_unit_test(test_hs_peer_close_rewrites_codes_over_4999),
		cmocka_unit_test(
		    test_hs_h2c_upgrade_is_blanked_websocket_kept),
	};

	return cmocka_run_group_tests_name("hs", tests, NULL, NULL);
}
