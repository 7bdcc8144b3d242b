#!/usr/bin/python3
"""vm.snapshot_create / _list / _revert / _delete against the sim backend: the images' copies,
their records, the refusals, a kill -9 in the middle. A running guest's snapshot needs
reflinks: those tests loop-mount an XFS with reflink=1 (root and xfsprogs; else skipped). The
libxl half is tested on real Xen (tests/xen/scenarios/68-vmd-snapshot.sh).

    /usr/bin/python3 tests/integration/test_snapshot.py --vmd build/daemon/vmd [-v] [Class.test]
"""

import os
import shutil
import subprocess
import tempfile
import time

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE, BUSY, EXISTS, INVALID_PARAMS

NOT_FOUND = 1
NOT_SUPPORTED = 12


class SnapCase(VmdTestCase):

    def write(self, path, data, at=0):
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(data)

    def read(self, path, n, at=0):
        with open(path, "rb") as f:
            f.seek(at)
            return f.read(n)

    def guest_on(self, name, directory, start=False, **kw):
        """A guest whose disk is a 16 MiB image in directory."""
        img = os.path.join(directory, name + ".img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        self.write(img, b"before" * 10, 4096)
        disk = ["format=raw, vdev=xvda, access=rw, target=%s" % img]
        (self.create if start else self.define)(name, disk=disk, **kw)
        return img

    def snaps(self, name):
        return [s["snapshot"] for s in self.c.call("vm.snapshot_list", {"name": name})[
            "snapshots"]]


class TestStopped(SnapCase):

    def test_create_revert_delete(self):
        img = self.guest_on("s1", self.tmp)
        r = self.c.call("vm.snapshot_create", {"name": "s1", "snapshot": "one"})
        self.assertEqual((r["name"], r["snapshot"]), ("s1", "one"))
        self.assertNotIn("paused_ms", r)
        self.assertEqual([d["vdev"] for d in r["disks"]], ["xvda"])
        copy = img + "@one"
        self.assertEqual(self.read(copy, 60, 4096), b"before" * 10)
        lst = self.c.call("vm.snapshot_list", {"name": "s1"})["snapshots"]
        self.assertEqual(len(lst), 1)
        self.assertEqual(lst[0]["disks"][0]["copy"], copy)
        self.assertFalse(lst[0]["running"])
        # the guest writes; revert brings the old data back
        self.write(img, b"after!" * 10, 4096)
        self.c.call("vm.snapshot_revert", {"name": "s1", "snapshot": "one"})
        self.assertEqual(self.read(img, 60, 4096), b"before" * 10)
        self.assertTrue(os.path.exists(copy))  # the snapshot stays
        self.assertEqual(os.path.getsize(img), 16 << 20)
        # delete removes exactly its copy and its record
        before = set(os.listdir(self.tmp))
        r = self.c.call("vm.snapshot_delete", {"name": "s1", "snapshot": "one"})
        self.assertEqual(r["deleted"], [copy])
        self.assertIn("job", r)
        self.assertEqual(before - set(os.listdir(self.tmp)), {"s1.img@one"})
        self.assertEqual(self.snaps("s1"), [])
        self.assertTrue(os.path.exists(img))

    def test_default_name_order_and_refusals(self):
        self.guest_on("s2", self.tmp)
        r = self.c.call("vm.snapshot_create", {"name": "s2"})
        self.assertRegex(r["snapshot"], r"^\d{8}-\d{6}$")
        self.c.call("vm.snapshot_create", {"name": "s2", "snapshot": "b"})
        self.assertEqual(self.snaps("s2"), [r["snapshot"], "b"])
        self.assertCallFails(EXISTS, "vm.snapshot_create", {"name": "s2", "snapshot": "b"})
        for bad in ("a/b", ".hidden", "", "x" * 65):
            self.assertCallFails(INVALID_PARAMS, "vm.snapshot_create",
                                 {"name": "s2", "snapshot": bad}, data={"param": "snapshot"})
        self.assertCallFails(NOT_FOUND, "vm.snapshot_revert", {"name": "s2", "snapshot": "c"})
        self.assertCallFails(NOT_FOUND, "vm.snapshot_delete", {"name": "s2", "snapshot": "c"})
        self.assertCallFails(NOT_FOUND, "vm.snapshot_list", {"name": "nosuch"})
        # a guest with snapshots is not removed behind them
        self.assertCallFails(BAD_STATE, "vm.remove", {"name": "s2"})
        self.c.call("vm.snapshot_delete", {"name": "s2", "snapshot": "b"})
        self.c.call("vm.snapshot_delete", {"name": "s2", "snapshot": r["snapshot"]})
        self.c.call("vm.remove", {"name": "s2"})

    def test_block_devices_are_refused(self):
        self.define("s4", disk=["format=raw, vdev=xvda, access=rw, target=/dev/null"])
        self.assertCallFails(NOT_SUPPORTED, "vm.snapshot_create", {"name": "s4"},
                             data_keys=["name", "path"])
        self.assertEqual(self.snaps("s4"), [])

    def test_running_guest_on_a_file_system_without_reflink(self):
        img = self.guest_on("s5", self.tmp, start=True)
        if self.reflinks(self.tmp):
            self.skipTest("this file system reflinks")
        self.assertCallFails(NOT_SUPPORTED, "vm.snapshot_create", {"name": "s5"})
        self.assertFalse(os.path.exists(img + "@" + "x"))
        self.assertEqual([f for f in os.listdir(self.tmp) if "@" in f or "vmdtmp" in f], [])
        self.assertEqual(self.info("s5")["state"], "running")
        self.assertEqual(self.snaps("s5"), [])

    def test_memory_where_no_reflink_leaves_nothing(self):
        """The checkpoint is written, then the copies fail: its file goes, the guest runs."""
        self.guest_on("n1", self.tmp, start=True)
        if self.reflinks(self.tmp):
            self.skipTest("this file system reflinks")
        domid = self.info("n1")["domid"]
        self.assertCallFails(NOT_SUPPORTED, "vm.snapshot_create",
                             {"name": "n1", "snapshot": "m", "memory": True})
        i = self.info("n1")
        self.assertEqual((i["state"], i["domid"]), ("running", domid))
        self.assertEqual(self.snaps("n1"), [])
        self.assertFalse(os.path.exists(os.path.join(self.d.state_dir, "snapshots", "n1")))
        self.assertEqual(sorted(f for f in os.listdir(self.tmp) if f.startswith("n1")),
                         ["n1.img"])

    def test_a_memory_file_no_record_names_goes_at_start(self):
        self.guest_on("o1", self.tmp)
        d = os.path.join(self.d.state_dir, "snapshots", "o1")
        os.makedirs(d)
        with open(os.path.join(d, "lost.save"), "wb") as f:
            f.write(b'{"vmd-save":1,')
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        self.assertFalse(os.path.exists(d))

    def test_revert_of_a_running_guest_is_refused(self):
        self.guest_on("s6", self.tmp)
        self.c.call("vm.snapshot_create", {"name": "s6", "snapshot": "a"})
        self.c.call("vm.start", {"name": "s6"})
        self.assertCallFails(BAD_STATE, "vm.snapshot_revert", {"name": "s6", "snapshot": "a"})

    def reflinks(self, d):
        a, b = os.path.join(d, ".probe-a"), os.path.join(d, ".probe-b")
        open(a, "wb").write(b"x" * 4096)
        ok = subprocess.call(["cp", "--reflink=always", a, b], stderr=subprocess.DEVNULL) == 0
        for p in (a, b):
            if os.path.exists(p):
                os.unlink(p)
        return ok


class TestQcow2(SnapCase):
    """qcow2 images: internal snapshots through qemu-img; qemu-img and qemu-io (qemu-utils)
    are the reference for what the image holds."""

    def setUp(self):
        super().setUp()
        if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
            self.skipTest("needs qemu-img and qemu-io (qemu-utils)")

    def qcow2(self, name):
        q = os.path.join(self.tmp, name + ".qcow2")
        subprocess.check_call(["qemu-img", "create", "-q", "-f", "qcow2", q, "16M"])
        return q

    def io(self, img, cmd):
        """qemu-io's command on img; True when it succeeded (read -P: the pattern is there)."""
        out = subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, img], capture_output=True,
                             text=True)
        return out.returncode == 0 and "Pattern verification failed" not in out.stdout

    def tags(self, img):
        out = subprocess.check_output(["qemu-img", "snapshot", "-l", img], text=True)
        return [l.split()[1] for l in out.splitlines() if l.split()[:1] and
                l.split()[0].isdigit()]

    def test_internal_snapshot_revert_delete(self):
        q = self.qcow2("q1")
        raw = os.path.join(self.tmp, "q1-b.img")
        with open(raw, "wb") as f:
            f.truncate(1 << 20)
        self.define("q1", disk=["format=qcow2, vdev=xvda, access=rw, target=%s" % q,
                                "format=raw, vdev=xvdb, access=rw, target=%s" % raw])
        self.assertTrue(self.io(q, "write -P 0x41 0 64k"))
        r = self.c.call("vm.snapshot_create", {"name": "q1", "snapshot": "one"})
        self.assertEqual([(d["vdev"], d["method"]) for d in r["disks"]],
                         [("xvda", "qcow2-internal"), ("xvdb", r["disks"][1]["method"])])
        self.assertEqual(self.tags(q), ["one"])
        rec = self.c.call("vm.snapshot_list", {"name": "q1"})["snapshots"][0]
        self.assertNotIn("copy", rec["disks"][0])
        self.assertEqual(rec["disks"][1]["copy"], raw + "@one")
        self.assertTrue(self.io(q, "write -P 0x42 0 64k"))
        self.c.call("vm.snapshot_revert", {"name": "q1", "snapshot": "one"})
        self.assertTrue(self.io(q, "read -P 0x41 0 64k"))
        self.assertFalse(self.io(q, "read -P 0x42 0 64k"))
        # a tag in the image that vmd did not record is not taken over
        subprocess.check_call(["qemu-img", "snapshot", "-c", "byhand", q])
        self.assertCallFails(EXISTS, "vm.snapshot_create", {"name": "q1", "snapshot": "byhand"})
        self.assertEqual(sorted(os.listdir(self.tmp)).count("q1-b.img@byhand"), 0)
        self.assertEqual(sorted(self.tags(q)), ["byhand", "one"])
        r = self.c.call("vm.snapshot_delete", {"name": "q1", "snapshot": "one"})
        self.assertEqual(sorted(r["deleted"]), sorted([q, raw + "@one"]))
        self.assertEqual(self.tags(q), ["byhand"])
        self.assertFalse(os.path.exists(raw + "@one"))

    def test_running_qcow2_guest_is_refused(self):
        q = self.qcow2("q2")
        self.create("q2", disk=["format=qcow2, vdev=xvda, access=rw, target=%s" % q])
        self.assertCallFails(NOT_SUPPORTED, "vm.snapshot_create", {"name": "q2"})
        self.assertEqual(self.tags(q), [])


