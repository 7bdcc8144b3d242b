# 72-vmd-cloud-init: real cloud-init on real Xen. The cloud image (build-image.sh's
# build_cloud_image: Debian's cloud-init 22.4 and Python 3.11 on a raw MBR+ext4 disk, booted
# by pygrub from its own grub.cfg) goes through `vmctl create --image --cloud-init --ssh-key`
# in one request: vmd copies and grows the disk, writes the NoCloud seed with libisofs and
# boots the guest with it as a read-only cdrom. On the console, cloud-init (guest/
# cloud-image-init runs its four stages) applies the user-data: the hostname, vmduser's SSH
# key, the runcmd marker; the --ssh-key lands in meta-data's public-keys (root's, as there
# is no default user). A reboot boots the guest again with the seed still attached, the same
# instance-id, and the per-instance steps not run again (the marker keeps one line). Then
# `remove --delete-disks` deletes the disk and the seed. The reference: the same guest by
# hand (cp --sparse, truncate, genisoimage, xl create), timed from the request to
# cloud-init's "finished" line, as vmd's.
# budget: 600
need_vmd_libxl || return 0
G=vmdt-cloud
X=vmdt-xlcloud
# dom0's root (a tmpfs, the dom0 image unpacked) has no room for two copies of the image
# (123 MiB of data each): they go to /tmp, a tmpfs of its own
D=/tmp/vmdt-cloud
SRC=$D/image.raw
DISK=$D/$G.img
SEED=$D/$G-cidata.iso
XDISK=$D/$X.img
XSEED=$D/$X-cidata.iso
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
OUT=$STATE/$SCENARIO
TIMES=$OUT/times
HOST=vmdt-cloud-host
FINISHED='Cloud-init v\. [0-9.]* finished at'

# vmd_up, vm_field, wait_vm_state, wait_console, json_get, lacks: dom0/lib.sh

setup() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
    rm -rf $OUT && mkdir -p $OUT
    rm -rf $D && mkdir -p $D
    rm -f "$(console_log $G)" "$(console_log $X)"
    # the image as a distribution ships it: a sparse raw file (the dom0 image holds it gzip'd)
    # shellcheck disable=SC2216
    gzip -dc $VT/guest/cloud.img.gz | cp --sparse=always /dev/stdin $SRC
    ls -ls $SRC
    say "dom0 memory with the image unpacked: $(dom0_memory)"
    ssh-keygen -q -t ed25519 -N '' -C vmdtest-user@72 -f $OUT/user
    ssh-keygen -q -t ed25519 -N '' -C vmdtest-meta@72 -f $OUT/meta
    # the user-data: the hostname, a user with a key, a command writing a marker
    cat > $OUT/user-data <<EOF
#cloud-config
hostname: $HOST
users:
  - name: vmduser
    ssh_authorized_keys:
      - $(cat $OUT/user.pub)
runcmd:
  - echo "runcmd at \$(cut -d' ' -f1 /proc/uptime)" >> /var/lib/vmdtest-marker
EOF
}

create() {
    local t0
    t0=$(now)
    echo "$t0" > $OUT/t0
    vmctl -j create $G --image $SRC --disk $DISK --disk-size 640M --memory 256 \
        --cloud-init $OUT/user-data --ssh-key $OUT/meta.pub > $OUT/create.out
    echo "vmd answer: $(since "$t0") s" | tee -a $TIMES
    result_line $OUT/create.out > $OUT/create.json
    cat $OUT/create.json
    [ "$(json_get $OUT/create.json vm.state)" = running ]
    [ "$(json_get $OUT/create.json disk.path)" = $DISK ]
    [ "$(json_get $OUT/create.json seed.path)" = $SEED ]
    json_get $OUT/create.json seed.instance_id > $OUT/instance
    [ -n "$(cat $OUT/instance)" ]
    ls -ls $DISK $SEED
    [ "$(stat -c %s $DISK)" = $((640 << 20)) ]
}

finished() {
    wait_console $G "$FINISHED" 600
    echo "vmd request to finished: $(since "$(cat $OUT/t0)") s" | tee -a $TIMES
}

has() { case $1 in *"$2"*) return 0 ;; esac; return 1; }

# what cloud-init applied, as the guest reports it after its final stage
applied() {  # BOOT
    local state
    wait_console $G "VMDTEST-CLOUD-STATE n=$1 " 60
    state=$(grep -a "VMDTEST-CLOUD-STATE n=$1 " "$(console_log $G)" | tail -n 1 | tr -d '\r')
    echo "$state"
    has "$state" " hostname=$HOST " || { echo "hostname not set"; return 1; }
    has "$state" " instance=$(cat $OUT/instance) " || { echo "not the seed's instance"; return 1; }
    has "$state" " status=done " || { echo "cloud-init did not finish cleanly"; return 1; }
    # grown: the partition and the file system past the image's 448 MiB
    [ "${state##*root_mb=}" -gt 500 ]
    grep -a 'VMDTEST-CLOUD-KEY' "$(console_log $G)" | tail -n 2
    wait_console $G 'VMDTEST-CLOUD-KEY user=vmduser owner=vmduser key=vmdtest-user@72' 5 "$1"
    wait_console $G 'VMDTEST-CLOUD-KEY user=root owner=root key=vmdtest-meta@72' 5 "$1"
}

# the runcmd ran once: after the first boot and after the reboot, one line
marker_once() {  # BOOT
    wait_console $G 'VMDTEST-CLOUD-MARKER lines=' 30 "$1"
    grep -a 'VMDTEST-CLOUD-MARKER' "$(console_log $G)"
    [ "$(console_count $G 'VMDTEST-CLOUD-MARKER lines=1[^0-9]*$')" = "$1" ]
}

