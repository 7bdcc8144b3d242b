# 55-vmd-foreign: a guest started by `xl create` next to vmd shows in `vmctl list` as not
# managed (no "vmd" record), vmd neither adopts nor touches it, and refuses to act on it by
# name; `xl destroy` removes it and vmd simply stops listing it.
G=vmdt-xl-foreign
CFG=/tmp/$G.cfg
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

cat > $CFG <<CFGEOF
name = "$G"
type = "pv"
memory = 128
vcpus = 1
kernel = "$VT/guest/vmlinux"
ramdisk = "$VT/guest/initrd.gz"
extra = "console=hvc0 vmdtest.role=foreign"
CFGEOF

# --- vmd helpers (the same in each 5x-vmd scenario) ---
VMD_LOG_FROM=$(($(wc -l < "$VMD_LOG" 2>/dev/null || echo 0) + 1))
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
show_vmd_log() {  # what vmd logged during this scenario, into the serial log
    tail -n +"$VMD_LOG_FROM" "$VMD_LOG" 2>/dev/null | sed 's/^/  [vmd] /'
}
# --- end of vmd helpers ---

xl_create_foreign() {
    rm -f "$(console_log $G)"
    xl create $CFG
}

listed_foreign() {
    vmctl list
    line=$(vmctl -j list | tr '{' '\n' | grep "\"name\":\"$G\"")
    echo "$line"
    echo "$line" | grep -q '"managed":false'
    echo "$line" | grep -q "\"domid\":$(domid_of $G)"
}

not_ours_to_touch() {
    if vmctl destroy $G; then return 1; fi
    if vmctl shutdown $G; then return 1; fi
    wait_running $G 2
}

vmd_restart_leaves_it() {
    vmd_stop
    sleep 0.5
    vmd_up
    grep -q "is not managed by vmd" "$VMD_LOG"
    wait_running $G 2
    listed_foreign
}

unlisted_after_xl_destroy() {
    xl destroy $G
    wait_gone $G 10
    if vmctl list | grep "$G"; then return 1; fi
    vmctl version
}

step vmd-up vmd_up
step xl-create xl_create_foreign
step hello wait_console $G "$MARK_HELLO role=foreign"
step listed-foreign listed_foreign
step untouched not_ours_to_touch
step vmd-restart vmd_restart_leaves_it
step xl-destroy unlisted_after_xl_destroy
show_vmd_log
