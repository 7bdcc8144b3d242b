#!/usr/bin/python3
"""Soak: mixed clients for a while (defines, removes with and without their disks, clones,
starts, destroys, autostart changes, lists), subscribers that never read, the daemon killed
with SIGKILL at random moments and started again, and for a while a full disk under the state
directory and the images. Afterwards, started once more: every acknowledged operation is kept
(a guest whose define or clone was answered exists, one whose remove was answered does not, an
answered autostart holds), every stored document loads, no temp file, journal or image is
left that no definition owns, and the daemon's memory after a last round of load is back near
where it was before it.

VMD_SOAK_SECONDS sets the length (default 60: make check; `make soak` runs 1800). The full
disk needs root (a tmpfs); without it that part is left out and said so."""

import os
import random
import re
import subprocess
import threading
import time

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import Connection, ConnectionClosed, RPCError

SECONDS = float(os.environ.get("VMD_SOAK_SECONDS", "60"))
FS_MIB = 48


def asan(exe):
    """Is exe built with AddressSanitizer?"""
    out = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    return "libasan" in out


class Worker(threading.Thread):
    """One client doing random operations on its own guests (prefix), keeping a model of
    what was acknowledged: known[name] = True (defined), False (removed), None (unknown: the
    request was in flight when the daemon died)."""

    def __init__(self, test, prefix, seed, stop, steady=False):
        super().__init__(daemon=True)
        self.steady = steady  # every guest it makes it removes again: memory's steady state
        self.t, self.prefix, self.rnd, self.stop = test, prefix, random.Random(seed), stop
        self.known, self.autostart, self.made, self.kept = {}, {}, set(), set()
        self.n = 0
        self.conn = None
        self.ops = {}
        self.error = None

    def call(self, method, params):
        """The result, or an RPCError, or None when the connection broke (the daemon died:
        the outcome is unknown)."""
        for _ in range(200):
            if self.stop.is_set() and method != "vm.list":
                return None
            try:
                if self.conn is None:
                    self.conn = Connection(self.t.d.socket, timeout=30)
                return self.conn.call(method, params)
            except RPCError as e:
                return e
            except (OSError, EOFError, ValueError, AssertionError, ConnectionClosed):
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                    return None  # it broke under this request
                time.sleep(0.05)  # not listening yet
        return None

    def image(self, name):
        p = os.path.join(self.t.images, "%s.img" % name)
        self.made.add(p)  # before it exists: the disk may be full
        with open(p, "wb") as f:
            f.truncate(1 << 20)
            f.write(b"data" * 256)
        return p

    def defined(self):
        return [n for n, v in self.known.items() if v is not False]

    def step(self):
        r = self.rnd.random()
        names = self.defined()
        if r < 0.25 or not names:
            self.n += 1
            name = "%s%d" % (self.prefix, self.n)
            try:
                img = self.image(name)
            except OSError:
                return  # the disk is full for the test too
            cfg = {"name": name, "kernel": self.t.kernel, "memory": 64, "vcpus": 1,
                   "disk": ["format=raw, vdev=xvda, access=rw, target=%s" % img],
                   "vif": [{"bridge": "xenbr0"}]}
            res = self.call("vm.define", {"config": cfg})
            self.record(name, res, True, "define")
            if self.steady:
                self.record(name, self.call("vm.remove", {"name": name, "delete_disks": True}),
                            False, "remove")
                os.unlink(img)
        elif r < 0.35:
            src = self.rnd.choice(names)
            self.n += 1
            name = "%s%d" % (self.prefix, self.n)
            res = self.call("vm.clone", {"source": src, "name": name})
            self.record(name, res, True, "clone")
            if self.steady:
                self.record(name, self.call("vm.remove", {"name": name, "delete_disks": True}),
                            False, "remove")
        elif r < 0.5 and not self.steady:
            name = self.rnd.choice(names)
            info = self.call("vm.info", {"name": name})
            if info is None or isinstance(info, RPCError):
                return
            delete = self.rnd.random() < 0.5
            res = self.call("vm.remove", {"name": name, "delete_disks": delete})
            if res is None or not delete:
                # asked to keep them, or the outcome is unknown: left by request
                self.kept |= {d["target"] for d in info["disks"] if d.get("target")}
            elif not isinstance(res, RPCError):
                self.kept |= set(res["kept"])
            self.record(name, res, False, "remove")
        elif r < 0.6:
            name = self.rnd.choice(names)
            on = self.rnd.random() < 0.5
            res = self.call("vm.autostart", {"name": name, "enabled": on})
            if res is None:
                self.autostart[name] = None
            elif not isinstance(res, RPCError):
                self.autostart[name] = on
            self.count("autostart", res)
        elif r < 0.7:
            name = self.rnd.choice(names)
            self.count("start", self.call("vm.start", {"name": name}))
            if self.steady:
                self.count("destroy", self.call("vm.destroy", {"name": name}))
        elif r < 0.8:
            self.count("destroy", self.call("vm.destroy", {"name": self.rnd.choice(names)}))
        elif r < 0.9:
            self.count("info", self.call("vm.info", {"name": self.rnd.choice(names)}))
        else:
            self.count("list", self.call("vm.list", {"all": True}))

    def count(self, op, res):
        k = op + (":lost" if res is None else ":error" if isinstance(res, RPCError) else ":ok")
        self.ops[k] = self.ops.get(k, 0) + 1

    def record(self, name, res, value, op):
        self.count(op, res)
        if res is None:
            self.known[name] = None
        elif not isinstance(res, RPCError):
            self.known[name] = value
            if value:
                self.autostart[name] = False
        elif op != "remove" and name not in self.known:
            self.known[name] = False  # refused (a full disk, say): nothing was made

    def run(self):
        try:
            while not self.stop.is_set():
                self.step()
        except Exception as e:  # noqa: BLE001  (reported by the test)
            self.error = repr(e)
        finally:
            if self.conn:
                self.conn.close()


