# 46-hvm: an HVM guest through xl (hvmloader, SeaBIOS, qemu-system-xen in dom0) installing
# itself from a CD: SeaBIOS boots hvm-installer.iso (grub-mkrescue) from hdc, grub and the
# kernel talk on the serial port (a pty, read with `xl console -t serial`), the installer
# reads the installed system from its CD (ata_piix, sr0), writes it onto the disk (xvda:
# xen-blkfront, after Linux unplugged the emulated IDE disk) and powers the guest off. The
# guest has a vif: its backend is on xenbr0 while it runs.
# Then the disk alone, boot = "c": SeaBIOS runs the MBR, and grub says it found its files
# on the first hard disk (root=hd0). That is where this scenario stops: SeaBIOS reads the
# kernel from an IDE disk at about 35 KB/s under TCG (4.5 more minutes; with xl, which
# builds with memory claims, that boot passed every time). 62-vmd-install-hvm is the same
# flow through vmd. About 4.5 minutes, most of it the installer's boot.
# budget: 450
G=vmdt-hvm
IMG=/var/lib/xen/$G.img
SERIAL=$(serial_log $G)

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -f $IMG "$SERIAL"
    truncate -s 64M $IMG
}

create() {  # [KEY=VALUE...]
    xl_create hvm "$@"
    xl_serial $G
    wait_running $G 10
    device_models | grep -- "-xen-domid $(domid_of $G) "
}

vif_up() { ip -br link show master xenbr0 | grep "^vif$(domid_of $G)\.0 "; }

# The installer wrote the installed system: an MBR (55 aa) in front of an ISO 9660 volume.
disk_installed() {
    [ "$(dd if=$IMG bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' ')" = 55aa ]
    [ "$(dd if=$IMG bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ]
}

from_disk() {
    create 'boot = "c"' "disk = [ \"format=raw, vdev=xvda, access=rw, target=$IMG\" ]"
    xl block-list $G | tee /tmp/$G.blocks
    [ "$(awk 'NR > 1' /tmp/$G.blocks | wc -l)" = 1 ]
}

nothing_left() {
    [ -z "$(losetup -a)" ] || { losetup -a; return 1; }
    [ -z "$(ip -br link show master xenbr0)" ] || { ip -br link show master xenbr0; return 1; }
    # the device model (one per HVM guest, and this is the only guest)
    [ -z "$(device_models)" ] || { echo "qemu still running:"; device_models; return 1; }
}

step setup setup
step create create
step vif-on-bridge retry 30 vif_up
step -t 420 installer wait_file "$SERIAL" "VMDTEST-INSTALLER role=hvm-installer type=HVM" 400
say "dom0 memory with an HVM guest running: $(dom0_memory)"
step cdrom wait_file "$SERIAL" 'VMDTEST-INSTALLER-CDROM ok dev=sr0' 60
step -t 200 installed wait_file "$SERIAL" 'VMDTEST-INSTALLER-DONE role=hvm-installer dev=xvda' 180
step poweroff wait_gone $G 120
step released nothing_left
step disk-written disk_installed
step create-from-disk from_disk
step -t 200 grub-from-disk wait_file "$SERIAL" 'VMDTEST-GRUB role=installed-hvm root=hd0' 180
step destroy xl destroy $G
step destroy-gone wait_gone $G 30
step nothing-left nothing_left
rm -f $IMG
