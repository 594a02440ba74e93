/*
 * Unit tests for gw_auth: token lists and files, bearer headers, origins,
 * the constant-time compare and the loopback checks. Pure functions, no
 * lws context needed. Test main thread only.
 */
#include "sl_test.h"

#include <unistd.h>

#include "gw_auth.h"
#include "sl_err.h"

#define TOK_A "alpha-token-0123456789"
#define TOK_B "bravo-token-9876543210"

static int
setup(void **state)
{
	*state = gw_auth_new();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	gw_auth_t *auth = *state;

	gw_auth_destroy(&auth);
	assert_null(auth);
	gw_auth_destroy(&auth); /* NULL-safe */
	return 0;
}

static bool
s_ok(const gw_auth_t *a, const char *tok)
{
	return gw_auth_token_ok(a, tok, strlen(tok));
}

static void
test_auth_without_tokens_everyone_passes(void **state)
{
	gw_auth_t *a = *state;

	assert_int_equal(gw_auth_n_tokens(a), 0);
	assert_true(s_ok(a, ""));
	assert_true(gw_auth_origin_ok(a, "https://anything.example"));
	assert_true(gw_auth_origin_ok(a, NULL));
}

static void
test_auth_token_list_is_trimmed_and_matched_exactly(void **state)
{
	gw_auth_t *a = *state;
	char err[200];

	assert_int_equal(
	    gw_auth_add_tokens(a, " " TOK_A " ,, " TOK_B ",", err, sizeof err),
	    0);
	assert_int_equal(gw_auth_n_tokens(a), 2);
	assert_true(s_ok(a, TOK_A));
	assert_true(s_ok(a, TOK_B));
	assert_false(s_ok(a, ""));
	assert_false(s_ok(a, TOK_A "x"));
	assert_false(s_ok(a, "alpha-token-012345678"));  /* a prefix */
	assert_false(s_ok(a, "ALPHA-TOKEN-0123456789")); /* case matters */
	assert_false(gw_auth_token_ok(a, TOK_A, 5));
	assert_false(gw_auth_token_ok(a, NULL, 0));
}

static void
test_auth_bad_tokens_are_refused_without_echoing_them(void **state)
{
	static const struct {
		const char *csv;
		const char *why;
	} rows[] = {
		{ "short", "of 5 characters" },
		{ "has space inside-0123456789", "position 4" },
		{ "tab\tinside-0123456789xx", "position 4" },
		{ "caf\xc3\xa9-not-ascii-0123456", "position 4" },
	};
	char err[200];

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		gw_auth_t *a = gw_auth_new();

		assert_non_null(a);
		sl_assert_row_int(rows[i].csv,
		    gw_auth_add_tokens(a, rows[i].csv, err, sizeof err),
		    SL_EINVAL);
		if (!strstr(err, rows[i].why) || strstr(err, rows[i].csv)) {
			print_error(
			    "row \"%s\": err \"%s\"\n", rows[i].csv, err);
			fail();
		}
		gw_auth_destroy(&a);
	}
}

