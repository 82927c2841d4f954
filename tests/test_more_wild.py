"""The Moré-Wild benchmark set (:mod:`rso_ref.testing.more_wild`) and SciPy's BenchDFO peer run.

Definitions first: values at the starts worked out by hand from the papers' formulas,
known minima, the Heart8ls variants, and every problem's residuals and start against
SciPy's own port (``benchmarks/benchmarks/cutest/dfovec.py``, ``dfoxs.py``, ``dfo.txt``,
loaded from SciPy's source tree: see ``tests/peer_helpers.py``).

Then the peer run of SciPy's ``BenchDFO`` (``benchmarks/benchmarks/optimize.py``): each
of the 53 problems, and SciPy's Heart8ls at both scales, minimised by
``scipy.optimize.minimize(p.value, x0, method="L-BFGS-B")`` and by
``rso_ref.lbfgs.minimize(p.value, x0, jac=None)``; ours must converge (status 0) to a
value no worse than SciPy's up to ``peer_suite.slack`` (1e-5 relative, or the case's ftol).
"""
from __future__ import annotations

import numpy as np
import pytest

from rso_ref.benchmarks.peer_suite import run_case
from rso_ref.testing import more_wild
from rso_ref.testing.peer_cases import more_wild_cases
from peer_helpers import (load_module, one_blas_thread,  # noqa: F401  (autouse fixture)
                          peer_failure, read_source)

pytestmark = pytest.mark.portable


# --- definitions ---------------------------------------------------------------------------

def test_table_is_the_53_problems_of_22_functions():
    assert len(more_wild.TABLE) == 53
    assert sorted({row[0] for row in more_wild.TABLE}) == list(range(1, 23))
    assert all(m >= n and s in (0, 1) for _, n, m, s in more_wild.TABLE)
    assert [p.number for p in more_wild.problems()] == list(range(53))


@pytest.mark.parametrize("number, expected", [
    (6, 24.2),          # Rosenbrock: F = (10 (1 - 1.44), 2.2) = (-4.4, 2.2)
    (7, 1795769.0),     # Rosenbrock at 10 x_s = (-12, 10): F = (-1340, 13)
    (0, 72.0),          # linear full rank, n = 9, m = 45: 9 * 0.4^2 + 36 * 1.4^2
    (8, 2500.0),        # helical valley at (-1, 0, 0): theta = 1/2, F = (-50, 0, 0)
    (10, 215.0),        # Powell singular at (3, -1, 0, 1): 49 + 5 + 1 + 160
    (12, 400.5),        # Freudenstein-Roth at (0.5, -2): F = (19.5, -4.5)
])
def test_value_at_the_start(number, expected):
    p = more_wild.problem(number)
    assert p.value(p.x0) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("number, x, expected", [
    (6, [1.0, 1.0], 0.0),                        # Rosenbrock
    (0, -np.ones(9), 36.0),                      # linear full rank: min m - n at x = -1
    (8, [1.0, 0.0, 0.0], 0.0),                   # helical valley
    (10, np.zeros(4), 0.0),                      # Powell singular
    (24, [1.0, 10.0, 1.0], 0.0),                 # box 3-D
    (34, np.ones(10), 0.0),                      # Brown almost-linear
    (42, np.ones(5), 0.0),                       # cube
])
def test_known_minima(number, x, expected):
    assert more_wild.problem(number).value(x) == pytest.approx(expected, abs=1e-14)


def test_shapes_and_errors():
    p = more_wild.problem(36)   # Osborne 2, n = 11, m = 65
    assert p.residuals(p.x0).shape == (65,) and p.x0.shape == (11,)
    with pytest.raises(ValueError, match="shape"):
        p.residuals(np.zeros(10))
    for bad in (53, -1, True, 1.0):
        with pytest.raises(ValueError, match="number"):
            more_wild.problem(bad)
    with pytest.raises(ValueError, match="heart8ls"):
        more_wild.problem(51, heart8ls="cuter2")
    with pytest.raises(ValueError, match="heart8ls"):
        more_wild.problems(heart8ls="")


def test_problems_own_their_starts():
    first, second = more_wild.problem(6), more_wild.problem(6)
    first.x0[0] = 99.0
    assert second.x0[0] == -1.2 and more_wild.problems()[6].x0[0] == -1.2


