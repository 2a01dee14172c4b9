#!/usr/bin/env python3
"""Golden text-IR tests: tests/ir/<pass>/*.ir, lit/FileCheck style.

Each test file starts with directive comments:

    # RUN: nncc %s --passes=fold,dce --emit=ir
    # CHECK: %y: f32[2] = relu(%x)
    # CHECK-NEXT: output %y
    # CHECK-NOT: add(

RUN lines run through /bin/sh with `nncc` replaced by the compiler given
on the command line and %s by the test file; `not` before the command
expects a failing exit status; stdout is checked (add 2>&1 for stderr).
A file may hold several RUN lines. A RUN line ending in
`--check-prefix=P` is checked against the P:, P-NEXT: and P-NOT: lines;
the others against the CHECK lines. Directives, as in LLVM's FileCheck:

    CHECK:      the pattern occurs, after the previous match
    CHECK-NEXT: the pattern occurs on the line right after the previous match
    CHECK-NOT:  the pattern does not occur between the previous match and
                the next positive match (or the end of the output)

Patterns are literal text; runs of spaces and tabs match any run of
horizontal whitespace, and {{regex}} embeds a Python regular expression.

usage: run.py NNCC [FILE|DIR]...   (default: the folder holding run.py)
Prints one line per test and `N passed, N failed`; exit status 1 on any
failure.
"""
import os
import re
import subprocess
import sys

DIRECTIVE = re.compile(r"^\s*#\s*([A-Z][A-Z0-9_]*?)(-NEXT|-NOT)?:(.*)$")
PREFIX = re.compile(r"\s--check-prefix=([A-Z][A-Z0-9_]*)\s*$")


def compile_pattern(text):
    """A pattern's text -> compiled regex (literal, {{re}}, loose spaces)."""
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        start = text.find("{{", pos)
        if start < 0:
            lit, pos = text[pos:], len(text)
        else:
            lit = text[pos:start]
        for i, part in enumerate(re.split(r"[ \t]+", lit)):
            if i:
                out.append(r"[ \t]+")
            out.append(re.escape(part))
        if start >= 0:
            end = text.find("}}", start + 2)
            if end < 0:
                raise ValueError("unterminated {{ in pattern: " + text)
            out.append("(?:" + text[start + 2:end] + ")")
            pos = end + 2
    return re.compile("".join(out))


def parse(path):
    """[(command, prefix)], {prefix: [(kind, regex, text, lineno)]}."""
    runs, checks = [], {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = DIRECTIVE.match(line)
            if not m:
                continue
            prefix, suffix, body = m.group(1), m.group(2) or "", m.group(3)
            if prefix == "RUN" and not suffix:
                cmd, p = body.strip(), PREFIX.search(body)
                if p:
                    cmd = body[:p.start()].strip()
                runs.append((cmd, p.group(1) if p else "CHECK"))
            else:
                kind = "CHECK" + suffix
                checks.setdefault(prefix, []).append(
                    (kind, compile_pattern(body), body.strip(), lineno))
    return runs, checks


def check(output, checks):
    """None if output satisfies checks, else a message."""
    lines = output.split("\n")
    cur = 0  # first line the next positive match may use
    last = -1  # line of the previous positive match
    pending_not = []
    for kind, rx, text, lineno in checks:
        if kind == "CHECK-NOT":
            pending_not.append((rx, text, lineno))
            continue
        if kind == "CHECK-NEXT":
            if last < 0:
                return "line %d: CHECK-NEXT without a previous match" % lineno
            found = last + 1 if last + 1 < len(lines) and rx.search(lines[last + 1]) else -1
            if found < 0:
                got = lines[last + 1] if last + 1 < len(lines) else "<end of output>"
                return "line %d: CHECK-NEXT: %s\n  next line is: %s" % (lineno, text, got)
        else:
            found = next((i for i in range(cur, len(lines)) if rx.search(lines[i])), -1)
            if found < 0:
                return "line %d: CHECK: %s\n  not found after output line %d" % (lineno, text, cur + 1)
        for nrx, ntext, nline in pending_not:
            for i in range(cur, found):
                if nrx.search(lines[i]):
                    return "line %d: CHECK-NOT: %s\n  found on output line %d: %s" % (
                        nline, ntext, i + 1, lines[i])
        pending_not = []
        last, cur = found, found + 1
    for nrx, ntext, nline in pending_not:
        for i in range(cur, len(lines)):
            if nrx.search(lines[i]):
                return "line %d: CHECK-NOT: %s\n  found on output line %d: %s" % (
                    nline, ntext, i + 1, lines[i])
    return None


def run_test(nncc, path):
    """None if the test passes, else a message."""
    try:
        runs, checks = parse(path)
    except ValueError as e:
        return str(e)
    if not runs:
        return "no RUN line"
    for cmd, prefix in runs:
        if not any(k != "CHECK-NOT" for k, _, _, _ in checks.get(prefix, [])):
            return "no positive %s line" % prefix
    for cmd, prefix in runs:
        expect_fail = False
        if cmd.startswith("not "):
            expect_fail, cmd = True, cmd[4:]
        cmd = re.sub(r"(^|[\s|])nncc(?=\s)", lambda m: m.group(1) + nncc, cmd)
        cmd = cmd.replace("%s", path)
        p = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        if (p.returncode != 0) != expect_fail:
            return "RUN: %s\n  exit status %d\n%s" % (cmd, p.returncode, p.stderr)
        msg = check(p.stdout, checks[prefix])
        if msg:
            return "RUN: %s\n  %s\n--- output ---\n%s" % (cmd, msg, p.stdout)
    return None


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: run.py NNCC [FILE|DIR]...\n")
        return 2
    nncc = os.path.abspath(argv[1])
    targets = argv[2:] or [os.path.dirname(os.path.abspath(__file__))]
    files = []
    for t in targets:
        if os.path.isdir(t):
            for root, _, names in os.walk(t):
                files += [os.path.join(root, n) for n in names if n.endswith(".ir")]
        else:
            files.append(t)
    passed = failed = 0
    for path in sorted(files):
        msg = run_test(nncc, path)
        if msg is None:
            passed += 1
            print("PASS", path)
        else:
            failed += 1
            print("FAIL", path)
            print("  " + msg.replace("\n", "\n  "))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
