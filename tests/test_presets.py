"""Presets of the paper's tables: definitions, analysis on known numbers, tiny end-to-end runs."""
import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from rso_ref import metrics, presets
from rso_ref.stats import censored_median, holm, paired_diff
from rso_ref.cli import main
from rso_ref.compare import CompareConfig, tune_learning_rates
from rso_ref.optim.registry import DEFAULT_LR
from rso_ref.presets import analysis, pages, settings


def test_presets_follow_the_protocol_of_the_issue():
    assert {"table1-digits-mlp", "table1-mnist1d-mlp", "table1-digits-convnet2d",
            "table1-mnist1d-convnet1d", "table1-cifar-resnet", "ablation-k",
            "ablation-groups"} <= set(presets.PRESETS)
    for preset in presets.PRESETS.values():
        assert len(preset.config.seeds) >= 5
        if preset.name.startswith("table1"):
            # (the normalised ResNets leave Adam out: tests/test_resnet_norm_preset.py)
            assert {"sgd", "adamw", "rso"} <= set(preset.config.optimizers)
            assert preset.reference is None and preset.focus == ("rso",)
    for name in ("table1-digits-mlp", "table1-mnist1d-mlp", "table1-digits-convnet2d",
                 "table1-mnist1d-convnet1d", "table1-cifar-resnet"):
        assert presets.PRESETS[name].config.optimizers == ("sgd", "adam", "adamw", "rso")
    assert presets.PRESETS["table1-cifar-resnet"].config.model == "resnet"


def test_the_compute_matched_control_is_its_preset_at_rso_s_gradient_evaluations():
    """Same model, data, seeds and batch as table1-mnist1d-mlp, its baselines only, for the
    epochs that the committed RSO arm's gradient evaluations buy at one a step."""
    control = presets.get_preset("compute-matched-mnist1d-mlp")
    tested = presets.get_preset(control.control_of)
    same = ("model", "data", "seeds", "batch_size", "model_options", "data_options")
    assert all(getattr(control.config, k) == getattr(tested.config, k) for k in same)
    assert control.config.optimizers == tuple(a for a in tested.config.optimizers
                                              if a not in tested.focus)
    assert control.focus == () and control.reference is None and control.shared_lr is None
    report = json.loads((_TABLES / tested.name / "report.json").read_text())
    per_step = report["analysis"]["arms"]["rso"]["gradient_evaluations_per_step"]
    assert control.config.epochs == round(tested.config.epochs * per_step)
    assert all(p.control_of in (None, *presets.PRESETS) for p in presets.PRESETS.values())


@pytest.mark.parametrize("name, ablated", [("ablation-k", "meta_iters"),
                                           ("ablation-groups", "groups")])
def test_ablation_variants_differ_in_the_ablated_option_only(name, ablated):
    preset = presets.get_preset(name)
    options = [preset.config.arm(label) for label in preset.config.optimizers]
    assert {base for base, _ in options} == {"rso"}
    values = [o[ablated] for _, o in options]
    assert len(set(map(str, values))) == len(values)
    rest = [{k: v for k, v in o.items() if k != ablated} for _, o in options]
    assert all(r == rest[0] for r in rest)
    assert preset.shared_lr == preset.reference


def test_overrides_are_checked_against_the_preset():
    with pytest.raises(ValueError, match="'rso' is not an arm"):
        presets.run_preset("table1-digits-mlp", overrides={"optimizers": ("sgd", "adam")},
                           progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"preset": 5}, "preset must be a Preset or a preset name"),
    ({"tune": "no"}, "tune must be a bool"),          # a truthy string used to tune
    ({"progress": None}, "progress must be a bool"),
])
def test_run_preset_refuses_bad_arguments_before_any_training(kwargs, match):
    with pytest.raises(TypeError, match=match):
        presets.run_preset(**{"preset": "table1-digits-mlp", **kwargs})


