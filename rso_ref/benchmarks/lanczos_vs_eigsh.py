"""Benchmark: rso_ref's thick-restart Lanczos vs scipy's eigsh (ARPACK) on a Hessian.

Problem: top-10 eigenpairs of the Hessian of an MLP 64-256-256-10 (ReLU, 85,002
parameters, softmax cross-entropy) on 512 standardised sklearn digits, after 10
full-batch gradient steps (lr 0.1) from the He initialisation. Both solvers get the
same matvec, the exact forward-over-reverse autograd HVP on flat vectors, and the
same tolerance; runs are interleaved and repeated, timings are medians.

Tolerances: eigsh stops when every Ritz residual is <= tol * |θ_i|; ours when every
residual is <= tol * max|θ| (see rso_ref.lanczos.top_eigenpairs). Ours is run twice:
with the same nominal tol, and with tol * θ_k / θ_1 ("matched"), which makes our test
at least as strict as ARPACK's on every one of the k values.

Also measured: the cost of one HVP over one autograd gradient (target <= 3).

Usage: ``rso-ref bench lanczos [--quick] [--out PATH]`` or ``python -m
rso_ref.benchmarks.lanczos_vs_eigsh [--repeats 3] [--quick] [--out PATH]`` (``--quick``:
one repeat). Writes JSON (atomically) to ``./rso-ref-out/bench/lanczos_vs_eigsh.json``
by default.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Sequence

import numpy as np
import scipy
import scipy.sparse.linalg as sla

from rso_ref import autodiff, hessian, tree
from rso_ref.benchmarks import finish, median_time, parse_args
from rso_ref.lanczos import top_eigenpairs
from rso_ref.nn import MLP
from rso_ref.extras import require, threadpool_info, threadpool_limits

load_digits = require("sklearn.datasets", "cli", "the benchmarks").load_digits

K, TOL, N_SAMPLES, SEED = 10, 1e-8, 512, 0
SIZES = (64, 256, 256, 10)


def make_problem():
    digits = load_digits()
    X = (digits.data - digits.data.mean(0)) / (digits.data.std(0) + 1e-8)
    idx = np.random.default_rng(SEED).permutation(len(digits.target))[:N_SAMPLES]
    X, y = X[idx].astype(np.float64), digits.target[idx].astype(np.int64)
    model = MLP(SIZES, activation="relu")
    params = model.init(seed=SEED)
    for _ in range(10):
        _, grads = model.value_and_grad(params, X, y)
        params = tree.axpy(-0.1, grads, params)
    return model, params, X, y


def counted(fn):
    def wrapper(v):
        wrapper.count += 1
        return fn(v)
    wrapper.count = 0
    return wrapper


def run_ours(matvec, dim, tol):
    mv = counted(matvec)
    t0 = time.perf_counter()
    res = top_eigenpairs(mv, dim, K, tol=tol, seed=SEED)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "n_matvec": mv.count, "converged": res.converged,
            "eigenvalues": np.asarray(res.eigenvalues),
            "eigenvectors": np.asarray(res.eigenvectors)}


def run_eigsh(matvec, dim, tol):
    mv = counted(matvec)
    op = sla.LinearOperator((dim, dim), matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(SEED).standard_normal(dim)
    t0 = time.perf_counter()
    vals, vecs = sla.eigsh(op, k=K, which="LA", tol=tol, v0=v0)
    wall = time.perf_counter() - t0
    order = np.argsort(vals)[::-1]
    return {"wall_s": wall, "n_matvec": mv.count, "converged": True,
            "eigenvalues": vals[order], "eigenvectors": vecs[:, order]}


def true_residuals(matvec, run, scale):
    U, lam = run["eigenvectors"], run["eigenvalues"]
    return [float(np.linalg.norm(matvec(U[:, i]) - lam[i] * U[:, i]) / scale) for i in range(K)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write its JSON and print the ratios; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved runs of each solver (default 3, 1 with --quick)")
    args = parse_args(parser, "lanczos_vs_eigsh", argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    load_before = os.getloadavg()
    with threadpool_limits(limits=1):
        pools = [{key: d.get(key) for key in ("internal_api", "num_threads")}
                 for d in threadpool_info()]
        model, params, X, y = make_problem()
        dim = sum(p.size for p in params)
        matvec = hessian.as_matvec(lambda v: hessian.hvp(model.loss, params, v, X, y), params)

        grad_s = median_time(lambda: autodiff.value_and_grad(model.loss, params, X, y), 10,
                             warmup=1)
        handwritten_s = median_time(lambda: model.value_and_grad(params, X, y), 10, warmup=1)
        v = tree.unflatten(np.random.default_rng(1).standard_normal(dim), params)
        hvp_s = {
            mode: median_time(lambda m=mode: hessian.hvp(model.loss, params, v, X, y, mode=m),
                              10, warmup=1)
            for mode in ("forward-over-reverse", "reverse-over-reverse")
        }

        runs = {"ours": [], "eigsh": [], "ours_matched": []}
        matched_tol = None
        for _ in range(args.repeats):            # interleaved
            runs["eigsh"].append(run_eigsh(matvec, dim, TOL))
            runs["ours"].append(run_ours(matvec, dim, TOL))
            if matched_tol is None:
                lam = runs["eigsh"][0]["eigenvalues"]
                matched_tol = TOL * abs(lam[-1]) / np.max(np.abs(lam))
            runs["ours_matched"].append(run_ours(matvec, dim, matched_tol))
        ref = runs["eigsh"][0]["eigenvalues"]
        scale = float(np.max(np.abs(ref)))
        summary = {}
        for name, rs in runs.items():
            summary[name] = {
                "tol": TOL if name != "ours_matched" else matched_tol,
                "n_matvec": [r["n_matvec"] for r in rs],
                "wall_s_median": statistics.median(r["wall_s"] for r in rs),
                "wall_s": [r["wall_s"] for r in rs],
                "converged": all(r["converged"] for r in rs),
                "eigenvalues": rs[0]["eigenvalues"].tolist(),
                "max_eigenvalue_rel_diff_vs_eigsh":
                    float(np.max(np.abs(rs[0]["eigenvalues"] - ref)) / scale),
                "true_residual_over_lambda_max": true_residuals(matvec, rs[0], scale),
            }
    load_after = os.getloadavg()
    eig, ours, ours_m = summary["eigsh"], summary["ours"], summary["ours_matched"]
    med = lambda s: statistics.median(s["n_matvec"])  # noqa: E731
    result = {
        "benchmark": "lanczos_vs_eigsh",
        "problem": {"model": f"MLP{SIZES} relu, cross-entropy", "n_params": dim,
                    "data": f"sklearn digits, {N_SAMPLES} samples, standardised",
                    "point": "10 full-batch GD steps (lr 0.1) from he_normal(seed 0)",
                    "k": K, "which": "LA", "tol": TOL,
                    "matvec": "exact autograd HVP, forward-over-reverse"},
        "results": summary,
        "ratios": {
            "matvec_ours_over_eigsh": med(ours) / med(eig),
            "wall_ours_over_eigsh": ours["wall_s_median"] / eig["wall_s_median"],
            "matvec_ours_matched_over_eigsh": med(ours_m) / med(eig),
            "wall_ours_matched_over_eigsh": ours_m["wall_s_median"] / eig["wall_s_median"],
            "hvp_over_autograd_grad": hvp_s["forward-over-reverse"] / grad_s,
            "hvp_reverse_over_reverse_over_autograd_grad": hvp_s["reverse-over-reverse"] / grad_s,
            "hvp_over_handwritten_grad": hvp_s["forward-over-reverse"] / handwritten_s,
        },
        "timings_s": {"autograd_grad": grad_s, "handwritten_grad": handwritten_s, "hvp": hvp_s},
        "targets": {"matvec_ratio_max": 1.2, "wall_ratio_max": 1.5, "hvp_over_grad_max": 3.0},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "scipy": scipy.__version__,
                    "cpu_count": os.cpu_count(),
                    "threadpools_during_run": pools,
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "repeats": args.repeats,
        "command": "rso-ref bench lanczos",
    }
    finish(result, args)
    print(json.dumps(result["ratios"], indent=2))
    print({name: (s["n_matvec"], round(s["wall_s_median"], 3)) for name, s in summary.items()})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
