#!/usr/bin/python3
"""network.create / list / info / remove for real: each test runs vmd (sim backend) in a
network namespace of its own, where it makes real bridges (ip), nftables tables (nft) and
dnsmasq; the checks read the namespace with ip, nft and /proc. A "guest" is a veth in a
second namespace plugged into the bridge: busybox's udhcpc gets its lease from vmd's
dnsmasq, and its packets go out through the NAT to a third namespace that plays the world
beyond dom0. Needs root, iproute2, nftables, dnsmasq-base and busybox; skipped otherwise.

    /usr/bin/python3 tests/integration/test_network.py --vmd build/daemon/vmd \\
        [--vmctl build/client/vmctl] [-v] [Class.test]
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

import vmdtest
from vmdtest import VmdTestCase, WAIT

NOT_FOUND, EXISTS, BAD_STATE, BACKEND = 1, 2, 3, 6
INVALID_PARAMS = -32602
TOOLS = ("ip", "nft", "dnsmasq", "busybox")
MISSING = [t for t in TOOLS if not shutil.which(t)]
VMCTL = None  # --vmctl: vmctl addresses too


def running(pid):
    """Whether pid runs: a zombie (killed, its parent yet to reap it) does not."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def sh(*argv, check=True, timeout=WAIT):
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


@unittest.skipIf(os.geteuid() != 0 or MISSING,
                 "needs root and %s" % (", ".join(MISSING) or "nothing"))