def test_bad_presets_and_names_are_refused():
    config = CompareConfig(optimizers=("sgd", "rso"))
    with pytest.raises(ValueError, match="'adam' is not an arm"):
        presets.Preset("x", "x", "x", config, reference="adam")
    with pytest.raises(ValueError, match="no baseline arm"):
        presets.Preset("x", "x", "x", CompareConfig(optimizers=("rso",)))
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        presets.get_preset("nope")


def _record(acc, curve, *, seed=0, steps=60, nfev=0, status="completed", lr=0.1):
    gen = np.random.default_rng(len(curve))
    return {"seed": seed, "eval_accuracy": acc, "status": status, "lr": lr, "wall_time": 1.0,
            "meta_nfev": nfev * steps,
            "epochs": {"epoch": list(range(1, len(curve) + 1)), "eval_accuracy": curve},
            "steps": {"loss": list(1 + gen.random(steps)),
                      "grad_norm": list(1 + gen.random(steps))}}


def _report(accuracies, **kwargs):
    runs = {arm: [_record(a, [a / 2, a * 0.95, a], seed=seed, **kwargs.get(arm, {}))
                  for seed, a in enumerate(accs)]
            for arm, accs in accuracies.items()}
    return {"runs": runs}


def test_analyse_tests_rso_against_every_baseline_with_holm():
    acc = {"sgd": [0.80, 0.82, 0.81], "adam": [0.90, 0.91, 0.92], "rso": [0.85, 0.86, 0.84]}
    report = _report(acc, rso={"nfev": 7})
    out = presets.analyse(report)
    assert out["reference"] == "adam"                     # the best baseline, for tables
    assert [(c["arm"], c["reference"]) for c in out["comparisons"]] == [("rso", "adam"),
                                                                        ("rso", "sgd")]
    assert out["family"]["members"] == [["rso", "adam"], ["rso", "sgd"]]
    raw = [paired_diff(acc["rso"], acc[b]) for b in ("adam", "sgd")]
    for c, expected, p_holm in zip(out["comparisons"], raw, holm([r["p"] for r in raw])):
        assert c["diff"] == pytest.approx(expected["diff"], rel=1e-12)
        assert c["p"] == pytest.approx(expected["p"], rel=1e-12)
        assert c["p_holm"] == pytest.approx(p_holm, rel=1e-12)
        assert c["test"] == "paired t" and c["df"] == 2 and c["seeds"] == [0, 1, 2]
    assert out["comparisons"][0]["conclusion"].startswith("lower than adam")
    assert out["comparisons"][1]["conclusion"].startswith("higher than sgd")
    # target = 90 % of the best mean (adam, 0.91); curves are [a/2, 0.95 a, a]
    assert out["target"] == pytest.approx(0.9 * 0.91, rel=1e-12)
    assert out["arms"]["adam"]["epochs_to_target"] == [2, 2, 2]
    assert out["arms"]["sgd"]["epochs_to_target"] == [None, 3, None]     # 0.80, 0.81 < 0.819
    assert out["arms"]["sgd"]["reached_target"] == 1
    # the runs that never reach the target count: the median is beyond the budget
    assert out["arms"]["sgd"]["epochs_to_target_median"] is None
    assert out["arms"]["adam"]["epochs_to_target_median"] == 2
    rso = out["arms"]["rso"]
    assert rso["gradient_evaluations_per_step"] == pytest.approx(8.0, rel=1e-12)
    # 60 steps over 3 epochs, 8 evaluations a step, target reached at epoch 3 (0.8075 < 0.819)
    assert rso["epochs_to_target"] == [3, 3, 3]
    assert rso["gradient_evaluations_to_target_median"] == pytest.approx(
        3 * 60 / 3 * 8, rel=1e-12)


