"""vmdtest: what the integration tests share: a real vmd (sim backend) on a temporary socket and
state directory, connections that validate everything against proto/schemas, helpers to make
guest configs whose files exist, and a runner that ends with "N passed, N failed".

The vmd executable comes from --vmd PATH on the command line (meson passes it) or $VMD.
Run a file by hand:  /usr/bin/python3 tests/integration/test_protocol.py --vmd build/daemon/vmd [-v] [Test.name]
Set VMD_TEST_KEEP=1 to keep the temporary directories (daemon logs are in them).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdclient  # noqa: E402
from vmdclient import Connection, RPCError, SchemaValidator  # noqa: E402,F401

VMD = os.environ.get("VMD")
SIM_DELAY_MS = 50
WAIT = 60.0           # generous: for anything that has to happen eventually
STOP_WAIT = 60.0

VALIDATOR = SchemaValidator()

# Sanitizer reports and other signs of trouble in vmd's stderr.
BAD_LOG_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
                   "ThreadSanitizer", "Assertion `")


def siphash24(key, data):
    """SipHash-2-4 (Aumasson, Bernstein 2012) of bytes data under a 16-byte key."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13); v[1] ^= v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16); v[3] ^= v[2]
            v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21); v[3] ^= v[0]
            v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17); v[1] ^= v[2]
            v[2] = rotl(v[2], 32)

    tail = len(data) % 8
    blocks = [data[i:i + 8] for i in range(0, len(data) - tail, 8)]
    blocks.append(data[len(data) - tail:] + bytes(7 - tail) + bytes([len(data) & 255]))
    for b in blocks:
        m = int.from_bytes(b, "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xff
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def brief(xlcfg, name, uuid, type_, vcpus, memory, macs):
    """A stored document's "brief" as proto/ 12.1 defines it."""
    return {"name": name, "uuid": uuid, "type": type_, "vcpus": vcpus, "memory": memory,
            "macs": macs,
            "text_sum": "%016x" % siphash24(b"vmd brief v1 sum", xlcfg.encode())}


def spec_options(spec):
    """The options of a device spec as written in xl.cfg ("k=v, k=v", as vm.config's `config`
    gives a disk or vif item) as a dict {k: v}, values as text. A disk's `target=` is last
    and takes the rest of the spec, commas included (xl-disk-configuration(5)). Items
    without '=' (a disk's positional target, format, vdev, access, or a flag such as
    `cdrom`) are not options: they raise ValueError, so a test never reads a positional
    spec as if it had none."""
    out = {}
    rest = spec
    while rest:
        item, sep, tail = rest.partition(",")
        k, eq, v = item.lstrip().partition("=")
        if not eq:
            raise ValueError("not a k=v item in spec %r: %r" % (spec, item.strip()))
        k = k.strip()
        if k == "target":
            v, tail = v + sep + tail, ""
        else:
            v = v.strip()
        if k in out:
            raise ValueError("option %r twice in spec %r" % (k, spec))
        out[k] = v
        rest = tail
    return out


def _parse_argv():
    global VMD
    args = []
    it = iter(sys.argv[1:])
    for a in it:
        if a == "--vmd":
            VMD = next(it)
        elif a.startswith("--vmd="):
            VMD = a[len("--vmd="):]
        else:
            args.append(a)
    sys.argv[1:] = args


class Daemon:
    """One vmd process: --backend=sim on <dir>/vmd.sock with state in <dir>/state."""

    def __init__(self, base, name="vmd", state_dir=None, run_dir=None, sim_memory=None,
                 sim_delay_ms=SIM_DELAY_MS, extra=(), conf="", prefix=()):
        self.base = base
        self.socket = os.path.join(base, name + ".sock")
        self.ro_socket = os.path.join(base, name + "-ro.sock")  # derived by vmd
        # Our own settings file, so that the host's /etc/vmd/vmd.conf plays no part.
        self.conf = os.path.join(base, name + ".conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.state_dir = state_dir or os.path.join(base, "state")
        self.run_dir = run_dir or os.path.join(base, "run")
        self.sim_memory = sim_memory
        self.sim_delay_ms = sim_delay_ms
        self.extra = list(extra)
        self.prefix = list(prefix)  # runs vmd under it: ["ip", "netns", "exec", NS]
        self.proc = None
        self.runs = 0
        self.logs = []  # one log file per start
        self.name = name

    @property
    def guests_dir(self):
        return os.path.join(self.state_dir, "guests")

    def argv(self):
        a = self.prefix + [VMD, "--config", self.conf, "--backend=sim", "--socket", self.socket,
             "--state-dir", self.state_dir,
             "--run-dir", self.run_dir, "--log-level", "debug",
             "--sim-delay-ms", str(self.sim_delay_ms)]
        if self.sim_memory:
            a += ["--sim-memory", str(self.sim_memory)]
        return a + self.extra

    def start(self):
        assert self.proc is None
        self.runs += 1
        log = os.path.join(self.base, "%s.%d.log" % (self.name, self.runs))
        self.logs.append(log)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0")
        with open(log, "wb") as lf:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=lf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + WAIT
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise AssertionError("vmd exited (%s) during start-up:\n%s" % (rc, self.log()))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.socket)
                s.close()
                return
            except OSError:
                s.close()
            if time.monotonic() > deadline:
                raise AssertionError("vmd did not listen within %.0f s:\n%s" % (WAIT, self.log()))
            time.sleep(0.02)

    def connect(self, validator=VALIDATOR, timeout=WAIT, read_only=False):
        return Connection(self.ro_socket if read_only else self.socket, timeout=timeout,
                          validator=validator)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise AssertionError("vmd did not stop within %.0f s of SIGTERM" % STOP_WAIT)
        self.proc = None
        return rc

    def kill9(self):
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def log(self, which=-1):
        try:
            with open(self.logs[which], "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, IndexError):
            return ""

    def all_logs(self):
        return "".join(self.log(i) for i in range(len(self.logs)))

    def problems(self):
        """Sanitizer reports and similar found in any of this daemon's logs."""
        text = self.all_logs()
        return [m for m in BAD_LOG_MARKERS if m in text]


class VmdTestCase(unittest.TestCase):
    """Starts a vmd per test (override daemon_options), stops it after the test and checks
    that it exits cleanly (status 0) with nothing from the sanitizers in its log."""

    daemon_options = {}

    def setUp(self):
        if not VMD:
            self.fail("no vmd executable: pass --vmd PATH or set VMD")
        self.tmp = tempfile.mkdtemp(prefix="vmdt-")
        self.conns = []
        self.daemons = []
        self.d = self.new_daemon(**self.daemon_kwargs())
        self.d.start()
        self.c = self.connect()
        self.kernel = self.touch("vmlinuz")

    def daemon_kwargs(self):
        """Options of the test's daemon (see Daemon); may use self.tmp."""
        return dict(self.daemon_options)

    def new_daemon(self, **kw):
        d = Daemon(self.tmp, name="vmd%d" % len(self.daemons) if self.daemons else "vmd", **kw)
        self.daemons.append(d)
        return d

    def tearDown(self):
        for c in self.conns:
            c.close()
        problems = []
        for d in self.daemons:
            was_running = d.proc is not None
            if was_running and d.proc.poll() is not None:
                problems.append("vmd died during the test (status %s)" % d.proc.returncode)
                d.proc = None
            else:
                rc = d.stop()
                if was_running and rc != 0:
                    problems.append("vmd exited with status %s after SIGTERM" % rc)
            found = d.problems()
            if found:
                problems.append("vmd log contains %s" % ", ".join(found))
        if problems:
            logs = "\n".join("---- %s\n%s" % (l, open(l, errors="replace").read()[-20000:])
                             for d in self.daemons for l in d.logs)
            if os.environ.get("VMD_TEST_KEEP") is None:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.fail("; ".join(problems) + "\n" + logs)
        if os.environ.get("VMD_TEST_KEEP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("kept", self.tmp, file=sys.stderr)

    # ---- helpers --------------------------------------------------------------------------

    def connect(self, daemon=None, validator=VALIDATOR, read_only=False):
        c = (daemon or self.d).connect(validator=validator, read_only=read_only)
        self.conns.append(c)
        return c

    def touch(self, name, content=b""):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(content)
        return p

    def config(self, name, disks=1, vifs=1, **kw):
        """A pv guest config whose kernel and disk images exist."""
        cfg = {"name": name, "kernel": self.kernel, "memory": 128, "vcpus": 1}
        if "disk" not in kw:
            cfg["disk"] = ["format=raw, vdev=xvd%s, access=rw, target=%s" %
                           (chr(ord("a") + i), self.touch("%s-%d.img" % (name, i)))
                           for i in range(disks)]
        if "vif" not in kw:
            cfg["vif"] = [{"bridge": "xenbr0"} for _ in range(vifs)]
        cfg.update(kw)
        return cfg

    def define(self, name, conn=None, **kw):
        return (conn or self.c).call("vm.define", {"config": self.config(name, **kw)})

    def create(self, name, conn=None, **kw):
        return (conn or self.c).call("vm.create", {"config": self.config(name, **kw)})

    def info(self, name, conn=None):
        return (conn or self.c).call("vm.info", {"name": name})

    def state(self, name, conn=None):
        return self.info(name, conn)["state"]

    def wait_state(self, name, state, conn=None, timeout=WAIT, may_not_exist_yet=False):
        """Polls vm.info until the guest is in state; returns its info."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                i = self.info(name, conn)
            except RPCError as e:
                if not (may_not_exist_yet and e.code == vmdclient.NOT_FOUND):
                    raise
                i = {"state": "(not defined)"}
            if i["state"] == state:
                return i
            if time.monotonic() > deadline:
                self.fail("%s did not reach state %s within %.0f s (it is %s)" %
                          (name, state, timeout, i["state"]))
            time.sleep(0.02)

    def wait_gone(self, name, conn=None, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.info(name, conn)
            except RPCError as e:
                self.assertEqual(e.code, vmdclient.NOT_FOUND)
                return
            if time.monotonic() > deadline:
                self.fail("%s still exists after %.0f s" % (name, timeout))
            time.sleep(0.02)

    def assertRPCError(self, err, code, data=None, data_keys=None):
        """err: an RPCError; data: exact expected data; data_keys: keys it must have."""
        self.assertIsInstance(err, RPCError)
        self.assertEqual(err.code, code, "wrong error code: %s" % err)
        self.assertTrue(err.message)
        if data is not None:
            self.assertEqual(err.data, data, "wrong error data: %s" % err)
        for k in data_keys or ():
            self.assertIn(k, err.data, "error data lacks %r: %s" % (k, err))

    def assertCallFails(self, code, method, params=None, conn=None, data=None, data_keys=None):
        err = (conn or self.c).error(method, params)
        self.assertRPCError(err, code, data, data_keys)
        return err

    def assertServing(self, conn=None):
        """The daemon answers on conn and on a brand-new connection."""
        if conn is not None:
            self.assertEqual(conn.call("daemon.version")["protocol"], 1)
        with self.d.connect() as fresh:
            self.assertEqual(fresh.call("daemon.version")["protocol"], 1)
            fresh.call("vm.list", {"all": True})
        self.assertTrue(self.d.alive(), "vmd died")

    def as_user(self, uid, gid, fn):
        """Runs fn() in a child process with that uid and gid (and no supplementary groups);
        returns what fn returns (JSON-able), or raises what it raised, as a failure."""
        if os.geteuid() != 0:
            self.skipTest("needs root to act as another user")
        os.chmod(self.tmp, 0o755)
        r_fd, w_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r_fd)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                out = {"ok": fn()}
            except BaseException as e:
                out = {"exception": "%r" % e}
            os.write(w_fd, json.dumps(out).encode())
            os._exit(0)
        os.close(w_fd)
        data = b""
        while True:
            b = os.read(r_fd, 65536)
            if not b:
                break
            data += b
        os.close(r_fd)
        os.waitpid(pid, 0)
        out = json.loads(data)
        if "exception" in out:
            self.fail("as uid %d: %s" % (uid, out["exception"]))
        return out["ok"]

    def guest_file(self, name):
        return os.path.join(self.d.guests_dir, name + ".json")

    def guest_files(self, daemon=None):
        """The documents in the guests directory, sorted (not the store's .index, a cache
        vmd rewrites a moment after a change and at exit)."""
        return sorted(f for f in os.listdir((daemon or self.d).guests_dir)
                      if not f.startswith("."))

    def sim_domains(self):
        with open(os.path.join(self.d.state_dir, "sim", "domains.json")) as f:
            return json.load(f)["domains"]


class _Result(unittest.TextTestResult):
    pass


def main():
    """Runs the tests of __main__; prints 'N passed, N failed'; exits 1 on any failure."""
    _parse_argv()
    verbosity = 2 if "-v" in sys.argv else 1
    argv = [a for a in sys.argv[1:] if a != "-v"]
    loader = unittest.TestLoader()
    main_mod = sys.modules["__main__"]
    if argv:
        suite = loader.loadTestsFromNames(argv, main_mod)
    else:
        suite = loader.loadTestsFromModule(main_mod)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity,
                                     resultclass=_Result)
    t0 = time.monotonic()
    res = runner.run(suite)
    # A test that fails and then fails again in tearDown is one failed test.
    failed = len({t.id() for t, _ in res.failures + res.errors} |
                 {t.id() for t in res.unexpectedSuccesses})
    passed = res.testsRun - failed - len(res.skipped)
    print("%d messages validated against proto/schemas in %.1f s; %d skipped" %
          (VALIDATOR.count, time.monotonic() - t0, len(res.skipped)))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    sys.exit(1 if failed or res.testsRun == 0 else 0)
