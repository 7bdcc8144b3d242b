# common.sh: sourced by the host-side scripts of the systemd tier (bash): paths, the clock,
# messages.

# Outside the source tree: the cache (.debs, the debootstrapped base) survives between runs;
# the work dir holds one run's image and logs.
CACHE=${VMD_SYSTEMD_CACHE:-/var/cache/vmd-systemd}
WORK=${VMD_SYSTEMD_WORK:-/var/tmp/vmd-systemd}

: "${SD_T0:=$(date +%s%N)}"
export SD_T0

elapsed() {  # seconds since SD_T0, one decimal
    local ms=$(( ($(date +%s%N) - SD_T0) / 1000000 ))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

say() { printf '[systemd %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }
