/*
 * test_batch: BATCH frames (common/sl_batch): built, recognised, read
 * back; a batch of one is the frame itself; hostile batches (too many
 * entries, a malformed entry in the middle, truncated, wrong version,
 * no msgs) give their codes and never a crash. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_batch.h"
#include "sl_err.h"
#include "sl_proto.h"

/* Encode RESULT i (ok, value i) into sb, cleared first. */
static void
s_result(msgpack_sbuffer *sb, uint64_t i)
{
	char v[1] = { (char) (i & 0x7f) }; /* a positive fixint */

	msgpack_sbuffer_clear(sb);
	assert_int_equal(sl_proto_encode_result_ok(sb, i, v, 1,
	                     &(sl_proto_times_t) { i, 1, -1, -1 }),
	    0);
}

static void
test_batch_of_three_reads_back_in_order(void **state)
{
	sl_batch_t b;
	sl_batch_reader_t r;
	msgpack_sbuffer sb;
	const void *data, *e;
	size_t len, elen;
	sl_msg_t m;

	(void) state;
	sl_batch_init(&b);
	msgpack_sbuffer_init(&sb);
	for (uint64_t i = 1; i <= 3; i++) {
		s_result(&sb, i);
		assert_true(sl_batch_fits(&b, sb.size));
		assert_int_equal(sl_batch_add(&b, sb.data, sb.size), 0);
	}
	assert_int_equal(sl_batch_count(&b), 3);
	sl_batch_frame(&b, &data, &len);
	assert_true(sl_batch_is(data, len));
	assert_int_equal(sl_batch_open(&r, data, len, NULL), 0);
	sl_proto_msg_init(&m);
	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(sl_batch_next(&r, &e, &elen), 1);
		assert_false(sl_batch_is(e, elen));
		assert_int_equal(sl_proto_decode(e, elen, &m, NULL), 0);
		assert_int_equal(m.type, SL_MSG_RESULT);
		assert_int_equal(m.u.result.job, i);
		assert_int_equal(m.u.result.value->via.u64, i);
	}
	assert_int_equal(sl_batch_next(&r, &e, &elen), 0);
	sl_proto_msg_clear(&m);
	sl_batch_close(&r);
	sl_batch_close(&r); /* idempotent */
	/* A sender that does not know BATCH sees an unknown type. */
	sl_proto_msg_init(&m);
	assert_int_equal(sl_proto_decode(data, len, &m, NULL), SL_ETYPE);
	sl_proto_msg_clear(&m);
	msgpack_sbuffer_destroy(&sb);
	sl_batch_destroy(&b);
}

static void
test_batch_of_one_is_the_frame_itself(void **state)
{
	sl_batch_t b;
	msgpack_sbuffer sb;
	const void *data;
	size_t len;

	(void) state;
	sl_batch_init(&b);
	msgpack_sbuffer_init(&sb);
	s_result(&sb, 9);
	assert_int_equal(sl_batch_add(&b, sb.data, sb.size), 0);
	sl_batch_frame(&b, &data, &len);
	assert_int_equal(len, sb.size);
	assert_memory_equal(data, sb.data, len);
	/* Cleared, it starts over. */
	sl_batch_clear(&b);
	assert_int_equal(sl_batch_count(&b), 0);
	s_result(&sb, 10);
	assert_int_equal(sl_batch_add(&b, sb.data, sb.size), 0);
	sl_batch_frame(&b, &data, &len);
	assert_memory_equal(data, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	sl_batch_destroy(&b);
}

static void
test_batch_limits_entries_and_bytes(void **state)
{
	sl_batch_t b;
	msgpack_sbuffer sb;
	char *big = calloc(1, SL_BATCH_MAX_BYTES);

	(void) state;
	assert_non_null(big);
	sl_batch_init(&b);
	msgpack_sbuffer_init(&sb);
	s_result(&sb, 1);
	for (int i = 0; i < SL_BATCH_MAX_MSGS; i++) {
		assert_true(sl_batch_fits(&b, sb.size));
		assert_int_equal(sl_batch_add(&b, sb.data, sb.size), 0);
	}
	assert_false(sl_batch_fits(&b, sb.size));
	sl_batch_clear(&b);
	/* An empty batch takes anything; a full one in bytes nothing. */
	assert_true(sl_batch_fits(&b, SL_BATCH_MAX_BYTES * 2));
	assert_int_equal(sl_batch_add(&b, big, SL_BATCH_MAX_BYTES - 64), 0);
	assert_false(sl_batch_fits(&b, 128));
	msgpack_sbuffer_destroy(&sb);
	sl_batch_destroy(&b);
	free(big);
}

static void
test_empty_batch_is_the_announcement(void **state)
{
	msgpack_sbuffer sb;
	sl_batch_reader_t r;
	const void *e;
	size_t elen;

	(void) state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sl_batch_encode_empty(&sb), 0);
	assert_true(sl_batch_is(sb.data, sb.size));
	assert_int_equal(sl_batch_open(&r, sb.data, sb.size, NULL), 0);
	assert_int_equal(sl_batch_next(&r, &e, &elen), 0);
	sl_batch_close(&r);
	msgpack_sbuffer_destroy(&sb);
}

