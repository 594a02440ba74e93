/*
 * gw_opts: defaults, the rules between options, and what they resolve
 * to (page directory, listen host and port), each error naming its
 * option.
 */
#include "sl_test.h"

#include "gw_opts.h"
#include "sl_cfg.h"
#include "sl_err.h"

/* argv from a NULL-terminated list (argv[0] included). */
static int
s_load(gw_opts_t *o, char *err, size_t errlen, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return gw_opts_load(o, argc, argv, stdout, err, errlen);
}

static void
test_opts_defaults_resolve_listen_and_page(void **state)
{
	char *argv[] = { "gw", "--www", "/tmp", NULL };
	gw_opts_t o;
	char err[300] = "";

	(void) state;
	assert_int_equal(s_load(&o, err, sizeof err, argv), 0);
	assert_string_equal(o.listen, "127.0.0.1:8080");
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.www_dir, "/tmp");
	assert_string_equal(o.producers, "tcp://127.0.0.1:5556");
	assert_int_equal(o.max_frame, 1048576);
	assert_null(gw_opts_str(o.tokens_file)); /* "none" */
	assert_string_equal(gw_opts_str(o.workers), "tcp://127.0.0.1:5555");
}

static void
test_opts_help_asks_to_exit(void **state)
{
	char *argv[] = { "gw", "--help", NULL };
	FILE *devnull = fopen("/dev/null", "w");
	gw_opts_t o;
	char err[300];

	(void) state;
	assert_non_null(devnull);
	assert_int_equal(gw_opts_load(&o, 2, argv, devnull, err, sizeof err),
	    SL_CFG_EXIT_OK);
	fclose(devnull);
}

/* Table: arguments -> the text the error must hold. */
static void
test_opts_errors_name_the_option(void **state)
{
	static const struct {
		const char *name;
		char *args[4];
		const char *want;
	} rows[] = {
		{ "ping not below hangup",
		    { "--ws-ping-secs", "30", "--ws-hangup-secs", "30" },
		    "--ws-ping-secs (30) must be less than --ws-hangup-secs "
		    "(30)" },
		{ "low not below high", { "--out-low-bytes", "2000000" },
		    "--out-low-bytes (2000000) must be less than "
		    "--out-high-bytes (1048576)" },
		{ "high not below max",
		    { "--out-high-bytes", "9000000", "--out-low-bytes",
		        "4096" },
		    "--out-high-bytes (9000000) must be less than "
		    "--max-out-bytes (8388608)" },
		{ "listen without port", { "--listen", "127.0.0.1" },
		    "--listen: '127.0.0.1' is not HOST:PORT" },
		{ "no page", { "--www", "/nonexistent/sluice-www" },
		    "--www: no readable page directory" },
		{ "out of range", { "--max-items", "0" }, "max-items" },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		char *argv[8] = { "gw", "--www", "/tmp" };
		int argc = 3;
		gw_opts_t o;
		char err[300] = "";

		for (int k = 0; k < 4 && rows[i].args[k]; k++)
			argv[argc++] = rows[i].args[k];
		sl_assert_row_int(rows[i].name,
		    gw_opts_load(&o, argc, argv, stdout, err, sizeof err),
		    SL_EINVAL);
		if (!strstr(err, rows[i].want)) {
			print_error("row \"%s\": error is \"%s\"\n",
			    rows[i].name, err);
			fail();
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_defaults_resolve_listen_and_page),
		cmocka_unit_test(test_opts_help_asks_to_exit),
		cmocka_unit_test(test_opts_errors_name_the_option),
	};

	/* The environment must not change the defaults under test. */
	unsetenv("SLUICE_LISTEN");
	unsetenv("SLUICE_WWW");
	unsetenv("SLUICE_PRODUCERS");
	unsetenv("SLUICE_WORKERS");
	return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
