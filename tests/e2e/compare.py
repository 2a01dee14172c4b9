"""Compare a tensor against a reference: compare.py A.npy REF.npy [--atol X] [--rtol Y]

Passes when shapes and dtypes match and, elementwise,
|a - ref| <= atol + rtol * |ref|  (NaN matches NaN; equal infinities match).
Prints the max abs error and the worst element; exit 0 on match, 1 on
mismatch, 2 on usage errors or unreadable files.
"""
import argparse
import sys

import numpy as np


def load(path, what):
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any failure here is the file's fault
        print(f"compare: cannot read {what} {path}: {e}", file=sys.stderr)
        sys.exit(2)


def check(a, ref, atol, rtol, tag):
    """Compares a against ref; returns (ok, max abs error or None, report
    lines). The error is None when the shapes or dtypes differ."""
    if a.shape != ref.shape:
        return False, None, [f"compare: FAIL {tag}: shape {a.shape} != reference shape {ref.shape}"]
    if a.dtype != ref.dtype:
        return False, None, [f"compare: FAIL {tag}: dtype {a.dtype} != reference dtype {ref.dtype}"]
    if a.size == 0:
        return True, 0.0, [f"compare: OK {tag}: empty tensors of shape {a.shape}"]

    if a.dtype.kind in "fc":
        a64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        r64 = ref.astype(a64.dtype)
        both_nan = np.isnan(a64) & np.isnan(r64)
        same = (a64 == r64) | both_nan          # also covers equal infinities
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(a64 - r64)
        err = np.where(same, 0.0, err)
        err = np.where(np.isnan(err), np.inf, err)  # NaN against a number
        tol = atol + rtol * np.abs(np.where(np.isfinite(r64), r64, 0))
    else:  # integers and bools must match exactly
        err = np.abs(a.astype(np.float64) - ref.astype(np.float64))
        tol = np.zeros(a.shape)
    bad = err > tol

    imax = np.unravel_index(int(np.argmax(err)), a.shape)
    lines = [f"compare: {tag}: shape {a.shape} {a.dtype}, max abs error {err[imax]:.3g} "
             f"at {tuple(int(i) for i in imax)} (got {a[imax]!r}, want {ref[imax]!r})"]
    if bad.any():
        excess = np.where(bad, err - tol, -np.inf)
        iw = np.unravel_index(int(np.argmax(excess)), a.shape)
        lines.append(f"compare: FAIL {int(bad.sum())} of {a.size} elements outside "
                     f"atol={atol:g} rtol={rtol:g}; worst at {tuple(int(i) for i in iw)}: "
                     f"got {a[iw]!r}, want {ref[iw]!r}")
        return False, float(err[imax]), lines
    lines.append(f"compare: OK (atol={atol:g}, rtol={rtol:g})")
    return True, float(err[imax]), lines


def main():
    ap = argparse.ArgumentParser(description="compare two .npy tensors elementwise")
    ap.add_argument("actual")
    ap.add_argument("reference")
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args()

    a = load(args.actual, "result")
    ref = load(args.reference, "reference")
    ok, _, lines = check(a, ref, args.atol, args.rtol, f"{args.actual} vs {args.reference}")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
