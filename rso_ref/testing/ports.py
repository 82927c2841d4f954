r"""Differential checks of a port: drawn cases of a golden kind, port against reference.

The golden fixtures (:mod:`rso_ref.golden`) check a port on a handful of stored cases;
a port tuned to them (right for the shipped 16-8-10 network, wrong for a deeper one)
passes. :func:`check_port` draws many more cases of the same kind with `hypothesis`_,
calls the port and the reference port (:func:`rso_ref.golden.reference_ports`) through
the kind's own runner (:func:`rso_ref.golden.check.run_port`, so the port is called
exactly as by :func:`rso_ref.golden.verify`), and compares the two with the kind's
documented tolerances (:func:`rso_ref.golden.check.compare_outputs`, never looser). A
mismatch is shrunk to a minimal case, written as a replayable fixture set (in a new
directory: an earlier failure is never overwritten), and raised as
:class:`AssertionError` (or returned, ``raise_on_failure=False``). The report says what
is needed to fix the port: a shape or length mismatch as such (how many iterations or
steps each side ran), the first iteration or chained step out of tolerance, the worst
element with the port's and the reference's value, the case's input values, and the
port's traceback when it raised (a ``sys.exit`` in the port included).

What is drawn, per kind, with the strategies of :mod:`rso_ref.testing.strategies`: the
entries of inputs, biases, targets, directions, start points, parameters and gradients
are drawn by hypothesis (they shrink towards 0 and simple values, each array on its
own); the weights of an MLP (the initializer's scale) and the SPD quadratics (a
prescribed spectrum) come from ``numpy.random.default_rng`` of a drawn seed. A case
shrinks towards small sizes:

``mlp``, ``hvp``, ``eigen``, ``rso_meta``, ``rso_step``
    MLPs with 1-4 hidden layers of widths 1-6 (input 2-6, output 2-5 units), every
    activation and loss of :mod:`rso_ref.nn`, a batch of 2-8 rows with entries in
    [-2, 2], weights from :meth:`~rso_ref.nn.mlp.MLP.init`, biases in [-0.1, 0.1]
    (:func:`mlp_cases`). ``hvp``: 1-2 directions with entries in [-2, 2], none within
    1e-2 of 0. ``eigen``: ``k`` = 1-3, on at most 60 parameters.
    ``rso_meta``: a random partition of the parameter arrays into groups
    (:func:`partitions`), ``lr`` over four decades (1e-3 to 10), ``normalize``
    (:func:`rso_options`), 1-3 weight vectors in [-1, 2] (:func:`group_weights`).
    ``rso_step``: the same plus ``meta_iters`` K = 0-10, every ``w0`` (the named choices
    and explicit weights), ``safeguard``, L-BFGS memory ``m`` = 1-10, 1-3 chained steps.
``lbfgs``
    Quadratics :math:`\tfrac12 x^\top A x - b^\top x` with SPD ``A`` of dimension 2-8
    and condition number 1 to 1e3 (:func:`spd_quadratics`) from a start with entries in
    [-2, 2], ``A`` and ``b`` scaled by
    :math:`10^{-4}` to :math:`10^4` (so that runs end with :math:`|f|` well below 1 as
    often as well above it), and chained Rosenbrock of dimension 2-6 from perturbed
    :math:`(-1.2, 1, \dots)` or from near its minimum :math:`(1, \dots, 1)` (:math:`f`
    well below 1), memory ``m`` = 1-10, ``maxiter`` 1-16 (quadratic) or 1-25
    (Rosenbrock). These are the shipped cases' limits: rounding differences of 1e-16
    between two correct float64 implementations grow about tenfold every four
    iterations on a quadratic of condition 1e3 with small ``m`` (the golden docs), so 16
    iterations keep them near 1e-12, far inside the kind's 1e-6; longer runs would test
    chaos, not the port. The stopping tolerances are SciPy's defaults (``gtol = 1e-5``,
    ``ftol = 2.2e-9``) in a quarter of the cases; in the others ``ftol``, ``gtol`` or both
    are drawn where the rule binds and its variants part: from the reference's own run
    (``gtol = ftol = 0``) at a drawn step, ``ftol`` between the step's plain L-BFGS-B
    threshold :math:`\Delta/S`, the reference's :math:`\max(\Delta, D^*)/S` (the
    exact-line-decrease confirmation) and :math:`\max(\Delta, D^*)/P` (:math:`S =
    \max(|f_k|, |f_{k+1}|, 1)`, :math:`P` the same without the 1), ``gtol`` between the
    step's :math:`\|g\|_\infty` and :math:`\|g\|_2` or above. A port with the ``1``
    dropped, without the confirmation, with the 2-norm or with ``maxiter`` off by one
    fails within the default 50 cases (``tests/test_check_port.py``).
``optim``
    Every optimizer of :data:`rso_ref.golden.reference.OPTIMIZERS` with each optional
    hyperparameter either left at its default or drawn (:func:`optimizer_cases`:
    learning rates 1e-4 to 1, momenta and averaging constants in [0, 0.99], ``eps``
    1e-10 to 1e-4, decays 1e-4 to 0.1, flags, Newton-Schulz steps 1-6; SGD's Nesterov
    form with momentum > 0 and no dampening), 1-3 parameter arrays of 1-D or 2-D shapes
    with entries in [-2, 2], none within 1e-2 of 0 (:func:`param_lists`), gradient
    sequences of T = 1-6 steps (:func:`gradient_sequences`) with entries
    :math:`m \cdot 10^e`, :math:`m \in [-2, 2]`, :math:`e \in [-4, 0]`.
    ``optimizers=`` restricts the draw to some optimizers.
``lbfgs_direction`` (no golden fixture)
    The two-loop recursion alone: ``port(S, Y, g) -> H g`` for 1-8 unknowns and 1-6
    curvature pairs (rows of ``S`` and ``Y``, oldest first) with entries drawn by
    hypothesis, :math:`y_i = D s_i + r_i` (``D`` positive diagonal, log-uniform in
    [0.1, 10]; :math:`r_i` in [-0.5, 0.5]) with :math:`s_i^\top y_i \ge 10^{-2}
    \|s_i\| \|y_i\|`. :math:`H^0 = \gamma I` with :math:`\gamma` of the newest pair
    (N&W eq. 7.20), or given to a port that takes a ``gamma`` keyword. Compared with
    :func:`rso_ref.lbfgs.two_loop` to :data:`DIRECTION_RTOL`, norm-wise; cases where
    that and the dense product of eq. (7.19) differ by over 1 % of it are rejected
    (rounding decides them). A failure is written as ``case.npz``.

Rejected cases (drawn again, not counted): those where the *reference* raises (a
:class:`~rso_ref.validation.NonFiniteError` at a large ``lr``, a Lanczos run that does
not converge), ``eigen`` cases whose top-``k`` eigenvalues are not separated (any gap
:math:`\lambda_i - \lambda_{i+1}`, :math:`i \le k`, below :math:`10^{-3}\,\max_j
|\lambda_j|` of the dense Hessian: eigenvectors are then ill defined, their error
growing as rounding over the gap), ``rso_step`` and ``lbfgs`` cases that rounding alone
decides (below), and those where the port raises :class:`NotImplementedError` (counted
as *skipped*). Any other exception of the port is a mismatch.

*Cases decided by rounding.* The meta-solve of ``rso_step`` stops when an iteration
decreases :math:`f` by at most ``META_FTOL`` :math:`= 4\varepsilon` relative, or a line
search fails twice; L-BFGS's line search branches on comparisons of :math:`f`. Near such
a threshold two correct float64 implementations take different branches (measured: the
reference's own ``nfev``/``nit`` change under :math:`10^{-15}` relative noise in 12 of 428
drawn steps), and chaotic runs move the floats beyond the tolerance. So a drawn ``rso_step``
case is admitted only if the reference's meta-solve ran all ``K`` iterations in every
step (an early stop is such a rounding-level decision), and a case of either kind only if
the reference, run twice more with :math:`10^{-15}` relative noise in every value and
gradient of its oracle (two noise seeds), reproduces every exact quantity and every
float quantity within 1 % of its tolerance: the standard the shipped cases were chosen
by (``SCHEMA.md``, "Tolerances"). ``w0="previous"`` is not
drawn: each call of a port starts afresh, so it would mean ``"uniform"``.

.. _hypothesis: https://hypothesis.readthedocs.io

The module imports without hypothesis; :func:`check_port` then raises
:class:`ImportError` saying to ``pip install 'rso_ref[testing]'``.
"""
from __future__ import annotations

