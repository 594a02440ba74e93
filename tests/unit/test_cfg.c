/*
 * test_cfg: table-driven options (common/sl_cfg).
 *
 * A small option table (one of each type) is loaded from defaults, the
 * environment and argv, checking precedence, both flag spellings, every
 * refusal (with a message naming the option) and --help / --version.
 * The environment variables are private to this test and cleared around
 * every case. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <unistd.h>

#include "sl_cfg.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct test_cfg {
	long long port;     /* SL_OPT_INT */
	const char *listen; /* SL_OPT_STR */
	int mode;           /* SL_OPT_ENUM: fd,thread,uv */
	long long depth;    /* SL_OPT_INT with a negative range */
} test_cfg_t;

static const sl_opt_t s_opts[] = {
	{ "port", "SLUICE_UT_PORT", SL_OPT_INT, "8080", 1, 65535, NULL,
	    offsetof(test_cfg_t, port), "TCP port to listen on" },
	{ "listen", "SLUICE_UT_LISTEN", SL_OPT_STR, "127.0.0.1", 0, 0, NULL,
	    offsetof(test_cfg_t, listen), "address to bind" },
	{ "mode", "SLUICE_UT_MODE", SL_OPT_ENUM, "thread", 0, 0,
	    "fd,thread,uv", offsetof(test_cfg_t, mode), "event loop flavour" },
	{ "depth", "SLUICE_UT_DEPTH", SL_OPT_INT, "-3", -10, 10, NULL,
	    offsetof(test_cfg_t, depth), "signed knob" },
};

static const sl_cfg_info_t s_info
    = { "sluice-ut", "unit test program", "9.8.7" };

static const char *const s_env[] = { "SLUICE_UT_PORT", "SLUICE_UT_LISTEN",
	"SLUICE_UT_MODE", "SLUICE_UT_DEPTH" };

/* Per-test state: the config, what --help printed, the error text. */
typedef struct fixture {
	test_cfg_t cfg;
	char *out_buf;
	size_t out_len;
	FILE *out;
	char err[256];
} fixture_t;

static void
s_clear_env(void)
{
	for (size_t i = 0; i < SL_N(s_env); i++)
		unsetenv(s_env[i]);
}

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->out = open_memstream(&f->out_buf, &f->out_len);
	if (!f->out) {
		free(f);
		return -1;
	}
	memset(&f->cfg, 0x5a, sizeof f->cfg); /* no field is left as it was */
	s_clear_env();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	s_clear_env();
	fclose(f->out);
	free(f->out_buf);
	free(f);
	return 0;
}

/* Load with argv given as a NULL-terminated list after the program name. */
#define LOAD(f, ...) s_load((f), (const char *const[]) { __VA_ARGS__, NULL })

static int
s_load(fixture_t *f, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *) "sluice-ut";
	for (; *args; args++) {
		assert_true(argc < 15);
		argv[argc++] = (char *) *args;
	}
	argv[argc] = NULL;
	f->err[0] = '\0';
	return sl_cfg_load(s_opts, SL_N(s_opts), &f->cfg, argc, argv, &s_info,
	    f->out, f->err, sizeof f->err);
}

/* What was printed to out so far, NUL-terminated. */
static const char *
s_output(fixture_t *f)
{
	assert_int_equal(fflush(f->out), 0);
	return f->out_buf ? f->out_buf : "";
}

static void
s_assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error(
		    "\"%s\" does not contain \"%s\"\n", haystack, needle);
		fail();
	}
}

/* ---- sources and precedence ----------------------------------------------
 */

