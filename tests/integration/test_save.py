#!/usr/bin/python3
"""vm.save, vm.restore and the managed save of vm.start, against the sim backend: the file and
its header, the guest's states and events, checkpoints, restores that define the guest, and
every refusal and failure leaving no file, no domain and the guest as it was. The libxl half
is tested on real Xen (tests/xen/scenarios/65-vmd-save.sh).

    /usr/bin/python3 tests/integration/test_save.py --vmd build/daemon/vmd [-v] [Class.test]
"""

import json
import os
import stat
import time

import vmdtest
from vmdtest import VmdTestCase, WAIT
from vmdclient import BAD_STATE, CANCELLED, EXISTS, INVALID_PARAMS, RPCError

NOT_FOUND = 1
BACKEND = 6
XL_MAGIC = b"Xen saved domain, xl format\n \0 \r"


class SaveCase(VmdTestCase):

    def save(self, name, file=None, conn=None, **kw):
        p = dict(name=name, **kw)
        if file:
            p["file"] = file
        return (conn or self.c).call("vm.save", p, timeout=WAIT)

    def restore(self, file, conn=None, **kw):
        return (conn or self.c).call("vm.restore", dict(file=file, **kw), timeout=WAIT)

    def header(self, path):
        with open(path, "rb") as f:
            line = f.readline()
        return json.loads(line)

    def managed_path(self, name):
        return os.path.join(self.d.state_dir, "saves", name + ".save")

    def dir_files(self, d):
        return sorted(os.listdir(d))

    def assertNoDomainLeak(self):
        names = [x.get("name") for x in self.sim_domains()]
        self.assertEqual(len(names), len(set(names)), names)


class TestSaveRestore(SaveCase):

    def test_save_to_a_file_and_restore(self):
        self.create("s1")
        before = self.info("s1")
        out = os.path.join(self.tmp, "s1.save")
        r = self.save("s1", out)
        self.assertEqual(r["state"], "stopped")
        self.assertFalse(r["managed"])
        self.assertEqual(r["file"], out)
        self.assertGreater(r["bytes"], 0)
        self.assertEqual(self.state("s1"), "stopped")
        st = os.stat(out)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        h = self.header(out)
        self.assertEqual(h["vmd-save"], 1)
        self.assertEqual((h["name"], h["uuid"], h["backend"]), ("s1", before["uuid"], "sim"))
        self.assertIn('name = "s1"', h["xlcfg"])
        self.assertFalse(h["paused"])
        # the file is the header line, then exactly the stream
        with open(out, "rb") as f:
            self.assertEqual(st.st_size, len(f.readline()) + r["bytes"])
        self.assertNotIn("saved", self.info("s1"))  # a file is not a managed save
        v = self.restore(out)
        self.assertEqual(v["state"], "running")
        self.assertEqual(v["restored_from"], out)
        self.assertNotEqual(v["domid"], before["domid"])
        self.assertEqual(self.info("s1")["uuid"], before["uuid"])
        self.assertTrue(os.path.exists(out), "a restore keeps its file")
        self.assertNoDomainLeak()

    def test_events_of_save_and_restore(self):
        self.create("e1")
        ev = self.connect()
        ev.call("events.subscribe", {})
        out = os.path.join(self.tmp, "e1.save")
        self.save("e1", out)
        self.restore(out, paused=True)
        seen = []
        while len(seen) < 4:
            n = ev.wait_notification(lambda n: n["method"] == "vm.event", timeout=WAIT)
            seen.append((n["params"]["event"], n["params"]["state"]))
        self.assertEqual(seen, [("saving", "saving"), ("saved", "stopped"),
                                ("restoring", "restoring"), ("restored", "paused")])
        self.assertEqual(self.state("e1"), "paused")

    def test_paused_guest_is_saved_and_restored_paused_as_asked(self):
        self.create("p1")
        self.c.call("vm.pause", {"name": "p1"})
        out = os.path.join(self.tmp, "p1.save")
        self.save("p1", out)
        self.assertTrue(self.header(out)["paused"])
        self.assertEqual(self.restore(out)["state"], "running")

    def test_checkpoint_keeps_running(self):
        v = self.create("k1")
        out = os.path.join(self.tmp, "k1.save")
        r = self.save("k1", out, keep_running=True)
        self.assertEqual(r["state"], "running")
        self.assertTrue(r["keep_running"])
        i = self.info("k1")
        self.assertEqual((i["state"], i["domid"]), ("running", v["domid"]))
        self.assertTrue(os.path.getsize(out) > 0)
        # the checkpoint restores once the guest is stopped
        self.c.call("vm.destroy", {"name": "k1"})
        self.assertEqual(self.restore(out)["state"], "running")

    def test_restore_defines_a_guest_this_daemon_lacks(self):
        self.create("d1")
        uuid = self.info("d1")["uuid"]
        out = os.path.join(self.tmp, "d1.save")
        self.save("d1", out)
        self.c.call("vm.remove", {"name": "d1"})
        v = self.restore(out)
        self.assertEqual((v["name"], v["uuid"], v["state"]), ("d1", uuid, "running"))
        self.assertTrue(os.path.exists(self.guest_file("d1")))
        # stored: it survives a restart of the daemon
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        self.assertEqual(self.info("d1")["state"], "running")

    def test_restore_refuses_another_guest_of_the_name(self):
        self.create("n1")
        out = os.path.join(self.tmp, "n1.save")
        self.save("n1", out)
        self.c.call("vm.remove", {"name": "n1"})
        self.define("n1")  # a new guest, a new uuid
        self.assertCallFails(EXISTS, "vm.restore", {"file": out})
        self.assertEqual(self.state("n1"), "stopped")
        self.assertNoDomainLeak()


