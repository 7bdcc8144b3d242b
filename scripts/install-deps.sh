#!/bin/sh
# Installs the Debian 12 packages that building and testing vmd need, and only those that
# are missing (one dpkg query, then at most one apt-get run). Used by `make demo` and
# `make check`; safe to run again.
set -eu

# build
PKGS="gcc make meson ninja-build pkg-config libxen-dev libevent-dev libjansson-dev libyajl-dev"
# vm.install reads installer ISOs (ISO 9660) with libcdio's libiso9660
PKGS="$PKGS libiso9660-dev"
# cloud-init NoCloud seeds (cidata ISO 9660 volumes) are written with libisofs
PKGS="$PKGS libisofs-dev"
# systemd integration (sd_notify, socket activation) and the man pages
PKGS="$PKGS libsystemd-dev scdoc"
# tests: integration (python + schemas), sanitizers and memory checks
PKGS="$PKGS python3 python3-jsonschema valgrind clang libclang-rt-14-dev"
# vm.clone tests and tests/bench/clone: XFS with reflink on a loop device (xfsprogs), and
# virt-sysprep on cloned images (libguestfs-tools; its appliance boots the host's kernel from
# /boot, which a container or microVM may lack: linux-image-amd64)
PKGS="$PKGS xfsprogs libguestfs-tools linux-image-amd64"
# tests/xen: QEMU and the tools that build the dom0 image (nothing Xen-related on the host);
# qemu-utils: qemu-img for vm.snapshot_* of qcow2 images (and its tests: qemu-io)
PKGS="$PKGS qemu-system-x86 qemu-utils busybox-static cpio e2fsprogs xz-utils zstd kmod fdisk"
# installer ISOs for vm.install tests (unit, integration, tests/xen): xorriso; the HVM
# installer and installed-system images are grub-mkrescue images (BIOS GRUB, mtools)
PKGS="$PKGS xorriso grub-pc-bin grub-common mtools"
# tests/systemd: a debootstrapped Debian with systemd as PID 1 under QEMU; systemd-analyze
# and systemd-sysusers on the host (the host need not run systemd)
PKGS="$PKGS debootstrap systemd"
# tests/ansible: the collection under Debian's ansible-core, and what ansible-test sanity's
# checks need (it would fetch them from PyPI; the test gives it Debian's)
PKGS="$PKGS ansible-core python3-voluptuous python3-pycodestyle pylint yamllint"
# vmctl -H ssh:// tests: a real sshd on the loopback (and ssh, ssh-keygen)
PKGS="$PKGS openssh-server openssh-client"
# vmctl metrics: its Prometheus text read back by another parser, and promtool's lint
# (Debian's prometheus; its server is not started by the tests)
PKGS="$PKGS python3-prometheus-client prometheus"
# managed networks (vmctl network): bridges by iproute2, NAT rules by nftables, DHCP and DNS
# by dnsmasq (the binary alone: dnsmasq-base, no system service)
PKGS="$PKGS iproute2 nftables dnsmasq-base"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
