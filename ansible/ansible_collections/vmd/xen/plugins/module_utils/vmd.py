# -*- coding: utf-8 -*-
# Copyright (c) the vmd authors
# MIT License (see the vmd source tree)
"""What the vmd.xen modules share: a client for vmd's socket and the few xl.cfg text edits that
keep a guest's identity when its definition is replaced.

The client speaks the protocol of proto/vmd-protocol.md in the vmd source tree: JSON-RPC 2.0
over a Unix stream socket, one compact JSON object per line, responses matched by id,
notifications (messages without an id) ignored. Only the standard library is used, since
Ansible ships this file to the managed host on its own.

The xl.cfg helpers follow the token rules of vmd's own lexer (daemon/xlcfg.c, which follows
libxlutil's libxlu_cfg_l.l): they find the statements of a text and the string literals of a
list, so that MACs can be written into vif specs in place, as vmd itself does when it adds
generated MACs (comments and layout kept).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import time

DEFAULT_SOCKET = '/run/vmd/vmd.sock'
MAX_LINE = 1024 * 1024

# Error codes (proto/vmd-protocol.md, section 5).
NOT_FOUND = 1
EXISTS = 2
BAD_STATE = 3
INVALID_CONFIG = 4
TIMEOUT = 9


class VmdError(Exception):
    """An error response from vmd: the method, and the error's code, message and data."""

    def __init__(self, method, error):
        self.method = method
        self.code = error.get('code')
        self.message = error.get('message', '')
        self.data = error.get('data') or {}
        super(VmdError, self).__init__('%s: %s (vmd error code %s)' % (method, self.message,
                                                                       self.code))


class VmdConnectionError(Exception):
    """The socket could not be reached, or the connection broke."""


