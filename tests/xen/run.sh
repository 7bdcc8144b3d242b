#!/bin/bash
# run.sh [BUILD_DIR]: the real-Xen test tier (tests/xen/README.md).
#
# Builds a dom0 image from Debian's packages (cached in $VMD_XEN_CACHE), adds the
# project's binaries from BUILD_DIR (default: build, relative to the repository root),
# boots Xen + dom0 once under QEMU with a hard timeout, runs the scenarios inside dom0
# and prints one line per step. Exit status 0 only when no step failed; the last line
# is "xen: N passed, N failed".
#
#   VMD_XEN_SCENARIO=20-pv,pvh   run only these scenarios (full name, name without the
#                                number, or the number)
#   VMD_XEN_FAIL_MARKER=20-pv    make that scenario wait for a wrong marker (1 = 20-pv)
#   VMD_XEN_CACHE, VMD_XEN_WORK  cache and work directories
#   VMD_XEN_HVM_FULL=0           62-vmd-install-hvm stops once the installed HVM system's
#                                domain runs, without its disk boot; 1 (default): once grub
#                                read from the disk speaks, as 46-hvm; 2: also waits for the
#                                installed kernel (4.5 minutes more under TCG)
#   VMD_XEN_BENCH=1              95-bench-stats measures (tests/bench/xen-stats); without
#                                it the scenario does nothing; VMD_XEN_BENCH_GUESTS: N (100)
#   VMD_XEN_TIMEOUT              QEMU's hard limit (default 300 s + each scenario's budget:
#                                150 s, or what a "# budget: SECONDS" line in it says)
#   boot.sh's VMD_XEN_SMP, ... are passed through.
set -euo pipefail
. "$(dirname "$0")/common.sh"

