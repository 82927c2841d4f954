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

What is drawn, per kind, with the strategies of :mod:`rso_ref.testing.strategies` (every
array from ``numpy.random.default_rng`` of a drawn seed, so a case shrinks towards small
sizes and seed 0):

``mlp``, ``hvp``, ``eigen``, ``rso_meta``, ``rso_step``
    MLPs with 1-4 hidden layers of widths 1-6 (input 2-6, output 2-5 units), every
    activation and loss of :mod:`rso_ref.nn`, a batch of 2-8 Gaussian rows, parameters
    from :meth:`~rso_ref.nn.mlp.MLP.init` with N(0, 0.1²) biases (:func:`mlp_cases`).
    ``hvp``: 1-2 Gaussian directions. ``eigen``: ``k`` = 1-3, on at most 60 parameters.
    ``rso_meta``: a random partition of the parameter arrays into groups
    (:func:`partitions`), ``lr`` over four decades (1e-3 to 10), ``normalize``
    (:func:`rso_options`), 1-3 weight vectors in [-1, 2] (:func:`group_weights`).
    ``rso_step``: the same plus ``meta_iters`` K = 0-10, every ``w0`` (the named choices
    and explicit weights), ``safeguard``, L-BFGS memory ``m`` = 1-10, 1-3 chained steps.
``lbfgs``
    Quadratics :math:`\tfrac12 x^\top A x - b^\top x` with SPD ``A`` of dimension 2-8
    and condition number 1 to 1e3 (:func:`spd_quadratics`), ``A`` and ``b`` scaled by
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
    (:func:`param_lists`), gradient sequences of T = 1-6 steps with entries spanning
    1e-4 to 1.

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

import math
import os
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
from ..golden.check import compare_outputs, run_port
from ..golden.kinds import EXACT, KINDS
from ..golden.reference import OPTIMIZERS
from ..lbfgs import line_model_decrease, minimize
from ..validation import check_callable, check_int
from .strategies import (_require_hypothesis, group_weights, mlp_cases, optimizer_cases,
                         param_lists, partitions, rso_options, spd_quadratics)

__all__ = ["CheckReport", "check_port"]

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


def _named(kind: str, options: dict, inputs: dict) -> dict:
    return {"name": f"drawn_{kind}", "options": options, "inputs": inputs}


def _mlp_case(st: Any) -> Any:
    return _network().map(lambda net: _named("mlp", *net))


def _hvp_case(st: Any) -> Any:
    @st.composite
    def draw(draw: Callable) -> dict:
        options, inputs = draw(_network())
        shapes = [p.shape for p in inputs["params"]]
        inputs["v"] = draw(st.lists(param_lists(shapes), min_size=1, max_size=2))
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
        gen = np.random.default_rng(draw(st.integers(0, 2**16)))
        options = {"m": draw(st.integers(1, 10)), "maxls": 20, "c1": 1e-4, "c2": 0.9}
        if draw(st.booleans()):
            q = draw(spd_quadratics(n=(2, 8), cond=(1.0, 1e3)))
            # f scaled by 1e-4..1e4: its values at the stop lie well below 1 in magnitude
            # or well above it, where max(|f_k|, |f_k+1|, 1) and its variants differ
            scale = 10.0 ** draw(st.sampled_from(_LBFGS_SCALES))
            inputs = {"x0": gen.standard_normal(q.dim), "A": scale * q.A, "b": scale * q.b}
            options.update(objective="quadratic", maxiter=draw(st.integers(1, 16)))
        else:
            n = draw(st.integers(2, 6))
            # the classic start (f of 10-100), or near the minimum (f well below 1)
            near = draw(st.booleans())
            centre = np.ones(n) if near else np.resize([-1.2, 1.0], n)
            spread = draw(st.floats(0.0, 0.5))
            start = centre + (max(spread, 0.05) if near else spread) * gen.standard_normal(n)
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


def _optim_case(st: Any) -> Any:
    cases = optimizer_cases(sorted(OPTIMIZERS))
    shapes = st.lists(st.one_of(st.tuples(st.integers(1, 4)),
                                st.tuples(st.integers(1, 4), st.integers(1, 4))),
                      min_size=1, max_size=3)

    @st.composite
    def draw(draw: Callable) -> dict:
        name, hyper = draw(cases)
        params = draw(param_lists(shapes))
        gen = np.random.default_rng(draw(st.integers(0, 2**16)))
        grads = [[gen.standard_normal(p.shape) * 10.0 ** gen.uniform(-4.0, 0.0, p.shape)
                  for p in params] for _ in range(draw(st.integers(1, 6)))]
        # pairs as lists: the options are stored as JSON
        hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()}
        return _named("optim", {"optimizer": name, "hyper": hyper},
                      {"params": params, "grads": grads})

    return draw()


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


def _message(kind: str, case: dict, rows: list, error: str, port_name: str,
             directory: Path | None, write_error: str = "") -> str:
    """The assertion text: case (options, input values), failing quantities (a shape
    mismatch as such, with the iteration or step and the element where they part, both
    values), the port's traceback when it raised, and the replay commands."""
    lines = [f"check_port: the port disagrees with the reference on a drawn {kind} case",
             f"  options: {case['options']}"]
    lines += [f"  input {name}: {_summary(value)}" for name, value in case["inputs"].items()]
    if error:
        lines.append(f"  the port raised {error}")
    lines += [f"  {r.describe()}" for r in rows if not r.ok]
    if directory is not None:
        lines += [f"  replay (fixture written to {directory}):",
                  f"    rso-ref golden verify --port {port_name} --kind {kind} "
                  f"--fixtures {directory}",
                  f"    golden.verify(port, {kind!r}, fixture_dir={str(directory)!r})"]
    else:
        lines.append(f"  (no replay fixture: {write_error})")
    return "\n".join(lines)


