/*
 * net_fixture: loopback TCP for the tests that serve a real port
 * (test_ws, test_gateway): a port nothing listens on, a connection to
 * one that may not accept yet. Test main thread (or a client thread).
 */
#ifndef NET_FIXTURE_H
#define NET_FIXTURE_H

/* A 127.0.0.1 port nothing listens on now (bound to 0, read, closed);
 * fails the test if none. */
int nf_free_port(void);

/* A TCP connection to 127.0.0.1:port, retried for up to 2 s while
 * nothing accepts (a loop that has not turned yet): the socket, or -1. */
int nf_connect(int port);

#endif
