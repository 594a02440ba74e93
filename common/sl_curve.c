/*
 * sl_curve: CurveZMQ keys and socket setup (see sl_curve.h).
 */
#include <ctype.h>
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

int
sl_curve_read_secret_file(const char *path, sl_curve_keypair_t *out,
    bool *loose, char *err, size_t errlen)
{
	char line[256];
	struct stat st;
	FILE *f = fopen(path, "r");
	int rc = SL_EINVAL;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_EINVAL;
	}
	*loose = !fstat(fileno(f), &st) && (st.st_mode & 077);
	snprintf(err, errlen, "%s: no key in the file", path);
	while (fgets(line, sizeof line, f)) {
		char *s = line, *e = line + strlen(line);

		while (*s && isspace((unsigned char) *s))
			s++;
		while (e > s && isspace((unsigned char) e[-1]))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		if (!sl_curve_key_valid(s)) {
			snprintf(err, errlen,
			    "%s: not a Z85 key (40 characters)", path);
			break;
		}
		memcpy(out->secret_key, s, SL_CURVE_KEY_LEN);
		if (zmq_curve_public(out->public_key, out->secret_key)) {
			snprintf(err, errlen,
			    "%s: cannot derive the public key", path);
			break;
		}
		rc = 0;
		break;
	}
	memset(line, 0, sizeof line);
	fclose(f);
	return rc;
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
