#!/bin/bash
# boot.sh: boots $WORK/boot/{xen,vmlinuz,dom0.cpio.gz} under QEMU (TCG) with a hard
# timeout, echoing dom0's progress from the serial log as it comes.
# Exit status: 0 when QEMU ended by itself (dom0 powered off), 124 on timeout, 125 when the
# emulated machine froze (QEMU used no CPU for VMD_XEN_FREEZE seconds), else QEMU's.
#
# Settings (environment):
#   VMD_XEN_TIMEOUT   seconds before QEMU is killed                  (900; run.sh scales it)
#   VMD_XEN_SMP       vCPUs for Xen (and dom0)                       (1)
#   VMD_XEN_MEM       QEMU memory, MiB                               (2560)
#   VMD_XEN_DOM0_MEM  dom0's share                                   (1536M)
#   VMD_XEN_CPU       QEMU CPU model                                 (qemu64,+svm,+npt)
#   VMD_XEN_XEN_ARGS / VMD_XEN_DOM0_ARGS  extra Xen / dom0 kernel command line
#   VMD_XEN_STALL     seconds without any CPU use by QEMU after which the machine's interrupt
#                     state is saved to $WORK/stall-N.txt and it is kicked          (20)
#   VMD_XEN_KICK      key: wake a CPU that QEMU left halted on a pending interrupt (see
#                     stall()); none: only look                                      (key)
#   VMD_XEN_FREEZE    seconds without any CPU use by QEMU that count as frozen (120)
#   VMD_XEN_INTERACTIVE=1  the serial console on this terminal (and still in the log);
#                          dom0 offers a shell after the scenarios
set -euo pipefail
. "$(dirname "$0")/common.sh"

TIMEOUT=${VMD_XEN_TIMEOUT:-900}
# One vCPU: an HVM guest crashed Xen under two emulated vCPUs (QEMU's multi-threaded TCG
# running SVM), and one boot with one vCPU for every scenario is simpler than a second boot
# for the HVM ones; the PV scenarios lose little (tests/xen/README.md, "Timings").
SMP=${VMD_XEN_SMP:-1}
# dom0's root file system is RAM and holds the dom0 image (the cloud image of scenario 72
# among it), the scenarios' disks and save files: 1024M ran out in scenarios 68 and 72 of
# a whole run (the OOM killer took xenstored). The guests keep the ~1 GiB they had.
MEM=${VMD_XEN_MEM:-2560}
DOM0_MEM=${VMD_XEN_DOM0_MEM:-1536M}
# KVM does not work on these machines (nested virtualisation is not offered): TCG only.
# Debian's Xen is built without shadow paging, so PVH and HVM guests need the emulated
# SVM with nested paging (+npt); PV guests would be happy with plain qemu64.
CPU=${VMD_XEN_CPU:-qemu64,+svm,+npt}
FREEZE=${VMD_XEN_FREEZE:-120}
STALL=${VMD_XEN_STALL:-20}
KICK=${VMD_XEN_KICK:-key}
LOG=$WORK/serial.log
BOOT=$WORK/boot
MONITOR=$WORK/monitor.sock

XEN_ARGS="console=com1 com1=115200,8n1 dom0_mem=$DOM0_MEM,max:$DOM0_MEM dom0_max_vcpus=$SMP"
XEN_ARGS+=" loglvl=all guest_loglvl=all ${VMD_XEN_XEN_ARGS:-}"
# quiet: the kernel's own messages stay in dmesg, out of the way of the result lines.
DOM0_ARGS="console=hvc0 earlyprintk=xen rdinit=/init panic=5 quiet ${VMD_XEN_DOM0_ARGS:-}"

qemu_pid=
stop_qemu() {
    [ -n "$qemu_pid" ] || return 0
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
}
trap stop_qemu EXIT
trap 'exit 130' INT TERM

# QEMU's CPU time so far, in clock ticks (utime + stime).
qemu_ticks() { awk '{ print $14 + $15 }' "/proc/$qemu_pid/stat" 2>/dev/null || echo 0; }

# One command on QEMU's monitor (a unix socket), its answer on stdout.
monitor() {
    python3 - "$MONITOR" "$1" <<'PY' 2>&1 || true
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out, end = b"", time.time() + 2
while time.time() < end:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    out += chunk
print(out.decode(errors="replace").replace("\r", ""))
PY
}

# Prints the progress lines that arrived since the last call (complete lines only).
seen=0
follow() {
    local total
    total=$(wc -l < "$LOG")
    [ "$total" -gt "$seen" ] || return 0
    sed -n "$((seen + 1)),${total}p" "$LOG" | tr -d '\r' |
        { grep -a -o -E 'Xen version [0-9.]+.*|XENBOOT .*|XENSCEN (BEGIN|END) .*|XENSTEP [A-Z]+ .*|XENDOMS .*' || true; } |
        while read -r kind a b c rest; do
            case $kind in
                Xen) say "Xen $b booting" ;;
                XENBOOT) say "$a (dom0 uptime ${b}s)" ;;
                XENSCEN) if [ "$a" = BEGIN ]; then say "scenario $b"; else say "scenario $b done in ${c}s"; fi ;;
                XENSTEP) say "  $a $b ${c}s${rest:+ $rest}" ;;
                XENDOMS) say "    guests: $a${b:+ $b}${c:+ $c}${rest:+ $rest}" ;;
            esac
        done
    seen=$total
}

