#!/bin/sh
#
# test-permissions.sh VMD VMCTL: access control from real uids.
#
# vmd runs as root (sim backend, private socket and state) with a vmd.conf whose writers'
# group is "users" (present on every Debian system, so the test adds no group to the host).
# Clients run under setpriv(1) as uid/gid 65534 (nobody): once without any group (a reader),
# once with "users" as supplementary group (a writer who is not root).
#   - Every method the daemon has is called by the reader, with valid parameters so that the
#     permission check is what answers: each mutating one must fail with error 5 and
#     data.method, each read one must work. The methods come from daemon/ops/*.c, so a new
#     method is tested without editing this file; a new read-only method must be added to
#     READ_METHODS below on purpose (until then this test fails), and a method whose
#     parameters this file does not know fails too.
#   - The credential check does not rest on the socket's mode: the main socket opened to
#     everyone still refuses the reader's writes.
#   - The read-only socket refuses writes even to root.
#   - The writer may change guests but may only name files under the storage roots, symlinks
#     resolved.
# Needs root (to run vmd as root and clients as other uids): skipped (77) otherwise.
#
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 VMD VMCTL" >&2
	exit 2
fi
VMD=$1
VMCTL=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
READ_METHODS="daemon.version events.subscribe vm.config vm.info vm.list vm.snapshot_list vm.stats"
READ_METHODS="$READ_METHODS vm.stats_all vm.addresses network.list network.info image.list"
GROUP=users

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! getent group $GROUP >/dev/null
then
	echo "# skipped: needs root, setpriv and group $GROUP"
	exit 77
fi
GID=$(getent group $GROUP | cut -d: -f3)

T=$(mktemp -d /tmp/test-permissions.XXXXXX) || exit 1
VMD_PID=
cleanup() {
	if [ -n "$VMD_PID" ]; then
		kill "$VMD_PID" 2>/dev/null
		wait "$VMD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
chmod 755 "$T"

n=0
passed=0
failed=0
ok() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -s "$T/out" ] && sed -n '1,10s/^/# /p' "$T/out"
	return 0
}

reader() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
writer() { setpriv --reuid=65534 --regid=65534 --groups="$GID" "$@"; }

# The storage root and what the writer may or may not point at.
mkdir -p "$T/images" "$T/outside"
: >"$T/images/kernel"
: >"$T/outside/kernel"
ln -s ../outside/kernel "$T/images/escape"
chmod -R a+rX "$T/images" "$T/outside"
cat >"$T/vmd.conf" <<EOF
group = $GROUP
storage_roots = $T/images
log_level = debug
EOF

"$VMD" --config "$T/vmd.conf" --backend=sim --sim-delay-ms 50 --state-dir "$T/state" \
	--socket "$T/vmd.sock" 2>"$T/vmd.log" &
VMD_PID=$!
i=0
until [ -S "$T/vmd.sock" ] && [ -S "$T/vmd-ro.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$VMD_PID" 2>/dev/null; then
		echo "not ok 1 - vmd starts"
		sed 's/^/# /' "$T/vmd.log"
		echo "0 passed, 1 failed"
		exit 1
	fi
	sleep 0.05
done

# rpc.py SOCKET METHOD PARAMS-JSON: one request; prints the reply line (after any notifications); exit 0 on a result,
# 1 on an error reply, 2 when it cannot talk to the daemon.
cat >"$T/rpc.py" <<'EOF'
import json, socket, sys
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    req = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}
    s.sendall((json.dumps(req) + "\n").encode())
    f = s.makefile()
    line = f.readline()
    while line and "id" not in json.loads(line):  # job.progress notifications come first
        line = f.readline()
except OSError as e:
    print("transport: %s" % e)
    sys.exit(2)
