r"""Theorem 1 claims: the verdict rules and the pure statistics on the runs' numbers.

Experiments: :mod:`rso_ref.claims.convergence`; pages: :mod:`rso_ref.claims.convergence_pages`;
figures: :mod:`rso_ref.claims.convergence_figures`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..stats import bootstrap_ci, proportion_ci
from .common import EXACT_K

__all__ = ["EIG_RTOL", "DESCENT_RTOL", "ASYMPTOTIC_RTOL", "RSO_STEP_CAP", "RSO_STEP_CAP_QUICK",
           "RATE_BUDGET_KAPPAS", "RATE_MIN_STEPS", "GAP_FLOOR_RTOL", "SCIPY_GTOL", "SCIPY_FTOL",
           "SCIPY_MAXITER", "gap_floor_of",
           "fit_linear_rate",
           "rate_ratios", "rate_verdict", "min_eig_ratio", "convexity_readings", "losing",
           "failure_rates", "counterexample", "descent_summary_rows", "descent_verdict"]

#: Relative tolerance for "negative eigenvalue": exact float64 Hessians (autograd HVPs)
#: carry round-off of order 1e-15 max|λ|; 1e-10 leaves a wide margin.
EIG_RTOL = 1e-10
#: A step "loses to GD" when f(w_K) > f(1) + DESCENT_RTOL * |L(θ)|: float64 sums of
#: a few hundred terms are exact to ~1e-14 relative.
DESCENT_RTOL = 1e-12
#: Steps at most of an RSO rate run (GD gets 5κ): 5κ RSO steps at κ = 10⁴ for eight
#: arms, two problems and five seeds would take hours of Python here.
RSO_STEP_CAP = 3000
#: Most RSO steps of a quick rate run.
RSO_STEP_CAP_QUICK = 500
#: A rate run lasts at most max(RATE_BUDGET_KAPPAS·κ, RATE_MIN_STEPS) steps; the fit
#: counts a run as asymptotic once it lasted RATE_BUDGET_KAPPAS·κ steps.
RATE_BUDGET_KAPPAS = 5
RATE_MIN_STEPS = 200
#: Round-off level of a loss gap, relative to the first gap or to :math:`|f^\star|`.
GAP_FLOOR_RTOL = 1e-11
#: L-BFGS-B's (and :func:`rso_ref.lbfgs.minimize`'s) default tolerances, which the
#: SciPy-tolerance arm of the rate runs passes explicitly.
SCIPY_GTOL, SCIPY_FTOL, SCIPY_MAXITER = 1e-5, 2.2e-9, 15000
#: Largest relative drift of the fitted log-rate between the last third and the last
#: sixth of a run for it to count as asymptotic (:func:`fit_linear_rate`).
ASYMPTOTIC_RTOL = 0.05


def gap_floor_of(gap0: float, f_star: float) -> float:
    """Round-off level of the gap: :math:`10^{-11}` of the first gap or of :math:`|f^\\star|`."""
    return GAP_FLOOR_RTOL * max(gap0, abs(f_star))


def _log_rate_fit(gaps: np.ndarray, start: int, stop: int) -> tuple[float, float]:
    """Slope of log gap on steps ``start .. stop-1`` and the fit's R²."""
    t, y = np.arange(start, stop, dtype=float), np.log(gaps[start:stop])
    slope, intercept = np.polyfit(t, y, 1)
    resid = y - (intercept + slope * t)
    total = float(np.sum((y - y.mean()) ** 2))
    return float(slope), (1.0 - float(resid @ resid) / total if total > 0 else 1.0)


def fit_linear_rate(gaps: np.ndarray, floor: float, *, min_steps: int = 0) -> dict:
    r"""Fit :math:`\log g_t \approx a + t\log\rho` on the asymptotic part of a run.

    Let :math:`n` be the length of the leading run of gaps above ``floor``. The rate
    is fitted by least squares on the last third, :math:`t \in [2n/3, n)`, and again on
    the last sixth; the run counts as **asymptotic** when

    * it reached the floor, or lasted at least ``min_steps`` (the caller passes
      :math:`5\kappa`: GD's slowest mode needs of order :math:`\kappa` steps to dominate),
    * and the two fits agree, :math:`|\log\rho_{1/3} / \log\rho_{1/6} - 1| \le`
      :data:`ASYMPTOTIC_RTOL` (a transient still decaying shows as a drifting slope).

    Returns ``rho`` (last third), ``rho_end`` (last sixth), ``r2``, ``start``, ``n``,
    ``asymptotic``; ``rho`` is NaN with fewer than 6 points above the floor.
    """
    above = gaps > floor
    n = int(np.argmin(above)) if not above.all() else gaps.size
    start, late = (2 * n) // 3, (5 * n) // 6
    if n - late < 3:
        return {"rho": float("nan"), "rho_end": float("nan"), "r2": float("nan"),
                "start": start, "n": n, "asymptotic": False}
    slope, r2 = _log_rate_fit(gaps, start, n)
    slope_end, _ = _log_rate_fit(gaps, late, n)
    reached_floor = n < gaps.size
    stable = slope_end != 0 and abs(slope / slope_end - 1.0) <= ASYMPTOTIC_RTOL
    return {"rho": float(np.exp(slope)), "rho_end": float(np.exp(slope_end)), "r2": r2,
            "start": start, "n": n,
            "asymptotic": bool(stable and (reached_floor or n - 1 >= min_steps))}


