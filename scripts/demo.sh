#!/bin/sh
# The README's demo: vmd on the simulated hypervisor, on a private socket and state dir,
# walked through a guest's life with vmctl. Everything lives in a temp dir removed at exit.
set -eu
BUILD=${1:-build}
VMD=$BUILD/daemon/vmd
VMCTL=$BUILD/client/vmctl
T=$(mktemp -d /tmp/vmd-demo.XXXXXX)
export VMD_SOCKET=$T/vmd.sock

cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

"$VMD" --backend=sim --state-dir "$T/state" --log-level warn 2>"$T/vmd.log" &
pid=$!
i=0
until [ -S "$VMD_SOCKET" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: vmd did not start:" >&2
		cat "$T/vmd.log" >&2
		exit 1
	fi
	sleep 0.05
done

# The guest of the README, with its disk image in the demo dir.
mkdir -p "$T/srv"
truncate -s 1G "$T/srv/centos65_pv_3.img"
cat >"$T/centos65_3.pv.cfg" <<CFG
name = "centos65_3.pv"
vcpus = 1
memory = 4096
vif = [ 'mac=00:16:3e:54:02:03, bridge=xenbr0' ]
disk = [ 'file:$T/srv/centos65_pv_3.img,xvda,w' ]
bootloader = "pygrub"
CFG

echo "vmd is running on the simulated hypervisor (socket $VMD_SOCKET)."
run "$VMCTL" version
say cat centos65_3.pv.cfg
cat "$T/centos65_3.pv.cfg"
# what libxl will be given, as `xl -N create` would print it (nothing is made)
say "$VMCTL create --dry-run centos65_3.pv.cfg | head -n 12"
"$VMCTL" create --dry-run "$T/centos65_3.pv.cfg" | head -n 12
echo "    ..."
run "$VMCTL" create "$T/centos65_3.pv.cfg"
run "$VMCTL" list
run "$VMCTL" info centos65_3.pv
run "$VMCTL" console centos65_3.pv --timeout 1
run "$VMCTL" shutdown centos65_3.pv --wait
run "$VMCTL" list --all
run "$VMCTL" remove centos65_3.pv
run "$VMCTL" list --all
say "kill -TERM vmd"
kill -TERM "$pid"
wait "$pid"
pid=
echo "demo: done"
