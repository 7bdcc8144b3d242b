#!/usr/bin/python3
"""The Ansible collection vmd.xen (ansible/ansible_collections/vmd/xen) against a real vmd.

Each test starts a vmd with the sim backend on a temporary socket (tests/integration/vmdtest.py)
and runs the real ansible-playbook (Debian's ansible-core) on an inventory of localhost with
ansible_connection=local, the collection found through ANSIBLE_COLLECTIONS_PATH=<repo>/ansible.
Results are read as JSON (callback_plugins/vmd_test_json.py; the default callback for --diff);
every effect is checked through vmd's socket with tests/integration/vmdclient.py, never on
Ansible's word.
Also: ansible-doc parses the modules' documentation, the example playbook provisions its three
guests idempotently, and ansible-test sanity runs on a copy of the collection (see
test_sanity for what runs offline).

    /usr/bin/python3 tests/ansible/test_ansible.py --vmd BUILD/daemon/vmd [-v] [Test.name]

Without ansible-playbook (and no way to install it: apt-get as root) the test exits 77, meson's
skip. VMD_TEST_KEEP=1 keeps the temporary directories (playbooks, outputs, daemon logs).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import vmdtest  # noqa: E402
from vmdtest import RPCError, VmdTestCase  # noqa: E402

COLLECTIONS = os.path.join(ROOT, "ansible")
COLLECTION = os.path.join(COLLECTIONS, "ansible_collections", "vmd", "xen")
EXAMPLE = os.path.join(COLLECTIONS, "examples", "three-guests.yml")
# The json stdout callback is ansible.posix's, not ansible-core's: tests/ansible has its own.
CALLBACKS = os.path.join(HERE, "callback_plugins")
JSON_CALLBACK = "vmd_test_json"
PLAYBOOK_TIMEOUT = 300
# vm.info members that change by themselves while a guest runs.
RUNTIME = ("cpu_time", "uptime", "memory_actual_kib")
GUEST_OPTIONS = {"name", "state", "xlcfg", "config", "socket", "autostart", "timeout", "force",
                 "restart_on_change", "delete_disks"}
INFO_OPTIONS = {"name", "socket", "include_config"}


def have_ansible():
    if shutil.which("ansible-playbook"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "ansible-core"]
    for cmds in ([install], [["apt-get", "update", "-q"], install]):
        for cmd in cmds:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if shutil.which("ansible-playbook"):
            return True
    return False


class Run:
    """One ansible-playbook run: rc, stdout, stderr, and (json callback) the results of the
    tasks on localhost in order, and the recap stats."""

    def __init__(self, proc, parsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = []
        self.stats = {}
        if parsed:
            doc = json.loads(self.stdout)
            for play in doc["plays"]:
                for task in play["tasks"]:
                    r = task["hosts"].get("localhost")
                    if r is not None:
                        r = dict(r, _task=task["task"]["name"])
                        self.results.append(r)
            self.stats = doc["stats"].get("localhost", {})

    def __getitem__(self, i):
        return self.results[i]


class AnsibleCase(VmdTestCase):

    def setUp(self):
        super().setUp()
        self.runs = 0
        self.inventory = os.path.join(self.tmp, "inventory")
        with open(self.inventory, "w") as f:
            f.write("[vmd_hosts]\nlocalhost ansible_connection=local "
                    "ansible_python_interpreter=/usr/bin/python3\n")
        cfg = os.path.join(self.tmp, "ansible.cfg")
        with open(cfg, "w") as f:
            f.write("[defaults]\n")
        home = os.path.join(self.tmp, "ansible-home")
        self.env = dict(os.environ)
        self.env.update(
            ANSIBLE_CONFIG=cfg,
            ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
            ANSIBLE_CALLBACK_PLUGINS=CALLBACKS,
            ANSIBLE_HOME=home,
            ANSIBLE_LOCAL_TEMP=os.path.join(home, "tmp"),
            ANSIBLE_REMOTE_TEMP=os.path.join(self.tmp, "remote-tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_HOST_KEY_CHECKING="0",
            PYTHONDONTWRITEBYTECODE="1",
        )

    # ---- running Ansible ------------------------------------------------------------------

    def playbook(self, tasks, socket=None):
        return [{"name": "vmd test", "hosts": "vmd_hosts", "gather_facts": False,
                 "module_defaults": {"group/vmd.xen.vmd": {"socket": socket or self.d.socket}},
                 "tasks": tasks}]

    def run_playbook(self, path, args=(), callback="json", failed=0):
        """Runs ansible-playbook; checks that it succeeded, and (json) that exactly `failed`
        tasks failed, all of them with ignore_errors; returns the Run."""
        env = dict(self.env, ANSIBLE_STDOUT_CALLBACK=(JSON_CALLBACK if callback == "json"
                                                      else callback))
        cmd = ["ansible-playbook", "-i", self.inventory, path] + list(args)
        proc = subprocess.run(cmd, env=env, cwd=self.tmp, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=PLAYBOOK_TIMEOUT)
        self.runs += 1
        with open(os.path.join(self.tmp, "run-%d.out" % self.runs), "w") as f:
            f.write("$ %s\n%s\n---- stderr\n%s" % (" ".join(cmd), proc.stdout, proc.stderr))
        if proc.returncode != 0:
            self.fail("ansible-playbook exited %d\n%s\n---- stderr\n%s" %
                      (proc.returncode, proc.stdout[-20000:], proc.stderr[-5000:]))
        run = Run(proc, callback == "json")
        if callback == "json":
            self.assertEqual((run.stats["failures"], run.stats["ignored"]), (0, failed),
                             run.stdout[-20000:])
            self.assertEqual(len([r for r in run.results if r.get("failed")]), failed)
        return run

    def play(self, tasks, check=False, diff=False, callback="json", failed=0, socket=None):
        """The tasks (dicts) as one play on localhost; returns the Run."""
        path = os.path.join(self.tmp, "play-%d.yml" % (self.runs + 1))
        with open(path, "w") as f:
            json.dump(self.playbook(tasks, socket), f, indent=1)  # JSON is YAML
        args = (["--check"] if check else []) + (["--diff"] if diff else [])
        return self.run_playbook(path, args, callback, failed)

    @staticmethod
    def guest(name, state=None, label=None, **args):
        a = dict(name=name, **args)
        if state:
            a["state"] = state
        return {"name": label or "%s %s" % (name, state or "present"), "vmd.xen.vmd_guest": a}

    @staticmethod
    def failing(task):
        task["ignore_errors"] = True
        return task

    # ---- guests ---------------------------------------------------------------------------

    def xlcfg(self, name, memory=128, vif='"bridge=xenbr0"', extra="", disk=None):
        """A pv guest's xl.cfg text whose kernel and disk exist."""
        disk = disk or self.touch(name + ".img")
        return ("# %s, written by the test\n"
                "name = \"%s\"\nkernel = \"%s\"\nmemory = %d\nvcpus = 1\n"
                "disk = [ \"format=raw, vdev=xvda, access=rw, target=%s\" ]\n"
                "vif = [ %s ]\n%s" % (name, name, self.kernel, memory, disk, vif, extra))

    def stored(self, name):
        return self.c.call("vm.config", {"name": name})

    def gone(self, name):
        err = self.c.error("vm.info", {"name": name})
        self.assertEqual(err.code, vmdtest.vmdclient.NOT_FOUND, err)
        return True

    def names(self):
        return [v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]]

    def assertChanged(self, result, actions=None):
        self.assertTrue(result.get("changed"), result)
        self.assertFalse(result.get("failed"), result)
        if actions is not None:
            self.assertEqual(result["actions"], actions, result)

    def assertUnchanged(self, result):
        self.assertFalse(result.get("changed"), result)
        self.assertFalse(result.get("failed"), result)
        self.assertEqual(result["actions"], [], result)

    def assertFailed(self, result, *texts):
        self.assertTrue(result.get("failed"), result)
        self.assertFalse(result.get("changed"), result)
        for t in texts:
            self.assertIn(t, result["msg"])

    def assertSameVm(self, got, name):
        """A vm object from a module matches vm.info now (runtime figures aside)."""
        now = self.info(name)
        strip = (lambda d: {k: v for k, v in d.items() if k not in RUNTIME})
        self.assertEqual(strip(got), strip(now))


