/*
 * test_zap: the ZAP handler (common/sl_zap) with real CURVE peers.
 *
 * The handler runs in the test's ZeroMQ context on inproc, as in the
 * gateway; a CURVE ROUTER (the server) binds an ephemeral loopback port
 * (CURVE does not apply to inproc) and DEALER clients with their own key
 * pairs connect to it. A listed key gets its message through with its Z85
 * public key as the User-Id; an unknown key, or any key on a domain
 * without a list, gets nothing through and one log line. Allow-list files
 * are read from /tmp. The handler's thread is the only other thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <unistd.h>

#include <zmq.h>

#include "curve_fixture.h"
#include "sl_curve.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_zap.h"

typedef struct fixture {
	void *zctx;
	sl_zap_t *zap;
	sl_curve_keypair_t server, alice, bob;
	char list[64]; /* allow-list path: alice only */
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	char err[200], text[200];

	if (!f || !zmq_has("curve"))
		return -1;
	f->zctx = zmq_ctx_new();
	f->zap = sl_zap_new(f->zctx, err, sizeof err);
	if (!f->zap || sl_curve_keypair_new(&f->server)
	    || sl_curve_keypair_new(&f->alice)
	    || sl_curve_keypair_new(&f->bob))
		return -1;
	snprintf(text, sizeof text, "# who\n%s alice\n", f->alice.public_key);
	snprintf(f->list, sizeof f->list, "/tmp/sluice-ut-zap-XXXXXX");
	sl_test_write_tmp(f->list, text, strlen(text));
	sl_log_setup("ut", SL_LOG_NOTICE);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	unlink(f->list);
	sl_zap_destroy(&f->zap);
	zmq_ctx_term(f->zctx);
	free(f);
	return 0;
}

/* A client with key pair cli on the server's domain: 0 if its message
 * came through within timeout ms (its User-Id into user), else -1. */
static int
s_try(fixture_t *f, const char *domain, const sl_curve_keypair_t *cli,
    int timeout, char *user, size_t userlen)
{
	return cf_send_one(f->zctx, &f->server, domain, f->server.public_key,
	    cli, timeout, user, userlen);
}

/* s_try (1 s) with stderr in a file: what was logged meanwhile, for the
 * caller to free. */
static char *
s_stderr_of(
    fixture_t *f, const sl_curve_keypair_t *cli, const char *domain, int *rc)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char user[64], *text;
	long n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	*rc = s_try(f, domain, cli, 1000, user, sizeof user);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = ftell(tmp);
	assert_true(n >= 0);
	text = calloc(1, (size_t) n + 1);
	assert_non_null(text);
	rewind(tmp);
	assert_int_equal(fread(text, 1, (size_t) n, tmp), (size_t) n);
	fclose(tmp);
	return text;
}

static int
s_lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void
test_zap_listed_key_passes_with_its_key_as_user_id(void **state)
{
	fixture_t *f = *state;
	size_t n_keys = 0, allowed, denied;
	char err[200], user[64] = "";

	assert_int_equal(sl_zap_allow_file(f->zap, "ut", f->list, "UT-DENIED",
	                     &n_keys, err, sizeof err),
	    0);
	assert_int_equal(n_keys, 1);
	assert_int_equal(
	    s_try(f, "ut", &f->alice, 5000, user, sizeof user), 0);
	assert_string_equal(user, f->alice.public_key);
	sl_zap_counts(f->zap, &allowed, &denied);
	assert_int_equal(allowed, 1);
	assert_int_equal(denied, 0);
}

static void
test_zap_unknown_key_gets_nothing_through_and_one_line(void **state)
{
	fixture_t *f = *state;
	size_t allowed, denied;
	char err[200], *text, want[64];
	int rc;

	assert_int_equal(sl_zap_allow_file(f->zap, "ut", f->list, "UT-DENIED",
	                     NULL, err, sizeof err),
	    0);
	text = s_stderr_of(f, &f->bob, "ut", &rc);
	assert_int_equal(rc, -1);
	sl_zap_counts(f->zap, &allowed, &denied);
	assert_int_equal(allowed, 0);
	assert_true(denied >= 1);
	/* However often the client retried: one line per key per 10 s. */
	snprintf(
	    want, sizeof want, "UT-DENIED key=%.8s...", f->bob.public_key);
	if (s_lines_with(text, want) != 1
	    || !strstr(text, "reason=unknown_key")) {
		print_error("log: %s\n", text);
		fail();
	}
	free(text);
}

