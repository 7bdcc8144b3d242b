#!/bin/bash
# Self-test of xl-dry-run: dry-runs a few xl.cfg files through Xen's real xl (under
# xl-stub.so) and checks with python3 that the libxl_domain_config JSON parses and carries
# what xl puts there in a dom0. Prints "ok"/"FAIL" per check and a closing line
# "N passed, N failed"; exits 1 when a check failed.
#
# Uses the same cache and work dir as xl-dry-run (prepared on the first run); the
# concurrency check prepares a private work dir from a private copy of the .debs.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DRY=$HERE/xl-dry-run
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/test-xl-dry-run.XXXXXX)
trap 'rm -rf "$T"' EXIT
export XL_ORACLE_QUIET=1
# The host the checks below assume, whatever the caller's environment says.
unset XL_CONF XL_STUB_CPUS XL_STUB_MAX_CPU_ID XL_STUB_NODES XL_STUB_MEMORY_MIB XL_STUB_TRACE
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    shift
    [ $# -eq 0 ] || sed 's/^/    /' "$@"
}

# dry NAME [ENV=VALUE...] -- XL-DRY-RUN-ARGS: runs it, stdout to $T/NAME.json, stderr to
# $T/NAME.err, status in $T/NAME.rc
dry() {
    local name=$1 envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$DRY" "$@" > "$T/$name.json" 2> "$T/$name.err"
    echo $? > "$T/$name.rc"
}

# expect NAME DESCRIPTION PYTHON: PYTHON's asserts run with j = the JSON (first document),
# c = j["c_info"], b = j["b_info"], h = b["type.hvm"] (if any), err = xl's stderr.
expect() {
    local name=$1 what=$2 code=$3
    if [ "$(cat "$T/$name.rc")" != 0 ]; then
        fail "$what (xl exited $(cat "$T/$name.rc"))" "$T/$name.err"
        return
    fi
    if "$PY" - "$T/$name.json" "$T/$name.err" "$code" > "$T/$name.py" 2>&1 <<'PY'
import json, sys
text = open(sys.argv[1]).read()
err = open(sys.argv[2]).read()
j, end = json.JSONDecoder().raw_decode(text)
c = j["c_info"]
b = j["b_info"]
h = b.get("type.hvm", {})
exec(sys.argv[3])
PY
    then ok "$what"; else fail "$what" "$T/$name.py"; fi
}

# expect_fail NAME DESCRIPTION STDERR-PATTERN: xl exited non-zero, said PATTERN, printed no JSON
expect_fail() {
    local name=$1 what=$2 pattern=$3
    if [ "$(cat "$T/$name.rc")" != 0 ] && grep -q -- "$pattern" "$T/$name.err" &&
       [ ! -s "$T/$name.json" ]; then
        ok "$what"
    else
        echo "status $(cat "$T/$name.rc")" >> "$T/$name.err"
        fail "$what" "$T/$name.err"
    fi
}

# ------------------------------------------------------------------ setup

if "$DRY" --check > "$T/check.out" 2>&1 && grep -q '^xl 4\.17' "$T/check.out"; then
    ok "--check: $(head -n1 "$T/check.out")"
else
    fail "--check" "$T/check.out"
    echo "0 passed, $((failed)) failed"
    exit 1
fi

# ------------------------------------------------------------------ configs

cat > "$T/pv.cfg" <<'EOF'
name = "pv-guest"
type = "pv"
kernel = "/srv/vmlinuz"
ramdisk = "/srv/initrd.img"
extra = "console=hvc0 root=/dev/xvda"
memory = 512
maxmem = 768
vcpus = 2
cpus = "0-1"
on_crash = "preserve"
disk = [ 'format=raw,vdev=xvda,access=rw,target=/srv/pv.img' ]
vif = [ 'mac=00:16:3e:12:34:56,bridge=xenbr0,rate=10Mb/s' ]
EOF

cat > "$T/hvm.cfg" <<'EOF'
name = "hvm-guest"
type = "hvm"
memory = 2048
vcpus = 2
maxvcpus = 4
disk = [ 'format=qcow2,vdev=hda,access=rw,target=/srv/hvm.qcow2',
         'format=raw,vdev=hdc,access=ro,devtype=cdrom,target=/srv/install.iso' ]
vif = [ 'mac=00:16:3e:00:00:02,bridge=xenbr0,model=e1000,rate=100Mb/s@20ms',
        'bridge=xenbr1,rate=1MB/s' ]
vnc = 0
sdl = 0
serial = [ 'pty', 'file:/tmp/hvm-serial.log' ]
viridian = [ 'base', 'time_ref_count', '!hcall_remote_tlb_flush' ]
boot = "dc"
vnuma = [ [ "pnode=0", "size=1024", "vcpus=0-1", "vdistances=10,20" ],
          [ "pnode=1", "size=1024", "vcpus=2-3", "vdistances=20,10" ] ]