import inspect
import math
import os
import sys
import sysconfig
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import golden
from ..golden import cases as golden_cases
from ..golden import check as _golden_check
from ..golden import kinds as _golden_kinds
from ..golden.check import Row, compare_outputs, relative_error, run_port
from ..golden.kinds import EXACT, KINDS
from ..golden.reference import OPTIMIZERS
from ..lbfgs import inverse_hessian, line_model_decrease, minimize, two_loop
from ..validation import check_callable, check_int
from .strategies import (_log_uniform, _require_hypothesis, arrays, gradient_sequences,
                         group_weights, mlp_cases, optimizer_cases, param_lists, partitions,
                         rso_options, spd_quadratics)

__all__ = ["CheckReport", "check_port", "CHECK_KINDS", "DIRECTION_RTOL"]

#: The kind of :func:`check_port` that has no golden fixtures: the L-BFGS two-loop
#: recursion alone, ``port(S, Y, g) -> H g``.
DIRECTION = "lbfgs_direction"
#: Every kind :func:`check_port` accepts: the golden kinds and ``"lbfgs_direction"``.
CHECK_KINDS = (*KINDS, DIRECTION)
#: Norm-wise relative tolerance of ``lbfgs_direction``: the two-loop costs 4 l n
#: multiply-adds; admitted cases are those where the reference two-loop and the dense
#: N&W (7.19) product agree to 1e-12, a hundredth of it.
DIRECTION_RTOL = 1e-10

#: Largest parameter count of an ``eigen`` case (its dense Hessian decides the gap rule).
_EIGEN_MAX_DIM = 60
#: Smallest admitted eigen-gap, relative to the largest |eigenvalue|.
_EIGEN_GAP = 1e-3


@dataclass(frozen=True)
class CheckReport:
    """Outcome of a :func:`check_port` run.

    Attributes
    ----------
    kind : str
    examples : int
        Cases run (the reference accepted them).
    passed : int
        Cases where the port matched the reference.
    skipped : int
        Cases where the port raised ``NotImplementedError``.
    seconds : float
        Wall time of the whole check.
    status : {"PASS", "SKIP", "FAIL"}
        ``"SKIP"`` when the port skipped every case it was given; ``"FAIL"`` on a
        mismatch (only returned with ``raise_on_failure=False``).
    message : str
        On a mismatch, the whole report :func:`check_port` raises (case, failing
        quantities, replay commands); ``""`` otherwise.
    failure_dir : pathlib.Path or None
        Where the minimal failing case was written (None when it passed, or when the
        directory could not be written: the message says why).
    """

    kind: str
    examples: int
    passed: int
    skipped: int
    seconds: float
    status: str
    message: str = ""
    failure_dir: Path | None = None

    @property
    def ok(self) -> bool:
        """True when :attr:`status` is ``"PASS"``."""
        return self.status == "PASS"

    def format(self) -> str:
        """One line: kind, status, counts and time (then the mismatch report on a FAIL).

        Returns
        -------
        str
            For example ``"mlp: PASS (50 passed, 0 skipped of 50 drawn cases, 3.2 s)"``.
        """
        line = (f"{self.kind}: {self.status} ({self.passed} passed, {self.skipped} skipped "
                f"of {self.examples} drawn cases, {self.seconds:.1f} s)")
        return f"{line}\n{self.message}" if self.message else line


