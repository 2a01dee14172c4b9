"""PyTorch timings for bench/gpu-check.sh on the GPU machine: the same
models as the carried nncc builds (tests/zoo/zoo_models.py when its imports
are available there, else the same architectures with other random
weights: timing does not depend on them).

    gpu_torch.py NAME BATCH infer|train [--compile]

Prints one JSON line: eager, CUDA-graph (and with --compile torch.compile)
median milliseconds of an inference (batch BATCH, no copies) or of one
training step (cross entropy, SGD with momentum, as nncc --train).
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("zoo", "e2e"):
    sys.path.insert(0, os.path.join(HERE, "..", "tests", sub))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def model(name):
    try:
        import zoo_models
        return zoo_models.build(name)
    except Exception:  # noqa: BLE001 - onnx or torchvision missing there
        pass
    if name == "resnet18":
        import torchvision
        return torchvision.models.resnet18().eval()
    import models as e2e
    return {"mlp": e2e.MLP, "lenet": e2e.LeNet}[name]().eval()


def shape(name, batch):
    return {"mlp": (batch, 784), "lenet": (batch, 1, 28, 28), "resnet18": (batch, 3, 224, 224)}[name]


def median_ms(fn, n=100, warm=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def graphed(fn):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


def main():
    name, batch, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as nncc
    torch.backends.cudnn.allow_tf32 = False
    m = model(name).cuda()
    x = torch.randn(*shape(name, batch), device="cuda")
    res = {"model": name, "batch": batch, "mode": mode, "gpu": torch.cuda.get_device_name()}
    if mode == "infer":
        with torch.no_grad():
            res["eager_ms"] = median_ms(lambda: m(x))
            res["graph_ms"] = median_ms(graphed(lambda: m(x)))
            if "--compile" in sys.argv:
                c = torch.compile(m)
                res["compile_ms"] = median_ms(lambda: c(x), warm=3)
    else:
        m.train()
        y = torch.randint(0, 10 if name != "resnet18" else 1000, (batch,), device="cuda")
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(m(x), y).backward()
            opt.step()
        res["eager_ms"] = median_ms(step, n=50)
        try:
            res["graph_ms"] = median_ms(graphed(step), n=50)
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            res["graph_error"] = str(e)[:200]
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
