/*
 * test_lines: lists of entries (common/sl_lines): one per line in a file,
 * or comma separated.
 *
 * Each row writes a file (bytes as given: NULs, CR, no final newline) or
 * gives a list, reads it with a callback that records the entries it is
 * handed, ends the read at the entry "stop" and refuses the entry "bad",
 * and compares the entries, the return code and the error text. Single
 * threaded; files under /tmp, removed after.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <unistd.h>

#include "sl_err.h"
#include "sl_lines.h"

/* What the callback saw: entries joined by '|'. */
typedef struct seen {
	char text[1024];
	int calls;
	int refuse_rc; /* returned for the entry "bad" */
} seen_t;

static int
s_record(void *arg, char *entry, size_t len, char *why, size_t whylen)
{
	seen_t *s = arg;
	size_t used = strlen(s->text);

	assert_int_equal(len, strlen(entry));
	s->calls++;
	if (!strcmp(entry, "stop"))
		return SL_LINES_STOP;
	if (!strcmp(entry, "bad")) {
		snprintf(why, whylen, "bad entry");
		return s->refuse_rc;
	}
	snprintf(s->text + used, sizeof s->text - used, "%s%s",
	    used ? "|" : "", entry);
	return 0;
}

static void
test_lines_rows_give_entries_codes_and_messages(void **state)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len;
		size_t max_len;
		int rc;
		const char *entries;
		const char *err; /* after "PATH", or NULL for no error */
	} rows[] = {
		{ "empty file", B(""), 8, 0, "", NULL },
		{ "comments and blank lines",
		    B("# one\n\n \t \n   # indented\nA\n#B\n"), 20, 0, "A",
		    NULL },
		{ "no newline at the end", B("A\nB"), 8, 0, "A|B", NULL },
		{ "CRLF and white space", B("A\r\n\t B \r\n\r\n"), 8, 0, "A|B",
		    NULL },
		{ "a hash inside a line", B("A # x\n"), 8, 0, "A # x", NULL },
		{ "a NUL byte ends the line's text", B("AB\0CD\nE\n"), 8, 0,
		    "AB|E", NULL },
		{ "a line of max_len", B("12345678\nA\n"), 8, 0, "12345678|A",
		    NULL },
		{ "max_len without newline", B("12345678"), 8, 0, "12345678",
		    NULL },
		{ "one byte over max_len", B("A\n123456789\nB\n"), 8,
		    SL_EINVAL, "A", ":2: line too long" },
		{ "over max_len, no newline", B("123456789"), 8, SL_EINVAL, "",
		    ":1: line too long" },
		{ "a long line after blank ones",
		    B("A\n\n#\n"
		      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		      "x"
		      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		      "\n"
		      "B\n"),
		    64, SL_EINVAL, "A", ":4: line too long" },
		{ "the callback ends the read", B("a\n stop\nnever\n"), 8, 0,
		    "a", NULL },
		{ "the callback refuses", B("ok\n\n  bad  \nnever\n"), 8,
		    SL_EINVAL, "ok", ":3: bad entry" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char path[] = "/tmp/sluice-ut-lines-XXXXXX", err[200] = "";
		char want[300];
		seen_t seen = { .refuse_rc = SL_EINVAL };
		int rc;

		sl_test_write_tmp(path, rows[i].data, rows[i].len);
		rc = sl_lines_read(
		    path, rows[i].max_len, s_record, &seen, err, sizeof err);
		unlink(path);
		sl_assert_row_int(rows[i].name, rc, rows[i].rc);
		sl_assert_row_str(rows[i].name, seen.text, rows[i].entries);
		if (rows[i].err) {
			snprintf(want, sizeof want, "%s%s", path, rows[i].err);
			sl_assert_row_str(rows[i].name, err, want);
		} else {
			sl_assert_row_str(rows[i].name, err, "");
		}
	}
}

static void
test_lines_callback_code_is_returned_and_stops_the_read(void **state)
{
	char path[] = "/tmp/sluice-ut-lines-XXXXXX", err[200], want[300];
	seen_t seen = { .refuse_rc = SL_ENOMEM };

	(void) state;
	sl_test_write_tmp(path, B("a\nbad\nc\n"));
	assert_int_equal(
	    sl_lines_read(path, 80, s_record, &seen, err, sizeof err),
	    SL_ENOMEM);
	unlink(path);
	assert_int_equal(seen.calls, 2);
	snprintf(want, sizeof want, "%s:2: bad entry", path);
	assert_string_equal(err, want);
}

static void
test_lines_missing_file_names_the_path_and_the_reason(void **state)
{
	char err[200];
	seen_t seen = { .refuse_rc = SL_EINVAL };

	(void) state;
	assert_int_equal(sl_lines_read("/nonexistent/sluice-ut-lines", 80,
	                     s_record, &seen, err, sizeof err),
	    SL_EINVAL);
	assert_string_equal(
	    err, "/nonexistent/sluice-ut-lines: No such file or directory");
	assert_int_equal(seen.calls, 0);
}

static void
test_lines_csv_items_are_trimmed_and_empty_ones_skipped(void **state)
{
	static const struct {
		const char *csv;
		int rc;
		const char *entries;
		const char *err;
	} rows[] = {
		{ "", 0, "", "" }, { " , ,", 0, "", "" }, { "a", 0, "a", "" },
		{ " a , b\t,,c,", 0, "a|b|c", "" },
		{ "#a,b # c", 0, "#a|b # c", "" }, /* no comments in a list */
		{ "x, stop ,y", 0, "x", "" },
		{ "x,bad,y", SL_EINVAL, "x", "bad entry" }, /* why, as it is */
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		seen_t seen = { .refuse_rc = SL_EINVAL };
		char err[200] = "";

		sl_assert_row_int(rows[i].csv,
		    sl_lines_csv(
		        rows[i].csv, s_record, &seen, err, sizeof err),
		    rows[i].rc);
		sl_assert_row_str(rows[i].csv, seen.text, rows[i].entries);
		sl_assert_row_str(rows[i].csv, err, rows[i].err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_lines_rows_give_entries_codes_and_messages),
		cmocka_unit_test(
		    test_lines_callback_code_is_returned_and_stops_the_read),
		cmocka_unit_test(
		    test_lines_missing_file_names_the_path_and_the_reason),
		cmocka_unit_test(
		    test_lines_csv_items_are_trimmed_and_empty_ones_skipped),
	};

	return cmocka_run_group_tests_name("lines", tests, NULL, NULL);
}