def test_table2_metrics_are_the_metrics_module_on_the_second_half():
    report = _report({"sgd": [0.8, 0.81], "rso": [0.9, 0.91]})
    out = presets.analyse(report)
    for arm, records in report["runs"].items():
        steps = [r["steps"] for r in records]
        cv = [metrics.gradient_norm_cv(metrics.second_half(s["grad_norm"])) for s in steps]
        lv = [metrics.loss_variance(metrics.second_half(s["loss"]), 21) for s in steps]
        np.testing.assert_allclose(out["arms"][arm]["grad_norm_cv_mean_std"],
                                   [np.mean(cv), np.std(cv, ddof=1)], rtol=1e-12)
        np.testing.assert_allclose(out["arms"][arm]["loss_variance_mean_std"],
                                   [np.mean(lv), np.std(lv, ddof=1)], rtol=1e-12)


def test_seeds_without_spread_are_not_tested():
    out = presets.analyse(_report({"sgd": [0.5, 0.25], "rso": [0.75, 0.5]}))  # exact in binary
    (c,) = out["comparisons"]
    assert c["diff"] == 0.25 and math.isnan(c["p"])
    assert c["conclusion"] == "not testable (no spread in the per-seed differences)"


def test_analyse_with_a_reference_tests_every_other_arm_with_holm():
    acc = {"K=6": [0.90, 0.91, 0.92], "K=2": [0.80, 0.81, 0.79], "K=16": [0.905, 0.915, 0.91]}
    out = presets.analyse(_report(acc), reference="K=6", focus=())
    assert [c["arm"] for c in out["comparisons"]] == ["K=2", "K=16"]
    raw = [paired_diff(acc[a], acc["K=6"])["p"] for a in ("K=2", "K=16")]
    np.testing.assert_allclose([c["p_holm"] for c in out["comparisons"]], holm(raw), rtol=1e-12)
    assert out["comparisons"][0]["conclusion"].startswith("lower than K=6")
    assert out["comparisons"][1]["conclusion"].startswith("no significant difference")


def test_lr_range_marks_open_ends_and_is_undefined_at_chance():
    report = _report({"sgd": [0.8, 0.81], "rso": [0.1, 0.11]})
    report["dataset"] = {"n_classes": 10}
    grid = [0.005, 0.015, 0.05, 0.15, 0.5]
    report["tuning"] = {
        "sgd": {"grid": grid, "val_accuracy": [0.5, 0.79, 0.8, 0.3, float("nan")], "best": 0.05},
        "rso": {"grid": grid, "val_accuracy": [0.1, 0.105, 0.1, 0.1, 0.1], "best": 0.005},
        "adam": {"grid": grid, "val_accuracy": [0.8, 0.795, 0.5, 0.3, 0.2], "best": 0.005}}
    report["runs"]["adam"] = [dict(r, lr=0.005) for r in report["runs"]["sgd"]]
    report["runs"]["sgd"] = [dict(r, lr=0.05) for r in report["runs"]["sgd"]]
    arms = presets.analyse(report)["arms"]
    assert arms["rso"]["lr_sensitivity_range"] is None
    rng = arms["sgd"]["lr_sensitivity_range"]
    assert (rng["lo"], rng["hi"], rng["open"]) == (0.015, 0.05, False)
    assert rng["decades"] == pytest.approx(math.log10(0.05 / 0.015), rel=1e-12)
    assert arms["adam"]["lr_sensitivity_range"]["open"]          # 0.005 is the smallest tried
    assert arms["adam"]["lr_at_edge"] and not arms["sgd"]["lr_at_edge"]


def test_diverged_runs_are_left_out_of_the_means():
    acc = {"sgd": [0.8, 0.81, 0.82], "rso": [0.9, 0.91, 0.1]}
    report = _report(acc)
    report["runs"]["rso"][2]["status"] = "diverged"
    out = presets.analyse(report)
    assert out["arms"]["rso"]["test_accuracy"] == [0.9, 0.91]
    assert out["arms"]["rso"]["diverged"] == 1 and out["arms"]["sgd"]["diverged"] == 0
    assert out["arms"]["rso"]["test_accuracy_mean_std"][0] == pytest.approx(0.905, rel=1e-12)


