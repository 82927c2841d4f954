"""Claims theorem2-exhaustion and figure1-dynamics: estimators on known series, quick verdicts."""
import itertools

import numpy as np
import pytest

from rso_ref.claims import exhaustion as ex
from rso_ref.claims.registry import get


def _ar1(phi: float, n: int, seed: int) -> np.ndarray:
    gen = np.random.default_rng(seed)
    x = np.zeros(n)
    noise = gen.standard_normal(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x


# -- estimators ------------------------------------------------------------------------

def test_null_is_the_exact_permutation_mean():
    # Two phases of 4 and 3 steps: average rho-hat over all within-phase permutations.
    series = np.array([1.0, 3.0, -2.0, 5.0, 0.5, 2.0, -1.0])
    _, _, null = ex.centred_lag1([series], phase_len=4)
    values = []
    for p1 in itertools.permutations(range(4)):
        for p2 in itertools.permutations(range(4, 7)):
            num, den, _ = ex.centred_lag1([series[list(p1 + p2)]], phase_len=4)
            values.append(num.sum() / den.sum())
    # float64 exact identity (sums of a few products): 1e-10 relative.
    assert np.isclose(np.mean(values), null, rtol=1e-10, atol=0)


def test_centred_lag1_matches_plain_estimator_for_one_phase():
    x = _ar1(0.3, 50, seed=0)
    num, den, _ = ex.centred_lag1([x], phase_len=50)
    c = x - x.mean()
    # Same sums in another order: 1e-10 relative.
    assert np.isclose(num.sum() / den.sum(), np.sum(c[:-1] * c[1:]) / np.sum(c ** 2), rtol=1e-10)


@pytest.mark.parametrize("phi, sign", [(-0.5, -1), (0.5, 1), (0.0, 0)])
def test_centred_ci_detects_the_sign_of_an_ar1(phi, sign):
    series = [_ar1(phi, 400, seed=s) for s in range(3)]
    est, lo, hi, null = ex.centred_lag1_ci(series, phase_len=40, n_boot=500)
    # 1200 steps: the CI half-width is about 0.06, far less than |phi| = 0.5.
    assert ex._sign(lo, hi, null) == sign
    assert lo <= est <= hi


def test_raw_product_of_positive_weights_is_positive():
    series = [1.0 + np.abs(_ar1(-0.8, 200, seed=s)) for s in range(2)]
    est, lo, hi = ex.raw_product_ci(series, phase_len=20, n_boot=300)
    assert lo > 0 and est >= 1.0


def test_top_share_reversion_against_the_surrogate():
    gen = np.random.default_rng(1)
    iid = [np.abs(gen.standard_normal((300, 3))) for _ in range(2)]
    res = ex.top_share_test(iid, phase_len=30, n_surrogates=50, n_boot=300)
    # iid rows: temporal order carries nothing, the observed CI covers the surrogate mean.
    assert res["p_lo"] <= res["null"] <= res["p_hi"]
    assert res["p"] > 0.5  # regression to the mean alone beats 1/2
    # Alternating leader: the top group always loses share next step (exhaustion).
    alt = np.tile([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]], (150, 1)) + 0.01 * gen.random((300, 3))
    res = ex.top_share_test([alt], phase_len=30, n_surrogates=50, n_boot=300)
    assert res["p"] == 1.0 and res["p_lo"] > res["null_hi"]


def test_sub_verdict_rules():
    assert ex.sub_verdict([True] * 8 + [False] * 2) == "holds"
    assert ex.sub_verdict([True] * 2 + [False] * 8) == "holds-under-conditions"
    assert ex.sub_verdict([True] + [False] * 9) == "refuted"
    with pytest.raises(ValueError, match="effects"):
        ex.sub_verdict([])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="phase_len"):
        ex.phase_ids(10, 1)
    with pytest.raises(ValueError, match="model"):
        ex.build_model("vit")
    with pytest.raises(ValueError, match="constant"):
        ex.centred_lag1([np.ones(10)], phase_len=5)


def test_group_names_follow_the_grouping():
    assert ex.group_names(ex.Setting("mlp", "layer", 0.1, 1)) == ["L1", "L2", "L3", "L4", "L5"]
    assert ex.group_names(ex.Setting("mlp", "uniform:2", 0.1, 1)) == ["L1-2", "L3-4", "L5"]
    names = ex.group_names(ex.Setting("convnet", None, 0.1, 1))
    assert names == ["W1", "b1", "W2", "b2", "W3", "b3"]


def test_epoch_profile_shares_sum_to_one():
    w = np.abs(np.random.default_rng(2).standard_normal((46, 4))) + 0.1
    prof = ex.epoch_profile(w, 23)
    assert prof["share"].shape == (2, 4)
    # Means of rows that each sum to 1: exact up to rounding, 1e-10.
    assert np.allclose(prof["share"].sum(axis=1), 1.0, rtol=1e-10, atol=0)
    assert np.all((prof["entropy"] > 0) & (prof["entropy"] <= 1))


# -- quick protocols -------------------------------------------------------------------

@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("exhaustion")
    return out, get("theorem2-exhaustion").run(True, out), get("figure1-dynamics").run(True, out)


@pytest.mark.slow
def test_theorem2_quick_verdict_and_its_basis(quick_runs):
    out, ev, _ = quick_runs
    cells, tops = ev.numbers["group_cells"], ev.numbers["setting_cells"]
    # Reading 1: weights stay mostly positive, so every raw product mean is > 0 (CI).
    assert all(c["raw_sign"] == 1 for c in cells)
    assert ev.numbers["mean_frac_negative"] < 0.5
    # Reading 2: fewer than 20 % of cells are significantly below the shuffle null.
    assert np.mean([c["rho_sign"] == -1 for c in cells]) < 0.2
    # Reading 3: no setting reverts more than the time-shuffled surrogate ...
    assert not any(c["sign"] == 1 for c in tops)
    # ... although the naive rate exceeds 1/2 everywhere (regression to the mean).
    assert all(c["p"] > 0.5 for c in tops)
    assert set(ev.numbers["readings"].values()) == {"refuted"}
    assert ev.verdict == "refuted"
    assert all((out / name).is_file() for name in ev.figures)


@pytest.mark.slow
def test_figure1_quick_verdict_and_its_basis(quick_runs):
    out, _, ev = quick_runs
    (test,) = ev.numbers["tests"].values()
    # The weights balance: entropy rises and ends above 0.9 ...
    assert test["entropy_increases"] == 1 and test["late_balanced"]
    # ... the first layer holds the largest share early, but well below the paper's 0.82.
    assert test["dominant_group_per_quarter"][0] == 0
    assert test["first_share_early"][2] < 0.82
    assert ev.verdict == ("holds" if test["first_dominates"] == 1 else "holds-under-conditions")
    assert all((out / name).is_file() for name in ev.figures)
