/*
 * test_proto: the gateway <-> worker msgpack protocol (common/sl_proto).
 *
 * Every message is encoded and decoded back, comparing every field; then
 * tables of malformed frames (each with the code it must produce) and of
 * msgpack format families for the allocation-free validator. Single
 * threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "sl_err.h"
#include "sl_proto.h"

/* Per-test state: an encode buffer and a decoded message. */
typedef struct fixture {
	msgpack_sbuffer sb;
	sl_msg_t m;
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	msgpack_sbuffer_init(&f->sb);
	sl_proto_msg_init(&f->m);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	msgpack_sbuffer_destroy(&f->sb);
	msgpack_unpacked_destroy(&f->m.unpacked);
	free(f);
	return 0;
}

/* Assert that s holds exactly want. */
static void
s_assert_str(sl_str_t s, const char *want)
{
	if (!sl_proto_str_eq(s, want)) {
		print_error("string is \"%.*s\", expected \"%s\"\n",
		    (int) s.len, s.ptr ? s.ptr : "", want);
		fail();
	}
}

/* Assert that o is the one msgpack object packed from JSON text want. */
static void
s_assert_object(const msgpack_object *o, const char *want)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	size_t off = 0;
	bool same;

	assert_non_null(o);
	msgpack_sbuffer_init(&sb);
	sl_test_pack_json(&sb, want);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	same = msgpack_object_equal(*o, u.data);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	if (!same) {
		print_error("decoded object differs from %s\n", want);
		fail();
	}
}

/* ---- round trips ------------------------------------------------------- */

static void
test_proto_ready_round_trips_every_field(void **state)
{
	fixture_t *f = *state;
	const char *tasks[] = { "sum", "burn", "echo.v2" };
	const sl_msg_ready_t *r = &f->m.u.ready;

	assert_int_equal(
	    sl_proto_encode_ready(&f->sb, 8, 4242, "box-1", tasks, 3), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_READY);
	assert_int_equal(r->capacity, 8);
	assert_int_equal(r->pid, 4242);
	s_assert_str(r->host, "box-1");
	assert_int_equal(r->n_tasks, 3);
	for (size_t i = 0; i < 3; i++)
		s_assert_str(r->tasks[i], tasks[i]);
}

static void
test_proto_ready_at_every_limit_round_trips(void **state)
{
	fixture_t *f = *state;
	const char *tasks[SL_PROTO_MAX_TASKS];
	char names[SL_PROTO_MAX_TASKS][SL_PROTO_MAX_NAME + 1];
	char host[SL_PROTO_MAX_TEXT + 1];
	const sl_msg_ready_t *r = &f->m.u.ready;

	/* 64 names of exactly 32 bytes, a 256-byte host, capacity 4096 */
	for (size_t i = 0; i < SL_PROTO_MAX_TASKS; i++) {
		memset(names[i], 'a', SL_PROTO_MAX_NAME);
		names[i][0] = (char) ('0' + i / 10);
		names[i][1] = (char) ('0' + i % 10);
		names[i][SL_PROTO_MAX_NAME] = '\0';
		tasks[i] = names[i];
	}
	memset(host, 'h', SL_PROTO_MAX_TEXT);
	host[SL_PROTO_MAX_TEXT] = '\0';
	assert_int_equal(sl_proto_encode_ready(&f->sb, SL_PROTO_MAX_CAPACITY,
	                     UINT32_MAX, host, tasks, SL_PROTO_MAX_TASKS),
	    0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(r->capacity, SL_PROTO_MAX_CAPACITY);
	assert_int_equal(r->pid, UINT32_MAX);
	s_assert_str(r->host, host);
	assert_int_equal(r->n_tasks, SL_PROTO_MAX_TASKS);
	for (size_t i = 0; i < SL_PROTO_MAX_TASKS; i++) {
		assert_int_equal(r->tasks[i].len, SL_PROTO_MAX_NAME);
		s_assert_str(r->tasks[i], names[i]);
	}
}

static void
test_proto_job_round_trips_every_field(void **state)
{
	fixture_t *f = *state;
	const char *item = "{\"a\":[1,2.5,\"x\",null,true],\"b\":{\"c\":-7}}";
	msgpack_sbuffer item_sb;
	const sl_msg_job_t *j = &f->m.u.job;

	msgpack_sbuffer_init(&item_sb);
	sl_test_pack_json(&item_sb, item);
	assert_int_equal(sl_proto_encode_job(&f->sb, UINT64_MAX - 1, "sum", 3,
	                     item_sb.data, item_sb.size, NULL),
	    0);
	msgpack_sbuffer_destroy(&item_sb);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_JOB);
	assert_true(j->job == UINT64_MAX - 1);
	s_assert_str(j->task, "sum");
	s_assert_object(j->item, item);
}

static void
test_proto_job_task_length_is_taken_from_the_argument(void **state)
{
	fixture_t *f = *state;

	/* task_len, not strlen: only "burn" of "burnout" goes out */
	assert_int_equal(
	    sl_proto_encode_job(&f->sb, 7, "burnout", 4, B("\x05"), NULL), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.job.job, 7);
	s_assert_str(f->m.u.job.task, "burn");
	s_assert_object(f->m.u.job.item, "5");
}

/* Revision 7: a JOB may carry its request's traceparent; without one
 * the field is absent and decodes empty. */
