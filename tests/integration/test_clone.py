#!/usr/bin/python3
"""vm.clone, disk.create and job.cancel against the real vmd (--backend=sim).

What a clone is (the source's xl.cfg text with a new name, UUID, MACs; no vifname or VNC
display; writable images copied, sparse; read-only disks and cdroms shared; owned by the clone), what it never does (overwrite
a file, clone a running guest or a block device), progress notifications, other clients
served while a long copy runs, cancellation (disconnect, job.cancel, Ctrl-C in vmctl) and
failures (out of space, source vanishing, unreadable source, kill -9 mid-copy, virt-sysprep
missing or failing) that leave nothing behind, and virt-sysprep on the copies.

Long copies use one 4 GiB sparse image with 1 GiB of data, made once per run under /var/tmp
and evicted from the page cache before each use, so that the copy reads the disk and runs for
seconds. A test that must act in the middle of a copy waits for a job.progress notification
with 0 < done < total, acts, and retries (up to 3 times) if the copy was over before it could
act; nothing asserts on time.

The real virt-sysprep test needs libguestfs (Debian: libguestfs-tools, and a kernel under
/boot for its appliance); it runs the appliance under TCG (nested KVM does not work on every
host) and takes minutes. VMD_TEST_NO_LIBGUESTFS=1 skips it.
"""

import atexit
import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import vmdtest
from vmdtest import VmdTestCase, RPCError, WAIT
from vmdclient import (BACKEND, BAD_STATE, BUSY, CANCELLED, EXISTS, INVALID_PARAMS, IO,
                       NOT_FOUND, PERMISSION, ConnectionClosed)

NOT_SUPPORTED = 12
MIB = 1 << 20
GIB = 1 << 30
BIG_SIZE = 4 * GIB
BIG_DATA_EVERY = 4 * MIB  # 1 MiB of data at the start of every 4 MiB: 1 GiB in all

_big = {}


def big_image():
    """The shared long-copy source (made on first use, removed at exit)."""
    if "path" not in _big:
        d = tempfile.mkdtemp(prefix="vmdt-big-", dir="/var/tmp")
        atexit.register(shutil.rmtree, d, True)
        p = os.path.join(d, "big.img")
        block = bytearray(MIB)
        with open(p, "wb") as f:
            f.truncate(BIG_SIZE)
            for off in range(0, BIG_SIZE, BIG_DATA_EVERY):
                block[0:8] = off.to_bytes(8, "little")
                block[MIB - 8:] = (off ^ 0x5A5A5A5A).to_bytes(8, "little")
                for i in range(8, MIB - 8, 4096):
                    block[i] = (off >> 20) & 0xFF | 1
                f.seek(off)
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        _big["dir"], _big["path"] = d, p
    return _big["path"]


def evict(path):
    """Drops the file's pages from the page cache: the next copy reads the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def temps(*dirs):
    """Temporary files of clones (.<name>.XXXXXX.vmdtmp) in dirs."""
    out = []
    for d in dirs:
        out += glob.glob(os.path.join(d, ".*.vmdtmp"))
    return out


def same_file_content(a, b):
    return subprocess.call(["cmp", "-s", a, b]) == 0


def data_map(path):
    """[(start, end)] of the data extents (SEEK_DATA/SEEK_HOLE)."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fd, d, os.SEEK_HOLE)
            out.append((d, h))
            pos = h
    finally:
        os.close(fd)
    return out


def vmctl_path():
    env = os.environ.get("VMCTL")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(vmdtest.VMD))),
                        "client", "vmctl")


class TooFast(Exception):
    """The copy was over before the test could act in its middle."""


class NobodyDaemon(vmdtest.Daemon):
    """vmd running as nobody: files mode 0000 are unreadable to it (root reads anything)."""

    def argv(self):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + \
            super().argv()


