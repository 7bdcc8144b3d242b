# 10-toolstack: the toolstack dom0 brought up answers, through xl and through libxl.

xl_list_has_dom0() { xl list | tee /dev/stderr | grep -q '^Domain-0 *0 '; }

# PVH and HVM need hardware-assisted paging (Debian's Xen has no shadow paging).
xl_info_has_hap() { xl info | tee /dev/stderr | grep -q '^virt_caps .*hap'; }

xenstore_names_dom0() { [ "$(xenstore-read /local/domain/0/name)" = Domain-0 ]; }

step xl-list xl_list_has_dom0
step xl-info-hap xl_info_has_hap
step xenstore xenstore_names_dom0
step libxl-list xen-libxl-check list
say "dom0 memory: $(dom0_memory)"
