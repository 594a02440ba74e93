/*
 * gw_hs: RFC 6455 checks lws 4.1.6 leaves out (see gw_hs.h). lws service
 * thread only.
 */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_hs.h"
#include "sl_log.h"

/* Header values longer than this are malformed for both headers we read
 * (a key is 24 characters, a version 2). */
#define GW_HS_HDR_MAX 64

bool
gw_hs_key_ok(const char *key)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";

	if (!key || strlen(key) != 24 || strcmp(key + 22, "=="))
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!strchr(b64, key[i]) || !key[i])
			return false;
	return true;
}

gw_hs_verdict_t
gw_hs_check(const char *version, const char *key)
{
	if (!version || strcmp(version, "13"))
		return GW_HS_BAD_VERSION;
	if (!gw_hs_key_ok(key))
		return GW_HS_BAD_KEY;
	return GW_HS_OK;
}

bool
gw_hs_close_code_ok(unsigned code)
{
	/* 1004 is reserved, 1005, 1006 and 1015 must never be sent,
	 * 1016-2999 belong to future RFCs, 3000-4999 to libraries and
	 * applications; nothing above. */
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
	    || (code >= 3000 && code <= 4999);
}

/* A header's value into buf (NULL if absent; "?" if too long to be
 * valid, which no check accepts). */
static const char *
s_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t cap)
{
	int n;

	if (!lws_hdr_total_length(wsi, tok))
		return NULL;
	n = lws_hdr_copy(wsi, buf, (int) cap, tok);
	return n < 0 ? "?" : buf;
}

int
gw_hs_filter(struct lws *wsi, gw_hs_stats_t *st)
{
	char version[GW_HS_HDR_MAX], key[GW_HS_HDR_MAX], peer[64] = "?";
	const char *v, *k;

	/* RFC 8441 (WebSocket over an HTTP/2 stream) has no key and no
	 * Upgrade; lws checks that form itself. */
	if (lws_get_network_wsi(wsi) != wsi)
		return 0;
	v = s_header(wsi, WSI_TOKEN_VERSION, version, sizeof version);
	k = s_header(wsi, WSI_TOKEN_KEY, key, sizeof key);
	switch (gw_hs_check(v, k)) {
	case GW_HS_OK:
		return 0;
	case GW_HS_BAD_VERSION:
		st->bad_version++;
		lws_get_peer_simple(wsi, peer, sizeof peer);
		SL_NOTICE("CLI-BADHS", "peer=%s status=426 version=%.8s", peer,
		    v ? v : "(none)");
		return gw_auth_refuse_ex(wsi, 426,
		    "sec-websocket-version: 13\r\n",
		    "upgrade required: this server speaks WebSocket version "
		    "13 (RFC 6455)");
	case GW_HS_BAD_KEY:
	default:
		st->bad_key++;
		lws_get_peer_simple(wsi, peer, sizeof peer);
		SL_NOTICE("CLI-BADHS", "peer=%s status=400 key=%s", peer,
		    k ? "malformed" : "(none)");
		return gw_auth_refuse_ex(wsi, HTTP_STATUS_BAD_REQUEST, "",
		    "bad request: Sec-WebSocket-Key must be the base64 of 16 "
		    "bytes");
	}
}

int
gw_hs_peer_close(
    struct lws *wsi, void *in, size_t len, uint64_t conn, gw_hs_stats_t *st)
{
	uint8_t *p = in;
	unsigned code;

	(void) wsi;
	if (len == 0)
		return 0; /* a close without a code is valid; echoed empty */
	if (len == 1) {
		st->bad_close++;
		SL_NOTICE("CLI-BADCLOSE",
		    "conn=%" PRIu64 " close payload of 1 byte: dropped", conn);
		return -1;
	}
	code = (unsigned) p[0] << 8 | p[1];
	/* lws has already turned the other invalid codes into 1002. */
	if (gw_hs_close_code_ok(code) || code == LWS_CLOSE_STATUS_PROTOCOL_ERR)
		return 0;
	st->bad_close++;
	SL_NOTICE("CLI-BADCLOSE", "conn=%" PRIu64 " code=%u: answered 1002",
	    conn, code);
	p[0] = (uint8_t) (LWS_CLOSE_STATUS_PROTOCOL_ERR >> 8);
	p[1] = (uint8_t) (LWS_CLOSE_STATUS_PROTOCOL_ERR & 0xff);
	return 0;
}

int
gw_hs_confirm_upgrade(void *in, gw_hs_stats_t *st)
{
	char *up = in;

	/* lws 4.1.6 (lws_handshake_server) compares this same string with
	 * "websocket" and "h2c" after the callback; empty matches neither,
	 * and the request goes on as plain HTTP/1.1. */
	if (up && !strcasecmp(up, "h2c")) {
		st->h2c_ignored++;
		SL_INFO("CLI-H2C", "Upgrade: h2c ignored: served as HTTP/1.1");
		up[0] = '\0';
	}
	return 0;
}
