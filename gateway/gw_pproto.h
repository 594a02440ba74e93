/*
 * gw_pproto: the client protocol as msgpack maps.
 *
 * Producers (any ZeroMQ DEALER on the producers endpoint) and WebSocket
 * clients of the sluice.msgpack.v1 subprotocol speak the client protocol
 * with msgpack instead of JSON: one ZeroMQ frame, or one binary WebSocket
 * message, holds one msgpack map with the fields of the JSON frame.
 *
 * In: the bytes are validated without allocating (sl_proto_check) before
 * msgpack-c sees them; the map's fields are then checked by the rules of
 * every client frame (gw_cmsg_check), so all transports accept the same
 * requests and refuse the rest with the same codes, plus bad_msgpack.
 * Items and ping data stay msgpack: nothing is converted to JSON (items
 * are repacked for workers as they are and must still have a JSON form,
 * sl_json_mp_check, since a JSON client may watch the request). Out: a
 * gw_out_t is packed as one map; values are copied as msgpack. No state;
 * lws service thread (and unit tests).
 */
#ifndef GW_PPROTO_H
#define GW_PPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "gw_cmsg.h"
#include "gw_out.h"

#define GW_PPROTO_VERSION 1    /* producer protocol, docs/PROTOCOL.md §3 */
#define GW_PPROTO_MAX_DEPTH 16 /* nesting of a whole frame */

/*
 * Parse one msgpack client frame (untrusted bytes). Returns 0 with *out
 * filled (caller calls gw_cmsg_clear), or -1 with *err filled and nothing
 * to free. Codes: bad_msgpack (not exactly one msgpack object, or nested
 * deeper than GW_PPROTO_MAX_DEPTH), bad_message (not a map; a key that is
 * not a string; a known key twice), bad_item (an item without JSON form,
 * or nested deeper than SL_PROTO_MAX_ITEM_DEPTH), then every
 * gw_cmsg_check code. *out borrows from data (msgpack-c reads strings in
 * place): keep data until gw_cmsg_clear.
 */
int gw_pproto_parse(const void *data, size_t len, size_t max_items,
    gw_cmsg_t *out, gw_cmsg_err_t *err);

/* Append f as one msgpack map to sb. 0 or SL_ENOMEM. */
int gw_pproto_encode(const gw_out_t *f, msgpack_sbuffer *sb);

/*
 * A frame that came to the workers endpoint and is not a worker's: if it
 * is a producer's (a msgpack map with a type), someone pointed a producer
 * such as sluice-submit at the wrong endpoint. Encode (into sb) its answer,
 * the request error wrong_endpoint, instead of leaving it to wait: true
 * if it was one.
 */
bool gw_pproto_wrong_endpoint(
    const void *data, size_t len, size_t max_items, msgpack_sbuffer *sb);

#endif
