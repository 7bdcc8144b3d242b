# 95-bench-stats: what `vmctl stats` and `vmctl metrics` cost with many guests, against
# xentop, Xen's own reader of the same figures, in the same dom0 and the same minute. Only
# with VMD_XEN_BENCH=1 (tests/bench/xen-stats, make bench-xen): N guests (VMD_XEN_BENCH_GUESTS,
# default 100) paused as soon as they are built (the cost is in reading, not in guests working),
# each with a disk and a vif; then R rounds (10) of each reader, its median wall time:
#   vmctl stats g1               one guest (vm.stats)
#   vmctl metrics                every guest, Prometheus' text (vm.stats_all)
#   xentop -b -i 1               every domain, one batch iteration
# The figures are results of their own (95-bench-stats/xentop_-b_-i_1 ... (12.3 ms, ...));
# nothing is asserted but that each reader saw all N.
# budget: 10
need_vmd_libxl || return 0
if [ "${BENCH:-0}" != 1 ]; then
    skip all "a benchmark: only with VMD_XEN_BENCH=1 (tests/bench/xen-stats)"
    return 0
fi
N=${BENCH_GUESTS:-100}
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO

setup() {
    rm -rf $OUT && mkdir -p $OUT
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    truncate -s 4M /var/lib/xen/bench.img
    local i
    for i in $(seq 1 $N); do
        cat > $OUT/b$i.cfg <<CFGEOF
name = "b$i"
type = "pv"
memory = 96
vcpus = 1
kernel = "$VT/guest/vmlinux"
extra = "console=hvc0"
on_crash = "preserve"
disk = [ "format=raw, vdev=xvda, access=ro, target=/var/lib/xen/bench.img" ]
vif = [ "bridge=xenbr0" ]
CFGEOF
    done
}

build() {
    local i t0
    t0=$(date +%s)
    for i in $(seq 1 $N); do
        vmctl define $OUT/b$i.cfg > /dev/null
        vmctl start b$i > /dev/null
        vmctl pause b$i > /dev/null   # at once: it never gets as far as its (absent) root
    done
    echo "built $N paused guests in $(( $(date +%s) - t0 )) s" > $OUT/built.txt
    [ "$(xl list | awk 'NR > 2' | wc -l)" = "$N" ]
}

measure() {
    python3 - $N > $OUT/bench.txt <<'PYEOF'
import json, statistics, subprocess, sys, time
n = int(sys.argv[1])
def timed(argv):
    t = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return (time.perf_counter() - t) * 1000, out
readers = {
    "vmctl stats b1": ["vmctl", "-s", "/run/vmd/vmd-ro.sock", "stats", "b1"],
    "vmctl metrics": ["vmctl", "-s", "/run/vmd/vmd-ro.sock", "metrics"],
    "vmctl -j metrics": ["vmctl", "-s", "/run/vmd/vmd-ro.sock", "-j", "metrics"],
    "xentop -b -i 1": ["xentop", "-b", "-i", "1"],
}
ms = {}
for name, argv in readers.items():
    times = []
    for _ in range(10):
        t, out = timed(argv)
        times.append(t)
    ms[name] = statistics.median(times)
    if name == "vmctl metrics":
        seen = out.count("vmd_guest_info{")
    elif name == "xentop -b -i 1":
        seen = sum(1 for l in out.splitlines() if l.split()[:1] and l.split()[0].startswith("b"))
    elif name == "vmctl -j metrics":
        seen = len(json.loads(out)["guests"])
    else:
        seen = 1 if "b1:" in out else 0
    want = 1 if name == "vmctl stats b1" else n
    assert seen == want, (name, seen, want)
ref = ms["xentop -b -i 1"]
for name, t in ms.items():
    print("%s|%.1f ms, %.2fx xentop -b -i 1's, %d guests" % (name, t, t / ref, n))
PYEOF
    cat $OUT/bench.txt
}

cleanup() {  # every scenario leaves no domain behind (run-scenarios.sh checks)
    local i
    for i in $(seq 1 $N); do
        vmctl destroy b$i > /dev/null
        vmctl remove b$i > /dev/null
    done
    rm -f /var/lib/xen/bench.img
}

# The figures as results of their own: the host prints them with the others.
report() {
    local name figure
    [ -s $OUT/bench.txt ] || return 0
    result PASS "$SCENARIO/built" 0 "($(cat $OUT/built.txt))"
    while IFS='|' read -r name figure; do
        result PASS "$SCENARIO/${name// /_}" 0 "($figure)"
    done < $OUT/bench.txt
}

step setup setup
step vmd-up vmd_up
step -t 1800 build build
step -t 600 measure measure
step -t 900 cleanup cleanup
report