class TestManagedSave(SaveCase):

    def test_managed_save_and_start(self):
        v = self.create("m1")
        r = self.save("m1")
        self.assertTrue(r["managed"])
        path = self.managed_path("m1")
        self.assertEqual(r["file"], path)
        self.assertTrue(os.path.exists(path))
        i = self.info("m1")
        self.assertEqual((i["state"], i.get("saved")), ("stopped", True))
        listed = {x["name"]: x for x in self.c.call("vm.list", {"all": True})["vms"]}
        self.assertTrue(listed["m1"].get("saved"))
        s = self.c.call("vm.start", {"name": "m1"}, timeout=WAIT)
        self.assertEqual(s["restored_from"], path)
        self.assertNotEqual(s["domid"], v["domid"])
        self.assertFalse(os.path.exists(path), "the managed save goes once the guest runs")
        self.assertNotIn("saved", self.info("m1"))
        # the next start after a shutdown boots afresh
        self.c.call("vm.destroy", {"name": "m1"})
        self.assertNotIn("restored_from", self.c.call("vm.start", {"name": "m1"}))

    def test_managed_save_survives_a_restart(self):
        self.create("m2")
        self.save("m2")
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        self.assertTrue(self.info("m2").get("saved"))
        self.assertIn("restored_from", self.c.call("vm.start", {"name": "m2"}, timeout=WAIT))

    def test_discard_save_boots_afresh(self):
        self.create("m3")
        self.save("m3")
        s = self.c.call("vm.start", {"name": "m3", "discard_save": True})
        self.assertNotIn("restored_from", s)
        self.assertFalse(os.path.exists(self.managed_path("m3")))
        self.assertNotIn("saved", self.info("m3"))

    def test_paused_start_needs_a_save(self):
        self.define("m4")
        self.assertCallFails(INVALID_PARAMS, "vm.start", {"name": "m4", "paused": True})
        self.assertEqual(self.state("m4"), "stopped")
        self.c.call("vm.start", {"name": "m4"})
        self.save("m4")
        # paused with discard_save: refused before the save is dropped
        self.assertCallFails(INVALID_PARAMS, "vm.start",
                             {"name": "m4", "paused": True, "discard_save": True})
        self.assertTrue(self.info("m4").get("saved"))
        self.assertEqual(self.c.call("vm.start", {"name": "m4", "paused": True},
                                     timeout=vmdtest.WAIT)["state"], "paused")

    def test_a_second_managed_save_replaces_the_first(self):
        self.create("m5")
        self.save("m5")
        self.c.call("vm.start", {"name": "m5"}, timeout=WAIT)
        self.save("m5", keep_running=True)
        self.save("m5")
        self.assertEqual(self.dir_files(os.path.dirname(self.managed_path("m5"))), ["m5.save"])

    def test_remove_deletes_the_managed_save(self):
        self.create("m6")
        self.save("m6")
        self.c.call("vm.remove", {"name": "m6"})
        self.assertFalse(os.path.exists(self.managed_path("m6")))

    def test_a_failed_restore_keeps_the_managed_save(self):
        self.create("m7")
        self.save("m7")
        path = self.managed_path("m7")
        with open(path, "r+b") as f:  # cut the stream short
            f.truncate(os.path.getsize(path) - 100)
        size = os.path.getsize(path)
        err = self.assertCallFails(BACKEND, "vm.start", {"name": "m7"}, data_keys=["name"])
        self.assertIn(path, err.message)
        self.assertEqual(os.path.getsize(path), size)
        i = self.info("m7")
        self.assertEqual((i["state"], i.get("saved")), ("stopped", True))
        self.assertNoDomainLeak()
        self.assertEqual([x for x in self.sim_domains() if x.get("name") == "m7"], [])
        self.assertNotIn("restored_from",
                         self.c.call("vm.start", {"name": "m7", "discard_save": True}))