static void
test_proto_job_carries_its_traceparent(void **state)
{
	fixture_t *f = *state;
	static const char tp[]
	    = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

	assert_int_equal(
	    sl_proto_encode_job(&f->sb, 7, "sum", 3, B("\x05"), tp), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	s_assert_str(f->m.u.job.trace, tp);
	s_assert_object(f->m.u.job.item, "5");
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(
	    sl_proto_encode_job(&f->sb, 7, "sum", 3, B("\x05"), ""), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.job.trace.len, 0);
}

/* Revision 7: start_us and run_us go out when known (>= 0) and come
 * back; absent, they decode as -1, the other times as 0. */
static void
test_proto_result_times_round_trip_or_stay_unknown(void **state)
{
	fixture_t *f = *state;
	const sl_proto_times_t *t = &f->m.u.result.times;

	assert_int_equal(sl_proto_encode_result_ok(&f->sb, 1, B("\x01"),
	                     &(sl_proto_times_t) { 5, 6, 0, 8 }),
	    0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(t->cpu_us, 5);
	assert_int_equal(t->t_done_us, 6);
	assert_int_equal(t->start_us, 0);
	assert_int_equal(t->run_us, 8);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_result_err(&f->sb, 1, "c", "m",
	                     &(sl_proto_times_t) { 5, 6, -1, 9 }),
	    0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(t->start_us, -1);
	assert_int_equal(t->run_us, 9);
	msgpack_sbuffer_clear(&f->sb);
	sl_test_pack_json(
	    &f->sb, "[1,\"RESULT\",{\"job\":9,\"ok\":true,\"value\":null}]");
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(t->cpu_us, 0);
	assert_int_equal(t->t_done_us, 0);
	assert_int_equal(t->start_us, -1);
	assert_int_equal(t->run_us, -1);
}

static void
test_proto_result_ok_round_trips_every_field(void **state)
{
	fixture_t *f = *state;
	const char *value = "[1,\"two\",{\"three\":3.5}]";
	msgpack_sbuffer value_sb;
	const sl_msg_result_t *r = &f->m.u.result;

	msgpack_sbuffer_init(&value_sb);
	sl_test_pack_json(&value_sb, value);
	assert_int_equal(
	    sl_proto_encode_result_ok(&f->sb, 42, value_sb.data, value_sb.size,
	        &(sl_proto_times_t) { 1234, 1700000000123456, -1, -1 }),
	    0);
	msgpack_sbuffer_destroy(&value_sb);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_RESULT);
	assert_int_equal(r->job, 42);
	assert_true(r->ok);
	s_assert_object(r->value, value);
	assert_int_equal(r->code.len, 0);
	assert_int_equal(r->message.len, 0);
	assert_int_equal(r->times.cpu_us, 1234);
	assert_true(r->times.t_done_us == 1700000000123456);
}

static void
test_proto_result_error_round_trips_every_field(void **state)
{
	fixture_t *f = *state;
	const sl_msg_result_t *r = &f->m.u.result;

	assert_int_equal(sl_proto_encode_result_err(&f->sb, UINT64_MAX,
	                     "bad_item", "item must be an integer",
	                     &(sl_proto_times_t) { 5, 99, -1, -1 }),
	    0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_RESULT);
	assert_true(r->job == UINT64_MAX);
	assert_false(r->ok);
	assert_null(r->value);
	s_assert_str(r->code, "bad_item");
	s_assert_str(r->message, "item must be an integer");
	assert_int_equal(r->times.cpu_us, 5);
	assert_int_equal(r->times.t_done_us, 99);
}

/*
 * A worker whose task fails without a reason sends message "" (compute's
 * cp_pool starts from { "task_failed", "" }). What the encoder writes,
 * the decoder must read, or the gateway drops the RESULT and the job is
 * never answered.
 */
static void
test_proto_result_error_with_empty_message_round_trips(void **state)
{
	fixture_t *f = *state;
	const char *why = NULL;
	const sl_msg_result_t *r = &f->m.u.result;

	assert_int_equal(sl_proto_encode_result_err(&f->sb, 3, "task_failed",
	                     "", &(sl_proto_times_t) { 0, 1, -1, -1 }),
	    0);
	if (sl_proto_decode(f->sb.data, f->sb.size, &f->m, &why)) {
		print_error("decoder refused the encoder's frame: %s\n", why);
		fail();
	}
	assert_false(r->ok);
	s_assert_str(r->code, "task_failed");
	assert_int_equal(r->message.len, 0);
}

static void
test_proto_result_without_timings_decodes_with_zero_timings(void **state)
{
	fixture_t *f = *state;

	sl_test_pack_json(&f->sb,
	    "[1,\"RESULT\",{\"job\":9,\"ok\":true,"
	    "\"value\":null}]");
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.result.job, 9);
	assert_true(f->m.u.result.ok);
	assert_int_equal(f->m.u.result.value->type, MSGPACK_OBJECT_NIL);
	assert_int_equal(f->m.u.result.times.cpu_us, 0);
	assert_int_equal(f->m.u.result.times.t_done_us, 0);
}

static void
test_proto_bye_round_trips(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(sl_proto_encode_empty(&f->sb, SL_MSG_BYE), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_BYE);
}

static void
test_proto_registered_round_trips_and_its_label_is_optional(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w12", false, false), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_REGISTERED);
	assert_int_equal(f->m.u.registered.worker.len, 3);
	assert_memory_equal(f->m.u.registered.worker.ptr, "w12", 3);
	msgpack_sbuffer_clear(&f->sb);
	sl_test_pack_json(&f->sb, "[1,\"REGISTERED\",{}]");
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.registered.worker.len, 0);
}

/* Revision 7: REGISTERED's progress flag, PROGRESS and PARTIAL round
 * trip; hostile values of each are refused. */
