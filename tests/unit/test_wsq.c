/*
 * gw_wsq: frames queue in order, batches respect their frame and byte
 * limits, framing writes each header (7-bit, 16-bit and 64-bit lengths)
 * before its payload, popping times item frames and frees the bytes.
 */
#include "sl_test.h"

#include "gw_wsq.h"

static int
setup(void **state)
{
	gw_wsq_t *q = malloc(sizeof *q);

	if (!q)
		return -1;
	gw_wsq_init(q);
	*state = q;
	return 0;
}

static int
teardown(void **state)
{
	gw_wsq_t *q = *state;

	gw_wsq_clear(q);
	free(q);
	return 0;
}

static void
test_wsq_frames_queue_in_order_and_count_bytes(void **state)
{
	gw_wsq_t *q = *state;
	size_t len = 0;
	uint8_t *p;

	assert_true(gw_wsq_empty(q));
	assert_null(gw_wsq_first(q, &len));
	assert_int_equal(gw_wsq_push(q, B("first"), 0), 0);
	assert_int_equal(gw_wsq_push(q, B("second"), 0), 0);
	assert_false(gw_wsq_empty(q));
	assert_int_equal(q->bytes, 11);
	p = gw_wsq_first(q, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "first", 5);
	assert_int_equal(gw_wsq_pop(q, 1, 0, NULL), 5);
	p = gw_wsq_first(q, &len);
	assert_memory_equal(p, "second", 6);
	assert_int_equal(q->bytes, 6);
	assert_int_equal(gw_wsq_clear(q), 6);
	assert_true(gw_wsq_empty(q));
	assert_int_equal(q->bytes, 0);
	assert_int_equal(gw_wsq_pop(q, 3, 0, NULL), 0); /* empty: nothing */
}

/* Table: payload sizes queued, limits -> frames in the batch. */
static void
test_wsq_batch_respects_its_limits(void **state)
{
	static const struct {
		const char *name;
		size_t sizes[4];
		size_t max_n, max_bytes, want;
	} rows[] = {
		{ "all fit", { 10, 10, 10 }, 64, 1000, 3 },
		{ "frame limit", { 10, 10, 10 }, 2, 1000, 2 },
		{ "byte limit", { 10, 10, 10 }, 64, 45, 2 }, /* 20 per frame */
		{ "a big first still goes", { 500, 10 }, 64, 100, 1 },
		{ "empty", { 0 }, 64, 1000, 0 },
	};
	static char zeros[500];

	for (size_t i = 0; i < SL_N(rows); i++) {
		gw_wsq_t *q = *state;
		size_t wire, n;

		for (int k = 0; k < 4 && rows[i].sizes[k]; k++)
			assert_int_equal(
			    gw_wsq_push(q, zeros, rows[i].sizes[k], 0), 0);
		n = gw_wsq_batch(q, rows[i].max_n, rows[i].max_bytes, &wire);
		sl_assert_row_int(rows[i].name, n, rows[i].want);
		gw_wsq_clear(q);
	}
}

static void
test_wsq_frame_writes_headers_of_each_length(void **state)
{
	gw_wsq_t *q = *state;
	size_t sizes[] = { 5, 126, 70000 }, wire, used;
	uint8_t *buf, *p;
	char *payload = calloc(1, 70000);

	assert_non_null(payload);
	for (size_t i = 0; i < SL_N(sizes); i++) {
		memset(payload, 'a' + (int) i, sizes[i]);
		assert_int_equal(gw_wsq_push(q, payload, sizes[i], 0), 0);
	}
	assert_int_equal(gw_wsq_batch(q, 64, 1 << 20, &wire), 3);
	assert_int_equal(wire, 3 * GW_WSQ_HDR_MAX + 5 + 126 + 70000);
	buf = malloc(wire);
	assert_non_null(buf);
	used = gw_wsq_frame(q, 3, true, buf);
	assert_int_equal(used, 2 + 5 + 4 + 126 + 10 + 70000);
	p = buf;
	assert_int_equal(p[0], 0x82); /* FIN, binary */
	assert_int_equal(p[1], 5);
	assert_int_equal(p[2], 'a');
	p += 2 + 5;
	assert_int_equal(p[0], 0x82);
	assert_int_equal(p[1], 126); /* 16-bit length follows */
	assert_int_equal((p[2] << 8) | p[3], 126);
	assert_int_equal(p[4], 'b');
	p += 4 + 126;
	assert_int_equal(p[1], 127); /* 64-bit length follows */
	assert_int_equal((p[7] << 16) | (p[8] << 8) | p[9], 70000);
	assert_int_equal(p[2] | p[3] | p[4] | p[5] | p[6], 0);
	assert_int_equal(p[10], 'c');
	/* text frames, one at a time */
	assert_int_equal(gw_wsq_frame(q, 1, false, buf), 7);
	assert_int_equal(buf[0], 0x81);
	free(buf);
	free(payload);
}

static void
test_wsq_pop_times_item_frames_only(void **state)
{
	gw_wsq_t *q = *state;
	gw_hist_t h;

	gw_hist_init_forward(&h);
	assert_int_equal(gw_wsq_push(q, B("item"), 1000), 0);
	assert_int_equal(gw_wsq_push(q, B("pong"), 0), 0); /* not timed */
	assert_int_equal(gw_wsq_push(q, B("item2"), 1200), 0);
	assert_int_equal(gw_wsq_pop(q, 3, 1050, &h), 13);
	assert_int_equal(h.count, 2);
	/* 50 µs, and one queued "after" it was written: counted as 0 */
	assert_true(h.sum > 0.0000499 && h.sum < 0.0000501);
	assert_int_equal(h.counts[0], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_wsq_frames_queue_in_order_and_count_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_wsq_batch_respects_its_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wsq_frame_writes_headers_of_each_length, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_wsq_pop_times_item_frames_only, setup, teardown),
	};

	return cmocka_run_group_tests_name("wsq", tests, NULL, NULL);
}
