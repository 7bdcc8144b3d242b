# 61-vmd-install-pv: `vmctl install` of a PV guest from an installer ISO laid out as Debian's
# (install.amd/xen/vmlinuz and initrd.gz). vmd makes the sparse disk, finds the installer's
# kernel and initrd inside the ISO, boots them with the ISO as a read-only cdrom (xvdc) and a
# vif on xenbr0, and reports "installing". The installer (guest/installer-init) sees the CD,
# writes a pygrub-bootable system onto xvda and powers off; vmd notices (install-finished),
# switches the definition to boot from the disk (bootloader = "pygrub", no kernel, no cdrom),
# says "installed" and starts the guest again: a new domain, whose marker (role=installed-pv)
# comes from the grub.cfg the installer wrote. Then a clean shutdown and `remove
# --delete-disks`.
# Second part: --kernel/--initrd/--extra (a kernel given, the ISO only as the cdrom) with
# --no-network and --no-start: after the install the guest stays stopped until `vmctl start`.
need vmd vmctl || return 0
G=vmdt-inst-pv
K=vmdt-inst-given
ISO=$VT/guest/pv-installer.iso
IMG=/var/lib/xen/$G.img
KIMG=/var/lib/xen/$K.img
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log, json_get: dom0/lib.sh

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -rf $OUT && mkdir -p $OUT
    rm -f $IMG $KIMG "$(console_log $G)" "$(console_log $K)"
}

events_on() {
    vmctl events > $OUT/events 2>&1 &
    echo $! > $OUT/events.pid
}

