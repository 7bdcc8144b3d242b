# lib.sh: helpers for scenarios, sourced in dom0 by run-scenarios.sh (bash).
# shellcheck shell=bash disable=SC2034,SC2044  # names are for the scenarios; log names have no spaces
#
# A scenario is a list of steps:   step NAME COMMAND [ARG...]
# Each step prints one result line on the serial console, which the host collects:
#   XENSTEP PASS|FAIL|SKIP SCENARIO/NAME SECONDS [note]
# On a failure the step's output, the guest consoles, `xl dmesg` and vmd's log are
# printed between XENDIAG-BEGIN and XENDIAG-END lines, and the remaining steps of the
# scenario are skipped.

VT=/vmdtest
STATE=/run/vmdtest                # results and per-step output
RESULTS=$STATE/results
CONSOLE_DIR=/var/log/xen/console  # xenconsoled --log=guest writes guest-NAME.log here
VMD_LOG=/var/log/vmd.log
XEN_LIBDIR=/usr/lib/xen-4.17/bin
: "${STEP_TIMEOUT:=300}"          # hard limit for one step (from /vmdtest/config)
: "${MARKER_TIMEOUT:=150}"        # default wait for a console marker: a guest boots in
                                  # 10-20 s, but a busy host can make that 90
MARK_HELLO=VMDTEST-HELLO          # what guest/init prints at boot (see run_scenario)

mkdir -p "$STATE/log"

