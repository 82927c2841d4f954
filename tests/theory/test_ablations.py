"""Claim ``ablations``: blocks, budgets, verdict rules, the committed page and README."""
import json
from pathlib import Path

import numpy as np
import pytest

from rso_ref import tree
from rso_ref.claims import ablations
from rso_ref.claims.registry import get
from rso_ref.nn import MLP

_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return get("ablations").run(True, tmp_path_factory.mktemp("ablations"))


@pytest.fixture(scope="module")
def committed():
    return json.loads((_ROOT / "theory" / "report.json").read_text())["claims"]["ablations"]


def test_blocks_are_a_partition_different_from_uniform_groups():
    model = MLP((64,) * ablations.DEPTH + (10,))
    blocks = ablations.mlp_blocks(ablations.DEPTH)
    assert blocks == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12, 13], [14, 15]]
    assert tree.validate_groups(blocks, 2 * model.n_layers) == blocks
    for size in (2, 5):
        assert tree.uniform_groups(model.layers(), size) != blocks
    with pytest.raises(ValueError, match="n_layers"):
        ablations.mlp_blocks(2)


def _runs(arms, n=6, noise=0.001, epochs=3, seed=2):
    """Synthetic runs: arm -> (final accuracy, oracle calls per step[, first-epoch accuracy]).

    Curves rise linearly from the first-epoch accuracy (default: the final one) to the
    final one; 20 steps per epoch, so an epoch costs 20 (1 + calls) evaluations.
    """
    gen = np.random.default_rng(seed)
    runs = {"sgd": {"seed": list(range(n)), "accuracy": [0.9] * n, "step_time": [1.0] * n,
                    "nfev": [0.0] * n, "evals_per_epoch": [20.0] * n,
                    "epoch_accuracy": [[0.9] * epochs] * n}}
    for name, (final, calls, *first) in arms.items():
        acc = final + gen.normal(0, noise, n)
        start = first[0] + gen.normal(0, noise, n) if first else acc
        runs[name] = {"seed": list(range(n)), "accuracy": list(acc), "nfev": [calls] * n,
                      "step_time": [1.0 + calls] * n, "evals_per_epoch": [20 * (1 + calls)] * n,
                      "epoch_accuracy": [list(np.linspace(s, a, epochs))
                                         for s, a in zip(start, acc)]}
    return runs


_PAPER_LIKE = {"K=2": (0.772, 0.02), "K=4": (0.788, 0.04), "K=6": (0.793, 0.06),
               "K=16": (0.793, 0.18), "layer": (0.778, 0.06), "uniform:2": (0.780, 0.06),
               "uniform:5": (0.785, 0.06)}


def test_paper_like_numbers_hold():
    v = ablations.ablation_verdicts(_runs(_PAPER_LIKE))
    assert v["sub"] == {"K6_beats_K2@steps": "holds", "K6_beats_K2@evals": "holds",
                        "K16_no_gain@steps": "holds", "K16_no_gain@evals": "holds",
                        "overhead": "holds", "blocks_best": "holds"}
    assert v["overall"] == "holds"
    assert v["tost"]["K16-K6@steps"]["equivalent"]
    # K = 2's 3 epochs cost 61.2 evaluations; one epoch of K = 4 costs 20.8: 2 fit
    assert v["budget"]["epochs"] == {"K=2": 3, "K=4": 2, "K=6": 2, "K=16": 2}
    assert all(t["p_holm"] >= t["p"] for t in v["tests"].values())
    assert all(t["test"] == "paired t" and t["df"] == 5 for t in v["tests"].values())
    assert v["holm_family"] == [f"{name} ({kind})" for name, kind in ablations.HOLM_FAMILY]