install_from_iso() {
    vmctl -j install $G --iso $ISO --type pv --disk-size 64M --memory 128 --disk $IMG \
        > $OUT/install.out
    result_line $OUT/install.out > $OUT/install.json
    # at once: on a busy host the installer (about 20 s) may be done before the checks below
    vmctl config $G > $OUT/config.installing
    xl block-list $G > $OUT/blocks.installing 2>&1 || true
    vmctl console $G --timeout 150 > $OUT/console 2>&1 &
    cat $OUT/install.out
    [ "$(json_get $OUT/install.json installer.source)" = debian-xen ]
    [ "$(json_get $OUT/install.json console)" = pv ]
    [ "$(json_get $OUT/install.json vnc)" = null ]
    [ "$(json_get $OUT/install.json disk)" = $IMG ]
    [ "$(json_get $OUT/install.json disk_created)" = true ]
    [ "$(json_get $OUT/install.json vm.type)" = pv ]
    [ "$(json_get $OUT/install.json installer.iso_kernel)" = /install.amd/xen/vmlinuz ] ||
        [ "$(json_get $OUT/install.json installer.iso_kernel)" = install.amd/xen/vmlinuz ]
    # vmd's copies of the installer's kernel and initrd, in its state directory
    json_get $OUT/install.json installer.kernel > $OUT/kernel
    json_get $OUT/install.json installer.ramdisk > $OUT/ramdisk
    case $(cat $OUT/kernel) in $VMD_STATE_DIR/install/$G/*) ;; *) return 1 ;; esac
    cmp_iso_file install.amd/xen/vmlinuz "$(cat $OUT/kernel)"
    cmp_iso_file install.amd/xen/initrd.gz "$(cat $OUT/ramdisk)"
    json_get $OUT/install.json vm.domid > $OUT/installer.domid
}

# the new image: 64 MiB, sparse (the installer writes 32 MiB of it, maybe already has)
disk_made() {
    ls -ls $IMG
    [ "$(stat -c %s $IMG)" = 67108864 ]
    [ "$(stat -c %b $IMG)" -lt 131072 ]
}

installing() {
    # as vm.install answered: the installer running, in the install phase
    [ "$(json_get $OUT/install.json vm.install_phase)" = installing ]
    [ "$(json_get $OUT/install.json vm.state)" = running ]
    [ -n "$(cat $OUT/installer.domid)" ]
    # the definition while installing (read right after): the ISO's kernel, the cdrom, the vif
    cat $OUT/config.installing
    grep -q '^kernel = ' $OUT/config.installing
    grep -q 'xvdc' $OUT/config.installing
    # a vif, with the MAC vmd gave it and no bridge: libxl's default, xenbr0, as with xl
    grep -q '^vif = \[ "mac=00:16:3e:..:..:.." \]$' $OUT/config.installing
    cat $OUT/blocks.installing
    [ "$(awk 'NR > 1' $OUT/blocks.installing | wc -l)" = 2 ]
}

wait_installed() {  # NAME
    end=$((SECONDS + 120))
    until [ "$(vm_field $1 install_phase)" = installed ]; do
        [ "$SECONDS" -ge "$end" ] && { echo "$1 not installed"; vmctl info $1; return 1; }
        sleep 0.5
    done
    vmctl info $1
}

# FILE of the ISO (through a loop mount) and a copy of it have the same contents
cmp_iso_file() {  # ISO_PATH COPY
    modprobe isofs
    mkdir -p $OUT/iso
    mount -o loop,ro $ISO $OUT/iso
    a=$(sha256sum < $OUT/iso/$1)
    umount $OUT/iso
    [ "$a" = "$(sha256sum < "$2")" ]
}

# after the switch vmd deletes its copies of the installer's kernel and initrd
copies_deleted() {
    ls -la $VMD_STATE_DIR/install/ 2>&1 || true
    [ ! -e "$(cat $OUT/kernel)" ] && [ ! -e "$(cat $OUT/ramdisk)" ]
}

# what `vmctl config` prints after the switch: pygrub, no kernel of its own, no cdrom
boots_from_disk() {  # NAME
    vmctl config $1 | tee $OUT/config.$1
    grep -q '^bootloader = "pygrub"' $OUT/config.$1
    lacks $OUT/config.$1 '^(kernel|ramdisk|extra) = '
    lacks $OUT/config.$1 'xvdc|cdrom|\.iso'
    grep -q "target=$(vm_disk $1)" $OUT/config.$1
}
vm_disk() { case $1 in "$G") echo $IMG ;; *) echo $KIMG ;; esac; }

restarted() {
    wait_vm_state $G running 60
    new=$(vm_field $G domid)
    echo "installer domain $(cat $OUT/installer.domid), installed system $new"
    [ "$new" != "$(cat $OUT/installer.domid)" ]
    [ "$new" = "$(domid_of $G)" ]
    # and the installed system runs on the disk alone (the vif stays)
    xl block-list $G
    [ "$(xl block-list $G | awk 'NR > 1' | wc -l)" = 1 ]
}

events_seen() {  # NAME
    cat $OUT/events
    grep -q " $1 install-finished " $OUT/events
    grep -q " $1 installed " $OUT/events
}

stopped_and_gone() {  # NAME
    [ "$(vm_field $1 state)" = stopped ]
    wait_gone $1 10
}

removed_with_disk() {  # NAME
    vmctl remove --delete-disks $1
    if vmctl info $1; then return 1; fi
    [ ! -e "$(vm_disk $1)" ]
}

nothing_left() {
    [ -z "$(xl list | awk 'NR > 1 && $2 != 0')" ] || { xl list; return 1; }
    [ -z "$(losetup -a)" ] || { losetup -a; return 1; }
    [ -z "$(ip -br link show master xenbr0)" ] || { ip -br link show master xenbr0; return 1; }
}

# --- part 2: the installer's kernel given, from a copy of the ISO's files
given_files() {
    modprobe isofs
    mkdir -p $OUT/iso
    mount -o loop,ro $ISO $OUT/iso
    cp $OUT/iso/install.amd/xen/vmlinuz $OUT/iso/install.amd/xen/initrd.gz $OUT/
    umount $OUT/iso
    losetup -a > $OUT/loops
    lacks $OUT/loops "$ISO"
}

install_given() {
    rm -f "$(console_log $K)"
    vmctl -j install $K --kernel $OUT/vmlinuz --initrd $OUT/initrd.gz \
        --extra "console=hvc0 vmdtest.role=given-installer" --iso $ISO \
        --disk-size 64M --memory 128 --disk $KIMG --no-network --no-start > $OUT/given.out
    result_line $OUT/given.out > $OUT/given.json
    cat $OUT/given.out
    [ "$(json_get $OUT/given.json installer.source)" = given ]
    [ "$(json_get $OUT/given.json console)" = pv ]
    [ "$(vm_field $K install_phase)" = installing ]
    [ "$(xl network-list $K | awk 'NR > 1' | wc -l)" = 0 ]
}

stays_stopped() {
    vmctl info $K
    [ "$(vm_field $K state)" = stopped ]
    wait_gone $K 10
    vmctl config $K > $OUT/config.stopped
    lacks $OUT/config.stopped '^vif'
}

phase_is() { [ "$(vm_field $1 install_phase)" = "$2" ] || { vmctl info $1; return 1; }; }

step setup setup
step vmd-up vmd_up
step events events_on
step install install_from_iso
step disk-made disk_made
step installing installing
step console-installer wait_file $OUT/console 'VMDTEST-INSTALLER role=installer type=PV'
step cdrom wait_console $G 'VMDTEST-INSTALLER-CDROM ok dev=xvdc' 60
step installer-done wait_console $G 'VMDTEST-INSTALLER-DONE role=installer dev=xvda' 120
step installed wait_installed $G
step config-switched boots_from_disk $G
step copies-deleted copies_deleted
step restarted restarted
step hello wait_console $G "$MARK_HELLO role=installed-pv type=PV"
step events events_seen $G
step shutdown-wait vmctl shutdown --wait --timeout 60 $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=installed-pv' 5
step stopped stopped_and_gone $G
step still-installed phase_is $G installed
step remove removed_with_disk $G

step given-files given_files
step install-given install_given
step given-installer wait_console $K 'VMDTEST-INSTALLER role=given-installer type=PV'
step given-cdrom wait_console $K 'VMDTEST-INSTALLER-CDROM ok dev=xvdc' 60
step given-done wait_console $K 'VMDTEST-INSTALLER-DONE role=given-installer dev=xvda' 120
step given-installed wait_installed $K
step given-stopped stays_stopped
step given-config boots_from_disk $K
step given-start vmctl start $K
step given-hello wait_console $K "$MARK_HELLO role=installed-pv type=PV"
step given-destroy vmctl destroy $K
step given-gone wait_gone $K 10
step given-remove removed_with_disk $K
step nothing-left nothing_left
kill "$(cat $OUT/events.pid 2>/dev/null)" 2>/dev/null
rm -f $IMG $KIMG
show_vmd_log
