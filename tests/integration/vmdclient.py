"""vmdclient: a small client for the vmd protocol, written from proto/ alone.

Only the standard library (socket, json) is needed to talk to vmd; when the jsonschema module
is available (Debian: python3-jsonschema), every message received can be checked against the
schemas in proto/schemas/, and the params of well-formed requests before they are sent.

    c = Connection("/run/vmd/vmd.sock", validator=SchemaValidator())
    c.call("vm.list", {"all": True})          # -> result, or raises RPCError
    c.call("events.subscribe")
    ev = c.wait_notification(lambda n: n["params"]["event"] == "started")

Framing (proto/vmd-protocol.md, Transport): one compact JSON object per line, UTF-8, '\n'
terminated, at most 1 MiB per line; responses may come in any order and carry the request id;
notifications from the daemon have no id.
"""

import json
import os
import select
import socket
import time

DEFAULT_SOCKET = "/run/vmd/vmd.sock"
SOCKET_ENV = "VMD_SOCKET"
MAX_LINE = 1024 * 1024

# Error codes (proto/vmd-protocol.md, Errors).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_FOUND = 1
EXISTS = 2
BAD_STATE = 3
INVALID_CONFIG = 4
PERMISSION = 5
BACKEND = 6
BUSY = 7
IO = 8
TIMEOUT = 9
NO_RESOURCES = 10
CANCELLED = 11

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto",
                          "schemas")


class ProtocolViolation(AssertionError):
    """The daemon sent something the protocol does not allow."""


class RPCError(Exception):
    """An error response: code, message and data as sent by the daemon."""

    def __init__(self, response):
        err = response["error"]
        self.response = response
        self.code = err["code"]
        self.message = err["message"]
        self.data = err["data"]
        super().__init__("%d: %s %s" % (self.code, self.message, json.dumps(self.data)))


class ConnectionClosed(Exception):
    """The daemon closed the connection."""


class SchemaValidator:
    """Validates messages against proto/schemas (JSON Schema draft 2020-12)."""

    def __init__(self, schema_dir=SCHEMA_DIR):
        import jsonschema  # only needed for validation
        self._js = jsonschema
        self.schemas = {}
        store = {}
        for fn in sorted(os.listdir(schema_dir)):
            if fn.endswith(".json"):
                with open(os.path.join(schema_dir, fn), encoding="utf-8") as f:
                    s = json.load(f)
                self.schemas[fn[:-5]] = s
                store[s["$id"]] = s
        self._store = store
        self._validators = {}
        self.count = 0  # messages validated

    def has(self, name):
        return name in self.schemas

    def validator(self, name):
        v = self._validators.get(name)
        if v is None:
            schema = self.schemas[name]
            cls = self._js.validators.validator_for(schema)
            resolver = self._js.RefResolver(schema["$id"], schema, store=self._store)
            v = cls(schema, resolver=resolver)
            self._validators[name] = v
        return v

    def errors(self, name, instance):
        """The validation errors of instance against schema name (a list, empty if valid)."""
        return sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.path))

    def is_valid(self, name, instance):
        return not self.errors(name, instance)

    def check(self, name, instance, what=""):
        errs = self.errors(name, instance)
        if errs:
            msgs = "; ".join("%s at %s" % (e.message, "/".join(map(str, e.absolute_path)))
                             for e in errs[:5])
            raise ProtocolViolation("%s does not match %s.json: %s\n%s" % (
                what or "message", name, msgs, json.dumps(instance)[:2000]))
        self.count += 1

    def check_incoming(self, msg, method=None):
        """A message from the daemon: a response (to method, if known) or a notification."""
        if "method" in msg:
            self.check("notification", msg, "notification")
            return
        self.check("response", msg, "response")
        if "result" in msg and method and self.has(method + ".result"):
            self.check(method + ".result", msg["result"], method + " result")


def compact(line):
    """True if the JSON text has no whitespace outside its strings (as the daemon writes)."""
    in_str = esc = False
    for ch in line:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in " \t\r\n":
            return False
    return True


def socket_path(path=None):
    return path or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


