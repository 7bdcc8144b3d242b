# 68-vmd-snapshot: `vmctl snapshot` of a running PV guest whose image is on XFS with reflink
# (a loop-mounted image in dom0, as an admin's /srv/xen would be): the guest has written a
# token to its disk (role=disk: it reads dom0's token at 0 and writes it back at 512); vmd
# pauses it, reflinks the image, unpauses it, and says how long the pause took. The guest
# then boots with another token and writes that: changed data. Revert (stopped) puts the
# snapshot's image back, and the guest reads the old token again. The same on a file system
# without reflink (dom0's root, a tmpfs) is refused with code 12 and makes nothing. Then a
# snapshot with memory of a counting guest (role=counter, its image on the XFS): the
# checkpoint and the reflinks while the domain is suspended, the guest counting on; after a
# destroy and the revert, the disk has the snapshot's data and the guest counts on from the
# snapshot's count, without a boot.
# budget: 210
need_vmd_libxl || return 0
G=vmdt-snap
MNT=/mnt/vmdt-xfs
IMG=$MNT/$G.img
VMD_STATE_DIR=$STATE/vmd-$SCENARIO
TOKEN_A=VMDTEST-TOKEN-A-$(cat /proc/sys/kernel/random/uuid)
TOKEN_B=VMDTEST-TOKEN-B-$(cat /proc/sys/kernel/random/uuid)

cat > /tmp/$G.cfg <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=disk"
disk = [ "format=raw, vdev=xvda, access=rw, target=$IMG" ]
CFGEOF

echoed() { dd if=$IMG bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | head -n1; }

xfs_up() {
    modprobe xfs
    mkdir -p $MNT /var/lib/xen
    truncate -s 320M /var/lib/xen/$G-xfs.img
    mkfs.xfs -q -f -m reflink=1 /var/lib/xen/$G-xfs.img
    mount -o loop /var/lib/xen/$G-xfs.img $MNT
    dd if=/dev/zero of=$IMG bs=1M count=16 2>/dev/null
    printf '%s\n' "$TOKEN_A" | dd of=$IMG conv=notrunc 2>/dev/null
}

boot_a() {
    rm -f "$(console_log $G)"
    vmctl create /tmp/$G.cfg
    wait_console $G "VMDTEST-DISK-WRITTEN" 90
    [ "$(echoed)" = "VMDTEST-ECHO $TOKEN_A" ]
}

# Every extent of the file with data is shared (FIEMAP_EXTENT_SHARED, 0x2000): a reflink.
all_shared() {
    xfs_io -c 'fiemap -v' "$1" | python3 -c '
import sys
flags = [int(l.split()[-1], 16) for l in sys.stdin if l.strip()[:1].isdigit()]
sys.exit(0 if flags and all(f & 0x2000 for f in flags) else 1)'
}

snapshot_running() {
    vmctl -j snapshot create $G one > /tmp/$G.snap.out
    result_line /tmp/$G.snap.out > /tmp/$G.snap.json
    cat /tmp/$G.snap.json
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
assert r["disks"][0]["method"] == "reflink", r
print("%.1f" % r["paused_ms"])' /tmp/$G.snap.json > $STATE/$G.paused_ms
    [ "$(vm_field $G state)" = running ]
    [ "$(dom_state $G | cut -c3)" != p ] || { xl list $G; return 1; }  # not left paused
    [ "$(dd if=$IMG@one bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | head -n1)" = \
      "VMDTEST-ECHO $TOKEN_A" ]
    all_shared $IMG@one || { xfs_io -c 'fiemap -v' $IMG@one; return 1; }
}

# The guest writes another token: the image changes, the snapshot's copy does not.
change() {
    vmctl destroy $G
    printf '%s\n' "$TOKEN_B" | dd of=$IMG conv=notrunc 2>/dev/null
    rm -f "$(console_log $G)"
    vmctl start $G
    wait_console $G "VMDTEST-DISK-WRITTEN" 90
    [ "$(echoed)" = "VMDTEST-ECHO $TOKEN_B" ]
    [ "$(dd if=$IMG@one bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | head -n1)" = \
      "VMDTEST-ECHO $TOKEN_A" ]
}

revert() {
    local rc=0
    vmctl snapshot revert $G one 2> /tmp/$G.err || rc=$?
    [ $rc = 2 ] && grep -q "shut it down" /tmp/$G.err   # running: refused
    vmctl destroy $G
    vmctl snapshot revert $G one
    [ "$(echoed)" = "VMDTEST-ECHO $TOKEN_A" ]
    rm -f "$(console_log $G)"
    vmctl start $G
    wait_console $G "VMDTEST-DISK-READ $TOKEN_A" 90
    vmctl destroy $G
}

