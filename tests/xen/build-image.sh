#!/bin/bash
# build-image.sh BUILD_DIR [SCENARIO...]: Debian packages -> the files run.sh boots.
#
#   $WORK/boot/xen            the hypervisor (multiboot ELF, what QEMU's -kernel loads)
#   $WORK/boot/vmlinuz        Debian's kernel: dom0 and, as vmlinux, every test guest
#   $WORK/boot/dom0.cpio.gz   dom0's whole root file system, as an initramfs
#
# The initramfs has two layers, so that editing a scenario never rebuilds the big part:
#   base     cached in $CACHE/img/KEY: the unpacked .debs, kernel modules and the guest
#            material (vmlinux, busybox initrd, pygrub disk image, the installer ISOs).
#            KEY hashes the exact .deb file names and the files that shape the base.
#   overlay  rebuilt every run: dom0's init and test scripts, the scenarios, xl configs,
#            the project's binaries and any library of theirs that the base lacks.
# Linux unpacks concatenated cpio archives in order, so the initramfs is just the two
# archives back to back.
#
# SCENARIO names (basenames of scenarios/*.sh) are what dom0 runs; default: all.
set -euo pipefail
. "$(dirname "$0")/common.sh"

BUILD_DIR=${1:-$REPO_ROOT/build}
shift || true
DEBS=$CACHE/debs
BOOT=$WORK/boot

# Kernel modules (Debian's 6.1 has the rest of Xen built in: PV dom0, hvc0, xenbus, balloon).
# tun: qemu's tap for an HVM guest's emulated NIC; cdrom, isofs: scenarios mount an ISO;
# xfs (libcrc32c, crc32c_generic): scenario 68 keeps a guest's image on XFS with reflink.
DOM0_MODULES="xenfs xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xen-blkback xen-netback
 loop llc stp bridge tun cdrom isofs crc32c_generic libcrc32c xfs
 nfnetlink nf_tables nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 nf_nat nft_chain_nat nft_masq
 nft_ct veth"
GUEST_MODULES="xen-blkfront xen-netfront"
# The HVM installer reads its CD on the emulated IDE (ata_piix, sr_mod, isofs) and has
# sd_mod for a disk Linux did not unplug; in load order (guest/installer-init loads them).
HVM_INSTALLER_MODULES="scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs
 crct10dif_common crc-t10dif crc64 crc64-rocksoft t10-pi sd_mod"
# The cloud image's initrd (guest/cloud-initrd-init loads them in this order): its ext4
# root, isofs for the NoCloud seed, blkfront.
CLOUD_MODULES="crc32c_generic crc16 mbcache jbd2 ext4 cdrom isofs xen-blkfront"

# ---------------------------------------------------------------- packages

package_list() {  # [LIST]: dom0-packages.txt or cloud-packages.txt
    sed 's/#.*//' "$XEN_DIR/${1:-dom0-packages.txt}" | tr -s ' \t' '\n\n' | sed '/^$/d' | awk '!seen[$0]++'
}

