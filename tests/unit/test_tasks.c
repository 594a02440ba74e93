/*
 * test_tasks: the registry of a worker's tasks (compute/cp_tasks).
 *
 * A new registry holds the built-ins in their order; the example plugin
 * (libsluice_reverse.so, built beside the tests; SL_TEST_PLUGIN is its
 * path) adds its two tasks after them; every refusal (a missing file, a
 * shared object without sluice_tasks, the same plugin twice) names its
 * cause and leaves the registry as it was. Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "cp_tasks.h"
#include "sl_err.h"

static int
setup(void **state)
{
	*state = cp_tasks_new();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	cp_tasks_t *tasks = *state;

	cp_tasks_destroy(&tasks);
	assert_null(tasks);
	cp_tasks_destroy(&tasks); /* NULL-safe */
	cp_tasks_destroy(NULL);
	return 0;
}

static void
test_tasks_new_holds_the_builtins_in_order(void **state)
{
	cp_tasks_t *tasks = *state;
	size_t n;
	const cp_task_t *builtin = cp_task_all(&n);

	assert_true(n > 0);
	assert_int_equal(cp_tasks_count(tasks), n);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(cp_tasks_at(tasks, i), &builtin[i]);
		assert_ptr_equal(cp_tasks_find(tasks, builtin[i].name,
		                     strlen(builtin[i].name)),
		    &builtin[i]);
	}
	assert_null(cp_tasks_at(tasks, n));
	assert_null(cp_tasks_find(tasks, "reverse", 7));
	assert_null(cp_tasks_find(tasks, "ech", 3)); /* a prefix is not it */
	assert_non_null(cp_tasks_find(tasks, "echo and more", 4));
}

static void
test_tasks_plugin_adds_its_tasks_after_the_builtins(void **state)
{
	cp_tasks_t *tasks = *state;
	size_t n = cp_tasks_count(tasks);
	const cp_task_t *t;
	char err[300] = "";

	assert_int_equal(
	    cp_tasks_load_plugin(tasks, SL_TEST_PLUGIN, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_int_equal(cp_tasks_count(tasks), n + 2);
	t = cp_tasks_find(tasks, "reverse", 7);
	assert_non_null(t);
	assert_ptr_equal(cp_tasks_at(tasks, n), t);
	assert_non_null(t->run);
	assert_ptr_equal(
	    cp_tasks_at(tasks, n + 1), cp_tasks_find(tasks, "count", 5));
}

/* A plugin built for task API 1 (it answers only sluice_tasks(1, ...))
 * still loads, and its task runs with a version 2 context. */
static void
test_tasks_a_version_1_plugin_still_loads_and_runs(void **state)
{
	cp_tasks_t *tasks = *state;
	atomic_bool no = false;
	cp_task_ctx_t ctx = { &no, &no, NULL, NULL };
	cp_task_err_t e = { "", "" };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_object item
	    = { .type = MSGPACK_OBJECT_STR, .via.str = { 2, "ab" } };
	const cp_task_t *t;
	char err[300] = "";

	assert_int_equal(
	    cp_tasks_load_plugin(tasks, SL_TEST_PLUGIN_V1, err, sizeof err),
	    0);
	t = cp_tasks_find(tasks, "reverse", 7);
	assert_non_null(t);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(t->run(&item, &pk, &e, &ctx), 0);
	assert_int_equal(sb.size, 3);
	assert_memory_equal(sb.data,
	    "\xa2"
	    "ba",
	    3);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_tasks_same_plugin_twice_is_refused_and_takes_nothing(void **state)
{
	cp_tasks_t *tasks = *state;
	char err[300];
	size_t n;

	assert_int_equal(
	    cp_tasks_load_plugin(tasks, SL_TEST_PLUGIN, err, sizeof err), 0);
	n = cp_tasks_count(tasks);
	assert_int_equal(
	    cp_tasks_load_plugin(tasks, SL_TEST_PLUGIN, err, sizeof err),
	    SL_EINVAL);
	assert_non_null(strstr(err, "task 0 ('reverse'): bad or duplicate"));
	assert_int_equal(cp_tasks_count(tasks), n);
}

static void
test_tasks_unloadable_objects_are_refused_with_the_reason(void **state)
{
	cp_tasks_t *tasks = *state;
	size_t n = cp_tasks_count(tasks);
	char err[300];

	assert_int_equal(cp_tasks_load_plugin(tasks,
	                     "/nonexistent/libnothing.so", err, sizeof err),
	    SL_EINVAL);
	assert_non_null(strstr(err, "/nonexistent/libnothing.so"));
	/* A real shared object that is not a plugin. */
	assert_int_equal(
	    cp_tasks_load_plugin(tasks, "libm.so.6", err, sizeof err),
	    SL_EINVAL);
	assert_string_equal(err, "libm.so.6: no sluice_tasks() symbol");
	assert_int_equal(cp_tasks_count(tasks), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_tasks_a_version_1_plugin_still_loads_and_runs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_tasks_new_holds_the_builtins_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_tasks_plugin_adds_its_tasks_after_the_builtins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_tasks_same_plugin_twice_is_refused_and_takes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tasks_unloadable_objects_are_refused_with_the_reason,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("tasks", tests, NULL, NULL);
}
