/*
 * cp_task: built-in tasks (see cp_task.h). Pool threads; no shared state.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cp_task.h"
#include "sl_err.h"
#include "sl_clock.h"

#define CP_SLICE_MS 10             /* work between checks for a stop: 10 ms */
#define CP_MAX_MS (10 * 60 * 1000) /* burn and sleep: 10 minutes */
#define CP_MAX_PRIMES 100000000ULL /* sieve of 6 MiB at most */
#define CP_MAX_PARTIALS 1000000    /* partials of one item */

int
cp_task_fail(cp_task_err_t *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

bool
cp_task_stopping(const cp_task_ctx_t *ctx)
{
	return sluice_task_stopping(ctx);
}

/* The item as an integer in 0..max, or an error. */
static int
s_uint_item(const msgpack_object *item, uint64_t max, uint64_t *out,
    cp_task_err_t *err, const char *task)
{
	if (item->type != MSGPACK_OBJECT_POSITIVE_INTEGER
	    || item->via.u64 > max)
		return cp_task_fail(err, "bad_item",
		    "%s: item must be an integer from 0 to %llu", task,
		    (unsigned long long) max);
	*out = item->via.u64;
	return 0;
}

static int
s_echo(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	(void) ctx;
	if (msgpack_pack_object(out, *item))
		return cp_task_fail(err, "task_failed", "out of memory");
	return 0;
}

/* Spend ms of this thread's CPU time: the stand-in for real computation. */
static int
s_burn(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	int64_t start = sl_clock_thread_cpu_ns(), end, slice_end;
	volatile uint64_t x = 0; /* keeps the loop from being optimised out */
	uint64_t ms = 0;

	if (s_uint_item(item, CP_MAX_MS, &ms, err, "burn"))
		return -1;
	end = start + (int64_t) ms * 1000000;
	for (;;) {
		int64_t now = sl_clock_thread_cpu_ns();

		if (now >= end)
			break;
		if (cp_task_stopping(ctx))
			return cp_task_fail(err, "cancelled", "job cancelled");
		/* One report per slice: the worker coalesces them. */
		sluice_task_progress(ctx,
		    (double) (now - start) / (double) (end - start), NULL);
		slice_end = now + CP_SLICE_MS * 1000000;
		if (slice_end > end)
			slice_end = end;
		/* Reading the CPU clock costs far less than a slice. */
		while (sl_clock_thread_cpu_ns() < slice_end)
			for (int i = 0; i < 1000; i++)
				x = x * 6364136223846793005ULL + 1;
	}
	msgpack_pack_uint64(out, ms);
	return 0;
}

static int
s_sleep(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	int64_t start = sl_clock_mono_us(), end;
	uint64_t ms = 0;

	if (s_uint_item(item, CP_MAX_MS, &ms, err, "sleep"))
		return -1;
	end = start + (int64_t) ms * 1000;
	for (;;) {
		int64_t left = end - sl_clock_mono_us();
		struct timespec ts;

		if (left <= 0)
			break;
		if (cp_task_stopping(ctx))
			return cp_task_fail(err, "cancelled", "job cancelled");
		sluice_task_progress(
		    ctx, 1.0 - (double) left / (double) (end - start), NULL);
		if (left > CP_SLICE_MS * 1000)
			left = CP_SLICE_MS * 1000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long) left * 1000;
		nanosleep(&ts, NULL);
	}
	msgpack_pack_uint64(out, ms);
	return 0;
}

/* Number of primes <= n: a sieve over odd numbers, one bit each. */
static int
s_primes(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	uint64_t n = 0, count, bits;
	uint8_t *composite;

	if (s_uint_item(item, CP_MAX_PRIMES, &n, err, "primes"))
		return -1;
	if (n < 2) {
		msgpack_pack_uint64(out, 0);
		return 0;
	}
	/* bit i stands for the odd number 2i+1; i = 0 (the 1) is skipped */
	bits = (n - 1) / 2 + 1;
	composite = calloc(bits / 8 + 1, 1);
	if (!composite)
		return cp_task_fail(err, "task_failed", "out of memory");
	for (uint64_t i = 1; (2 * i + 1) * (2 * i + 1) <= n; i++) {
		uint64_t p = 2 * i + 1;

		if (composite[i / 8] & (1u << (i % 8)))
			continue;
		/* Crossing off one prime's multiples takes at most a few ms
		 * (n <= 1e8): a cheap place to notice a cancel. */
		if (cp_task_stopping(ctx)) {
			free(composite);
			return cp_task_fail(err, "cancelled", "job cancelled");
		}
		for (uint64_t j = (p * p) / 2; j < bits; j += p)
			composite[j / 8] |= (uint8_t) (1u << (j % 8));
	}
	count = 1; /* the prime 2 */
	for (uint64_t i = 1; i < bits; i++) {
		if (!(i & 0xfffff) && cp_task_stopping(ctx)) {
			free(composite);
			return cp_task_fail(err, "cancelled", "job cancelled");
		}
		if (!(composite[i / 8] & (1u << (i % 8))))
			count++;
	}
	free(composite);
	msgpack_pack_uint64(out, count);
	return 0;
}

