#!/usr/bin/env python3
"""conformance.py — runs `nncc test-onnx` over a folder of ONNX node tests
and holds the result against a checked-in list of tests that must pass.

    conformance.py --nncc build/nncc --expected tests/onnx/expected-pass.txt [-j N] DIR
    conformance.py ... --update        # rewrite the list from this run

The check fails (exit 1) when
  - any test FAILs (a wrong answer) or ERRORs (a crash, a timeout, anything
    nncc did not report as unsupported), or the run ends without its
    closing count line;
  - a listed test does not PASS. A line `NAME` must pass exactly as given;
    a line `NAME --const` may pass with its shape-only inputs bound (see
    docs/cli.md), so a test that stops compiling as given is a regression
    too.
Tests that pass but are not listed are reported (run with --update, or
`make conformance-update`, to list them). With --update the list is
rewritten from the run: every passing test, `--const` where it needed it;
the update refuses to run if anything FAILed or ERRORed."""
import argparse
import os
import re
import subprocess
import sys

LINE = re.compile(r"^(PASS|FAIL|UNSUPPORTED|ERROR)\s+(\S+?)(?: \[--const ([^\]]*)\])?(?::\s|$)")
COUNT = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) unsupported, (\d+) errors$")


def read_list(path):
    want = {}
    if not os.path.exists(path):
        return want
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, flag = line.partition(" ")
        want[name] = flag.strip() == "--const"
    return want


def write_list(path, results, header):
    with open(path, "w") as f:
        f.write(header)
        for name in sorted(results):
            verdict, bound = results[name]
            if verdict == "PASS":
                f.write("%s%s\n" % (name, " --const" if bound else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nncc", required=True, help="the nncc binary")
    ap.add_argument("--expected", required=True, help="the list of tests that must pass")
    ap.add_argument("--update", action="store_true", help="rewrite the list from this run")
    ap.add_argument("-j", type=int, default=2, help="tests at once (default 2)")
    ap.add_argument("--all", action="store_true", help="print every test line, not only problems")
    ap.add_argument("dir", help="folder of test folders")
    a = ap.parse_args()
    if not os.path.isdir(a.dir):
        sys.exit("conformance: %s: no such folder of ONNX node tests" % a.dir)
    p = subprocess.run([a.nncc, "test-onnx", "-j%d" % a.j, a.dir], stdout=subprocess.PIPE,
                       universal_newlines=True)
    results, counts, tail = {}, None, []
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            results[m.group(2)] = (m.group(1), bool(m.group(3)))
            if a.all or m.group(1) in ("FAIL", "ERROR"):
                print(line)
        elif COUNT.match(line):
            counts = line
            tail.append(line)
        elif line.startswith("const-bound:"):
            tail.append(line)
        else:
            print(line)
    problems = []
    if counts is None:
        problems.append("the run ended without its count line (exit status %d)" % p.returncode)
    bad = sorted(n for n, (v, _) in results.items() if v in ("FAIL", "ERROR"))
    if bad:
        problems.append("%d tests FAILed or ERRORed: %s" % (len(bad), " ".join(bad)))
    for line in tail:
        print(line)
    if a.update:
        if problems:
            sys.exit("conformance: not updating %s:\n  %s" % (a.expected, "\n  ".join(problems)))
        old = read_list(a.expected)
        header = "".join(l for l in open(a.expected) if l.startswith("#")) if os.path.exists(a.expected) else \
            "# Tests that must pass (tests/onnx/conformance.py); `NAME --const` may need --const.\n"
        write_list(a.expected, results, header)
        new = read_list(a.expected)
        print("conformance: %s: %d tests (was %d; %d added, %d removed)" % (
            a.expected, len(new), len(old), len(set(new) - set(old)), len(set(old) - set(new))))
        return 0
    want = read_list(a.expected)
    lost = []
    for name, const_ok in sorted(want.items()):
        verdict, bound = results.get(name, ("MISSING", False))
        if verdict != "PASS":
            lost.append("%s (%s)" % (name, verdict))
        elif bound and not const_ok:
            lost.append("%s (passes only with --const now)" % name)
    if lost:
        problems.append("%d listed tests no longer pass: %s" % (len(lost), ", ".join(lost)))
    extra = sorted(n for n, (v, _) in results.items() if v == "PASS" and n not in want)
    print("conformance: %d of %d listed tests pass; %d more pass unlisted%s" % (
        len(want) - len(lost), len(want), len(extra),
        " (refresh the list: make conformance-update)" if extra else ""))
    if problems:
        for pr in problems:
            print("conformance: " + pr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