class TestStates(AnsibleCase):

    def test_define_states_and_idempotency(self):
        text = self.xlcfg("web")
        r = self.play([self.guest("web", "present", xlcfg=text),
                       self.guest("web", "present", xlcfg=text, label="again")])
        self.assertChanged(r[0], ["define"])
        self.assertUnchanged(r[1])
        self.assertEqual(r.stats["changed"], 1)
        vm = self.info("web")
        self.assertEqual(vm["state"], "stopped")
        self.assertSameVm(r[1]["vm"], "web")
        cfg = self.stored("web")
        # stored as written, plus only the uuid vmd generated (and the vif's MAC)
        mac = vm["vifs"][0]["mac"]
        self.assertEqual(cfg["xlcfg"], text.replace('"bridge=xenbr0"',
                                                    '"mac=%s, bridge=xenbr0"' % mac) +
                         'uuid = "%s"\n' % vm["uuid"])
        self.assertEqual(r[1]["xlcfg"], cfg["xlcfg"])
        uuid = vm["uuid"]

        r = self.play([self.guest("web", "running"), self.guest("web", "running", "again")])
        self.assertChanged(r[0], ["start"])
        self.assertUnchanged(r[1])
        vm = self.info("web")
        self.assertEqual((vm["state"], vm["uuid"]), ("running", uuid))
        self.assertEqual(r[0]["vm"]["domid"], vm["domid"])
        dom = vm["domid"]

        # restarted always restarts: a new domain each time
        r = self.play([self.guest("web", "restarted"), self.guest("web", "restarted", "again")])
        self.assertChanged(r[0], ["reboot"])
        self.assertChanged(r[1], ["reboot"])
        vm = self.info("web")
        self.assertEqual(vm["state"], "running")
        self.assertNotIn(r[0]["vm"]["domid"], (dom, None))
        self.assertNotIn(vm["domid"], (dom, r[0]["vm"]["domid"]))

        r = self.play([self.guest("web", "stopped"), self.guest("web", "stopped", "again")])
        self.assertChanged(r[0], ["stop"])
        self.assertUnchanged(r[1])
        self.assertEqual(self.state("web"), "stopped")
        self.assertEqual(r.stats["changed"], 1)

        # restarted on a stopped guest starts it; present leaves the running state alone
        r = self.play([self.guest("web", "restarted"), self.guest("web", "present"),
                       self.guest("web", "present", xlcfg=text, label="with config")])
        self.assertChanged(r[0], ["start"])
        self.assertUnchanged(r[1])
        self.assertUnchanged(r[2])
        self.assertEqual(self.state("web"), "running")
        self.assertEqual(self.info("web")["uuid"], uuid)

    def test_paused_and_crashed_guests(self):
        self.play([self.guest("p", "running", xlcfg=self.xlcfg("p")),
                   self.guest("c", "running",
                              xlcfg=self.xlcfg("c", extra='on_crash = "preserve"\n'))])
        self.c.call("vm.pause", {"name": "p"})
        self.c.call("sim.inject", {"fault": "crash", "name": "c"})
        self.wait_state("c", "crashed")
        dom = self.info("c")["domid"]
        r = self.play([self.guest("p", "running"), self.guest("c", "running")])
        self.assertChanged(r[0], ["unpause"])
        self.assertChanged(r[1], ["stop", "start"])
        self.assertEqual(self.state("p"), "running")
        vm = self.info("c")
        self.assertEqual(vm["state"], "running")
        self.assertNotEqual(vm["domid"], dom)
        # a paused guest is unpaused so that it can obey its shutdown
        self.c.call("vm.pause", {"name": "p"})
        r = self.play([self.guest("p", "stopped"), self.guest("p", "stopped", "again")])
        self.assertChanged(r[0], ["stop"])
        self.assertUnchanged(r[1])
        self.assertEqual(self.state("p"), "stopped")

    def test_guest_that_ignores_requests(self):
        self.play([self.guest("h", "running", xlcfg=self.xlcfg("h"))])
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "h"})
        r = self.play([self.failing(self.guest("h", "stopped", timeout=1))], failed=1)
        self.assertFailed(r[0], "did not shut down within 1 s", "force: true")
        self.assertEqual((r[0]["code"], r[0]["method"]), (9, "vm.shutdown"))
        self.assertEqual(self.state("h"), "shutting-down")
        r = self.play([self.guest("h", "stopped", timeout=1, force=True)])
        self.assertChanged(r[0], ["stop"])
        self.assertEqual(self.state("h"), "stopped")

        self.play([self.guest("h", "running")])
        dom = self.info("h")["domid"]
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "h"})
        r = self.play([self.failing(self.guest("h", "restarted", timeout=1))], failed=1)
        self.assertFailed(r[0], "did not come back from its reboot within 1 s")
        self.assertEqual(self.state("h"), "rebooting")
        # still rebooting: without force the task waits, then says so; with force the guest
        # is destroyed first (check mode only says so), then started
        r = self.play([self.failing(self.guest("h", "running", timeout=1))], failed=1)
        self.assertFailed(r[0], "still rebooting after 1 s", "force: true")
        r = self.play([self.guest("h", "running", timeout=1, force=True)], check=True)
        self.assertChanged(r[0], ["stop", "start"])
        self.assertEqual((self.state("h"), self.info("h")["domid"]), ("rebooting", dom))
        r = self.play([self.guest("h", "running", timeout=1, force=True)], diff=True)
        self.assertChanged(r[0], ["stop", "start"])
        self.assertTrue(r[0]["diff"]["before"].startswith("# state: rebooting"))
        vm = self.info("h")
        self.assertEqual(vm["state"], "running")
        self.assertNotEqual(vm["domid"], dom)

    def test_autostart(self):
        text = self.xlcfg("a")
        r = self.play([self.guest("a", xlcfg=text, autostart=True),
                       self.guest("a", xlcfg=text, autostart=True, label="again")])
        self.assertChanged(r[0], ["define", "autostart"])
        self.assertUnchanged(r[1])
        self.assertTrue(self.info("a")["autostart"])
        r = self.play([self.guest("a", autostart=False), self.guest("a", label="left alone")])
        self.assertChanged(r[0], ["autostart"])
        self.assertUnchanged(r[1])
        self.assertFalse(self.info("a")["autostart"])