# The machine stalled (no CPU use for STALL seconds): what its CPU and interrupt controllers
# hold goes to $WORK/stall-N.txt. QEMU 7.2's TCG (running Xen's SVM guests) sometimes loses
# the wake-up of a halted CPU: the local APIC holds a pending interrupt in IRR (Xen's timer,
# vector 250), nothing in service, the CPU halted with interrupts enabled, and QEMU never
# delivers it (tests/xen/README.md, "The freeze"). Only for that state, boot.sh gives the
# APIC something to re-evaluate: a key event (i8042, IRQ 1) makes QEMU look at the IRR again,
# the CPU takes the timer interrupt and Xen runs on. Every such wake-up is said on the
# progress output and counted (QEMU_WAKEUPS); any other stall is left alone and becomes a
# freeze, which fails the run. VMD_XEN_KICK=none: only look.
stalls=0
wakeups=0
stall() {
    local f=$WORK/stall-$stalls.txt cmd irr isr
    for cmd in "info registers" "info lapic" "info pic" "info irq"; do
        echo "== $cmd"
        monitor "$cmd"
    done > "$f"
    irr=$(grep -a -m1 -E '^IRR' "$f" | sed -E 's/^IRR[[:space:]]*//; s/[[:space:]]*$//')
    isr=$(grep -a -m1 -E '^ISR' "$f" | sed -E 's/^ISR[[:space:]]*//; s/[[:space:]]*$//')
    say "STALL $stalls: no CPU use for ${STALL}s; $(grep -a -m1 -E '^RIP' "$f" | cut -c1-70);" \
        "LAPIC IRR ${irr:-?} ISR ${isr:-?} ($f)"
    # halted (HLT=1) with IF set (RFL bit 9), an interrupt pending and none in service
    if [ "$KICK" = key ] && grep -a -q -E '^RIP=.* RFL=[0-9a-f]*[2367abef][0-9a-f]{2} .* HLT=1' "$f" &&
        [ -n "$irr" ] && [ "$irr" != "(none)" ] && [ "$isr" = "(none)" ]; then
        monitor "sendkey shift" > /dev/null
        wakeups=$((wakeups + 1))
        echo "$wakeups" > "$WORK/qemu-wakeups"
        say "STALL $stalls: QEMU lost the wake-up for pending vector(s) $irr; a key event woke the CPU (QEMU_WAKEUPS $wakeups)"
    fi
}

main() {
    local start rc=0 ticks last_ticks=-1 busy stalled=0 stall_ticks=0
    rm -f "$LOG"
    : > "$LOG"
    say "booting: qemu tcg, $SMP vCPU(s), ${MEM} MiB, cpu $CPU, timeout ${TIMEOUT}s"
    say "serial log: $LOG"
    # Multiboot modules are separated by commas, so commas inside dom0's command line are
    # doubled.
    local qemu=(qemu-system-x86_64 -accel tcg -cpu "$CPU" -smp "$SMP" -m "$MEM"
        -nodefaults -display none -vga none -no-reboot
        -monitor "unix:$MONITOR,server=on,wait=off"
        -kernel "$BOOT/xen" -append "$XEN_ARGS"
        -initrd "$BOOT/vmlinuz ${DOM0_ARGS//,/,,},$BOOT/dom0.cpio.gz")
    if [ "${VMD_XEN_INTERACTIVE:-0}" = 1 ]; then
        # in the foreground: a background job's stdin would be /dev/null
        "${qemu[@]}" -chardev "stdio,id=con,signal=off,logfile=$LOG" -serial chardev:con || rc=$?
        return "$rc"
    fi
    rm -f "$MONITOR" "$WORK/qemu-wakeups" "$WORK"/stall-*.txt
    "${qemu[@]}" -serial "file:$LOG" &
    qemu_pid=$!
    start=$(date +%s)
    busy=$start
    while kill -0 "$qemu_pid" 2>/dev/null; do
        follow
        # A running Xen always uses some CPU (dom0's step watchdogs tick every second);
        # none for minutes means every emulated CPU halted for good: stop waiting.
        ticks=$(qemu_ticks)
        # After a stall only half a second of CPU counts as running again: the monitor's
        # answers and an NMI handled before the next halt use a little.
        if [ "$stalled" = 1 ]; then
            if [ $((ticks - stall_ticks)) -ge 50 ]; then
                say "STALL $stalls: running again"
                last_ticks=$ticks busy=$(date +%s) stalled=0
            fi
        elif [ "$ticks" != "$last_ticks" ]; then
            last_ticks=$ticks busy=$(date +%s)
        fi
        if [ "$stalled" = 0 ] && [ $(($(date +%s) - busy)) -ge "$STALL" ]; then
            stalls=$((stalls + 1)) stalled=1
            stall
            stall_ticks=$(qemu_ticks)
        fi
        if [ $(($(date +%s) - busy)) -ge "$FREEZE" ]; then
            say "FROZEN: QEMU has used no CPU for ${FREEZE}s (every emulated CPU halted), killing it"
            # where the CPU stopped (HLT=1: halted, waiting for an interrupt that never came)
            monitor "info registers" | grep -E '^(RIP|CR0|EFER|GDT|IDT)' | sed 's/^/  /'
            stop_qemu
            qemu_pid=
            follow
            return 125
        fi
        if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
            say "TIMEOUT: QEMU still running after ${TIMEOUT}s, killing it"
            stop_qemu
            qemu_pid=
            follow
            return 124
        fi
        sleep 1
    done
    wait "$qemu_pid" || rc=$?
    qemu_pid=
    follow
    say "QEMU exited (status $rc) after $(($(date +%s) - start))s"
    return "$rc"
}

main
