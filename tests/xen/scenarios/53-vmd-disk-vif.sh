# 53-vmd-disk-vif: a PV guest with a file disk and a bridged vif, through vmd. The guest reads
# a token dom0 wrote into the image and writes it back (blkback on a loop device); the
# backend vif (vifDOMID.0) is on xenbr0 while the guest runs, its rate= limit is what netback
# was given (xenstore's backend "rate", as libxl writes what xl's dry run computes), and vif
# and loop device are gone after `vmctl destroy`.
G=vmdt-vmd-dv
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
IMG=/var/lib/xen/$G.img
MAC=00:16:3e:76:6d:53
TOKEN=VMDTEST-TOKEN-$(cat /proc/sys/kernel/random/uuid)

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=disk"
disk = [ 'file:$IMG,xvda,w' ]
vif = [ 'mac=$MAC, bridge=xenbr0, rate=10Mb/s@20ms' ]
CFGEOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

make_bridge_and_image() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    dd if=/dev/zero of=$IMG bs=1M count=16 2>/dev/null
    printf '%s\n' "$TOKEN" | dd of=$IMG conv=notrunc 2>/dev/null
}

create() {
    rm -f "$(console_log $G)"
    vmctl create $CFG
    wait_vm_state $G running 5
}

vif_on_bridge() {
    ip -br link show master xenbr0 | tee /dev/stderr | grep -q "^vif$(domid_of $G)\.0"
    # and vmd reports the MAC of the definition for it
    vmctl info $G | grep -q "$MAC"
}

# netback's credit: libxl writes "BYTES,USECS" into the vif's backend; xl's dry run of the same
# file says which (10 Mb/s in 20 ms slices: 25000 bytes per 20000 us).
rate_applied() {
    local be xl_bytes xl_usecs
    be=/local/domain/0/backend/vif/$(domid_of $G)/0
    xl -N create $CFG > $STATE/$G.xl.json
    xl_bytes=$(libxl_value $STATE/$G.xl.json nics | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["rate_bytes_per_interval"])')
    xl_usecs=$(libxl_value $STATE/$G.xl.json nics | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["rate_interval_usecs"])')
    echo "backend rate: $(xenstore-read $be/rate); xl: $xl_bytes,$xl_usecs"
    [ "$(xenstore-read $be/rate)" = "$xl_bytes,$xl_usecs" ]
    [ "$xl_bytes,$xl_usecs" = "25000,20000" ]
}

written_back() {
    dd if=$IMG bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | tee /dev/stderr |
        grep -q "^VMDTEST-ECHO $TOKEN"
}

destroyed() {
    vmctl destroy $G
    wait_gone $G 10
}

no_vif_left() { [ -z "$(ip -br link show master xenbr0)" ] || { ip -br link show master xenbr0; false; }; }
loop_released() { [ -z "$(losetup -a)" ] || { losetup -a; false; }; }

step setup make_bridge_and_image
step vmd-up vmd_up
step create create
step vif-on-bridge vif_on_bridge
step vif-rate rate_applied
step disk-read wait_console $G "VMDTEST-DISK-READ $TOKEN"
step disk-written wait_console $G 'VMDTEST-DISK-WRITTEN' 30
step in-file written_back
step destroy destroyed
step vif-removed no_vif_left
step loop-released loop_released
step remove vmctl remove $G
rm -f $IMG
show_vmd_log