def rate_ratios(rows: Sequence[dict]) -> list[dict]:
    r"""Aggregate the runs per problem, κ and method over the seeds.

    ``ratio_mean``/``ratio_std`` (``ddof=1``) are :math:`(1-\rho)/(1-\rho_{GD})` over
    the seeds where both the method's and GD's runs are asymptotic
    (:func:`fit_linear_rate`), ``asymptotic`` how many were; NaN where none (or one)
    was. ``envelope_ok`` and ``linear_bound_ok`` hold for every seed, ``final_gap`` is
    the worst seed's, ``reached_floor`` counts the seeds that reached round-off. For
    least squares GD's asymptotic gap contraction is known, :math:`(1-\mu/L)^2` (the
    slowest error mode shrinks by :math:`1-\mu/L` per step and the gap is quadratic in
    it); ``gd_theory`` gives it, to check the fit.
    """
    gd = {(r["problem"], r["cond"], r["seed"]): r for r in rows if r["method"] == "GD"}
    out = []
    for key in dict.fromkeys((r["problem"], r["cond"], r["method"]) for r in rows):
        runs = [r for r in rows if (r["problem"], r["cond"], r["method"]) == key]
        base = [gd[(key[0], key[1], r["seed"])] for r in runs]
        ratios = np.array([(1 - r["rho"]) / (1 - g["rho"]) for r, g in zip(runs, base)
                           if r["asymptotic"] and g["asymptotic"]])
        out.append({"problem": key[0], "cond": key[1], "method": key[2], "seeds": len(runs),
                    "asymptotic": int(ratios.size),
                    "ratio_mean": float(ratios.mean()) if ratios.size else float("nan"),
                    "ratio_std": float(ratios.std(ddof=1)) if ratios.size > 1 else float("nan"),
                    "rho_mean": float(np.mean([r["rho"] for r in runs])),
                    "steps_max": max(r["steps"] for r in runs),
                    "reached_floor": sum(r["final_gap"] <= r["floor"] for r in runs),
                    "final_gap": max(r["final_gap"] for r in runs),
                    "floor": max(r["floor"] for r in runs),
                    "envelope_ok": all(r["envelope_ok"] for r in runs),
                    "linear_bound_ok": all(r["linear_bound_ok"] for r in runs),
                    "gd_theory": (runs[0]["gd_bound_rho"] ** 2 if key[0] == "least_squares"
                                  else None)})
    return out


def min_eig_ratio(H: np.ndarray) -> float:
    """:math:`\\lambda_{\\min} / \\max|\\lambda|` (0 for the zero matrix)."""
    eig = np.linalg.eigvalsh(H)
    scale = float(np.max(np.abs(eig)))
    return float(eig[0] / scale) if scale > 0 else 0.0


def losing(rec: dict, k: int, key: str = "rso") -> bool:
    return rec[key][k] > rec["gd"] + DESCENT_RTOL * abs(rec["before"])


def failure_rates(settings: Sequence[dict], ks: Sequence[int], *, convex: bool) -> dict:
    r"""Pooled failure rate per ``K`` over the (convex or MLP) settings, with its exact CI.

    Returns ``{K: {"fails", "steps", "rate", "lo", "hi"}}`` with the Clopper-Pearson 95 %
    interval (:func:`rso_ref.stats.proportion_ci`). Steps of one trajectory are not
    independent, so the interval is optimistic by the within-trajectory correlation;
    the per-setting fractions on the page show the spread between settings.
    """
    out = {}
    for k in ks:
        flags = [f for s in settings if s["convex"] == convex for f in s["fail"][k]]
        rate, lo, hi = proportion_ci(int(sum(flags)), len(flags))
        out[k] = {"fails": int(sum(flags)), "steps": len(flags), "rate": rate, "lo": lo,
                  "hi": hi}
    return out