class TestRunningOnXfs(SnapCase):
    """A running guest's snapshot: paused for reflinks on XFS."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or not shutil.which("mkfs.xfs"):
            self.skipTest("needs root and mkfs.xfs")
        self.xfs_img = os.path.join(self.tmp, "xfs.img")
        self.mnt = tempfile.mkdtemp(prefix="vmdt-xfs-")
        with open(self.xfs_img, "wb") as f:
            f.truncate(512 << 20)
        subprocess.check_call(["mkfs.xfs", "-q", "-m", "reflink=1", self.xfs_img])
        if subprocess.call(["mount", "-o", "loop", self.xfs_img, self.mnt]) != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot loop-mount an XFS image here")
        self.addCleanup(self.unmount)

    def unmount(self):
        subprocess.call(["umount", self.mnt])
        os.rmdir(self.mnt)

    def test_pause_reflink_unpause(self):
        img = self.guest_on("x1", self.mnt, start=True)
        events = self.connect()
        events.call("events.subscribe", {})
        r = self.c.call("vm.snapshot_create", {"name": "x1", "snapshot": "live"})
        self.assertEqual(r["disks"][0]["method"], "reflink")
        self.assertGreaterEqual(r["paused_ms"], 0)
        self.assertEqual(self.info("x1")["state"], "running")
        dom = [d for d in self.sim_domains() if d["name"] == "x1"][0]
        self.assertEqual(dom["state"], "running")
        rec = self.c.call("vm.snapshot_list", {"name": "x1"})["snapshots"][0]
        self.assertTrue(rec["running"])
        self.assertEqual(rec["paused_ms"], r["paused_ms"])
        # the pause is vmd's own: no paused/unpaused state change is reported
        self.c.call("vm.pause", {"name": "x1"})
        ev = events.wait_notification(lambda n: n["method"] == "vm.event", timeout=5)
        self.assertEqual(ev["params"]["event"], "paused")
        self.c.call("vm.unpause", {"name": "x1"})
        # a paused guest stays paused
        self.c.call("vm.pause", {"name": "x1"})
        self.c.call("vm.snapshot_create", {"name": "x1", "snapshot": "p"})
        self.assertEqual(self.info("x1")["state"], "paused")
        self.c.call("vm.destroy", {"name": "x1"})
        self.write(img, b"after!" * 10, 4096)
        self.c.call("vm.snapshot_revert", {"name": "x1", "snapshot": "live"})
        self.assertEqual(self.read(img, 60, 4096), b"before" * 10)
        for s in ("live", "p"):
            self.c.call("vm.snapshot_delete", {"name": "x1", "snapshot": s})
        self.assertEqual(sorted(os.listdir(self.mnt)), ["x1.img"])

    def test_memory_checkpoint_and_revert(self):
        img = self.guest_on("m1", self.mnt, start=True)
        domid = self.info("m1")["domid"]
        r = self.c.call("vm.snapshot_create", {"name": "m1", "snapshot": "m", "memory": True},
                        timeout=vmdtest.WAIT)
        mem = os.path.join(self.d.state_dir, "snapshots", "m1", "m.save")
        self.assertEqual(r["memory"], mem)
        self.assertEqual(r["disks"][0]["method"], "reflink")
        self.assertGreater(r["paused_ms"], 0)
        # a save file of vmd, the checkpoint of the running guest, which runs on
        with open(mem, "rb") as f:
            self.assertTrue(f.readline().startswith(b'{"vmd-save":1,'))
        i = self.info("m1")
        self.assertEqual((i["state"], i["domid"]), ("running", domid))
        rec = self.c.call("vm.snapshot_list", {"name": "m1"})["snapshots"][0]
        self.assertEqual(rec["memory"], mem)
        # a running guest is not reverted
        self.assertCallFails(BAD_STATE, "vm.snapshot_revert", {"name": "m1", "snapshot": "m"})
        self.c.call("vm.destroy", {"name": "m1"})
        self.write(img, b"after!" * 10, 4096)
        # revert: the disks back, then the guest from its memory
        v = self.c.call("vm.snapshot_revert", {"name": "m1", "snapshot": "m"},
                        timeout=vmdtest.WAIT)
        self.assertEqual((v["name"], v["snapshot"], v["memory"]), ("m1", "m", mem))
        self.assertEqual([d["vdev"] for d in v["disks"]], ["xvda"])
        g = v["restored"]
        self.assertEqual((g["name"], g["state"], g["restored_from"]), ("m1", "running", mem))
        self.assertNotEqual(g["domid"], domid)
        self.assertEqual(self.info("m1")["domid"], g["domid"])
        self.assertEqual(self.read(img, 60, 4096), b"before" * 10)
        self.assertTrue(os.path.exists(mem), "the snapshot keeps its memory")
        dom = [d for d in self.sim_domains() if d["name"] == "m1"]
        self.assertEqual([d["state"] for d in dom], ["running"])
        self.c.call("vm.destroy", {"name": "m1"})
        r = self.c.call("vm.snapshot_delete", {"name": "m1", "snapshot": "m"},
                        timeout=vmdtest.WAIT)
        self.assertEqual(sorted(r["deleted"]), sorted([img + "@m", mem]))
        self.assertFalse(os.path.exists(os.path.dirname(mem)))
        self.assertEqual(sorted(os.listdir(self.mnt)), ["m1.img"])

    def test_memory_of_a_stopped_guest_is_refused(self):
        self.guest_on("m2", self.mnt)
        self.assertCallFails(BAD_STATE, "vm.snapshot_create",
                             {"name": "m2", "snapshot": "m", "memory": True},
                             data_keys=["name", "state"])
        self.assertEqual(self.snaps("m2"), [])



class TestKill(SnapCase):
    """At 1 MiB/s (vmd --copy-rate) the copy of 16 MiB of data takes 16 s: a kill -9 in the
    middle of it, and of a revert."""

    daemon_options = {"extra": ["--copy-rate", "1"]}

    def busy_image(self, name):
        img = self.guest_on(name, self.tmp)
        with open(img, "r+b") as f:
            f.write(os.urandom(16 << 20))
        return img

    def kill_during(self, method, params):
        self.c.request(method, params)
        self.c.wait_notification(lambda n: n["method"] == "job.progress", timeout=10)
        time.sleep(1)
        self.d.kill9()
        self.d.start()
        self.c = self.connect()

    def leftovers(self):
        return sorted(f for f in os.listdir(self.tmp) if "@" in f or "vmdtmp" in f)

    def test_kill9_during_create_leaves_nothing(self):
        img = self.busy_image("k1")
        self.kill_during("vm.snapshot_create", {"name": "k1", "snapshot": "k"})
        self.assertEqual(self.snaps("k1"), [])
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(self.state("k1"), "stopped")

    def test_kill9_during_revert_keeps_image_and_snapshot(self):
        img = self.busy_image("k2")
        data = self.read(img, 1 << 20)
        self.d.stop()
        self.d.extra = []
        self.d.start()
        self.c = self.connect()
        self.c.call("vm.snapshot_create", {"name": "k2", "snapshot": "k"})
        self.d.stop()
        self.d.extra = ["--copy-rate", "1"]
        self.d.start()
        self.c = self.connect()
        self.write(img, b"x" * 100)
        self.kill_during("vm.snapshot_revert", {"name": "k2", "snapshot": "k"})
        self.assertEqual(self.snaps("k2"), ["k"])
        self.assertEqual(self.leftovers(), ["k2.img@k"])
        self.assertEqual(self.read(img, 100), b"x" * 100)  # not reverted, not damaged
        self.assertEqual(self.read(img + "@k", 1 << 20), data)


if __name__ == "__main__":
    vmdtest.main()