static int
s_sha256(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;

	(void) ctx;
	if (item->type != MSGPACK_OBJECT_STR)
		return cp_task_fail(
		    err, "bad_item", "sha256: item must be a string");
	if (!EVP_Digest(item->via.str.ptr, item->via.str.size, md, &mdlen,
	        EVP_sha256(), NULL))
		return cp_task_fail(
		    err, "task_failed", "sha256: digest failed");
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	msgpack_pack_str_with_body(out, hex, 2 * mdlen);
	return 0;
}

/* A field of the partials item: an integer 0..max, or def if absent. */
static int
s_map_uint(const msgpack_object *item, const char *key, uint64_t max,
    uint64_t def, uint64_t *out)
{
	const msgpack_object_map *m = &item->via.map;

	*out = def;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR
		    || k->via.str.size != strlen(key)
		    || memcmp(k->via.str.ptr, key, k->via.str.size))
			continue;
		if (m->ptr[i].val.type != MSGPACK_OBJECT_POSITIVE_INTEGER
		    || m->ptr[i].val.via.u64 > max)
			return -1;
		*out = m->ptr[i].val.via.u64;
	}
	return 0;
}

/* Emit n partial values 0..n-1 over ms milliseconds (test and demo task:
 * PROTOCOL.md "partial"), reporting progress as it goes. */
static int
s_partials(const msgpack_object *item, msgpack_packer *out, cp_task_err_t *err,
    const cp_task_ctx_t *ctx)
{
	uint64_t n = 0, ms = 0;
	int64_t start = sl_clock_mono_us();
	msgpack_sbuffer sb;
	int rc = 0;

	if (item->type != MSGPACK_OBJECT_MAP
	    || s_map_uint(item, "n", CP_MAX_PARTIALS, 0, &n)
	    || s_map_uint(item, "ms", CP_MAX_MS, 0, &ms))
		return cp_task_fail(err, "bad_item",
		    "partials: item must be {\"n\": 0..%d, \"ms\": 0..%d}",
		    CP_MAX_PARTIALS, CP_MAX_MS);
	msgpack_sbuffer_init(&sb);
	for (uint64_t i = 0; !rc && i < n; i++) {
		msgpack_packer pk;
		int64_t due = start + (int64_t) (ms * 1000 * i / n);
		int64_t now = sl_clock_mono_us();

		if (cp_task_stopping(ctx)) {
			rc = cp_task_fail(err, "cancelled", "job cancelled");
			break;
		}
		if (due > now) {
			struct timespec ts = { (due - now) / 1000000,
				(long) ((due - now) % 1000000) * 1000 };

			nanosleep(&ts, NULL);
		}
		msgpack_sbuffer_clear(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if (msgpack_pack_uint64(&pk, i)
		    || sluice_task_partial(ctx, sb.data, sb.size))
			rc = cp_task_fail(err, "task_failed",
			    "partials: partial %llu refused",
			    (unsigned long long) i);
		else
			sluice_task_progress(
			    ctx, (double) (i + 1) / (double) n, NULL);
	}
	msgpack_sbuffer_destroy(&sb);
	if (!rc)
		msgpack_pack_uint64(out, n);
	return rc;
}

static const cp_task_t s_tasks[] = {
	{ "echo", s_echo, "item: any value; value: the item" },
	{ "burn", s_burn,
	    "item: N ms (0..600000); spends N ms of CPU; value: N" },
	{ "sleep", s_sleep, "item: N ms (0..600000); waits N ms; value: N" },
	{ "primes", s_primes,
	    "item: n (0..100000000); value: number of primes <= n" },
	{ "sha256", s_sha256, "item: string; value: lowercase hex SHA-256" },
	{ "partials", s_partials,
	    "item: {\"n\": N, \"ms\": M}; emits partial values 0..N-1 over "
	    "M ms; value: N" },
};

const cp_task_t *
cp_task_all(size_t *n)
{
	*n = sizeof s_tasks / sizeof s_tasks[0];
	return s_tasks;
}

const cp_task_t *
cp_task_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof s_tasks / sizeof s_tasks[0]; i++)
		if (strlen(s_tasks[i].name) == len
		    && !memcmp(s_tasks[i].name, name, len))
			return &s_tasks[i];
	return NULL;
}