def test_tiny_table1_run_writes_a_page_and_a_compact_report(tmp_path):
    report = presets.run_preset("table1-digits-mlp", seeds=(0, 1), epochs=1, tune=False,
                                overrides={"optimizers": ("sgd", "rso")}, progress=False)
    assert report["analysis"]["reference"] == "sgd"
    assert report["preset"]["changed_from_preset"] == ["epochs", "optimizers", "seeds"]
    paths = presets.write_preset(report, tmp_path)
    page = paths["page"].read_text()
    assert "Not the preset's protocol" in page and "| rso | SGD+momentum |" in page
    assert ("--preset table1-digits-mlp --epochs 1 --seeds 0,1 --no-tune (and, from Python, "
            "overrides of optimizers)") in page
    saved = json.loads(paths["report"].read_text())
    assert all("steps" not in r for recs in saved["runs"].values() for r in recs)
    assert saved["analysis"]["comparisons"][0]["arm"] == "rso"
    for key in ("accuracy", "curves"):
        assert paths[key].stat().st_size > 10_000
    index = presets.write_index([saved], tmp_path)
    assert "[table1-digits-mlp](table1-digits-mlp/README.md) | rso |" in index.read_text()


def test_shared_learning_rate_comes_from_the_reference_arm():
    overrides = {"optimizers": ("K=2", "K=6"), "model_options": {"widths": [2, 4]}}
    report = presets.run_preset("ablation-k", seeds=(0, 1), epochs=1, overrides=overrides,
                                progress=False)
    assert list(report["tuning"]) == ["K=6"]
    best = report["tuning"]["K=6"]["best"]
    assert best in report["tuning"]["K=6"]["grid"]
    assert report["tuning"]["K=6"]["grid"][2] == DEFAULT_LR["rso"]
    assert {r["lr"] for recs in report["runs"].values() for r in recs} == {best}
    stats = report["analysis"]["arms"]["K=6"]
    rng = stats["lr_sensitivity_range"]
    assert rng["lo"] <= best <= rng["hi"]
    assert rng["decades"] == pytest.approx(math.log10(rng["hi"] / rng["lo"]), rel=1e-12)
    assert "lr_sensitivity_range" not in report["analysis"]["arms"]["K=2"]


