#!/bin/sh
#
# test-vmctl.sh VMD VMCTL: drives a real `vmd --backend=sim` with vmctl, end to end.
#
# The daemon runs on a socket and state directory of its own in a temporary directory, so the
# test needs no root and touches nothing of the host. Each check prints "ok N - what" or
# "not ok N - what" (with diagnostics as "# " lines); the last line is "P passed, F failed",
# and the exit status is 1 if anything failed.
#
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 VMD VMCTL" >&2
	exit 2
fi
VMD=$1
VMCTL=$2
# Absolute paths: some checks run vmctl from another working directory.
case $VMD in */*) case $VMD in /*) ;; *) VMD=$PWD/$VMD ;; esac ;; esac
case $VMCTL in */*) case $VMCTL in /*) ;; *) VMCTL=$PWD/$VMCTL ;; esac ;; esac
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NAME=centos65_3.pv

T=$(mktemp -d "${TMPDIR:-/tmp}/test-vmctl.XXXXXX") || exit 1
VMD_PID=
BG_PIDS=

cleanup() {
	for p in $BG_PIDS; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$VMD_PID" ]; then
		kill "$VMD_PID" 2>/dev/null
		wait "$VMD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

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
	# What vmctl said last, for whoever reads the failure.
	for f in "$T/out" "$T/err"; do
		[ -s "$f" ] && sed -n '1,10s/^/# /p' "$f"
	done
	return 0
}

# vmctl ARGS...: runs vmctl against our daemon; stdout in $T/out, stderr in $T/err, status in $rc.
vmctl() {
	"$VMCTL" -s "$T/sock" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# check DESC COMMAND...: one check from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# expect STATUS DESC: the last vmctl exited with STATUS.
expect() {
	if [ "$rc" -eq "$1" ]; then ok "$2"; else not_ok "$2 (exit $rc, expected $1)"; fi
}

out_has() { grep -q -- "$1" "$T/out"; }
out_lacks() { ! grep -q -- "$1" "$T/out"; }
err_has() { grep -q -- "$1" "$T/err"; }

# pyj EXPR: evaluates a Python expression (which may span lines) over the JSON document in
# $T/out (as d); true if the expression is true.
pyj() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$T/out" "$1" 2>/dev/null
}

# state_is NAME STATE: the guest is in STATE according to vm.info.
state_is() {
	vmctl --json info "$1" && pyj "d['state'] == '$2'"
}

# wait_state NAME STATE: up to 10 s for the guest to reach STATE.
wait_state() {
	i=0
	while [ $i -lt 100 ]; do
		state_is "$1" "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- start the daemon ------------------------------------------------------------------

mkdir -p "$T/state" "$T/disks"
"$VMD" --backend=sim --socket "$T/sock" --state-dir "$T/state" --log-level debug \
	--sim-delay-ms 100 2>"$T/vmd.log" &
VMD_PID=$!
i=0
while [ ! -S "$T/sock" ] && [ $i -lt 100 ] && kill -0 "$VMD_PID" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ ! -S "$T/sock" ]; then
	echo "not ok 1 - vmd did not come up"
	sed 's/^/# /' "$T/vmd.log"
	echo "0 passed, 1 failed"
	exit 1
fi
ok "vmd listens on $T/sock"

# The example guest, with a disk and paths that exist (sim checks them).
truncate -s 64M "$T/disks/centos65_pv_3.img"
cat >"$T/$NAME.cfg" <<EOF
name = "$NAME"
vcpus = 1
memory = 4096
vif = [ 'mac=00:16:3e:54:02:03, bridge=xenbr0' ]
disk = [ 'file:$T/disks/centos65_pv_3.img,xvda,w' ]
bootloader = "pygrub"
EOF

# ---- version ---------------------------------------------------------------------------

vmctl version
expect 0 "version"
check "version names the client" out_has "^vmctl "
check "version names the daemon and its backend" out_has "^vmd .*backend sim"
vmctl --json version
check "--json version: protocol 1, backend sim" pyj "d['protocol'] == 1 and d['backend'] == 'sim'"

# ---- events, in the background for the whole walk ----------------------------------------

"$VMCTL" -s "$T/sock" --json events >"$T/ev.json" 2>"$T/ev.err" &
EV_JSON=$!
"$VMCTL" -s "$T/sock" events >"$T/ev.txt" 2>"$T/ev.txt.err" &
EV_TXT=$!
BG_PIDS="$EV_JSON $EV_TXT"
# The subscriptions must be in place before anything happens; there is no ready signal.
sleep 0.5

# ---- create --dry-run: libxl's document, nothing made -------------------------------------

vmctl create --dry-run "$T/$NAME.cfg"
expect 0 "create --dry-run"
check "--dry-run prints libxl's domain config" pyj \
	"d['c_info']['name'] == '$NAME' and d['b_info']['max_memkb'] == 4096 * 1024 and
	 d['nics'][0]['mac'] == '00:16:3e:54:02:03' and d['b_info']['bootloader'] == 'pygrub'"
check "--dry-run is libxl's format (4-space indentation)" out_has '^    "c_info": {$'
vmctl --json create --dry-run "$T/$NAME.cfg"
check "--json --dry-run: the result object, the document in libxl_domain_config" pyj \
	"d['dry_run'] is True and d['libxl_domain_config']['c_info']['name'] == '$NAME'"
vmctl list --all
check "--dry-run defined nothing" out_lacks "$NAME"
printf 'name = "warned"\nkernel = "%s"\nvncviewer = 1\n' "$T/disks/centos65_pv_3.img" >"$T/w.cfg"
vmctl define --dry-run "$T/w.cfg"
check "--dry-run prints xl's warnings on stderr" err_has "warning: vncviewer: "
vmctl define "$T/w.cfg"
check "define prints xl's warnings on stderr" err_has "warning: vncviewer: "
vmctl remove warned

# ---- create, list, info ------------------------------------------------------------------

vmctl create "$T/$NAME.cfg"
expect 0 "create from xl.cfg"
check "create says 'created NAME (domid N)'" out_has "^created $NAME (domid [0-9][0-9]*)$"

vmctl list
expect 0 "list"
check "list has a header" \
	out_has "^NAME  *DOMID  *STATE  *TYPE  *VCPUS  *MEMORY  *AUTOSTART  *MANAGED$"
check "list shows the guest running" \
	out_has "^$NAME  *[0-9][0-9]*  *running  *pv  *1  *4 GiB  *no  *yes$"

vmctl --json list
check "--json list is one line" test "$(wc -l <"$T/out")" -eq 1
check "--json list: guest running with an integer domid" pyj \
	"[v for v in d['vms'] if v['name'] == '$NAME' and v['state'] == 'running'
	  and isinstance(v['domid'], int) and v['managed']]"

vmctl info "$NAME"
expect 0 "info"
check "info: state line" out_has "^state: *running$"
check "info: memory line" out_has "^memory: *4 GiB$"
check "info: vif sub-list" out_has "^  0: .*mac=00:16:3e:54:02:03"
check "info: disk sub-list" out_has "^  xvda: .*centos65_pv_3.img"
vmctl --json info "$NAME"
check "--json info: memory 4096, vcpus 1, uuid" pyj \
	"d['memory'] == 4096 and d['vcpus'] == 1 and len(d['uuid']) == 36"

vmctl stats "$NAME"
expect 0 "stats"
check "stats: the domain and its state" out_has "^$NAME: domain [0-9][0-9]*, running$"
check "stats: cpu time and share" out_has "^  cpu  *[0-9.]* s, [0-9.]* % over [0-9.]* s (1 vCPUs)$"
check "stats: memory" out_has "^  memory  *4096 MiB (max [0-9]* MiB)$"
check "stats: a table of disks" out_has "^DISK  *READ  *READS  *WRITTEN  *WRITES$"
check "... with xvda" out_has "^xvda  *[0-9.]* [KMG]iB  *[0-9]*  *[0-9.]* [KMG]iB  *[0-9]*$"
check "stats: a table of vifs, by MAC" out_has "^00:16:3e:54:02:03  *[0-9.]* [KMG]iB  *[0-9]* "
vmctl --json stats "$NAME"
check "--json stats: counters are integers" pyj \
	"isinstance(d['disks'][0]['wr_req'], int) and d['vifs'][0]['devid'] == 0"

# ---- config round trip -------------------------------------------------------------------

vmctl config "$NAME"
expect 0 "config"
cp "$T/out" "$T/x.cfg"
check "config prints xl.cfg with the name" grep -q "^name *= *\"$NAME\"" "$T/x.cfg"
# The file as written, plus only the uuid line vmd added (its vif has a MAC already).
check "config is the file as written plus a uuid" sh -c \
	'grep -v "^uuid = \"[0-9a-f-]*\"\$" "$1" | cmp -s - "$2" && [ "$(grep -c "^uuid" "$1")" -eq 1 ]' \
	sh "$T/x.cfg" "$T/$NAME.cfg"
# The same guest under another name: new name, no UUID, another MAC (both must be unique).
sed -e "s/$NAME/copy.pv/" -e '/^uuid *=/d' -e 's/00:16:3e:54:02:03/00:16:3e:54:02:04/' \
	"$T/x.cfg" >"$T/copy.cfg"
vmctl define "$T/copy.cfg"
expect 0 "define from config output"
check "define says 'defined NAME'" out_has "^defined copy.pv$"
vmctl --json config copy.pv
check "--json config: same memory and disk" pyj \
	"d['config']['memory'] == 4096 and 'xlcfg' in d
	 and d['config']['disk'] == ['file:$T/disks/centos65_pv_3.img,xvda,w']"
vmctl list
check "list without --all omits the stopped copy" out_lacks "^copy.pv "
vmctl list --all
check "list --all shows the stopped copy" out_has "^copy.pv  *-  *stopped "
vmctl remove copy.pv
expect 0 "remove the copy"
check "remove says 'removed NAME'" out_has "^removed copy.pv$"

# ---- console -----------------------------------------------------------------------------

vmctl console "$NAME" --timeout 2 </dev/null
expect 0 "console --timeout with stdin at EOF"
check "console prints the boot log" out_has "Linux version"
check "console says how to detach" \
	err_has "^Connected to $NAME (pty /dev/pts/[0-9]*). Escape character is ^]$"
printf 'hello-console\n' >"$T/in"
vmctl console "$NAME" --timeout 1 <"$T/in"
expect 0 "console relays stdin"
check "console input is echoed by the guest" out_has "hello-console"

# ---- pause, shutdown, start, reboot, destroy ---------------------------------------------

vmctl pause "$NAME"
expect 0 "pause"
check "paused" state_is "$NAME" paused
vmctl unpause "$NAME"
expect 0 "unpause"
check "running again" state_is "$NAME" running

vmctl shutdown "$NAME" --wait --timeout 30
expect 0 "shutdown --wait"
check "shutdown --wait says stopped" out_has "^stopped $NAME$"
vmctl --json info "$NAME"
check "stopped, domid null" pyj "d['state'] == 'stopped' and d['domid'] is None"

vmctl start "$NAME"
expect 0 "start"
check "start says 'started NAME (domid N)'" out_has "^started $NAME (domid [0-9][0-9]*)$"

vmctl shutdown "$NAME"
expect 0 "shutdown without --wait"
check "shutdown without --wait reaches stopped" wait_state "$NAME" stopped
vmctl start "$NAME"
expect 0 "start again"

vmctl reboot "$NAME"
expect 0 "reboot"
check "running after reboot" wait_state "$NAME" running

vmctl destroy "$NAME"
expect 0 "destroy"
check "destroyed guest is stopped" state_is "$NAME" stopped
vmctl list --all
check "definition stays after destroy" out_has "^$NAME  *-  *stopped "

# ---- autostart ---------------------------------------------------------------------------

vmctl autostart "$NAME" on
expect 0 "autostart on"
check "autostart on says so" out_has "^autostart $NAME on$"
vmctl --json info "$NAME"
check "info: autostart true" pyj "d['autostart'] is True"
vmctl autostart "$NAME" off
expect 0 "autostart off"
vmctl --json info "$NAME"
check "info: autostart false" pyj "d['autostart'] is False"

# ---- other inputs: JSON config, stdin ----------------------------------------------------

cat >"$T/j1.json" <<EOF
{"name": "j1", "memory": 256, "bootloader": "pygrub",
 "disk": ["file:$T/disks/centos65_pv_3.img,xvda,r"]}
EOF
vmctl --json create "$T/j1.json"
expect 0 "create from a .json config"
check "--json create prints the vm object" pyj "d['name'] == 'j1' and d['state'] == 'running'"
vmctl destroy j1
vmctl remove j1
expect 0 "remove j1"
printf 'name = "stdin1"\nmemory = 128\nbootloader = "pygrub"\n' >"$T/stdin1.cfg"
"$VMCTL" -s "$T/sock" define - <"$T/stdin1.cfg" >"$T/out" 2>"$T/err"
rc=$?
expect 0 "define from stdin"
check "define - says 'defined stdin1'" out_has "^defined stdin1$"
vmctl remove stdin1

# ---- errors and exit codes ---------------------------------------------------------------

vmctl info no-such-guest
expect 2 "unknown guest: exit 2"
check "unknown guest: 'vmctl: ' message" err_has "^vmctl: "
vmctl --json info no-such-guest
expect 2 "unknown guest with --json: exit 2"
check "--json error object has code 1" pyj "d['code'] == 1 and 'message' in d"
vmctl start "$NAME"
vmctl start "$NAME"
expect 2 "start of a running guest: exit 2"
vmctl destroy "$NAME"
vmctl create "$T/$NAME.cfg"
expect 2 "create of an existing name: exit 2"

vmctl shutdown
expect 1 "missing argument: exit 1"
check "bad usage prints the verb's usage" \
	err_has "^usage: vmctl .*shutdown NAME \[--wait\] \[--timeout S\]$"
vmctl frobnicate
expect 1 "unknown command: exit 1"
vmctl autostart "$NAME" maybe
expect 1 "autostart maybe: exit 1"
vmctl list --bogus
expect 1 "unknown option: exit 1"
vmctl shutdown "$NAME" --timeout zero
expect 1 "bad --timeout: exit 1"
vmctl help
expect 0 "help: exit 0"
check "help lists the exit codes" out_has "Exit status"
vmctl --help
expect 0 "--help: exit 0"
vmctl create "$T/missing.cfg"
expect 1 "missing config file: exit 1"
head -c 1100000 /dev/zero | tr '\0' '#' >"$T/big.cfg"
vmctl create "$T/big.cfg"
expect 1 "config file over 1 MiB: exit 1"

"$VMCTL" -s "$T/nosock" list >"$T/out" 2>"$T/err"
rc=$?
expect 1 "no daemon: exit 1"
check "no daemon: 'cannot connect' message" err_has "^vmctl: cannot connect to $T/nosock: "
VMD_SOCKET="$T/sock" "$VMCTL" version >"$T/out" 2>"$T/err"
rc=$?
expect 0 "VMD_SOCKET selects the socket"

# A daemon that answers garbage: a transport failure, not a crash.
"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); c.makefile().readline(); c.sendall(b"this is not json\n")' "$T/bad.sock" &
BAD=$!
i=0
while [ ! -S "$T/bad.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$VMCTL" -s "$T/bad.sock" list >"$T/out" 2>"$T/err"
rc=$?
wait $BAD
expect 1 "garbage reply: exit 1"
check "garbage reply: 'malformed reply' message" err_has "^vmctl: malformed reply from daemon"

# SIGINT while waiting: exit 130. A background job of sh ignores SIGINT, so start vmctl with
# the default disposition.
"$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$VMCTL" -s "$T/sock" events >/dev/null 2>&1 &
INT_PID=$!
sleep 0.3
kill -INT $INT_PID
wait $INT_PID
rc=$?
expect 130 "SIGINT: exit 130"

# ---- install ----------------------------------------------------------------------------

# A PV installer from a kernel and initrd named relative to the working directory (vmctl
# makes them absolute), then an HVM install from an ISO.
printf 'kernel' >"$T/vmlinuz"
printf 'initrd' >"$T/initrd.gz"
(cd "$T" && "$VMCTL" -s "$T/sock" install inst1 --kernel vmlinuz --initrd ./initrd.gz \
	--extra "console=hvc0" --disk "$T/disks/inst1.img" --disk-size 64M --memory 256 \
	>"$T/out" 2>"$T/err")
rc=$?
expect 0 "install (pv, kernel + initrd)"
check "install says 'installing NAME (pv, domid N)'" out_has "^installing inst1 (pv, domid [0-9][0-9]*)$"
check "install names the new disk" out_has "^  disk: *$T/disks/inst1.img (new)$"
check "install names the installer files, made absolute" out_has "^  installer: $T/vmlinuz, $T/initrd.gz$"
check "install tells how to attach" out_has "^  console: *vmctl console inst1  (PV console)$"
check "the disk exists, 64 MiB" test "$(stat -c %s "$T/disks/inst1.img")" -eq 67108864
vmctl info inst1
check "info shows the install phase" out_has "^install_phase: *installing$"
vmctl config inst1
check "config: the installer's kernel" out_has "^kernel = \"$T/vmlinuz\"$"
printf 'CD001' >"$T/fake.iso"
vmctl --json install inst2 --iso "$T/fake.iso" --disk "$T/disks/inst2.img" --disk-size 64M \
	--memory 256 --no-network
expect 0 "--json install (hvm, iso)"
check "--json install: job.progress lines, then the result" test \
	"$(head -n 1 "$T/out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["phase"])')" = starting
tail -n 1 "$T/out" >"$T/last" && mv "$T/last" "$T/out"
check "--json install: hvm, serial console, a vnc address, installing" pyj \
	"d['vm']['type'] == 'hvm' and d['console'] == 'serial' and d['vnc'].startswith('127.0.0.1:')
	 and d['vm']['install_phase'] == 'installing' and d['vm']['vifs'] == []"
vmctl install inst3 --iso "$T/missing.iso" --disk-size 64M --disk "$T/disks/inst3.img"
expect 2 "install with a missing ISO: the daemon's error, exit 2"
check "install error names the file" err_has "missing.iso"
check "nothing left of the failed install" test ! -e "$T/disks/inst3.img"
vmctl install inst3 --iso "$T/fake.iso" --disk-size 1M --disk "$T/disks/inst3.img"
expect 2 "install with a too small disk: exit 2"
check "too small is said" err_has "too small"
vmctl install --iso "$T/fake.iso"
expect 1 "install without a name: usage error, exit 1"
vmctl install inst3 --memory lots --iso "$T/fake.iso"
expect 1 "install --memory lots: usage error, exit 1"
vmctl help
check "help lists install with [OPTIONS]" out_has "^  install NAME (--iso FILE | --kernel FILE --initrd FILE) \[OPTIONS\]"
for g in inst1 inst2; do
	vmctl destroy $g
	vmctl remove $g --delete-disks
done
check "remove --delete-disks deletes the images install made" test ! -e "$T/disks/inst1.img"
check "but never the installer files it was given" test -e "$T/vmlinuz"

# ---- save and restore ----------------------------------------------------------------------

vmctl start "$NAME"
vmctl save "$NAME" "$T/g.save"
expect 0 "save NAME FILE"
check "save says where and how much" out_has "^saved $NAME to $T/g.save ([0-9.]* MiB in [0-9.]* s)$"
check "the save file exists" test -s "$T/g.save"
vmctl save "$NAME" "$T/g.save"
expect 2 "save refuses a stopped guest"
vmctl restore "$T/g.save"
expect 0 "restore FILE"
check "restore says where from" out_has "^restored $NAME (domid [0-9][0-9]*) from $T/g.save in [0-9.]* s$"
vmctl save "$NAME" "$T/g.save" --keep-running
expect 2 "save never writes over a file"
check "... and says so" err_has "exists"
(cd "$T" && "$VMCTL" -s "$T/sock" save "$NAME" ckpt.save --keep-running >"$T/out" 2>"$T/err")
rc=$?
expect 0 "save --keep-running with a relative FILE"
check "the checkpoint is at the absolute path" test -s "$T/ckpt.save"
check "--keep-running: it runs on" out_has "it runs on$"
vmctl save "$NAME"
expect 0 "save NAME: a managed save"
check "a managed save says start restores it" out_has "'vmctl start' restores it$"
vmctl --json info "$NAME"
check "info --json: saved" pyj "d['saved'] is True and d['state'] == 'stopped'"
vmctl start "$NAME"
expect 0 "start restores the managed save"
check "start says it restored" out_has "^restored $NAME (domid [0-9][0-9]*) from its managed save in [0-9.]* s$"
vmctl destroy "$NAME"
vmctl restore "$T/ckpt.save" --paused
expect 0 "restore --paused"
vmctl --json info "$NAME"
check "restore --paused: paused" pyj "d['state'] == 'paused' and 'saved' not in d"
vmctl destroy "$NAME"
head -c 4096 /dev/urandom >"$T/junk.save"
vmctl restore "$T/junk.save"
expect 2 "restore of a file that is not a save"
check "... says so" err_has "not a save file of vmd"

# ---- changes of a running guest ---------------------------------------------------------

vmctl start "$NAME"
vmctl vcpu-set "$NAME" 1 --live
expect 0 "vcpu-set --live"
check "vcpu-set says what and where" out_has "^$NAME: vCPUs 1 (running only; the next boot has the definition's)$"
vmctl mem-set "$NAME" 1G --config
expect 0 "mem-set with a G size"
check "mem-set says MiB and the definition" out_has "^$NAME: memory 1024 MiB (definition: from the next boot)$"
vmctl mem-set "$NAME" 0
expect 1 "mem-set 0 is a usage error"
vmctl sched-set "$NAME" --weight 300
expect 0 "sched-set --weight"
check "sched-set says weight and cap" out_has "^$NAME: weight 300, cap 0% (running and definition)$"
: >"$T/extra.img"
vmctl block-attach "$NAME" "format=raw, vdev=xvdk, access=rw, target=$T/extra.img"
expect 0 "block-attach"
check "block-attach says the vdev" out_has "^$NAME: attached xvdk (running and definition)$"
vmctl block-detach "$NAME" xvdk
expect 0 "block-detach"
vmctl network-attach "$NAME" bridge=xenbr0 --live
expect 0 "network-attach --live"
check "network-attach prints the MAC it made" out_has "^$NAME: attached vif 00:16:3e:[0-9a-f:]* (running only)$"
mac=$(sed -n 's/.* vif \([0-9a-f:]*\) .*/\1/p' "$T/out")
vmctl network-rate "$NAME" "$mac" 10Mb/s --live
expect 0 "network-rate --live"
check "network-rate says the rate and where" out_has "^$NAME: vif $mac rate 10Mb/s (running only; the next boot has the definition's)$"
vmctl network-rate "$NAME" "$mac" 10Mb/s
expect 2 "network-rate of a vif the definition lacks"
vmctl network-detach "$NAME" "$mac"
expect 0 "network-detach of that MAC"
vmctl info "$NAME"
check "info lists what is pending for the next boot" out_has "^  memory: [0-9]* -> 1024$"

