/*
 * sl_curve: CurveZMQ keys and socket setup, for every ZeroMQ endpoint.
 *
 * Keys are Z85 text (40 characters; SL_CURVE_KEY_LEN with the NUL). A
 * secret key file holds the secret on its first non-comment line; the
 * public key is always derived from it (zmq_curve_public), so the two can
 * never disagree. Servers (the gateway's workers endpoint, and the
 * producers endpoint) call sl_curve_server_setup() on their socket before
 * bind; clients (workers) call sl_curve_client_setup() before connect.
 * Who may connect is decided by the ZAP handler (sl_zap). No state;
 * thread-safe.
 */
#ifndef SL_CURVE_H
#define SL_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#define SL_CURVE_KEY_LEN 41 /* Z85 key + NUL */

typedef struct sl_curve_keypair {
	char public_key[SL_CURVE_KEY_LEN];
	char secret_key[SL_CURVE_KEY_LEN];
} sl_curve_keypair_t;

/* true if s is exactly 40 Z85 characters that decode to a key. */
bool sl_curve_key_valid(const char *s);

/* A fresh key pair. 0, or SL_ESYS (libzmq without CURVE). */
int sl_curve_keypair_new(sl_curve_keypair_t *out);

/*
 * Read a secret key file and derive its public key. Lines that are blank
 * or start with '#' are skipped; the first other line is the secret. A
 * file readable by group or others is accepted with *loose = true (the
 * caller warns). 0, or SL_EINVAL with the reason in err.
 */
int sl_curve_read_secret_file(const char *path, sl_curve_keypair_t *out,
    bool *loose, char *err, size_t errlen);

/*
 * Write the secret key to a new file with mode 0600 (never overwrites an
 * existing one), public key as a comment line. 0, or SL_ESYS with err.
 */
int sl_curve_write_secret_file(
    const char *path, const sl_curve_keypair_t *kp, char *err, size_t errlen);

/*
 * Make sock a CURVE server with this secret key, authenticated through
 * ZAP domain zap_domain (sl_zap must be running with that domain, or
 * every client is accepted). Call before zmq_bind. 0, or SL_ESYS (errno).
 */
int sl_curve_server_setup(
    void *sock, const sl_curve_keypair_t *server, const char *zap_domain);

/* Make sock a CURVE client of the server whose public key is server_key,
 * with key pair self. Call before zmq_connect. 0, or SL_ESYS (errno). */
int sl_curve_client_setup(
    void *sock, const char *server_key, const sl_curve_keypair_t *self);

#endif
