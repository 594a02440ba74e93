/*
 * fuzz_batch: libFuzzer target for the BATCH reader (sl_batch_is,
 * sl_batch_open, sl_batch_next), what the gateway and workers do with a
 * BATCH frame before each entry goes to sl_proto_decode.
 *
 * Beyond "no crash, no leak", it checks the contract: an opened batch has
 * at most SL_BATCH_MAX_MSGS entries, every entry lies inside the input,
 * and the entries that decode, put into a new batch with sl_batch_t, read
 * back the same bytes in the same order. Single threaded; run by
 * tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_batch.h"
#include "sl_err.h"
#include "sl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read b's frame back: the same n entries as ptr/len, in order. */
static void
s_check_round_trip(
    sl_batch_t *b, const void **ptr, const size_t *len, size_t n)
{
	sl_batch_reader_t r;
	const void *frame, *e;
	size_t flen, elen;

	if (!n)
		return;
	sl_batch_frame(b, &frame, &flen);
	if (n == 1) { /* a batch of one is the frame itself */
		if (flen != len[0] || memcmp(frame, ptr[0], flen))
			abort();
		return;
	}
	if (!sl_batch_is(frame, flen) || sl_batch_open(&r, frame, flen, NULL))
		abort();
	for (size_t i = 0; i < n; i++)
		if (sl_batch_next(&r, &e, &elen) != 1 || elen != len[i]
		    || memcmp(e, ptr[i], elen))
			abort();
	if (sl_batch_next(&r, &e, &elen) != 0)
		abort();
	sl_batch_close(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const void *ptr[SL_BATCH_MAX_MSGS];
	static size_t len[SL_BATCH_MAX_MSGS];
	sl_batch_reader_t r;
	sl_batch_t b;
	const char *why = NULL;
	const void *e;
	size_t elen, n = 0;
	int rc;

	if (!sl_batch_is(data, size))
		return 0;
	rc = sl_batch_open(&r, data, size, &why);
	if (rc) {
		if (!why)
			abort();
		sl_batch_close(&r);
		return 0;
	}
	if (r.n > SL_BATCH_MAX_MSGS)
		abort();
	sl_batch_init(&b);
	while ((rc = sl_batch_next(&r, &e, &elen))) {
		sl_msg_t m;

		if (rc < 0)
			continue;
		if ((const uint8_t *) e < data
		    || (const uint8_t *) e + elen > data + size)
			abort();
		sl_proto_msg_init(&m);
		if (!sl_proto_decode(e, elen, &m, NULL)
		    && sl_batch_fits(&b, elen) && !sl_batch_add(&b, e, elen)) {
			ptr[n] = e;
			len[n++] = elen;
		}
		sl_proto_msg_clear(&m);
	}
	s_check_round_trip(&b, ptr, len, n);
	sl_batch_destroy(&b);
	sl_batch_close(&r);
	return 0;
}
