/*
 * gw_listen: --listen values split into host and port; the interface of
 * an IPv4 address; a port in use found before lws tries; the check that
 * a listening socket is bound where it was asked.
 */
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_listen.h"
#include "sl_err.h"

static void
test_listen_parse_table(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		int port;
	} rows[] = {
		{ "127.0.0.1:8080", 0, "127.0.0.1", 8080 },
		{ "localhost:1", 0, "127.0.0.1", 1 },
		{ "*:65535", 0, "*", 65535 },
		{ ":80", 0, "", 80 },
		{ "[::1]:9000", 0, "::1", 9000 },
		{ "eth0:443", 0, "eth0", 443 },
		{ "127.0.0.1", SL_EINVAL, NULL, 0 },
		{ "127.0.0.1:0", SL_EINVAL, NULL, 0 },
		{ "127.0.0.1:65536", SL_EINVAL, NULL, 0 },
		{ "127.0.0.1:80x", SL_EINVAL, NULL, 0 },
		{ "127.0.0.1:", SL_EINVAL, NULL, 0 },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char host[128] = "";
		int port = 0;

		sl_assert_row_int(rows[i].in,
		    gw_listen_parse(rows[i].in, host, sizeof host, &port),
		    rows[i].rc);
		if (rows[i].rc)
			continue;
		sl_assert_row_str(rows[i].in, host, rows[i].host);
		sl_assert_row_int(rows[i].in, port, rows[i].port);
	}
}

static void
test_listen_parse_refuses_a_host_too_long(void **state)
{
	char host[8];
	int port;

	(void) state;
	assert_int_equal(
	    gw_listen_parse("123456789:80", host, sizeof host, &port),
	    SL_EINVAL);
}

static void
test_listen_iface_of_addresses(void **state)
{
	char ifname[32], err[200];
	const char *iface = "x";

	(void) state;
	assert_int_equal(gw_listen_iface("*", ifname, sizeof ifname, &iface,
	                     err, sizeof err),
	    0);
	assert_null(iface);
	assert_int_equal(gw_listen_iface("::1", ifname, sizeof ifname, &iface,
	                     err, sizeof err),
	    0);
	assert_string_equal(iface, "::1"); /* lws binds IPv6 as given */
	assert_int_equal(gw_listen_iface("127.0.0.1", ifname, sizeof ifname,
	                     &iface, err, sizeof err),
	    0);
	assert_ptr_equal(iface, ifname); /* the loopback interface, "lo" */
	assert_true(strlen(ifname) > 0);
	assert_int_equal(gw_listen_iface("192.0.2.123", ifname, sizeof ifname,
	                     &iface, err, sizeof err),
	    SL_EINVAL); /* TEST-NET-1: no interface has it */
	assert_non_null(strstr(err, "no network interface has address"));
}

/* A TCP socket listening on 127.0.0.1 at a free port; its port. */
static int
s_listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void
test_listen_probe_finds_a_port_in_use(void **state)
{
	char err[200];
	int port, fd = s_listen_loopback(&port);

	(void) state;
	assert_int_equal(
	    gw_listen_probe("127.0.0.1", port, err, sizeof err), SL_EINVAL);
	assert_non_null(strstr(err, "already in use"));
	close(fd);
	assert_int_equal(
	    gw_listen_probe("127.0.0.1", port, err, sizeof err), 0);
	/* An interface name cannot be tried here: lws will say. */
	assert_int_equal(gw_listen_probe("lo", port, err, sizeof err), 0);
}

static void
test_listen_check_sees_where_it_is_bound(void **state)
{
	char err[200];
	int port, fd = s_listen_loopback(&port);

	(void) state;
	assert_int_equal(
	    gw_listen_check("127.0.0.1", port, err, sizeof err), 0);
	assert_int_equal(gw_listen_check("*", port, err, sizeof err), 0);
	assert_int_equal(
	    gw_listen_check("10.1.2.3", port, err, sizeof err), SL_EINVAL);
	close(fd);
	assert_int_equal(
	    gw_listen_check("127.0.0.1", port, err, sizeof err), SL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_parse_table),
		cmocka_unit_test(test_listen_parse_refuses_a_host_too_long),
		cmocka_unit_test(test_listen_iface_of_addresses),
		cmocka_unit_test(test_listen_probe_finds_a_port_in_use),
		cmocka_unit_test(test_listen_check_sees_where_it_is_bound),
	};

	return cmocka_run_group_tests_name("listen", tests, NULL, NULL);
}
