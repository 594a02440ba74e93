/*
 * gw_ws: the WebSocket side in a real lws context on a free loopback
 * port, spoken to by a raw client socket (handshake and masked frames
 * written here by hand). The broker is real; its workers are plain
 * functions with no worker. Single threaded: the test serves the loop
 * between its writes and reads, as the gateway's thread would.
 */
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "gw_broker.h"
#include "gw_listen.h"
#include "gw_workers.h"
#include "gw_ws.h"
#include "net_fixture.h"
#include "sl_clock.h"
#include "sl_log.h"

#define MAX_FRAME 1024
#define KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455's example */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* ---- no workers ---- */

static bool
s_w_runs(const gw_workers_t *self, const char *task, bool ready)
{
	(void) self;
	(void) task;
	(void) ready;
	return false;
}

static bool
s_w_any_credit(const gw_workers_t *self)
{
	(void) self;
	return false;
}

static void *
s_w_pick(gw_workers_t *self, const char *task)
{
	(void) self;
	(void) task;
	return NULL;
}

static int
s_w_send_job(gw_workers_t *self, void *worker, gw_workers_job_t *job,
    const char *task, const void *item, size_t len)
{
	(void) self;
	(void) worker;
	(void) job;
	(void) task;
	(void) item;
	(void) len;
	fail(); /* never picked */
	return -1;
}

static void
s_w_cancel(gw_workers_t *self, gw_workers_job_t *job)
{
	(void) self;
	(void) job;
}

static void
s_w_each_job(gw_workers_t *self, bool (*fn)(void *arg, gw_workers_job_t *job),
    void *arg)
{
	(void) self;
	(void) fn;
	(void) arg;
}

static void
s_w_stats(const gw_workers_t *self, gw_workers_stats_t *out)
{
	(void) self;
	memset(out, 0, sizeof *out);
}

static const char *
s_w_name(const void *worker)
{
	(void) worker;
	return "-";
}

static const gw_workers_ops_t s_no_workers
    = { s_w_runs, s_w_any_credit, s_w_pick, s_w_send_job, s_w_cancel,
	      s_w_each_job, s_w_stats, s_w_name };

/* ---- fixture: broker, gw_ws, lws context ---- */

typedef struct fixture {
	gw_broker_t *broker;
	gw_ws_t *ws;
	gw_hist_t forward;
	struct lws_protocols protocols[3];
	struct lws_context *lws;
	lws_sorted_usec_list_t sul; /* wakes the loop every 10 ms */
	char ifname[32];
	int port;
	bool direct; /* gw_ws_set_direct: serving flushes after each turn */
} fixture_t;

static void
s_tick(lws_sorted_usec_list_t *sul)
{
	fixture_t *f = lws_container_of(sul, fixture_t, sul);

	gw_ws_tick(f->ws, sl_clock_mono_us());
	lws_sul_schedule(f->lws, 0, &f->sul, s_tick, 10000);
}

/* gw_ws with max_conns connections at most. */
static int
s_setup(void **state, size_t max_conns)
{
	const gw_broker_ops_t ops = { gw_ws_client_send, NULL };
	const gw_broker_limits_t blim
	    = { .max_items = 10, .max_requests = 4, .max_queued_jobs = 100 };
	const gw_ws_limits_t wlim = { .max_frame = MAX_FRAME,
		.max_items = 10,
		.out_high = 64 * 1024,
		.out_low = 16 * 1024,
		.max_out_bytes = 256 * 1024,
		.stall_us = 30000000,
		.max_conns = max_conns,
		.max_conns_per_addr = 16,
		.max_buffered = 1 << 20 };
	struct lws_context_creation_info ci;
	fixture_t *f = calloc(1, sizeof *f);
	char err[200];

	if (!f)
		return -1;
	*state = f;
	gw_hist_init_forward(&f->forward);
	f->broker = gw_broker_new(&ops, &blim);
	if (!f->broker)
		return -1;
	gw_broker_set_workers(f->broker, &s_no_workers, NULL);
	f->ws = gw_ws_new(f->broker, NULL, &wlim, &f->forward);
	f->port = nf_free_port();
	if (!f->ws || f->port < 0)
		return -1;
	gw_ws_protocols(f->ws, f->protocols);
	memset(&ci, 0, sizeof ci);
	ci.port = f->port;
	ci.protocols = f->protocols;
	if (gw_listen_iface("127.0.0.1", f->ifname, sizeof f->ifname,
	        &ci.iface, err, sizeof err))
		return -1;
	f->lws = lws_create_context(&ci);
	if (!f->lws)
		return -1;
	lws_sul_schedule(f->lws, 0, &f->sul, s_tick, 10000);
	return 0;
}

