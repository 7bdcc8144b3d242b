# 20-pv: a PV guest's life, driven by xl from dom0: create, console marker, a reboot
# request and a shutdown request, both carried out by the guest's PID 1, then create
# again and destroy.
G=vmdt-pv

rebooted_with_new_domid() {
    wait_console $G "$MARK_HELLO role=pv" "$MARKER_TIMEOUT" 2
    [ "$(domid_of $G)" != "$(cat /tmp/vmdt-pv.domid)" ]
}

step create xl_create pv
step running wait_running $G
step hello wait_console $G "$MARK_HELLO role=pv type=PV"
domid_of $G > /tmp/vmdt-pv.domid
# xl reboot only asks; the guest's /sbin/reboot tells PID 1, which says so and reboots,
# and xl's background process (on_reboot="restart") builds the domain again.
step reboot xl reboot $G
step reboot-marker wait_console $G 'VMDTEST-REBOOT role=pv'
step rebooted rebooted_with_new_domid
# xl shutdown likewise: the guest powers itself off and xl's on_poweroff destroys it.
step shutdown xl shutdown $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=pv'
step shutdown-gone wait_gone $G
step recreate xl_create pv
step hello-again wait_console $G "$MARK_HELLO role=pv"
step destroy xl destroy $G
step destroy-gone wait_gone $G 10
