/*
 * sl_test: what every sluice unit test includes first.
 *
 * cmocka 1.1.5's header uses va_list, size_t, uintptr_t and jmp_buf
 * without including their headers, so those four come first. The helpers
 * below keep table-driven tests readable: a failing row names itself, and
 * msgpack input can be written as JSON text. Test main thread only.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "sl_json.h"

/* Entries in a fixed-size array. */
#define SL_N(a) (sizeof(a) / sizeof((a)[0]))

/* A byte string literal and its length, NULs included: B("\x00\x01"). */
#define B(s) (s), (sizeof(s) - 1)

/* Compare two ints for one table row; on mismatch, name the row. */
#define sl_assert_row_int(row, got, want)                                     \
	do {                                                                  \
		long long got_ = (long long) (got);                           \
		long long want_ = (long long) (want);                         \
		if (got_ != want_) {                                          \
			print_error(                                          \
			    "row \"%s\": %s is %lld, expected %lld\n", (row), \
			    #got, got_, want_);                               \
			fail();                                               \
		}                                                             \
	} while (0)

/* Compare two C strings (NULL allowed) for one table row. */
#define sl_assert_row_str(row, got, want)                                     \
	do {                                                                  \
		const char *got_ = (got);                                     \
		const char *want_ = (want);                                   \
		if ((got_ == NULL) != (want_ == NULL)                         \
		    || (got_ && strcmp(got_, want_))) {                       \
			print_error("row \"%s\": %s is \"%s\", expected "     \
			            "\"%s\"\n",                               \
			    (row), #got, got_ ? got_ : "(null)",              \
			    want_ ? want_ : "(null)");                        \
			fail();                                               \
		}                                                             \
	} while (0)

/*
 * Append the msgpack form of JSON text to sb (any JSON value, \u0000
 * allowed). Integers pack as integers, reals as float64. Fails the test
 * if the text is not JSON.
 */
static inline void
sl_test_pack_json(msgpack_sbuffer *sb, const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	msgpack_packer pk;
	int rc;

	if (!j) {
		print_error(
		    "test JSON '%s' does not parse: %s\n", text, jerr.text);
		fail();
	}
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	rc = sl_json_to_mp(j, &pk, 64);
	json_decref(j);
	assert_int_equal(rc, 0);
}

/* Canonical text of a JSON value (compact, sorted keys); caller frees. */
static inline char *
sl_test_dumps(const json_t *j)
{
	char *s
	    = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	assert_non_null(s);
	return s;
}

/* Assert that the canonical text of j is exactly want. */
static inline void
sl_test_assert_json(const json_t *j, const char *want)
{
	char *got;

	assert_non_null(j);
	got = sl_test_dumps(j);
	if (strcmp(got, want)) {
		print_error("JSON is %s\n   expected %s\n", got, want);
		free(got);
		fail();
	}
	free(got);
}

/* A new file holding len bytes of data (NULs and all): path is a mkstemp
 * template ("/tmp/sluice-ut-x-XXXXXX") that becomes its name. The caller
 * unlinks it. */
static inline void
sl_test_write_tmp(char *path, const void *data, size_t len)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

#endif