print(line.strip())
sys.exit(0 if "result" in json.loads(line) else 1)
EOF
chmod 644 "$T/rpc.py"
rpc() { # WHO SOCKET METHOD PARAMS: output in $T/out, status in $rc
	who=$1
	shift
	$who "$PY" "$T/rpc.py" "$@" >"$T/out" 2>&1
	rc=$?
}
root() { "$@"; }

# Guests for the methods to work on: g1 running, g2 stopped.
rpc root "$T/vmd.sock" vm.define "{\"config\":{\"name\":\"g1\",\"kernel\":\"$T/images/kernel\"}}"
rpc root "$T/vmd.sock" vm.define "{\"config\":{\"name\":\"g2\",\"kernel\":\"$T/images/kernel\"}}"
rpc root "$T/vmd.sock" vm.start '{"name":"g1"}'
if [ $rc -eq 0 ]; then ok "root defines and starts guests"; else not_ok "root defines and starts guests"; fi

# Valid parameters for each method, so that only the permission check can refuse it.
params_of() {
	case $1 in
	vm.define | vm.create) echo "{\"config\":{\"name\":\"p1\",\"kernel\":\"$T/images/kernel\"}}" ;;
	vm.start | vm.remove) echo '{"name":"g2"}' ;;
	vm.shutdown | vm.reboot | vm.destroy | vm.pause | vm.unpause | vm.console | vm.info | \
	vm.config) echo '{"name":"g1"}' ;;
	vm.autostart) echo '{"name":"g1","enabled":true}' ;;
	vm.list | daemon.version | events.subscribe | vm.stats_all | network.list | image.list)
		echo '{}' ;;
	image.add) echo "{\"name\":\"t1\",\"path\":\"$T/images/kernel\"}" ;;
	image.remove) echo '{"name":"t1"}' ;;
	network.create | network.info | network.remove) echo '{"name":"pn1"}' ;;
	sim.inject) echo '{"fault":"crash","name":"g1"}' ;;
	disk.create) echo "{\"path\":\"$T/images/new.img\",\"size\":\"1M\"}" ;;
	job.cancel) echo '{"job":"1"}' ;;
	vm.clone) echo '{"source":"g2","name":"c1"}' ;;
	vm.migrate) echo '{"name":"g1","host":"ssh://localhost"}' ;;
	vm.save) echo '{"name":"g1","keep_running":true}' ;;
	vm.set_vcpus) echo '{"name":"g1","vcpus":1}' ;;
	vm.set_memory) echo '{"name":"g1","memory":64}' ;;
	vm.set_sched) echo '{"name":"g1","weight":512}' ;;
	vm.attach_disk) echo "{\"name\":\"g1\",\"disk\":\"format=raw, vdev=xvdz, target=$T/images/kernel\"}" ;;
	vm.detach_disk) echo '{"name":"g1","vdev":"xvdz"}' ;;
	vm.attach_nic) echo '{"name":"g1","vif":"bridge=xenbr0"}' ;;
	vm.cd_insert) echo "{\"name\":\"g1\",\"vdev\":\"hdc\",\"file\":\"$T/images/kernel\"}" ;;
	vm.cd_eject) echo '{"name":"g1","vdev":"hdc"}' ;;
	vm.set_nic_rate) echo '{"name":"g1","mac":"00:16:3e:00:00:01","rate":"1Mb/s"}' ;;
	vm.snapshot_create) echo '{"name":"g2","snapshot":"p1"}' ;;
	vm.snapshot_revert | vm.snapshot_delete) echo '{"name":"g2","snapshot":"p1"}' ;;
	vm.snapshot_list | vm.stats | vm.addresses) echo '{"name":"g1"}' ;;
	vm.update) echo "{\"name\":\"g1\",\"config\":{\"name\":\"g1\",\"kernel\":\"$T/images/kernel\"}}" ;;
	vm.detach_nic) echo '{"name":"g1","mac":"00:16:3e:00:00:01"}' ;;
	vm.restore) echo "{\"file\":\"$T/images/none.save\"}" ;;
	vm.migrate_incoming) echo "{\"xlcfg\":\"name = 'm1'\",\"hypervisor\":\"sim\",\"backend\":\"sim\",\"disks\":[]}" ;;
	vm.install) echo "{\"name\":\"i1\",\"kernel\":\"$T/images/kernel\",\"initrd\":\"$T/images/kernel\",\"disk\":\"$T/images/i1.img\",\"disk_size\":\"64M\"}" ;;
	*) return 1 ;;
	esac
}

