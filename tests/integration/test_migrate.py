#!/usr/bin/python3
"""vm.migrate between two vmds (sim backend) over a real sshd on the loopback, and to the
same vmd (ssh://localhost, as `xl migrate NAME localhost`): the definition moves, the guest
runs on the target, and whatever fails before the switch leaves it running on the source.
The libxl half is tested on real Xen (tests/xen/scenarios/64-vmd-migrate.sh). Needs root and
openssh-server (skipped, 77, without them).

    /usr/bin/python3 tests/integration/test_migrate.py --vmd build/daemon/vmd \\
        --vmctl build/client/vmctl [-v] [Class.test]
"""

import json
import os
import subprocess
import sys
import time

import test_remote
import vmdtest
from test_remote import Sshd
from vmdtest import VmdTestCase, WAIT
from vmdclient import BAD_STATE, CANCELLED, EXISTS, INVALID_PARAMS, RPCError

BACKEND = 6
NOT_FOUND = 1

# ssh_command for the source vmd: ssh through a pipe of at most RATE bytes/s, so that a
# migration takes long enough to be cancelled (tests/integration/slowpipe.py).
SLOWPIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowpipe.py")


class MigrateCase(VmdTestCase):
    ssh_command_extra = ""

    def daemon_kwargs(self):
        # The source: its ssh is the test's sshd's client config.
        return dict(conf=self.conf_text())

    def conf_text(self):
        return ('ssh_command = "%sssh -F %s"\nremote_vmctl = "%s"\n' %
                (self.ssh_command_extra, test_remote.SSH.ssh_config, test_remote.VMCTL))

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        self.t = self.new_daemon(state_dir=os.path.join(self.tmp, "t-state"),
                                 run_dir=os.path.join(self.tmp, "t-run"),
                                 conf=self.conf_text())
        self.t.start()
        self.tc = self.connect(self.t)
        self.uri_t = "ssh://root@127.0.0.1:%d%s" % (test_remote.SSH.port, self.t.socket)
        self.uri_self = "ssh://root@127.0.0.1:%d%s" % (test_remote.SSH.port, self.d.socket)

    def migrate(self, name, uri, conn=None, **kw):
        params = dict(name=name, host=uri, **kw)
        return (conn or self.c).call("vm.migrate", params, timeout=WAIT)

    def names(self, conn):
        return sorted(v["name"] for v in conn.call("vm.list", {"all": True})["vms"])


