#!/bin/sh
# Runs every test tier and prints one closing line "N passed, N failed" over all of them.
#   1. unit + integration tests (meson test) on the normal build
#   2. the same under ASan + UBSan; the release build; libFuzzer
#   3. systemd as PID 1 under QEMU (tests/systemd: vmd's units on a booted Debian)
#   4. the real-Xen tier (tests/xen: Xen 4.17 + Debian dom0 under QEMU)
# A tier's failure does not stop the others, so one run shows everything that is wrong.
set -u
BUILD=${1:-build}
ASAN=${2:-build-asan}
passed=0
failed=0

count() { # $1 = build dir: adds that meson run's results from its JSON log
	eval "$(/usr/bin/python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
            p += 1
        else:
            f += 1
except OSError:
    f += 1
print(f"tp={p} tf={f}")
PY
)"
	passed=$((passed + tp))
	failed=$((failed + tf))
}

echo "== unit and integration tests"
meson test -C "$BUILD" --print-errorlogs
count "$BUILD"

echo "== the same under ASan+UBSan"
if ninja -C "$ASAN" >/dev/null; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$ASAN" --print-errorlogs
	count "$ASAN"
else
	echo "check: the ASan build failed"
	failed=$((failed + 1))
fi

echo "== the release build (meson setup --buildtype=release: -O3, warnings as errors)"
REL=${REL_BUILD:-build-release}
if { [ -f "$REL/build.ninja" ] || meson setup "$REL" --buildtype=release >/dev/null; } &&
	ninja -C "$REL" >/dev/null; then
	passed=$((passed + 1))
else
	echo "check: the release build failed"
	failed=$((failed + 1))
fi

echo "== libFuzzer on the request path and the config parsers (tests/fuzz)"
if make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

tier() { # NAME COMMAND...: runs a QEMU tier and adds its closing "NAME: N passed, N failed"
	name=$1
	shift
	tlog=$(mktemp)
	"$@" 2>&1 | tee "$tlog"
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$tlog" | tail -n 1)
	if [ -n "$line" ]; then
		passed=$((passed + $(echo "$line" | sed -E "s/^$name: ([0-9]+) passed.*/\\1/")))
		failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
	else
		echo "check: tests/$name printed no result line"
		failed=$((failed + 1))
	fi
	rm -f "$tlog"
}

echo "== systemd as PID 1 under QEMU (tests/systemd)"
tier systemd bash tests/systemd/run.sh "$BUILD"

echo "== real Xen (tests/xen)"
tier xen bash tests/xen/run.sh "$BUILD"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
