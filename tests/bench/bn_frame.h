/*
 * bn_frame: read the gateway's frames (result, error, done, accepted,
 * pong) into the few fields sluice-bench needs, from JSON text or, for
 * the sluice.msgpack.v1 subprotocol, from msgpack.
 *
 * Two parsers with one output: a scanner that walks the top-level object
 * once without allocating (values it does not need, such as "value", are
 * skipped, not decoded), and jansson. The scanner refuses anything
 * unusual (escapes in the fields it reads, non-integer numbers) with -1,
 * and the caller then uses jansson; --parser jansson forces jansson for
 * every frame, to measure what full parsing costs. No state; any thread.
 */
#ifndef BN_FRAME_H
#define BN_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	BN_F_OTHER = 0,
	BN_F_ACCEPTED,
	BN_F_RESULT,
	BN_F_ERROR, /* has_seq: an item error; else the request was refused */
	BN_F_DONE,
	BN_F_PONG,
} bn_ftype_t;

#define BN_FRAME_MAX_ID 64 /* the protocol's limit on request ids */

typedef struct bn_frame {
	bn_ftype_t type;
	char id[BN_FRAME_MAX_ID + 1]; /* "" if absent */
	int has_seq;
	int64_t seq;
	int has_t_done;
	int64_t t_done_us;
	int has_data; /* pong: data was an integer */
	int64_t data;
	char code[33]; /* error code, "" if absent */
} bn_frame_t;

/* Scan text[0..len) (one JSON object). 0, or -1 if it needs jansson. */
int bn_frame_scan(const char *text, size_t len, bn_frame_t *out);

/* Parse with jansson. 0, or -1 if the text is not a JSON object. */
int bn_frame_parse_jansson(const char *text, size_t len, bn_frame_t *out);

/* Parse one msgpack map (sluice.msgpack.v1) with msgpack-c. 0, or -1 if
 * the bytes are not one msgpack map. */
int bn_frame_parse_mp(const void *data, size_t len, bn_frame_t *out);

#endif
