"""Cost of an RSO step, measured side by side with the oracle calls it must make.

For an MLP 784-512-512-10 (batch 256, random data, float64, numpy) this measures in one
run, interleaved, medians of repeats:

* ``t_vg``: one ``value_and_grad`` call;
* ``t_sgd``: one SGD step (gradient + update);
* ``t_rso(K)`` for K = 2, 4, 6, 16: one RSO step (gradient + meta-solve), with its
  ``nfev``; the overhead ratio ``t_rso / ((1 + nfev) * t_vg)`` (target <= 1.1: the
  library's own work beyond the evaluations it must make is at most 10 %);
* the cost relative to an SGD step, plain and with ``meta_every`` = 5 / 10 and a meta
  batch of 32 (vs. the paper's "5-10 % overhead for K = 5");
* peak extra memory of ``rso_step`` beyond one ``value_and_grad`` call (tracemalloc,
  which sees NumPy's allocations), relative to the parameter size (target <= 3x).

Usage: ``rso-ref bench rso [--quick] [--out PATH]`` (or ``python -m
rso_ref.benchmarks.rso_overhead``).
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from typing import Sequence

import numpy as np

from rso_ref.benchmarks import finish, median_time, parse_args
from rso_ref.nn import MLP
from rso_ref.optim import RSO, SGD
from rso_ref.rso import rso_step
from rso_ref.extras import threadpool_limits


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def run(quick: bool) -> dict:
    sizes, batch = ((784, 512, 512, 10), 256)
    model = MLP(sizes)
    params = model.init(seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], size=batch)
    X_meta, y_meta = X[:32], y[:32]
    param_bytes = sum(p.nbytes for p in params)
    repeats = 5 if quick else 15
    ks = (2, 4, 6) if quick else (2, 4, 6, 16)

    def oracle(p):
        return model.value_and_grad(p, X, y)

    def meta_oracle(p):
        return model.value_and_grad(p, X_meta, y_meta)

    sgd = SGD(lr=0.05, momentum=0.9)
    sgd_state = sgd.init(params)

    def sgd_step():
        _, grads = oracle(params)
        sgd.step(params, grads, sgd_state)

    t_vg = median_time(lambda: oracle(params), repeats)
    t_sgd = median_time(sgd_step, repeats)
    rows = []
    for k in ks:
        info = {}

        def one_step(k=k, info=info):
            info["res"] = rso_step(oracle, params, lr=0.05, meta_iters=k, groups=model.layers())

        t_vg_again = median_time(lambda: oracle(params), repeats)  # interleaved reference
        t_rso = median_time(one_step, repeats)
        nfev = info["res"].nfev
        rows.append({
            "K": k, "nfev": nfev, "nit": info["res"].nit, "t_rso": t_rso,
            "t_value_and_grad": t_vg_again,
            "overhead_ratio": t_rso / ((1 + nfev) * t_vg_again),
            "vs_sgd_step": t_rso / t_sgd,
        })

    amortised = []
    for meta_every, meta in ((1, False), (5, False), (10, False), (1, True), (5, True)):
        opt = RSO(lr=0.05, meta_iters=5, meta_every=meta_every, layers=model.layers(),
                  groups="layer")
        n_steps = 10 if quick else 20
        state = opt.init(params)
        p = params
        meta_calls = 0
        start = time.perf_counter()
        for _ in range(n_steps):
            loss, grads = oracle(p)
            p, state, info = opt.step_with_info(p, grads, state, value_and_grad=oracle,
                                                loss=loss,
                                                meta_value_and_grad=meta_oracle if meta else None)
            meta_calls += info.oracle_calls
        per_step = (time.perf_counter() - start) / n_steps
        amortised.append({"meta_every": meta_every, "meta_batch": 32 if meta else None,
                          "K": 5, "t_step": per_step, "vs_sgd_step": per_step / t_sgd,
                          "meta_nfev_per_step": meta_calls / n_steps})

    peak_vg = _peak_bytes(lambda: oracle(params))
    peak_rso = _peak_bytes(lambda: rso_step(oracle, params, lr=0.05, meta_iters=5,
                                            groups=model.layers()))
    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg(), "blas_threads": 1},
        "model": repr(model), "batch": batch, "param_bytes": param_bytes,
        "t_value_and_grad": t_vg, "t_sgd_step": t_sgd, "per_K": rows,
        "amortised": amortised,
        "memory": {"peak_value_and_grad": peak_vg, "peak_rso_step": peak_rso,
                   "extra_over_param_bytes": (peak_rso - peak_vg) / param_bytes,
                   "peak_rso_over_param_bytes": peak_rso / param_bytes},
        "n_params": int(sum(p.size for p in params)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parse_args(parser, "rso_overhead", argv)
    with threadpool_limits(limits=1):
        result = run(args.quick)
    finish(result, args)
    print(f"value_and_grad {1e3 * result['t_value_and_grad']:.2f} ms, "
          f"SGD step {1e3 * result['t_sgd_step']:.2f} ms")
    for row in result["per_K"]:
        print(f"K={row['K']:>2}: nfev={row['nfev']:>3} rso_step {1e3 * row['t_rso']:.1f} ms  "
              f"overhead ratio {row['overhead_ratio']:.3f}  x SGD step {row['vs_sgd_step']:.2f}")
    for row in result["amortised"]:
        print(f"meta_every={row['meta_every']:>2} meta_batch={row['meta_batch']}: "
              f"{row['vs_sgd_step']:.2f} x SGD step, "
              f"{row['meta_nfev_per_step']:.1f} meta calls/step")
    mem = result["memory"]
    print(f"peak extra memory of rso_step: {mem['extra_over_param_bytes']:.2f} x parameter size")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