methods=$(sed -n 's/^[[:space:]]*\.method = "\([a-z._-]*\)",.*/\1/p' "$SRC"/daemon/ops/*.c | sort -u)
if [ -n "$methods" ]; then
	ok "$(echo "$methods" | wc -l) methods found in daemon/ops/*.c"
else
	not_ok "methods found in daemon/ops/*.c"
fi

is_read() { case " $READ_METHODS " in *" $1 "*) return 0 ;; esac; return 1; }
# A read method answered: a result, or for network.info (no network here: making one takes
# root and a bridge on this host) "no such network", which is not a refusal.
answered() { [ $rc -eq 0 ] || { [ "$1" = network.info ] && grep -q '"code": *1,' "$T/out"; }; }

# A refusal: error 5 whose data names the method.
refused() { grep -q "\"code\": *5," "$T/out" && grep -q "\"method\": *\"$1\"" "$T/out"; }

for m in $methods; do
	if ! p=$(params_of "$m"); then
		: >"$T/out"
		not_ok "$m: this test knows no valid parameters for it (add them to params_of)"
		continue
	fi
	# A reader on the main socket opened to everyone: the credential check alone decides.
	chmod 666 "$T/vmd.sock"
	rpc reader "$T/vmd.sock" "$m" "$p"
	if is_read "$m"; then
		if answered "$m"; then ok "reader, main socket: $m works"
		else not_ok "reader, main socket: $m works"; fi
	else
		if [ $rc -eq 1 ] && refused "$m"; then
			ok "reader, main socket: $m refused with error 5 and data.method"
		else
			not_ok "reader, main socket: $m refused with error 5 and data.method"
		fi
	fi
	chmod 660 "$T/vmd.sock"
	# The same on the read-only socket, for the reader and for root.
	for who in reader root; do
		rpc $who "$T/vmd-ro.sock" "$m" "$p"
		if is_read "$m"; then
			if answered "$m"; then ok "$who, read-only socket: $m works"
			else not_ok "$who, read-only socket: $m works"; fi
		elif [ $rc -eq 1 ] && refused "$m"; then
			ok "$who, read-only socket: $m refused with error 5"
		else
			not_ok "$who, read-only socket: $m refused with error 5"
		fi
	done
done

# Nothing the refused calls asked for happened.
rpc root "$T/vmd.sock" vm.list '{"all":true}'
if grep -q '"name": *"g1"[^}]*"state": *"running"' "$T/out" &&
	grep -q '"name": *"g2"[^}]*"state": *"stopped"' "$T/out" && ! grep -q '"p1"' "$T/out" &&
	! grep -q '"c1"' "$T/out" && ! grep -q '"i1"' "$T/out" && [ ! -e "$T/images/new.img" ] &&
	[ ! -e "$T/images/i1.img" ] &&
	grep -q '"name": *"g1"[^}]*"autostart": *false' "$T/out"; then
	ok "the refused calls changed nothing (g1 running, g2 stopped, no p1, c1, i1, no new image, no autostart)"
else
	not_ok "the refused calls changed nothing (g1 running, g2 stopped, no p1, c1, i1, no new image, no autostart)"
fi

# The main socket as vmd made it: 0660, group $GROUP; the reader cannot even connect.
if [ "$(stat -c '%a %G' "$T/vmd.sock")" = "660 $GROUP" ]; then
	ok "main socket: mode 660, group $GROUP"
else
	: >"$T/out"
	not_ok "main socket: mode 660, group $GROUP (is $(stat -c '%a %G' "$T/vmd.sock"))"
fi
if [ "$(stat -c '%a' "$T/vmd-ro.sock")" = 666 ]; then ok "read-only socket: mode 666"; else not_ok "read-only socket: mode 666"; fi
rpc reader "$T/vmd.sock" vm.list '{}'
if [ $rc -eq 2 ]; then ok "reader cannot connect to the main socket"; else not_ok "reader cannot connect to the main socket"; fi

# The writer (group $GROUP, not root).
rpc writer "$T/vmd.sock" vm.define "{\"config\":{\"name\":\"w1\",\"kernel\":\"$T/images/kernel\"}}"
if [ $rc -eq 0 ]; then ok "writer: vm.define with a kernel in the storage root"; else not_ok "writer: vm.define with a kernel in the storage root"; fi
for step in vm.start vm.shutdown vm.autostart vm.destroy vm.remove; do
	case $step in
	vm.shutdown) p='{"name":"w1","wait":true,"timeout":30}' ;;
	vm.autostart) p='{"name":"w1","enabled":true}' ;;
	vm.destroy) p='{"name":"g1"}' ;;
	*) p='{"name":"w1"}' ;;
	esac
	rpc writer "$T/vmd.sock" "$step" "$p"
	if [ $rc -eq 0 ]; then ok "writer: $step works"; else not_ok "writer: $step works"; fi
done
# vm.migrate logs in to the target with vmd's own (root's) SSH identity: root's alone.
rpc writer "$T/vmd.sock" vm.migrate '{"name":"g1","host":"ssh://localhost"}'
if [ $rc -eq 1 ] && refused vm.migrate && grep -q "SSH identity" "$T/out"; then
	ok "writer: vm.migrate refused (error 5: vmd's own SSH identity)"
else
	not_ok "writer: vm.migrate refused (error 5: vmd's own SSH identity)"
fi
# vm.restore hands a file's stream to Xen's restore code: root's alone.
rpc writer "$T/vmd.sock" vm.restore "{\"file\":\"$T/images/none.save\"}"
if [ $rc -eq 1 ] && refused vm.restore; then
	ok "writer: vm.restore refused (error 5)"
else
	not_ok "writer: vm.restore refused (error 5)"
fi
# vm.save writes as root: a writer's file must be under the storage roots.
rpc root "$T/vmd.sock" vm.start '{"name":"g1"}'
rpc writer "$T/vmd.sock" vm.save "{\"name\":\"g1\",\"file\":\"$T/outside/g1.save\",\"keep_running\":true}"
if [ $rc -eq 1 ] && refused vm.save && grep -q "\"key\": *\"file\"" "$T/out" && [ ! -e "$T/outside/g1.save" ]; then
	ok "writer: vm.save outside the storage roots refused (error 5, key file)"
else
	not_ok "writer: vm.save outside the storage roots refused (error 5, key file)"
fi
rpc writer "$T/vmd.sock" vm.save "{\"name\":\"g1\",\"file\":\"$T/images/g1.save\",\"keep_running\":true}"
if [ $rc -eq 0 ] && [ -s "$T/images/g1.save" ]; then
	ok "writer: vm.save (a checkpoint) under a storage root works"
else
	not_ok "writer: vm.save (a checkpoint) under a storage root works"
fi
writer_refused() { # WHAT KEY CONFIG-JSON
	rpc writer "$T/vmd.sock" vm.define "{\"config\":$3}"
	if [ $rc -eq 1 ] && refused vm.define && grep -q "\"key\": *\"$2\"" "$T/out"; then
		ok "writer: $1 refused (error 5, key $2)"
	else
		not_ok "writer: $1 refused (error 5, key $2)"
	fi
}
writer_refused "a kernel outside the storage roots" kernel \
	"{\"name\":\"w2\",\"kernel\":\"$T/outside/kernel\"}"
writer_refused "a disk through a symlink out of the storage root" disk \
	"{\"name\":\"w3\",\"kernel\":\"$T/images/kernel\",\"disk\":[\"$T/images/escape,raw,xvda,rw\"]}"
writer_refused "a disk path with .. out of the storage root" disk \
	"{\"name\":\"w4\",\"kernel\":\"$T/images/kernel\",\"disk\":[\"$T/images/../outside/kernel,raw,xvda,rw\"]}"
writer_refused "a bootloader given by path" bootloader \
	"{\"name\":\"w5\",\"bootloader\":\"$T/images/kernel\"}"
writer_refused "a vif script given by path" vif \
	"{\"name\":\"w6\",\"kernel\":\"$T/images/kernel\",\"vif\":[\"script=$T/images/kernel\"]}"
rpc writer "$T/vmd.sock" vm.create "{\"config\":{\"name\":\"w7\",\"kernel\":\"$T/outside/kernel\"}}"
if [ $rc -eq 1 ] && refused vm.create; then ok "writer: vm.create checks paths too"; else not_ok "writer: vm.create checks paths too"; fi
# vm.install: every path it names (ISO, kernel, initrd, the disk it creates) is checked.
install_refused() { # WHAT KEY PARAMS-JSON
	rpc writer "$T/vmd.sock" vm.install "$3"
	if [ $rc -eq 1 ] && refused vm.install && grep -q "\"key\": *\"$2\"" "$T/out"; then
		ok "writer: vm.install with $1 refused (error 5, key $2)"
	else
		not_ok "writer: vm.install with $1 refused (error 5, key $2)"
	fi
}
install_refused "an ISO outside the storage roots" disk \
	"{\"name\":\"w8\",\"iso\":\"$T/outside/kernel\",\"disk\":\"$T/images/w8.img\",\"disk_size\":\"64M\"}"
install_refused "a kernel outside the storage roots" kernel \
	"{\"name\":\"w8\",\"kernel\":\"$T/outside/kernel\",\"initrd\":\"$T/images/kernel\",\"disk\":\"$T/images/w8.img\",\"disk_size\":\"64M\"}"
install_refused "a new disk outside the storage roots" disk \
	"{\"name\":\"w8\",\"kernel\":\"$T/images/kernel\",\"initrd\":\"$T/images/kernel\",\"disk\":\"$T/outside/w8.img\",\"disk_size\":\"64M\"}"
if [ ! -e "$T/outside/w8.img" ] && [ ! -e "$T/images/w8.img" ]; then
	ok "writer: refused installs made no image"
else
	not_ok "writer: refused installs made no image"
fi
echo "not really a kernel" >"$T/images/vmlinuz"
rpc writer "$T/vmd.sock" vm.install "{\"name\":\"w9\",\"kernel\":\"$T/images/vmlinuz\",\"initrd\":\"$T/images/vmlinuz\",\"disk\":\"$T/images/w9.img\",\"disk_size\":\"64M\",\"memory\":64}"
if [ $rc -eq 0 ] && [ -f "$T/images/w9.img" ]; then
	ok "writer: vm.install inside the storage root works"
else
	not_ok "writer: vm.install inside the storage root works"
fi
# Root is not limited by the storage roots.
rpc root "$T/vmd.sock" vm.define "{\"config\":{\"name\":\"r1\",\"kernel\":\"$T/outside/kernel\"}}"
if [ $rc -eq 0 ]; then ok "root: a kernel outside the storage roots is fine"; else not_ok "root: a kernel outside the storage roots is fine"; fi

# vmctl shows the refusal as the daemon's (exit 2) to a reader.
reader "$VMCTL" -s "$T/vmd-ro.sock" start g2 >"$T/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'permission denied' "$T/out"; then
	ok "vmctl as reader: start refused, exit 2, 'permission denied'"
else
	not_ok "vmctl as reader: start refused, exit 2, 'permission denied' (exit $rc)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