def test_the_holm_family_is_exactly_the_declared_one():
    """Holm over the declared members: recomputed from the raw paired p-values here."""
    from rso_ref.stats import EQUIVALENCE_MARGIN, holm, one_sided_diff, tost_diff

    runs = _runs(_PAPER_LIKE, noise=0.01)
    v = ablations.ablation_verdicts(runs)
    assert len(ablations.HOLM_FAMILY) == 12 == len(v["holm_family"])
    at_budget = ablations.equal_evaluation_accuracies(runs, (2, 4, 6, 16))["accuracy"]
    raw = []
    for name, kind in ablations.HOLM_FAMILY:
        contrast, _, budget = name.partition("@")
        a, b = ablations.CONTRASTS[contrast]
        x, y = ablations.paired_by_seed(
            runs, a, b, {arm: at_budget[arm] if budget == "evals" else runs[arm]["accuracy"]
                         for arm in (a, b)})
        margin = 100 * EQUIVALENCE_MARGIN
        raw.append(v["tests"][name]["p"] if kind == "two-sided" else
                   tost_diff(100 * x, 100 * y, margin, paired=True)["p"] if kind == "equivalence"
                   else one_sided_diff(100 * x, 100 * y, ablations.PAPER_GAPS[contrast], "less",
                                       paired=True))
    stored = [v["tost"][name]["p_holm"] if kind == "equivalence" else
              v["tests"][name]["p_holm" if kind == "two-sided" else "p_below_gap_holm"]
              for name, kind in ablations.HOLM_FAMILY]
    assert stored == pytest.approx(holm(raw), rel=1e-12)
    # the quick protocol's family: the members whose arms ran
    quick = _runs({k: _PAPER_LIKE[k] for k in ("K=2", "K=6", "layer")})
    assert ablations.ablation_verdicts(quick)["holm_family"] == [
        "K6-K2@steps (two-sided)", "K6-K2@evals (two-sided)", "block-layer (two-sided)",
        "K6-K2@steps (below gap)", "K6-K2@evals (below gap)", "block-layer (below gap)"]


def test_arms_are_paired_by_seed_id_not_position():
    """A seed-to-seed spread shared by both arms cancels in the paired test, whatever the
    order the runs are stored in; arms with different seeds or starts are refused."""
    from rso_ref.stats import paired_diff

    gen = np.random.default_rng(7)
    shared = gen.normal(0.0, 0.05, 8)          # seed effect, common to both arms
    runs = {name: {"seed": list(range(8)), "first_loss": list(2.0 + shared),
                   "accuracy": list(mean + shared + 1e-3 * gen.normal(size=8))}
            for name, mean in (("K=6", 0.90), ("K=2", 0.88))}
    x, y = ablations.paired_by_seed(runs, "K=6", "K=2")
    order = [3, 0, 7, 1, 6, 2, 5, 4]
    shuffled = {name: {key: [r[key][i] for i in order] for key in r} for name, r in runs.items()}
    shuffled["K=2"] = runs["K=2"]
    x2, y2 = ablations.paired_by_seed(shuffled, "K=6", "K=2")
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert paired_diff(x, y)["p"] < 1e-6           # the 2-point gap, seed spread cancelled
    bad = {**runs, "K=2": {**runs["K=2"], "seed": list(range(1, 9))}}
    with pytest.raises(ValueError, match="different seeds"):
        ablations.paired_by_seed(bad, "K=6", "K=2")
    moved = {**runs, "K=2": {**runs["K=2"], "first_loss": list(2.1 + shared)}}
    with pytest.raises(ValueError, match="start differently"):
        ablations.paired_by_seed(moved, "K=6", "K=2")
    twice = {**runs, "K=2": {**runs["K=2"], "seed": [0] * 8}}
    with pytest.raises(ValueError, match="distinct"):
        ablations.paired_by_seed(twice, "K=6", "K=2")


def test_power_statement_uses_t_quantiles():
    """Detectable effect of a paired test with n seeds: (t_{n-1,0.975} + t_{n-1,0.8}) SE."""
    from scipy import stats

    v = ablations.ablation_verdicts(_runs(_PAPER_LIKE, noise=0.01))
    t = v["tests"]["K6-K2@steps"]
    factor = stats.t.ppf(0.975, 5) + stats.t.ppf(0.8, 5)
    assert t["detectable"] == pytest.approx(factor * t["se"], rel=1e-12)
    assert factor > 3.3 > 2.81  # df = 5: well above the normal approximation's 2.80