class TestRefusals(SaveCase):

    def test_bad_states(self):
        self.define("b1")
        self.assertCallFails(BAD_STATE, "vm.save", {"name": "b1"})
        self.create("b2")
        out = os.path.join(self.tmp, "b2.save")
        self.save("b2", out, keep_running=True)
        self.assertCallFails(BAD_STATE, "vm.restore", {"file": out})  # it runs
        self.assertEqual(self.state("b2"), "running")
        self.assertFalse(os.path.exists(os.path.join(self.d.state_dir, "saves", "b1.save")))

    def test_never_over_a_file(self):
        self.create("f1")
        out = os.path.join(self.tmp, "taken")
        with open(out, "wb") as f:
            f.write(b"precious")
        self.assertCallFails(EXISTS, "vm.save", {"name": "f1", "file": out},
                             data_keys=["name", "path"])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertEqual(self.state("f1"), "running")

    def test_bad_paths(self):
        self.create("f2")
        self.assertCallFails(INVALID_PARAMS, "vm.save", {"name": "f2", "file": "rel.save"})
        self.assertCallFails(NOT_FOUND, "vm.save",
                             {"name": "f2", "file": os.path.join(self.tmp, "no", "f2.save")})
        self.assertCallFails(INVALID_PARAMS, "vm.restore", {"file": "rel.save"})
        self.assertCallFails(NOT_FOUND, "vm.restore", {"file": os.path.join(self.tmp, "none")})
        self.assertEqual(self.state("f2"), "running")

    def test_files_that_are_not_saves(self):
        junk = os.path.join(self.tmp, "junk")
        with open(junk, "wb") as f:
            f.write(os.urandom(4096))
        xl = os.path.join(self.tmp, "xl.save")
        with open(xl, "wb") as f:
            f.write(XL_MAGIC + b"\0" * 64)
        bad_header = os.path.join(self.tmp, "bad-header")
        with open(bad_header, "wb") as f:
            f.write(b'{"vmd-save":1,"name":3}\n')
        for path, words in ((junk, "not a save file of vmd"), (xl, "xl restore"),
                            (bad_header, "damaged"), (self.tmp, "not a regular file")):
            with self.assertRaises(RPCError) as cm:
                self.c.call("vm.restore", {"file": path})
            self.assertRPCError(cm.exception, INVALID_PARAMS)
            self.assertIn(words, cm.exception.message)
        self.assertEqual(self.c.call("vm.list", {"all": True})["vms"], [])

    def test_other_backend_or_hypervisor(self):
        self.create("h1")
        out = os.path.join(self.tmp, "h1.save")
        self.save("h1", out)
        with open(out, "rb") as f:
            line, rest = f.readline(), f.read()
        for key, value in (("backend", "libxl"), ("hypervisor", "Xen 4.17.5")):
            h = json.loads(line)
            h[key] = value
            other = os.path.join(self.tmp, "h1-" + key)
            with open(other, "wb") as f:
                f.write(json.dumps(h, separators=(",", ":")).encode() + b"\n" + rest)
            self.assertCallFails(BAD_STATE, "vm.restore", {"file": other})
        self.assertEqual(self.state("h1"), "stopped")

    def test_a_broken_stream_leaves_no_file_and_the_guest_running(self):
        v = self.create("x1")
        out = os.path.join(self.tmp, "x1.save")
        self.c.call("sim.inject", {"fault": "fail-migrate"})
        self.assertCallFails(BACKEND, "vm.save", {"name": "x1", "file": out})
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.dir_files(self.tmp).count("x1.save"), 0)
        i = self.info("x1")
        self.assertEqual((i["state"], i["domid"]), ("running", v["domid"]))
        # a managed save likewise
        self.c.call("sim.inject", {"fault": "fail-migrate"})
        self.assertCallFails(BACKEND, "vm.save", {"name": "x1"})
        self.assertFalse(os.path.exists(self.managed_path("x1")))
        self.assertNotIn("saved", self.info("x1"))


