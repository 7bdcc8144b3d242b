#!/usr/bin/python3
"""Long jobs: vm.clone, disk.create, job.cancel and the job.progress notifications, against a
real vmd (sim backend). Every response and notification is validated against proto/schemas."""

import json
import os
import socket
import stat
import time

import vmdtest
from vmdtest import VmdTestCase, WAIT
from vmdclient import (BAD_STATE, BUSY, CANCELLED, EXISTS, INVALID_PARAMS, IO, NOT_FOUND,
                       PERMISSION)

NOT_SUPPORTED = 12
BIG = 256 * 1024 * 1024  # a source image whose copy takes long enough to be cancelled
# At 16 MiB/s (vmd --copy-rate) a BIG copy takes 16 s whatever the page cache holds, so a
# cancel sent after the first progress notification always finds the copy still running.
COPY_RATE = ["--copy-rate", "16"]


def leftovers(directory):
    """Temporary files of vmd in a directory."""
    return sorted(f for f in os.listdir(directory)
                  if f.startswith(".") and (f.endswith(".tmp") or f.endswith(".vmdtmp")))


class JobCase(VmdTestCase):

    def write(self, name, size, byte=b"\xa5"):
        p = os.path.join(self.tmp, name)
        chunk = byte * (1 << 20)
        with open(p, "wb") as f:
            left = size
            while left > 0:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
        return p

    def progress(self, conn, job=None):
        """The next job.progress notification on conn (of that job, if given)."""
        return conn.wait_notification(
            lambda n: n["method"] == "job.progress" and (job is None or
                                                         n["params"]["job"] == job))["params"]


class TestDiskCreate(JobCase):

    def test_create(self):
        p = os.path.join(self.tmp, "new.img")
        rid = self.c.request("disk.create", {"path": p, "size": "10G"})
        r = self.c.response(rid)
        self.assertEqual(r["result"], {"path": p, "size": 10 << 30})
        first = [n for n in self.c.notifications if n["method"] == "job.progress"]
        self.assertTrue(first, "no job.progress before the response")
        self.assertRegex(first[0]["params"]["job"], "^[0-9a-f]{8}$")
        st = os.stat(p)
        self.assertEqual(st.st_size, 10 << 30)
        self.assertLess(st.st_blocks * 512, 1 << 20)  # sparse
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(leftovers(self.tmp), [])
        for size, n in (("1", 1), ("4k", 4096), ("2MiB", 2 << 20), ("3GB", 3 << 30),
                        ("1T", 1 << 40), ("007", 7)):
            q = os.path.join(self.tmp, "s%d.img" % n)
            self.assertEqual(self.c.call("disk.create", {"path": q, "size": size})["size"], n)
        # the image can be a guest's disk
        vm = self.c.call("vm.create", {"config": self.config("dc1", disk=["%s,raw,xvda,rw" % p])})
        self.assertEqual(vm["state"], "running")

    def test_errors(self):
        p = os.path.join(self.tmp, "x.img")
        self.c.call("disk.create", {"path": p, "size": "1M"})
        e = self.assertCallFails(EXISTS, "disk.create", {"path": p, "size": "2M"},
                                 data={"path": p})
        self.assertEqual(os.stat(p).st_size, 1 << 20)  # not replaced
        q = os.path.join(self.tmp, "nodir", "y.img")
        self.assertCallFails(IO, "disk.create", {"path": q, "size": "1M"}, data={"path": q})
        for bad in ("0", "", "-1", "1.5G", "10X", "G", "1 G", "10GiBs", "99999999999T"):
            e = self.assertCallFails(INVALID_PARAMS, "disk.create",
                                     {"path": os.path.join(self.tmp, "z.img"), "size": bad})
            self.assertEqual(e.data, {"param": "size"}, bad)
            if bad != "99999999999T":  # out of range: beyond what a pattern checks
                self.assertFalse(vmdtest.VALIDATOR.is_valid(
                    "disk.create.params", {"path": "/x", "size": bad}), bad)
        for bad in ("rel.img", "/", self.tmp + "/"):
            self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": bad, "size": "1M"},
                                 data={})
        self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": p, "size": 5},
                             data={"param": "size"})
        self.assertCallFails(INVALID_PARAMS, "disk.create", {"path": p},
                             data={"param": "size"})
        self.assertEqual(leftovers(self.tmp), [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "z.img")))