def test_a_non_significant_difference_is_not_no_gain():
    """K = 16 vs K = 6 within noise of 2 points: not significant, and not equivalent at ±1."""
    runs = _runs(_PAPER_LIKE)
    runs["K=16"] = _runs({"K=16": (0.798, 0.18)}, noise=0.02, seed=5)["K=16"]
    v = ablations.ablation_verdicts(runs)
    test, tost = v["tests"]["K16-K6@steps"], v["tost"]["K16-K6@steps"]
    assert test["p_holm"] >= 0.05 and not tost["equivalent"]
    assert v["sub"]["K16_no_gain@steps"] == "no-evidence"
    assert test["detectable"] > 1.0          # the power statement: 2-point noise, 6 seeds
    assert v["overall"] == "holds-under-conditions"


def test_a_gain_at_equal_steps_can_vanish_at_equal_evaluations():
    """K = 6 costs 5x K = 2 here: at K = 2's budget it has run one epoch of three, at 0.60."""
    arms = {"K=2": (0.80, 0.5), "K=6": (0.85, 6.5, 0.60), "layer": (0.85, 6.5)}
    v = ablations.ablation_verdicts(_runs(arms))
    assert v["budget"]["epochs"] == {"K=2": 3, "K=6": 0}
    assert v["sub"]["K6_beats_K2@steps"] == "holds"
    assert v["sub"]["K6_beats_K2@evals"] == "not-testable"
    arms["K=6"] = (0.85, 1.0, 0.60)     # 40 evaluations an epoch, 90 in budget: 2 epochs, 0.725
    v = ablations.ablation_verdicts(_runs(arms))
    assert v["budget"]["epochs"]["K=6"] == 2
    assert v["sub"]["K6_beats_K2@evals"] == "refuted"   # significantly lower than K = 2
    assert v["overall"] == "refuted"


def test_overhead_is_counted_in_oracle_calls_and_refutes_the_paper_figures():
    flat = _runs({"K=2": (0.95, 3.0), "K=6": (0.95, 8.0), "layer": (0.97, 8.0)})
    v = ablations.ablation_verdicts(flat)
    assert v["overhead_calls"] == {2: 3.0, 6: 8.0}
    assert v["sub"]["overhead"] == "refuted"
    assert v["sub"]["K6_beats_K2@steps"] == "refuted"      # CI far below the paper's +2.1
    assert v["sub"]["blocks_best"] == "refuted"            # layers significantly better
    assert "K16_no_gain@steps" not in v["sub"]
    entry = {"verdict": v["overall"], "numbers": {
        "sub_verdicts": v["sub"], "tests": v["tests"], "tost": v["tost"],
        "overhead_calls": v["overhead_calls"], "protocol": {"depth": ablations.DEPTH}}}
    sentence = ablations.readme_sentence(entry)
    assert sentence.startswith("The §4.5 ablations (`ablations`, 8-layer MLP on the digits) "
                               "are **refuted** at small scale")
    assert "K = 6 above K = 2 at equal steps: **refuted**" in sentence
    assert "below the paper's +2.1, one-sided Holm p = " in sentence
    assert "K = 6: 8.0, i.e. +800 %" in sentence


def test_budget_reads_the_cheapest_arm_at_its_last_epoch():
    out = ablations.equal_evaluation_accuracies(
        _runs({"K=2": (0.8, 1.0), "K=6": (0.9, 3.0, 0.5)}, epochs=4), (2, 6))
    assert out["budget"] == pytest.approx(4 * 40)
    assert out["epochs"] == {"K=2": 4, "K=6": 2}
    assert np.mean(out["accuracy"]["K=6"]) == pytest.approx(0.5 + 0.4 / 3, abs=0.002)