static void
test_cfg_defaults_are_applied(void **state)
{
	fixture_t *f = *state;
	char *argv[] = { (char *) "sluice-ut", NULL };

	assert_int_equal(sl_cfg_load(s_opts, SL_N(s_opts), &f->cfg, 1, argv,
	                     &s_info, f->out, f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 8080);
	assert_string_equal(f->cfg.listen, "127.0.0.1");
	assert_int_equal(f->cfg.mode, 1); /* "thread" */
	assert_int_equal(f->cfg.depth, -3);
	assert_string_equal(s_output(f), ""); /* nothing printed */
}

static void
test_cfg_environment_overrides_the_default(void **state)
{
	fixture_t *f = *state;

	setenv("SLUICE_UT_PORT", "9090", 1);
	setenv("SLUICE_UT_LISTEN", "0.0.0.0", 1);
	setenv("SLUICE_UT_MODE", "uv", 1);
	assert_int_equal(LOAD(f, NULL), SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 9090);
	assert_string_equal(f->cfg.listen, "0.0.0.0");
	assert_int_equal(f->cfg.mode, 2);
	assert_int_equal(f->cfg.depth, -3); /* no variable: still default */
}

static void
test_cfg_command_line_overrides_the_environment(void **state)
{
	fixture_t *f = *state;

	setenv("SLUICE_UT_PORT", "9090", 1);
	setenv("SLUICE_UT_MODE", "uv", 1);
	assert_int_equal(LOAD(f, "--port", "7070", "--mode=fd"), SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 7070);
	assert_int_equal(f->cfg.mode, 0);
}

static void
test_cfg_both_flag_spellings_set_the_value(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(
	    LOAD(f, "--listen", "10.0.0.1", "--depth=-10"), SL_CFG_RUN);
	assert_string_equal(f->cfg.listen, "10.0.0.1");
	assert_int_equal(f->cfg.depth, -10);
	assert_int_equal(
	    LOAD(f, "--listen=[::1]:80", "--depth", "10"), SL_CFG_RUN);
	assert_string_equal(f->cfg.listen, "[::1]:80");
	assert_int_equal(f->cfg.depth, 10);
	/* only the first '=' splits: the value may hold more */
	assert_int_equal(LOAD(f, "--listen=a=b"), SL_CFG_RUN);
	assert_string_equal(f->cfg.listen, "a=b");
}

static void
test_cfg_later_flags_win_over_earlier_ones(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(
	    LOAD(f, "--port=1", "--port", "2", "--mode", "uv", "--mode=fd"),
	    SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 2);
	assert_int_equal(f->cfg.mode, 0);
}

static void
test_cfg_range_limits_are_inclusive(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(LOAD(f, "--port=1"), SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 1);
	assert_int_equal(LOAD(f, "--port=65535"), SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 65535);
}

/* ---- refusals ---------------------------------------------------------- */

typedef struct bad_row {
	const char *name;
	const char *env_name; /* set this variable first, or NULL */
	const char *env_value;
	const char *args[4]; /* NULL-terminated */
	const char
	    *mentions[3]; /* substrings of the message, NULL-terminated */
} bad_row_t;

static const bad_row_t s_bad[] = {
	{ "int above range", NULL, NULL, { "--port", "65536" },
	    { "--port", "65536", "1..65535" } },
	{ "int below range", NULL, NULL, { "--port=0" },
	    { "--port", "out of range" } },
	{ "negative below range", NULL, NULL, { "--depth=-11" },
	    { "--depth", "-11" } },
	{ "int overflowing long long", NULL, NULL,
	    { "--port=99999999999999999999" }, { "--port" } },
	{ "not an integer", NULL, NULL, { "--port", "80x" },
	    { "--port", "'80x'", "not an integer" } },
	{ "empty integer", NULL, NULL, { "--port=" },
	    { "--port", "not an integer" } },
	{ "hex is not decimal", NULL, NULL, { "--port=0x50" }, { "--port" } },
	{ "real is not an integer", NULL, NULL, { "--port=80.0" },
	    { "--port" } },
	{ "empty string", NULL, NULL, { "--listen=" },
	    { "--listen", "empty" } },
	{ "bad enum", NULL, NULL, { "--mode", "epoll" },
	    { "--mode", "'epoll'", "fd,thread,uv" } },
	{ "enum prefix", NULL, NULL, { "--mode=thr" }, { "--mode", "thr" } },
	{ "enum is case sensitive", NULL, NULL, { "--mode=FD" },
	    { "--mode" } },
	{ "enum with comma", NULL, NULL, { "--mode=fd,uv" }, { "--mode" } },
	{ "unknown option", NULL, NULL, { "--bogus=1" }, { "--bogus" } },
	{ "unknown option without value", NULL, NULL, { "--portx" },
	    { "--portx" } },
	{ "option prefix is not an option", NULL, NULL, { "--por=1" },
	    { "--por" } },
	{ "single dash", NULL, NULL, { "-port", "1" }, { "-port" } },
	{ "bare word", NULL, NULL, { "stray" }, { "stray" } },
	{ "missing value", NULL, NULL, { "--port" },
	    { "--port", "needs a value" } },
	{ "missing value after good ones", NULL, NULL,
	    { "--port", "1", "--mode" }, { "--mode", "needs a value" } },
	{ "bad environment int", "SLUICE_UT_PORT", "eighty", { NULL },
	    { "SLUICE_UT_PORT", "--port", "eighty" } },
	{ "bad environment enum", "SLUICE_UT_MODE", "poll", { NULL },
	    { "SLUICE_UT_MODE", "--mode" } },
	{ "empty environment string", "SLUICE_UT_LISTEN", "", { NULL },
	    { "SLUICE_UT_LISTEN", "--listen" } },
	{ "bad env even when argv would fix it", "SLUICE_UT_PORT", "-1",
	    { "--port", "80" }, { "SLUICE_UT_PORT", "--port" } },
};

static void
test_cfg_bad_values_are_refused_with_a_message_naming_the_option(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < SL_N(s_bad); i++) {
		const bad_row_t *t = &s_bad[i];
		const char *args[5] = { 0 };

		for (size_t a = 0; a < 4 && t->args[a]; a++)
			args[a] = t->args[a];
		s_clear_env();
		if (t->env_name)
			setenv(t->env_name, t->env_value, 1);
		sl_assert_row_int(t->name, s_load(f, args), SL_EINVAL);
		for (size_t m = 0; m < 3 && t->mentions[m]; m++) {
			if (!strstr(f->err, t->mentions[m])) {
				print_error("row \"%s\": message \"%s\" does "
				            "not mention \"%s\"\n",
				    t->name, f->err, t->mentions[m]);
				fail();
			}
		}
	}
	assert_string_equal(s_output(f), ""); /* errors go to err only */
}