static int
setup(void **state)
{
	return s_setup(state, 8);
}

static int
setup_one_conn(void **state)
{
	return s_setup(state, 1);
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	if (f->lws) {
		lws_sul_cancel(&f->sul);
		lws_context_destroy(f->lws); /* closes every connection */
	}
	gw_ws_destroy(&f->ws);
	assert_null(f->ws);
	gw_broker_destroy(&f->broker);
	free(f);
	return 0;
}

/* ---- a raw client ---- */

/* Serve the loop until fd has bytes to read (or 2 s); read what is
 * there, appending to buf at *len. */
static void
s_serve_read(fixture_t *f, int fd, char *buf, size_t cap, size_t *len)
{
	int64_t end = sl_clock_mono_us() + 2000000;

	while (sl_clock_mono_us() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		lws_service(f->lws, 0);
		if (f->direct)
			gw_ws_flush(f->ws);
		if (poll(&p, 1, 0) != 1)
			continue;
		n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
		if (n > 0)
			*len += (size_t) n;
		return;
	}
}

/* Connect and ask for an upgrade (subprotocol NULL: none); the response
 * head into resp. Returns the socket. */
static int
s_upgrade(fixture_t *f, const char *subprotocol, char *resp, size_t cap)
{
	int fd = nf_connect(f->port);
	char req[512];
	size_t len = 0;

	assert_true(fd >= 0);
	snprintf(req, sizeof req,
	    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
	    subprotocol ? "Sec-WebSocket-Protocol: " : "",
	    subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t) strlen(req));
	memset(resp, 0, cap);
	while (!strstr(resp, "\r\n\r\n") && len + 1 < cap) {
		size_t was = len;

		s_serve_read(f, fd, resp, cap - 1, &len);
		if (len == was)
			break;
	}
	return fd;
}

/* Send one masked frame (opcode 1 text, 2 binary, 8 close). */
static void
s_send_frame(int fd, int opcode, const void *data, size_t len)
{
	static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t *b = malloc(len + 14);
	size_t h = 0;

	assert_non_null(b);
	b[h++] = (uint8_t) (0x80 | opcode);
	if (len < 126) {
		b[h++] = (uint8_t) (0x80 | len);
	} else {
		assert_true(len < 65536);
		b[h++] = 0x80 | 126;
		b[h++] = (uint8_t) (len >> 8);
		b[h++] = (uint8_t) len;
	}
	memcpy(b + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		b[h + i] = ((const uint8_t *) data)[i] ^ mask[i % 4];
	assert_int_equal(send(fd, b, h + len, 0), (ssize_t) (h + len));
	free(b);
}

/* The next server frame: its opcode, its payload into out (zero-filled
 * after it).
 * -1 if none came within 2 s. */
static int
s_recv_frame(fixture_t *f, int fd, char *out, size_t cap)
{
	char buf[8192];
	size_t len = 0, h, plen;

	while (len < 2) {
		size_t was = len;

		s_serve_read(f, fd, buf, sizeof buf, &len);
		if (len == was)
			return -1;
	}
	plen = (uint8_t) buf[1] & 0x7f;
	h = 2;
	if (plen == 126) {
		while (len < 4)
			s_serve_read(f, fd, buf, sizeof buf, &len);
		plen = ((size_t) (uint8_t) buf[2] << 8) | (uint8_t) buf[3];
		h = 4;
	}
	assert_true(h + plen <= sizeof buf && plen < cap);
	while (len < h + plen) {
		size_t was = len;

		s_serve_read(f, fd, buf, h + plen, &len);
		if (len == was)
			return -1;
	}
	memset(out, 0, cap);
	memcpy(out, buf + h, plen);
	return buf[0] & 0x0f;
}

/* Whether needle occurs in the cap bytes at buf (NULs included). */
static bool
s_has(const char *buf, size_t cap, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= cap; i++)
		if (!memcmp(buf + i, needle, n))
			return true;
	return false;
}