class TestSoak(VmdTestCase):

    def daemon_kwargs(self):
        self.fs = os.path.join(self.tmp, "fs")
        os.makedirs(self.fs)
        self.tmpfs = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=%dm" % FS_MIB, "soak", self.fs]).returncode == 0
        self.images = os.path.join(self.fs, "images")
        os.makedirs(self.images)
        state = os.path.join(self.fs, "state")
        os.makedirs(state)
        # The sim's domains (<state>/sim) are the hypervisor's, which no full disk of dom0
        # loses: they stay off the file system that fills up.
        os.makedirs(os.path.join(self.tmp, "sim"))
        os.symlink(os.path.join(self.tmp, "sim"), os.path.join(state, "sim"))
        return dict(state_dir=state, sim_delay_ms=20)

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if self.tmpfs:
                subprocess.run(["umount", "-l", self.fs])

    def subscribers(self, n):
        """Connections that subscribe to events and never read another byte."""
        out = []
        for _ in range(n):
            try:
                c = Connection(self.d.socket, timeout=10)
                c.call("events.subscribe")
                out.append(c)
            except (OSError, RPCError, EOFError, AssertionError, ConnectionClosed):
                pass
        return out

    def fill(self):
        """Fills the file system of state and images; returns the filler's path."""
        p = os.path.join(self.fs, "filler")
        with open(p, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        return p

    def rss(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def run_load(self, seconds, kills, workers):
        stop = threading.Event()
        for w in workers:  # fresh threads
            w.stop = stop
            w.start()
        subs = self.subscribers(3)
        deadline = time.monotonic() + seconds
        rnd = random.Random(11)
        filled_at = time.monotonic() + seconds / 3 if self.tmpfs and kills else None
        filler = None
        while time.monotonic() < deadline:
            time.sleep(rnd.uniform(1.0, 4.0) if kills else 0.5)
            if filled_at and filler is None and time.monotonic() > filled_at:
                filler = self.fill()
                self.full_disk_seconds = min(5.0, deadline - time.monotonic())
                time.sleep(self.full_disk_seconds)
                os.unlink(filler)
            if kills and time.monotonic() < deadline:
                for s in subs:
                    s.close()
                self.d.kill9()
                self.kills += 1
                self.d.start()
                subs = self.subscribers(3)
        stop.set()
        for w in workers:
            w.join(60)
            self.assertFalse(w.is_alive(), "a client hangs")
            self.assertIsNone(w.error)
        for s in subs:
            s.close()

    def test_soak(self):
        self.kills = 0
        self.full_disk_seconds = 0
        for c in self.conns:
            c.close()
        self.conns = []
        workers = [Worker(self, "w%d-" % i, i, None) for i in range(3)]
        self.run_load(SECONDS, True, workers)

        # ---- afterwards: started once more, everything acknowledged is there -------------
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        c = self.connect()
        listed = c.call("vm.list", {"all": True})["vms"]
        vms = {v["name"]: v for v in listed if v["managed"]}
        foreign = sorted(v["name"] for v in listed if not v["managed"])
        log = self.d.log()
        self.assertNotIn("skipping", log, "a stored document does not load")
        kept = lost = 0
        for w in workers:
            for name, v in w.known.items():
                if v is True:
                    self.assertTrue(name in vms, "%s: an acknowledged define/clone is lost" % name)
                    a = w.autostart.get(name)
                    if a is not None:
                        self.assertEqual(vms[name]["autostart"], a, name)
                    kept += 1
                elif v is False:
                    self.assertFalse(name in vms and vms[name]["managed"],
                                     "%s: an acknowledged remove is undone" % name)
                else:
                    lost += 1
        self.assertEqual(foreign, [], "domains that no definition owns (leaked)")
        # no temp file, no journal, no image that no definition owns
        g = os.path.join(self.d.state_dir, "guests")
        self.assertEqual([f for f in os.listdir(g) if f.endswith(".tmp")], [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        used = set()
        for name in vms:
            for dk in c.call("vm.info", {"name": name})["disks"]:
                used.add(dk.get("target"))
        made = set().union(*(w.made for w in workers))  # the test's own
        kept_asked = set().union(*(w.kept for w in workers))  # vm.remove kept them
        orphans = sorted(p for p in (os.path.join(self.images, f)
                                     for f in os.listdir(self.images))
                         if p not in used and p not in made and p not in kept_asked)
        self.assertEqual(orphans[:10], [], "images no definition owns (%d)" % len(orphans))

        # ---- memory: a last round of load without kills, then back near the start -------
        for name, v in vms.items():
            if v["state"] != "stopped":
                c.call("vm.destroy", {"name": name})
        for name in vms:
            self.wait_state(name, "stopped", conn=c)
        time.sleep(0.5)
        before = self.rss()
        rounds = []  # two equal rounds of steady load: the second must not need more
        for k in range(2):
            again = [Worker(self, w.prefix, 100 * (k + 1) + i, None, steady=True)
                     for i, w in enumerate(workers)]
            for w, old in zip(again, workers):  # the same guests, as they are now
                w.n = old.n + 100000 * (k + 1)
                w.known = {n: True for n in vms if n.startswith(w.prefix)}
            self.run_load(min(15.0, SECONDS / 4), False, again)
            time.sleep(0.5)
            rounds.append((again, self.rss()))
        after1, after = rounds[0][1], rounds[1][1]
        again = rounds[0][0] + rounds[1][0]
        ops = {}
        for w in workers + again:
            for k, v in w.ops.items():
                ops[k] = ops.get(k, 0) + v
        print("soak: %.0f s, %d kill -9, full disk %.0f s; %d guests kept, %d of unknown "
              "outcome; RSS %d KiB at rest, %d KiB after a round of steady load, %d KiB after "
              "a second one; operations %s" %
              (SECONDS, self.kills, self.full_disk_seconds, kept, lost, before, after1, after,
               " ".join("%s=%d" % kv for kv in sorted(ops.items()))))
        if not self.tmpfs:
            print("soak: not root: the full disk was left out")
        self.assertGreater(self.kills, 0)
        self.assertGreater(ops.get("define:ok", 0), 0)
        # what a round takes (caches, the heap's high water) it gives back: the second round
        # ends where the first did, and both near the rest. Under ASan the figures are its
        # quarantine's (freed memory held back), and its leak check at exit judges instead.
        if asan(vmdtest.VMD):
            print("soak: vmd runs under ASan: memory is left to its leak check")
            return
        self.assertLessEqual(after, after1 * 1.05 + 1024, "memory grows round after round")
        self.assertLessEqual(after, before * 1.5 + 4096, "memory not back near its start")


if __name__ == "__main__":
    vmdtest.main()
