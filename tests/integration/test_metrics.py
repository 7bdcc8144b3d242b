#!/usr/bin/python3
"""vm.stats_all, vmctl metrics and vmctl top against the sim backend: every guest with a domain in one
answer, and the same figures in Prometheus' text format, read back with Debian's
python3-prometheus-client parser (an independent reader of the format) and checked with
promtool (Debian's prometheus) where installed; each sample lies between the vm.stats_all
answers taken just before and just after it. --output FILE replaces the file whole, --http
answers one scrape on stdin/stdout as the socket unit runs it (systemd/vmd-metrics.socket).
vmctl top: --batch tables whose CPU%% and rates follow the guests' figures, and on a pty the
keys (sort, reverse, quit) with the terminal given back as it was.

    /usr/bin/python3 tests/integration/test_metrics.py --vmd build/daemon/vmd \\
        --vmctl build/client/vmctl [-v] [Class.test]
"""

import os
import pty
import re
import select
import termios
import time
import shutil
import socket
import subprocess
import sys
import unittest

import vmdtest
from vmdtest import VmdTestCase, WAIT

VMCTL = None
INVALID_PARAMS = -32602
PROMTOOL = shutil.which("promtool")

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # python3-prometheus-client: scripts/install-deps.sh installs it
    text_string_to_metric_families = None

# family -> (where in a guest's vm.stats object, scale)
GUEST = {"vmd_guest_cpu_seconds_total": ("cpu", "time_s", 1),
         "vmd_guest_vcpus": ("cpu", "vcpus", 1),
         "vmd_guest_memory_bytes": ("memory", "current_kib", 1024),
         "vmd_guest_memory_max_bytes": ("memory", "max_kib", 1024)}
DISK = {"vmd_guest_disk_read_bytes_total": "rd_bytes",
        "vmd_guest_disk_reads_completed_total": "rd_req",
        "vmd_guest_disk_written_bytes_total": "wr_bytes",
        "vmd_guest_disk_writes_completed_total": "wr_req"}
VIF = {"vmd_guest_network_receive_bytes_total": "rx_bytes",
       "vmd_guest_network_receive_packets_total": "rx_packets",
       "vmd_guest_network_transmit_bytes_total": "tx_bytes",
       "vmd_guest_network_transmit_packets_total": "tx_packets"}


