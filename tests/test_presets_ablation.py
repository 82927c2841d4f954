"""Ablation presets: equivalence tests, equal-gradient-evaluation budgets, their pages."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from rso_ref import metrics, presets
from rso_ref.claims import ablations
from rso_ref.presets import analysis, pages
from rso_ref.stats import detectable_effect, paired_diff

_TABLES = Path(__file__).resolve().parents[1] / "theory" / "tables"


def _record(final, first, nfev, seed, steps=30, epochs=3):
    """One finished run: 10 steps an epoch, accuracy rising linearly from ``first``."""
    return {"seed": seed, "eval_accuracy": final, "status": "completed", "lr": 0.1,
            "wall_time": 1.0,
            "meta_nfev": nfev * steps,
            "epochs": {"epoch": list(range(1, epochs + 1)),
                       "eval_accuracy": list(np.linspace(first, final, epochs))},
            "steps": {"loss": [1.0] * steps, "grad_norm": [1.0] * steps}}


def _report(arms):
    """arm -> (final accuracies, first-epoch accuracies, oracle calls per step)."""
    return {"runs": {arm: [_record(f, s, nfev, seed)
                           for seed, (f, s) in enumerate(zip(finals, firsts))]
                     for arm, (finals, firsts, nfev) in arms.items()}}


def test_budget_epochs_gives_each_arm_what_fits_in_the_cheapest_run():
    budget, epochs = metrics.budget_epochs({"K=2": 50.0, "K=6": 100.0, "K=16": 230.0}, 10)
    assert budget == 500.0
    assert epochs == {"K=2": 10, "K=6": 5, "K=16": 2}
    # round-off in B / g must not cost the cheapest arm its last epoch
    assert metrics.budget_epochs({"a": 0.1 * 3}, 7)[1] == {"a": 7}
    assert metrics.budget_epochs({"a": 10.0, "b": 200.0}, 3)[1]["b"] == 0
    with pytest.raises(ValueError, match="evals_per_epoch"):
        metrics.budget_epochs({"a": 0.0}, 3)
    with pytest.raises(ValueError, match="epochs"):
        metrics.budget_epochs({"a": 1.0}, 0)


_ARMS = {"K=2": ([0.80, 0.81, 0.79, 0.80], [0.70, 0.71, 0.69, 0.70], 1.0),
         "K=6": ([0.85, 0.851, 0.849, 0.852], [0.60, 0.61, 0.58, 0.61], 3.0),
         "K=16": ([0.852, 0.849, 0.851, 0.85], [0.50, 0.51, 0.49, 0.50], 9.0)}


def test_ablations_get_equivalence_tests_and_equal_evaluation_tests():
    out = presets.analyse(_report(_ARMS), reference="K=6", focus=())
    tost = {e["arm"]: e for e in out["equivalence"]}
    assert tost["K=16"]["equivalent"] and tost["K=16"]["margin"] == ablations.EQUIVALENCE_MARGIN
    assert not tost["K=2"]["equivalent"]          # 5 points below: far outside ±1
    assert analysis.equivalence_conclusion(tost["K=16"]) == "equivalent to K=6 within ±1 point"
    assert "detectable at 80 % power" in analysis.equivalence_conclusion(tost["K=2"])
    budget = out["equal_evaluations"]
    # 10 steps an epoch: K=2 costs 20 / epoch, 60 in all; K=6 40 (1 epoch); K=16 100 (none)
    assert budget["budget"] == pytest.approx(60.0)
    assert budget["epochs"] == {"K=2": 3, "K=6": 1, "K=16": 0}
    assert budget["test_accuracy"]["K=6"] == pytest.approx(_ARMS["K=6"][1])
    c = {x["arm"]: x for x in budget["comparisons"]}
    # at equal cost K=2 (0.80 after 3 epochs) beats K=6 (0.60 after 1), the reverse of
    # the equal-steps reading
    assert c["K=2"]["diff"] == pytest.approx(0.20, abs=1e-3) and c["K=2"]["p_holm"] < 0.05
    assert out["comparisons"][0]["diff"] < 0
    assert math.isnan(c["K=16"]["p"]) and "not testable" in c["K=16"]["conclusion"]
    # every test is paired by seed, and Holm runs over the family the result names
    for tests, family in ((out["comparisons"], out["family"]),
                          (budget["comparisons"], budget["family"])):
        assert [[t["arm"], t["reference"]] for t in tests] == family["members"]
        assert family["size"] == len(tests)
        assert {t["test"] for t in tests} == {"paired t"}
    assert budget["family"]["members"] == [["K=2", "K=6"], ["K=16", "K=6"]]
    x, y = _ARMS["K=2"][0], _ARMS["K=6"][0]
    assert out["comparisons"][0]["p"] == pytest.approx(paired_diff(x, y)["p"], rel=1e-12)
    assert tost["K=2"]["detectable"] == pytest.approx(
        detectable_effect(tost["K=2"]["se"], df=len(x) - 1), rel=1e-12)
    assert tost["K=2"]["df"] == len(x) - 1 and tost["K=2"]["test"] == "paired t"


def test_best_baseline_presets_get_no_ablation_tables():
    out = presets.analyse(_report({"sgd": _ARMS["K=2"], "rso": _ARMS["K=6"]}))
    assert "equivalence" not in out and "equal_evaluations" not in out


def test_ablation_page_renders_the_equivalence_and_budget_tables():
    report = _report(_ARMS)
    report["analysis"] = presets.analyse(report, reference="K=6", focus=())
    report["config"] = {"variants": {}}
    text = "\n".join(pages._ablation_tables(report))
    assert "## Equivalence at equal epochs (paired t TOST, margin ±1 accuracy points" in text
    assert ("Holm family (every variant against the reference, at equal gradient "
            "evaluations): 2 tests, K=2 − K=6, K=16 − K=6.") in text
    assert "| K=16 | 100 | 0 | – (one epoch exceeds the budget) |" in text
    assert "Budget: 60 gradient evaluations" in text
    table1 = _report({"sgd": _ARMS["K=2"], "rso": _ARMS["K=6"]})
    table1["analysis"] = presets.analyse(table1)
    table1["config"] = {"variants": {}}
    assert pages._ablation_tables(table1) == []


@pytest.mark.portable
@pytest.mark.parametrize("name", ["ablation-k", "ablation-groups"])
def test_committed_ablation_pages_rest_on_their_tests(name):
    """The committed pages show the TOST and equal-cost readings their report.json holds."""
    report = json.loads((_TABLES / name / "report.json").read_text())
    page = (_TABLES / name / "README.md").read_text()
    result = report["analysis"]
    assert {"equivalence", "equal_evaluations"} <= set(result)
    for e in result["equivalence"] + result["equal_evaluations"]["equivalence"]:
        if "untestable" in e:
            continue
        inside = -e["margin"] < e["lo"] and e["hi"] < e["margin"]
        assert e["equivalent"] == inside == (e["p"] <= 0.05)
        assert analysis.equivalence_conclusion(
            e, pages.arm_label(e["reference"], report["config"])) in page
    budget = result["equal_evaluations"]
    cheapest = min(budget["evals_per_epoch"], key=budget["evals_per_epoch"].get)
    assert budget["epochs"][cheapest] == report["config"]["epochs"]
    # the tests at equal evaluations, recomputed from the per-epoch curves, paired by seed
    runs = report["runs"]
    for c in budget["comparisons"]:
        at = {arm: {r["seed"]: r["epochs"]["eval_accuracy"][budget["epochs"][arm] - 1]
                    for r in runs[arm]} for arm in (c["arm"], c["reference"])}
        seeds = [r["seed"] for r in runs[c["arm"]]]
        expected = paired_diff([at[c["arm"]][s] for s in seeds],
                               [at[c["reference"]][s] for s in seeds])
        assert c["diff"] == pytest.approx(expected["diff"], rel=1e-9, abs=1e-12)
        assert c["p"] == pytest.approx(expected["p"], rel=1e-9)
        assert analysis.conclusion(c, pages.arm_label(c["reference"], report["config"])) in page
    assert analysis.family_line(budget["family"],
                                lambda arm: pages.arm_label(arm, report["config"])) in page