def _failure_directory(failure_dir: str | Path, kind: str, seed: int) -> Path:
    """A new directory ``<failure_dir>/<kind>-seed<seed>``, or with ``-2``, ``-3``, ...
    appended when that exists: an earlier failure is never overwritten."""
    root = Path(failure_dir)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        directory = root / (f"{kind}-seed{seed}" + (f"-{n}" if n > 1 else ""))
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        return directory
    raise FileExistsError(f"{root} holds 9999 failure directories of {kind}-seed{seed}")


def _port_name(port: Callable) -> str:
    module = getattr(port, "__module__", None) or "MODULE"
    return f"{module}:{getattr(port, '__qualname__', 'FUNCTION')}"


def check_port(port: Callable, kind: str, *, max_examples: int = 50, seed: int = 0,
               like: Any = None, failure_dir: str | Path = "rso-ref-out/check-port",
               raise_on_failure: bool = True, strict: bool = False) -> CheckReport:
    """Compare a port with the reference on drawn cases of a golden kind.

    Parameters
    ----------
    port : callable
        The port, with the signature of ``kind`` (:mod:`rso_ref.golden.kinds`).
    kind : str
        A key of :data:`rso_ref.golden.KINDS`.
    max_examples : int, default 50
        Cases to run (rejected cases are drawn again and do not count).
    seed : int, default 0
        Seed of the draw; a run is deterministic given ``seed`` (no example database).
    like : array, optional
        Call the port on arrays of this namespace and device, as
        :func:`rso_ref.golden.verify` does; the reference always runs on the host.
    failure_dir : path, default "rso-ref-out/check-port"
        Where the minimal failing case is written, as a new directory
        ``<failure_dir>/<kind>-seed<seed>`` (``-2``, ``-3``, ... appended when one is
        there already: an earlier failure is never overwritten). When it cannot be
        written, the mismatch is still reported, with the reason.
    raise_on_failure : bool, default True
        Raise :class:`AssertionError` on a mismatch; with False return the
        :class:`CheckReport` (``status="FAIL"``, the report in ``message``).
    strict : bool, default False
        Count a case the port skips (``NotImplementedError``) as a failure.

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
        called ``sys.exit``), and how to replay the written fixture.
    ImportError
        Without hypothesis.
    TypeError, ValueError
        A bad argument, named.
    """
    check_callable(port, "port")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, got {type(kind).__name__}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    check_int(max_examples, "max_examples", minimum=1)
    check_int(seed, "seed")
    if not isinstance(failure_dir, (str, os.PathLike)):
        raise TypeError(f"failure_dir must be a path, got {type(failure_dir).__name__}")
    for name, flag in (("raise_on_failure", raise_on_failure), ("strict", strict)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    hyp = _hypothesis()
    st = hyp.strategies
    reference = golden.reference_ports()[kind]
    counts = {"passed": 0, "skipped": 0}

    @hyp.settings(max_examples=max_examples, database=None, deadline=None,
                  derandomize=False, verbosity=hyp.Verbosity.quiet, report_multiple_bugs=False,
                  suppress_health_check=[hyp.HealthCheck.too_slow, hyp.HealthCheck.filter_too_much,
                                         hyp.HealthCheck.data_too_large,
                                         hyp.HealthCheck.large_base_example])
    @hyp.seed(seed)
    @hyp.given(_STRATEGIES[kind](st))
    def same_as_reference(case: dict) -> None:
        try:
            desired = run_port(kind, reference, case)
            decided_by_rounding = _decided_by_rounding(kind, reference, case, desired)
        except Exception:  # noqa: BLE001 - the reference refuses the case: draw another
            hyp.reject()
        hyp.assume(not decided_by_rounding)
        try:
            actual = run_port(kind, port, case, like)
        except NotImplementedError as exc:
            if strict:
                raise _Mismatch(case, [], _traceback(exc, "(strict: a skip is a failure) "))
            counts["skipped"] += 1
            hyp.reject()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a raising port is a mismatch
            raise _Mismatch(case, [], _traceback(exc)) from None
        rows = compare_outputs(kind, case["name"], actual, desired)
        if not all(r.ok for r in rows):
            raise _Mismatch(case, rows)
        counts["passed"] += 1

    start = time.perf_counter()
    try:
        same_as_reference()
    except _Mismatch as failure:
        directory, write_error = None, ""
        try:
            directory = _failure_directory(failure_dir, kind, seed)
            golden.write_cases(directory, kind, [failure.case])
        except OSError as exc:
            directory, write_error = None, (f"could not write it under failure_dir "
                                            f"{str(failure_dir)!r}: {type(exc).__name__}: {exc}")
        message = _message(kind, failure.case, failure.rows, failure.error, _port_name(port),
                           directory, write_error)
        if raise_on_failure:
            raise AssertionError(message) from None
        return CheckReport(kind, counts["passed"] + counts["skipped"] + 1, counts["passed"],
                           counts["skipped"], time.perf_counter() - start, "FAIL", message,
                           directory)
    except hyp.errors.Unsatisfiable:
        if not counts["skipped"]:
            raise
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
