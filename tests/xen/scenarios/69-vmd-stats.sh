# 69-vmd-stats: `vmctl stats` of a running PV guest that works (role=busy: once a second 4 KiB
# written to xvda and a ping to dom0 at 10.99.0.1 on xenbr0): vmd reads blkback's and
# netback's counters in dom0, and they grow as the guest works, as its CPU time does. xentop
# (xenstat, Xen's own reader of the same counters) is the oracle: its VBD_WR, NETTX and
# NETRX for the guest, read between two `vmctl stats`, lie between vmd's two answers (its
# NETTX is dom0's side of the vif, what the guest received: vmd's rx). vmctl metrics, from
# the read-only socket, lies between two vm.stats.
# budget: 150
need_vmd_libxl || return 0
G=vmdt-stats
IMG=/var/lib/xen/$G.img
MAC=00:16:3e:76:6d:69
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO

cat > /tmp/$G.cfg <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=busy"
disk = [ "format=raw, vdev=xvda, access=rw, target=$IMG" ]
vif = [ "mac=$MAC, bridge=xenbr0" ]
CFGEOF

setup() {
    rm -rf $OUT && mkdir -p $OUT
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    ip addr show dev xenbr0 | grep -q '10\.99\.0\.1/' || ip addr add 10.99.0.1/24 dev xenbr0
    df -h / | tail -n 1
    rm -f $IMG
    truncate -s 16M $IMG  # sparse: dom0's root is RAM, after the whole tier nearly full
}

boot() {
    rm -f "$(console_log $G)"
    vmctl create /tmp/$G.cfg
    wait_console $G "VMDTEST-WORK 3" 90
}

works() {  # the last WORK count on the console
    tr -d '\r' < "$(console_log $G)" | sed -n 's/^VMDTEST-WORK \([0-9]*\)$/\1/p' | tail -n 1
}

# Two samples some seconds of work apart, xentop's in between; every counter grows.
grows() {
    local n
    vmctl -j stats $G > $OUT/s1.json
    xentop -b -i 1 > $OUT/xentop.txt
    n=$(works)
    wait_console $G "VMDTEST-WORK $((n + 4))" 30
    vmctl stats $G
    vmctl -j stats $G > $OUT/s2.json
    cat $OUT/s1.json $OUT/s2.json
    grep -E "^ *(NAME|$G) " $OUT/xentop.txt
    python3 - $OUT/s1.json $OUT/s2.json $OUT/xentop.txt $G $MAC <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
lines = [l.split() for l in open(sys.argv[3]) if l.split()]
head = next(l for l in lines if l[0] == "NAME")
row = dict(zip(head, next(l for l in lines if l[0] == sys.argv[4])))
assert a["domid"] == b["domid"], (a, b)
assert b["cpu"]["time_s"] > a["cpu"]["time_s"], (a["cpu"], b["cpu"])
assert "percent" in b["cpu"] and b["cpu"]["percent"] >= 0, b["cpu"]
(da,), (db,) = a["disks"], b["disks"]
assert da["vdev"] == db["vdev"] == "xvda", (da, db)
assert db["wr_req"] >= da["wr_req"] + 3 and db["wr_bytes"] >= da["wr_bytes"] + 3 * 4096, (da, db)
(va,), (vb,) = a["vifs"], b["vifs"]
assert va["mac"] == vb["mac"] == sys.argv[5], (va, vb)
for k in ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes"):
    assert vb[k] > va[k], (k, va, vb)
# xentop between the two: its figures lie between vmd's (NET*(k): KiB; VBD_WR: requests)
def between(name, x, lo, hi):
    assert lo <= x <= hi, "%s: xentop %s, vmd %s .. %s" % (name, x, lo, hi)
between("VBD_WR", int(row["VBD_WR"]), da["wr_req"], db["wr_req"])
# xentop's NET figures are dom0's vif's own (its TX: what the guest received); vmd's are the
# guest's, as libvirt's domifstat for Xen
between("NETTX(k)", int(row["NETTX(k)"]), va["rx_bytes"] // 1024, vb["rx_bytes"] // 1024)
between("NETRX(k)", int(row["NETRX(k)"]), va["tx_bytes"] // 1024, vb["tx_bytes"] // 1024)
print("vmd and xentop agree: VBD_WR %s, NETTX %s KiB, NETRX %s KiB" %
      (row["VBD_WR"], row["NETTX(k)"], row["NETRX(k)"]))
PYEOF
}

# vmctl metrics (vm.stats_all: the same reads of the libxl backend) between two vm.stats:
# its samples lie between their figures.
metrics() {
    vmctl -j stats $G > $OUT/m1.json
    vmctl -s /run/vmd/vmd-ro.sock metrics > $OUT/metrics.txt
    vmctl -j stats $G > $OUT/m2.json
    grep "name=\"$G\"" $OUT/metrics.txt
    python3 - $OUT/m1.json $OUT/m2.json $OUT/metrics.txt $G $MAC <<'PYEOF'
import json, re, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
g, mac = sys.argv[4], sys.argv[5]
got = {}
for line in open(sys.argv[3]):
    m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
    if m:
        got[(m.group(1), m.group(2))] = float(m.group(3))
def between(fam, labels, lo, hi):
    x = got[(fam, labels)]
    assert lo <= x <= hi, "%s{%s}: %s, vm.stats %s .. %s" % (fam, labels, x, lo, hi)
between("vmd_guest_cpu_seconds_total", 'name="%s"' % g, a["cpu"]["time_s"] - 1e-6,
        b["cpu"]["time_s"] + 1e-6)
disk = 'name="%s",vdev="xvda"' % g
between("vmd_guest_disk_writes_completed_total", disk, a["disks"][0]["wr_req"],
        b["disks"][0]["wr_req"])
between("vmd_guest_disk_written_bytes_total", disk, a["disks"][0]["wr_bytes"],
        b["disks"][0]["wr_bytes"])
vif = 'name="%s",devid="0",mac="%s"' % (g, mac)
between("vmd_guest_network_transmit_packets_total", vif, a["vifs"][0]["tx_packets"],
        b["vifs"][0]["tx_packets"])
between("vmd_guest_network_receive_bytes_total", vif, a["vifs"][0]["rx_bytes"],
        b["vifs"][0]["rx_bytes"])
assert got[("vmd_guest_memory_bytes", 'name="%s"' % g)] == a["memory"]["current_kib"] * 1024
print("vmctl metrics lies between two vm.stats")
PYEOF
}

refused_when_stopped() {
    local rc=0
    vmctl destroy $G
    vmctl stats $G 2> $OUT/err || rc=$?
    cat $OUT/err
    [ $rc = 2 ]
    grep -q "only a guest with a domain has figures" $OUT/err
}

cleanup() {
    vmctl remove $G
    rm -f $IMG
}

step setup setup
step vmd-up vmd_up
step -t 120 boot boot
step -t 60 grows grows
step -t 30 metrics metrics
step -t 30 stopped refused_when_stopped
step cleanup cleanup
show_vmd_log