class _Mismatch(Exception):
    """Raised inside the property when the port disagrees with the reference (or raises)."""

    def __init__(self, case: dict, rows: list, error: str = "") -> None:
        super().__init__(error or "; ".join(r.quantity for r in rows))
        self.case, self.rows, self.error = case, rows, error


# ---------------------------------------------------------------- case strategies ----
# Built on the public strategies of rso_ref.testing.strategies; each returns host NumPy
# inputs in the golden case format.

def _hypothesis() -> Any:
    return _require_hypothesis("check_port")


def _network(max_params: int | None = None) -> Any:
    """Strategy of ``(options, inputs)``: a host :func:`mlp_cases` case as ``params``,
    ``X``, ``y``, with at most ``max_params`` parameters when given."""
    cases = mlp_cases()
    if max_params is not None:
        cases = cases.filter(lambda case: sum(p.size for p in case.params) <= max_params)
    return cases.map(lambda case: ({"activation": case.model.activation,
                                    "loss": case.model.loss_kind},
                                   {"params": list(case.params), "X": case.X, "y": case.y}))


def _nonzero(st: Any) -> Any:
    """Entries in [-2, 2] at least 1e-2 from 0: parameters of ``optim`` (a zero array
    makes LARS's and LAMB's trust ratio 1, hiding its coefficient) and directions of
    ``hvp`` (a zero direction leaves a product that is rounding alone)."""
    return st.floats(-2.0, 2.0).filter(lambda v: abs(v) >= 1e-2)


def _named(kind: str, options: dict, inputs: dict) -> dict:
    return {"name": f"drawn_{kind}", "options": options, "inputs": inputs}


def _mlp_case(st: Any) -> Any:
    return _network().map(lambda net: _named("mlp", *net))


def _hvp_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options, inputs = draw(_network())
        shapes = [p.shape for p in inputs["params"]]
        inputs["v"] = draw(st.lists(param_lists(shapes, elements=_nonzero(st)), min_size=1,
                                    max_size=2))
        return _named("hvp", options, inputs)

    return draw()


def _eigen_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options, inputs = draw(_network(max_params=_EIGEN_MAX_DIM))
        k = draw(st.integers(1, 3))
        _hypothesis().assume(_separated(options, inputs, k))
        return _named("eigen", {**options, "k": k}, inputs)

    return draw()


def _separated(options: dict, inputs: dict, k: int) -> bool:
    r"""The eigen-gap rule: :math:`\lambda_i - \lambda_{i+1} \ge 10^{-3} \max|\lambda|`
    for :math:`i = 1..k` on the dense Hessian (columns from the reference ``hvp``)."""
    params = inputs["params"]
    sizes = [p.size for p in params]
    dim = sum(sizes)
    if k >= dim:
        return False
    hvp = golden.reference_ports()["hvp"]
    columns = []
    for j in range(dim):
        unit = np.zeros(dim)
        unit[j] = 1.0
        parts = np.split(unit, np.cumsum(sizes)[:-1])
        v = [part.reshape(p.shape) for part, p in zip(parts, params)]
        hv = hvp(params, inputs["X"], inputs["y"], v, activation=options["activation"],
                 loss=options["loss"])
        columns.append(np.concatenate([np.asarray(h).reshape(-1) for h in hv]))
    hessian = np.stack(columns, axis=1)
    values = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))[::-1]
    scale = float(np.max(np.abs(values)))
    return scale > 0.0 and bool(np.all(values[:k] - values[1:k + 1] >= _EIGEN_GAP * scale))


def _rso_case(draw: Callable, keys: tuple) -> tuple[dict, dict, int]:
    """Network, a partition of its arrays and the :func:`rso_options` named by ``keys``:
    what ``rso_meta`` and ``rso_step`` cases share."""
    options, inputs = draw(_network())
    groups = draw(partitions(len(inputs["params"])))
    drawn = draw(rso_options(len(groups)))
    return {**options, "groups": groups, **{k: drawn[k] for k in keys}}, inputs, len(groups)


def _rso_meta_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options, inputs, n_groups = _rso_case(draw, ("lr", "normalize"))
        ws = draw(st.lists(group_weights(n_groups), min_size=1, max_size=3))
        return _named("rso_meta", options, {**inputs, "w": [np.array(w) for w in ws]})

    return draw()


def _rso_step_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options, inputs, _ = _rso_case(draw, ("lr", "normalize", "meta_iters", "w0",
                                              "safeguard", "m"))
        _hypothesis().assume(not isinstance(options["w0"], str) or options["w0"] != "previous")
        options.update(c1=1e-4, c2=0.9, maxls=20, steps=draw(st.integers(1, 3)))
        return _named("rso_step", options, inputs)

    return draw()


#: Stopping regimes of a drawn ``lbfgs`` case: SciPy's default tolerances, or an
#: ``ftol`` / a ``gtol`` (or both) drawn large enough to stop the run before ``maxiter``.
_LBFGS_STOPS = ("ftol", "gtol", "both", "defaults")

#: Decimal exponents of the factor on a drawn quadratic (A and b): as many below 0 as
#: above, so that runs end with |f| well below 1 as often as well above it.
_LBFGS_SCALES = (-3, 3, -1, 1, -4, 4, -2, 2, 0)