static void
test_proto_progress_and_partial_round_trip_and_refuse_bad_values(void **state)
{
	static const char *const bad[] = {
		"[1,\"PROGRESS\",{\"progress\":0.5}]",
		"[1,\"PROGRESS\",{\"job\":1}]",
		"[1,\"PROGRESS\",{\"job\":1,\"progress\":1.5}]",
		"[1,\"PROGRESS\",{\"job\":1,\"progress\":-0.1}]",
		"[1,\"PROGRESS\",{\"job\":1,\"progress\":2}]",
		"[1,\"PROGRESS\",{\"job\":1,\"progress\":\"0.5\"}]",
		"[1,\"PROGRESS\",{\"job\":1,\"progress\":0.5,\"text\":1}]",
		"[1,\"PARTIAL\",{\"job\":1,\"index\":0}]",
		"[1,\"PARTIAL\",{\"job\":1,\"value\":0}]",
		"[1,\"PARTIAL\",{\"job\":1,\"index\":4294967296,\"value\":0}]",
		"[1,\"PARTIAL\",{\"job\":1,\"index\":-1,\"value\":0}]",
		"[1,\"REGISTERED\",{\"progress\":1}]",
	};
	char text[SL_PROTO_MAX_PROGRESS_TEXT + 40];
	fixture_t *f = *state;

	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w3", true, true), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_true(f->m.u.registered.credit);
	assert_true(f->m.u.registered.progress);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_progress(&f->sb, 7, 0.25, "half"), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_PROGRESS);
	assert_true(f->m.u.progress.job == 7);
	assert_true(f->m.u.progress.progress == 0.25);
	assert_int_equal(f->m.u.progress.text.len, 4);
	/* a text over the limit is cut by the encoder, refused by decode */
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_progress(&f->sb, 7, 1, text), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.progress.text.len, SL_PROTO_MAX_PROGRESS_TEXT);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_progress(&f->sb, 7, 0, NULL), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.progress.text.len, 0);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_partial(&f->sb, 9, 41, "\x2a", 1), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_PARTIAL);
	assert_true(f->m.u.partial.job == 9);
	assert_int_equal(f->m.u.partial.index, 41);
	assert_int_equal(f->m.u.partial.value->via.u64, 42);
	assert_string_equal(sl_proto_type_name(SL_MSG_PARTIAL), "PARTIAL");
	assert_string_equal(sl_proto_type_name(SL_MSG_PROGRESS), "PROGRESS");
	for (size_t i = 0; i < SL_N(bad); i++) {
		msgpack_sbuffer_clear(&f->sb);
		sl_test_pack_json(&f->sb, bad[i]);
		assert_int_equal(
		    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL),
		    SL_EPROTO);
	}
	/* text over 128 bytes on the wire */
	msgpack_sbuffer_clear(&f->sb);
	{
		msgpack_packer pk;

		msgpack_packer_init(&pk, &f->sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_str_with_body(&pk, "PROGRESS", 8);
		msgpack_pack_map(&pk, 3);
		msgpack_pack_str_with_body(&pk, "job", 3);
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_str_with_body(&pk, "progress", 8);
		msgpack_pack_double(&pk, 0.5);
		msgpack_pack_str_with_body(&pk, "text", 4);
		msgpack_pack_str_with_body(&pk, text, 129);
	}
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), SL_EPROTO);
}

/* Revision 6: REGISTERED's credit flag, CREDIT and RETURN; hostile
 * values of each are refused. */
static void
test_proto_credit_and_return_round_trip(void **state)
{
	static const char *const bad[] = {
		"[1,\"CREDIT\",{}]",
		"[1,\"CREDIT\",{\"window\":-1}]",
		"[1,\"CREDIT\",{\"window\":4097}]",
		"[1,\"CREDIT\",{\"window\":\"2\"}]",
		"[1,\"RETURN\",{}]",
		"[1,\"RETURN\",{\"job\":1.5}]",
		"[1,\"REGISTERED\",{\"credit\":1}]",
	};
	fixture_t *f = *state;

	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w3", true, false), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_true(f->m.u.registered.credit);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(
	    sl_proto_encode_registered(&f->sb, "w3", false, false), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_false(f->m.u.registered.credit);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_credit(&f->sb, 4096), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_CREDIT);
	assert_int_equal(f->m.u.credit.window, 4096);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_credit(&f->sb, 0), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.credit.window, 0);
	msgpack_sbuffer_clear(&f->sb);
	assert_int_equal(sl_proto_encode_return(&f->sb, UINT64_MAX), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_RETURN);
	assert_true(f->m.u.cancel.job == UINT64_MAX);
	assert_string_equal(sl_proto_type_name(SL_MSG_RETURN), "RETURN");
	for (size_t i = 0; i < SL_N(bad); i++) {
		msgpack_sbuffer_clear(&f->sb);
		sl_test_pack_json(&f->sb, bad[i]);
		assert_int_equal(
		    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL),
		    SL_EPROTO);
	}
}

static void
test_proto_unknown_body_keys_are_ignored(void **state)
{
	fixture_t *f = *state;

	sl_test_pack_json(&f->sb,
	    "[1,\"READY\",{\"future\":[1,2],"
	    "\"capacity\":2,\"pid\":1,\"tasks\":"
	    "[\"sum\"],\"zone\":\"eu\"}]");
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.ready.capacity, 2);
	assert_int_equal(f->m.u.ready.host.len, 0); /* host is optional */
}

static void
test_proto_message_can_be_decoded_into_again(void **state)
{
	fixture_t *f = *state;
	msgpack_sbuffer bye;

	/* decode a JOB, then a BYE, into the same message: the first zone
	 * is freed (ASan would report it otherwise) and no field lingers */
	msgpack_sbuffer_init(&bye);
	assert_int_equal(sl_proto_encode_empty(&bye, SL_MSG_BYE), 0);
	assert_int_equal(
	    sl_proto_encode_job(&f->sb, 5, "sum", 3, B("\x91\x01"), NULL), 0);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(sl_proto_decode(bye.data, bye.size, &f->m, NULL), 0);
	assert_int_equal(f->m.type, SL_MSG_BYE);
	assert_int_equal(f->m.u.job.job, 0);
	assert_null(f->m.u.job.item);
	sl_proto_msg_clear(&f->m);
	assert_int_equal(f->m.type, 0);
	msgpack_sbuffer_destroy(&bye);
}

static void
test_proto_type_names_match_the_wire(void **state)
{
	(void) state;
	assert_string_equal(sl_proto_type_name(SL_MSG_READY), "READY");
	assert_string_equal(sl_proto_type_name(SL_MSG_JOB), "JOB");
	assert_string_equal(sl_proto_type_name(SL_MSG_RESULT), "RESULT");
	assert_string_equal(sl_proto_type_name(SL_MSG_BYE), "BYE");
	assert_string_equal(
	    sl_proto_type_name(SL_MSG_REGISTERED), "REGISTERED");
	assert_string_equal(sl_proto_type_name((sl_msg_type_t) 99), "?");
}

