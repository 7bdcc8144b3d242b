#!/bin/sh
#
# verify.sh BUILD [ROOT]: `systemd-analyze verify` of vmd's units, as installed.
#
# `meson install` puts the build into a staging root, next to a copy of the host's own units
# (the targets ours refer to); verify runs with --root= on it, so ExecStart= binaries, the
# helper and the Documentation= man pages are those just built (without --root it fails on
# binaries the host does not have). Any message at all counts as a failure: systemd only
# warns about unknown keys. A unit with known mistakes must fail the same check, or the check
# proves nothing. With ROOT (a Debian image root that already holds vmd, as
# tests/systemd/run.sh builds it), the units are verified against that system instead.
#
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD [ROOT]" >&2
	exit 2
fi
BUILD=$1
ROOT=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ! command -v systemd-analyze >/dev/null; then
	echo "# systemd-analyze is missing (Debian package systemd)"
	not_ok "systemd-analyze available"
	summary systemd-verify
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/vmd-verify.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

if [ -z "$ROOT" ]; then
	ROOT=$T/root
	if meson install -C "$BUILD" --no-rebuild --destdir "$ROOT" >"$T/install.log" 2>&1; then
		ok "meson install into a staging root"
	else
		not_ok "meson install into a staging root"
		diag "$T/install.log"
	fi
	mkdir -p "$ROOT/usr/lib/systemd"
	for d in /usr/lib/systemd/system /lib/systemd/system; do
		if [ -d "$d" ] && [ ! -L "$d" ]; then
			cp -a "$d" "$ROOT/usr/lib/systemd/" && break
		fi
	done
fi

# Where the units and man pages are under ROOT (they follow the build's prefix).
unit=$(cd "$ROOT" && find . -path '*/systemd/system/vmd.service' ! -path './etc/*' | head -n 1)
unitdir=${unit%/vmd.service}
unitdir=${unitdir#.}
man8=$(cd "$ROOT" && find . -path '*/man8/vmd.8*' | head -n 1)
mandir=${man8%/man8/*}
mandir=${mandir#.}
if [ -z "$unitdir" ]; then
	not_ok "units installed"
	summary systemd-verify
	exit 1
fi
echo "# units in $ROOT$unitdir, man pages in $ROOT$mandir"

# verify OUT UNIT...: systemd-analyze verify with nothing to say.
verify() {
	out=$1
	shift
	MANPATH=${mandir:+$ROOT$mandir} SYSTEMD_LOG_COLOR=0 \
		systemd-analyze --root="$ROOT" verify "$@" >"$out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$out" ]
}

units="vmd.socket vmd-ro.socket vmd.service vmd-guest@g1.service vmd-guests.service"
units="$units vmd-metrics.socket vmd-metrics@0.service"
set --
for u in $units; do
	set -- "$@" "$unitdir/$u"
done
if verify "$T/verify.out" "$@"; then
	ok "systemd-analyze verify: $units"
else
	not_ok "systemd-analyze verify: $units (rc $rc)"
	diag "$T/verify.out"
fi

# The check can fail: the same template with a misspelt key and a relative ExecStop=.
mkdir -p "$ROOT/etc/systemd/system"
bad="$ROOT/etc/systemd/system/vmd-verify-bad@.service"
sed -e 's/^After=/Aftre=/' -e 's|^ExecStop=/|ExecStop=|' "$ROOT$unitdir/vmd-guest@.service" >"$bad"
if verify "$T/bad.out" /etc/systemd/system/vmd-verify-bad@x.service; then
	not_ok "a unit with mistakes fails verify"
else
	if grep -q "Aftre" "$T/bad.out" && grep -qi "executable\|absolute" "$T/bad.out"; then
		ok "a unit with mistakes fails verify"
	else
		not_ok "a unit with mistakes fails verify, naming both mistakes"
		diag "$T/bad.out"
	fi
fi
rm -f "$bad"

# The rule that keeps `systemctl restart vmd` from stopping guests: no guest unit may pull
# vmd.service in a way that propagates stop or restart.
bound=$(grep -lE '^(Requires|BindsTo|PartOf|Requisite)=.*vmd\.service' \
	"$ROOT$unitdir/vmd-guest@.service" "$ROOT$unitdir/vmd-guests.service")
if [ -z "$bound" ]; then
	ok "guest units are only ordered after vmd.service, not bound to it"
else
	not_ok "guest units are only ordered after vmd.service, not bound to it: $bound"
fi

helper=$(cd "$ROOT" && find . -path '*/vmd/vmd-guest' -type f | head -n 1)
check "the guest helper is installed executable and parses" \
	sh -c '[ -x "$1" ] && sh -n "$1"' sh "$ROOT/${helper#./}"

# The example vmd.conf names only real keys with valid values: uncommented, vmd accepts it
# (backend set to sim, which every build has).
example=$(cd "$ROOT" && find . -name vmd.conf.example | head -n 1)
vmd=$(cd "$ROOT" && find . -path '*/sbin/vmd' -type f | head -n 1)
if [ -n "$example" ] && [ -n "$vmd" ]; then
	sed -e 's/^#\([a-z_]* = \)/\1/' -e 's/^backend = .*/backend = sim/' "$ROOT/${example#./}" \
		>"$T/vmd.conf"
	if [ "$(grep -c '^[a-z_]* = ' "$T/vmd.conf")" -ge 10 ] &&
		"$ROOT/${vmd#./}" --check-config --config "$T/vmd.conf" >"$T/check.out" 2>&1; then
		ok "vmd --check-config accepts the installed vmd.conf.example, uncommented"
	else
		not_ok "vmd --check-config accepts the installed vmd.conf.example, uncommented"
		diag "$T/check.out"
	fi
else
	not_ok "vmd and vmd.conf.example installed"
fi

# For information: systemd's view of the sandbox (not a pass/fail criterion).
MANPATH=$ROOT$mandir systemd-analyze security --offline=yes --root="$ROOT" \
	"$unitdir/vmd.service" 2>/dev/null | grep -i 'overall exposure' | sed 's/^/# /'

summary systemd-verify
