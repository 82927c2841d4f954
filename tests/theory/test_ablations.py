"""Claim ``ablations``: block construction, verdict logic, and the quick run."""
import numpy as np
import pytest

from rso_ref import tree
from rso_ref.claims import ablations
from rso_ref.claims.registry import get
from rso_ref.nn import MLP


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return get("ablations").run(True, tmp_path_factory.mktemp("ablations"))


def test_blocks_are_a_partition_different_from_uniform_groups():
    model = MLP((64,) * ablations.DEPTH + (10,))
    blocks = ablations.mlp_blocks(ablations.DEPTH)
    assert blocks == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12, 13], [14, 15]]
    assert tree.validate_groups(blocks, 2 * model.n_layers) == blocks
    for size in (2, 5):
        assert tree.uniform_groups(model.layers(), size) != blocks
    with pytest.raises(ValueError, match="n_layers"):
        ablations.mlp_blocks(2)


def _runs(acc):
    gen = np.random.default_rng(2)
    runs = {"sgd": {"accuracy": [0.9] * 4, "step_time": [1.0] * 4}}
    for name, (mean, time) in acc.items():
        runs[name] = {"accuracy": list(mean + gen.normal(0, 0.001, 4)), "step_time": [time] * 4}
    return runs


def test_verdict_follows_the_numbers():
    paper_like = _runs({"K=2": (0.772, 1.02), "K=4": (0.788, 1.04), "K=6": (0.793, 1.06),
                        "K=16": (0.793, 1.18), "layer": (0.778, 1.06),
                        "uniform:2": (0.780, 1.06), "uniform:5": (0.785, 1.06)})
    v = ablations.ablation_verdicts(paper_like)
    assert v["sub"] == {"K6_beats_K2": "holds", "overhead": "holds", "K16_no_gain": "holds",
                        "blocks_best": "holds"}
    assert v["overall"] == "holds"
    flat = _runs({"K=2": (0.95, 4.0), "K=6": (0.95, 9.0), "layer": (0.97, 9.0)})
    v = ablations.ablation_verdicts(flat)
    assert v["sub"] == {"K6_beats_K2": "refuted", "overhead": "refuted", "blocks_best": "refuted"}
    assert v["overall"] == "refuted"


@pytest.mark.slow
def test_quick_run(quick):
    assert quick.verdict == "refuted"
    runs = quick.numbers["runs"]
    # The refuted overhead rests on counts too: an RSO step makes 1 + nfev >= K + 2 gradient
    # evaluations, i.e. >= 300 % more than an SGD step even at K = 2 (paper: 2-6 %).
    for k in (2, 6):
        assert min(runs[f"K={k}"]["nfev"]) >= k + 1
    assert quick.numbers["sub_verdicts"]["overhead"] == "refuted"
    assert set(runs) == {"sgd", "K=2", "K=6", "layer"}
    assert all(len(r["accuracy"]) == 3 for r in runs.values())
