# 51-vmd-pygrub: the issue's example shape through vmd: a PV guest with bootloader = "pygrub"
# (a bare name: vmd resolves it under /usr/lib/xen-4.17/bin), a file disk and a bridged vif,
# no kernel in the config. The kernel, initrd and command line come from grub.cfg inside
# the disk image (default entry 1; entry 0 is a decoy with another tag).
G=vmdt-vmd-pygrub
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
# pygrub only reads the image; a copy keeps the shared one pristine for other scenarios.
IMG=/var/lib/xen/$G.img

cat > $CFG <<CFGEOF
name = "$G"
vcpus = 1
memory = 128
vif = [ 'mac=00:16:3e:76:6d:51, bridge=xenbr0' ]
disk = [ 'file:$IMG,xvda,w' ]
bootloader = "pygrub"
CFGEOF

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

make_bridge() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
}

create() {
    cp $VT/guest/pygrub.img $IMG
    rm -f "$(console_log $G)"
    vmctl create $CFG
    wait_vm_state $G running 5
}

# libxl keeps the config it built the domain from; `xl list -l` shows it.
# the bootloader as xl passes it (libxl finds "pygrub" in its own directory when it runs it)
bootloader_as_xl() {
    xl -N create $CFG > $STATE/$G.xl.json
    xl list -l $G > $STATE/$G.dom.json
    echo "xl: $(libxl_value $STATE/$G.xl.json b_info.bootloader)," \
        "domain: $(libxl_value $STATE/$G.dom.json b_info.bootloader)"
    [ "$(libxl_value $STATE/$G.xl.json b_info.bootloader)" = pygrub ]
    [ "$(libxl_value $STATE/$G.dom.json b_info.bootloader)" = pygrub ]
}

destroyed() {
    vmctl destroy $G
    wait_gone $G 10
    [ "$(vm_field $G state)" = stopped ]
}

step bridge make_bridge
step vmd-up vmd_up
step create create
step hello wait_console $G "$MARK_HELLO role=pygrub type=PV tag=grub-cfg"
step pygrub-as-xl bootloader_as_xl
step destroy destroyed
step remove vmctl remove $G
rm -f $IMG
show_vmd_log
