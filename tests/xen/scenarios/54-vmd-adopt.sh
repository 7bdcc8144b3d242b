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

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

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
