# 52-vmd-pvh: a PVH guest through vmd (direct kernel boot, no device model, HAP): it reports
# itself as PVH, obeys `vmctl shutdown --wait`, and its definition goes with `remove`. Its
# config turns memory claims off (claim_mode = 0): the domain is built without them, as xl
# builds the same file when xl.conf says claim_mode = 0 (xl reads the key only there).
G=vmdt-vmd-pvh
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

cat > $CFG <<CFGEOF
name = "$G"
type = "pvh"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=vmd-pvh"
claim_mode = 0
CFGEOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

create() {
    rm -f "$(console_log $G)"
    vmctl create $CFG
    wait_vm_state $G running 5
    [ "$(vm_field $G type)" = pvh ]
}

stopped_and_gone() {
    [ "$(vm_field $G state)" = stopped ]
    wait_gone $G 5
}

step vmd-up vmd_up
step create create
step no-claims-as-xl same_claims_as_xl $G $CFG False 0
# PVH boots much slower than PV under QEMU's TCG (nested paging emulated): allow for it.
step -t 300 hello wait_console $G "$MARK_HELLO role=vmd-pvh type=PVH" 280
step shutdown-wait vmctl shutdown --wait --timeout 60 $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=vmd-pvh' 5
step stopped stopped_and_gone
step remove vmctl remove $G
show_vmd_log