class Client:
    """One connection to vmd, opened on first use. Not thread-safe."""

    def __init__(self, path=DEFAULT_SOCKET, timeout=60.0):
        self.path = path
        self.timeout = timeout
        self._sock = None
        self._buf = b''
        self._next_id = 1

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self.path)
        except (OSError, socket.error) as e:
            s.close()
            raise VmdConnectionError('cannot connect to vmd at %s: %s (is vmd running, and is '
                                     'this the right socket?)' %
                                     (self.path, getattr(e, 'strerror', None) or e))
        self._sock = s

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b''

    def _read_line(self, deadline):
        while b'\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self._sock.settimeout(left)
            data = self._sock.recv(65536)
            if not data:
                raise VmdConnectionError('vmd closed the connection on %s' % self.path)
            self._buf += data
            if len(self._buf) > MAX_LINE + 1 and b'\n' not in self._buf:
                raise VmdConnectionError('vmd sent a line longer than %d bytes' % MAX_LINE)
        line, self._buf = self._buf.split(b'\n', 1)
        return line

    def call(self, method, params=None, timeout=None):
        """The result of method; raises VmdError for an error response, VmdConnectionError
        when vmd cannot be reached or does not answer within timeout seconds."""
        if self._sock is None:
            self.connect()
        rid = self._next_id
        self._next_id += 1
        msg = {'jsonrpc': '2.0', 'id': rid, 'method': method}
        if params is not None:
            msg['params'] = params
        line = json.dumps(msg, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            self._sock.sendall(line + b'\n')
            while True:
                reply = json.loads(self._read_line(deadline).decode('utf-8'))
                if not isinstance(reply, dict) or 'method' in reply:
                    continue  # a notification (job.progress, vm.event): not ours
                if reply.get('id') != rid:
                    continue
                if 'error' in reply:
                    raise VmdError(method, reply['error'])
                return reply.get('result')
        except socket.timeout:
            self.close()
            waited = self.timeout if timeout is None else timeout
            raise VmdConnectionError('%s: no answer from vmd at %s within %.0f s' %
                                     (method, self.path, waited))
        except (OSError, socket.error, ValueError) as e:
            self.close()
            raise VmdConnectionError('%s: talking to vmd at %s failed: %s' %
                                     (method, self.path, e))


# ---- xl.cfg text ---------------------------------------------------------------------------

class XlcfgSyntaxError(ValueError):
    """The text is not xl.cfg as vmd's lexer reads it (vmd says why, with the line)."""


_ESCAPES = {'"': '"', "'": "'", '\\': '\\', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n',
            'r': '\r', 't': '\t', 'v': '\v'}


def normalize(text):
    """The text as vmd reads it: CRLF line ends as LF, a final newline."""
    text = text.replace('\r\n', '\n')
    if not text.endswith('\n'):
        text += '\n'
    return text


def _ident_char(c):
    return 'a' <= c <= 'z' or '0' <= c <= '9' or c in '_.'


def statements(text):
    """The top-level statements of a normalized text: a list of dicts with key, start, end
    (the byte range of 'key = value') and append (True for 'key += value')."""
    t = text
    n = len(t)
    stmts = []
    i = depth = 0
    start = True
    open_ = False
    while i < n:
        c = t[i]
        if c in ' \t':
            i += 1
            continue
        if c in '\n#':
            while t[i] != '\n':
                i += 1
            i += 1
            if depth == 0:
                start = True
                open_ = False
            continue
        if c in '"\'':
            j = i + 1
            while t[j] != c and t[j] != '\n':
                if t[j] == '\\' and t[j + 1] != '\n':
                    if t[j + 1] not in _ESCAPES:
                        raise XlcfgSyntaxError('invalid escape in quoted string')
                    j += 2
                elif t[j] == '\\':
                    break
                else:
                    j += 1
            if t[j] != c:
                raise XlcfgSyntaxError('unterminated string')
            i = j + 1
            start = False
        elif 'a' <= c <= 'z':
            tok = i
            while _ident_char(t[i]):
                i += 1
            if start and depth == 0:
                j = i
                while t[j] in ' \t':
                    j += 1
                stmts.append({'key': t[tok:i], 'start': tok, 'end': i,
                              'append': t[j:j + 2] == '+='})
                open_ = True
            start = False
        elif '0' <= c <= '9':
            if c == '0' and t[i + 1] == 'x' and t[i + 2] in '0123456789abcdef':
                i += 2
                while t[i] in '0123456789abcdef':
                    i += 1
            else:
                while '0' <= t[i] <= '9':
                    i += 1
            start = False
        elif c == '+' and t[i + 1] == '=':
            i += 2
            start = False
        elif c in ',=':
            i += 1
            start = False
        elif c == '[':
            depth += 1
            i += 1
            start = False
        elif c == ']':
            depth = max(0, depth - 1)
            i += 1
            start = False
        elif c == ';':
            if depth == 0:
                start = True
                open_ = False
            i += 1
            continue
        else:
            raise XlcfgSyntaxError('lexical error near %r' % t[i:i + 20])
        if open_:
            stmts[-1]['end'] = i
    return stmts


def unquote(literal):
    """The value of a string literal (with its quotes)."""
    out = []
    i = 1
    while i < len(literal) - 1:
        c = literal[i]
        if c == '\\':
            out.append(_ESCAPES[literal[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def quote(value):
    """A string as an xl.cfg literal, as vmd writes one (xlcfg_quote)."""
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"').replace('\t', '\\t')


def _requote(value, like):
    """value as a literal in the quotes of the literal like, where they can hold it."""
    if like.startswith("'") and not any(ch in value for ch in "'\\\n"):
        return "'%s'" % value
    return quote(value)


def list_literals(text, stmt):
    """The (start, end) ranges of the string literals of a statement whose value is a list of
    strings; None when its value is anything else."""
    t = text
    i = t.index('=', stmt['start'], stmt['end']) + 1
    end = stmt['end']
    while i < end and t[i] in ' \t':
        i += 1
    if i >= end or t[i] != '[':
        return None
    depth = 0
    out = []
    while i < end:
        c = t[i]
        if c == '#':
            while i < end and t[i] != '\n':
                i += 1
        elif c == '[':
            depth += 1
        elif c == ']':
            depth -= 1
        elif c in '"\'':
            s = i
            i += 1
            while t[i] != c:
                i += 2 if t[i] == '\\' else 1
            if depth != 1:
                return None
            out.append((s, i + 1))
        elif c not in ' \t\n,' and depth >= 1:
            return None  # a number or a nested list: not a list of spec strings
        i += 1
    return out


def spec_options(spec):
    """The options of a device spec ("k=v, k=v"), trimmed, empty ones dropped."""
    return [o.strip(' \t') for o in spec.split(',') if o.strip(' \t')]


def spec_mac(spec):
    """The mac= of a vif spec (the last one counts), or None."""
    mac = None
    for o in spec_options(spec):
        if o.startswith('mac='):
            mac = o[4:]
    return mac


def vif_with_mac(spec, mac):
    """The vif spec with mac= first, as vmd writes a MAC it adds (xlcfg_vif_edit)."""
    return ', '.join(['mac=' + mac] + [o for o in spec_options(spec) if not o.startswith('mac=')])


def text_keys(text):
    """The keys a text sets (None if it does not lex)."""
    try:
        return set(s['key'] for s in statements(normalize(text)))
    except XlcfgSyntaxError:
        return None


def _append_line(text, key, value):
    return text + '%s = %s\n' % (key, quote(value))


def _macs_for(items_macs, macs):
    """For each item (its mac or None), the MAC to give it: the guest's MAC of the same
    position, unless the item names one or another item names that one."""
    taken = set(m.lower() for m in items_macs if m)
    out = []
    for i, m in enumerate(items_macs):
        if m is None and i < len(macs) and macs[i] and macs[i].lower() not in taken:
            out.append(macs[i])
        else:
            out.append(None)
    return out


def text_with_identity(text, name=None, uuid=None, macs=()):
    """An xl.cfg text completed as vmd completes one at definition, with given values: a
    `name` and a `uuid` line where it sets none, and mac= first in each vif (by position)
    that names none. The text must lex (vmd accepted it in a dry run)."""
    t = normalize(text)
    stmts = statements(t)
    keys = set(s['key'] for s in stmts)
    vifs = [s for s in stmts if s['key'] == 'vif']
    last_set = max([k for k, s in enumerate(vifs) if not s['append']] or [0])
    spans = []
    for s in vifs[last_set:]:
        lits = list_literals(t, s)
        if lits is None:
            raise XlcfgSyntaxError('vif is not a list of spec strings')
        spans.extend(lits)
    values = [unquote(t[a:b]) for a, b in spans]
    for (a, b), value, mac in reversed(list(zip(spans, values,
                                                _macs_for([spec_mac(v) for v in values],
                                                          list(macs))))):
        if mac:
            t = t[:a] + _requote(vif_with_mac(value, mac), t[a:b]) + t[b:]
    if name is not None and 'name' not in keys:
        t = _append_line(t, 'name', name)
    if uuid is not None and 'uuid' not in keys:
        t = _append_line(t, 'uuid', uuid)
    return t


def config_with_identity(config, name=None, uuid=None, macs=()):
    """The JSON form (proto 6.2) completed the same way: name, uuid, MACs of vifs without."""
    cfg = dict(config)
    if name is not None and cfg.get('name') is None:
        cfg['name'] = name
    if uuid is not None and cfg.get('uuid') is None:
        cfg['uuid'] = uuid
    vif = cfg.get('vif')
    if isinstance(vif, list):
        def mac_of(item):
            if isinstance(item, dict):
                return item.get('mac')
            return spec_mac(item) if isinstance(item, str) else None
        new = []
        for item, mac in zip(vif, _macs_for([mac_of(v) for v in vif], list(macs))):
            if mac and isinstance(item, dict):
                d = {'mac': mac}
                d.update((k, v) for k, v in item.items() if k != 'mac')
                item = d
            elif mac and isinstance(item, str):
                item = vif_with_mac(item, mac)
            new.append(item)
        cfg['vif'] = new
    return cfg


def _disk_spec(o):
    parts = ['%s=%s' % (k, o[k]) for k in ('format', 'vdev', 'access', 'backendtype', 'script')
             if o.get(k) is not None]
    if o.get('cdrom') is True:
        parts.append('devtype=cdrom')
    if o.get('target') is not None:
        parts.append('target=%s' % o['target'])
    return ', '.join(parts)


def _vif_spec(o):
    return ', '.join('%s=%s' % (k, v) for k, v in o.items() if v is not None)


def _value_text(key, v, objects, depth):
    if isinstance(v, bool):
        return '1' if v else '0'
    if isinstance(v, int):
        return str(v) if v >= 0 else '"%d"' % v
    if isinstance(v, dict) and objects:
        return quote(_disk_spec(v) if key == 'disk' else _vif_spec(v))
    if isinstance(v, list):
        items = [_value_text(key, it, objects and depth == 0, depth + 1) for it in v]
        return '[ %s ]' % ', '.join(items) if items else '[]'
    return quote('%s' % (v,))


def config_to_text(config):
    """The xl.cfg text vmd makes of the JSON form (daemon/config-json.c), for showing what a
    definition from a mapping will hold before it is made."""
    return ''.join('%s = %s\n' % (k, _value_text(k, v, k in ('disk', 'vif'), 0))
                   for k, v in config.items() if v is not None)