def _trajectory(options: dict, inputs: dict) -> list[tuple]:
    r"""Per accepted step of the reference run of a case with ``gtol = ftol = 0``:
    :math:`\|g_{k+1}\|_\infty`, :math:`\|g_{k+1}\|_2`, :math:`\Delta_k = f_k - f_{k+1}`,
    :math:`D^*_k` (:func:`rso_ref.lbfgs.line_model_decrease`) and
    :math:`\max(|f_k|, |f_{k+1}|)`: where each stopping rule would bind."""
    steps: list[tuple] = []

    def record(intermediate_result: Any) -> None:
        s, g = intermediate_result.step, np.asarray(intermediate_result.jac)
        steps.append((float(np.max(np.abs(g))), float(np.linalg.norm(g)), s.f_prev - s.f,
                      line_model_decrease(s.alpha, s.dphi0, s.dphi),
                      max(abs(s.f_prev), abs(s.f))))

    minimize(golden_cases.objective(options, inputs), inputs["x0"], m=options["m"], gtol=0.0,
             ftol=0.0, maxiter=options["maxiter"], maxls=options["maxls"], c1=options["c1"],
             c2=options["c2"], callback=record)
    return steps


def _ftol_windows(step: tuple) -> list[float]:
    """The ``ftol`` values at one step where the reference's test and its variants part:
    ``Δ/S`` (the plain L-BFGS-B test binds from here), ``max(Δ, D*)/S`` (the reference's,
    with the ``D*`` confirmation), ``max(Δ, D*)/P`` (the test without the ``1`` in
    ``S = max(|f_k|, |f_k+1|, 1)``, ``P = max(|f_k|, |f_k+1|)``) where ``P < 1``, else
    twice the reference's."""
    _, _, delta, dstar, plain = step
    scale = max(plain, 1.0)
    delta = max(delta, 0.0)
    high = max(delta, dstar if math.isfinite(dstar) else delta)
    ends = [delta / scale, high / scale]
    return ends + [high / plain if 0.0 < plain < 1.0 else 2.0 * ends[-1]]


def _between(draw: Callable, st: Any, ends: list[float]) -> float:
    """A threshold inside one of the intervals between consecutive ``ends`` (drawn), on a
    geometric scale, never within 10 % of the log-distance of an end (a tie there would be
    decided by rounding)."""
    i = draw(st.integers(0, len(ends) - 2))
    low, high = ends[i], ends[i + 1]
    w = draw(st.floats(0.1, 0.9))
    if not (low > 0.0 and high > low):
        return max(high, low, 0.0) * 2.0 ** w
    return low * (high / low) ** w


def _lbfgs_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options = {"m": draw(st.integers(1, 10)), "maxls": 20, "c1": 1e-4, "c2": 0.9}
        if draw(st.booleans()):
            q = draw(spd_quadratics(n=(2, 8), cond=(1.0, 1e3)))
            # f scaled by 1e-4..1e4: its values at the stop lie well below 1 in magnitude
            # or well above it, where max(|f_k|, |f_k+1|, 1) and its variants differ
            scale = 10.0 ** draw(st.sampled_from(_LBFGS_SCALES))
            inputs = {"x0": draw(arrays((q.dim,), scale=2.0)), "A": scale * q.A,
                      "b": scale * q.b}
            options.update(objective="quadratic", maxiter=draw(st.integers(1, 16)))
        else:
            n = draw(st.integers(2, 6))
            # the classic start (f of 10-100), or near the minimum (f well below 1)
            near = draw(st.booleans())
            centre = np.ones(n) if near else np.resize([-1.2, 1.0], n)
            spread = draw(st.floats(0.0, 0.5))
            noise = draw(arrays((n,), scale=2.0))
            start = centre + (max(spread, 0.05) if near else spread) * noise
            inputs = {"x0": start}
            options.update(objective="rosenbrock", maxiter=draw(st.integers(1, 25)))
        stop = draw(st.sampled_from(_LBFGS_STOPS))
        ftol, gtol = 2.2e-9, 1e-5
        if stop != "defaults":
            # "ftol" alone: gtol = 0; "gtol" alone: ftol = 0 (then only f_k+1 >= f_k stops)
            ftol = gtol = 0.0
            steps = _trajectory(options, inputs)
            last = max(0, len(steps) - 2)  # a stop before maxiter: the step after tells
            if steps and stop in ("ftol", "both"):
                ftol = _between(draw, st, _ftol_windows(steps[draw(st.integers(0, last))]))
            if steps and stop in ("gtol", "both"):
                inf_norm, two_norm = steps[draw(st.integers(0, last))][:2]
                gtol = _between(draw, st, [inf_norm, two_norm, 2.0 * two_norm])
        options.update(ftol=ftol, gtol=gtol)
        return _named("lbfgs", options, inputs)

    return draw()


def _optim_case(st: Any, optimizers: list | None = None) -> Any:
    cases = optimizer_cases(optimizers or sorted(OPTIMIZERS))
    shapes = st.lists(st.one_of(st.tuples(st.integers(1, 4)),
                                st.tuples(st.integers(1, 4), st.integers(1, 4))),
                      min_size=1, max_size=3)
    # gradient entries spanning 1e-4 to 2 in magnitude, drawn by hypothesis
    spanning = st.builds(lambda m, e: m * 10.0 ** e, st.floats(-2.0, 2.0),
                         st.floats(-4.0, 0.0))

    @st.composite
    def draw(draw: Callable) -> dict:
        name, hyper = draw(cases)
        params = draw(param_lists(shapes, elements=_nonzero(st)))
        grads = draw(gradient_sequences(params, steps=(1, 6), elements=spanning))
        # pairs as lists: the options are stored as JSON
        hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()}
        return _named("optim", {"optimizer": name, "hyper": hyper},
                      {"params": params, "grads": grads})

    return draw()


def _takes_gamma(port: Callable) -> bool:
    """Whether an ``lbfgs_direction`` port takes ``gamma`` (else it computes eq. 7.20)."""
    try:
        parameters = inspect.signature(port).parameters
    except (TypeError, ValueError):
        return False
    return "gamma" in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


