"""A NumPy port of L-BFGS and RSO written literally from ``rso_ref/golden_fixtures/SCHEMA.md``.

Unlike the torch and JAX ports, which take the meta-solve from ``rso_ref.lbfgs``, this
port imports nothing from ``rso_ref``: the L-BFGS iteration, its strong-Wolfe line
search and RSO's meta-solve are written from the rules of SCHEMA.md's sections
"RSO (Algorithm 1)" and "L-BFGS", one function per rule, so that SCHEMA.md can be checked
to be the whole truth: ``rso-ref golden check --port examples/ports/numpy_port.py:lbfgs``.

Kinds: ``lbfgs``, ``rso_meta``, ``rso_step`` (the RSO ports use the stored oracle
``value_and_grad`` they are given).
"""
from __future__ import annotations

import math

import numpy as np

EPS = 2.220446049250313e-16  # float64 machine epsilon (SCHEMA.md)
META_FTOL = 4 * EPS  # RSO's rounding-level stop of the meta-solve
LBFGS_MAXFUN = 15000  # the lbfgs kind's evaluation budget


# ---------------------------------------------------------------- stop tests (step 7) --

def gradient_small(g: np.ndarray, gtol: float) -> bool:
    """``‖g‖∞ ≤ gtol``."""
    return float(np.max(np.abs(g))) <= gtol


def ftol_scale(f_prev: float, f_new: float) -> float:
    """``max(|f_k|, |f_{k+1}|, 1)``: the scale of the relative reduction test."""
    return max(abs(f_prev), abs(f_new), 1.0)


def model_decrease(alpha: float, dphi0: float, dphi: float) -> float:
    """``D*``: the decrease of an exact line search on the quadratic model of the step."""
    kappa = (dphi - dphi0) / alpha
    return dphi0 * dphi0 / (2.0 * kappa) if kappa > 0.0 else math.inf


def reduction_small(f_prev: float, f_new: float, ftol: float, alpha: float, dphi0: float,
                    dphi: float) -> bool:
    """``Δ ≤ τ_k`` and (``Δ ≤ 0`` or ``D* ≤ τ_k``)."""
    tau = ftol * ftol_scale(f_prev, f_new)
    delta = f_prev - f_new
    return delta <= tau and (delta <= 0.0 or model_decrease(alpha, dphi0, dphi) <= tau)


# ------------------------------------------------------------------ the line search --

def _cubicmin(a, fa, da, b, fb, db):
    if a == b:
        return None
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    radicand = d1 * d1 - da * db
    if not radicand >= 0.0:
        return None
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0.0:
        return None
    t = b - (b - a) * (db + d2 - d1) / denom
    return t if math.isfinite(t) else None


def _quadmin(a, fa, da, b, fb):
    if a == b:
        return None
    curvature = (fb - fa - da * (b - a)) / ((b - a) * (b - a))
    if not curvature > 0.0:
        return None
    t = a - da / (2.0 * curvature)
    return t if math.isfinite(t) else None


def _inside(t, a, b):
    if t is None:
        return False
    lo, hi = min(a, b), max(a, b)
    pad = 0.1 * (hi - lo)
    return lo + pad <= t <= hi - pad


def _zoomtrial(lo, hi):
    if math.isfinite(hi[1]) and math.isfinite(hi[2]):
        t = _cubicmin(*lo, *hi)
        if _inside(t, lo[0], hi[0]):
            return t
        t = _quadmin(*lo, hi[0], hi[1])
        if _inside(t, lo[0], hi[0]):
            return t
    return lo[0] + 0.5 * (hi[0] - lo[0])


def _extrapolate(p, c):
    delta = c[0] - p[0]
    t = _cubicmin(*p, *c)
    if t is None or t <= c[0]:
        return c[0] + 4.0 * delta
    return min(max(t, c[0] + 1.1 * delta), c[0] + 4.0 * delta)


