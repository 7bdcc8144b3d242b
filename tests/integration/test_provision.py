#!/usr/bin/python3
"""vm.create with an image against a real vmd (sim backend): the disk made from a raw image
(a copy, grown) and from a qcow2 one (an overlay with the image as backing file, or a copy
grown by qemu-img), read back by qemu-img as the oracle; the NoCloud seed read back by blkid
(what cloud-init asks for LABEL=cidata) and xorriso, its meta-data by PyYAML; the definition
as an ordinary xl.cfg; the seed deleted with the disk by vm.remove delete_disks. Then bad
input of every kind, each refused with nothing left behind. Every response and notification
is validated against proto/schemas."""

import json
import os
import subprocess
import sys
import time

import yaml

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import EXISTS, INVALID_PARAMS, IO, NOT_FOUND

NOT_SUPPORTED = 12
MIB = 1 << 20
USER_DATA = "#cloud-config\nhostname: ignored\nruncmd:\n  - [sh, -c, 'echo done > /m']\n"
VMCTL = None  # --vmctl: vmctl create --image too
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPjT9VmI7A5oLd0L0q1Q admin@example"


def qemu_img_info(path):
    out = subprocess.run(["qemu-img", "info", "--output=json", "-U", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


class ProvisionCase(VmdTestCase):

    def daemon_kwargs(self):
        self.images = os.path.join(self.tmp, "images")
        os.mkdir(self.images)
        return {"conf": "storage_roots = %s\n" % self.images}

    def raw_image(self, name="cloud.raw", size=8 * MIB):
        """A sparse raw disk image with an MBR (the boot signature at 510) and some data."""
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.truncate(size)
            f.seek(446)
            f.write(bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0, 0, 8, 0, 0, 0, 0x38, 0, 0]))
            f.seek(510)
            f.write(b"\x55\xaa")
            f.seek(2 * MIB)
            f.write(os.urandom(64 * 1024))
        return p

    def qcow2_image(self, name="cloud.qcow2", size="32M"):
        p = os.path.join(self.tmp, name)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", p, size], check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", p], check=True,
                       stdout=subprocess.DEVNULL)
        return p

    def create(self, name, image, **params):
        params.setdefault("user_data", USER_DATA)
        params.setdefault("memory", 256)
        return self.c.call("vm.create", dict(name=name, image=image, **params))

    def seed_file(self, iso, name):
        out = os.path.join(self.tmp, "x-" + name)
        if os.path.exists(out):
            os.unlink(out)
        subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/" + name,
                        out], check=True, capture_output=True)
        with open(out) as f:
            return f.read()

    def leftovers(self):
        """What is in the storage root and the guests' store besides what the test made."""
        return (sorted(os.listdir(self.images)),
                sorted(f for f in os.listdir(self.d.guests_dir) if not f.startswith(".")),
                [v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]])