EOF

cat > "$T/nodes.cfg" <<'EOF'
name = "pvh-nodes"
type = "pvh"
kernel = "/srv/vmlinuz"
memory = 256
vcpus = 2
cpus = "nodes:1"
cpus_soft = "all"
claim_mode = 1
EOF

printf 'claim_mode = 0\n' > "$T/xl-claim0.conf"
printf 'claim_mode = 0\nvm.cpumask = "1-3"\n' > "$T/xl-mask.conf"

# ------------------------------------------------------------------ checks

dry pv XL_STUB_TRACE=1 -- "$T/pv.cfg"
expect pv "PV guest: name, type, kernel, ramdisk, cmdline, memory" '
assert c["name"] == "pv-guest", c
assert c["type"] == "pv", c
assert b["kernel"] == "/srv/vmlinuz" and b["ramdisk"] == "/srv/initrd.img", b
assert b["cmdline"] == "console=hvc0 root=/dev/xvda", b
assert b["target_memkb"] == 512 * 1024 and b["max_memkb"] == 768 * 1024, b
assert j["on_crash"] == "preserve", j
'
expect pv "PV guest: vcpus, cpus=\"0-1\" as each vcpu's hard affinity" '
assert b["max_vcpus"] == 2 and b["avail_vcpus"] == [0, 1], b
assert b["vcpu_hard_affinity"] == [[0, 1], [0, 1]], b["vcpu_hard_affinity"]
'
expect pv "PV guest: claim_mode \"True\" without xl.conf" '
assert b["claim_mode"] == "True", b.get("claim_mode")
'
expect pv "PV guest: vif rate=10Mb/s is 62500 bytes per 50 ms" '
n = j["nics"][0]
assert n["mac"] == "00:16:3e:12:34:56" and n["bridge"] == "xenbr0", n
assert n["rate_bytes_per_interval"] == 62500 and n["rate_interval_usecs"] == 50000, n
'
expect pv "PV guest: disk" '
d = j["disks"]
assert len(d) == 1, d
assert d[0] == {"pdev_path": "/srv/pv.img", "vdev": "xvda", "format": "raw", "readwrite": 1}, d
'
expect pv "missing /etc/xen/xl.conf: xl says so and goes on, as in a dom0 without one" '
assert "Failed to read config file: /etc/xen/xl.conf: No such file or directory" in err, err
'
expect pv "the dry run makes only the calls the stub answers" '
assert "xl-stub: sysctl physinfo" in err, err
assert "unhandled" not in err, err
'

dry hvm XL_STUB_NODES=2 -- "$T/hvm.cfg"
expect hvm "HVM guest: type, vcpus/maxvcpus, boot" '
assert c["type"] == "hvm" and c["name"] == "hvm-guest", c
assert b["max_vcpus"] == 4 and b["avail_vcpus"] == [0, 1], b
assert h["boot"] == "dc", h
'
expect hvm "HVM guest: disks (qcow2 disk, cdrom)" '
d = j["disks"]
assert d[0] == {"pdev_path": "/srv/hvm.qcow2", "vdev": "hda", "format": "qcow2",
                "readwrite": 1}, d[0]
assert d[1]["vdev"] == "hdc" and d[1]["is_cdrom"] == 1 and d[1]["removable"] == 1, d[1]
assert d[1].get("readwrite", 0) == 0, d[1]
'
expect hvm "HVM guest: vifs with model and rate= (100Mb/s@20ms, 1MB/s)" '
n = j["nics"]
assert n[0]["model"] == "e1000" and n[0]["devid"] == 0, n[0]
assert n[0]["rate_bytes_per_interval"] == 250000 and n[0]["rate_interval_usecs"] == 20000, n[0]
assert n[1]["bridge"] == "xenbr1" and n[1]["devid"] == 1, n[1]
assert n[1]["rate_bytes_per_interval"] == 50000 and n[1]["rate_interval_usecs"] == 50000, n[1]
'
expect hvm "HVM guest: vnc=0, sdl=0, serial list" '
assert h["vnc"] == {"enable": "False"}, h["vnc"]
assert h["sdl"] == {"enable": "False"}, h["sdl"]
assert h["serial_list"] == ["pty", "file:/tmp/hvm-serial.log"], h
assert "serial" not in h, h
'
expect hvm "HVM guest: viridian list (base, time_ref_count, !hcall_remote_tlb_flush)" '
assert h["viridian_enable"] == [0, 2], h["viridian_enable"]
assert h["viridian_disable"] == [4], h["viridian_disable"]
'
expect hvm "HVM guest: vnuma over 2 host nodes (memory, vcpus, distances)" '
v = b["vnuma_nodes"]
assert [x["memkb"] for x in v] == [1048576, 1048576], v
assert [x["vcpus"] for x in v] == [[0, 1], [2, 3]], v
assert [x["distances"] for x in v] == [[10, 20], [20, 10]], v
assert [x.get("pnode", 0) for x in v] == [0, 1], v
assert b["max_memkb"] == 2048 * 1024, b
'

