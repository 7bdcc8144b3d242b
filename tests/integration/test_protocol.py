#!/usr/bin/python3
"""Integration tests of the vmd protocol: every method against a real vmd (sim backend), the
state machine, events, pipelining, concurrency, and the lifecycle rules driven by sim.inject.
Every response and notification is validated against proto/schemas (see vmdtest.py)."""

import json
import os
import select
import stat
import threading
import time

import vmdtest
from vmdtest import RPCError, VmdTestCase, WAIT
from vmdclient import (BACKEND, BAD_STATE, BUSY, EXISTS, INVALID_CONFIG, INVALID_PARAMS,
                       METHOD_NOT_FOUND, NO_RESOURCES, NOT_FOUND, PERMISSION, TIMEOUT)

VM_KEYS = {"name", "uuid", "type", "state", "domid", "vcpus", "memory", "managed", "autostart"}


def opts(spec):
    """The options of a "k=v, k=v" device spec as vm.config returns it (as written)."""
    return dict(o.strip().split("=", 1) for o in spec.split(",") if "=" in o)


class TestMethods(VmdTestCase):
    """Each method's result and its documented errors."""

    def test_daemon_version(self):
        r = self.c.call("daemon.version")
        self.assertEqual(r["protocol"], 1)
        self.assertEqual(r["backend"], "sim")
        self.assertEqual(r["hypervisor"], "sim")
        self.assertRegex(r["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(self.c.call("daemon.version", {}), r)

    def test_define_from_json(self):
        vm = self.define("alpha", vcpus=2, memory=256, vifs=2)
        self.assertEqual(set(vm), VM_KEYS | {"warnings"})
        self.assertEqual(vm["warnings"], [])
        self.assertEqual((vm["name"], vm["state"], vm["domid"], vm["type"]),
                         ("alpha", "stopped", None, "pv"))
        self.assertEqual((vm["vcpus"], vm["memory"], vm["managed"], vm["autostart"]),
                         (2, 256, True, False))
        cfg = self.c.call("vm.config", {"name": "alpha"})["config"]
        self.assertEqual(cfg["uuid"], vm["uuid"])
        self.assertEqual(len(cfg["vif"]), 2)
        macs = [opts(v)["mac"] for v in cfg["vif"]]
        for m in macs:
            self.assertTrue(m.startswith("00:16:3e:"), m)  # generated, Xen OUI
        self.assertNotEqual(macs[0], macs[1])
        self.assertEqual(opts(cfg["disk"][0])["vdev"], "xvda")
        self.assertEqual(opts(cfg["disk"][0])["access"], "rw")
        self.assertEqual((cfg["memory"], cfg["vcpus"]), (256, 2))  # numbers as numbers
        self.assertTrue(os.path.exists(self.guest_file("alpha")))

    def test_define_from_xlcfg(self):
        img = self.touch("x.img")
        text = ('name = "beta"\n# a comment\ntype = "pv"\nkernel = "%s"\nmemory = 192\n'
                'vcpus = 2\nuuid = "6F1C0A52-4A7B-4C33-9B9A-0123456789AB"\n'
                'disk = [ "file:%s,xvda,w" ]\nvif = [ "mac=00:16:3e:01:02:03,bridge=xenbr0" ]\n'
                'on_crash = "preserve"\n' % (self.kernel, img))
        vm = self.c.call("vm.define", {"xlcfg": text, "filename": "beta.cfg"})
        self.assertEqual(vm["uuid"], "6f1c0a52-4a7b-4c33-9b9a-0123456789ab")
        self.assertEqual((vm["memory"], vm["vcpus"], vm["state"]), (192, 2, "stopped"))
        r = self.c.call("vm.config", {"name": "beta"})
        self.assertEqual(r["config"]["vif"], ["mac=00:16:3e:01:02:03,bridge=xenbr0"])
        self.assertEqual(r["config"]["on_crash"], "preserve")
        self.assertEqual(r["config"]["disk"], ["file:%s,xvda,w" % img])
        self.assertEqual(r["xlcfg"], text)  # as written: it named its uuid and MAC
        info = self.c.call("vm.info", {"name": "beta"})
        self.assertEqual(info["disks"][0]["target"], img)
        self.assertEqual(info["on_watchdog"], "destroy")  # xl's default, not on_crash's
        # CRLF text means the same
        vm2 = self.c.call("vm.define", {"xlcfg": text.replace("beta", "beta2").replace(
            "6F1C0A52", "7F1C0A52").replace(":03", ":04").replace("\n", "\r\n")})
        self.assertEqual(vm2["memory"], 192)

    def test_define_errors(self):
        self.define("dup")
        self.assertCallFails(EXISTS, "vm.define", {"config": self.config("dup")},
                             data={"name": "dup"})
        self.assertCallFails(INVALID_PARAMS, "vm.define", {})
        self.assertCallFails(INVALID_PARAMS, "vm.define",
                             {"config": self.config("x"), "xlcfg": "name='x'"})
        self.assertCallFails(INVALID_PARAMS, "vm.define",
                             {"config": self.config("x"), "filename": "x.cfg"})
        e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                 {"config": self.config("x", memmory=512)})
        self.assertEqual(e.data.get("key"), "memmory")
        e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                 {"xlcfg": 'name = "x"\nkernel = "%s"\nmemmory = 3\n' %
                                  self.kernel})
        self.assertEqual(e.data, {"key": "memmory", "line": 3})
        e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                 {"xlcfg": 'name = "x"\nkernel = "%s"\nmemory = 12 12\n' %
                                  self.kernel})
        self.assertEqual(e.data, {"line": 3})  # a syntax error: the line, no key
        e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                 {"config": self.config("x", kernel="vmlinuz")})
        self.assertEqual(e.data.get("key"), "kernel")
        e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                 {"config": {"name": "x"}})  # pv guest without kernel
        self.assertEqual(e.data.get("key"), "kernel")
        for bad in ({"vcpus": 513}, {"memory": 17000000}, {"on_crash": "explode"},
                    {"type": "xen"}, {"uuid": "not-a-uuid"},
                    {"uuid": "00000000-0000-0000-0000-000000000000"}):
            e = self.assertCallFails(INVALID_CONFIG, "vm.define",
                                     {"config": self.config("x", **bad)})
            self.assertEqual(e.data.get("key"), sorted(bad)[0], bad)
        # what xl takes, vmd takes: a string for a number, a tiny memory, maxmem < memory
        for good in ({"memory": "128"}, {"memory": 8}, {"maxmem": 64, "memory": 128}):
            vm = self.c.call("vm.define", {"config": self.config("ok", **good)})
            self.c.call("vm.remove", {"name": "ok"})
        self.assertFalse(os.path.exists(self.guest_file("x")))

    def test_create_and_start(self):
        vm = self.create("g1")
        self.assertEqual(vm["state"], "running")
        self.assertIsInstance(vm["domid"], int)
        self.assertCallFails(BAD_STATE, "vm.start", {"name": "g1"},
                             data={"name": "g1", "state": "running"})
        self.define("g2")
        vm2 = self.c.call("vm.start", {"name": "g2"})
        self.assertEqual(vm2["state"], "running")
        self.assertNotEqual(vm2["domid"], vm["domid"])
        self.assertCallFails(NOT_FOUND, "vm.start", {"name": "nope"}, data={"name": "nope"})
        self.assertCallFails(EXISTS, "vm.create", {"config": self.config("g1")},
                             data={"name": "g1"})

    def test_shutdown_without_wait(self):
        self.create("s1")
        vm = self.c.call("vm.shutdown", {"name": "s1"})
        self.assertEqual(vm["state"], "shutting-down")
        self.assertIsNotNone(vm["domid"])
        # asking again while it shuts down is allowed
        self.assertEqual(self.c.call("vm.shutdown", {"name": "s1"})["state"], "shutting-down")
        i = self.wait_state("s1", "stopped")
        self.assertIsNone(i["domid"])
        self.assertCallFails(BAD_STATE, "vm.shutdown", {"name": "s1"},
                             data={"name": "s1", "state": "stopped"})
        self.assertCallFails(BAD_STATE, "vm.shutdown", {"name": "s1", "wait": True},
                             data={"name": "s1", "state": "stopped"})

    def test_shutdown_wait(self):
        self.create("s2")
        vm = self.c.call("vm.shutdown", {"name": "s2", "wait": True, "timeout": 120})
        self.assertEqual((vm["state"], vm["domid"]), ("stopped", None))
        # the definition stays
        self.assertEqual(self.state("s2"), "stopped")
        self.assertIn("s2", [v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]])
        self.assertCallFails(NOT_FOUND, "vm.shutdown", {"name": "nope", "wait": True})

    def test_shutdown_wait_does_not_block_others(self):
        """A waiting vm.shutdown on a connection does not hold up later requests on it."""
        self.create("s3")
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "s3"})
        wid = self.c.request("vm.shutdown", {"name": "s3", "wait": True, "timeout": 3600})
        lid = self.c.request("vm.list")
        self.c.response(lid)
        self.assertNotIn(json.dumps(wid), self.c.responses)
        vm = self.c.call("vm.destroy", {"name": "s3"})
        self.assertEqual(vm["state"], "stopped")
        r = self.c.response(wid)  # the guest stopped: the wait is over
        self.assertEqual(r["result"]["state"], "stopped")

    def test_reboot(self):
        vm = self.create("r1")
        self.c.call("events.subscribe")
        r = self.c.call("vm.reboot", {"name": "r1"})
        self.assertEqual(r["state"], "rebooting")
        ev = self.c.wait_event("r1", "restarted")
        self.assertEqual(ev["state"], "running")
        self.assertNotEqual(ev["domid"], vm["domid"])
        i = self.info("r1")
        self.assertEqual((i["state"], i["domid"], i["uuid"]), ("running", ev["domid"], vm["uuid"]))
        self.define("r2")
        self.assertCallFails(BAD_STATE, "vm.reboot", {"name": "r2"},
                             data={"name": "r2", "state": "stopped"})
        self.assertCallFails(NOT_FOUND, "vm.reboot", {"name": "nope"})

    def test_destroy(self):
        self.create("d1")
        vm = self.c.call("vm.destroy", {"name": "d1"})
        self.assertEqual((vm["state"], vm["domid"]), ("stopped", None))
        self.assertEqual(self.state("d1"), "stopped")
        self.assertTrue(os.path.exists(self.guest_file("d1")))
        self.assertCallFails(BAD_STATE, "vm.destroy", {"name": "d1"},
                             data={"name": "d1", "state": "stopped"})
        self.assertCallFails(NOT_FOUND, "vm.destroy", {"name": "nope"})
        # a paused guest can be destroyed too
        self.c.call("vm.start", {"name": "d1"})
        self.c.call("vm.pause", {"name": "d1"})
        self.assertEqual(self.c.call("vm.destroy", {"name": "d1"})["state"], "stopped")

    def test_pause_unpause(self):
        vm = self.create("p1")
        r = self.c.call("vm.pause", {"name": "p1"})
        self.assertEqual((r["state"], r["domid"]), ("paused", vm["domid"]))
        self.assertCallFails(BAD_STATE, "vm.pause", {"name": "p1"},
                             data={"name": "p1", "state": "paused"})
        self.assertCallFails(BAD_STATE, "vm.shutdown", {"name": "p1"},
                             data={"name": "p1", "state": "paused"})
        self.assertCallFails(BAD_STATE, "vm.reboot", {"name": "p1"},
                             data={"name": "p1", "state": "paused"})
        self.assertCallFails(BAD_STATE, "vm.start", {"name": "p1"})
        r = self.c.call("vm.unpause", {"name": "p1"})
        self.assertEqual((r["state"], r["domid"]), ("running", vm["domid"]))
        self.assertCallFails(BAD_STATE, "vm.unpause", {"name": "p1"},
                             data={"name": "p1", "state": "running"})
        self.define("p2")
        self.assertCallFails(BAD_STATE, "vm.pause", {"name": "p2"})
        self.assertCallFails(BAD_STATE, "vm.unpause", {"name": "p2"})
        self.assertCallFails(NOT_FOUND, "vm.pause", {"name": "nope"})
        self.assertCallFails(NOT_FOUND, "vm.unpause", {"name": "nope"})

    def test_list(self):
        self.assertEqual(self.c.call("vm.list"), {"vms": []})
        self.define("l1")
        self.create("l2")
        self.assertEqual([v["name"] for v in self.c.call("vm.list")["vms"]], ["l2"])
        self.assertEqual([v["name"] for v in self.c.call("vm.list", {"all": False})["vms"]],
                         ["l2"])
        names = sorted(v["name"] for v in self.c.call("vm.list", {"all": True})["vms"])
        self.assertEqual(names, ["l1", "l2"])
        for v in self.c.call("vm.list", {"all": True})["vms"]:
            self.assertEqual(set(v), VM_KEYS)
            self.assertEqual(v, {k: self.info(v["name"])[k] for k in VM_KEYS})

    def test_info(self):
        self.define("i1", vcpus=2, maxvcpus=4, memory=256, maxmem=512, on_reboot="destroy")
        i = self.info("i1")
        self.assertEqual((i["maxvcpus"], i["maxmem"], i["on_reboot"], i["on_poweroff"],
                          i["on_crash"], i["console"]), (4, 512, "destroy", "destroy",
                                                         "destroy", "pv"))
        self.assertNotIn("cpu_time", i)
        self.assertEqual(i["vifs"][0]["backend"], None)
        self.assertEqual(i["vifs"][0]["bridge"], "xenbr0")
        self.assertEqual(i["disks"], [{"vdev": "xvda", "target": os.path.join(self.tmp,
                                       "i1-0.img"), "cdrom": False, "access": "rw"}])
        vm = self.c.call("vm.start", {"name": "i1"})
        i = self.info("i1")
        self.assertEqual(i["vifs"][0]["backend"], "vif%d.0" % vm["domid"])
        self.assertEqual(i["memory_actual_kib"], 256 * 1024)
        self.assertGreaterEqual(i["cpu_time"], 0)
        self.assertGreaterEqual(i["uptime"], 0)
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "nope"}, data={"name": "nope"})

    def test_info_hvm(self):
        img = self.touch("h.img")
        iso = self.touch("h.iso")
        cfg = {"name": "h1", "type": "hvm", "memory": 512, "boot": "dc", "vnc": True,
               "serial": "pty",
               "disk": ["format=raw, vdev=hda, access=rw, target=%s" % img,
                        {"vdev": "hdc", "target": iso, "cdrom": True, "access": "ro"},
                        {"vdev": "hdd", "cdrom": True}],
               "vif": [{"model": "e1000", "type": "ioemu"}]}
        vm = self.c.call("vm.create", {"config": cfg})
        self.assertEqual(vm["type"], "hvm")
        i = self.info("h1")
        self.assertEqual(i["console"], "serial")
        self.assertEqual([d["cdrom"] for d in i["disks"]], [False, True, True])
        self.assertEqual([d["access"] for d in i["disks"]], ["rw", "ro", "ro"])
        self.assertNotIn("target", i["disks"][2])
        con = self.c.call("vm.console", {"name": "h1"})
        self.assertEqual(con["kind"], "serial")
        cfg = self.c.call("vm.config", {"name": "h1"})["config"]
        # a disk given as an object is stored as the spec it stands for
        self.assertEqual(cfg["disk"][2], "vdev=hdd, devtype=cdrom")
        self.assertEqual(cfg["vnc"], True)  # a 0/1 key as a boolean

    def test_remove(self):
        self.create("m1", disks=2)
        self.assertCallFails(BAD_STATE, "vm.remove", {"name": "m1"}, data_keys=["name"])
        self.c.call("vm.destroy", {"name": "m1"})
        r = self.c.call("vm.remove", {"name": "m1", "delete_disks": True})
        imgs = [os.path.join(self.tmp, "m1-%d.img" % i) for i in range(2)]
        # vmd never deletes images it did not create
        self.assertEqual(r, {"name": "m1", "deleted": [], "kept": imgs})
        for p in imgs:
            self.assertTrue(os.path.exists(p))
        self.assertFalse(os.path.exists(self.guest_file("m1")))
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "m1"})
        self.assertCallFails(NOT_FOUND, "vm.remove", {"name": "m1"}, data={"name": "m1"})
        self.define("m2")
        self.assertEqual(self.c.call("vm.remove", {"name": "m2"})["kept"],
                         [os.path.join(self.tmp, "m2-0.img")])
        # the name is free again
        self.define("m1")

    def test_config_roundtrip(self):
        cfg = self.config("c1", vcpus=2, maxvcpus=3, memory=300, maxmem=400, cmdline="ro quiet",
                          on_poweroff="preserve", on_reboot="destroy", on_crash="restart")
        cfg["ramdisk"] = self.touch("initrd")
        self.c.call("vm.define", {"config": cfg})
        r = self.c.call("vm.config", {"name": "c1"})
        self.assertEqual(r["name"], "c1")
        canon = r["config"]
        for k in ("vcpus", "maxvcpus", "memory", "maxmem", "cmdline", "on_poweroff",
                  "on_reboot", "on_crash", "kernel", "ramdisk"):
            self.assertEqual(canon[k], cfg[k], k)
        # the xl.cfg text parses back to the same definition
        self.c.call("vm.remove", {"name": "c1"})
        self.c.call("vm.define", {"xlcfg": r["xlcfg"]})
        self.assertEqual(self.c.call("vm.config", {"name": "c1"}), r)
        # and so does the canonical JSON
        self.c.call("vm.remove", {"name": "c1"})
        self.c.call("vm.define", {"config": canon})
        self.assertEqual(self.c.call("vm.config", {"name": "c1"}), r)
        self.assertCallFails(NOT_FOUND, "vm.config", {"name": "nope"})

    def test_console(self):
        vm = self.create("con1")
        r = self.c.call("vm.console", {"name": "con1"})
        self.assertEqual((r["name"], r["domid"], r["kind"], r["escape"]),
                         ("con1", vm["domid"], "pv", "^]"))
        self.assertTrue(stat.S_ISCHR(os.stat(r["path"]).st_mode), r["path"])
        # the sim guest's boot log waits in the pty
        fd = os.open(r["path"], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            out = b""
            deadline = time.monotonic() + WAIT
            while b"login:" not in out and time.monotonic() < deadline:
                if select.select([fd], [], [], 1)[0]:
                    out += os.read(fd, 4096)
            self.assertIn(b"con1 login:", out)
        finally:
            os.close(fd)
        self.c.call("vm.destroy", {"name": "con1"})
        self.assertCallFails(BAD_STATE, "vm.console", {"name": "con1"},
                             data={"name": "con1", "state": "stopped"})
        self.assertCallFails(NOT_FOUND, "vm.console", {"name": "nope"})

    def test_autostart(self):
        self.define("a1")
        self.assertEqual(self.c.call("vm.autostart", {"name": "a1", "enabled": True}),
                         {"name": "a1", "autostart": True})
        self.assertTrue(self.info("a1")["autostart"])
        with open(self.guest_file("a1")) as f:
            self.assertTrue(json.load(f)["autostart"])
        self.assertEqual(self.c.call("vm.autostart", {"name": "a1", "enabled": False}),
                         {"name": "a1", "autostart": False})
        self.assertFalse(self.info("a1")["autostart"])
        self.assertCallFails(NOT_FOUND, "vm.autostart", {"name": "nope", "enabled": True})
        self.assertCallFails(INVALID_PARAMS, "vm.autostart", {"name": "a1"},
                             data={"param": "enabled"})

    def test_sim_inject_errors(self):
        self.assertCallFails(INVALID_PARAMS, "sim.inject", {"fault": "explode"})
        self.assertCallFails(INVALID_PARAMS, "sim.inject", {}, data={"param": "fault"})
        self.assertCallFails(NOT_FOUND, "sim.inject", {"fault": "crash", "name": "nope"},
                             data={"name": "nope"})
        self.define("x1")
        self.assertCallFails(BAD_STATE, "sim.inject", {"fault": "crash", "name": "x1"},
                             data={"name": "x1", "state": "stopped"})
        self.assertCallFails(NOT_FOUND, "sim.inject", {"fault": "crash"})  # no domain 0


class TestEvents(VmdTestCase):

    def test_create_shutdown_destroy_events(self):
        sub = self.connect()
        self.assertEqual(sub.call("events.subscribe"), {"subscribed": True})
        quiet = self.connect()  # never subscribes
        vm = self.create("e1")
        self.c.call("vm.shutdown", {"name": "e1", "wait": True})
        vm2 = self.c.call("vm.start", {"name": "e1"})
        self.c.call("vm.pause", {"name": "e1"})
        self.c.call("vm.unpause", {"name": "e1"})
        self.c.call("vm.destroy", {"name": "e1"})
        self.c.call("vm.remove", {"name": "e1"})
        want = [("defined", "stopped", None), ("starting", "starting", None),
                ("started", "running", vm["domid"]),
                ("shutdown-requested", "shutting-down", vm["domid"]),
                ("poweroff", "stopping", vm["domid"]), ("destroyed", "stopped", None),
                ("starting", "starting", None), ("started", "running", vm2["domid"]),
                ("paused", "paused", vm2["domid"]), ("unpaused", "running", vm2["domid"]),
                ("stopping", "stopping", vm2["domid"]), ("destroyed", "stopped", None),
                ("removed", "stopped", None)]
        got = []
        last = 0.0
        for _ in want:
            ev = sub.wait_event("e1")
            self.assertEqual(ev["uuid"], vm["uuid"])
            self.assertGreaterEqual(ev["time"], last)
            last = ev["time"]
            got.append((ev["event"], ev["state"], ev["domid"]))
        self.assertEqual(got, want)
        # the connection that did not subscribe got nothing
        self.assertEqual(quiet.call("daemon.version")["protocol"], 1)
        self.assertEqual(quiet.notifications, [])
        self.assertTrue(all("method" not in m for m in quiet.received))

    def test_events_on_the_requesting_connection(self):
        self.c.call("events.subscribe")
        rid = self.c.request("vm.create", {"config": self.config("e2")})
        r = self.c.response(rid)
        self.assertEqual(r["result"]["state"], "running")
        # the notifications of the create came on the same connection, before its response
        seen = [(m.get("params") or {}).get("event") for m in self.c.received
                if m.get("method") == "vm.event"]
        self.assertEqual(seen, ["defined", "starting", "started"])
        idx = self.c.received.index(r)
        self.assertTrue(all(m.get("method") == "vm.event" for m in self.c.received[1:idx]))

    def test_subscribe_twice_and_many_subscribers(self):
        subs = [self.connect() for _ in range(5)]
        for s in subs:
            s.call("events.subscribe")
            s.call("events.subscribe")  # idempotent: events still come once
        self.define("e3")
        for s in subs:
            self.assertEqual(s.wait_event("e3")["event"], "defined")
            s.call("daemon.version")
            self.assertEqual([n for n in s.notifications if n["method"] == "vm.event"], [])


class TestConnections(VmdTestCase):

    def test_pipelined(self):
        """Many requests in one write; every one answered once, matched by id."""
        for i in range(5):
            self.define("pl%d" % i)
        reqs = []
        blob = b""
        for i in range(200):
            kind = i % 4
            rid = ["s-%d" % i, i, "\u00fc-%d" % i, 10 ** 12 + i][kind]
            if kind == 0:
                m = {"jsonrpc": "2.0", "id": rid, "method": "vm.list", "params": {"all": True}}
            elif kind == 1:
                m = {"jsonrpc": "2.0", "id": rid, "method": "vm.info",
                     "params": {"name": "pl%d" % (i % 5)}}
            elif kind == 2:
                m = {"jsonrpc": "2.0", "id": rid, "method": "vm.info",
                     "params": {"name": "missing"}}
            else:
                m = {"jsonrpc": "2.0", "id": rid, "method": "daemon.version"}
            self.c.expect(rid, m["method"])
            reqs.append((rid, kind, i))
            blob += json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self.c.send_bytes(blob)
        for rid, kind, i in reqs:
            r = self.c.response(rid)
            self.assertEqual(r["id"], rid)
            if kind == 0:
                self.assertEqual(len(r["result"]["vms"]), 5)
            elif kind == 1:
                self.assertEqual(r["result"]["name"], "pl%d" % (i % 5))
            elif kind == 2:
                self.assertEqual(r["error"]["code"], NOT_FOUND)
            else:
                self.assertEqual(r["result"]["protocol"], 1)
        self.c.drain(0.3)
        self.assertEqual(self.c.responses, {}, "responses nobody asked for")

    def test_many_concurrent_clients(self):
        n_threads, n_calls = 24, 20
        errors = []

        def worker(t):
            try:
                with self.d.connect() as c:
                    c.call("events.subscribe") if t % 3 == 0 else None
                    c.call("vm.define", {"config": self.config("cc%d" % t)})
                    for k in range(n_calls):
                        m = k % 3
                        if m == 0:
                            c.call("vm.list", {"all": True})
                        elif m == 1:
                            assert c.call("vm.info", {"name": "cc%d" % t})["name"] == "cc%d" % t
                        else:
                            c.call("daemon.version")
                    if t % 2 == 0:
                        c.call("vm.start", {"name": "cc%d" % t})
                        c.call("vm.destroy", {"name": "cc%d" % t})
            except Exception as e:  # reported below
                errors.append("thread %d: %r" % (t, e))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(WAIT * 2)
        self.assertEqual(errors, [])
        names = sorted(v["name"] for v in self.c.call("vm.list", {"all": True})["vms"])
        self.assertEqual(names, sorted("cc%d" % t for t in range(n_threads)))
        self.assertTrue(all(v["state"] == "stopped"
                            for v in self.c.call("vm.list", {"all": True})["vms"]))

    def test_notification_gets_no_reply_but_runs(self):
        self.c.notify("vm.define", {"config": self.config("n1")})
        self.c.notify("no.such.method", {})
        self.c.notify("vm.info", {"bogus": 1})
        self.c.notify("vm.info", {"name": "nope"})
        self.c.notify("vm.start", {"name": "n1"})
        r = self.c.call_raw("daemon.version")
        self.assertEqual(self.c.received, [r], "a notification was answered")
        self.wait_state("n1", "running")
        self.assertEqual(self.c.received[0], r)
        self.assertEqual(len([m for m in self.c.received if "method" not in m]),
                         len(self.c.received))

    def test_null_and_string_ids(self):
        self.c.expect(None, "daemon.version")
        self.c.send_message({"jsonrpc": "2.0", "id": None, "method": "daemon.version"})
        r = self.c.response(None)
        self.assertIsNone(r["id"])
        self.assertEqual(r["result"]["protocol"], 1)
        for rid in ("", "x" * 1000, "\u00e9\u4e2d\U0001f600", 0, -1, 2 ** 62):
            self.c.expect(rid, "daemon.version")
            self.c.send_message({"jsonrpc": "2.0", "id": rid, "method": "daemon.version"})
            self.assertEqual(self.c.response(rid)["id"], rid)


READ_METHODS = ("vm.list", "vm.info", "daemon.version", "events.subscribe", "vm.config")
WRITE_METHODS = ("vm.destroy", "vm.console", "vm.start", "vm.define", "vm.autostart",
                 "sim.inject", "vm.shutdown", "vm.reboot", "vm.pause", "vm.unpause",
                 "vm.remove", "vm.create")


def try_all(conn, zz):
    """Every method once, as a reader would; {method: error code or 0}."""
    params = {"vm.list": {}, "daemon.version": {}, "events.subscribe": {},
              "vm.define": {"config": zz}, "vm.create": {"config": zz},
              "vm.autostart": {"name": "perm1", "enabled": True},
              "sim.inject": {"fault": "crash", "name": "perm1"}}
    out = {}
    for m in READ_METHODS + WRITE_METHODS:
        r = conn.call_raw(m, params.get(m, {"name": "perm1"}))
        out[m] = r["error"]["code"] if "error" in r else 0
        if "error" in r and r["error"]["code"] == PERMISSION:
            assert r["error"]["data"] == {"method": m}, r
    return out


class TestPermissions(VmdTestCase):

    def check_reader(self, out):
        for m in READ_METHODS:
            self.assertEqual(out[m], 0, m)
        for m in WRITE_METHODS:
            self.assertEqual(out[m], PERMISSION, m)
        self.assertEqual(self.state("perm1"), "running")
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "zz"})

    def test_read_only_socket(self):
        """On the read-only socket even root may only read."""
        self.create("perm1")
        ro = self.connect(read_only=True)
        self.check_reader(try_all(ro, self.config("zz")))
        self.assertEqual(stat.S_IMODE(os.stat(self.d.ro_socket).st_mode), 0o666)
        self.assertEqual(stat.S_IMODE(os.stat(self.d.socket).st_mode), 0o660)
        # params are checked before the permission
        self.assertRPCError(ro.error("vm.start", {"name": 5}), INVALID_PARAMS)

    def test_other_user_may_only_read(self):
        """A user who is neither root, nor the daemon's, nor in the writers' group."""
        self.create("perm1")
        os.chmod(self.d.socket, 0o666)
        zz = self.config("zz")
        sock = self.d.socket
        out = self.as_user(65534, 65534, lambda: try_all(
            vmdtest.Connection(sock, validator=vmdtest.VALIDATOR), zz))
        self.check_reader(out)


