"""The rso-ref command: runs end to end, writes its outputs, and reports bad options in one line."""
import argparse
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from rso_ref import benchmarks, compare
from rso_ref.cli import build_parser, main


def test_compare_writes_report_plots_and_table(tmp_path, capsys):
    status = main(["compare", "--optimizers", "sgd,rso", "--epochs", "1", "--seeds", "0,1",
                   "--out", str(tmp_path), "--no-progress", "--lr", "sgd=0.05,rso=0.1"])
    assert status == 0
    out = capsys.readouterr().out
    assert "test acc (%)" in out and "rso" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["runs"]) == {"sgd", "rso"} and len(report["runs"]["rso"]) == 2
    assert report["summary"]["rso"]["gradient_evaluations_per_step"] >= 2
    assert report["summary"]["sgd"]["test_accuracy_mean"] > 0.8
    for name in ("loss_curves.png", "rso_layer_weights.png"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["compare", "--model", "transformer"], "model must be one of"),
    (["compare", "--optimizers", "sgd,nadam"], "optimizers must be"),
    (["compare", "--data", "imagenet"], "unknown data set name"),
    (["compare", "--backend", "tensorflow"], "--backend: backend must be one of"),
    (["compare", "--epochs", "0"], "--epochs: epochs must be an int >= 1"),
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


