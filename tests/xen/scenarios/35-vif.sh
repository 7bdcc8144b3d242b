# 35-vif: a PV guest's vif lands on bridge xenbr0 (vif-bridge hotplug script), the
# guest sees eth0 with the configured MAC and carrier, and the vif goes with the guest.
# Link level only: no addresses anywhere and no NIC on the QEMU side.
G=vmdt-vif
MAC=00:16:3e:76:6d:35

make_bridge() {
    ip link show xenbr0 >/dev/null 2>&1 || ip link add xenbr0 type bridge
    ip link set xenbr0 up
}

bridge_ports() { ip -br link show master xenbr0; }

vif_on_bridge() { bridge_ports | grep "^vif$(domid_of $G)\.0"; }

no_vif_left() { [ -z "$(bridge_ports)" ] || { bridge_ports; false; }; }

step bridge make_bridge
step create xl_create pv-vif
step guest-eth0 wait_console $G "VMDTEST-NET eth0 mac=$MAC carrier=1"
# xl create can return before vif-bridge has enslaved the vif: poll for it.
step vif-enslaved retry 60 vif_on_bridge
step destroy xl destroy $G
step destroy-gone wait_gone $G 10
step vif-removed retry 30 no_vif_left
