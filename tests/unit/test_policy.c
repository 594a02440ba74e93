/*
 * gw_policy: tokens and origins from the options, CURVE with a real ZAP
 * handler in a real ZeroMQ context, and a reload that keeps the old
 * policy whenever the new one fails to load.
 */
#include "sl_test.h"

#include <unistd.h>

#include <zmq.h>

#include "gw_policy.h"
#include "sl_curve.h"
#include "sl_log.h"

#define TOK_A "token-aaaaaaaaaaaaaaaa"
#define TOK_B "token-bbbbbbbbbbbbbbbb"

/* Files a test writes, removed in teardown. */
typedef struct files {
	char path[4][32];
	int n;
} files_t;

static int
setup(void **state)
{
	files_t *f = calloc(1, sizeof *f);

	sl_log_setup("test", SL_LOG_ERR);
	*state = f;
	return f ? 0 : -1;
}

static int
teardown(void **state)
{
	files_t *f = *state;

	for (int i = 0; i < f->n; i++)
		unlink(f->path[i]);
	free(f);
	return 0;
}

/* A new temporary file holding text; its path (valid until teardown). */
static const char *
s_file(files_t *f, const char *text)
{
	char *path = f->path[f->n++];

	snprintf(path, sizeof f->path[0], "/tmp/sluice-ut-pol-XXXXXX");
	sl_test_write_tmp(path, text, strlen(text));
	return path;
}

/* Replace the text of an existing file. */
static void
s_rewrite(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_policy_without_options_lets_everyone_in(void **state)
{
	gw_policy_cfg_t cfg = { 0 };
	gw_policy_stats_t st;
	gw_policy_t *p;
	char err[300];

	(void) state;
	p = gw_policy_new(&cfg, NULL, err, sizeof err);
	assert_non_null(p);
	assert_non_null(gw_policy_auth(p));
	assert_true(gw_auth_token_ok(gw_policy_auth(p), "x", 1));
	assert_true(gw_auth_origin_ok(gw_policy_auth(p), "https://evil"));
	assert_null(gw_policy_curve(p, "workers"));
	assert_null(gw_policy_curve(p, "producers"));
	gw_policy_stats(p, &st);
	assert_int_equal(st.tokens, 0);
	assert_int_equal(st.origins, 0);
	gw_policy_destroy(&p);
	assert_null(p);
	gw_policy_destroy(&p); /* NULL-safe */
}

static void
test_policy_loads_tokens_and_origins(void **state)
{
	files_t *f = *state;
	gw_policy_cfg_t cfg = { 0 };
	gw_policy_stats_t st;
	gw_policy_t *p;
	char err[300];

	cfg.tokens_file = s_file(f, "# people\n" TOK_A "\n");
	cfg.tokens = TOK_B;
	cfg.allow_origins = "https://a.example, https://b.example";
	cfg.allow_no_origin = false;
	cfg.metrics_token = true;
	p = gw_policy_new(&cfg, NULL, err, sizeof err);
	assert_non_null(p);
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_A)));
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_B)));
	assert_false(gw_auth_token_ok(gw_policy_auth(p), B("token-cccccccc")));
	assert_true(gw_auth_origin_ok(gw_policy_auth(p), "https://b.example"));
	assert_false(gw_auth_origin_ok(gw_policy_auth(p), NULL));
	assert_true(gw_auth_metrics_token(gw_policy_auth(p)));
	gw_policy_stats(p, &st);
	assert_int_equal(st.tokens, 2);
	assert_int_equal(st.origins, 2);
	assert_int_equal(st.denied_token, 0);
	gw_policy_destroy(&p);
}

/* Each bad configuration fails with its reason, nothing leaked. */
static void
test_policy_refuses_bad_options(void **state)
{
	files_t *f = *state;
	const char *empty = s_file(f, "# nobody yet\n");
	const struct {
		const char *name;
		gw_policy_cfg_t cfg;
		const char *want;
	} rows[] = {
		{ "short token", { .tokens = "short" },
		    "client authentication" },
		{ "no token in the file", { .tokens_file = empty },
		    "tokens configured, but none found" },
		{ "missing token file",
		    { .tokens_file = "/nonexistent/sluice-tokens" },
		    "client authentication" },
		{ "origin without scheme", { .allow_origins = "a.example" },
		    "client authentication" },
		{ "secret without allow-list",
		    { .curve_secret_file = "/nonexistent/secret" },
		    "go together" },
		{ "producers list alone",
		    { .curve_producers_file = "/nonexistent/producers" },
		    "go together" },
		{ "unreadable secret",
		    { .curve_secret_file = "/nonexistent/secret",
		        .curve_clients_file = "/nonexistent/clients" },
		    "CURVE" },
	};

	for (size_t i = 0; i < SL_N(rows); i++) {
		char err[300] = "";
		gw_policy_t *p
		    = gw_policy_new(&rows[i].cfg, NULL, err, sizeof err);

		sl_assert_row_int(rows[i].name, p == NULL, 1);
		sl_assert_row_int(
		    rows[i].name, strstr(err, rows[i].want) != NULL, 1);
	}
}