BUILD_DIR=${1:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$REPO_ROOT/$BUILD_DIR ;; esac
LOG=$WORK/serial.log
RESULTS=$WORK/results
SELECTED=()

matches() {  # TOKEN SCENARIO: full name, name without its number, or the number
    [ "$1" = "$2" ] || [ "$1" = "${2#*-}" ] || [ "$1" = "${2%%-*}" ]
}

select_scenarios() {
    local all=() want=() f s tok hit
    for f in "$XEN_DIR"/scenarios/[0-9]*.sh; do all+=("$(basename "$f" .sh)"); done
    if [ -z "${VMD_XEN_SCENARIO:-}" ]; then
        SELECTED=("${all[@]}")
        return
    fi
    IFS=', ' read -ra want <<< "$VMD_XEN_SCENARIO"
    for tok in "${want[@]}"; do
        hit=
        for s in "${all[@]}"; do matches "$tok" "$s" && hit=1; done
        [ -n "$hit" ] || die "no scenario '$tok'; have: ${all[*]}"
    done
    # run in the scenarios' numeric order, whatever order they were named in
    for s in "${all[@]}"; do
        for tok in "${want[@]}"; do
            if matches "$tok" "$s"; then SELECTED+=("$s"); break; fi
        done
    done
}

# QEMU's hard limit: 300 s for the boot and the toolstack, plus each scenario's budget.
default_timeout() {
    local s b total=300
    for s in "${SELECTED[@]}"; do
        b=$(sed -n 's/^# budget: \([0-9][0-9]*\).*/\1/p' "$XEN_DIR/scenarios/$s.sh" | head -n 1)
        total=$((total + ${b:-150}))
    done
    echo "$total"
}

add_result() {  # STATUS ID SECONDS [NOTE]
    echo "XENSTEP $1 $2 $3${4:+ $4}" >> "$RESULTS"
}
host_result() { add_result "$1" "host/$2" "${@:3}"; }
since() { awk -v a="$(elapsed)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# dom0 prints every result again in one block at the end; prefer it to the live lines,
# which share the serial line with Xen's messages. Without the block (timeout, crash),
# take whatever live lines made it.
collect_results() {
    local serial=$WORK/serial.txt s
    tr -d '\r' < "$LOG" > "$serial"
    if grep -q '^XENRESULTS-END' "$serial"; then
        sed -n '/^XENRESULTS-BEGIN/,/^XENRESULTS-END/s/^XENRESULT /XENSTEP /p' "$serial" >> "$RESULTS"
    else
        grep -a -o -E 'XENSTEP (PASS|FAIL|SKIP) [^ ]+ [0-9.]+( \(.*\))?' "$serial" >> "$RESULTS" || true
    fi
    grep -q '^XENDONE' "$serial" || interrupted_step "$serial"
    for s in "${SELECTED[@]}"; do
        grep -q "^XENSTEP [A-Z]* $s/" "$RESULTS" || add_result FAIL "$s/not-run" 0 "(no result from dom0)"
    done
}

# The guests that existed when dom0 stopped answering: its last "XENDOMS ..." line
# (run-scenarios.sh's domain_watch), as "3:vmdt-hvm:hvm ...", or "none".
last_domains() {  # SERIAL
    local d
    d=$(grep -a -o 'XENDOMS .*' "$1" | tail -n 1 | cut -d' ' -f2-)
    echo "${d:-unknown}"
}

# After a timeout, a freeze or a crash: the step that was running (its start line
# "  [SCENARIO] STEP: ..." with no result after it) is a failure of its own, so the table
# says where it stopped, and which guests were there.
interrupted_step() {  # SERIAL
    local scen step
    scen=$(grep -a -o '^XENSCEN BEGIN [^ ]*' "$1" | tail -n 1 | cut -d' ' -f3)
    [ -n "$scen" ] && ! grep -a -q "^XENSCEN END $scen " "$1" || return 0
    step=$(grep -a -o "^  \[$scen\] [^ :]*:" "$1" | tail -n 1 | sed 's/.*\] //; s/:$//')
    [ -n "$step" ] && ! grep -q "^XENSTEP [A-Z]* $scen/$step " "$RESULTS" || return 0
    add_result FAIL "$scen/$step" 0 "(interrupted: dom0 stopped during this step; domains: $(last_domains "$1"))"
}

print_table() {
    local status id secs note
    printf '\n%-6s %8s  %s\n' RESULT TIME STEP
    while read -r _ status id secs note; do
        printf '%-6s %7ss  %s%s\n' "$status" "$secs" "$id" "${note:+  $note}"
    done < "$RESULTS"
    echo
}

# The XENDIAG block dom0 printed for each failed step: step output, guest consoles,
# xl dmesg, vmd's log.
print_diagnostics() {
    local id
    for id in $(awk '$2 == "FAIL" { print $3 }' "$RESULTS"); do
        awk -v id="$id" '
            { b = index($0, "XENDIAG-BEGIN "); e = index($0, "XENDIAG-END ") }
            b && substr($0, b + 14) == id { on = 1; print "==== failure details: " id; next }
            e && substr($0, e + 12) == id { on = 0 }
            on' "$WORK/serial.txt"
    done
}

main() {
    local t0 rc=0 pass fail skip why
    select_scenarios
    mkdir -p "$WORK"
    # One run per work dir: a second one would overwrite this one's boot files and log.
    exec 8> "$WORK/.lock"
    flock -n 8 || die "another run is using $WORK (set VMD_XEN_WORK for a second one)"
    # QEMU's hard limit grows with the scenarios (each step has its own limit too).
    export VMD_XEN_TIMEOUT=${VMD_XEN_TIMEOUT:-$(default_timeout)}
    rm -f "$RESULTS" "$LOG" "$WORK/serial.txt"
    say "Xen tier: ${SELECTED[*]}"
    say "build dir: $BUILD_DIR; cache: $CACHE; work: $WORK"

    t0=$(elapsed)
    if bash "$XEN_DIR/build-image.sh" "$BUILD_DIR" "${SELECTED[@]}"; then
        host_result PASS image "$(since "$t0")"
        t0=$(elapsed)
        bash "$XEN_DIR/boot.sh" || rc=$?
        collect_results
        local woke=""
        [ -s "$WORK/qemu-wakeups" ] &&
            woke="(QEMU lost $(cat "$WORK/qemu-wakeups") wake-up(s) of a halted CPU; woken: see the STALL lines)"
        if grep -q '^XENDONE' "$WORK/serial.txt"; then
            host_result PASS dom0-run "$(since "$t0")" "$woke"
        else
            case $rc in
                124) why="timed out" ;;
                125) why="froze: QEMU idle; domains: $(last_domains "$WORK/serial.txt")" ;;
                *) why="QEMU exit $rc" ;;
            esac
            host_result FAIL dom0-run "$(since "$t0")" "($why before dom0 finished)"
        fi
    else
        host_result FAIL image 0 "(build-image.sh failed)"
        : > "$WORK/serial.txt"
    fi

    print_table
    awk '{ p = index($0, "XENSCEN END ") } p { split(substr($0, p), f, " ")
              printf "%s%s %ss", (n++ ? ", " : "scenario times: "), f[3], f[4] }
         END { if (n) print "" }' "$WORK/serial.txt"
    print_diagnostics
    if [ -s "$WORK/serial.txt" ] && ! grep -q '^XENDONE' "$WORK/serial.txt"; then
        echo "==== last 60 lines of the serial log"
        tail -n 60 "$WORK/serial.txt"
    fi
    pass=$(grep -c '^XENSTEP PASS' "$RESULTS") || true
    fail=$(grep -c '^XENSTEP FAIL' "$RESULTS") || true
    skip=$(grep -c '^XENSTEP SKIP' "$RESULTS") || true
    say "serial log (full): $LOG"
    say "total $(elapsed)s"
    [ "$skip" -gt 0 ] && echo "xen: $skip skipped"
    echo "xen: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

main