def test_cli_lists_and_runs_presets(tmp_path, capsys):
    assert main(["compare", "--list-presets"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in presets.PRESETS)
    status = main(["compare", "--preset", "table1-digits-mlp", "--seeds", "0,1", "--epochs",
                   "1", "--no-tune", "--no-progress", "--out", str(tmp_path)])
    assert status == 0
    assert (tmp_path / "README.md").is_file() and (tmp_path / "accuracy.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--preset", "ablation-k", "--model", "mlp"], "--model cannot be combined with --preset"),
    (["--preset", "ablation-k", "--tune-lr"], "--tune-lr cannot be combined"),
    (["--preset", "ablation-k", "--data-path", "/x"], "--data-path needs --data"),
    (["--no-tune"], "--no-tune applies to --preset runs only"),
    (["--preset", "ablation-k", "--meta-iters", "0"], "--meta-iters cannot be combined"),
    (["--seeds", "0"], "seeds must not be empty"),
    (["--data", "digits", "--data-path", "/x"], "['path'] are not options of data 'digits'"),
])
def test_cli_preset_errors_are_one_line(argv, message, capsys):
    assert main(["compare", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rso-ref: error:") and message in err and len(err.splitlines()) == 1


def test_cli_preset_all_writes_one_page_per_preset_and_the_index(tmp_path, monkeypatch):
    tiny = presets.Preset("tiny", "MLP, one epoch", "none",
                          CompareConfig(optimizers=("sgd", "rso"), epochs=1, seeds=(0, 1)))
    # The CLI reads the package's PRESETS, get_preset the one of presets.protocol.
    for module in (presets, presets.protocol):
        monkeypatch.setattr(module, "PRESETS", {"tiny": tiny})
    assert main(["compare", "--preset", "all", "--no-tune", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tiny" / "README.md").is_file()
    index = (tmp_path / "README.md").read_text()
    assert "## Table 1 analogue" in index and "[tiny](tiny/README.md) | rso | " in index


_TABLES = Path(__file__).resolve().parents[1] / "theory" / "tables"


#: The presets whose committed pages this file checks (the normalised ResNets have theirs).
_MINE = ("table1-digits-mlp", "table1-mnist1d-mlp", "compute-matched-mnist1d-mlp",
         "table1-digits-convnet2d", "table1-mnist1d-convnet1d", "table1-cifar-resnet",
         "ablation-k", "ablation-groups")
#: The cheap presets whose validation grid was scored on more seeds.
_LR_SEEDS = ("table1-digits-mlp", "table1-mnist1d-mlp", "table1-digits-convnet2d",
             "table1-mnist1d-convnet1d")


@pytest.mark.portable
def test_committed_pages_are_what_their_saved_reports_render_to(tmp_path):
    """Rendering is a pure function of report.json: the committed pages, byte for byte
    (the normalised ResNets' pages: tests/test_resnet_norm_preset.py), and the index of
    every committed preset."""
    names = [name for name in presets.PRESETS if (_TABLES / name / "report.json").is_file()]
    assert set(_MINE) <= set(names)
    reports = [json.loads((_TABLES / name / "report.json").read_text()) for name in names]
    for name, report in zip(names, reports):
        if name not in _MINE:
            continue
        page = (_TABLES / name / "README.md").read_text()
        figures = {key: Path(f"{stem}.png")
                   for key, stem in re.findall(r"^!\[(\w+)\]\((\w+)\.png\)$", page, re.M)}
        assert set(figures) >= {"accuracy", "curves", "cost", "lr"}
        assert presets.render_page(report, figures) == page, name
        assert not re.search(r"\bsgd\b", page), name   # the SGD arms run with momentum 0.9
    index = presets.write_index(reports, tmp_path)
    assert index.read_text() == (_TABLES / "README.md").read_text()
    assert "| preset | SGD+momentum | adam | adamw | rso |" in index.read_text()


def test_sgd_arms_with_momentum_are_labelled_sgd_momentum():
    variants = {"plain": {"optimizer": "sgd", "options": {"momentum": 0.0}},
                "heavy": {"optimizer": "SGD", "options": {"momentum": 0.5}},
                "K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}}
    config = {"variants": variants}
    assert pages.arm_label("sgd", config) == "SGD+momentum"      # the harness's momentum 0.9
    assert pages.arm_label("heavy", config) == "SGD+momentum"
    assert [pages.arm_label(a, config) for a in ("plain", "K=2", "adam", "rso")] == [
        "plain", "K=2", "adam", "rso"]
    with pytest.raises(TypeError, match="^arm must be a string"):
        pages.arm_label(None, config)
    comparison = {"arm": "rso", "reference": "sgd", "diff": 0.02, "lo": 0.01, "hi": 0.03,
                  "t": 3.0, "p": 0.01, "p_holm": 0.01, "test": "paired t", "seeds": [0, 1, 2]}
    family = analysis.holm_family([("rso", "sgd")], "the arm under test against every baseline")
    table = pages._comparison_table({"config": config, "analysis": {
        "comparisons": [comparison], "family": family}})
    assert table[0] == ("Holm family (the arm under test against every baseline): 1 test, "
                        "rso − SGD+momentum.")
    row = table[4]
    assert row.startswith("| rso | SGD+momentum | +2.00 [+1.00, +3.00] | paired t (3) |")
    assert row.endswith("| higher than SGD+momentum (significant at the 5 % level) |")


def test_committed_reports_are_compact():
    """No per-step records in theory/tables (a full compare report of 15 runs is ~22 MB)."""
    for path in sorted(_TABLES.glob("*/report.json")):
        report = json.loads(path.read_text())
        assert all("steps" not in run for runs in report["runs"].values() for run in runs), path
        assert path.stat().st_size < 1_000_000, path


def test_titles_name_the_models_the_configs_build():
    """The MLP titles' sizes are rendered from INPUT_FEATURES / N_CLASSES and make_model's
    default widths: they match the models built for the data."""
    from rso_ref.experiment import load_dataset, make_model
    from rso_ref.presets import protocol

    for name, data in (("table1-digits-mlp", "digits"), ("table1-mnist1d-mlp", "mnist1d")):
        ds = load_dataset(data, model="mlp")
        model = make_model("mlp", ds)
        assert model.sizes[0] == protocol.INPUT_FEATURES[data]
        assert model.sizes[-1] == protocol.N_CLASSES == ds.n_classes
        sizes = "-".join(str(n) for n in model.sizes)
        assert presets.get_preset(name).title.startswith(f"MLP {sizes} "), name


def _records(arm_seeds):
    return [_record(a, [a / 2, a * 0.95, a], seed=seed) for seed, a in arm_seeds]


def test_runs_are_paired_by_seed_id_and_other_seeds_are_refused():
    a = _records([(0, 0.80), (1, 0.82), (2, 0.85)])
    b = _records([(2, 0.83), (0, 0.79), (1, 0.80)])          # another order, the same seeds
    seeds, x, y = analysis.paired_values(a, b, lambda r: r["eval_accuracy"])
    assert seeds == [0, 1, 2] and x == [0.80, 0.82, 0.85] and y == [0.79, 0.80, 0.83]
    result = analysis.paired_test(a, b)
    assert result["p"] == pytest.approx(paired_diff(x, y)["p"], rel=1e-12)
    b[1]["status"] = "diverged"                               # seed 0 loses its pair
    assert analysis.paired_test(a, b)["seeds"] == [1, 2]
    with pytest.raises(ValueError, match="paired test needs the same seeds"):
        analysis.paired_values(a, _records([(0, 0.8), (1, 0.8), (3, 0.8)]), lambda r: 1.0)
    with pytest.raises(ValueError, match="paired test needs the same seeds"):
        analysis.paired_values(a, _records([(0, 0.8), (0, 0.8), (1, 0.8)]), lambda r: 1.0)


def test_epochs_to_target_counts_the_runs_that_never_reach_it():
    acc = {"sgd": [0.9, 0.91, 0.92, 0.93, 0.94], "rso": [0.5, 0.6, 0.95, 0.96, 0.97]}
    report = _report(acc)
    report["runs"]["rso"][4]["status"] = "diverged"
    arms = presets.analyse(report)["arms"]
    target = 0.9 * 0.92                                      # the best finished mean: sgd
    for arm, stats in arms.items():
        times = [math.inf if e is None else e for e in stats["epochs_to_target"]]
        expected = censored_median(times)
        assert stats["epochs_to_target_median"] == (None if math.isinf(expected) else expected)
    # rso: 0.5 and 0.6 never reach 0.828, the diverged run counts as never: 3 of 5 beyond
    assert arms["rso"]["epochs_to_target"] == [None, None, 2, 2, None]
    assert arms["rso"]["epochs_to_target_median"] is None and arms["rso"]["reached_target"] == 2
    assert target < 0.9 * 0.95
    cell = pages._to_target_cell(arms["rso"], 3)
    assert cell == "> 3 [2/5]" and pages._to_target_cell(arms["sgd"], 3) == "2 [5/5]"


def test_lr_range_on_the_mean_over_seeds():
    report = _report({"sgd": [0.8, 0.81], "rso": [0.9, 0.91]})
    report["dataset"] = {"n_classes": 10}
    grid = [0.01, 0.03, 0.1]
    report["tuning"] = {"sgd": {"grid": grid, "val_accuracy": [0.5, 0.8, 0.795], "best": 0.03}}
    report["lr_seeds"] = {"seeds": [0, 1, 2], "wall_time_s": 1.0, "val_accuracy": {
        "sgd": [[0.5, 0.8, 0.795], [0.5, 0.8, 0.7], [0.5, 0.8, 0.7]]}}
    stats = presets.analyse(report)["arms"]["sgd"]
    assert stats["lr_sensitivity_range"]["decades"] == pytest.approx(math.log10(0.1 / 0.03))
    seeds = stats["lr_sensitivity_range_seeds"]
    assert seeds["seeds"] == 3 and seeds["range"]["decades"] == 0.0   # 0.1's mean: 0.73
    assert pages._lr_range_cell(stats) == "≥ 0.52 / 0.00"     # 0.1 is the largest rate


def test_score_grid_seeds_scores_seed_zero_s_rates_as_the_tuning_would():
    config = CompareConfig(optimizers=("sgd",), epochs=1, seeds=(0, 1))
    tuned = tune_learning_rates(config, seed=1, progress=False)    # the grid, on seed 1
    report = {"config": dataclasses.asdict(config),
              "tuning": {"sgd": {**tuned["sgd"], "val_accuracy": [0.0] * 5}}}
    out = presets.score_grid_seeds(report, seeds=(1,))
    assert out["seeds"] == [0, 1]
    assert out["val_accuracy"]["sgd"] == [[0.0] * 5, tuned["sgd"]["val_accuracy"]]
    assert out["wall_time_s"] > 0
    with pytest.raises(ValueError, match="seeds other than 0|>= 1"):
        presets.score_grid_seeds(report, seeds=(0,))
    with pytest.raises(ValueError, match="has no tuning"):
        presets.score_grid_seeds({**report, "tuning": None})


@pytest.mark.portable
@pytest.mark.parametrize("name", _MINE)
def test_committed_analyses_are_what_their_raw_numbers_give(name):
    """Every verdict on a committed page, recomputed from the report's raw runs: the paired
    tests by seed, Holm over the family the page prints, the censored medians."""
    report = json.loads((_TABLES / name / "report.json").read_text())
    page = (_TABLES / name / "README.md").read_text()
    stored, again = report["analysis"], presets.reanalyse(report)["analysis"]
    assert again["family"] == stored["family"]
    for old, new in zip(stored["comparisons"], again["comparisons"], strict=True):
        assert new["conclusion"] == old["conclusion"]
        for key in ("diff", "lo", "hi", "p", "p_holm"):
            assert new[key] == pytest.approx(old[key], rel=1e-9, abs=1e-12), (name, key)
    for arm, stats in stored["arms"].items():
        for key in ("epochs_to_target", "epochs_to_target_median", "reached_target",
                    "gradient_evaluations_to_target_median", "lr_sensitivity_range"):
            assert again["arms"][arm].get(key) == pytest.approx(stats.get(key)), (name, key)
    # the family is the comparisons, each paired by seed over the runs it names
    runs = report["runs"]
    assert stored["family"]["members"] == [[c["arm"], c["reference"]]
                                           for c in stored["comparisons"]]
    finals = {arm: {r["seed"]: r["eval_accuracy"] for r in recs} for arm, recs in runs.items()}
    for c in stored["comparisons"]:
        x = [finals[c["arm"]][s] for s in c["seeds"]]
        y = [finals[c["reference"]][s] for s in c["seeds"]]
        assert c["p"] == pytest.approx(paired_diff(x, y)["p"], rel=1e-9)
    assert stored["family"]["size"] == len(stored["comparisons"])
    if stored["comparisons"]:
        label = lambda arm: pages.arm_label(arm, report["config"])  # noqa: E731
        assert analysis.family_line(stored["family"], label) in page
        assert all(analysis.conclusion(c, label(c["reference"])) in page
                   for c in stored["comparisons"])
    # compact reports: the steps of an epoch are ceil(n_train / batch), so the stored
    # gradient evaluations per step follow from the meta-solve counts
    for arm, recs in runs.items():
        if all(r["status"] == "completed" for r in recs):
            steps = len(recs[0]["epochs"]["epoch"]) * analysis.steps_per_epoch(report)
            assert stored["arms"][arm]["gradient_evaluations_per_step"] == pytest.approx(
                np.mean([1 + r["meta_nfev"] / steps for r in recs]), rel=1e-12)
    if name in _LR_SEEDS:
        assert report["lr_seeds"]["seeds"] == [0, 1, 2]
        for arm, rows in report["lr_seeds"]["val_accuracy"].items():
            assert rows[0] == report["tuning"][arm]["val_accuracy"]     # seed 0 is the tuning
            assert stored["arms"][arm]["lr_sensitivity_range_seeds"]["seeds"] == 3


@pytest.mark.portable
def test_committed_compute_matched_control_on_the_index():
    """RSO at 20 epochs against the baselines re-tuned at its gradient evaluations (157
    epochs), paired by seed: the index's rows are these tests, and the verdicts hold."""
    tested = json.loads((_TABLES / "table1-mnist1d-mlp" / "report.json").read_text())
    control = json.loads((_TABLES / "compute-matched-mnist1d-mlp" / "report.json").read_text())
    result = settings.control_comparisons(tested, control)
    assert result["family"]["members"] == [["rso", "sgd"], ["rso", "adam"], ["rso", "adamw"]]
    rso = {r["seed"]: r["eval_accuracy"] for r in tested["runs"]["rso"]}
    index = (_TABLES / "README.md").read_text()
    for c in result["comparisons"]:
        base = {r["seed"]: r["eval_accuracy"] for r in control["runs"][c["reference"]]}
        expected = paired_diff([rso[s] for s in sorted(rso)], [base[s] for s in sorted(rso)])
        assert c["diff"] == pytest.approx(expected["diff"], rel=1e-9)
        assert c["p"] == pytest.approx(expected["p"], rel=1e-9)
        assert (f"| {100 * c['diff']:+.2f} [{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}] | "
                f"{c['p']:.3g} | {c['p_holm']:.3g} | paired t (5) |") in index
    # the verdicts: above SGD+momentum (Holm), no significant difference from Adam or AdamW
    verdict = {c["reference"]: c["diff"] > 0 and c["p_holm"] < 0.05
               for c in result["comparisons"]}
    assert verdict == {"sgd": True, "adam": False, "adamw": False}
    assert all(c["p_holm"] >= 0.05 for c in result["comparisons"][1:])


def test_arms_of_two_presets_are_paired_by_seed_over_one_family():
    def report(name, accuracies, seeds=(0, 1, 2)):
        return {"preset": {"name": name, "focus": ["rso"]},
                "runs": {arm: _records(zip(seeds, acc)) for arm, acc in accuracies.items()}}

    tested = report("t", {"rso": [0.70, 0.72, 0.69], "sgd": [0.6, 0.6, 0.6]})
    control = report("c", {"sgd": [0.66, 0.65, 0.67], "adam": [0.69, 0.70, 0.66]},
                     seeds=(2, 0, 1))                      # stored in another order
    result = settings.control_comparisons(tested, control)
    assert result["family"] == analysis.holm_family([("rso", "sgd"), ("rso", "adam")],
                                                    "rso against every arm of the control")
    rso = [0.70, 0.72, 0.69]
    raw = [paired_diff(rso, [0.65, 0.67, 0.66]), paired_diff(rso, [0.70, 0.66, 0.69])]
    for c, expected, p_holm in zip(result["comparisons"], raw, holm([r["p"] for r in raw])):
        assert c["p"] == pytest.approx(expected["p"], rel=1e-12)
        assert c["p_holm"] == pytest.approx(p_holm, rel=1e-12)
    with pytest.raises(ValueError, match="c: adam"):
        settings.control_comparisons(tested, report("c", {"adam": [0.7, 0.7, 0.7]}, (0, 1, 5)))
