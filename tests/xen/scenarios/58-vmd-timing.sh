# 58-vmd-timing: create->running time of the same xl.cfg through vmd (`vmctl start` of the
# defined guest: it answers once the domain runs) and through `xl create` (it returns once
# the domain is unpaused), alternating, in the same dom0. Measured, not asserted: the result
# line carries every sample, the medians and their ratio vmd/xl.
G=vmdt-vmd-time
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
ROUNDS=3
SAMPLES=$STATE/$SCENARIO.samples

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=timing"
CFGEOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

timed() {  # TOOL COMMAND...: runs COMMAND, appends "TOOL SECONDS" to the samples
    tool=$1
    shift
    t0=$(now)
    "$@"
    t=$(since "$t0")
    echo "$tool $t" >> "$SAMPLES"
    echo "$tool: create->running in ${t}s"
    wait_running $G 5
}

vmd_round() {
    timed vmd vmctl start $G
    vmctl destroy $G
    wait_gone $G 10
}

xl_round() {
    timed xl xl create -q $CFG
    xl destroy $G
    wait_gone $G 10
}

median() {  # TOOL
    awk -v t="$1" '$1 == t { print $2 }' "$SAMPLES" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

report() {
    cat "$SAMPLES"
    vm=$(median vmd)
    xm=$(median xl)
    ratio=$(awk -v a="$vm" -v b="$xm" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
    all_v=$(awk '$1 == "vmd" { printf "%s%s", s, $2; s = " " }' "$SAMPLES")
    all_x=$(awk '$1 == "xl" { printf "%s%s", s, $2; s = " " }' "$SAMPLES")
    echo "XENTIME create->running vmd median ${vm}s [$all_v], xl median ${xm}s [$all_x], vmd/xl $ratio"
    result PASS "$SCENARIO/ratio" 0 "(create->running: vmd ${vm}s [$all_v], xl ${xm}s [$all_x], vmd/xl $ratio)"
}

rm -f "$SAMPLES"
step vmd-up vmd_up
step define vmctl define $CFG
r=1
while [ $r -le $ROUNDS ]; do
    step vmd-$r vmd_round
    step xl-$r xl_round
    r=$((r + 1))
done
[ -z "$SCENARIO_FAILED" ] && report
step remove vmctl remove $G
show_vmd_log