def rate_verdict(rows: Sequence[dict]) -> str:
    """The rule of ``theorem1-rate`` on the runs' records (``envelope_ok``, ``linear_bound_ok``).

    *holds* when every run of Algorithm 1 (each K and the exact meta-solve; the SciPy-
    tolerance arm is not Algorithm 1) stays under C/t and the exact runs obey the linear
    bound; *holds-under-conditions* when only the exact runs stay under C/t; *refuted*
    otherwise.
    """
    algorithm = [r for r in rows if r["method"] not in ("GD", "RSO scipy tol")]
    exact = [r for r in algorithm if r["method"] == "RSO exact"]
    if all(r["envelope_ok"] for r in algorithm) and all(r["linear_bound_ok"] for r in exact):
        return "holds"
    if all(r["envelope_ok"] for r in exact):
        return "holds-under-conditions"
    return "refuted"


def _fraction_ci(flags: Sequence[bool], seed: int = 0) -> list:
    x = np.asarray(flags, dtype=float)
    if x.min() == x.max():  # all equal: the bootstrap interval is the point
        return [float(x.mean())] * 3
    return list(bootstrap_ci(x, seed=seed))


def convexity_readings(conv: dict) -> dict:
    """The rule of ``theorem1-meta-convexity`` on the records of the convexity experiment.

    *refuted* if a convex problem shows a negative meta-Hessian eigenvalue (below
    :data:`EIG_RTOL` relative), *holds-under-conditions* if only the MLP does, *holds*
    otherwise. Returns the verdict with what the page states.
    """
    convex_ratios = np.array([x["ratio"] for x in conv["convex"]])
    convex_ok = bool(convex_ratios.min() >= -EIG_RTOL)
    by_where = {}
    for x in conv["mlp"]:
        by_where.setdefault(f"{x['activation']}: {x['where']}", []).append(x["ratio"] < -EIG_RTOL)
    neg = {k: _fraction_ci(v) for k, v in by_where.items()}
    mlp_neg = any(any(v) for v in by_where.values())
    if not convex_ok:
        verdict = "refuted"
    elif mlp_neg:
        verdict = "holds-under-conditions"
    else:
        verdict = "holds"
    return {"verdict": verdict, "convex_ratios": convex_ratios, "convex_ok": convex_ok,
            "by_where": by_where, "neg": neg, "mlp_neg": mlp_neg,
            "worst": min(conv["mlp"], key=lambda x: x["ratio"])}


def counterexample(s: dict, k: int) -> dict | None:
    for rec, bad in zip(s["records"][k], s["fail"][k]):
        if bad:
            return {"setting": s["setting"], "K": k, "seed": rec["seed"], "step": rec["step"],
                    "loss_before": rec["before"], "loss_gd": rec["gd"],
                    "loss_rso": rec["rso"][k], "theta": rec["theta"]}
    return None


def descent_summary_rows(settings: Sequence[dict], ks: Sequence[int]) -> list[dict]:
    """Per setting: the failure fraction per K with its Clopper-Pearson CI, steps, safeguard."""
    return [{"setting": s["setting"], "convex": s["convex"],
             "fail_fraction": {k: list(proportion_ci(int(sum(s["fail"][k])), len(s["fail"][k])))
                               for k in ks},
             "steps": {k: len(s["fail"][k]) for k in ks},
             "safe_fail": {k: float(np.mean(s["fail_safe"][k])) for k in ks}}
            for s in settings]


def descent_verdict(pooled: dict, safe_ok: bool) -> str:
    """The rule of ``theorem1-descent-vs-gd`` on the pooled failure counts per K.

    *refuted* if the exact meta-solve ever loses on a convex problem (impossible for a
    convex meta-problem, so a bug or a false premise) or the safeguard ever loses;
    *holds-under-conditions* if some K >= 1 loses somewhere; *holds* otherwise (K = 0, no
    meta-solve at all, is reported but does not decide). ``pooled`` is
    ``{"convex": failure_rates(...), "mlp": ...}`` (keys may be ints or, read back from
    JSON, strings).
    """
    exact = pooled["convex"].get(EXACT_K, pooled["convex"].get(str(EXACT_K)))
    if exact["fails"] or not safe_ok:
        return "refuted"
    # K = 0 runs no meta-solve (w = 1/L, a shortened gradient step that must lose on a
    # convex problem): reported beside, it is not "RSO with L-BFGS" and does not decide.
    if any(c["fails"] for group in pooled.values() for k, c in group.items()
           if int(k) != 0):
        return "holds-under-conditions"
    return "holds"