class TestProvision(ProvisionCase):

    def test_raw_image(self):
        img = self.raw_image()
        with open(img, "rb") as f:
            original = f.read()
        r = self.create("web", img, disk_size="16M", ssh_keys=[KEY], vcpus=2)
        disk, seed = r["disk"], r["seed"]
        self.assertEqual(r["vm"]["state"], "running")
        self.assertEqual(disk["path"], os.path.join(self.images, "web.img"))
        self.assertEqual((disk["image"], disk["size"]), (img, 16 * MIB))
        self.assertIn(disk["method"], ("reflink", "sparse", "readwrite"))
        self.assertEqual(seed["path"], os.path.join(self.images, "web-cidata.iso"))
        # the disk: the image's bytes, then zeros to 16 MiB (qemu-img compares)
        self.assertEqual(os.path.getsize(disk["path"]), 16 * MIB)
        with open(disk["path"], "rb") as f:
            self.assertEqual(f.read(len(original)), original)
        info = qemu_img_info(disk["path"])
        self.assertEqual((info["format"], info["virtual-size"]), ("raw", 16 * MIB))
        self.assertEqual(os.stat(disk["path"]).st_mode & 0o777, 0o600)
        with open(img, "rb") as f:
            self.assertEqual(f.read(), original)  # the image untouched
        # the seed: what cloud-init's NoCloud looks for
        blk = subprocess.run(["blkid", "-p", "-o", "export", seed["path"]], check=True,
                             capture_output=True, text=True).stdout
        self.assertIn("LABEL=cidata\n", blk)
        self.assertIn("TYPE=iso9660\n", blk)
        self.assertEqual(self.seed_file(seed["path"], "user-data"), USER_DATA)
        meta = yaml.safe_load(self.seed_file(seed["path"], "meta-data"))
        self.assertEqual(meta, {"instance-id": seed["instance_id"], "local-hostname": "web",
                                "public-keys": [KEY]})
        # an ordinary xl.cfg: the disk, the seed as a read-only cdrom, pygrub
        cfg = self.c.call("vm.config", {"name": "web"})
        text = cfg["xlcfg"]
        self.assertIn('bootloader = "pygrub"', text)
        self.assertIn("vdev=xvda, access=rw, target=%s" % disk["path"], text)
        self.assertRegex(text, r"vdev=xvdc, access=ro, devtype=cdrom, target=%s" %
                         seed["path"])
        self.assertIn("vcpus = 2", text)
        # both files belong to the guest: vm.remove delete_disks takes them
        self.c.call("vm.destroy", {"name": "web"})
        r = self.c.call("vm.remove", {"name": "web", "delete_disks": True})
        self.assertEqual(sorted(r["deleted"]), sorted([disk["path"], seed["path"]]))
        self.assertEqual(self.leftovers(), ([], [], []))

    def test_seed_attached_at_every_boot(self):
        r = self.create("db", self.raw_image())
        for _ in range(2):
            self.c.call("vm.destroy", {"name": "db"})
            self.c.call("vm.start", {"name": "db"})
            disks = self.c.call("vm.info", {"name": "db"})["disks"]
            self.assertIn(r["seed"]["path"], json.dumps(disks))
        meta = yaml.safe_load(self.seed_file(r["seed"]["path"], "meta-data"))
        self.assertEqual(meta["instance-id"], r["seed"]["instance_id"])  # the same instance

    def test_qcow2_overlay(self):
        base = self.qcow2_image()
        r = self.create("ov", base, overlay=True, disk_size="64M", type="pvh")
        path = r["disk"]["path"]
        self.assertEqual((path, r["disk"]["method"]),
                         (os.path.join(self.images, "ov.qcow2"), "overlay"))
        info = qemu_img_info(path)
        self.assertEqual((info["format"], info["virtual-size"]), ("qcow2", 64 * MIB))
        self.assertEqual(info["backing-filename"], base)
        self.assertEqual(info.get("backing-filename-format"), "qcow2")
        # the overlay reads the image's data
        subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-U", "-c", "read -P 0x5a 1M 64k", path],
                       check=True, stdout=subprocess.DEVNULL)
        text = self.c.call("vm.config", {"name": "ov"})["xlcfg"]
        self.assertIn('type = "pvh"', text)
        self.assertIn("format=qcow2, vdev=xvda", text)

    def test_qcow2_copy_grown(self):
        base = self.qcow2_image()
        r = self.create("cp", base, disk_size="48M", type="hvm")
        info = qemu_img_info(r["disk"]["path"])
        self.assertEqual((info["format"], info["virtual-size"]), ("qcow2", 48 * MIB))
        self.assertNotIn("backing-filename", info)
        self.assertEqual(qemu_img_info(base)["virtual-size"], 32 * MIB)
        subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-U", "-c", "read -P 0x5a 1M 64k",
                        r["disk"]["path"]], check=True, stdout=subprocess.DEVNULL)
        text = self.c.call("vm.config", {"name": "cp"})["xlcfg"]
        self.assertIn("vdev=hdc, access=ro, devtype=cdrom", text)
        self.assertIn('boot = "c"', text)

    def test_clone_gets_its_own_seed(self):
        """vm.clone: the source's user-data and network-config in a new seed with a new
        instance-id and the clone's name as hostname; the rest of the meta-data kept."""
        net = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"
        r = self.create("src", self.raw_image(), ssh_keys=[KEY], network_config=net)
        self.c.call("vm.destroy", {"name": "src"})
        c = self.c.call("vm.clone", {"source": "src", "name": "dst"})
        mine = os.path.join(self.images, "dst-cidata.iso")
        by_target = {x["target"]: x for x in c["copied"]}
        self.assertEqual(by_target[mine]["method"], "seed")
        self.assertEqual(by_target[mine]["source"], r["seed"]["path"])
        self.assertIn(os.path.join(self.images, "dst.img"), by_target)
        self.assertEqual(c["shared"], [])
        meta = yaml.safe_load(self.seed_file(mine, "meta-data"))
        self.assertEqual(meta["local-hostname"], "dst")
        self.assertEqual(meta["public-keys"], [KEY])
        self.assertNotEqual(meta["instance-id"], r["seed"]["instance_id"])
        self.assertRegex(meta["instance-id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4")
        self.assertEqual(self.seed_file(mine, "user-data"), USER_DATA)
        self.assertEqual(self.seed_file(mine, "network-config"), net)
        # the source's seed is untouched, and each guest owns its own
        src_meta = yaml.safe_load(self.seed_file(r["seed"]["path"], "meta-data"))
        self.assertEqual(src_meta["instance-id"], r["seed"]["instance_id"])
        self.assertIn("target=%s" % mine, self.c.call("vm.config", {"name": "dst"})["xlcfg"])
        d = self.c.call("vm.remove", {"name": "dst", "delete_disks": True})
        self.assertIn(mine, d["deleted"])
        self.assertTrue(os.path.exists(r["seed"]["path"]))

    def test_given_meta_data_and_network_config(self):
        meta = "instance-id: i-given\nlocal-hostname: other\n"
        net = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"
        r = self.create("m", self.raw_image(), meta_data=meta, network_config=net,
                        start=False)
        self.assertEqual(r["vm"]["state"], "stopped")
        self.assertEqual(self.seed_file(r["seed"]["path"], "meta-data"), meta)
        self.assertEqual(self.seed_file(r["seed"]["path"], "network-config"), net)


class TestVmctlCreateImage(ProvisionCase):
    """vmctl create NAME --image FILE --cloud-init FILE --ssh-key FILE...: the files read by
    vmctl and sent as their text; a .pub per --ssh-key, an authorized_keys file's lines."""

    def vmctl(self, *args):
        if not VMCTL:
            self.skipTest("no --vmctl")
        return subprocess.run([VMCTL, "-s", self.d.socket] + list(args), capture_output=True,
                              text=True, timeout=vmdtest.WAIT)

    def test_create(self):
        ud = self.touch("user-data", USER_DATA.encode())
        k1 = self.touch("k1.pub", (KEY + "\n").encode())
        k2 = self.touch("authorized_keys", b"# two keys\nssh-rsa AAAAB3Nza one\n\n"
                        b"ssh-ed25519 AAAAC3Nza two\n")
        net = self.touch("net.yaml", b"version: 2\n")
        img = self.raw_image()
        p = self.vmctl("create", "web", "--image", img, "--cloud-init", ud, "--ssh-key", k1,
                       "--ssh-key", k2, "--disk-size", "12M", "--memory", "128",
                       "--network-config", net, "--bridge", "xenbr0")
        self.assertEqual(p.returncode, 0, p.stderr)
        seed = os.path.join(self.images, "web-cidata.iso")
        self.assertIn("seed %s (instance-id " % seed, p.stdout)
        self.assertRegex(p.stdout, r"created web \(domid \d+\)")
        meta = yaml.safe_load(self.seed_file(seed, "meta-data"))
        self.assertEqual(meta["public-keys"], [KEY, "ssh-rsa AAAAB3Nza one",
                                               "ssh-ed25519 AAAAC3Nza two"])
        self.assertEqual(self.seed_file(seed, "network-config"), "version: 2\n")
        self.assertEqual(os.path.getsize(os.path.join(self.images, "web.img")), 12 * MIB)
        text = self.c.call("vm.config", {"name": "web"})["xlcfg"]
        self.assertIn("bridge=xenbr0", text)
        self.assertIn("memory = 128", text)
        # the daemon's refusal is exit status 2, with its message
        p = self.vmctl("create", "web2", "--image", self.touch("junk", b"x" * 4096),
                       "--cloud-init", ud)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is not a disk image", p.stderr)

    def test_images(self):
        q = self.qcow2_image()
        p = self.vmctl("image", "add", "deb12", q)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"format: +qcow2")
        ud = self.touch("user-data", USER_DATA.encode())
        p = self.vmctl("create", "web", "--image", "deb12", "--overlay", "--cloud-init", ud)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.vmctl("image", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^NAME +FORMAT +SIZE +VIRTUAL +USED BY\n")
        self.assertRegex(p.stdout, r"\ndeb12 +qcow2 .* 32 MiB +web\n")
        p = self.vmctl("image", "remove", "deb12")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("in use by 1 guest", p.stderr)

    def test_usage(self):
        ud = self.touch("user-data", USER_DATA.encode())
        for args, msg in ((["x", "--cloud-init", ud], "--cloud-init goes with --image"),
                          (["x", "--image", self.raw_image()], "needs --cloud-init"),
                          (["x", "--image", "i", "--cloud-init", ud, "--dry-run"],
                           "--dry-run is for a config FILE"),
                          (["x", "--image", "i", "--cloud-init", ud, "--ssh-key",
                            self.touch("none.pub", b"# nothing\n\n")], "no public key in it"),
                          (["x", "--image", "i", "--cloud-init", "/nonexistent"],
                           "/nonexistent")):
            p = self.vmctl("create", *args)
            self.assertEqual(p.returncode, 1, (args, p.stderr))
            self.assertIn(msg, p.stderr)
        self.assertEqual(self.leftovers(), ([], [], []))


class TestImages(ProvisionCase):
    """image.add, image.list, image.remove: named images under the storage root's templates/,
    that vm.create finds by name; one in use by a qcow2 overlay cannot be removed."""

    def test_named_images(self):
        raw, q = self.raw_image(), self.qcow2_image()
        a = self.c.call("image.add", {"name": "deb12", "path": q})
        tdir = os.path.join(self.images, "templates")
        self.assertEqual((a["name"], a["format"], a["path"], a["virtual_size"], a["used_by"]),
                         ("deb12", "qcow2", os.path.join(tdir, "deb12.qcow2"), 32 * MIB, []))
        self.assertIn(a["method"], ("reflink", "sparse", "readwrite"))
        self.assertEqual(qemu_img_info(a["path"])["virtual-size"], 32 * MIB)
        b = self.c.call("image.add", {"name": "alp", "path": raw})
        self.assertEqual((b["format"], b["size"]), ("raw", 8 * MIB))
        self.assertEqual([i["name"] for i in self.c.call("image.list")["images"]],
                         ["alp", "deb12"])
        # by name: an overlay of the template, which is then in use
        r = self.create("web", "deb12", overlay=True, disk_size="40M")
        self.assertEqual(r["disk"]["image"], a["path"])
        self.assertEqual(qemu_img_info(r["disk"]["path"])["backing-filename"], a["path"])
        r2 = self.create("db", "alp")
        self.assertEqual(r2["disk"]["image"], b["path"])
        listed = {i["name"]: i for i in self.c.call("image.list")["images"]}
        self.assertEqual(listed["deb12"]["used_by"], ["web"])
        self.assertEqual(listed["alp"]["used_by"], [])  # a copy does not use it
        e = self.assertCallFails(3, "image.remove", {"name": "deb12"})
        self.assertEqual(e.data["guests"], ["web"])
        self.assertTrue(os.path.exists(a["path"]))
        self.assertEqual(self.c.call("image.remove", {"name": "alp"})["removed"], True)
        self.assertFalse(os.path.exists(b["path"]))
        self.c.call("vm.destroy", {"name": "web"})
        self.c.call("vm.remove", {"name": "web", "delete_disks": True})
        self.c.call("image.remove", {"name": "deb12"})
        self.assertEqual(self.c.call("image.list")["images"], [])

    def test_refused(self):
        q = self.qcow2_image()
        self.c.call("image.add", {"name": "one", "path": q})
        tdir = os.path.join(self.images, "templates")
        before = sorted(os.listdir(tdir))
        self.assertCallFails(EXISTS, "image.add", {"name": "one", "path": self.raw_image()})
        e = self.assertCallFails(INVALID_PARAMS, "image.add",
                                 {"name": "two", "path": self.touch("rnd", os.urandom(65536))})
        self.assertIn("is not a disk image", e.message)
        self.assertCallFails(IO, "image.add", {"name": "two", "path": "/nonexistent.img"})
        cut = self.qcow2_image("cut.qcow2")
        with open(cut, "r+b") as f:
            f.truncate(200 * 1024)
        e = self.assertCallFails(INVALID_PARAMS, "image.add", {"name": "two", "path": cut})
        self.assertIn("not a whole qcow2 image", e.message)
        over = os.path.join(self.tmp, "over.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", q,
                        over], check=True)
        self.assertCallFails(NOT_SUPPORTED, "image.add", {"name": "two", "path": over})
        self.assertEqual(sorted(os.listdir(tdir)), before)  # no temporary file left
        self.assertCallFails(NOT_FOUND, "image.remove", {"name": "none"})
        e = self.assertCallFails(NOT_FOUND, "vm.create", {"name": "x", "image": "none",
                                                           "user_data": USER_DATA})
        self.assertIn("no image named 'none'", e.message)
        self.assertEqual(self.leftovers()[1:], ([], []))


