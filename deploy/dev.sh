#!/bin/sh
# sluice developer entry point: the README's two commands live here.
#
#   deploy/dev.sh run    install what running needs and is missing, build,
#                        start a gateway on 127.0.0.1:8080 and one worker
#                        with a thread per core; Ctrl-C drains and stops both
#   deploy/dev.sh test   install what is missing, build, run every test
#                        (ctest), then build again with ASan+UBSan into
#                        ./build-asan and run the suite there (without
#                        compose, swarm, bench and fuzz); both ctest
#                        summaries are printed, the sanitized one last
#   deploy/dev.sh deps   only install the missing Debian packages (all)
#   deploy/dev.sh build  only configure and build (into ./build)
#   deploy/dev.sh bench [SCENARIO...]
#                        install what is missing (with BENCH_PKGS), build,
#                        run tests/bench/run.sh (docs/BENCHMARKS.md): about
#                        6 minutes; the summary is markdown for the docs
#
# Environment: BUILD_DIR (default ./build), ASAN_BUILD_DIR (default
# ./build-asan; SLUICE_ASAN=0 skips that pass); CI=true turns warnings
# into errors; for `run`: SLUICE_LISTEN (WebSocket/HTTP, 127.0.0.1:8080),
# SLUICE_WORKERS (tcp://127.0.0.1:5555), SLUICE_PRODUCERS
# (tcp://127.0.0.1:5556, or none) and SLUICE_THREADS (the worker's compute
# threads, 0: one per core); other SLUICE_* options reach both programs.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
asan_build=${ASAN_BUILD_DIR:-$top/build-asan}

# Debian 12 packages. RUN_PKGS: what building and running needs.
# TEST_PKGS: what the tests add (cmocka: unit tests; python3-*: e2e tests;
# openssl: their TLS certificates; mmdebstrap: the compose test builds the
# Docker base image with deploy/base-image.sh, Docker itself comes with
# the machine; iproute2 and iptables: the multi-node swarm test puts
# Docker daemons in network namespaces joined by a bridge; chromium: the
# demo page's test runs it headless; clang and
# libclang-rt-14-dev: the libFuzzer targets, tests/fuzz; clang-format: the
# lint.format test (the tree is formatted as .clang-format says); valgrind: the
# valgrind.e2e test, and profiling, docs/BENCHMARKS.md; prometheus: its
# promtool, which the ops test runs on deploy/prometheus/ and the live
# /metrics; the tests need no Prometheus server, but under systemd the
# package starts one on :9090: `systemctl disable --now prometheus` if
# unwanted; python3-yaml: the ops test reads the rule files; nodejs and
# node-ws: the JavaScript client's tests, tests/clients, run it in Node
# with Debian's ws; python3-venv and python3-setuptools: the
# clients.python_pip test installs clients/python with pip into a fresh
# virtualenv). Profiling
# also wants linux-perf.
RUN_PKGS="cmake make gcc libc6-dev pkg-config
libwebsockets-dev libzmq3-dev libmsgpack-dev libjansson-dev libssl-dev
libuv1-dev libwebsockets-evlib-uv"
TEST_PKGS="libcmocka-dev python3 python3-websockets python3-zmq
python3-msgpack mmdebstrap iproute2 iptables chromium openssl clang clang-format
libclang-rt-14-dev valgrind prometheus python3-yaml nodejs node-ws
python3-venv python3-setuptools"
# BENCH_PKGS: what tests/bench/run.sh adds: websocketd, measured beside
# sluice (no ctest needs it: bench.websocketd skips without it).
BENCH_PKGS="websocketd"

say() { printf 'dev.sh: %s\n' "$*" >&2; }

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q 'install ok installed'
}

# deps PACKAGE...: install those of them that are missing (apt only then)
deps() {
	missing=""
	for p in "$@"; do
		installed "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends $missing
}

