/*
 * Unit tests for gw_addr: address keys (IPv4, mapped IPv4, IPv6 /64) and
 * the per-address counts. Test main thread only.
 */
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_addr.h"
#include "sl_err.h"

static gw_addr_key_t
s_key(const char *text)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	gw_addr_key_t k;

	if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
		assert_int_equal(
		    gw_addr_key((struct sockaddr *) &in4, sizeof in4, &k), 0);
		return k;
	}
	assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
	assert_int_equal(
	    gw_addr_key((struct sockaddr *) &in6, sizeof in6, &k), 0);
	return k;
}

static void
test_addr_keys_group_ipv6_by_64_and_unmap_ipv4(void **state)
{
	gw_addr_key_t a = s_key("192.0.2.7"), b = s_key("::ffff:192.0.2.7");
	gw_addr_key_t c = s_key("2001:db8:1:2::1"),
	              d = s_key("2001:db8:1:2:ff::9");
	gw_addr_key_t e = s_key("2001:db8:1:3::1"), f = s_key("192.0.2.8");
	char buf[64];
	struct sockaddr sa = { .sa_family = AF_UNIX };

	(void) state;
	assert_memory_equal(a.b, b.b, 16);
	assert_memory_equal(c.b, d.b, 16);
	assert_memory_not_equal(c.b, e.b, 16);
	assert_memory_not_equal(a.b, f.b, 16);
	gw_addr_key_str(&b, buf, sizeof buf);
	assert_string_equal(buf, "192.0.2.7");
	gw_addr_key_str(&d, buf, sizeof buf);
	assert_string_equal(buf, "2001:db8:1:2::/64");
	assert_int_equal(gw_addr_key(&sa, sizeof sa, &a), SL_EINVAL);
}

static void
test_addr_counts_per_address_and_forgets_the_last(void **state)
{
	gw_addr_t *t = gw_addr_new(4);
	gw_addr_key_t a = s_key("127.0.0.1"), b = s_key("127.0.0.2");

	(void) state;
	assert_non_null(t);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gw_addr_add(t, &a), 0);
	assert_int_equal(gw_addr_add(t, &b), 0);
	assert_int_equal(gw_addr_count(t, &a), 3);
	assert_int_equal(gw_addr_count(t, &b), 1);
	assert_int_equal(gw_addr_n_addresses(t), 2);
	gw_addr_release(t, &b);
	gw_addr_release(t, &b); /* not counted: nothing happens */
	assert_int_equal(gw_addr_count(t, &b), 0);
	assert_int_equal(gw_addr_n_addresses(t), 1);
	gw_addr_release(t, &a);
	assert_int_equal(gw_addr_count(t, &a), 2);
	gw_addr_destroy(&t); /* with entries left: freed */
	assert_null(t);
	gw_addr_destroy(&t);
}

static void
test_addr_many_addresses_stay_separate(void **state)
{
	gw_addr_t *t = gw_addr_new(16);
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	gw_addr_key_t k;

	(void) state;
	for (uint32_t i = 0; i < 5000; i++) {
		in4.sin_addr.s_addr = htonl(0x0a000000u + i);
		gw_addr_key((struct sockaddr *) &in4, sizeof in4, &k);
		assert_int_equal(gw_addr_add(t, &k), 0);
	}
	assert_int_equal(gw_addr_n_addresses(t), 5000);
	in4.sin_addr.s_addr = htonl(0x0a000000u + 4321);
	gw_addr_key((struct sockaddr *) &in4, sizeof in4, &k);
	assert_int_equal(gw_addr_count(t, &k), 1);
	gw_addr_destroy(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_addr_keys_group_ipv6_by_64_and_unmap_ipv4),
		cmocka_unit_test(
		    test_addr_counts_per_address_and_forgets_the_last),
		cmocka_unit_test(test_addr_many_addresses_stay_separate),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
