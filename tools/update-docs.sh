#!/bin/sh
# update-docs.sh XLKEYS_DOC [--check]: writes what tools/xlkeys-doc prints from the key table
# into the files that carry it (proto/schemas/config.json whole; README.md and
# man/vmd-xlcfg.5.scd between their "xl.cfg keys" markers). With --check, writes nothing and
# fails naming each file that differs (the test "generated-docs" runs that).
set -eu
doc=$1
check=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# between FILE BEGIN-LINE END-LINE NEW-CONTENT-FILE > OUT
between() {
    awk -v b="$2" -v e="$3" -v new="$4" '
        $0 == b { print; while ((getline l < new) > 0) print l; skip = 1; found++; next }
        $0 == e { skip = 0 }
        !skip { print }
        END { if (found != 1) exit 3 }' "$1"
}

put() { # put TARGET GENERATED
    if [ "$check" = --check ]; then
        if ! cmp -s "$1" "$2"; then
            echo "$1 is not what tools/xlkeys-doc prints; run tools/update-docs.sh" >&2
            diff -u "$1" "$2" | head -20 >&2 || true
            status=1
        fi
    else
        cp "$2" "$1"
    fi
}

"$doc" schema > "$tmp/config.json"
put "$top/proto/schemas/config.json" "$tmp/config.json"

"$doc" readme > "$tmp/readme.keys"
between "$top/README.md" "<!-- xl.cfg keys: tools/xlkeys-doc readme -->" \
    "<!-- end of xl.cfg keys -->" "$tmp/readme.keys" > "$tmp/README.md"
put "$top/README.md" "$tmp/README.md"

"$doc" man > "$tmp/man.keys"
between "$top/man/vmd-xlcfg.5.scd" "; xl.cfg keys: tools/xlkeys-doc man" \
    "; end of xl.cfg keys" "$tmp/man.keys" > "$tmp/vmd-xlcfg.5.scd"
put "$top/man/vmd-xlcfg.5.scd" "$tmp/vmd-xlcfg.5.scd"
exit $status
