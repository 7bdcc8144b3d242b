#!/usr/bin/python3
"""vm.update against the sim backend: a whole new config for a guest; what the running
domain can take is changed there (what the sim backend reports), the rest is pending (vm.info)
until the next boot; refusals change nothing. The libxl half is tested on real Xen
(tests/xen/scenarios/66-vmd-live.sh).

    /usr/bin/python3 tests/integration/test_update.py --vmd build/daemon/vmd [-v] [Class.test]
"""

import re

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE, BUSY, EXISTS, INVALID_PARAMS

INVALID_CONFIG = 4
NOT_FOUND = 1


class UpdateCase(VmdTestCase):

    def guest(self, name, start=True, **kw):
        cfg = dict(vcpus=1, maxvcpus=4, memory=256, maxmem=512)
        cfg.update(kw)
        return (self.create if start else self.define)(name, **cfg)

    def text(self, name):
        return self.c.call("vm.config", {"name": name})["xlcfg"]

    def dom(self, name):
        return [d for d in self.sim_domains() if d["name"] == name][0]

    def edit(self, text, key, value):
        """text with key = value (a new statement appended when it has none)."""
        lines = [l for l in text.splitlines() if l.partition("=")[0].strip() != key]
        return "\n".join(lines + ["%s = %s" % (key, value)]) + "\n"

    def restart_daemon(self):
        """kill -9 and start again on the same state: running guests are adopted."""
        for c in self.conns:
            c.close()
        self.d.kill9()
        self.d.start()
        self.c = self.connect()

    def update(self, name, text, **kw):
        p = {"name": name, "xlcfg": text}
        p.update(kw)
        return self.c.call("vm.update", p)

    def applied(self, r):
        return sorted((c["key"], c.get("id")) for c in r["changes"] if c["apply"] == "live")

    def pending(self, name):
        return sorted((c["key"], c.get("id")) for c in self.info(name)["pending"])


