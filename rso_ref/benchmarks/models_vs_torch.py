r"""Forward + backward time of rso_ref's models against torch on identical shapes.

Cases: the MLP 784-512-512-10 at batch 256 and a CIFAR-shaped ConvNet2D
(conv32-pool-conv64-pool-fc on 3x32x32, batch 128), each in float32 and float64. One
timed call is ``model.value_and_grad(params, X, y)`` for rso_ref and forward, loss and
``backward()`` of a torch twin with the same weights for torch. The two are
interleaved call by call in one process, with the thread count fixed for both
(threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``), and medians are reported
with the machine load (``os.getloadavg``) before and after. Achieved GFLOP/s count the
matrix products only (forward :math:`2mnk` per layer, backward twice that except the
first layer, which needs no input gradient) and are set against the measured peak of
one large NumPy matrix product under the same thread limit.

Usage::

    rso-ref bench models [--quick] [--out PATH]
    python -m rso_ref.benchmarks.models_vs_torch [--threads 2] [--repeats 15]
                                                 [--backend numpy|cupy] [--quick] [--out PATH]

Writes ``./rso-ref-out/bench/models_vs_torch.json`` (``--out`` to change it; the JSON
records the backend) by an atomic rename; ``--quick`` takes 5 repeats. ``--backend
cupy`` times rso_ref on CuPy against torch on CUDA (or the CPU when torch has no CUDA)
and exits cleanly, writing nothing, when CuPy or a GPU is missing.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from rso_ref import backend
from rso_ref.benchmarks import finish, parse_args
from rso_ref.extras import threadpool_info, threadpool_limits
from rso_ref.nn import MLP
from rso_ref.nn.convnets import ConvNet2D

TARGETS = {"mlp": 1.1, "convnet": 1.5}  # our time / torch time


def _mlp_case():
    sizes = (784, 512, 512, 10)
    model = MLP(sizes)
    n = 256
    forward = sum(2 * n * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    flops = 3 * forward - 2 * n * sizes[0] * sizes[1]  # the first layer needs no input gradient
    return "mlp", model, (n, sizes[0]), flops


def _convnet_case():
    model = ConvNet2D((3, 32, 32), channels=(32, 64))
    n = 128
    conv1 = 2 * n * 32 * 32 * 32 * 3 * 9
    conv2 = 2 * n * 16 * 16 * 64 * 32 * 9
    fc = 2 * n * 64 * 8 * 8 * 10
    flops = 3 * (conv1 + conv2 + fc) - conv1  # the first layer needs no input gradient
    return "convnet", model, (n, 3, 32, 32), flops


def _torch_step(kind, torch, tparams, tX, ty):
    """One forward + backward of the torch twin; returns the loss tensor."""
    F = torch.nn.functional
    for p in tparams:
        p.grad = None
    if kind == "mlp":
        h = tX
        for i in range(0, len(tparams) - 2, 2):
            h = torch.relu(F.linear(h, tparams[i], tparams[i + 1]))
        out = F.linear(h, tparams[-2], tparams[-1])
    else:
        h = tX
        for i in range(0, len(tparams) - 2, 2):
            h = F.max_pool2d(torch.relu(F.conv2d(h, tparams[i], tparams[i + 1], padding=1)), 2)
        out = F.linear(torch.flatten(h, 1), tparams[-2], tparams[-1])
    loss = F.cross_entropy(out, ty)
    loss.backward()
    return loss


def _timed(fn, sync):
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return time.perf_counter() - start, result


def _peak_gflops(xp, dtype, sync, n=2048, repeats=5):
    a = backend.random_normal((n, n), 0, xp=xp, dtype=dtype)
    times = [_timed(lambda: xp.matmul(a, a), sync)[0] for _ in range(repeats + 1)][1:]
    return 2 * n ** 3 / statistics.median(times) / 1e9


def _time_case(kind, model, x_shape, flops, dt, xp, torch, device, sync, repeats) -> dict:
    """Interleaved timings of one model and dtype: ours, torch, ours, torch, ..."""
    X = backend.random_normal(x_shape, 1, xp=xp, dtype=dt)
    params = model.init(seed=0, like=X)
    y_host = backend.rng(2).integers(0, 10, x_shape[0])
    y = backend.asarray(y_host, xp=xp)
    # Dense weights are (in, out) here and (out, in) in torch.
    hosts = [backend.to_numpy(p) for p in params]
    tparams = [torch.tensor(h.T if h.ndim == 2 else h, device=device).contiguous()
               .requires_grad_(True) for h in hosts]
    tX = torch.tensor(backend.to_numpy(X), device=device)
    ty = torch.tensor(y_host, device=device)
    ours, theirs = [], []
    load = os.getloadavg()
    for i in range(repeats + 2):  # the first two calls of each warm up
        t_ours, (value, _) = _timed(lambda: model.value_and_grad(params, X, y), sync)
        t_theirs, t_loss = _timed(lambda: _torch_step(kind, torch, tparams, tX, ty), sync)
        if i >= 2:
            ours.append(t_ours)
            theirs.append(t_theirs)
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    return {
        "model": kind, "dtype": dt, "input_shape": list(x_shape),
        "param_shapes": [list(p.shape) for p in params], "gflop_per_call": flops / 1e9,
        "ours_s": m_ours, "torch_s": m_theirs, "ratio": m_ours / m_theirs,
        # Median of the per-pair ratios: robust to load that changes during the run.
        "paired_ratio": statistics.median(a / b for a, b in zip(ours, theirs)),
        "target_ratio": TARGETS[kind], "meets_target": m_ours / m_theirs <= TARGETS[kind],
        "ours_gflops": flops / m_ours / 1e9, "torch_gflops": flops / m_theirs / 1e9,
        "ours_all_s": ours, "torch_all_s": theirs,
        "loss_ours": value, "loss_torch": float(t_loss.item()),
        "loadavg_before": load, "loadavg_after": os.getloadavg(),
    }


def run(threads: int, repeats: int, backend_name: str) -> dict:
    import torch

    xp = backend.namespace(backend_name)
    device = "cuda" if backend_name == "cupy" and torch.cuda.is_available() else "cpu"
    torch.set_num_threads(threads)

    def sync():
        backend.synchronize(xp)
        if device == "cuda":
            torch.cuda.synchronize()

    results = {
        "benchmark": "models_vs_torch",
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "backend": backend_name,
        "torch_device": device,
        "threads": {"blas": threads, "torch": torch.get_num_threads()},
        "versions": {"numpy": np.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor(),
                    "platform": platform.platform()},
        "repeats": repeats,
        "timing": "median seconds of one value_and_grad (ours) vs forward+backward (torch), "
                  "interleaved call by call after 2 warm-up calls each",
        "targets_ratio": TARGETS,
        "loadavg_before": os.getloadavg(),
        "cases": [],
    }
    with threadpool_limits(limits=threads):
        results["blas"] = [{k: info.get(k) for k in ("internal_api", "version", "num_threads")}
                           for info in threadpool_info()]
        results["peak_gflops"] = {dt: _peak_gflops(xp, dt, sync) for dt in ("float32", "float64")}
        for kind, model, x_shape, flops in (_mlp_case(), _convnet_case()):
            for dt in ("float32", "float64"):
                case = _time_case(kind, model, x_shape, flops, dt, xp, torch, device, sync,
                                  repeats)
                case["ours_fraction_of_peak"] = case["ours_gflops"] / results["peak_gflops"][dt]
                results["cases"].append(case)
                print(f"{kind:8s} {dt}: ours {case['ours_s'] * 1e3:8.1f} ms  "
                      f"torch {case['torch_s'] * 1e3:8.1f} ms  ratio {case['ratio']:.2f} "
                      f"(paired {case['paired_ratio']:.2f}, target {TARGETS[kind]})  "
                      f"{case['ours_gflops']:.1f} GFLOP/s = {case['ours_fraction_of_peak']:.0%} "
                      f"of peak {results['peak_gflops'][dt]:.1f}", flush=True)
    results["loadavg_after"] = os.getloadavg()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="BLAS and torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per case (default 15, 5 with --quick)")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="array library of rso_ref's side")
    args = parse_args(parser, "models_vs_torch", argv)
    if args.repeats is None:
        args.repeats = 5 if args.quick else 15
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be >= 1")
    if args.backend == "cupy":
        try:
            backend.namespace("cupy")
        except RuntimeError as exc:
            print(f"skipped: {exc}")
            return 0
    out = finish(run(args.threads, args.repeats, args.backend), args)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
