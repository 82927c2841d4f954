"""SciPy's BenchSmoothUnbounded functions (:mod:`rso_ref.testing.smooth_unbounded`) and peer run.

Definitions: gradients against central differences, values against SciPy's
``rosen`` and its benchmark's ``test_functions.py`` (loaded from SciPy's source tree,
``tests/peer_helpers.py``), minima, the starts, and the case table against
``benchmarks/benchmarks/optimize.py``.

The peer run: each case of ``BenchSmoothUnbounded`` from its 10 starts, in each of its
gradient modes (``"none"``: SciPy gets no ``jac`` and uses forward differences, ours
``jac=None``; ``"analytic"``: both get the gradient), with the case's ``tol``. Ours must
converge (status 0) to a value no worse than SciPy's, and reach the known minimum where
SciPy reaches it, up to ``peer_suite.slack`` (1e-5 relative, or the case's ftol).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.optimize

from rso_ref.benchmarks.peer_suite import run_case
from rso_ref.testing import smooth_unbounded as su
from rso_ref.testing.peer_cases import smooth_unbounded_cases
from peer_helpers import (load_module, one_blas_thread,  # noqa: F401  (autouse fixture)
                          peer_failure, read_source)

pytestmark = pytest.mark.portable

NAMES = [p.name for p in su.problems()]


def _central_grad(value, x, h=1e-6):
    eye = np.eye(x.size)
    return np.array([(value(x + h * e) - value(x - h * e)) / (2.0 * h) for e in eye])


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    p = su.problem(name)
    for x in p.starts(seed=7, count=3):
        g = p.grad(x)
        np.testing.assert_allclose(g, _central_grad(p.value, x), rtol=1e-6,
                                   atol=1e-6 * max(1.0, np.abs(g).max()))


@pytest.mark.parametrize("name", NAMES)
def test_known_minimum(name):
    p = su.problem(name)
    assert p.value(p.x_star) == pytest.approx(p.f_star, abs=1e-12)
    np.testing.assert_allclose(p.grad(p.x_star), 0.0, atol=1e-10)
    f, g = p.value_and_grad(p.x_star)
    assert f == p.value(p.x_star) and np.array_equal(g, p.grad(p.x_star))


def test_rosenbrock_is_scipys_rosen():
    p = su.problem("rosenbrock")
    for x in p.starts(seed=3, count=5):
        assert p.value(x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
        np.testing.assert_allclose(p.grad(x), scipy.optimize.rosen_der(x), rtol=1e-13)


def test_values_match_scipys_benchmark_functions(tmp_path_factory):
    funcs = load_module("benchmarks/benchmarks/test_functions.py",
                        tmp_path_factory.mktemp("scipy_bench"))
    pairs = {"simple_quadratic": funcs.SimpleQuadratic(), "booth": funcs.Booth(),
             "asymmetric_quadratic": funcs.AsymmetricQuadratic(), "beale": funcs.Beale(),
             "lennard_jones": funcs.LJ()}
    for name, theirs in pairs.items():
        p = su.problem(name)
        for x in p.starts(seed=5, count=4):
            assert p.value(x) == pytest.approx(theirs.fun(x), rel=1e-12, abs=1e-14), name
            np.testing.assert_allclose(p.grad(x), theirs.der(x.copy()), rtol=1e-10,
                                       atol=1e-12, err_msg=name)


def test_starts_are_reproducible_and_in_the_box():
    for p in su.problems():
        a, b = su.starts(p, count=10, seed=0), su.starts(p.name, count=10, seed=0)
        assert len(a) == 10 and all(x.shape == (p.dim,) for x in a)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert all(((p.low <= x) & (x < p.high)).all() for x in a)
        assert not np.array_equal(a[0], su.starts(p, count=1, seed=1)[0])
        a[0][...] = 1e9   # each start is the caller's own array
        assert su.starts(p, count=1, seed=0)[0][0] != 1e9
    with pytest.raises(ValueError, match="no smooth problem"):
        su.starts("himmelblau")


def test_cases_are_scipys():
    source = read_source("benchmarks/benchmarks/optimize.py")
    start = source.index("class BenchSmoothUnbounded")
    bench = source[start:source.index("class BenchLeastSquares")]
    params = re.search(r"params = \[\s*\[(.*?)\]", bench, re.S).group(1)
    assert [c.name for c in su.CASES] == re.findall(r"'(\w+)'", params)
    for case in su.CASES:
        body = bench[bench.index(f"def run_{case.name}("):]
        body = body[:body.index("return b")]
        assert (" der=" in body) == ("analytic" in case.options["jac"]), case.name
        assert ("tol=1e-8" in body) == (case.options["tol"] == 1e-8), case.name
        low, high, dim = re.search(r"np\.random\.uniform\((-?\d+), (\d+), ([\w*]+)\)",
                                   body).groups()
        p = su.problem(case.problem)
        assert (float(low), float(high), eval(dim, {"natoms": 4})) == (p.low, p.high, p.dim)


# --- the peer run ---------------------------------------------------------------------------

#: Cases measured to miss the comparison (starts of seed 0; NumPy 2.4, SciPy 1.17.1, the
#: same on each OpenBLAS kernel of .ci/run: Prescott, Haswell, SkylakeX), so strict: a
#: change that makes one pass must remove it here.
#: With ``tol=1e-4`` both solvers stop on L-BFGS-B's ftol test (relative reduction of f
#: <= 1e-4); on the Lennard-Jones and Beale plateaus the two stop at different points.
#: With ftol=0 ours reaches the minimum from each of these starts (LJ -6, Beale 0,
#: Rosenbrock ~1e-13). Measured gaps (f_ours - f_scipy) / max(1, |f_scipy|):
KNOWN_GAPS = {
    "beale-none-5": "gap 5.3e-4 (f 0.25215 vs 0.25162)",
    "beale-analytic-5": "gap 5.3e-4 (f 0.25215 vs 0.25162)",
    "LJ-none-0": "gap 0.52 (f -1.4432 vs -3.0053): ours stops by ftol after 2 iterations",
    "LJ-none-2": "gap 0.43 (f -2.3268 vs -4.0833)",
    "LJ-none-3": "gap 4.3e-4 (f -2.05151 vs -2.05239)",
    "LJ-none-5": "gap 0.32 (f -3.4730 vs -5.0769)",
    "LJ-analytic-0": "gap 0.52 (f -1.4432 vs -3.0053): ours stops by ftol after 2 iterations",
    "LJ-analytic-2": "gap 0.43 (f -2.3268 vs -4.0800)",
    "LJ-analytic-3": "gap 4.2e-4 (f -2.05151 vs -2.05238)",
    "LJ-analytic-5": "gap 0.32 (f -3.4730 vs -5.0769)",
}


def test_rosenbrock_slow_runs_are_the_nograd_runs():
    """Without its sleep, "rosenbrock_slow" repeats "rosenbrock_nograd" exactly, so the
    peer run below takes it once (the benchmark ``rso-ref bench peer`` runs both)."""
    cases = {c.name: c for c in smooth_unbounded_cases()}
    for k in range(10):
        slow, nograd = cases[f"rosenbrock_slow-none-{k}"], cases[f"rosenbrock_nograd-none-{k}"]
        assert np.array_equal(slow.x0, nograd.x0) and slow.tol == nograd.tol
        (f_slow, jac_slow), (f_nograd, jac_nograd) = slow.make(), nograd.make()
        assert jac_slow is jac_nograd is None and f_slow(slow.x0) == f_nograd(slow.x0)


def _peer_params():
    for case in smooth_unbounded_cases():
        if case.name.startswith("rosenbrock_slow-"):
            continue
        marks = [pytest.mark.xfail(reason=KNOWN_GAPS[case.name], strict=True)] \
            if case.name in KNOWN_GAPS else []
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", _peer_params())
def test_bench_smooth_unbounded_peer_run(case):
    row = run_case(case)
    assert row["passed"], peer_failure(case, row)
