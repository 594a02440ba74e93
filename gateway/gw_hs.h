/*
 * gw_hs: the WebSocket rules of RFC 6455 that lws 4.1.6 does not enforce
 * itself, checked where the gateway sees the traffic.
 *
 *  - The opening handshake (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION, before
 *    lws writes its 101): a Sec-WebSocket-Version other than 13 (or none)
 *    gets 426 with "Sec-WebSocket-Version: 13" (§4.2.2), a missing or
 *    malformed Sec-WebSocket-Key (not base64 of 16 bytes) gets 400
 *    (§4.2.1). lws itself answers version 8 with a 101 for version 13 and
 *    hashes any key it is given.
 *  - A peer's close frame (LWS_CALLBACK_WS_PEER_INITIATED_CLOSE, before
 *    lws echoes it): lws turns most invalid codes into 1002 but echoes
 *    codes >= 5000; those become 1002 too (§7.4.2), and a 1-byte close
 *    payload (half a code) fails the connection without an echo.
 *  - An "Upgrade: h2c" request (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): lws
 *    would switch that connection to cleartext HTTP/2. The gateway serves
 *    no h2c: the header is ignored and the request answered as HTTP/1.1,
 *    as RFC 9113 §3.2 (RFC 7540) allows a server without h2c to do.
 *
 * The pure checks come first (unit-tested); the lws glue after them.
 * No state of its own (counters are the caller's); lws service thread.
 */
#ifndef GW_HS_H
#define GW_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

/* The outcome of a handshake check; GW_HS_OK lets it through. */
typedef enum gw_hs_verdict {
	GW_HS_OK = 0,
	GW_HS_BAD_VERSION, /* 426 + Sec-WebSocket-Version: 13 */
	GW_HS_BAD_KEY,     /* 400 */
} gw_hs_verdict_t;

/* Refusal counters, for /metrics; the caller owns them. */
typedef struct gw_hs_stats {
	uint64_t bad_version; /* handshakes refused with 426 */
	uint64_t bad_key;     /* handshakes refused with 400 */
	uint64_t bad_close;   /* peer close frames answered with 1002 */
	uint64_t h2c_ignored; /* "Upgrade: h2c" served as HTTP/1.1 */
} gw_hs_stats_t;

/* true if key (NUL-terminated) is base64 of exactly 16 bytes: 22 base64
 * characters then "==" (RFC 6455 §4.1, §11.3.1). */
bool gw_hs_key_ok(const char *key);

/* The verdict for an upgrade's Sec-WebSocket-Version and -Key header
 * values (NULL: header absent). The version is checked first. */
gw_hs_verdict_t gw_hs_check(const char *version, const char *key);

/* true if a peer may send code in a close frame (RFC 6455 §7.4: 1000-1003,
 * 1007-1014, 3000-4999). */
bool gw_hs_close_code_ok(unsigned code);

/*
 * For LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION on an HTTP/1.1 upgrade:
 * 0 to go on, or -1 after writing the 426/400 response and logging
 * CLI-BADHS (the caller returns -1 to lws, which closes). A WebSocket over
 * an HTTP/2 stream (RFC 8441: no key) is not checked here.
 */
int gw_hs_filter(struct lws *wsi, gw_hs_stats_t *st);

/*
 * For LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: in/len is the close payload
 * lws is about to echo; an invalid code in it is rewritten to 1002 (logged
 * CLI-BADCLOSE). Returns what the callback returns: -1 (drop the
 * connection, no echo) for a 1-byte payload, else 0.
 */
int gw_hs_peer_close(
    struct lws *wsi, void *in, size_t len, uint64_t conn, gw_hs_stats_t *st);

/*
 * For LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (in: the Upgrade header's value,
 * which lws reads again after the callback): "h2c" is blanked so that lws
 * serves the request as plain HTTP/1.1. Returns 0 (what the callback
 * returns either way).
 */
int gw_hs_confirm_upgrade(void *in, gw_hs_stats_t *st);

#endif