def samples(text):
    """{(family-or-sample name, frozenset(labels)): value} through prometheus_client."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client missing")
class TestMetrics(VmdTestCase):

    def vmctl(self, *args, **kw):
        return subprocess.run([VMCTL, "-s", self.d.ro_socket] + list(args),
                              capture_output=True, text=True, timeout=WAIT, **kw)

    def three_guests(self):
        self.create("m1", disks=2, vifs=2)
        self.create("m2")
        self.define("m3")  # stopped: no domain, no figures

    def test_stats_all(self):
        self.three_guests()
        ro = self.connect(read_only=True)
        r = ro.call("vm.stats_all")
        self.assertEqual(sorted(g["name"] for g in r["guests"]), ["m1", "m2"])
        one = {g["name"]: g for g in r["guests"]}["m1"]
        s = ro.call("vm.stats", {"name": "m1"})
        self.assertEqual((one["domid"], [d["vdev"] for d in one["disks"]],
                          [v["mac"] for v in one["vifs"]]),
                         (s["domid"], [d["vdev"] for d in s["disks"]],
                          [v["mac"] for v in s["vifs"]]))
        # no share of a CPU: readers work it out from two samples, not sharing a window
        self.assertNotIn("percent", one["cpu"])
        self.assertLessEqual(one["cpu"]["time_s"], s["cpu"]["time_s"])
        self.assertCallFails(INVALID_PARAMS, "vm.stats_all", {"name": "m1"})
        self.c.call("vm.destroy", {"name": "m2"})
        self.assertEqual([g["name"] for g in self.c.call("vm.stats_all")["guests"]], ["m1"])

    def test_metrics_between_two_answers(self):
        self.three_guests()
        before = {g["name"]: g for g in self.c.call("vm.stats_all")["guests"]}
        p = self.vmctl("metrics")
        after = {g["name"]: g for g in self.c.call("vm.stats_all")["guests"]}
        self.assertEqual(p.returncode, 0, p.stderr)
        got = samples(p.stdout)
        names = {(n, dict(l).get("name")) for n, l in got}
        self.assertNotIn(("vmd_guest_info", "m3"), names)
        for g in ("m1", "m2"):
            info = [v for (n, l), v in got.items() if n == "vmd_guest_info" and
                    dict(l)["name"] == g]
            self.assertEqual(info, [1.0])
            key = [dict(l) for (n, l) in got if n == "vmd_guest_info" and
                   dict(l)["name"] == g][0]
            self.assertEqual((key["domid"], key["state"]),
                             (str(before[g]["domid"]), "running"))
            for fam, (obj, k, scale) in GUEST.items():
                v = got[(fam, frozenset({"name": g}.items()))]
                self.assertGreaterEqual(v, before[g][obj][k] * scale - 1e-6, fam)
                self.assertLessEqual(v, after[g][obj][k] * scale + 1e-6, fam)
            for fam, k in DISK.items():
                for b, a in zip(before[g]["disks"], after[g]["disks"]):
                    v = got[(fam, frozenset({"name": g, "vdev": b["vdev"]}.items()))]
                    self.assertTrue(b[k] <= v <= a[k], (fam, b[k], v, a[k]))
            for fam, k in VIF.items():
                for b, a in zip(before[g]["vifs"], after[g]["vifs"]):
                    labels = {"name": g, "devid": str(b["devid"]), "mac": b["mac"]}
                    v = got[(fam, frozenset(labels.items()))]
                    self.assertTrue(b[k] <= v <= a[k], (fam, b[k], v, a[k]))
        self.assertEqual(len([1 for n, l in got if n == "vmd_guest_disk_read_bytes_total"]), 3)
        self.assertEqual(len([1 for n, l in got if n.startswith("vmd_guest_network_receive_b")]),
                         3)

    @unittest.skipIf(PROMTOOL is None, "promtool (Debian's prometheus) missing")
    def test_promtool_checks_it(self):
        self.three_guests()
        p = self.vmctl("metrics")
        self.assertEqual(p.returncode, 0, p.stderr)
        c = subprocess.run([PROMTOOL, "check", "metrics"], input=p.stdout,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual((c.returncode, c.stdout + c.stderr), (0, ""))
        # promtool does find mistakes: a counter without _total, a family without help
        bad = p.stdout.replace("vmd_guest_cpu_seconds_total", "vmd_guest_cpu_seconds")
        bad = bad.replace("# HELP vmd_guest_vcpus Online vCPUs of the guest.\n", "")
        c = subprocess.run([PROMTOOL, "check", "metrics"], input=bad,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertIn("counter metrics should have \"_total\" suffix", c.stdout + c.stderr)
        self.assertIn("no help text", c.stdout + c.stderr)

    def test_no_guest_no_sample(self):
        p = self.vmctl("metrics")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([s for s in samples(p.stdout)], [])
        self.assertIn("# TYPE vmd_guest_cpu_seconds_total counter", p.stdout)

    def test_output_file(self):
        self.three_guests()
        d = os.path.join(self.tmp, "textfile")
        os.mkdir(d)
        path = os.path.join(d, "vmd.prom")
        with open(path, "w") as f:
            f.write("old\n")
        ino = os.stat(path).st_ino
        p = self.vmctl("metrics", "--output", path)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)
        self.assertEqual(os.listdir(d), ["vmd.prom"])  # nothing beside it
        self.assertNotEqual(os.stat(path).st_ino, ino)  # renamed over, not rewritten
        with open(path) as f:
            text = f.read()
        self.assertIn(("vmd_guest_info", frozenset({"name": "m1", "state": "running",
                                                   "domid": str(self.info("m1")["domid"])}
                                                  .items())), samples(text))
        # a directory it cannot write: exit 1, the old file stays as it was
        p = self.vmctl("metrics", "--output", os.path.join(self.tmp, "none", "vmd.prom"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot write", p.stderr)
        p = self.vmctl("metrics", "--output", path, "--http")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not with --output", p.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), text)

    def scrape(self, request):
        """vmctl metrics --http with a socket for stdin and stdout, as systemd's Accept=yes
        runs it; what the scraper reads."""
        ours, theirs = socket.socketpair()
        with theirs:
            proc = subprocess.Popen([VMCTL, "-s", self.d.ro_socket, "metrics", "--http"],
                                    stdin=theirs, stdout=theirs, stderr=subprocess.PIPE)
        with ours:
            ours.sendall(request)
            data = b""
            while True:
                chunk = ours.recv(65536)
                if not chunk:
                    break
                data += chunk
        proc.wait(timeout=WAIT)
        proc.stderr.close()
        return proc.returncode, data

    def test_http_scrape(self):
        self.three_guests()
        rc, data = self.scrape(b"GET /metrics HTTP/1.1\r\nHost: dom0:9578\r\n"
                               b"Accept: text/plain\r\n\r\n")
        self.assertEqual(rc, 0)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.assertEqual(lines[0], "HTTP/1.0 200 OK")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        self.assertEqual(fields["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(int(fields["Content-Length"]), len(body))
        got = samples(body.decode())
        self.assertEqual(sorted(dict(l)["name"] for n, l in got if n == "vmd_guest_info"),
                         ["m1", "m2"])
        rc, data = self.scrape(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        self.assertNotEqual(rc, 0)
        self.assertTrue(data.startswith(b"HTTP/1.0 405 "), data)


class TestTop(VmdTestCase):
    """vmctl top in batch mode and on a terminal (a pty)."""

    def top(self, *args):
        return subprocess.run([VMCTL, "-s", self.d.ro_socket, "top"] + list(args),
                              capture_output=True, text=True, timeout=WAIT)

    def tables(self, out):
        """[(title, [row dicts by header])] of a --batch output."""
        result = []
        for block in out.strip().split("\n\n"):
            lines = block.split("\n")
            heads = lines[1].split()
            rows = [dict(zip(heads, re.split(r"\s{2,}", l.strip()))) for l in lines[2:]]
            result.append((lines[0], rows))
        return result

    def test_batch(self):
        self.create("t1")
        self.create("t2", memory=256)
        self.create("t3")
        self.c.call("vm.pause", {"name": "t3"})
        p = self.top("--batch", "--iterations", "2", "--delay", "0.5", "--sort", "cpu")
        self.assertEqual(p.returncode, 0, p.stderr)
        (t1, first), (t2, second) = self.tables(p.stdout)
        self.assertRegex(t1, r"^vmctl top - \d\d:\d\d:\d\d, 3 guests, sorted by cpu$")
        self.assertEqual(len(first), 3)
        # one sample: no rates yet
        self.assertEqual({(r["CPU%"], r["READ/s"], r["TX/s"]) for r in first}, {("-", "-", "-")})
        by = {r["NAME"]: r for r in second}
        self.assertEqual(by["t3"]["STATE"], "paused")
        self.assertEqual(by["t3"]["CPU%"], "0.0")
        for g in ("t1", "t2"):  # a busy vCPU of the sim: about one CPU
            self.assertGreater(float(by[g]["CPU%"]), 50)
            self.assertLess(float(by[g]["CPU%"]), 150)
            self.assertRegex(by[g]["WRITE/s"], r"^[0-9.]+ (B|KiB|MiB)$")
        self.assertEqual(by["t2"]["MEM"], "256.0 MiB")
        self.assertEqual(by["t1"]["DOMID"], str(self.info("t1")["domid"]))
        self.assertEqual(second[-1]["NAME"], "t3")  # the idle guest last
        p = self.top("--batch", "--iterations", "1", "--sort", "name")
        self.assertEqual([r["NAME"] for r in self.tables(p.stdout)[0][1]], ["t1", "t2", "t3"])

    def test_bad_flags(self):
        for args, msg in ((["--sort", "disk"], "--sort takes"), (["--delay", "0"], "--delay"),
                          (["--delay", "x"], "--delay"), (["--iterations", "0"], "iterations")):
            p = self.top("--batch", *args)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(msg, p.stderr)

    def test_terminal_keys(self):
        self.create("k1")
        self.create("k2", memory=256)
        master, slave = pty.openpty()
        before = termios.tcgetattr(slave)
        proc = subprocess.Popen([VMCTL, "-s", self.d.ro_socket, "top", "--delay", "0.3"],
                                stdin=slave, stdout=slave, stderr=slave)
        seen = b""

        def until(pattern):
            nonlocal seen
            end = time.monotonic() + WAIT
            while not re.search(pattern, seen):
                self.assertLess(time.monotonic(), end, (pattern, seen[-600:]))
                r, _, _ = select.select([master], [], [], 1)
                if r:
                    seen += os.read(master, 65536)
        try:
            until(rb"\x1b\[\?1049h")  # the alternate screen
            until(rb"sorted by cpu  \[q quit")
            self.assertFalse(termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO))
            os.write(master, b"s")
            until(rb"sorted by mem  [^\r]*\r\n[^\r]*\r\n[^\r]*\r\n[^\r]*\r\n")  # and 2 rows
            rows = seen[seen.rindex(b"sorted by mem"):].split(b"\r\n")
            names = [l.split()[0] for l in rows[2:] if l[:1] in (b"k",)]
            self.assertEqual(names[:2], [b"k2", b"k1"])  # the bigger first
            os.write(master, b"r")
            until(rb"sorted by mem \(reversed\)")
            seen = b""
            until(rb"sorted by mem \(reversed\)")  # it refreshes: a new table
            os.write(master, b"q")
            self.assertEqual(proc.wait(timeout=WAIT), 0)
            until(rb"\x1b\[\?1049l")  # and gives the screen back
            self.assertEqual(termios.tcgetattr(slave), before)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
            os.close(slave)


def main():
    global VMCTL
    if "--vmctl" in sys.argv:
        i = sys.argv.index("--vmctl")
        VMCTL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    VMCTL = VMCTL or os.environ.get("VMCTL")
    if not VMCTL:
        sys.exit("usage: test_metrics.py --vmd VMD --vmctl VMCTL")
    vmdtest.main()


if __name__ == "__main__":
    main()
