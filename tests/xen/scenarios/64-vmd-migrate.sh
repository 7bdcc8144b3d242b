# 64-vmd-migrate: `vmctl migrate` of a running PV guest over SSH to the same dom0
# (ssh://localhost, as `xl migrate NAME localhost` does it), with libxl's migration stream
# through a real sshd on dom0's loopback. The guest counts on its console every 0.2 s; the
# count goes on after the migration, with no second boot, in a new domain; then it goes once
# more, live, and back to a stopped-and-started life. The same guest config under xl, `xl
# migrate` to localhost, is the reference for the time; a migration that fails (no vmd
# behind the socket) leaves the guest running where it was.
need_vmd_libxl || return 0
need ssh sshd ssh-keygen || return 0
G=vmdt-mig
X=vmdt-xlmig
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

rm -f "$STATE/$G.times"
counter_cfg $G > /tmp/$G.cfg
counter_cfg $X > /tmp/$X.cfg

# sshd on 127.0.0.1:22 with a host key of its own; root logs in with a key made here; the
# client accepts the new host key once (BatchMode: vmd's ssh never prompts). vmd uses the
# plain `ssh` of root's configuration, as an admin's dom0 would.
sshd_up() {
    ip link set lo up
    mkdir -p /run/sshd /root/.ssh /tmp/sshd
    chmod 700 /root/.ssh
    ssh-keygen -q -t ed25519 -N '' -f /tmp/sshd/host_key
    [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
    cat /root/.ssh/id_ed25519.pub > /root/.ssh/authorized_keys
    cat > /tmp/sshd/config <<EOF
ListenAddress 127.0.0.1
HostKey /tmp/sshd/host_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel ERROR
EOF
    cat > /root/.ssh/config <<EOF
Host localhost 127.0.0.1
    StrictHostKeyChecking accept-new
    UserKnownHostsFile /root/.ssh/known_hosts
    LogLevel ERROR
EOF
    /usr/sbin/sshd -f /tmp/sshd/config -E /tmp/sshd/log
    retry 10 ssh -o BatchMode=yes localhost true
    ssh -o BatchMode=yes localhost command -v vmctl
}

last_tick() {  # NAME...: the highest count on their consoles
    local n
    n=$(cat "$@" 2>/dev/null | tr -d '\r' | sed -n 's/^VMDTEST-TICK \([0-9]*\)$/\1/p' | sort -n | tail -n 1)
    echo "${n:-0}"
}
logs_of() { ls "$CONSOLE_DIR"/guest-"$1"*.log 2>/dev/null; }

create() {
    rm -f "$CONSOLE_DIR"/guest-$G*.log
    vmctl create /tmp/$G.cfg
    wait_vm_state $G running 5
    wait_console $G 'VMDTEST-TICK 5' 120
    domid_of $G > "$STATE/$G.domid"
}

# migrate [--live]: the counter before, the migration, then the count going on past it in
# the new domain, without a second HELLO (the guest did not boot again).
migrate() {
    local before after t0 out
    before=$(last_tick $(logs_of $G))
    t0=$(now)
    out=$(vmctl migrate $G ssh://localhost "$@")
    echo "$out"
    echo "vmd: $(since "$t0") s (before: tick $before)" | tee -a "$STATE/$G.times"
    wait_vm_state $G running 5
    [ "$(vm_field $G domid)" != "$(cat "$STATE/$G.domid")" ]
    [ "$(xl list | awk -v g=$G '$1 ~ "^" g { n++ } END { print n }')" = 1 ] || { xl list; return 1; }
    xl domid $G
    local end=$((SECONDS + 60))
    until [ "$(last_tick $(logs_of $G))" -gt "$((before + 5))" ]; do
        [ $SECONDS -ge $end ] && { echo "the count did not go on past $before"; ls -l $(logs_of $G); tail -n 3 $(logs_of $G); return 1; }
        sleep 0.5
    done
    after=$(last_tick $(logs_of $G))
    echo "counting on: $before -> $after"
    [ "$(cat $(logs_of $G) | grep -ac 'VMDTEST-HELLO')" = 1 ] || { echo "the guest booted again"; return 1; }
    vm_field $G domid > "$STATE/$G.domid"
}

# A target without vmd: a clear error, and the guest runs on here as it was.
failed_migration() {
    local domid rc=0
    domid=$(cat "$STATE/$G.domid")
    vmctl migrate $G ssh://localhost/run/no-vmd.sock > /tmp/mig.out 2>&1 || rc=$?
    cat /tmp/mig.out
    [ "$rc" = 2 ]
    grep -q "cannot connect" /tmp/mig.out
    [ "$(vm_field $G state)" = running ]
    [ "$(vm_field $G domid)" = "$domid" ]
    local before end=$((SECONDS + 30))
    before=$(last_tick $(logs_of $G))
    until [ "$(last_tick $(logs_of $G))" -gt "$((before + 3))" ]; do
        [ $SECONDS -ge $end ] && { echo "the guest does not run on"; return 1; }
        sleep 0.5
    done
}

# --live needs Xen's log-dirty mode for the guest; the dom0 of this tier (Xen nested in
# QEMU's TCG) answers EOPNOTSUPP to it, so a live migration fails here before the guest is
# suspended: then it must still run where it was, and the step is reported as skipped.
migrate_live() {
    local rc=0
    migrate --live > /tmp/mig-live.out 2>&1 || rc=$?
    cat /tmp/mig-live.out
    [ "$rc" = 0 ] && return 0
    grep -q "Failed to enable logdirty" "$VMD_LOG" || return 1
    [ "$(vm_field $G state)" = running ] || { echo "the guest does not run on"; return 1; }
    echo "SKIP-LIVE"
}

# The reference: the same guest under xl, `xl migrate` to localhost (live, as xl does).
xl_reference() {
    local t0
    rm -f "$CONSOLE_DIR"/guest-$X*.log
    xl create /tmp/$X.cfg
    wait_console $X 'VMDTEST-TICK 5' 120
    t0=$(now)
    xl migrate $X localhost
    echo "xl: $(since "$t0") s" | tee -a "$STATE/$G.times"
    wait_running $X 30
    xl destroy $X
}

ratio() {  # the live migration (the second vmd line) against xl's (live too)
    cat "$STATE/$G.times"
    awk '/^vmd:/ { v = $2 } /^xl:/ { x = $2 } END {
        if (v > 0 && x > 0) printf "vmctl migrate --live / xl migrate: %.2f (%.1f s / %.1f s)\n", v / x, v, x
        else exit 1 }' "$STATE/$G.times"
}

lifecycle_after() {
    vmctl shutdown --wait --timeout 60 $G
    [ "$(vm_field $G state)" = stopped ]
    vmctl start $G
    wait_vm_state $G running 5
    wait_console $G "VMDTEST-HELLO role=counter" 60 2
    vmctl destroy $G
    vmctl remove $G
}

step sshd sshd_up
step vmd-up vmd_up
step create create
step -t 240 migrate migrate
step -t 240 migrate-live migrate_live
step failed-migration failed_migration
if tail -n +"$VMD_LOG_FROM" "$VMD_LOG" | grep -q "Failed to enable logdirty"; then
    # xl migrate is always live: the reference cannot run in this dom0 either
    skip xl-migrate "no log-dirty mode for PV guests in this nested dom0 (EOPNOTSUPP)"
else
    step -t 240 xl-migrate xl_reference
    step ratio ratio
fi
step lifecycle lifecycle_after
show_vmd_log
