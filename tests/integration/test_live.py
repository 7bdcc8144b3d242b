#!/usr/bin/python3
"""vm.set_vcpus and vm.set_memory against the sim backend: the running domain (what the
backend reports) and the stored definition (what vm.config prints, what the next boot gets),
live / config / both, and every refusal changing nothing. The libxl half is tested on real Xen
(tests/xen/scenarios/66-vmd-live.sh).

    /usr/bin/python3 tests/integration/test_live.py --vmd build/daemon/vmd [-v] [Class.test]
"""

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE, EXISTS, INVALID_PARAMS

INVALID_CONFIG = 4

NOT_FOUND = 1


class LiveCase(VmdTestCase):

    def guest(self, name, **kw):
        cfg = dict(vcpus=1, maxvcpus=4, memory=256, maxmem=512)
        cfg.update(kw)
        return self.create(name, **cfg)

    def dom(self, name):
        return [d for d in self.sim_domains() if d["name"] == name][0]

    def text(self, name):
        return self.c.call("vm.config", {"name": name})["xlcfg"]

    def key(self, name, key):
        for line in self.text(name).splitlines():
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip()
        return None


class TestVcpus(LiveCase):

    def test_both_by_default(self):
        self.guest("v1")
        r = self.c.call("vm.set_vcpus", {"name": "v1", "vcpus": 3})
        self.assertEqual(r, {"name": "v1", "vcpus": 3, "live": True, "config": True})
        self.assertEqual(self.dom("v1")["vcpus"], 3)
        self.assertEqual(self.info("v1")["vcpus_online"], 3)
        self.assertEqual(self.key("v1", "vcpus"), "3")
        self.assertEqual(self.info("v1")["vcpus"], 3)

    def test_live_only_and_config_only(self):
        self.guest("v2")
        self.c.call("vm.set_vcpus", {"name": "v2", "vcpus": 2, "live": True, "config": False})
        self.assertEqual(self.dom("v2")["vcpus"], 2)
        self.assertEqual(self.key("v2", "vcpus"), "1")
        self.c.call("vm.set_vcpus", {"name": "v2", "vcpus": 4, "live": False, "config": True})
        self.assertEqual(self.dom("v2")["vcpus"], 2)
        self.assertEqual(self.key("v2", "vcpus"), "4")
        # the next boot has the definition's
        self.c.call("vm.destroy", {"name": "v2"})
        self.c.call("vm.start", {"name": "v2"})
        self.assertEqual(self.dom("v2")["vcpus"], 4)

    def test_stopped_guest_changes_its_definition(self):
        self.define("v3", vcpus=1, maxvcpus=2)
        r = self.c.call("vm.set_vcpus", {"name": "v3", "vcpus": 2})
        self.assertEqual((r["live"], r["config"]), (False, True))
        self.assertEqual(self.key("v3", "vcpus"), "2")
        self.assertCallFails(BAD_STATE, "vm.set_vcpus", {"name": "v3", "vcpus": 1, "live": True})
        self.assertEqual(self.key("v3", "vcpus"), "2")

    def test_refusals_change_nothing(self):
        self.guest("v4")
        before = self.text("v4")
        self.assertCallFails(INVALID_PARAMS, "vm.set_vcpus", {"name": "v4", "vcpus": 5},
                             data={"param": "vcpus"})
        self.assertCallFails(INVALID_PARAMS, "vm.set_vcpus",
                             {"name": "v4", "vcpus": 2, "live": False, "config": False})
        self.assertCallFails(INVALID_PARAMS, "vm.set_vcpus", {"name": "v4", "vcpus": 0})
        self.assertCallFails(NOT_FOUND, "vm.set_vcpus", {"name": "nosuch", "vcpus": 1})
        self.assertEqual(self.text("v4"), before)
        self.assertEqual(self.dom("v4")["vcpus"], 1)

    def test_live_limit_is_the_domains(self):
        # no maxvcpus in the text: the definition may grow, the running domain may not
        self.create("v5", vcpus=2)
        self.assertCallFails(INVALID_PARAMS, "vm.set_vcpus", {"name": "v5", "vcpus": 3})
        self.assertEqual(self.key("v5", "vcpus"), "2")
        self.c.call("vm.set_vcpus", {"name": "v5", "vcpus": 3, "live": False})
        self.assertEqual(self.key("v5", "vcpus"), "3")
        self.c.call("vm.set_vcpus", {"name": "v5", "vcpus": 1})
        self.assertEqual(self.dom("v5")["vcpus"], 1)