class Connection:
    """One connection to vmd. Not thread-safe: use one per thread."""

    def __init__(self, path=None, timeout=60.0, validator=None, connect=True):
        self.path = socket_path(path)
        self.timeout = timeout
        self.validator = validator
        self.sock = None
        self._buf = b""
        self._next_id = 1
        self.pending = {}        # id (as JSON text) -> method
        self.responses = {}      # id (as JSON text) -> response, not yet claimed
        self.notifications = []  # notifications received, not yet claimed
        self.received = []       # every message, in order (for tests that look at order)
        self.closed = False      # the daemon closed the connection
        if connect:
            self.connect()

    # ---- transport ------------------------------------------------------------------------

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_bytes(self, data):
        """Raw bytes, as they are (for tests of framing and bad input)."""
        self.sock.sendall(data)

    def send_message(self, msg):
        """One JSON value, encoded compactly, plus the newline."""
        line = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.sock.sendall(line + b"\n")

    def _read_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no message from vmd within the timeout")
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("no message from vmd within the timeout")
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            if self._buf:
                raise ProtocolViolation("connection closed after a partial line: %r" %
                                        self._buf[:200])
            raise ConnectionClosed("vmd closed the connection")
        self._buf += data

    def read_line(self, timeout=None):
        """The next line from the daemon (bytes, without the newline)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self._buf:
            self._read_some(deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def read_message(self, timeout=None, keep=True):
        """The next message, decoded and (with a validator) validated; with keep, also filed
        away for response() and wait_notification()."""
        line = self.read_line(timeout)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolViolation("line from vmd is not UTF-8: %s" % e)
        try:
            msg = json.loads(text)
        except ValueError as e:
            raise ProtocolViolation("line from vmd is not JSON: %s: %r" % (e, text[:200]))
        if not isinstance(msg, dict):
            raise ProtocolViolation("message from vmd is not an object: %r" % text[:200])
        if not compact(text):
            raise ProtocolViolation("message from vmd is not compact JSON: %r" % text[:200])
        key = None
        if "method" not in msg:
            key = json.dumps(msg.get("id"))
        method = self.pending.pop(key, None) if key is not None else None
        if self.validator:
            self.validator.check_incoming(msg, method)
        self.received.append(msg)
        if not keep:
            pass
        elif "method" in msg:
            self.notifications.append(msg)
        else:
            self.responses.setdefault(key, []).append(msg)
        return msg

    # ---- requests -------------------------------------------------------------------------

    def new_id(self):
        i = self._next_id
        self._next_id += 1
        return i

    def request(self, method, params=None, id=None, check_params=True):
        """Sends a request and returns its id without waiting for the response."""
        if id is None:
            id = self.new_id()
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        if check_params and self.validator and self.validator.has(method + ".params"):
            self.validator.check(method + ".params", params if params is not None else {},
                                 "params of " + method)
        self.pending[json.dumps(id)] = method
        self.send_message(msg)
        return id

    def notify(self, method, params=None):
        """A notification (no id): the daemon runs it and sends no reply."""
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send_message(msg)

    def expect(self, id, method=None):
        """Registers the method of a request sent by hand, for result validation."""
        self.pending[json.dumps(id)] = method

    def response(self, id, timeout=None):
        """Waits for the response to id (JSON value); notifications meanwhile are kept."""
        key = json.dumps(id)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.responses.get(key):
            self.read_message(max(0.0, deadline - time.monotonic()) or 0.001)
        r = self.responses[key].pop(0)
        if not self.responses[key]:
            del self.responses[key]
        return r

    def call_raw(self, method, params=None, timeout=None, check_params=True):
        """Sends a request and returns the whole response object."""
        return self.response(self.request(method, params, check_params=check_params), timeout)

    def call(self, method, params=None, timeout=None, check_params=True):
        """Sends a request and returns its result; raises RPCError for an error response."""
        r = self.call_raw(method, params, timeout, check_params)
        if "error" in r:
            raise RPCError(r)
        return r["result"]

    def error(self, method, params=None, timeout=None, check_params=False):
        """Sends a request that must fail; returns the RPCError."""
        r = self.call_raw(method, params, timeout, check_params)
        if "error" not in r:
            raise AssertionError("%s %s succeeded: %s" % (method, json.dumps(params), r))
        return RPCError(r)

    # ---- notifications --------------------------------------------------------------------

    def wait_notification(self, pred=lambda n: True, timeout=None):
        """The first notification (received or to come) that pred accepts; it is consumed
        together with the ones before it."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, n in enumerate(self.notifications):
                if pred(n):
                    del self.notifications[:i + 1]
                    return n
            self.read_message(max(0.001, deadline - time.monotonic()))

    def wait_event(self, name, event=None, state=None, timeout=None):
        """The next vm.event for guest name (with that event and/or state, if given)."""
        def pred(n):
            if n["method"] != "vm.event":
                return False
            p = n["params"]
            return (p["name"] == name and (event is None or p["event"] == event) and
                    (state is None or p["state"] == state))
        return self.wait_notification(pred, timeout)["params"]

    def drain(self, quiet=0.2):
        """Reads whatever arrives until the line is quiet for `quiet` seconds."""
        while True:
            try:
                self.read_message(quiet)
            except TimeoutError:
                return
