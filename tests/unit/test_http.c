/*
 * gw_http: /healthz, /readyz and /metrics answered from typed stats (no
 * lws context needed: gw_http_route is the whole decision), and the
 * mount list.
 */
#include "sl_test.h"

#include "gw_http.h"

#define NOW 100000000LL /* µs on the monotonic clock */

typedef struct answer {
	int status;
	char body[65536];
	size_t len;
	const char *type;
} answer_t;

static void
s_get(const gw_http_stats_t *st, const char *path, answer_t *a)
{
	a->status = gw_http_route(
	    st, NOW, path, a->body, sizeof a->body, &a->len, &a->type);
	assert_int_equal(strlen(a->body), a->len);
}

static void
s_stats(gw_http_stats_t *st)
{
	memset(st, 0, sizeof *st);
	gw_hist_init_forward(&st->forward);
	gw_hist_init_latency(&st->broker.req.item_latency);
}

/* Table: the loop timer's age -> /healthz status and first word. */
static void
test_http_healthz_follows_the_loop_timer(void **state)
{
	static const struct {
		const char *name;
		int64_t last_tick_us;
		int status;
		const char *starts;
	} rows[] = {
		{ "before the first tick", 0, 200, "ok: loop timer ran 0 ms" },
		{ "ticked lately", NOW - 100000, 200,
		    "ok: loop timer ran 100" },
		{ "5 s ago is still alive", NOW - 5000000, 200, "ok" },
		{ "stuck for longer", NOW - 5000001, 503,
		    "stuck: loop timer ran 5000 ms ago" },
	};
	gw_http_stats_t st;
	answer_t *a = malloc(sizeof *a);

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		s_stats(&st);
		st.last_tick_us = rows[i].last_tick_us;
		s_get(&st, "/healthz", a);
		sl_assert_row_int(rows[i].name, a->status, rows[i].status);
		sl_assert_row_int(rows[i].name,
		    !strncmp(a->body, rows[i].starts, strlen(rows[i].starts)),
		    1);
		sl_assert_row_str(
		    rows[i].name, a->type, "text/plain; charset=utf-8");
	}
	free(a);
}

static void
test_http_readyz_needs_workers_and_no_drain(void **state)
{
	static const struct {
		const char *name;
		size_t workers, capacity, running;
		bool draining;
		int status;
		const char *body;
	} rows[] = {
		{ "no worker", 0, 0, 0, false, 503,
		    "not ready: no workers registered\n" },
		{ "one worker", 1, 4, 1, false, 200,
		    "ready: 1 worker, 3 free credit\n" },
		{ "two, all busy", 2, 8, 8, false, 200,
		    "ready: 2 workers, 0 free credit\n" },
		{ "draining", 2, 8, 0, true, 503,
		    "not ready: shutting down\n" },
	};
	gw_http_stats_t st;
	answer_t *a = malloc(sizeof *a);

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		s_stats(&st);
		st.workers.workers = rows[i].workers;
		st.workers.capacity = rows[i].capacity;
		st.broker.req.running = rows[i].running;
		st.broker.draining = rows[i].draining;
		s_get(&st, "/readyz", a);
		sl_assert_row_int(rows[i].name, a->status, rows[i].status);
		sl_assert_row_str(rows[i].name, a->body, rows[i].body);
	}
	free(a);
}

static void
test_http_unknown_path_is_404(void **state)
{
	gw_http_stats_t st;
	answer_t *a = malloc(sizeof *a);

	(void) state;
	s_stats(&st);
	s_get(&st, "/metricsx", a);
	assert_int_equal(a->status, 404);
	assert_string_equal(a->body, "not found\n");
	free(a);
}

