#!/usr/bin/env python3
"""support_doc.py — writes docs/onnx-support.md from a run of `nncc test-onnx`
over the ONNX backend node suite (`make onnx-support-doc`).

    support_doc.py --nncc build/nncc [-j N] SUITE -o docs/onnx-support.md
    support_doc.py --results run.txt SUITE -o ...   # from a saved test-onnx output

Each test is attributed to the operator it tests: the op of its one node;
for `*_expanded*` tests (the op's function body, several nodes) the op of
the test without the suffix; otherwise the node op whose name best matches
the test name. Every ONNX operator is listed — the default-domain schemas
of Debian's python3-onnx plus every op the suite uses — with its status,
the opsets and dtypes its passing tests cover, and the first line of each
distinct reason its other tests fail (the known limits)."""
import argparse
import collections
import datetime
import os
import re
import subprocess
import sys

import onnx
from onnx import defs

LINE = re.compile(r"^(PASS|FAIL|UNSUPPORTED|ERROR)\s+(\S+?)(?: \[--const ([^\]]*)\])?(?::\s(.*)|$)")
EXPANDED = re.compile(r"^(.*)_expanded(_ver\d+)?$")


def run_suite(a):
    if a.results:
        return open(a.results).read()
    p = subprocess.run([a.nncc, "test-onnx", "-j%d" % a.j, a.suite], stdout=subprocess.PIPE,
                       universal_newlines=True)
    return p.stdout


def squash(name):
    return name.lower().replace("_", "")


def dtype_name(t):
    try:
        return onnx.TensorProto.DataType.Name(t).lower()
    except ValueError:
        return "type%d" % t


def model_info(path):
    """(op types of the nodes, default-domain opset, tensor dtypes of the graph's inputs and outputs)."""
    m = onnx.load(path)
    opset = None
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            opset = o.version
    ops = []
    for n in m.graph.node:
        op = n.op_type if n.domain in ("", "ai.onnx") else "%s.%s" % (n.domain, n.op_type)
        if op not in ops:
            ops.append(op)
    types = set()
    for vi in list(m.graph.input) + list(m.graph.output):
        t = vi.type
        if t.HasField("tensor_type"):
            types.add(dtype_name(t.tensor_type.elem_type))
        else:
            types.add(t.WhichOneof("value") or "untyped")
    return ops, opset, types


def primary_op(test, ops):
    if len(ops) == 1:
        return ops[0]
    base = squash(test[len("test_"):])
    best = None
    for op in ops:
        s = squash(op.split(".")[-1])
        if base.startswith(s) and (best is None or len(s) > len(squash(best))):
            best = op
    return best or (ops[0] if ops else "?")


