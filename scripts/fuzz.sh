#!/bin/sh
# Runs each libFuzzer target for a while from its seed corpus (copied to a scratch dir so the
# tree stays clean). Prints one result line per target; exit 1 if any target found a crash.
set -u
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
W=$(mktemp -d /tmp/vmd-fuzz-run.XXXXXX)
# fuzz-request makes its files under /tmp/vmd-fuzz-root (see fuzz-request.c)
trap 'rm -rf "$W" /tmp/vmd-fuzz-root' EXIT
rc=0
# Seeds for fuzz-iso: small images (-no-pad: 90 KiB) with Rock Ridge + Joliet, Joliet only and plain
# names, holding a Debian layout and isolinux and grub menus.
iso_corpus() {
	src="$W/iso-src"
	mkdir -p "$src/install.amd/xen" "$src/isolinux" "$src/boot/grub" "$src/live"
	printf 'kernel' >"$src/install.amd/xen/vmlinuz"
	printf 'initrd' >"$src/install.amd/xen/initrd.gz"
	printf 'k' >"$src/live/vmlinuz"
	printf 'i' >"$src/live/initrd.img"
	printf 'label x\n kernel /live/vmlinuz\n append initrd=/live/initrd.img\n' \
		>"$src/isolinux/txt.cfg"
	printf 'menuentry x {\n linux /live/vmlinuz\n initrd /live/initrd.img\n}\n' \
		>"$src/boot/grub/grub.cfg"
	mk() { xorriso -as mkisofs -no-pad "$@" >/dev/null 2>&1 || echo "xorriso $* failed" >&2; }
	mk -R -J -o "$1/rr-joliet.iso" "$src"
	mk --norock -J -o "$1/joliet.iso" "$src"
	mk --norock -o "$1/plain.iso" "$src"
	rm "$src/install.amd/xen/initrd.gz"
	mk -R -o "$1/menus.iso" "$src"
}
for t in request xlcfg iso; do
	mkdir -p "$W/$t"
	max_len=4096
	case $t in
	request) cp tests/fuzz/corpus-request/* "$W/$t/" ;;
	xlcfg) cp tests/unit/xlcfg/*.cfg tests/unit/xlcfg/*.json "$W/$t/" 2>/dev/null ;;
	iso) iso_corpus "$W/$t"; max_len=262144 ;;
	esac
	# Leaks are not judged here: requests left pending at the end of a run are not leaks.
	if ASAN_OPTIONS=detect_leaks=0 "$BUILD/tests/fuzz/fuzz-$t" -max_total_time="$SECONDS_EACH" \
		-max_len="$max_len" -timeout=10 -print_final_stats=1 -artifact_prefix="$W/crash-$t-" "$W/$t" >"$W/$t.log" 2>&1; then
		echo "fuzz-$t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$W/$t.log" |
			awk '{print $2}') runs; $(tail -n 1 "$W/$t.log"))"
	else
		echo "fuzz-$t: FAILED"
		tail -n 40 "$W/$t.log"
		mkdir -p fuzz-artifacts && cp "$W"/crash-"$t"-* fuzz-artifacts/ 2>/dev/null
		rc=1
	fi
done
exit $rc
