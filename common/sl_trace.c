/*
 * sl_trace: W3C traceparent values (see sl_trace.h). No state; any thread.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "sl_err.h"
#include "sl_trace.h"

/* Where the parts of "00-<32>-<16>-<2>" start. */
enum { S_TRACE_ID = 3, S_PARENT_ID = 36, S_FLAGS = 53 };

static bool
s_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n characters at s all lowercase hex; *zero: all of them '0'. */
static bool
s_hex_run(const char *s, size_t n, bool *zero)
{
	*zero = true;
	for (size_t i = 0; i < n; i++) {
		if (!s_hex(s[i]))
			return false;
		*zero = *zero && s[i] == '0';
	}
	return true;
}

bool
sl_trace_ok(const char *s, size_t len, const char **why)
{
	const char *dummy;
	bool zero;

	if (!why)
		why = &dummy;
	if (len != SL_TRACE_LEN) {
		*why = "it must be 55 characters";
		return false;
	}
	if (s[2] != '-' || s[S_PARENT_ID - 1] != '-'
	    || s[S_FLAGS - 1] != '-') {
		*why = "its parts must be separated by '-'";
		return false;
	}
	if (!s_hex_run(s, 2, &zero) || !s_hex_run(s + S_FLAGS, 2, &zero)) {
		*why = "version and flags must be 2 lowercase hex digits";
		return false;
	}
	if (memcmp(s, "00", 2)) {
		*why = "only version 00 is supported";
		return false;
	}
	if (!s_hex_run(s + S_TRACE_ID, 32, &zero)) {
		*why = "the trace-id must be 32 lowercase hex digits";
		return false;
	}
	if (zero) {
		*why = "the trace-id is all zeros";
		return false;
	}
	if (!s_hex_run(s + S_PARENT_ID, 16, &zero)) {
		*why = "the parent-id must be 16 lowercase hex digits";
		return false;
	}
	if (zero) {
		*why = "the parent-id is all zeros";
		return false;
	}
	return true;
}

static void
s_put_hex(char *out, const uint8_t *raw, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
}

static bool
s_all_zero(const uint8_t *raw, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (raw[i])
			return false;
	return true;
}

int
sl_trace_new(char out[SL_TRACE_LEN + 1])
{
	uint8_t raw[24]; /* 16 bytes of trace-id, 8 of parent-id */

	/* Not a secret, but ids must not collide across gateways: the
	 * kernel's pool, never a clock. An all-zero id (2^-64) is invalid:
	 * draw again. */
	do {
		if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
			return SL_ESYS;
	} while (s_all_zero(raw, 16) || s_all_zero(raw + 16, 8));
	memcpy(out, "00-", 3);
	s_put_hex(out + S_TRACE_ID, raw, 16);
	out[S_PARENT_ID - 1] = '-';
	s_put_hex(out + S_PARENT_ID, raw + 16, 8);
	memcpy(out + S_FLAGS - 1, "-01", 4); /* with the NUL */
	return 0;
}
