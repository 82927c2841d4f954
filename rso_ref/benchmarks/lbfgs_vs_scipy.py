"""rso_ref.lbfgs.minimize against scipy.optimize.minimize(method="L-BFGS-B"), NumPy float64.

Usage: ``rso-ref bench lbfgs [--quick] [--out PATH]`` (or ``python -m
rso_ref.benchmarks.lbfgs_vs_scipy``).

Writes JSON (tmp file + os.replace, never half-written) with, per reference problem of
:mod:`rso_ref.testing.problems`: nit, nfev, median time, final f and success of both, with totals
and ratios; and the time per iteration on extended Rosenbrock at n = 1e3 and 1e5 (both
solvers run the same fixed number of iterations, gtol = ftol = 0), with a third column
for ``minimize`` on JAX arrays (CPU, float64, the oracle run op by op) when JAX is
installed; and, as a JAX user runs it (a jitted oracle), ``minimize`` on JAX arrays against
the same oracle on NumPy arrays and ``optax.lbfgs`` in a jitted loop
(:mod:`rso_ref.benchmarks.lbfgs_jax`, the JSON's ``"jax_native"``). Cases are measured
side by side, interleaved, medians of repeats; BLAS is pinned to one thread with
threadpoolctl; the load average before and after is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from types import ModuleType
from typing import Sequence

import numpy as np
import scipy
import scipy.optimize

from rso_ref import backend
from rso_ref.benchmarks import finish, lbfgs_jax, median_time, parse_args
from rso_ref.lbfgs import minimize
from rso_ref.testing import problems
from rso_ref.extras import threadpool_limits


M = 10


def run_ours(fun, x0, **opts):
    res = minimize(fun, x0, m=M, **opts)
    return {"nit": res.nit, "nfev": res.nfev, "fun": res.fun, "success": res.success,
            "message": res.message}


def run_scipy(fun, x0, **opts):
    options = {"maxcor": M}
    if "gtol" in opts:
        options.update(gtol=opts["gtol"], ftol=opts["ftol"], maxiter=opts["maxiter"])
    res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", options=options)
    return {"nit": int(res.nit), "nfev": int(res.nfev), "fun": float(res.fun),
            "success": bool(res.success), "message": str(res.message)}


def timed(runner, fun, x0, **opts):
    start = time.perf_counter()
    out = runner(fun, x0, **opts)
    out["time_s"] = time.perf_counter() - start
    return out


def jax_namespace() -> ModuleType | None:
    """``jax.numpy`` with float64, or ``None`` when JAX is missing or was imported without
    x64 before this benchmark ran.

    x64 and one XLA CPU thread are asked for through JAX's environment variables, read
    when JAX is first imported: XLA's busy threads otherwise slow the interleaved NumPy
    runs down (by 2-3x at n = 1e3 on two cores).
    """
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")
    try:
        jx = backend.namespace("jax")
        backend.resolve_dtype(jx, "float64")
    except (RuntimeError, TypeError, ValueError):
        return None
    return jx


def side_by_side(cases, repeats, **opts):
    """Interleave ``cases`` (name -> (runner, fun, x0)) ``repeats`` times; keep the last
    run of each and its median time."""
    times = {name: [] for name in cases}
    last = {}
    for _ in range(repeats):
        for name, (runner, fun, x0) in cases.items():
            out = timed(runner, fun, x0, **opts)
            times[name].append(out.pop("time_s"))
            last[name] = out
    for name in last:
        last[name]["time_s"] = statistics.median(times[name])
    return last


def problem_set(repeats):
    xp = backend.namespace("numpy")
    rows, totals = [], {"ours": {"nit": 0, "nfev": 0, "time_s": 0.0},
                        "scipy": {"nit": 0, "nfev": 0, "time_s": 0.0}}
    for problem in problems.all_problems():
        fun = problem.fun(xp)
        result = side_by_side({"ours": (run_ours, fun, problem.x0),
                               "scipy": (run_scipy, fun, problem.x0)}, repeats)
        rows.append({"problem": problem.name, "n": int(problem.x0.shape[0]), **result})
        for name in totals:
            for key in totals[name]:
                totals[name][key] += result[name][key]
    ratios = {key: totals["ours"][key] / totals["scipy"][key] for key in totals["ours"]}
    return rows, totals, ratios


def per_iteration(n, iters, repeats, jx=None):
    problem = problems.extended_rosenbrock(n)
    opts = {"gtol": 0.0, "ftol": 0.0, "maxiter": iters}
    fun = problem.fun(backend.namespace("numpy"))
    cases = {"ours": (run_ours, fun, problem.x0), "scipy": (run_scipy, fun, problem.x0)}
    if jx is not None:
        cases["ours_jax"] = (run_ours, problem.fun(jx), jx.asarray(problem.x0))
    result = side_by_side(cases, repeats, **opts)
    oracle = median_time(lambda: fun(problem.x0), max(3, repeats))  # one (f, g) call, for context
    out = {"n": n, "iterations": iters, "fun_and_grad_time_s": oracle}
    for name, r in result.items():
        out[name] = {**r, "time_per_iteration_s": r["time_s"] / max(r["nit"], 1)}
    out["ratio_time_per_iteration"] = (out["ours"]["time_per_iteration_s"]
                                       / out["scipy"]["time_per_iteration_s"])
    if jx is not None:
        out["ratio_jax_over_numpy_time_per_iteration"] = (
            out["ours_jax"]["time_per_iteration_s"] / out["ours"]["time_per_iteration_s"])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write its JSON and print the ratios; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parse_args(parser, "lbfgs_vs_scipy", argv)
    jx = jax_namespace()
    repeats = 3 if args.quick else 7
    load_before = os.getloadavg()
    # Trial points of some problems overflow (e.g. exp in Jennrich-Sampson); the line
    # search backtracks from them, so NumPy's warnings are noise here.
    with threadpool_limits(limits=1), np.errstate(over="ignore", invalid="ignore"):
        rows, totals, ratios = problem_set(repeats)
        rosen = [per_iteration(1000, 50 if args.quick else 200, repeats, jx),
                 per_iteration(100_000, 20 if args.quick else 60, repeats, jx)]
        jax_native = lbfgs_jax.run(args.quick) if jx is not None else None
    data = {
        "benchmark": "rso_ref.lbfgs.minimize vs scipy L-BFGS-B (no bounds), m = 10, float64",
        "repeats": repeats,
        "blas_threads": 1,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "jax": "float64 on the CPU, oracle run op by op" if jx is not None else
               "not run: JAX missing, or imported without x64 before the benchmark",
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "scipy": scipy.__version__, "cpu_count": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
        "problems": rows,
        "totals": totals,
        "ratios_ours_over_scipy": ratios,
        "extended_rosenbrock_per_iteration": rosen,
        "jax_native": jax_native if jax_native is not None else "not run: JAX missing",
    }
    finish(data, args)
    print(json.dumps({"ratios": ratios,
                      "per_iteration": [(r["n"], r["ours"]["time_per_iteration_s"],
                                         r["scipy"]["time_per_iteration_s"],
                                         r["ratio_time_per_iteration"]) for r in rosen],
                      "jax_over_numpy_per_iteration": [
                          (r["n"], r.get("ratio_jax_over_numpy_time_per_iteration"))
                          for r in rosen],
                      "jax_native": [{k: r.get(k) for k in ("problem", "jax_over_numpy",
                                                            "jax_over_optax")}
                                     for r in jax_native or []]},
                     indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
