/*
 * test_task: the built-in tasks of a worker (compute/cp_task).
 *
 * Each task is looked up with cp_task_find and called directly, as a pool
 * thread would: the item is packed from JSON text, the value compared as
 * canonical JSON text (or, for echo, as a msgpack object). Long tasks are
 * stopped through their ctx flags, one of them set from a second thread
 * while the task runs. Timing bounds are generous (a loaded 2-core
 * machine): upper bounds in seconds, lower bounds only where the task
 * promises them.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "cp_task.h"
#include "sl_clock.h"

/* What one call of a task gave. */
typedef struct outcome {
	int rc;
	char *value; /* canonical JSON text of the value; malloc'd, or NULL */
	cp_task_err_t err;
	int64_t wall_us; /* how long the call took */
} outcome_t;

static const cp_task_t *
s_task(const char *name)
{
	const cp_task_t *t = cp_task_find(name, strlen(name));

	if (!t) {
		print_error("no task called %s\n", name);
		fail();
	}
	return t;
}

/* Run task name on the msgpack bytes item_mp with ctx. */
static outcome_t
s_run_mp(const char *name, const void *item_mp, size_t item_len,
    const cp_task_ctx_t *ctx)
{
	const cp_task_t *t = s_task(name);
	msgpack_unpacked item, value;
	msgpack_sbuffer out;
	msgpack_packer pk;
	outcome_t o;
	size_t off = 0;
	int64_t t0;

	memset(&o, 0, sizeof o);
	o.err.code = NULL;
	msgpack_unpacked_init(&item);
	assert_int_equal(msgpack_unpack_next(&item, item_mp, item_len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	t0 = sl_clock_mono_us();
	o.rc = t->run(&item.data, &pk, &o.err, ctx);
	o.wall_us = sl_clock_mono_us() - t0;
	if (o.rc == 0) {
		const char *why = NULL;
		json_t *j = NULL;

		/* exactly one value was packed */
		off = 0;
		msgpack_unpacked_init(&value);
		assert_int_equal(
		    msgpack_unpack_next(&value, out.data, out.size, &off),
		    MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, out.size);
		assert_int_equal(sl_json_from_mp(&value.data, &j, &why), 0);
		o.value = sl_test_dumps(j);
		json_decref(j);
		msgpack_unpacked_destroy(&value);
	}
	msgpack_sbuffer_destroy(&out);
	msgpack_unpacked_destroy(&item);
	return o;
}

/* Run task name on the item given as JSON text. */
static outcome_t
s_run(const char *name, const char *item, const cp_task_ctx_t *ctx)
{
	msgpack_sbuffer sb;
	outcome_t o;

	msgpack_sbuffer_init(&sb);
	sl_test_pack_json(&sb, item);
	o = s_run_mp(name, sb.data, sb.size, ctx);
	msgpack_sbuffer_destroy(&sb);
	return o;
}

/* The call succeeded with this value (canonical JSON text). */
static void
s_assert_value(const char *row, outcome_t *o, const char *value)
{
	if (o->rc != 0) {
		print_error("row \"%s\": failed with %s: %s, expected value "
		            "%s\n",
		    row, o->err.code ? o->err.code : "(null)", o->err.message,
		    value);
		fail();
	}
	sl_assert_row_str(row, o->value, value);
	free(o->value);
	o->value = NULL;
}

/* The call failed with this code and some message. */
static void
s_assert_fails(const char *row, outcome_t *o, const char *code)
{
	if (o->rc != -1) {
		print_error("row \"%s\": returned %d with value %s, expected "
		            "error %s\n",
		    row, o->rc, o->value ? o->value : "-", code);
		free(o->value);
		fail();
	}
	sl_assert_row_str(row, o->err.code, code);
	sl_assert_row_int(row, o->err.message[0] != '\0', 1);
}

/* ---- the table of tasks ------------------------------------------------- */

static void
test_task_find_knows_each_builtin_and_nothing_else(void **state)
{
	static const char *const known[]
	    = { "echo", "burn", "sleep", "primes", "sha256" };
	static const char *const unknown[]
	    = { "", "nope", "ech", "echo2", "ECHO", "burn ", "sha" };

	(void) state;
	for (size_t i = 0; i < SL_N(known); i++) {
		const cp_task_t *t = cp_task_find(known[i], strlen(known[i]));

		sl_assert_row_int(known[i], t != NULL, 1);
		sl_assert_row_str(known[i], t->name, known[i]);
	}
	for (size_t i = 0; i < SL_N(unknown); i++)
		sl_assert_row_int(unknown[i],
		    cp_task_find(unknown[i], strlen(unknown[i])) == NULL, 1);
	/* the name is len bytes, not NUL-terminated */
	assert_string_equal(cp_task_find("echoes", 4)->name, "echo");
	assert_null(cp_task_find("echo", 3));
}

static void
test_task_every_task_has_a_valid_name_and_a_help_line(void **state)
{
	size_t n = 0;
	const cp_task_t *all = cp_task_all(&n);

	(void) state;
	assert_non_null(all);
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++) {
		const char *name = all[i].name;
		size_t len = name ? strlen(name) : 0;

		assert_non_null(name);
		sl_assert_row_int(name, len >= 1 && len <= 32, 1);
		sl_assert_row_int(name,
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-"),
		    len);
		sl_assert_row_int(name, all[i].run != NULL, 1);
		sl_assert_row_int(name, all[i].help != NULL, 1);
		sl_assert_row_int(name, strlen(all[i].help) > 0, 1);
		sl_assert_row_int(name, strchr(all[i].help, '\n') == NULL, 1);
		/* found by name, and the name is unique */
		assert_ptr_equal(cp_task_find(name, len), &all[i]);
		for (size_t j = i + 1; j < n; j++)
			sl_assert_row_int(
			    name, strcmp(name, all[j].name) != 0, 1);
	}
}

static void
test_task_stopping_reads_both_flags(void **state)
{
	atomic_bool stop, cancel;
	cp_task_ctx_t ctx = { &stop, &cancel, NULL, NULL };
	cp_task_ctx_t none = { NULL, NULL, NULL, NULL };
	cp_task_err_t err;

	(void) state;
	atomic_init(&stop, false);
	atomic_init(&cancel, false);
	assert_false(cp_task_stopping(NULL));
	assert_false(cp_task_stopping(&none));
	assert_false(cp_task_stopping(&ctx));
	atomic_store(&cancel, true);
	assert_true(cp_task_stopping(&ctx));
	atomic_store(&cancel, false);
	atomic_store(&stop, true);
	assert_true(cp_task_stopping(&ctx));
	assert_int_equal(cp_task_fail(&err, "bad_item", "x=%d", 5), -1);
	assert_string_equal(err.code, "bad_item");
	assert_string_equal(err.message, "x=5");
}

/* ---- echo --------------------------------------------------------------- */

static void
test_task_echo_returns_the_item_unchanged(void **state)
{
	static const char *const items[] = {
		"null",
		"true",
		"0",
		"-1",
		"18446744073709551615",
		"-9223372036854775808",
		"1.5",
		"\"\"",
		"\"h\\u00e9llo\"",
		"[]",
		"{}",
		"[1,[2,[3,{\"a\":null}]],\"x\"]",
		"{\"k\":{\"v\":[true,false,0.25]}}",
	};
	const cp_task_t *echo = s_task("echo");

	(void) state;
	for (size_t i = 0; i < SL_N(items); i++) {
		msgpack_sbuffer in, out;
		msgpack_unpacked a, b;
		msgpack_packer pk;
		cp_task_err_t err;
		size_t off = 0;

		msgpack_sbuffer_init(&in);
		msgpack_sbuffer_init(&out);
		msgpack_unpacked_init(&a);
		msgpack_unpacked_init(&b);
		msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
		if (!strcmp(items[i], "18446744073709551615"))
			msgpack_pack_uint64(&pk, UINT64_MAX); /* not JSON */
		else
			sl_test_pack_json(&in, items[i]);
		assert_int_equal(
		    msgpack_unpack_next(&a, in.data, in.size, &off),
		    MSGPACK_UNPACK_SUCCESS);
		msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
		sl_assert_row_int(
		    items[i], echo->run(&a.data, &pk, &err, NULL), 0);
		off = 0;
		sl_assert_row_int(items[i],
		    msgpack_unpack_next(&b, out.data, out.size, &off),
		    MSGPACK_UNPACK_SUCCESS);
		sl_assert_row_int(items[i], off, out.size);
		sl_assert_row_int(
		    items[i], msgpack_object_equal(a.data, b.data), 1);
		/* same bytes, too */
		sl_assert_row_int(items[i], out.size, in.size);
		sl_assert_row_int(
		    items[i], memcmp(out.data, in.data, in.size), 0);
		msgpack_unpacked_destroy(&a);
		msgpack_unpacked_destroy(&b);
		msgpack_sbuffer_destroy(&in);
		msgpack_sbuffer_destroy(&out);
	}
}

/* ---- burn and sleep ----------------------------------------------------- */

static void
test_task_burn_spends_that_much_cpu_time(void **state)
{
	int64_t cpu0, cpu;
	outcome_t o;

	(void) state;
	cpu0 = sl_clock_thread_cpu_ns();
	o = s_run("burn", "30", NULL);
	cpu = sl_clock_thread_cpu_ns() - cpu0;
	s_assert_value("burn 30", &o, "30");
	if (cpu < 30 * 1000000LL) {
		print_error("burn 30 used %lld ns of CPU\n", (long long) cpu);
		fail();
	}
	assert_true(o.wall_us < 10 * 1000000LL);
	o = s_run("burn", "0", NULL);
	s_assert_value("burn 0", &o, "0");
}

static void
test_task_sleep_waits_that_long(void **state)
{
	outcome_t o;

	(void) state;
	o = s_run("sleep", "20", NULL);
	s_assert_value("sleep 20", &o, "20");
	if (o.wall_us < 20000) {
		print_error("sleep 20 returned after %lld us\n",
		    (long long) o.wall_us);
		fail();
	}
	assert_true(o.wall_us < 10 * 1000000LL);
	o = s_run("sleep", "0", NULL);
	s_assert_value("sleep 0", &o, "0");
}

static void
test_task_burn_and_sleep_give_up_at_once_when_stopping(void **state)
{
	static const char *const tasks[] = { "burn", "sleep" };

	(void) state;
	for (size_t i = 0; i < SL_N(tasks); i++) {
		atomic_bool set, clear;
		cp_task_ctx_t by_stop = { &set, &clear, NULL, NULL };
		cp_task_ctx_t by_cancel = { &clear, &set, NULL, NULL };
		outcome_t o;

		atomic_init(&set, true);
		atomic_init(&clear, false);
		o = s_run(tasks[i], "5000", &by_stop);
		s_assert_fails(tasks[i], &o, "cancelled");
		sl_assert_row_int(tasks[i], o.wall_us < 1000000, 1);
		o = s_run(tasks[i], "5000", &by_cancel);
		s_assert_fails(tasks[i], &o, "cancelled");
		sl_assert_row_int(tasks[i], o.wall_us < 1000000, 1);
	}
}

typedef struct setter {
	atomic_bool *flag;
	long delay_ms;
} setter_t;

static void *
s_set_later(void *arg)
{
	setter_t *s = arg;
	struct timespec ts
	    = { s->delay_ms / 1000, (s->delay_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	atomic_store(s->flag, true);
	return NULL;
}

/* Run task on item while another thread sets the cancel flag after
 * 50 ms: it must end "cancelled", after the flag and well before item. */
static void
s_assert_cancelled_while_running(const char *task, const char *item)
{
	atomic_bool stop, cancel;
	cp_task_ctx_t ctx = { &stop, &cancel, NULL, NULL };
	setter_t s = { &cancel, 50 };
	pthread_t th;
	outcome_t o;

	atomic_init(&stop, false);
	atomic_init(&cancel, false);
	assert_int_equal(pthread_create(&th, NULL, s_set_later, &s), 0);
	o = s_run(task, item, &ctx);
	assert_int_equal(pthread_join(th, NULL), 0);
	s_assert_fails(task, &o, "cancelled");
	if (o.wall_us < 50000 || o.wall_us > 2000000) {
		print_error("%s %s cancelled after 50 ms returned after %lld "
		            "us\n",
		    task, item, (long long) o.wall_us);
		fail();
	}
}

static void
test_task_sleep_cancelled_while_running_returns_promptly(void **state)
{
	(void) state;
	s_assert_cancelled_while_running("sleep", "5000");
}

static void
test_task_burn_cancelled_while_running_returns_promptly(void **state)
{
	(void) state;
	/* 5 s of CPU: never done by the 2 s bound if not cancelled */
	s_assert_cancelled_while_running("burn", "5000");
}

static void
test_task_stop_set_while_running_also_ends_the_task(void **state)
{
	atomic_bool stop, cancel;
	cp_task_ctx_t ctx = { &stop, &cancel, NULL, NULL };
	setter_t s = { &stop, 50 };
	pthread_t th;
	outcome_t o;

	(void) state;
	atomic_init(&stop, false);
	atomic_init(&cancel, false);
	assert_int_equal(pthread_create(&th, NULL, s_set_later, &s), 0);
	o = s_run("sleep", "5000", &ctx);
	assert_int_equal(pthread_join(th, NULL), 0);
	s_assert_fails("sleep", &o, "cancelled");
	assert_true(o.wall_us >= 50000 && o.wall_us < 2000000);
}

/* Items that burn and sleep both refuse. */
static const char *const s_bad_ms_items[] = {
	"-1",
	"1.5",
	"30.0",
	"\"10\"",
	"600001",
	"9223372036854775807",
	"null",
	"true",
	"[10]",
	"{\"ms\":10}",
};

static void
test_task_burn_and_sleep_refuse_items_that_are_not_ms(void **state)
{
	static const char *const tasks[] = { "burn", "sleep" };

	(void) state;
	for (size_t i = 0; i < SL_N(tasks); i++) {
		for (size_t j = 0; j < SL_N(s_bad_ms_items); j++) {
			char row[64];
			outcome_t o;

			snprintf(row, sizeof row, "%s %s", tasks[i],
			    s_bad_ms_items[j]);
			o = s_run(tasks[i], s_bad_ms_items[j], NULL);
			s_assert_fails(row, &o, "bad_item");
			sl_assert_row_int(row, o.wall_us < 1000000, 1);
		}
	}
}

/* ---- primes and sha256 -------------------------------------------------- */

typedef struct primes_row {
	const char *item;
	const char *value;
} primes_row_t;

static void
test_task_primes_counts_primes_up_to_n(void **state)
{
	static const primes_row_t rows[] = {
		{ "0", "0" }, { "1", "0" }, { "2", "1" }, { "3", "2" },
		{ "4", "2" }, { "9", "4" }, { "10", "4" }, { "25", "9" },
		{ "100", "25" }, { "1000", "168" }, { "7918", "999" },
		{ "7919", "1000" }, { "1000000", "78498" },
		{ "100000000", "5761455" }, /* the largest n it takes */
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		outcome_t o = s_run("primes", rows[i].item, NULL);

		s_assert_value(rows[i].item, &o, rows[i].value);
	}
}

static void
test_task_primes_refuses_items_out_of_range(void **state)
{
	static const char *const items[]
	    = { "100000001", "-1", "\"x\"", "1.5", "null", "[100]" };

	(void) state;
	for (size_t i = 0; i < SL_N(items); i++) {
		outcome_t o = s_run("primes", items[i], NULL);

		s_assert_fails(items[i], &o, "bad_item");
	}
}

/*
 * docs/PROTOCOL.md: "cancelled: the worker was stopping or the job was
 * cancelled (a built-in task gives up within 10 ms)"; cp_task.h: long
 * tasks check cp_task_stopping() between slices of work. The sieve for
 * n = 100000000 takes far longer than 10 ms (about 150 ms here, more under
 * the sanitizers), so with a flag already set it must end "cancelled".
 */
static void
test_task_primes_gives_up_when_stopping(void **state)
{
	atomic_bool set, clear;
	cp_task_ctx_t by_stop = { &set, &clear, NULL, NULL };
	cp_task_ctx_t by_cancel = { &clear, &set, NULL, NULL };
	outcome_t o;

	(void) state;
	atomic_init(&set, true);
	atomic_init(&clear, false);
	o = s_run("primes", "100000000", &by_stop);
	s_assert_fails("primes 100000000, stop set", &o, "cancelled");
	o = s_run("primes", "100000000", &by_cancel);
	s_assert_fails("primes 100000000, cancel set", &o, "cancelled");
}

typedef struct sha_row {
	const char *item; /* JSON text */
	const char *value;
} sha_row_t;

static void
test_task_sha256_gives_the_known_digests(void **state)
{
	static const sha_row_t rows[] = {
		{ "\"abc\"",
		    "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
		    "1f2"
		    "0015ad\"" },
		{ "\"\"",
		    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991"
		    "b78"
		    "52b855\"" },
		{ "\"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
		  "\"",
		    "\"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd"
		    "419"
		    "db06c1\"" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		outcome_t o = s_run("sha256", rows[i].item, NULL);

		s_assert_value(rows[i].item, &o, rows[i].value);
	}
}

static void
test_task_sha256_refuses_items_that_are_not_strings(void **state)
{
	static const char *const items[]
	    = { "1", "null", "true", "1.5", "[\"abc\"]", "{\"s\":\"abc\"}" };

	(void) state;
	for (size_t i = 0; i < SL_N(items); i++) {
		outcome_t o = s_run("sha256", items[i], NULL);

		s_assert_fails(items[i], &o, "bad_item");
	}
	/* bin is not a string either */
	{
		outcome_t o = s_run_mp("sha256",
		    B("\xc4\x03"
		      "abc"),
		    NULL);

		s_assert_fails("bin", &o, "bad_item");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_task_find_knows_each_builtin_and_nothing_else),
		cmocka_unit_test(
		    test_task_every_task_has_a_valid_name_and_a_help_line),
		cmocka_unit_test(test_task_stopping_reads_both_flags),
		cmocka_unit_test(test_task_echo_returns_the_item_unchanged),
		cmocka_unit_test(test_task_burn_spends_that_much_cpu_time),
		cmocka_unit_test(test_task_sleep_waits_that_long),
		cmocka_unit_test(
		    test_task_burn_and_sleep_give_up_at_once_when_stopping),
		cmocka_unit_test(
		    test_task_sleep_cancelled_while_running_returns_promptly),
		cmocka_unit_test(
		    test_task_burn_cancelled_while_running_returns_promptly),
		cmocka_unit_test(
		    test_task_stop_set_while_running_also_ends_the_task),
		cmocka_unit_test(
		    test_task_burn_and_sleep_refuse_items_that_are_not_ms),
		cmocka_unit_test(test_task_primes_counts_primes_up_to_n),
		cmocka_unit_test(test_task_primes_refuses_items_out_of_range),
		cmocka_unit_test(test_task_primes_gives_up_when_stopping),
		cmocka_unit_test(test_task_sha256_gives_the_known_digests),
		cmocka_unit_test(
		    test_task_sha256_refuses_items_that_are_not_strings),
	};

	return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