def test_malformed_option_values_are_one_line_naming_the_option(capsys):
    assert main(["compare", "--lr", "sgd:0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rso-ref: error: --lr: ") and "name=value" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_console_script_demo_runs_under_two_minutes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rso_ref.cli", "demo", "--out", str(tmp_path),
                           "--no-progress"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rso" in proc.stdout and (tmp_path / "report.json").is_file()


def test_tune_learning_rates_uses_one_grid_per_optimizer_and_picks_the_best():
    from rso_ref.compare import LR_GRID_FACTORS, CompareConfig, tune_learning_rates
    from rso_ref.optim.registry import DEFAULT_LR

    table = tune_learning_rates(CompareConfig(optimizers=("sgd", "adam"), epochs=1),
                                progress=False)
    for name, entry in table.items():
        assert entry["grid"] == [DEFAULT_LR[name] * f for f in LR_GRID_FACTORS]
        scores = [s if s == s else -1.0 for s in entry["val_accuracy"]]
        assert entry["best"] == entry["grid"][scores.index(max(scores))]


def _refuse_training(monkeypatch):
    def trained(*args, **kwargs):
        raise AssertionError("training started although an option is bad")

    monkeypatch.setattr(compare, "train", trained)


@pytest.mark.parametrize("argv, option", [
    (["--groups", "foo"], "--groups"),
    (["--groups", "uniform:0"], "--groups"),
    (["--meta-iters", "-1"], "--meta-iters"),
    (["--seeds", "-2"], "--seeds"),
    (["--seeds", "0"], "--seeds"),
    (["--optimizers", "sgd,nadam"], "--optimizers"),
    (["--backend", "nonsense"], "--backend"),
    (["--lr", "sgd=-1"], "--lr"),
    (["--lr", "nadam=0.1"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--data", "digits", "--data-path", "/x"], "--data-path"),
    (["--blas-threads", "-1"], "--blas-threads"),
    (["--model", "convnet1d"], "--model"),            # digits are images, not sequences
    (["--seeds", "1,1"], "--seeds"),
    (["--lr", "SGD=0.1,sgd=0.2"], "--lr"),
    # an option for an optimizer that does not run used to be ignored without a word
    (["--optimizers", "sgd,adamw", "--lr", "adam=0.01"], "--lr"),
    (["--optimizers", "sgd", "--meta-iters", "3"], "--meta-iters"),
    (["--optimizers", "sgd,adam", "--groups", "block"], "--groups"),
    (["--lr", "sgd=0.1", "--tune-lr"], "--lr"),               # the search replaces every rate
])
def test_a_bad_option_fails_before_any_training_and_names_the_option(argv, option, tmp_path,
                                                                      monkeypatch, capsys):
    _refuse_training(monkeypatch)
    assert main(["compare", "--epochs", "1", "--no-progress", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rso-ref: error: {option}: "), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_data_set_that_one_preset_cannot_read_fails_before_any_preset_trains(monkeypatch,
                                                                               capsys):
    _refuse_training(monkeypatch)
    assert main(["compare", "--preset", "all", "--data", "digits", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rso-ref: error: --data: 'digits' does not suit preset ")
    assert "needs (channels, length) inputs" in err and len(err.strip().splitlines()) == 1


def test_an_unwritable_out_fails_before_any_work(tmp_path, monkeypatch, capsys):
    _refuse_training(monkeypatch)
    from rso_ref.claims import report

    monkeypatch.setattr(report, "run_claims", lambda *a, **k: pytest.fail("claims ran"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = str(blocker / "out")  # a directory below a file cannot be made, even by root
    for argv in (["compare", "--epochs", "1", "--no-progress", "--out", out],
                 ["compare", "--preset", "ablation-k", "--no-progress", "--out", out],
                 ["demo", "--epochs", "1", "--no-progress", "--out", out],
                 ["theory", "--quick", "--out", out]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("rso-ref: error: --out: cannot write to ")
        assert "Not a directory" in err
    assert main(["golden", "write", out]) == 2
    assert capsys.readouterr().err.startswith("rso-ref: error: out_dir: cannot write to ")
    for argv in (["compare", "--epochs", "1", "--no-progress", "--out", str(blocker)],
                 ["demo", "--epochs", "1", "--no-progress", "--out", str(blocker)],
                 ["theory", "--quick", "--out", str(blocker)]):
        assert main(argv) == 2, argv   # mkdir says "File exists" of a file at --out
        err = capsys.readouterr().err
        assert err.startswith("rso-ref: error: --out: cannot write to ")
        assert err.rstrip().endswith("it is a file, not a directory"), err


def test_optimizer_names_are_case_insensitive(tmp_path):
    assert main(["compare", "--optimizers", "SGD,Adam", "--lr", "SGD=0.02", "--epochs", "1",
                 "--seeds", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["runs"]) == ["sgd", "adam"] and report["summary"]["sgd"]["lr"] == 0.02
    assert not list(tmp_path.glob(".rso-ref-probe-*"))  # the --out probe is removed


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_and_argument_has_help():
    missing = [f"{p.prog}: {a.dest}" for p in _parsers(build_parser()) for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
               and not a.help]
    assert missing == []


def _blas_threads():
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


@pytest.mark.parametrize("command", [["demo", "--epochs", "1", "--no-progress"],
                                     ["compare", "--optimizers", "rso", "--no-progress"],
                                     ["theory", "--quick"]])
@pytest.mark.parametrize("argv, limited", [([], True), (["--blas-threads", "0"], False)])
def test_training_runs_with_one_blas_thread_unless_told_otherwise(command, argv, limited,
                                                                  tmp_path, monkeypatch, capsys):
    from rso_ref.claims import report

    seen = []

    def record(*args, **kwargs):
        seen.append(_blas_threads())
        raise RuntimeError("stop after the first training call")

    monkeypatch.setattr(compare, "train", record)
    monkeypatch.setattr(report, "run_claims", record)
    outside = _blas_threads()
    assert main([*command, "--out", str(tmp_path), *argv]) == 2
    assert "stop after the first training call" in capsys.readouterr().err
    assert seen == [[1] * len(outside) if limited else outside]
    assert _blas_threads() == outside  # restored afterwards


@pytest.mark.portable
def test_golden_commands_print_tables_and_exit_status(tmp_path, capsys):
    assert main(["golden", "write", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["golden", "verify", "--port", "rso_ref.golden.reference:mlp", "--kind", "mlp",
                 "--fixtures", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "== mlp: PASS" in out and "max rel err" in out
    assert main(["golden", "verify", "--port", "rso_ref.golden.reference"]) == 0  # every kind
    capsys.readouterr()
    assert main(["golden", "verify", "--port", "rso_ref.golden.reference:hvp", "--kind",
                 "mlp"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["golden", "verify", "--port", "no_such_module_xyz:fn", "--kind", "mlp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rso-ref: error: --port: ") and len(err.strip().splitlines()) == 1
    assert main(["golden", "verify", "--port", "rso_ref.golden.reference:mlp", "--kind",
                 "mlpp"]) == 2
    assert capsys.readouterr().err.startswith("rso-ref: error: --kind: must be one of")


def test_golden_library_functions_print_nothing(tmp_path, capsys):
    from rso_ref import golden

    golden.write(tmp_path, kinds="mlp")
    assert golden.verify(golden.reference_ports()["mlp"], "mlp", fixture_dir=tmp_path).ok
    assert capsys.readouterr() == ("", "")
    assert not hasattr(golden, "golden_write") and not hasattr(golden, "golden_verify")


def test_bench_runs_only_the_benchmarks_shipped_in_the_package(tmp_path, monkeypatch, capsys):
    # Files planted where the old `rso-ref bench` looked (a benchmarks/ folder beside the
    # package, here on sys.path and in the current directory) must never run.
    marker = tmp_path / "planted-code-ran"
    planted = tmp_path / "benchmarks"
    planted.mkdir()
    for name in ("__init__.py", "evil.py", "rso_overhead.py"):
        (planted / name).write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("rso_ref.benchmarks.rso_overhead")
    calls = []
    monkeypatch.setattr(module, "main", lambda argv=None: calls.append(argv) or 0)
    assert main(["bench", "rso", "--quick"]) == 0
    assert calls == [["--quick"]] and not marker.exists()
    assert main(["bench", "evil"]) == 2 and not marker.exists()
    assert "invalid choice: 'evil'" in capsys.readouterr().err
    # an --out that cannot be written fails before the benchmark runs
    (tmp_path / "a-file").write_text("")
    assert main(["bench", "rso", "--out", str(tmp_path / "a-file" / "r.json")]) == 2
    assert calls == [["--quick"]]
    assert capsys.readouterr().err.startswith("rso-ref: error: --out: cannot write to ")


@pytest.mark.parametrize("name", sorted(benchmarks.BENCHMARKS))
def test_every_registered_benchmark_is_a_packaged_module_with_main(name):
    module = importlib.import_module(f"rso_ref.benchmarks.{benchmarks.BENCHMARKS[name]}")
    assert Path(module.__file__).parent == Path(benchmarks.__file__).parent
    assert list(inspect.signature(module.main).parameters) == ["argv"]


def test_bench_results_go_under_the_current_directory_and_say_quick(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = benchmarks.parse_args(argparse.ArgumentParser(), "rso_overhead", ["--quick"])
    assert args.out == tmp_path / "rso-ref-out" / "bench" / "rso_overhead.json"
    assert json.loads(benchmarks.finish({"t": 1.0}, args).read_text()) == {"t": 1.0, "quick": True}
    full = benchmarks.parse_args(argparse.ArgumentParser(), "x",
                                 ["--out", str(tmp_path / "o.json")])
    assert json.loads(benchmarks.finish({}, full).read_text()) == {"quick": False}


def test_demo_prints_its_table_and_writes_it_beside_the_report_and_figures(tmp_path, capsys):
    assert main(["demo", "--epochs", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    printed = {line.split()[0]: line.split()[1:] for line in out.splitlines()
               if line.split()[:1] in (["sgd"], ["adam"], ["rso"])}
    assert set(printed) == {"sgd", "adam", "rso"}
    assert "±" not in out                               # one seed: the bare mean
    rows = [line for line in (tmp_path / "results.md").read_text().splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    written = {cells[0]: cells[1:] for cells in
               ([c.strip() for c in row.strip("|").split("|")] for row in rows)}
    assert written == printed                            # results.md is the printed table
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["environment"]["rso_ref"] and report["environment"]["time"]
    blas = [p for p in report["environment"]["threadpools"] if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)   # --blas-threads default
    for name in ("loss_curves.png", "rso_layer_weights.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert f"wrote results: {tmp_path / 'results.md'}" in out


def test_the_demo_time_is_the_same_in_its_help_and_the_readme():
    from rso_ref import cli

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (commands,) = [a for a in build_parser()._actions
                   if isinstance(a, argparse._SubParsersAction)]
    (demo,) = [a for a in commands._choices_actions if a.dest == "demo"]
    assert cli.DEMO_TIME in demo.help and cli.DEMO_TIME in commands.choices["demo"].description
    assert readme.count(cli.DEMO_TIME) >= 2          # the quick start and the demo section
    assert re.fullmatch(r"about \d+ s on an idle 2-core CPU", cli.DEMO_TIME)
    assert not re.search(r"under a minute|< ?2 min", readme)


def test_the_committed_tables_are_what_the_code_renders_from_their_reports(tmp_path, capsys):
    """Every committed preset page and the tables index equal what ``--rerender`` makes of
    the committed ``report.json`` files: the pages print the statistics (tests, Holm
    families, medians) from the code, not from an older version of it."""
    import shutil

    tables = Path(__file__).resolve().parents[1] / "theory" / "tables"
    copy = tmp_path / "tables"
    shutil.copytree(tables, copy)
    assert main(["compare", "--preset", "all", "--rerender", "--out", str(copy)]) == 0
    pages = sorted(p.relative_to(tables) for p in tables.glob("**/README.md"))
    assert len(pages) >= 9, pages
    stale = [str(p) for p in pages
             if (copy / p).read_text(encoding="utf-8") != (tables / p).read_text(encoding="utf-8")]
    assert not stale, f"committed pages differ from a re-render of their reports: {stale}"