/* Each module's stats reach their sample. */
static void
test_http_metrics_render_every_module(void **state)
{
	static const char *const want[] = {
		"sluice_connections 3\n",
		"sluice_connections_total 7\n",
		"sluice_connections_refused_address_total 2\n",
		"sluice_clients_denied_total{reason=\"token\"} 5\n",
		"sluice_clients_denied_total{reason=\"origin\"} 6\n",
		"sluice_ws_protocol_errors_total{kind=\"close_code\"} 9\n",
		"sluice_h2c_upgrades_ignored_total 1\n",
		"sluice_client_queued_bytes 4096\n",
		"sluice_queue_share_refused_total 11\n",
		"sluice_producer_queued_bytes 512\n",
		"sluice_slow_producers_cut_total 4\n",
		"sluice_items_total{outcome=\"unknown_task\"} 13\n",
		"sluice_worker_free_credit 6\n",
		"sluice_routing_id_hijacks_total 8\n",
		"# TYPE sluice_forward_delay_seconds histogram\n",
		"sluice_forward_delay_seconds_count 1\n",
		"sluice_item_latency_seconds_count 2\n",
	};
	gw_http_stats_t st;
	answer_t *a = malloc(sizeof *a);
	size_t n_type = 0, n_help = 0;

	(void) state;
	s_stats(&st);
	st.ws.conns = 3;
	st.ws.conns_total = 7;
	st.ws.refused_addr = 2;
	st.ws.hs.bad_close = 9;
	st.ws.hs.h2c_ignored = 1;
	st.ws.queued_bytes = 4096;
	st.policy.denied_token = 5;
	st.policy.denied_origin = 6;
	st.broker.share_full = 11;
	st.broker.req.unknown_task = 13;
	st.workers.capacity = 8;
	st.broker.req.running = 2;
	st.prod.hijacks = 8;
	st.prod.queued_bytes = 512;
	st.prod.slow_cut = 4;
	gw_hist_observe_us(&st.forward, 30);
	gw_hist_observe_us(&st.broker.req.item_latency, 3000);
	gw_hist_observe_us(&st.broker.req.item_latency, 5000);
	s_get(&st, "/metrics", a);
	assert_int_equal(a->status, 200);
	assert_string_equal(
	    a->type, "text/plain; version=0.0.4; charset=utf-8");
	for (size_t i = 0; i < SL_N(want); i++)
		sl_assert_row_int(
		    want[i], strstr(a->body, want[i]) != NULL, 1);
	/* every metric has its HELP and TYPE */
	for (const char *p = a->body; (p = strstr(p, "# TYPE ")); p++)
		n_type++;
	for (const char *p = a->body; (p = strstr(p, "# HELP ")); p++)
		n_help++;
	assert_int_equal(n_type, n_help);
	assert_true(n_type >= 30);
	assert_int_equal(
	    gw_http_render_metrics(&st, a->body, sizeof a->body), a->len);
	free(a);
}

/* A buffer too small for the exposition: cut, never overrun. */
static void
test_http_metrics_cut_to_the_buffer(void **state)
{
	gw_http_stats_t st;
	char buf[128 + 8];

	(void) state;
	s_stats(&st);
	memset(buf, 'x', sizeof buf);
	assert_true(gw_http_render_metrics(&st, buf, 128) <= 128);
	for (size_t i = 128; i < sizeof buf; i++)
		assert_int_equal(buf[i], 'x');
}

static void
test_http_mounts_endpoints_then_page(void **state)
{
	struct lws_http_mount m[4];
	const struct lws_http_mount *first;

	(void) state;
	first = gw_http_mounts(m, "/srv/www");
	assert_ptr_equal(first, &m[0]);
	assert_string_equal(m[0].mountpoint, "/healthz");
	assert_string_equal(m[1].mountpoint, "/readyz");
	assert_string_equal(m[2].mountpoint, "/metrics");
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(m[i].mount_next, &m[i + 1]);
		assert_string_equal(m[i].protocol, "sluice-http");
		assert_int_equal(m[i].origin_protocol, LWSMPRO_CALLBACK);
	}
	assert_string_equal(m[3].mountpoint, "/");
	assert_string_equal(m[3].origin, "/srv/www");
	assert_int_equal(m[3].origin_protocol, LWSMPRO_FILE);
	assert_null(m[3].mount_next);
}

static void
test_http_protocol_carries_its_source(void **state)
{
	gw_http_src_t src = { NULL, NULL, NULL };
	struct lws_protocols p;

	(void) state;
	gw_http_protocol(&src, &p);
	assert_string_equal(p.name, "sluice-http");
	assert_ptr_equal(p.callback, gw_http_callback);
	assert_ptr_equal(p.user, &src);
	assert_true(p.per_session_data_size > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_healthz_follows_the_loop_timer),
		cmocka_unit_test(test_http_readyz_needs_workers_and_no_drain),
		cmocka_unit_test(test_http_unknown_path_is_404),
		cmocka_unit_test(test_http_metrics_render_every_module),
		cmocka_unit_test(test_http_metrics_cut_to_the_buffer),
		cmocka_unit_test(test_http_mounts_endpoints_then_page),
		cmocka_unit_test(test_http_protocol_carries_its_source),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
