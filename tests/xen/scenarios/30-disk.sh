# 30-disk: a PV guest with a file-backed disk (loop device + blkback) reads a token
# dom0 wrote into the image, and writes it back; dom0 finds it in the file.
G=vmdt-disk
IMG=/var/lib/xen/vmdt-disk.img
TOKEN=VMDTEST-TOKEN-$(cat /proc/sys/kernel/random/uuid)

make_image() {
    dd if=/dev/zero of=$IMG bs=1M count=16 2>/dev/null
    printf '%s\n' "$TOKEN" | dd of=$IMG conv=notrunc 2>/dev/null
}

written_back() {
    dd if=$IMG bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | tee /dev/stderr |
        grep -q "^VMDTEST-ECHO $TOKEN"
}

loop_released() { [ -z "$(losetup -a)" ] || { losetup -a; false; }; }

step image make_image
step create xl_create pv-disk
step read wait_console $G "VMDTEST-DISK-READ $TOKEN"
step written wait_console $G 'VMDTEST-DISK-WRITTEN' 60
step in-file written_back
step destroy xl destroy $G
step destroy-gone wait_gone $G 10
step loop-released loop_released
rm -f $IMG
