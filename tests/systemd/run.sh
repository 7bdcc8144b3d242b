#!/bin/bash
# run.sh [BUILD]: the systemd tier. A Debian system with systemd as PID 1 boots under QEMU
# (TCG) with vmd installed from BUILD (`meson install`), the sim backend, vmd's units and
# four guests defined; the in-guest test (guest/vmd-systemd-test) checks socket activation,
# readiness, autostart at boot through vmd-guest@ and vmd-guests.service, access from real
# uids, `systemctl stop vmd-guest@`, `systemctl restart vmd`; then the machine powers off
# and this script reads back from the disk image what the shutdown did: every guest shut down
# cleanly, before vmd stopped.
#
# Prints "ok N - ..." / "not ok N - ..." and ends with "systemd: N passed, N failed".
# Environment: VMD_SYSTEMD_TIMEOUT (QEMU's hard limit, s, default 300),
# VMD_SYSTEMD_KEEP=1 keeps the work directory (image, console log).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"
. "$HERE/lib.sh"

BUILD=$(cd "${1:-$REPO/build}" && pwd) || exit 2
TIMEOUT=${VMD_SYSTEMD_TIMEOUT:-300}

finish() {
	summary systemd
	exit $?
}

if [ "$(id -u)" -ne 0 ]; then
	not_ok "tests/systemd runs as root (debootstrap, chroot, the image's file ownership)"
	finish
fi
t_start=$(date +%s%N)
base=$(bash "$HERE/build-image.sh" | tail -n 1)
if [ -z "$base" ] || [ ! -d "$base/rootfs" ]; then
	not_ok "base image (tests/systemd/build-image.sh)"
	finish
