#!/bin/bash
# xen-dom0.sh [BUILD]: optional. vmd's units on real Xen: a Debian dom0 with systemd as PID 1
# (not the hand-made init of tests/xen) under Xen 4.17 under QEMU, vmd built with the libxl
# backend (BUILD must have it; default build), one PV guest g1 started at boot by
# vmd-guest@g1, then `systemctl restart vmd`, `systemctl stop/start vmd-guest@g1`, a managed
# NAT network (bridge, dnsmasq, nftables) made, used by g2's vif and kept across a restart,
# all inside vmd.service's sandbox, and a poweroff, each checked against what Xen itself says
# (`xl list`) and the host's own tools (ip, nft).
#
# Not part of `make check`: it takes minutes, and tests/xen is the real-Xen tier. Prints
# "ok/not ok" lines and "systemd-xen: N passed, N failed".
# Environment: VMD_XEN_DOM0_TIMEOUT (QEMU's hard limit, s, default 900), VMD_SYSTEMD_KEEP=1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"
. "$HERE/lib.sh"

BUILD=$(cd "${1:-$REPO/build}" && pwd) || exit 2
TIMEOUT=${VMD_XEN_DOM0_TIMEOUT:-900}
XEN=4.17
# dom0 needs Xen's drivers, the loop and bridge drivers for guests' disks and vifs, and the
# initrd's virtio/ext4 set (loaded again from the root file system by nobody: harmless);
# nftables' for a managed NAT network (its masquerade and conntrack rules).
DOM0_MODULES="xenfs xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xen-blkback xen-netback
 loop llc stp bridge crc32c_generic libcrc32c nfnetlink nf_tables nf_conntrack nf_defrag_ipv4
 nf_defrag_ipv6 nf_nat nft_chain_nat nft_masq nft_ct"

finish() {
	summary systemd-xen
	exit $?
}

if [ "$(id -u)" -ne 0 ]; then
	not_ok "runs as root"
	finish
fi
grep -q VMD_HAVE_LIBXL "$BUILD/build.ninja" 2>/dev/null ||
	{ not_ok "$BUILD is built with the libxl backend (meson -Dlibxl=enabled)"; finish; }

kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
mirror() {
	awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u != "" { print u; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1
}
deb_of() { # PACKAGE: its .deb in the cache, downloaded when missing
	local f
	f=$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$f" ]; then
		(cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$1") >/dev/null ||
			die "apt-get download $1 failed"
		f=$(ls "$CACHE/debs/$1"_*.deb | head -n 1)
	fi
	echo "$f"
}

# ---- the cached dom0 base: Debian with systemd and Xen's toolstack ---------------------------
build_dom0_base() { # DIR
	local d=$1 kdeb kver x=$1/k m f
	say "debootstrap dom0 (minbase + systemd + Xen $XEN toolstack)"
	local pkgs=systemd,systemd-sysv,udev,kmod,xen-utils-$XEN,xenstore-utils,iproute2,bridge-utils
	pkgs+=,busybox-static,dnsmasq-base,nftables
	debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$pkgs" \
		bookworm "$d/rootfs" "$(mirror)" >"$d/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$d/debootstrap.log" >&2; return 1; }
	echo dom0 >"$d/rootfs/etc/hostname"
	echo '# / is mounted by the initrd' >"$d/rootfs/etc/fstab"
	rm -f "$d/rootfs/etc/initrd-release"
	mkdir -p "$d/rootfs/var/log/journal"
	systemctl --root="$d/rootfs" mask serial-getty@hvc0.service serial-getty@ttyS0.service \
		getty@tty1.service getty-static.service >/dev/null 2>&1
	kdeb=$(deb_of "$KPKG")
	mkdir -p "$x"
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$x" --wildcards './boot/vmlinuz-*' \
		'./lib/modules/*/modules.order' './lib/modules/*/modules.builtin' \
		'./lib/modules/*/modules.builtin.modinfo' \
		$(for m in $DOM0_MODULES; do echo "*/$m.ko"; done)
	kver=$(ls "$x/lib/modules")
	for m in $DOM0_MODULES; do
		f=$(cd "$x/lib/modules/$kver" && find . -name "$m.ko")
		[ -n "$f" ] || die "module $m not in $KPKG"
		install -D -m 644 "$x/lib/modules/$kver/$f" "$d/rootfs/lib/modules/$kver/$f"
	done
	cp "$x/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$d/rootfs/lib/modules/$kver/"
	depmod -b "$d/rootfs" "$kver"
	cp "$x/boot/vmlinuz-$kver" "$d/vmlinuz"
	dpkg -x "$(deb_of xen-hypervisor-$XEN-amd64)" "$x/xen"
	gunzip -c "$x/xen/boot/xen-$XEN-amd64.gz" >"$d/xen"
	rm -rf "$x" "$d/rootfs"/usr/share/{doc,man,info,locale}/* "$d/rootfs"/var/cache/apt/*.bin \
		"$d/rootfs"/var/cache/apt/archives/*.deb "$d/rootfs"/var/lib/apt/lists/*_Packages
}

# The PV test guest: Debian's kernel and a busybox initrd whose PID 1 answers Xen's shutdown
# request (Linux runs /sbin/poweroff, which signals PID 1).
build_guest() { # DIR
	local g=$1/guest-initrd a
	mkdir -p "$g"/{bin,sbin,proc,sys,dev}
	cp "$(command -v busybox)" "$g/bin/busybox"
	for a in $("$g/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$g/bin/$a"
	done
	cat >"$g/init" <<'EOF'
#!/bin/sh
PATH=/bin:/sbin
mount -t proc proc /proc
echo "VMDG-HELLO uptime=$(cut -d' ' -f1 /proc/uptime)"
trap 'echo "VMDG-POWEROFF uptime=$(cut -d" " -f1 /proc/uptime)"; sync; poweroff -f' USR2
while :; do sleep 3600 & wait $!; done
EOF
	printf '#!/bin/sh\nkill -USR2 1\n' >"$g/sbin/poweroff"
	chmod 755 "$g/init" "$g/sbin/poweroff"
	(cd "$g" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$1/guest-initrd.gz"
	rm -rf "$g"
}

mkdir -p "$CACHE/debs" "$CACHE/dom0" "$WORK"
exec 9>"$CACHE/.lock"
flock 9
KPKG=$(kernel_package)
[ -n "$KPKG" ] || die "apt cannot resolve linux-image-amd64"
# What shapes the base: the packages and the two functions that build it (not the rest of
# this script, so that editing the test does not debootstrap again).
key=$( { echo "$KPKG $XEN $DOM0_MODULES"; declare -f build_dom0_base build_guest; } |
	sha256sum | cut -c1-16)
dbase=$CACHE/dom0/$key
if [ ! -e "$dbase/.done" ]; then
	tmp=$CACHE/dom0/.tmp.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	if build_dom0_base "$tmp" && build_guest "$tmp"; then
		touch "$tmp/.done"
		rm -rf "$dbase" && mv "$tmp" "$dbase"
		find "$CACHE/dom0" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
	else
		rm -rf "$tmp"
		flock -u 9
		not_ok "dom0 base image (debootstrap with Xen's toolstack)"
		finish
	fi
fi
flock -u 9
ok "dom0 base image: Debian + systemd + xen-utils-$XEN ($dbase)"
# The initrd that mounts the root file system is the systemd tier's.
base=$(bash "$HERE/build-image.sh" | tail -n 1)

W=$(mktemp -d "$WORK/xen.XXXXXX") || exit 2
trap '[ "${VMD_SYSTEMD_KEEP:-0}" = 1 ] && say "kept $W" || rm -rf "$W"' EXIT
ROOT=$W/root
cp -a "$dbase/rootfs" "$ROOT"
if meson install -C "$BUILD" --destdir "$ROOT" >"$W/install.log" 2>&1; then
	ok "meson install (libxl build) into dom0"
else
	not_ok "meson install (libxl build) into dom0"
	diag "$W/install.log"
	finish
fi
vmd_bin=$(cd "$ROOT" && find . -path '*/sbin/vmd' -type f | head -n 1)
vmd_bin=${vmd_bin#.}
for b in "$vmd_bin" "${vmd_bin%/sbin/vmd}/bin/vmctl"; do
	ldd "$ROOT$b" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
		ls "$ROOT"/{lib,usr/lib}/x86_64-linux-gnu/"$name" >/dev/null 2>&1 && continue
		install -D -m 644 "$(readlink -f "$path")" "$ROOT/usr/lib/x86_64-linux-gnu/$name"
	done
done
ldconfig -r "$ROOT"
check "vmd (libxl) runs in the dom0 root" chroot "$ROOT" "$vmd_bin" --version
systemd-sysusers --root="$ROOT" >/dev/null 2>&1
tmpf=$(cd "$ROOT" && find . -path '*/tmpfiles.d/vmd.conf' | head -n 1)
systemd-tmpfiles --root="$ROOT" --create "$ROOT/${tmpf#./}" >/dev/null 2>&1
cp "$dbase/vmlinuz" "$ROOT/var/lib/vmd/images/vmlinuz"
cp "$dbase/guest-initrd.gz" "$ROOT/var/lib/vmd/images/initrd.gz"
# A file disk: its attach runs Xen's block hotplug script (losetup, locks in /run/xen-hotplug)
# as a child of vmd, inside vmd.service's sandbox.
truncate -s 16M "$ROOT/var/lib/vmd/images/g1.img"
mkdir -p "$ROOT/etc/vmd"
printf 'log_level = debug\n' >"$ROOT/etc/vmd/vmd.conf"
# Debian's xen service passes XENCONSOLED_ARGS: each guest's console goes to
# /var/log/xen/console/guest-NAME.log, where the test looks for the guest's markers.
echo 'XENCONSOLED_ARGS="--log=guest"' >>"$ROOT/etc/default/xen"
mkdir -p "$ROOT/var/log/xen/console"   # xenconsoled does not make it

# g1, defined against dom0's state dir (definitions do not depend on the backend).
: >"$W/empty.conf"
"$BUILD/daemon/vmd" --config "$W/empty.conf" --backend=sim --no-autostart \
	--state-dir "$ROOT/var/lib/vmd" --socket "$W/def.sock" --run-dir "$W/defrun" 2>"$W/def.log" &
dpid=$!
for _ in $(seq 100); do [ -S "$W/def.sock" ] && break; sleep 0.1; done
printf '%s\n' 'name = "g1"' 'kernel = "/var/lib/vmd/images/vmlinuz"' \
	'ramdisk = "/var/lib/vmd/images/initrd.gz"' 'memory = 128' 'extra = "console=hvc0 quiet"' \
	'disk = [ "/var/lib/vmd/images/g1.img,raw,xvda,rw" ]' |
	"$BUILD/client/vmctl" -s "$W/def.sock" define - >"$W/def.out" 2>&1
check "g1 defined in dom0's state dir" grep -q 'g1' "$W/def.out"
kill "$dpid"
wait "$dpid" 2>/dev/null
rm -rf "$ROOT/var/lib/vmd/sim"

install -D -m 755 "$HERE/guest/xen-dom0-test" "$ROOT/usr/local/libexec/vmd-test/xen-dom0-test"
install -D -m 755 "$HERE/guest/stop-mark" "$ROOT/usr/local/libexec/vmd-test/stop-mark"
sed 's|ExecStart=.*|ExecStart=/usr/local/libexec/vmd-test/xen-dom0-test|' \
	"$HERE/guest/units/vmd-test.service" >"$ROOT/etc/systemd/system/vmd-test.service"
install -m 644 "$HERE/guest/units/vmd-test-mark.service" "$ROOT/etc/systemd/system/"
for u in vmd-guest@.service vmd-guests.service; do
	install -D -m 644 "$HERE/guest/dropins/console.conf" "$ROOT/etc/systemd/system/$u.d/console.conf"
done
mkdir -p "$ROOT/var/lib/vmd-test"
# One unit per hardening setting of vmd.service, each reading what the libxl backend reads
# first; the dom0 test starts them and reports which setting hides Xen, if one does.
i=0
{
	echo "Type=oneshot"
	grep -E '^(Protect|Private|NoNew|Restrict|Lock|SystemCall|UMask|DeviceAllow|ReadWritePaths)' \
		"$BUILD/systemd/vmd.service"
} | while read -r prop; do
	i=$((i + 1))
	{
		echo "# property: $prop"
		echo "[Service]"
		echo "Type=oneshot"
		echo "$prop"
		echo "ExecStart=/bin/cat /proc/xen/capabilities"
	} >"$ROOT/etc/systemd/system/vmd-sbx-$i.service"
done
systemctl --root="$ROOT" enable vmd.socket vmd-guest@g1.service vmd-test.service \
	vmd-test-mark.service >"$W/enable.log" 2>&1
check "units enabled in dom0" test -L "$ROOT/etc/systemd/system/multi-user.target.wants/vmd-guest@g1.service"
mkfs.ext4 -q -F -L dom0root -d "$ROOT" "$W/root.ext4" 2G 2>"$W/mkfs.log"
rm -rf "$ROOT"

say "booting Xen + systemd dom0 (QEMU TCG, timeout ${TIMEOUT}s)"
t0=$(date +%s)
dom0_args="console=hvc0 earlyprintk=xen panic=-1 quiet systemd.show_status=1"
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt \
	-smp 2 -m 2048 -nodefaults -no-user-config -display none -monitor none -vga none \
	-serial stdio -net none -no-reboot \
	-kernel "$dbase/xen" \
	-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 loglvl=warning" \
	-initrd "$dbase/vmlinuz ${dom0_args//,/,,},$base/initrd.cpio.gz" \
	-drive "file=$W/root.ext4,if=virtio,format=raw,cache=unsafe" \
	</dev/null >"$W/console.log" 2>&1
qrc=$?
tr -d '\r' <"$W/console.log" >"$W/console.txt"
echo "# QEMU ran $(( $(date +%s) - t0 )) s, status $qrc"

# The dom0 test's results from its file on the disk (on the console systemd's status lines
# can swallow one), from the console if the file is not there.
debugfs -R 'cat /var/lib/vmd-test/results' "$W/root.ext4" >"$W/results" 2>/dev/null
if ! grep -q '^VMDX ' "$W/results"; then
	echo "# no /var/lib/vmd-test/results in dom0's disk: the results from the console"
	grep -a '^VMDX \(ok\|not ok\|RESULT\) ' "$W/console.txt" >"$W/results"
fi
while read -r word rest; do
	if [ "$word" = ok ]; then ok "dom0: ${rest#* - }"; else not_ok "dom0: ${rest#ok * - }"; fi
done < <(grep -a '^VMDX \(ok\|not ok\) ' "$W/results" | sed 's/^VMDX //')
grep -a '^VMDX #' "$W/console.txt" | sed 's/^VMDX //'
if grep -aq '^VMDX RESULT' "$W/results"; then
	ok "the dom0 test ran to its end"
else
	not_ok "the dom0 test ran to its end"
	tail -n 60 "$W/console.txt" | sed 's/^/# /'
fi
if [ $qrc -eq 0 ] && grep -aq 'reboot: Power down' "$W/console.txt"; then
	ok "dom0 powered off, Xen halted"
else
	not_ok "dom0 powered off, Xen halted (QEMU status $qrc)"
fi
debugfs -R 'cat /var/lib/vmd-test/stop-marks' "$W/root.ext4" >"$W/stop-marks" 2>/dev/null
debugfs -R 'cat /var/lib/vmd-test/xl-at-stop' "$W/root.ext4" >"$W/xl-at-stop" 2>/dev/null
check "poweroff: vmd had stopped after every guest unit" \
	grep -q '^guest-units inactive' "$W/stop-marks"
check "poweroff: once vmd had stopped, Xen ran no guest (xl list: Domain-0 only)" \
	sh -c "[ -s '$W/xl-at-stop' ] && ! grep -v -e '^Name' -e '^Domain-0' '$W/xl-at-stop' | grep -q ."
diag "$W/xl-at-stop"
finish