def line_search(fun, x, f, g, d, alpha0, limit, c1, c2):
    """``(accepted, evaluations, trial values)``; ``accepted`` is ``(alpha, x, f, g, dphi0,
    dphi)`` of the accepted trial or None when the search failed."""
    phi0, dphi0 = f, float(g @ d)
    values = []
    if not dphi0 < 0.0:
        return None, 0, values
    points = {}

    def evaluate(alpha):
        xt = x + alpha * d
        ft, gt = fun(xt)
        ft, gt = float(ft), np.asarray(gt, dtype=np.float64)
        with np.errstate(all="ignore"):
            slope = float(gt @ d)
        values.append(ft)
        points[alpha] = (xt, ft, gt)
        return alpha, ft, slope

    def too_long(t, v):
        alpha, value, slope = t
        if not (math.isfinite(value) and math.isfinite(slope)):
            return True
        return value - phi0 - c1 * alpha * dphi0 > 0.0 or value > v

    def curvature(t):
        return abs(t[2]) - c2 * abs(dphi0) <= 0.0

    def accept(t):
        xt, ft, gt = points[t[0]]
        return (t[0], xt, ft, gt, dphi0, t[2]), len(values), values

    prev, alpha, lo, hi = (0.0, phi0, dphi0), alpha0, None, None
    while len(values) < limit:
        cur = evaluate(alpha)
        if too_long(cur, prev[1]):
            lo, hi = prev, cur
            break
        if curvature(cur):
            return accept(cur)
        if cur[2] >= 0.0:
            lo, hi = cur, prev
            break
        alpha, prev = _extrapolate(prev, cur), cur
    if lo is None:
        return None, len(values), values
    w1 = w2 = math.inf
    while len(values) < limit:
        width = abs(hi[0] - lo[0])
        alpha = lo[0] + 0.5 * (hi[0] - lo[0]) if width > 0.66 * w2 else _zoomtrial(lo, hi)
        w2, w1 = w1, width
        if alpha == lo[0] or alpha == hi[0]:
            return None, len(values), values
        cur = evaluate(alpha)
        if too_long(cur, lo[1]):
            hi = cur
            continue
        if curvature(cur):
            return accept(cur)
        if cur[2] * (hi[0] - lo[0]) >= 0.0:
            hi = lo
        lo = cur
    return None, len(values), values


# --------------------------------------------------------------------- the iteration --

class _Memory:
    def __init__(self, m):
        self.m, self.pairs, self.gamma = m, [], 1.0  # pairs (s, y, rho), oldest first

    def clear(self):
        self.pairs, self.gamma = [], 1.0

    def direction(self, g):
        if not self.pairs:
            return -g
        q = g.copy()
        coeffs = []
        for s, y, rho in reversed(self.pairs):
            a = rho * (s @ q)
            q = q - a * y
            coeffs.append(a)
        r = self.gamma * q
        for (s, y, rho), a in zip(self.pairs, reversed(coeffs)):
            b = rho * (y @ r)
            r = r + (a - b) * s
        return -r

    def push(self, s, y):
        sy, yy = float(s @ y), float(y @ y)
        if not sy > EPS * yy:
            return
        self.pairs = (self.pairs + [(s, y, 1.0 / sy)])[-self.m:]
        self.gamma = sy / yy


def _first_step(d):
    length = math.sqrt(float(d @ d))
    alpha0 = 1.0 / length if length > 0.0 else 1.0
    return alpha0 if math.isfinite(alpha0) else 1.0


def _flat(values, f, ftol):
    tau = ftol * max(abs(f), 1.0)
    return ftol > 0.0 and bool(values) and abs(values[-1] - f) <= tau \
        and not any(v < f - tau for v in values)


def run_lbfgs(fun, x0, *, m, gtol, ftol, maxiter, maxls, c1, c2, maxfun, after_step=None):
    """The rows ``(x, f, g, nfev)`` of an L-BFGS run; ``after_step(f_prev, f_new)`` may
    return True to stop after an accepted step (RSO's rounding-level stop)."""
    x = np.array(x0, dtype=np.float64).reshape(-1)
    f, g = fun(x.copy())
    f, g = float(f), np.asarray(g, dtype=np.float64).reshape(-1)
    nfev = 1
    rows = [(x, f, g, nfev)]
    if not (math.isfinite(f) and bool(np.all(np.isfinite(g)))) or gradient_small(g, gtol):
        return rows
    memory = _Memory(m)
    k = 0
    while True:
        if k >= maxiter:
            break
        budget = maxfun - nfev
        if budget < 1:
            break
        had_pairs = bool(memory.pairs)
        d = memory.direction(g)
        alpha0 = _first_step(d) if not memory.pairs else 1.0
        accepted, used, values = line_search(fun, x, f, g, d, alpha0, min(maxls, budget), c1, c2)
        nfev += used
        if accepted is None:
            if not had_pairs or used >= budget or _flat(values, f, ftol):
                break
            memory.clear()
            d = -g
            accepted, used2, _ = line_search(fun, x, f, g, d, _first_step(d),
                                             min(maxls, budget - used), c1, c2)
            nfev += used2
            if accepted is None:
                break
        alpha, x_new, f_new, g_new, dphi0, dphi = accepted
        memory.push(x_new - x, g_new - g)
        f_prev = f
        x, f, g = x_new, f_new, g_new
        k += 1
        rows.append((x, f, g, nfev))
        if gradient_small(g, gtol) or reduction_small(f_prev, f, ftol, alpha, dphi0, dphi):
            break
        if after_step is not None and after_step(f_prev, f):
            break
    return rows


