"""Quick protocols of the Bulk-SGD paper's claims (rso_ref.claims.bulk_sgd).

The claim runs share their SGD warm-ups, Lanczos solves and learning-rate bisections
through the module's caches, so the five quick runs together cost about 35 s of CPU.
"""
import math

import numpy as np
import pytest

from rso_ref.claims import bulk_sgd as B
from rso_ref.claims.registry import get

P = B.QUICK
IDS = ("bulk-alignment", "bulk-dom-stalls", "bulk-stability", "bulk-interpolation",
       "bulk-ggn-energy")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    out = tmp_path_factory.mktemp("bulk")
    return {cid: get(cid).run(True, out) for cid in IDS}, out


def test_is_stable_definition():
    assert B.is_stable([1.0, 0.9, 0.5])
    assert not B.is_stable([1.0, 1.2, 0.5])          # a catapult counts as unstable
    assert not B.is_stable([1.0, 0.5, math.inf])


def test_largest_stable_lr_finds_the_quadratic_edge():
    lam = 3.0

    def run_at(lr):  # gradient descent on f(x) = lam x^2 / 2 from x = 1
        x, losses = 1.0, []
        for _ in range(50):
            losses.append(0.5 * lam * x * x)
            x -= lr * lam * x
        return losses + [0.5 * lam * x * x]

    found = B.largest_stable_lr(run_at, 0.1, 6)
    # stable exactly for lr <= 2/lam; 6 halvings of a factor-2 bracket give 2**(1/64)
    assert 2 / lam * 2 ** (-1 / 64) <= found <= 2 / lam


def test_make_task_rejects_unknown_loss():
    with pytest.raises(ValueError, match="loss"):
        B.make_task("hinge", P)


@pytest.mark.slow
def test_primed_state_reuses_the_basis_until_every():
    task = B.make_task("mse", P)
    start = B.warmup("mse", 0, P)["params"]
    pairs = B._start_pairs("mse", 0, P)
    opt = B.InterpolatedSGD(0.0, 1.0, lr=0.01, k=task.k, every=5)
    state = B.primed_state(opt, pairs)
    _, g = task.model.value_and_grad(start, task.Xc, task.yc)

    def unused_hvp(params, v):
        raise AssertionError("the primed basis must be reused, not recomputed")

    params, state = opt.step(start, g, state, hvp_fn=unused_hvp)
    assert state["n_matvec"] == 0
    # the bulk step is orthogonal to the dominant basis (float64 identity)
    U = pairs.eigenvectors[:, :task.k]
    move = B.tree.flatten(params) - B.tree.flatten(start)
    assert np.linalg.norm(U.T @ move) <= 1e-10 * np.linalg.norm(move)


@pytest.mark.slow
def test_verdicts_of_the_quick_protocol(evidence):
    ev, _ = evidence
    assert ev["bulk-alignment"].verdict == "holds-under-conditions"
    assert ev["bulk-dom-stalls"].verdict == "holds"
    assert ev["bulk-stability"].verdict == "holds-under-conditions"
    assert ev["bulk-interpolation"].verdict == "holds-under-conditions"
    assert ev["bulk-ggn-energy"].verdict == "holds-under-conditions"


@pytest.mark.slow
def test_figures_written(evidence):
    ev, out = evidence
    for e in ev.values():
        for name in e.figures:
            assert (out / name).stat().st_size > 10_000


@pytest.mark.slow
def test_alignment_far_above_chance_but_dominant_only_for_cross_entropy(evidence):
    ev, _ = evidence
    nums = ev["bulk-alignment"].numbers
    for loss in B.LOSSES:
        _, lo, _ = nums[loss]["chi_full_mean_ci"]
        assert lo >= 5 * nums[loss]["random_baseline"]
    assert nums["cross_entropy"]["chi_full_mean_ci"][1] >= 1 / math.sqrt(2)
    assert nums["mse"]["chi_full_mean_ci"][1] < 1 / math.sqrt(2)
    assert nums["cross_entropy"]["share_reading"] == "more than half"
    assert nums["mse"]["share_reading"] != "more than half"
    # the page's words are the readings of the numbers it prints
    text = ev["bulk-alignment"].conditions
    for loss in B.LOSSES:
        assert f"{B.LOSS_LABEL[loss]}: {nums[loss]['share_reading']}" in text


def test_share_reading_follows_the_interval():
    assert B.share_reading((0.6, 0.51, 0.7)) == "more than half"
    assert B.share_reading((0.52, 0.49, 0.55)) == "about half (the CI contains 1/2)"
    assert B.share_reading((0.3, 0.2, 0.49)) == "less than half"


@pytest.mark.slow
def test_dom_stalls_and_bulk_keeps_training(evidence):
    ev, _ = evidence
    for loss in B.LOSSES:
        for row in ev["bulk-dom-stalls"].numbers[loss].values():
            assert row["ratio_dom"] <= B.DOM_STALL_FRACTION
            assert row["ratio_bulk"] >= B.BULK_KEEPS_FRACTION


@pytest.mark.slow
def test_bulk_tolerates_larger_lr_than_sgd(evidence):
    ev, _ = evidence
    for loss in B.LOSSES:
        for row in ev["bulk-stability"].numbers[loss].values():
            assert row["lr_bulk"] > row["lr_sgd"]
            # MSE: the quadratic edges predict both thresholds to within the 50-step
            # horizon's slack (slow growth just above the edge stays below the start)
            if loss == "mse":
                assert 0.9 <= row["lr_sgd"] / row["edge_1"] <= 1.5
                assert 0.9 <= row["lr_bulk"] / row["edge_k1"] <= 1.5


@pytest.mark.slow
def test_interpolation_best_cell_weights_the_bulk_up(evidence):
    ev, _ = evidence
    for loss in B.LOSSES:
        for row in ev["bulk-interpolation"].numbers[loss].values():
            a, b, best = row["best"]
            assert b > a and best < row["best_scaled_sgd"][2]


@pytest.mark.slow
def test_ggn_energy_concentrated_and_functional_hessian_not(evidence):
    ev, _ = evidence
    shares = ev["bulk-ggn-energy"].numbers["shares"]
    for seed in P.seeds:
        assert shares["cross_entropy"][seed]["G"] >= B.ENERGY_MAJORITY
        for loss in B.LOSSES:
            assert shares[loss][seed]["F"] < shares[loss][seed]["G"]


def test_prose_numbers_match_the_data():
    """The protocol's digits numbers are rendered from constants: they match the data."""
    ds = B._digits()
    assert ds.X_train.shape == (B.DIGITS_TRAIN_ROWS, B.DIGITS_FEATURES)
    assert ds.n_classes == B.DIGITS_CLASSES


def test_a_hessian_vector_product_costs_the_gradients_the_pages_state():
    """``GRADIENTS_PER_PRODUCT`` (the protocol's "~2 gradients each" and the page's extra
    gradient evaluations) is what ``fd_hvp`` spends per product."""
    from rso_ref import hessian

    calls = []

    def oracle(params):
        calls.append(1)
        return 0.5 * float(params[0] @ params[0]), [params[0].copy()]

    hessian.fd_hvp(oracle, [np.ones(3)], [np.arange(3.0)])
    assert len(calls) == B.GRADIENTS_PER_PRODUCT