class TestClone(JobCase):

    daemon_options = {"extra": COPY_RATE}

    def source(self, name="src", **kw):
        """A stopped guest with two writable disks (with content), a cdrom and a vif."""
        d0 = self.write(name + "-0.img", 3 << 20, b"\x11")
        d1 = self.write(name + "-1.qcow2", 1 << 20, b"\x22")
        iso = self.write(name + ".iso", 4096, b"\x33")
        cfg = self.config(name, disk=["format=raw, vdev=xvda, access=rw, target=%s" % d0,
                                      "format=qcow2, vdev=xvdb, access=rw, target=%s" % d1,
                                      "format=raw, vdev=xvdc, access=ro, devtype=cdrom, "
                                      "target=%s" % iso],
                          vif=[{"bridge": "xenbr0", "vifname": "web0"}], **kw)
        self.c.call("vm.define", {"config": cfg})
        return d0, d1, iso

    def test_clone(self):
        d0, d1, iso = self.source()
        src = self.c.call("vm.config", {"name": "src"})["config"]
        src_info = self.info("src")
        rid = self.c.request("vm.clone", {"source": "src", "name": "copy"})
        r = self.c.response(rid)["result"]
        prog = [n["params"] for n in self.c.notifications if n["method"] == "job.progress"]
        self.assertTrue(prog, "no job.progress before the response")
        self.assertEqual({p["job"] for p in prog}, {r["job"]})
        self.assertEqual(prog[0]["phase"], "starting")
        self.assertEqual((r["vm"]["name"], r["vm"]["state"], r["sysprep"]),
                         ("copy", "stopped", False))
        t0 = os.path.join(self.tmp, "copy.img")
        t1 = os.path.join(self.tmp, "copy-xvdb.qcow2")
        self.assertEqual([(c["vdev"], c["source"], c["target"], c["bytes"]) for c in r["copied"]],
                         [("xvda", d0, t0, 3 << 20), ("xvdb", d1, t1, 1 << 20)])
        self.assertEqual(r["shared"], [{"vdev": "xvdc", "target": iso}])
        for s, t in ((d0, t0), (d1, t1)):
            with open(s, "rb") as a, open(t, "rb") as b:
                self.assertEqual(a.read(), b.read())
        cfg = self.c.call("vm.config", {"name": "copy"})["config"]
        info = self.info("copy")
        self.assertNotEqual(cfg["uuid"], src["uuid"])
        vif, src_vif = vmdtest.spec_options(cfg["vif"][0]), vmdtest.spec_options(src["vif"][0])
        self.assertNotEqual(vif["mac"], src_vif["mac"])
        self.assertNotIn("vifname", vif)
        self.assertEqual(vif.get("bridge"), "xenbr0")
        self.assertEqual(info["vifs"][0]["mac"], vif["mac"])
        self.assertEqual([d.get("target") for d in info["disks"]], [t0, t1, iso])
        self.assertEqual([vmdtest.spec_options(d)["target"] for d in cfg["disk"]], [t0, t1, iso])
        for k in ("kernel", "memory", "vcpus"):
            self.assertEqual(cfg[k], src[k])
        for k in ("on_crash", "type"):
            self.assertEqual(info[k], src_info[k])
        self.assertEqual(leftovers(self.tmp), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        # the clone owns its copies: vm.remove with delete_disks deletes those, not the rest
        r = self.c.call("vm.remove", {"name": "copy", "delete_disks": True})
        self.assertEqual(r, {"name": "copy", "deleted": [t0, t1], "kept": [iso]})
        self.assertFalse(os.path.exists(t0) or os.path.exists(t1))
        self.assertTrue(os.path.exists(iso) and os.path.exists(d0))
        # and the source can be cloned again, into another directory, and started
        dd = os.path.join(self.tmp, "clones")
        os.mkdir(dd)
        r = self.c.call("vm.clone", {"source": "src", "name": "copy2", "disk_dir": dd,
                                     "start": True})
        self.assertEqual(r["vm"]["state"], "running")
        self.assertEqual(sorted(os.listdir(dd)), ["copy2-xvdb.qcow2", "copy2.img"])
        self.assertEqual(self.state("copy2"), "running")

    def test_clone_keep_disks_without_delete(self):
        self.source()
        r = self.c.call("vm.clone", {"source": "src", "name": "c2"})
        targets = [c["target"] for c in r["copied"]]
        r = self.c.call("vm.remove", {"name": "c2"})
        self.assertEqual(r["deleted"], [])
        self.assertEqual(r["kept"][:2], targets)
        self.assertTrue(all(os.path.exists(t) for t in targets))

    def test_errors(self):
        self.source()
        self.assertCallFails(NOT_FOUND, "vm.clone", {"source": "nope", "name": "x"},
                             data={"name": "nope"})
        self.assertCallFails(EXISTS, "vm.clone", {"source": "src", "name": "src"},
                             data={"name": "src"})
        self.assertCallFails(INVALID_PARAMS, "vm.clone",
                             {"source": "src", "name": "x", "disk_dir": "rel"}, data={})
        self.assertCallFails(INVALID_PARAMS, "vm.clone", {"source": "src", "name": "../x"},
                             data={"param": "name"})
        self.assertCallFails(INVALID_PARAMS, "vm.clone", {"source": "src"},
                             data={"param": "name"})
        missing = os.path.join(self.tmp, "nodir")
        self.assertCallFails(IO, "vm.clone", {"source": "src", "name": "x", "disk_dir": missing},
                             data={"name": "x", "path": missing})
        # a target that exists is never replaced
        t = self.touch("y.img", b"precious")
        self.assertCallFails(EXISTS, "vm.clone", {"source": "src", "name": "y"},
                             data={"path": t})
        with open(t, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "y-xvdb.qcow2")))
        # a running source
        self.c.call("vm.start", {"name": "src"})
        self.assertCallFails(BAD_STATE, "vm.clone", {"source": "src", "name": "z"},
                             data={"name": "src", "state": "running"})
        self.c.call("vm.destroy", {"name": "src"})
        # block devices are not copied
        self.c.call("vm.define", {"config": self.config("blk", disk=[
            {"vdev": "xvda", "target": self.touch("b.img"), "backendtype": "phy"}])})
        self.assertCallFails(NOT_SUPPORTED, "vm.clone", {"source": "blk", "name": "blk2"},
                             data={"name": "blk", "path": os.path.join(self.tmp, "b.img")})
        self.assertCallFails(NOT_FOUND, "job.cancel", {"job": "00000000"},
                             data={"job": "00000000"})
        # nothing was left behind by any of these
        for n in ("x", "y", "z", "blk2"):
            self.assertCallFails(NOT_FOUND, "vm.info", {"name": n})
        self.assertEqual(leftovers(self.tmp), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])

    def big_source(self, name="bigsrc"):
        img = self.write(name + ".img", BIG)
        self.c.call("vm.define", {"config": self.config(name, disk=["%s,raw,xvda,rw" % img])})
        return img

    def test_cancel(self):
        """job.cancel from another connection: the clone fails with 11 and leaves nothing;
        meanwhile the source may not start or be removed."""
        self.big_source()
        other = self.connect()
        rid = self.c.request("vm.clone", {"source": "bigsrc", "name": "bigcopy"})
        job = self.progress(self.c)["job"]
        self.assertCallFails(BUSY, "vm.start", {"name": "bigsrc"}, conn=other)
        self.assertCallFails(BAD_STATE, "vm.remove", {"name": "bigsrc"}, conn=other)
        self.assertCallFails(EXISTS, "vm.clone", {"source": "bigsrc", "name": "bigcopy"},
                             conn=other, data={"name": "bigcopy"})
        r = other.call("job.cancel", {"job": job})
        self.assertEqual(r, {"job": job, "kind": "vm.clone"})
        e = self.c.response(rid)["error"]
        self.assertEqual(e["code"], CANCELLED)
        self.assertEqual(e["data"], {"name": "bigcopy", "job": job})
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "bigcopy"})
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "bigcopy.img")))
        self.assertEqual(leftovers(self.tmp), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        self.assertCallFails(NOT_FOUND, "job.cancel", {"job": job}, conn=other)
        # the source is free again
        self.assertEqual(self.c.call("vm.start", {"name": "bigsrc"})["state"], "running")

    def test_disconnect_cancels(self):
        self.big_source()
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "vm.clone",
                              "params": {"source": "bigsrc", "name": "gone"}}).encode() + b"\n")
        s.settimeout(WAIT)
        first = b""
        while b"\n" not in first:
            first += s.recv(4096)
        n = json.loads(first.split(b"\n")[0])
        vmdtest.VALIDATOR.check("notification", n)
        self.assertEqual(n["method"], "job.progress")
        s.close()
        # the source is held (busy) until the cancelled clone has cleaned up
        deadline = time.monotonic() + WAIT
        while True:
            r = self.c.call_raw("vm.start", {"name": "bigsrc"})
            if "error" not in r or r["error"]["code"] != BUSY:
                break
            self.assertLess(time.monotonic(), deadline, "the clone never ended")
            time.sleep(0.05)
        self.assertEqual(r["result"]["state"], "running")
        self.assertEqual(leftovers(self.tmp), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "gone.img")))
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "gone"})

    def test_readers_cannot(self):
        self.source()
        ro = self.connect(read_only=True)
        for m, p in (("vm.clone", {"source": "src", "name": "x"}),
                     ("disk.create", {"path": os.path.join(self.tmp, "r.img"), "size": "1M"}),
                     ("job.cancel", {"job": "00000000"})):
            self.assertCallFails(PERMISSION, m, p, conn=ro, data={"method": m})


if __name__ == "__main__":
    vmdtest.main()