def _direction_case(st: Any, with_gamma: bool = False) -> Any:
    r"""Strategy of ``lbfgs_direction`` cases: ``n`` = 1-8 unknowns, ``l`` = 1-6 pairs,
    entries of ``S``, ``g`` and a perturbation ``R`` drawn by hypothesis in [-1, 1],
    :math:`y_i = D s_i + r_i` with a positive diagonal ``D`` (entries log-uniform in
    [0.1, 10]) and pairs of positive curvature (:math:`s_i^\top y_i \ge 10^{-2}
    \|s_i\|\|y_i\|`); ``gamma`` passed to a port that takes it, half the time eq. (7.20)
    of the newest pair, half the time log-uniform in [1e-2, 1e2]."""
    hyp = _hypothesis()

    @st.composite
    def draw(draw: Callable) -> dict:
        n, pairs = draw(st.integers(1, 8)), draw(st.integers(1, 6))
        S = draw(arrays((pairs, n)))
        diagonal = np.array(draw(st.lists(_log_uniform(st, 0.1, 10.0), min_size=n,
                                          max_size=n)))
        Y = S * diagonal + draw(arrays((pairs, n), scale=0.5))
        g = draw(arrays((n,)))
        curvature = np.sum(S * Y, axis=1)
        sizes = np.linalg.norm(S, axis=1) * np.linalg.norm(Y, axis=1)
        hyp.assume(bool(np.all(curvature >= 1e-2 * sizes) and np.all(sizes > 0.0)))
        options = {}
        if with_gamma:
            options["gamma"] = (_newest_gamma(S, Y) if draw(st.booleans())
                                else draw(_log_uniform(st, 1e-2, 1e2)))
        return _named(DIRECTION, options, {"S": S, "Y": Y, "g": g})

    return draw()


def _newest_gamma(S: np.ndarray, Y: np.ndarray) -> float:
    r""":math:`\gamma = s^\top y / y^\top y` of the newest pair (N&W eq. 7.20)."""
    return float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))


def _reference_direction(case: dict, dense: bool = False) -> np.ndarray:
    """``H g`` of the case by :func:`rso_ref.lbfgs.two_loop` (or the dense eq. 7.19)."""
    S, Y, g = (case["inputs"][k] for k in ("S", "Y", "g"))
    gamma = case["options"].get("gamma", _newest_gamma(S, Y))
    rho = 1.0 / np.sum(S * Y, axis=1)
    order = range(S.shape[0])
    if dense:
        return inverse_hessian(S, Y, rho, order, gamma) @ g
    return two_loop(g, S, Y, rho, order, gamma)


def _run_direction(port: Callable, case: dict, like: Any = None) -> dict:
    """Call an ``lbfgs_direction`` port on fresh copies (on ``like``'s namespace)."""
    from .. import backend

    inputs = case["inputs"]
    move = ((lambda a: np.array(a)) if like is None
            else (lambda a: backend.asarray(np.array(a), like=like)))
    args = [move(inputs[k]) for k in ("S", "Y", "g")]
    out = port(*args, **case["options"])
    return {"direction": backend.to_numpy(out) if out is not None else None}


def _compare_direction(case: dict, actual: dict, desired: dict) -> list[Row]:
    """The one row of an ``lbfgs_direction`` case (norm-wise relative error)."""
    a, d = actual["direction"], desired["direction"]
    name = case["name"]
    if a is None or np.shape(a) != d.shape:
        shape = None if a is None else np.shape(a)
        return [Row(name, "direction", float("inf"), DIRECTION_RTOL, "-", False,
                    f"shape {shape} vs reference {d.shape}")]
    error = relative_error(a, d)
    note = ""
    if error > DIRECTION_RTOL and relative_error(-np.asarray(a), d) <= DIRECTION_RTOL:
        note = "the port returns -H g: return H g (the search direction is its negative)"
    return [Row(name, "direction", error, DIRECTION_RTOL, "-", error <= DIRECTION_RTOL, note)]


_STRATEGIES = {"lbfgs": _lbfgs_case, "rso_meta": _rso_meta_case, "rso_step": _rso_step_case,
               "optim": _optim_case, "mlp": _mlp_case, "hvp": _hvp_case, "eigen": _eigen_case}


# ------------------------------------------------------------------- the check ----

#: Relative noise injected into the reference's oracle to find cases decided by rounding.
_ROUNDING_NOISE = 1e-15
#: Kinds whose outputs hang on threshold tests of f (line searches, the META_FTOL stop).
_THRESHOLD_KINDS = ("lbfgs", "rso_step")


def _noisy(oracle: Callable, gen: np.random.Generator) -> Callable:
    """``oracle`` with each value and gradient entry scaled by ``1 + 1e-15 z``, z ~ N(0, 1)."""
    def perturbed(x: Any) -> tuple:
        value, grad = oracle(x)
        jitter = lambda g: g * (1.0 + _ROUNDING_NOISE * gen.standard_normal(np.shape(g)))  # noqa
        grad = [jitter(g) for g in grad] if isinstance(grad, list) else jitter(grad)
        return value * (1.0 + _ROUNDING_NOISE * gen.standard_normal()), grad
    return perturbed


def _decided_by_rounding(kind: str, reference: Callable, case: dict, desired: dict) -> bool:
    """Whether rounding-level noise changes the reference's outputs on ``case`` (an exact
    quantity at all, a float one by more than 1 % of its tolerance)."""
    if kind not in _THRESHOLD_KINDS:
        return False
    if kind == "rso_step" and any(int(n) != case["options"]["meta_iters"]
                                  for n in desired["nit"]):
        return True  # the meta-solve stopped early: by the META_FTOL test or a failed search
    for noise_seed in (1, 2):
        gen = np.random.default_rng(noise_seed)
        noisy_port = lambda oracle, *a, **kw: reference(_noisy(oracle, gen), *a, **kw)  # noqa
        rows = compare_outputs(kind, case["name"], run_port(kind, noisy_port, case), desired)
        if any(not r.ok if r.tolerance == EXACT else r.error > 0.01 * r.tolerance
               for r in rows):
            return True
    return False