static void
test_policy_reload_replaces_tokens_and_keeps_them_on_error(void **state)
{
	files_t *f = *state;
	gw_policy_cfg_t cfg = { 0 };
	gw_policy_t *p;
	char err[300];

	cfg.tokens_file = s_file(f, TOK_A "\n");
	p = gw_policy_new(&cfg, NULL, err, sizeof err);
	assert_non_null(p);
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_A)));

	s_rewrite(cfg.tokens_file, TOK_B "\n");
	gw_policy_reload(p);
	assert_false(gw_auth_token_ok(gw_policy_auth(p), B(TOK_A)));
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_B)));

	/* A file that no longer loads: the tokens in force stay. */
	s_rewrite(cfg.tokens_file, "short\n");
	gw_policy_reload(p);
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_B)));
	s_rewrite(cfg.tokens_file, "# everyone revoked\n");
	gw_policy_reload(p);
	assert_true(gw_auth_token_ok(gw_policy_auth(p), B(TOK_B)));
	gw_policy_destroy(&p);
}

/* A CURVE client of domain "workers" with kp gets through the ZAP
 * handler of the server with server_kp: true if a message arrives. */
static bool
s_curve_reaches(void *zctx, const sl_curve_keypair_t *server_kp,
    const sl_curve_keypair_t *client_kp)
{
	void *srv = zmq_socket(zctx, ZMQ_PULL);
	void *cli = zmq_socket(zctx, ZMQ_PUSH);
	int timeout = 300, linger = 0;
	char buf[8];
	bool ok;

	assert_int_equal(sl_curve_server_setup(srv, server_kp, "workers"), 0);
	assert_int_equal(
	    zmq_setsockopt(srv, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
	assert_int_equal(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
	{
		char ep[64];
		size_t len = sizeof ep;

		assert_int_equal(
		    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &len), 0);
		assert_int_equal(sl_curve_client_setup(
		                     cli, server_kp->public_key, client_kp),
		    0);
		assert_int_equal(zmq_connect(cli, ep), 0);
	}
	zmq_setsockopt(cli, ZMQ_LINGER, &linger, sizeof linger);
	zmq_send(cli, "hi", 2, ZMQ_DONTWAIT);
	ok = zmq_recv(srv, buf, sizeof buf, 0) == 2;
	zmq_close(cli);
	zmq_close(srv);
	return ok;
}

static void
test_policy_curve_allows_listed_keys_and_reloads_them(void **state)
{
	files_t *f = *state;
	sl_curve_keypair_t gw, w1, w2;
	gw_policy_cfg_t cfg = { 0 };
	const sl_curve_keypair_t *kp;
	char line[128], err[300];
	void *zctx = zmq_ctx_new();
	gw_policy_t *p;

	assert_non_null(zctx);
	assert_int_equal(sl_curve_keypair_new(&gw), 0);
	assert_int_equal(sl_curve_keypair_new(&w1), 0);
	assert_int_equal(sl_curve_keypair_new(&w2), 0);
	cfg.curve_secret_file = s_file(f, "");
	unlink(cfg.curve_secret_file); /* written with O_EXCL */
	assert_int_equal(sl_curve_write_secret_file(
	                     cfg.curve_secret_file, &gw, err, sizeof err),
	    0);
	snprintf(line, sizeof line, "%s worker-one\n", w1.public_key);
	cfg.curve_clients_file = s_file(f, line);
	p = gw_policy_new(&cfg, zctx, err, sizeof err);
	assert_non_null(p);
	kp = gw_policy_curve(p, "workers");
	assert_non_null(kp);
	assert_string_equal(kp->public_key, gw.public_key);
	assert_null(gw_policy_curve(p, "producers")); /* no list: plain */
	assert_true(s_curve_reaches(zctx, kp, &w1));
	assert_false(s_curve_reaches(zctx, kp, &w2));

	/* SIGHUP with w2 instead of w1 in the list. */
	snprintf(line, sizeof line, "%s worker-two\n", w2.public_key);
	s_rewrite(cfg.curve_clients_file, line);
	gw_policy_reload(p);
	assert_false(s_curve_reaches(zctx, kp, &w1));
	assert_true(s_curve_reaches(zctx, kp, &w2));

	/* A broken list: the one in force stays. */
	s_rewrite(cfg.curve_clients_file, "not-a-key\n");
	gw_policy_reload(p);
	assert_true(s_curve_reaches(zctx, kp, &w2));
	gw_policy_destroy(&p); /* shuts zctx down: after the sockets */
	zmq_ctx_term(zctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_policy_without_options_lets_everyone_in, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_loads_tokens_and_origins, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_refuses_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_reload_replaces_tokens_and_keeps_them_on_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_curve_allows_listed_keys_and_reloads_them,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
