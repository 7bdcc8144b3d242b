# 67-vmd-cdrom: `vmctl cd-eject` / `vmctl cd-insert` of an HVM guest's cdrom on real Xen
# (libxl_cdrom_insert: the device model changes the medium). The guest is firmware only (an
# empty disk: SeaBIOS finds nothing to boot) with an ISO in its cdrom. The reference is xl:
# after vmd's eject the cdrom in the domain's config as xl keeps it (xl list -l) is empty;
# after vmd's insert of another ISO it names that one, the same as after `xl cd-eject` and
# `xl cd-insert` of that ISO. The definition follows; a PV guest's cd-insert is refused.
# budget: 180
need_vmd_libxl || return 0
G=vmdt-cdrom
IMG=/var/lib/xen/$G.img
ISO=/var/lib/xen/$G.iso
ISO2=/var/lib/xen/$G-2.iso
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
cat > /tmp/$G.cfg <<CFGEOF
name = "$G"
type = "hvm"
memory = 128
vcpus = 1
boot = "c"
vnc = 0
serial = "pty"
disk = [ "format=raw, vdev=hda, access=rw, target=$IMG",
         "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=$ISO" ]
CFGEOF

# The cdrom hdc as xl shows the domain's config: its target and format.
xl_cdrom() {
    xl list -l $G | python3 -c '
import json, sys
for d in json.load(sys.stdin)[0]["config"]["disks"]:
    if d.get("vdev") == "hdc":
        print(d.get("pdev_path", ""), d.get("format", ""))'
}

create() {
    mkdir -p /var/lib/xen
    rm -f $IMG $ISO $ISO2
    truncate -s 16M $IMG
    truncate -s 4M $ISO $ISO2
    vmctl create /tmp/$G.cfg
    wait_vm_state $G running 10
    wait_running $G 10
    echo "cdrom at boot: '$(xl_cdrom)'"
}

insert_eject() {
    local ours theirs
    vmctl cd-eject $G hdc
    echo "after vmctl cd-eject: '$(xl_cdrom)'"
    [ -z "$(xl_cdrom | cut -d' ' -f1)" ]
    if vmctl config $G | grep -q "target=$ISO"; then echo "unexpected: target=$ISO in the definition"; return 1; fi
    vmctl cd-insert $G hdc $ISO2
    ours=$(xl_cdrom)
    echo "after vmctl cd-insert: $ours"
    [ "${ours%% *}" = "$ISO2" ]
    vmctl config $G | grep -q "devtype=cdrom, target=$ISO2"
    # the reference: xl's own eject and insert of the same ISO show the same
    xl cd-eject $G hdc
    [ -z "$(xl_cdrom | cut -d' ' -f1)" ]
    xl cd-insert $G hdc $ISO2
    theirs=$(xl_cdrom)
    echo "after xl cd-insert: $theirs"
    [ "$ours" = "$theirs" ] || { echo "vmd: '$ours', xl: '$theirs'"; return 1; }
}

pv_refused() {
    local rc=0
    cat > /tmp/$G-pv.cfg <<CFGEOF
name = "$G-pv"
type = "pv"
memory = 64
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.tag=$G-pv"
CFGEOF
    vmctl define /tmp/$G-pv.cfg
    vmctl cd-insert $G-pv hdc $ISO 2> /tmp/$G.err || rc=$?
    cat /tmp/$G.err
    [ "$rc" = 2 ] && grep -q "only HVM guests" /tmp/$G.err
    vmctl remove $G-pv
}

step vmd-up vmd_up
step -t 90 create create
step -t 60 insert-eject insert_eject
step pv-refused pv_refused
step destroy vmctl destroy $G
step remove vmctl remove $G
show_vmd_log
