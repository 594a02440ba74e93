/*
 * gw_auth: bearer tokens and Origin allow-list (see gw_auth.h). Set up on
 * the main thread; lws service thread afterwards.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gw_auth.h"
#include "sl_err.h"
#include "sl_lines.h"
#include "sl_log.h"

#define GW_AUTH_DIGEST 32 /* SHA-256 */

struct gw_auth {
	uint8_t (*digests)[GW_AUTH_DIGEST]; /* of the tokens, never the text */
	size_t n_tokens, cap_tokens;
	char **origins; /* normalised: lower case, no trailing '/' */
	size_t n_origins;
	bool allow_no_origin; /* a request without Origin passes */
	bool metrics_token;   /* /metrics asks for a token too */
	gw_auth_stats_t stats;
};

gw_auth_t *
gw_auth_new(void)
{
	gw_auth_t *self = calloc(1, sizeof *self);

	if (self)
		self->allow_no_origin = true;
	return self;
}

void
gw_auth_destroy(gw_auth_t **self_p)
{
	gw_auth_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	if (self->digests)
		OPENSSL_cleanse(
		    self->digests, self->cap_tokens * sizeof self->digests[0]);
	free(self->digests);
	for (size_t i = 0; i < self->n_origins; i++)
		free(self->origins[i]);
	free(self->origins);
	free(self);
	*self_p = NULL;
}

static int
s_digest(const void *data, size_t len, uint8_t out[GW_AUTH_DIGEST])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)
	    || n != GW_AUTH_DIGEST)
		return SL_ENOMEM;
	return 0;
}

bool
gw_auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t da[GW_AUTH_DIGEST], db[GW_AUTH_DIGEST];

	/* Digests first: equal-length inputs for CRYPTO_memcmp whatever the
	 * lengths, and no early exit on the first differing byte. */
	if (s_digest(a, alen, da) || s_digest(b, blen, db))
		return false;
	return (CRYPTO_memcmp(da, db, sizeof da) == 0) & (alen == blen);
}

