"""doc_commands.py BUILD SRC [DOC...] — runs every command the docs show.

The commands are the lines of the ```sh blocks of README.md, docs/cli.md,
docs/embedding.md and docs/python.md (or the DOCs given), and each
```python block is one script (run with python/ on PYTHONPATH): in a block with
`$ ` lines those are the commands and the other lines their output;
otherwise every line is one (a trailing `\\` continues it). A comment after
two spaces (`  # ...`) is dropped. Any other fenced block that looks like
commands (a line starting with `$ `, `nncc`, `build/` or `make `) must be
tagged `text`, so untagging a block cannot hide it from this test.

Each command runs with bash in a scratch folder holding build/ (a link to
BUILD), the source tree's examples/, python/, tests/ and Makefile, and the
fixtures below; `VAR=value` lines carry over to the later commands of the
same file (`export VAR=value` too), and BUILD is on PATH (bare `nncc` works). A command must exit
0, unless its comment says `# exit N`. `make TARGET` runs as `make -n
TARGET`: the target must exist, but the demo, the test suite and the
benchmarks are not run again from here (ctest runs the tests; `make bench`
takes half an hour). Prints one line per command; exit 1 if any failed.

Fixtures: model.onnx (the Fashion-MNIST classifier at batch 1, through
nncc --emit=onnx), x.npy and img.npy (one image, f32[1,1,28,28]), img3.npy
(three images),
batch.npy and labels.npy (8 images, i64 labels).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

DOCS = ["README.md", "docs/cli.md", "docs/embedding.md", "docs/python.md"]
LOOKS_LIKE_COMMAND = re.compile(r"^(\$ |nncc|build/|make )")


def blocks(text):
    """(tag, [lines]) of every fenced block."""
    out, cur, tag = [], None, None
    for line in text.splitlines():
        m = re.match(r"^```(\w*)\s*$", line)
        if m and cur is None:
            cur, tag = [], m.group(1)
        elif line.startswith("```") and cur is not None:
            out.append((tag, cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def strip_comment(line):
    """The command without its `  # comment`, and the expected exit status."""
    m = re.search(r"\s{2,}#(.*)$", line)
    status = 0
    if m:
        s = re.search(r"\bexit (\d+)", m.group(1))
        status = int(s.group(1)) if s else 0
        line = line[:m.start()]
    return line.rstrip(), status


def commands(lines):
    """[(command, expected status)] of one sh block."""
    session = any(line.startswith("$ ") for line in lines)
    cmds, cont = [], None
    for line in lines:
        if session:
            if not line.startswith("$ ") and cont is None:
                continue  # output
            if line.startswith("$ "):
                line = line[2:]
        if not line.strip() or (cont is None and line.lstrip().startswith("#")):
            continue
        if cont is not None:
            line = cont + " " + line.strip()
            cont = None
        if line.endswith("\\"):
            cont = line[:-1].rstrip()
            continue
        cmds.append(strip_comment(line))
    return cmds


def fixtures(t, build, src):
    os.symlink(build, os.path.join(t, "build"))
    for name in ("examples", "python", "tests", "Makefile", "scripts", "bench", "docs", "cmake",
                 "CMakeLists.txt", "include", "runtime"):
        os.symlink(os.path.join(src, name), os.path.join(t, name))
    rng = np.random.default_rng(1)
    np.save(os.path.join(t, "x.npy"), rng.standard_normal((1, 1, 28, 28), dtype=np.float32))
    np.save(os.path.join(t, "img.npy"), rng.standard_normal((1, 1, 28, 28), dtype=np.float32))
    np.save(os.path.join(t, "img3.npy"), rng.standard_normal((3, 1, 28, 28), dtype=np.float32))
    np.save(os.path.join(t, "batch.npy"), rng.standard_normal((8, 1, 28, 28), dtype=np.float32))
    np.save(os.path.join(t, "labels.npy"), rng.integers(0, 10, 8).astype(np.int64))
    subprocess.run([os.path.join(build, "nncc"), os.path.join(src, "examples", "fashion_cnn.onnx"),
                    "--shape", "input=1,1,28,28", "--emit=onnx", "-o", os.path.join(t, "model.onnx")],
                   check=True)


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    docs = sys.argv[3:] or DOCS
    env = dict(os.environ, PATH=build + os.pathsep + os.environ.get("PATH", ""))
    failed = total = 0
    with tempfile.TemporaryDirectory(prefix="nncc-docs-") as t:
        fixtures(t, build, src)
        for doc in docs:
            path = os.path.join(src, doc)
            if not os.path.exists(path):
                print("FAIL %s: missing" % doc)
                failed += 1
                continue
            assigns = []
            for tag, lines in blocks(open(path).read()):
                if tag == "python":  # a whole script, run from the scratch folder
                    total += 1
                    penv = dict(env, PYTHONPATH=os.path.join(t, "python"),
                                NNCC_RT_LIB=os.path.join(build, "libnncc_rt.so"),
                                NNCC=os.path.join(build, "nncc"))
                    r = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=t, env=penv,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       timeout=600)
                    ok = r.returncode == 0
                    failed += 0 if ok else 1
                    print("%s %s: python block '%s'" % ("ok  " if ok else "FAIL", doc, lines[0]))
                    if not ok:
                        print("     exit %d; output:\n%s" % (r.returncode, r.stdout[-3000:]))
                    continue
                if tag != "sh":
                    if tag != "text" and any(LOOKS_LIKE_COMMAND.match(x) for x in lines):
                        print("FAIL %s: a ```%s block holds commands; tag it sh (or text): %s"
                              % (doc, tag, lines[0]))
                        failed += 1
                    continue
                for cmd, want in commands(lines):
                    total += 1
                    if re.match(r"^(export )?\w+=\S*( \w+=\S*)*$", cmd):
                        assigns.append(cmd)
                        continue
                    run = cmd
                    m = re.match(r"^make (\S+)(.*)$", cmd)
                    if m:
                        run = "make -n %s%s >/dev/null" % (m.group(1), m.group(2))
                    script = "\n".join(assigns + [run])
                    try:
                        r = subprocess.run(["bash", "-c", script], cwd=t, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True, timeout=600)
                        status, out = r.returncode, r.stdout
                    except subprocess.TimeoutExpired:
                        status, out = -1, "timed out"
                    ok = status == want
                    failed += 0 if ok else 1
                    print("%s %s: %s%s" % ("ok  " if ok else "FAIL", doc, cmd,
                                           "" if want == 0 else "  (exit %d)" % want))
                    if not ok:
                        print("     exit %d, want %d; output:\n%s" % (status, want, out[-3000:]))
    print("doc_commands: %d commands, %d failed" % (total, failed))
    if total == 0:
        print("doc_commands: no commands found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
