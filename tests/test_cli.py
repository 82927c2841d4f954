"""The rso-ref command: runs end to end, writes its outputs, and reports bad options in one line."""
import json
import subprocess
import sys

import pytest

from rso_ref.cli import main


def test_compare_writes_report_plots_and_table(tmp_path, capsys):
    status = main(["compare", "--optimizers", "sgd,rso", "--epochs", "1", "--seeds", "0,1",
                   "--out", str(tmp_path), "--no-progress", "--lr", "sgd=0.05,rso=0.1"])
    assert status == 0
    out = capsys.readouterr().out
    assert "test acc (%)" in out and "rso" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["runs"]) == {"sgd", "rso"} and len(report["runs"]["rso"]) == 2
    assert report["summary"]["rso"]["meta_nfev_per_step"] >= 1
    assert report["summary"]["sgd"]["test_accuracy_mean"] > 0.8
    for name in ("loss_curves.png", "rso_layer_weights.png"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["compare", "--model", "transformer"], "model must be one of"),
    (["compare", "--optimizers", "sgd,nadam"], "optimizers must be"),
    (["compare", "--data", "imagenet"], "unknown data set name"),
    (["compare", "--backend", "jax"], "backend must be one of"),
    (["compare", "--epochs", "0"], "epochs must be a positive int"),
    (["compare", "--data", "cifar10"], "--data-path DIR"),
    (["compare", "--data", "cifar10", "--data-path", "/nonexistent"],
     "CIFAR-10 directory not found: /nonexistent"),
    (["theory", "--claim", "no-such-claim"], "unknown claim"),
])
def test_bad_options_give_one_clear_line(argv, message, capsys):
    assert main(argv + ["--no-progress"] if argv[0] == "compare" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rso-ref: error:") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_malformed_option_values_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--lr", "sgd:0.1"])
    assert info.value.code == 2
    assert "name=value" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_demo_runs_under_two_minutes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rso_ref.cli", "demo", "--out", str(tmp_path),
                           "--no-progress"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rso" in proc.stdout and (tmp_path / "report.json").is_file()


def test_tune_learning_rates_uses_one_grid_per_optimizer_and_picks_the_best():
    from rso_ref.compare import DEFAULT_LR, LR_GRID_FACTORS, CompareConfig, tune_learning_rates

    table = tune_learning_rates(CompareConfig(optimizers=("sgd", "adam"), epochs=1),
                                progress=False)
    for name, entry in table.items():
        assert entry["grid"] == [DEFAULT_LR[name] * f for f in LR_GRID_FACTORS]
        scores = [s if s == s else -1.0 for s in entry["val_accuracy"]]
        assert entry["best"] == entry["grid"][scores.index(max(scores))]
