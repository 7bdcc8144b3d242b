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

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

sod() { date +%H:%M:%S.%N | awk -F: '{ printf "%.3f\n", $1 * 3600 + $2 * 60 + $3 }'; }

# Starts the four creates and keeps asking vmd for something while they run. Each create
# spends seconds in libxl's domain build, much of it synchronous; vmd does it on its builder
# thread, so requests are answered *during* builds. A daemon whose loop did the builds could
# only answer between them. The booting guests starve dom0 under TCG, so how long an answer
# takes says little; what counts is answers that began and ended inside a build (intervals in
# seconds of the day: ours from `date`, the builds from vmd's log).
create_all() {
    : > "$STATE/answers"
    for g in $GUESTS; do
        rm -f "$(console_log $g)" "$STATE/$g.rc"
        ( vmctl create /tmp/$g.cfg > "$STATE/$g.out" 2>&1; echo $? > "$STATE/$g.rc" ) &
    done
    while :; do
        busy=0
        for g in $GUESTS; do [ -f "$STATE/$g.rc" ] || busy=1; done
        [ $busy = 0 ] && break
        t0=$(sod)
        vmctl version > /dev/null
        echo "$t0 $(sod)" >> "$STATE/answers"
        sleep 0.2
    done
    for g in $GUESTS; do
        cat "$STATE/$g.out"
        [ "$(cat "$STATE/$g.rc")" = 0 ]
    done
    # "HH:MM:SS.mmm vmd[info] vmdt-cc-1: created domain 2 in 15.4 s (14.8 s in libxl's build)"
    grep "vmdt-cc-[1-4]: created domain .* in libxl's build" "$VMD_LOG" |
        awk '{ split($1, t, ":"); end = t[1] * 3600 + t[2] * 60 + t[3]
               b = $(NF - 4); sub(/^\(/, "", b); printf "%.3f %.3f\n", end - b, end }' > "$STATE/builds"
    echo "builds (start end):"; cat "$STATE/builds"
    inside=$(awk 'NR == FNR { bs[NR] = $1; be[NR] = $2; nb = NR; next }
                  { for (i = 1; i <= nb; i++) if ($1 > bs[i] && $2 < be[i]) { n++; break } }
                  END { print n + 0 }' "$STATE/builds" "$STATE/answers")
    slowest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { printf "%.1f", m }' "$STATE/answers")
    echo "$(wc -l < "$STATE/answers") answers while creating ($inside within a build), slowest ${slowest}s"
    [ "$(wc -l < "$STATE/builds")" = 4 ]
    [ "$inside" -ge 2 ]
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
step -t 240 create-responsive create_all
say "$(tail -n 1 "$STATE/log/$SCENARIO.create-responsive.log")"
step all-running all_running
step -t 180 all-booted all_booted
step destroy-remove destroy_all_vmd
show_vmd_log
