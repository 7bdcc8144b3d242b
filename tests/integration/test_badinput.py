#!/usr/bin/python3
"""Bad input: every bad request gets its documented error (or, for notifications, nothing), and
the daemon keeps serving: the same connection where the spec says it stays open, and always a
second connection that was open all along and a brand-new one."""

import json
import re
import os
import socket
import stat
import time

import vmdtest
from vmdtest import VmdTestCase, WAIT
from vmdclient import (BAD_STATE, EXISTS, INVALID_CONFIG, INVALID_PARAMS, INVALID_REQUEST,
                       MAX_LINE, METHOD_NOT_FOUND, NOT_FOUND, PARSE_ERROR, ConnectionClosed)

V = vmdtest.VALIDATOR


def req(method, params=None, id=1):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        m["params"] = params
    return m


def line(obj):
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class BadInputCase(VmdTestCase):

    def setUp(self):
        super().setUp()
        self.other = self.connect()  # a bystander, open through every test
        self.other.call("vm.list")

    def raw(self, data, conn=None):
        """Sends raw bytes; returns the next message."""
        conn = conn or self.c
        conn.send_bytes(data)
        return conn.read_message(keep=False)

    def raw_error(self, data, code, id=None, conn=None, data_eq=None):
        """Sends raw bytes; the reply must be an error with that code and id; then the daemon
        must still answer on this connection, the bystander and a new one."""
        conn = conn or self.c
        r = self.raw(data, conn)
        self.assertIn("error", r, "no error for %r: %r" % (data[:200], r))
        self.assertEqual(r["error"]["code"], code, "for %r: %r" % (data[:200], r))
        self.assertEqual(r["id"], id)
        if data_eq is not None:
            self.assertEqual(r["error"]["data"], data_eq)
        self.assertServing(conn)
        self.assertServing(self.other)
        return r["error"]

    def assertServing(self, conn=None):
        super().assertServing(conn)

    def assertClosed(self, conn):
        """The daemon closed conn (after sending what it had to send)."""
        deadline = time.monotonic() + WAIT
        with self.assertRaises(ConnectionClosed):
            while time.monotonic() < deadline:
                conn.read_message(WAIT)