def _summary(value: Any) -> Any:
    """Input values for a message: small arrays in full (6 significant digits), larger
    ones as shape, min and max; nested lists stay lists."""
    if isinstance(value, np.ndarray):
        if value.size <= 12:
            return np.array2string(value, precision=6, separator=", ").replace("\n", "")
        if value.size == 0 or value.dtype.kind not in "fiub":
            return f"<array {value.shape} {value.dtype}>"
        return (f"<array {value.shape}, min {float(np.min(value)):.6g}, "
                f"max {float(np.max(value)):.6g}>")
    if isinstance(value, (list, tuple)):
        return [_summary(v) for v in value]
    if isinstance(value, dict):
        return {k: _summary(v) for k, v in value.items()}
    return value


def _worst_values(actual: Any, desired: Any, where: str = "") -> tuple[float, str]:
    """The worst leaf of a quantity (norm-wise relative error) and, there, the element
    where the port and the reference differ most, with both values."""
    if isinstance(desired, (list, tuple)) and isinstance(actual, (list, tuple)):
        worst = (-1.0, "")
        for i, (a, d) in enumerate(zip(actual, desired)):
            worst = max(worst, _worst_values(a, d, f"{where}[{i}]"), key=lambda t: t[0])
        return worst
    try:
        a = np.asarray(actual, dtype=np.float64)
        d = np.asarray(desired, dtype=np.float64)
    except (TypeError, ValueError):
        return -1.0, ""
    if a.shape != d.shape or d.size == 0:
        return -1.0, ""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - d)
    diff = np.where(np.isnan(a) & np.isnan(d), 0.0, np.where(np.isnan(diff), np.inf, diff))
    index = np.unravel_index(int(np.argmax(diff)), d.shape) if d.ndim else ()
    error = relative_error(a, d)
    at = (f"{where} " if where else "") + (f"element {tuple(int(i) for i in index)}"
                                           if index else "value")
    return error, f"{at}: port {a[index].item()!r} vs reference {d[index].item()!r}"


def _values_line(row: Any, actual: dict | None, desired: dict | None) -> str:
    """Where a failing quantity's values differ most, both values (never a bare index)."""
    if actual is None or desired is None or row.quantity not in desired:
        return ""
    if row.quantity not in actual:
        return "    values: the port did not return it"
    if row.detail and (row.where in ("", "-") or f"{row.where}:" in row.detail):
        return ""  # the row names the worst element and both values already
    _, text = _worst_values(actual[row.quantity], desired[row.quantity])
    if not text:
        return ("    values: port " + repr(_summary(np.asarray(actual[row.quantity])))
                + " vs reference " + repr(_summary(np.asarray(desired[row.quantity]))))
    return f"    values: worst at {text}"


def _message(kind: str, case: dict, rows: list, error: str, replay: list[str],
             actual: dict | None = None, desired: dict | None = None) -> str:
    """The assertion text: case (options, input values), failing quantities (a shape
    mismatch as such, with the iteration or step and the element where they part, both
    values), the port's traceback when it raised, and the replay commands."""
    lines = [f"check_port: the port disagrees with the reference on a drawn {kind} case",
             f"  options: {case['options']}"]
    lines += [f"  input {name}: {_summary(value)}" for name, value in case["inputs"].items()]
    if error:
        lines.append(f"  the port raised {error}")
    for r in rows:
        if not r.ok:
            lines.append(f"  {r.describe()}")
            values = _values_line(r, actual, desired)
            if values:
                lines.append(values)
    return "\n".join(lines + replay)


def _replay(kind: str, port: Callable, directory: Path | None, write_error: str,
            seed: int | None) -> list[str]:
    """Replay commands for the written case, runnable from any directory."""
    if directory is None:
        lines = [f"  (no replay fixture: {write_error})"]
    elif kind == DIRECTION:
        with np.load(directory / "case.npz") as stored:
            gamma = ", gamma=float(c['gamma'])" if "gamma" in stored else ""
        call = f"port(c['S'], c['Y'], c['g']{gamma})"
        lines = [f"  replay (case written to {directory / 'case.npz'}):",
                 f"    c = numpy.load({str(directory / 'case.npz')!r}); {call} "
                 f"vs c['reference'] (rtol {DIRECTION_RTOL:.0e}, norm-wise)"]
    else:
        spec = _port_spec(port)
        lines = [f"  replay (fixture written to {directory}):"]
        if spec is not None:
            lines.append(f"    {spec[0]}rso-ref golden verify --port {spec[1]} --kind {kind} "
                         f"--fixtures {directory}")
        lines.append(f"    golden.verify(port, {kind!r}, fixture_dir={str(directory)!r})")
    if seed is None:
        lines.append("  (seed=None: hypothesis's example database replays it on the next run)")
    return lines


def _failure_directory(root: Path, kind: str, seed: int | None) -> Path:
    """A new directory ``<root>/<kind>-seed<seed>`` (``<kind>-unseeded`` for
    ``seed=None``), or with ``-2``, ``-3``, ... appended when that exists: an earlier
    failure is never overwritten."""
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-seed{seed}" if seed is not None else f"{kind}-unseeded"
    for n in range(1, 10_000):
        directory = root / (stem + (f"-{n}" if n > 1 else ""))
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        return directory
    raise FileExistsError(f"{root} holds 9999 failure directories of {stem}")


def _write_failure(directory: Path, kind: str, case: dict, desired: dict | None) -> None:
    if kind != DIRECTION:
        golden.write_cases(directory, kind, [case])
        return
    arrays_ = dict(case["inputs"])
    if "gamma" in case["options"]:
        arrays_["gamma"] = np.asarray(case["options"]["gamma"])
    if desired is not None:
        arrays_["reference"] = desired["direction"]
    np.savez(directory / "case.npz", **arrays_)


