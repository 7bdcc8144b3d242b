#!/usr/bin/python3
"""xl is the oracle: for every config of the corpus (tests/xlcfg-corpus, public files written
by others) and of cases/ (our own, together using every key of xl.cfg(5)), what
`vmctl create --dry-run FILE` prints (a vmd on the sim backend) must equal what
`xl -N create FILE` prints (Debian's xl 4.17 under xl-stub, tests/xl-oracle/xl-dry-run),
field for field. Where they differ on purpose, `differences` says so, with the reason
(D1..D7 of vmd-xlcfg(5)); a difference not listed there, or one listed that does not
happen, fails the test.

Both run for the same host: 4 cpus, 1 NUMA node, no xl.conf (the stub's defaults and the sim
backend's). A uuid is random in both when the file names none; so is ms_vm_genid =
"generate": those fields are not compared then.

Usage: test-differential.py --vmd VMD --vmctl VMCTL [--xl-dry-run PATH]
       test-differential.py --socket SOCK --vmctl VMCTL --xl "xl -N create" --dir DIR
The second form is tests/xen's (scenario 48-xl-oracle): the vmd already running on the real
libxl backend in a dom0, the real xl, the files copied to DIR (corpus/, cases/,
differences); there is no key-coverage check there (no xlkeys-doc in dom0).
Prints the report the issue asks for: files accepted and built exactly as xl, keys covered,
every difference.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(TOP, "tests", "xlcfg-corpus")
CASES = os.path.join(HERE, "cases")
HERE_DATA = HERE


def flat(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, p + "." + k)
    elif isinstance(o, list):
        if not o:
            yield p, "[]"
        for i, v in enumerate(o):
            yield from flat(v, "%s[%d]" % (p, i))
    else:
        yield p, o


def keys_of(path):
    """The top-level keys of an xl.cfg file (as vmctl config would list them)."""
    keys = []
    for line in open(path, errors="replace"):
        m = re.match(r"\s*([A-Za-z0-9_.]+)\s*\+?=", line)
        if m and m.group(1) not in keys:
            keys.append(m.group(1))
    return keys


def load_differences():
    """{file: (reason, expected message part or '*')} from the differences file."""
    out = {}
    for n, line in enumerate(open(os.path.join(HERE_DATA, "differences")), 1):
        line = line.split("#", 1)[0].rstrip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not re.fullmatch(r"D[1-7]", parts[1]):
            sys.exit("differences:%d: want 'FILE Dn WHAT'" % n)
        out[parts[0]] = (parts[1], parts[2])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmd")
    ap.add_argument("--socket")
    ap.add_argument("--vmctl", required=True)
    ap.add_argument("--xl-dry-run", default=os.path.join(HERE, "xl-dry-run"))
    ap.add_argument("--xl", help="the real xl's dry run, e.g. 'xl -N create'")
    ap.add_argument("--dir", help="where corpus/, cases/ and differences are")
    o = ap.parse_args()
    global CORPUS, CASES, HERE_DATA
    if o.dir:
        CORPUS, CASES, HERE_DATA = (os.path.join(o.dir, "corpus"), os.path.join(o.dir, "cases"),
                                    o.dir)
    xl_cmd = o.xl.split() if o.xl else [o.xl_dry_run]

    files = sorted(glob.glob(os.path.join(CORPUS, "*.cfg"))) + \
        sorted(glob.glob(os.path.join(CASES, "*.cfg")))
    expected = load_differences()
    tmp = tempfile.mkdtemp(prefix="vmd-xl-oracle-")
    daemon = None
    if o.socket:
        sock = o.socket
    else:
        sock = os.path.join(tmp, "vmd.sock")
        conf = os.path.join(tmp, "vmd.conf")
        with open(conf, "w") as f:
            f.write('xl_conf = "%s/no-xl.conf"\n' % tmp)
        daemon = subprocess.Popen([o.vmd, "--backend", "sim", "--state-dir", tmp + "/state",
                                   "--socket", sock, "-c", conf],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(tmp + "/vmd.log", "w"))
    failures = []
    stats = {"equal": 0, "deliberate": 0, "both refuse": 0}
    covered = set()   # keys of files built exactly as xl
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        env = dict(os.environ, XL_STUB_CPUS="4", XL_STUB_NODES="1")
        env.pop("XL_CONF", None)
        seen = set()
        for path in files:
            name = os.path.basename(path)
            seen.add(name)
            v = subprocess.run([o.vmctl, "-s", sock, "create", "--dry-run", path],
                               capture_output=True, text=True)
            x = subprocess.run(xl_cmd + [path], capture_output=True, text=True, env=env)
            if x.returncode == 125:
                sys.exit("xl-dry-run could not set itself up:\n" + x.stderr)
            exp = expected.get(name)
            if v.returncode == 0 and x.returncode == 0:
                a = dict(flat(json.loads(v.stdout)))
                b = dict(flat(json.loads(x.stdout)))
                text = open(path, errors="replace").read()
                if not re.search(r"^\s*uuid\s*=", text, re.M):
                    a.pop(".c_info.uuid", None)
                    b.pop(".c_info.uuid", None)
                if re.search(r"ms_vm_genid\s*=\s*[\"']generate", text):
                    for d in (a, b):
                        for k in [k for k in d if k.startswith(".b_info.type.hvm.ms_vm_genid")]:
                            del d[k]
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                if not diff and not exp:
                    stats["equal"] += 1
                    covered.update(keys_of(path))
                    # where nothing random is in it: the very bytes xl prints
                    random = ".c_info.uuid" not in a or \
                        re.search(r"ms_vm_genid\s*=\s*[\"']generate", text)
                    if not random and v.stdout != x.stdout:
                        failures.append("%s: the same fields, but not the bytes xl prints" %
                                        name)
                    continue
                if diff and exp and (exp[1] == "*" or any(exp[1] in k for k in diff)):
                    stats["deliberate"] += 1
                    continue
                failures.append("%s: %s" % (name, "; ".join(
                    "%s: vmd %s, xl %s" % (k, a.get(k, "-"), b.get(k, "-")) for k in diff[:8])
                    if diff else "listed in differences but built exactly as xl"))
            elif v.returncode != 0 and x.returncode != 0:
                stats["both refuse"] += 1
                if exp:
                    failures.append("%s: both refuse it; remove it from differences" % name)
            elif v.returncode != 0:
                err = v.stderr.strip()
                if exp and (exp[1] == "*" or exp[1] in err):
                    stats["deliberate"] += 1
                else:
                    failures.append("%s: vmd refuses what xl takes: %s" % (name, err))
            else:
                err = x.stderr.strip().splitlines()
                if exp and exp[1] == "*":
                    stats["deliberate"] += 1
                else:
                    failures.append("%s: vmd takes what xl refuses: %s" % (
                        name, err[-1] if err else ""))
        for name in sorted(set(expected) - seen):
            failures.append("differences names %s, which is no test file" % name)
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        if failures and daemon:
            print("vmd's log: %s/vmd.log" % tmp)
        else:
            shutil.rmtree(tmp)

    # every key of the table that xl reads (not xm's) must be covered by a file built
    # exactly as xl
    if not o.vmd:
        corpus = len(glob.glob(os.path.join(CORPUS, "*.cfg")))
        print("%d files: %d built exactly as xl, %d differ on purpose, %d refused by both" % (
            len(files), stats["equal"], stats["deliberate"], stats["both refuse"]))
        for f in failures:
            print("FAIL " + f)
        return 1 if failures else 0
    keys = subprocess.run([os.path.join(os.path.dirname(o.vmd), "..", "tools", "xlkeys-doc"),
                           "readme"], capture_output=True, text=True).stdout
    groups = keys.split("\n\n")
    documented = set(re.findall(r"`([a-z0-9_.]+)`", groups[0]))
    undocumented = set(re.findall(r"`([a-z0-9_.]+)`", groups[1])) if len(groups) > 1 else set()
    missing = sorted((documented | undocumented) - covered)
    if missing:
        failures.append("keys no file builds exactly as xl: " + ", ".join(missing))

    corpus = len(glob.glob(os.path.join(CORPUS, "*.cfg")))
    print("%d files (%d of the corpus, %d of cases/): %d built exactly as xl, %d differ on "
          "purpose (differences), %d refused by both" % (
              len(files), corpus, len(files) - corpus, stats["equal"], stats["deliberate"],
              stats["both refuse"]))
    print("keys covered: %d of %d documented in xl.cfg(5), %d of %d xl reads without "
          "documenting" % (len(documented & covered), len(documented),
                           len(undocumented & covered), len(undocumented)))
    for f in failures:
        print("FAIL " + f)
    print("%d passed, %d failed" % (0 if failures else 1, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