static void
test_cfg_error_message_names_its_source(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(LOAD(f, "--port=0"), SL_EINVAL);
	s_assert_contains(f->err, "command line");
	setenv("SLUICE_UT_DEPTH", "11", 1);
	assert_int_equal(LOAD(f, NULL), SL_EINVAL);
	assert_string_equal(
	    f->err, "SLUICE_UT_DEPTH: --depth: 11 is out of range -10..10");
}

static void
test_cfg_long_error_message_is_cut_not_overflowed(void **state)
{
	fixture_t *f = *state;
	char value[600];
	char *argv[] = { (char *) "sluice-ut", value, NULL };
	char small[16];

	memset(value, 'x', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	memcpy(value, "--mode=", 7);
	assert_int_equal(sl_cfg_load(s_opts, SL_N(s_opts), &f->cfg, 2, argv,
	                     &s_info, f->out, small, sizeof small),
	    SL_EINVAL);
	assert_int_equal(strlen(small), sizeof small - 1);
}

/* ---- help and version ----------------------------------------------------
 */

static void
test_cfg_help_prints_every_option_and_exits_ok(void **state)
{
	fixture_t *f = *state;
	const char *out;

	assert_int_equal(LOAD(f, "--help"), SL_CFG_EXIT_OK);
	out = s_output(f);
	s_assert_contains(out, "sluice-ut 9.8.7: unit test program");
	s_assert_contains(out, "Usage: sluice-ut");
	s_assert_contains(out, "--port N  (env SLUICE_UT_PORT, default 8080)");
	s_assert_contains(out, "TCP port to listen on [1..65535]");
	s_assert_contains(out, "--listen VALUE  (env SLUICE_UT_LISTEN");
	s_assert_contains(out, "--mode WORD");
	s_assert_contains(out, "[fd,thread,uv]");
	s_assert_contains(out, "[-10..10]");
	s_assert_contains(out, "--help");
	s_assert_contains(out, "--version");
}

static void
test_cfg_help_shows_the_values_the_environment_sets(void **state)
{
	static const sl_opt_t opts[] = {
		{ "port", "SLUICE_UT_PORT", SL_OPT_INT, "8080", 1, 65535, NULL,
		    offsetof(test_cfg_t, port), "TCP port" },
		{ "listen", "SLUICE_UT_LISTEN", SL_OPT_SECRET, "none", 0, 0,
		    NULL, offsetof(test_cfg_t, listen), "a secret" },
		{ "depth", "SLUICE_UT_DEPTH", SL_OPT_INT, "-3", -10, 10, NULL,
		    offsetof(test_cfg_t, depth), "left unset" },
	};
	fixture_t *f = *state;
	const char *out;

	setenv("SLUICE_UT_PORT", "9090", 1);
	setenv("SLUICE_UT_LISTEN", "hunter2-hunter2", 1);
	sl_cfg_print_help(opts, SL_N(opts), &s_info, f->out);
	out = s_output(f);
	s_assert_contains(out, "(env SLUICE_UT_PORT, default 8080)");
	s_assert_contains(out, "now: SLUICE_UT_PORT=9090");
	/* a secret is never printed, only that it is set */
	s_assert_contains(out, "now: SLUICE_UT_LISTEN=(set)");
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "now: SLUICE_UT_DEPTH"));
}

