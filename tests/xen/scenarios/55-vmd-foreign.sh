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

# vmd_up, vm_field, wait_vm_state, wait_file, show_vmd_log: dom0/lib.sh

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
