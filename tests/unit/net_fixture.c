/*
 * net_fixture: loopback TCP helpers (see net_fixture.h).
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net_fixture.h"

static struct sockaddr_in
s_loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t) port);
	return a;
}

int
nf_free_port(void)
{
	struct sockaddr_in a = s_loopback(0);
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

int
nf_connect(int port)
{
	struct sockaddr_in a = s_loopback(port);

	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (!connect(fd, (struct sockaddr *) &a, sizeof a))
			return fd;
		close(fd);
		nanosleep(&(struct timespec) { 0, 20000000 }, NULL);
	}
	return -1;
}
