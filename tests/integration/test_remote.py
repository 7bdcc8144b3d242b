#!/usr/bin/python3
"""vmctl -H ssh://...: vmctl against a vmd reached through a real OpenSSH sshd on this machine's
loopback (keys, host key and known_hosts made by the test, sshd started by it), compared with
the same vmctl on the local socket. Needs root (sshd) and Debian's openssh-server; skipped
(77) without them.

    /usr/bin/python3 tests/integration/test_remote.py --vmd build/daemon/vmd \\
        --vmctl build/client/vmctl [-v] [Class.test]
"""

import json
import os
import pty
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import vmdtest
from vmdtest import VmdTestCase, WAIT

VMCTL = os.environ.get("VMCTL")
SSHD = "/usr/sbin/sshd"
SSH_USER = "vmd-ssh-test"   # an unprivileged login made (once) by the test: the access rules
SSH = None                  # the running sshd (class Sshd), shared by all tests


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmd-test", "-f", path],
                   check=True)
    with open(path + ".pub") as f:
        return f.read().strip()


class Sshd:
    """sshd -D on 127.0.0.1:port with its own host key; a client key and known_hosts entry for
    it; an ssh config that uses them (VMD_SSH_COMMAND = ssh -F that config)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vmdt-sshd-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        host_pub = keygen(os.path.join(self.dir, "host_key"))
        client_pub = keygen(os.path.join(self.dir, "client_key"))
        self.authorized = os.path.join(self.dir, "authorized_keys")
        with open(self.authorized, "w") as f:
            f.write(client_pub + "\n")
        os.chmod(self.authorized, 0o644)
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (self.port, " ".join(host_pub.split()[:2])))
        cfg = os.path.join(self.dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "Port %d" % self.port, "ListenAddress 127.0.0.1",
                "HostKey %s/host_key" % self.dir, "PidFile none",
                "AuthorizedKeysFile %s" % self.authorized, "StrictModes no",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
                "PermitRootLogin prohibit-password", "AllowUsers root %s" % SSH_USER,
                "PrintMotd no", "PrintLastLog no", "LogLevel ERROR", ""]))
        self.ssh_config = self.client_config(self.known_hosts)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.log = open(os.path.join(self.dir, "sshd.log"), "wb")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("sshd did not start: %s" % self.read_log())
                time.sleep(0.05)

    def client_config(self, known_hosts):
        path = os.path.join(self.dir, "ssh_config-%s" % os.path.basename(known_hosts))
        with open(path, "w") as f:
            f.write("\n".join([
                "Host *", "  IdentityFile %s/client_key" % self.dir, "  IdentitiesOnly yes",
                "  UserKnownHostsFile %s" % known_hosts, "  StrictHostKeyChecking yes",
                "  BatchMode yes", "  LogLevel ERROR", ""]))
        return path

    def read_log(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir])


def ensure_user():
    """The unprivileged login of the access test; made with useradd if missing."""
    try:
        pwd.getpwnam(SSH_USER)
    except KeyError:
        # Password "*": none works, yet the account is not locked ("!"), which sshd refuses.
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/",
                        "--shell", "/bin/sh", "--password", "*", SSH_USER], check=True)


class RemoteCase(VmdTestCase):

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)  # the unprivileged ssh user reaches the socket and files
        self.uri = "ssh://root@127.0.0.1:%d%s" % (SSH.port, self.d.socket)
        self.env = dict(os.environ, VMD_SSH_COMMAND="ssh -F %s" % SSH.ssh_config,
                        VMD_REMOTE_VMCTL=VMCTL)
        for k in ("VMD_HOST", "VMD_SOCKET"):
            self.env.pop(k, None)

    def vmctl(self, *args, remote=True, env=None, timeout=WAIT, **kw):
        """vmctl [-H URI | -s SOCKET] ARGS; the CompletedProcess (text)."""
        where = ["-H", self.uri] if remote else ["-s", self.d.socket]
        return subprocess.run([VMCTL] + where + list(args), capture_output=True, text=True,
                              env=env or self.env, timeout=timeout, **kw)

    def both(self, *args):
        """The same command remotely and locally: both must succeed with the same output."""
        r = self.vmctl(*args)
        l = self.vmctl(*args, remote=False)
        self.assertEqual((r.returncode, r.stderr), (0, ""), args)
        self.assertEqual(l.returncode, 0, l.stderr)
        self.assertEqual(r.stdout, l.stdout, args)
        return r.stdout

    def write_cfg(self, name):
        cfg = self.config(name)
        p = os.path.join(self.tmp, name + ".json")
        with open(p, "w") as f:
            json.dump(cfg, f)
        return p


class TestRemote(RemoteCase):

    def test_same_answers_as_local(self):
        for n in ("web", "db"):
            self.define(n)
        self.c.call("vm.start", {"name": "web"})
        # (info of the running one shows its cpu time and uptime, which move between the two)
        for args in (["list", "--all"], ["-j", "list", "--all"], ["info", "db"],
                     ["-j", "info", "db"], ["config", "web"], ["config", "--json", "db"]):
            self.both(*args)
        r = json.loads(self.vmctl("-j", "info", "web").stdout)
        l = json.loads(self.vmctl("-j", "info", "web", remote=False).stdout)
        for k in ("cpu_time", "uptime"):
            r.pop(k, None)
            l.pop(k, None)
        self.assertEqual(r, l)
        ver = json.loads(self.both("-j", "version"))
        self.assertEqual(ver["backend"], "sim")

    def test_vmd_host_environment(self):
        self.define("envguest")
        env = dict(self.env, VMD_HOST=self.uri)
        r = subprocess.run([VMCTL, "list", "--all"], capture_output=True, text=True, env=env,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("envguest", r.stdout)
        # An explicit -s is the local socket, whatever VMD_HOST says.
        other = vmdtest.Daemon(self.tmp, name="other",
                               state_dir=os.path.join(self.tmp, "other-state"),
                               run_dir=os.path.join(self.tmp, "other-run"))
        self.daemons.append(other)
        other.start()
        r = subprocess.run([VMCTL, "-s", other.socket, "list", "--all"], capture_output=True,
                           text=True, env=env, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("envguest", r.stdout)
        r = subprocess.run([VMCTL, "-s", other.socket, "-H", self.uri, "list"],
                           capture_output=True, text=True, env=env, timeout=WAIT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exclude each other", r.stderr)

    def test_lifecycle(self):
        """A config file read here, the guest made there; every step seen on the daemon."""
        cfg = self.write_cfg("life")
        r = self.vmctl("create", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state("life"), "running")
        for verb, state in (("pause", "paused"), ("unpause", "running"),
                            ("destroy", "stopped"), ("start", "running")):
            r = self.vmctl(verb, "life")
            self.assertEqual(r.returncode, 0, (verb, r.stderr))
            self.assertEqual(self.state("life"), state, verb)
        r = self.vmctl("shutdown", "--wait", "life")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state("life"), "stopped")
        r = self.vmctl("remove", "life")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.c.call("vm.list", {"all": True})["vms"], [])

    def test_daemon_errors_keep_their_exit_status(self):
        r = self.vmctl("-j", "start", "nosuch")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(json.loads(r.stdout)["code"], 1)
        self.assertIn("nosuch", r.stderr)

    def test_events_stream(self):
        p = subprocess.Popen([VMCTL, "-j", "-H", self.uri, "events"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            # The subscription is in place once the daemon counts the proxy's connection;
            # retry the definition until its event arrives.
            deadline = time.monotonic() + WAIT
            got = None
            i = 0
            while got is None and time.monotonic() < deadline:
                self.define("ev%d" % i)
                i += 1
                if select.select([p.stdout], [], [], 1.0)[0]:
                    got = json.loads(p.stdout.readline())
            self.assertIsNotNone(got, "no event through ssh")
            self.assertEqual(got["event"], "defined")
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(WAIT)

    def test_proxy_half_close(self):
        """vmctl proxy: requests on stdin, then its end; every reply still comes, exit 0."""
        reqs = "".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "daemon.version"}) + "\n"
                       for i in range(1, 4))
        r = subprocess.run([VMCTL, "-s", self.d.socket, "proxy"], input=reqs,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(l)["id"] for l in r.stdout.splitlines()], [1, 2, 3])
        r = subprocess.run([VMCTL, "-H", self.uri, "proxy"], capture_output=True, text=True,
                           env=self.env, timeout=WAIT)
        self.assertEqual(r.returncode, 1)


class TestRemoteJobs(RemoteCase):
    daemon_options = {"extra": ["--copy-rate", "16"]}

    def big_guest(self, name, mib):
        cfg = self.config(name)
        img = cfg["disk"][0].rsplit("target=", 1)[1]
        with open(img, "wb") as f:
            f.write(b"\xa5" * (mib << 20))
        self.c.call("vm.define", {"config": cfg})

    def test_progress_bar_over_ssh(self):
        """A clone's job.progress crosses ssh: the bar is drawn on the terminal."""
        self.big_guest("src", 32)
        master, slave = pty.openpty()
        p = subprocess.Popen([VMCTL, "-H", self.uri, "clone", "src", "copy"],
                             stdout=subprocess.PIPE, stderr=slave, env=self.env, text=True)
        os.close(slave)
        seen = b""
        while p.poll() is None or select.select([master], [], [], 0)[0]:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        out = p.stdout.read()
        p.wait(WAIT)
        os.close(master)
        self.assertEqual(p.returncode, 0, seen)
        self.assertIn(b"%", seen, "no progress bar on the terminal")
        self.assertIn("copy", out)
        self.assertEqual(self.state("copy"), "stopped")

    def test_interrupt_cancels_the_remote_job(self):
        """^C on the local vmctl ends the ssh session; the remote daemon cancels the clone
        and leaves nothing of it, as for a local vmctl."""
        self.big_guest("src", 64)
        p = subprocess.Popen([VMCTL, "-H", self.uri, "clone", "src", "copy"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        # The copy runs once its file is there (a copy of 64 MiB at 16 MiB/s takes 4 s).
        deadline = time.monotonic() + WAIT
        while not [f for f in os.listdir(self.tmp) if "copy" in f]:
            self.assertLess(time.monotonic(), deadline, "the clone did not start")
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(WAIT), 130)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            left = [f for f in os.listdir(self.tmp) if "copy" in f]
            if not left:
                break
            time.sleep(0.1)
        self.assertEqual(left, [], "the cancelled clone left files")
        names = [v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]]
        self.assertEqual(names, ["src"])


