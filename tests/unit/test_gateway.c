/*
 * gw_gateway: a whole gateway on free loopback ports in this process.
 * It starts, answers /healthz and /metrics over a real TCP connection
 * (from a client thread: the test's main thread runs the loop), stops on
 * its stop flag; start-up failures name their cause and leak nothing.
 */
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "gw_gateway.h"
#include "net_fixture.h"
#include "gw_opts.h"
#include "sl_log.h"

/* Options for a gateway on 127.0.0.1:port with both ZeroMQ endpoints
 * on free ports (ZeroMQ picks them), plus extra arguments. */
static int
s_opts(gw_opts_t *o, int port, char **extra, char *err, size_t errlen)
{
	static char listen[32];
	char *argv[16] = { "gw", "--www", "/tmp", "--listen", listen,
		"--workers", "tcp://127.0.0.1:*", "--producers",
		"tcp://127.0.0.1:*" };
	int argc = 9;

	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	while (extra && *extra)
		argv[argc++] = *extra++;
	return gw_opts_load(o, argc, argv, stdout, err, errlen);
}

typedef struct client {
	int port;
	char upgrade[2048]; /* the WebSocket handshake's answer */
	uint8_t close[128]; /* the frame that ended the WebSocket */
	ssize_t close_len;
	gw_gateway_t *gw;
	volatile sig_atomic_t *stop;
	char healthz[4096];
	char metrics[65536];
} client_t;

/* GET path over a new connection; the whole response into out. */
static void
s_get(int port, const char *path, char *out, size_t cap)
{
	struct timeval tv = { 5, 0 };
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = nf_connect(port); /* the loop may not turn yet */

	out[0] = '\0';
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	snprintf(req, sizeof req,
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    path);
	if (write(fd, req, strlen(req)) == (ssize_t) strlen(req))
		while (got + 1 < cap
		    && (n = read(fd, out + got, cap - 1 - got)) > 0)
			got += (size_t) n;
	out[got] = '\0';
	close(fd);
}

static void *
s_client(void *arg)
{
	client_t *c = arg;

	s_get(c->port, "/healthz", c->healthz, sizeof c->healthz);
	s_get(c->port, "/metrics", c->metrics, sizeof c->metrics);
	*c->stop = 2; /* as a second SIGTERM: no drain wait */
	gw_gateway_wake(c->gw);
	return NULL;
}

static void
test_gateway_starts_answers_and_stops(void **state)
{
	static volatile sig_atomic_t stop, reload;
	static client_t c;
	gw_opts_t o;
	pthread_t th;
	char err[300];

	(void) state;
	c.port = nf_free_port();
	assert_int_equal(s_opts(&o, c.port, NULL, err, sizeof err), 0);
	c.gw = gw_gateway_new(&o, err, sizeof err);
	if (!c.gw)
		fail_msg("gw_gateway_new: %s", err);
	c.stop = &stop;
	reload = 1; /* a SIGHUP before the first turn: reloaded, reset */
	assert_int_equal(pthread_create(&th, NULL, s_client, &c), 0);
	assert_int_equal(gw_gateway_run(c.gw, &stop, &reload), 0);
	pthread_join(th, NULL);
	assert_int_equal(reload, 0);
	gw_gateway_destroy(&c.gw);
	assert_null(c.gw);
	assert_non_null(strstr(c.healthz, "HTTP/1.1 200"));
	assert_non_null(strstr(c.healthz, "ok: loop timer ran"));
	assert_non_null(strstr(c.metrics, "HTTP/1.1 200"));
	assert_non_null(strstr(c.metrics, "\nsluice_workers 0\n"));
	assert_non_null(strstr(c.metrics, "\nsluice_connections 0\n"));
	gw_gateway_destroy(&c.gw); /* NULL-safe */
}

/* A WebSocket opens, then a first SIGTERM: nothing is running, so the
 * drain ends at once and the client is told 1001 "going away"; the loop
 * ends when it has gone. */
static void *
s_ws_client(void *arg)
{
	static const char req[]
	    = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	      "Connection: Upgrade\r\n"
	      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	      "Sec-WebSocket-Version: 13\r\n\r\n";
	client_t *c = arg;
	struct timeval tv = { 5, 0 };
	size_t got = 0;
	ssize_t n;
	int fd = nf_connect(c->port);

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (write(fd, req, sizeof req - 1) == (ssize_t) sizeof req - 1)
			while (!strstr(c->upgrade, "\r\n\r\n")
			    && (n = read(fd, c->upgrade + got,
			            sizeof c->upgrade - 1 - got))
			        > 0)
				got += (size_t) n;
	}
	*c->stop = 1; /* as a first SIGTERM: drain */
	gw_gateway_wake(c->gw);
	if (fd >= 0) {
		c->close_len = read(fd, c->close, sizeof c->close);
		close(fd);
	}
	return NULL;
}

