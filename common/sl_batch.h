/*
 * sl_batch: BATCH, several worker-protocol messages in one ZeroMQ frame.
 *
 * A BATCH is an ordinary frame [1, "BATCH", {"msgs": [bin, ...]}] whose
 * entries are whole, ordinary frames (READY, RESULT, JOB, ... or types
 * this build does not know yet), one per bin, never a BATCH. A receiver
 * handles the entries in order as if each had come alone, so a batch
 * carries any message without knowing its fields. An empty BATCH says
 * "I take batches" (PROTOCOL.md §2, "Batches"): no peer sends one to a
 * peer that has not said so, so older gateways and workers never see one.
 *
 * Senders build with sl_batch_t: add frames while sl_batch_fits, then
 * take sl_batch_frame, which is the lone frame itself when only one was
 * added (a batch of one costs nothing and needs nothing of the peer).
 * Receivers check sl_batch_is before sl_proto_decode (which does not know
 * the type), then walk the entries with a reader; bytes are hostile: the
 * frame is validated as sl_proto_decode validates, at most
 * SL_BATCH_MAX_MSGS entries, and an entry that is not a bin is reported
 * alone (the others still count).
 *
 * No shared state; any thread, one object per thread.
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define SL_BATCH_MAX_MSGS 256 /* entries in one BATCH, both ways */
/* What a sender puts in one BATCH at most: well under the default
 * --max-frame-bytes (1 MiB), so a batch never costs a connection; a
 * frame larger than this goes alone. */
#define SL_BATCH_MAX_BYTES (256 * 1024)

typedef struct sl_batch {
	msgpack_sbuffer sb; /* the BATCH frame being built */
	size_t n;           /* entries added */
	size_t first_off;   /* where the first entry's bytes start in sb */
	size_t first_len;   /* ... and how many */
} sl_batch_t;

/* An empty batch; pair with sl_batch_destroy. */
void sl_batch_init(sl_batch_t *b);
void sl_batch_destroy(sl_batch_t *b);
/* Empty it again, keeping its memory. */
void sl_batch_clear(sl_batch_t *b);

/* Entries added since the last clear. */
size_t sl_batch_count(const sl_batch_t *b);

/* A frame of len bytes may be added without passing either limit. An
 * empty batch takes any frame. */
bool sl_batch_fits(const sl_batch_t *b, size_t len);

/* Append one whole frame (copied): 0, or SL_ENOMEM. */
int sl_batch_add(sl_batch_t *b, const void *frame, size_t len);

/* What to send for the entries added (at least one): the frame itself
 * when there is one, else the BATCH. Borrowed until the next change. */
void sl_batch_frame(sl_batch_t *b, const void **data, size_t *len);

/* Append an empty BATCH (the announcement) to sb: 0, or SL_ENOMEM. */
int sl_batch_encode_empty(msgpack_sbuffer *sb);

/* The frame says it is a BATCH (array of 3, version 1, type "BATCH");
 * cheap, reads a few bytes. Whether it is well formed is sl_batch_open's
 * to say. */
bool sl_batch_is(const void *data, size_t len);

typedef struct sl_batch_reader {
	msgpack_unpacked up;        /* owns msgs; points into the frame */
	const msgpack_object *msgs; /* the entries */
	uint32_t n;                 /* how many */
	uint32_t i;                 /* the next one */
} sl_batch_reader_t;

/*
 * Open a BATCH frame (keep data alive while reading): 0; SL_EPROTO
 * (malformed, or msgs missing or not an array), SL_EVERSION, SL_ETYPE
 * (not a BATCH) or SL_ETOOBIG (more than SL_BATCH_MAX_MSGS entries), with
 * *why set to a static reason. Close it whatever it returned.
 */
int sl_batch_open(
    sl_batch_reader_t *r, const void *data, size_t len, const char **why);

/* The next entry's bytes: 1; 0 at the end; SL_EPROTO for an entry that
 * is not a bin (skipped: call again for the rest). */
int sl_batch_next(sl_batch_reader_t *r, const void **data, size_t *len);

/* Free what open allocated; NULL-safe, idempotent. */
void sl_batch_close(sl_batch_reader_t *r);

#endif
