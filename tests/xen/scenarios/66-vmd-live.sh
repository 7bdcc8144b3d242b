# 66-vmd-live: `vmctl vcpu-set` and `vmctl mem-set` on a running PV guest on real Xen (libxl's
# libxl_set_vcpuonline and libxl_set_memory_target, as xl vcpu-set / xl mem-set): the guest
# (role=resources) says which CPUs it has online and its MemTotal whenever they change, and
# xl, the reference, shows the same domain; vCPUs 1 -> 2 -> 1 (two vCPUs of dom0's one CPU),
# memory 192 -> 128 -> 192 MiB through the guest's balloon; over maxvcpus or maxmem refused
# with nothing changed; weight and cap as xl sched-credit2 shows them; --config alone changes
# the next boot only (2 vCPUs, weight 512, cap 50); a disk and a vif hot-plugged and
# unplugged, seen in the guest (/sys/block, /sys/class/net), on the bridge and by xl
# block-list / network-list; a vif's rate as xl writes it; vmctl edit / update: the live part
# in the guest, the rest pending.
# budget: 330
need_vmd_libxl || return 0
G=vmdt-live
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
cat > /tmp/$G.cfg <<CFGEOF
name = "$G"
type = "pv"
memory = 192
maxmem = 192
vcpus = 1
maxvcpus = 2
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=resources vmdtest.tag=$G"
CFGEOF

last() {  # MARKER: the last value the guest said for it
    tr -d '\r' < "$(console_log $G)" | sed -n "s/^VMDTEST-$1 //p" | tail -n 1
}
# xl's view: the vCPUs online (the third state letter is p for an offline one), the memory (MiB).
xl_online() { xl vcpu-list $G | awk 'NR > 1 && substr($5, 3, 1) != "p" { n++ } END { print n + 0 }'; }
xl_mem() { xl list $G | awk 'NR == 2 { print $3 }'; }
until_said() {  # MARKER VALUE [SECONDS]
    local end=$((SECONDS + ${3:-60}))
    until [ "$(last "$1")" = "$2" ]; do
        [ $SECONDS -ge $end ] && { echo "the guest says $1 $(last "$1"), not $2"; tail -n 5 "$(console_log $G)"; return 1; }
        sleep 0.5
    done
    echo "guest: $1 $2"
}
until_mem_below() {  # KB [SECONDS]: MemTotal under KB (the balloon gave memory back)
    local end=$((SECONDS + ${2:-60}))
    until [ "$(last MEM)" -lt "$1" ]; do
        [ $SECONDS -ge $end ] && { echo "MemTotal stays $(last MEM) kB"; return 1; }
        sleep 0.5
    done
    echo "guest: MemTotal $(last MEM) kB"
}

create() {
    rm -f "$CONSOLE_DIR"/guest-$G*.log
    vmctl create /tmp/$G.cfg
    wait_vm_state $G running 5
    until_said CPUS 0 120
    MEM0=$(last MEM)
    echo "$MEM0" > "$STATE/$G.mem0"
    echo "boot: MemTotal $MEM0 kB, xl: $(xl_mem) MiB, vCPUs online $(xl_online)"
}

vcpus() {
    vmctl vcpu-set $G 2
    until_said CPUS 0-1
    [ "$(xl_online)" = 2 ] || { xl vcpu-list $G; return 1; }
    [ "$(vm_field $G vcpus_online)" = 2 ]
    vmctl config $G | grep -q '^vcpus = 2$'
    vmctl vcpu-set $G 1
    until_said CPUS 0
    [ "$(xl_online)" = 1 ] || { xl vcpu-list $G; return 1; }
    # over maxvcpus: refused, nothing changed
    local rc=0
    vmctl vcpu-set $G 3 2> /tmp/$G.err || rc=$?
    cat /tmp/$G.err
    [ "$rc" = 2 ] && grep -q maxvcpus /tmp/$G.err
    [ "$(xl_online)" = 1 ]
    vmctl config $G | grep -q '^vcpus = 1$'
}

memory() {
    local mem0 rc=0
    mem0=$(cat "$STATE/$G.mem0")
    vmctl mem-set $G 128
    until_mem_below "$((mem0 - 40000))"
    retry 30 sh -c "[ \"\$(xl list $G | awk 'NR == 2 { print \$3 }')\" -le 130 ]"
    echo "xl: $(xl_mem) MiB"
    vmctl config $G | grep -q '^memory = 128$'
    vmctl mem-set $G 192 --live
    local end=$((SECONDS + 60))
    until [ "$(last MEM)" -gt "$((mem0 - 8000))" ]; do
        [ $SECONDS -ge $end ] && { echo "MemTotal stays $(last MEM) kB"; return 1; }
        sleep 0.5
    done
    echo "guest: MemTotal $(last MEM) kB again; xl: $(xl_mem) MiB"
    vmctl config $G | grep -q '^memory = 128$'  # --live: the definition keeps its own
    vmctl mem-set $G 256 2> /tmp/$G.err || rc=$?
    cat /tmp/$G.err
    [ "$rc" = 2 ] && grep -q maxmem /tmp/$G.err
}

