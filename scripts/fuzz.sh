#!/bin/sh
# Runs each libFuzzer target for a while from its seed corpus (copied to a scratch dir so the
# tree stays clean). Prints one result line per target; exit 1 if any target found a crash.
set -u
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
W=$(mktemp -d /tmp/vmd-fuzz-run.XXXXXX)
trap 'rm -rf "$W"' EXIT
rc=0
for t in request xlcfg; do
	mkdir -p "$W/$t"
	case $t in
	request) cp tests/fuzz/corpus-request/* "$W/$t/" ;;
	xlcfg) cp tests/unit/xlcfg/*.cfg tests/unit/xlcfg/*.json "$W/$t/" 2>/dev/null ;;
	esac
	# Leaks are not judged here: requests left pending at the end of a run are not leaks.
	if ASAN_OPTIONS=detect_leaks=0 "$BUILD/tests/fuzz/fuzz-$t" -max_total_time="$SECONDS_EACH" \
		-max_len=4096 -timeout=10 -print_final_stats=1 -artifact_prefix="$W/crash-$t-" "$W/$t" >"$W/$t.log" 2>&1; then
		echo "fuzz-$t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$W/$t.log" |
			awk '{print $2}') runs; $(tail -n 1 "$W/$t.log"))"
	else
		echo "fuzz-$t: FAILED"
		tail -n 40 "$W/$t.log"
		mkdir -p fuzz-artifacts && cp "$W"/crash-"$t"-* fuzz-artifacts/ 2>/dev/null
		rc=1
	fi
done
exit $rc
