#!/usr/bin/python3
"""Consistency of proto/ itself (no daemon needed): the schemas are valid JSON Schemas whose
references resolve; every method of the spec has params and result schemas and an example;
every example validates and appears verbatim in the spec; the error codes and limits of the
spec, the schemas and include/vmd-proto.h agree; the spec's methods are the daemon's."""

import glob
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdclient  # noqa: E402
import vmdtest  # noqa: E402  (for main() and the shared validator)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROTO = os.path.join(ROOT, "proto")
V = vmdtest.VALIDATOR


def spec_text():
    with open(os.path.join(PROTO, "vmd-protocol.md"), encoding="utf-8") as f:
        return f.read()


def spec_methods():
    text = spec_text()
    sec = text[text.index("## 9. Methods"):text.index("## 10. Notifications")]
    return re.findall(r"^### ([a-z]+\.[a-z_]+)", sec, re.M)


def spec_examples():
    """{name: [lines]} of the <!-- example: NAME --> blocks."""
    out = {}
    for m in re.finditer(r"<!-- example: (\S+) -->\n```jsonl\n(.*?)```\n", spec_text(), re.S):
        out[m.group(1)] = m.group(2).splitlines()
    return out


class TestSchemas(unittest.TestCase):

    def test_schemas_are_valid_and_refs_resolve(self):
        import jsonschema
        for name, schema in V.schemas.items():
            jsonschema.validators.validator_for(schema).check_schema(schema)
            self.assertEqual(schema["$id"], "https://vmd.invalid/proto/schemas/%s.json" % name)
            resolver = V.validator(name).resolver
            refs = []

            def walk(x):
                if isinstance(x, dict):
                    if "$ref" in x:
                        refs.append(x["$ref"])
                    for v in x.values():
                        walk(v)
                elif isinstance(x, list):
                    for v in x:
                        walk(v)
            walk(schema)
            for r in refs:
                with resolver.resolving(r) as target:
                    self.assertIsInstance(target, dict, "%s: %s" % (name, r))

    def test_every_method_has_schemas_and_an_example(self):
        methods = spec_methods()
        self.assertEqual(len(methods), len(set(methods)))
        self.assertIn("vm.create", methods)
        for m in methods:
            self.assertTrue(V.has(m + ".params"), m)
            self.assertTrue(V.has(m + ".result") or m == "vm.info", m)
            self.assertTrue(os.path.exists(os.path.join(PROTO, "examples", m + ".jsonl")), m)
        self.assertTrue(V.has("vm.info.result"))
        for f in glob.glob(os.path.join(PROTO, "schemas", "*.params.json")):
            self.assertIn(os.path.basename(f)[:-len(".params.json")], methods, f)
        for f in glob.glob(os.path.join(PROTO, "examples", "*.jsonl")):
            self.assertIn(os.path.basename(f)[:-len(".jsonl")], methods, f)

    def test_methods_are_the_daemons(self):
        """The spec's method list is the daemon's op table (daemon/ops/*.c)."""
        found = set()
        for f in glob.glob(os.path.join(ROOT, "daemon", "ops", "*.c")):
            with open(f, encoding="utf-8") as fh:
                found |= set(re.findall(r'\.method\s*=\s*"([^"]+)"', fh.read()))
        if not found:
            self.skipTest("daemon sources not found")
        self.assertEqual(found, set(spec_methods()))


class TestExamples(unittest.TestCase):

    def check_exchange(self, method, lines):
        msgs = [json.loads(l) for l in lines]
        for l in lines:
            self.assertTrue(vmdclient.compact(l), "not compact: %s" % l)
        req = msgs[0]
        V.check("request", req)
        self.assertEqual(req["method"], method)
        self.assertIn("id", req)
        V.check(method + ".params", req.get("params", {}))
        responses = [m for m in msgs[1:] if "method" not in m]
        self.assertEqual(len(responses), 1, method)
        resp = responses[0]
        V.check_incoming(resp, method)
        self.assertEqual(resp["id"], req["id"])
        self.assertIn("result", resp)
        for n in msgs[1:]:
            if "method" in n:
                V.check_incoming(n)
        if method != "events.subscribe":
            self.assertIs(msgs[-1], resp, "%s: the response comes last" % method)

    def test_example_files(self):
        for f in sorted(glob.glob(os.path.join(PROTO, "examples", "*.jsonl"))):
            method = os.path.basename(f)[:-len(".jsonl")]
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
            self.assertTrue(text.endswith("\n"))
            with self.subTest(method=method):
                self.check_exchange(method, text.splitlines())

    def test_spec_shows_the_example_files(self):
        ex = spec_examples()
        for m in spec_methods():
            with open(os.path.join(PROTO, "examples", m + ".jsonl"), encoding="utf-8") as fh:
                self.assertEqual(ex.get(m), fh.read().splitlines(), m)

    def test_spec_error_examples(self):
        lines = spec_examples()["errors"]
        self.assertEqual(len(lines) % 2, 0)
        for i in range(0, len(lines), 2):
            r = json.loads(lines[i + 1])
            V.check("response", r)
            self.assertIn("error", r)
            try:
                req = json.loads(lines[i])
            except ValueError:
                self.assertEqual(r["error"]["code"], -32700)
                continue
            if r["error"]["code"] == -32600:
                self.assertFalse(V.is_valid("request", req))
            if r["error"]["code"] == -32602:
                self.assertFalse(V.is_valid(req["method"] + ".params", req["params"]))
            self.assertEqual(r["id"], req["id"])

    def test_all_jsonl_blocks_are_json(self):
        for m in re.finditer(r"```jsonl\n(.*?)```", spec_text(), re.S):
            for l in m.group(1).splitlines():
                if l.startswith('{"jsonrpc":"2.0","id":1,"method":"vm.info","params":{"name":"web"') \
                        and not l.endswith("}"):
                    continue  # the deliberate parse error
                json.loads(l)


class TestNumbers(unittest.TestCase):
    """Codes and limits: include/vmd-proto.h, the spec and the schemas agree."""

    def header(self):
        with open(os.path.join(ROOT, "include", "vmd-proto.h"), encoding="utf-8") as f:
            return f.read()

    def test_error_codes(self):
        codes = {int(v) for v in re.findall(r"#define VMD_ERR_\w+ \(?(-?\d+)", self.header())}
        self.assertEqual(codes, set(V.schemas["error"]["properties"]["code"]["enum"]))
        table = spec_text().split("## 5. Errors")[1].split("## 6.")[0]
        self.assertEqual(codes, {int(c) for c in re.findall(r"^\| (-?\d+) \|", table, re.M)})

    def test_limits(self):
        h = self.header()
        self.assertIn("#define VMD_MAX_LINE (1024 * 1024)", h)
        self.assertIn("#define VMD_NAME_MAX 64", h)
        self.assertIn("#define VMD_MAX_OUTQ (16 * 1024 * 1024)", h)
        self.assertIn("#define VMD_PROTO_VERSION 1", h)
        self.assertIn('#define VMD_DEFAULT_SOCKET "/run/vmd/vmd.sock"', h)
        t = spec_text()
        for s in ("1048576", "16 MiB", "64 bytes", "/run/vmd/vmd.sock", "VMD_SOCKET"):
            self.assertIn(s, t)
        self.assertEqual(V.schemas["common"]["$defs"]["name"]["pattern"],
                         "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")


if __name__ == "__main__":
    vmdtest.main()