class TestConfigChanges(AnsibleCase):

    def test_stopped_guest_redefined_with_its_identity(self):
        disk = self.touch("s.img")
        text = self.xlcfg("s", disk=disk)
        r = self.play([self.guest("s", xlcfg=text, autostart=True)])
        self.assertChanged(r[0], ["define", "autostart"])
        before = self.info("s")
        uuid, mac = before["uuid"], before["vifs"][0]["mac"]

        bigger = self.xlcfg("s", memory=256, disk=disk) + "# given more memory\n"
        r = self.play([self.guest("s", xlcfg=bigger), self.guest("s", xlcfg=bigger, label="again")])
        self.assertChanged(r[0], ["redefine"])
        self.assertUnchanged(r[1])
        vm = self.info("s")
        self.assertEqual((vm["memory"], vm["uuid"], vm["vifs"][0]["mac"], vm["autostart"],
                          vm["state"]), (256, uuid, mac, True, "stopped"))
        cfg = self.stored("s")
        self.assertIn("# given more memory\n", cfg["xlcfg"])
        self.assertEqual(cfg["config"]["uuid"], uuid)
        self.assertEqual(r[0]["xlcfg"], cfg["xlcfg"])

        # the same meaning written differently is no change (and the stored text stays)
        same = ('name="s"; kernel=\'%s\'\nmemory = 0x100\n'
                'disk = [ "%s,raw,xvda,rw" ]   # positional\n'
                'vif = [ "bridge=xenbr0" ]\nvcpus = 1\non_poweroff = "destroy"\n' %
                (self.kernel, disk))
        r = self.play([self.guest("s", xlcfg=same)])
        self.assertUnchanged(r[0])
        self.assertEqual(self.stored("s"), cfg)

        # a MAC given replaces the one kept; the uuid stays
        r = self.play([self.guest("s", xlcfg=self.xlcfg(
            "s", memory=256, disk=disk, vif='"mac=00:16:3e:12:34:56, bridge=xenbr0"'))])
        self.assertChanged(r[0], ["redefine"])
        vm = self.info("s")
        self.assertEqual((vm["uuid"], vm["vifs"][0]["mac"]), (uuid, "00:16:3e:12:34:56"))

    def test_running_guest(self):
        disk = self.touch("r.img")
        self.play([self.guest("r", "running", xlcfg=self.xlcfg("r", disk=disk))])
        vm0 = self.info("r")
        text0 = self.stored("r")["xlcfg"]

        # state present refuses to restart a guest for a new config, and changes nothing
        t256 = self.xlcfg("r", memory=256, disk=disk)
        r = self.play([self.failing(self.guest("r", xlcfg=t256))], failed=1)
        self.assertFailed(r[0], "guest r is running", "restart_on_change")
        vm = self.info("r")
        self.assertEqual((vm["state"], vm["domid"], vm["memory"]), ("running", vm0["domid"], 128))
        self.assertEqual(self.stored("r")["xlcfg"], text0)

        r = self.play([self.guest("r", xlcfg=t256, restart_on_change=True),
                       self.guest("r", xlcfg=t256, label="again")])
        self.assertChanged(r[0], ["stop", "redefine", "start"])
        self.assertUnchanged(r[1])
        vm = self.info("r")
        self.assertEqual((vm["state"], vm["memory"], vm["uuid"], vm["vifs"][0]["mac"]),
                         ("running", 256, vm0["uuid"], vm0["vifs"][0]["mac"]))
        self.assertNotEqual(vm["domid"], vm0["domid"])

        t384 = self.xlcfg("r", memory=384, disk=disk)
        r = self.play([self.guest("r", "running", xlcfg=t384)])
        self.assertChanged(r[0], ["stop", "redefine", "start"])
        self.assertEqual((self.state("r"), self.info("r")["memory"]), ("running", 384))

        # a guest that ignores its shutdown: the task fails after the timeout, the guest keeps
        # running (its request pending) with its old config; with force it is destroyed
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "r"})
        t512 = self.xlcfg("r", memory=512, disk=disk)
        t0 = time.monotonic()
        r = self.play([self.failing(self.guest("r", "running", xlcfg=t512, timeout=2))], failed=1)
        self.assertGreaterEqual(time.monotonic() - t0, 2)
        self.assertFailed(r[0], "did not shut down within 2 s", "force")
        self.assertEqual(r[0]["code"], 9)
        vm = self.info("r")
        self.assertEqual((vm["state"], vm["memory"]), ("shutting-down", 384))
        r = self.play([self.guest("r", "running", xlcfg=t512, timeout=2, force=True)])
        self.assertChanged(r[0], ["stop", "redefine", "start"])
        vm = self.info("r")
        self.assertEqual((vm["state"], vm["memory"], vm["uuid"]), ("running", 512, vm0["uuid"]))

        # state stopped with a new config: down, redefined, left stopped
        r = self.play([self.guest("r", "stopped", xlcfg=self.xlcfg("r", memory=128, disk=disk))])
        self.assertChanged(r[0], ["stop", "redefine"])
        vm = self.info("r")
        self.assertEqual((vm["state"], vm["memory"], vm["uuid"]), ("stopped", 128, vm0["uuid"]))

    def test_config_as_mapping(self):
        disk = self.touch("m.img")
        cfg = {"kernel": self.kernel, "memory": 128, "vcpus": 1, "on_crash": "preserve",
               "disk": [{"target": disk, "vdev": "xvda", "format": "raw", "access": "rw"}],
               "vif": [{"bridge": "xenbr0"}]}
        r = self.play([self.guest("m", "running", config=cfg),
                       self.guest("m", "running", config=cfg, label="again")])
        self.assertChanged(r[0], ["define", "start"])
        self.assertUnchanged(r[1])
        vm = self.info("m")
        self.assertSameVm(r[1]["vm"], "m")
        stored = self.stored("m")["config"]
        self.assertEqual(stored["name"], "m")
        self.assertEqual(stored["memory"], 128)
        self.assertEqual(stored["on_crash"], "preserve")
        self.assertEqual(stored["disk"], ["format=raw, vdev=xvda, access=rw, target=%s" % disk])
        self.assertEqual(stored["vif"], ["mac=%s, bridge=xenbr0" % vm["vifs"][0]["mac"]])
        self.assertEqual(r[1]["config"], stored)

        # the same guest as xl.cfg text is the same config
        text = self.xlcfg("m", disk=disk, extra='on_crash = "preserve"\n')
        r = self.play([self.guest("m", xlcfg=text)])
        self.assertUnchanged(r[0])

        cfg["memory"] = 256
        r = self.play([self.guest("m", "running", config=cfg),
                       self.guest("m", "running", config=cfg, label="again")])
        self.assertChanged(r[0], ["stop", "redefine", "start"])
        self.assertUnchanged(r[1])
        now = self.info("m")
        self.assertEqual((now["memory"], now["uuid"], now["vifs"][0]["mac"], now["state"]),
                         (256, vm["uuid"], vm["vifs"][0]["mac"], "running"))


