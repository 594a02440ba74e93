#!/bin/sh
# ctest valgrind.e2e: a representative part of the end-to-end suite with
# the gateway and every worker under valgrind memcheck. Any memcheck error
# (invalid read or write, use of uninitialised memory, a definite leak)
# makes that program exit 99 instead of 0, which the harness fails on.
#
#   tests/e2e/valgrind.sh GATEWAY COMPUTE [PYTHON]
#
# Runs: stream, errors, cancel, failover's worker-kill test, msgpack_ws,
# two of subscribe's (notify across transports; a submitter leaving) and
# two of resume's (a cut and a resume; stopping with detached requests).
# Library suppressions live in tests/e2e/valgrind.supp (documented there). Use
# plain (not sanitized) binaries: valgrind and ASan do not mix.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
gw=$1
cp=$2
py=${3:-/usr/bin/python3}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind.e2e: no valgrind (apt-get install valgrind)" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
fi
SLUICE_TEST_WRAPPER="valgrind --quiet --leak-check=full
--show-leak-kinds=definite --errors-for-leak-kinds=definite
--error-exitcode=99 --track-fds=no --num-callers=30
--suppressions=$here/valgrind.supp"
# memcheck runs programs ~20x slower: stretch every bound
SLUICE_TEST_TIME_SCALE=${VALGRIND_TIME_SCALE:-8}
export SLUICE_TEST_WRAPPER SLUICE_TEST_TIME_SCALE

status=0
run() {
	echo "== valgrind: $*"
	"$py" "$here/$1" --gateway "$gw" --compute "$cp" ${2:+--only "$2"} ||
		status=1
}
run test_stream.py
run test_errors.py
run test_cancel.py
run test_failover.py killed_worker_items_run_elsewhere
run test_msgpack_ws.py
run test_subscribe.py ws_clients_submit_with_notify
run test_subscribe.py watchers_learn_when_the_submitter_leaves
run test_resume.py cut_mid_request_resumes_exactly_once,the_gateway_stops_with_detached_requests
[ $status = 0 ] && echo "valgrind.e2e: no memcheck errors" ||
	echo "valgrind.e2e: FAILED (memcheck errors or test failures above)"
exit $status
