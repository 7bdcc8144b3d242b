# 63-vmd-hvm-xlcfg: an HVM guest from a libvirt-style xl.cfg through vmd (issue 12): acpi,
# apic, pae, viridian, localtime, rtc_timeoffset, vncunused, stdvga, two serial ports,
# libvirt's parallel = "none" (an xm key xl does not read: a warning) and vnc = 0. The
# domain is built as xl builds the same file (every field of `xl -N create` equals the one
# libxl keeps for the domain, `xl list -l`), no VNC server listens, the device model has its
# two serial ports. The disk is empty: SeaBIOS finds nothing to boot, which is all this
# needs; no guest OS runs.
# budget: 200
G=vmdt-hvm-xlcfg
CFG=/tmp/$G.cfg
IMG=/var/lib/xen/$G.img
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

cat > $CFG <<CFGEOF
# as libvirt's "virsh domxml-to-native xen-xl" writes an HVM guest
name = "$G"
uuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1863"
maxmem = 256
memory = 256
vcpus = 1
pae = 1
acpi = 1
apic = 1
viridian = 1
rtc_timeoffset = 3600
localtime = 1
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
type = "hvm"
boot = "c"
vnc = 0
vncunused = 1
stdvga = 1
parallel = "none"
serial = [ "pty", "pty" ]
disk = [ "format=raw, vdev=hda, access=rw, target=$IMG" ]
vif = [ "mac=00:16:3e:76:6d:63, bridge=xenbr0, model=e1000" ]
CFGEOF

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -f $IMG
    truncate -s 16M $IMG
}

create() {
    vmctl create $CFG 2> $STATE/$G.create.err
    cat $STATE/$G.create.err
    grep -q "warning: parallel: " $STATE/$G.create.err   # as xl would say nothing: ignored
    wait_vm_state $G running 10
    wait_running $G 10
}

# every field xl's dry run sets has the same value in the domain libxl built
built_as_xl() {
    xl -N create $CFG > $STATE/$G.xl.json
    xl list -l $G > $STATE/$G.dom.json
    python3 - $STATE/$G.xl.json $STATE/$G.dom.json <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
have = json.load(open(sys.argv[2]))[0]["config"]
def leaves(o, p=()):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from leaves(v, p + (k,))
    elif isinstance(o, list) and o and not all(isinstance(i, int) for i in o):
        for i, v in enumerate(o):
            yield from leaves(v, p + (i,))
    else:
        yield p, o
def get(o, path):
    for part in path:
        if isinstance(o, list):
            o = o[part] if isinstance(part, int) and part < len(o) else None
        elif isinstance(o, dict):
            o = o.get(part)
        else:
            return None
    return o
bad = [(p, v, get(have, p)) for p, v in leaves(want) if get(have, p) != v]
for p, v, h in bad:
    print("%s: xl -N create %r, the domain %r" % (".".join(map(str, p)), v, h))
print("%d fields of xl's dry run, %d differ" % (sum(1 for _ in leaves(want)), len(bad)))
sys.exit(1 if bad else 0)
PY
}

no_vnc() {
    ss -ltn | tee /dev/stderr | awk '{print $4}' | grep -E ':59[0-9][0-9]$' && return 1
    vmctl -j info $G | grep -q '"vnc"' && return 1
    device_models | grep -- "-xen-domid $(domid_of $G) " | tee /dev/stderr | grep -q -- "-vnc none"
}

two_serials() {
    [ "$(device_models | grep -- "-xen-domid $(domid_of $G) " | grep -o -- '-serial' | wc -l)" = 2 ]
}

destroyed() {
    vmctl destroy $G
    wait_gone $G 30
    [ -z "$(device_models)" ] || { echo "qemu still running:"; device_models; return 1; }
}

step setup setup
step vmd-up vmd_up
step create create
step built-as-xl built_as_xl
step no-vnc no_vnc
step two-serials two_serials
step destroy destroyed
step remove vmctl remove $G
rm -f $IMG
show_vmd_log
