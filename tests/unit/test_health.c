/*
 * test_health: the worker's health file (compute/cp_health).
 *
 * Real files under /tmp: what cp_health_write leaves is what
 * cp_health_check reads; every refusal says why (not "ok", empty,
 * stale, missing). Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cp_health.h"
#include "sl_err.h"

static void
test_health_check_refusals_say_why(void **state)
{
	char path[] = "/tmp/sluice-ut-health-XXXXXX", why[300];
	struct timeval old[2] = { { 1000, 0 }, { 1000, 0 } };
	int fd = mkstemp(path);

	(void) state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "waiting gateway=x id=y load=0\n", 30), 30);
	close(fd);
	assert_int_equal(
	    cp_health_check(path, 60000000, why, sizeof why), SL_EINVAL);
	assert_string_equal(why, "waiting gateway=x id=y load=0\n");

	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(
	    cp_health_check(path, 60000000, why, sizeof why), SL_EINVAL);
	assert_string_equal(why, "empty\n");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ok gateway=x id=y load=0\n", 25), 25);
	close(fd);
	assert_int_equal(cp_health_check(path, 60000000, why, sizeof why), 0);
	assert_int_equal(utimes(path, old), 0);
	assert_int_equal(
	    cp_health_check(path, 60000000, why, sizeof why), SL_EINVAL);
	assert_non_null(strstr(why, "stale: written "));
	unlink(path);
	assert_int_equal(
	    cp_health_check(path, 60000000, why, sizeof why), SL_EINVAL);
	assert_non_null(strstr(why, "No such file or directory"));
}

static void
test_health_write_replaces_the_file_whole(void **state)
{
	char path[] = "/tmp/sluice-ut-health-XXXXXX", why[300] = "";
	char longpath[5000];
	int fd = mkstemp(path);

	(void) state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cp_health_write(path, "waiting gateway=-\n"), 0);
	assert_int_equal(
	    cp_health_check(path, 60000000, why, sizeof why), SL_EINVAL);
	assert_string_equal(why, "waiting gateway=-\n");
	assert_int_equal(
	    cp_health_write(path, "ok gateway=a gateways=1/2\n"), 0);
	assert_int_equal(cp_health_check(path, 60000000, why, sizeof why), 0);
	unlink(path);
	assert_int_equal(
	    cp_health_write("/nonexistent-dir/health", "ok\n"), SL_ESYS);
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	assert_int_equal(cp_health_write(longpath, "ok\n"), SL_ESYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_check_refusals_say_why),
		cmocka_unit_test(test_health_write_replaces_the_file_whole),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