class CloneTestCase(VmdTestCase):

    def setUp(self):
        super().setUp()
        self.saved_env = dict(os.environ)
        # The daemon listens a moment before its SIGTERM handler is in place; a test that
        # skips at once would stop it inside that moment. One answer means it is in its loop.
        self.c.call("daemon.version")

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved_env)
        super().tearDown()

    # ---- helpers --------------------------------------------------------------------------

    def image(self, name, size=16 * MIB, data=((0, 64 * 1024), (5 * MIB, 4096)), d=None):
        """A sparse image with a little data (pattern depends on the name)."""
        p = os.path.join(d or self.tmp, name)
        with open(p, "wb") as f:
            f.truncate(size)
            for off, n in data:
                f.seek(off)
                f.write((name.encode() + b"%d|" % off) * (n // (len(name) + 12) + 1))
        return p

    def guest(self, name, disks, conn=None, **kw):
        """Defines a pv guest with these disk specs (strings or objects)."""
        cfg = {"name": name, "kernel": self.kernel, "memory": 128, "disk": disks,
               "vif": [{"bridge": "xenbr0"}]}
        cfg.update(kw)
        return (conn or self.c).call("vm.define", {"config": cfg})

    def rw(self, path, vdev="xvda", fmt="raw"):
        return "format=%s, vdev=%s, access=rw, target=%s" % (fmt, vdev, path)

    def config(self, name, conn=None):
        return (conn or self.c).call("vm.config", {"name": name})["config"]

    def store_doc(self, name):
        with open(self.guest_file(name)) as f:
            return json.load(f)

    def jobs_dir(self, daemon=None):
        return os.path.join((daemon or self.d).state_dir, "jobs")

    def journals(self, daemon=None):
        return sorted(os.listdir(self.jobs_dir(daemon)))

    def assertNothingLeft(self, name, dirs, daemon=None, conn=None):
        """No definition of name, no image of it, no temp file, no journal."""
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": name}, conn=conn)
        self.assertFalse(os.path.exists(os.path.join((daemon or self.d).guests_dir,
                                                     name + ".json")))
        for d in dirs:
            left = [f for f in os.listdir(d) if f.startswith(name) or f.startswith("." + name)]
            self.assertEqual(left, [], "left behind in %s" % d)
        self.assertEqual(temps(*dirs), [])
        self.assertEqual(self.journals(daemon), [])

    def wait_released(self, source, conn=None):
        """Until the source of a cancelled clone may start again (the clone has cleaned up
        and ended); then starts it."""
        def free():
            r = (conn or self.c).call_raw("vm.start", {"name": source})
            if "error" in r and r["error"]["code"] == BUSY:
                return False
            self.assertIn("result", r, r)
            return True
        self.eventually(free, "%s released by the cancelled clone" % source)

    def eventually(self, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                self.fail("not within %.0f s: %s" % (timeout, what))
            time.sleep(0.02)

    def until(self, conn, id, pred):
        """Reads conn until a job.progress whose params satisfy pred (returns ("progress",
        params)) or the response to id (returns ("response", response))."""
        key = json.dumps(id)
        while True:
            for i, n in enumerate(conn.notifications):
                if n["method"] == "job.progress" and pred(n["params"]):
                    del conn.notifications[:i + 1]
                    return "progress", n["params"]
            if conn.responses.get(key):
                return "response", conn.response(id)
            conn.read_message()

    def big_guest(self, name="big"):
        self.guest(name, [self.rw(big_image())])
        return name

    def mid_copy(self, action, name="copy", source="big", extra=None, attempts=3):
        """Starts cloning source (the big image) as name into self.tmp on a new connection,
        waits until the copy is under way and calls action(conn, id, progress). Retries when
        the copy ended first (TooFast from action, or the response before any progress)."""
        for _ in range(attempts):
            evict(big_image())
            conn = self.connect()
            params = {"source": source, "name": name, "disk_dir": self.tmp}
            params.update(extra or {})
            id = conn.request("vm.clone", params)
            kind, val = self.until(conn, id, lambda p: 0 < p["done"] < p["total"])
            try:
                if kind == "response":
                    raise TooFast()
                return action(conn, id, val)
            except TooFast:
                conn.close()
                try:
                    self.c.call("vm.remove", {"name": name, "delete_disks": True})
                except RPCError:
                    pass
        self.fail("the copy was over too fast to act in its middle, %d times" % attempts)

    def fake_tool(self, name, body):
        d = os.path.join(self.tmp, "bin")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(p, 0o755)
        return d

    def daemon_with_path(self, path):
        """A second daemon whose PATH is path (for virt-sysprep stand-ins), and a connection."""
        os.environ["PATH"] = path
        d = self.new_daemon()
        d.start()
        os.environ.clear()
        os.environ.update(self.saved_env)
        return d, self.connect(daemon=d)


class TestCloneSemantics(CloneTestCase):

    def test_copies_writable_disks_and_shares_the_rest(self):
        a = self.image("web.img", size=64 * MIB, data=((0, 1 * MIB), (33 * MIB, 64 * 1024)))
        b = self.image("data.qcow2")
        ro = self.image("ro.img")
        iso = self.image("debian.iso")
        self.guest("web", [self.rw(a), self.rw(b, "xvdb", "qcow2"),
                           "format=raw, vdev=xvdc, access=ro, target=%s" % ro,
                           "%s,raw,xvdd,ro,cdrom" % iso,
                           {"vdev": "hdc", "cdrom": True}])
        before = self.config("web")
        r = self.c.call("vm.clone", {"source": "web", "name": "web2"})
        self.assertEqual(r["vm"]["name"], "web2")
        self.assertEqual(r["vm"]["state"], "stopped")
        self.assertFalse(r["sysprep"])
        t_a = os.path.join(self.tmp, "web2.img")
        t_b = os.path.join(self.tmp, "web2-xvdb.qcow2")
        self.assertEqual([(c["vdev"], c["source"], c["target"], c["bytes"]) for c in r["copied"]],
                         [("xvda", a, t_a, 64 * MIB), ("xvdb", b, t_b, 16 * MIB)])
        for c in r["copied"]:
            self.assertIn(c["method"], ("reflink", "sparse", "readwrite"))
        self.assertEqual(r["shared"], [{"vdev": "xvdc", "target": ro},
                                       {"vdev": "xvdd", "target": iso}])
        # content equal, holes kept
        for src, dst in ((a, t_a), (b, t_b)):
            self.assertTrue(same_file_content(src, dst))
            self.assertEqual(data_map(dst), data_map(src))
            self.assertLessEqual(os.stat(dst).st_blocks, os.stat(src).st_blocks)
            self.assertEqual(os.stat(dst).st_mode & 0o777, os.stat(src).st_mode & 0o777)
        disks = self.info("web2")["disks"]
        self.assertEqual([d.get("target") for d in disks], [t_a, t_b, ro, iso, None])
        self.assertEqual([d["access"] for d in disks], ["rw", "rw", "ro", "ro", "ro"])
        self.assertEqual([d["cdrom"] for d in disks], [False, False, False, True, True])
        # the config's disk specs: the copies' are the source's with the new target (format
        # and all); the shared ones are the source's as written
        cfg = self.config("web2")
        self.assertEqual(len(cfg["disk"]), 5)
        for i, t in ((0, t_a), (1, t_b)):
            self.assertEqual(vmdtest.spec_options(cfg["disk"][i]),
                             dict(vmdtest.spec_options(before["disk"][i]), target=t))
        self.assertEqual([vmdtest.spec_options(d)["format"] for d in cfg["disk"][:3]],
                         ["raw", "qcow2", "raw"])
        self.assertEqual(cfg["disk"][2:], before["disk"][2:])
        self.assertEqual(cfg["disk"][3], "%s,raw,xvdd,ro,cdrom" % iso)
        # the clone owns its copies (and only them); the source is untouched
        self.assertEqual(self.store_doc("web2")["owned_disks"], [t_a, t_b])
        self.assertEqual(self.config("web"), before)
        self.assertEqual(self.store_doc("web")["owned_disks"], [])
        self.assertEqual(self.journals(), [])
        self.assertEqual(temps(self.tmp), [])
        # and it starts (the sim backend wants its disk files to exist)
        self.assertEqual(self.c.call("vm.start", {"name": "web2"})["state"], "running")

    def test_identity_is_new(self):
        img = self.image("h.img")
        cfg = {"name": "h", "type": "hvm", "memory": 256, "uuid":
               "8d3c4f0e-52a6-4b4e-9d0e-0f7c1a2b3c4d", "vnc": True, "vncdisplay": 7,
               "disk": [self.rw(img)],
               "vif": [{"mac": "00:16:3e:12:34:56", "bridge": "xenbr0", "vifname": "h-net0"},
                       {"bridge": "xenbr1", "model": "e1000"}]}
        self.c.call("vm.define", {"config": cfg})
        src = self.config("h")
        src_info = self.info("h")
        self.c.call("vm.clone", {"source": "h", "name": "h2"})
        new = self.config("h2")
        self.assertNotEqual(new["uuid"], src["uuid"])
        self.assertNotIn("vncdisplay", new)
        self.assertTrue(new["vnc"])
        self.assertEqual(len(new["vif"]), 2)
        # each vif: the source's spec without mac= and vifname=, and a new generated MAC
        for v_new, v_src in zip(new["vif"], src["vif"]):
            o_new, o_src = vmdtest.spec_options(v_new), vmdtest.spec_options(v_src)
            self.assertNotEqual(o_new["mac"], o_src["mac"])
            self.assertTrue(o_new["mac"].startswith("00:16:3e:"))
            self.assertNotIn("vifname", o_new)
            self.assertEqual(o_new.get("bridge"), o_src.get("bridge"))
            self.assertEqual(o_new.get("model"), o_src.get("model"))
            del o_new["mac"], o_src["mac"]
            o_src.pop("vifname", None)
            self.assertEqual(o_new, o_src)
        info = self.info("h2")
        self.assertEqual(info["uuid"], new["uuid"])
        self.assertEqual([v["mac"] for v in info["vifs"]],
                         [vmdtest.spec_options(v)["mac"] for v in new["vif"]])
        # everything else is the source's: the keys of the text (in their order) and what
        # they mean
        def rest(cfg):
            return [(k, v) for k, v in cfg.items()
                    if k not in ("name", "uuid", "vncdisplay", "vif", "disk")]
        self.assertEqual(rest(new), rest(src))
        for k in ("type", "memory", "vcpus", "maxmem", "on_poweroff", "on_reboot",
                  "on_crash", "on_watchdog"):
            self.assertEqual(info[k], src_info[k], k)

    def test_text_is_the_sources(self):
        """The clone's xl.cfg is the source's text: comments, order and every key vmd does
        not have to change (seclabel, a vif's rate=, ...) stay as written."""
        img = self.image("t.img")
        iso = self.image("t.iso")
        text = ("# web server\n"
                'name = "t"   # the name\n'
                'type = "pv"\n'
                'kernel = "%s"\n'
                "# memory in MiB\n"
                "memory = 256\n"
                'uuid = "8d3c4f0e-52a6-4b4e-9d0e-0f7c1a2b3c4e"\n'
                'seclabel = "system_u:system_r:domU_t"\n'
                "vif = [ 'mac=00:16:3e:12:34:57, bridge=xenbr0, rate=10Mb/s, vifname=t-eth0',\n"
                "        'ip=10.0.0.2, model=e1000' ]\n"
                "disk = [ '%s,raw,xvda,rw', '%s,raw,xvdc,ro,cdrom' ]\n"
                "vncdisplay = 3\n"
                "vfb = [ 'vnc=1' ]\n"
                'on_crash = "preserve"\n' % (self.kernel, img, iso))
        self.c.call("vm.define", {"xlcfg": text, "filename": "t.cfg"})
        src = self.c.call("vm.config", {"name": "t"})
        self.c.call("vm.clone", {"source": "t", "name": "t2"})
        new = self.c.call("vm.config", {"name": "t2"})
        lines = new["xlcfg"].splitlines()
        self.assertEqual([l for l in lines if l.lstrip().startswith("#")],
                         ["# web server", "# memory in MiB"])
        self.assertIn('name = "t2"   # the name', lines)
        self.assertEqual([k for k in new["config"] if k != "uuid"],
                         [k for k in src["config"] if k not in ("uuid", "vncdisplay")])
        for k in ("type", "kernel", "memory", "seclabel", "vfb", "on_crash"):
            self.assertEqual(new["config"][k], src["config"][k], k)
        vifs = [vmdtest.spec_options(v) for v in new["config"]["vif"]]
        self.assertEqual([{k: v for k, v in o.items() if k != "mac"} for o in vifs],
                         [{"bridge": "xenbr0", "rate": "10Mb/s"},
                          {"ip": "10.0.0.2", "model": "e1000"}])
        self.assertNotIn("00:16:3e:12:34:57", [o["mac"] for o in vifs])
        self.assertEqual(new["config"]["disk"][1], "%s,raw,xvdc,ro,cdrom" % iso)
        self.assertEqual([(d["vdev"], d.get("target"), d["access"], d["cdrom"])
                          for d in self.info("t2")["disks"]],
                         [("xvda", os.path.join(self.tmp, "t2.img"), "rw", False),
                          ("xvdc", iso, "ro", True)])
        self.assertEqual(self.info("t2")["on_crash"], "preserve")
        # the source's text is untouched
        self.assertEqual(self.c.call("vm.config", {"name": "t"}), src)

    def test_macs_unique_among_all_definitions(self):
        img = self.image("m.img")
        self.guest("m", [self.rw(img)], vif=[{"bridge": "xenbr0"} for _ in range(4)])
        for i in range(6):
            self.c.call("vm.clone", {"source": "m", "name": "m%d" % i})
        macs, uuids = [], []
        for v in self.c.call("vm.list", {"all": True})["vms"]:
            cfg = self.config(v["name"])
            macs += [x["mac"] for x in self.info(v["name"])["vifs"]]
            self.assertEqual([vmdtest.spec_options(x)["mac"] for x in cfg["vif"]], macs[-4:])
            uuids.append(cfg["uuid"])
        self.assertEqual(len(macs), 7 * 4)
        self.assertEqual(len(set(macs)), len(macs))
        self.assertEqual(len(set(uuids)), 7)
        self.assertTrue(all(m.startswith("00:16:3e:") for m in macs))

    def test_names_disk_dir_and_extensions(self):
        a = self.image("root.disk.raw")
        b = self.image("noext")
        c = self.image("third.img")
        self.guest("n", [self.rw(a), self.rw(b, "xvdb"), self.rw(c, "xvdc")])
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        r = self.c.call("vm.clone", {"source": "n", "name": "n2", "disk_dir": out + "/"})
        self.assertEqual([x["target"] for x in r["copied"]],
                         [out + "/n2.raw", out + "/n2-xvdb", out + "/n2-xvdc.img"])
        for x in r["copied"]:
            self.assertTrue(os.path.isfile(x["target"]))
        # relative disk_dir: invalid params; a missing one: I/O, nothing made
        self.assertCallFails(INVALID_PARAMS, "vm.clone",
                             {"source": "n", "name": "n3", "disk_dir": "out"}, data={})
        err = self.assertCallFails(IO, "vm.clone", {"source": "n", "name": "n3",
                                                     "disk_dir": self.tmp + "/nope"})
        self.assertEqual(err.data["path"], self.tmp + "/nope")
        self.assertNothingLeft("n3", [self.tmp, out])

    def test_remove_delete_disks_deletes_only_the_copies(self):
        a = self.image("r.img")
        iso = self.image("r.iso")
        self.guest("r", [self.rw(a), "%s,raw,xvdc,ro,cdrom" % iso])
        self.c.call("vm.clone", {"source": "r", "name": "r2"})
        t = os.path.join(self.tmp, "r2.img")
        res = self.c.call("vm.remove", {"name": "r2", "delete_disks": True})
        self.assertEqual(res, {"name": "r2", "deleted": [t], "kept": [iso]})
        self.assertFalse(os.path.exists(t))
        self.assertTrue(os.path.exists(a) and os.path.exists(iso))

    def test_start_flag(self):
        self.guest("s", [self.rw(self.image("s.img"))])
        r = self.c.call("vm.clone", {"source": "s", "name": "s2", "start": True})
        self.assertEqual(r["vm"]["state"], "running")
        self.assertIsInstance(r["vm"]["domid"], int)
        self.assertEqual(self.state("s"), "stopped")

    def test_guest_without_writable_disks(self):
        iso = self.image("only.iso")
        self.guest("o", ["%s,raw,xvdc,ro,cdrom" % iso])
        r = self.c.call("vm.clone", {"source": "o", "name": "o2"})
        self.assertEqual(r["copied"], [])
        self.assertEqual(r["shared"], [{"vdev": "xvdc", "target": iso}])
        self.assertEqual(self.store_doc("o2")["owned_disks"], [])


class TestCloneRefusals(CloneTestCase):

    def test_source_must_exist_and_be_stopped(self):
        self.assertCallFails(NOT_FOUND, "vm.clone", {"source": "nope", "name": "x"},
                             data={"name": "nope"})
        self.guest("run", [self.rw(self.image("run.img"))])
        self.c.call("vm.start", {"name": "run"})
        err = self.assertCallFails(BAD_STATE, "vm.clone", {"source": "run", "name": "x"},
                                   data={"name": "run", "state": "running"})
        self.assertIn("shut it down", err.message)
        self.c.call("vm.pause", {"name": "run"})
        self.assertCallFails(BAD_STATE, "vm.clone", {"source": "run", "name": "x"},
                             data={"name": "run", "state": "paused"})
        self.assertNothingLeft("x", [self.tmp])

    def test_name_must_be_free_and_valid(self):
        self.guest("a", [self.rw(self.image("a.img"))])
        self.guest("b", [self.rw(self.image("b.img"))])
        self.assertCallFails(EXISTS, "vm.clone", {"source": "a", "name": "b"},
                             data={"name": "b"})
        self.assertCallFails(EXISTS, "vm.clone", {"source": "a", "name": "a"},
                             data={"name": "a"})
        for bad in ("../x", "", ".x", "a b", "x" * 65):
            self.assertCallFails(INVALID_PARAMS, "vm.clone", {"source": "a", "name": bad},
                                 data={"param": "name"})
        self.assertCallFails(INVALID_PARAMS, "vm.clone", {"source": "a"},
                             data={"param": "name"})
        self.assertCallFails(INVALID_PARAMS, "vm.clone", {"source": "a", "name": "c",
                                                          "start": 1}, data={"param": "start"})
        self.assertEqual(temps(self.tmp), [])

    def test_never_overwrites(self):
        a = self.image("w.img")
        self.guest("w", [self.rw(a), self.rw(self.image("w2.img"), "xvdb")])
        target = os.path.join(self.tmp, "w3-xvdb.img")
        with open(target, "wb") as f:
            f.write(b"precious")
        err = self.assertCallFails(EXISTS, "vm.clone", {"source": "w", "name": "w3"},
                                   data={"path": target})
        self.assertIn("never replaces", err.message)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "w3.img")))
        self.assertEqual(temps(self.tmp), [])
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "w3"})
        # a dangling symlink is a file too
        os.unlink(target)
        os.symlink("/nonexistent/x", os.path.join(self.tmp, "w3.img"))
        self.assertCallFails(EXISTS, "vm.clone", {"source": "w", "name": "w3"},
                             data={"path": os.path.join(self.tmp, "w3.img")})
        self.assertTrue(os.path.islink(os.path.join(self.tmp, "w3.img")))
        self.assertEqual(temps(self.tmp), [])
        self.assertEqual(self.journals(), [])

    def test_block_devices_and_phy_are_not_supported(self):
        self.guest("p", [self.rw(self.image("p.img")),
                         {"vdev": "xvdb", "target": "/dev/vg0/data", "backendtype": "phy"}])
        err = self.assertCallFails(NOT_SUPPORTED, "vm.clone", {"source": "p", "name": "p2"},
                                   data={"name": "p", "path": "/dev/vg0/data"})
        self.assertIn("block device", err.message)
        # a block device without backendtype: found when opened
        blk = next((p for p in sorted(glob.glob("/dev/loop[0-9]*"))
                    if stat.S_ISBLK(os.stat(p).st_mode)), None)
        if blk:
            self.guest("q", [self.rw(blk)])
            err = self.assertCallFails(NOT_SUPPORTED, "vm.clone", {"source": "q", "name": "q2"},
                                       data={"name": "q", "path": blk})
            self.assertIn("block device", err.message)
        self.guest("cdev", [self.rw("/dev/null")])
        self.assertCallFails(NOT_SUPPORTED, "vm.clone", {"source": "cdev", "name": "c2"},
                             data={"name": "cdev", "path": "/dev/null"})
        # read-only block devices are shared, not copied: fine
        self.guest("ro", [self.rw(self.image("ro.img")),
                          {"vdev": "xvdb", "target": "/dev/vg0/ro", "backendtype": "phy",
                           "access": "ro"}])
        r = self.c.call("vm.clone", {"source": "ro", "name": "ro2"})
        self.assertEqual(r["shared"], [{"vdev": "xvdb", "target": "/dev/vg0/ro"}])
        self.assertNothingLeft("p2", [self.tmp])

    def test_missing_source_image(self):
        a = self.image("gone.img")
        self.guest("g", [self.rw(a)])
        os.unlink(a)
        err = self.assertCallFails(IO, "vm.clone", {"source": "g", "name": "g2"},
                                   data={"name": "g2", "path": a})
        self.assertIn("No such file", err.message)
        self.assertNothingLeft("g2", [self.tmp])

    def test_read_only_connection_may_not_clone(self):
        self.guest("a", [self.rw(self.image("a.img"))])
        ro = self.d.socket[:-len(".sock")] + "-ro.sock"
        if not os.path.exists(ro):
            self.skipTest("no read-only socket")
        from vmdclient import Connection
        with Connection(ro, validator=vmdtest.VALIDATOR) as c:
            for m, p in (("vm.clone", {"source": "a", "name": "b"}),
                         ("disk.create", {"path": self.tmp + "/x.img", "size": "1G"}),
                         ("job.cancel", {"job": "00000000"})):
                err = c.error(m, p)
                self.assertRPCError(err, PERMISSION, data={"method": m})
        self.assertNothingLeft("b", [self.tmp])


