# 25-libxl: the same PV guest through the libxl C API (xen-libxl-check, built from
# tests/xen/libxl-check.c): asynchronous create, destroy, and a shutdown request whose
# completion arrives as a libxl DOMAIN_SHUTDOWN event.
G=vmdt-libxl
CMDLINE="console=hvc0 vmdtest.role=libxl"

libxl_create() {
    rm -f "$(console_log $G)"
    xen-libxl-check create $G $VT/guest/vmlinux $VT/guest/initrd.gz "$CMDLINE" 128
}

step create libxl_create
step hello wait_console $G "$MARK_HELLO role=libxl type=PV"
step destroy xen-libxl-check destroy $G
step destroy-gone wait_gone $G 10
step create-again libxl_create
step hello-again wait_console $G "$MARK_HELLO role=libxl"
step shutdown xen-libxl-check shutdown $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=libxl' 10
step shutdown-gone wait_gone $G 10
