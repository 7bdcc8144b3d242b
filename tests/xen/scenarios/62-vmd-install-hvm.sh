# 62-vmd-install-hvm: `vmctl install` of an HVM guest from a bootable installer ISO (only
# --iso: HVM is the default). vmd makes the disk and boots the ISO from the CD drive (hdc,
# boot="dc") with the serial port on a pty, VNC on 127.0.0.1 and a vif on xenbr0. `vmctl
# console` relays the serial port: the installer's markers. The installer copies the
# installed system (a hybrid grub image) from its CD onto xvda and powers off; vmd switches
# the definition to boot="c" without the cdrom and starts it again, and SeaBIOS boots the
# disk: grub, read from the installed disk's MBR, reports root=hd0 on the serial console
# (relayed by a second `vmctl console` attached to the new domain), as 46-hvm stops there;
# with VMD_XEN_HVM_FULL=2 also the installed kernel's own marker (SeaBIOS reads the kernel
# at about 35 KB/s: 4.5 more minutes). Then destroy and `remove --delete-disks`. Both
# domains are built with memory claims, as xl builds the same config (its dry run is the oracle).
# Booting the installed disk froze the whole emulated machine (every CPU halted, QEMU idle)
# every time the domain was built without memory claims, as vmd built it before it took xl's
# claim_mode; see tests/xen/README.md. VMD_XEN_HVM_FULL=0 stops once the installed system's
# domain runs (about 5 minutes less under TCG).
# budget: 800
need vmd vmctl || return 0
G=vmdt-inst-hvm
ISO=$VT/guest/hvm-installer.iso
IMG=/var/lib/xen/$G.img
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log, json_get, lacks: dom0/lib.sh

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -rf $OUT && mkdir -p $OUT
    rm -f $IMG
}

events_on() {
    vmctl events > $OUT/events 2>&1 &
    echo $! > $OUT/events.pid
}

install() {
    vmctl -j install $G --iso $ISO --disk-size 64M --memory 256 --disk $IMG > $OUT/install.out
    result_line $OUT/install.out > $OUT/install.json
    vmctl console $G --timeout 500 > $OUT/console.installer 2>&1 &
    cat $OUT/install.out
    [ "$(json_get $OUT/install.json vm.type)" = hvm ]
    [ "$(json_get $OUT/install.json console)" = serial ]
    [ "$(json_get $OUT/install.json installer)" = null ]
    [ "$(json_get $OUT/install.json disk)" = $IMG ]
    json_get $OUT/install.json vnc > $OUT/vnc
    grep -E -q '^127\.0\.0\.1:59[0-9][0-9]$' $OUT/vnc
    domid_of $G > $OUT/installer.domid
}

installing() {
    vmctl info $G
    [ "$(vm_field $G install_phase)" = installing ]
    [ "$(vm_field $G state)" = running ]
    vmctl config $G | tee $OUT/config.installing
    grep -q '^type = "hvm"' $OUT/config.installing
    grep -q 'hdc' $OUT/config.installing
    grep -E -q '^boot = "dc"' $OUT/config.installing
    grep -E -q '^serial = "pty"' $OUT/config.installing
}

# qemu's VNC server listens where vmd said (local only)
vnc_listening() { netstat -ltn | tee /dev/stderr | grep -q " $(cat $OUT/vnc) "; }

vif_up() { ip -br link show master xenbr0 | grep "^vif$(domid_of $G)\.0 "; }

wait_installed() {
    end=$((SECONDS + 180))
    until [ "$(vm_field $G install_phase)" = installed ]; do
        [ "$SECONDS" -ge "$end" ] && { echo "$G not installed"; vmctl info $G; return 1; }
        sleep 0.5
    done
    vmctl info $G
}

boots_from_disk() {
    vmctl config $G | tee $OUT/config.installed
    grep -E -q '^boot = "c"' $OUT/config.installed
    lacks $OUT/config.installed 'hdc|cdrom|\.iso'
    grep -q "target=$IMG" $OUT/config.installed
}

restarted() {
    wait_vm_state $G running 120
    new=$(vm_field $G domid)
    echo "installer domain $(cat $OUT/installer.domid), installed system $new"
    [ "$new" != "$(cat $OUT/installer.domid)" ]
    [ "$new" = "$(domid_of $G)" ]
    vmctl console $G --timeout 600 > $OUT/console.installed 2>&1 &
    xl block-list $G | tee $OUT/blocks
    [ "$(awk 'NR > 1' $OUT/blocks | wc -l)" = 1 ]
}

events_seen() {
    cat $OUT/events
    grep -q " $G install-finished " $OUT/events
    grep -q " $G installed " $OUT/events
}

destroyed() {
    vmctl destroy $G
    wait_gone $G 30
    [ "$(vm_field $G state)" = stopped ]
}

removed_with_disk() {
    vmctl remove --delete-disks $G
    if vmctl info $G; then return 1; fi
    [ ! -e $IMG ]
}

nothing_left() {
    [ -z "$(xl list | awk 'NR > 1 && $2 != 0')" ] || { xl list; return 1; }
    [ -z "$(losetup -a)" ] || { losetup -a; return 1; }
    [ -z "$(ip -br link show master xenbr0)" ] || { ip -br link show master xenbr0; return 1; }
    [ -z "$(device_models)" ] || { echo "qemu still running:"; device_models; return 1; }
}

step setup setup
step vmd-up vmd_up
step events events_on
step install install
step installing installing
step claims-as-xl same_claims_as_xl $G $OUT/config.installing True
step vnc vnc_listening
step vif-on-bridge retry 30 vif_up
step -t 420 installer wait_file $OUT/console.installer 'VMDTEST-INSTALLER role=hvm-installer type=HVM' 400
step cdrom wait_file $OUT/console.installer 'VMDTEST-INSTALLER-CDROM ok dev=sr0' 60
step -t 200 installer-done wait_file $OUT/console.installer 'VMDTEST-INSTALLER-DONE role=hvm-installer dev=xvda' 180
step -t 200 installed wait_installed
step config-switched boots_from_disk
step restarted restarted
vmctl config $G > $OUT/config.installed.cfg 2>/dev/null
step installed-claims-as-xl same_claims_as_xl $G $OUT/config.installed.cfg True
# The disk boot: SeaBIOS reads grub and the kernel from the emulated IDE disk (slow).
if [ "${HVM_FULL:-1}" -ge 1 ]; then
    step -t 200 grub-from-disk wait_file $OUT/console.installed 'VMDTEST-GRUB role=installed-hvm root=hd0' 180
fi
if [ "${HVM_FULL:-1}" -ge 2 ]; then
    step -t 620 hello wait_file $OUT/console.installed "$MARK_HELLO role=installed-hvm type=HVM tag=hd0" 600
fi
step events events_seen
step destroy destroyed
step remove removed_with_disk
step nothing-left nothing_left
kill "$(cat $OUT/events.pid 2>/dev/null)" 2>/dev/null
rm -f $IMG
show_vmd_log
