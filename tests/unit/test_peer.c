/*
 * test_peer: a ROUTER's peer: routing id, bound CURVE key, label
 * (gateway/gw_peer).
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "gw_peer.h"
#include "sl_err.h"

#define KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static void
test_peer_init_labels_in_order_and_refuses_bad_routing_ids(void **state)
{
	uint8_t long_rid[SL_PROTO_MAX_RID + 1] = { 0 };
	uint64_t n = 0;
	gw_peer_t a, b, c;

	(void) state;
	assert_int_equal(
	    gw_peer_init(&a, (const uint8_t *) "w-a", 3, NULL, 'w', &n), 0);
	assert_int_equal(
	    gw_peer_init(&b, (const uint8_t *) "w-b", 3, KEY, 'w', &n), 0);
	assert_string_equal(a.name, "w1");
	assert_string_equal(b.name, "w2");
	assert_string_equal(a.key, "");
	assert_string_equal(b.key, KEY);
	assert_int_equal(a.rid_len, 3);
	assert_memory_equal(a.rid, "w-a", 3);
	/* ZeroMQ routing ids are 1..255 bytes: nothing else is a peer */
	assert_int_equal(
	    gw_peer_init(&c, long_rid, 0, NULL, 'p', &n), SL_EINVAL);
	assert_int_equal(
	    gw_peer_init(&c, long_rid, sizeof long_rid, NULL, 'p', &n),
	    SL_EINVAL);
	assert_int_equal(n, 2); /* no label spent on them */
	assert_int_equal(
	    gw_peer_init(&c, long_rid, SL_PROTO_MAX_RID, NULL, 'p', &n), 0);
	assert_string_equal(c.name, "p3");
}

static void
test_peer_find_matches_whole_binary_routing_ids(void **state)
{
	const uint8_t r1[] = { 0x00, 0x6b, 0x8b, 0x45, 0x67 };
	const uint8_t r2[] = { 0x00, 0x6b, 0x8b, 0x45 }; /* a prefix of r1 */
	uint64_t n = 0;
	gw_peer_t a, b;
	sl_list_t list;

	(void) state;
	sl_list_init(&list);
	assert_null(gw_peer_find(&list, r1, sizeof r1));
	assert_int_equal(gw_peer_init(&a, r1, sizeof r1, NULL, 'w', &n), 0);
	assert_int_equal(gw_peer_init(&b, r2, sizeof r2, NULL, 'w', &n), 0);
	sl_list_push_back(&list, &a.link);
	sl_list_push_back(&list, &b.link);
	assert_ptr_equal(gw_peer_find(&list, r1, sizeof r1), &a);
	assert_ptr_equal(gw_peer_find(&list, r2, sizeof r2), &b);
	assert_null(gw_peer_find(&list, r1, 3));
}

static void
test_peer_a_routing_id_is_bound_to_its_key(void **state)
{
	uint64_t n = 0;
	gw_peer_t plain, curve;

	(void) state;
	assert_int_equal(
	    gw_peer_init(&plain, (const uint8_t *) "a", 1, NULL, 'p', &n), 0);
	assert_int_equal(
	    gw_peer_init(&curve, (const uint8_t *) "b", 1, KEY, 'p', &n), 0);
	/* without CURVE, NULL and "" are the same: no key */
	assert_true(gw_peer_key_is(&plain, NULL));
	assert_true(gw_peer_key_is(&plain, ""));
	assert_false(gw_peer_key_is(&plain, KEY));
	assert_true(gw_peer_key_is(&curve, KEY));
	assert_false(gw_peer_key_is(&curve, NULL));
	assert_false(gw_peer_key_is(
	    &curve, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf8"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_peer_init_labels_in_order_and_refuses_bad_routing_ids),
		cmocka_unit_test(
		    test_peer_find_matches_whole_binary_routing_ids),
		cmocka_unit_test(test_peer_a_routing_id_is_bound_to_its_key),
	};

	return cmocka_run_group_tests_name("peer", tests, NULL, NULL);
}