class TestUpdate(UpdateCase):

    def test_live_changes_go_live(self):
        self.guest("u1")
        t = self.edit(self.text("u1"), "vcpus", "3")
        t = self.edit(t, "memory", "384")
        t = self.edit(t, "cpu_weight", "512")
        r = self.update("u1", t)
        self.assertEqual(self.applied(r), [("cpu_weight", None), ("memory", None),
                                           ("vcpus", None)])
        self.assertNotIn("error", str(r["changes"]))
        self.assertEqual(r["pending"], [])
        d = self.dom("u1")
        self.assertEqual((d["vcpus"], d["memory_kib"]), (3, 384 * 1024))
        self.assertEqual(self.info("u1")["sched"]["weight"], 512)
        self.assertEqual(self.info("u1")["pending"], [])
        self.assertIn("vcpus = 3", self.text("u1"))

    def test_disks_and_vifs(self):
        self.guest("u2")
        text = self.text("u2")
        img = self.touch("u2-b.img")
        disks = re.search(r'^disk = \[(.*?)\]$', text, re.S | re.M).group(1)
        t = text.replace(disks, disks.rstrip() + ',\n"format=raw, vdev=xvdb, access=rw, '
                         'target=%s"\n' % img)
        t = re.sub(r'^vif = \[.*?\]$', 'vif = [ "bridge=xenbr0" ]', t, flags=re.S | re.M)
        old_mac = self.info("u2")["vifs"][0]["mac"]
        r = self.update("u2", t)
        kinds = {(c["key"], c.get("id")): c for c in r["changes"]}
        self.assertEqual(kinds[("disk", "xvdb")]["apply"], "live")
        self.assertIsNone(kinds[("disk", "xvdb")]["live"])
        # the vif without a MAC is a new one (a MAC made for it); the old one goes
        self.assertEqual(kinds[("vif", old_mac)]["apply"], "live")
        new = [k for k in kinds if k[0] == "vif" and k[1] != old_mac]
        self.assertEqual(len(new), 1)
        self.assertTrue(new[0][1].startswith("00:16:3e:"))
        self.assertEqual(r["pending"], [])
        # the running domain has the disk and the new vif, not the old one
        self.assertCallFails(NOT_FOUND, "vm.detach_nic",
                             {"name": "u2", "mac": old_mac, "config": False})
        self.assertEqual([v["mac"] for v in self.info("u2")["vifs"]], [new[0][1]])
        self.c.call("vm.detach_disk", {"name": "u2", "vdev": "xvdb", "config": False})
        self.assertEqual(self.pending("u2"), [("disk", "xvdb")])
        # and back: the disk goes live again, then the old config
        self.update("u2", t)
        self.assertEqual(self.pending("u2"), [])
        r = self.update("u2", text)
        self.assertEqual(sorted(c["apply"] for c in r["changes"]), ["live"] * 3)
        self.assertEqual(self.pending("u2"), [])
        self.assertCallFails(NOT_FOUND, "vm.detach_disk",
                             {"name": "u2", "vdev": "xvdb", "config": False})

    def test_next_boot_changes_are_pending(self):
        self.guest("u3")
        t = self.edit(self.text("u3"), "maxmem", "1024")
        t = self.edit(t, "vcpus", "6")  # more than the running domain's maxvcpus (4)
        t = self.edit(t, "maxvcpus", "8")
        t = self.edit(t, "on_crash", '"preserve"')
        r = self.update("u3", t)
        self.assertEqual(self.applied(r), [])
        why = {c["key"]: c.get("reason") for c in r["changes"]}
        self.assertIn("maxvcpus", why["vcpus"])
        self.assertEqual(sorted(c["key"] for c in r["pending"]),
                         ["maxmem", "maxvcpus", "on_crash", "vcpus"])
        p = {c["key"]: c for c in self.info("u3")["pending"]}
        self.assertEqual((p["maxvcpus"]["live"], p["maxvcpus"]["config"]), ("4", "8"))
        self.assertEqual(self.dom("u3")["vcpus"], 1)
        # the definition has it all; the next boot takes it
        self.assertIn("maxmem = 1024", self.text("u3"))
        self.c.call("vm.destroy", {"name": "u3"})
        self.c.call("vm.start", {"name": "u3"})
        self.assertEqual(self.info("u3")["pending"], [])
        self.assertEqual(self.dom("u3")["vcpus"], 6)

    def test_config_only_changes_show_as_pending(self):
        self.guest("u4")
        self.c.call("vm.set_vcpus", {"name": "u4", "vcpus": 2, "live": False})
        p = self.info("u4")["pending"]
        self.assertEqual(p, [{"key": "vcpus", "live": "1", "config": "2"}])
        self.c.call("vm.set_vcpus", {"name": "u4", "vcpus": 2, "config": False})
        self.assertEqual(self.info("u4")["pending"], [])
        # a live-only change: the next boot goes back to the definition's
        self.c.call("vm.set_memory", {"name": "u4", "memory": 128, "config": False})
        self.assertEqual(self.pending("u4"), [("memory", None)])
        # update with live false: everything waits for the next boot
        r = self.update("u4", self.edit(self.text("u4"), "vcpus", "3"), live=False)
        self.assertEqual([(c["key"], c["apply"]) for c in r["changes"]],
                         [("vcpus", "next-boot")])
        self.assertEqual(self.dom("u4")["vcpus"], 2)
        self.assertEqual(self.pending("u4"), [("memory", None), ("vcpus", None)])

    def test_pending_survives_a_daemon_restart(self):
        self.guest("u5")
        self.update("u5", self.edit(self.text("u5"), "maxmem", "2048"))
        self.restart_daemon()
        self.assertEqual(self.pending("u5"), [("maxmem", None)])
        self.c.call("vm.destroy", {"name": "u5"})
        self.c.call("vm.start", {"name": "u5"})
        self.restart_daemon()
        self.assertEqual(self.pending("u5"), [])

    def test_stopped_guest(self):
        self.guest("u6", start=False)
        r = self.update("u6", self.edit(self.text("u6"), "vcpus", "2"))
        self.assertEqual(r["changes"], [{"key": "vcpus", "live": "1", "config": "2",
                                         "apply": "next-boot"}])
        self.assertEqual(r["pending"], [])
        self.assertIn("vcpus = 2", self.text("u6"))
        self.assertCallFails(BAD_STATE, "vm.update", {"name": "u6", "xlcfg": self.text("u6"),
                                                      "live": True})

    def test_dry_run_changes_nothing(self):
        self.guest("u7")
        before = self.text("u7")
        r = self.update("u7", self.edit(before, "vcpus", "2"), dry_run=True)
        self.assertTrue(r["dry_run"])
        self.assertEqual([(c["key"], c["apply"]) for c in r["changes"]], [("vcpus", "live")])
        self.assertIn("vcpus = 2", r["xlcfg"])
        self.assertEqual(self.text("u7"), before)
        self.assertEqual(self.dom("u7")["vcpus"], 1)

    def test_comments_and_layout_are_no_change(self):
        self.guest("u8")
        before = self.text("u8")
        t = "# edited by hand\n" + before.replace(" = ", "=")
        r = self.update("u8", t)
        self.assertEqual(r["changes"], [])
        self.assertTrue(self.text("u8").startswith("# edited by hand\n"))

    def test_refusals_change_nothing(self):
        self.guest("u9")
        self.guest("u10")
        before = self.text("u9")
        other_mac = self.info("u10")["vifs"][0]["mac"]
        self.assertCallFails(INVALID_CONFIG, "vm.update",
                             {"name": "u9", "xlcfg": self.edit(before, "name", '"u11"')},
                             data={"key": "name"})
        self.assertCallFails(INVALID_CONFIG, "vm.update",
                             {"name": "u9", "xlcfg": self.edit(
                                 before, "uuid", '"6b1d2a3e-0000-4000-8000-000000000001"')},
                             data={"key": "uuid"})
        self.assertCallFails(INVALID_CONFIG, "vm.update",
                             {"name": "u9", "xlcfg": self.edit(before, "vcpus", '"many"')},
                             data_keys=["key", "line"])
        self.assertCallFails(EXISTS, "vm.update",
                             {"name": "u9", "xlcfg": self.edit(
                                 before, "vif", '[ "mac=%s" ]' % other_mac)},
                             data_keys=["mac", "name"])
        self.assertCallFails(NOT_FOUND, "vm.update", {"name": "nosuch", "xlcfg": before})
        self.assertCallFails(INVALID_PARAMS, "vm.update", {"name": "u9"})
        self.assertEqual(self.text("u9"), before)
        self.assertEqual(self.info("u9")["pending"], [])

    def test_json_config(self):
        self.guest("u12")
        cfg = self.c.call("vm.config", {"name": "u12"})["config"]
        cfg["vcpus"] = 2
        r = self.c.call("vm.update", {"name": "u12", "config": cfg})
        self.assertEqual(self.applied(r), [("vcpus", None)])
        self.assertEqual(self.dom("u12")["vcpus"], 2)

    def test_balloon_that_does_not_answer_leaves_memory_pending(self):
        self.guest("u13")
        self.c.call("sim.inject", {"fault": "no-balloon", "name": "u13"})
        t = self.edit(self.text("u13"), "memory", "128")
        t = self.edit(t, "vcpus", "2")
        r = self.update("u13", t)
        c = {x["key"]: x for x in r["changes"]}
        self.assertEqual(c["memory"]["apply"], "next-boot")
        self.assertIn("balloon", c["memory"]["error"])
        self.assertEqual(c["vcpus"]["apply"], "live")
        self.assertEqual(self.dom("u13")["memory_kib"], 256 * 1024)
        self.assertEqual(self.pending("u13"), [("memory", None)])