class TestCheckAndDiff(AnsibleCase):

    def test_check_mode_changes_nothing(self):
        text = self.xlcfg("c")
        r = self.play([self.guest("c", "running", xlcfg=text, autostart=True)], check=True)
        self.assertChanged(r[0], ["define", "start", "autostart"])
        self.assertTrue(self.gone("c"))
        self.assertEqual(self.names(), [])

        self.play([self.guest("c", xlcfg=text)])
        before = (self.info("c"), self.stored("c"), self.guest_files())
        with open(self.guest_file("c"), "rb") as f:
            doc = f.read()
        r = self.play([self.guest("c", "running"),
                       self.guest("c", "restarted"),
                       self.guest("c", xlcfg=self.xlcfg("c", memory=256), label="new config"),
                       self.guest("c", autostart=True),
                       self.guest("c", "absent", delete_disks=True),
                       self.guest("c", xlcfg=text, label="same config")], check=True)
        self.assertChanged(r[0], ["start"])
        self.assertChanged(r[1], ["start"])
        self.assertChanged(r[2], ["redefine"])
        self.assertIn("memory = 256", r[2]["xlcfg"])
        self.assertChanged(r[3], ["autostart"])
        self.assertChanged(r[4], ["remove"])
        self.assertUnchanged(r[5])
        self.assertEqual((self.info("c"), self.stored("c"), self.guest_files()), before)
        with open(self.guest_file("c"), "rb") as f:
            self.assertEqual(f.read(), doc)

        # and on a running guest
        self.play([self.guest("c", "running")])
        vm = self.info("c")
        r = self.play([self.guest("c", "stopped"), self.guest("c", "restarted"),
                       self.guest("c", "running", xlcfg=self.xlcfg("c", memory=256)),
                       self.guest("c", "absent")], check=True)
        self.assertChanged(r[0], ["stop"])
        self.assertChanged(r[1], ["reboot"])
        self.assertChanged(r[2], ["stop", "redefine", "start"])
        self.assertChanged(r[3], ["stop", "remove"])
        now = self.info("c")
        self.assertEqual((now["state"], now["domid"], now["memory"]), ("running", vm["domid"], 128))

    def test_diff(self):
        self.play([self.guest("d", xlcfg=self.xlcfg("d"))])
        mac = self.info("d")["vifs"][0]["mac"]
        # the default callback shows the diff as a person sees it
        r = self.play([self.guest("d", "running", xlcfg=self.xlcfg("d", memory=256))],
                      diff=True, callback="default")
        out = r.stdout
        dom = self.info("d")["domid"]
        for line in ("-memory = 128", "+memory = 256", "-# state: stopped",
                     "+# state: running (domain %d)" % dom, " vif = [ \"mac=%s, bridge=xenbr0\" ]"
                     % mac, "vmd guest d"):
            self.assertIn(line, out)
        self.assertEqual(self.info("d")["memory"], 256)

        # check mode with --diff: the change is shown, not made
        r = self.play([self.guest("d", xlcfg=self.xlcfg("d", memory=384), autostart=True,
                                  restart_on_change=True)], check=True, diff=True,
                      callback="default")
        for line in ("-memory = 256", "+memory = 384", "-# autostart: false",
                     "+# autostart: true", "+# state: running (a new domain)"):
            self.assertIn(line, r.stdout)
        vm = self.info("d")
        self.assertEqual((vm["memory"], vm["autostart"], vm["domid"]), (256, False, dom))

        # the json callback carries before and after
        r = self.play([self.guest("d", "absent")], diff=True)
        self.assertChanged(r[0], ["stop", "remove"])
        diff = r[0]["diff"]
        self.assertTrue(diff["before"].startswith("# state: running (domain %d)\n"
                                                  "# autostart: false\n" % dom), diff)
        self.assertIn("memory = 256\n", diff["before"])
        self.assertEqual(diff["after"], "")
        self.assertTrue(self.gone("d"))