class TestFraming(BadInputCase):

    def test_malformed_json(self):
        for bad in (b"{", b"}", b"nope", b"{\"jsonrpc\":\"2.0\",}", b"{'a':1}",
                    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\"} x",
                    b"{\"a\":1}}", b"[1,2", b"\"unterminated", b"   ", b"\t",
                    b"{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"daemon.version\"}",
                    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\",\"params\":{}}{}",
                    b"NaN", b"{\"id\":1e400}"):
            e = self.raw_error(bad + b"\n", PARSE_ERROR)
            self.assertEqual(set(e["data"]) - {"column"}, set())

    def test_duplicate_member_is_a_parse_error(self):
        self.raw_error(b'{"jsonrpc":"2.0","id":1,"id":2,"method":"daemon.version"}\n',
                       PARSE_ERROR)
        self.raw_error(b'{"jsonrpc":"2.0","id":1,"method":"vm.info",'
                       b'"params":{"name":"a","name":"b"}}\n', PARSE_ERROR)

    def test_invalid_utf8(self):
        base = b'{"jsonrpc":"2.0","id":1,"method":"vm.info","params":{"name":"%s"}}\n'
        for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"a\xe2\x82",
                    b"\xf8\x88\x80\x80\x80", b"\xf4\x90\x80\x80"):
            self.raw_error(base.replace(b"%s", bad), PARSE_ERROR)
        # outside strings, and in a member name
        self.raw_error(b'\xfe{"jsonrpc":"2.0","id":1,"method":"daemon.version"}\n', PARSE_ERROR)
        self.raw_error(b'{"jsonrpc":"2.0","id":1,"method":"daemon.version","\xff":1}\n',
                       PARSE_ERROR)
        # escapes that are not Unicode scalar values or hold NUL
        self.raw_error(base.replace(b"%s", b"\\ud800"), PARSE_ERROR)
        self.raw_error(base.replace(b"%s", b"a\\u0000b"), PARSE_ERROR)
        self.raw_error(base.replace(b"%s", b"a\x00b"), PARSE_ERROR)
        # valid UTF-8 that is not a valid name is a params error, not a parse error
        self.raw_error(base.replace(b"%s", "\u00e9".encode()), INVALID_PARAMS, id=1)

    def test_deep_nesting_and_huge_numbers(self):
        self.raw_error(b"[" * 100000 + b"]" * 100000 + b"\n", PARSE_ERROR)
        self.raw_error(b'{"a":' * 50000 + b"1" + b"}" * 50000 + b"\n", PARSE_ERROR)
        self.raw_error(b'{"jsonrpc":"2.0","id":123456789012345678901234567890,'
                       b'"method":"daemon.version"}\n', PARSE_ERROR)

    def test_not_a_request_object(self):
        # valid JSON that is not a request object (JSON-RPC 2.0 section 5.1: -32600)
        for bad in (b"[]", b"{}", b"42", b'"vm.list"', b"null", b"true"):
            self.raw_error(bad + b"\n", INVALID_REQUEST, data_eq={})

    def batch(self, data, wait=False):
        """Sends one line and a daemon.version with id "after"; returns what the line got
        (parsed; an array for a batch, which the validating client does not take), or None
        when "after" was answered and nothing else came. wait: a batch whose answer may come
        after "after"'s."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.socket)
        s.settimeout(vmdtest.WAIT)
        s.sendall(data + b"\n" + b'{"jsonrpc":"2.0","id":"after","method":"daemon.version"}\n')
        buf, got, after = b"", None, False
        while not after or (wait and got is None):
            chunk = s.recv(65536)
            self.assertTrue(chunk, "EOF")
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                m = json.loads(line)
                if isinstance(m, dict) and m.get("id") == "after":
                    after = True
                elif got is None:
                    got = m
        s.close()
        return got

    def test_defines_of_a_burst_share_their_syncs(self):
        """vm.define requests that arrive together are stored with one round of syncs
        (proto/ 12.1), and each request still sees what was answered before it: names and
        MACs taken by an earlier define of the burst, a start of a guest defined just before,
        a list after them."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.socket)
        s.settimeout(vmdtest.WAIT)
        lines = []
        for i in range(40):
            lines.append({"jsonrpc": "2.0", "id": i, "method": "vm.define",
                          "params": {"config": self.config("burst%02d" % i, vifs=0)}})
        mac = "00:16:3e:11:22:33"
        lines.append({"jsonrpc": "2.0", "id": "dup", "method": "vm.define",
                      "params": {"config": self.config("burst00", vifs=0)}})
        lines.append({"jsonrpc": "2.0", "id": "m1", "method": "vm.define",
                      "params": {"config": self.config("mac1", vif=["mac=" + mac])}})
        lines.append({"jsonrpc": "2.0", "id": "m2", "method": "vm.define",
                      "params": {"config": self.config("mac2", vif=["mac=" + mac])}})
        lines.append({"jsonrpc": "2.0", "id": "start", "method": "vm.start",
                      "params": {"name": "burst39"}})
        lines.append({"jsonrpc": "2.0", "id": "list", "method": "vm.list",
                      "params": {"all": True}})
        s.sendall(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        got, buf = [], b""
        while len(got) < len(lines):
            chunk = s.recv(1 << 20)
            self.assertTrue(chunk, "EOF")
            buf += chunk
            *done, buf = buf.split(b"\n")
            got += [json.loads(x) for x in done]
        s.close()
        self.assertEqual(sorted(map(str, (m["id"] for m in got))),
                         sorted(map(str, (m["id"] for m in lines))))
        by = {m["id"]: m for m in got}
        # the start and the list waited for the defines' commit
        ids = [m["id"] for m in got]
        self.assertGreater(ids.index("start"), max(ids.index(i) for i in range(40)))
        for i in range(40):
            self.assertEqual(by[i]["result"]["name"], "burst%02d" % i)
        self.assertEqual(by["dup"]["error"]["code"], vmdtest.vmdclient.EXISTS)
        self.assertIn("result", by["m1"])
        self.assertEqual(by["m2"]["error"]["code"], vmdtest.vmdclient.EXISTS)
        self.assertEqual(by["start"]["result"]["state"], "running")
        names = {v["name"] for v in by["list"]["result"]["vms"]}
        self.assertEqual(names, {"burst%02d" % i for i in range(40)} | {"mac1"})
        sizes = [int(n) for n in re.findall(r"store: (\d+) definitions? committed together",
                                            self.d.log())]
        self.assertEqual(sum(sizes), 41)
        self.assertGreater(max(sizes), 1, "no define shared a commit")
        self.assertEqual(self.guest_files(), sorted(["burst%02d.json" % i for i in range(40)]
                                                     + ["mac1.json"]))
        self.d.kill9()
        self.d.start()
        self.c = self.connect()
        self.assertEqual({v["name"] for v in self.c.call("vm.list", {"all": True})["vms"]},
                         names)

    def test_info_encoded_once_is_what_changes_show(self):
        """vm.info of a guest without a domain is encoded once and kept (daemon/vm-json.c):
        every change it shows still shows at once, a batch gets the same object, and the
        reply is the bytes a fresh encoding gives (other ids, string ids)."""
        self.define("enc", vcpus=2)
        first = self.info("enc")
        self.assertEqual(self.info("enc"), first)
        self.c.call("vm.autostart", {"name": "enc", "enabled": True})
        self.assertEqual(self.info("enc"), dict(first, autostart=True))
        self.c.call("vm.start", {"name": "enc"})
        self.assertEqual(self.info("enc")["state"], "running")
        self.c.call("vm.destroy", {"name": "enc"})
        self.assertEqual(self.wait_state("enc", "stopped"), dict(first, autostart=True))
        got = self.batch(b'[{"jsonrpc":"2.0","id":7,"method":"vm.info","params":{"name":"enc"}}]')
        self.assertEqual(got, [{"jsonrpc": "2.0", "id": 7, "result": dict(first, autostart=True)}])
        for rid in (b'"a\\u00e9\\"x"', b"-3", b"null"):
            got = self.batch(b'{"jsonrpc":"2.0","id":' + rid +
                             b',"method":"vm.info","params":{"name":"enc"}}')
            self.assertEqual(got, {"jsonrpc": "2.0", "id": json.loads(rid),
                                   "result": dict(first, autostart=True)})

    def test_batches_as_in_the_json_rpc_spec(self):
        """JSON-RPC 2.0 section 7's batch examples, with vmd's methods for sum, subtract..."""
        # rpc call with invalid JSON: one error object
        r = self.batch(b'[{"jsonrpc":"2.0","method":"vm.list","params":{},"id":"1"},'
                       b'{"jsonrpc":"2.0","method"]')
        self.assertEqual((r["error"]["code"], r["id"]), (PARSE_ERROR, None))
        # empty array: one error object
        r = self.batch(b"[]")
        self.assertEqual((r["error"]["code"], r["id"]), (INVALID_REQUEST, None))
        # an invalid batch of one, of three
        for n in (1, 3):
            r = self.batch(b"[" + b",".join(b"%d" % (i + 1) for i in range(n)) + b"]")
            self.assertEqual(len(r), n)
            for e in r:
                self.assertEqual((e["error"]["code"], e["id"]), (INVALID_REQUEST, None))
        # a mixed batch: results, a notification (no answer), an invalid request, an unknown
        # method, and one that fails
        r = self.batch(b'[{"jsonrpc":"2.0","method":"daemon.version","id":"1"},'
                       b'{"jsonrpc":"2.0","method":"vm.list","params":{"all":true}},'
                       b'{"foo":"boo"},'
                       b'{"jsonrpc":"2.0","method":"foo.get","params":{"name":"myself"},"id":"5"},'
                       b'{"jsonrpc":"2.0","method":"vm.list","params":{},"id":"9"},'
                       b'{"jsonrpc":"2.0","method":"vm.info","params":{"name":"nope"},"id":10}]')
        self.assertEqual(len(r), 5)
        by_id = {json.dumps(x["id"]): x for x in r}
        self.assertEqual(by_id['"1"']["result"]["protocol"], 1)
        self.assertEqual(by_id["null"]["error"]["code"], INVALID_REQUEST)
        self.assertEqual(by_id['"5"']["error"]["code"], METHOD_NOT_FOUND)
        self.assertEqual(by_id['"9"']["result"], {"vms": []})
        self.assertEqual(by_id["10"]["error"]["code"], NOT_FOUND)
        # all notifications: nothing comes back (the next line's answer comes first)
        r = self.batch(b'[{"jsonrpc":"2.0","method":"daemon.version"},'
                       b'{"jsonrpc":"2.0","method":"vm.list"}]')
        self.assertIsNone(r)
        # a slow request holds the array back until it is done: a create
        cfg = json.dumps({"jsonrpc": "2.0", "id": "c", "method": "vm.create",
                          "params": {"config": self.config("bat")}}).encode()
        r = self.batch(b"[" + cfg + b',{"jsonrpc":"2.0","id":"v","method":"daemon.version"}]',
                       wait=True)
        self.assertEqual(sorted(x["id"] for x in r), ["c", "v"])
        self.assertEqual([x["result"]["state"] for x in r if x["id"] == "c"], ["running"])
        self.assertServing()

    def test_bad_envelope(self):
        cases = [
            ({"id": 7, "method": "daemon.version"}, 7, {}),
            ({"jsonrpc": "1.0", "id": 7, "method": "daemon.version"}, 7, {}),
            ({"jsonrpc": 2.0, "id": 7, "method": "daemon.version"}, 7, {}),
            ({"jsonrpc": "2.0", "id": 7}, 7, {}),
            ({"jsonrpc": "2.0", "id": 7, "method": 5}, 7, {}),
            ({"jsonrpc": "2.0", "id": 7, "method": None}, 7, {}),
            ({"jsonrpc": "2.0", "id": 7, "method": "daemon.version", "extra": 1}, 7,
             {"member": "extra"}),
            ({"jsonrpc": "2.0", "id": "x", "method": "vm.list", "Params": {}}, "x",
             {"member": "Params"}),
            # bad ids: answered with id null
            ({"jsonrpc": "2.0", "id": 1.5, "method": "daemon.version"}, None, {}),
            ({"jsonrpc": "2.0", "id": {}, "method": "daemon.version"}, None, {}),
            ({"jsonrpc": "2.0", "id": [1], "method": "daemon.version"}, None, {}),
            ({"jsonrpc": "2.0", "id": True, "method": "daemon.version"}, None, {}),
        ]
        for msg, id, data in cases:
            self.raw_error(line(msg), INVALID_REQUEST, id=id, data_eq=data)
            self.assertFalse(vmdtest.VALIDATOR.is_valid("request", msg), msg)

    def test_unknown_method(self):
        for m in ("vm.frobnicate", "", "VM.LIST", "vm.list ", "daemon", "job.progress",
                  "vm.event", "x" * 5000):
            e = self.raw_error(line(req(m, {})), METHOD_NOT_FOUND, id=1)
            self.assertEqual(e["data"], {"method": m})

    def test_quoted_text_cut_inside_a_character(self):
        """Issue 13: messages that quote client text cut it (64, 80 bytes...); a cut inside a
        multi-byte character once made the reply invalid UTF-8 and it was dropped."""
        e = "\u00e9" * 300  # two bytes each: every cut at an odd byte lands inside one
        for i, (method, params, code) in enumerate([
                (e, None, METHOD_NOT_FOUND),
                ("vm.info", {"name": e}, INVALID_PARAMS),
                ("vm.info", {"name": "x", e: 1}, INVALID_PARAMS),
                ("disk.create", {"path": e, "size": "1M"}, INVALID_PARAMS),
                ("vm.define", {"xlcfg": "name = 'a'\nkernel = '/k'\nk%s = 1\n" % e},
                 INVALID_CONFIG),
                ("vm.define", {"config": {"name": "a", "kernel": "/k", "k" + e: 1}},
                 INVALID_CONFIG)]):
            msg = {"jsonrpc": "2.0", "id": i + 1, "method": method}
            if params is not None:
                msg["params"] = params
            r = self.raw(json.dumps(msg, ensure_ascii=False).encode() + b"\n")
            self.assertIn("error", r, (method, r))
            self.assertEqual(r["id"], i + 1)
            if code is not None:
                self.assertEqual(r["error"]["code"], code, r)
            self.assertTrue(r["error"]["message"])
        self.assertServing()

    def test_empty_lines_and_crlf(self):
        """Empty lines are skipped; a CR before the LF is dropped."""
        self.c.expect(5, "daemon.version")
        r = self.raw(b"\n\n\r\n" + line(req("daemon.version", id=5))[:-1] + b"\r\n")
        self.assertEqual((r["id"], r["result"]["protocol"]), (5, 1))
        self.c.drain(0.3)
        self.assertEqual(len(self.c.received), 1)

    def test_request_split_across_writes(self):
        data = line(req("vm.list", {"all": True}, id=9))
        self.c.expect(9, "vm.list")
        for i in range(len(data)):
            self.c.send_bytes(data[i:i + 1])
        self.assertEqual(self.c.response(9)["result"], {"vms": []})

    def test_last_request_without_newline_then_eof(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(line(req("daemon.version", id=3))[:-1])
        s.shutdown(socket.SHUT_WR)
        s.settimeout(WAIT)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        r = json.loads(data)
        V.check("response", r)
        self.assertEqual((r["id"], r["result"]["protocol"]), (3, 1))
        self.assertServing(self.other)


class TestLineLimit(BadInputCase):

    def test_line_of_exactly_the_limit_is_parsed(self):
        head = line(req("vm.list", {"all": True}, id=11))[:-1]
        pad = MAX_LINE - len(head)
        data = head[:-1] + b" " * pad + b"}"
        self.assertEqual(len(data), MAX_LINE)
        self.c.expect(11, "vm.list")
        self.assertEqual(self.raw(data + b"\n")["result"], {"vms": []})
        # a string member making the line exactly the limit: a normal params error
        head = b'{"jsonrpc":"2.0","id":12,"method":"vm.info","params":{"name":"'
        tail = b'"}}'
        data = head + b"a" * (MAX_LINE - len(head) - len(tail)) + tail
        self.assertEqual(len(data), MAX_LINE)
        e = self.raw_error(data + b"\n", INVALID_PARAMS, id=12)
        self.assertEqual(e["data"], {"param": "name"})
        # not JSON, exactly the limit: a normal parse error
        self.raw_error(b"x" * MAX_LINE + b"\n", PARSE_ERROR)

    def test_line_over_the_limit_is_refused_and_closes(self):
        head = line(req("vm.list", {}, id=13))[:-1]
        data = head[:-1] + b" " * (MAX_LINE + 1 - len(head)) + b"}"
        self.assertEqual(len(data), MAX_LINE + 1)
        self.c.send_bytes(data + b"\n" + line(req("daemon.version", id=14)))
        r = self.c.read_message()
        self.assertEqual(r["id"], None)
        self.assertEqual(r["error"]["code"], INVALID_REQUEST)
        self.assertEqual(r["error"]["data"], {"limit": MAX_LINE})
        self.assertClosed(self.c)  # nothing after the long line is read
        self.assertServing(self.other)

    def test_endless_line_without_newline(self):
        """The limit applies before the newline comes: the daemon does not buffer forever."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.settimeout(WAIT)
        chunk = b" " * 65536
        sent = 0
        try:
            while sent < 64 * MAX_LINE:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except ConnectionResetError:
            pass
        s.close()
        self.assertLess(sent, 64 * MAX_LINE, "the daemon kept reading an endless line")
        r = json.loads(data.split(b"\n")[0])
        V.check("response", r)
        self.assertEqual(r["error"]["code"], INVALID_REQUEST)
        self.assertServing(self.other)


class TestParams(BadInputCase):

    def params_error(self, method, params, param=None, conn=None):
        e = self.raw_error(line(req(method, params)), INVALID_PARAMS, id=1, conn=conn)
        if param is not None:
            self.assertEqual(e["data"], {"param": param}, (method, params))
        if V.has(method + ".params"):
            self.assertFalse(V.is_valid(method + ".params", params),
                             "schema accepts params the daemon refuses: %s %s" % (method, params))
        return e

    def test_params_not_an_object(self):
        for p in ([], ["x"], "x", 1, None, True):
            msg = {"jsonrpc": "2.0", "id": 1, "method": "vm.info", "params": p}
            e = self.raw_error(line(msg), INVALID_PARAMS, id=1)
            self.assertEqual(e["data"], {})
            self.assertFalse(V.is_valid("request", msg))

    def test_unknown_and_missing_params(self):
        self.params_error("daemon.version", {"x": 1}, "x")
        self.params_error("vm.list", {"all": True, "verbose": True}, "verbose")
        self.params_error("vm.info", {"name": "a", "Name": "a"}, "Name")
        self.params_error("vm.info", {}, "name")
        self.params_error("vm.autostart", {"name": "a"}, "enabled")
        self.params_error("vm.shutdown", {"wait": True}, "name")
        self.params_error("sim.inject", {"name": "a"}, "fault")
        self.params_error("events.subscribe", {"filter": "x"}, "filter")
        self.params_error("vm.define", {})
        self.params_error("vm.define", {"config": {"name": "a"}, "xlcfg": "name='a'"})
        self.params_error("vm.create", {"config": {"name": "a"}, "filename": "a.cfg"})
        self.params_error("vm.define", {"config": {"name": "a"}, "bogus": 1}, "bogus")

    def test_wrong_types(self):
        cases = [
            ("vm.info", {"name": 5}, "name"), ("vm.info", {"name": None}, "name"),
            ("vm.info", {"name": ["a"]}, "name"), ("vm.info", {"name": {"a": 1}}, "name"),
            ("vm.list", {"all": "yes"}, "all"), ("vm.list", {"all": 1}, "all"),
            ("vm.list", {"all": None}, "all"),
            ("vm.shutdown", {"name": "a", "wait": "true"}, "wait"),
            ("vm.shutdown", {"name": "a", "timeout": "5"}, "timeout"),
            ("vm.shutdown", {"name": "a", "timeout": 1.5}, "timeout"),
            ("vm.shutdown", {"name": "a", "timeout": 0}, "timeout"),
            ("vm.shutdown", {"name": "a", "timeout": -1}, "timeout"),
            ("vm.shutdown", {"name": "a", "timeout": 86401}, "timeout"),
            ("vm.shutdown", {"name": "a", "timeout": 2 ** 62}, "timeout"),
            ("vm.remove", {"name": "a", "delete_disks": "no"}, "delete_disks"),
            ("vm.autostart", {"name": "a", "enabled": "on"}, "enabled"),
            ("vm.autostart", {"name": "a", "enabled": 1}, "enabled"),
            ("vm.define", {"config": "name = 'a'"}, "config"),
            ("vm.define", {"config": []}, "config"),
            ("vm.define", {"xlcfg": {"name": "a"}}, "xlcfg"),
            ("vm.define", {"xlcfg": "name='a'", "filename": 3}, "filename"),
            ("sim.inject", {"fault": 1}, "fault"),
        ]
        for method, params, param in cases:
            self.params_error(method, params, param)
        # boundaries that are fine
        self.define("ok1")
        for t in (1, 86400):
            self.assertEqual(self.c.error("vm.shutdown", {"name": "ok1", "timeout": t}).code,
                             BAD_STATE)

    def test_bad_names(self):
        long_ok = "n" * 64
        for bad in ("../x", "a/b", "", "n" * 65, "x" * 1000, ".hidden", ".", "..", "a b",
                    "a\nb", "\u00e9t\u00e9", "a:b", "-" * 0 + "*", "a\\b", "~root"):
            for method in ("vm.info", "vm.start", "vm.remove", "vm.config"):
                self.params_error(method, {"name": bad}, "name")
            e = self.raw_error(line(req("vm.define", {"config": self.config("x") | {"name": bad}})),
                               INVALID_CONFIG, id=1)
            self.assertEqual(e["data"].get("key"), "name", bad)
            if "\n" not in bad:
                e = self.raw_error(line(req("vm.define", {"xlcfg": 'name = "%s"\nkernel = "%s"\n'
                                                          % (bad, self.kernel)})),
                                   INVALID_CONFIG, id=1)
                self.assertEqual(e["data"].get("key"), "name", bad)
        # nothing was written outside (or inside) the guests directory
        self.assertEqual(self.guest_files(), [])
        self.assertEqual(sorted(os.listdir(self.d.state_dir)), ["guests", "jobs", "sim"])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "jobs")), [])
        self.assertFalse(os.path.exists(os.path.join(self.d.state_dir, "x.json")))
        # 64 characters is allowed; so are the other characters of the alphabet
        for good in (long_ok, "A-z_0.9", "-x", "_", "x..y"):
            self.assertEqual(self.define(good)["name"], good)
            self.assertEqual(self.info(good)["name"], good)

    def test_duplicates(self):
        a = self.define("dupa", vifs=1)
        cfg_a = self.c.call("vm.config", {"name": "dupa"})["config"]
        # the vif spec as stored: the generated mac= first
        mac = cfg_a["vif"][0].split(",")[0].split("=")[1]
        # same name
        e = self.c.error("vm.define", {"config": self.config("dupa")})
        self.assertRPCError(e, EXISTS, data={"name": "dupa"})
        # same UUID, also spelt in upper case
        for u in (a["uuid"], a["uuid"].upper()):
            e = self.c.error("vm.define", {"config": self.config("dupb", uuid=u)})
            self.assertRPCError(e, EXISTS, data={"uuid": a["uuid"], "name": "dupa"})
        e = self.c.error("vm.define", {"xlcfg": 'name = "dupb"\nkernel = "%s"\nuuid = "%s"\n'
                                       % (self.kernel, a["uuid"])})
        self.assertRPCError(e, EXISTS, data={"uuid": a["uuid"], "name": "dupa"})
        # same MAC as another guest, also in upper case
        for m in (mac, mac.upper()):
            e = self.c.error("vm.define", {"config": self.config("dupb", vif=[{"mac": m}])})
            self.assertRPCError(e, EXISTS, data={"mac": mac, "name": "dupa"})
        e = self.c.error("vm.define", {"config": self.config("dupb", vif=["mac=%s" % mac])})
        self.assertRPCError(e, EXISTS, data={"mac": mac, "name": "dupa"})
        # the same MAC twice in one guest, the same vdev twice
        e = self.c.error("vm.define", {"config": self.config(
            "dupb", vif=[{"mac": "00:16:3e:00:00:01"}, {"mac": "00:16:3e:00:00:01"}])})
        self.assertRPCError(e, INVALID_CONFIG, data={"key": "vif"})
        img = self.touch("d.img")
        e = self.c.error("vm.define", {"config": self.config(
            "dupb", disk=["%s,raw,xvda,rw" % img, "%s,raw,xvda,rw" % img])})
        self.assertRPCError(e, INVALID_CONFIG, data={"key": "disk"})
        # a duplicate key in xl.cfg: the last one wins, as in xl
        vm = self.c.call("vm.define", {"xlcfg": 'name = "dupc"\nkernel = "%s"\nmemory = 64\n'
                                       'memory = 96\n' % self.kernel})
        self.assertEqual(vm["memory"], 96)
        # none of the refused definitions exists
        names = sorted(v["name"] for v in self.c.call("vm.list", {"all": True})["vms"])
        self.assertEqual(names, ["dupa", "dupc"])
        self.assertEqual(self.guest_files(), ["dupa.json", "dupc.json"])

    def test_device_bounds_and_restart(self):
        """Issue 13: a definition the store could not read back was accepted (14,000 vifs:
        stored, then skipped at the next start, its name blocked)."""
        vifs = ", ".join("'bridge=xenbr0'" for _ in range(1025))
        e = self.raw_error(line(req("vm.define", {"xlcfg": "name = 'big'\nkernel = '%s'\n"
                                                  "vif = [ %s ]\n" % (self.kernel, vifs)})),
                           INVALID_CONFIG, id=1)
        self.assertEqual(e["data"]["key"], "vif")
        vifs = ", ".join("'bridge=xenbr0'" for _ in range(1024))
        self.c.call("vm.define", {"xlcfg": "name = 'big'\nkernel = '%s'\nvif = [ %s ]\n"
                                  % (self.kernel, vifs)})
        self.c.close()
        self.other.close()
        self.d.stop()
        self.d.start()
        self.c = self.d.connect()
        self.other = self.d.connect()
        self.assertEqual(len(self.c.call("vm.info", {"name": "big"})["vifs"]), 1024)

    def test_fifo_in_the_state_directory(self):
        """Issue 13: a FIFO named guests/x.json blocked the start forever (SIGTERM ignored)."""
        self.c.close()
        self.other.close()
        self.d.stop()
        os.mkfifo(os.path.join(self.d.guests_dir, "x.json"))
        self.d.start()
        self.c = self.d.connect()
        self.other = self.d.connect()
        self.assertIn("skipping", open(self.d.logs[-1]).read())
        # the name is not free, and the FIFO is left alone
        e = self.c.error("vm.define", {"config": self.config("x")})
        self.assertEqual(e.code, EXISTS)
        self.assertTrue(stat.S_ISFIFO(os.lstat(os.path.join(self.d.guests_dir, "x.json")).st_mode))
        self.assertEqual(self.d.stop(), 0)
        self.d.start()

    def test_bad_configs(self):
        img = self.touch("c.img")
        cases = [
            ({"memmory": 1}, "memmory"), ({"memory": "1G"}, "memory"),
            ({"memory": 1.5}, "memory"), ({"vcpus": -1}, "vcpus"),
            ({"kernel": "relative/vmlinuz"}, "kernel"), ({"kernel": 5}, "kernel"),
            ({"disk": "notalist"}, "disk"), ({"disk": [5]}, "disk"),
            ({"disk": [{"vdev": "xvda", "target": img, "size": 5}]}, "disk"),
            ({"disk": [{"target": img}]}, "disk"), ({"disk": ["%s,raw,zz,rw" % img]}, "disk"),
            ({"disk": [{"vdev": "xvda", "target": "rel.img"}]}, "disk"),
            ({"vif": [{"mac": "01:00:5e:00:00:01"}]}, "vif"),
            ({"vif": [{"mac": "nonsense"}]}, "vif"), ({"vif": [{"colour": "red"}]}, "vif"),
            ({"on_reboot": "rename-restart"}, "on_reboot"), ({"on_crash": "restart_rename"}, "on_crash"),
            ({"type": "pvh", "kernel": None}, "kernel"),
            ({"cmdline": "a\nb"}, "cmdline"),
        ]
        for extra, key in cases:
            cfg = self.config("bc")
            cfg.update(extra)
            e = self.raw_error(line(req("vm.define", {"config": cfg})), INVALID_CONFIG, id=1)
            self.assertEqual(e["data"], {"key": key}, extra)
        for text, data in [
                ('name = "bc"\nkernel = "%s"\nmemmory = 3\n' % self.kernel,
                 {"key": "memmory", "line": 3}),
                ('name = "bc"\nkernel = "%s"\nvcpus = "many"\n' % self.kernel,
                 {"key": "vcpus", "line": 3}),
                ('name = "bc"\n\nkernel = "%s"\nmemory = [1]\n' % self.kernel,
                 {"key": "memory", "line": 4}),
                ('name = "bc"\nkernel = "%s"\ndef f(): pass\n' % self.kernel, None),
                ('name = "bc"\nkernel = "%s"\nx = "\x01"\n' % self.kernel, None),
                ("", None), ("\xff\xfe", None)]:
            e = self.raw_error(line(req("vm.define", {"xlcfg": text})), INVALID_CONFIG, id=1)
            if data is not None:
                self.assertEqual(e["data"], data, text)
        self.assertEqual(self.guest_files(), [])


class TestDisconnects(BadInputCase):

    def test_partial_line_then_close(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"vm.li')
        s.close()
        self.assertServing(self.other)

    def test_create_then_vanish(self):
        """A client that sends vm.create and goes: the create still completes."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(line(req("vm.create", {"config": self.config("gone1")})))
        s.close()
        self.wait_state("gone1", "running", conn=self.other, may_not_exist_yet=True)
        self.assertServing(self.other)

    def test_shutdown_wait_then_vanish(self):
        self.create("gone2")
        self.c.call("sim.inject", {"fault": "hang-shutdown", "name": "gone2"})
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(line(req("vm.shutdown", {"name": "gone2", "wait": True, "timeout": 2})))
        self.wait_state("gone2", "shutting-down")
        s.close()
        time.sleep(3)  # the wait's timeout passes with its client gone
        self.assertServing(self.other)
        self.assertEqual(self.c.call("vm.destroy", {"name": "gone2"})["state"], "stopped")
        # and a waiting client that goes while the guest really stops
        self.create("gone3")
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(line(req("vm.shutdown", {"name": "gone3", "wait": True})))
        s.close()
        self.wait_state("gone3", "stopped")
        self.assertServing(self.other)

    def test_many_requests_then_vanish_without_reading(self):
        """1000 vm.list requests (with replies far larger than a socket buffer), then gone."""
        for i in range(30):
            self.define("vl%02d" % i)
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.d.socket)
            s.sendall(b"".join(line(req("vm.list", {"all": True}, id=i)) for i in range(1000)))
            s.close()
            self.assertServing(self.other)
        self.assertEqual(len(self.other.call("vm.list", {"all": True})["vms"]), 30)

    def test_half_close_still_gets_replies(self):
        self.define("hc1")
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.sendall(line(req("vm.start", {"name": "hc1"}, id=1)) +
                  line(req("vm.list", {}, id=2)))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(WAIT)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        msgs = [json.loads(x) for x in data.split(b"\n") if x]
        self.assertEqual(sorted(m["id"] for m in msgs), [1, 2])
        for m in msgs:
            V.check("response", m)
            V.check({1: "vm.start", 2: "vm.list"}[m["id"]] + ".result", m["result"])

    def test_reader_that_never_reads_is_held_back(self):
        """A client that keeps asking and never reads: once 4 MiB of replies wait for it, vmd
        stops reading its requests (the client's writes block), so what it costs the daemon
        is bounded; nobody else notices, and it is answered when it reads."""
        for i in range(40):
            self.define("sr%02d" % i)
        one = len(line(self.other.call_raw("vm.list", {"all": True})))
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.socket)
        s.settimeout(3)
        batch = b"".join(line(req("vm.list", {"all": True}, id=i)) for i in range(500))
        limit = 3 * (16 * 1024 * 1024) // one + 1  # requests for 3 times the output cap
        sent = 0
        with self.assertRaises(socket.timeout):
            while sent < limit:
                s.sendall(batch)
                sent += 500
        self.assertServing(self.other)
        # vmd's memory: its output queue for this client stays near the pause mark
        rss = int(open("/proc/%d/statm" % self.d.proc.pid).read().split()[1]) * 4096
        self.assertLess(rss, 200 * 1024 * 1024)
        # it reads now: what it had sent and vmd had taken is answered
        got = 0
        s.settimeout(5)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got += b.count(b"\n")
        except socket.timeout:
            pass
        s.close()
        self.assertGreater(got, 4 * 1024 * 1024 // one)
        self.assertServing(self.other)

    def test_deep_pipeline_of_a_reading_client(self):
        """Issue 13: 2,500 vm.list in one write with 50 guests got 69 replies, then EOF (the
        answers outgrew the output cap before the client read them). Input now waits."""
        for i in range(50):
            self.define("p%02d" % i)
        n = 2500
        data = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "vm.list",
                                    "params": {"all": True}}).encode() + b"\n"
                        for i in range(n))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.socket)
        s.setblocking(False)
        got, buf, sent = 0, b"", 0
        deadline = time.monotonic() + 120
        while got < n:
            self.assertLess(time.monotonic(), deadline, "%d of %d replies" % (got, n))
            if sent < len(data):
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            try:
                chunk = s.recv(1 << 20)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            self.assertTrue(chunk, "EOF after %d of %d replies" % (got, n))
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                self.assertEqual(len(json.loads(line)["result"]["vms"]), 50)
                got += 1
        s.close()
        self.assertServing()

    def test_connections_per_user_are_bounded(self):
        """Issue 13: one unprivileged user could open connections (and queue output on them)
        without bound. The 65th connection of a uid is refused with an error, others are not."""
        sock = self.d.ro_socket

        def as_nobody():
            conns = []
            for _ in range(64):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(sock)
                conns.append(c)
            extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            extra.connect(sock)
            extra.settimeout(10)
            reply = extra.recv(65536)
            eof = extra.recv(65536)
            conns[0].sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.version"}\n')
            conns[0].settimeout(10)
            ok = json.loads(conns[0].recv(65536))
            return {"refused": json.loads(reply), "eof": eof == b"", "ok": ok}
        out = self.as_user(65534, 65534, as_nobody)
        self.assertEqual(out["refused"]["error"]["code"], 10)
        self.assertEqual(out["refused"]["error"]["data"], {"limit": 64})
        self.assertIsNone(out["refused"]["id"])
        self.assertTrue(out["eof"])
        self.assertEqual(out["ok"]["result"]["protocol"], 1)
        self.assertServing()  # root is not bounded

    def test_out_of_descriptors_pauses_accepting(self):
        """Issue 13: at the descriptor limit, accept failed at once again and again (100% CPU,
        ~250,000 log lines a second). Now the listener pauses, says so once, and resumes."""
        import resource
        pid = self.d.proc.pid
        used = len(os.listdir("/proc/%d/fd" % pid))
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 3, old[1]))
        socks = []
        try:
            for _ in range(20):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.d.socket)  # the kernel's backlog takes them
                socks.append(s)
            time.sleep(1.5)
            log = open(self.d.logs[-1]).read()
            self.assertEqual(log.count("new connections wait until some close"), 1, log[-2000:])
            self.assertLess(log.count("Too many open files"), 5)
            # the connections it has are served meanwhile
            self.assertEqual(self.c.call("daemon.version")["protocol"], 1)
        finally:
            for s in socks:
                s.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        c = self.d.connect()
        self.assertEqual(c.call("daemon.version")["backend"], "sim")
        c.close()
        deadline = time.monotonic() + WAIT
        while "accepting on %s again" % self.d.socket not in open(self.d.logs[-1]).read():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)

    def test_many_connections_at_once(self):
        socks = []
        try:
            for _ in range(200):
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.d.socket)
                socks.append(s)
            for i, s in enumerate(socks):
                s.sendall(line(req("daemon.version", id=i)))
            for i, s in enumerate(socks):
                s.settimeout(WAIT)
                data = b""
                while not data.endswith(b"\n"):
                    b = s.recv(4096)
                    self.assertTrue(b)
                    data += b
                r = json.loads(data)
                V.check("response", r)
                self.assertEqual(r["id"], i)
        finally:
            for s in socks:
                s.close()
        self.assertServing(self.other)


if __name__ == "__main__":
    vmdtest.main()