static void
test_zap_domain_without_a_list_denies_everyone(void **state)
{
	fixture_t *f = *state;
	size_t allowed, denied;
	char *text;
	int rc;

	text = s_stderr_of(f, &f->alice, "nolist", &rc);
	assert_int_equal(rc, -1);
	sl_zap_counts(f->zap, &allowed, &denied);
	assert_int_equal(allowed, 0);
	assert_true(denied >= 1);
	if (!strstr(text, "ZAP-DENIED")
	    || !strstr(text, "reason=no_allow_list")) {
		print_error("log: %s\n", text);
		fail();
	}
	free(text);
}

static void
test_zap_a_new_list_replaces_the_old_one(void **state)
{
	fixture_t *f = *state;
	char path[] = "/tmp/sluice-ut-zap-XXXXXX", text[200], err[200];
	char user[64] = "";
	size_t n_keys = 0;

	assert_int_equal(sl_zap_allow_file(f->zap, "ut", f->list, "UT-DENIED",
	                     NULL, err, sizeof err),
	    0);
	snprintf(text, sizeof text, "%s\n\n%s bob\n", f->server.public_key,
	    f->bob.public_key);
	sl_test_write_tmp(path, text, strlen(text));
	assert_int_equal(sl_zap_allow_file(f->zap, "ut", path, "UT-DENIED",
	                     &n_keys, err, sizeof err),
	    0);
	unlink(path);
	assert_int_equal(n_keys, 2);
	assert_int_equal(s_try(f, "ut", &f->bob, 5000, user, sizeof user), 0);
	assert_string_equal(user, f->bob.public_key);
	assert_int_equal(
	    s_try(f, "ut", &f->alice, 500, user, sizeof user), -1);
}

static void
test_zap_bad_files_are_refused_and_the_old_list_stays(void **state)
{
	fixture_t *f = *state;
	char long_name[100], text[400], long_line[300], err[300], want[300];
	char user[64];
	const struct {
		const char *name;
		const char *text;
		const char *why; /* after "PATH:" */
	} rows[] = {
		{ "not a key", "# x\n\nshort name\n",
		    "3: not a Z85 public key (40 characters)" },
		{ "name too long", text, "2: name over 63 bytes" },
		{ "line too long", long_line, "1: line too long" },
	};

	/* 255 bytes: one more than a key, a name and white space need */
	memset(long_line, ' ', 255);
	memcpy(long_line, f->bob.public_key, 40);
	long_line[255] = '\n';
	long_line[256] = '\0';
	memset(long_name, 'n', 64);
	long_name[64] = '\0';
	snprintf(text, sizeof text, "%s\n%s %s\n", f->alice.public_key,
	    f->bob.public_key, long_name);
	assert_int_equal(sl_zap_allow_file(f->zap, "ut", f->list, "UT-DENIED",
	                     NULL, err, sizeof err),
	    0);
	for (size_t i = 0; i < SL_N(rows); i++) {
		char path[] = "/tmp/sluice-ut-zap-XXXXXX";

		sl_test_write_tmp(path, rows[i].text, strlen(rows[i].text));
		assert_int_equal(sl_zap_allow_file(f->zap, "ut", path,
		                     "UT-DENIED", NULL, err, sizeof err),
		    SL_EINVAL);
		unlink(path);
		snprintf(want, sizeof want, "%s:%s", path, rows[i].why);
		sl_assert_row_str(rows[i].name, err, want);
	}
	assert_int_equal(sl_zap_allow_file(f->zap, "ut", "/nonexistent/keys",
	                     "UT-DENIED", NULL, err, sizeof err),
	    SL_EINVAL);
	assert_string_equal(
	    err, "/nonexistent/keys: No such file or directory");
	/* alice, from the first list, still passes. */
	assert_int_equal(
	    s_try(f, "ut", &f->alice, 5000, user, sizeof user), 0);
}

static void
test_zap_second_handler_in_one_context_is_refused(void **state)
{
	fixture_t *f = *state;
	char err[200] = "";

	assert_null(sl_zap_new(f->zctx, err, sizeof err));
	assert_non_null(strstr(err, "inproc://zeromq.zap.01"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_zap_listed_key_passes_with_its_key_as_user_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_zap_unknown_key_gets_nothing_through_and_one_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zap_domain_without_a_list_denies_everyone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_zap_a_new_list_replaces_the_old_one, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zap_bad_files_are_refused_and_the_old_list_stays,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_zap_second_handler_in_one_context_is_refused, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("zap", tests, NULL, NULL);
}
