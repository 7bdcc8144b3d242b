# 51-vmd-pygrub: the issue's example shape through vmd: a PV guest with bootloader = "pygrub"
# (a bare name: vmd resolves it under /usr/lib/xen-4.17/bin), a file disk and a bridged vif,
# no kernel in the config. The kernel, initrd and command line come from grub.cfg inside
# the disk image (default entry 1; entry 0 is a decoy with another tag).
G=vmdt-vmd-pygrub
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
# pygrub only reads the image; a copy keeps the shared one pristine for other scenarios.
IMG=/var/lib/xen/$G.img

cat > $CFG <<CFGEOF
name = "$G"
vcpus = 1
memory = 128
vif = [ 'mac=00:16:3e:76:6d:51, bridge=xenbr0' ]
disk = [ 'file:$IMG,xvda,w' ]
bootloader = "pygrub"
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

make_bridge() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
}

create() {
    cp $VT/guest/pygrub.img $IMG
    rm -f "$(console_log $G)"
    vmctl create $CFG
    wait_vm_state $G running 5
}

# libxl keeps the config it built the domain from; `xl list -l` shows it.
bootloader_resolved() { xl list -l $G | grep '"bootloader"' | tee /dev/stderr | grep -q '"/usr/lib/xen-4.17/bin/pygrub"'; }

destroyed() {
    vmctl destroy $G
    wait_gone $G 10
    [ "$(vm_field $G state)" = stopped ]
}

step bridge make_bridge
step vmd-up vmd_up
step create create
step hello wait_console $G "$MARK_HELLO role=pygrub type=PV tag=grub-cfg"
step pygrub-path bootloader_resolved
step destroy destroyed
step remove vmctl remove $G
rm -f $IMG
show_vmd_log