static void
test_cfg_short_help_and_help_after_options_exit_ok(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(LOAD(f, "-h"), SL_CFG_EXIT_OK);
	s_assert_contains(s_output(f), "--port N");
	/* --help wins even after other (valid) options */
	assert_int_equal(LOAD(f, "--port=5", "--help"), SL_CFG_EXIT_OK);
}

static void
test_cfg_version_prints_program_and_version(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(LOAD(f, "--version"), SL_CFG_EXIT_OK);
	assert_string_equal(s_output(f), "sluice-ut 9.8.7\n");
	assert_int_equal(LOAD(f, "-V"), SL_CFG_EXIT_OK);
	assert_string_equal(s_output(f), "sluice-ut 9.8.7\nsluice-ut 9.8.7\n");
}

/*
 * sl_cfg_load treats env as optional (opts[i].env ? getenv() : NULL), so
 * --help must cope with it too, instead of passing NULL to "%s".
 */
static void
test_cfg_help_copes_with_an_option_without_environment_variable(void **state)
{
	static const sl_opt_t opts[] = {
		{ "quiet", NULL, SL_OPT_INT, "0", 0, 1, NULL,
		    offsetof(test_cfg_t, port), "no variable for this one" },
	};
	fixture_t *f = *state;
	char *argv[] = { (char *) "sluice-ut", (char *) "--quiet=1", NULL };

	assert_int_equal(sl_cfg_load(opts, 1, &f->cfg, 2, argv, &s_info,
	                     f->out, f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(f->cfg.port, 1);
	sl_cfg_print_help(opts, 1, &s_info, f->out);
	s_assert_contains(s_output(f), "--quiet N");
	if (strstr(s_output(f), "(null)")) {
		print_error("help printed a NULL env as \"(null)\":\n%s\n",
		    s_output(f));
		fail();
	}
}

/* ---- the effective configuration is logged once ------------------------ */

static void
test_cfg_log_writes_one_line_with_every_effective_value(void **state)
{
	fixture_t *f = *state;
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char line[1024] = "";
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_int_equal(LOAD(f, "--port=81", "--mode=uv"), SL_CFG_RUN);
	sl_log_setup("ut", SL_LOG_NOTICE);
	/* sl_log writes straight to fd 2: point it at a file for a moment */
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	sl_cfg_log(s_opts, SL_N(s_opts), &f->cfg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(line, 1, sizeof line - 1, tmp);
	fclose(tmp);
	line[n] = '\0';
	s_assert_contains(line, "N: ");
	s_assert_contains(line, " ut CFG effective configuration:");
	s_assert_contains(
	    line, " port=81 listen=127.0.0.1 mode=uv depth=-3\n");
	assert_int_equal(strchr(line, '\n') - line + 1, (long) n);
}

/* ---- operands (sl_cfg_load_pos) -------------------------------------------
 */

static int
s_load_pos(fixture_t *f, int *first, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *) "sluice-ut";
	for (; *args; args++)
		argv[argc++] = (char *) *args;
	argv[argc] = NULL;
	f->err[0] = '\0';
	return sl_cfg_load_pos(s_opts, SL_N(s_opts), &f->cfg, argc, argv,
	    &s_info, "TASK [ITEM]...", first, f->out, f->err, sizeof f->err);
}

#define LOAD_POS(f, first, ...)                                               \
	s_load_pos((f), (first), (const char *const[]) { __VA_ARGS__, NULL })

static void
test_cfg_operands_start_at_the_first_non_option(void **state)
{
	fixture_t *f = *state;
	int first = -1;

	assert_int_equal(
	    LOAD_POS(f, &first, "--port", "7070", "sum", "-1", "--port=1"),
	    SL_CFG_RUN);
	assert_int_equal(first, 3); /* "sum"; what follows is an operand */
	assert_int_equal(f->cfg.port, 7070);
	assert_int_equal(
	    LOAD_POS(f, &first, "--mode=fd", "--", "--port"), SL_CFG_RUN);
	assert_int_equal(first, 3); /* after "--" */
	assert_int_equal(f->cfg.port, 8080);
	assert_int_equal(LOAD_POS(f, &first, "--depth", "-5"), SL_CFG_RUN);
	assert_int_equal(first, 3); /* none: argc; -5 was a value */
	assert_int_equal(f->cfg.depth, -5);
	assert_int_equal(LOAD_POS(f, &first, "-7"), SL_CFG_RUN);
	assert_int_equal(first, 1);
}

static void
test_cfg_operands_are_refused_without_load_pos(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(LOAD_POS(f, NULL, "sum"), SL_EINVAL);
	s_assert_contains(f->err, "unexpected argument 'sum'");
	assert_int_equal(LOAD(f, "--port", "1", "x"), SL_EINVAL);
}

static void
test_cfg_help_shows_the_operands(void **state)
{
	fixture_t *f = *state;
	int first;

	assert_int_equal(LOAD_POS(f, &first, "--help"), SL_CFG_EXIT_OK);
	s_assert_contains(
	    s_output(f), "Usage: sluice-ut [OPTION]... TASK [ITEM]...");
	assert_int_equal(
	    LOAD_POS(f, &first, "--port", "1", "--bogus", "x"), SL_EINVAL);
	s_assert_contains(f->err, "bogus");
}

/* A secret (token, key) is parsed like a string but never logged. */
static void
test_cfg_log_never_prints_a_secret(void **state)
{
	typedef struct {
		const char *tok;
		const char *unset;
	} sec_t;
	static const sl_opt_t opts[] = {
		{ "tok", "SLUICE_UT_TOK", SL_OPT_SECRET, "none", 0, 0, NULL,
		    offsetof(sec_t, tok), "a secret" },
		{ "unset", "SLUICE_UT_UNSET", SL_OPT_SECRET, "none", 0, 0,
		    NULL, offsetof(sec_t, unset), "an unset secret" },
	};
	fixture_t *f = *state;
	char *argv[]
	    = { (char *) "sluice-ut", (char *) "--tok=hunter2", NULL };
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char line[1024] = "";
	sec_t cfg;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_int_equal(sl_cfg_load(opts, SL_N(opts), &cfg, 2, argv, &s_info,
	                     f->out, f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_string_equal(cfg.tok, "hunter2");
	sl_log_setup("ut", SL_LOG_NOTICE);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	sl_cfg_log(opts, SL_N(opts), &cfg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(line, 1, sizeof line - 1, tmp);
	fclose(tmp);
	line[n] = '\0';
	s_assert_contains(line, " tok=(set) unset=none\n");
	assert_null(strstr(line, "hunter2"));
}

/* A list option: the default or the environment give one entry; the
 * command line replaces it, and each further flag adds one, up to
 * SL_CFG_LIST_MAX. */
static void
test_cfg_a_list_option_may_be_given_several_times(void **state)
{
	typedef struct {
		sl_cfg_list_t gw;
	} list_t;
	static const sl_opt_t opts[] = {
		{ "gw", "SLUICE_UT_GW", SL_OPT_LIST, "tcp://d:1", 0, 0, NULL,
		    offsetof(list_t, gw), "gateways" },
	};
	fixture_t *f = *state;
	char *argv[SL_CFG_LIST_MAX + 3] = { (char *) "sluice-ut" };
	list_t cfg;

	assert_int_equal(sl_cfg_load(opts, 1, &cfg, 1, argv, &s_info, f->out,
	                     f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(cfg.gw.n, 1);
	assert_string_equal(cfg.gw.v[0], "tcp://d:1");
	setenv("SLUICE_UT_GW", "tcp://e:1,tcp://e:2", 1);
	assert_int_equal(sl_cfg_load(opts, 1, &cfg, 1, argv, &s_info, f->out,
	                     f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(cfg.gw.n, 1);
	assert_string_equal(cfg.gw.v[0], "tcp://e:1,tcp://e:2");
	argv[1] = (char *) "--gw=tcp://a:1";
	argv[2] = (char *) "--gw";
	argv[3] = (char *) "tcp://b:1";
	assert_int_equal(sl_cfg_load(opts, 1, &cfg, 4, argv, &s_info, f->out,
	                     f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(cfg.gw.n, 2); /* the environment's entry is gone */
	assert_string_equal(cfg.gw.v[0], "tcp://a:1");
	assert_string_equal(cfg.gw.v[1], "tcp://b:1");
	unsetenv("SLUICE_UT_GW");
	for (int i = 1; i <= SL_CFG_LIST_MAX + 1; i++)
		argv[i] = (char *) "--gw=x";
	assert_int_equal(sl_cfg_load(opts, 1, &cfg, SL_CFG_LIST_MAX + 2, argv,
	                     &s_info, f->out, f->err, sizeof f->err),
	    SL_EINVAL);
	s_assert_contains(f->err, "--gw: given more than 16 times");
	argv[1] = (char *) "--gw=";
	assert_int_equal(sl_cfg_load(opts, 1, &cfg, 2, argv, &s_info, f->out,
	                     f->err, sizeof f->err),
	    SL_EINVAL);
	s_assert_contains(f->err, "empty value");
}

/* The rows both programs share: one spelling of flag, variable, default and
 * range, whichever struct they fill; the caller's help is kept. */
static void
test_cfg_shared_rows_have_one_spelling_for_both_programs(void **state)
{
	typedef struct {
		long long hb_ivl_ms, hb_liveness, drain_ms;
		const char *curve_secret_file;
		int log_level, log_format;
	} shared_t;
	static const sl_opt_t opts[] = {
		SL_CFG_OPT_HB_INTERVAL_MS(shared_t, hb_ivl_ms, "hb help"),
		SL_CFG_OPT_HB_LIVENESS(shared_t, hb_liveness, "live help"),
		SL_CFG_OPT_DRAIN_MS(shared_t, drain_ms, "drain help"),
		SL_CFG_OPT_CURVE_SECRET_FILE(
		    shared_t, curve_secret_file, "curve help"),
		SL_CFG_OPTS_LOG(shared_t, log_level, log_format),
	};
	static const char *const env[]
	    = { "SLUICE_HB_INTERVAL_MS", "SLUICE_HB_LIVENESS",
		      "SLUICE_DRAIN_MS", "SLUICE_CURVE_SECRET_FILE",
		      "SLUICE_LOG_LEVEL", "SLUICE_LOG_FORMAT" };
	fixture_t *f = *state;
	char *argv[] = { (char *) "sluice-ut", (char *) "--log-format=json",
		(char *) "--drain-ms", (char *) "0", NULL };
	shared_t cfg;

	assert_int_equal(SL_N(opts), SL_N(env));
	for (size_t i = 0; i < SL_N(env); i++) {
		assert_string_equal(opts[i].env, env[i]);
		unsetenv(env[i]);
	}
	setenv("SLUICE_HB_LIVENESS", "100", 1);
	assert_int_equal(sl_cfg_load(opts, SL_N(opts), &cfg, 4, argv, &s_info,
	                     f->out, f->err, sizeof f->err),
	    SL_CFG_RUN);
	assert_int_equal(cfg.hb_ivl_ms, 1000);
	assert_int_equal(cfg.hb_liveness, 100);
	assert_int_equal(cfg.drain_ms, 0);
	assert_string_equal(cfg.curve_secret_file, "none");
	assert_int_equal(cfg.log_level, SL_LOG_NOTICE);
	assert_int_equal(cfg.log_format, 1); /* json */
	assert_string_equal(opts[0].help, "hb help");

	setenv("SLUICE_HB_INTERVAL_MS", "49", 1);
	assert_int_equal(sl_cfg_load(opts, SL_N(opts), &cfg, 1, argv, &s_info,
	                     f->out, f->err, sizeof f->err),
	    SL_EINVAL);
	s_assert_contains(f->err, "SLUICE_HB_INTERVAL_MS: --hb-interval-ms");
	s_assert_contains(f->err, "50..60000");
	for (size_t i = 0; i < SL_N(env); i++)
		unsetenv(env[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cfg_log_never_prints_a_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_a_list_option_may_be_given_several_times, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_defaults_are_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_environment_overrides_the_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_command_line_overrides_the_environment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_both_flag_spellings_set_the_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_later_flags_win_over_earlier_ones, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_range_limits_are_inclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_bad_values_are_refused_with_a_message_naming_the_option,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_error_message_names_its_source, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_long_error_message_is_cut_not_overflowed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_help_prints_every_option_and_exits_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_short_help_and_help_after_options_exit_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_help_shows_the_values_the_environment_sets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_version_prints_program_and_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_help_copes_with_an_option_without_environment_variable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_log_writes_one_line_with_every_effective_value,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_operands_start_at_the_first_non_option, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_operands_are_refused_without_load_pos, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_help_shows_the_operands, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_shared_rows_have_one_spelling_for_both_programs,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
