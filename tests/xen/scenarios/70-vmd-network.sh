# 70-vmd-network: a managed NAT network on real Xen. `vmctl network create default` on a dom0
# that has no bridge for it: vmd makes vmdbr0 with 192.168.150.1/24, dnsmasq and an nftables
# table. A PV guest whose vif says bridge=default (role=dhcp) is put on vmdbr0 by vmd's libxl
# backend, gets its address from dnsmasq by DHCP (busybox udhcpc in the guest) and pings the
# gateway; network.info's leases show its MAC with the address the guest reports on its
# console, and vm.addresses shows it (source dhcp), and what a guest agent publishes in
# xenstore (source xenstore), whose change is a vm.event addresses. vmd restarted (the guest
# keeps running): the network is still there, and after its rules and dnsmasq are taken away
# (as by a host reboot) a vmd start makes them again. Removal is refused while the guest is
# defined, then takes it all down.
# budget: 180
need_vmd_libxl || return 0
G=vmdt-net
MAC=00:16:3e:76:6e:70
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO

cat > /tmp/$G.cfg <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=dhcp"
vif = [ "mac=$MAC, bridge=default" ]
CFGEOF

setup() {
    rm -rf $OUT && mkdir -p $OUT
    for m in nfnetlink nf_tables nf_conntrack nf_nat nft_chain_nat nft_masq nft_ct; do
        modprobe $m
    done
    command -v dnsmasq && command -v nft
    if ip link show vmdbr0 2>/dev/null; then echo "vmdbr0 exists already"; return 1; fi
}

create_network() {
    vmctl network create default | tee $OUT/create.txt
    ip -br addr show dev vmdbr0 | tee $OUT/addr.txt
    grep -q '192\.168\.150\.1/24' $OUT/addr.txt
    nft list table ip vmd-default | tee $OUT/nft.txt
    grep -q masquerade $OUT/nft.txt
    vmctl -j network info default > $OUT/info0.json
    [ "$(json_get $OUT/info0.json up)" = true ]
    [ "$(json_get $OUT/info0.json dnsmasq)" -gt 0 ]
}

on_vmdbr0() {  # the backend put the guest's vif on the network's bridge
    ip -br link show master vmdbr0 | grep -q "^vif$(domid_of $G)\.0 "
}

boot() {
    rm -f "$(console_log $G)"
    vmctl create /tmp/$G.cfg
    retry 20 on_vmdbr0
    wait_console $G "VMDTEST-DHCP ip=192\.168\.150\." 90
    wait_console $G "VMDTEST-PING ok" 30
}

lease_shown() {
    local ip
    ip=$(tr -d '\r' < "$(console_log $G)" |
        sed -n 's/^VMDTEST-DHCP ip=\([0-9.]*\)\/.*/\1/p' | tail -n 1)
    echo "the guest says: $ip"
    vmctl network info default
    vmctl -j network info default > $OUT/info.json
    python3 - $OUT/info.json $MAC "$ip" <<'PYEOF'
import json, sys
n = json.load(open(sys.argv[1]))
got = [(l["mac"], l["address"]) for l in n["leases"]]
assert (sys.argv[2], sys.argv[3]) in got, got
assert n["guests"] == ["vmdt-net"], n["guests"]
print("lease of %s: %s" % (sys.argv[2], sys.argv[3]))
PYEOF
}

addresses_event() {
    grep -q "$G.*addresses" $OUT/events
}

# vm.addresses: the lease (source dhcp); then what a guest agent would publish in xenstore
# (written here from dom0, where xen-guest-agent in the guest writes it): source xenstore.
addresses() {
    local ip d
    ip=$(tr -d '\r' < "$(console_log $G)" |
        sed -n 's/^VMDTEST-DHCP ip=\([0-9.]*\)\/.*/\1/p' | tail -n 1)
    d=$(domid_of $G)
    vmctl addresses $G
    vmctl -j addresses $G > $OUT/addr1.json
    vmctl events > $OUT/events 2>&1 &
    echo $! > $OUT/events.pid
    sleep 1
    xenstore-write /local/domain/$d/attr/vif/0/ipv4/0 "$ip" \
        /local/domain/$d/attr/vif/0/ipv6/0 fe80::216:3eff:fe76:6e70
    # the xenstore watch: one vm.event addresses for the agent's writes
    retry 20 addresses_event
    kill "$(cat $OUT/events.pid)" 2>/dev/null || true
    cat $OUT/events
    vmctl addresses $G
    vmctl -j addresses $G > $OUT/addr2.json
    python3 - $OUT/addr1.json $OUT/addr2.json "$ip" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ip = sys.argv[3]
(v,) = a["vifs"]
assert (v["network"], v["devid"], v["addresses"]) == \
    ("default", 0, [{"address": ip, "family": "ipv4", "source": "dhcp"}]), v
(v,) = b["vifs"]
want = [(ip, "ipv4", "dhcp"), (ip, "ipv4", "xenstore"),
        ("fe80::216:3eff:fe76:6e70", "ipv6", "xenstore")]
assert [(x["address"], x["family"], x["source"]) for x in v["addresses"]] == want, v
print("addresses:", want)
PYEOF
}

survives_restart() {
    local pid
    pid=$(json_get $OUT/info0.json dnsmasq)
    vmd_stop
    vmd_up
    [ "$(vm_field $G state)" = running ]
    vmctl network list | tee $OUT/list.txt
    grep -q '^default  *nat  *192\.168\.150\.0/24  *yes' $OUT/list.txt
    kill -0 "$pid"   # the same dnsmasq
    # as after a host reboot: no rules, no dnsmasq (the bridge stays: the guest is on it)
    vmd_stop
    nft delete table ip vmd-default
    kill "$pid"
    vmd_up
    nft list table ip vmd-default | grep -q masquerade
    vmctl -j network info default > $OUT/info2.json
    local now
    now=$(json_get $OUT/info2.json dnsmasq)
    echo "dnsmasq $pid before, $now after"
    [ "$now" -gt 0 ] && [ "$now" != "$pid" ]
}

removed() {
    local rc=0
    vmctl network remove default 2> $OUT/err || rc=$?
    cat $OUT/err
    [ $rc = 2 ]
    grep -q "in use" $OUT/err
    ip link show vmdbr0 > /dev/null
    vmctl destroy $G
    vmctl remove $G
    vmctl network remove default
    if ip link show vmdbr0 2>/dev/null; then return 1; fi
    if nft list table ip vmd-default 2>/dev/null; then return 1; fi
    [ -z "$(ls $VMD_STATE_DIR/networks)" ]
}

step setup setup
step vmd-up vmd_up
step create create_network
step -t 120 boot boot
step leases lease_shown
step addresses addresses
step -t 60 restart survives_restart
step remove removed
show_vmd_log