# Weight and cap: what xl sched-credit2 (or sched-credit) shows for the domain is what vmd set.
sched() {
    local sched xs
    sched=$(xl info | sed -n 's/^xen_scheduler *: *//p')
    echo "scheduler: $sched"
    case $sched in credit2 | credit) ;; *) echo "no weight and cap under $sched"; return 1 ;; esac
    xs() { xl sched-$sched -d $G | awk -v g=$G '$1 == g { print $3, $4 }'; }
    echo "before: $(xs)"
    vmctl sched-set $G --weight 512 --cap 50
    [ "$(xs)" = "512 50" ] || { xl sched-$sched -d $G; return 1; }
    vmctl -j info $G | grep -q '"sched":{"scheduler":"'"$sched"'","weight":512,"cap":50}'
    vmctl config $G | grep -q '^cpu_weight = 512$'
    vmctl sched-set $G --cap 0 --live
    [ "$(xs)" = "512 0" ] || { xl sched-$sched -d $G; return 1; }
    vmctl config $G | grep -q '^cap = 50$'
}

# A disk hot-plugged and unplugged: the guest sees /sys/block/xvdb come and go, xl block-list
# (the reference) the device (xvdb is 51728); the definition follows.
disks() {
    local img=/tmp/$G-data.img rc=0
    truncate -s 64M $img
    until_said DISKS none
    vmctl block-attach $G "format=raw, vdev=xvdb, access=rw, target=$img"
    until_said DISKS xvdb
    xl block-list $G | awk 'NR > 1 { print $1 }' | grep -qx 51728 || { xl block-list $G; return 1; }
    vmctl config $G | grep -q "vdev=xvdb"
    vmctl block-attach $G "format=raw, vdev=xvdb, access=rw, target=$img" 2> /tmp/$G.err || rc=$?
    cat /tmp/$G.err
    [ "$rc" = 2 ]
    vmctl block-detach $G xvdb
    until_said DISKS none
    ! xl block-list $G | awk 'NR > 1 { print $1 }' | grep -qx 51728 || { xl block-list $G; return 1; }
    if vmctl config $G | grep -q "vdev=xvdb"; then echo "unexpected: vmctl config: grep -q vdev=xvdb"; return 1; fi
    rm -f $img
}

# A vif hot-plugged and unplugged: the guest sees eth0 with the MAC vmd made, the bridge
# its port, xl network-list (the reference) the device.
nics() {
    local out mac domid
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    domid=$(domid_of $G)
    until_said NICS none
    out=$(vmctl network-attach $G bridge=xenbr0)
    echo "$out"
    mac=$(echo "$out" | sed -n 's/.* vif \([0-9a-f:]*\) .*/\1/p')
    [ -n "$mac" ]
    until_said NICS "eth0=$mac"
    retry 30 sh -c "ls /sys/class/net/xenbr0/brif | grep -q '^vif$domid\.'"
    xl network-list $G | grep -qi "$mac" || { xl network-list $G; return 1; }
    vmctl config $G | grep -q "mac=$mac"
    vmctl network-detach $G "$mac"
    until_said NICS none
    retry 30 sh -c "! ls /sys/class/net/xenbr0/brif | grep -q '^vif$domid\.'"
    if xl network-list $G | grep -qi "$mac"; then echo "unexpected: $mac in xl network-list"; return 1; fi
    if vmctl config $G | grep -q "mac=$mac"; then echo "unexpected: mac=$mac in the definition"; return 1; fi
}

