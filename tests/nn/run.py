"""Golden tests of the `.nn` frontend: run.py NNCC FILE.nn [--update].

tests/nn/good/X.nn: `nncc good/X.nn --emit=ir --passes= FLAGS` must exit 0
and print X.ir (the graph as imported: the frontend's output, before any
optimization). tests/nn/bad/X.nn: `nncc bad/X.nn --emit=ir FLAGS` must exit
1, print nothing on stdout and exactly X.err on stderr (every diagnostic,
with its source line and caret), and with -o OUT.so fail the same way
leaving no file. FLAGS come from a `# flags: ...` line in
the file (e.g. `--train`), and a `# exit: N` line expects another exit
status (2: a usage error). nncc runs in tests/nn, so messages name the
file as good/X.nn or bad/X.nn wherever the tree is. --update rewrites the
golden from the current output (review the diff before committing).
"""
import os
import shlex
import subprocess
import sys


def main():
    nncc, path = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    update = "--update" in sys.argv[3:]
    here = os.path.dirname(os.path.abspath(__file__))
    rel = os.path.relpath(path, here)
    bad = rel.startswith("bad" + os.sep)
    flags, want_rc = [], 1 if bad else 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("# flags:"):
                flags = shlex.split(line[len("# flags:"):])
            if line.startswith("# exit:"):
                want_rc = int(line[len("# exit:"):])
    cmd = [nncc, rel, "--emit=ir"] + ([] if bad else ["--passes="]) + flags
    r = subprocess.run(cmd, cwd=here, capture_output=True, text=True)
    golden = path[:-3] + (".err" if bad else ".ir")
    got = r.stderr if bad else r.stdout
    if want_rc == 2:
        got = got.splitlines(True)[0] if got else ""  # the message, not the usage text
    if r.returncode != want_rc or (bad and r.stdout):
        sys.exit("FAIL %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s" % (rel, r.returncode, want_rc,
                                                                         r.stdout, r.stderr))
    if bad:  # with -o, the same failure leaves no file behind
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            so = os.path.join(tmp, "out.so")
            r2 = subprocess.run([nncc, rel, "-o", so] + flags, cwd=here, capture_output=True, text=True)
            if r2.returncode != want_rc or os.listdir(tmp):
                sys.exit("FAIL %s: with -o: exit %d, left %s" % (rel, r2.returncode, os.listdir(tmp)))
    if update:
        with open(golden, "w") as f:
            f.write(got)
        print("updated", os.path.relpath(golden, here))
        return
    with open(golden) as f:
        want = f.read()
    if got != want:
        import difflib
        sys.exit("FAIL %s: output differs from %s\n%s" % (rel, os.path.basename(golden), "".join(
            difflib.unified_diff(want.splitlines(True), got.splitlines(True), "want", "got"))))
    print("ok", rel)


if __name__ == "__main__":
    main()
