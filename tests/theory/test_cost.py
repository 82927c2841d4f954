"""Claim ``cost-claims``: the counts and memory its verdicts rest on (no timed assertions)."""
import numpy as np
import pytest

from rso_ref.claims import cost
from rso_ref.claims.registry import get


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return get("cost-claims").run(True, tmp_path_factory.mktemp("cost"))


@pytest.fixture(scope="module")
def case():
    return cost.digits_case()


@pytest.mark.slow
def test_quick_run_is_refuted_on_counts(quick):
    assert quick.verdict == "refuted"
    digits = next(iter(quick.numbers.values()))
    sub = digits["verdict"]["sub"]
    # These three rest on counts and tracemalloc, not on timings.
    assert sub["forward_passes"] == "refuted"
    assert sub["space"] == "refuted"
    assert sub["k_copies"] == "refuted"
    assert set(quick.figures) == {"cost-claims.png"}


def test_every_meta_call_is_a_gradient_evaluation_and_more_than_k(case):
    calls = cost.count_calls(case, (2, 5), n_steps=3)
    for k, rows in calls.items():
        # One oracle call per trial point, each returning gradients (forward + backward).
        assert rows["grad_calls"] == rows["nfev"]
        # The first evaluation at w0 plus at least one per L-BFGS iteration: nfev >= K + 1,
        # so an RSO step costs >= K + 2 gradient evaluations against 1 for SGD.
        assert rows["nit"] == [k] * 3
        assert min(rows["nfev"]) >= k + 1


def test_extra_memory_is_order_params_and_flat_in_k(case):
    mem = cost.peak_extra_memory(case, (2, 16))
    # theta' and its gradient are parameter-sized: at least half a copy beyond value_and_grad,
    # and at most a few (3 leaves room for temporaries of the update).
    assert 0.5 <= mem[2] <= 3.0
    # Trial points are not stored: K = 16 needs (within 20 %) the memory of K = 2.
    assert mem[16] <= 1.2 * mem[2]


def _fake(nfev, grad_calls, times, mem):
    ks = list(nfev)
    calls = {k: {"nfev": [nfev[k]], "nit": [k], "grad_calls": [grad_calls[k]]} for k in ks}
    median = {("forward",): 1.0, ("value_and_grad",): 2.0, ("sgd",): 2.0}
    median.update({("rso", k, 1, None): times[k] for k in ks})
    return calls, {"median": median}, mem


def test_verdicts_follow_the_numbers():
    ks = (2, 5, 16)
    # Paper-like world: K forward-only calls, +5 % time at K=5, O(L) memory growing with K.
    calls, timing, mem = _fake({2: 2, 5: 5, 16: 16}, {2: 0, 5: 0, 16: 0},
                               {2: 2.04, 5: 2.1, 16: 2.32}, {2: 0.01, 5: 0.1, 16: 0.4})
    v = cost.cost_verdicts(calls, timing, mem, ks)
    assert v["sub"] == {"forward_passes": "holds", "time_complexity": "holds-under-conditions",
                        "overhead_k5": "holds", "space": "holds", "k_copies": "holds"}
    assert v["overall"] == "holds-under-conditions"
    # What this library measures: gradient calls, > 10 % overhead, flat O(P) memory.
    calls, timing, mem = _fake({2: 3, 5: 6, 16: 17}, {2: 3, 5: 6, 16: 17},
                               {2: 8.0, 5: 14.0, 16: 36.0}, {2: 1.0, 5: 1.0, 16: 1.05})
    v = cost.cost_verdicts(calls, timing, mem, ks)
    assert v["sub"]["forward_passes"] == v["sub"]["overhead_k5"] == "refuted"
    assert v["sub"]["space"] == v["sub"]["k_copies"] == "refuted"
    assert v["overall"] == "refuted"
    np.testing.assert_allclose(v["time_fit"]["seconds_per_call"], 2.0)  # exact line, 1e-7