class TestNetwork(VmdTestCase):

    def setUp(self):
        self.ns = "vmdt-%d-%s" % (os.getpid(), self.id().rsplit(".", 1)[-1][-12:])
        self.others = []
        sh("ip", "netns", "add", self.ns)
        self.inns("ip", "link", "set", "lo", "up")
        super().setUp()

    def daemon_kwargs(self):
        kw = super().daemon_kwargs()
        kw["prefix"] = ["ip", "netns", "exec", self.ns]
        return kw

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            for ns in [self.ns] + self.others:
                # dnsmasq (vmd leaves networks up when it stops) and anything else in it
                for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                    try:
                        os.kill(int(pid), 9)
                    except OSError:
                        pass
                sh("ip", "netns", "del", ns, check=False)

    def inns(self, *argv, ns=None, check=True):
        return sh("ip", "netns", "exec", ns or self.ns, *argv, check=check)

    def links(self):
        return {l["ifname"]: l for l in json.loads(self.inns("ip", "-j", "-d", "link").stdout)}

    def addrs(self, dev):
        out = json.loads(self.inns("ip", "-j", "addr", "show", "dev", dev).stdout)
        return ["%s/%d" % (a["local"], a["prefixlen"]) for a in out[0]["addr_info"]
                if a["family"] == "inet"]

    def tables(self):
        out = self.inns("nft", "-j", "list", "tables").stdout
        return sorted(t["table"]["name"] for t in json.loads(out)["nftables"] if "table" in t)

    def net_files(self):
        d = os.path.join(self.d.state_dir, "networks")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def dnsmasq_pid(self, name):
        try:
            with open(os.path.join(self.d.run_dir, "networks", name + ".pid")) as f:
                pid = int(f.read())
            with open("/proc/%d/comm" % pid) as f:
                return pid if f.read().strip() == "dnsmasq" and running(pid) else None
        except (OSError, ValueError):
            return None

    def guest_ns(self, bridge, tag, mac=None):
        """A namespace with a veth g0 (of that MAC) whose peer is a port of bridge; its name
        and MAC."""
        ns = "%s-%s" % (self.ns[:9], tag)
        sh("ip", "netns", "add", ns)
        self.others.append(ns)
        host = "v%s%d" % (tag, os.getpid() % 10000)
        self.inns("ip", "link", "add", host, "type", "veth", "peer", "name", "g0")
        if mac:
            self.inns("ip", "link", "set", "g0", "address", mac)
        self.inns("ip", "link", "set", "g0", "netns", ns)
        self.inns("ip", "link", "set", host, "master", bridge, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "g0", "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        mac = json.loads(sh("ip", "netns", "exec", ns, "ip", "-j", "link", "show",
                            "g0").stdout)[0]["address"]
        return ns, mac

    def dhcp(self, ns):
        """busybox udhcpc on g0: the address it was offered and took (not configured)."""
        p = sh("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "g0", "-n", "-q", "-f",
               "-t", "10", "-T", "1", "-s", "/bin/true", check=False)
        for line in (p.stdout + p.stderr).splitlines():
            if "lease of" in line and "obtained" in line:
                return line.split("lease of")[1].split()[0]
        self.fail("udhcpc got no lease:\n%s%s" % (p.stdout, p.stderr))

    # ---- the tests -------------------------------------------------------------------

    def test_nat_default(self):
        n = self.c.call("network.create", {"name": "default"})
        self.assertEqual((n["mode"], n["bridge"], n["subnet"], n["gateway"], n["up"],
                          n["guests"]),
                         ("nat", "vmdbr0", "192.168.150.0/24", "192.168.150.1", True, []))
        links = self.links()
        self.assertEqual(links["vmdbr0"]["linkinfo"]["info_kind"], "bridge")
        self.assertIn("UP", links["vmdbr0"]["flags"])
        self.assertEqual(self.addrs("vmdbr0"), ["192.168.150.1/24"])
        self.assertEqual(self.tables(), ["vmd-default"])
        rules = self.inns("nft", "list", "table", "ip", "vmd-default").stdout
        self.assertIn("ip saddr 192.168.150.0/24 ip daddr != 192.168.150.0/24 oifname != "
                      "\"vmdbr0\" masquerade", rules)
        self.assertEqual(self.inns("cat", "/proc/sys/net/ipv4/ip_forward").stdout, "1\n")
        pid = self.dnsmasq_pid("default")
        self.assertEqual(n["dnsmasq"], pid)
        # dnsmasq runs in vmd's namespace, serving the bridge
        self.assertEqual(os.readlink("/proc/%d/ns/net" % pid),
                         os.readlink("/proc/%d/ns/net" % self.d.proc.pid))
        self.assertEqual([x["name"] for x in self.c.call("network.list")["networks"]],
                         ["default"])
        self.assertCallFails(EXISTS, "network.create", {"name": "default"})

        # a guest gets an address from it, which network.info shows as dnsmasq's lease
        gns, mac = self.guest_ns("vmdbr0", "g")
        ip = self.dhcp(gns)
        self.assertTrue(ip.startswith("192.168.150."), ip)
        leases = self.c.call("network.info", {"name": "default"})["leases"]
        self.assertIn((mac, ip), [(l["mac"], l["address"]) for l in leases])

        # NAT: out to a world beyond (a namespace behind a veth of vmd's) and back
        out = "%s-o" % self.ns[:9]
        sh("ip", "netns", "add", out)
        self.others.append(out)
        self.inns("ip", "link", "add", "up0", "type", "veth", "peer", "name", "wan0")
        self.inns("ip", "link", "set", "wan0", "netns", out)
        self.inns("ip", "addr", "add", "203.0.113.1/24", "dev", "up0")
        self.inns("ip", "link", "set", "up0", "up")
        sh("ip", "netns", "exec", out, "ip", "addr", "add", "203.0.113.2/24", "dev", "wan0")
        sh("ip", "netns", "exec", out, "ip", "link", "set", "wan0", "up")
        sh("ip", "netns", "exec", gns, "ip", "addr", "add", ip + "/24", "dev", "g0")
        sh("ip", "netns", "exec", gns, "ip", "route", "add", "default", "via", "192.168.150.1")
        # the world has no route to the guests' subnet: only the masquerade brings it back
        p = sh("ip", "netns", "exec", gns, "busybox", "ping", "-c", "2", "-W", "2", "203.0.113.2",
               check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # and with a route to them, the world still cannot reach a guest
        sh("ip", "netns", "exec", out, "ip", "route", "add", "192.168.150.0/24", "via",
           "203.0.113.1")
        p = sh("ip", "netns", "exec", out, "busybox", "ping", "-c", "2", "-W", "1", ip, check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)

    def test_isolated_and_bridge(self):
        n = self.c.call("network.create", {"name": "lab", "mode": "isolated",
                                           "subnet": "10.77.0.0/24", "dhcp": False})
        self.assertEqual((n["bridge"], n["dhcp"], "dnsmasq" in n), ("lab", False, False))
        self.assertEqual(self.addrs("lab"), ["10.77.0.1/24"])
        rules = self.inns("nft", "list", "table", "ip", "vmd-lab").stdout
        self.assertIn('iifname "lab" drop', rules)
        self.assertNotIn("masquerade", rules)
        self.assertIsNone(self.dnsmasq_pid("lab"))
        self.inns("ip", "link", "add", "eth9", "type", "veth", "peer", "name", "eth10")
        n = self.c.call("network.create", {"name": "lan", "mode": "bridge",
                                           "interface": "eth9"})
        self.assertEqual((n["mode"], n["interface"], n["up"]), ("bridge", "eth9", True))
        self.assertEqual(self.links()["eth9"].get("master"), "lan")
        self.assertEqual(self.tables(), ["vmd-lab"])  # a bridge network has no rules
        self.c.call("network.remove", {"name": "lan"})
        self.assertNotIn("lan", self.links())
        self.assertIn("eth9", self.links())  # the host's interface stays

    def test_bad_input_makes_nothing(self):
        self.inns("ip", "link", "add", "dummy5", "type", "veth", "peer", "name", "dummy6")
        self.inns("ip", "addr", "add", "10.5.0.1/16", "dev", "dummy5")
        self.c.call("network.create", {"name": "one", "subnet": "10.60.0.0/24"})
        before = (sorted(self.links()), self.tables(), self.net_files())
        cases = [
            ({"name": "a/b"}, INVALID_PARAMS, "cannot name a network"),
            ({"name": "all"}, INVALID_PARAMS, "cannot name a network"),
            ({"name": "x" * 16}, INVALID_PARAMS, "cannot name a network"),
            ({"name": ""}, INVALID_PARAMS, "cannot name a network"),
            ({"name": "n1", "subnet": "10.1.2.3/24"}, INVALID_PARAMS, "not a subnet: 10.1.2.0/24"),
            ({"name": "n1", "subnet": "300.1.2.0/24"}, INVALID_PARAMS, "is not a subnet"),
            ({"name": "n1", "subnet": "10.1.2.0"}, INVALID_PARAMS, "is not a subnet"),
            ({"name": "n1", "subnet": "10.1.2.0/31"}, INVALID_PARAMS, "prefix"),
            ({"name": "n1", "subnet": "10.60.0.128/25"}, EXISTS, "network 'one'"),
            ({"name": "n1", "subnet": "10.5.3.0/24"}, EXISTS, "dummy5 (10.5.0.1/16)"),
            ({"name": "dummy5"}, EXISTS, "not a network of vmd"),
            ({"name": "n1", "mode": "bridge", "interface": "eth7"}, NOT_FOUND, "eth7"),
            ({"name": "n1", "mode": "bridge", "interface": "one"}, INVALID_PARAMS,
             "is a bridge"),
            ({"name": "n1", "mode": "route"}, INVALID_PARAMS, "nat, isolated or bridge"),
            ({"name": "n1", "interface": "dummy5"}, INVALID_PARAMS, "only a bridge"),
        ]
        for params, code, text in cases:
            with self.subTest(params=params):
                err = self.assertCallFails(code, "network.create", params)
                self.assertIn(text, err.message)
        self.assertEqual((sorted(self.links()), self.tables(), self.net_files()), before)
        self.assertCallFails(NOT_FOUND, "network.info", {"name": "n1"})
        self.assertCallFails(NOT_FOUND, "network.remove", {"name": "n1"})

    def test_dnsmasq_cannot_start(self):
        # something holds DNS on every address of the namespace: dnsmasq cannot listen
        holder = subprocess.Popen(["ip", "netns", "exec", self.ns, "python3", "-c",
                                   "import socket, time\n"
                                   "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                   "s.bind(('0.0.0.0', 53)); print('bound', flush=True)\n"
                                   "time.sleep(600)\n"], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "bound")
            err = self.assertCallFails(BACKEND, "network.create", {"name": "default"})
            self.assertIn("dnsmasq failed", err.message)
            self.assertIn("Address already in use", err.message)
        finally:
            holder.kill()
            holder.wait()
        # nothing half made: no bridge, no table, no definition, no dnsmasq
        self.assertNotIn("vmdbr0", self.links())
        self.assertEqual(self.tables(), [])
        self.assertEqual(self.net_files(), [])
        self.assertEqual(self.c.call("network.list")["networks"], [])
        # and it can be made once the port is free
        self.c.call("network.create", {"name": "default"})

    def test_kept_across_restarts(self):
        self.c.call("network.create", {"name": "default"})
        self.c.call("network.create", {"name": "iso", "mode": "isolated",
                                       "subnet": "10.78.0.0/24"})
        self.assertEqual(self.d.stop(), 0)
        # vmd leaves networks up when it stops: guests on them keep running
        self.assertIn("vmdbr0", self.links())
        self.assertIsNotNone(self.dnsmasq_pid("default"))
        # a host reboot: no bridge, no rules, no dnsmasq
        for name in ("default", "iso"):
            os.kill(self.dnsmasq_pid(name), 9)
        self.inns("ip", "link", "del", "vmdbr0")
        self.inns("ip", "link", "del", "iso")
        self.inns("nft", "flush", "ruleset")
        self.d.start()
        self.c = self.connect()
        links = self.links()
        self.assertEqual((self.addrs("vmdbr0"), self.addrs("iso")),
                         (["192.168.150.1/24"], ["10.78.0.1/24"]))
        self.assertIn("UP", links["vmdbr0"]["flags"])
        self.assertEqual(self.tables(), ["vmd-default", "vmd-iso"])
        self.assertIsNotNone(self.dnsmasq_pid("default"))
        self.assertEqual(sorted(n["name"] for n in self.c.call("network.list")["networks"]),
                         ["default", "iso"])
        # and a restart with everything still up changes nothing
        pid = self.dnsmasq_pid("default")
        self.d.stop()
        self.d.start()
        self.c = self.connect()
        self.assertEqual(self.dnsmasq_pid("default"), pid)
        self.assertEqual(self.addrs("vmdbr0"), ["192.168.150.1/24"])

    def test_remove_refused_while_in_use(self):
        self.c.call("network.create", {"name": "default"})
        self.define("web", vif=[{"bridge": "default"}])
        self.define("db", vif=[{"bridge": "vmdbr0"}])
        err = self.assertCallFails(BAD_STATE, "network.remove", {"name": "default"})
        self.assertEqual(sorted(err.data["guests"]), ["db", "web"])
        self.assertEqual(sorted(self.c.call("network.info", {"name": "default"})["guests"]),
                         ["db", "web"])
        self.assertIn("vmdbr0", self.links())
        self.c.call("vm.remove", {"name": "web"})
        self.c.call("vm.remove", {"name": "db"})
        pid = self.dnsmasq_pid("default")
        self.assertEqual(self.c.call("network.remove", {"name": "default"}),
                         {"name": "default", "removed": True})
        self.assertNotIn("vmdbr0", self.links())
        self.assertEqual(self.tables(), [])
        self.assertEqual(self.net_files(), [])
        self.assertFalse(running(pid))
        self.assertIsNone(self.dnsmasq_pid("default"))  # its pid file went too

    def test_addresses(self):
        """vm.addresses: the lease dnsmasq gave the guest's vif MAC (here a veth that has it,
        the sim's vifs carry no packets), only while the guest has a domain."""
        self.c.call("network.create", {"name": "default"})
        self.create("web", vif=[{"bridge": "default"}, {"bridge": "xenbr0"}])
        a = self.c.call("vm.addresses", {"name": "web"})
        (v0, v1) = a["vifs"]
        self.assertEqual((v0["devid"], v0["bridge"], v0["network"], v0["addresses"]),
                         (0, "default", "default", []))
        self.assertEqual((v1["devid"], v1["bridge"], "network" in v1, v1["addresses"]),
                         (1, "xenbr0", False, []))
        gns, mac = self.guest_ns("vmdbr0", "a", mac=v0["mac"])
        self.assertEqual(mac, v0["mac"])
        ev = self.connect()
        ev.call("events.subscribe", {})
        ip = self.dhcp(gns)
        # dnsmasq's new lease is an event of the guest whose vif has the MAC
        self.assertEqual(ev.wait_event("web", "addresses", timeout=15)["state"], "running")
        a = self.c.call("vm.addresses", {"name": "web"})
        self.assertEqual(a["vifs"][0]["addresses"],
                         [{"address": ip, "family": "ipv4", "source": "dhcp"}])
        self.assertEqual(self.info("web")["addresses"],
                         [{"mac": mac, "address": ip, "family": "ipv4", "source": "dhcp"}])
        # vm.list has them only when asked, the same as vm.info's
        self.define("off", vif=[{"bridge": "default"}])
        listed = {v["name"]: v for v in self.c.call("vm.list", {"all": True,
                                                                 "addresses": True})["vms"]}
        self.assertEqual(listed["web"]["addresses"], self.info("web")["addresses"])
        self.assertNotIn("addresses", listed["off"])  # no domain, no current address
        self.assertTrue(all("addresses" not in v
                            for v in self.c.call("vm.list", {"all": True})["vms"]))
        p = subprocess.run([VMCTL, "-s", self.d.socket, "addresses", "web"],
                           capture_output=True, text=True, timeout=WAIT) if VMCTL else None
        if p:
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"\n0 +%s +default +%s +dhcp\n" % (v0["mac"], ip))
            p = subprocess.run([VMCTL, "-s", self.d.socket, "info", "web"],
                               capture_output=True, text=True, timeout=WAIT)
            self.assertIn(ip, p.stdout)
            p = subprocess.run([VMCTL, "-s", self.d.socket, "list", "--all", "--addresses"],
                               capture_output=True, text=True, timeout=WAIT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^NAME .* MANAGED +ADDRESS\n")
            self.assertRegex(p.stdout, r"\nweb .* yes +%s\n" % re.escape(ip))
            self.assertRegex(p.stdout, r"\noff .* yes +-\n")
        self.c.call("vm.destroy", {"name": "web"})
        a = self.c.call("vm.addresses", {"name": "web"})
        self.assertEqual([(v["devid"], v["addresses"]) for v in a["vifs"]],
                         [(None, []), (None, [])])
        self.assertEqual(a["state"], "stopped")

    def test_half_made_is_undone(self):
        """A create cut short by kill -9: its definition is still marked, and the next start
        takes down what it had made."""
        self.assertEqual(self.d.stop(), 0)
        d = os.path.join(self.d.state_dir, "networks")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "half.json"), "w") as f:
            json.dump({"name": "half", "mode": "nat", "subnet": "10.79.0.0/24", "dhcp": True,
                       "creating": True}, f)
        self.inns("ip", "link", "add", "half", "type", "bridge")
        self.d.start()
        self.c = self.connect()
        self.assertNotIn("half", self.links())
        self.assertEqual(self.net_files(), [])
        self.assertEqual(self.c.call("network.list")["networks"], [])
        self.assertIn("network half: its creation did not finish", self.d.log())


if __name__ == "__main__":
    if "--vmctl" in sys.argv:
        i = sys.argv.index("--vmctl")
        VMCTL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    vmdtest.main()
