# 48-xl-oracle: xl is the oracle, in a real dom0. For every config of tests/xlcfg-corpus (public
# files written by others) and tests/xl-oracle/cases (ours, together using every key of
# xl.cfg(5)), what `vmctl create --dry-run FILE` prints (vmd on the real libxl backend, with
# this host's cpus and nodes and Debian's /etc/xen/xl.conf) equals what the real
# `xl -N create FILE` prints, field for field, but for the deliberate differences that
# tests/xl-oracle/differences lists (the same list as outside Xen). No guest is made.
# budget: 240
VMD_STATE_DIR=$STATE/vmd-$SCENARIO

same_as_xl() {
    local rc=0
    python3 "$VT/oracle/test-differential.py" --socket /run/vmd/vmd.sock --vmctl vmctl \
        --xl "xl -N create" --dir "$VT/oracle" > "$STATE/oracle.out" || rc=$?
    cat "$STATE/oracle.out"
    say "$(grep -m1 'files:' "$STATE/oracle.out")"  # the figures, into the serial log
    return $rc
}

nothing_made() {  # no definition stored, no domain but dom0
    [ -z "$(ls "$VMD_STATE_DIR/guests" 2>/dev/null)" ] || { ls "$VMD_STATE_DIR/guests"; false; }
    [ "$(xl list | tail -n +2 | wc -l)" = 1 ] || { xl list; false; }
}

step vmd-up vmd_up
step same-as-xl same_as_xl
step nothing-made nothing_made
show_vmd_log
