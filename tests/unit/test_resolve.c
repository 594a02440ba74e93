/*
 * test_resolve: gateway specs to endpoints (compute/cp_resolve).
 *
 * Numeric addresses and "localhost" resolve without DNS; a spec that is
 * not tcp:// passes as it stands; malformed specs and names that do not
 * resolve are told apart (a worker refuses the first at start and retries
 * the second). Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "cp_resolve.h"
#include "sl_err.h"

typedef struct got {
	char ep[8][CP_RESOLVE_EP_MAX];
	size_t n;
	int stop_after; /* return SL_ENOMEM after this many (0: never) */
} got_t;

static int
s_collect(void *arg, const char *endpoint)
{
	got_t *g = arg;

	assert_true(g->n < 8);
	snprintf(g->ep[g->n], sizeof g->ep[g->n], "%s", endpoint);
	g->n++;
	return g->stop_after && (int) g->n >= g->stop_after ? SL_ENOMEM : 0;
}

static void
test_resolve_numeric_addresses_stay_as_they_are(void **state)
{
	got_t g = { .n = 0 };
	char err[256];

	(void) state;
	assert_int_equal(cp_resolve_spec("tcp://127.0.0.1:5555", s_collect, &g,
	                     err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.ep[0], "tcp://127.0.0.1:5555");
	/* IPv6 in brackets, as ZeroMQ writes it, both ways */
	assert_int_equal(cp_resolve_spec("tcp://[::1]:6000", s_collect, &g,
	                     err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ep[1], "tcp://[::1]:6000");
}

/* One endpoint per distinct address: getaddrinfo gives each address once
 * per socket type unless asked for one; a name is looked up, not passed. */
static void
test_resolve_a_name_gives_each_address_once(void **state)
{
	got_t g = { .n = 0 };
	char err[256];

	(void) state;
	assert_int_equal(cp_resolve_spec("tcp://localhost:7000", s_collect, &g,
	                     err, sizeof err),
	    0);
	assert_true(g.n >= 1);
	for (size_t i = 0; i < g.n; i++) {
		assert_true(!strcmp(g.ep[i], "tcp://127.0.0.1:7000")
		    || !strcmp(g.ep[i], "tcp://[::1]:7000"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(g.ep[i], g.ep[j]);
	}
}

static void
test_resolve_other_transports_pass_unchanged(void **state)
{
	got_t g = { .n = 0 };
	char err[256];

	(void) state;
	assert_int_equal(cp_resolve_spec("ipc:///tmp/gw.sock", s_collect, &g,
	                     err, sizeof err),
	    0);
	assert_int_equal(cp_resolve_spec("tcp://127.0.0.1;nosuch.invalid:1",
	                     s_collect, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ep[0], "ipc:///tmp/gw.sock");
	assert_string_equal(g.ep[1], "tcp://127.0.0.1;nosuch.invalid:1");
}

static void
test_resolve_malformed_and_unresolvable_are_told_apart(void **state)
{
	static const char *const bad[]
	    = { "tcp://nohost", "tcp://:5555", "tcp://host:", "tcp://*:5555" };
	got_t g = { .n = 0 };
	char err[256], longspec[400];

	(void) state;
	for (size_t i = 0; i < SL_N(bad); i++) {
		err[0] = '\0';
		assert_int_equal(
		    cp_resolve_spec(bad[i], s_collect, &g, err, sizeof err),
		    SL_EINVAL);
		assert_true(err[0] != '\0');
	}
	memset(longspec, 'a', sizeof longspec - 1);
	longspec[sizeof longspec - 1] = '\0';
	assert_int_equal(
	    cp_resolve_spec(longspec, s_collect, &g, err, sizeof err),
	    SL_EINVAL);
	/* .invalid never resolves (RFC 6761) */
	assert_int_equal(cp_resolve_spec("tcp://gw.invalid:5555", s_collect,
	                     &g, err, sizeof err),
	    SL_ESYS);
	assert_non_null(strstr(err, "gw.invalid"));
	assert_int_equal(g.n, 0);
}

static void
test_resolve_the_callers_refusal_stops_the_expansion(void **state)
{
	got_t g = { .n = 0, .stop_after = 1 };
	char err[256];

	(void) state;
	assert_int_equal(cp_resolve_spec("tcp://127.0.0.1:1", s_collect, &g,
	                     err, sizeof err),
	    SL_ENOMEM);
	assert_int_equal(g.n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_resolve_numeric_addresses_stay_as_they_are),
		cmocka_unit_test(test_resolve_a_name_gives_each_address_once),
		cmocka_unit_test(test_resolve_other_transports_pass_unchanged),
		cmocka_unit_test(
		    test_resolve_malformed_and_unresolvable_are_told_apart),
		cmocka_unit_test(
		    test_resolve_the_callers_refusal_stops_the_expansion),
	};

	return cmocka_run_group_tests_name("resolve", tests, NULL, NULL);
}
