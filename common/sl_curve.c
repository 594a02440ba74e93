/*
 * sl_curve: CurveZMQ keys and socket setup (see sl_curve.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "sl_curve.h"
#include "sl_err.h"
#include "sl_lines.h"

bool
sl_curve_key_valid(const char *s)
{
	uint8_t bin[32];

	return s && strlen(s) == SL_CURVE_KEY_LEN - 1
	    && zmq_z85_decode(bin, s) != NULL;
}

int
sl_curve_keypair_new(sl_curve_keypair_t *out)
{
	return zmq_curve_keypair(out->public_key, out->secret_key) ? SL_ESYS
	                                                           : 0;
}

/* What the first entry of a secret key file was. */
typedef struct sl_curve_read {
	sl_curve_keypair_t *out;
	const char *why; /* NULL: the key is in out */
} sl_curve_read_t;

/* sl_lines_fn: the first entry is the secret key; the rest is not read. */
static int
s_read_key_line(void *arg, char *s, size_t len, char *why, size_t whylen)
{
	sl_curve_read_t *r = arg;

	(void) len;
	(void) why;
	(void) whylen;
	if (!sl_curve_key_valid(s)) {
		r->why = "not a Z85 key (40 characters)";
		return SL_LINES_STOP;
	}
	memcpy(r->out->secret_key, s, SL_CURVE_KEY_LEN);
	r->why = zmq_curve_public(r->out->public_key, r->out->secret_key)
	    ? "cannot derive the public key"
	    : NULL;
	return SL_LINES_STOP;
}

int
sl_curve_read_secret_file(const char *path, sl_curve_keypair_t *out,
    bool *loose, char *err, size_t errlen)
{
	sl_curve_read_t r = { out, "no key in the file" };
	struct stat st;
	int rc;

	/* A key, and room for white space around it. */
	rc = sl_lines_read(path, 254, s_read_key_line, &r, err, errlen);
	if (rc)
		return rc;
	if (r.why) {
		snprintf(err, errlen, "%s: %s", path, r.why);
		return SL_EINVAL;
	}
	*loose = !stat(path, &st) && (st.st_mode & 077);
	return 0;
}

int
sl_curve_write_secret_file(
    const char *path, const sl_curve_keypair_t *kp, char *err, size_t errlen)
{
	char text[160];
	int fd, n;

	n = snprintf(text, sizeof text,
	    "# sluice CURVE secret key; public key: %s\n%s\n", kp->public_key,
	    kp->secret_key);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_ESYS;
	}
	if (write(fd, text, (size_t) n) != n || close(fd)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_ESYS;
	}
	return 0;
}

int
sl_curve_server_setup(
    void *sock, const sl_curve_keypair_t *server, const char *zap_domain)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one)
	    || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, server->secret_key,
	        SL_CURVE_KEY_LEN)
	    || zmq_setsockopt(
	        sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)))
		return SL_ESYS;
	return 0;
}

int
sl_curve_client_setup(
    void *sock, const char *server_key, const sl_curve_keypair_t *self)
{
	if (zmq_setsockopt(
	        sock, ZMQ_CURVE_SERVERKEY, server_key, SL_CURVE_KEY_LEN)
	    || zmq_setsockopt(
	        sock, ZMQ_CURVE_PUBLICKEY, self->public_key, SL_CURVE_KEY_LEN)
	    || zmq_setsockopt(
	        sock, ZMQ_CURVE_SECRETKEY, self->secret_key, SL_CURVE_KEY_LEN))
		return SL_ESYS;
	return 0;
}
