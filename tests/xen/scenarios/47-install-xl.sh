# 47-install-xl: the PV install flow with plain xl, as vmd is to do it: the kernel and initrd
# from the installer ISO (Debian's paths install.amd/xen/{vmlinuz,initrd.gz}, read through a
# loop mount), no command line, the ISO as a read-only cdrom on xvdc, an empty disk on xvda.
# The installer sees the CD (CD001 on xvdc), writes the installed system onto xvda and powers
# off; then a pygrub config boots that disk (role=installed-pv comes from its grub.cfg).
G=vmdt-xl-install
IMG=/var/lib/xen/$G.img
ISO=$VT/guest/pv-installer.iso
MNT=/run/vmdtest/iso
CFG=/tmp/$G.cfg

from_iso() {  # the toolstack's copy of the installer's kernel and initrd
    modprobe isofs
    mkdir -p $MNT
    mount -o loop,ro $ISO $MNT
    ls -l $MNT/install.amd/xen
    cp $MNT/install.amd/xen/vmlinuz /tmp/$G.vmlinuz
    cp $MNT/install.amd/xen/initrd.gz /tmp/$G.initrd.gz
    umount $MNT
    losetup -a > /tmp/$G.loops
    lacks /tmp/$G.loops "$ISO"
    rm -f $IMG
    truncate -s 64M $IMG
}

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "/tmp/$G.vmlinuz"
ramdisk = "/tmp/$G.initrd.gz"
disk = [ "format=raw, vdev=xvda, access=rw, target=$IMG",
         "format=raw, vdev=xvdc, access=ro, devtype=cdrom, target=$ISO" ]
on_crash = "preserve"
CFGEOF

cat > $CFG.installed <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
bootloader = "pygrub"
disk = [ "format=raw, vdev=xvda, access=rw, target=$IMG" ]
on_crash = "preserve"
CFGEOF

loop_released() { [ -z "$(losetup -a)" ] || { losetup -a; false; }; }

step from-iso from_iso
step create xl_create $CFG
step installer wait_console $G 'VMDTEST-INSTALLER role=installer type=PV'
step cdrom wait_console $G 'VMDTEST-INSTALLER-CDROM ok dev=xvdc' 60
step installed wait_console $G 'VMDTEST-INSTALLER-DONE role=installer dev=xvda' 120
step poweroff wait_gone $G 60
step loop-released loop_released
step boot-disk xl_create $CFG.installed
step hello wait_console $G "$MARK_HELLO role=installed-pv type=PV"
step destroy xl destroy $G
step destroy-gone wait_gone $G 10
step nothing-left loop_released
rm -f $IMG $CFG $CFG.installed /tmp/$G.vmlinuz /tmp/$G.initrd.gz
