/*
 * unit.log: sl_log's levels, its text and JSON lines, and its per-id rate
 * limit. stderr is redirected to a temporary file around the calls; the
 * monotonic clock the windows run on is ours (-Wl,--wrap=sl_clock_mono_us),
 * so no test waits for a real second.
 */
#include "sl_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_log.h"

static int64_t s_now_us = 1000000000; /* the wrapped monotonic clock */

int64_t __wrap_sl_clock_mono_us(void);

int64_t
__wrap_sl_clock_mono_us(void)
{
	return __atomic_load_n(&s_now_us, __ATOMIC_RELAXED);
}

typedef struct capture {
	FILE *file; /* what fd 2 writes to meanwhile */
	int saved;  /* the real stderr */
} capture_t;

static void
capture_start(capture_t *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restore stderr; caller frees the text written meanwhile. */
static char *
capture_end(capture_t *c)
{
	long n;
	char *text;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	n = ftell(c->file);
	assert_true(n >= 0);
	text = calloc(1, (size_t) n + 1);
	assert_non_null(text);
	rewind(c->file);
	assert_int_equal(fread(text, 1, (size_t) n, c->file), (size_t) n);
	fclose(c->file);
	return text;
}

/* Lines of text containing needle. */
static int
count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t) (nl - line) : strlen(line);
		const char *hit = strstr(line, needle);

		if (hit && hit < line + len)
			n++;
		line += len + (nl ? 1 : 0);
	}
	return n;
}

static int
setup(void **state)
{
	(void) state;
	sl_log_setup("t", SL_LOG_DEBUG);
	sl_log_set_format(SL_LOG_TEXT);
	return 0;
}

/* Each test leaves the table empty for the next. */
static int
teardown(void **state)
{
	capture_t c;

	(void) state;
	capture_start(&c);
	sl_log_flush(true);
	free(capture_end(&c));
	return 0;
}

static void
test_log_writes_ten_lines_of_an_id_then_counts(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	capture_start(&c);
	for (int i = 0; i < 25; i++)
		SL_WARN("T-REP", "n=%d", i);
	sl_log_flush(false); /* the window has not ended: nothing yet */
	out = capture_end(&c);
	assert_int_equal(count(out, "T-REP"), SL_LOG_RATE_MAX);
	assert_int_equal(count(out, "T-REP n=9"), 1);
	assert_int_equal(count(out, "T-REP n=10"), 0);
	assert_int_equal(count(out, "suppressed"), 0);
	free(out);

	s_now_us += SL_LOG_RATE_WINDOW_US;
	capture_start(&c);
	sl_log_flush(false);
	sl_log_flush(false); /* reported once */
	out = capture_end(&c);
	assert_int_equal(count(out, "W: "), 1);
	assert_int_equal(count(out, " t T-REP 15 more suppressed"), 1);
	free(out);
}

static void
test_log_never_limits_err_or_debug(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	capture_start(&c);
	for (int i = 0; i < 50; i++) {
		SL_ERR("T-ERR", "n=%d", i);
		SL_DEBUG("T-DBG", "n=%d", i);
	}
	sl_log_flush(true);
	out = capture_end(&c);
	assert_int_equal(count(out, "E: "), 50);
	assert_int_equal(count(out, "D: "), 50);
	assert_int_equal(count(out, "suppressed"), 0);
	free(out);
}

static void
test_log_limited_lines_are_limited_at_err_too(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	capture_start(&c);
	for (int i = 0; i < 50; i++)
		sl_log_emit_limited(SL_LOG_ERR, "T-PEER", "n=%d", i);
	sl_log_flush(true);
	out = capture_end(&c);
	assert_int_equal(count(out, "E: "), SL_LOG_RATE_MAX + 1);
	assert_int_equal(count(out, " t T-PEER 40 more suppressed"), 1);
	free(out);
}

static void
test_log_limits_each_id_apart(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	capture_start(&c);
	for (int i = 0; i < 12; i++) {
		SL_NOTICE("T-A", "n=%d", i);
		SL_INFO("T-B", "n=%d", i);
	}
	sl_log_flush(true);
	out = capture_end(&c);
	assert_int_equal(count(out, "T-A n="), SL_LOG_RATE_MAX);
	assert_int_equal(count(out, "T-B n="), SL_LOG_RATE_MAX);
	assert_int_equal(count(out, "N: "), SL_LOG_RATE_MAX + 1);
	assert_int_equal(count(out, "T-A 2 more suppressed"), 1);
	assert_int_equal(count(out, "T-B 2 more suppressed"), 1);
	free(out);
}

