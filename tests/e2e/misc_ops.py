"""misc_ops.py OUTDIR: writes ONNX backend-style test folders for the misc
family's rewrites with independent expected outputs: DFT/STFT against
numpy.fft (lengths that truncate and pad, inverse, one-sided, irfft,
opset 20's axis input), GridSample against torch.nn.functional.grid_sample
(2-D and 3-D, every mode, padding and align_corners; bicubic with border
padding is left out: ONNX's reference clamps the coordinate before taking
the taps, PyTorch clamps each tap), RoiAlign against torchvision's
roi_align (avg, aligned and not). onnx_folders.sh runs them through
`nncc test-onnx` (the compiled code, not the interpreter)."""
import itertools
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from onnx import helper, numpy_helper as nh

OUT = sys.argv[1]


def elem(v):
    return onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[v.dtype]


def save(name, node, inputs, outputs, opset=17, inits=()):
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    g = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(k, elem(v), v.shape) for k, v in inputs],
        [helper.make_tensor_value_info(k, elem(v), v.shape) for k, v in outputs],
        initializer=[nh.from_array(v, k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, os.path.join(d, "model.onnx"))
    for kind, vals in (("input", inputs), ("output", outputs)):
        for i, (k, v) in enumerate(vals):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{i}.pb"), "wb") as f:
                f.write(nh.from_array(v, k).SerializeToString())


def cplx(y):
    return np.stack((y.real, y.imag), -1).astype(np.float32)


def i64(v):
    return np.array(v, np.int64)


def signal(rng):
    x = rng.standard_normal((5, 1)).astype(np.float32)
    save("dft_rank2", helper.make_node("DFT", ["x"], ["y"], axis=0), [("x", x)],
         [("y", cplx(np.fft.fft(x[:, 0])))])
    x = rng.standard_normal((2, 4, 3, 2)).astype(np.float32)
    xc = x[..., 0] + 1j * x[..., 1]
    for n in (6, 3):
        save(f"dft_len{n}", helper.make_node("DFT", ["x", "n"], ["y"], axis=1), [("x", x)],
             [("y", cplx(np.fft.fft(xc, n=n, axis=1)))], inits=[("n", i64(n))])
        save(f"idft_len{n}", helper.make_node("DFT", ["x", "n"], ["y"], axis=1, inverse=1), [("x", x)],
             [("y", cplx(np.fft.ifft(xc, n=n, axis=1)))], inits=[("n", i64(n))])
    xr = rng.standard_normal((2, 7, 1)).astype(np.float32)
    save("rfft_len8", helper.make_node("DFT", ["x", "n"], ["y"], axis=1, onesided=1), [("x", xr)],
         [("y", cplx(np.fft.rfft(xr[..., 0], n=8, axis=1)))], inits=[("n", i64(8))])
    xh = rng.standard_normal((1, 5, 2)).astype(np.float32)
    xhc = xh[..., 0] + 1j * xh[..., 1]
    for n in (9, 6):
        save(f"irfft_len{n}", helper.make_node("DFT", ["x", "n"], ["y"], axis=1, onesided=1, inverse=1),
             [("x", xh)], [("y", np.fft.irfft(xhc, n=n, axis=1)[..., None].astype(np.float32))],
             inits=[("n", i64(n))])
    x4 = rng.standard_normal((2, 6, 3, 1)).astype(np.float32)
    save("dft20_axis_input", helper.make_node("DFT", ["x", "", "a"], ["y"]), [("x", x4)],
         [("y", cplx(np.fft.fft(x4[..., 0], axis=2)))], opset=20, inits=[("a", i64(-2))])
    s = rng.standard_normal((2, 20, 2)).astype(np.float32)
    sc = s[..., 0] + 1j * s[..., 1]
    w = np.hanning(6).astype(np.float32)
    fr = np.stack([sc[:, i * 3:i * 3 + 6] * w for i in range((20 - 6) // 3 + 1)], 1)
    save("stft_complex_window", helper.make_node("STFT", ["s", "st", "w"], ["y"], onesided=0), [("s", s)],
         [("y", cplx(np.fft.fft(fr, axis=2)))], inits=[("st", i64(3)), ("w", w)])


def grid(rng):
    modes = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}
    for dims in (2, 3):
        for mode, pad, al in itertools.product(modes, ("zeros", "border", "reflection"), (0, 1)):
            if (dims == 3 and mode == "bicubic") or (mode == "bicubic" and pad == "border"):
                continue
            xs, gs = ((2, 3, 5, 6), (2, 4, 7, 2)) if dims == 2 else ((1, 2, 3, 4, 5), (1, 3, 4, 2, 3))
            x = rng.standard_normal(xs).astype(np.float32)
            g = rng.uniform(-1.6, 1.6, gs).astype(np.float32)
            y = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(g), mode=mode, padding_mode=pad,
                                                align_corners=bool(al)).numpy()
            save(f"gridsample{dims}d_{mode}_{pad}_{al}",
                 helper.make_node("GridSample", ["x", "g"], ["y"], mode=modes[mode], padding_mode=pad,
                                  align_corners=al),
                 [("x", x), ("g", g)], [("y", y)], opset=22)


def roi(rng):
    x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
    rois = np.array([[0.5, 1.0, 7.5, 6.0], [2.0, 0.0, 10.0, 8.5], [-1.0, 3.0, 4.0, 9.5]], np.float32)
    bi = np.array([1, 0, 1], np.int64)
    boxes = torch.tensor(np.concatenate([bi[:, None].astype(np.float32), rois], 1))
    for aligned in (0, 1):
        y = torchvision.ops.roi_align(torch.tensor(x), boxes, (4, 3), spatial_scale=0.75, sampling_ratio=2,
                                      aligned=bool(aligned)).numpy()
        ct = "half_pixel" if aligned else "output_half_pixel"
        save(f"roialign_avg_{ct}",
             helper.make_node("RoiAlign", ["x", "r", "b"], ["y"], output_height=4, output_width=3,
                              spatial_scale=0.75, sampling_ratio=2, coordinate_transformation_mode=ct),
             [("x", x), ("r", rois), ("b", bi)], [("y", y)], opset=16)


def main():
    rng = np.random.default_rng(0)
    signal(rng)
    grid(rng)
    roi(rng)


main()