def _installed(root: Path) -> bool:
    """Whether ``root`` is a directory Python imports installed packages from."""
    paths = sysconfig.get_paths()
    return any(root == Path(paths[k]).resolve() for k in ("purelib", "platlib") if k in paths)


def _port_spec(port: Callable) -> tuple[str, str] | None:
    """``(prefix, spec)`` for ``rso-ref golden verify --port``, working from any directory:
    the absolute path of the port's file for a script or a top-level module, an import
    name from its root (``cd ROOT && ``, the command adds the working directory to the
    path) for a module of a package that is not installed, the import name as is for an
    installed one; None for a port that cannot be named (a lambda, a nested function)."""
    qualname = getattr(port, "__qualname__", "")
    module = sys.modules.get(getattr(port, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    if not qualname or "<" in qualname or module is None or path is None:
        return None
    path = Path(path).resolve()
    name = module.__name__
    if name == "__main__" or name.endswith(".py") or os.sep in name or "." not in name:
        return "", f"{path}:{qualname}"
    root = path.parents[name.count(".") + (path.stem == "__init__")]
    prefix = "" if _installed(root) else f"cd {root} && "
    return prefix, f"{name}:{qualname}"


def check_port(port: Callable, kind: str, *, max_examples: int | None = 50,
               seed: int | None = 0, like: Any = None,
               failure_dir: str | Path = "rso-ref-out/check-port",
               raise_on_failure: bool = True, strict: bool = False,
               optimizers: Any = None, where: Callable[[dict], bool] | None = None
               ) -> CheckReport:
    r"""Compare a port with the reference on drawn cases of a golden kind.

    Parameters
    ----------
    port : callable
        The port, with the signature of ``kind`` (:mod:`rso_ref.golden.kinds`; for
        ``"lbfgs_direction"`` below).
    kind : str
        A key of :data:`rso_ref.golden.KINDS`, or ``"lbfgs_direction"``
        (:data:`CHECK_KINDS`): the L-BFGS two-loop recursion alone (N&W Algorithm 7.4),
        ``port(S, Y, g) -> H g`` with ``S``, ``Y`` of shape ``(l, n)`` holding the
        curvature pairs oldest first and :math:`H^0 = \gamma I`, :math:`\gamma = s^\top y
        / y^\top y` of the newest pair (eq. 7.20); a port that takes a ``gamma`` keyword
        is given it instead. Checked against :func:`rso_ref.lbfgs.two_loop` to
        :data:`DIRECTION_RTOL`, norm-wise; drawn cases only (no golden fixture).
    max_examples : int or None, default 50
        Cases to run (rejected cases are drawn again and do not count); None takes the
        current hypothesis profile's ``max_examples``.
    seed : int or None, default 0
        Seed of the draw: a run is deterministic given ``seed`` (no example database).
        None draws as the current hypothesis profile says (its database, derandomize
        and phases; a failure found before is replayed from the database first).
    like : array, optional
        Call the port on arrays of this namespace and device, as
        :func:`rso_ref.golden.verify` does; the reference always runs on the host.
    failure_dir : path, default "rso-ref-out/check-port"
        Where the minimal failing case is written, as a new directory
        ``<failure_dir>/<kind>-seed<seed>`` (``-2``, ``-3``, ... appended when one is
        there already: an earlier failure is never overwritten). A relative path is
        resolved against the working directory when ``check_port`` is called, and
        reported absolute. When it cannot be written, the mismatch is still reported,
        with the reason.
    raise_on_failure : bool, default True
        Raise :class:`AssertionError` on a mismatch; with False return the
        :class:`CheckReport` (``status="FAIL"``, the report in ``message``).
    strict : bool, default False
        Count a case the port skips (``NotImplementedError``) as a failure: the first
        one skipped is reported as drawn, not shrunk (a skip does not depend on the
        values).
    optimizers : str or sequence of str, optional
        ``optim`` kind only: draw cases of these optimizers only (keys of
        :data:`rso_ref.golden.reference.OPTIMIZERS`), so that a port of one optimizer
        gets all ``max_examples`` cases.
    where : callable, optional
        ``where(case) -> bool`` on a drawn case (a dict with ``"options"`` and
        ``"inputs"``, host values): only cases where it is true are run; the others are
        drawn again and do not count (e.g. ``lambda c: c["options"]["objective"] ==
        "rosenbrock"`` for ``lbfgs``).

    Returns
    -------
    CheckReport
        ``status="PASS"``, ``"SKIP"`` when the port raised ``NotImplementedError`` on
        every case, or ``"FAIL"`` (with ``raise_on_failure=False``).

    Raises
    ------
    AssertionError
        On the first mismatch, after shrinking (unless ``raise_on_failure=False``): the
        message shows the case (options and input values), the failing quantities (a
        shape or length mismatch as such; the first iteration or step out of tolerance,
        the worst element and both values), the port's traceback when it raised (or
        called ``sys.exit``), and how to replay the written case from any directory.
    ImportError
        Without hypothesis.
    TypeError, ValueError
        A bad argument, named.

    Examples
    --------
    >>> from rso_ref.golden import reference
    >>> def adam(name, params, grads, **hyper):
    ...     return reference.optim(name, params, grads, **hyper)
    >>> check_port(adam, "optim", optimizers="adam", max_examples=5).format()[:46]
    'optim: PASS (5 passed, 0 skipped of 5 drawn ca'
    """
    check_callable(port, "port")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, got {type(kind).__name__}")
    if kind not in CHECK_KINDS:
        raise ValueError(f"kind must be one of {sorted(CHECK_KINDS)}, got {kind!r}")
    if max_examples is not None:
        check_int(max_examples, "max_examples", minimum=1)
    if seed is not None:
        check_int(seed, "seed")
    if not isinstance(failure_dir, (str, os.PathLike)):
        raise TypeError(f"failure_dir must be a path, got {type(failure_dir).__name__}")
    root = Path(os.path.abspath(failure_dir))  # now: the port may change directory
    for name, flag in (("raise_on_failure", raise_on_failure), ("strict", strict)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    if optimizers is not None:
        if kind != "optim":
            raise ValueError(f"optimizers selects cases of the optim kind, not {kind!r}")
        from .strategies import _selection

        optimizers = _selection(optimizers, "optimizers", sorted(OPTIMIZERS))
    if where is not None:
        check_callable(where, "where")
    hyp = _hypothesis()
    st = hyp.strategies
    if kind == DIRECTION:
        strategy = _direction_case(st, _takes_gamma(port))
    elif kind == "optim":
        strategy = _optim_case(st, optimizers)
    else:
        strategy = _STRATEGIES[kind](st)
    reference = None if kind == DIRECTION else golden.reference_ports()[kind]
    counts = {"passed": 0, "skipped": 0}
    last: dict = {}
    first_skip: dict = {}

    def run_reference(case: dict) -> tuple[dict, bool]:
        if kind == DIRECTION:
            desired = {"direction": _reference_direction(case)}
            dense = _reference_direction(case, dense=True)
            return desired, relative_error(dense, desired["direction"]) > 0.01 * DIRECTION_RTOL
        desired = run_port(kind, reference, case)
        return desired, _decided_by_rounding(kind, reference, case, desired)

    def same_as_reference(case: dict) -> None:
        if where is not None:
            hyp.assume(bool(where(case)))
        try:
            desired, decided_by_rounding = run_reference(case)
        except Exception:  # noqa: BLE001 - the reference refuses the case: draw another
            hyp.reject()
        hyp.assume(not decided_by_rounding)
        try:
            actual = (_run_direction(port, case, like) if kind == DIRECTION
                      else run_port(kind, port, case, like))
        except NotImplementedError as exc:
            # Under strict, the first skipped case is the failure, reported as drawn: a
            # skip depends on what the port implements, not on the values, so shrinking
            # it (minutes) would find nothing smaller worth reading.
            if strict and not first_skip:
                first_skip.update(case=case, error=_traceback(exc, "(strict: a skip is a "
                                                                   "failure) "))
            counts["skipped"] += 1
            hyp.reject()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a raising port is a mismatch
            raise _Mismatch(case, [], _traceback(exc)) from None
        rows = (_compare_direction(case, actual, desired) if kind == DIRECTION
                else compare_outputs(kind, case["name"], actual, desired))
        if not all(r.ok for r in rows):
            last.update(actual=actual, desired=desired)
            raise _Mismatch(case, rows)
        counts["passed"] += 1

    config = {"deadline": None, "verbosity": hyp.Verbosity.quiet,
              "report_multiple_bugs": False,
              "suppress_health_check": [hyp.HealthCheck.too_slow, hyp.HealthCheck.filter_too_much,
                                        hyp.HealthCheck.data_too_large,
                                        hyp.HealthCheck.large_base_example]}
    if max_examples is not None:
        config["max_examples"] = max_examples
    if seed is not None:  # deterministic: no example database, this seed
        config.update(database=None, derandomize=False)
    test = hyp.given(strategy)(same_as_reference)
    if seed is not None:
        test = hyp.seed(seed)(test)
    test = hyp.settings(**config)(test)

    def run_all() -> None:
        try:
            test()
        except hyp.errors.Unsatisfiable:  # every case skipped (or refused): no failure
            if not counts["skipped"]:
                raise
        if first_skip:
            raise _Mismatch(first_skip["case"], [], first_skip["error"])

    start = time.perf_counter()
    try:
        run_all()
    except _Mismatch as failure:
        last.clear()
        try:  # the shrunk case once more: its outputs for the message and the file
            desired, _ = run_reference(failure.case)
            if not failure.error:
                actual = (_run_direction(port, failure.case, like) if kind == DIRECTION
                          else run_port(kind, port, failure.case, like))
                last.update(actual=actual, desired=desired)
            else:
                last.update(desired=desired)
        except (Exception, SystemExit):  # noqa: BLE001 - the message stays without values
            pass
        directory, write_error = None, ""
        try:
            directory = _failure_directory(root, kind, seed)
            _write_failure(directory, kind, failure.case, last.get("desired"))
        except OSError as exc:
            directory, write_error = None, (f"could not write it under failure_dir "
                                            f"{str(root)!r}: {type(exc).__name__}: {exc}")
        message = _message(kind, failure.case, failure.rows, failure.error,
                           _replay(kind, port, directory, write_error, seed),
                           last.get("actual"), last.get("desired"))
        if raise_on_failure:
            raise AssertionError(message) from None
        counted = counts["passed"] + counts["skipped"] + (0 if first_skip else 1)
        return CheckReport(kind, counted, counts["passed"],
                           counts["skipped"], time.perf_counter() - start, "FAIL", message,
                           directory)
    seconds = time.perf_counter() - start
    examples = counts["passed"] + counts["skipped"]
    status = "SKIP" if counts["skipped"] and not counts["passed"] else "PASS"
    return CheckReport(kind, examples, counts["passed"], counts["skipped"], seconds, status)


def _traceback(exc: BaseException, prefix: str = "") -> str:
    """The port's exception with its traceback (frames of this module dropped)."""
    if isinstance(exc, SystemExit):
        head = f"SystemExit: the port called sys.exit({exc.code!r})"
    else:
        head = f"{type(exc).__name__}: {exc}"
    runners = {__file__, _golden_check.__file__, _golden_kinds.__file__}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in runners]
    text = "".join(traceback.format_list(frames)).rstrip()
    trace = ("\n  port traceback (most recent call last):\n" + "\n".join(
        "  " + line for line in text.splitlines())) if text else ""
    return f"{prefix}{head}{trace}"
