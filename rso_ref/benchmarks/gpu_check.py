r"""GPU readiness in one command: the ``gpu`` tests, then achieved GFLOP/s against the GEMM peak.

On a machine with CuPy and a CUDA GPU:

1. runs ``pytest -m gpu`` on the source tree's ``tests/`` (when the package sits in a
   checkout; recorded as not run otherwise);
2. measures the device's GEMM peak: one square CuPy ``matmul`` per dtype, timed with
   ``cupyx.profiler.benchmark`` (GPU event times, median);
3. times ``MLP((784, 512, 512, 10)).value_and_grad`` at batch 4096 in float32 and
   float64 the same way, and one :func:`rso_ref.rso_step` (``groups="layer"``, K = 5)
   in float32;
4. writes the JSON, with ``meets_target``: float32 forward+backward at
   :data:`TARGET_FRACTION` of the float32 GEMM peak or more.

FLOPs count the matrix products only, :math:`2mnk` per product. For a batch of
:math:`n` rows and dense layers :math:`d_{l-1} \to d_l`, the forward pass costs
:math:`F = \sum_l 2 n d_{l-1} d_l`; the backward pass computes for every layer the
weight gradient (one product of the forward's size) and the input gradient (another),
except the first layer, whose input gradient no parameter needs:
:math:`2F - 2 n d_0 d_1`. The activations, the loss and the bias sums are not counted,
so the fractions are a lower bound of the work done.

The exit status is 1 when the ``gpu`` tests fail (the JSON is written all the same),
else 0; a missed target is recorded, not an error. Without CuPy or a GPU the command
prints one line saying so, writes nothing and exits 0.

Usage::

    rso-ref bench gpu [--quick] [--out PATH]
    python -m rso_ref.benchmarks.gpu_check [--skip-tests] [--repeats N] [--quick] [--out PATH]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from rso_ref import backend
from rso_ref.benchmarks import finish, parse_args

#: float32 forward+backward of the MLP at batch 4096 must reach this fraction of the
#: measured float32 GEMM peak (issue 12).
TARGET_FRACTION = 0.5
SIZES = (784, 512, 512, 10)
BATCH = 4096
#: Side of the square matrices of the peak measurement.
PEAK_N = {"float32": 8192, "float64": 4096}


def mlp_gemm_flops(sizes: Sequence[int], n: int) -> dict:
    r"""Matrix-product FLOPs of one forward and one backward pass of a dense network.

    Returns ``{"forward": F, "backward": 2F - 2 n d_0 d_1, "total": ...}`` (see the
    module documentation).
    """
    forward = sum(2 * n * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    backward = 2 * forward - 2 * n * sizes[0] * sizes[1]
    return {"forward": forward, "backward": backward, "total": forward + backward}


def gpu_missing() -> str | None:
    """Why this machine cannot run the check (no CuPy, no CUDA GPU), or None."""
    try:
        backend.namespace("cupy")
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


def _median_gpu_s(fn, repeats: int, warmup: int) -> dict:
    from cupyx.profiler import benchmark

    times = benchmark(fn, n_repeat=repeats, n_warmup=warmup)
    gpu = [float(t) for t in times.gpu_times[0]]
    cpu = [float(t) for t in times.cpu_times]
    return {"gpu_s": statistics.median(gpu), "cpu_s": statistics.median(cpu)}


def _peak(xp, dtype: str, repeats: int) -> dict:
    n = PEAK_N[dtype]
    a = backend.random_normal((n, n), 0, xp=xp, dtype=dtype)
    b = backend.random_normal((n, n), 1, xp=xp, dtype=dtype)
    timing = _median_gpu_s(lambda: xp.matmul(a, b), repeats, warmup=3)
    return {"n": n, **timing, "gflops": 2 * n ** 3 / timing["gpu_s"] / 1e9}


def _mlp(xp, dtype: str, repeats: int, peak_gflops: float) -> dict:
    from rso_ref.nn import MLP

    model = MLP(SIZES)
    X = backend.random_normal((BATCH, SIZES[0]), 2, xp=xp, dtype=dtype)
    y = backend.asarray(backend.rng(3).integers(0, SIZES[-1], BATCH), xp=xp)
    params = model.init(seed=0, like=X)
    flops = mlp_gemm_flops(SIZES, BATCH)
    timing = _median_gpu_s(lambda: model.value_and_grad(params, X, y), repeats, warmup=3)
    gflops = flops["total"] / timing["gpu_s"] / 1e9
    return {"dtype": dtype, "sizes": list(SIZES), "batch": BATCH,
            "gflop_per_call": flops["total"] / 1e9,
            **timing, "gflops": gflops, "fraction_of_peak": gflops / peak_gflops}


def _rso(xp, repeats: int) -> dict:
    from rso_ref import rso_step
    from rso_ref.nn import MLP

    model = MLP(SIZES)
    X = backend.random_normal((BATCH, SIZES[0]), 2, xp=xp, dtype="float32")
    y = backend.asarray(backend.rng(3).integers(0, SIZES[-1], BATCH), xp=xp)
    params = model.init(seed=0, like=X)

    def oracle(p):
        return model.value_and_grad(p, X, y)

    times, result = [], None
    for _ in range(repeats + 1):  # the first step warms up
        backend.synchronize(xp)
        start = time.perf_counter()
        result = rso_step(oracle, params, lr=0.1, groups=model.layers(), meta_iters=5)
        backend.synchronize(xp)
        times.append(time.perf_counter() - start)
    wall = statistics.median(times[1:])
    calls = result.nfev + 1  # the meta evaluations and the gradient at theta
    flops = calls * mlp_gemm_flops(SIZES, BATCH)["total"]
    return {"dtype": "float32", "meta_iters": 5, "groups": "layer", "wall_s": wall,
            "oracle_calls": calls, "wall_s_per_oracle_call": wall / calls,
            "gflops": flops / wall / 1e9, "loss_before": result.loss_before,
            "loss_after": result.loss_after}


def _gpu_tests() -> dict:
    tests = Path(__file__).resolve().parents[2] / "tests"
    if not tests.is_dir():
        return {"ran": False, "reason": f"no tests/ beside the package ({tests})"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs",
                           "-p", "no:cacheprovider", str(tests)],
                          capture_output=True, text=True, cwd=tests.parent)
    lines = done.stdout.strip().splitlines()
    return {"ran": True, "returncode": done.returncode, "summary": lines[-1] if lines else "",
            "passed": done.returncode == 0, "seconds": time.perf_counter() - start}


def _device_info() -> dict:
    """Name and id of the current CUDA device, and the CuPy/CUDA versions."""
    import cupy

    device_id = int(cupy.cuda.Device().id)
    name = cupy.cuda.runtime.getDeviceProperties(device_id)["name"]
    return {"name": name.decode() if isinstance(name, bytes) else str(name), "id": device_id,
            "cupy": cupy.__version__, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}


def run(repeats: int, skip_tests: bool) -> dict:
    """The whole check on the current CUDA device (CuPy must be usable)."""
    xp = backend.namespace("cupy")
    result = {
        "benchmark": "gpu_check",
        "device": _device_info(),
        "python": platform.python_version(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "repeats": repeats,
        "timing": "median GPU event time of cupyx.profiler.benchmark (3 warm-up calls); "
                  "the RSO step: median wall time of whole steps after one warm-up step",
        "flops": "matrix products only, 2mnk each; backward = 2x forward minus the first "
                 "layer's input gradient",
        "gpu_tests": {"ran": False, "reason": "--skip-tests"} if skip_tests else _gpu_tests(),
        "peak": {dt: _peak(xp, dt, repeats) for dt in ("float32", "float64")},
    }
    result["mlp"] = [_mlp(xp, dt, repeats, result["peak"][dt]["gflops"])
                     for dt in ("float32", "float64")]
    result["rso_step"] = _rso(xp, max(1, repeats // 5))
    fraction = result["mlp"][0]["fraction_of_peak"]
    result["target_fraction"] = TARGET_FRACTION
    result["meets_target"] = fraction >= TARGET_FRACTION
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check and write its JSON; returns the exit status (0 without a GPU)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per case (default 50, 10 with --quick)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run pytest -m gpu")
    args = parse_args(parser, "gpu_check", argv)
    if args.repeats is None:
        args.repeats = 10 if args.quick else 50
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    reason = gpu_missing()
    if reason is not None:
        print(f"gpu check skipped: no usable CUDA GPU ({reason})")
        return 0
    result = run(args.repeats, args.skip_tests)
    out = finish(result, args)
    tests_failed = result["gpu_tests"]["ran"] and not result["gpu_tests"]["passed"]
    f32 = result["mlp"][0]
    print(f"{result['device']['name']}: MLP float32 {f32['gflops']:.0f} GFLOP/s = "
          f"{f32['fraction_of_peak']:.0%} of the GEMM peak "
          f"{result['peak']['float32']['gflops']:.0f} "
          f"(target {TARGET_FRACTION:.0%}: {'met' if result['meets_target'] else 'missed'}); "
          f"gpu tests: {result['gpu_tests'].get('summary', result['gpu_tests'].get('reason'))}")
    print(f"wrote {out}")
    return 1 if tests_failed else 0


if __name__ == "__main__":
    sys.exit(main())
