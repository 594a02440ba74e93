/*
 * test_curve: CurveZMQ keys, key files and socket setup (common/sl_curve).
 *
 * Keys are checked for shape, a fresh pair is written to a key file and
 * read back (public key derived again, permissions reported), every
 * refusal names the file, and a real CURVE server and client talk over
 * loopback TCP (CURVE does not apply to inproc): the right server key gets
 * a message through, a wrong one does not. No ZAP handler runs, so the
 * server accepts any client key. Single threaded; files under /tmp.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "curve_fixture.h"
#include "sl_curve.h"
#include "sl_err.h"

/* A path for a file that does not exist yet (mkstemp, then unlink). */
static void
s_fresh_path(char *path)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

static void
test_curve_key_valid_takes_40_z85_characters_only(void **state)
{
	sl_curve_keypair_t kp;
	char bad[SL_CURVE_KEY_LEN];

	(void) state;
	assert_int_equal(sl_curve_keypair_new(&kp), 0);
	assert_true(sl_curve_key_valid(kp.public_key));
	assert_true(sl_curve_key_valid(kp.secret_key));
	assert_false(sl_curve_key_valid(NULL));
	assert_false(sl_curve_key_valid(""));
	snprintf(bad, sizeof bad, "%.39s", kp.public_key);
	assert_false(sl_curve_key_valid(bad)); /* 39 characters */
	memcpy(bad, kp.public_key, sizeof bad);
	bad[5] = '~'; /* not in Z85's alphabet */
	assert_false(sl_curve_key_valid(bad));
	bad[5] = ' ';
	assert_false(sl_curve_key_valid(bad));
}

static void
test_curve_new_pairs_differ_and_match_their_public_keys(void **state)
{
	sl_curve_keypair_t a, b;
	char pub[SL_CURVE_KEY_LEN];

	(void) state;
	assert_int_equal(sl_curve_keypair_new(&a), 0);
	assert_int_equal(sl_curve_keypair_new(&b), 0);
	assert_string_not_equal(a.secret_key, b.secret_key);
	assert_int_equal(zmq_curve_public(pub, a.secret_key), 0);
	assert_string_equal(pub, a.public_key);
}

static void
test_curve_secret_file_round_trips_with_mode_0600(void **state)
{
	char path[] = "/tmp/sluice-ut-curve-XXXXXX", err[300];
	sl_curve_keypair_t kp, back;
	struct stat st;
	bool loose = true;

	(void) state;
	assert_int_equal(sl_curve_keypair_new(&kp), 0);
	s_fresh_path(path);
	assert_int_equal(
	    sl_curve_write_secret_file(path, &kp, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	memset(&back, 0, sizeof back);
	assert_int_equal(
	    sl_curve_read_secret_file(path, &back, &loose, err, sizeof err),
	    0);
	assert_false(loose);
	assert_string_equal(back.secret_key, kp.secret_key);
	assert_string_equal(back.public_key, kp.public_key);

	/* Readable by others: still read, and said so. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(
	    sl_curve_read_secret_file(path, &back, &loose, err, sizeof err),
	    0);
	assert_true(loose);

	/* Never overwritten. */
	assert_int_equal(
	    sl_curve_write_secret_file(path, &kp, err, sizeof err), SL_ESYS);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "File exists"));
	unlink(path);
}

static void
test_curve_secret_file_skips_comments_blank_lines_and_crlf(void **state)
{
	char path[] = "/tmp/sluice-ut-curve-XXXXXX", err[300], text[200];
	sl_curve_keypair_t kp, back;
	bool loose;

	(void) state;
	assert_int_equal(sl_curve_keypair_new(&kp), 0);
	snprintf(text, sizeof text, "# mine\r\n\r\n   %s  \r\nnot read\n",
	    kp.secret_key);
	sl_test_write_tmp(path, text, strlen(text));
	assert_int_equal(
	    sl_curve_read_secret_file(path, &back, &loose, err, sizeof err),
	    0);
	unlink(path);
	assert_string_equal(back.secret_key, kp.secret_key);
	assert_string_equal(back.public_key, kp.public_key);
}

static void
test_curve_secret_file_refusals_name_the_file(void **state)
{
	static const struct {
		const char *text;
		const char *why; /* after "PATH: " */
	} rows[] = {
		{ "", "no key in the file" },
		{ "# only a comment\n\n", "no key in the file" },
		{ "short\n", "not a Z85 key (40 characters)" },
		{ "# comment\n0123456789012345678901234567890123456789x\n",
		    "not a Z85 key (40 characters)" },
	};
	sl_curve_keypair_t back;
	char err[300], want[300];
	bool loose;

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char path[] = "/tmp/sluice-ut-curve-XXXXXX";

		sl_test_write_tmp(path, rows[i].text, strlen(rows[i].text));
		assert_int_equal(sl_curve_read_secret_file(
		                     path, &back, &loose, err, sizeof err),
		    SL_EINVAL);
		unlink(path);
		snprintf(want, sizeof want, "%s: %s", path, rows[i].why);
		sl_assert_row_str(rows[i].text, err, want);
	}
	assert_int_equal(sl_curve_read_secret_file("/nonexistent/sluice-key",
	                     &back, &loose, err, sizeof err),
	    SL_EINVAL);
	assert_string_equal(
	    err, "/nonexistent/sluice-key: No such file or directory");
}

/* A fresh client that takes server_key for the server's: 0 if its
 * message reached the server within timeout ms. */
static int
s_talk(void *zctx, const sl_curve_keypair_t *server, const char *server_key,
    int timeout)
{
	sl_curve_keypair_t client;

	assert_int_equal(sl_curve_keypair_new(&client), 0);
	return cf_send_one(
	    zctx, server, "ut", server_key, &client, timeout, NULL, 0);
}

static void
test_curve_client_with_the_server_key_talks_a_wrong_key_does_not(void **state)
{
	void *zctx = zmq_ctx_new();
	sl_curve_keypair_t server, other;

	(void) state;
	assert_non_null(zctx);
	if (!zmq_has("curve")) {
		zmq_ctx_term(zctx);
		skip();
	}
	assert_int_equal(sl_curve_keypair_new(&server), 0);
	assert_int_equal(sl_curve_keypair_new(&other), 0);
	assert_int_equal(s_talk(zctx, &server, server.public_key, 5000), 0);
	assert_int_equal(s_talk(zctx, &server, other.public_key, 500), -1);
	zmq_ctx_term(zctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_curve_key_valid_takes_40_z85_characters_only),
		cmocka_unit_test(
		    test_curve_new_pairs_differ_and_match_their_public_keys),
		cmocka_unit_test(
		    test_curve_secret_file_round_trips_with_mode_0600),
		cmocka_unit_test(
		    test_curve_secret_file_skips_comments_blank_lines_and_crlf),
		cmocka_unit_test(
		    test_curve_secret_file_refusals_name_the_file),
		cmocka_unit_test(
		    test_curve_client_with_the_server_key_talks_a_wrong_key_does_not),
	};

	return cmocka_run_group_tests_name("curve", tests, NULL, NULL);
}