class TestProvisionKilled(ProvisionCase):
    """vmd killed with SIGKILL in the middle of the copy (at 1 MiB/s, --copy-rate): the next
    start finds the journal and removes the temporary disk; no definition, no seed."""

    def daemon_kwargs(self):
        kw = super().daemon_kwargs()
        kw["extra"] = ["--copy-rate", "1"]
        return kw

    def test_kill9_during_copy_leaves_nothing(self):
        img = os.path.join(self.tmp, "busy.raw")
        with open(img, "wb") as f:
            f.write(b"\0" * 510 + b"\x55\xaa")
            f.write(os.urandom(16 * MIB))
        self.c.request("vm.create", {"name": "k", "image": img, "user_data": USER_DATA})
        self.c.wait_notification(lambda n: n["method"] == "job.progress", timeout=10)
        time.sleep(1)
        self.assertTrue(any(f.endswith(".vmdtmp") for f in os.listdir(self.images)))
        self.d.kill9()
        self.d.start()
        self.c = self.connect()
        self.assertEqual(self.leftovers(), ([], [], []))


class TestProvisionRefusals(ProvisionCase):

    def refused(self, code, params, **data):
        before = self.leftovers()
        p = dict(name="bad", user_data=USER_DATA)
        p.update(params)
        e = self.assertCallFails(code, "vm.create", p)
        for k, v in data.items():
            self.assertEqual(e.data.get(k), v, "error data %s: %s" % (k, e))
        self.assertEqual(self.leftovers(), before)
        return e

    def test_not_images(self):
        rnd = self.touch("random.img", os.urandom(4 * MIB))
        e = self.refused(INVALID_PARAMS, {"image": rnd}, param="image")
        self.assertIn("is not a disk image", e.message)
        self.refused(INVALID_PARAMS, {"image": self.touch("empty.img")}, param="image")
        # a truncated qcow2: its header is whole, its tables are not there
        q = self.qcow2_image("cut.qcow2")
        with open(q, "r+b") as f:
            f.truncate(200 * 1024)
        e = self.refused(INVALID_PARAMS, {"image": q}, param="image")
        self.assertIn("not a whole qcow2 image", e.message)
        e = self.refused(IO, {"image": os.path.join(self.tmp, "none.img")}, param="image")
        self.assertIn("No such file", e.message)
        self.refused(INVALID_PARAMS, {"image": self.tmp}, param="image")  # a directory
        # an overlay of a raw image
        self.refused(INVALID_PARAMS, {"image": self.raw_image(), "overlay": True},
                     param="overlay")

    def test_bad_user_data_and_seed(self):
        img = self.raw_image()
        e = self.refused(INVALID_PARAMS, {"image": img, "user_data": "hostname: x\n"},
                         param="user_data")
        self.assertIn("cloud-init would ignore it", e.message)
        big = "#cloud-config\n#" + "x" * (300 << 10)
        e = self.refused(INVALID_PARAMS, {"image": img, "user_data": big}, param="user_data")
        self.assertIn("not a sane cloud-init seed", e.message)
        e = self.refused(INVALID_PARAMS, {"image": img, "ssh_keys": ["not a key"]},
                         param="ssh_keys")
        self.assertIn("not an OpenSSH public key", e.message)
        self.refused(INVALID_PARAMS, {"image": img, "ssh_keys": [KEY],
                                      "meta_data": "instance-id: x\n"})
        self.refused(INVALID_PARAMS, {"image": img, "disk_size": "1M"}, param="disk_size")
        self.refused(INVALID_PARAMS, {"image": img, "disk_size": "lots"}, param="disk_size")
        self.refused(NOT_FOUND, {"image": img, "network": "nowhere"}, network="nowhere")

    def test_params_that_do_not_go_together(self):
        img = self.raw_image()
        self.refused(INVALID_PARAMS, {"image": img, "config": {"name": "x"}})
        self.refused(INVALID_PARAMS, {"image": "sub/relative.img"})
        self.refused(INVALID_PARAMS, {"image": img, "type": "arm"})
        self.refused(INVALID_PARAMS, {"image": img, "network": "a", "bridge": "b"})
        # a config says it all: no image-only params with it
        e = self.assertCallFails(INVALID_PARAMS, "vm.create",
                                 {"config": self.config("c"), "user_data": USER_DATA})
        self.assertIn("only vm.create with 'image'", e.message)
        self.assertEqual(self.leftovers(), ([], [], []))

    def test_existing_files_never_replaced(self):
        img = self.raw_image()
        taken = os.path.join(self.images, "bad-cidata.iso")
        with open(taken, "w") as f:
            f.write("mine")
        e = self.refused(EXISTS, {"image": img})
        self.assertIn("already exists", e.message)
        with open(taken) as f:
            self.assertEqual(f.read(), "mine")


if __name__ == "__main__":
    if "--vmctl" in sys.argv:
        i = sys.argv.index("--vmctl")
        VMCTL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    vmdtest.main()
