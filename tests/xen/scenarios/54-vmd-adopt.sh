# 54-vmd-adopt: vmd is killed with SIGKILL while its guest runs. The guest does not notice;
# a new vmd (same state directory) finds the domain through its "vmd" userdata record,
# adopts it without touching it (same domid, still running, managed) and then shuts it down
# cleanly through libxl, reporting the guest's poweroff as it would for its own.
G=vmdt-vmd-adopt
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=vmd-adopt"
CFGEOF

# --- vmd helpers (the same in each 5x-vmd scenario) ---
VMD_LOG_FROM=$(($(wc -l < "$VMD_LOG" 2>/dev/null || echo 0) + 1))
vmd_up() {  # [ARG...]: vmd with this scenario's state directory, answering
    local i=0
    vmd_start --state-dir "$VMD_STATE_DIR" "$@"
    until vmctl version >/dev/null 2>&1; do
        [ $i -ge 50 ] && { echo "vmd does not answer"; tail -n 20 "$VMD_LOG"; return 1; }
        sleep 0.2
        i=$((i + 1))
    done
}
vm_field() {  # NAME KEY: a scalar of `vmctl -j info NAME`
    vmctl -j info "$1" | sed -n "s/.*\"$2\":\"*\([^\",}]*\).*/\1/p"
}
wait_vm_state() {  # NAME STATE [SECONDS]
    local end=$((SECONDS + ${3:-60}))
    until [ "$(vm_field "$1" state)" = "$2" ]; do
        [ "$SECONDS" -ge "$end" ] && { echo "$1 not $2"; vmctl info "$1"; return 1; }
        sleep 0.5
    done
    vmctl info "$1"
}
wait_file() {  # FILE PATTERN [SECONDS]
    local end=$((SECONDS + ${3:-$MARKER_TIMEOUT}))
    until grep -a -q -e "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -ge "$end" ] && { echo "'$2' not in $1; last lines:"; tail -n 15 "$1"; return 1; }
        sleep 0.5
    done
    grep -a -e "$2" "$1" | tail -n 1
}
show_vmd_log() {  # what vmd logged during this scenario, into the serial log
    tail -n +"$VMD_LOG_FROM" "$VMD_LOG" 2>/dev/null | sed 's/^/  [vmd] /'
}
# --- end of vmd helpers ---

create() {
    rm -f "$(console_log $G)"
    vmctl create $CFG
    wait_vm_state $G running 5
    domid_of $G > "$STATE/$G.domid"
}

kill_vmd() {
    pid=$(cat "$STATE/vmd.pid")
    kill -9 "$pid"
    rm -f "$STATE/vmd.pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    echo "vmd $pid killed"
}

guest_unharmed() {
    wait_running $G 5
    [ "$(domid_of $G)" = "$(cat "$STATE/$G.domid")" ]
    # and it never powered off: nothing of the guest died with vmd
    [ "$(console_count $G 'VMDTEST-POWEROFF')" = 0 ]
}

adopted() {
    grep "adopted" "$VMD_LOG" | tail -n 1
    grep -q "$G: adopted .*domain $(cat "$STATE/$G.domid")\b" "$VMD_LOG"
    [ "$(vm_field $G state)" = running ]
    [ "$(vm_field $G domid)" = "$(cat "$STATE/$G.domid")" ]
    [ "$(vm_field $G managed)" = true ]
}

stopped_and_gone() {
    [ "$(vm_field $G state)" = stopped ]
    wait_gone $G 5
}

step vmd-up vmd_up
step create create
step hello wait_console $G "$MARK_HELLO role=vmd-adopt"
step kill-9 kill_vmd
step guest-unharmed guest_unharmed
step vmd-again vmd_up
step adopted adopted
step shutdown-wait vmctl shutdown --wait --timeout 60 $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=vmd-adopt' 5
step stopped stopped_and_gone
step remove vmctl remove $G
show_vmd_log
