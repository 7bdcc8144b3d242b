# common.sh: sourced by the host-side scripts of the Xen tier (bash).
# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts sourcing this
# Paths, settings and small helpers shared by run.sh, build-image.sh and boot.sh.

XEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$XEN_DIR/../.." && pwd)

# Both live outside the source tree: the cache survives between runs (.debs and the
# big base image), the work dir holds this run's logs and boot files.
CACHE=${VMD_XEN_CACHE:-/var/cache/vmd-xen}
WORK=${VMD_XEN_WORK:-/var/tmp/vmd-xen}
XEN_VERSION=4.17

# One clock for the whole run, shared with child scripts through the environment.
: "${XEN_T0:=$(date +%s%N)}"
export XEN_T0

elapsed() {  # seconds since XEN_T0, one decimal
    local ms=$(( ($(date +%s%N) - XEN_T0) / 1000000 ))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

say() { printf '[xen %6ss] %s\n' "$(elapsed)" "$*"; }
die() { say "ERROR: $*" >&2; exit 2; }

# Host tools the tier needs; only the missing ones are installed. Nothing Xen-related
# is ever installed on the host: Xen, dom0's userland and the kernel come from .debs
# unpacked into the image.
ensure_host_tools() {
    local missing=() spec cmd
    # a command, or a file (grub-mkrescue's BIOS images come from grub-pc-bin)
    for spec in qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod \
                xz:xz-utils mkfs.ext4:e2fsprogs sfdisk:fdisk \
                flock:util-linux gzip:gzip xorriso:xorriso grub-mkrescue:grub-common \
                /usr/lib/grub/i386-pc/cdboot.img:grub-pc-bin; do
        cmd=${spec%%:*}
        command -v "$cmd" >/dev/null 2>&1 || [ -e "$cmd" ] || missing+=("${spec#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing host tools: ${missing[*]}"
    local apt=(apt-get -y -qq -o DPkg::Lock::Timeout=300)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null ||
        { "${apt[@]}" update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; } ||
        die "could not install ${missing[*]}"
}