/* Token rules: printable ASCII without space or comma, bounded length. */
static int
s_token_check(const char *tok, size_t len, char *err, size_t errlen)
{
	if (len < GW_AUTH_TOKEN_MIN || len > GW_AUTH_TOKEN_MAX) {
		snprintf(err, errlen,
		    "a token of %zu characters (need %d..%d)", len,
		    GW_AUTH_TOKEN_MIN, GW_AUTH_TOKEN_MAX);
		return SL_EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if (tok[i] <= ' ' || tok[i] > '~' || tok[i] == ',') {
			snprintf(err, errlen,
			    "a token with a character other than printable "
			    "ASCII (no space or comma) at position %zu",
			    i + 1);
			return SL_EINVAL;
		}
	return 0;
}

static int
s_add_token(
    gw_auth_t *self, const char *tok, size_t len, char *err, size_t errlen)
{
	int rc = s_token_check(tok, len, err, errlen);

	if (rc)
		return rc;
	if (self->n_tokens == self->cap_tokens) {
		size_t cap = self->cap_tokens ? self->cap_tokens * 2 : 8;
		void *p
		    = realloc(self->digests, cap * sizeof self->digests[0]);

		if (!p) {
			snprintf(err, errlen, "out of memory");
			return SL_ENOMEM;
		}
		self->digests = p;
		self->cap_tokens = cap;
	}
	if (s_digest(tok, len, self->digests[self->n_tokens])) {
		snprintf(err, errlen, "SHA-256 unavailable");
		return SL_ENOMEM;
	}
	self->n_tokens++;
	return 0;
}

static const char *
s_trim(const char *s, const char *end, size_t *len)
{
	while (s < end && isspace((unsigned char) *s))
		s++;
	while (end > s && isspace((unsigned char) end[-1]))
		end--;
	*len = (size_t) (end - s);
	return s;
}

/* sl_lines_fn: one token of a list or a file. */
static int
s_add_token_entry(void *self, char *tok, size_t len, char *why, size_t whylen)
{
	return s_add_token(self, tok, len, why, whylen);
}

int
gw_auth_add_tokens(gw_auth_t *self, const char *csv, char *err, size_t errlen)
{
	return sl_lines_csv(csv, s_add_token_entry, self, err, errlen);
}

int
gw_auth_load_tokens_file(
    gw_auth_t *self, const char *path, char *err, size_t errlen)
{
	/* Room for a token and some white space around it. */
	return sl_lines_read(path, GW_AUTH_TOKEN_MAX + 62, s_add_token_entry,
	    self, err, errlen);
}

/* Lower case, without one trailing '/'; out has GW_AUTH_ORIGIN_MAX. */
static int
s_origin_norm(const char *s, size_t len, char *out)
{
	if (len && s[len - 1] == '/')
		len--;
	if (!len || len >= GW_AUTH_ORIGIN_MAX)
		return SL_EINVAL;
	for (size_t i = 0; i < len; i++)
		out[i] = (char) tolower((unsigned char) s[i]);
	out[len] = '\0';
	return 0;
}

/* sl_lines_fn: one origin of the list. */
static int
s_add_origin_entry(void *arg, char *o, size_t len, char *err, size_t errlen)
{
	gw_auth_t *self = arg;
	char norm[GW_AUTH_ORIGIN_MAX];
	char **v;

	/* "null" is what sandboxed pages and file:// send. */
	if (s_origin_norm(o, len, norm)
	    || (strcmp(norm, "null") && !strstr(norm, "://"))) {
		snprintf(err, errlen,
		    "origin '%.*s' is not scheme://host[:port]",
		    (int) (len > 80 ? 80 : len), o);
		return SL_EINVAL;
	}
	v = realloc(self->origins, (self->n_origins + 1) * sizeof *v);
	if (!v || !(v[self->n_origins] = strdup(norm))) {
		if (v)
			self->origins = v;
		snprintf(err, errlen, "out of memory");
		return SL_ENOMEM;
	}
	self->origins = v;
	self->n_origins++;
	return 0;
}

int
gw_auth_add_origins(gw_auth_t *self, const char *csv, char *err, size_t errlen)
{
	return sl_lines_csv(csv, s_add_origin_entry, self, err, errlen);
}

void
gw_auth_set_allow_no_origin(gw_auth_t *self, bool allow)
{
	self->allow_no_origin = allow;
}

void
gw_auth_set_metrics_token(gw_auth_t *self, bool required)
{
	self->metrics_token = required;
}

size_t
gw_auth_n_tokens(const gw_auth_t *self)
{
	return self ? self->n_tokens : 0;
}

size_t
gw_auth_n_origins(const gw_auth_t *self)
{
	return self ? self->n_origins : 0;
}

bool
gw_auth_metrics_token(const gw_auth_t *self)
{
	return self && self->metrics_token && self->n_tokens;
}

void
gw_auth_stats(const gw_auth_t *self, gw_auth_stats_t *out)
{
	if (self)
		*out = self->stats;
	else
		memset(out, 0, sizeof *out);
}

void
gw_auth_carry_stats(gw_auth_t *to, const gw_auth_t *from)
{
	if (to && from)
		to->stats = from->stats;
}

bool
gw_auth_token_ok(const gw_auth_t *self, const char *tok, size_t len)
{
	uint8_t d[GW_AUTH_DIGEST];
	int found = 0;

	if (!self->n_tokens)
		return true;
	if (!tok || len > GW_AUTH_TOKEN_MAX || s_digest(tok, len, d))
		return false;
	/* Every stored digest, always: the time depends only on how many
	 * tokens there are, not on which (if any) matches. */
	for (size_t i = 0; i < self->n_tokens; i++)
		found |= CRYPTO_memcmp(d, self->digests[i], sizeof d) == 0;
	return found;
}

bool
gw_auth_origin_ok(const gw_auth_t *self, const char *origin)
{
	char norm[GW_AUTH_ORIGIN_MAX];

	if (!self->n_origins)
		return true;
	if (!origin)
		return self->allow_no_origin;
	if (s_origin_norm(origin, strlen(origin), norm))
		return false;
	for (size_t i = 0; i < self->n_origins; i++)
		if (!strcmp(norm, self->origins[i]))
			return true;
	return false;
}

int
gw_auth_parse_bearer(
    const char *hdr, size_t len, const char **tok, size_t *tok_len)
{
	const char *end = hdr + len;

	while (hdr < end && *hdr == ' ')
		hdr++;
	if ((size_t) (end - hdr) < 7 || strncasecmp(hdr, "bearer", 6)
	    || hdr[6] != ' ')
		return SL_EINVAL;
	*tok = s_trim(hdr + 7, end, tok_len);
	return *tok_len ? 0 : SL_EINVAL;
}

bool
gw_auth_host_is_loopback(const char *host)
{
	if (!strcasecmp(host, "localhost") || !strcmp(host, "::1")
	    || !strcmp(host, "[::1]"))
		return true;
	/* 127.0.0.0/8, written as a dotted quad */
	return !strncmp(host, "127.", 4)
	    && strspn(host, "0123456789.") == strlen(host);
}

bool
gw_auth_endpoint_is_local(const char *endpoint)
{
	char host[256];
	const char *colon;
	size_t n;

	if (!strncmp(endpoint, "ipc://", 6)
	    || !strncmp(endpoint, "inproc://", 9))
		return true;
	if (strncmp(endpoint, "tcp://", 6))
		return false; /* pgm, ws, ...: treat as reachable */
	endpoint += 6;
	colon = strrchr(endpoint, ':');
	n = colon ? (size_t) (colon - endpoint) : strlen(endpoint);
	if (n >= sizeof host)
		return false;
	memcpy(host, endpoint, n);
	host[n] = '\0';
	return gw_auth_host_is_loopback(host);
}

/* ---- lws glue ---------------------------------------------------------- */

/*
 * Write a complete refusal (status, one-line body, WWW-Authenticate on a
 * 401) while lws is still in HTTP. The caller then returns -1, and lws
 * closes the connection.
 *
 * The response is written by hand: at this point of an upgrade lws 4.1.6
 * has not recorded the request's HTTP version yet, so its header helpers
 * answer "HTTP/1.0", which WebSocket client libraries (python websockets)
 * reject as an invalid response instead of reporting the status.
 */
/* The reason phrase of the statuses a refusal uses. */
static const char *
s_reason(unsigned status)
{
	switch (status) {
	case HTTP_STATUS_BAD_REQUEST:
		return "Bad Request";
	case HTTP_STATUS_UNAUTHORIZED:
		return "Unauthorized";
	case HTTP_STATUS_FORBIDDEN:
		return "Forbidden";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	default:
		return "Service Unavailable";
	}
}

int
gw_auth_refuse(struct lws *wsi, unsigned status, const char *why)
{
	return gw_auth_refuse_ex(wsi, status,
	    status == HTTP_STATUS_UNAUTHORIZED
	        ? "www-authenticate: Bearer realm=\"sluice\"\r\n"
	        : "",
	    why);
}

int
gw_auth_refuse_ex(
    struct lws *wsi, unsigned status, const char *headers, const char *why)
{
	uint8_t buf[LWS_PRE + 512], *start = buf + LWS_PRE;
	int n;

	n = snprintf((char *) start, sizeof buf - LWS_PRE,
	    "HTTP/1.1 %u %s\r\n"
	    "content-type: text/plain; charset=utf-8\r\n"
	    "content-length: %zu\r\n"
	    "%s"
	    "x-content-type-options: nosniff\r\n"
	    "cache-control: no-store\r\n"
	    "connection: close\r\n\r\n%s\n",
	    status, s_reason(status), strlen(why) + 1, headers, why);
	if (n < 0 || (size_t) n >= sizeof buf - LWS_PRE)
		return -1;
	/* One small write to a fresh socket goes out whole before lws
	 * closes the connection on our -1. */
	lws_write(wsi, start, (size_t) n, LWS_WRITE_HTTP_HEADERS);
	return -1;
}

/* The token a request presents (header first, then the query), copied
 * into buf; its length, or 0 if none. */
static size_t
s_request_token(struct lws *wsi, char *buf, size_t cap)
{
	char hdr[GW_AUTH_TOKEN_MAX + 32], arg[GW_AUTH_TOKEN_MAX + 32];
	const char *tok, *v;
	size_t len = 0;
	int n;

	n = lws_hdr_copy(
	    wsi, hdr, (int) sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 0 && !gw_auth_parse_bearer(hdr, (size_t) n, &tok, &len)
	    && len < cap) {
		memcpy(buf, tok, len);
	} else {
		len = 0;
		v = lws_get_urlarg_by_name(
		    wsi, GW_AUTH_QUERY_NAME "=", arg, (int) sizeof arg);
		if (v && strlen(v) < cap) {
			len = strlen(v);
			memcpy(buf, v, len);
		}
	}
	OPENSSL_cleanse(hdr, sizeof hdr);
	OPENSSL_cleanse(arg, sizeof arg);
	return len;
}

static bool
s_token_ok(gw_auth_t *self, struct lws *wsi, const char **why)
{
	char tok[GW_AUTH_TOKEN_MAX + 1];
	size_t len = s_request_token(wsi, tok, sizeof tok);
	bool ok = len && gw_auth_token_ok(self, tok, len);

	OPENSSL_cleanse(tok, sizeof tok);
	*why = len ? "bad_token" : "no_token";
	return ok;
}

int
gw_auth_filter_ws(gw_auth_t *self, struct lws *wsi)
{
	char origin[GW_AUTH_ORIGIN_MAX], peer[64] = "?";
	const char *why;
	int n;

	if (!self || (!self->n_tokens && !self->n_origins))
		return 0;
	n = lws_hdr_copy(wsi, origin, (int) sizeof origin, WSI_TOKEN_ORIGIN);
	if (self->n_origins
	    && !gw_auth_origin_ok(self, n > 0 ? origin : NULL)) {
		lws_get_peer_simple(wsi, peer, sizeof peer);
		self->stats.denied_origin++;
		SL_NOTICE("CLI-DENIED",
		    "peer=%s status=403 reason=bad_origin origin=\"%.80s\"",
		    peer, n > 0 ? origin : "");
		return gw_auth_refuse(wsi, HTTP_STATUS_FORBIDDEN,
		    "forbidden: origin not allowed");
	}
	if (self->n_tokens && !s_token_ok(self, wsi, &why)) {
		lws_get_peer_simple(wsi, peer, sizeof peer);
		self->stats.denied_token++;
		SL_NOTICE(
		    "CLI-DENIED", "peer=%s status=401 reason=%s", peer, why);
		return gw_auth_refuse(wsi, HTTP_STATUS_UNAUTHORIZED,
		    "unauthorized: a valid bearer token is required");
	}
	return 0;
}

bool
gw_auth_token_id(
    const gw_auth_t *self, struct lws *wsi, uint8_t id[GW_AUTH_ID_LEN])
{
	char tok[GW_AUTH_TOKEN_MAX + 1];
	size_t len;
	bool ok;

	if (!self || !self->n_tokens)
		return false;
	len = s_request_token(wsi, tok, sizeof tok);
	ok = len && gw_auth_token_ok(self, tok, len)
	    && !s_digest(tok, len, id);
	OPENSSL_cleanse(tok, sizeof tok);
	return ok;
}

int
gw_auth_filter_http(gw_auth_t *self, struct lws *wsi)
{
	char peer[64] = "?";
	const char *why;

	if (!gw_auth_metrics_token(self) || s_token_ok(self, wsi, &why))
		return 0;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	self->stats.denied_token++;
	SL_NOTICE("CLI-DENIED", "peer=%s status=401 reason=%s path=/metrics",
	    peer, why);
	return gw_auth_refuse(wsi, HTTP_STATUS_UNAUTHORIZED,
	    "unauthorized: a valid bearer token is required");
}