class TestRemoteConsole(RemoteCase):

    def test_console_without_terminal(self):
        """Without a terminal (ssh -T) stdin goes to the console verbatim; the sim console
        shows its boot log and echoes what it gets."""
        self.create("con")
        r = self.vmctl("console", "--timeout", "3", "con", input="ping-over-ssh\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sim: booting con", r.stdout)
        self.assertIn("ping-over-ssh", r.stdout)

    def test_console_on_a_terminal(self):
        """With a terminal, ssh -t: the remote vmctl relays and ^] detaches (exit 0)."""
        self.create("tty")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(VMCTL, [VMCTL, "-H", self.uri, "console", "tty"], self.env)
        seen = b""
        deadline = time.monotonic() + WAIT
        while b"Escape character" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 4096)
        time.sleep(0.5)
        os.write(fd, b"\x1d")
        while True:
            try:
                if not select.select([fd], [], [], WAIT)[0]:
                    break
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                seen += chunk
            except OSError:
                break
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, seen)
        self.assertIn(b"tty", seen)


class TestRemoteAccess(RemoteCase):
    """The remote daemon sees the SSH user's peer credentials."""

    def test_unprivileged_ssh_user_reads_but_cannot_write(self):
        if os.getuid() != 0:
            self.skipTest("needs root (useradd)")
        ensure_user()
        self.define("seen")
        os.chmod(self.d.socket, 0o666)  # the credential check, not the socket's mode, answers
        uri = "ssh://%s@127.0.0.1:%d%s" % (SSH_USER, SSH.port, self.d.socket)
        # The build may sit in a directory the user cannot enter (a clone in mktemp -d):
        # its remote vmctl is a copy it can run.
        own = os.path.join(self.tmp, "vmctl")
        shutil.copy(VMCTL, own)
        os.chmod(own, 0o755)
        env = dict(self.env, VMD_REMOTE_VMCTL=own)
        r = subprocess.run([VMCTL, "-H", uri, "list", "--all"], capture_output=True, text=True,
                           env=env, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("seen", r.stdout)
        r = subprocess.run([VMCTL, "-j", "-H", uri, "start", "seen"], capture_output=True,
                           text=True, env=env, timeout=WAIT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(json.loads(r.stdout)["code"], 5)
        self.assertEqual(self.state("seen"), "stopped")
        # root, through the same sshd, may.
        self.assertEqual(self.vmctl("start", "seen").returncode, 0)


class TestRemoteErrors(RemoteCase):
    """Clear errors, exit 1, never a hang."""

    def expect_fail(self, args, message, env=None, within=30):
        t0 = time.monotonic()
        r = subprocess.run([VMCTL] + args, capture_output=True, text=True, env=env or self.env,
                           timeout=within + 30)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
        self.assertIn(message, r.stderr, args)
        self.assertLess(took, within, "%s took %.1f s" % (args, took))
        return r

    def test_malformed_uris_run_nothing(self):
        marker = os.path.join(self.tmp, "ssh-ran")
        env = dict(self.env, VMD_SSH_COMMAND="touch %s; false" % marker)
        for uri in ("ssh://", "http://host", "ssh://-oProxyCommand=sh", "ssh://host:0",
                    "ssh://host:65536", "ssh://host:22x", "ssh://us er@host", "ssh://[::1",
                    "ssh://host/run/vmd sock", "ssh://host/a'b", "ssh://host?x=1", "host"):
            self.expect_fail(["-H", uri, "list"], "bad host URI", env=env)
        self.assertFalse(os.path.exists(marker), "ssh ran for a malformed URI")

    def test_unreachable_host(self):
        port = free_port()  # nothing listens there
        self.expect_fail(["-H", "ssh://root@127.0.0.1:%d" % port, "list"], "cannot reach")

    def test_host_that_never_answers(self):
        """A TCP peer that accepts and says nothing: ssh's ConnectTimeout ends it."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        env = dict(self.env, VMD_SSH_TIMEOUT="2")
        try:
            self.expect_fail(["-H", "ssh://root@127.0.0.1:%d" % s.getsockname()[1], "list"],
                             "cannot reach", env=env, within=20)
        finally:
            s.close()

    def test_host_key_mismatch(self):
        wrong = os.path.join(SSH.dir, "wrong_known_hosts")
        other = keygen(os.path.join(self.tmp, "other_host_key"))
        with open(wrong, "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (SSH.port, " ".join(other.split()[:2])))
        env = dict(self.env, VMD_SSH_COMMAND="ssh -F %s" % SSH.client_config(wrong))
        r = self.expect_fail(["-H", self.uri, "list"], "cannot reach", env=env)
        self.assertIn("IDENTIFICATION HAS CHANGED", r.stderr)

    def test_remote_without_vmctl(self):
        env = dict(self.env, VMD_REMOTE_VMCTL="/nonexistent/vmctl")
        self.expect_fail(["-H", self.uri, "list"], "no vmctl on 127.0.0.1", env=env)

    def test_remote_without_daemon(self):
        uri = "ssh://root@127.0.0.1:%d%s" % (SSH.port, os.path.join(self.tmp, "none.sock"))
        r = self.expect_fail(["-H", uri, "list"], "cannot reach vmd on 127.0.0.1")
        self.assertIn("cannot connect to", r.stderr)

    def test_daemon_gone_during_a_call(self):
        self.create("slow", )
        self.c.call("sim.inject", {"name": "slow", "fault": "hang-shutdown"})
        p = subprocess.Popen([VMCTL, "-H", self.uri, "shutdown", "--wait", "slow"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env)
        time.sleep(1.0)
        self.d.kill9()
        _, err = p.communicate(timeout=WAIT)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("127.0.0.1", err)


def main():
    global VMCTL, SSH
    if "--vmctl" in sys.argv:
        i = sys.argv.index("--vmctl")
        VMCTL = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    if not VMCTL:
        print("no vmctl: pass --vmctl PATH or set VMCTL")
        sys.exit(1)
    if os.getuid() != 0 or not os.path.exists(SSHD):
        print("# skipped: needs root and %s (Debian's openssh-server)" % SSHD)
        sys.exit(77)
    SSH = Sshd()
    try:
        vmdtest.main()
    finally:
        SSH.stop()


if __name__ == "__main__":
    main()