kernel_package() {  # what linux-image-amd64 points to, e.g. linux-image-6.1.0-56-amd64
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Writes "package file" lines for the current candidates to $WORK/manifest (dom0, its
# kernel and Xen) and $WORK/cloud-manifest (the cloud image of scenario 72).
# Falls back to the last manifests when apt cannot answer but the cache holds their files.
resolve_packages() {
    local kpkg
    kpkg=$(kernel_package)
    if [ -z "$kpkg" ]; then
        say "apt-get update (no package lists yet)"
        apt-get update -qq >/dev/null || true
        kpkg=$(kernel_package)
    fi
    # shellcheck disable=SC2046  # one word per package
    if [ -n "$kpkg" ] &&
       apt-get download --print-uris "$kpkg" "xen-hypervisor-$XEN_VERSION-amd64" $(package_list) \
           > "$WORK/uris" 2> "$WORK/uris.err" &&
       apt-get download --print-uris $(package_list cloud-packages.txt) \
           > "$WORK/cloud-uris" 2>> "$WORK/uris.err"; then
        awk '{ f = $2; p = f; sub(/_.*/, "", p); print p, f }' "$WORK/uris" > "$WORK/manifest"
        awk '{ f = $2; p = f; sub(/_.*/, "", p); print p, f }' "$WORK/cloud-uris" \
            > "$WORK/cloud-manifest"
        echo "$kpkg" > "$WORK/kernel-package"
        cp "$WORK/manifest" "$CACHE/last-manifest"
        cp "$WORK/cloud-manifest" "$CACHE/last-cloud-manifest"
        cp "$WORK/kernel-package" "$CACHE/last-kernel-package"
        return 0
    fi
    [ -s "$CACHE/last-manifest" ] && [ -s "$CACHE/last-cloud-manifest" ] ||
        { cat "$WORK/uris.err" >&2; die "cannot resolve packages"; }
    say "WARNING: apt could not resolve the packages; using the last manifests from the cache"
    cp "$CACHE/last-manifest" "$WORK/manifest"
    cp "$CACHE/last-cloud-manifest" "$WORK/cloud-manifest"
    cp "$CACHE/last-kernel-package" "$WORK/kernel-package"
}

deb() { echo "$DEBS/$(awk -v p="$1" '$1 == p { print $2 }' "$WORK/manifest")"; }

fetch_packages() {
    local missing=() pkg file
    while read -r pkg file; do
        [ -s "$DEBS/$file" ] || missing+=("$pkg")
    done < <(cat "$WORK/manifest" "$WORK/cloud-manifest")
    [ ${#missing[@]} -eq 0 ] && return 0
    say "downloading ${#missing[@]} packages into $DEBS"
    # A stale package list names versions the mirror no longer has: update once, retry.
    (cd "$DEBS" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}") >/dev/null ||
        { apt-get update -qq >/dev/null && resolve_packages &&
          (cd "$DEBS" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}") >/dev/null; } ||
        die "apt-get download failed"
}

# Drops .debs no longer in the manifest (superseded versions), so the cache stays one set.
prune_packages() {
    local f
    for f in "$DEBS"/*.deb; do
        [ -e "$f" ] || continue
        awk -v f="${f##*/}" '$2 == f { found = 1 } END { exit !found }' \
            "$WORK/manifest" "$WORK/cloud-manifest" || rm -f "$f"
    done
}

# ---------------------------------------------------------------- base image

image_key() {
    (
        sort "$WORK/manifest"
        sort "$WORK/cloud-manifest"
        cd "$XEN_DIR" && sha256sum build-image.sh guest/*
    ) | sha256sum | cut -c1-16
}

# Only the kernel image and the few modules we use: the full module tree is ~390 MB.
extract_kernel() {  # DIR
    local kver=$1/kver
    # shellcheck disable=SC2046  # one pattern per module
    dpkg-deb --fsys-tarfile "$(deb "$(cat "$WORK/kernel-package")")" |
        tar -x -C "$1" --wildcards './boot/vmlinuz-*' './lib/modules/*/modules.order' \
            './lib/modules/*/modules.builtin' './lib/modules/*/modules.builtin.modinfo' \
            $(for m in $DOM0_MODULES $GUEST_MODULES $HVM_INSTALLER_MODULES $CLOUD_MODULES; do echo "*/$m.ko"; done | sort -u)
    ls "$1/lib/modules" > "$kver"
    mv "$1/boot/vmlinuz-$(cat "$kver")" "$1/vmlinuz"
    # QEMU's -kernel takes a multiboot ELF: the gunzipped xen.gz is exactly that.
    dpkg -x "$(deb "xen-hypervisor-$XEN_VERSION-amd64")" "$1/xen-pkg"
    gunzip -c "$1/xen-pkg/boot/xen-$XEN_VERSION-amd64.gz" > "$1/xen"
}

# The bzImage carries an xz-compressed ELF. libxenguest would decompress it for every
# guest; booting the plain ELF saves about a second per guest under TCG.
extract_vmlinux() {  # BZIMAGE OUT
    local off
    off=$(LC_ALL=C grep -obUaP -m1 '\xfd7zXZ\x00' "$1" | head -n1 | cut -d: -f1) || true
    [ -n "$off" ] || die "no xz payload in $1"
    # xz stops after the first stream; tail then dies of SIGPIPE, which is expected.
    tail -c +$((off + 1)) "$1" | xz -dc --single-stream > "$2" 2>/dev/null || true
    [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || die "vmlinux extraction failed"
}

unpack_rootfs() {  # ROOT
    local pkg file
    while read -r pkg file; do
        case $pkg in linux-image-*|xen-hypervisor-*) continue ;; esac
        dpkg -x "$DEBS/$file" "$1"
    done < "$WORK/manifest"
    rm -rf "$1"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion,zsh,fish} \
           "$1"/usr/lib/xen-$XEN_VERSION/boot/xen-shim "$1"/usr/lib/python3.11/{test,idlelib,ensurepip}
    # busybox fills in every command the packages did not bring (mount, modprobe, poweroff...)
    local applet name
    for applet in $("$1/bin/busybox" --list-full); do
        name=${applet##*/}
        [ -e "$1/bin/$name" ] || [ -e "$1/sbin/$name" ] || [ -e "$1/usr/bin/$name" ] ||
            [ -e "$1/usr/sbin/$name" ] || { mkdir -p "$1/${applet%/*}"; ln -s /bin/busybox "$1/$applet"; }
    done
}

install_dom0_modules() {  # ROOT KDIR
    local kver src f m
    kver=$(cat "$2/kver")
    src=$2/lib/modules/$kver
    for m in $DOM0_MODULES; do
        f=$(cd "$src" && find . -name "$m.ko")
        [ -n "$f" ] || die "module $m not in the kernel package"
        install -D -m 644 "$src/$f" "$1/lib/modules/$kver/$f"
    done
    cp "$src"/modules.{order,builtin,builtin.modinfo} "$1/lib/modules/$kver/"
    depmod -b "$1" "$kver"
}

configure_rootfs() {  # ROOT
    # libc-bin is not unpacked, so build the loader cache here; xl's private libs live
    # in /usr/lib/xen-4.17/lib.
    echo 'include /etc/ld.so.conf.d/*.conf' > "$1/etc/ld.so.conf"
    mkdir -p "$1/etc/ld.so.conf.d"
    echo "/usr/lib/xen-$XEN_VERSION/lib/x86_64-linux-gnu" > "$1/etc/ld.so.conf.d/xen.conf"
    ldconfig -r "$1"
    # sshd (scenario 64) and dnsmasq (70) drop privileges to their own users, as Debian's
    # packages make them
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'sshd:x:100:65534::/run/sshd:/usr/sbin/nologin' \
        'dnsmasq:x:101:65534:dnsmasq:/var/lib/misc:/usr/sbin/nologin' \
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' > "$1/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$1/etc/group"
    printf '127.0.0.1 localhost\n' > "$1/etc/hosts"  # ssh localhost (scenario 64)
    mkdir -p "$1"/{proc,sys,dev,run,tmp,root,var/lib/xen,var/log/xen/console,var/lib/xenstored}
    ln -sfn /run "$1/var/run"
    ln -sfn /run/lock "$1/var/lock"   # xenconsole (xl console) locks /var/lock/xenconsole.DOMID
}

cpio_gz() {  # DIR LEVEL: the directory as a gzip'd newc cpio archive, on stdout
    (cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip "-$2")
}

# A busybox root for the test guests: every applet, and /sbin/poweroff, reboot and halt.
busybox_tree() {  # ROOT(dom0, for busybox) DIR
    local applet m
    rm -rf "$2" && mkdir -p "$2"/{bin,sbin,proc,sys,dev,tmp,lib/modules}
    cp "$1/bin/busybox" "$2/bin/busybox"
    for applet in $("$2/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$2/bin/$applet"
    done
    # Linux answers a Xen shutdown/reboot request by running /sbin/poweroff or /sbin/reboot
    # (orderly_poweroff/orderly_reboot); these hand the request to PID 1.
    for m in poweroff reboot halt; do install -m 755 "$XEN_DIR/guest/shutdown-request" "$2/sbin/$m"; done
}

guest_modules() {  # KDIR DIR MODULE...
    local src dir=$2 m f
    src=$1/lib/modules/$(cat "$1/kver")
    shift 2
    for m in "$@"; do
        f=$(find "$src" -name "$m.ko")
        [ -n "$f" ] || die "module $m not in the kernel package"
        cp "$f" "$dir/lib/modules/"
    done
}

# The test guest: busybox, our /init, and the two frontend modules.
build_guest_initrd() {  # ROOT(dom0, for busybox) KDIR OUT
    local g=$WORK/guest-initrd
    busybox_tree "$1" "$g"
    install -m 755 "$XEN_DIR/guest/init" "$g/init"
    # shellcheck disable=SC2086
    guest_modules "$2" "$g" $GUEST_MODULES
    cpio_gz "$g" 9 > "$3"
    rm -rf "$g"
}

# An installer's initrd: busybox, guest/installer-init as /init, the modules it needs and,
# for the PV installer, the system it installs (/install/disk.img.gz).
build_installer_initrd() {  # ROOT KDIR OUT PAYLOAD|- MODULE...
    local g=$WORK/installer-initrd
    busybox_tree "$1" "$g"
    install -m 755 "$XEN_DIR/guest/installer-init" "$g/init"
    guest_modules "$2" "$g" "${@:5}"
    if [ "$4" != - ]; then
        mkdir -p "$g/install"
        gzip -9 < "$4" > "$g/install/disk.img.gz"
    fi
    cpio_gz "$g" 9 > "$3"
    rm -rf "$g"
}

# A raw disk with an MBR partition table and one ext4 partition holding /boot/grub/grub.cfg,
# a kernel and the initrd: what pygrub expects of a real guest disk. mkfs.ext4 -d fills the
# file system from a directory, so no loop device or mount is needed on the host.
build_pygrub_disk() {  # KDIR INITRD GRUB_CFG OUT
    local d=$WORK/pygrub-root size_mb=32
    rm -rf "$d" && mkdir -p "$d/boot/grub"
    cp "$1/vmlinuz" "$d/boot/vmlinuz"
    cp "$2" "$d/boot/initrd.gz"
    cp "$3" "$d/boot/grub/grub.cfg"
    rm -f "$4" && truncate -s ${size_mb}M "$4"
    echo 'start=2048, type=83, bootable' | sfdisk -q "$4"
    mkfs.ext4 -q -F -L vmdtest -E offset=$((2048 * 512)) -d "$d" "$4" $((size_mb - 1))M
    rm -rf "$d"
}

# Debian's layout for a Xen PV install: the ISO's install.amd/xen/{vmlinuz,initrd.gz} are
# what a toolstack boots (vmd looks for them there); nothing boots the ISO itself. The
# installer writes the pygrub-style disk below onto xvda.
build_pv_installer_iso() {  # ROOT KDIR GUEST_INITRD OUT
    local d=$WORK/pv-installer
    rm -rf "$d" && mkdir -p "$d/install.amd/xen"
    build_pygrub_disk "$2" "$3" "$XEN_DIR/guest/installed-pv.grub.cfg" "$WORK/installed-pv.img"
    cp "$2/vmlinuz" "$d/install.amd/xen/vmlinuz"
    build_installer_initrd "$1" "$2" "$d/install.amd/xen/initrd.gz" "$WORK/installed-pv.img" xen-blkfront
    rm -f "$4"
    xorriso -as mkisofs -quiet -R -J -V VMDTEST_PV_INSTALLER -o "$4" "$d" 2> "$WORK/xorriso.log" ||
        { cat "$WORK/xorriso.log" >&2; die "xorriso failed"; }
    rm -rf "$d" "$WORK/installed-pv.img"
}

# grub-mkrescue (BIOS only: grub-pc-bin) of DIR, which holds boot/grub/grub.cfg and the
# files it names. The image is an El Torito CD and, through its hybrid MBR, a hard disk.
# Only the grub modules the grub.cfg files here need; no fonts, locales or themes.
grub_image() {  # DIR OUT
    rm -f "$2"
    grub-mkrescue -o "$2" --install-modules="linux normal iso9660 biosdisk part_msdos search
        search_fs_uuid serial terminal echo test" --fonts= --locales= --themes= \
        "$1" > "$WORK/grub-mkrescue.log" 2>&1 || { cat "$WORK/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }
}

# The grub-mkrescue volume id, which is also the UUID grub searches for its own files:
# the ISO's modification time, to the centisecond (primary volume descriptor, byte 813).
iso_uuid() { dd if="$1" bs=1 skip=$((32768 + 813)) count=16 2>/dev/null; }

# HVM: the installed system is a hybrid grub image booting the test guest (console=ttyS0);
# the installer CD carries it as install/disk.img, next to the kernel and the installer's
# initrd that grub boots.
build_hvm_installer_iso() {  # ROOT KDIR GUEST_INITRD OUT
    local d=$WORK/hvm-installed i
    rm -rf "$d" && mkdir -p "$d/boot/grub"
    cp "$2/vmlinuz" "$d/boot/vmlinuz"
    cp "$3" "$d/boot/initrd.gz"
    cp "$XEN_DIR/guest/installed-hvm.grub.cfg" "$d/boot/grub/grub.cfg"
    grub_image "$d" "$WORK/installed-hvm.img"
    rm -rf "$d"

    d=$WORK/hvm-installer
    rm -rf "$d" && mkdir -p "$d/boot/grub" "$d/install"
    cp "$2/vmlinuz" "$d/boot/vmlinuz"
    # shellcheck disable=SC2086
    build_installer_initrd "$1" "$2" "$d/boot/installer.gz" - xen-blkfront $HVM_INSTALLER_MODULES
    cp "$XEN_DIR/guest/hvm-installer.grub.cfg" "$d/boot/grub/grub.cfg"
    mv "$WORK/installed-hvm.img" "$d/install/disk.img"
    # grub on the CD must not find its files on an installed disk: the two UUIDs differ.
    for i in 1 2 3; do
        grub_image "$d" "$4"
        [ "$(iso_uuid "$4")" != "$(iso_uuid "$d/install/disk.img")" ] && break
        sleep 1
    done
    [ "$(iso_uuid "$4")" != "$(iso_uuid "$d/install/disk.img")" ] || die "grub-mkrescue: same UUID twice"
    rm -rf "$d"
}

# The cloud image of scenario 72: a small Debian system with cloud-init, unpacked from
# cloud-packages.txt, on a raw disk as a distribution's cloud image is (an MBR, one ext4
# partition, grub.cfg, kernel and initrd in /boot for pygrub). Stored gzip'd: the dom0
# image is a cpio archive, which keeps no holes.
build_cloud_image() {  # ROOT(dom0, for busybox) KDIR OUT
    local r=$WORK/cloud-root g=$WORK/cloud-initrd pkg file size_mb=448
    rm -rf "$r" && mkdir -p "$r"
    while read -r pkg file; do dpkg -x "$DEBS/$file" "$r"; done < "$WORK/cloud-manifest"
    rm -rf "$r"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion,zsh,fish} \
           "$r"/usr/lib/python3.11/{test,idlelib,ensurepip,tkinter,lib2to3}
    # what the packages' maintainer scripts would have made
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
        > "$r/etc/passwd"
    printf 'root:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n' > "$r/etc/shadow"
    chmod 640 "$r/etc/shadow"
    # Debian's base groups (cloud-init's default user joins some of them)
    printf '%s\n' root:x:0: adm:x:4: dialout:x:20: cdrom:x:24: floppy:x:25: sudo:x:27: \
        audio:x:29: dip:x:30: video:x:44: plugdev:x:46: users:x:100: netdev:x:101: \
        nogroup:x:65534: > "$r/etc/group"
    sed 's/:x:[0-9]*:$/:*::/' "$r/etc/group" > "$r/etc/gshadow"
    echo debian > "$r/etc/hostname"
    printf '127.0.0.1 localhost\n' > "$r/etc/hosts"
    printf '/dev/xvda1 / ext4 defaults 0 1\n' > "$r/etc/fstab"
    # What Debian's debconf answer for cloud-init would say, and what the image lacks: no
    # sshd (cloud-init makes the host key an sshd would use, ed25519 only: RSA's is slow
    # under TCG), no dpkg, apt, locales or grub (their config modules are left out; a
    # chroot run showed each failing, and any failure is cloud-init's "status: error"), no
    # ifupdown, netplan or networkd for cloud-init to render a network config for (the
    # guest's vif stays unconfigured).
    mkdir -p "$r/etc/cloud/cloud.cfg.d"
    printf '%s\n' 'datasource_list: [ NoCloud, None ]' 'ssh_genkeytypes: [ ed25519 ]' \
        'cloud_config_modules: [ ssh-import-id, keyboard, set-passwords, ntp, timezone,' \
        '  disable-ec2-metadata, runcmd ]' 'network: { config: disabled }' \
        > "$r/etc/cloud/cloud.cfg.d/90-vmdtest.cfg"
    ln -sf mawk "$r/usr/bin/awk"  # update-alternatives' link (growpart runs awk)
    ldconfig -r "$r"
    # Python compiles each module on its first import: done here, not in a TCG guest (one
    # process: a chroot has no /dev/shm for a pool).
    chroot "$r" /usr/bin/python3.11 -m compileall -q -j 1 /usr/lib/python3/dist-packages \
        /usr/lib/python3.11 > /dev/null || die "compileall failed in the cloud image"
    install -m 755 "$XEN_DIR/guest/cloud-image-init" "$r/sbin/init"
    for m in poweroff reboot halt; do
        rm -f "$r/sbin/$m"
        install -m 755 "$XEN_DIR/guest/shutdown-request" "$r/sbin/$m"
    done
    mkdir -p "$r"/{proc,sys,dev,run,tmp,var/tmp,root,home,var/lib,boot/grub}
    cp "$2/vmlinuz" "$r/boot/vmlinuz"
    cp "$XEN_DIR/guest/cloud-image.grub.cfg" "$r/boot/grub/grub.cfg"
    busybox_tree "$1" "$g"
    install -m 755 "$XEN_DIR/guest/cloud-initrd-init" "$g/init"
    # shellcheck disable=SC2086
    guest_modules "$2" "$g" $CLOUD_MODULES
    cpio_gz "$g" 9 > "$r/boot/initrd.gz"
    rm -rf "$g"
    local disk=$WORK/cloud.img
    rm -f "$disk" && truncate -s ${size_mb}M "$disk"
    echo 'start=2048, type=83, bootable' | sfdisk -q "$disk"
    mkfs.ext4 -q -F -L cloudimg-rootfs -E offset=$((2048 * 512)) -d "$r" "$disk" $((size_mb - 1))M
    gzip -1 < "$disk" > "$3"
    rm -rf "$r" "$disk"
}

build_base() {  # DIR
    local tmp=$1.tmp.$$ root
    rm -rf "$tmp" && mkdir -p "$tmp/k"
    root=$tmp/root
    extract_kernel "$tmp/k"
    say "kernel $(cat "$tmp/k/kver"), xen $XEN_VERSION extracted"
    unpack_rootfs "$root"
    install_dom0_modules "$root" "$tmp/k"
    configure_rootfs "$root"
    say "dom0 rootfs unpacked ($(du -sh "$root" | cut -f1))"

    mkdir -p "$root/vmdtest/guest"
    extract_vmlinux "$tmp/k/vmlinuz" "$root/vmdtest/guest/vmlinux"
    build_guest_initrd "$root" "$tmp/k" "$root/vmdtest/guest/initrd.gz"
    build_pygrub_disk "$tmp/k" "$root/vmdtest/guest/initrd.gz" "$XEN_DIR/guest/grub.cfg" \
        "$root/vmdtest/guest/pygrub.img"
    build_pv_installer_iso "$root" "$tmp/k" "$root/vmdtest/guest/initrd.gz" \
        "$root/vmdtest/guest/pv-installer.iso"
    build_hvm_installer_iso "$root" "$tmp/k" "$root/vmdtest/guest/initrd.gz" \
        "$root/vmdtest/guest/hvm-installer.iso"
    build_cloud_image "$root" "$tmp/k" "$root/vmdtest/guest/cloud.img.gz"
    say "guest material built: $(cd "$root/vmdtest/guest" && du -h -- * | awk '{ printf "%s%s %s", s, $2, $1; s = ", " }')"

    # Sonames present in dom0, so the overlay adds only what is missing.
    find "$root" -name 'lib*.so*' \( -type f -o -type l \) -printf '%f\n' | sort -u > "$tmp/sonames"
    cpio_gz "$root" 1 > "$tmp/base.cpio.gz"
    mv "$tmp/k/xen" "$tmp/k/vmlinuz" "$tmp/k/kver" "$tmp/"
    rm -rf "$root" "$tmp/k"
    mv "$tmp" "$1"
    say "base image cached: $1 ($(du -h "$1/base.cpio.gz" | cut -f1))"
}

# ---------------------------------------------------------------- overlay

# Copies BIN to dom0's /usr/local/bin and every library in its ldd closure that dom0
# lacks to /usr/lib/x86_64-linux-gnu (a directory ld.so searches without a cache entry).
add_binary() {  # OVERLAY SONAMES BIN
    local deps name path
    install -D -m 755 "$3" "$1/usr/local/bin/${3##*/}"
    deps=$(ldd "$3" 2>&1) || true
    case $deps in *"not found"*) echo "$deps" >&2; die "${3##*/}: unresolved libraries on the host" ;; esac
    while read -r name path; do
        grep -qxF "$name" "$2" && continue
        [ -e "$1/usr/lib/x86_64-linux-gnu/$name" ] && continue
        say "  + $name (from the host, not in dom0's packages)"
        install -D -m 644 "$(readlink -f "$path")" "$1/usr/lib/x86_64-linux-gnu/$name"
    done < <(echo "$deps" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
}

# The libxl check normally comes from the meson build (tests/xen/meson.build); without
# one, build it here so the tier still runs on its own.
fallback_libxl_check() {  # OUT
    say "no $BUILD_DIR/tests/xen/xen-libxl-check: compiling libxl-check.c directly"
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -Wall -Wextra -Werror -o "$1" "$XEN_DIR/libxl-check.c" \
        $(pkg-config --cflags --libs xenlight xentoollog)
}

build_overlay() {  # BASE_DIR SCENARIO...
    local base=$1 o=$WORK/overlay f
    shift
    rm -rf "$o" && mkdir -p "$o/vmdtest/scenarios" "$o/vmdtest/cfg" "$o/usr/local/bin"
    install -m 755 "$XEN_DIR/dom0/init" "$o/init"
    install -m 755 "$XEN_DIR/dom0/run-scenarios.sh" "$o/vmdtest/"
    install -m 644 "$XEN_DIR/dom0/lib.sh" "$o/vmdtest/"
    install -m 644 "$XEN_DIR"/scenarios/*.sh "$o/vmdtest/scenarios/"
    install -m 644 "$XEN_DIR"/cfg/*.cfg "$o/vmdtest/cfg/"
    # xl as the oracle (scenario 48): the configs and the differential test of tests/xl-oracle
    mkdir -p "$o/vmdtest/oracle/corpus" "$o/vmdtest/oracle/cases"
    install -m 644 "$REPO_ROOT"/tests/xlcfg-corpus/*.cfg "$o/vmdtest/oracle/corpus/"
    install -m 644 "$REPO_ROOT"/tests/xl-oracle/cases/*.cfg "$o/vmdtest/oracle/cases/"
    install -m 644 "$REPO_ROOT"/tests/xl-oracle/differences \
        "$REPO_ROOT"/tests/xl-oracle/test-differential.py "$o/vmdtest/oracle/"
    # Settings for dom0, read by run-scenarios.sh.
    {
        echo "SCENARIOS='$*'"
        echo "FAIL_MARKER='${VMD_XEN_FAIL_MARKER:-}'"
        echo "STEP_TIMEOUT='${VMD_XEN_STEP_TIMEOUT:-300}'"
        echo "MARKER_TIMEOUT='${VMD_XEN_MARKER_TIMEOUT:-150}'"
        echo "INTERACTIVE='${VMD_XEN_INTERACTIVE:-0}'"
        echo "HVM_FULL='${VMD_XEN_HVM_FULL:-1}'"
        echo "BENCH='${VMD_XEN_BENCH:-0}'"
        echo "BENCH_GUESTS='${VMD_XEN_BENCH_GUESTS:-100}'"
    } > "$o/vmdtest/config"

    for f in "$BUILD_DIR/daemon/vmd" "$BUILD_DIR/client/vmctl"; do
        [ -x "$f" ] && { say "dom0 gets ${f#"$REPO_ROOT"/}"; add_binary "$o" "$base/sonames" "$f"; }
    done
    if [ -d "$BUILD_DIR/tests/xen" ]; then
        for f in "$BUILD_DIR"/tests/xen/*; do
            { [ -f "$f" ] && [ -x "$f" ]; } || continue
            say "dom0 gets ${f#"$REPO_ROOT"/}"
            add_binary "$o" "$base/sonames" "$f"
        done
    fi
    if [ ! -x "$o/usr/local/bin/xen-libxl-check" ]; then
        fallback_libxl_check "$WORK/xen-libxl-check"
        add_binary "$o" "$base/sonames" "$WORK/xen-libxl-check"
    fi
    cpio_gz "$o" 1 > "$WORK/overlay.cpio.gz"
}

# ---------------------------------------------------------------- main

main() {
    local key base scenarios=("$@")
    if [ ${#scenarios[@]} -eq 0 ]; then
        for f in "$XEN_DIR"/scenarios/[0-9]*.sh; do scenarios+=("$(basename "$f" .sh)"); done
    fi
    mkdir -p "$DEBS" "$CACHE/img" "$WORK" "$BOOT"
    ensure_host_tools
    # Serialise runs that share the cache; each run still has its own work dir.
    exec 9> "$CACHE/.lock"
    flock 9
    resolve_packages
    fetch_packages
    prune_packages
    key=$(image_key)
    base=$CACHE/img/$key
    if [ -s "$base/base.cpio.gz" ]; then
        say "base image: cached ($key)"
    else
        say "base image: building ($key)"
        build_base "$base"
        # keep only the current base image
        find "$CACHE/img" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
    fi
    build_overlay "$base" "${scenarios[@]}"
    cp "$base/xen" "$base/vmlinuz" "$BOOT/"
    cat "$base/base.cpio.gz" "$WORK/overlay.cpio.gz" > "$BOOT/dom0.cpio.gz"
    flock -u 9
    say "image ready: $BOOT/dom0.cpio.gz ($(du -h "$BOOT/dom0.cpio.gz" | cut -f1))"
}

main "$@"