/* ---- tests ---- */

/* Direct writes (gw_ws_set_direct, as gw_gateway runs it): a reply is
 * written by gw_ws_flush, not from WRITEABLE; a burst of replies all
 * arrive, in order. */
static void
test_ws_direct_mode_writes_in_flush(void **state)
{
	fixture_t *f = *state;
	char resp[2048], frame[4096], ping[64], stream[16384];
	struct pollfd p;
	int fd;

	gw_ws_set_direct(f->ws);
	fd = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	s_send_frame(fd, 1, B("{\"type\":\"ping\",\"data\":\"d0\"}"));
	/* served but not flushed: the pong waits in its queue */
	for (int i = 0; i < 20; i++)
		lws_service(f->lws, 0);
	p = (struct pollfd) { fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 0), 0);
	gw_ws_flush(f->ws);
	assert_int_equal(poll(&p, 1, 2000), 1); /* written by the flush */
	f->direct = true;
	assert_int_equal(s_recv_frame(f, fd, frame, sizeof frame), 1);
	assert_non_null(strstr(frame, "\"data\":\"d0\""));
	for (int i = 1; i <= 30; i++) {
		snprintf(ping, sizeof ping,
		    "{\"type\":\"ping\",\"data\":\"d%d\"}", i);
		s_send_frame(fd, 1, ping, strlen(ping));
	}
	/* replies leave coalesced: parse the byte stream frame by frame */
	for (size_t len = 0, off = 0, got = 1; got <= 30;) {
		size_t was = len;

		s_serve_read(f, fd, stream, sizeof stream, &len);
		assert_true(len > was || len - off >= 2);
		while (len - off >= 2
		    && len - off >= 2 + (size_t) (stream[off + 1] & 0x7f)) {
			size_t plen = (size_t) (stream[off + 1] & 0x7f);
			char want[16];

			assert_int_equal(stream[off] & 0x0f, 1);
			assert_true(plen < 126);
			snprintf(want, sizeof want, "\"d%zu\"", got++);
			assert_true(s_has(stream + off + 2, plen, want));
			off += 2 + plen;
		}
	}
	close(fd);
}

static void
test_ws_handshake_and_a_ping_round_trip(void **state)
{
	fixture_t *f = *state;
	char resp[2048], frame[4096];
	gw_ws_stats_t st;
	int fd;

	fd = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	assert_non_null(strstr(resp, ACCEPT));
	s_send_frame(fd, 1, B("{\"type\":\"ping\",\"data\":\"x1\"}"));
	assert_int_equal(s_recv_frame(f, fd, frame, sizeof frame), 1);
	assert_non_null(strstr(frame, "\"type\":\"pong\""));
	assert_non_null(strstr(frame, "\"data\":\"x1\""));
	gw_ws_stats(f->ws, &st);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.conns_total, 1);
	assert_int_equal(gw_ws_conns(f->ws), 1);
	assert_int_equal(st.queued_bytes, 0); /* written */
	close(fd);
	for (int i = 0; i < 50 && gw_ws_conns(f->ws); i++)
		lws_service(f->lws, 0);
	assert_int_equal(gw_ws_conns(f->ws), 0);
}