/* ---- malformed frames ----------------------------------------------------
 */

/* Encode one valid frame of each kind into sb; returns its kind's name. */
static const char *
s_valid_frame(int kind, msgpack_sbuffer *sb)
{
	const char *tasks[] = { "sum", "echo" };

	msgpack_sbuffer_clear(sb);
	switch (kind) {
	case 0:
		assert_int_equal(
		    sl_proto_encode_ready(sb, 4, 77, "h", tasks, 2), 0);
		return "READY";
	case 1:
		assert_int_equal(sl_proto_encode_job(sb, 300, "sum", 3,
		                     B("\x92\x01\xa1x"), NULL),
		    0);
		return "JOB";
	case 2:
		assert_int_equal(sl_proto_encode_result_ok(sb, 70000,
		                     B("\xcb\x3f\xf8\0\0\0\0\0\0"),
		                     &(sl_proto_times_t) { 12, 13, -1, -1 }),
		    0);
		return "RESULT ok";
	case 3:
		assert_int_equal(
		    sl_proto_encode_result_err(sb, 1, "bad_item", "no",
		        &(sl_proto_times_t) { 2, 3, -1, -1 }),
		    0);
		return "RESULT error";
	default:
		assert_int_equal(sl_proto_encode_empty(sb, SL_MSG_BYE), 0);
		return "BYE";
	}
}

static void
test_proto_rejects_every_truncation_of_a_valid_frame(void **state)
{
	fixture_t *f = *state;

	for (int kind = 0; kind < 5; kind++) {
		const char *name = s_valid_frame(kind, &f->sb);

		assert_int_equal(
		    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
		for (size_t len = 0; len < f->sb.size; len++) {
			char row[64];

			snprintf(row, sizeof row, "%s cut to %zu of %zu bytes",
			    name, len, f->sb.size);
			sl_assert_row_int(row,
			    sl_proto_check(
			        f->sb.data, len, SL_PROTO_MAX_DEPTH),
			    SL_EPROTO);
			sl_assert_row_int(row,
			    sl_proto_decode(f->sb.data, len, &f->m, NULL),
			    SL_EPROTO);
		}
	}
}

static void
test_proto_rejects_a_valid_frame_with_trailing_bytes(void **state)
{
	fixture_t *f = *state;

	for (int kind = 0; kind < 5; kind++) {
		const char *name = s_valid_frame(kind, &f->sb);

		msgpack_sbuffer_write(&f->sb, "\xc0", 1);
		sl_assert_row_int(name,
		    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL),
		    SL_EPROTO);
	}
}

/* One malformed frame: JSON text packed to msgpack, or raw bytes. */
typedef struct bad_frame {
	const char *name;
	const char *json; /* NULL: use raw */
	const char *raw;
	size_t raw_len;
	int expect;
} bad_frame_t;

/* clang-format off */
#define JSON(name, text, code) { name, text, NULL, 0, code }
#define RAW(name, bytes, code) { name, NULL, B(bytes), code }
/* clang-format on */
#define READY_WITH(fields) "[1,\"READY\",{" fields "}]"
#define JOB_WITH(fields) "[1,\"JOB\",{" fields "}]"
#define RESULT_WITH(fields) "[1,\"RESULT\",{" fields "}]"
#define NAME33 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* The three bytes "BYE" apart: "\xa3BYE" would read as one escape \xa3b. */
#define BYE3 "BYE"
/* [1, "BYE", then the body */
#define BYE_HEAD "\x93\x01\xa3" BYE3

