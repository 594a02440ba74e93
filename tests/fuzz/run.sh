#!/bin/sh
# Build sluice's libFuzzer targets with clang and run each for a while.
#
#   tests/fuzz/run.sh [-s SECONDS] [-o OUTDIR] [TARGET...]
#
# TARGETs (default: all): proto (sl_proto_decode: worker frames), batch
# (sl_batch: BATCH frames read, entries decoded, built again), cmsg
# (gw_cmsg_parse: client JSON frames), pproto (gw_pproto_parse: producer
# frames), json_to_mp and json_from_mp (the
# JSON<->msgpack conversions, round trips). Each is built from the
# project's sources with -fsanitize=fuzzer,address,undefined into OUTDIR
# (default ./build-fuzz), then first replays every committed input
# (tests/fuzz/corpus/<target>/: seeds and regressions of past crashes),
# then fuzzes for SECONDS (default 20) with -malloc_limit_mb=64 from a
# scratch copy of that corpus, so the checkout is never written to. A
# crash leaves OUTDIR/<target>/crash-* (copy it into the corpus directory
# as a regression and fix the bug) and exits non-zero.
#
# Longer campaign: tests/fuzz/run.sh -s 600      (ten minutes per target)
# Exit 77 if clang or its libFuzzer runtime is missing (ctest: skipped),
# unless CI=true, where that is a failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=20
out=$top/build-fuzz
while getopts s:o: opt; do
	case $opt in
	s) secs=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-proto batch cmsg pproto json_to_mp json_from_mp}

cc=${FUZZ_CC:-clang}
missing() {
	echo "fuzz: $1" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
}
command -v "$cc" >/dev/null 2>&1 || missing "no $cc (apt-get install clang libclang-rt-14-dev)"

common="$top/common/sl_proto.c $top/common/sl_mpck.c $top/common/sl_trace.c $top/common/sl_json.c
$top/common/sl_jtext.c $top/common/sl_utf8.c $top/common/sl_batch.c
$top/common/sl_err.c"
# shellcheck disable=SC2046
flags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fno-omit-frame-pointer
-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
-Wall -Wextra -Werror -I$top/common -I$top/gateway
$(pkg-config --cflags msgpack jansson libcrypto)"
libs="$(pkg-config --libs msgpack jansson libcrypto) -lm"

rc=0
for t in $targets; do
	src=$here/fuzz_$t.c
	[ -f "$src" ] || { echo "fuzz: no target $t" >&2; exit 2; }
	extra=""
	[ "$t" = cmsg ] && extra="$top/gateway/gw_cmsg.c $top/gateway/gw_out.c"
	[ "$t" = pproto ] &&
		extra="$top/gateway/gw_pproto.c $top/gateway/gw_cmsg.c $top/gateway/gw_out.c"
	dir=$out/$t
	mkdir -p "$dir"
	# shellcheck disable=SC2086
	$cc $flags -o "$dir/fuzz_$t" "$src" $extra $common $libs 2>"$dir/build.log" || {
		if grep -q 'libclang_rt.fuzzer\|fsanitize=fuzzer' "$dir/build.log"; then
			cat "$dir/build.log" >&2
			missing "no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
		fi
		cat "$dir/build.log" >&2
		exit 1
	}
	seeds=$here/corpus/$t
	work=$dir/corpus
	rm -rf "$work"
	mkdir -p "$work"
	cp "$seeds"/* "$work"/ 2>/dev/null || true
	n=$(ls "$work" | wc -l)
	echo "fuzz.$t: $n committed inputs, then ${secs} s of fuzzing"
	# Regressions first: every committed input, once.
	if [ "$n" -gt 0 ] && ! "$dir/fuzz_$t" -malloc_limit_mb=64 \
	    -artifact_prefix="$dir/" "$work"/* >"$dir/replay.log" 2>&1; then
		tail -40 "$dir/replay.log"
		echo "fuzz.$t: a committed input fails"
		rc=1
		continue
	fi
	if "$dir/fuzz_$t" -max_total_time="$secs" -malloc_limit_mb=64 \
	    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$dir/" "$work" >"$dir/fuzz.log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^Done' "$dir/fuzz.log" |
			sed "s/^/fuzz.$t: /"
	else
		tail -60 "$dir/fuzz.log"
		echo "fuzz.$t: FAILED; input saved as:" $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/oom-* "$dir"/timeout-* 2>/dev/null)
		rc=1
	fi
done
exit $rc