def test_heart8ls_variants_differ_in_the_last_term_of_the_eighth_residual():
    rng = np.random.default_rng(22)
    for number in (51, 52):
        ours, theirs = more_wild.problem(number), more_wild.problem(number, heart8ls="scipy")
        assert (ours.variant, theirs.variant) == ("bendfo", "scipy")
        x = ours.x0 + rng.standard_normal(8)
        a, b, c, d, t, u, v, w = x
        diff = theirs.residuals(x) - ours.residuals(x)
        # -b w (w^2 - 3 v^2) in place of -b w (w^2 - 3 u^2)
        np.testing.assert_allclose(diff[7], 3.0 * b * w * (v * v - u * u), rtol=1e-12)
        np.testing.assert_array_equal(diff[:7], 0.0)
    # the BenDFO form mirrors the seventh residual's last term, d w (w^2 - 3 u^2)
    assert more_wild.problem(0, heart8ls="scipy").variant == "bendfo"   # other rows: same


# --- against SciPy's port ------------------------------------------------------------------

_CUTEST = "benchmarks/benchmarks/cutest"


@pytest.fixture(scope="module")
def scipy_cutest(tmp_path_factory):
    """SciPy's ``dfovec`` and ``dfoxs`` modules and its ``dfo.txt`` table."""
    directory = tmp_path_factory.mktemp("scipy_cutest")
    dfovec = load_module(f"{_CUTEST}/dfovec.py", directory)
    dfoxs = load_module(f"{_CUTEST}/dfoxs.py", directory)
    table = np.array([[float(v) for v in line.split()]
                      for line in read_source(f"{_CUTEST}/dfo.txt").splitlines() if line.strip()])
    return dfovec.dfovec, dfoxs.dfoxs, table


def test_table_matches_scipy(scipy_cutest):
    _, _, table = scipy_cutest
    np.testing.assert_array_equal(table, np.array(more_wild.TABLE, dtype=np.float64))


@pytest.mark.parametrize("number", range(53))
def test_residuals_and_start_match_scipy(scipy_cutest, number):
    dfovec, dfoxs, _ = scipy_cutest
    p = more_wild.problem(number)
    np.testing.assert_allclose(p.x0, dfoxs(p.n, p.nprob, 10.0 ** p.s), rtol=1e-15)
    rng = np.random.default_rng(number)
    points = [p.x0, p.x0 + 0.1 * (1.0 + np.abs(p.x0)) * rng.standard_normal(p.n)]
    twin = more_wild.problem(number, heart8ls="scipy")   # p itself except for Heart8ls
    for x in points:
        theirs = dfovec(p.m, p.n, x.copy(), p.nprob)
        atol = 1e-12 * max(1.0, np.abs(theirs).max())
        np.testing.assert_allclose(twin.residuals(x), theirs, rtol=1e-12, atol=atol)
        if p.nprob == 22:
            # BenDFO's Heart8ls differs from SciPy's in the eighth residual only, by design
            assert abs(p.residuals(x)[7] - theirs[7]) > atol
            np.testing.assert_allclose(p.residuals(x)[:7], theirs[:7], rtol=1e-12, atol=atol)
        else:
            np.testing.assert_array_equal(p.residuals(x), twin.residuals(x))


# --- the peer run ---------------------------------------------------------------------------

#: Cases measured to miss the value comparison, with what was measured (NumPy 2.4,
#: SciPy 1.17.1, one BLAS thread, each OpenBLAS kernel of .ci/run; relative gap
#: (f_ours - f_scipy) / max(1, |f_scipy|)), and whether the miss is strict (the same on
#: every kernel; Osborne 1 passes or fails with the kernel's rounding).
KNOWN_GAPS = {
    "p35-osborne-1": ("OpenBLAS SkylakeX kernel: gap 1.33e-5 (f 0.04976008 vs 0.04974679); "
                      "under Prescott and Haswell it passes; both stop by ftol far above the "
                      "minimum 5.46e-5", False),
    "p52-heart8ls-scipy": ("gap 1.24e-3 (f 4.542245 vs 4.536638) on every kernel: both stop by "
                           "ftol (ours: f flat to ftol along its direction) on a valley of "
                           "Hessian condition ~1e12 far from the minimum 0; with ftol=0 "
                           "SciPy stops at 4.536638 too and ours fails (status 2)", True),
}


def _peer_params():
    for case in more_wild_cases():
        marks = [pytest.mark.xfail(reason=KNOWN_GAPS[case.name][0],
                                   strict=KNOWN_GAPS[case.name][1])] \
            if case.name in KNOWN_GAPS else []
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", _peer_params())
def test_bench_dfo_peer_run(case):
    row = run_case(case)
    assert row["passed"], peer_failure(case, row)
    assert row["scipy"]["status"] == 0   # the peer itself converges on every problem
