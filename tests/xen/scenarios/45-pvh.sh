# 45-pvh: a PVH guest (HAP, no device model) boots, reports itself as PVH, and carries
# out a shutdown request.
G=vmdt-pvh

step create xl_create pvh
step hello wait_console $G "$MARK_HELLO role=pvh type=PVH"
step shutdown xl shutdown $G
step poweroff-marker wait_console $G 'VMDTEST-POWEROFF role=pvh'
step shutdown-gone wait_gone $G