static void
test_auth_tokens_file_skips_comments_and_blank_lines(void **state)
{
	gw_auth_t *a = *state;
	char path[] = "/tmp/sluice-ut-tokens-XXXXXX", err[200];
	int fd = mkstemp(path);
	static const char text[]
	    = "# clients\n\n" TOK_A "\n   \n  " TOK_B "  \r\n#" TOK_A "x\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
	close(fd);
	assert_int_equal(
	    gw_auth_load_tokens_file(a, path, err, sizeof err), 0);
	assert_int_equal(gw_auth_n_tokens(a), 2);
	assert_true(s_ok(a, TOK_B));
	assert_false(s_ok(a, "#" TOK_A "x"));
	unlink(path);
	assert_int_equal(
	    gw_auth_load_tokens_file(a, path, err, sizeof err), SL_EINVAL);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_auth_tokens_file_names_the_bad_line(void **state)
{
	gw_auth_t *a = *state;
	char path[] = "/tmp/sluice-ut-tokens-XXXXXX", err[200];
	int fd = mkstemp(path);
	static const char text[] = TOK_A "\nshort\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
	close(fd);
	assert_int_equal(
	    gw_auth_load_tokens_file(a, path, err, sizeof err), SL_EINVAL);
	unlink(path);
	assert_non_null(strstr(err, ":2: a token of 5 characters"));
}

static void
test_auth_bearer_header_parsing(void **state)
{
	static const struct {
		const char *hdr;
		int rc;
		const char *tok;
	} rows[] = {
		{ "Bearer abc", 0, "abc" },
		{ "bearer abc", 0, "abc" },
		{ "BEARER   abc  ", 0, "abc" },
		{ "  Bearer abc", 0, "abc" },
		{ "Bearer", SL_EINVAL, NULL },
		{ "Bearer ", SL_EINVAL, NULL },
		{ "Bearer    ", SL_EINVAL, NULL },
		{ "Bearerabc", SL_EINVAL, NULL },
		{ "Basic YWxhZGRpbjpvcGVuc2VzYW1l", SL_EINVAL, NULL },
		{ "", SL_EINVAL, NULL },
		{ "Token abc", SL_EINVAL, NULL },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		const char *tok = NULL;
		size_t len = 0;
		char got[64] = "";
		int rc = gw_auth_parse_bearer(
		    rows[i].hdr, strlen(rows[i].hdr), &tok, &len);

		sl_assert_row_int(rows[i].hdr, rc, rows[i].rc);
		if (!rc)
			snprintf(got, sizeof got, "%.*s", (int) len, tok);
		sl_assert_row_str(rows[i].hdr, rc ? NULL : got, rows[i].tok);
	}
}

static void
test_auth_origins_match_exactly_ignoring_case_and_trailing_slash(void **state)
{
	static const struct {
		const char *origin;
		bool ok;
	} rows[] = {
		{ "https://app.example.com", true },
		{ "HTTPS://App.Example.COM", true },
		{ "https://app.example.com/", true },
		{ "http://localhost:8080", true },
		{ "http://app.example.com", false },      /* other scheme */
		{ "https://app.example.com:444", false }, /* other port */
		{ "https://app.example.com.evil", false },
		{ "https://evil.app.example.com", false },
		{ "http://localhost:80800", false },
		{ "null", false },
		{ "", false },
	};
	gw_auth_t *a = *state;
	char err[200];

	assert_int_equal(gw_auth_add_origins(a,
	                     "https://app.example.com/, http://localhost:8080",
	                     err, sizeof err),
	    0);
	assert_int_equal(gw_auth_n_origins(a), 2);
	for (size_t i = 0; i < SL_N(rows); i++)
		sl_assert_row_int(rows[i].origin,
		    gw_auth_origin_ok(a, rows[i].origin), rows[i].ok);
	/* no Origin: a non-browser client, allowed unless told otherwise */
	assert_true(gw_auth_origin_ok(a, NULL));
	gw_auth_set_allow_no_origin(a, false);
	assert_false(gw_auth_origin_ok(a, NULL));
}

static void
test_auth_origin_list_refuses_entries_without_scheme(void **state)
{
	gw_auth_t *a = *state;
	char err[200];

	assert_int_equal(
	    gw_auth_add_origins(a, "app.example.com", err, sizeof err),
	    SL_EINVAL);
	assert_non_null(strstr(err, "scheme://"));
	assert_int_equal(gw_auth_add_origins(a, "null", err, sizeof err), 0);
	assert_true(gw_auth_origin_ok(a, "null"));
}

static void
test_auth_ct_equal_compares_whole_strings_of_any_length(void **state)
{
	(void) state;
	assert_true(gw_auth_ct_equal(B("secret"), B("secret")));
	assert_false(gw_auth_ct_equal(B("secret"), B("secreT")));
	assert_false(gw_auth_ct_equal(B("secret"), B("secret\0")));
	assert_false(gw_auth_ct_equal(B("secret"), B("secre")));
	assert_false(gw_auth_ct_equal(B(""), B("x")));
	assert_true(gw_auth_ct_equal(B(""), B("")));
	assert_true(gw_auth_ct_equal(B("a\0b"), B("a\0b")));
	assert_false(gw_auth_ct_equal(B("a\0b"), B("a\0c")));
}

/*
 * A timing smoke test, not a proof: checking a token that differs in its
 * first byte and one that differs in its last takes the same time within
 * a wide margin (a memcmp-style early exit on 512-byte tokens would show
 * up as a ratio; digests make both the same work). Each side keeps its
 * fastest of eleven interleaved rounds: a round another process
 * preempted (2 cores shared by four builds) says nothing about the
 * compare; five rounds and a 2x margin still failed now and then under
 * ctest -j2 on a loaded machine.
 */
static void
test_auth_token_check_time_does_not_depend_on_where_it_differs(void **state)
{
	gw_auth_t *a = *state;
	char tok[GW_AUTH_TOKEN_MAX + 1], early[sizeof tok], late[sizeof tok];
	char err[200];
	double t[2] = { 1e9, 1e9 };

	memset(tok, 'k', GW_AUTH_TOKEN_MAX);
	tok[GW_AUTH_TOKEN_MAX] = '\0';
	memcpy(early, tok, sizeof tok);
	memcpy(late, tok, sizeof tok);
	early[0] = 'x';
	late[GW_AUTH_TOKEN_MAX - 1] = 'x';
	assert_int_equal(gw_auth_add_tokens(a, tok, err, sizeof err), 0);
	for (int round = 0; round < 11; round++)
		for (int w = 0; w < 2; w++) {
			const char *cand = w ? late : early;
			struct timespec t0, t1;
			double dt;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (int i = 0; i < 20000; i++)
				assert_false(s_ok(a, cand));
			clock_gettime(CLOCK_MONOTONIC, &t1);
			dt = (double) (t1.tv_sec - t0.tv_sec)
			    + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (dt < t[w])
				t[w] = dt;
		}
	if (t[0] / t[1] > 3.0 || t[1] / t[0] > 3.0) {
		print_error("early %.4f s, late %.4f s\n", t[0], t[1]);
		fail();
	}
}

static void
test_auth_loopback_hosts_and_endpoints(void **state)
{
	static const struct {
		const char *s;
		bool local;
	} hosts[] = {
		{ "127.0.0.1", true },
		{ "127.1.2.3", true },
		{ "localhost", true },
		{ "::1", true },
		{ "[::1]", true },
		{ "", false },
		{ "*", false },
		{ "0.0.0.0", false },
		{ "10.0.0.1", false },
		{ "127.evil.example", false },
		{ "example.com", false },
	},
	  eps[] = {
		  { "tcp://127.0.0.1:5555", true },
		  { "tcp://localhost:5555", true },
		  { "tcp://[::1]:5555", true },
		  { "ipc:///run/sluice.sock", true },
		  { "inproc://workers", true },
		  { "tcp://*:5555", false },
		  { "tcp://0.0.0.0:5555", false },
		  { "tcp://eth0:5555", false },
		  { "tcp://192.168.1.2:5555", false },
		  { "ws://127.0.0.1:5555", false },
	  };

	(void) state;
	for (size_t i = 0; i < SL_N(hosts); i++)
		sl_assert_row_int(hosts[i].s,
		    gw_auth_host_is_loopback(hosts[i].s), hosts[i].local);
	for (size_t i = 0; i < SL_N(eps); i++)
		sl_assert_row_int(eps[i].s,
		    gw_auth_endpoint_is_local(eps[i].s), eps[i].local);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_auth_without_tokens_everyone_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_token_list_is_trimmed_and_matched_exactly, setup,
		    teardown),
		cmocka_unit_test(
		    test_auth_bad_tokens_are_refused_without_echoing_them),
		cmocka_unit_test_setup_teardown(
		    test_auth_tokens_file_skips_comments_and_blank_lines,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_tokens_file_names_the_bad_line, setup, teardown),
		cmocka_unit_test(test_auth_bearer_header_parsing),
		cmocka_unit_test_setup_teardown(
		    test_auth_origins_match_exactly_ignoring_case_and_trailing_slash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_auth_origin_list_refuses_entries_without_scheme,
		    setup, teardown),
		cmocka_unit_test(
		    test_auth_ct_equal_compares_whole_strings_of_any_length),
		cmocka_unit_test_setup_teardown(
		    test_auth_token_check_time_does_not_depend_on_where_it_differs,
		    setup, teardown),
		cmocka_unit_test(test_auth_loopback_hosts_and_endpoints),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
