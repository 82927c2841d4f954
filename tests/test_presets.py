"""Presets of the paper's tables: definitions, analysis on known numbers, tiny end-to-end runs."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from rso_ref import metrics, presets
from rso_ref.stats import holm, welch_diff
from rso_ref.cli import main
from rso_ref.compare import CompareConfig
from rso_ref.optim.registry import DEFAULT_LR
from rso_ref.presets import pages


def test_presets_follow_the_protocol_of_the_issue():
    assert {"table1-digits-mlp", "table1-mnist1d-mlp", "table1-digits-convnet2d",
            "table1-mnist1d-convnet1d", "table1-cifar-resnet", "ablation-k",
            "ablation-groups"} <= set(presets.PRESETS)
    for preset in presets.PRESETS.values():
        assert len(preset.config.seeds) >= 5
        if preset.name.startswith("table1") and preset.name != "table1-cifar-resnet-norm":
            # (the normalised ResNet's three arms: tests/test_resnet_norm_preset.py)
            assert preset.config.optimizers == ("sgd", "adam", "adamw", "rso")
            assert preset.reference is None and preset.focus == ("rso",)
    assert presets.PRESETS["table1-cifar-resnet"].config.model == "resnet"


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


def _record(acc, curve, *, steps=60, nfev=0, status="completed", lr=0.1):
    gen = np.random.default_rng(len(curve))
    return {"eval_accuracy": acc, "status": status, "lr": lr, "wall_time": 1.0,
            "meta_nfev": nfev * steps,
            "epochs": {"epoch": list(range(1, len(curve) + 1)), "eval_accuracy": curve},
            "steps": {"loss": list(1 + gen.random(steps)),
                      "grad_norm": list(1 + gen.random(steps))}}


def _report(accuracies, **kwargs):
    runs = {arm: [_record(a, [a / 2, a * 0.95, a], **kwargs.get(arm, {})) for a in accs]
            for arm, accs in accuracies.items()}
    return {"runs": runs}


def test_analyse_tests_rso_against_every_baseline_with_holm():
    acc = {"sgd": [0.80, 0.82, 0.81], "adam": [0.90, 0.91, 0.92], "rso": [0.85, 0.86, 0.84]}
    report = _report(acc, rso={"nfev": 7})
    out = presets.analyse(report)
    assert out["reference"] == "adam"                     # the best baseline, for tables
    assert [(c["arm"], c["reference"]) for c in out["comparisons"]] == [("rso", "adam"),
                                                                       ("rso", "sgd")]
    raw = [welch_diff(acc["rso"], acc[b]) for b in ("adam", "sgd")]
    for c, expected, p_holm in zip(out["comparisons"], raw, holm([r["p"] for r in raw])):
        assert c["diff"] == pytest.approx(expected["diff"], rel=1e-12)
        assert c["p"] == pytest.approx(expected["p"], rel=1e-12)
        assert c["p_holm"] == pytest.approx(p_holm, rel=1e-12)
    assert out["comparisons"][0]["conclusion"].startswith("lower than adam")
    assert out["comparisons"][1]["conclusion"].startswith("higher than sgd")
    # target = 90 % of the best mean (adam, 0.91); curves are [a/2, 0.95 a, a]
    assert out["target"] == pytest.approx(0.9 * 0.91, rel=1e-12)
    assert out["arms"]["adam"]["epochs_to_target"] == [2, 2, 2]
    assert out["arms"]["sgd"]["epochs_to_target"] == [None, 3, None]     # 0.80, 0.81 < 0.819
    assert out["arms"]["sgd"]["reached_target"] == 1
    rso = out["arms"]["rso"]
    assert rso["gradient_evaluations_per_step"] == pytest.approx(8.0, rel=1e-12)
    # 60 steps over 3 epochs, 8 evaluations a step, target reached at epoch 3 (0.8075 < 0.819)
    assert rso["epochs_to_target"] == [3, 3, 3]
    assert rso["gradient_evaluations_to_target_mean"] == pytest.approx(3 * 60 / 3 * 8, rel=1e-12)


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
    out = presets.analyse(_report({"sgd": [0.8, 0.8], "rso": [0.9, 0.9]}))
    (c,) = out["comparisons"]
    assert c["diff"] == pytest.approx(0.1, rel=1e-12) and math.isnan(c["p"])
    assert c["conclusion"] == "not testable (no spread across seeds in either arm)"


def test_analyse_with_a_reference_tests_every_other_arm_with_holm():
    acc = {"K=6": [0.90, 0.91, 0.92], "K=2": [0.80, 0.81, 0.79], "K=16": [0.905, 0.915, 0.91]}
    out = presets.analyse(_report(acc), reference="K=6", focus=())
    assert [c["arm"] for c in out["comparisons"]] == ["K=2", "K=16"]
    raw = [welch_diff(acc[a], acc["K=6"])["p"] for a in ("K=2", "K=16")]
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


@pytest.mark.portable
def test_committed_pages_are_what_their_saved_reports_render_to(tmp_path):
    """Rendering is a pure function of report.json: the committed pages, byte for byte."""
    names = [name for name in presets.PRESETS if (_TABLES / name / "report.json").is_file()]
    assert len(names) == 8
    reports = []
    for name in names:
        report = json.loads((_TABLES / name / "report.json").read_text())
        page = (_TABLES / name / "README.md").read_text()
        figures = {key: Path(f"{stem}.png")
                   for key, stem in re.findall(r"^!\[(\w+)\]\((\w+)\.png\)$", page, re.M)}
        assert set(figures) >= {"accuracy", "curves", "cost", "lr"}
        assert presets.render_page(report, figures) == page, name
        assert not re.search(r"\bsgd\b", page), name   # the SGD arms run with momentum 0.9
        reports.append(report)
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
                  "t": 3.0, "p": 0.01, "p_holm": 0.01}
    row = pages._comparison_table({"config": config, "analysis": {"comparisons": [comparison]}})[2]
    assert row.startswith("| rso | SGD+momentum | +2.00 [+1.00, +3.00] |")
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