@pytest.mark.portable
def test_committed_verdict_follows_from_its_runs(committed):
    """theory/ablations.md: recomputing the rules on the stored runs gives the stored verdict."""
    numbers = committed["numbers"]
    runs = numbers["runs"]
    assert not committed["quick"] and len(numbers["protocol"]["seeds"]) == ablations.SEEDS
    v = ablations.ablation_verdicts(runs)
    assert v["overall"] == committed["verdict"]
    assert v["sub"] == numbers["sub_verdicts"]
    for name, test in v["tests"].items():
        for key in ("diff", "p", "p_holm", "detectable"):
            assert test[key] == pytest.approx(numbers["tests"][name][key], rel=1e-9)
    # the paired design: every arm ran the same seeds from the same start
    first = {tuple(zip(r["seed"], r["first_loss"])) for r in runs.values()}
    assert len(first) == 1 and [s for s, _ in first.pop()] == numbers["protocol"]["seeds"]
    # the one Holm family, all twelve declared members, printed on the page from the code
    assert v["holm_family"] == numbers["holm_family"] == \
        [f"{name} ({kind})" for name, kind in ablations.HOLM_FAMILY]
    page = (_ROOT / "theory" / "ablations.md").read_text()
    assert ablations.holm_family_text(numbers["holm_family"]) in page
    assert f"**verdict:** **{committed['verdict']}**" in page
    # what the refuted overhead rests on: every RSO step makes >= K + 1 oracle calls beyond
    # its gradient (f at w0, then one call or more per meta-iteration), i.e. >= +300 %
    for k in ablations.PAPER_K:
        assert min(runs[f"K={k}"]["nfev"]) >= k + 1
    assert v["sub"]["overhead"] == "refuted"
    # what the accuracy sub-verdicts rest on (a change of basis fails here)
    tests, tost = v["tests"], v["tost"]
    assert v["sub"]["K6_beats_K2@steps"] == "holds"          # paired t = 4.85, df 9
    assert tests["K6-K2@steps"]["p_holm"] < ablations.ALPHA and tests["K6-K2@steps"]["diff"] > 0
    assert v["sub"]["K6_beats_K2@evals"] == "refuted"        # below the paper's +2.1
    assert tests["K6-K2@evals"]["p_below_gap_holm"] < ablations.ALPHA
    # K = 16 vs K = 6 at equal steps: the TOST alone (p 0.044) would say equivalent; Holm over
    # the twelve tests that decide the verdict does not
    assert tost["K16-K6@steps"]["p"] < ablations.ALPHA <= tost["K16-K6@steps"]["p_holm"]
    assert tests["K16-K6@steps"]["p_holm"] >= ablations.ALPHA
    assert v["sub"]["K16_no_gain@steps"] == v["sub"]["K16_no_gain@evals"] == \
        v["sub"]["blocks_best"] == "no-evidence"


@pytest.mark.portable
def test_readme_states_exactly_what_report_json_renders(committed):
    readme = (_ROOT / "README.md").read_text()
    sentence = ablations.readme_sentence(committed)
    assert readme.count(sentence) == 1
    assert f"**{committed['verdict']}**" in sentence
    assert "inconclusive" not in readme.lower()


@pytest.mark.slow
def test_quick_run(quick):
    runs = quick.numbers["runs"]
    assert set(runs) == {"sgd", "K=2", "K=6", "layer"}
    assert all(len(r["accuracy"]) == 3 and len(r["epoch_accuracy"][0]) == 2
               for r in runs.values())
    for k in (2, 6):
        assert min(runs[f"K={k}"]["nfev"]) >= k + 1
    assert quick.numbers["sub_verdicts"]["overhead"] == "refuted"
    assert quick.verdict == "refuted"
    assert quick.numbers["budget"]["epochs"]["K=2"] == 2


def test_group_counts_of_the_protocol_are_the_code_groupings():
    """The protocol's "(5 groups) ... layers (8 groups), uniform:2 (4), uniform:5 (2)" come
    from ``n_groups``; here they are checked against the groups RSO actually forms."""
    from rso_ref.rso import resolve_groups

    model = MLP((ablations.DIGITS_FEATURES, *(ablations.WIDTH,) * (ablations.DEPTH - 1),
                 ablations.DIGITS_CLASSES))
    n_params = 2 * ablations.DEPTH
    blocks = ablations.mlp_blocks(ablations.DEPTH)
    assert ablations.n_groups("block") == len(blocks) == ablations.n_groups("K=2")
    for name in ablations.GROUPINGS:
        groups = resolve_groups(name, n_params, layers=model.layers())
        assert ablations.n_groups(name) == len(groups), name
    assert ablations.n_groups("sgd") == 1
