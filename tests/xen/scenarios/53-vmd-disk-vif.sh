# 53-vmd-disk-vif: a PV guest with a file disk and a bridged vif, through vmd. The guest reads
# a token dom0 wrote into the image and writes it back (blkback on a loop device); the
# backend vif (vifDOMID.0) is on xenbr0 while the guest runs, and vif and loop device are
# gone after `vmctl destroy`.
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
vif = [ 'mac=$MAC, bridge=xenbr0' ]
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
step disk-read wait_console $G "VMDTEST-DISK-READ $TOKEN"
step disk-written wait_console $G 'VMDTEST-DISK-WRITTEN' 30
step in-file written_back
step destroy destroyed
step vif-removed no_vif_left
step loop-released loop_released
step remove vmctl remove $G
rm -f $IMG
show_vmd_log