class TestAbsent(AnsibleCase):

    def test_absent(self):
        disk = self.touch("gone.img")
        self.play([self.guest("gone", "running", xlcfg=self.xlcfg("gone", disk=disk))])
        r = self.play([self.guest("gone", "absent"), self.guest("gone", "absent", "again")])
        self.assertChanged(r[0], ["stop", "remove"])
        self.assertEqual(r[0]["removed"], {"name": "gone", "deleted": [], "kept": [disk]})
        self.assertIsNone(r[0]["vm"])
        self.assertUnchanged(r[1])
        self.assertTrue(self.gone("gone"))
        self.assertTrue(os.path.exists(disk))  # images named in the config are never deleted

    def test_delete_disks(self):
        disk = self.touch("base.img", b"base image")
        self.play([self.guest("base", xlcfg=self.xlcfg("base", disk=disk))])
        copies = {}
        for n in ("copy1", "copy2"):
            res = self.c.call("vm.clone", {"source": "base", "name": n})
            copies[n] = res["copied"][0]["target"]
            self.assertTrue(os.path.exists(copies[n]))
        r = self.play([self.guest("copy1", "absent", delete_disks=True),
                       self.guest("copy2", "absent")])
        self.assertChanged(r[0], ["remove"])
        self.assertEqual(r[0]["removed"]["deleted"], [copies["copy1"]])
        self.assertFalse(os.path.exists(copies["copy1"]))
        self.assertChanged(r[1], ["remove"])
        self.assertEqual(r[1]["removed"]["kept"], [copies["copy2"]])
        self.assertTrue(os.path.exists(copies["copy2"]))
        self.assertEqual(self.names(), ["base"])
        with open(disk, "rb") as f:
            self.assertEqual(f.read(), b"base image")