class TestMemory(LiveCase):

    def test_both_by_default(self):
        self.guest("m1")
        r = self.c.call("vm.set_memory", {"name": "m1", "memory": 384})
        self.assertEqual(r, {"name": "m1", "memory": 384, "live": True, "config": True})
        self.assertEqual(self.dom("m1")["memory_kib"], 384 * 1024)
        self.assertEqual(self.info("m1")["memory_actual_kib"], 384 * 1024)
        self.assertEqual(self.key("m1", "memory"), "384")
        self.c.call("vm.set_memory", {"name": "m1", "memory": 128, "config": False})
        self.assertEqual(self.dom("m1")["memory_kib"], 128 * 1024)
        self.assertEqual(self.key("m1", "memory"), "384")

    def test_over_maxmem_and_too_little(self):
        self.guest("m2")
        self.assertCallFails(INVALID_PARAMS, "vm.set_memory", {"name": "m2", "memory": 513},
                             data={"param": "memory"})
        self.assertCallFails(INVALID_PARAMS, "vm.set_memory", {"name": "m2", "memory": 8})
        self.assertEqual(self.dom("m2")["memory_kib"], 256 * 1024)
        self.assertEqual(self.key("m2", "memory"), "256")

    def test_no_balloon_driver(self):
        self.guest("m3")
        self.c.call("sim.inject", {"fault": "no-balloon", "name": "m3"})
        err = self.assertCallFails(BAD_STATE, "vm.set_memory", {"name": "m3", "memory": 128})
        self.assertIn("balloon", err.message)
        self.assertEqual(self.dom("m3")["memory_kib"], 256 * 1024)
        self.assertEqual(self.key("m3", "memory"), "256")  # nothing changed
        # the definition alone can still change
        self.c.call("vm.set_memory", {"name": "m3", "memory": 128, "live": False})
        self.assertEqual(self.key("m3", "memory"), "128")

    def test_definition_survives_a_restart(self):
        self.guest("m4")
        self.c.call("vm.set_memory", {"name": "m4", "memory": 300})
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        self.assertEqual(self.key("m4", "memory"), "300")
        self.assertEqual(self.info("m4")["memory"], 300)


class TestSched(LiveCase):

    def test_weight_and_cap(self):
        self.guest("s1")
        r = self.c.call("vm.set_sched", {"name": "s1", "weight": 512, "cap": 50})
        self.assertEqual((r["weight"], r["cap"], r["live"], r["config"]), (512, 50, True, True))
        self.assertEqual(self.info("s1")["sched"], {"scheduler": "sim", "weight": 512, "cap": 50})
        self.assertEqual((self.key("s1", "cpu_weight"), self.key("s1", "cap")), ("512", "50"))
        self.c.call("vm.set_sched", {"name": "s1", "cap": 0, "config": False})
        self.assertEqual(self.info("s1")["sched"]["cap"], 0)
        self.assertEqual(self.key("s1", "cap"), "50")
        # the next boot has the definition's
        self.c.call("vm.destroy", {"name": "s1"})
        self.c.call("vm.start", {"name": "s1"})
        self.assertEqual(self.info("s1")["sched"], {"scheduler": "sim", "weight": 512, "cap": 50})

    def test_refusals(self):
        self.guest("s2")
        self.assertCallFails(INVALID_PARAMS, "vm.set_sched", {"name": "s2"})
        self.assertCallFails(INVALID_PARAMS, "vm.set_sched", {"name": "s2", "weight": 0})
        self.c.call("vm.destroy", {"name": "s2"})
        self.assertCallFails(BAD_STATE, "vm.set_sched", {"name": "s2", "weight": 9, "live": True})
        self.assertIsNone(self.key("s2", "cpu_weight"))
        self.assertNotIn("sched", self.info("s2"))


