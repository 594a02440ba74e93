#!/bin/sh
# sluice developer entry point: the README's two commands live here.
#
#   deploy/dev.sh run    install what is missing, build, start a gateway on
#                        127.0.0.1:8080 and one worker with a thread per core;
#                        Ctrl-C stops both
#   deploy/dev.sh test   install what is missing, build, run every test
#                        (ctest; its summary is the last thing printed)
#   deploy/dev.sh deps   only install the missing Debian packages
#   deploy/dev.sh build  only configure and build (into ./build)
#
# Environment: BUILD_DIR (default ./build); CI=true turns warnings into
# errors; SLUICE_LISTEN / SLUICE_WORKERS change the addresses for `run`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}

# Debian 12 packages: build, run, test (mmdebstrap: the compose test builds
# the Docker base image with deploy/base-image.sh; Docker itself comes with
# the machine; chromium: the demo page's test runs it headless). Profiling
# the benchmarks also wants linux-perf and valgrind (docs/BENCHMARKS.md).
PKGS="cmake make gcc libc6-dev pkg-config
libwebsockets-dev libzmq3-dev libmsgpack-dev libjansson-dev libssl-dev
libcmocka-dev python3 python3-websockets python3-zmq python3-msgpack mmdebstrap
chromium openssl"

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

build() {
	werror=OFF
	[ "${CI:-}" = true ] && werror=ON
	cmake -S "$top" -B "$build" -DSLUICE_WERROR=$werror >/dev/null
	cmake --build "$build" -j "$(nproc)"
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
	cd "$build"
	ctest --output-on-failure
	;;
*)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