# build [DIR [extra cmake args...]]: configure when DIR is new, when
# there are extra arguments or with CI=true (an existing build keeps its
# settings, e.g. -DSLUICE_WERROR=ON; `cmake --build` reconfigures by
# itself when a CMakeLists.txt changed), then build.
build() {
	dir=${1:-$build}
	[ $# -gt 0 ] && shift
	werror=OFF
	[ "${CI:-}" = true ] && werror=ON
	if [ ! -f "$dir/CMakeCache.txt" ] || [ $# -gt 0 ] ||
		[ "${CI:-}" = true ]; then
		cmake -S "$top" -B "$dir" -DSLUICE_WERROR=$werror "$@" >/dev/null
	fi
	cmake --build "$dir" -j "$(nproc)"
}

# A tenth of a second. A Ctrl-C kills the sleep too (it shares our
# process group): that is no failure (set -e).
nap() { sleep 0.1 || true; }

# build, for run and build: without cmocka (a test package) there are no
# unit tests to build, so the tests are left out.
build_programs() {
	if installed libcmocka-dev; then
		build
	else
		build "$build" -DBUILD_TESTING=OFF
	fi
}

# run's children: 1 while alive (a zombie counts as gone)
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
		! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# reap PID: wait for a child that has ended, set rc to its exit status
reap() {
	rc=0
	wait "$1" 2>/dev/null || rc=$?
	# a trap can interrupt wait (> 128) just as the child ends: once more
	if [ "$rc" -gt 128 ] && [ "$rc" -ne 255 ]; then
		r=0
		wait "$1" 2>/dev/null || r=$?
		[ "$r" -eq 127 ] || rc=$r
	fi
}

# The first INT/TERM/HUP: the gateway drains (refuses new requests, lets
# running ones finish for up to its --drain-ms, then closes clients with
# 1001); the worker keeps computing meanwhile and gets TERM once the
# gateway has exited. Another signal: the gateway skips the rest of its
# drain. The children run in their own sessions (setsid), so a terminal's
# Ctrl-C (SIGINT to the whole foreground process group) reaches this
# script alone, which signals each child itself.
on_signal() {
	stops=$((stops + 1))
	if [ "$stops" -eq 1 ]; then
		say "stopping: the gateway drains running requests first" \
			"(Ctrl-C again: stop now)"
	else
		say "stopping now"
	fi
	if alive "$gw"; then kill -TERM "$gw" 2>/dev/null || true; fi
}

run() {
	listen=${SLUICE_LISTEN:-127.0.0.1:8080}
	workers=${SLUICE_WORKERS:-tcp://127.0.0.1:5555}
	producers=${SLUICE_PRODUCERS:-tcp://127.0.0.1:5556}
	threads=${SLUICE_THREADS:-0}
	gw="" cp="" tl="" stops=0
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-dev.XXXXXX")
	trap on_signal INT TERM HUP
	# The gateway's log goes to a file (shown here by tail) so that the
	# banner waits for its GW-UP line: a failed start (port in use) ends
	# with its error and a non-zero status instead. GW-UP is a notice:
	# quieter log levels become notice for the gateway.
	gwlevel=${SLUICE_LOG_LEVEL:-notice}
	case $gwlevel in err | warn) gwlevel=notice ;; esac
	# The file exists before tail opens it (the gateway's redirection
	# runs in the background job, maybe after tail has given up on it).
	: >"$logdir/gateway.log"
	SLUICE_LOG_LEVEL=$gwlevel setsid "$build/gateway/sluice-gateway" \
		--listen "$listen" --workers "$workers" \
		--producers "$producers" >>"$logdir/gateway.log" 2>&1 &
	gw=$!
	setsid tail -s 0.1 -n +1 -f --pid="$gw" "$logdir/gateway.log" >&2 &
	tl=$!
	waited=0
	while alive "$gw" && [ "$stops" -eq 0 ] &&
		! grep -q 'GW-UP' "$logdir/gateway.log"; do
		if [ "$waited" -ge 300 ]; then # 30 s
			say "the gateway did not start within 30 s"
			kill -TERM "$gw" 2>/dev/null || true
			break
		fi
		nap
		waited=$((waited + 1))
	done
	if ! alive "$gw" || [ "$stops" -gt 0 ] ||
		! grep -q 'GW-UP' "$logdir/gateway.log"; then
		while alive "$gw"; do nap; done
		reap "$gw"
		wait "$tl" 2>/dev/null || true
		rm -rf "$logdir"
		say "the gateway did not start (exit status $rc): nothing runs"
		[ "$rc" -ne 0 ] || rc=1
		exit "$rc"
	fi
	SLUICE_GATEWAY=$workers SLUICE_THREADS=$threads \
		setsid "$build/compute/sluice-compute" &
	cp=$!
	n=$threads
	[ "$n" != 0 ] || n="$(nproc) (one per core)"
	say "up: gateway pid $gw on ws://$listen/ (demo page http://$listen/)," \
		"producers $producers; worker pid $cp, threads $n;" \
		"Ctrl-C drains and stops"
	# Poll rather than wait: either child may end first, and a signal
	# must be handled at once.
	cprc=""
	while alive "$gw"; do
		if [ -z "$cprc" ] && ! alive "$cp"; then
			reap "$cp"
			cprc=$rc
			say "the worker exited (status $cprc); stopping the gateway"
			[ "$stops" -gt 0 ] || on_signal
		fi
		nap
	done
	reap "$gw"
	gwrc=$rc
	if [ -z "$cprc" ]; then
		kill -TERM "$cp" 2>/dev/null || true
		while alive "$cp"; do nap; done
		reap "$cp"
		cprc=$rc
	fi
	wait "$tl" 2>/dev/null || true
	rm -rf "$logdir"
	say "gateway exited $gwrc, worker exited $cprc"
	# 0 only when both stopped cleanly; else the first failure's status
	[ "$gwrc" -eq 0 ] || exit "$gwrc"
	exit "$cprc"
}

case "${1:-}" in
deps) deps $RUN_PKGS $TEST_PKGS $BENCH_PKGS ;;
build) deps $RUN_PKGS && build_programs ;;
run)
	deps $RUN_PKGS
	build_programs
	run
	;;
bench)
	shift
	deps $RUN_PKGS $TEST_PKGS $BENCH_PKGS
	build "$build" -DBUILD_TESTING=ON
	BUILD_DIR=$build exec sh "$top/tests/bench/run.sh" "$@"
	;;
test)
	deps $RUN_PKGS $TEST_PKGS
	# (a build made by `run` without cmocka had the tests off)
	build "$build" -DBUILD_TESTING=ON
	status=0
	(cd "$build" && ctest --output-on-failure) || status=$?
	if [ "${SLUICE_ASAN:-1}" != 0 ]; then
		# Second pass: the same suite under ASan+UBSan (leaks fail the
		# programs' exit code). Compose and bench measure deployment
		# and speed, fuzz is sanitized already, lint reads sources
		# only, and valgrind must not run sanitized binaries. ASan is
		# slower: stretch the bounds. Swarm tests deployment, like
		# compose.
		say "sanitizer pass: ASan+UBSan in $asan_build"
		build "$asan_build" -DSLUICE_SANITIZER=address,undefined
		(cd "$asan_build" &&
			SLUICE_TEST_TIME_SCALE=3 \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --output-on-failure -LE 'compose|swarm|bench|fuzz|valgrind|lint') ||
			status=$?
	fi
	exit $status
	;;
*)
	sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