# the SSH host key cloud-init made once per instance: one, the same at every boot
host_key() {  # BOOT
    wait_console $G "VMDTEST-CLOUD-HOSTKEY n=$1 " 30
    grep -a 'VMDTEST-CLOUD-HOSTKEY' "$(console_log $G)" | tr -d '\r' |
        sed 's/.* ed25519=//' | sort -u > $OUT/host-keys
    cat $OUT/host-keys
    [ "$(wc -l < $OUT/host-keys)" = 1 ]
    lacks $OUT/host-keys '^none$'
}

# the seed's meta-data: the instance-id vm.create answered, the guest's name as hostname
seed_contents() {
    modprobe isofs
    mkdir -p $OUT/iso
    mount -o loop,ro $SEED $OUT/iso
    ls -l $OUT/iso
    cp $OUT/iso/meta-data $OUT/
    cp $OUT/iso/user-data $OUT/seed-user-data
    umount $OUT/iso
    cat $OUT/meta-data
    grep -q "^instance-id: *\"*$(cat $OUT/instance)\"*$" $OUT/meta-data
    grep -q "local-hostname: *\"*$G\"*$" $OUT/meta-data
    grep -q vmdtest-meta@72 $OUT/meta-data
    cmp $OUT/user-data $OUT/seed-user-data
}

# `vmctl config`: an ordinary xl.cfg, pygrub, the disk and the seed as a read-only cdrom
config_shown() {
    vmctl config $G | tee $OUT/config
    grep -q '^bootloader = "pygrub"' $OUT/config
    grep -q "target=$DISK" $OUT/config
    grep "target=$SEED" $OUT/config | grep -q cdrom
    lacks $OUT/config '^(kernel|ramdisk) = '
    xl -N create $OUT/config > /dev/null
}

seed_attached() {
    xl block-list $G
    [ "$(xl block-list $G | awk 'NR > 1' | wc -l)" = 2 ]
}

reboot_guest() {
    local domid
    domid=$(vm_field $G domid)
    vmctl reboot $G
    wait_console $G 'VMDTEST-CLOUD-REBOOT n=1' 60
    wait_console $G 'VMDTEST-CLOUD-BOOT n=2 ' 120
    wait_vm_state $G running 5
    [ "$(vm_field $G domid)" != "$domid" ]
}

removed() {
    vmctl shutdown --wait --timeout 120 $G
    wait_console $G 'VMDTEST-CLOUD-POWEROFF n=2' 5
    vmctl remove --delete-disks $G
    if vmctl info $G; then return 1; fi
    [ ! -e $DISK ] || { echo "$DISK left"; return 1; }
    [ ! -e $SEED ] || { echo "$SEED left"; return 1; }
}

# The reference: the same guest by hand, as an admin does it without vmd.
by_hand() {
    local t0 d=$OUT/by-hand
    mkdir -p $d
    t0=$(now)
    cp --sparse=always $SRC $XDISK
    truncate -s 640M $XDISK
    cp $OUT/user-data $d/user-data
    printf 'instance-id: iid-%s\nlocal-hostname: %s\npublic-keys:\n  - %s\n' \
        "$X" "$X" "$(cat $OUT/meta.pub)" > $d/meta-data
    genisoimage -quiet -o $XSEED -V cidata -J -R $d/user-data $d/meta-data
    cat > $d/$X.cfg <<EOF
name = "$X"
memory = 256
bootloader = "pygrub"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$XDISK',
         'format=raw, vdev=xvdc, access=ro, devtype=cdrom, target=$XSEED' ]
vif = [ 'bridge=xenbr0' ]
EOF
    xl create $d/$X.cfg
    wait_console $X "$FINISHED" 600
    echo "by hand request to finished: $(since "$t0") s" | tee -a $TIMES
    wait_console $X "VMDTEST-CLOUD-STATE n=1 hostname=$HOST instance=iid-$X status=done" 60
    xl destroy $X
    wait_gone $X 30
    rm -f $XDISK $XSEED
}

report() {
    local line
    line=$(awk '/^vmd request to finished:/ { v = $5 } /^by hand request to finished:/ { h = $6 }
        /^vmd answer:/ { a = $3 } END {
        if (!(v > 0 && h > 0 && a > 0)) exit 1
        printf "request to cloud-init finished: vmd %.1fs (answer %.1fs), by hand %.1fs, ", v, a, h
        printf "vmd/by hand %.2f", v / h }' $TIMES) || {
        result FAIL "$SCENARIO/ratios" 0 "(times missing: $(tr '\n' ' ' < $TIMES))"
        return 0
    }
    result PASS "$SCENARIO/ratios" 0 "($line)"
}

nothing_left() {
    [ -z "$(xl list | awk 'NR > 1 && $2 != 0')" ] || { xl list; return 1; }
    [ -z "$(losetup -a)" ] || { losetup -a; return 1; }
}

step setup setup
step vmd-up vmd_up
step create create
step -t 620 finished finished
step applied applied 1
step marker marker_once 1
step host-key host_key 1
step seed seed_contents
step config config_shown
step seed-attached seed_attached
step -t 320 reboot reboot_guest
step -t 620 finished-again wait_console $G "$FINISHED" 600 2
step applied-again applied 2
step marker-once marker_once 2
step host-key-kept host_key 2
step seed-still-attached seed_attached
step removed removed
step -t 700 by-hand by_hand
step nothing-left nothing_left
[ -z "$SCENARIO_FAILED" ] && report
rm -rf $D
show_vmd_log