# ---- edit and update ---------------------------------------------------------------------

vmctl config "$NAME"
cp "$T/out" "$T/def.cfg"
EDITOR=true vmctl edit "$NAME"
expect 0 "edit without a change"
check "... says unchanged" out_has "^$NAME: unchanged$"
EDITOR='sed -i -e "\$a cpu_weight = 500" -e "\$a maxmem = 8192" -e "/^cpu_weight *=/d" -e "/^maxmem *=/d"' \
	vmctl edit "$NAME"
expect 0 "edit: cpu_weight and maxmem"
check "edit says what went live" out_has "^  cpu_weight: 300 -> 500 (live)$"
check "edit says what waits for the next boot" out_has "^  maxmem: .* -> 8192 (next boot)$"
vmctl config "$NAME"
check "the definition has the edit" out_has "^maxmem = 8192$"
EDITOR='sed -i "s/^cpu_weight = 500/vcpus = \"many\"/"' vmctl edit "$NAME" </dev/null
expect 2 "edit to a config that does not translate"
check "... names the line" err_has "vcpus"
kept=$(sed -n 's/.*the edited config is kept in \(.*\)$/\1/p' "$T/err")
check "... keeps the edited text" grep -q '^vcpus = "many"$' "$kept"
rm -f "$kept"
vmctl config "$NAME"
check "... and changes nothing" out_has "^cpu_weight = 500$"
vmctl update "$NAME" "$T/def.cfg" --dry-run
expect 0 "update --dry-run"
check "update --dry-run says what it would do" out_has "^$NAME: would make 1 change: 1 live, 0 for the next boot$"
vmctl config "$NAME"
check "... and does nothing" out_has "^maxmem = 8192$"
vmctl --json update "$NAME" "$T/def.cfg"
expect 0 "update NAME FILE"
check "update --json lists the changes" pyj "d['stored'] and d['pending'] == [] and
	[(c['key'], c['apply']) for c in d['changes']] == [('cpu_weight', 'live')]"