/* Pack [version, type, {"msgs": [n entries]}] with entry bad (if < n)
 * an integer instead of a bin; extra adds an unknown key first. */
static void
s_pack(msgpack_sbuffer *sb, unsigned version, const char *type, uint32_t n,
    uint32_t bad, bool extra)
{
	msgpack_packer pk;
	msgpack_sbuffer one;

	msgpack_sbuffer_init(&one);
	s_result(&one, 5);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint16(&pk, (uint16_t) version);
	msgpack_pack_str_with_body(&pk, type, strlen(type));
	msgpack_pack_map(&pk, extra ? 2 : 1);
	if (extra) {
		msgpack_pack_str_with_body(&pk, "later", 5);
		msgpack_pack_array(&pk, 0);
	}
	msgpack_pack_str_with_body(&pk, "msgs", 4);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		if (i == bad)
			msgpack_pack_int(&pk, 7);
		else
			msgpack_pack_bin_with_body(&pk, one.data, one.size);
	msgpack_sbuffer_destroy(&one);
}

static void
test_malformed_entry_in_the_middle_is_skipped_alone(void **state)
{
	msgpack_sbuffer sb;
	sl_batch_reader_t r;
	const void *e;
	size_t elen;

	(void) state;
	msgpack_sbuffer_init(&sb);
	s_pack(&sb, 1, "BATCH", 3, 1, true); /* unknown key ignored */
	assert_true(sl_batch_is(sb.data, sb.size));
	assert_int_equal(sl_batch_open(&r, sb.data, sb.size, NULL), 0);
	assert_int_equal(sl_batch_next(&r, &e, &elen), 1);
	assert_int_equal(sl_batch_next(&r, &e, &elen), SL_EPROTO);
	assert_int_equal(sl_batch_next(&r, &e, &elen), 1);
	assert_int_equal(sl_batch_next(&r, &e, &elen), 0);
	sl_batch_close(&r);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_hostile_batches_are_refused_whole(void **state)
{
	msgpack_sbuffer sb;
	sl_batch_reader_t r;
	const char *why = NULL;

	(void) state;
	msgpack_sbuffer_init(&sb);
	/* too many entries */
	s_pack(&sb, 1, "BATCH", SL_BATCH_MAX_MSGS + 1, UINT32_MAX, false);
	assert_true(sl_batch_is(sb.data, sb.size));
	assert_int_equal(
	    sl_batch_open(&r, sb.data, sb.size, &why), SL_ETOOBIG);
	assert_non_null(why);
	sl_batch_close(&r);
	/* exactly the limit is fine */
	s_pack(&sb, 1, "BATCH", SL_BATCH_MAX_MSGS, UINT32_MAX, false);
	assert_int_equal(sl_batch_open(&r, sb.data, sb.size, &why), 0);
	sl_batch_close(&r);
	/* another version */
	s_pack(&sb, 2, "BATCH", 1, UINT32_MAX, false);
	assert_true(sl_batch_is(sb.data, sb.size)); /* uint16 version */
	assert_int_equal(
	    sl_batch_open(&r, sb.data, sb.size, &why), SL_EVERSION);
	sl_batch_close(&r);
	/* truncated anywhere: refused, never read past the end */
	s_pack(&sb, 1, "BATCH", 3, UINT32_MAX, false);
	for (size_t cut = 0; cut < sb.size; cut++) {
		(void) sl_batch_is(sb.data, cut);
		assert_int_equal(
		    sl_batch_open(&r, sb.data, cut, &why), SL_EPROTO);
		sl_batch_close(&r);
	}
	/* not a batch */
	s_pack(&sb, 1, "BATCHY", 1, UINT32_MAX, false);
	assert_false(sl_batch_is(sb.data, sb.size));
	assert_int_equal(sl_batch_open(&r, sb.data, sb.size, &why), SL_ETYPE);
	sl_batch_close(&r);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_batch_without_msgs_is_refused(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sl_batch_reader_t r;

	(void) state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_str_with_body(&pk, "BATCH", 5);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "msgs", 4);
	msgpack_pack_map(&pk, 0); /* not an array */
	assert_int_equal(sl_batch_open(&r, sb.data, sb.size, NULL), SL_EPROTO);
	sl_batch_close(&r);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_of_three_reads_back_in_order),
		cmocka_unit_test(test_batch_of_one_is_the_frame_itself),
		cmocka_unit_test(test_batch_limits_entries_and_bytes),
		cmocka_unit_test(test_empty_batch_is_the_announcement),
		cmocka_unit_test(
		    test_malformed_entry_in_the_middle_is_skipped_alone),
		cmocka_unit_test(test_hostile_batches_are_refused_whole),
		cmocka_unit_test(test_batch_without_msgs_is_refused),
	};

	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