static const bad_frame_t s_bad_frames[] = {
	RAW("empty", "", SL_EPROTO),
	RAW("one nil", "\xc0", SL_EPROTO),
	RAW("0xc1 alone", "\xc1", SL_EPROTO),
	RAW("0xc1 as a body value", BYE_HEAD "\x81\xa1x\xc1", SL_EPROTO),
	RAW("two frames back to back", BYE_HEAD "\x80" BYE_HEAD "\x80",
	    SL_EPROTO),
	/* version */
	JSON("version 2", "[2,\"BYE\",{}]", SL_EVERSION),
	JSON("version 0", "[0,\"READY\",{}]", SL_EVERSION),
	JSON("version -1", "[-1,\"BYE\",{}]", SL_EPROTO),
	JSON("version as a string", "[\"1\",\"BYE\",{}]", SL_EPROTO),
	JSON("version as a real", "[1.0,\"BYE\",{}]", SL_EPROTO),
	/* type */
	JSON("unknown type", "[1,\"HELLO\",{}]", SL_ETYPE),
	JSON("lower-case type", "[1,\"ready\",{}]", SL_ETYPE),
	JSON("empty type", "[1,\"\",{}]", SL_ETYPE),
	JSON("type prefix", "[1,\"BY\",{}]", SL_ETYPE),
	JSON("type with NUL", "[1,\"BYE\\u0000\",{}]", SL_ETYPE),
	JSON("REGISTERED worker not a string",
	    "[1,\"REGISTERED\",{\"worker\":1}]", SL_EPROTO),
	JSON("REGISTERED worker over 32 bytes",
	    "[1,\"REGISTERED\",{\"worker\":"
	    "\"123456789012345678901234567890123\"}]",
	    SL_EPROTO),
	JSON("type not a string", "[1,4,{}]", SL_EPROTO),
	RAW("type as bin", "\x93\x01\xc4\x03" BYE3 "\x80", SL_EPROTO),
	/* shape */
	JSON("not an array: map", "{\"v\":1}", SL_EPROTO),
	JSON("not an array: int", "1", SL_EPROTO),
	JSON("not an array: string", "\"BYE\"", SL_EPROTO),
	JSON("empty array", "[]", SL_EPROTO),
	JSON("array of 2", "[1,\"BYE\"]", SL_EPROTO),
	JSON("array of 4", "[1,\"BYE\",{},0]", SL_EPROTO),
	JSON("body an array", "[1,\"BYE\",[]]", SL_EPROTO),
	JSON("body nil", "[1,\"BYE\",null]", SL_EPROTO),
	/* READY */
	JSON("READY capacity 0",
	    READY_WITH("\"capacity\":0,\"pid\":1,\"tasks\":[\"sum\"]"),
	    SL_EPROTO),
	JSON("READY capacity 4097",
	    READY_WITH("\"capacity\":4097,\"pid\":1,\"tasks\":[\"sum\"]"),
	    SL_EPROTO),
	JSON("READY capacity 5000",
	    READY_WITH("\"capacity\":5000,\"pid\":1,\"tasks\":[\"sum\"]"),
	    SL_EPROTO),
	JSON("READY capacity -1",
	    READY_WITH("\"capacity\":-1,\"pid\":1,\"tasks\":[\"sum\"]"),
	    SL_EPROTO),
	JSON("READY capacity a string",
	    READY_WITH("\"capacity\":\"2\",\"pid\":1,\"tasks\":[\"sum\"]"),
	    SL_EPROTO),
	JSON("READY capacity missing",
	    READY_WITH("\"pid\":1,\"tasks\":[\"sum\"]"), SL_EPROTO),
	JSON("READY pid missing",
	    READY_WITH("\"capacity\":1,\"tasks\":[\"sum\"]"), SL_EPROTO),
	JSON("READY pid above 32 bits",
	    READY_WITH("\"capacity\":1,\"pid\":4294967296,\"tasks\":[\"s\"]"),
	    SL_EPROTO),
	JSON("READY host a number",
	    READY_WITH(
	        "\"capacity\":1,\"pid\":1,\"host\":5,\"tasks\":[\"s\"]"),
	    SL_EPROTO),
	JSON("READY tasks missing", READY_WITH("\"capacity\":1,\"pid\":1"),
	    SL_EPROTO),
	JSON("READY tasks empty",
	    READY_WITH("\"capacity\":1,\"pid\":1,\"tasks\":[]"), SL_EPROTO),
	JSON("READY tasks a string",
	    READY_WITH("\"capacity\":1,\"pid\":1,\"tasks\":\"sum\""),
	    SL_EPROTO),
	JSON("READY tasks with a non-string",
	    READY_WITH("\"capacity\":1,\"pid\":1,\"tasks\":[\"sum\",7]"),
	    SL_EPROTO),
	JSON("READY task name empty",
	    READY_WITH("\"capacity\":1,\"pid\":1,\"tasks\":[\"\"]"),
	    SL_EPROTO),
	JSON("READY task name of 33 bytes",
	    READY_WITH("\"capacity\":1,\"pid\":1,\"tasks\":[\"" NAME33 "\"]"),
	    SL_EPROTO),
	/* JOB */
	JSON("JOB job negative",
	    JOB_WITH("\"job\":-1,\"task\":\"sum\",\"item\":1"), SL_EPROTO),
	JSON("JOB job a string",
	    JOB_WITH("\"job\":\"1\",\"task\":\"sum\",\"item\":1"), SL_EPROTO),
	JSON("JOB job missing", JOB_WITH("\"task\":\"sum\",\"item\":1"),
	    SL_EPROTO),
	JSON("JOB task missing", JOB_WITH("\"job\":1,\"item\":1"), SL_EPROTO),
	JSON("JOB task empty", JOB_WITH("\"job\":1,\"task\":\"\",\"item\":1"),
	    SL_EPROTO),
	JSON("JOB task of 33 bytes",
	    JOB_WITH("\"job\":1,\"task\":\"" NAME33 "\",\"item\":1"),
	    SL_EPROTO),
	JSON("JOB traceparent not a str",
	    JOB_WITH("\"job\":1,\"task\":\"sum\",\"item\":1,"
	             "\"traceparent\":1"),
	    SL_EPROTO),
	JSON("JOB traceparent malformed",
	    JOB_WITH("\"job\":1,\"task\":\"sum\",\"item\":1,"
	             "\"traceparent\":\"00-00000000000000000000000000000000-"
	             "00f067aa0ba902b7-01\""),
	    SL_EPROTO),
	JSON("RESULT start_us negative",
	    RESULT_WITH("\"job\":1,\"ok\":true,\"value\":1,\"start_us\":-1"),
	    SL_EPROTO),
	JSON("RESULT run_us a string",
	    RESULT_WITH("\"job\":1,\"ok\":true,\"value\":1,\"run_us\":\"1\""),
	    SL_EPROTO),
	JSON("JOB item missing", JOB_WITH("\"job\":1,\"task\":\"sum\""),
	    SL_EPROTO),
	/* RESULT */
	JSON("RESULT job negative",
	    RESULT_WITH("\"job\":-5,\"ok\":true,\"value\":1"), SL_EPROTO),
	JSON("RESULT job missing", RESULT_WITH("\"ok\":true,\"value\":1"),
	    SL_EPROTO),
	JSON("RESULT ok not a bool",
	    RESULT_WITH("\"job\":1,\"ok\":1,\"value\":1"), SL_EPROTO),
	JSON("RESULT ok a string",
	    RESULT_WITH("\"job\":1,\"ok\":\"true\",\"value\":1"), SL_EPROTO),
	JSON("RESULT ok missing", RESULT_WITH("\"job\":1,\"value\":1"),
	    SL_EPROTO),
	JSON("RESULT value missing", RESULT_WITH("\"job\":1,\"ok\":true"),
	    SL_EPROTO),
	JSON("RESULT error without code",
	    RESULT_WITH("\"job\":1,\"ok\":false,\"message\":\"m\""),
	    SL_EPROTO),
	JSON("RESULT error code of 33 bytes",
	    RESULT_WITH("\"job\":1,\"ok\":false,\"code\":\"" NAME33 "\""),
	    SL_EPROTO),
	JSON("RESULT error message a number",
	    RESULT_WITH("\"job\":1,\"ok\":false,\"code\":\"c\",\"message\":1"),
	    SL_EPROTO),
	JSON("RESULT cpu_us negative",
	    RESULT_WITH("\"job\":1,\"ok\":true,\"value\":1,\"cpu_us\":-1"),
	    SL_EPROTO),
	JSON("RESULT t_done_us a real",
	    RESULT_WITH("\"job\":1,\"ok\":true,\"value\":1,\"t_done_us\":1.5"),
	    SL_EPROTO),
	RAW("RESULT t_done_us above INT64_MAX",
	    "\x93\x01\xa6RESULT\x84\xa3job\x01\xa2ok\xc3\xa5value\x01"
	    "\xa9t_done_us\xcf\x80\0\0\0\0\0\0\0",
	    SL_EPROTO),
	/* hostile container headers: a few bytes that claim gigabytes */
	RAW("array32 of 16M, no elements", "\xdd\x01\x00\x00\x00", SL_EPROTO),
	RAW("map32 of 268M, no entries", "\xdf\x10\x00\x00\x00", SL_EPROTO),
	RAW("map32 found by the fuzzer", "\xdf\xfe\x82\xdf\xfe", SL_EPROTO),
	RAW("array16 of 65535, no elements", "\xdc\xff\xff", SL_EPROTO),
	RAW("hostile array as the body", BYE_HEAD "\xdd\x01\x00\x00\x00",
	    SL_EPROTO),
	RAW("hostile map as a JOB item",
	    "\x93\x01\xa3JOB\x83\xa3job\x01\xa4task\xa1x\xa4item"
	    "\xdf\x10\x00\x00\x00",
	    SL_EPROTO),
	RAW("str32 claiming 4 GiB", "\xdb\xff\xff\xff\xffxy", SL_EPROTO),
};

