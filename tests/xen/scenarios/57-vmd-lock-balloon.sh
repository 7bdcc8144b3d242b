# 57-vmd-lock-balloon: vmd shares the host with xl. (1) While another process holds xl's
# creation lock (/var/lock/xl, an fcntl write lock as xl takes it), a vmd create waits for
# it without blocking the daemon, and goes ahead once it is released. (2) With
# autoballoon="on" in /etc/xen/xl.conf, a guest bigger than the host's free memory makes vmd
# balloon dom0 down, as `xl create` would, and the guest runs.
G=vmdt-vmd-lock
BIG=vmdt-vmd-big
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
HOLD=8

for g in $G $BIG; do
    cat > /tmp/$g.cfg <<CFGEOF
name = "$g"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=$g"
CFGEOF
done

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

# python's fcntl.lockf takes the same kind of lock as xl (fcntl F_SETLKW, F_WRLCK).
hold_xl_lock() {  # SECONDS
    python3 -c '
import fcntl, os, sys, time
fd = os.open("/var/lock/xl", os.O_WRONLY | os.O_CREAT, 0o200)
fcntl.lockf(fd, fcntl.LOCK_EX)
open("/tmp/xl-lock.held", "w").close()
time.sleep(float(sys.argv[1]))
' "$1" &
    until [ -e /tmp/xl-lock.held ]; do sleep 0.1; done
}

create_waits_for_lock() {
    rm -f /tmp/xl-lock.held
    vmctl define /tmp/$G.cfg
    t0=$(now)
    hold_xl_lock $HOLD
    vmctl start $G > /tmp/$G.start.out 2>&1 &
    sp=$!
    sleep 2
    # the daemon answers while the create waits
    vmctl version
    [ "$(vm_field $G state)" = starting ]
    wait $sp
    t=$(since "$t0")
    cat /tmp/$G.start.out
    echo "create finished ${t}s after the lock was taken (held ${HOLD}s)"
    awk -v t="$t" -v h="$HOLD" 'BEGIN { exit !(t >= h - 1) }'
    grep -q "$G: waiting for /var/lock/xl" "$VMD_LOG"
    wait_vm_state $G running 5
}

destroyed() {
    vmctl destroy $1
    wait_gone $1 10
    vmctl remove $1
}

autoballoon_on() {
    vmd_stop
    mkdir -p /etc/xen
    [ -f /etc/xen/xl.conf ] && cp /etc/xen/xl.conf /tmp/xl.conf.saved
    echo 'autoballoon="on"' >> /etc/xen/xl.conf
    sleep 0.5
    vmd_up
    grep "autoballoon" "$VMD_LOG" | tail -n 1 | grep -q "autoballoon on"
}

# A guest 256 MiB bigger than what Xen has free: only ballooning dom0 makes room.
big_guest_runs() {
    free=$(xl info | awk '$1 == "free_memory" { print $3 }')
    dom0_before=$(xl list 0 | awk 'NR == 2 { print $3 }')
    mem=$((free + 256))
    echo "free ${free} MiB, dom0 ${dom0_before} MiB; guest of ${mem} MiB"
    sed -i "s/^memory = .*/memory = $mem/" /tmp/$BIG.cfg
    rm -f "$(console_log $BIG)"
    vmctl create /tmp/$BIG.cfg
    wait_vm_state $BIG running 5
    dom0_after=$(xl list 0 | awk 'NR == 2 { print $3 }')
    echo "dom0 now ${dom0_after} MiB"
    xl list
    grep "ballooning dom0" "$VMD_LOG" | tail -n 1
    [ "$dom0_after" -lt "$dom0_before" ]
}

restore_xl_conf() {
    if [ -f /tmp/xl.conf.saved ]; then mv /tmp/xl.conf.saved /etc/xen/xl.conf; else rm -f /etc/xen/xl.conf; fi
}

step vmd-up vmd_up
step -t 60 lock-wait create_waits_for_lock
say "$(grep 'create finished' "$STATE/log/$SCENARIO.lock-wait.log")"
step destroy destroyed $G
step autoballoon-on autoballoon_on
step -t 120 balloon big_guest_runs
say "$(grep -h 'ballooning dom0\|dom0 made room' "$VMD_LOG" | tail -n 2 | tr '\n' ' ')"
step -t 120 big-boots wait_console $BIG "$MARK_HELLO role=$BIG" 110
step destroy-big destroyed $BIG
restore_xl_conf
show_vmd_log