class TestCloneFailures(CloneTestCase):

    def test_out_of_space(self):
        mnt = os.path.join(self.tmp, "tiny")
        os.mkdir(mnt)
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                           stderr=subprocess.DEVNULL) != 0:
            self.skipTest("cannot mount a tmpfs (not root?)")
        try:
            a = self.image("full.img", size=32 * MIB, data=((0, 3 * MIB), (16 * MIB, 2 * MIB)))
            self.guest("f", [self.rw(a)])
            err = self.assertCallFails(IO, "vm.clone", {"source": "f", "name": "f2",
                                                        "disk_dir": mnt},
                                       data={"name": "f2", "path": mnt + "/f2.img"})
            self.assertIn("No space left", err.message)
            self.assertEqual(os.listdir(mnt), [])
            self.assertNothingLeft("f2", [self.tmp, mnt])
            self.assertServing()
        finally:
            subprocess.call(["umount", mnt])

    def test_unreadable_source(self):
        base = os.path.join(self.tmp, "nobody")
        os.mkdir(base)
        os.chown(base, 65534, 65534)
        img = self.image("secret.img")
        os.chmod(img, 0)
        os.chmod(self.tmp, 0o755)
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        os.chown(out, 65534, 65534)
        d = NobodyDaemon(base, name="nobody")
        self.daemons.append(d)
        d.start()
        c = self.connect(daemon=d)
        self.guest("u", [self.rw(img)], conn=c)
        err = self.assertCallFails(IO, "vm.clone", {"source": "u", "name": "u2",
                                                    "disk_dir": out},
                                   conn=c, data={"name": "u2", "path": img})
        self.assertIn("Permission denied", err.message)
        self.assertNothingLeft("u2", [out], daemon=d, conn=c)

    def test_source_vanishes_mid_copy(self):
        link = os.path.join(os.path.dirname(big_image()), "vanish-%d.img" % os.getpid())
        os.link(big_image(), link)
        self.addCleanup(lambda: os.path.exists(link) and os.unlink(link))
        self.guest("v", [self.rw(link)])

        def act(conn, id, p):
            os.unlink(link)
            r = conn.response(id)
            if "result" in r:
                os.link(big_image(), link)
                raise TooFast()
            return r
        r = self.mid_copy(act, name="v2", source="v")
        err = RPCError(r)
        self.assertRPCError(err, IO, data={"name": "v2", "path": link})
        self.assertIn("vanished", err.message)
        self.assertNothingLeft("v2", [self.tmp])

    def test_kill9_mid_copy_then_restart(self):
        self.big_guest()

        def act(conn, id, p):
            self.d.kill9()
            return p
        p = self.mid_copy(act)
        self.assertEqual(len(temps(self.tmp)), 1, "the partial copy is there after kill -9")
        self.assertEqual(len(self.journals()), 1)
        with open(os.path.join(self.jobs_dir(), self.journals()[0])) as f:
            journal = json.load(f)
        self.assertEqual(journal["id"], p["job"])
        self.assertEqual(journal["guest"], "copy")
        self.assertEqual([f["tmp"] for f in journal["files"]], temps(self.tmp))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "copy.img")))
        self.d.start()
        self.c = self.connect()
        self.assertIn("removed leftover temporary file", self.d.log())
        self.assertNothingLeft("copy", [self.tmp])
        self.assertEqual(self.info("big")["state"], "stopped")
        # and the same clone works now
        evict(big_image())
        r = self.c.call("vm.clone", {"source": "big", "name": "copy", "disk_dir": self.tmp})
        self.assertEqual(r["copied"][0]["target"], os.path.join(self.tmp, "copy.img"))
        self.assertEqual(data_map(r["copied"][0]["target"]), data_map(big_image()))