class TestRate(UpdateCase):
    """A vif's rate: the running backend's (what the sim keeps per vif) and the definition's,
    each in the bytes per interval that libxl's own translation of the spec gives (vm.define
    dry_run: libxl_domain_config, as xl -N create prints it)."""

    def libxl_rate(self, spec):
        cfg = self.config("probe", vif=[spec])
        nic = self.c.call("vm.define", {"config": cfg, "dry_run": True})[
            "libxl_domain_config"]["nics"][0]
        return (nic.get("rate_bytes_per_interval", 0), nic.get("rate_interval_usecs", 0))

    def sim_rate(self, name, mac):
        v = [v for v in self.dom(name)["vifs"] if v["mac"] == mac][0]
        return (v["rate_bytes"], v["rate_usecs"])

    def test_set_nic_rate(self):
        self.guest("r1", vif=["bridge=xenbr0, rate=10Mb/s"])
        mac = self.info("r1")["vifs"][0]["mac"]
        self.assertEqual(self.sim_rate("r1", mac), self.libxl_rate("rate=10Mb/s"))
        r = self.c.call("vm.set_nic_rate", {"name": "r1", "mac": mac.upper(),
                                            "rate": "2MB/s@20ms"})
        self.assertEqual(r, {"name": "r1", "mac": mac, "rate": "2MB/s@20ms", "live": True,
                             "config": True})
        self.assertEqual(self.sim_rate("r1", mac), self.libxl_rate("rate=2MB/s@20ms"))
        self.assertIn("rate=2MB/s@20ms", self.text("r1"))
        self.assertEqual(self.info("r1")["pending"], [])
        # live only: pending shows the vif; none: no limit
        self.c.call("vm.set_nic_rate", {"name": "r1", "mac": mac, "rate": "none",
                                        "config": False})
        self.assertEqual(self.sim_rate("r1", mac), (0, 0))
        self.assertEqual(self.pending("r1"), [("vif", mac)])
        # vm.update: a vif that differs in its rate alone changes live
        r = self.update("r1", self.text("r1"))
        self.assertEqual(self.applied(r), [("vif", mac)])
        self.assertEqual(self.sim_rate("r1", mac), self.libxl_rate("rate=2MB/s@20ms"))
        self.assertEqual(self.info("r1")["pending"], [])

    def test_refusals_change_nothing(self):
        self.guest("r2")
        mac = self.info("r2")["vifs"][0]["mac"]
        before = self.text("r2")
        self.assertCallFails(INVALID_CONFIG, "vm.set_nic_rate",
                             {"name": "r2", "mac": mac, "rate": "fast"})
        for bad in ("1Mb/s, mac=00:16:3e:00:00:01", "", "a=b"):
            self.assertCallFails(INVALID_PARAMS, "vm.set_nic_rate",
                                 {"name": "r2", "mac": mac, "rate": bad},
                                 data={"param": "rate"})
        self.assertCallFails(NOT_FOUND, "vm.set_nic_rate",
                             {"name": "r2", "mac": "00:16:3e:00:00:09", "rate": "1Mb/s"})
        self.assertCallFails(INVALID_PARAMS, "vm.set_nic_rate",
                             {"name": "r2", "mac": "nope", "rate": "1Mb/s"})
        self.assertEqual(self.text("r2"), before)
        self.assertEqual(self.sim_rate("r2", mac), (0, 0))
        self.c.call("vm.destroy", {"name": "r2"})
        self.assertCallFails(BAD_STATE, "vm.set_nic_rate",
                             {"name": "r2", "mac": mac, "rate": "1Mb/s", "live": True})
        self.c.call("vm.set_nic_rate", {"name": "r2", "mac": mac, "rate": "1Mb/s"})
        self.assertIn("rate=1Mb/s", self.text("r2"))


if __name__ == "__main__":
    vmdtest.main()