def lbfgs(fun, x0, *, m, gtol, ftol, maxiter, maxls, c1, c2):
    """The ``lbfgs`` kind: ``{"x", "f", "g", "nfev"}`` rows of the run."""
    rows = run_lbfgs(fun, x0, m=m, gtol=gtol, ftol=ftol, maxiter=maxiter, maxls=maxls, c1=c1,
                     c2=c2, maxfun=LBFGS_MAXFUN)
    return {"x": np.stack([r[0] for r in rows]), "f": np.array([r[1] for r in rows]),
            "g": np.stack([r[2] for r in rows]),
            "nfev": np.array([r[3] for r in rows], dtype=np.int64)}


# ------------------------------------------------------------------------------- RSO --

def _directions(grads, groups, normalize):
    directions = [np.asarray(g, dtype=np.float64) for g in grads]
    if normalize:
        for group in groups:
            norm = math.sqrt(sum(float(np.sum(directions[j] * directions[j])) for j in group))
            factor = 1.0 / norm if norm > 0 else 0.0
            for j in group:
                directions[j] = factor * directions[j]
    return directions


def _meta(value_and_grad, params, directions, groups, lr):
    """``f(w) -> (f, grad_w)``: one oracle call at ``θ'(w) = θ − lr Σ w_i d_i``."""
    def f(w):
        moved = [np.array(p, dtype=np.float64) for p in params]
        for group, wi in zip(groups, w):
            for j in group:
                moved[j] = params[j] - (lr * float(wi)) * directions[j]
        value, grads = value_and_grad(moved)
        grad_w = [-lr * sum(float(np.sum(np.asarray(grads[j]) * directions[j])) for j in group)
                  for group in groups]
        return float(value), np.array(grad_w, dtype=np.float64)
    return f


def rso_meta(value_and_grad, params, w, *, lr, groups, normalize, **model):
    """The ``rso_meta`` kind: ``(f(w), ∇f(w))``."""
    params = [np.asarray(p, dtype=np.float64) for p in params]
    _, grads = value_and_grad(params)
    f = _meta(value_and_grad, params, _directions(grads, groups, normalize), groups, lr)
    return f(np.asarray(w, dtype=np.float64))


def rso_step(value_and_grad, params, *, lr, groups, meta_iters, w0, normalize, safeguard, m,
             c1, c2, maxls, **model):
    """The ``rso_step`` kind: one step of Algorithm 1 with every optional output."""
    params = [np.asarray(p, dtype=np.float64) for p in params]
    loss_before, grads = value_and_grad(params)
    directions = _directions(grads, groups, normalize)
    objective = _meta(value_and_grad, params, directions, groups, lr)
    calls = [0]

    def counted(w):
        calls[0] += 1
        return objective(w)

    n = len(groups)
    if isinstance(w0, str):
        start = np.full(n, 1.0 / n) if w0 == "uniform" else np.ones(n)
    else:
        start = np.array(w0, dtype=np.float64)
    if meta_iters == 0:
        w, (f_w, _), nit = start, counted(start), 0
    else:
        rows = run_lbfgs(counted, start, m=m, gtol=0.0, ftol=0.0, maxiter=meta_iters,
                         maxls=maxls, c1=c1, c2=c2, maxfun=meta_iters * (maxls + 1) + 1,
                         after_step=lambda f_prev, f_new: f_prev - f_new
                         <= META_FTOL * abs(f_new))
        w, f_w, nit = rows[-1][0], rows[-1][1], len(rows) - 1
    safeguarded = False
    if safeguard and not (isinstance(w0, str) and w0 == "ones"):
        ones = np.ones(n)
        f_gd, _ = counted(ones)
        if f_gd < f_w:
            w, f_w, safeguarded = ones, f_gd, True
    new = list(params)
    for group, wi in zip(groups, w):
        for j in group:
            new[j] = params[j] - (lr * float(wi)) * directions[j]
    return {"params": new, "w": w, "loss_before": float(loss_before), "loss_after": f_w,
            "nfev": calls[0], "nit": nit, "safeguarded": safeguarded}
