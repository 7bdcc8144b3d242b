#!/bin/bash
# build-image.sh: the cached part of the systemd tier's image, in $CACHE/base/KEY/:
#
#   rootfs/          Debian bookworm, debootstrap minbase + systemd + udev: systemd as PID 1
#   vmlinuz          Debian's kernel
#   initrd.cpio.gz   busybox and the modules that mount an ext4 root from virtio-blk
#
# KEY hashes this script and the kernel package, so editing either rebuilds; run.sh adds
# vmd and the test to a copy of rootfs/ on every run. The .debs stay in $CACHE/debs, so a
# rebuild downloads nothing. Prints the base directory on the last line of stdout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

# Modules of the hand-made initrd, in load order: ext4 on virtio-blk. Debian builds them as
# modules; there is no modprobe in the initrd, so dependencies come first (crc32c before
# ext4 is not in modules.dep: ext4 asks for it by name through the crypto API).
INITRD_MODULES="crc32c_generic virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
 virtio_pci virtio_blk jbd2 mbcache crc16 ext4"

mirror() {  # the Debian mirror apt uses here (deb822 or one-line sources)
    local u
    u=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u != "" { print u; exit }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)
    [ -n "$u" ] || u=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    [ -n "$u" ] || die "no Debian bookworm mirror in the apt sources"
    echo "$u"
}

kernel_package() {  # what linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

build_rootfs() {  # ROOT WORKDIR
    say "debootstrap (minbase + systemd) from $MIRROR"
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" \
        --include=systemd,systemd-sysv,udev bookworm "$1" "$MIRROR" > "$2/debootstrap.log" 2>&1 ||
        { tail -n 20 "$2/debootstrap.log" >&2; die "debootstrap failed"; }
    echo vmdtest > "$1/etc/hostname"
    # No fstab entry for /: the initrd mounts it read-write already.
    echo '# / is mounted by the initrd' > "$1/etc/fstab"
    rm -f "$1/etc/initrd-release"   # or systemd would think it runs in an initrd
    # The journal on disk, so that the host can read it back after poweroff.
    mkdir -p "$1/var/log/journal"
    # Nothing asks for a login on the consoles.
    systemctl --root="$1" mask serial-getty@ttyS0.service getty@tty1.service \
        getty-static.service >/dev/null 2>&1
    rm -rf "$1"/usr/share/{doc,man,info,locale}/* "$1"/var/cache/apt/*.bin \
        "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages \
        "$1"/var/lib/apt/lists/*Release* "$1"/var/log/*.log
}

# The kernel image and only the modules the initrd needs (the whole tree is ~390 MB).
build_kernel() {  # DIR
    local kdeb kver m f x=$1/k
    kdeb=$(ls "$CACHE/debs/${KPKG}"_*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$kdeb" ]; then
        say "downloading $KPKG"
        (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG") >/dev/null ||
            die "apt-get download $KPKG failed"
        kdeb=$(ls "$CACHE/debs/${KPKG}"_*.deb | head -n 1)
    fi
    mkdir -p "$x"
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$x" --wildcards './boot/vmlinuz-*' \
        './lib/modules/*/modules.order' './lib/modules/*/modules.builtin' \
        $(for m in $INITRD_MODULES; do echo "*/$m.ko"; done)
    kver=$(ls "$x/lib/modules")
    mv "$x/boot/vmlinuz-$kver" "$1/vmlinuz"
    local ir=$1/initrd
    mkdir -p "$ir"/{bin,dev,proc,sys,newroot,mods}
    cp "$(command -v busybox)" "$ir/bin/busybox"
    : > "$ir/mods/order"
    for m in $INITRD_MODULES; do
        f=$(find "$x/lib/modules/$kver" -name "$m.ko" | head -n 1)
        if [ -n "$f" ]; then
            cp "$f" "$ir/mods/" && echo "$m.ko" >> "$ir/mods/order"
        elif ! grep -q "/$m.ko\$" "$x/lib/modules/$kver/modules.builtin"; then
            die "module $m neither in $KPKG nor built in"
        fi
    done
    install -m 755 "$HERE/guest/initrd-init" "$ir/init"
    (cd "$ir" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$1/initrd.cpio.gz"
    echo "$kver" > "$1/kernel-version"
    rm -rf "$x" "$ir"
}

main() {
    local key base tmp
    for tool in debootstrap:debootstrap busybox:busybox-static mkfs.ext4:e2fsprogs \
                cpio:cpio qemu-system-x86_64:qemu-system-x86 debugfs:e2fsprogs flock:util-linux; do
        command -v "${tool%%:*}" >/dev/null ||
            die "${tool%%:*} is missing (Debian package ${tool#*:}; scripts/install-deps.sh)"
    done
    mkdir -p "$CACHE/debs" "$CACHE/base"
    exec 9> "$CACHE/.lock"
    flock 9
    KPKG=$(kernel_package)
    if [ -z "$KPKG" ]; then
        apt-get update -qq >/dev/null || true
        KPKG=$(kernel_package)
    fi
    [ -n "$KPKG" ] || die "apt cannot resolve linux-image-amd64"
    # Contents, not paths: a copy of the tree shares the cache.
    key=$( { echo "$KPKG"; cat "$HERE/build-image.sh" "$HERE/guest/initrd-init"; } |
        sha256sum | cut -c1-16)
    base=$CACHE/base/$key
    if [ -e "$base/.done" ]; then
        say "base image: cached ($base)"
    else
        MIRROR=$(mirror)
        tmp=$CACHE/base/.tmp.$$
        rm -rf "$tmp" && mkdir -p "$tmp"
        build_rootfs "$tmp/rootfs" "$tmp"
        build_kernel "$tmp"
        touch "$tmp/.done"
        rm -rf "$base" && mv "$tmp" "$base"
        # Keep only the current base.
        find "$CACHE/base" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
        say "base image built: $base (rootfs $(du -sh "$base/rootfs" | cut -f1))"
    fi
    flock -u 9
    echo "$base"
}

main "$@"