dry hvm1 -- "$T/hvm.cfg"
expect_fail hvm1 "vnuma pnode=1 on a 1-node host: xl refuses, as it would in such a dom0" \
    "invalid pnode number: 1"

dry nodes XL_STUB_CPUS=4 XL_STUB_NODES=2 -- "$T/nodes.cfg"
expect nodes "cpus=\"nodes:1\" on 4 CPUs over 2 nodes is CPUs 2-3 (libxl's cpu topology)" '
assert b["vcpu_hard_affinity"] == [[2, 3], [2, 3]], b["vcpu_hard_affinity"]
'
expect nodes "cpus_soft=\"all\": the whole bitmap (max_cpu_id+1 bits, rounded up to bytes)" '
assert b["vcpu_soft_affinity"] == [list(range(8))] * 2, b["vcpu_soft_affinity"]
'

dry node1 -- "$T/nodes.cfg"
expect_fail node1 "cpus=\"nodes:1\" on a 1-node host: no CPU there, xl refuses" \
    "vcpu hard affinity map is empty"

dry claim0 -- --xl-conf "$T/xl-claim0.conf" "$T/pv.cfg"
expect claim0 "xl.conf claim_mode = 0: claim_mode \"False\", no missing-xl.conf message" '
assert b["claim_mode"] == "False", b.get("claim_mode")
assert "Failed to read config file" not in err, err
'
dry claim0own XL_STUB_NODES=2 -- --xl-conf "$T/xl-claim0.conf" "$T/nodes.cfg"
# xl 4.17 reads claim_mode from xl.conf only: a claim_mode key in xl.cfg is ignored.
expect claim0own "claim_mode = 1 in xl.cfg is no xl key: xl.conf's 0 stays" '
assert b["claim_mode"] == "False", b.get("claim_mode")
'
dry mask XL_CONF="$T/xl-mask.conf" -- "$T/pv.cfg"
expect mask "\$XL_CONF (vm.cpumask = \"1-3\") narrows cpus=\"0-1\" to 1" '
assert b["vcpu_hard_affinity"] == [[1], [1]], b["vcpu_hard_affinity"]
assert b["claim_mode"] == "False", b.get("claim_mode")
'

dry missing -- "$T/no-such.cfg"
expect_fail missing "a missing config: xl's error and status pass through" \
    "Failed to read config file: $T/no-such.cfg"

dry two -- "$T/pv.cfg" "$T/no-such.cfg" "$T/hvm.cfg"
if [ "$(cat "$T/two.rc")" != 0 ] && "$PY" - "$T/two.json" <<'PY'
import json, sys
text, docs, dec, i = open(sys.argv[1]).read(), [], json.JSONDecoder(), 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text):
        d, i = dec.raw_decode(text, i)
        docs.append(d["c_info"]["name"])
# hvm.cfg fails on the default 1-node host (pnode=1), no-such.cfg is missing
assert docs == ["pv-guest"], docs
PY
then ok "several configs: each dry-run in turn, first failure's status"
else fail "several configs" "$T/two.err"; fi

dry bad XL_STUB_CPUS=0 -- "$T/pv.cfg"
expect_fail bad "a bad XL_STUB_CPUS is refused" "XL_STUB_CPUS=0"

# Two cold preparations at once, in a private work dir fed from a private copy of the
# .debs (so tests/xen's lock on the shared cache is never waited for).
cache=${XL_ORACLE_DEBS:-${VMD_XEN_CACHE:-/var/cache/vmd-xen}/debs}
mkdir -p "$T/cache/debs"
cp "$cache"/xen-utils-4.17_*.deb "$cache"/libxen*.deb "$cache"/libyajl2_*.deb "$T/cache/debs/" \
    2>/dev/null
(XL_ORACLE_DEBS=$T/cache/debs XL_ORACLE_WORK=$T/work "$DRY" "$T/pv.cfg" > "$T/c1.json" \
    2> "$T/c1.err"; echo $? > "$T/c1.rc") &
(XL_ORACLE_DEBS=$T/cache/debs XL_ORACLE_WORK=$T/work "$DRY" "$T/pv.cfg" > "$T/c2.json" \
    2> "$T/c2.err"; echo $? > "$T/c2.rc") &
wait
if [ "$(cat "$T/c1.rc")" = 0 ] && [ "$(cat "$T/c2.rc")" = 0 ] &&
   grep -q '"name": "pv-guest"' "$T/c1.json" && grep -q '"name": "pv-guest"' "$T/c2.json" &&
   [ -e "$T/work/current/root/.complete" ]; then
    ok "two cold runs at once share one preparation"
else
    cat "$T/c1.err" "$T/c2.err" > "$T/c.err"
    fail "two cold runs at once" "$T/c.err"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