now() { local up _; read -r up _ < /proc/uptime; echo "$up"; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
say() { echo "  [${SCENARIO:-dom0}] $*"; }

result() {  # STATUS ID SECONDS [NOTE...]
    local line="XENSTEP $1 $2 $3"
    shift 3
    [ $# -gt 0 ] && line="$line $*"
    echo "$line" >> "$RESULTS"
    echo "$line"
}

# step [-t SECONDS] NAME COMMAND [ARG...]
# Runs COMMAND (a program or a shell function) in a subshell with `set -e`, its output in
# $STATE/log/SCENARIO.NAME.log, killed after SECONDS (default $STEP_TIMEOUT). Returns its
# status; after a failure, later steps of the same scenario are skipped.
step() {
    local limit=$STEP_TIMEOUT name id log t0 pid dog rc
    if [ "$1" = -t ]; then limit=$2; shift 2; fi
    name=$1
    shift
    id=$SCENARIO/$name
    if [ -n "$SCENARIO_FAILED" ]; then
        result SKIP "$id" 0 "(after $SCENARIO_FAILED failed)"
        return 1
    fi
    log=$STATE/log/$SCENARIO.$name.log
    t0=$(now)
    say "$name: $*"
    ( set -e; "$@" ) > "$log" 2>&1 &
    pid=$!
    watchdog "$pid" "$limit" "$log" &
    dog=$!
    wait "$pid"
    rc=$?
    kill "$dog" 2>/dev/null
    if [ "$rc" = 0 ]; then
        result PASS "$id" "$(since "$t0")"
        return 0
    fi
    SCENARIO_FAILED=$name
    if grep -q '^step timed out' "$log"; then
        result FAIL "$id" "$(since "$t0")" "(timed out after ${limit}s)"
    else
        result FAIL "$id" "$(since "$t0")" "(exit $rc)"
    fi
    diagnose "$id" "$log"
    return 1
}

watchdog() {  # PID SECONDS LOG: polls once a second so it ends soon after the step
    local i=0
    while [ $i -lt "$2" ]; do
        sleep 1
        kill -0 "$1" 2>/dev/null || return 0
        i=$((i + 1))
    done
    echo "step timed out after $2 s" >> "$3"
    pkill -P "$1" 2>/dev/null
    kill "$1" 2>/dev/null
}

skip() {  # NAME REASON...: report a step that cannot run here
    local name=$1
    shift
    result SKIP "$SCENARIO/$name" 0 "($*)"
}

# need_vmd_libxl: vmd and vmctl in dom0, vmd built with its libxl backend; otherwise reports a
# SKIP for the scenario (the scenarios of vmd's libxl code: 64 on).
need_vmd_libxl() {
    need vmd vmctl || return 1
    if grep -q 'built without libxl' "$(command -v vmd)"; then
        skip all "vmd built without the libxl backend"
        return 1
    fi
}

# need COMMAND...: true when all exist; otherwise reports a SKIP for the scenario.
#   need vmd vmctl || return 0
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { skip all "$c not in dom0"; return 1; }
    done
}

# tail -n N FILE without terminal control sequences (pygrub's curses menu is in its log)
tail_plain() { tail -n "$1" "$2" | sed 's/\x1b[][()][0-9;?]*[A-Za-z]\{0,1\}//g; s/\x1b[=>]//g' | tr -d '\r\016\017'; }

# Everything that helps reading a failure, between markers the host looks for.
diagnose() {  # ID STEPLOG
    local f
    echo "XENDIAG-BEGIN $1"
    echo "--- step output ($2, last 60 lines)"
    tail_plain 60 "$2"
    for f in $(find "$CONSOLE_DIR" -name 'guest-*.log' -newer "$STATE/scenario-start" 2>/dev/null); do
        echo "--- guest console $f (last 50 lines)"
        tail_plain 50 "$f"
    done
    for f in $(find /var/log/xen -maxdepth 1 -name '*.log' -newer "$STATE/scenario-start" 2>/dev/null); do
        echo "--- $f (last 25 lines)"
        tail_plain 25 "$f"
    done
    echo "--- xl list"
    xl list 2>&1
    echo "--- losetup -a"
    losetup -a 2>&1
    echo "--- xl dmesg (last 30 lines)"
    xl dmesg 2>&1 | tail -n 30
    if [ -f "$VMD_LOG" ]; then
        echo "--- $VMD_LOG (last 80 lines)"
        tail_plain 80 "$VMD_LOG"
    fi
    echo "XENDIAG-END $1"
}

# ---------------------------------------------------------------- guests and xl

cfg_name() { sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$1"; }

# xl_create CFG [KEY=VALUE...]: xl create /vmdtest/cfg/CFG.cfg (or the file CFG, when it
# has a slash), with a fresh console log: xenconsoled appends to guest-NAME.log, so old
# markers would otherwise still match. KEY=VALUE lines override the file's.
xl_create() {
    local cfg=$VT/cfg/$1.cfg
    case $1 in */*) cfg=$1 ;; esac
    shift
    rm -f "$CONSOLE_DIR/guest-$(cfg_name "$cfg").log"
    xl create "$cfg" "$@"
}

console_log() { echo "$CONSOLE_DIR/guest-$1.log"; }

# An HVM guest's serial port (serial = "pty": qemu's pty, which xenconsoled does not log).
# xl_serial NAME appends it to serial_log NAME from now until the domain is gone; what the
# guest wrote before nobody listened is lost, so call it right after the create. The name
# matches guest-*.log: a failure's diagnostics show it.
serial_log() { echo "$CONSOLE_DIR/guest-$1.serial.log"; }
xl_serial() {
    xl console -t serial "$1" < /dev/null >> "$(serial_log "$1")" 2>&1 &
}

console_count() {  # NAME PATTERN: how many console lines match
    local n
    n=$(grep -c -a -e "$2" "$(console_log "$1")" 2>/dev/null) || true
    echo "${n:-0}"
}

# wait_console NAME PATTERN [SECONDS [COUNT]]: until the guest's console shows PATTERN
# (a grep regex) COUNT times (default 1).
wait_console() {
    local f end count=${4:-1} secs=${3:-$MARKER_TIMEOUT}
    f=$(console_log "$1")
    end=$((SECONDS + secs))
    while [ "$(console_count "$1" "$2")" -lt "$count" ]; do
        if [ "$SECONDS" -ge "$end" ]; then
            echo "'$2' not seen $count time(s) on $1's console ($f) within ${secs}s"
            return 1
        fi
        sleep 0.5
    done
    grep -a -e "$2" "$f" | tail -n 1
}

# retry SECONDS COMMAND [ARG...]: runs COMMAND every half second until it succeeds; on
# timeout, runs it once more with its output shown. For state that settles after the
# xl command that caused it has returned (hotplug scripts, backends).
retry() {
    local end
    end=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && { "$@"; return 0; }
        sleep 0.5
    done
    echo "still failing after the retries: $*"
    "$@"
}

# procs_matching TEXT: "PID command line" of every process whose command line contains TEXT
# (dom0 has no pgrep).
procs_matching() {
    local p c
    for p in /proc/[0-9]*; do
        c=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
        case $c in *"$1"*) echo "${p#/proc/} $c" ;; esac
    done
}
# the device models (qemu-system-xen: one per HVM guest)
device_models() { procs_matching /usr/libexec/xen-qemu-system; }

# dom0's memory in MiB, one line: its root file system (the initramfs) lives in it too
dom0_memory() {
    free -m | awk '$1 == "Mem:" { printf "total %s MiB, used %s, free %s, ", $2, $3, $4
        printf "shared (tmpfs, rootfs) %s, available %s", $5, $7 }'
    df -m / | awk 'NR == 2 { printf "; root file system %s of %s MiB used\n", $3, $2 }'
}

dom_state() { xl list "$1" 2>/dev/null | awk -v n="$1" '$1 == n { print $5 }'; }
domid_of() { xl domid "$1" 2>/dev/null; }

# wait_running NAME [SECONDS]: until xl list shows it running, blocked or runnable. With
# one CPU (the tier's default) a guest can never be "r" while dom0 runs xl list, and a busy
# one shows no flag at all ("------": runnable, waiting for the CPU); paused, shut down,
# crashed and dying are what is not running.
wait_running() {
    local end s
    end=$((SECONDS + ${2:-60}))
    while :; do
        s=$(dom_state "$1")
        case $s in *p*|*s*|*c*|*d*|'') ;; *) echo "$1 state $s"; return 0 ;; esac
        [ "$SECONDS" -ge "$end" ] && { echo "$1 not running (state '$s')"; xl list; return 1; }
        sleep 0.5
    done
}

wait_gone() {  # NAME [SECONDS]: until the domain no longer exists
    local end
    end=$((SECONDS + ${2:-60}))
    while xl domid "$1" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$end" ] && { echo "$1 still exists"; xl list; return 1; }
        sleep 0.5
    done
    echo "$1 gone"
}

# Destroys every domain but dom0: each scenario starts from a clean host.
destroy_all() {
    local d
    for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do
        say "cleanup: xl destroy $d"
        xl destroy "$d" >/dev/null 2>&1
    done
}

# ---------------------------------------------------------------- vmd

# vmd_start [ARG...]: runs the project's daemon in the background, logging to $VMD_LOG
# (printed on a failure). The scenario decides the arguments.
vmd_start() {
    mkdir -p /run/vmd /var/lib/vmd
    vmd "$@" >> "$VMD_LOG" 2>&1 &
    echo $! > "$STATE/vmd.pid"
    sleep 0.5
    kill -0 "$(cat "$STATE/vmd.pid")" 2>/dev/null || { echo "vmd exited at once"; tail -n 20 "$VMD_LOG"; return 1; }
}

# counter_cfg NAME: the xl.cfg of a PV guest that counts on its console every 0.2 s in memory
# (role=counter): what a migration or a save keeps shows as a count that goes on.
counter_cfg() {
    cat <<CFGEOF
name = "$1"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=counter vmdtest.tag=$1"
CFGEOF
}

# The counter's helpers (scenarios 65, 68): its counts on a console log.
ticks() {  # FILE...: the counts on those consoles, in order
    cat "$@" 2>/dev/null | tr -d '\r' | sed -n 's/^VMDTEST-TICK \([0-9]*\)$/\1/p'
}
last_tick() { local n; n=$(ticks "$@" | sort -n | tail -n 1); echo "${n:-0}"; }
log_of() { console_log "$1"; }
# The console log of the domain to come: xenconsoled appends to guest-NAME.log, so the old
# domain's lines are moved aside first.
new_log() { [ -f "$(log_of "$1")" ] && mv "$(log_of "$1")" "$(log_of "$1").$(date +%s%N)"; true; }

counts_on() {  # NAME PAST [SECONDS]: its count goes past PAST, in its current log
    local end=$((SECONDS + ${3:-60}))
    until [ "$(last_tick "$(log_of "$1")")" -gt "$2" ]; do
        if [ $SECONDS -ge $end ]; then
            echo "$1 does not count past $2"
            tail -n 3 "$(log_of "$1")"
            return 1
        fi
        sleep 0.5
    done
}

# restored NAME SAVED_AT: the restored domain runs and counts on from SAVED_AT (the count at
# the save), in a log without a boot: its first count past SAVED_AT is just past it (lines
# the console ring may hand xenconsoled again are older: they are not counted).
restored() {
    local first
    wait_vm_state "$1" running 5
    counts_on "$1" "$(($2 + 5))"
    first=$(ticks "$(log_of "$1")" | awk -v a="$2" '$1 > a' | head -n 1)
    echo "first count after the restore: $first (saved at $2)"
    [ "$first" -gt "$2" ]
    [ "$first" -le "$(($2 + 25))" ]
    ! grep -aq 'VMDTEST-HELLO' "$(log_of "$1")" || { echo "the guest booted again"; return 1; }
}

# Helpers of the vmd scenarios (5x, 60). They expect VMD_STATE_DIR (the scenario's state
# directory for vmd) and VMD_LOG_FROM (set by run_scenario: vmd's log before the scenario).
vmd_up() {  # [ARG...]: vmd with this scenario's state directory, answering
    local i=0
    vmd_start --state-dir "$VMD_STATE_DIR" "$@"
    until vmctl version >/dev/null 2>&1; do
        [ $i -ge 50 ] && { echo "vmd does not answer"; tail -n 20 "$VMD_LOG"; return 1; }
        sleep 0.2
        i=$((i + 1))
    done
}
vm_field() {  # NAME KEY: a scalar of `vmctl -j info NAME`
    vmctl -j info "$1" | sed -n "s/.*\"$2\":\"*\([^\",}]*\).*/\1/p"
}
wait_vm_state() {  # NAME STATE [SECONDS]
    local end=$((SECONDS + ${3:-60}))
    until [ "$(vm_field "$1" state)" = "$2" ]; do
        [ "$SECONDS" -ge "$end" ] && { echo "$1 not $2"; vmctl info "$1"; return 1; }
        sleep 0.5
    done
    vmctl info "$1"
}
wait_file() {  # FILE PATTERN [SECONDS]
    local end=$((SECONDS + ${3:-$MARKER_TIMEOUT}))
    until grep -a -q -e "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -ge "$end" ] && { echo "'$2' not in $1; last lines:"; tail -n 15 "$1"; return 1; }
        sleep 0.5
    done
    grep -a -e "$2" "$1" | tail -n 1
}
# json_get FILE PATH: the value at PATH (keys joined by dots: installer.source) of the JSON
# in FILE (what `vmctl -j` prints); strings bare, null/true/false and objects as JSON.
json_get() {
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}
# result_line FILE: the result of `vmctl -j` for a job (install, clone), which prints each
# job.progress notification on a line of its own before it
result_line() { tail -n 1 "$1"; }
# lacks FILE REGEX: fails, showing the lines, when FILE has a line matching REGEX. (In a
# step, `! grep ...` fails nothing unless it is the last command: set -e ignores `!`, and
# `[ a ] && [ b ]` fails nothing when a is false: one test per line.)
lacks() {
    if grep -a -E -e "$2" "$1"; then echo "not expected in $1: $2"; return 1; fi
}
# libxl_value FILE PATH: a value of the libxl domain config in FILE, which holds what
# `xl -N create` prints (the config itself) or `xl list -l` (a list of {"domid": N,
# "config": {...}}); PATH is keys joined by dots (b_info.claim_mode).
libxl_value() {
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
v = v[0]["config"] if isinstance(v, list) else v
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}
# same_claims_as_xl NAME CFG WANT [XL_CLAIM_MODE]: the domain NAME (built by vmd) was built
# with the memory claims that xl gives CFG (its dry run, `xl -N create CFG`), and both are
# WANT (True or False). libxl keeps each domain's config as it built it, which `xl list -l`
# shows. xl reads claim_mode from xl.conf only (a guest's own claim_mode, which vmd takes,
# means nothing to xl): XL_CLAIM_MODE puts "claim_mode = N" into xl.conf for the dry run.
same_claims_as_xl() {
    local xl dom conf=/etc/xen/xl.conf
    if [ -n "${4:-}" ]; then
        cp "$conf" "$STATE/xl.conf.saved" 2>/dev/null || : > "$STATE/xl.conf.saved"
        { cat "$STATE/xl.conf.saved"; echo "claim_mode = $4"; } > "$conf"
        xl -N create "$2" > "$STATE/claims.xl.json" || { cp "$STATE/xl.conf.saved" "$conf"; return 1; }
        cp "$STATE/xl.conf.saved" "$conf"
    else
        xl -N create "$2" > "$STATE/claims.xl.json"
    fi
    xl list -l "$1" > "$STATE/claims.dom.json"
    xl=$(libxl_value "$STATE/claims.xl.json" b_info.claim_mode)
    dom=$(libxl_value "$STATE/claims.dom.json" b_info.claim_mode)
    echo "claim_mode: xl -N create $xl, domain $1 (vmd) $dom, expected $3"
    [ "$xl" = "$3" ] && [ "$dom" = "$3" ]
}
show_vmd_log() {  # what vmd logged during this scenario, into the serial log
    tail -n +"$VMD_LOG_FROM" "$VMD_LOG" 2>/dev/null | sed 's/^/  [vmd] /'
}

vmd_stop() {  # SIGTERM, then up to 5 s for vmd to exit
    local pid i=0
    [ -f "$STATE/vmd.pid" ] || return 0
    pid=$(cat "$STATE/vmd.pid")
    rm -f "$STATE/vmd.pid"
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        [ $i -ge 20 ] && { echo "vmd ignored SIGTERM"; kill -9 "$pid"; return 1; }
        sleep 0.25
        i=$((i + 1))
    done
}

# ---------------------------------------------------------------- toolstack

# The same steps as Debian's /etc/init.d/xen (and what a systemd dom0 does in units).
load_modules() {
    local m
    # tun: qemu's tap device for an HVM guest's emulated NIC (udev would load it on demand)
    for m in xenfs xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xen-blkback xen-netback loop bridge tun; do
        modprobe "$m"
    done
}

mount_xenfs() {
    mount -t xenfs xenfs /proc/xen
    grep -q control_d /proc/xen/capabilities
}

start_xenstored() {
    mkdir -p /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen "$CONSOLE_DIR"
    XENSTORED_ROOTDIR=/var/lib/xenstored "$XEN_LIBDIR/xenstored" --pid-file /run/xenstore.pid
    local i=0
    until xenstore-read -s / >/dev/null 2>&1; do
        [ $i -ge 300 ] && { echo "xenstored not answering"; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
}

start_xenconsoled() {
    "$XEN_LIBDIR/xenconsoled" --pid-file=/run/xenconsoled.pid --log=guest --log-dir="$CONSOLE_DIR"
}

toolstack_up() {
    SCENARIO=dom0
    SCENARIO_FAILED=
    touch "$STATE/scenario-start"
    step modules load_modules
    step xenfs mount_xenfs
    step xenstored start_xenstored
    step init-dom0 "$XEN_LIBDIR/xen-init-dom0"
    step xenconsoled start_xenconsoled
    [ -z "$SCENARIO_FAILED" ]
}
