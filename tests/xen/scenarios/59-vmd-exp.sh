# TEMPORARY experiment (pygrub + rw file disk): xl vs vmd
G=vmdt-exp
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
IMG=/var/lib/xen/$G.img
cat > $CFG <<CFGEOF
name = "$G"
vcpus = 1
memory = 128
vif = [ 'mac=00:16:3e:76:6d:59, bridge=xenbr0' ]
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
    cp $VT/guest/pygrub.img $IMG
}
xl_try() { xl -v create $CFG 2>&1 | tail -n 40; wait_running $G 5; }
xl_gone() { xl destroy $G; wait_gone $G 20; }
vmd_try() { vmctl create $CFG; wait_vm_state $G running 5; }
step bridge make_bridge
step -t 240 xl-create xl_try
step xl-destroy xl_gone
SCENARIO_FAILED=
step vmd-up vmd_up --log-level debug
step -t 240 vmd-create vmd_try
SCENARIO_FAILED=
vmctl destroy $G; sleep 5
show_vmd_log | grep -v "libxl_event.c\|libxl_aoutils\|osevent" | tail -n 400