class TestDisks(LiveCase):

    def spec(self, vdev, name):
        return "format=raw, vdev=%s, access=rw, target=%s" % (vdev, self.touch(name))

    def disks(self, name):
        return [d["vdev"] for d in self.info(name)["disks"]]

    def test_attach_and_detach(self):
        self.guest("d1")
        r = self.c.call("vm.attach_disk", {"name": "d1", "disk": self.spec("xvdb", "d1-b.img")})
        self.assertEqual(r, {"name": "d1", "vdev": "xvdb", "live": True, "config": True})
        self.assertEqual(self.disks("d1"), ["xvda", "xvdb"])
        # the definition has it: a second one of that vdev is refused (code 4, the config)
        self.assertCallFails(INVALID_CONFIG, "vm.attach_disk",
                             {"name": "d1", "disk": self.spec("xvdb", "d1-c.img")})
        # only the running domain has it: refused there (code 2)
        self.c.call("vm.attach_disk", {"name": "d1", "disk": self.spec("xvdc", "d1-c.img"),
                                       "config": False})
        self.assertCallFails(EXISTS, "vm.attach_disk",
                             {"name": "d1", "disk": self.spec("xvdc", "d1-c.img"),
                              "config": False})
        self.c.call("vm.detach_disk", {"name": "d1", "vdev": "xvdc"})
        r = self.c.call("vm.detach_disk", {"name": "d1", "vdev": "xvdb"})
        self.assertEqual((r["live"], r["config"]), (True, True))
        self.assertEqual(self.disks("d1"), ["xvda"])

    def test_live_only_and_config_only(self):
        self.guest("d2")
        self.c.call("vm.attach_disk", {"name": "d2", "disk": self.spec("xvdc", "d2-c.img"),
                                       "config": False})
        self.assertEqual(self.disks("d2"), ["xvda"])
        r = self.c.call("vm.detach_disk", {"name": "d2", "vdev": "xvdc"})
        self.assertEqual((r["live"], r["config"]), (True, False))
        self.c.call("vm.attach_disk", {"name": "d2", "disk": self.spec("xvdd", "d2-d.img"),
                                       "live": False})
        self.assertEqual(self.disks("d2"), ["xvda", "xvdd"])
        # not in the running domain
        self.assertCallFails(NOT_FOUND, "vm.detach_disk",
                             {"name": "d2", "vdev": "xvdd", "config": False})

    def test_refusals(self):
        self.guest("d3", root="/dev/xvda1")
        before = self.text("d3")
        self.assertCallFails(BAD_STATE, "vm.detach_disk", {"name": "d3", "vdev": "xvda"})
        self.assertCallFails(INVALID_CONFIG, "vm.attach_disk",
                             {"name": "d3", "disk": self.spec("xvda", "d3-a2.img")})
        self.assertCallFails(INVALID_CONFIG, "vm.attach_disk",
                             {"name": "d3", "disk": "vdev=, what"})
        self.assertCallFails(NOT_FOUND, "vm.detach_disk", {"name": "d3", "vdev": "xvdq"})
        self.assertEqual(self.text("d3"), before)
        self.assertEqual(self.disks("d3"), ["xvda"])

    def test_boot_disk(self):
        # a kernel given: the disk its root= names; pygrub: the first disk
        self.guest("d5", root="/dev/xvdb1", disk=["format=raw, vdev=xvda, target=%s" %
                                                 self.touch("d5-a.img"),
                                                 "format=raw, vdev=xvdb, target=%s" %
                                                 self.touch("d5-b.img")])
        self.assertCallFails(BAD_STATE, "vm.detach_disk", {"name": "d5", "vdev": "xvdb"})
        self.c.call("vm.detach_disk", {"name": "d5", "vdev": "xvda"})
        self.define("d6", bootloader="pygrub", kernel=None)
        self.assertCallFails(BAD_STATE, "vm.detach_disk",
                             {"name": "d6", "vdev": "xvda", "live": False})
        # no root= and no bootloader: no boot disk
        self.guest("d7")
        self.c.call("vm.detach_disk", {"name": "d7", "vdev": "xvda"})

    def test_stopped_guest(self):
        self.define("d4")
        r = self.c.call("vm.attach_disk", {"name": "d4", "disk": self.spec("xvdb", "d4-b.img")})
        self.assertEqual((r["live"], r["config"]), (False, True))
        self.c.call("vm.start", {"name": "d4"})
        self.assertEqual(self.disks("d4"), ["xvda", "xvdb"])
        self.c.call("vm.detach_disk", {"name": "d4", "vdev": "xvdb"})
        self.assertEqual(self.disks("d4"), ["xvda"])


