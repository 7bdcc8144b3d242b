# 50-vmd-pv: a PV guest's whole life through vmd (libxl backend) and vmctl: create from an
# xl.cfg (kernel + initrd), running, `vmctl console` relays the guest's boot marker, pause
# and unpause, `shutdown --wait`, `start` again, a guest-initiated reboot (requested through
# xenstore, as the guest's own reboot would be) gives a new domid under the same definition,
# `destroy`, `remove`. vmd runs without --backend: in dom0 it must pick libxl by itself.
G=vmdt-vmd-pv
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

cat > $CFG <<EOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=vmd-pv"
on_reboot = "restart"
on_crash = "preserve"
EOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

backend_is_libxl() { grep "ready on" "$VMD_LOG" | tail -n 1 | tee /dev/stderr | grep -q "backend libxl"; }

# vmctl create answers once the guest runs; the console relay starts right after, so it
# sees the boot from (nearly) the start, marker included.
create_and_attach() {
    rm -f "$(console_log $G)" "$STATE/$G.console"
    vmctl create $CFG
    vmctl console $G --timeout 120 > "$STATE/$G.console" 2>&1 &
    echo $! > "$STATE/$G.console.pid"
}

running_everywhere() {
    wait_vm_state $G running 10
    wait_running $G 10
    [ "$(vm_field $G domid)" = "$(domid_of $G)" ]
    [ "$(vm_field $G managed)" = true ]
}

info_has_runtime() {
    vmctl info $G
    [ "$(vm_field $G vcpus)" = 1 ]
    [ "$(vm_field $G memory)" = 128 ]
    # libxl's numbers: the domain's actual allocation and its cpu time so far
    [ "$(vm_field $G memory_actual_kib)" -gt 100000 ]
    vm_field $G cpu_time | grep -q '^[0-9][0-9.e+-]*$'
}

paused_in_xen() {
    vmctl pause $G
    xl list $G
    case $(dom_state $G) in *p*) ;; *) return 1 ;; esac
    [ "$(vm_field $G state)" = paused ]
}

unpaused_in_xen() {
    vmctl unpause $G
    wait_running $G 5
    [ "$(vm_field $G state)" = running ]
}

stopped_and_gone() {
    [ "$(vm_field $G state)" = stopped ]
    wait_gone $G 5
}

guest_reboots_itself() {
    domid_of $G > "$STATE/$G.domid"
    xenstore-write "/local/domain/$(cat "$STATE/$G.domid")/control/shutdown" reboot
}

new_domid_same_guest() {
    wait_console $G "$MARK_HELLO role=vmd-pv" 120 3
    wait_vm_state $G running 30
    new=$(vm_field $G domid)
    echo "domid $(cat "$STATE/$G.domid") -> $new"
    [ "$new" != "$(cat "$STATE/$G.domid")" ]
    [ "$new" = "$(domid_of $G)" ]
    vmctl list --all | grep -q "^$G "
}

destroyed() {
    vmctl destroy $G
    wait_gone $G 10
    [ "$(vm_field $G state)" = stopped ]
}

removed() {
    vmctl remove $G
    if vmctl info $G; then return 1; fi
    if vmctl list --all | grep "^$G "; then return 1; fi
}

step vmd-up vmd_up
step backend-libxl backend_is_libxl
step create create_and_attach
step running running_everywhere
step claims-as-xl same_claims_as_xl $G $CFG True
step console-marker wait_file "$STATE/$G.console" "$MARK_HELLO role=vmd-pv type=PV"
kill "$(cat "$STATE/$G.console.pid" 2>/dev/null)" 2>/dev/null
step info info_has_runtime
step pause paused_in_xen
step unpause unpaused_in_xen
step shutdown-wait vmctl shutdown --wait --timeout 60 $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=vmd-pv' 5
step stopped stopped_and_gone
step start vmctl start $G
step hello-again wait_console $G "$MARK_HELLO role=vmd-pv" 90 2
step guest-reboot guest_reboots_itself
step reboot-marker wait_console $G 'VMDTEST-REBOOT role=vmd-pv' 60
step rebooted new_domid_same_guest
step destroy destroyed
step remove removed
show_vmd_log
