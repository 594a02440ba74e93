/*
 * unit.fds: the descriptor budget's arithmetic, raising RLIMIT_NOFILE,
 * and shedding waiting connections with the spare descriptor, also with
 * the process really out of descriptors (a lowered soft limit).
 */
#include "sl_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_fds.h"

static void
test_fds_budget_is_the_limit_minus_open_and_reserve(void **state)
{
	static const struct {
		long limit, open_now, want;
	} rows[] = {
		{ 1024, 16, 1024 - 16 - GW_FDS_RESERVE },
		{ 256, 12, 256 - 12 - GW_FDS_RESERVE },
		{ 1048576, 20, 1048576 - 20 - GW_FDS_RESERVE },
		{ GW_FDS_RESERVE + 10, 10, 0 }, /* nothing left */
		{ GW_FDS_RESERVE + 11, 10, 1 }, /* one */
		{ 64, 16, 0 },                  /* under the reserve */
		{ 0, 0, 0 },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		long got = gw_fds_budget(rows[i].limit, rows[i].open_now);

		if (got != rows[i].want)
			fail_msg("row %zu: budget(%ld, %ld) = %ld, want %ld",
			    i, rows[i].limit, rows[i].open_now, got,
			    rows[i].want);
	}
}

static void
test_fds_raise_limit_lifts_soft_to_hard(void **state)
{
	struct rlimit rl, orig;
	long limit, was;

	(void) state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &orig), 0);
	rl = orig;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 64)
		skip(); /* nothing to raise it to */
	rl.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(gw_fds_raise_limit(&limit, &was), 0);
	assert_int_equal(was, 64);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal((long) rl.rlim_cur, limit);
	if (orig.rlim_max != RLIM_INFINITY)
		assert_int_equal((long) rl.rlim_cur, (long) orig.rlim_max);
	else
		assert_true(limit > 64);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &orig), 0);
}

static void
test_fds_count_open_sees_new_descriptors(void **state)
{
	long before, after;
	int fds[3];

	(void) state;
	before = gw_fds_count_open();
	assert_true(before >= 3); /* stdio at least */
	for (int i = 0; i < 3; i++)
		fds[i] = dup(0);
	after = gw_fds_count_open();
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(after, before + 3);
	assert_int_equal(gw_fds_count_open(), before);
}

/* A loopback listener on a free port; its port into *port. */
static int
s_listener(int *port)
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int
s_connect(int port)
{
	struct sockaddr_in a = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t) port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
	return fd;
}

/* The peer closed fd: EOF (or a reset). */
static void
s_assert_closed_by_peer(int fd)
{
	struct timeval tv = { 5, 0 };
	char c;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_true(recv(fd, &c, 1, 0) <= 0);
	assert_true(errno != EAGAIN);
}

static void
test_fds_shed_closes_what_waits_and_keeps_the_spare(void **state)
{
	gw_fds_t *fds = gw_fds_new();
	int port, other_port, lfd, other, c[3];
	long open_before;

	(void) state;
	assert_non_null(fds);
	lfd = s_listener(&port);
	other = s_listener(&other_port); /* not ours: left alone */
	assert_int_equal(gw_fds_find_listeners(fds, port), 1);
	/* Nothing failed: nothing shed, whatever waits. */
	c[0] = s_connect(port);
	assert_int_equal(gw_fds_shed(fds, false), 0);
	/* A failure that is not a shortage sheds nothing either. */
	gw_fds_accept_failed(fds, ECONNABORTED);
	assert_int_equal(gw_fds_shed(fds, false), 0);
	c[1] = s_connect(port);
	c[2] = s_connect(other_port);
	open_before = gw_fds_count_open();
	gw_fds_accept_failed(fds, EMFILE);
	assert_int_equal(gw_fds_shed(fds, false), 2);
	assert_int_equal(gw_fds_shed(fds, false), 0); /* once per failure */
	assert_int_equal(gw_fds_shed_total(fds), 2);
	s_assert_closed_by_peer(c[0]);
	s_assert_closed_by_peer(c[1]);
	/* The spare is back: as many descriptors open as before. */
	assert_int_equal(gw_fds_count_open(), open_before);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(other);
	close(lfd);
	gw_fds_destroy(&fds);
	gw_fds_destroy(&fds); /* idempotent */
	assert_null(fds);
}

static void
test_fds_shed_works_when_out_of_descriptors(void **state)
{
	struct rlimit orig, rl;
	gw_fds_t *fds = gw_fds_new();
	int port, lfd, c[2], filler[256], n_filler = 0;

	(void) state;
	assert_non_null(fds);
	lfd = s_listener(&port);
	assert_int_equal(gw_fds_find_listeners(fds, port), 1);
	c[0] = s_connect(port);
	c[1] = s_connect(port);
	/* Use up every descriptor under a lowered soft limit. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &orig), 0);
	rl = orig;
	rl.rlim_cur = (rlim_t) gw_fds_count_open() + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n_filler < (int) SL_N(filler)) {
		int fd = dup(0);

		if (fd < 0)
			break;
		filler[n_filler++] = fd;
	}
	assert_int_equal(errno, EMFILE);
	/* What lws sees: accept() fails, and the connection stays queued. */
	assert_true(accept(lfd, NULL, NULL) < 0);
	assert_int_equal(errno, EMFILE);
	gw_fds_accept_failed(fds, EMFILE);
	assert_int_equal(gw_fds_shed(fds, false), 2);
	s_assert_closed_by_peer(c[0]);
	s_assert_closed_by_peer(c[1]);
	/* ... and the spare was taken again: still no descriptor free. */
	assert_true(dup(0) < 0);
	for (int i = 0; i < n_filler; i++)
		close(filler[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &orig), 0);
	close(c[0]);
	close(c[1]);
	close(lfd);
	gw_fds_destroy(&fds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_fds_budget_is_the_limit_minus_open_and_reserve),
		cmocka_unit_test(test_fds_raise_limit_lifts_soft_to_hard),
		cmocka_unit_test(test_fds_count_open_sees_new_descriptors),
		cmocka_unit_test(
		    test_fds_shed_closes_what_waits_and_keeps_the_spare),
		cmocka_unit_test(test_fds_shed_works_when_out_of_descriptors),
	};

	return cmocka_run_group_tests_name("fds", tests, NULL, NULL);
}
