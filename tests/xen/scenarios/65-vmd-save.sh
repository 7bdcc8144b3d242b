# 65-vmd-save: `vmctl save` / `vmctl restore` of a running PV guest on real Xen (libxl's
# save stream through vmd's relay into a file, and back through libxl_domain_create_restore),
# the managed save that `vmctl start` restores, a checkpoint (--keep-running) restored later,
# and a truncated save refused with nothing left behind. The guest counts on its console every
# 0.2 s in memory: after a restore the count goes on from where it was saved, without a
# second boot. The same guest under xl, `xl save` / `xl restore`, is the reference for the
# times.
# budget: 480
need_vmd_libxl || return 0
G=vmdt-save
X=vmdt-xlsave
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
SAVES=/tmp/vmdt-saves
TIMES=$STATE/$G.times

rm -rf "$TIMES" "$SAVES"
mkdir -p "$SAVES"
counter_cfg $G > /tmp/$G.cfg
counter_cfg $X > /tmp/$X.cfg

# ticks, last_tick, log_of, new_log, counts_on, restored: dom0/lib.sh

create() {
    rm -f "$CONSOLE_DIR"/guest-$G*.log
    vmctl create /tmp/$G.cfg
    wait_vm_state $G running 5
    wait_console $G 'VMDTEST-TICK 5' 120
}

save_restore() {
    local at t0 domid
    domid=$(vm_field $G domid)
    at=$(last_tick "$(log_of $G)")
    t0=$(now)
    vmctl save $G $SAVES/$G.save
    echo "vmd save: $(since "$t0") s" | tee -a "$TIMES"
    at=$(last_tick "$(log_of $G)")  # the guest stopped at this count
    [ "$(vm_field $G state)" = stopped ]
    ! xl domid $G 2>/dev/null || { echo "its domain is still there"; xl list; return 1; }
    [ "$(head -c 14 $SAVES/$G.save)" = '{"vmd-save":1,' ]
    ls -l $SAVES/$G.save
    new_log $G
    t0=$(now)
    vmctl restore $SAVES/$G.save
    echo "vmd restore: $(since "$t0") s" | tee -a "$TIMES"
    restored $G "$at"
    [ "$(vm_field $G domid)" != "$domid" ]
    [ -f $SAVES/$G.save ]  # a restore keeps its file
    rm -f $SAVES/$G.save
}

managed_save() {
    local at
    vmctl save $G
    at=$(last_tick "$(log_of $G)")
    [ -f "$VMD_STATE_DIR/saves/$G.save" ]
    vmctl -j info $G | grep -q '"saved":true'
    new_log $G
    vmctl start $G | tee /tmp/$G.start
    grep -q "^restored $G .* from its managed save" /tmp/$G.start
    restored $G "$at"
    [ ! -e "$VMD_STATE_DIR/saves/$G.save" ]
    if vmctl -j info $G | grep -q '"saved"'; then echo "unexpected: vmctl -j: grep -q saved"; return 1; fi
}

# A checkpoint: the guest runs on; destroyed later, it comes back as it was at the checkpoint
# (its first count after the restore is the checkpoint's, not the last one before the destroy).
checkpoint() {
    local domid at later
    domid=$(vm_field $G domid)
    vmctl save $G $SAVES/$G.ckpt --keep-running
    at=$(last_tick "$(log_of $G)")
    [ "$(vm_field $G state)" = running ]
    [ "$(vm_field $G domid)" = "$domid" ]
    counts_on $G "$((at + 30))"  # it runs on, and well past the checkpoint
    later=$(last_tick "$(log_of $G)")
    vmctl destroy $G
    new_log $G
    vmctl restore $SAVES/$G.ckpt
    restored $G "$at"
    # counts the running guest had printed already: only a guest from the checkpoint does
    [ "$(ticks "$(log_of $G)" | awk -v a="$at" '$1 > a' | head -n 1)" -lt "$later" ]
}

# A save cut short: a clear error, the file left, no domain left, the guest stopped.
truncated() {
    local rc=0
    vmctl destroy $G
    head -c 20000000 $SAVES/$G.ckpt > $SAVES/$G.short
    rm -f $SAVES/$G.ckpt
    vmctl restore $SAVES/$G.short > /tmp/$G.short.out 2>&1 || rc=$?
    cat /tmp/$G.short.out
    [ "$rc" = 2 ]
    [ "$(vm_field $G state)" = stopped ]
    [ -f $SAVES/$G.short ]
    wait_gone $G 30
    rm -f $SAVES/$G.short
}

# The reference: the same guest under xl, xl save and xl restore to the same directory.
xl_reference() {
    local t0
    rm -f "$CONSOLE_DIR"/guest-$X*.log
    xl create /tmp/$X.cfg
    wait_console $X 'VMDTEST-TICK 5' 120
    t0=$(now)
    xl save $X $SAVES/$X.save
    echo "xl save: $(since "$t0") s" | tee -a "$TIMES"
    t0=$(now)
    xl restore $SAVES/$X.save
    echo "xl restore: $(since "$t0") s" | tee -a "$TIMES"
    wait_running $X 30
    xl destroy $X
    rm -f $SAVES/$X.save
}

# The times against xl's, in the results table (as 58-vmd-timing reports).
report() {
    local line
    line=$(awk '/^vmd save:/ { vs = $3 } /^vmd restore:/ { vr = $3 } /^xl save:/ { xs = $3 }
         /^xl restore:/ { xr = $3 } END {
        if (!(vs > 0 && vr > 0 && xs > 0 && xr > 0)) exit 1
        printf "save: vmd %.1fs, xl %.1fs, vmd/xl %.2f; restore: vmd %.1fs, xl %.1fs, vmd/xl %.2f",
            vs, xs, vs / xs, vr, xr, vr / xr }' "$TIMES") || {
        result FAIL "$SCENARIO/ratios" 0 "(times missing: $(tr '\n' ' ' < "$TIMES"))"
        return 0
    }
    result PASS "$SCENARIO/ratios" 0 "($line)"
}

lifecycle_after() {
    new_log $G
    vmctl start $G | tee /tmp/$G.start
    if grep -q restored /tmp/$G.start; then echo "unexpected: restored"; return 1; fi  # no managed save: a fresh boot
    wait_console $G "VMDTEST-HELLO role=counter" 60
    vmctl destroy $G
    vmctl remove $G
}

teardown() { rm -rf $SAVES "$VMD_STATE_DIR/saves"; }  # after a failure (run-scenarios.sh)

step vmd-up vmd_up
step create create
step -t 150 save-restore save_restore
step -t 150 managed-save managed_save
step -t 150 checkpoint checkpoint
step -t 90 truncated truncated
step -t 150 xl-save-restore xl_reference
[ -z "$SCENARIO_FAILED" ] && report
step lifecycle lifecycle_after
show_vmd_log