static void
test_proto_rejects_malformed_frames_with_their_code(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(s_bad_frames); i++) {
		const bad_frame_t *t = &s_bad_frames[i];
		const char *why = NULL;
		const void *data = t->raw;
		size_t len = t->raw_len;

		msgpack_sbuffer_clear(&f->sb);
		if (t->json) {
			sl_test_pack_json(&f->sb, t->json);
			data = f->sb.data;
			len = f->sb.size;
		}
		sl_assert_row_int(t->name,
		    sl_proto_decode(data, len, &f->m, &why), t->expect);
		if (!why || !*why || !strcmp(why, "ok")) {
			print_error("row \"%s\": no reason given\n", t->name);
			fail();
		}
	}
}

static void
test_proto_hostile_headers_stop_at_the_validator(void **state)
{
	static const struct {
		const char *name;
		const char *raw;
		size_t len;
	} rows[] = {
		{ "dd 01 00 00 00", B("\xdd\x01\x00\x00\x00") },
		{ "df 10 00 00 00", B("\xdf\x10\x00\x00\x00") },
		{ "df fe 82 df fe", B("\xdf\xfe\x82\xdf\xfe") },
		{ "map16 claiming 65535 pairs with 4 bytes",
		    B("\xde\xff\xff\x01\x02\x03\x04") },
		{ "fixmap of 15 pairs with 29 bytes",
		    B("\x8f\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
		      "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
		      "\x01\x01\x01\x01") },
	};
	fixture_t *f = *state;

	/* Refused by sl_proto_check, which allocates nothing; decode runs
	 * it first, so msgpack-c never sees these headers (under ASan, a
	 * 12.9 GB reservation would not pass unnoticed either). */
	for (size_t i = 0; i < SL_N(rows); i++) {
		sl_assert_row_int(rows[i].name,
		    sl_proto_check(
		        rows[i].raw, rows[i].len, SL_PROTO_MAX_DEPTH),
		    SL_EPROTO);
		sl_assert_row_int(rows[i].name,
		    sl_proto_decode(rows[i].raw, rows[i].len, &f->m, NULL),
		    SL_EPROTO);
	}
}

/* A JOB whose item is `arrays` nested arrays around the integer 0. */
static void
s_deep_job(msgpack_sbuffer *sb, unsigned arrays)
{
	msgpack_sbuffer item;
	msgpack_packer pk;

	msgpack_sbuffer_init(&item);
	msgpack_packer_init(&pk, &item, msgpack_sbuffer_write);
	for (unsigned i = 0; i < arrays; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_uint8(&pk, 0);
	msgpack_sbuffer_clear(sb);
	assert_int_equal(
	    sl_proto_encode_job(sb, 1, "sum", 3, item.data, item.size, NULL),
	    0);
	msgpack_sbuffer_destroy(&item);
}

static void
test_proto_frame_nested_to_max_depth_decodes_one_deeper_does_not(void **state)
{
	fixture_t *f = *state;
	/* frame array (depth 1) > body map (2) > item (3): an item of n
	 * arrays puts its innermost integer at depth n + 3 */
	unsigned fits = SL_PROTO_MAX_DEPTH - 3;

	s_deep_job(&f->sb, fits);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), 0);
	assert_int_equal(f->m.u.job.item->type, MSGPACK_OBJECT_ARRAY);
	s_deep_job(&f->sb, fits + 1);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), SL_EPROTO);
	/* deeper than msgpack-c's own stack (32): still a clean refusal */
	s_deep_job(&f->sb, 40);
	assert_int_equal(
	    sl_proto_decode(f->sb.data, f->sb.size, &f->m, NULL), SL_EPROTO);
}

/* ---- the validator, one msgpack format family at a time ------------------
 */

typedef struct check_row {
	const char *name;
	const char *raw;
	size_t len;
	int expect;
} check_row_t;

/* clang-format off */
#define OK(name, bytes) { name, B(bytes), 0 }
#define BAD(name, bytes) { name, B(bytes), SL_EPROTO }
/* clang-format on */