class TestCancel(SaveCase):
    """The sim's stall-migrate fault stops the next stream half-way until the other end
    closes it: a save or restore that can be cancelled (or killed) mid-stream, every time."""

    def cancel_mid_stream(self, method, params, how):
        self.c.call("sim.inject", {"fault": "stall-migrate"})
        conn = self.connect()
        rid = conn.request(method, params)
        n = conn.wait_notification(lambda n: n["method"] == "job.progress", timeout=WAIT)
        if how == "disconnect":
            conn.close()
            return None
        r = self.c.call("job.cancel", {"job": n["params"]["job"]})
        self.assertEqual(r["kind"], method)
        resp = conn.response(rid, timeout=WAIT)
        self.assertIn("error", resp, resp)
        err = RPCError(resp)
        self.assertRPCError(err, CANCELLED, data_keys=["name", "job"])
        self.assertEqual(err.data["job"], n["params"]["job"])
        return err

    def test_cancel_a_save(self):
        for how in ("job.cancel", "disconnect"):
            with self.subTest(how=how):
                v = self.create("c1-" + how[0])
                out = os.path.join(self.tmp, "c1.save")
                self.cancel_mid_stream("vm.save", {"name": v["name"], "file": out}, how)
                i = self.wait_state(v["name"], "running")
                self.assertEqual(i["domid"], v["domid"])
                self.assertFalse(os.path.exists(out))
                self.assertEqual([f for f in self.dir_files(self.tmp) if "c1.save" in f], [])

    def test_cancel_a_restore(self):
        for how in ("job.cancel", "disconnect"):
            with self.subTest(how=how):
                name = "c2-" + how[0]
                self.create(name)
                out = os.path.join(self.tmp, name + ".save")
                self.save(name, out)
                size = os.path.getsize(out)
                self.cancel_mid_stream("vm.restore", {"file": out}, how)
                self.wait_state(name, "stopped")
                deadline = time.monotonic() + WAIT
                while [x for x in self.sim_domains() if x.get("name") == name]:
                    self.assertLess(time.monotonic(), deadline, "the half-built domain stays")
                    time.sleep(0.05)
                self.assertEqual(os.path.getsize(out), size)
                self.assertEqual(self.restore(out)["state"], "running")  # the file is good

    def test_kill9_mid_save_leaves_no_file(self):
        self.create("c3")
        out = os.path.join(self.tmp, "c3.save")
        self.c.call("sim.inject", {"fault": "stall-migrate"})
        conn = self.connect()
        conn.request("vm.save", {"name": "c3", "file": out})
        conn.wait_notification(lambda n: n["method"] == "job.progress", timeout=WAIT)
        self.d.kill9()
        self.assertFalse(os.path.exists(out))
        self.assertEqual([f for f in self.dir_files(self.tmp) if f.startswith("c3.save")], [])
        self.d.start()
        self.c = self.connect()
        self.assertNotIn("saved", self.info("c3"))


if __name__ == "__main__":
    vmdtest.main()
