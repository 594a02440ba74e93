/*
 * test_gws: the set of gateways a worker serves (compute/cp_gws).
 *
 * Specs with numeric addresses and "localhost" (no DNS needed): each new
 * endpoint gets a link, a repeated one does not; an endpoint no longer
 * listed is handed to the drop function and forgotten, unless a name
 * failed to resolve that round (".invalid" never resolves); a malformed
 * spec is an error; at most CP_GWS_MAX links. Links are never opened
 * here (cp_link and cp_io do that). Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "cp_gws.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct dropped {
	char ep[8][CP_RESOLVE_EP_MAX];
	size_t n;
} dropped_t;

static void
s_drop(void *arg, cp_link_t *l)
{
	dropped_t *d = arg;

	assert_true(d->n < 8);
	snprintf(d->ep[d->n++], sizeof d->ep[0], "%s", l->endpoint);
}

static bool
s_has(const cp_gws_t *g, const char *ep)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->links[i]->endpoint, ep))
			return true;
	return false;
}

static void
test_gws_follows_the_specs_as_they_change(void **state)
{
	const char *specs[2] = { "tcp://127.0.0.1:7001, tcp://127.0.0.1:7002",
		"tcp://127.0.0.1:7001" };
	cp_gws_t g = { .specs = specs, .n_specs = 2, .retry_us = 1000 };
	dropped_t d = { .n = 0 };
	char err[256];

	(void) state;
	sl_log_setup("ut", SL_LOG_ERR);
	assert_int_equal(cp_gws_resolve(&g, s_drop, &d, err, sizeof err), 0);
	assert_int_equal(g.n, 2); /* 7001 twice: one link */
	assert_true(s_has(&g, "tcp://127.0.0.1:7001"));
	assert_true(s_has(&g, "tcp://127.0.0.1:7002"));
	assert_true(cp_link_due(g.links[0], 0)); /* new: open at once */
	g.links[0]->gen = 5; /* as if open: found by generation only then */
	assert_null(cp_gws_of_gen(&g, 5));
	/* 7002 goes away: dropped; 7003 comes: added; 7001 stays as it is */
	specs[0] = "tcp://127.0.0.1:7003";
	assert_int_equal(cp_gws_resolve(&g, s_drop, &d, err, sizeof err), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.ep[0], "tcp://127.0.0.1:7002");
	assert_int_equal(g.n, 2);
	assert_true(s_has(&g, "tcp://127.0.0.1:7001"));
	assert_true(s_has(&g, "tcp://127.0.0.1:7003"));
	/* a name that does not resolve: nothing is dropped this round */
	specs[0] = "tcp://gw.invalid:7003";
	assert_int_equal(cp_gws_resolve(&g, s_drop, &d, err, sizeof err), 0);
	assert_true(g.failed);
	assert_int_equal(d.n, 1);
	assert_int_equal(g.n, 2);
	/* a malformed one is an error */
	specs[0] = "tcp://nohost";
	assert_int_equal(
	    cp_gws_resolve(&g, s_drop, &d, err, sizeof err), SL_EINVAL);
	assert_non_null(strstr(err, "tcp://nohost"));
	cp_gws_clear(&g);
	assert_int_equal(g.n, 0);
}

/* A name or list with more addresses than CP_GWS_MAX: the rest are left
 * out (logged), not connected. */
static void
test_gws_keeps_at_most_its_maximum(void **state)
{
	char spec[CP_GWS_MAX * 24 + 64] = "";
	const char *specs[1] = { spec };
	cp_gws_t g = { .specs = specs, .n_specs = 1, .retry_us = 1000 };
	dropped_t d = { .n = 0 };
	char err[256];
	size_t used = 0;

	(void) state;
	sl_log_setup("ut", SL_LOG_ERR);
	for (int i = 0; i < CP_GWS_MAX + 5; i++)
		used += (size_t) snprintf(spec + used, sizeof spec - used,
		    "%stcp://127.0.0.1:%d", i ? "," : "", 10000 + i);
	assert_true(used < sizeof spec);
	assert_int_equal(cp_gws_resolve(&g, s_drop, &d, err, sizeof err), 0);
	assert_int_equal(g.n, CP_GWS_MAX);
	assert_int_equal(d.n, 0);
	cp_gws_clear(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gws_follows_the_specs_as_they_change),
		cmocka_unit_test(test_gws_keeps_at_most_its_maximum),
	};

	return cmocka_run_group_tests_name("gws", tests, NULL, NULL);
}
