# 40-pygrub: a PV guest with bootloader="pygrub" and no kernel in its config boots the
# kernel, initrd and command line named by /boot/grub/grub.cfg inside its disk image
# (default entry 1; entry 0 is a decoy with another tag).
G=vmdt-pygrub

step create xl_create pygrub
step hello wait_console $G "$MARK_HELLO role=pygrub type=PV tag=grub-cfg"
step destroy xl destroy $G
step destroy-gone wait_gone $G 10