static void
test_log_reports_before_the_next_window_line(void **state)
{
	capture_t c;
	char *out, *report, *next;

	(void) state;
	capture_start(&c);
	for (int i = 0; i < 13; i++)
		SL_INFO("T-NEXT", "n=%d", i);
	SL_NOTICE("T-NEXT", "n=notice"); /* the worst level suppressed */
	s_now_us += SL_LOG_RATE_WINDOW_US + 1;
	SL_INFO("T-NEXT", "n=later");
	out = capture_end(&c);
	report = strstr(out, "N: ");
	next = strstr(out, "T-NEXT n=later");
	assert_non_null(report);
	assert_non_null(next);
	assert_non_null(strstr(report, "T-NEXT 4 more suppressed"));
	assert_true(report < next);
	assert_int_equal(count(out, "T-NEXT n="), SL_LOG_RATE_MAX + 1);
	free(out);
}

static void
test_log_flush_all_reports_an_open_window(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	sl_log_set_format(SL_LOG_JSON);
	capture_start(&c);
	for (int i = 0; i < SL_LOG_RATE_MAX + 1; i++)
		SL_WARN("T-EXIT", "n=%d", i);
	sl_log_flush(false);
	sl_log_flush(true);
	sl_log_flush(true); /* nothing left to report */
	out = capture_end(&c);
	sl_log_set_format(SL_LOG_TEXT);
	assert_int_equal(
	    count(out, "\"event\":\"T-EXIT\""), SL_LOG_RATE_MAX + 1);
	assert_int_equal(count(out, "\"msg\":\"1 more suppressed\"}"), 1);
	free(out);
}

static void
test_log_many_ids_are_not_lost(void **state)
{
	capture_t c;
	char *out, id[32];

	(void) state;
	/* More ids at once than the table holds: the extra ones pass
	 * unlimited, none is dropped. */
	capture_start(&c);
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "T-MANY-%d", i);
		SL_INFO(id, "n=1");
	}
	out = capture_end(&c);
	assert_int_equal(count(out, "n=1"), 200);
	free(out);
	/* ... and once their windows end, the slots serve new ids. */
	s_now_us += SL_LOG_RATE_WINDOW_US;
	capture_start(&c);
	for (int i = 0; i < 20; i++)
		SL_INFO("T-AFTER", "n=%d", i);
	sl_log_flush(true);
	out = capture_end(&c);
	assert_int_equal(count(out, "T-AFTER n="), SL_LOG_RATE_MAX);
	assert_int_equal(count(out, "T-AFTER 10 more suppressed"), 1);
	free(out);
}

#define N_THREADS 4
#define N_PER_THREAD 1000

static void *
s_logger(void *arg)
{
	(void) arg;
	for (int i = 0; i < N_PER_THREAD; i++)
		SL_NOTICE("T-THR", "n=%d", i);
	return NULL;
}

static void
test_log_threads_lose_no_count(void **state)
{
	pthread_t t[N_THREADS];
	capture_t c;
	char *out, want[64];

	(void) state;
	capture_start(&c);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, s_logger, NULL), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	sl_log_flush(true);
	out = capture_end(&c);
	snprintf(want, sizeof want, "T-THR %d more suppressed",
	    N_THREADS * N_PER_THREAD - SL_LOG_RATE_MAX);
	assert_int_equal(count(out, "T-THR n="), SL_LOG_RATE_MAX);
	assert_int_equal(count(out, want), 1);
	free(out);
}

/* ---- levels and formats ------------------------------------------------ */

static int s_evaluated; /* how often an argument of a log call ran */

static int
s_arg(void)
{
	return ++s_evaluated;
}

static void
test_log_level_hides_less_severe_lines_unformatted(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	sl_log_setup("t", SL_LOG_WARN);
	assert_int_equal(sl_log_level(), SL_LOG_WARN);
	s_evaluated = 0;
	capture_start(&c);
	SL_ERR("T-E", "n=%d", 1);
	SL_WARN("T-W", "n=%d", 2);
	SL_NOTICE("T-N", "n=%d", s_arg());
	SL_INFO("T-I", "n=%d", s_arg());
	SL_DEBUG("T-D", "n=%d", s_arg());
	out = capture_end(&c);
	assert_int_equal(s_evaluated, 0); /* the level is checked first */
	assert_int_equal(count(out, "E: "), 1);
	assert_int_equal(count(out, "W: "), 1);
	assert_int_equal(count(out, "T-N"), 0);
	assert_int_equal(count(out, "T-I"), 0);
	assert_int_equal(count(out, "T-D"), 0);
	free(out);
}

