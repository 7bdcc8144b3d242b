# 71-vmd-net-modes: the three ways a Xen guest reaches the outside, each proven with packets
# through vmd on real Xen. A network namespace in dom0 plays the world beyond dom0 (world0,
# 203.0.113.2, behind a veth whose dom0 end up0 has 203.0.113.1).
#   bridge (vif-bridge, the default): the guest (10.99.0.3 on xenbr0) pings dom0
#     (10.99.0.1), and dom0 pings it;
#   NAT (script=vif-nat, ip=10.0.5.2): Xen's vif-nat gives the vif 10.0.5.129 (the guest's
#     gateway) and a route; dom0's nftables masquerade (the admin's part, as the README
#     shows) takes the guest to the world, which has no route back to 10.0.5.0/24: only the
#     NAT answers; the world, even with a route, cannot open a connection to the guest;
#   routed (script=vif-route, ip=10.0.6.2, gatewaydev=up0): vif-route puts dom0's up0
#     address on the vif and a route to the guest; the world, which routes 10.0.6.0/24 to
#     dom0, reaches the guest at its own address, and the guest reaches it.
# budget: 240
need_vmd_libxl || return 0
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO
W="ip netns exec world0"

guest_cfg() {  # NAME MAC VIF-EXTRA CMDLINE-EXTRA
    cat <<CFGEOF
name = "$1"
type = "pv"
memory = 96
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=ping $4"
vif = [ "mac=$2, $3" ]
CFGEOF
}

setup() {
    rm -rf $OUT && mkdir -p $OUT
    for m in nfnetlink nf_tables nf_conntrack nf_nat nft_chain_nat nft_masq nft_ct veth; do
        modprobe $m
    done
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    ip addr show dev xenbr0 | grep -q '10\.99\.0\.1/' || ip addr add 10.99.0.1/24 dev xenbr0
    ip netns add world0
    ip link add up0 type veth peer name wan0
    ip link set wan0 netns world0
    ip addr add 203.0.113.1/24 dev up0
    ip link set up0 up
    $W ip addr add 203.0.113.2/24 dev wan0
    $W ip link set wan0 up
    $W ip link set lo up
    # the world routes the routed guests' subnet to dom0 (as an upstream router would)
    $W ip route add 10.0.6.0/24 via 203.0.113.1
    echo 1 > /proc/sys/net/ipv4/ip_forward
    # the NAT of vif-nat guests, as an admin sets it up (README: "NAT with vif-nat")
    nft -f - <<'NFTEOF'
table ip vmdtest-nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr 10.0.5.0/24 oifname "up0" masquerade
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        ip daddr 10.0.5.0/24 ct state established,related accept
        ip daddr 10.0.5.0/24 drop
    }
}
NFTEOF
    guest_cfg vmdt-br 00:16:3e:76:71:01 "bridge=xenbr0" \
        "vmdtest.ip=10.99.0.3/24 vmdtest.target=10.99.0.1" > /tmp/vmdt-br.cfg
    guest_cfg vmdt-nat 00:16:3e:76:71:02 "script=vif-nat, ip=10.0.5.2" \
        "vmdtest.ip=10.0.5.2/24 vmdtest.gw=10.0.5.129 vmdtest.target=203.0.113.2" \
        > /tmp/vmdt-nat.cfg
    guest_cfg vmdt-rt 00:16:3e:76:71:03 "script=vif-route, ip=10.0.6.2, gatewaydev=up0" \
        "vmdtest.ip=10.0.6.2/32 vmdtest.gw=203.0.113.1 vmdtest.target=203.0.113.2" \
        > /tmp/vmdt-rt.cfg
}

boot() {
    local g
    for g in vmdt-br vmdt-nat vmdt-rt; do
        rm -f "$(console_log $g)"
        vmctl create /tmp/$g.cfg
    done
}

bridged() {
    wait_console vmdt-br "VMDTEST-PING-OUT ok 10.99.0.1" 90
    ping -c 2 -W 2 10.99.0.3
}

nat() {
    local d
    wait_console vmdt-nat "VMDTEST-PING-OUT ok 203.0.113.2" 90
    d=$(domid_of vmdt-nat)
    ip -4 addr show dev vif$d.0 | grep -q '10\.0\.5\.129'
    # the world has no route to the guest: it answered only through the masquerade
    if $W ip route get 10.0.5.2 2>/dev/null; then return 1; fi
    # and with one, dom0 still lets nothing in that the guest did not open
    $W ip route add 10.0.5.0/24 via 203.0.113.1
    if $W ping -c 2 -W 1 10.0.5.2; then return 1; fi
    $W ip route del 10.0.5.0/24
}

routed() {
    local d
    wait_console vmdt-rt "VMDTEST-PING-OUT ok 203.0.113.2" 90
    d=$(domid_of vmdt-rt)
    ip -4 addr show dev vif$d.0 | grep -q '203\.0\.113\.1'
    ip route show 10.0.6.2 | grep -q "dev vif$d.0"
    # the world reaches the guest at its own address, through dom0's route
    $W ping -c 2 -W 2 10.0.6.2
}

cleanup() {
    local g
    for g in vmdt-br vmdt-nat vmdt-rt; do
        vmctl destroy $g
        vmctl remove $g
    done
    nft delete table ip vmdtest-nat
    ip link del up0
    ip netns del world0
}

step setup setup
step vmd-up vmd_up
step -t 60 boot boot
step -t 100 bridged bridged
step -t 100 nat nat
step -t 100 routed routed
step cleanup cleanup
show_vmd_log
