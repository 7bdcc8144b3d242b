# 56-vmd-concurrent: four guests created at the same time through the socket (four vmctl
# processes). vmd builds them one after the other under xl's creation lock, as four
# `xl create` would, but keeps answering other clients meanwhile; all four end up running,
# boot, and are destroyed and removed.
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
GUESTS="vmdt-cc-1 vmdt-cc-2 vmdt-cc-3 vmdt-cc-4"

for g in $GUESTS; do
    cat > /tmp/$g.cfg <<CFGEOF
name = "$g"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=cc"
CFGEOF
done

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

# Starts the four creates, then checks that vmd answers a read while they are in flight.
create_all() {
    for g in $GUESTS; do
        rm -f "$(console_log $g)" "$STATE/$g.rc"
        ( vmctl create /tmp/$g.cfg > "$STATE/$g.out" 2>&1; echo $? > "$STATE/$g.rc" ) &
    done
    sleep 1
    worst=0
    n=0
    while [ $n -lt 10 ]; do
        t0=$(now)
        vmctl list > /dev/null
        t=$(since "$t0")
        echo "vmctl list answered in ${t}s"
        worst=$(awk -v a="$t" -v b="$worst" 'BEGIN { print (a > b) ? a : b }')
        busy=0
        for g in $GUESTS; do [ -f "$STATE/$g.rc" ] || busy=1; done
        [ $busy = 0 ] && break
        n=$((n + 1))
        sleep 1
    done
    echo "slowest answer while creating: ${worst}s"
    awk -v w="$worst" 'BEGIN { exit !(w < 3) }'
}

all_created() {
    end=$((SECONDS + 170))
    for g in $GUESTS; do
        until [ -f "$STATE/$g.rc" ]; do
            [ "$SECONDS" -ge "$end" ] && { echo "$g: create still running"; return 1; }
            sleep 1
        done
        cat "$STATE/$g.out"
        [ "$(cat "$STATE/$g.rc")" = 0 ]
    done
}

all_running() {
    for g in $GUESTS; do
        wait_vm_state $g running 5
        wait_running $g 5
    done
    xl list
}

all_booted() {
    for g in $GUESTS; do wait_console $g "$MARK_HELLO role=cc"; done
}

destroy_all_vmd() {
    for g in $GUESTS; do vmctl destroy $g; done
    for g in $GUESTS; do wait_gone $g 10; vmctl remove $g; done
}

step vmd-up vmd_up
step -t 30 create-responsive create_all
step -t 180 all-created all_created
step all-running all_running
step -t 180 all-booted all_booted
step destroy-remove destroy_all_vmd
show_vmd_log