/* "L: HH:MM:SS.mmm comp ID msg\n", one line; the message's own trailing
 * newlines are dropped. */
static void
test_log_text_line_has_letter_time_component_id_message(void **state)
{
	static const char *const letters[] = { "E", "W", "N", "I", "D" };
	capture_t c;
	char *out, *line;
	int hh, mm, ss, ms, n = 0;
	char letter[2], comp[8], id[16], msg[32];

	(void) state;
	capture_start(&c);
	for (int level = SL_LOG_ERR; level <= SL_LOG_DEBUG; level++)
		sl_log_emit(level, "T-FMT", "k=%d v=%s\n\n", level, "x y");
	out = capture_end(&c);
	line = out;
	for (int level = SL_LOG_ERR; level <= SL_LOG_DEBUG; level++) {
		assert_int_equal(
		    sscanf(line,
		        "%1[A-Z]: %2d:%2d:%2d.%3d %7s %15s %31[^\n]%n", letter,
		        &hh, &mm, &ss, &ms, comp, id, msg, &n),
		    8);
		assert_string_equal(letter, letters[level]);
		assert_true(hh < 24 && mm < 60 && ss < 61 && ms < 1000);
		assert_string_equal(comp, "t");
		assert_string_equal(id, "T-FMT");
		assert_true(strncmp(msg, "k=", 2) == 0);
		assert_string_equal(msg + 3, " v=x y");
		assert_int_equal(line[n], '\n');
		line += n + 1;
	}
	assert_string_equal(line, ""); /* nothing else, no blank lines */
	free(out);
}

static void
test_log_json_line_is_one_valid_object_with_escaped_message(void **state)
{
	capture_t c;
	json_error_t jerr;
	json_t *o;
	char *out;

	(void) state;
	sl_log_set_format(SL_LOG_JSON);
	capture_start(&c);
	SL_WARN("T-JSON", "say \"hi\"\\ tab\there ctl\x01 end\n");
	out = capture_end(&c);
	sl_log_set_format(SL_LOG_TEXT);
	/* one line: its only newline ends it */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	o = json_loads(out, 0, &jerr);
	if (!o) {
		print_error("not JSON (%s): %s\n", jerr.text, out);
		fail();
	}
	assert_string_equal(
	    json_string_value(json_object_get(o, "level")), "warn");
	assert_string_equal(
	    json_string_value(json_object_get(o, "comp")), "t");
	assert_string_equal(
	    json_string_value(json_object_get(o, "event")), "T-JSON");
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
	    "say \"hi\"\\ tab\there ctl\x01 end");
	/* "2026-11-26T12:00:01.123Z" */
	assert_int_equal(
	    strlen(json_string_value(json_object_get(o, "ts"))), 24);
	json_decref(o);
	free(out);
}

static void
test_log_long_messages_are_cut_to_one_line(void **state)
{
	static char big[5000];
	capture_t c;
	char *out;

	(void) state;
	memset(big, 'x', sizeof big - 1);
	for (int format = SL_LOG_TEXT; format <= SL_LOG_JSON; format++) {
		sl_log_set_format(format);
		capture_start(&c);
		SL_ERR("T-BIG", "%s", big);
		out = capture_end(&c);
		sl_log_set_format(SL_LOG_TEXT);
		assert_true(strlen(out) >= 1000 && strlen(out) <= 1024);
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
		if (format == SL_LOG_JSON)
			assert_string_equal(out + strlen(out) - 3, "\"}\n");
		free(out);
	}
}

static void
test_log_out_of_range_level_is_written_as_error(void **state)
{
	capture_t c;
	char *out;

	(void) state;
	capture_start(&c);
	sl_log_emit(42, "T-LVL", "odd");
	sl_log_emit(-3, "T-LVL", "odd");
	out = capture_end(&c);
	assert_int_equal(count(out, "E: "), 2);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_log_writes_ten_lines_of_an_id_then_counts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_never_limits_err_or_debug, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_limited_lines_are_limited_at_err_too, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_limits_each_id_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_reports_before_the_next_window_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_flush_all_reports_an_open_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_many_ids_are_not_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_threads_lose_no_count, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_level_hides_less_severe_lines_unformatted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_text_line_has_letter_time_component_id_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_json_line_is_one_valid_object_with_escaped_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_long_messages_are_cut_to_one_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_out_of_range_level_is_written_as_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
