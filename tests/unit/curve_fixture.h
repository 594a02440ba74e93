/*
 * curve_fixture: one message from a CURVE client to a CURVE server over
 * loopback TCP (CURVE does not apply to inproc), for unit.curve and
 * unit.zap. Test main thread; the sockets live for one call.
 */
#ifndef CURVE_FIXTURE_H
#define CURVE_FIXTURE_H

#include <zmq.h>

#include "sl_curve.h"

/*
 * A ROUTER with server's key pair on ZAP domain, bound to an ephemeral
 * 127.0.0.1 port, and a DEALER with client's key pair that takes
 * server_key for the server's. 0 if the client's message arrived within
 * timeout_ms (its ZAP User-Id into user, if user), -1 if it did not.
 */
static inline int
cf_send_one(void *zctx, const sl_curve_keypair_t *server, const char *domain,
    const char *server_key, const sl_curve_keypair_t *client, int timeout_ms,
    char *user, size_t userlen)
{
	void *srv = zmq_socket(zctx, ZMQ_ROUTER);
	void *cli = zmq_socket(zctx, ZMQ_DEALER);
	char ep[128];
	size_t eplen = sizeof ep;
	int zero = 0, rc = -1;
	zmq_msg_t m;

	assert_non_null(srv);
	assert_non_null(cli);
	assert_int_equal(sl_curve_server_setup(srv, server, domain), 0);
	assert_int_equal(
	    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero), 0);
	assert_int_equal(
	    zmq_setsockopt(srv, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms),
	    0);
	assert_int_equal(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(
	    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
	assert_int_equal(sl_curve_client_setup(cli, server_key, client), 0);
	assert_int_equal(
	    zmq_setsockopt(cli, ZMQ_LINGER, &zero, sizeof zero), 0);
	assert_int_equal(zmq_connect(cli, ep), 0);
	/* Queued until the handshake succeeds; lost if it never does. */
	assert_int_equal(zmq_send(cli, "hi", 2, ZMQ_DONTWAIT), 2);
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, srv, 0) >= 0) { /* the routing id */
		const char *uid = zmq_msg_gets(&m, "User-Id");

		if (user)
			snprintf(user, userlen, "%s", uid ? uid : "");
		rc = 0;
	}
	zmq_msg_close(&m);
	zmq_close(cli);
	zmq_close(srv);
	return rc;
}

#endif
