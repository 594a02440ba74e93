/*
 * test_gws: the set of gateways a worker serves (compute/cp_gws).
 *
 * Specs with numeric addresses (no DNS needed) that the test changes
 * while the resolver thread runs every 20 ms: each new endpoint gets a
 * link, a repeated one does not; an endpoint no longer listed is handed
 * to the drop function and forgotten, unless a name failed to resolve
 * that round (".invalid" never resolves); a malformed spec is refused at
 * init; at most CP_GWS_MAX links. Links are never opened here (cp_link
 * and cp_io do that). The test thread plays the I/O thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <time.h>

#include "cp_gws.h"
#include "sl_clock.h"
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

/* Poll as the I/O thread does until ep is (or is not) among the links,
 * 5 s at most. */
static void
s_poll_until(cp_gws_t *g, dropped_t *d, const char *ep, bool want)
{
	int64_t end = sl_clock_mono_us() + 5000000;
	struct timespec ms = { 0, 5000000 };

	for (;;) {
		cp_gws_poll(g, s_drop, d);
		if (s_has(g, ep) == want || sl_clock_mono_us() > end)
			break;
		nanosleep(&ms, NULL);
	}
	assert_true(s_has(g, ep) == want);
}

/* The resolver thread reads the specs: the test gives it a new array
 * under the module's lock, as the field's comment allows. */
static void
s_set_specs(cp_gws_t *g, const char *const *specs, size_t n)
{
	pthread_mutex_lock(&g->lock);
	g->specs = specs;
	g->n_specs = n;
	pthread_mutex_unlock(&g->lock);
}

static void
test_gws_follows_the_specs_as_they_change(void **state)
{
	static const char *const specs[]
	    = { "tcp://127.0.0.1:7001, tcp://127.0.0.1:7002",
		      "tcp://127.0.0.1:7001" };
	static const char *const specs2[]
	    = { "tcp://127.0.0.1:7003", "tcp://127.0.0.1:7001" };
	static const char *const specs3[] = { "tcp://gw.invalid:7003",
		"tcp://127.0.0.1:7001", "tcp://127.0.0.1:7004" };
	dropped_t d = { .n = 0 };
	char err[256];
	cp_gws_t g;

	(void) state;
	sl_log_setup("ut", SL_LOG_ERR);
	assert_int_equal(cp_gws_init(&g, specs, 2, 20000, err, sizeof err), 0);
	assert_int_equal(g.n, 2); /* 7001 twice: one link */
	assert_true(s_has(&g, "tcp://127.0.0.1:7001"));
	assert_true(s_has(&g, "tcp://127.0.0.1:7002"));
	assert_true(cp_link_due(g.links[0], 0)); /* new: open at once */
	g.links[0]->gen = 5; /* found by generation only while open */
	assert_null(cp_gws_of_gen(&g, 5));
	assert_int_equal(cp_gws_start(&g), 0);
	/* 7002 goes away: dropped; 7003 comes: added; 7001 stays */
	s_set_specs(&g, specs2, 2);
	s_poll_until(&g, &d, "tcp://127.0.0.1:7003", true);
	s_poll_until(&g, &d, "tcp://127.0.0.1:7002", false);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.ep[0], "tcp://127.0.0.1:7002");
	assert_int_equal(g.n, 2);
	assert_true(s_has(&g, "tcp://127.0.0.1:7001"));
	/* a name that does not resolve: nothing is dropped meanwhile */
	s_set_specs(&g, specs3, 3);
	s_poll_until(&g, &d, "tcp://127.0.0.1:7004", true);
	assert_true(g.failed);
	assert_int_equal(d.n, 1); /* 7003 kept, though its name is gone */
	assert_int_equal(g.n, 3);
	cp_gws_destroy(&g);
	assert_int_equal(g.n, 0);
	cp_gws_destroy(&g); /* again: nothing */
}

static void
test_gws_refuses_a_malformed_spec_at_init(void **state)
{
	const char *specs[1] = { "tcp://127.0.0.1:7001,tcp://nohost" };
	char err[256];
	cp_gws_t g, zero = { 0 };

	(void) state;
	sl_log_setup("ut", SL_LOG_ERR);
	assert_int_equal(
	    cp_gws_init(&g, specs, 1, 20000, err, sizeof err), SL_EINVAL);
	assert_non_null(strstr(err, "tcp://nohost"));
	cp_gws_destroy(&g);
	cp_gws_destroy(&zero); /* never initialised: nothing to do */
}

/* A name or list with more addresses than CP_GWS_MAX: the rest are left
 * out (logged), not connected. */
static void
test_gws_keeps_at_most_its_maximum(void **state)
{
	char spec[CP_GWS_MAX * 24 + 64] = "";
	const char *specs[1] = { spec };
	char err[256];
	size_t used = 0;
	cp_gws_t g;

	(void) state;
	sl_log_setup("ut", SL_LOG_ERR);
	for (int i = 0; i < CP_GWS_MAX + 5; i++)
		used += (size_t) snprintf(spec + used, sizeof spec - used,
		    "%stcp://127.0.0.1:%d", i ? "," : "", 10000 + i);
	assert_true(used < sizeof spec);
	assert_int_equal(cp_gws_init(&g, specs, 1, 20000, err, sizeof err), 0);
	assert_int_equal(g.n, CP_GWS_MAX);
	cp_gws_destroy(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gws_follows_the_specs_as_they_change),
		cmocka_unit_test(test_gws_refuses_a_malformed_spec_at_init),
		cmocka_unit_test(test_gws_keeps_at_most_its_maximum),
	};

	return cmocka_run_group_tests_name("gws", tests, NULL, NULL);
}