class TestNics(LiveCase):

    def macs(self, name):
        return [v["mac"] for v in self.info(name)["vifs"]]

    def test_attach_and_detach(self):
        self.guest("n1")
        before = self.macs("n1")
        r = self.c.call("vm.attach_nic", {"name": "n1", "vif": "bridge=xenbr0"})
        self.assertTrue(r["mac"].startswith("00:16:3e:"), r)
        self.assertEqual((r["live"], r["config"]), (True, True))
        self.assertEqual(self.macs("n1"), before + [r["mac"]])
        # the MAC is the guest's now: a second guest cannot take it
        self.guest("n2")
        self.assertCallFails(EXISTS, "vm.attach_nic",
                             {"name": "n2", "vif": "mac=%s, bridge=xenbr0" % r["mac"]},
                             data_keys=["mac"])
        self.c.call("vm.detach_nic", {"name": "n1", "mac": r["mac"]})
        self.assertEqual(self.macs("n1"), before)

    def test_given_mac_live_only_and_refusals(self):
        self.guest("n3")
        mac = "00:16:3e:12:34:56"
        r = self.c.call("vm.attach_nic", {"name": "n3", "vif": "mac=%s" % mac,
                                          "config": False})
        self.assertEqual(r["mac"], mac)
        self.assertNotIn(mac, self.macs("n3"))
        self.assertCallFails(EXISTS, "vm.attach_nic", {"name": "n3", "vif": "mac=%s" % mac,
                                                       "config": False})
        r = self.c.call("vm.detach_nic", {"name": "n3", "mac": mac})
        self.assertEqual((r["live"], r["config"]), (True, False))
        self.assertCallFails(NOT_FOUND, "vm.detach_nic", {"name": "n3", "mac": mac})
        self.assertCallFails(INVALID_PARAMS, "vm.detach_nic", {"name": "n3", "mac": "nope"})
        self.assertCallFails(INVALID_CONFIG, "vm.attach_nic", {"name": "n3", "vif": "rate=x"})


class TestCdrom(LiveCase):

    def hvm(self, name):
        return self.create(name, type="hvm", kernel=None, disk=[
            "format=raw, vdev=hda, access=rw, target=%s" % self.touch(name + "-a.img"),
            "vdev=hdc, access=ro, devtype=cdrom"])

    def cdrom(self, name):
        return [d for d in self.info(name)["disks"] if d["vdev"] == "hdc"][0]

    def test_insert_and_eject(self):
        self.hvm("c1")
        iso = self.touch("c1.iso")
        r = self.c.call("vm.cd_insert", {"name": "c1", "vdev": "hdc", "file": iso})
        self.assertEqual(r, {"name": "c1", "vdev": "hdc", "live": True, "config": True})
        self.assertEqual((self.cdrom("c1")["target"], self.cdrom("c1")["cdrom"]), (iso, True))
        self.c.call("vm.cd_eject", {"name": "c1", "vdev": "hdc"})
        self.assertIn(self.cdrom("c1").get("target"), (None, ""))

    def test_refusals(self):
        self.hvm("c2")
        self.assertCallFails(NOT_FOUND, "vm.cd_insert",
                             {"name": "c2", "vdev": "hdc", "file": self.tmp + "/none.iso"},
                             data_keys=["name", "path"])
        self.assertCallFails(NOT_FOUND, "vm.cd_insert",
                             {"name": "c2", "vdev": "hda", "file": self.touch("c2.iso")})
        self.assertCallFails(INVALID_PARAMS, "vm.cd_insert",
                             {"name": "c2", "vdev": "hdc", "file": "rel.iso"})
        self.guest("c3")
        self.assertCallFails(BAD_STATE, "vm.cd_eject", {"name": "c3", "vdev": "hdc"})


if __name__ == "__main__":
    vmdtest.main()