def limit_text(msg):
    """The reason of a non-pass, without paths and node names."""
    msg = re.sub(r"^.*?model\.onnx: ", "", msg)
    msg = re.sub(r'^node "[^"]*" \([^)]*\): ', "", msg)
    msg = re.sub(r'^node \d+ \((\w+) "[^"]*"\): ', r"\1: ", msg)
    msg = re.sub(r"^reading test data: \S+: ", "test data: ", msg)
    msg = re.sub(r"unsupported operators: .*", "unsupported operators: (not imported)", msg)
    msg = re.sub(r"element \d+ is .*", "wrong values", msg)
    if len(msg) > 110:
        msg = msg[:107] + "..."
    return msg.replace("|", "\\|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nncc", help="the nncc binary (to run the suite)")
    ap.add_argument("--results", help="a saved `nncc test-onnx` output instead of a run")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("suite", help="the folder of node tests")
    a = ap.parse_args()
    if not a.nncc and not a.results:
        sys.exit("support_doc: give --nncc or --results")
    if not os.path.isdir(a.suite):
        sys.exit("support_doc: %s: no such folder" % a.suite)
    out = run_suite(a)
    results, closing = {}, []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            results[m.group(2)] = (m.group(1), bool(m.group(3)), m.group(4) or "")
        elif line and not line.startswith(" "):
            closing.append(line)
    if not results:
        sys.exit("support_doc: the run printed no test lines")

    info = {}
    for test in sorted(results):
        path = os.path.join(a.suite, test, "model.onnx")
        try:
            info[test] = model_info(path)
        except Exception as e:  # a model python3-onnx cannot read: counted under "?"
            print("support_doc: %s: %s" % (path, e), file=sys.stderr)
            info[test] = ([], None, set())
    prim = {}
    for test in sorted(results):
        m = EXPANDED.match(test)
        if not m:
            prim[test] = primary_op(test, info[test][0])
    for test in sorted(results):
        m = EXPANDED.match(test)
        if m:
            prim[test] = prim.get(m.group(1)) or primary_op(m.group(1), info[test][0])

    Op = collections.namedtuple("Op", "tests expanded")
    per = collections.defaultdict(lambda: Op([], []))
    for test, op in prim.items():
        (per[op].expanded if EXPANDED.match(test) else per[op].tests).append(test)

    names = {s.name for s in defs.get_all_schemas_with_history() if s.domain in ("", "ai.onnx")}
    names |= {op for op in per if op != "?"}
    rows = []
    status_count = collections.Counter()
    for op in sorted(names, key=lambda s: (s.lower(), s)):
        tests, expanded = per[op].tests if op in per else [], per[op].expanded if op in per else []
        npass = sum(results[t][0] == "PASS" for t in tests)
        nconst = sum(results[t][0] == "PASS" and results[t][1] for t in tests)
        epass = sum(results[t][0] == "PASS" for t in expanded)
        if not tests and not expanded:
            status = "no suite test"
        elif tests and npass == len(tests):
            status = "supported"
        elif npass or epass:
            status = "partial"
        elif any("unsupported operators" in results[t][2] for t in tests):
            status = "not imported"
        else:
            status = "unsupported"
        status_count[status] += 1
        passing = [t for t in tests + expanded if results[t][0] == "PASS"]
        opsets = sorted({info[t][1] for t in passing if info[t][1]})
        dtypes = sorted(set().union(*[info[t][2] for t in passing])) if passing else []
        reasons = collections.Counter(limit_text(results[t][2]) for t in tests + expanded
                                      if results[t][0] != "PASS")
        limits = "; ".join("%s (%d)" % (r, c) if c > 1 else r for r, c in reasons.most_common(3))
        if len(reasons) > 3:
            limits += "; +%d more" % (len(reasons) - 3)
        if status == "not imported":
            limits = "not in the import table"
        cnt = "%d/%d" % (npass, len(tests)) if tests else "-"
        if nconst:
            cnt += " (%d const)" % nconst
        ecnt = "%d/%d" % (epass, len(expanded)) if expanded else "-"
        rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            op, status, cnt, ecnt, ", ".join(map(str, opsets)) or "-", ", ".join(dtypes) or "-",
            limits or "-"))

    doc = []
    doc.append("# ONNX operator support\n")
    doc.append("Generated by `make onnx-support-doc` (`tests/onnx/support_doc.py`) from a run of\n"
               "`nncc test-onnx` over the ONNX v1.22 backend node suite (`%s`) on %s.\n"
               "Do not edit by hand: regenerate it.\n" % (
                   os.path.relpath(a.suite) if not os.path.isabs(a.suite) else a.suite,
                   datetime.date.today().isoformat()))
    doc.append("```\n%s\n```\n" % "\n".join(closing))
    doc.append("Operators by status: %s.\n" % ", ".join(
        "%d %s" % (status_count[s], s) for s in
        ("supported", "partial", "unsupported", "not imported", "no suite test") if status_count[s]))
    doc.append("""How to read the table:
- **status**: `supported` — every test of the op passes; `partial` — some
  do (see the limits); `unsupported` — the op imports but none of its tests
  pass; `not imported` — nncc's ONNX import table lacks it; `no suite test`
  — an op of the ONNX schemas (Debian's python3-onnx %s) the suite has no
  test for.
- **tests**: passing/total of the op's own tests (`test_<op>_*`); `(K
  const)`: K of the passes bound shape-only inputs with `--const`
  (`docs/cli.md`). **expanded**: the `*_expanded` tests, the op's ONNX
  function body run as its primitive ops.
- **opsets**, **dtypes**: the opset versions and the tensor element types
  (graph inputs and outputs) of the passing tests.
- **known limits**: the distinct reasons the other tests fail, first line
  of nncc's message, with their counts.
""" % onnx.__version__)
    doc.append("| op | status | tests | expanded | opsets | dtypes | known limits |")
    doc.append("|---|---|---|---|---|---|---|")
    doc.extend(rows)
    if "?" in per:
        doc.append("\nTests whose model python3-onnx could not read: %s.\n" % ", ".join(
            sorted(per["?"].tests + per["?"].expanded)))
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(doc) + "\n")
    os.replace(tmp, a.output)
    print("support_doc: %s: %d operators (%s)" % (a.output, len(rows), ", ".join(
        "%d %s" % (c, s) for s, c in status_count.most_common())))


if __name__ == "__main__":
    main()