# A running guest on a file system without reflink (dom0's root): refused, nothing made.
no_reflink() {
    local rc=0 img2=/var/lib/xen/$G-ext.img
    dd if=/dev/zero of=$img2 bs=1M count=8 2>/dev/null
    sed "s|target=$IMG|target=$img2|; s|name = \"$G\"|name = \"$G-2\"|" /tmp/$G.cfg > /tmp/$G-2.cfg
    vmctl create /tmp/$G-2.cfg
    wait_vm_state $G-2 running 30
    vmctl snapshot create $G-2 x 2> /tmp/$G.err || rc=$?
    cat /tmp/$G.err
    [ $rc = 2 ] && grep -q "cannot be reflinked" /tmp/$G.err
    if ls /var/lib/xen | grep -q "@"; then echo "unexpected: a copy was made"; return 1; fi
    [ "$(vm_field $G-2 state)" = running ]
    vmctl destroy $G-2
    vmctl remove $G-2
    rm -f $img2
}

M=$G-mem
MIMG=$MNT/$M.img
counter_cfg $M > /tmp/$M.cfg
echo "disk = [ \"format=raw, vdev=xvda, access=rw, target=$MIMG\" ]" >> /tmp/$M.cfg
mtoken() { dd if=$MIMG bs=512 count=1 2>/dev/null | tr -d '\000' | head -n1; }

memory() {
    local at later domid mem
    dd if=/dev/zero of=$MIMG bs=1M count=16 2>/dev/null
    printf '%s\n' "$TOKEN_A" | dd of=$MIMG conv=notrunc 2>/dev/null
    rm -f "$CONSOLE_DIR"/guest-$M*.log
    vmctl create /tmp/$M.cfg
    wait_console $M 'VMDTEST-TICK 5' 120
    domid=$(vm_field $M domid)
    vmctl -j snapshot create $M mem --memory > /tmp/$M.snap.out
    at=$(last_tick "$(log_of $M)")  # the checkpoint's count, about
    result_line /tmp/$M.snap.out > /tmp/$M.snap.json
    cat /tmp/$M.snap.json
    mem=$(json_get /tmp/$M.snap.json memory)
    [ "$mem" = "$VMD_STATE_DIR/snapshots/$M/mem.save" ]
    [ "$(head -c 14 "$mem")" = '{"vmd-save":1,' ]
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
assert [d["method"] for d in r["disks"]] == ["reflink"], r' /tmp/$M.snap.json
    json_get /tmp/$M.snap.json paused_ms | cut -d. -f1 > $STATE/$M.paused_ms
    vmctl snapshot list $M | tee /tmp/$M.list
    grep -E -q '^mem +.* yes +yes ' /tmp/$M.list
    # it runs on, the same domain, well past the snapshot; its disk changes
    [ "$(vm_field $M state)" = running ]
    [ "$(vm_field $M domid)" = "$domid" ]
    counts_on $M "$((at + 30))"
    later=$(last_tick "$(log_of $M)")
    printf '%s\n' "$TOKEN_B" | dd of=$MIMG conv=notrunc 2>/dev/null
    vmctl destroy $M
    new_log $M
    vmctl snapshot revert $M mem | tee /tmp/$M.revert
    grep -q "runs again from the snapshot's memory" /tmp/$M.revert
    [ "$(mtoken)" = "$TOKEN_A" ]
    restored $M "$at"
    [ "$(ticks "$(log_of $M)" | awk -v a="$at" '$1 > a' | head -n 1)" -lt "$later" ]
    [ -f "$mem" ]  # the snapshot keeps its memory
    vmctl destroy $M
    vmctl snapshot delete $M mem
    [ ! -e "$mem" ]
    [ ! -e "$MIMG@mem" ]
    vmctl remove $M
}

cleanup() {
    vmctl snapshot delete $G one
    [ ! -e "$IMG@one" ]
    vmctl remove $G
    umount $MNT
    rm -f /var/lib/xen/$G-xfs.img  # dom0's root is RAM: the next scenarios need the room
}

# after a failure (run-scenarios.sh, vmd stopped, domains destroyed): the XFS and the
# memory save weigh on dom0's RAM
teardown() {
    umount $MNT || umount -l $MNT
    rm -rf /var/lib/xen/$G-xfs.img /var/lib/xen/$G-ext.img "$VMD_STATE_DIR/snapshots"
}

step vmd-up vmd_up
step -t 30 xfs xfs_up
step -t 120 boot boot_a
step -t 30 snapshot snapshot_running
step -t 120 change change
step -t 150 revert revert
step -t 90 no-reflink no_reflink
step -t 150 memory memory
step -t 30 cleanup cleanup
[ -z "$SCENARIO_FAILED" ] &&
    result PASS "$SCENARIO/pause" 0 "(paused $(cat $STATE/$G.paused_ms) ms: reflink of 16 MiB;\
 with 128 MiB of memory $(cat $STATE/$M.paused_ms) ms)"
show_vmd_log
