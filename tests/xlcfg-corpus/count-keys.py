#!/usr/bin/env python3
"""Count the top-level keys used by the xl.cfg files of this corpus.

Usage: count-keys.py [DIR]       (DIR defaults to the directory of this script)

The tokeniser follows the libxlu_cfg lexer and grammar of Xen 4.17
(tools/libs/util/libxlu_cfg_l.l, libxlu_cfg_y.y):
  IDENT   [a-z][._0-9a-z]*         (keys are lower case)
  NUMBER  [0-9][0-9a-fx]*
  STRING  '...' or "..." on one line, backslash escapes allowed
  '=' '+=' ',' '[' ']' ';'  and NEWLINE; a comment is '#' up to and
  including the end of the line.
A setting is `IDENT = value` or `IDENT += value` ended by NEWLINE or ';'
(the last one may end at end of file); a value is an atom or a [list] of
values, lists may nest, span lines and end with a comma.

It only reports which keys appear, it does not interpret them.  Files that
the xl lexer/grammar would reject are listed at the end (their keys are still
counted with a regular expression); they are kept in the corpus on purpose,
since `xl -N create` rejecting them is part of what the differential test
compares.  This script is an aid for curating the corpus, not a test.
"""
import collections
import os
import re
import sys

TOKEN = re.compile(r"""
    (?P<ws>[ \t]+)
  | (?P<comment>\#[^\n]*\n)
  | (?P<nl>\n)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<id>[a-z][._0-9a-z]*)
  | (?P<num>[0-9][0-9a-fx]*)
  | (?P<op>\+=|[=\[\],;])
""", re.VERBOSE)


class Reject(Exception):
    pass


def tokens(text):
    pos, line = 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise Reject("line %d: lexical error at %r" % (line, text[pos:pos + 12]))
        pos = m.end()
        kind, text_ = m.lastgroup, m.group()
        if kind == "ws":
            continue
        if kind == "comment":
            kind = "nl"
        yield kind, text_, line
        line += text_.count("\n")


def keys_of(text):
    """Return the keys set in text, in order; raise Reject if xl would not parse it."""
    toks = list(tokens(text)) + [("eof", "", -1)]
    i = 0

    def peek():
        return toks[i]

    def take(kind=None, val=None):
        nonlocal i
        k, v, ln = toks[i]
        if (kind and k != kind) or (val is not None and v != val):
            raise Reject("line %d: unexpected %r" % (ln, v or k))
        i += 1
        return v

    def nlok():
        while peek()[0] == "nl":
            take()

    def value():
        k, v, ln = peek()
        if k in ("str", "num"):
            take()
            return
        take("op", "[")
        nlok()
        if peek()[1] == "]" and peek()[0] == "op":
            take()
            return
        while True:
            value()
            nlok()
            if peek() [0:2] == ("op", ","):
                take()
                nlok()
                if peek()[0:2] == ("op", "]"):
                    break
                continue
            break
        take("op", "]")

    keys = []
    while peek()[0] != "eof":
        k, v, ln = peek()
        if k == "nl" or (k, v) == ("op", ";"):
            take()
            continue
        key = take("id")
        if peek()[0:2] not in (("op", "="), ("op", "+=")):
            raise Reject("line %d: expected '=' after %r" % (ln, key))
        take()
        value()
        keys.append(key)
        if peek()[0] == "eof":
            break
        if peek()[0] != "nl" and peek()[0:2] != ("op", ";"):
            raise Reject("line %d: junk after the value of %r" % (ln, key))
    return keys


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    files = sorted(f for f in os.listdir(d) if f.endswith(".cfg"))
    count = collections.Counter()
    bad = []
    for f in files:
        with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        try:
            ks = keys_of(text)
        except Reject as e:
            bad.append((f, str(e)))
            ks = re.findall(r"^[ \t]*([A-Za-z_][A-Za-z0-9_.]*)[ \t]*\+?=", text, re.M)
        for k in set(ks):
            count[k] += 1
    print("%d files, %d distinct top-level keys" % (len(files), len(count)))
    print("key\tfiles")
    for k, n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])):
        print("%s\t%d" % (k, n))
    if bad:
        print("\nfiles the xl 4.17 config lexer/grammar would reject "
              "(keys counted by regexp):")
        for f, e in bad:
            print("  %s: %s" % (f, e))


if __name__ == "__main__":
    main()