static const check_row_t s_check_rows[] = {
	OK("nil", "\xc0"),
	OK("false", "\xc2"),
	OK("true", "\xc3"),
	OK("positive fixint 0", "\x00"),
	OK("positive fixint 127", "\x7f"),
	OK("negative fixint -32", "\xe0"),
	OK("negative fixint -1", "\xff"),
	BAD("never used 0xc1", "\xc1"),
	/* integers */
	OK("uint8", "\xcc\xff"),
	BAD("uint8 cut", "\xcc"),
	OK("uint16", "\xcd\xff\xff"),
	BAD("uint16 cut", "\xcd\xff"),
	OK("uint32", "\xce\xff\xff\xff\xff"),
	BAD("uint32 cut", "\xce\xff\xff\xff"),
	OK("uint64", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
	BAD("uint64 cut", "\xcf\xff\xff\xff\xff\xff\xff\xff"),
	OK("int8", "\xd0\x80"),
	BAD("int8 cut", "\xd0"),
	OK("int16", "\xd1\x80\x00"),
	BAD("int16 cut", "\xd1\x80"),
	OK("int32", "\xd2\x80\x00\x00\x00"),
	BAD("int32 cut", "\xd2\x80\x00\x00"),
	OK("int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
	BAD("int64 cut", "\xd3\x80\x00\x00\x00\x00\x00\x00"),
	/* floats */
	OK("float32", "\xca\x3f\xc0\x00\x00"),
	BAD("float32 cut", "\xca\x3f\xc0\x00"),
	OK("float64", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"),
	BAD("float64 cut", "\xcb\x3f\xf8\x00\x00\x00\x00\x00"),
	/* strings */
	OK("fixstr empty", "\xa0"),
	OK("fixstr 3", "\xa3xyz"),
	BAD("fixstr 3 with 2", "\xa3xy"),
	OK("fixstr 31", "\xbfghijklmnopqrstuvwxyzghijklmnopq"),
	BAD("fixstr 31 with 30", "\xbfghijklmnopqrstuvwxyzghijklmnop"),
	OK("str8", "\xd9\x03xyz"),
	BAD("str8 with 2 of 3", "\xd9\x03xy"),
	BAD("str8 without length", "\xd9"),
	OK("str16", "\xda\x00\x03xyz"),
	BAD("str16 with 3 of 4", "\xda\x00\x04xyz"),
	BAD("str16 half a length", "\xda\x00"),
	OK("str32", "\xdb\x00\x00\x00\x03xyz"),
	BAD("str32 with 3 of 4", "\xdb\x00\x00\x00\x04xyz"),
	BAD("str32 claiming 4 GiB", "\xdb\xff\xff\xff\xffxyz"),
	BAD("str32 three length bytes", "\xdb\x00\x00\x00"),
	/* binary */
	OK("bin8", "\xc4\x02\x01\x02"),
	OK("bin8 empty", "\xc4\x00"),
	BAD("bin8 with 2 of 3", "\xc4\x03\x01\x02"),
	OK("bin16", "\xc5\x00\x02\x01\x02"),
	BAD("bin16 with 2 of 3", "\xc5\x00\x03\x01\x02"),
	OK("bin32", "\xc6\x00\x00\x00\x02\x01\x02"),
	BAD("bin32 with 2 of 3", "\xc6\x00\x00\x00\x03\x01\x02"),
	BAD("bin32 claiming 4 GiB", "\xc6\xff\xff\xff\xff\x01"),
	/* ext: fixext n = type + n bytes; ext 8/16/32 = len, type, data */
	OK("fixext1", "\xd4\x01\xaa"),
	BAD("fixext1 cut", "\xd4\x01"),
	OK("fixext2", "\xd5\x01\xaa\xbb"),
	BAD("fixext2 cut", "\xd5\x01\xaa"),
	OK("fixext4", "\xd6\x01\x01\x02\x03\x04"),
	BAD("fixext4 cut", "\xd6\x01\x01\x02\x03"),
	OK("fixext8", "\xd7\x01\x01\x02\x03\x04\x05\x06\x07\x08"),
	BAD("fixext8 cut", "\xd7\x01\x01\x02\x03\x04\x05\x06\x07"),
	OK("fixext16", "\xd8\x01ghijklmnopqrstuv"),
	BAD("fixext16 cut", "\xd8\x01ghijklmnopqrstu"),
	OK("ext8", "\xc7\x02\x01\xaa\xbb"),
	OK("ext8 empty", "\xc7\x00\x01"),
	BAD("ext8 without type", "\xc7\x00"),
	BAD("ext8 with 1 of 2", "\xc7\x02\x01\xaa"),
	OK("ext16", "\xc8\x00\x02\x01\xaa\xbb"),
	BAD("ext16 with 1 of 2", "\xc8\x00\x02\x01\xaa"),
	OK("ext32", "\xc9\x00\x00\x00\x02\x01\xaa\xbb"),
	BAD("ext32 with 1 of 2", "\xc9\x00\x00\x00\x02\x01\xaa"),
	BAD("ext32 claiming 4 GiB", "\xc9\xff\xff\xff\xff\x01\xaa"),
	/* containers */
	OK("fixarray empty", "\x90"),
	OK("fixarray 2", "\x92\x01\x02"),
	BAD("fixarray 2 with 1", "\x92\x01"),
	OK("array16", "\xdc\x00\x02\x01\x02"),
	BAD("array16 with 2 of 3", "\xdc\x00\x03\x01\x02"),
	OK("array32", "\xdd\x00\x00\x00\x02\x01\x02"),
	BAD("array32 with 2 of 3", "\xdd\x00\x00\x00\x03\x01\x02"),
	OK("fixmap empty", "\x80"),
	OK("fixmap 1", "\x81\x01\x02"),
	BAD("fixmap key without value", "\x81\x01"),
	OK("map16", "\xde\x00\x01\x01\x02"),
	BAD("map16 with 1 of 2 pairs", "\xde\x00\x02\x01\x02"),
	OK("map32", "\xdf\x00\x00\x00\x01\x01\x02"),
	BAD("map32 with 1 of 2 pairs", "\xdf\x00\x00\x00\x02\x01\x02"),
	OK("map with non-string keys", "\x82\x01\x02\xc0\x90"),
	BAD("array holding a cut str", "\x92\x01\xa3xy"),
	BAD("array holding 0xc1", "\x91\xc1"),
	/* exactly one object */
	BAD("two objects", "\x01\x02"),
	BAD("object then garbage", "\x90\xc1"),
};

static void
test_proto_check_accepts_and_refuses_each_format_family(void **state)
{
	(void) state;
	for (size_t i = 0; i < SL_N(s_check_rows); i++) {
		const check_row_t *t = &s_check_rows[i];

		sl_assert_row_int(t->name,
		    sl_proto_check(t->raw, t->len, SL_PROTO_MAX_DEPTH),
		    t->expect);
		if (t->expect == 0) {
			/* the promise to msgpack-c: accepted means it parses
			 * as exactly one object */
			msgpack_unpacked u;
			size_t off = 0;
			int rc;

			msgpack_unpacked_init(&u);
			rc = msgpack_unpack_next(&u, t->raw, t->len, &off);
			msgpack_unpacked_destroy(&u);
			sl_assert_row_int(t->name, rc, MSGPACK_UNPACK_SUCCESS);
			sl_assert_row_int(t->name, off, t->len);
		}
	}
}

static void
test_proto_check_refuses_null_and_empty_input(void **state)
{
	(void) state;
	assert_int_equal(sl_proto_check(NULL, 0, 16), SL_EPROTO);
	assert_int_equal(sl_proto_check(NULL, 5, 16), SL_EPROTO);
	assert_int_equal(sl_proto_check("\xc0", 0, 16), SL_EPROTO);
}

static void
test_proto_check_counts_depth_from_the_outermost_object(void **state)
{
	static const struct {
		const char *name;
		const char *raw;
		size_t len;
		unsigned depth;
		int expect;
	} rows[] = {
		{ "scalar at depth 1 of 1", B("\x01"), 1, 0 },
		{ "empty array at depth 1 of 1", B("\x90"), 1, 0 },
		{ "[1] needs 2", B("\x91\x01"), 1, SL_EPROTO },
		{ "[1] in 2", B("\x91\x01"), 2, 0 },
		{ "[[1]] in 3", B("\x91\x91\x01"), 3, 0 },
		{ "[[[1]]] in 3", B("\x91\x91\x91\x01"), 3, SL_EPROTO },
		{ "[[[]]] in 3", B("\x91\x91\x90"), 3, 0 },
		{ "[[[[]]]] in 3", B("\x91\x91\x91\x90"), 3, SL_EPROTO },
		{ "{1:{1:2}} in 3", B("\x81\x01\x81\x01\x02"), 3, 0 },
		{ "{1:{1:{1:{}}}} in 3", B("\x81\x01\x81\x01\x81\x01\x80"), 3,
		    SL_EPROTO },
		{ "map key nests too", B("\x81\x91\x91\x01\x02"), 3,
		    SL_EPROTO },
		{ "depth 0 refuses everything", B("\x01"), 0, SL_EPROTO },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++)
		sl_assert_row_int(rows[i].name,
		    sl_proto_check(rows[i].raw, rows[i].len, rows[i].depth),
		    rows[i].expect);
}

/* The task-name rule every side applies: 1..32 of [a-z0-9_.-]. */
static void
test_proto_task_name_rule_takes_1_to_32_of_a_z_0_9_dot_dash_underscore(
    void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "echo", 4, true },
		{ "a", 1, true },
		{ "my_task.v2-x", 12, true },
		{ "abcdefghijklmnopqrstuvwxyz012345", 32, true },
		{ "abcdefghijklmnopqrstuvwxyz0123456", 33, false },
		{ "", 0, false },
		{ "Echo", 4, false },
		{ "ec ho", 5, false },
		{ "ec/ho", 5, false },
		{ "ec:ho", 5, false },
		{ "ec\0ho", 5, false },
		{ "\xc3\xa9t\xc3\xa9", 6, false },
		{ "echo\n", 5, false },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(cases); i++) {
		if (sl_proto_task_name_ok(cases[i].s, cases[i].len)
		    != cases[i].ok) {
			print_error("case %zu: '%.*s' should be %s\n", i,
			    (int) cases[i].len, cases[i].s,
			    cases[i].ok ? "accepted" : "refused");
			fail();
		}
	}
	/* len, not the NUL, bounds the name: a prefix is judged alone. */
	assert_true(sl_proto_task_name_ok("echo BAD", 4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_proto_ready_round_trips_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_ready_at_every_limit_round_trips, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_job_round_trips_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_job_task_length_is_taken_from_the_argument,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_job_carries_its_traceparent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_result_times_round_trip_or_stay_unknown, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_result_ok_round_trips_every_field, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_result_error_round_trips_every_field, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_result_error_with_empty_message_round_trips,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_result_without_timings_decodes_with_zero_timings,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_bye_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_registered_round_trips_and_its_label_is_optional,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_credit_and_return_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_unknown_body_keys_are_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_message_can_be_decoded_into_again, setup,
		    teardown),
		cmocka_unit_test(test_proto_type_names_match_the_wire),
		cmocka_unit_test_setup_teardown(
		    test_proto_rejects_every_truncation_of_a_valid_frame,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_rejects_a_valid_frame_with_trailing_bytes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_rejects_malformed_frames_with_their_code, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_hostile_headers_stop_at_the_validator, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_frame_nested_to_max_depth_decodes_one_deeper_does_not,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proto_progress_and_partial_round_trip_and_refuse_bad_values,
		    setup, teardown),
		cmocka_unit_test(
		    test_proto_check_accepts_and_refuses_each_format_family),
		cmocka_unit_test(
		    test_proto_check_refuses_null_and_empty_input),
		cmocka_unit_test(
		    test_proto_check_counts_depth_from_the_outermost_object),
		cmocka_unit_test(
		    test_proto_task_name_rule_takes_1_to_32_of_a_z_0_9_dot_dash_underscore),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