static void
test_gateway_drain_closes_clients_with_1001(void **state)
{
	static volatile sig_atomic_t stop, reload;
	static client_t c;
	gw_opts_t o;
	pthread_t th;
	char err[300];

	(void) state;
	memset(&c, 0, sizeof c);
	c.port = nf_free_port();
	assert_int_equal(s_opts(&o, c.port, NULL, err, sizeof err), 0);
	c.gw = gw_gateway_new(&o, err, sizeof err);
	if (!c.gw)
		fail_msg("gw_gateway_new: %s", err);
	c.stop = &stop;
	assert_int_equal(pthread_create(&th, NULL, s_ws_client, &c), 0);
	assert_int_equal(gw_gateway_run(c.gw, &stop, &reload), 0);
	pthread_join(th, NULL);
	gw_gateway_destroy(&c.gw);
	assert_non_null(strstr(c.upgrade, "HTTP/1.1 101"));
	/* a close frame: FIN + opcode 8, status 1001, the reason */
	assert_true(c.close_len >= 4);
	assert_int_equal(c.close[0], 0x88);
	assert_int_equal((c.close[2] << 8) | c.close[3], 1001);
	assert_int_equal(c.close[1], 2 + strlen("server shutting down"));
	assert_memory_equal(
	    c.close + 4, "server shutting down", c.close[1] - 2);
}

/* Table: what is wrong -> the start-up error naming it. */
static void
test_gateway_start_failures_name_their_cause(void **state)
{
	char *tls_half[] = { "--tls-cert", "/nonexistent/cert.pem", NULL };
	char *curve_half[]
	    = { "--curve-secret-file", "/nonexistent/secret", NULL };
	char *bad_ep[] = { "--workers", "tcp://nonsense", NULL };
	char *no_prod[] = { "--producers", "none", "--tokens", "short", NULL };
	const struct {
		const char *name;
		char **extra;
		bool busy;
		const char *want;
	} rows[] = {
		{ "listen port in use", NULL, true, "already in use" },
		{ "half of TLS", tls_half, false, "go together" },
		{ "half of CURVE", curve_half, false, "CURVE" },
		{ "bad workers endpoint", bad_ep, false, "tcp://nonsense" },
		{ "bad token", no_prod, false, "client authentication" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		int port = nf_free_port(), fd = -1;
		gw_gateway_t *gw;
		gw_opts_t o;
		char err[300] = "";

		assert_int_equal(
		    s_opts(&o, port, rows[i].extra, err, sizeof err), 0);
		if (rows[i].busy) {
			struct sockaddr_in a = { .sin_family = AF_INET };

			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			a.sin_port = htons((uint16_t) port);
			fd = socket(AF_INET, SOCK_STREAM, 0);
			assert_int_equal(
			    bind(fd, (struct sockaddr *) &a, sizeof a), 0);
			assert_int_equal(listen(fd, 1), 0);
		}
		gw = gw_gateway_new(&o, err, sizeof err);
		if (fd >= 0)
			close(fd);
		sl_assert_row_int(rows[i].name, gw == NULL, 1);
		if (!strstr(err, rows[i].want)) {
			print_error("row \"%s\": error is \"%s\"\n",
			    rows[i].name, err);
			fail();
		}
		gw_gateway_destroy(&gw);
	}
}

/* lws's lines before the gateway exists (self NULL) go to the log;
 * a failed accept() then has no one to tell, and that is fine. */
static void
test_gateway_lws_log_without_a_gateway(void **state)
{
	(void) state;
	gw_gateway_lws_log(NULL, LLL_ERR, "accept: errno 24");
	gw_gateway_lws_log(NULL, LLL_WARN, "some warning");
	gw_gateway_lws_log(NULL, LLL_NOTICE, "chatty notice");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_starts_answers_and_stops),
		cmocka_unit_test(test_gateway_drain_closes_clients_with_1001),
		cmocka_unit_test(test_gateway_start_failures_name_their_cause),
		cmocka_unit_test(test_gateway_lws_log_without_a_gateway),
	};

	sl_log_setup("test", SL_LOG_ERR);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	return cmocka_run_group_tests_name("gateway", tests, NULL, NULL);
}
