#!/bin/sh
# sluice developer entry point: the README's two commands live here.
#
#   deploy/dev.sh run    install what is missing, build, start a gateway on
#                        127.0.0.1:8080 and one worker with a thread per core;
#                        Ctrl-C stops both
#   deploy/dev.sh test   install what is missing, build, run every test
#                        (ctest), then build again with ASan+UBSan into
#                        ./build-asan and run the suite there (without
#                        compose, bench and fuzz); both ctest summaries
#                        are printed, the sanitized one last
#   deploy/dev.sh deps   only install the missing Debian packages
#   deploy/dev.sh build  only configure and build (into ./build)
#
# Environment: BUILD_DIR (default ./build), ASAN_BUILD_DIR (default
# ./build-asan; SLUICE_ASAN=0 skips that pass); CI=true turns warnings
# into errors; SLUICE_LISTEN / SLUICE_WORKERS change the addresses for `run`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
asan_build=${ASAN_BUILD_DIR:-$top/build-asan}

# Debian 12 packages: build, run, test (mmdebstrap: the compose test builds
# the Docker base image with deploy/base-image.sh; Docker itself comes with
# the machine; chromium: the demo page's test runs it headless; clang and
# libclang-rt-14-dev: the libFuzzer targets, tests/fuzz; valgrind: the
# valgrind.e2e test, and profiling, docs/BENCHMARKS.md). Profiling also
# wants linux-perf.
PKGS="cmake make gcc libc6-dev pkg-config
libwebsockets-dev libzmq3-dev libmsgpack-dev libjansson-dev libssl-dev
libcmocka-dev python3 python3-websockets python3-zmq python3-msgpack mmdebstrap
chromium openssl clang libclang-rt-14-dev valgrind"

say() { printf 'dev.sh: %s\n' "$*" >&2; }

deps() {
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing="$missing $p"
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

# build [DIR [extra cmake args...]]
build() {
	dir=${1:-$build}
	[ $# -gt 0 ] && shift
	werror=OFF
	[ "${CI:-}" = true ] && werror=ON
	cmake -S "$top" -B "$dir" -DSLUICE_WERROR=$werror "$@" >/dev/null
	cmake --build "$dir" -j "$(nproc)"
}

run() {
	listen=${SLUICE_LISTEN:-127.0.0.1:8080}
	workers=${SLUICE_WORKERS:-tcp://127.0.0.1:5555}
	"$build/gateway/sluice-gateway" --listen "$listen" --workers "$workers" &
	gw=$!
	SLUICE_GATEWAY=$workers "$build/compute/sluice-compute" &
	cp=$!
	trap 'kill -TERM $cp $gw 2>/dev/null || true' INT TERM
	say "gateway pid $gw on ws://$listen/, worker pid $cp ($(nproc) threads); Ctrl-C stops"
	wait $gw || true
	kill -TERM $cp 2>/dev/null || true
	wait $cp || true
}

case "${1:-}" in
deps) deps ;;
build) deps && build ;;
run) deps && build && run ;;
test)
	deps
	build
	status=0
	(cd "$build" && ctest --output-on-failure) || status=$?
	if [ "${SLUICE_ASAN:-1}" != 0 ]; then
		# Second pass: the same suite under ASan+UBSan (leaks fail the
		# programs' exit code). Compose and bench measure deployment
		# and speed, fuzz is sanitized already, and valgrind must not
		# run sanitized binaries. ASan is slower: stretch the bounds.
		say "sanitizer pass: ASan+UBSan in $asan_build"
		build "$asan_build" -DSLUICE_SANITIZER=address,undefined
		(cd "$asan_build" &&
			SLUICE_TEST_TIME_SCALE=3 \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --output-on-failure -LE 'compose|bench|fuzz|valgrind') ||
			status=$?
	fi
	exit $status
	;;
*)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