vmctl destroy "$NAME"

# ---- snapshots ---------------------------------------------------------------------------

vmctl snapshot create "$NAME" s1
expect 0 "snapshot create of the stopped guest"
check "snapshot create names the snapshot and its disks" out_has "^$NAME: snapshot s1$"
check "... each disk with its method" out_has "^  xvda  .* (\(reflink\|sparse\|readwrite\))$"
vmctl snapshot list "$NAME"
check "snapshot list: a table with s1 (no memory)" \
	out_has "^s1  *[0-9-]* [0-9:]*  *no  *no  *-  *1$"
vmctl snapshot create "$NAME" s1
expect 2 "a second s1 is refused"
vmctl snapshot create "$NAME" 'a/b'
expect 2 "a snapshot name with / is refused"
vmctl snapshot create "$NAME" m --memory
expect 2 "a snapshot with memory of a stopped guest is refused"
check "... saying why" err_has "a snapshot with memory is of a running guest"
vmctl remove "$NAME"
expect 2 "remove of a guest with snapshots is refused"
vmctl snapshot revert "$NAME" s1
expect 0 "snapshot revert"
check "snapshot revert says so" out_has "^$NAME: reverted to snapshot s1$"
vmctl snapshot delete "$NAME" s1
expect 0 "snapshot delete"
check "snapshot delete says so" out_has "^$NAME: snapshot s1 deleted$"

# ---- events ------------------------------------------------------------------------------

vmctl remove "$NAME"
expect 0 "remove"
check "remove says 'removed NAME'" out_has "^removed $NAME$"
vmctl info "$NAME"
expect 2 "removed guest is gone"

sleep 0.3
kill $EV_JSON $EV_TXT 2>/dev/null
wait $EV_JSON $EV_TXT 2>/dev/null
BG_PIDS=
cp "$T/ev.json" "$T/out"
for ev in defined started paused unpaused destroyed removed; do
	check "events --json: $ev" "$PY" -c 'import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [e for e in evs if e["name"] == sys.argv[2] and e["event"] == sys.argv[3]
               and isinstance(e["time"], float) and "state" in e and "domid" in e] else 1)' \
		"$T/ev.json" "$NAME" "$ev"
done
check "events: human lines" \
	grep -q "^[0-9-]*T[0-9:]* $NAME started state=running domid=[0-9][0-9]*$" "$T/ev.txt"
check "events: stopped guests have domid -" \
	grep -q "^[0-9-]*T[0-9:]* $NAME destroyed state=stopped domid=-$" "$T/ev.txt"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
