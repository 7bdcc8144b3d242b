#!/usr/bin/python3
"""Restart tests: vmd killed with SIGKILL (or stopped with SIGTERM) and started again on the same
state directory keeps every definition, adopts the guests that still run (the sim backend keeps
its domains in <state>/sim/), reports and skips files it cannot use without touching them, and
removes the temp files of an interrupted write."""

import json
import subprocess
import signal
import os

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE, EXISTS

GARBAGE = b"\x00\x01garbage{{{ not json\n"


class TestRestart(VmdTestCase):

    def snapshot(self, conn):
        """Everything a client can see of the guests."""
        vms = conn.call("vm.list", {"all": True})["vms"]
        return {v["name"]: (v, conn.call("vm.config", {"name": v["name"]}))
                for v in vms if v["managed"]}

    def store_files(self):
        out = {}
        for fn in self.guest_files():
            with open(os.path.join(self.d.guests_dir, fn), "rb") as f:
                out[fn] = f.read()
        return out

    def restart(self, kill=True, run_dir=None):
        for c in self.conns:
            c.close()
        if kill:
            self.d.kill9()
        else:
            self.assertEqual(self.d.stop(), 0)
            self.assertEqual(self.d.problems(), [])
        if run_dir:
            self.d.run_dir = run_dir
        self.d.start()
        self.c = self.connect()
        return self.c

    def setup_guests(self):
        self.define("a1", vcpus=2, memory=256, on_crash="preserve")
        self.define("b2", vifs=2, disks=2)
        self.define("c3")
        self.define("d4")
        self.c.call("vm.start", {"name": "a1"})
        self.c.call("vm.start", {"name": "b2"})
        self.c.call("vm.pause", {"name": "b2"})
        self.c.call("vm.autostart", {"name": "c3", "enabled": True})

    def test_kill9_keeps_definitions_and_adopts_running_guests(self):
        self.setup_guests()
        before = self.snapshot(self.c)
        files = self.store_files()
        self.restart(kill=True)
        after = self.snapshot(self.c)
        self.assertEqual(after, before)
        self.assertEqual(self.store_files(), files, "definitions were rewritten at start")
        self.assertEqual(before["a1"][0]["state"], "running")
        self.assertEqual(before["b2"][0]["state"], "paused")
        # adopted guests are fully managed: events arrive, operations work
        i = self.info("a1")
        self.assertIn("cpu_time", i)
        vm = self.c.call("vm.shutdown", {"name": "a1", "wait": True})
        self.assertEqual(vm["state"], "stopped")
        self.assertEqual(self.c.call("vm.unpause", {"name": "b2"})["state"], "running")
        self.c.call("sim.inject", {"fault": "crash", "name": "b2"})
        self.wait_state("b2", "stopped")
        # new domains do not reuse the old domids
        vm = self.c.call("vm.start", {"name": "a1"})
        self.assertGreater(vm["domid"], max(v[0]["domid"] or 0 for v in before.values()))

    def test_sigterm_leaves_guests_running(self):
        self.setup_guests()
        before = self.snapshot(self.c)
        self.restart(kill=False)
        self.assertEqual(self.snapshot(self.c), before)
        self.assertEqual(self.c.call("vm.destroy", {"name": "b2"})["state"], "stopped")

    def test_repeated_kills(self):
        self.setup_guests()
        before = self.snapshot(self.c)
        for _ in range(3):
            self.restart(kill=True)
        self.assertEqual(self.snapshot(self.c), before)

    def test_corrupt_and_foreign_files_are_reported_and_kept(self):
        self.define("good")
        g = self.d.guests_dir
        planted = {
            "bad.json": GARBAGE,                                     # not JSON
            "notes.txt": b"not a definition\n",                      # not .json
            "Bad Name.json": b"{}\n",                                # not a guest name
            "empty.json": b"",                                       # empty
            "array.json": b"[1,2,3]\n",                              # not an object
            "other.json": b'{"vmd_store":1,"config":{"name":"x1","kernel":"/k"},'
                          b'"autostart":false,"owned_disks":[]}\n',  # holds another guest
            "future.json": b'{"vmd_store":99,"config":{"name":"future"}}\n',
        }
        for fn, content in planted.items():
            with open(os.path.join(g, fn), "wb") as f:
                f.write(content)
        tmpfiles = [".good.json.Ab12Cd.tmp", ".x.json.XXXXXX.tmp"]
        for fn in tmpfiles:
            with open(os.path.join(g, fn), "wb") as f:
                f.write(b'{"half": ')
        before = self.snapshot(self.c)
        self.restart(kill=True)
        self.assertEqual(self.snapshot(self.c), before)  # only "good"
        log = self.d.log()
        for fn in planted:
            self.assertIn(fn, log, "%s not reported" % fn)
            with open(os.path.join(g, fn), "rb") as f:
                self.assertEqual(f.read(), planted[fn], "%s was changed" % fn)
        for fn in tmpfiles:
            self.assertFalse(os.path.exists(os.path.join(g, fn)), "%s left in place" % fn)
        # the names of unusable files are not free: defining them fails, the files stay
        for name in ("bad", "empty", "array", "other", "future"):
            e = self.c.error("vm.define", {"config": self.config(name)}, check_params=True)
            self.assertRPCError(e, EXISTS, data={"name": name})
            e = self.c.error("vm.create", {"config": self.config(name)}, check_params=True)
            self.assertRPCError(e, EXISTS, data={"name": name})
        for fn in planted:
            with open(os.path.join(g, fn), "rb") as f:
                self.assertEqual(f.read(), planted[fn], "%s was changed" % fn)
        # the guest named inside other.json is not defined by it
        self.assertEqual(self.define("x1")["name"], "x1")
        self.assertEqual(sorted(v["name"] for v in
                                self.c.call("vm.list", {"all": True})["vms"]), ["good", "x1"])

    def test_version_1_documents_are_read(self):
        """A document of store version 1 (the JSON config object, as vmd wrote it before the
        definition was its xl.cfg text) is loaded, and not rewritten at start; the next
        change of the guest stores it as version 2."""
        img = self.touch("old-0.img")
        uuid = "5b0c8a2e-6f1d-4c3b-9a7e-1d2c3b4a5f60"
        content = json.dumps({"vmd_store": 1, "config": {
            "name": "old", "type": "pv", "uuid": uuid, "vcpus": 2, "memory": 256,
            "kernel": self.kernel,
            "disk": [{"vdev": "xvda", "access": "rw", "cdrom": False, "format": "raw",
                      "target": img}],
            "vif": [{"mac": "00:16:3e:5a:0b:01", "bridge": "xenbr0"}],
            "vnc": False, "sdl": False, "on_poweroff": "destroy", "on_reboot": "restart",
            "on_crash": "preserve"}, "autostart": True, "owned_disks": [img]}).encode() + b"\n"
        with open(self.guest_file("old"), "wb") as f:
            f.write(content)
        os.chmod(self.guest_file("old"), 0o600)
        self.restart(kill=True)
        i = self.info("old")
        self.assertEqual((i["uuid"], i["type"], i["vcpus"], i["memory"], i["on_crash"],
                          i["autostart"]), (uuid, "pv", 2, 256, "preserve", True))
        self.assertEqual([(v["mac"], v.get("bridge")) for v in i["vifs"]],
                         [("00:16:3e:5a:0b:01", "xenbr0")])
        self.assertEqual([(d["vdev"], d.get("target"), d["access"]) for d in i["disks"]],
                         [("xvda", img, "rw")])
        cfg = self.c.call("vm.config", {"name": "old"})
        self.assertEqual(cfg["config"]["uuid"], uuid)
        self.assertIn('uuid = "%s"' % uuid, cfg["xlcfg"].splitlines())
        with open(self.guest_file("old"), "rb") as f:
            self.assertEqual(f.read(), content, "a version 1 document was rewritten at start")
        # the next change stores the text (version 2); it means the same guest
        self.c.call("vm.autostart", {"name": "old", "enabled": False})
        with open(self.guest_file("old")) as f:
            doc = json.load(f)
        brief = doc.pop("brief")
        self.assertEqual(doc, {"vmd_store": 2, "xlcfg": cfg["xlcfg"], "autostart": False,
                               "owned_disks": [img]})
        self.assertEqual(brief, vmdtest.brief(cfg["xlcfg"], "old", uuid, "pv", 2, 256,
                                              ["00:16:3e:5a:0b:01"]))
        self.restart(kill=False)
        self.assertEqual(self.c.call("vm.config", {"name": "old"}), cfg)
        self.assertEqual(dict(self.info("old"), autostart=True), i)
        # owned_disks came along: remove --delete-disks deletes the image
        r = self.c.call("vm.remove", {"name": "old", "delete_disks": True})
        self.assertEqual(r, {"name": "old", "deleted": [img], "kept": []})

    def test_autostart_once_per_run_dir(self):
        """Autostart runs when vmd starts with a run dir it has not run in (a host boot)."""
        self.define("auto1")
        self.define("manual1")
        self.c.call("vm.autostart", {"name": "auto1", "enabled": True})
        # same run dir: a restart of the daemon alone starts nothing
        self.restart(kill=True)
        self.assertEqual(self.state("auto1"), "stopped")
        # a fresh run dir (as after a reboot: /run is a tmpfs)
        self.restart(kill=True, run_dir=os.path.join(self.tmp, "run2"))
        self.wait_state("auto1", "running")
        self.assertEqual(self.state("manual1"), "stopped")
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "run2", "autostart.done")))
        # an admin stops it; the next daemon restart leaves it stopped
        self.c.call("vm.destroy", {"name": "auto1"})
        self.restart(kill=False)
        self.assertEqual(self.state("auto1"), "stopped")

    def test_pending_shutdown_is_carried_out_after_restart(self):
        """A shutdown request the guest has not acted on when vmd dies is still carried out
        (the guest keeps it), and the next vmd sees the poweroff."""
        # Slow guests (60 s) for the first daemon, so the kill comes before the guest reacts;
        # fast ones for the second, which takes over the pending request.
        for c in self.conns:
            c.close()
        self.assertEqual(self.d.stop(), 0)
        self.d.sim_delay_ms = 60000
        self.d.start()
        self.c = self.connect()
        self.define("p1")
        self.c.call("vm.start", {"name": "p1"})
        self.assertEqual(self.c.call("vm.shutdown", {"name": "p1"})["state"], "shutting-down")
        self.d.sim_delay_ms = vmdtest.SIM_DELAY_MS
        self.restart(kill=True)
        self.wait_state("p1", "stopped")

    def test_removed_definition_leaves_a_foreign_domain(self):
        self.define("r1")
        vm = self.c.call("vm.start", {"name": "r1"})
        self.d.kill9()
        os.unlink(self.guest_file("r1"))
        self.d.start()
        self.c = self.connect()
        vms = self.c.call("vm.list", {"all": True})["vms"]
        self.assertEqual(len(vms), 1)
        self.assertEqual((vms[0]["name"], vms[0]["domid"], vms[0]["managed"], vms[0]["state"]),
                         ("r1", vm["domid"], False, "running"))
        # a new definition under the name is possible; starting it is not (the name is held)
        self.define("r1")
        e = self.c.error("vm.start", {"name": "r1"}, check_params=True)
        self.assertRPCError(e, EXISTS)

    def test_kill9_during_clone_leaves_nothing(self):
        """A clone interrupted by kill -9: the next daemon removes its temporary copies and
        its journal (<state>/jobs/), and defines nothing."""
        img = os.path.join(self.tmp, "big.img")
        with open(img, "wb") as f:
            for _ in range(256):
                f.write(b"\xa5" * (1 << 20))
        self.c.call("vm.define", {"config": self.config("big", disk=["%s,raw,xvda,rw" % img])})
        rid = self.c.request("vm.clone", {"source": "big", "name": "bigcopy"})
        n = self.c.wait_notification(lambda n: n["method"] == "job.progress")
        self.assertNotIn(json.dumps(rid), self.c.responses)
        self.d.kill9()
        self.d.start()
        self.c = self.connect()
        self.assertCallFails(vmdtest.vmdclient.NOT_FOUND, "vm.info", {"name": "bigcopy"})
        self.assertEqual(sorted(f for f in os.listdir(self.tmp) if "bigcopy" in f), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        self.assertEqual(self.info("big")["state"], "stopped")
        # and a clone now works
        r = self.c.call("vm.clone", {"source": "big", "name": "bigcopy"})
        self.assertEqual(r["copied"][0]["bytes"], 256 << 20)
        self.assertNotEqual(r["job"], n["params"]["job"])

    def test_kill9_between_definition_and_images_on_remove(self):
        """Issue 13: `vm.remove --delete-disks` removed the definition, then the images, with
        nothing journalled between: a kill there left images no one owned. vmd is killed at
        that very point here (an unlink() interposer kills it when it deletes the image);
        the next daemon finds the journal and removes the image."""
        so = os.path.join(self.tmp, "kill-on-unlink.so")
        src = os.path.join(self.tmp, "kill-on-unlink.c")
        with open(src, "w") as f:
            f.write('#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <signal.h>\n'
                    '#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'
                    'int unlink(const char *p) {\n'
                    '    const char *k = getenv("VMD_TEST_KILL_ON_UNLINK");\n'
                    '    if (k && strstr(p, k)) kill(getpid(), SIGKILL);\n'
                    '    int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");\n'
                    '    return real(p);\n}\n')
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src, "-ldl"], check=True)
        img = os.path.join(self.tmp, "rm1.img")
        open(img, "wb").write(b"\x5a" * 4096)
        self.c.call("vm.define", {"config": self.config("rm1", disk=["%s,raw,xvda,rw" % img])})
        copy = self.c.call("vm.clone", {"source": "rm1", "name": "rm2"})["copied"][0]["target"]
        self.assertTrue(os.path.exists(copy))
        self.c.close()
        self.d.stop()
        env = {"LD_PRELOAD": so, "VMD_TEST_KILL_ON_UNLINK": os.path.basename(copy),
               "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            self.d.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.c = self.connect()
        self.c.request("vm.remove", {"name": "rm2", "delete_disks": True})
        self.d.proc.wait(timeout=vmdtest.WAIT)
        self.assertEqual(self.d.proc.returncode, -signal.SIGKILL)
        self.d.proc = None
        self.assertTrue(os.path.exists(copy))  # killed before it could delete it
        self.assertEqual(len(os.listdir(os.path.join(self.d.state_dir, "jobs"))), 1)
        self.d.start()
        self.c = self.connect()
        self.assertCallFails(vmdtest.vmdclient.NOT_FOUND, "vm.info", {"name": "rm2"})
        self.assertFalse(os.path.exists(copy))
        self.assertTrue(os.path.exists(img))  # the source's image is not the clone's
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        self.assertIn("the definition of 'rm2' was never stored", open(self.d.logs[-1]).read())

    def test_state_dir_contents(self):
        """What the spec says lives in the state directory: a guest's document holds its
        xl.cfg text as vm.config gives it back (store version 2)."""
        self.define("s1")
        self.c.call("vm.start", {"name": "s1"})
        with open(self.guest_file("s1")) as f:
            doc = json.load(f)
        xlcfg = self.c.call("vm.config", {"name": "s1"})["xlcfg"]
        brief = doc.pop("brief")
        self.assertEqual(doc, {"vmd_store": 2, "xlcfg": xlcfg, "autostart": False,
                               "owned_disks": []})
        i = self.info("s1")
        self.assertEqual(brief, vmdtest.brief(xlcfg, "s1", i["uuid"], i["type"], i["vcpus"],
                                              i["memory"], [v["mac"] for v in i["vifs"]]))
        self.assertEqual(os.stat(self.guest_file("s1")).st_mode & 0o777, 0o600)
        doms = self.sim_domains()
        self.assertEqual([d["name"] for d in doms], ["s1"])

    def full_snapshot(self):
        """snapshot() plus every guest's vm.info (the parts that need its translated text)."""
        snap = self.snapshot(self.c)
        runtime = ("cpu_time", "uptime", "memory_actual_kib")  # they change as it runs
        return {n: (v, cfg, {k: x for k, x in self.info(n).items() if k not in runtime})
                for n, (v, cfg) in snap.items()}

    def loaded(self, which=-1):
        """(from the index, read) of the daemon's start-up log line."""
        import re
        m = re.search(r"loaded \d+ guest definitions? from \S+ \((\d+) from its index, "
                      r"(\d+) read\)", self.d.log(which))
        self.assertIsNotNone(m, "no load line in the log")
        return int(m.group(1)), int(m.group(2))

    def wait_index(self, entries):
        """Waits until the store's index lists this many documents (it is written a moment
        after a change)."""
        path = os.path.join(self.d.guests_dir, ".index")
        deadline = vmdtest.time.monotonic() + 10
        while True:
            try:
                with open(path) as f:
                    lines = f.read().splitlines()
                if lines[0] == '{"vmd_index":1}' and len(lines) == entries + 1:
                    return lines
            except (FileNotFoundError, IndexError):
                pass
            self.assertLess(vmdtest.time.monotonic(), deadline, "the index was not written")
            vmdtest.time.sleep(0.05)

    def test_start_from_the_index_is_the_same_as_reading_every_document(self):
        """With the store's index, a start reads no document, and clients see exactly what
        a start that reads and translates every document shows; a missing index, or changes
        it does not show yet (kill -9 within its delay), cost reading those documents."""
        for i in range(70):  # beyond the 64 translated configs kept in memory
            self.define("ix%02d" % i, vcpus=1 + i % 3, memory=64 + i, vifs=i % 3,
                        disks=1 + i % 2)
        self.c.call("vm.start", {"name": "ix01"})
        self.c.call("vm.autostart", {"name": "ix02", "enabled": True})
        before = self.full_snapshot()
        self.restart(kill=False)  # the index is written at exit
        self.assertEqual(self.loaded(), (70, 0))
        self.assertEqual(self.full_snapshot(), before)
        # no index: every document is read and translated; the same guests
        self.restart(kill=True)
        os.unlink(os.path.join(self.d.guests_dir, ".index"))
        self.restart(kill=True)
        self.assertEqual(self.loaded(), (0, 70))
        self.assertEqual(self.full_snapshot(), before)
        self.wait_index(70)  # written again after the load
        # a define, then kill -9 before the index shows it: that one document is read
        self.define("late")
        self.restart(kill=True)
        self.assertEqual(self.loaded(), (70, 1))
        self.assertEqual(set(self.snapshot(self.c)), set(before) | {"late"})
        # a damaged index costs reading, nothing else
        self.wait_index(71)
        with open(os.path.join(self.d.guests_dir, ".index"), "r+b") as f:
            f.seek(40)
            f.write(b"\x00garbage")
        self.restart(kill=True)
        self.assertEqual(sum(self.loaded()), 71)
        self.assertGreater(self.loaded()[1], 0)
        self.assertEqual(dict((n, v) for n, v in self.full_snapshot().items() if n != "late"),
                         before)

    def test_a_stored_text_that_no_longer_translates(self):
        """A document whose brief matches its text is taken at start without translating it
        (proto/ 12.1). Should the text no longer translate when it is needed, the operation
        says so (code 8), and the definition can still be read and removed."""
        self.define("ok")
        uuid = "1b9a64a5-7d2c-4f4e-9d55-0d3a6a5e9f01"
        text = ('name = "stale"\nkernel = "%s"\nmemory = 128\nvif = [ "bogus_key=1" ]\n'
                'uuid = "%s"\n') % (self.kernel, uuid)
        doc = {"vmd_store": 2, "xlcfg": text, "autostart": False, "owned_disks": [],
               "brief": vmdtest.brief(text, "stale", uuid, "pv", 1, 128, [])}
        with open(self.guest_file("stale"), "w") as f:
            json.dump(doc, f)
        self.restart(kill=True)
        v = [v for v in self.c.call("vm.list", {"all": True})["vms"] if v["name"] == "stale"]
        self.assertEqual([(x["uuid"], x["memory"], x["state"]) for x in v],
                         [(uuid, 128, "stopped")])
        for method in ("vm.info", "vm.start"):
            e = self.assertCallFails(vmdtest.vmdclient.IO, method, {"name": "stale"})
            self.assertIn("no longer translates", e.message)
        self.assertEqual(self.c.call("vm.config", {"name": "stale"})["xlcfg"], text)
        self.assertCallFails(vmdtest.vmdclient.IO, "vm.remove",
                             {"name": "stale", "delete_disks": True})
        self.assertEqual(self.c.call("vm.remove", {"name": "stale"}),
                         {"name": "stale", "deleted": [], "kept": []})
        self.assertEqual(self.guest_files(), ["ok.json"])
        self.assertEqual(self.info("ok")["state"], "stopped")


if __name__ == "__main__":
    vmdtest.main()
