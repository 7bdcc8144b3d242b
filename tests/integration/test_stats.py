#!/usr/bin/python3
"""vm.stats against the sim backend: the answer's shape for each disk and vif, the CPU share
over the time since the previous sample, counters that grow while the guest runs and stand
still while it is paused, a new domain's counters from zero, and the refusals. The sim's
guests do I/O as they use CPU (backend/sim.c, sim_stats); the libxl half reads blkback's and
netback's counters and is tested on real Xen (tests/xen).

    /usr/bin/python3 tests/integration/test_stats.py --vmd build/daemon/vmd [-v] [Class.test]
"""

import re
import time

import vmdtest
from vmdtest import VmdTestCase
from vmdclient import BAD_STATE

NOT_FOUND = 1
COUNTERS = {"disk": ("rd_req", "rd_bytes", "wr_req", "wr_bytes"),
            "vif": ("rx_bytes", "rx_packets", "tx_bytes", "tx_packets")}


class TestStats(VmdTestCase):

    def stats(self, name, conn=None):
        return (conn or self.c).call("vm.stats", {"name": name})

    def totals(self, s):
        return ([tuple(d[k] for k in COUNTERS["disk"]) for d in s["disks"]] +
                [tuple(v[k] for k in COUNTERS["vif"]) for v in s["vifs"]])

    def test_a_running_guest(self):
        self.create("st1", disks=2, vifs=2)
        i = self.info("st1")
        s = self.stats("st1")
        self.assertEqual((s["name"], s["domid"], s["state"]), ("st1", i["domid"], "running"))
        self.assertEqual([d["vdev"] for d in s["disks"]], ["xvda", "xvdb"])
        macs = re.findall(r"mac=([0-9a-f:]{17})",
                          self.c.call("vm.config", {"name": "st1"})["xlcfg"])
        self.assertEqual(len(macs), 2)
        self.assertEqual([v["mac"] for v in s["vifs"]], macs)
        self.assertEqual([v["devid"] for v in s["vifs"]], [0, 1])
        for row in self.totals(s):
            for n in row:
                self.assertIsInstance(n, int)
                self.assertGreaterEqual(n, 0)
        self.assertEqual(s["memory"]["current_kib"], 128 * 1024)
        self.assertGreaterEqual(s["memory"]["max_kib"], s["memory"]["current_kib"])
        self.assertEqual(s["cpu"]["vcpus"], 1)
        # the first sample: since the start
        self.assertIn("percent", s["cpu"])
        time.sleep(0.5)
        t = self.stats("st1")
        self.assertGreater(t["cpu"]["time_s"], s["cpu"]["time_s"])
        self.assertGreaterEqual(t["cpu"]["window_s"], 0.5)
        self.assertLess(t["cpu"]["window_s"], 30)
        # one busy vCPU of the sim: about 100 % of one CPU over the window
        self.assertGreater(t["cpu"]["percent"], 50)
        self.assertLess(t["cpu"]["percent"], 150)
        for a, b in zip(self.totals(s), self.totals(t)):
            for x, y in zip(a, b):
                self.assertGreater(y, x)

    def test_paused_counters_stand_still(self):
        self.create("st2")
        self.c.call("vm.pause", {"name": "st2"})
        s = self.stats("st2")
        time.sleep(0.3)
        t = self.stats("st2")
        self.assertEqual(t["state"], "paused")
        self.assertEqual(self.totals(s), self.totals(t))
        self.assertEqual(t["cpu"]["time_s"], s["cpu"]["time_s"])
        self.assertEqual(t["cpu"]["percent"], 0)

    def test_a_new_domain_counts_from_zero(self):
        self.create("st3")
        time.sleep(0.5)
        s = self.stats("st3")
        self.c.call("vm.destroy", {"name": "st3"})
        self.c.call("vm.start", {"name": "st3"})
        t = self.stats("st3")
        self.assertNotEqual(t["domid"], s["domid"])
        self.assertLess(t["cpu"]["time_s"], s["cpu"]["time_s"])
        self.assertLess(self.totals(t)[0][0], self.totals(s)[0][0])
        self.assertGreaterEqual(t["cpu"]["percent"], 0)

    def test_refusals(self):
        self.define("st4")
        self.assertCallFails(BAD_STATE, "vm.stats", {"name": "st4"},
                             data_keys=["name", "state"])
        self.assertCallFails(NOT_FOUND, "vm.stats", {"name": "nosuch"})

    def test_read_only_peers_may_read(self):
        self.create("st5")
        ro = self.connect(read_only=True)
        self.assertEqual(self.stats("st5", conn=ro)["name"], "st5")


if __name__ == "__main__":
    vmdtest.main()