fi
mkdir -p "$WORK"
W=$(mktemp -d "$WORK/run.XXXXXX") || exit 2
DEF_PID=
cleanup() {
	[ -n "$DEF_PID" ] && kill "$DEF_PID" 2>/dev/null
	if [ "${VMD_SYSTEMD_KEEP:-0}" = 1 ]; then
		say "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
ROOT=$W/root

# ---- the image: base + vmd as installed + the test ------------------------------------------
say "copying the base root file system"
cp -a "$base/rootfs" "$ROOT"

if meson install -C "$BUILD" --destdir "$ROOT" >"$W/install.log" 2>&1; then
	ok "meson install into the image"
else
	not_ok "meson install into the image"
	diag "$W/install.log"
	finish
fi
vmd_bin=$(cd "$ROOT" && find . -path '*/sbin/vmd' -type f | head -n 1)
vmctl_bin=$(cd "$ROOT" && find . -path '*/bin/vmctl' -type f | head -n 1)
vmd_bin=${vmd_bin#.}
vmctl_bin=${vmctl_bin#.}

# Libraries of vmd and vmctl that Debian's minbase lacks (libevent, jansson, Xen's) come
# from the host, where they were built against.
have_lib() {
	local d
	for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib usr/lib; do
		[ -e "$ROOT/$d/$1" ] && return 0
	done
	return 1
}
for b in "$vmd_bin" "$vmctl_bin"; do
	ldd "$ROOT$b" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
		have_lib "$name" && continue
		install -D -m 644 "$(readlink -f "$path")" "$ROOT/usr/lib/x86_64-linux-gnu/$name"
		echo "$name" >>"$W/libs-added"
	done
done
ldconfig -r "$ROOT"
say "libraries added to the image: $(tr '\n' ' ' <"$W/libs-added" 2>/dev/null)"
check "vmd runs inside the image root (libraries complete)" \
	chroot "$ROOT" "$vmd_bin" --version

# The group vmd and the storage root, as at installation (sysusers.d, tmpfiles.d).
systemd-sysusers --root="$ROOT" >/dev/null 2>&1
tmpf=$(cd "$ROOT" && find . -path '*/tmpfiles.d/vmd.conf' | head -n 1)
# (The file is named by its host path: tmpfiles does not look it up under --root.)
systemd-tmpfiles --root="$ROOT" --create "$ROOT/${tmpf#./}" >/dev/null 2>&1
check "sysusers.d made group vmd, tmpfiles.d the storage root" \
	test -d "$ROOT/var/lib/vmd/images" -a -n "$(grep '^vmd:' "$ROOT/etc/group")"

mkdir -p "$ROOT/etc/vmd"
cat >"$ROOT/etc/vmd/vmd.conf" <<'EOF'
# The systemd tier: the simulated hypervisor. Its domains live in the state dir, so they
# survive a restart of vmd as Xen's would.
backend = sim
log_level = debug
sim_delay_ms = 500
EOF
check "vmd --check-config accepts the image's /etc/vmd/vmd.conf" \
	chroot "$ROOT" "$vmd_bin" --check-config
# The "kernel" of the sim guests: the sim only checks that it exists.
: >"$ROOT/var/lib/vmd/images/vmlinuz"

# The guests, defined with the built vmd and vmctl against the image's state dir.
: >"$W/empty.conf"
"$BUILD/daemon/vmd" --config "$W/empty.conf" --backend=sim --no-autostart \
	--state-dir "$ROOT/var/lib/vmd" --socket "$W/def.sock" --run-dir "$W/defrun" \
	2>"$W/def.log" &
DEF_PID=$!
for _ in $(seq 100); do [ -S "$W/def.sock" ] && break; sleep 0.1; done
defs_ok=true
for g in g1 g2 g3 g4; do
	printf 'name = "%s"\nkernel = "/var/lib/vmd/images/vmlinuz"\nmemory = 64\n' "$g" |
		"$BUILD/client/vmctl" -s "$W/def.sock" define - >>"$W/def.out" 2>&1 || defs_ok=false
done
"$BUILD/client/vmctl" -s "$W/def.sock" autostart g2 on >>"$W/def.out" 2>&1 || defs_ok=false
kill "$DEF_PID"
wait "$DEF_PID"
DEF_PID=
if $defs_ok; then
	ok "guests g1..g4 defined in the image, g2 marked autostart"
else
	not_ok "guests g1..g4 defined in the image, g2 marked autostart"
	diag "$W/def.out"
	diag "$W/def.log"
fi

# The test and its helpers; units enabled offline, as an admin would.
install -D -m 755 "$HERE/guest/vmd-systemd-test" "$ROOT/usr/local/libexec/vmd-test/vmd-systemd-test"
install -D -m 755 "$HERE/guest/stop-mark" "$ROOT/usr/local/libexec/vmd-test/stop-mark"
install -m 644 "$HERE"/guest/units/*.service "$ROOT/etc/systemd/system/"
for u in vmd-guest@.service vmd-guests.service; do
	install -D -m 644 "$HERE/guest/dropins/console.conf" "$ROOT/etc/systemd/system/$u.d/console.conf"
done
mkdir -p "$ROOT/var/lib/vmd-test"
check "systemctl --root enable vmd.socket vmd-guest@g1.service vmd-metrics.socket (and more)" \
	sh -c 'systemctl --root="$0" enable vmd.socket vmd-guest@g1.service vmd-metrics.socket \
	vmd-test.service vmd-test-mark.service 2>"$1"' "$ROOT" "$W/enable.log"
check "vmd.socket's Also= enabled vmd-ro.socket and vmd-guests.service" \
	test -L "$ROOT/etc/systemd/system/sockets.target.wants/vmd-ro.socket" -a \
	-L "$ROOT/etc/systemd/system/multi-user.target.wants/vmd-guests.service"

if sh "$HERE/verify.sh" "$BUILD" "$ROOT" >"$W/verify.log" 2>&1; then
	ok "systemd-analyze verify --root=<image root> of vmd's units"
else
	not_ok "systemd-analyze verify --root=<image root> of vmd's units"
	diag "$W/verify.log"
fi

mkfs.ext4 -q -F -L vmdroot -d "$ROOT" "$W/root.ext4" 1G 2>"$W/mkfs.log"
rm -rf "$ROOT"
t_image=$(date +%s%N)
say "image ready ($(du -h "$W/root.ext4" | cut -f1) used)"

# ---- boot -----------------------------------------------------------------------------------
say "booting (QEMU TCG, 2 vCPUs, 512 MiB, timeout ${TIMEOUT}s)"
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,tb-size=64 -machine pc \
	-cpu qemu64 -smp 2 -m 512 -nodefaults -no-user-config -display none -monitor none \
	-serial stdio -net none -no-reboot \
	-kernel "$base/vmlinuz" -initrd "$base/initrd.cpio.gz" \
	-drive "file=$W/root.ext4,if=virtio,format=raw,cache=unsafe" \
	-append "console=ttyS0 panic=-1 quiet systemd.show_status=1" \
	</dev/null >"$W/console.log" 2>&1
qrc=$?
t_boot=$(date +%s%N)
tr -d '\r' <"$W/console.log" >"$W/console.txt"

# The in-guest results, renumbered into ours.
grep -a '^VMDT \(ok\|not ok\) ' "$W/console.txt" | sed 's/^VMDT //' | while read -r line; do
	echo "$line"
done >"$W/guest-results"
while read -r word rest; do
	if [ "$word" = ok ]; then
		ok "guest: ${rest#* - }"
	else
		not_ok "guest: ${rest#ok * - }"
	fi
done <"$W/guest-results"
grep -a '^VMDT #' "$W/console.txt" | sed 's/^VMDT //'
if grep -aq '^VMDT RESULT ' "$W/console.txt"; then
	ok "the in-guest test ran to its end ($(grep -a '^VMDT RESULT' "$W/console.txt" | cut -d' ' -f3-))"
else
	not_ok "the in-guest test ran to its end"
	tail -n 40 "$W/console.txt" | sed 's/^/# /'
fi
# QEMU exits 0 on a kill too: the kernel's last words tell a real poweroff.
if [ $qrc -eq 0 ] && grep -aq 'reboot: Power down' "$W/console.txt"; then
	ok "the guest powered off by itself (poweroff.target)"
else
	not_ok "the guest powered off by itself (QEMU status $qrc; 124 = timeout)"
	tail -n 30 "$W/console.txt" | sed 's/^/# /'
fi

# ---- what the shutdown left on disk ---------------------------------------------------------
readback() { debugfs -R "cat $1" "$W/root.ext4" 2>/dev/null; }
readback /var/lib/vmd-test/events.log >"$W/events.log"
readback /var/lib/vmd-test/stop-marks >"$W/stop-marks"
readback /var/lib/vmd/sim/domains.json >"$W/domains.json"
sed -n '/^MARK before-poweroff/,$p' "$W/events.log" >"$W/shutdown-events"
for g in g1 g2 g3 g4; do
	ev=$(awk -v g="$g" '$2 == g { print $3 }' "$W/shutdown-events" | tr '\n' ' ')
	case " $ev" in
	*" shutdown-requested poweroff "*"destroyed "*)
		case " $ev " in
		*" stopping "*) not_ok "poweroff: $g was destroyed, not shut down (events: $ev)" ;;
		*) ok "poweroff: $g shut down cleanly (events: $ev)" ;;
		esac
		;;
	*) not_ok "poweroff: $g shut down cleanly (events: ${ev:-none})" ;;
	esac
done
check "poweroff: g3, which had no unit, was shut down by vmd-guests.service" \
	grep -aq 'vmd-guest: g3: shut down' "$W/console.txt"
if grep -q '^vmd inactive' "$W/stop-marks" && grep -q '^domains 0$' "$W/stop-marks"; then
	ok "poweroff: when vmd had stopped, no guest was left running"
else
	not_ok "poweroff: when vmd had stopped, no guest was left running"
	diag "$W/stop-marks"
fi
check "poweroff: every guest unit had stopped before vmd" \
	grep -q '^guest-units inactive inactive inactive inactive $' "$W/stop-marks"
check "poweroff: the stop happened during the system's shutdown" \
	grep -q '^system stopping' "$W/stop-marks"

boot_s=$(( (t_boot - t_image) / 1000000 ))
echo "# timing: image $(( (t_image - t_start) / 1000000 )) ms, boot to poweroff ${boot_s} ms, total $(( (t_boot - t_start) / 1000000 )) ms"
up=$(grep -a '^VMDT END ' "$W/console.txt" | cut -d' ' -f3)
[ -n "$up" ] && echo "# guest uptime at the end of the in-guest test: ${up}s"
finish