class TestInfo(AnsibleCase):

    def test_info_matches_vmd(self):
        self.play([
            self.guest("a", xlcfg=self.xlcfg("a")),
            self.guest("b", "running", xlcfg=self.xlcfg(
                "b", vif='"bridge=xenbr0, ip=192.0.2.10", "bridge=xenbr1"')),
            self.guest("c", "running", xlcfg=self.xlcfg("c"), autostart=True)])
        self.c.call("vm.pause", {"name": "c"})
        self.c.call("sim.inject", {"fault": "foreign:xl-guest"})
        tasks = [{"name": "all", "vmd.xen.vmd_info": {}},
                 {"name": "b", "vmd.xen.vmd_info": {"name": "b", "include_config": True}},
                 {"name": "none", "vmd.xen.vmd_info": {"name": "nosuch"}}]
        for check in (False, True):
            r = self.play(tasks, check=check)
            self.assertEqual(r.stats["changed"], 0)
            listed = self.c.call("vm.list", {"all": True})["vms"]
            guests = r[0]["guests"]
            self.assertEqual([g["name"] for g in guests], [v["name"] for v in listed])
            self.assertEqual([g["name"] for g in guests], ["a", "b", "c", "xl-guest"])
            for g, v in zip(guests, listed):
                self.assertEqual({k: g[k] for k in v}, v)
                # addresses: the module's are strings (vm.info's seen ones, then ip=)
                self.assertEqual({k: x for k, x in g.items() if k not in RUNTIME + ("addresses",)},
                                 {k: x for k, x in self.info(v["name"]).items()
                                  if k not in RUNTIME + ("addresses",)})
            self.assertEqual([g["state"] for g in guests],
                             ["stopped", "running", "paused", "running"])
            self.assertEqual([g["managed"] for g in guests], [True, True, True, False])
            self.assertEqual([g["addresses"] for g in guests], [[], ["192.0.2.10"], [], []])
            self.assertEqual(r[0]["daemon"], self.c.call("daemon.version"))
            self.assertEqual(len(r[1]["guests"]), 1)
            self.assertEqual(r[1]["guests"][0]["xlcfg"], self.stored("b")["xlcfg"])
            self.assertEqual(r[2]["guests"], [])
        self.assertEqual(self.state("c"), "paused")


