# lib.sh: what the scripts of tests/systemd share: TAP-like "ok N - what" / "not ok N - what"
# lines (with "# " diagnostics) and the closing "systemd: N passed, N failed" line that
# scripts/check.sh adds to its total. Sourced, not run.

n=0
passed=0
failed=0

ok() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# check WHAT COMMAND...: ok when the command succeeds.
check() {
	what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		not_ok "$what"
	fi
}

# diag FILE: shows a file's first lines as diagnostics.
diag() {
	[ -s "$1" ] && sed -n '1,25s/^/# /p' "$1"
	return 0
}

summary() {
	echo "${1:-systemd}: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