# A vif's rate: what vmctl network-rate writes where netback reads it (the backend's xenstore
# "rate" node, which netback watches) is what xl network-attach writes for a vif of the same
# rate=; none after network-rate none.
rate() {
    local out mac be xmac xbe
    out=$(vmctl network-attach $G "bridge=xenbr0, rate=10Mb/s")
    mac=$(echo "$out" | sed -n 's/.* vif \([0-9a-f:]*\) .*/\1/p')
    until_said NICS "eth0=$mac"
    be_of() { xl network-list $G | awk -v m="$1" 'tolower($3) == m { print $NF }'; }
    xl_rate() {  # RATE: the node xl writes for a vif of that rate (attached, read, detached)
        xmac=00:16:3e:7e:00:01
        xl network-attach $G bridge=xenbr0 mac=$xmac rate=$1 >/dev/null
        retry 30 sh -c "xl network-list $G | grep -qi $xmac"
        xbe=$(be_of $xmac)
        xenstore-read "$xbe/rate" 2>/dev/null || echo none
        xl network-detach $G $xmac
        retry 30 sh -c "! xl network-list $G | grep -qi $xmac"
    }
    be=$(be_of "$mac")
    [ -n "$be" ] || { xl network-list $G; return 1; }
    local vmd_rate xl_r
    vmd_rate=$(xenstore-read "$be/rate")
    echo "rate=10Mb/s at attach (libxl's own write): $vmd_rate"
    [ "$vmd_rate" = 62500,50000 ]
    vmctl network-rate $G "$mac" 2MB/s@20ms
    vmd_rate=$(xenstore-read "$be/rate")
    xl_r=$(xl_rate 2MB/s@20ms)
    echo "network-rate 2MB/s@20ms: vmd $vmd_rate, xl $xl_r"
    [ "$vmd_rate" = "$xl_r" ]
    vmctl config $G | grep -q "rate=2MB/s@20ms"
    vmctl network-rate $G "$mac" none
    if xenstore-read "$be/rate" 2>/dev/null; then echo "unexpected: a rate node"; return 1; fi
    if vmctl config $G | grep -q "rate="; then echo "unexpected: vmctl config: grep -q rate="; return 1; fi
    vmctl network-detach $G "$mac"
    until_said NICS none
}

# vmctl edit (vm.update): a whole new definition; what the running domain can take goes live
# (a second vCPU, a disk), the rest waits for the next boot (maxmem) and vmctl info lists it,
# also after a restart of vmd; vmctl update with the old text takes the live part back.
update() {
    local img=/tmp/$G-upd.img before=/tmp/$G-before.cfg
    truncate -s 32M $img
    vmctl config $G > $before
    until_said DISKS none
    EDITOR="sed -i -e '\$a disk = [ \"format=raw, vdev=xvdb, access=rw, target=$img\" ]' -e 's/^vcpus = .*/vcpus = 2/' -e 's/^maxmem = .*/maxmem = 256/'" \
        vmctl edit $G > /tmp/$G.out
    cat /tmp/$G.out
    grep -q '^  vcpus: 1 -> 2 (live)$' /tmp/$G.out
    grep -q '^  disk xvdb: (none) -> .* (live)$' /tmp/$G.out
    grep -q '^  maxmem: 192 -> 256 (next boot)$' /tmp/$G.out
    until_said CPUS 0-1
    until_said DISKS xvdb
    [ "$(xl_online)" = 2 ] || { xl vcpu-list $G; return 1; }
    xl block-list $G | awk 'NR > 1 { print $1 }' | grep -qx 51728 || { xl block-list $G; return 1; }
    vmd_stop
    vmd_up
    vmctl info $G | sed -n '/^pending/,$p' | tee /tmp/$G.pending
    grep -q '^  maxmem: 192 -> 256$' /tmp/$G.pending
    if grep -q 'vcpus\|disk' /tmp/$G.pending; then echo "unexpected: vcpus or disk pending"; return 1; fi
    vmctl update $G $before
    until_said CPUS 0
    until_said DISKS none
    [ "$(xl_online)" = 1 ]
    if vmctl info $G | grep -q '^pending'; then echo "unexpected: vmctl info: grep -q ^pending"; return 1; fi
    rm -f $img
}

# --config alone: the running guest keeps what it has, the next boot has the new value.
config_only() {
    vmctl vcpu-set $G 2 --config
    vmctl mem-set $G 192 --config
    sleep 2
    [ "$(last CPUS)" = 0 ]
    [ "$(xl_online)" = 1 ]
    vmctl destroy $G
    rm -f "$(console_log $G)"
    vmctl start $G
    until_said CPUS 0-1 120
    [ "$(xl_online)" = 2 ]
    vmctl -j info $G | grep -q '"weight":512,"cap":50}'
    vmctl destroy $G
    vmctl remove $G
}

step vmd-up vmd_up
step -t 150 create create
step -t 90 vcpus vcpus
step -t 120 memory memory
step -t 60 sched sched
step -t 90 disks disks
step -t 90 nics nics
step -t 90 rate rate
step -t 120 update update
step -t 150 config-only config_only
show_vmd_log