class TestErrors(AnsibleCase):

    def test_daemon_errors(self):
        bad = self.xlcfg("bad").replace("memory =", "memmory =")
        # what vmd itself says about it
        said = self.c.error("vm.define", {"xlcfg": bad, "filename": "xlcfg", "dry_run": True})
        unknown = self.c.error("vm.define", {"config": {"name": "bad2", "kernel": self.kernel,
                                                        "bogus": 1}, "dry_run": True})
        disk = os.path.join(self.tmp, "missing.img")
        r = self.play([
            self.failing(self.guest("bad", xlcfg=bad)),
            self.failing(self.guest("bad2", config={"kernel": self.kernel, "bogus": 1})),
            self.failing(self.guest("nodisk", "running", xlcfg=self.xlcfg("nodisk", disk=disk))),
            self.failing(self.guest("nosuch", "running")),
            self.failing(self.guest("other", xlcfg=self.xlcfg("web"))),
            self.failing(self.guest("x", xlcfg=self.xlcfg("x"), timeout=0)),
        ], failed=6)
        self.assertFailed(r[0], said.message)
        self.assertEqual((r[0]["code"], r[0]["data"], r[0]["method"]),
                         (4, said.data, "vm.define"))
        self.assertEqual(said.data, {"key": "memmory", "line": 4})
        self.assertFailed(r[1], unknown.message)
        self.assertEqual((r[1]["code"], r[1]["data"]), (4, {"key": "bogus"}))
        # defined, but the start failed: vmd's backend error
        self.assertEqual((r[2]["code"], r[2]["method"]), (6, "vm.start"))
        self.assertTrue(r[2]["msg"].startswith("vm.start: "), r[2]["msg"])
        self.assertEqual(r[2]["actions"], ["define", "start"])
        self.assertEqual(self.state("nodisk"), "stopped")
        self.assertFailed(r[3], "guest nosuch is not defined")
        self.assertFailed(r[4], "names guest 'web'", "'other'")
        self.assertFailed(r[5], "timeout must be 1 to 86400")
        self.assertEqual(self.names(), ["nodisk"])
        try:
            self.c.call("vm.start", {"name": "nodisk"})
        except RPCError as e:
            self.assertIn(e.message, r[2]["msg"])
        else:
            self.fail("vm.start of a guest without its disk worked")

    def test_missing_socket(self):
        nowhere = os.path.join(self.tmp, "no", "vmd.sock")
        r = self.play([self.failing(self.guest("x", xlcfg=self.xlcfg("x"))),
                       self.failing({"name": "info", "vmd.xen.vmd_info": {}})],
                      socket=nowhere, failed=2)
        for res in r.results:
            self.assertFailed(res, "cannot connect to vmd at %s" % nowhere,
                              "No such file or directory")
        self.assertEqual(self.names(), [])

    def test_refused_redefinition_restores_the_old_one(self):
        self.play([self.guest("a", xlcfg=self.xlcfg("a"), autostart=True),
                   self.guest("b", xlcfg=self.xlcfg("b", vif='"mac=00:16:3e:aa:bb:cc"'))])
        old = (self.info("a"), self.stored("a"))
        r = self.play([self.failing(self.guest(
            "a", xlcfg=self.xlcfg("a", memory=256, vif='"mac=00:16:3e:aa:bb:cc"')))], failed=1)
        self.assertTrue(r[0]["failed"])
        self.assertEqual((r[0]["code"], r[0]["data"]),
                         (2, {"mac": "00:16:3e:aa:bb:cc", "name": "b"}))
        self.assertIn("the old one restored", r[0]["msg"])
        self.assertEqual(r[0]["actions"], ["redefine"])
        # the daemon's own words for it
        err = self.c.error("vm.define", {"xlcfg": self.xlcfg("z", vif='"mac=00:16:3e:aa:bb:cc"')})
        self.assertIn(err.message.replace("'z'", "'a'"), r[0]["msg"])
        self.assertEqual((self.info("a"), self.stored("a")), old)

        # a running guest stopped for a refused redefinition runs again, on its old config
        self.play([self.guest("a", "running")])
        vm = self.info("a")
        old = self.stored("a")
        r = self.play([self.failing(self.guest(
            "a", "running", xlcfg=self.xlcfg("a", memory=256, vif='"mac=00:16:3e:aa:bb:cc"')))],
            failed=1)
        self.assertEqual(r[0]["code"], 2)
        self.assertIn("the old one restored and started again", r[0]["msg"])
        self.assertEqual(r[0]["actions"], ["stop", "redefine"])
        now = self.info("a")
        self.assertEqual((now["state"], now["uuid"], now["memory"], now["autostart"]),
                         ("running", vm["uuid"], 128, True))
        self.assertNotEqual(now["domid"], vm["domid"])
        self.assertEqual(self.stored("a"), old)