class TestGroupWriter(VmdTestCase):
    """A member of the writers' group (vmd.conf `group`) may change guests, but a config may
    name files only under the storage roots, and no programs."""

    def daemon_kwargs(self):
        self.images = os.path.join(self.tmp, "images")
        os.mkdir(self.images)
        return {"conf": "group = nogroup\nstorage_roots = %s\n" % self.images}

    def test_group_member_writes_within_storage_roots(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to act as another user")
        import grp
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            self.skipTest("no group nogroup on this host")
        kernel = os.path.join(self.images, "vmlinuz")
        img = os.path.join(self.images, "g.img")
        for p in (kernel, img):
            open(p, "w").close()
        os.symlink(self.kernel, os.path.join(self.images, "sneaky"))
        good = {"name": "g1", "kernel": kernel, "disk": ["%s,raw,xvda,rw" % img]}
        cases = [
            ("kernel", dict(good, name="g2", kernel=self.kernel), self.kernel),
            ("kernel", dict(good, name="g3", kernel=os.path.join(self.images, "sneaky")),
             os.path.join(self.images, "sneaky")),
            ("disk", dict(good, name="g4", disk=["%s,raw,xvda,rw" % self.touch("o.img")]),
             os.path.join(self.tmp, "o.img")),
            ("bootloader", {"name": "g5", "bootloader": "/bin/sh"}, "/bin/sh"),
            ("disk", dict(good, name="g6", disk=[{"vdev": "xvda", "target": "iqn.x",
                                                  "script": "block-iscsi"}]), None),
            ("vif", dict(good, name="g7", vif=[{"script": "/tmp/evil"}]), "/tmp/evil"),
        ]
        sock = self.d.socket

        def as_member():
            c = vmdtest.Connection(sock, validator=vmdtest.VALIDATOR)
            res = {"good": c.call("vm.create", {"config": good})["state"], "bad": []}
            for key, cfg, path in cases:
                r = c.call_raw("vm.define", {"config": cfg})
                res["bad"].append(r.get("error"))
            res["destroy"] = c.call("vm.destroy", {"name": "g1"})["state"]
            return res

        out = self.as_user(65534, gid, as_member)
        self.assertEqual((out["good"], out["destroy"]), ("running", "stopped"))
        for (key, cfg, path), err in zip(cases, out["bad"]):
            self.assertIsNotNone(err, key)
            self.assertEqual(err["code"], PERMISSION, err)
            self.assertEqual(err["data"].get("method"), "vm.define")
            self.assertEqual(err["data"].get("key"), key, err)
            if path:
                self.assertIn("path", err["data"], err)
        self.assertEqual(self.guest_files(), ["g1.json"])
        # root is not restricted
        self.assertEqual(self.c.call("vm.define", {"config": cases[0][1]})["name"], "g2")


class TestLifecycle(VmdTestCase):
    """on_poweroff / on_reboot / on_crash, requests honoured as asked, and sim faults."""

    def setUp(self):
        super().setUp()
        self.ev = self.connect()
        self.ev.call("events.subscribe")

    def test_fail_create_leaves_nothing(self):
        self.c.call("sim.inject", {"fault": "fail-create"})
        e = self.assertCallFails(BACKEND, "vm.create", {"config": self.config("f1")},
                                 data={"name": "f1"})
        self.assertTrue(e.message)
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "f1"})
        self.assertEqual(self.c.call("vm.list", {"all": True})["vms"], [])
        self.assertFalse(os.path.exists(self.guest_file("f1")))
        evs = [self.ev.wait_event("f1")["event"] for _ in range(4)]
        self.assertEqual(evs, ["defined", "starting", "start-failed", "removed"])
        # the fault is used up: the same create now works
        self.assertEqual(self.create("f1")["state"], "running")

    def test_fail_create_on_start_keeps_definition(self):
        self.define("f2")
        self.c.call("sim.inject", {"fault": "fail-create"})
        self.assertCallFails(BACKEND, "vm.start", {"name": "f2"}, data={"name": "f2"})
        self.assertEqual(self.state("f2"), "stopped")
        self.assertEqual(self.c.call("vm.start", {"name": "f2"})["state"], "running")

    def test_start_with_missing_disk(self):
        cfg = self.config("f3")
        os.unlink(os.path.join(self.tmp, "f3-0.img"))
        self.assertCallFails(BACKEND, "vm.create", {"config": cfg}, data={"name": "f3"})
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "f3"})

    def test_crash_default_destroy(self):
        self.create("k1")
        vm = self.info("k1")
        self.c.call("sim.inject", {"fault": "crash", "name": "k1"})
        ev = self.ev.wait_event("k1", "crash")
        self.assertEqual((ev["state"], ev["domid"]), ("stopping", vm["domid"]))
        ev = self.ev.wait_event("k1")
        self.assertEqual((ev["event"], ev["state"], ev["domid"]), ("destroyed", "stopped", None))
        self.assertEqual(self.state("k1"), "stopped")

    def test_crash_restart(self):
        vm = self.create("k2", on_crash="restart")
        self.ev.wait_event("k2", "started")
        self.c.call("sim.inject", {"fault": "crash", "name": "k2"})
        ev = self.ev.wait_event("k2")
        self.assertEqual((ev["event"], ev["state"], ev["domid"]), ("crash", "rebooting",
                                                                   vm["domid"]))
        ev = self.ev.wait_event("k2")
        self.assertEqual(ev["event"], "restarted")
        self.assertEqual(ev["state"], "running")
        self.assertNotEqual(ev["domid"], vm["domid"])
        self.assertEqual(self.info("k2")["domid"], ev["domid"])

    def test_crash_preserve(self):
        vm = self.create("k3", on_crash="preserve")
        self.c.call("sim.inject", {"fault": "crash", "name": "k3"})
        ev = self.ev.wait_event("k3", "crash")
        self.assertEqual((ev["state"], ev["domid"]), ("crashed", vm["domid"]))
        i = self.info("k3")
        self.assertEqual((i["state"], i["domid"]), ("crashed", vm["domid"]))
        self.assertCallFails(BAD_STATE, "vm.start", {"name": "k3"},
                             data={"name": "k3", "state": "crashed"})
        self.assertCallFails(BAD_STATE, "vm.shutdown", {"name": "k3"})
        self.assertCallFails(BAD_STATE, "vm.remove", {"name": "k3"})
        self.assertEqual(self.c.call("vm.destroy", {"name": "k3"})["state"], "stopped")

    def test_restart_limit(self):
        """A guest restarted 10 times within 60 s is not restarted an 11th time."""
        self.create("k4", on_crash="restart")
        self.ev.wait_event("k4", "started")
        for n in range(10):
            self.c.call("sim.inject", {"fault": "crash", "name": "k4"})
            ev = self.ev.wait_event("k4", state="running")
            self.assertEqual(ev["event"], "restarted", n)
        self.c.call("sim.inject", {"fault": "crash", "name": "k4"})
        ev = self.ev.wait_event("k4", state="stopped")
        self.assertEqual(ev["event"], "restart-limit")
        self.assertEqual(self.state("k4"), "stopped")
        # a start by hand is still allowed
        self.assertEqual(self.c.call("vm.start", {"name": "k4"})["state"], "running")

    def test_hang_shutdown_wait_times_out(self):
        self.create("h1")
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "h1"})
        e = self.assertCallFails(TIMEOUT, "vm.shutdown", {"name": "h1", "wait": True,
                                                          "timeout": 1})
        self.assertEqual(e.data, {"name": "h1", "state": "shutting-down", "timeout": 1})
        self.assertEqual(self.state("h1"), "shutting-down")
        self.assertEqual(self.c.call("vm.destroy", {"name": "h1"})["state"], "stopped")

    def test_guest_reboot(self):
        vm = self.create("b1")
        before = self.c.call("vm.config", {"name": "b1"})
        self.c.call("sim.inject", {"fault": "reboot", "name": "b1"})
        ev = self.ev.wait_event("b1", "restarted")
        self.assertNotEqual(ev["domid"], vm["domid"])
        self.assertEqual((ev["uuid"], ev["state"]), (vm["uuid"], "running"))
        self.assertEqual(self.c.call("vm.config", {"name": "b1"}), before)

    def test_guest_reboot_with_on_reboot_destroy(self):
        vm = self.create("b2", on_reboot="destroy")
        self.c.call("sim.inject", {"fault": "reboot", "name": "b2"})
        ev = self.ev.wait_event("b2", "reboot")
        self.assertEqual((ev["state"], ev["domid"]), ("stopping", vm["domid"]))
        ev = self.ev.wait_event("b2")
        self.assertEqual((ev["event"], ev["state"], ev["domid"]), ("destroyed", "stopped", None))

    def test_requested_reboot_honoured_despite_on_reboot_destroy(self):
        vm = self.create("b3", on_reboot="destroy")
        self.ev.wait_event("b3", "started")
        self.c.call("vm.reboot", {"name": "b3"})
        got = [self.ev.wait_event("b3") for _ in range(3)]
        self.assertEqual([(e["event"], e["state"]) for e in got],
                         [("reboot-requested", "rebooting"), ("reboot", "rebooting"),
                          ("restarted", "running")])
        self.assertNotEqual(got[2]["domid"], vm["domid"])

    def test_guest_poweroff_with_on_poweroff_restart(self):
        vm = self.create("o1", on_poweroff="restart")
        self.c.call("sim.inject", {"fault": "poweroff", "name": "o1"})
        ev = self.ev.wait_event("o1", "restarted")
        self.assertNotEqual(ev["domid"], vm["domid"])

    def test_requested_shutdown_honoured_despite_on_poweroff_restart(self):
        self.create("o2", on_poweroff="restart")
        vm = self.c.call("vm.shutdown", {"name": "o2", "wait": True})
        self.assertEqual(vm["state"], "stopped")
        self.ev.wait_event("o2", "poweroff")
        self.assertEqual(self.state("o2"), "stopped")

    def test_poweroff_preserve(self):
        vm = self.create("o3", on_poweroff="preserve")
        self.c.call("sim.inject", {"fault": "poweroff", "name": "o3"})
        ev = self.ev.wait_event("o3", "poweroff")
        self.assertEqual((ev["state"], ev["domid"]), ("shutdown", vm["domid"]))
        self.assertEqual(self.state("o3"), "shutdown")
        self.assertCallFails(BAD_STATE, "vm.start", {"name": "o3"})
        self.assertEqual(self.c.call("vm.console", {"name": "o3"})["domid"], vm["domid"])
        self.assertEqual(self.c.call("vm.destroy", {"name": "o3"})["state"], "stopped")

    def test_vanish(self):
        self.create("v1")
        self.c.call("sim.inject", {"fault": "vanish", "name": "v1"})
        ev = self.ev.wait_event("v1", "destroyed")
        self.assertEqual((ev["state"], ev["domid"]), ("stopped", None))
        self.assertEqual(self.c.call("vm.start", {"name": "v1"})["state"], "running")

    def test_fail_destroy(self):
        vm = self.create("v2")
        self.c.call("sim.inject", {"fault": "fail-destroy"})
        self.assertCallFails(BACKEND, "vm.destroy", {"name": "v2"}, data={"name": "v2"})
        i = self.info("v2")
        self.assertEqual((i["state"], i["domid"]), ("shutdown", vm["domid"]))
        self.assertEqual(self.c.call("vm.destroy", {"name": "v2"})["state"], "stopped")

    def test_busy(self):
        """A second operation while a start or destroy is in flight: code 7."""
        self.define("y1")
        sid = self.c.request("vm.start", {"name": "y1"})
        did = self.c.request("vm.destroy", {"name": "y1"})
        s2 = self.c.request("vm.start", {"name": "y1"})
        rid = self.c.request("vm.remove", {"name": "y1"})
        self.assertEqual(self.c.response(sid)["result"]["state"], "running")
        for i in (did, s2):
            e = self.c.response(i)["error"]
            self.assertEqual(e["code"], BUSY)
            self.assertEqual(e["data"], {"name": "y1", "state": "starting"})
        self.assertEqual(self.c.response(rid)["error"]["code"], BAD_STATE)
        did = self.c.request("vm.destroy", {"name": "y1"})
        pid = self.c.request("vm.pause", {"name": "y1"})
        self.assertEqual(self.c.response(did)["result"]["state"], "stopped")
        self.assertEqual(self.c.response(pid)["error"]["code"], BUSY)

    def test_foreign_domain(self):
        self.c.call("sim.inject", {"fault": "foreign:xl-guest"})
        vms = self.c.call("vm.list")["vms"]
        self.assertEqual(len(vms), 1)
        f = vms[0]
        self.assertEqual((f["name"], f["managed"], f["type"], f["state"], f["autostart"]),
                         ("xl-guest", False, None, "running", False))
        self.assertIsInstance(f["domid"], int)
        self.assertEqual([v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]],
                         ["xl-guest"])
        i = self.info("xl-guest")
        self.assertFalse(i["managed"])
        self.assertIn("cpu_time", i)
        for m in ("vm.destroy", "vm.shutdown", "vm.pause", "vm.config", "vm.console",
                  "vm.remove"):
            self.assertCallFails(NOT_FOUND, m, {"name": "xl-guest"})
        # the name is held by the domain: a create under it fails and leaves nothing
        self.assertCallFails(EXISTS, "vm.create", {"config": self.config("xl-guest")})
        self.assertCallFails(NOT_FOUND, "vm.config", {"name": "xl-guest"})
        self.assertFalse(self.info("xl-guest")["managed"])


class TestMemory(VmdTestCase):
    daemon_options = {"sim_memory": 1024}

    def test_second_guest_does_not_fit(self):
        self.create("big1", memory=768)
        e = self.assertCallFails(NO_RESOURCES, "vm.create",
                                 {"config": self.config("big2", memory=768)})
        self.assertEqual(e.data.get("name"), "big2")
        self.assertCallFails(NOT_FOUND, "vm.info", {"name": "big2"})
        self.define("big3", memory=768)
        self.assertCallFails(NO_RESOURCES, "vm.start", {"name": "big3"})
        self.assertEqual(self.state("big3"), "stopped")
        self.c.call("vm.destroy", {"name": "big1"})
        self.assertEqual(self.c.call("vm.start", {"name": "big3"})["state"], "running")


if __name__ == "__main__":
    vmdtest.main()
