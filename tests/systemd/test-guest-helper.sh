#!/bin/sh
#
# test-guest-helper.sh VMD VMCTL HELPER: the guest helper of the systemd units
# (systemd/vmd-guest.in, as built), run against a real `vmd --backend=sim` on a private
# socket: what the units' ExecStart= and ExecStop= do, including the paths the QEMU tier
# cannot provoke: a guest that ignores the shutdown request (destroyed after
# VMD_SHUTDOWN_TIMEOUT), a daemon that is not there, autostart with a stand-in systemctl.
#
set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 VMD VMCTL HELPER" >&2
	exit 2
fi
VMD=$1
VMCTL=$2
HELPER=$3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/test-guest-helper.XXXXXX") || exit 1
VMD_PID=
cleanup() {
	[ -n "$VMD_PID" ] && kill "$VMD_PID" 2>/dev/null && wait "$VMD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

export VMD_SOCKET="$T/vmd.sock" VMCTL
: >"$T/empty.conf"
"$VMD" --config "$T/empty.conf" --backend=sim --sim-delay-ms 100 --state-dir "$T/state" \
	--socket "$VMD_SOCKET" --log-level debug 2>"$T/vmd.log" &
VMD_PID=$!
i=0
until [ -S "$VMD_SOCKET" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$VMD_PID" 2>/dev/null; then
		not_ok "vmd starts"
		diag "$T/vmd.log"
		summary guest-helper
		exit 1
	fi
	sleep 0.05
done

: >"$T/kernel"
for g in a b c d; do
	printf 'name = "%s"\nkernel = "%s/kernel"\n' "$g" "$T" >"$T/$g.cfg"
	"$VMCTL" define "$T/$g.cfg" >/dev/null || not_ok "define $g"
done

state() { "$VMCTL" --json info "$1" | grep -o '"state":"[a-z-]*"' | cut -d'"' -f4; }
# inject FAULT NAME: the sim's fault injection, which vmctl does not offer.
inject() {
	"$PY" - "$VMD_SOCKET" "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": "sim.inject",
       "params": {"fault": sys.argv[2], "name": sys.argv[3]}}
s.sendall((json.dumps(req) + "\n").encode())
reply = json.loads(s.makefile().readline())
sys.exit(0 if "result" in reply else 1)
PY
}
helper() { # ARGS...: runs the helper, output in $T/out
	sh "$HELPER" "$@" >"$T/out" 2>&1
}

# start
check "start a: exit 0" helper start a
check "start a: a runs" test "$(state a)" = running
check "start a again (already running): exit 0" helper start a
check "start a again: said it was already running" grep -q "a: already running" "$T/out"
helper start nosuch
check "start of a guest vmd does not know: exit 1" test $? -eq 1

# stop: clean, then a guest that ignores the request
check "stop a: exit 0" helper stop a
check "stop a: a is stopped" test "$(state a)" = stopped
check "stop a: said it shut down (no destroy)" grep -q "a: shut down" "$T/out"
check "stop a again (not running): exit 0" helper stop a
check "stop of an unknown guest: exit 0 (nothing to stop)" helper stop nosuch
helper start b
check "inject hang-shutdown into b" inject hang-shutdown b
export VMD_SHUTDOWN_TIMEOUT=1
check "stop b, which ignores shutdown, with VMD_SHUTDOWN_TIMEOUT=1: exit 0" helper stop b
unset VMD_SHUTDOWN_TIMEOUT
check "b was destroyed after the timeout" test "$(state b)" = stopped
check "b: the helper said why and what it did" \
	sh -c 'grep -q "b: no clean shutdown" "$0" && grep -q "b: destroyed" "$0"' "$T/out"

# autostart, with a stand-in systemctl that records what it is asked
cat >"$T/systemctl" <<EOS
#!/bin/sh
echo "\$*" >>"$T/systemctl.calls"
EOS
chmod +x "$T/systemctl"
"$VMCTL" autostart c on >/dev/null
"$VMCTL" autostart d on >/dev/null
export SYSTEMCTL="$T/systemctl"
check "autostart: exit 0" helper autostart
unset SYSTEMCTL
check "autostart: queued exactly the marked guests c and d" test "$(sort "$T/systemctl.calls")" = \
	"$(printf 'start --no-block vmd-guest@c.service\nstart --no-block vmd-guest@d.service')"

# stop-all: every running guest, in parallel
for g in a b c d; do helper start "$g"; done
check "inject hang-shutdown into d" inject hang-shutdown d
export VMD_SHUTDOWN_TIMEOUT=2
check "stop-all: exit 0" helper stop-all
unset VMD_SHUTDOWN_TIMEOUT
check "stop-all: d, which ignored the request, was destroyed" grep -q "d: destroyed" "$T/out"
check "stop-all: every guest stopped" \
	test "$(state a) $(state b) $(state c) $(state d)" = "stopped stopped stopped stopped"

# VMD_STOP_ACTION=save: a managed save instead of a shutdown, restored by the next start
export VMD_STOP_ACTION=save
helper start a
check "stop a with VMD_STOP_ACTION=save: exit 0" helper stop a
check "stop a: said it saved" grep -q "a: saved" "$T/out"
check "stop a: a is stopped with a managed save" sh -c \
	'"$VMCTL" --json info a | grep -q "\"state\":\"stopped\".*\"saved\":true"'
check "start a restores the save: exit 0" helper start a
check "start a: a runs, its save gone" sh -c \
	'"$VMCTL" --json info a | grep -q "\"state\":\"running\"" && ! "$VMCTL" --json info a | grep -q "\"saved\""'
check "inject fail-migrate (the next save breaks off)" inject fail-migrate a
check "stop a, whose save fails: exit 0" helper stop a
check "stop a: said the save failed, then shut it down" \
	sh -c 'grep -q "a: cannot save" "$0" && grep -q "a: shut down" "$0"' "$T/out"
check "a is stopped, without a save" sh -c \
	'"$VMCTL" --json info a | grep -q "\"state\":\"stopped\"" && ! "$VMCTL" --json info a | grep -q "\"saved\""'
unset VMD_STOP_ACTION

# no daemon
kill "$VMD_PID"
wait "$VMD_PID" 2>/dev/null
VMD_PID=
helper stop a
check "stop with vmd unreachable: exit 1 (the unit shows failed)" test $? -eq 1
helper start a
check "start with vmd unreachable: exit 1" test $? -eq 1
summary guest-helper