class TestCloneJobs(CloneTestCase):

    def test_progress_notifications(self):
        self.big_guest()
        small = self.image("small.img")
        self.c.call("vm.define", {"config": {
            "name": "two", "kernel": self.kernel,
            "disk": [self.rw(big_image()), self.rw(small, "xvdb")]}})
        evict(big_image())
        conn = self.connect()
        id = conn.request("vm.clone", {"source": "two", "name": "two2", "disk_dir": self.tmp})
        r = conn.response(id)
        self.assertIn("result", r, r)
        progress = [n["params"] for n in conn.notifications if n["method"] == "job.progress"]
        self.assertGreaterEqual(len(progress), 2)
        self.assertEqual({p["job"] for p in progress}, {r["result"]["job"]})
        self.assertEqual(progress[0]["done"], 0)
        total = BIG_SIZE + 16 * MIB
        self.assertEqual(progress[-1]["done"], total)
        self.assertEqual(progress[-1]["total"], total)
        dones = [p["done"] for p in progress]
        self.assertEqual(dones, sorted(dones))
        self.assertTrue(all(p["total"] in (0, total) for p in progress))
        phases = [p["phase"] for p in progress]
        self.assertEqual(phases[0], "starting")
        self.assertIn("copying xvda", phases)
        # every message was validated against proto/schemas (job.progress.json) on the way

    def test_other_clients_are_served_during_a_long_copy(self):
        self.big_guest()
        self.guest("other", [self.rw(self.image("other.img"))])

        def act(conn, id, p):
            with self.d.connect() as c2:
                self.assertEqual(c2.call("daemon.version")["protocol"], 1)
                names = {v["name"] for v in c2.call("vm.list", {"all": True})["vms"]}
                self.assertIn("big", names)
                if "meanwhile" not in names:
                    c2.call("vm.define", {"config": {"name": "meanwhile",
                                                     "kernel": self.kernel}})
                self.assertEqual(c2.call("vm.info", {"name": "other"})["state"], "stopped")
                # a second clone to the same name is refused at once, and so are an
                # install and a definition of it: one reservation for every operation
                self.assertRPCError(c2.error("vm.clone", {"source": "other", "name": "copy"}),
                                    EXISTS, data={"name": "copy"})
                disk = os.path.join(self.tmp, "copy-install.img")
                self.assertRPCError(c2.error("vm.install", {
                    "name": "copy", "kernel": self.kernel, "initrd": self.kernel,
                    "disk": disk, "disk_size": "64M"}), EXISTS, data={"name": "copy"})
                self.assertFalse(os.path.exists(disk))
                self.assertRPCError(c2.error("vm.define", {"config": {
                    "name": "copy", "kernel": self.kernel}}), EXISTS, data={"name": "copy"})
                # All that was answered while the copy still ran: its guest is not defined
                # yet (it is stored only once every copy is complete).
                try:
                    c2.call("vm.info", {"name": "copy"})
                    raise TooFast()
                except RPCError as e:
                    self.assertEqual(e.code, NOT_FOUND)
            return conn.response(id)
        r = self.mid_copy(act)
        self.assertIn("result", r)
        self.assertEqual(self.state("meanwhile"), "stopped")
        self.c.call("vm.start", {"name": "big"})  # released
        self.assertEqual(data_map(r["result"]["copied"][0]["target"]), data_map(big_image()))

    def test_cancel_by_disconnect_leaves_nothing(self):
        self.big_guest()

        def act(conn, id, p):
            conn.close()
            return p
        self.mid_copy(act)
        self.wait_released("big")
        self.assertNothingLeft("copy", [self.tmp])
        self.assertIn("went away", self.d.log())

    def test_job_cancel(self):
        self.big_guest()
        self.assertCallFails(NOT_FOUND, "job.cancel", {"job": "nope"}, data={"job": "nope"})

        def act(conn, id, p):
            with self.d.connect() as c2:
                self.assertEqual(c2.call("job.cancel", {"job": p["job"]}),
                                 {"job": p["job"], "kind": "vm.clone"})
            return conn.response(id)
        r = self.mid_copy(act)
        err = RPCError(r)
        self.assertRPCError(err, CANCELLED, data_keys=["name", "job"])
        self.assertEqual(err.data, {"name": "copy", "job": err.data["job"]})
        self.assertNothingLeft("copy", [self.tmp])
        self.assertCallFails(NOT_FOUND, "job.cancel", {"job": err.data["job"]})

    def test_vmctl_clone_progress_json_and_ctrl_c(self):
        self.big_guest()
        vmctl = vmctl_path()
        env = dict(os.environ, VMD_SOCKET=self.d.socket)
        evict(big_image())
        p = subprocess.run([vmctl, "--json", "clone", "big", "j1", "--disk-dir", self.tmp],
                           env=env, capture_output=True, text=True, timeout=WAIT * 5)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        result = lines[-1]
        self.assertEqual(result["vm"]["name"], "j1")
        self.assertTrue(len(lines) >= 3)
        for l in lines[:-1]:
            vmdtest.VALIDATOR.check("job.progress", l)
        self.assertEqual(lines[-2]["done"], lines[-2]["total"])
        # human form, relative --disk-dir
        p = subprocess.run([vmctl, "clone", "big", "j2", "--disk-dir", "."], cwd=self.tmp,
                           env=env, capture_output=True, text=True, timeout=WAIT * 5)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cloned big as j2", p.stdout)
        self.assertIn("-> %s/j2.img" % self.tmp, p.stdout)
        p = subprocess.run([vmctl, "clone", "big", "j2"], env=env, capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(p.returncode, 2)
        self.assertIn("already defined", p.stderr)
        # Ctrl-C: vmctl exits 130 and the daemon cancels
        for attempt in range(3):
            evict(big_image())
            proc = subprocess.Popen([vmctl, "--json", "clone", "big", "j3", "--disk-dir",
                                     self.tmp], env=env, stdout=subprocess.PIPE, text=True)
            mid = False
            for line in proc.stdout:
                msg = json.loads(line)
                if "done" in msg and 0 < msg["done"] < msg["total"]:
                    mid = True
                    proc.send_signal(signal.SIGINT)
                    break
            proc.stdout.close()
            rc = proc.wait(WAIT)
            if mid:
                break
            self.c.call("vm.remove", {"name": "j3", "delete_disks": True})
        self.assertTrue(mid, "never saw the copy in its middle")
        self.assertEqual(rc, 130)
        self.wait_released("big")
        self.assertNothingLeft("j3", [self.tmp])


class TestSysprep(CloneTestCase):

    def test_not_installed(self):
        d, c = self.daemon_with_path("/nonexistent")
        self.guest("s", [self.rw(self.image("s.img"))], conn=c)
        err = self.assertCallFails(NOT_SUPPORTED, "vm.clone",
                                   {"source": "s", "name": "s2", "sysprep": True},
                                   conn=c, data={"name": "s2"})
        self.assertIn("virt-sysprep", err.message)
        self.assertIn("libguestfs-tools", err.message)
        self.assertNothingLeft("s2", [self.tmp], daemon=d, conn=c)

    def test_runs_on_the_copies_before_they_get_their_names(self):
        log = os.path.join(self.tmp, "sysprep.log")
        bindir = self.fake_tool("virt-sysprep", """
for a in "$@"; do echo "$a"; done > '%s'
prev=
for a in "$@"; do
    [ "$prev" = -a ] && printf SYSPREPPED | dd of="$a" conv=notrunc status=none
    prev=$a
done
""" % log)
        d, c = self.daemon_with_path(bindir + ":/usr/bin:/bin")
        a = self.image("sp.img")
        b = self.image("sp2.qcow2")
        iso = self.image("sp.iso")
        self.guest("sp", [self.rw(a), self.rw(b, "xvdb", "qcow2"), "%s,raw,xvdc,ro,cdrom" % iso],
                   conn=c)
        r = c.call("vm.clone", {"source": "sp", "name": "sp-2", "sysprep": True})
        self.assertTrue(r["sysprep"])
        with open(log) as f:
            args = f.read().splitlines()
        ai = [i for i, x in enumerate(args) if x == "-a"]
        images = [args[i + 1] for i in ai]
        self.assertEqual(len(images), 2)
        self.assertTrue(all(os.path.basename(p).startswith(".sp-2") and p.endswith(".vmdtmp")
                            for p in images), images)
        self.assertEqual([args[i - 1] for i in ai], ["raw", "qcow2"])
        self.assertEqual(args[args.index("--hostname") + 1], "sp-2")
        ops = args[args.index("--operations") + 1].split(",")
        for op in ("machine-id", "ssh-hostkeys", "dhcp-client-state", "customize"):
            self.assertIn(op, ops)
        self.assertIn("ssh-keygen -A", args[args.index("--firstboot-command") + 1])
        for x in r["copied"]:
            with open(x["target"], "rb") as f:
                self.assertEqual(f.read(10), b"SYSPREPPED")
        for src in (a, b, iso):
            with open(src, "rb") as f:
                self.assertNotEqual(f.read(10), b"SYSPREPPED")
        self.assertEqual(temps(self.tmp), [])

    def test_failure_leaves_nothing(self):
        bindir = self.fake_tool("virt-sysprep", """
echo 'virt-sysprep: warning: whatever'
echo 'virt-sysprep: error: no operating systems were found in the guest image' >&2
echo 'If reporting bugs, run virt-sysprep with debugging enabled'
exit 1""")
        d, c = self.daemon_with_path(bindir + ":/usr/bin:/bin")
        self.guest("sf", [self.rw(self.image("sf.img"))], conn=c)
        err = self.assertCallFails(BACKEND, "vm.clone",
                                   {"source": "sf", "name": "sf2", "sysprep": True},
                                   conn=c, data={"name": "sf2"})
        self.assertIn("no operating systems were found", err.message)
        self.assertNothingLeft("sf2", [self.tmp], daemon=d, conn=c)

    def test_long_sysprep_serves_others_then_cancel_and_kill9(self):
        """A virt-sysprep stand-in that waits for a file: the worker is deterministically busy
        while other clients are served; job.cancel stops it; a kill -9 during it leaves
        complete temporary copies that the next start removes."""
        gate = os.path.join(self.tmp, "gate")
        # (it also ends when vmd is gone: a kill -9 below orphans it)
        bindir = self.fake_tool("virt-sysprep", "while [ ! -e '%s' ]; do sleep 0.05; "
                                "kill -0 $PPID 2>/dev/null || exit 1; done" % gate)
        d, c = self.daemon_with_path(bindir + ":/usr/bin:/bin")
        self.guest("b", [self.rw(self.image("b.img")), self.rw(self.image("b2.img"), "xvdb")],
                   conn=c)
        cc = self.connect(daemon=d)
        id = cc.request("vm.clone", {"source": "b", "name": "b-1", "sysprep": True})
        kind, p = self.until(cc, id, lambda q: q["phase"] == "sysprep")
        self.assertEqual(kind, "progress")
        # the loop is free: others are served while the worker waits
        for _ in range(3):
            self.assertEqual(c.call("daemon.version")["protocol"], 1)
            c.call("vm.list", {"all": True})
        self.assertRPCError(c.error("vm.start", {"name": "b"}), BUSY)
        self.assertEqual(len(temps(self.tmp)), 2)
        self.assertEqual(cc.responses, {})
        # release it: the clone completes
        open(gate, "w").close()
        r = cc.response(id)
        self.assertIn("result", r)
        os.unlink(gate)
        # job.cancel during sysprep
        id = cc.request("vm.clone", {"source": "b", "name": "b-2", "sysprep": True})
        kind, p = self.until(cc, id, lambda q: q["phase"] == "sysprep")
        c.call("job.cancel", {"job": p["job"]})
        self.assertRPCError(RPCError(cc.response(id)), CANCELLED)
        self.assertNothingLeft("b-2", [self.tmp], daemon=d, conn=c)
        # kill -9 during sysprep: both copies complete under temporary names, then gone
        id = cc.request("vm.clone", {"source": "b", "name": "b-3", "sysprep": True})
        kind, p = self.until(cc, id, lambda q: q["phase"] == "sysprep")
        d.kill9()
        self.assertEqual(len(temps(self.tmp)), 2)
        d.start()
        c = self.connect(daemon=d)
        self.assertNothingLeft("b-3", [self.tmp], daemon=d, conn=c)
        self.assertEqual(self.info("b-1", conn=c)["state"], "stopped")

    def test_real_virt_sysprep(self):
        if os.environ.get("VMD_TEST_NO_LIBGUESTFS"):
            self.skipTest("VMD_TEST_NO_LIBGUESTFS is set")
        for tool in ("virt-sysprep", "guestfish", "mkfs.ext4"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed (libguestfs-tools, e2fsprogs)" % tool)
        if not glob.glob("/boot/vmlinuz-*"):
            self.skipTest("no kernel under /boot for libguestfs' appliance")
        # A tiny Debian-looking root file system: what virt-sysprep's inspection needs.
        root = os.path.join(self.tmp, "root")
        files = {
            "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian '
                              'GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
            "etc/debian_version": "12.5\n",
            "etc/fstab": "/dev/xvda / ext4 defaults 0 1\n",
            "etc/hostname": "golden\n",
            "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 golden\n",
            "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
            "etc/ssh/ssh_host_ed25519_key": "PRIVATE\n",
            "etc/ssh/ssh_host_ed25519_key.pub": "PUBLIC\n",
            "var/lib/dhcp/dhclient.eth0.leases": "lease { fixed-address 10.0.0.5; }\n",
            "root/.ssh/authorized_keys": "ssh-ed25519 AAAA admin\n",
            "lib/systemd/systemd": "",
        }
        for rel, text in files.items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        for dd in ("bin", "usr/bin", "sbin", "etc/systemd/system"):
            os.makedirs(os.path.join(root, dd), exist_ok=True)
        shutil.copy("/bin/true", os.path.join(root, "bin", "sh"))
        img = os.path.join(self.tmp, "golden.img")
        with open(img, "wb") as f:
            f.truncate(64 * MIB)
        subprocess.check_call(["mkfs.ext4", "-q", "-d", root, img])
        # Nested KVM fails on some hosts (qemu asserts on an MSR); TCG always works.
        os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        d, c = self.daemon_with_path(os.environ["PATH"])
        os.environ["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
        self.guest("golden", [self.rw(img)], conn=c)
        r = c.call("vm.clone", {"source": "golden", "name": "web7", "sysprep": True},
                   timeout=1800)
        copy = r["copied"][0]["target"]

        def look(image):
            out = subprocess.run(
                ["guestfish", "--ro", "-a", image, "-i"], input=(
                    "cat /etc/machine-id\necho ---\ncat /etc/hostname\necho ---\n"
                    "ls /etc/ssh\necho ---\nls /var/lib/dhcp\necho ---\n"
                    "cat /root/.ssh/authorized_keys\necho ---\n"
                    "ls /etc/systemd/system/multi-user.target.wants\n"),
                capture_output=True, text=True, timeout=1800)
            self.assertEqual(out.returncode, 0, out.stderr)
            return [part.strip() for part in out.stdout.split("---")]
        mid, host, ssh, dhcp, keys, units = look(copy)
        self.assertNotEqual(mid, "0123456789abcdef0123456789abcdef")
        self.assertEqual(host, "web7")
        self.assertNotIn("ssh_host_ed25519_key", ssh)
        self.assertNotIn("dhclient.eth0.leases", dhcp)
        self.assertEqual(keys, "ssh-ed25519 AAAA admin")  # users' keys stay
        self.assertIn("guestfs-firstboot", units)      # regenerates the host keys at boot
        # the source is as it was
        # (look() fails on an image without that directory: the source has none)
        out = subprocess.run(["guestfish", "--ro", "-a", img, "-i"], input=(
            "cat /etc/machine-id\necho ---\ncat /etc/hostname\necho ---\nls /etc/ssh\n"),
            capture_output=True, text=True, timeout=1800)
        self.assertEqual(out.returncode, 0, out.stderr)
        mid, host, ssh = [part.strip() for part in out.stdout.split("---")]
        self.assertEqual(mid, "0123456789abcdef0123456789abcdef")
        self.assertEqual(host, "golden")
        self.assertIn("ssh_host_ed25519_key", ssh)


class TestRestrictedWriter(CloneTestCase):
    """A member of the writers' group who is not root makes files only under the storage
    roots: vmd writes as root, and a clone's names and contents are the caller's to pick."""

    def daemon_kwargs(self):
        self.images = os.path.join(self.tmp, "images")
        os.mkdir(self.images)
        return {"conf": "group = nogroup\nstorage_roots = %s\n" % self.images}

    def test_files_only_under_the_storage_roots(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to act as another user")
        import grp
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            self.skipTest("no group nogroup on this host")
        self.guest("in", [self.rw(self.image("in.img", d=self.images))])
        self.guest("out", [self.rw(self.image("out.img"))])  # defined by root, outside
        sock, tmp, images = self.d.socket, self.tmp, self.images

        def as_member():
            c = vmdtest.Connection(sock, validator=vmdtest.VALIDATOR)
            res = {"ok": c.call("vm.clone", {"source": "in", "name": "in2"})["copied"]}
            res["disk_dir"] = c.call_raw("vm.clone", {"source": "in", "name": "in3",
                                                      "disk_dir": tmp}).get("error")
            res["next_to"] = c.call_raw("vm.clone", {"source": "out", "name": "out2"}) \
                .get("error")
            # issue 13: a root guest's image outside the roots, copied into them, would be
            # the writer's to read
            res["read_out"] = c.call_raw("vm.clone", {"source": "out", "name": "out4",
                                                      "disk_dir": images}).get("error")
            res["create_ok"] = c.call("disk.create", {"path": images + "/d.img",
                                                      "size": "1G"})
            res["create_out"] = c.call_raw("disk.create", {"path": tmp + "/d.img",
                                                           "size": "1G"}).get("error")
            return res
        out = self.as_user(65534, gid, as_member)
        self.assertEqual(out["ok"][0]["target"], os.path.join(self.images, "in2.img"))
        self.assertEqual(out["disk_dir"]["code"], PERMISSION)
        self.assertEqual(out["disk_dir"]["data"], {"method": "vm.clone", "key": "disk_dir",
                                                   "path": os.path.join(self.tmp, "in3.img")})
        self.assertEqual(out["next_to"]["code"], PERMISSION)
        self.assertEqual(out["next_to"]["data"], {"method": "vm.clone", "key": "disk",
                                                  "path": os.path.join(self.tmp, "out2.img")})
        self.assertEqual(out["read_out"]["code"], PERMISSION)
        self.assertEqual(out["read_out"]["data"], {"method": "vm.clone", "key": "disk",
                                                   "path": os.path.join(self.tmp, "out.img")})
        self.assertFalse(os.path.exists(os.path.join(self.images, "out4.img")))
        self.assertEqual(out["create_ok"]["path"], os.path.join(self.images, "d.img"))
        self.assertEqual(out["create_out"]["data"], {"method": "disk.create", "key": "path",
                                                     "path": os.path.join(self.tmp, "d.img")})
        for f in ("in3.img", "out2.img", "d.img"):
            self.assertFalse(os.path.exists(os.path.join(self.tmp, f)), f)
        self.assertNothingLeft("in3", [self.tmp, self.images])
        self.assertNothingLeft("out2", [self.tmp, self.images])
        # root is not restricted
        r = self.c.call("vm.clone", {"source": "out", "name": "out3"})
        self.assertEqual(r["copied"][0]["target"], os.path.join(self.tmp, "out3.img"))


class TestDiskCreate(CloneTestCase):

    def test_create(self):
        p = os.path.join(self.tmp, "new.img")
        r = self.c.call("disk.create", {"path": p, "size": "20G"})
        self.assertEqual(r, {"path": p, "size": 20 * GIB})
        st = os.stat(p)
        self.assertEqual(st.st_size, 20 * GIB)
        self.assertEqual(st.st_blocks, 0)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(temps(self.tmp), [])
        self.assertEqual(self.journals(), [])
        for size, want in (("4096", 4096), ("1K", 1024), ("3m", 3 * MIB), ("2GiB", 2 * GIB),
                           ("1T", 1 << 40)):
            q = os.path.join(self.tmp, "s-" + size)
            self.assertEqual(self.c.call("disk.create", {"path": q, "size": size})["size"], want)

    def test_never_overwrites(self):
        p = os.path.join(self.tmp, "old.img")
        with open(p, "wb") as f:
            f.write(b"data")
        err = self.assertCallFails(EXISTS, "disk.create", {"path": p, "size": "1G"},
                                   data={"path": p})
        self.assertIn("already exists", err.message)
        self.assertEqual(os.stat(p).st_size, 4)
        self.assertEqual(temps(self.tmp), [])

    def test_bad_params(self):
        p = os.path.join(self.tmp, "x.img")
        for size in ("0", "1X", "-1G", "1.5G", "", "99999999999T"):
            self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": p, "size": size},
                                 data={"param": "size"})
        self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": p, "size": 1024},
                             data={"param": "size"})
        self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": "x.img", "size": "1G"},
                             data={})
        self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": self.tmp + "/",
                                                             "size": "1G"}, data={})
        err = self.assertCallFails(IO, "disk.create", {"path": self.tmp + "/no/x.img",
                                                       "size": "1G"},
                                   data={"path": self.tmp + "/no/x.img"})
        self.assertIn("No such file", err.message)
        self.assertFalse(os.path.exists(p))
        self.assertEqual(temps(self.tmp), [])

    def test_vmctl(self):
        vmctl = vmctl_path()
        env = dict(os.environ, VMD_SOCKET=self.d.socket)
        p = subprocess.run([vmctl, "disk", "create", "rel.img", "1G"], cwd=self.tmp, env=env,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "created %s/rel.img (1 GiB, sparse)\n" % self.tmp)
        p = subprocess.run([vmctl, "-j", "disk", "create", self.tmp + "/rel.img", "1G"], env=env,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(p.returncode, 2)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        vmdtest.VALIDATOR.check("job.progress", lines[0])  # the job announces itself
        self.assertEqual(lines[-1]["code"], EXISTS)
        p = subprocess.run([vmctl, "disk", "create", "x.img"], env=env, capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(p.returncode, 1)
        self.assertIn("usage: vmctl", p.stderr)


if __name__ == "__main__":
    vmdtest.main()
