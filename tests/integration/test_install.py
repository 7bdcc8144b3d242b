#!/usr/bin/python3
"""vm.install against a real vmd (sim backend): the installer's definition, the install phase
and the switch to the installed system when the installer powers off or reboots, PV installers
found inside ISO images (built here with xorriso), and every error leaving nothing behind.
Every response and notification is validated against proto/schemas."""

import json
import os
import shutil
import stat
import subprocess

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE, EXISTS, INVALID_PARAMS, IO

INVALID_CONFIG = 4
NOT_SUPPORTED = 12
MIB = 1 << 20


class InstallCase(VmdTestCase):

    def setUp(self):
        super().setUp()
        self.vmlinuz = self.touch("vmlinuz", b"K" * 5000 + os.urandom(3000))
        self.initrd = self.touch("initrd.gz", os.urandom(300000))
        self.disk = os.path.join(self.tmp, "disk.img")

    def make_iso(self, name, files, rock_ridge=True):
        """An ISO 9660 image holding files ({path in the image: bytes})."""
        root = os.path.join(self.tmp, name + ".d")
        for path, data in files.items():
            p = os.path.join(root, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        os.makedirs(root, exist_ok=True)
        iso = os.path.join(self.tmp, name + ".iso")
        cmd = ["xorriso", "-as", "mkisofs", "-quiet", "-o", iso]
        if rock_ridge:
            cmd += ["-R", "-J"]
        subprocess.run(cmd + [root], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return iso

    def debian_iso(self, name="debian"):
        with open(self.vmlinuz, "rb") as k, open(self.initrd, "rb") as i:
            kernel, initrd = k.read(), i.read()
        return self.make_iso(name, {
            "install.amd/xen/vmlinuz": kernel,
            "install.amd/xen/initrd.gz": initrd,
            "install.amd/vmlinuz": b"not the xen one",
            "install.amd/initrd.gz": b"not the xen one",
            "README.txt": b"Debian GNU/Linux\n",
        }), kernel, initrd

    def install(self, name, **params):
        params.setdefault("disk", os.path.join(self.tmp, name + ".img"))
        params.setdefault("disk_size", "64M")
        params.setdefault("memory", 256)
        return self.c.call("vm.install", dict(name=name, **params))

    def fails(self, code, params, **data):
        """vm.install fails with code; its error data holds (at least) data."""
        e = self.assertCallFails(code, "vm.install", params)
        for k, v in data.items():
            self.assertEqual(e.data.get(k), v, "error data %s: %s" % (k, e))
        return e

    def stored(self, name):
        with open(os.path.join(self.d.guests_dir, name + ".json")) as f:
            return json.load(f)

    def install_dir(self, name):
        return os.path.join(self.d.state_dir, "install", name)

    def events_of(self, conn, name, until):
        """vm.event names for guest name, up to and including the event until."""
        out = []
        while True:
            n = conn.wait_notification(lambda n: n["method"] == "vm.event" and
                                       n["params"]["name"] == name)
            out.append((n["params"]["event"], n["params"]["state"]))
            if n["params"]["event"] == until:
                return out

    def assertNothingLeft(self, name, disk=None):
        self.assertCallFails(1, "vm.info", {"name": name})
        self.assertFalse(os.path.exists(os.path.join(self.d.guests_dir, name + ".json")))
        self.assertFalse(os.path.exists(self.install_dir(name)))
        if disk:
            self.assertFalse(os.path.exists(disk), disk)
        tmp = [f for f in os.listdir(self.tmp) if f.endswith(".vmdtmp")]
        self.assertEqual(tmp, [])


class TestHVM(InstallCase):

    def test_install_then_installed(self):
        iso = self.make_iso("any", {"boot/grub/grub.cfg": b"menuentry x {}\n"})
        ev = self.connect()
        ev.call("events.subscribe")
        r = self.install("h1", iso=iso, disk_size="1G", vcpus=2)
        vm = r["vm"]
        self.assertEqual((vm["type"], vm["state"], vm["install_phase"]),
                         ("hvm", "running", "installing"))
        self.assertEqual(r["console"], "serial")
        self.assertIsNone(r["installer"])
        self.assertTrue(r["disk_created"])
        self.assertRegex(r["vnc"], r"^127\.0\.0\.1:[0-9]+$")
        self.assertEqual(vm["vnc"], r["vnc"])
        st = os.stat(r["disk"])
        self.assertEqual(st.st_size, 1 << 30)
        self.assertLess(st.st_blocks * 512, MIB)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        cfg = self.c.call("vm.config", {"name": "h1"})["xlcfg"]
        self.assertIn('boot = "dc"', cfg)
        self.assertIn("vdev=hdc, access=ro, devtype=cdrom, target=%s" % iso, cfg)
        self.assertIn('serial = "pty"', cfg)
        self.assertIn("vnc = 1", cfg)
        self.assertEqual(self.c.call("vm.console", {"name": "h1"})["kind"], "serial")
        self.assertEqual(self.stored("h1")["install"],
                         {"phase": "installing", "start": True, "files": []})
        old = vm["domid"]

        # The installer powers the guest off: cdrom out, boot from disk, running again.
        self.c.call("sim.inject", {"name": "h1", "fault": "poweroff"})
        self.wait_state("h1", "running")
        evs = self.events_of(ev, "h1", "restarted")
        names = [e for e, _ in evs]
        self.assertEqual(names[names.index("install-finished"):],
                         ["install-finished", "installed", "restarted"], evs)
        self.assertIn(("install-finished", "rebooting"), evs)
        self.assertIn(("installed", "rebooting"), evs)
        info = self.info("h1")
        self.assertEqual(info["install_phase"], "installed")
        self.assertNotEqual(info["domid"], old)
        self.assertEqual([d["vdev"] for d in info["disks"]], ["xvda"])
        cfg = self.c.call("vm.config", {"name": "h1"})["xlcfg"]
        self.assertIn('boot = "c"', cfg)
        self.assertNotIn("cdrom", cfg)
        self.assertNotIn(iso, cfg)
        self.assertEqual(self.stored("h1")["install"]["phase"], "installed")
        # From now on a poweroff is a poweroff.
        self.c.call("sim.inject", {"name": "h1", "fault": "poweroff"})
        self.wait_state("h1", "stopped")
        self.assertEqual(self.info("h1")["install_phase"], "installed")

    def test_no_vnc_no_network(self):
        iso = self.make_iso("n", {"a": b"x"})
        r = self.install("h2", iso=iso, vnc=False, network=False)
        self.assertIsNone(r["vnc"])
        self.assertNotIn("vnc", r["vm"])
        self.assertEqual(r["vm"]["vifs"], [])
        r = self.install("h3", iso=iso, bridge="br-inst")
        self.assertEqual([v["bridge"] for v in r["vm"]["vifs"]], ["br-inst"])


class TestPV(InstallCase):

    def test_kernel_initrd_iso_reboot(self):
        iso = self.make_iso("pkgs", {"pool/x.deb": b"x"})
        r = self.install("p1", kernel=self.vmlinuz, initrd=self.initrd, iso=iso,
                         extra="console=hvc0 priority=low")
        self.assertEqual(r["console"], "pv")
        self.assertEqual(r["installer"], {"kernel": self.vmlinuz, "ramdisk": self.initrd,
                                          "source": "given"})
        self.assertIsNone(r["vnc"])
        cfg = self.c.call("vm.config", {"name": "p1"})["xlcfg"]
        self.assertIn('kernel = "%s"' % self.vmlinuz, cfg)
        self.assertIn('extra = "console=hvc0 priority=low"', cfg)
        self.assertIn("vdev=xvdc, access=ro, devtype=cdrom, target=%s" % iso, cfg)
        # An installer that reboots at its end (Debian's does) finishes the install too.
        self.c.call("sim.inject", {"name": "p1", "fault": "reboot"})
        self.wait_state("p1", "running")
        self.assertEqual(self.info("p1")["install_phase"], "installed")
        cfg = self.c.call("vm.config", {"name": "p1"})["xlcfg"]
        self.assertIn('bootloader = "pygrub"', cfg)
        for gone in ("kernel", "ramdisk", "extra", "cdrom", iso):
            self.assertNotIn(gone, cfg)
        # The files that were given are the admin's: vmd deletes nothing of them.
        self.assertTrue(os.path.exists(self.vmlinuz) and os.path.exists(self.initrd))

    def test_no_start(self):
        ev = self.connect()
        ev.call("events.subscribe")
        self.install("p2", kernel=self.vmlinuz, initrd=self.initrd, start=False)
        self.c.call("sim.inject", {"name": "p2", "fault": "poweroff"})
        evs = self.events_of(ev, "p2", "installed")
        names = [e for e, _ in evs]
        self.assertEqual(evs[names.index("install-finished"):],
                         [("install-finished", "stopping"), ("destroyed", "stopped"),
                          ("installed", "stopped")])
        self.assertEqual(self.state("p2"), "stopped")
        self.assertEqual(self.info("p2")["install_phase"], "installed")
        self.assertIn('bootloader = "pygrub"', self.c.call("vm.config", {"name": "p2"})["xlcfg"])
        # started by hand, it boots the installed system
        self.c.call("vm.start", {"name": "p2"})
        self.assertEqual(self.info("p2")["install_phase"], "installed")

    def test_stops_that_are_not_the_installer_finishing(self):
        self.install("p3", kernel=self.vmlinuz, initrd=self.initrd)
        before = self.c.call("vm.config", {"name": "p3"})["xlcfg"]
        # asked through vmd: an ordinary shutdown; the install goes on at the next start
        self.c.call("vm.shutdown", {"name": "p3", "wait": True, "timeout": 30})
        self.assertEqual(self.info("p3")["install_phase"], "installing")
        self.assertEqual(self.c.call("vm.config", {"name": "p3"})["xlcfg"], before)
        self.c.call("vm.start", {"name": "p3"})
        # a crash follows on_crash (destroy), still installing
        self.c.call("sim.inject", {"name": "p3", "fault": "crash"})
        self.wait_state("p3", "stopped")
        self.assertEqual(self.info("p3")["install_phase"], "installing")
        self.c.call("vm.start", {"name": "p3"})
        self.c.call("vm.destroy", {"name": "p3"})
        self.assertEqual(self.info("p3")["install_phase"], "installing")
        self.assertEqual(self.c.call("vm.config", {"name": "p3"})["xlcfg"], before)

    def test_phase_survives_a_daemon_restart(self):
        iso, kernel, _ = self.debian_iso()
        self.install("p4", iso=iso, type="pv")
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        info = self.info("p4")
        self.assertEqual((info["state"], info["install_phase"]), ("running", "installing"))
        with open(os.path.join(self.install_dir("p4"), "vmlinuz"), "rb") as f:
            self.assertEqual(f.read(), kernel)
        self.c.call("sim.inject", {"name": "p4", "fault": "poweroff"})
        self.wait_state("p4", "running")
        self.assertEqual(self.info("p4")["install_phase"], "installed")
        self.assertFalse(os.path.exists(self.install_dir("p4")))


class TestFromISO(InstallCase):

    def test_debian_layout(self):
        iso, kernel, initrd = self.debian_iso()
        r = self.install("d1", iso=iso, type="pv")
        inst = r["installer"]
        self.assertEqual(inst["source"], "debian-xen")
        self.assertEqual(inst["iso_kernel"], "/install.amd/xen/vmlinuz")
        self.assertEqual(inst["iso_ramdisk"], "/install.amd/xen/initrd.gz")
        d = self.install_dir("d1")
        self.assertEqual((inst["kernel"], inst["ramdisk"]),
                         (os.path.join(d, "vmlinuz"), os.path.join(d, "initrd")))
        with open(inst["kernel"], "rb") as f:
            self.assertEqual(f.read(), kernel)
        with open(inst["ramdisk"], "rb") as f:
            self.assertEqual(f.read(), initrd)
        self.assertEqual(stat.S_IMODE(os.stat(inst["kernel"]).st_mode), 0o600)
        self.assertEqual(self.stored("d1")["install"]["files"], [inst["kernel"], inst["ramdisk"]])
        cfg = self.c.call("vm.config", {"name": "d1"})["xlcfg"]
        self.assertIn("vdev=xvdc, access=ro, devtype=cdrom, target=%s" % iso, cfg)
        # done: the extracted files and their directory go
        self.c.call("sim.inject", {"name": "d1", "fault": "poweroff"})
        self.wait_state("d1", "running")
        self.assertEqual(self.info("d1")["install_phase"], "installed")
        self.assertFalse(os.path.exists(d))
        self.assertEqual(self.stored("d1")["install"]["files"], [])

    def test_isolinux_menu(self):
        iso = self.make_iso("menu", {
            "isolinux/isolinux.cfg": b"include txt.cfg\n",
            "isolinux/txt.cfg": b"label install\n  kernel /distro/boot/linux64\n"
                                b"  append vga=788 initrd=/distro/boot/root64.gz quiet\n",
            "distro/boot/linux64": b"L" * 4096,
            "distro/boot/root64.gz": b"R" * 9000,
        })
        r = self.install("d2", iso=iso, type="pv")
        self.assertEqual(r["installer"]["iso_kernel"], "/distro/boot/linux64")
        self.assertEqual(r["installer"]["iso_ramdisk"], "/distro/boot/root64.gz")
        with open(r["installer"]["ramdisk"], "rb") as f:
            self.assertEqual(f.read(), b"R" * 9000)

    def test_no_installer_inside(self):
        iso = self.make_iso("empty", {"README": b"nothing to boot\n"})
        disk = os.path.join(self.tmp, "d3.img")
        e = self.fails(NOT_SUPPORTED, {"name": "d3", "iso": iso, "type": "pv", "disk": disk,
                                       "disk_size": "64M"}, param="iso", path=iso)
        tried = e.data["tried"]
        self.assertTrue(tried[0].startswith("/install.amd/xen/vmlinuz"), tried)
        self.assertIn("install.amd/xen/vmlinuz", e.message)
        self.assertNothingLeft("d3", disk)

    def test_not_an_iso(self):
        junk = self.touch("junk.iso", os.urandom(100000))
        disk = os.path.join(self.tmp, "d4.img")
        self.fails(NOT_SUPPORTED, {"name": "d4", "iso": junk, "type": "pv", "disk": disk,
                                   "disk_size": "64M"}, param="iso", path=junk)
        self.assertNothingLeft("d4", disk)

    def test_given_kernel_overrides_the_iso(self):
        iso, _, _ = self.debian_iso()
        r = self.install("d5", iso=iso, kernel=self.vmlinuz, initrd=self.initrd)
        self.assertEqual(r["installer"]["source"], "given")
        self.assertFalse(os.path.exists(self.install_dir("d5")))

    def test_remove_during_install(self):
        iso, _, _ = self.debian_iso()
        r = self.install("d6", iso=iso, type="pv")
        self.c.call("vm.destroy", {"name": "d6"})
        out = self.c.call("vm.remove", {"name": "d6", "delete_disks": True})
        self.assertIn(r["disk"], out["deleted"])
        self.assertNotIn(iso, out["deleted"])
        self.assertTrue(os.path.exists(iso))
        self.assertNothingLeft("d6", r["disk"])


class TestErrors(InstallCase):

    def test_bad_params(self):
        iso = self.make_iso("e", {"a": b"x"})
        base = {"name": "e1", "disk": self.disk, "disk_size": "64M"}
        for extra in ({},                                              # no installer
                      {"kernel": self.vmlinuz},                        # kernel alone
                      {"initrd": self.initrd, "iso": iso},             # initrd alone
                      {"iso": iso, "type": "pvh"},
                      {"iso": iso, "type": "xen"},
                      {"kernel": self.vmlinuz, "initrd": self.initrd, "type": "hvm"},
                      {"iso": iso, "extra": "quiet"},                  # extra with hvm
                      {"kernel": self.vmlinuz, "initrd": self.initrd, "vnc": True},
                      {"iso": "relative.iso"},
                      {"iso": iso, "disk": "disk.img"},
                      {"iso": iso, "bridge": "xenbr0", "network": False},
                      {"iso": iso, "memory": 0},
                      {"iso": iso, "memory": "1G"},
                      {"iso": iso, "colour": "blue"},
                      {"iso": iso, "name": "../etc"},
                      {"iso": iso, "name": "a/b"}):
            p = dict(base, **extra)
            self.assertCallFails(INVALID_PARAMS, "vm.install", p)
        p = dict(base, iso=iso)
        del p["disk_size"], p["disk"]
        self.assertCallFails(INVALID_PARAMS, "vm.install", p)
        for bad in ("0", "1.5G", "lots", "1M", "15M"):
            e = self.fails(INVALID_PARAMS, dict(base, iso=iso, disk_size=bad), param="disk_size")
        self.assertIn("too small", e.message)
        # out of the config's range: the config's own error
        self.assertCallFails(INVALID_CONFIG, "vm.install", dict(base, iso=iso, vcpus=100000))
        self.assertCallFails(INVALID_CONFIG, "vm.install", dict(base, iso=iso, bridge="a b"))
        self.assertNothingLeft("e1", self.disk)

    def test_missing_and_unreadable_inputs(self):
        iso = self.make_iso("e", {"a": b"x"})
        missing = os.path.join(self.tmp, "missing.iso")
        for params, param, path in (
                ({"iso": missing}, "iso", missing),
                ({"iso": self.tmp}, "iso", self.tmp),                    # a directory
                ({"iso": self.touch("empty.iso")}, "iso", os.path.join(self.tmp, "empty.iso")),
                ({"kernel": missing, "initrd": self.initrd}, "kernel", missing),
                ({"kernel": self.vmlinuz, "initrd": missing, "iso": iso}, "initrd", missing),
                ({"iso": missing, "type": "pv"}, "iso", missing)):
            p = dict({"name": "e2", "disk": self.disk, "disk_size": "64M"}, **params)
            e = self.fails(IO, p, param=param, path=path)
            self.assertIn(path, e.message)
            self.assertNothingLeft("e2", self.disk)

    def test_disk_exists_or_too_small(self):
        iso = self.make_iso("e", {"a": b"x"})
        with open(self.disk, "wb") as f:
            f.write(b"precious")
        self.fails(EXISTS, {"name": "e3", "iso": iso, "disk": self.disk, "disk_size": "64M"},
                   name="e3", path=self.disk)
        with open(self.disk, "rb") as f:
            self.assertEqual(f.read(), b"precious")  # never overwritten
        # without disk_size: the existing disk is installed onto, if big enough
        self.fails(INVALID_PARAMS, {"name": "e3", "iso": iso, "disk": self.disk}, param="disk")
        os.truncate(self.disk, 32 * MIB)
        r = self.c.call("vm.install", {"name": "e3", "iso": iso, "disk": self.disk})
        self.assertFalse(r["disk_created"])
        self.c.call("vm.destroy", {"name": "e3"})
        out = self.c.call("vm.remove", {"name": "e3", "delete_disks": True})
        self.assertEqual(out["kept"], [self.disk, iso])  # not vmd's to delete
        self.assertTrue(os.path.exists(self.disk))
        missing = os.path.join(self.tmp, "nodisk.img")
        self.fails(IO, {"name": "e3", "iso": iso, "disk": missing}, param="disk", path=missing)
        nodir = os.path.join(self.tmp, "nodir", "x.img")
        self.assertCallFails(IO, "vm.install", {"name": "e3", "iso": iso, "disk": nodir,
                                                "disk_size": "64M"})
        self.assertNothingLeft("e3")

    def test_name_taken(self):
        iso = self.make_iso("e", {"a": b"x"})
        self.define("e4")
        self.fails(EXISTS, {"name": "e4", "iso": iso, "disk": self.disk, "disk_size": "64M"},
                   name="e4")
        self.assertFalse(os.path.exists(self.disk))
        # two installs of one name at once: one wins, the other leaves nothing
        c2 = self.connect()
        p = {"name": "e5", "iso": iso, "disk": self.disk, "disk_size": "64M"}
        i1 = self.c.request("vm.install", p)
        i2 = c2.request("vm.install", dict(p, disk=self.disk + "2"))
        r1, r2 = self.c.response(i1), c2.response(i2)
        ok = [r for r in (r1, r2) if "result" in r]
        bad = [r for r in (r1, r2) if "error" in r]
        self.assertEqual((len(ok), len(bad)), (1, 1), (r1, r2))
        self.assertEqual(bad[0]["error"]["code"], EXISTS)
        disks = [f for f in os.listdir(self.tmp) if f.startswith("disk.img")]
        self.assertEqual(disks, [os.path.basename(ok[0]["result"]["disk"])])

    def test_failed_start_leaves_nothing(self):
        iso, _, _ = self.debian_iso()
        self.c.call("sim.inject", {"fault": "fail-create"})
        self.assertCallFails(6, "vm.install", {"name": "e6", "iso": iso, "type": "pv",
                                               "disk": self.disk, "disk_size": "64M"})
        self.assertNothingLeft("e6", self.disk)

    def test_too_much_memory(self):
        iso = self.make_iso("e", {"a": b"x"})
        self.assertCallFails(10, "vm.install", {"name": "e7", "iso": iso, "disk": self.disk,
                                                "disk_size": "64M", "memory": 1 << 22})
        self.assertNothingLeft("e7", self.disk)

    def test_busy_guest_is_not_touched(self):
        self.install("e8", kernel=self.vmlinuz, initrd=self.initrd)
        self.assertCallFails(BAD_STATE, "vm.remove", {"name": "e8"})
        self.assertServing()


if __name__ == "__main__":
    vmdtest.main()