/* Table: a frame the JSON protocol refuses -> the error code. */
static void
test_ws_bad_frames_get_an_error_and_the_connection_stays(void **state)
{
	fixture_t *f = *state;
	static char big[MAX_FRAME + 10];
	const struct {
		const char *name;
		int opcode;
		const char *data;
		size_t len;
		const char *code;
	} rows[] = {
		{ "not JSON", 1, B("{"), "bad_json" },
		{ "binary on the JSON protocol", 2, B("\x81\xa1x"),
		    "binary_unsupported" },
		{ "over max_frame", 1, big, sizeof big, "too_large" },
		{ "unknown type", 1, B("{\"type\":\"dance\"}"),
		    "unknown_type" },
	};
	char resp[2048], frame[4096], want[64];
	int fd;

	memset(big, ' ', sizeof big);
	fd = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	for (size_t i = 0; i < SL_N(rows); i++) {
		s_send_frame(fd, rows[i].opcode, rows[i].data, rows[i].len);
		sl_assert_row_int(
		    rows[i].name, s_recv_frame(f, fd, frame, sizeof frame), 1);
		snprintf(want, sizeof want, "\"code\":\"%s\"", rows[i].code);
		if (!strstr(frame, want)) {
			print_error(
			    "row \"%s\": got %s\n", rows[i].name, frame);
			fail();
		}
	}
	/* still open: a ping is answered */
	s_send_frame(fd, 1, B("{\"type\":\"ping\"}"));
	assert_int_equal(s_recv_frame(f, fd, frame, sizeof frame), 1);
	assert_non_null(strstr(frame, "pong"));
	close(fd);
}

static void
test_ws_msgpack_subprotocol_takes_binary_only(void **state)
{
	fixture_t *f = *state;
	char resp[2048], frame[4096];
	int fd;

	fd = s_upgrade(f, GW_WS_MSGPACK, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	assert_non_null(strstr(resp, GW_WS_MSGPACK));
	s_send_frame(fd, 1, B("{\"type\":\"ping\"}"));
	assert_int_equal(s_recv_frame(f, fd, frame, sizeof frame), 2);
	/* a msgpack map: its strings are plain bytes */
	assert_true(s_has(frame, sizeof frame, "text_unsupported"));
	close(fd);
}

static void
test_ws_over_max_connections_gets_503(void **state)
{
	fixture_t *f = *state;
	char resp[2048];
	gw_ws_stats_t st;
	int a, b;

	a = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	b = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, " 503"));
	gw_ws_stats(f->ws, &st);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.refused_conns, 1);
	close(a);
	close(b);
}

static void
test_ws_close_all_says_going_away(void **state)
{
	fixture_t *f = *state;
	char resp[2048], frame[256];
	int fd;

	fd = s_upgrade(f, NULL, resp, sizeof resp);
	assert_non_null(strstr(resp, "HTTP/1.1 101"));
	for (int i = 0; i < 5; i++)
		lws_service(f->lws, 0); /* ESTABLISHED */
	gw_ws_close_all(f->ws, LWS_CLOSE_STATUS_GOINGAWAY, "bye now");
	assert_int_equal(s_recv_frame(f, fd, frame, sizeof frame), 8);
	assert_int_equal(((uint8_t) frame[0] << 8) | (uint8_t) frame[1], 1001);
	assert_string_equal(frame + 2, "bye now");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_ws_handshake_and_a_ping_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ws_direct_mode_writes_in_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ws_bad_frames_get_an_error_and_the_connection_stays,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ws_msgpack_subprotocol_takes_binary_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ws_over_max_connections_gets_503, setup_one_conn,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ws_close_all_says_going_away, setup, teardown),
	};

	sl_log_setup("test", SL_LOG_WARN);
	lws_set_log_level(LLL_ERR, NULL);
	return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
