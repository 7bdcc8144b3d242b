#!/bin/bash
# run-scenarios.sh: runs in dom0 (from /init). Brings the Xen toolstack up, runs the
# selected scenarios one after the other, then prints every result again as one block
# (XENRESULTS-BEGIN/END) for the host: the live XENSTEP lines share the serial line with
# Xen's own messages and may, rarely, be cut by one.
# bash, not busybox sh: Debian's static busybox sh runs its own applets before the real
# tools in PATH (busybox ip has no -br, for one).
# shellcheck disable=SC1090,SC1091,SC2034
. /vmdtest/config   # SCENARIOS, FAIL_MARKER, STEP_TIMEOUT, MARKER_TIMEOUT (from the host)
. /vmdtest/lib.sh

# run_scenario NAME: sources scenarios/NAME.sh in a subshell, so that its variables and
# an early `return`/`exit` stay inside; then removes whatever guests it left behind.
run_scenario() {
    local t0 before rc
    SCENARIO=$1
    SCENARIO_FAILED=
    # VMD_XEN_FAIL_MARKER=NAME (or 1 for 20-pv) makes that scenario wait for a marker no
    # guest prints: the way to see what a failure looks like.
    MARK_HELLO=VMDTEST-HELLO
    case $FAIL_MARKER in
        "$SCENARIO"|"${SCENARIO#*-}") MARK_HELLO=VMDTEST-NO-SUCH-MARKER ;;
        1) [ "$SCENARIO" = 20-pv ] && MARK_HELLO=VMDTEST-NO-SUCH-MARKER ;;
    esac
    touch "$STATE/scenario-start"
    VMD_LOG_FROM=$(($(wc -l < "$VMD_LOG" 2>/dev/null || echo 0) + 1))
    before=$(wc -l < "$RESULTS")
    t0=$(now)
    echo "XENSCEN BEGIN $SCENARIO"
    # After a failure the scenario's own cleanup steps are skipped: its `teardown`, if it
    # has one, removes what would weigh on the next ones (dom0's root file system is RAM).
    # shellcheck disable=SC1090
    (
        . "$VT/scenarios/$SCENARIO.sh"
        rc=$?
        if [ -n "$SCENARIO_FAILED" ] && declare -F teardown > /dev/null; then
            vmd_stop
            destroy_all
            say "teardown after $SCENARIO_FAILED failed"
            teardown > "$STATE/log/$SCENARIO.teardown.log" 2>&1 ||
                say "teardown: exit $? ($(tail -n 1 "$STATE/log/$SCENARIO.teardown.log"))"
        fi
        exit $rc
    )
    rc=$?
    if [ "$(wc -l < "$RESULTS")" = "$before" ]; then
        result FAIL "$SCENARIO/script" "$(since "$t0")" "(exit $rc before any step)"
    fi
    if [ -n "$(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0')" ]; then
        # A passing scenario must clean up after itself; after a failure it may not have.
        grep -q "^XENSTEP FAIL $SCENARIO/" "$RESULTS" ||
            { result FAIL "$SCENARIO/cleanup" 0 "(left domains behind)"; xl list; }
        destroy_all
    fi
    vmd_stop
    echo "XENSCEN END $SCENARIO $(since "$t0")"
}

# domain_watch: a line "XENDOMS DOMID:NAME:TYPE ..." (or "XENDOMS none") whenever the set of
# guests changes, read from xenstore every 2 s. When the emulated machine freezes or times
# out, nothing can be asked any more: the host names the domains of the last such line.
domain_watch() {
    local last=- cur d
    while :; do
        cur=
        for d in $(xenstore-list /local/domain 2>/dev/null); do
            [ "$d" = 0 ] && continue
            cur+="$d:$(xenstore-read "/local/domain/$d/name" 2>/dev/null):$(xenstore-read "/libxl/$d/type" 2>/dev/null) "
        done
        cur=${cur% }
        [ "$cur" != "$last" ] && echo "XENDOMS ${cur:-none}"
        last=$cur
        sleep 2
    done
}

: > "$RESULTS"
if toolstack_up; then
    domain_watch &
    WATCH_PID=$!
    for s in $SCENARIOS; do
        run_scenario "$s"
    done
else
    for s in $SCENARIOS; do
        SCENARIO=$s
        skip all "toolstack did not come up"
    done
fi
[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null

echo "XENRESULTS-BEGIN"
sed 's/^XENSTEP /XENRESULT /' "$RESULTS"
echo "XENRESULTS-END"
echo "XENDONE pass=$(grep -c '^XENSTEP PASS' "$RESULTS") fail=$(grep -c '^XENSTEP FAIL' "$RESULTS")"
