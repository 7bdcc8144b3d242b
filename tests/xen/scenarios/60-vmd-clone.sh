# 60-vmd-clone: `vmctl clone` of a stopped PV guest with a file disk and a bridged vif, on
# real Xen. The copy is complete and sparse before anything boots; then source and clone run
# at the same time, each with its own UUID and MAC (as xl sees them, and as vmd reports
# them), and the clone's guest reads the token that dom0 wrote into the source's image (its
# disk holds the source's data) and writes its echo into its own image only. A running guest
# cannot be cloned; `vmctl remove --delete-disks` deletes the copy and nothing else.
need vmd vmctl || return 0
if grep -q 'built without libxl' "$(command -v vmd)"; then
    skip all "vmd built without the libxl backend"
    return 0
fi
G=vmdt-clone-a
C=vmdt-clone-b
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
IMG=/var/lib/xen/$G.img
CIMG=/var/lib/xen/$C.img
TOKEN=VMDTEST-TOKEN-$(cat /proc/sys/kernel/random/uuid)

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=disk"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$IMG' ]
vif = [ 'bridge=xenbr0' ]
on_crash = "preserve"
CFGEOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

vm_mac() { vmctl -j info "$1" | grep -o '"mac":"[^"]*"' | head -n 1 | cut -d'"' -f4; }
xl_uuid() { xl list -v "$1" | awk -v n="$1" '$1 == n { print $7 }'; }
xl_mac() { xl network-list "$1" | awk 'NR == 2 { print $3 }'; }

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -f $IMG $CIMG
    # 64 MiB, sparse, with the token at the start and a little data far in
    truncate -s 64M $IMG
    printf '%s\n' "$TOKEN" | dd of=$IMG conv=notrunc 2>/dev/null
    printf 'far data\n' | dd of=$IMG bs=1M seek=40 conv=notrunc 2>/dev/null
}

define() { vmctl define $CFG; }

clone() {
    vmctl clone $G $C
    [ "$(vm_field $C state)" = stopped ]
    [ "$(sha256sum < $IMG)" = "$(sha256sum < $CIMG)" ]  # (no cmp in dom0: no diffutils)
    # sparse: the copy takes no more blocks than the source
    ls -ls $IMG $CIMG
    [ "$(stat -c %b $CIMG)" -le "$(stat -c %b $IMG)" ]
}

new_identity() {
    vmctl config $C
    [ "$(vm_field $C uuid)" != "$(vm_field $G uuid)" ]
    [ -n "$(vm_mac $C)" ]
    [ "$(vm_mac $C)" != "$(vm_mac $G)" ]
    case $(vm_mac $C) in 00:16:3e:*) ;; *) return 1 ;; esac
    vmctl config $C | grep -q "target=$CIMG"
}

start_both() {
    rm -f "$(console_log $G)" "$(console_log $C)"
    vmctl start $G
    vmctl start $C
    wait_vm_state $G running 10
    wait_vm_state $C running 10
    wait_running $G 30
    wait_running $C 30
}

own_identity_in_xen() {
    xl list -v
    xl network-list $G
    xl network-list $C
    [ "$(xl_uuid $G)" = "$(vm_field $G uuid)" ]
    [ "$(xl_uuid $C)" = "$(vm_field $C uuid)" ]
    [ "$(xl_uuid $G)" != "$(xl_uuid $C)" ]
    [ "$(xl_mac $G)" = "$(vm_mac $G)" ]
    [ "$(xl_mac $C)" = "$(vm_mac $C)" ]
    [ "$(xl_mac $G)" != "$(xl_mac $C)" ]
    ip -br link show master xenbr0 | grep "^vif$(domid_of $C)\.0"
}

echo_in() {  # IMAGE: the guest wrote its echo of the token at offset 512
    dd if="$1" bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | tee /dev/stderr |
        grep -q "^VMDTEST-ECHO $TOKEN"
}

running_source_refused() {
    if vmctl clone $G vmdt-clone-c; then return 1; fi
    [ ! -e /var/lib/xen/vmdt-clone-c.img ]
    if vmctl info vmdt-clone-c; then return 1; fi
}

destroy_both() {
    vmctl destroy $G
    vmctl destroy $C
    wait_gone $G 10
    wait_gone $C 10
}

remove_clone() {
    vmctl remove --delete-disks $C | tee /dev/stderr | grep -q "deleted $CIMG"
    [ ! -e $CIMG ]
    [ -e $IMG ]
    vmctl remove $G
}

step setup setup
step vmd-up vmd_up
step define define
step clone clone
step new-identity new_identity
step start-both start_both
step source-reads wait_console $G "VMDTEST-DISK-READ $TOKEN"
step clone-reads wait_console $C "VMDTEST-DISK-READ $TOKEN"
step own-identity own_identity_in_xen
step source-written wait_console $G 'VMDTEST-DISK-WRITTEN' 30
step clone-written wait_console $C 'VMDTEST-DISK-WRITTEN' 30
step echo-in-source echo_in $IMG
step echo-in-clone echo_in $CIMG
step running-refused running_source_refused
step destroy destroy_both
step remove remove_clone
rm -f $IMG $CIMG
show_vmd_log