class TestMigrate(MigrateCase):

    def test_to_another_vmd(self):
        self.create("web", memory=256)
        before = self.c.call("vm.config", {"name": "web"})
        ev = self.connect()
        ev.call("events.subscribe")
        tev = self.connect(self.t)
        tev.call("events.subscribe")
        r = self.migrate("web", self.uri_t)
        self.assertEqual(r["name"], "web")
        self.assertEqual(r["host"], "ssh://root@127.0.0.1:%d" % test_remote.SSH.port)
        self.assertFalse(r["live"])
        self.assertGreaterEqual(r["downtime_ms"], 0)
        self.assertGreaterEqual(r["total_ms"], r["downtime_ms"])
        self.assertEqual(r["bytes"] > 256 * 1024, True, r)  # the sim's 1 KiB per MiB
        # The source forgets it; the target runs it, the same definition.
        self.assertEqual(self.names(self.c), [])
        info = self.tc.call("vm.info", {"name": "web"})
        self.assertEqual(info["state"], "running")
        self.assertEqual(info["domid"], r["domid"])
        after = self.tc.call("vm.config", {"name": "web"})
        self.assertEqual(after["xlcfg"], before["xlcfg"])
        ev.wait_notification(lambda n: n["method"] == "vm.event" and
                             n["params"]["event"] == "removed")
        seen = [n["params"]["event"] for n in ev.received
                if n.get("method") == "vm.event" and n["params"]["name"] == "web"]
        self.assertEqual(seen, ["migrating", "migrated", "removed"])
        tev.wait_notification(lambda n: n["method"] == "vm.event" and
                              n["params"]["event"] == "migrated-in")
        progress = [n for n in self.c.notifications if n["method"] == "job.progress"]
        self.assertTrue(progress, "no job.progress")
        self.assertEqual(progress[0]["params"]["phase"], "connecting")
        self.assertEqual(progress[0]["params"]["total"], 256 << 20)
        # The target's definition is durable: it survives a restart of the target.
        self.t.stop()
        self.t.start()
        tc = self.connect(self.t)
        self.assertEqual(tc.call("vm.info", {"name": "web"})["state"], "running")

    def test_live_and_back(self):
        self.create("db")
        r = self.migrate("db", self.uri_t, live=True)
        self.assertTrue(r["live"])
        r = self.migrate("db", self.uri_self, conn=self.tc, live=True)
        self.assertEqual(self.names(self.tc), [])
        self.assertEqual(self.state("db"), "running")

    def test_to_the_same_vmd(self):
        """ssh://localhost: the guest keeps its definition; only its domain changes."""
        vm = self.create("loop")
        r = self.migrate("loop", self.uri_self, live=True)
        info = self.info("loop")
        self.assertEqual(info["state"], "running")
        self.assertNotEqual(info["domid"], vm["domid"])
        self.assertEqual(info["domid"], r["domid"])
        doms = self.c.call("vm.list", {"all": True})["vms"]
        self.assertEqual([d["name"] for d in doms], ["loop"], "a leftover domain")
        # It can go on living: stop and start as before.
        self.c.call("vm.shutdown", {"name": "loop", "wait": True})
        self.c.call("vm.start", {"name": "loop"})

    def test_paused_guest_stays_paused_on_failure(self):
        self.create("p")
        self.c.call("vm.pause", {"name": "p"})
        self.tc.call("vm.define", {"config": self.config("p")})  # the name is taken there
        with self.assertRaises(RPCError) as cm:
            self.migrate("p", self.uri_t)
        self.assertEqual(cm.exception.code, EXISTS)
        self.assertEqual(self.state("p"), "paused")

    def test_refusals_leave_the_guest_running(self):
        self.create("g")
        domid = self.info("g")["domid"]
        self.tc.call("vm.define", {"config": self.config("g")})
        with self.assertRaises(RPCError) as cm:
            self.migrate("g", self.uri_t)
        self.assertEqual(cm.exception.code, EXISTS)
        self.assertIn("127.0.0.1", cm.exception.message)
        self.assertIn("named 'g' already", cm.exception.message)
        info = self.info("g")
        self.assertEqual((info["state"], info["domid"]), ("running", domid))
        self.tc.call("vm.remove", {"name": "g"})
        # A failure of the target's build: the guest runs on here.
        self.tc.call("sim.inject", {"fault": "fail-create"})
        with self.assertRaises(RPCError) as cm:
            self.migrate("g", self.uri_t)
        self.assertEqual(cm.exception.code, BACKEND)
        self.assertEqual(self.state("g"), "running")
        self.assertEqual(self.names(self.tc), [])
        # The stream breaking off half-way.
        self.c.call("sim.inject", {"fault": "fail-migrate"})
        with self.assertRaises(RPCError) as cm:
            self.migrate("g", self.uri_t)
        self.assertEqual(self.state("g"), "running")
        self.assertEqual(self.names(self.tc), [])
        # Nothing is left reserved there: the next attempt works.
        self.migrate("g", self.uri_t)
        self.assertEqual(self.tc.call("vm.info", {"name": "g"})["state"], "running")

    def test_missing_disk_on_the_target(self):
        cfg = self.config("d")
        self.c.call("vm.create", {"config": cfg})
        img = cfg["disk"][0].rsplit("target=", 1)[1]
        os.rename(img, img + ".away")  # the target (same host) does not find it
        with self.assertRaises(RPCError) as cm:
            self.migrate("d", self.uri_t)
        self.assertEqual(cm.exception.code, NOT_FOUND)
        self.assertIn(img, cm.exception.message)
        self.assertEqual(self.state("d"), "running")

    def test_bad_requests(self):
        self.define("off")
        with self.assertRaises(RPCError) as cm:
            self.migrate("off", self.uri_t)
        self.assertEqual(cm.exception.code, BAD_STATE)
        self.create("on")
        for uri in ("http://x", "ssh://-oProxyCommand=x", "ssh://h:0", "ssh://h/a b"):
            with self.assertRaises(RPCError) as cm:
                self.c.call("vm.migrate", {"name": "on", "host": uri}, check_params=False)
            self.assertEqual(cm.exception.code, INVALID_PARAMS, uri)
        # Nobody there: ssh's own words come back.
        port = test_remote.free_port()
        with self.assertRaises(RPCError) as cm:
            self.migrate("on", "ssh://root@127.0.0.1:%d" % port)
        self.assertEqual(cm.exception.code, BACKEND)
        self.assertIn("refused", cm.exception.message.lower())
        # No vmd behind the socket.
        with self.assertRaises(RPCError) as cm:
            self.migrate("on", "ssh://root@127.0.0.1:%d%s/none.sock" %
                         (test_remote.SSH.port, self.tmp))
        self.assertIn("cannot connect", cm.exception.message)
        self.assertEqual(self.state("on"), "running")
        # Busy guests are refused while a migration runs: not tested here (too quick).

    def test_read_only_peer_refused(self):
        self.create("ro")
        ro = self.connect(read_only=True)
        with self.assertRaises(RPCError) as cm:
            ro.call("vm.migrate", {"name": "ro", "host": self.uri_t})
        self.assertEqual(cm.exception.code, 5)
        with self.assertRaises(RPCError) as cm:
            ro.call("vm.migrate_incoming", {"xlcfg": "name = \"x\"\n", "hypervisor": "sim",
                                            "backend": "sim", "disks": []})
        self.assertEqual(cm.exception.code, 5)

    def test_vmctl_migrate(self):
        self.create("cli")
        r = subprocess.run([test_remote.VMCTL, "-s", self.d.socket, "migrate", "cli",
                            self.uri_t, "--live"], capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^migrated cli to ssh://root@127\.0\.0\.1:\d+ \(domid \d+ "
                         r"there\) in [0-9.]+ s, down for \d+ ms\n$")
        r = subprocess.run([test_remote.VMCTL, "-s", self.d.socket, "migrate", "cli",
                            self.uri_t], capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no guest", r.stderr.lower() + "no guest")


class TestMigrateCancel(MigrateCase):
    ssh_command_extra = "/usr/bin/python3 %s 1048576 " % SLOWPIPE

    def test_cancel_and_disconnect(self):
        """At 1 MiB/s a 4 GiB sim guest's 4 MiB stream takes 4 s: job.cancel stops it, and
        so does the client going away; the guest runs on, the target keeps nothing."""
        self.create("big", memory=4096)
        rid = self.c.request("vm.migrate", {"name": "big", "host": self.uri_t, "live": True})
        job = self.c.wait_notification(lambda n: n["method"] == "job.progress")["params"]["job"]
        time.sleep(0.5)
        other = self.connect()
        self.assertEqual(other.call("job.cancel", {"job": job})["kind"], "vm.migrate")
        resp = self.c.response(rid, timeout=WAIT)
        self.assertEqual(resp["error"]["code"], CANCELLED, resp)
        self.assertEqual(self.state("big"), "running")
        deadline = time.monotonic() + WAIT
        while self.names(self.tc) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.names(self.tc), [])
        # The client vanishes.
        c2 = self.connect()
        c2.request("vm.migrate", {"name": "big", "host": self.uri_t})
        c2.wait_notification(lambda n: n["method"] == "job.progress")
        time.sleep(0.5)
        c2.close()
        deadline = time.monotonic() + WAIT
        while self.state("big") != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.state("big"), "running")
        self.assertEqual(self.names(self.tc), [])
        # ... and a third time it goes through.
        self.migrate("big", self.uri_t, live=True)
        self.assertEqual(self.names(self.c), [])


def main():
    if "--vmctl" in sys.argv:
        i = sys.argv.index("--vmctl")
        test_remote.VMCTL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    if not test_remote.VMCTL:
        print("no vmctl: pass --vmctl PATH or set VMCTL")
        sys.exit(1)
    if os.getuid() != 0 or not os.path.exists(test_remote.SSHD):
        print("# skipped: needs root and %s (Debian's openssh-server)" % test_remote.SSHD)
        sys.exit(77)
    test_remote.SSH = Sshd()
    try:
        vmdtest.main()
    finally:
        test_remote.SSH.stop()


if __name__ == "__main__":
    main()
