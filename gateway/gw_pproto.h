/*
 * gw_pproto: the producer protocol: client frames as msgpack maps.
 *
 * A producer (any ZeroMQ DEALER on the producers endpoint) speaks the
 * client protocol with msgpack instead of JSON: one ZeroMQ frame holds one
 * msgpack map with the fields of the JSON frame. In: the bytes are
 * validated without allocating (sl_proto_check) before msgpack-c sees
 * them, converted to JSON values (sl_json_from_mp: no ext, NaN, duplicate
 * keys, ...) and checked exactly like a WebSocket client's frame
 * (gw_cmsg_parse_value), so both transports accept the same requests and
 * refuse the rest with the same codes, plus bad_msgpack. Out: a gateway
 * frame (jansson) becomes one msgpack map. No state; lws service thread
 * (and unit tests).
 */
#ifndef GW_PPROTO_H
#define GW_PPROTO_H

#include <stddef.h>

#include <jansson.h>
#include <msgpack.h>

#include "gw_cproto.h"

#define GW_PPROTO_VERSION 1    /* producer protocol, docs/PROTOCOL.md §3 */
#define GW_PPROTO_MAX_DEPTH 16 /* nesting of a whole frame */
#define GW_PPROTO_OUT_DEPTH 32 /* nesting of a frame we send */

/*
 * Parse one producer frame (untrusted bytes). Returns 0 with *out filled
 * (caller calls gw_cmsg_clear), or -1 with *err filled and nothing to
 * free. Codes: bad_msgpack (not exactly one msgpack object, or nested
 * deeper than GW_PPROTO_MAX_DEPTH), bad_message (not a map; a key that is
 * not a UTF-8 string; a repeated key; a field without JSON form),
 * bad_item (an item without JSON form), then every gw_cmsg_parse code.
 */
int gw_pproto_parse(const void *data, size_t len, size_t max_items,
    gw_cmsg_t *out, gw_cerr_t *err);

/* Append frame as one msgpack map to sb. 0, SL_ETOOBIG or SL_ENOMEM. */
int gw_pproto_encode(const json_t *frame, msgpack_sbuffer *sb);

#endif