class TestExamplesAndDocs(AnsibleCase):

    def test_example_playbook(self):
        images = os.path.join(self.tmp, "images")
        os.mkdir(images)
        args = ["-e", json.dumps({"vmd_socket": self.d.socket, "vmd_image_dir": images,
                                  "vmd_kernel": self.kernel, "vmd_become": False})]
        r = self.run_playbook(EXAMPLE, args)
        self.assertEqual(r.stats["failures"], 0)
        self.assertEqual(r.stats["changed"], 2)  # the images, the guests (loops count once)
        vms = {v["name"]: v for v in self.c.call("vm.list", {"all": True})["vms"]}
        self.assertEqual(sorted(vms), ["app", "db", "web"])
        self.assertEqual({v["state"] for v in vms.values()}, {"running"})
        self.assertEqual({n: (v["memory"], v["vcpus"], v["autostart"]) for n, v in vms.items()},
                         {"web": (512, 1, False), "app": (1024, 2, False),
                          "db": (2048, 2, True)})
        for n in vms:
            self.assertTrue(os.path.exists(os.path.join(images, n + ".img")))
        r = self.run_playbook(EXAMPLE, args)
        self.assertEqual(r.stats["changed"], 0)
        self.assertEqual({v["name"]: v for v in self.c.call("vm.list", {"all": True})["vms"]},
                         vms)

    def test_ansible_doc(self):
        env = dict(self.env)
        for module, options in (("vmd_guest", GUEST_OPTIONS), ("vmd_info", INFO_OPTIONS)):
            fqcn = "vmd.xen." + module
            p = subprocess.run(["ansible-doc", fqcn], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
            self.assertEqual((p.returncode, p.stderr), (0, ""), p.stdout)
            self.assertIn("OPTIONS", p.stdout)
            p = subprocess.run(["ansible-doc", "--json", fqcn], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
            self.assertEqual((p.returncode, p.stderr), (0, ""))
            doc = json.loads(p.stdout)[fqcn]
            self.assertEqual(set(doc["doc"]["options"]), options)
            self.assertTrue(doc["return"])
            # the examples are YAML tasks using only documented options
            import yaml
            for task in yaml.safe_load(doc["examples"]):
                if fqcn in task:
                    self.assertLessEqual(set(task[fqcn] or {}), options, task)
        p = subprocess.run(["ansible-doc", "-l", "vmd.xen"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("vmd.xen.vmd_guest", p.stdout)
        self.assertIn("vmd.xen.vmd_info", p.stdout)


# ansible-test sanity creates one virtualenv per test and pip-installs pinned requirements
# from PyPI into it, bootstrapping pip by download; here only Debian's archive is reachable.
# The tests that need no requirements run as they are. For the others, where the modules
# they need are installed from Debian (python3-yaml, python3-jinja2 come with ansible-core;
# python3-voluptuous, python3-pycodestyle, pylint, yamllint), the test gives ansible-test,
# under a private HOME, the virtualenv it asks for, seeing the system's packages.
SANITY_VENV_TESTS = {
    "ansible-doc": ("yaml", "jinja2"),
    "import": ("yaml",),
    "pep8": ("pycodestyle",),
    "pylint": ("pylint", "yaml"),
    "runtime-metadata": ("yaml", "voluptuous"),
    "validate-modules": ("yaml", "jinja2", "voluptuous"),
    "yamllint": ("yaml", "yamllint"),
}


class TestSanity(AnsibleCase):

    def sanity(self, where, env, tests, python):
        cmd = ["ansible-test", "sanity", "--python", python, "--color", "no"]
        for t in tests:
            cmd += ["--test", t]
        return subprocess.run(cmd, cwd=where, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600)

    def test_sanity(self):
        if not shutil.which("ansible-test"):
            self.skipTest("no ansible-test")
        where = os.path.join(self.tmp, "sanity", "ansible_collections", "vmd", "xen")
        shutil.copytree(COLLECTION, where, ignore=shutil.ignore_patterns(
            "output", "__pycache__", "*.pyc"))
        home = os.path.join(self.tmp, "sanity-home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home, PYTHONDONTWRITEBYTECODE="1")
        env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
        python = "%d.%d" % sys.version_info[:2]
        listed = subprocess.run(["ansible-test", "sanity", "--list-tests"], cwd=where, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True, timeout=120).stdout.split()
        self.assertIn("validate-modules", listed)
        offline = [t for t in listed if t not in SANITY_VENV_TESTS]
        venv_tests = []
        missing = {}
        for t, mods in sorted(SANITY_VENV_TESTS.items()):
            if t not in listed:
                continue
            lack = [m for m in mods if subprocess.run(
                [sys.executable, "-c", "import " + m], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode != 0]
            if lack:
                missing[t] = lack
                continue
            # ansible-test names the virtualenv it wants when it cannot put pip into it
            p = self.sanity(where, env, [t], python)
            m = re.search(r'at "([^"]+)/bin/python" does not have pip', p.stdout)
            if p.returncode == 0:
                venv_tests.append(t)
                continue
            self.assertTrue(m, "ansible-test sanity --test %s:\n%s" % (t, p.stdout[-5000:]))
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                            "--without-pip", m.group(1)], check=True)
            for fn, text in (("meta.install.json", "[]"), ("meta.yaml.json", "true"),
                             ("marker.txt", "")):
                with open(os.path.join(m.group(1), fn), "w") as f:
                    f.write(text)
            venv_tests.append(t)
        p = self.sanity(where, env, offline + venv_tests, python)
        print("\nansible-test sanity: %d of %d tests ran and passed; without Debian's modules "
              "for them: %s" % (len(offline + venv_tests), len(listed),
                                ", ".join("%s (%s)" % (t, " ".join(m))
                                          for t, m in sorted(missing.items())) or "none"),
              file=sys.stderr)
        self.assertEqual(p.returncode, 0, p.stdout[-20000:])
        self.assertNotIn("ERROR", p.stdout)
        ran = re.findall(r'Running sanity test "([^"]+)"', p.stdout)
        self.assertEqual(sorted(set(ran)), sorted(offline + venv_tests), p.stdout)


if __name__ == "__main__":
    if not have_ansible():
        print("SKIP: ansible-playbook is not installed and could not be installed "
              "(apt-get install ansible-core)")
        sys.exit(77)
    vmdtest.main()
