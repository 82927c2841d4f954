"""CompareConfig: arms (optimizers and named variants), model and data options, validation."""
import dataclasses
import json
import re

import numpy as np
import pytest

from rso_ref import compare, data
from rso_ref.compare import CompareConfig, run_comparison, tune_learning_rates
from rso_ref.experiment import load_dataset, make_model
from rso_ref.optim.registry import DEFAULT_LR, make_optimizer


def test_arms_resolve_to_an_optimizer_and_its_options():
    config = CompareConfig(optimizers=("sgd", "rso", "K=2"), rso_options={"meta_iters": 3},
                           variants={"K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}},
                           lrs={"K=2": 0.5})
    assert config.arm("sgd") == ("sgd", {})
    assert config.arm("rso") == ("rso", {"meta_iters": 3})
    assert config.arm("K=2") == ("rso", {"meta_iters": 2})
    assert config.lr("K=2") == 0.5 and config.lr("rso") == DEFAULT_LR["rso"]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"variants": {"v": {"optimizer": "nadam"}}}, ValueError, "variants: 'v'"),
    ({"variants": {"v": {"optimizer": "rso", "option": {}}}}, ValueError, "variants: 'v'"),
    ({"optimizers": ("sgd", "sgd")}, ValueError, "distinct"),
    ({"optimizers": ("sgd", "SGD")}, ValueError, "distinct"),
    ({"optimizers": ("sgd", "v")}, ValueError, "unknown: \\['v'\\]"),
    ({"lrs": {"v": 0.1}}, ValueError, "lrs: 'v' is neither"),
    ({"lrs": {"sgd": True}}, TypeError, "lrs\\['sgd'\\] must be a real number"),
    ({"lrs": {"sgd": -0.1}}, ValueError, "lrs\\['sgd'\\] must be > 0"),
    ({"variants": {"sgd": {"optimizer": "rso"}}}, ValueError, "'sgd' would shadow"),
    ({"variants": {"SGD": {"optimizer": "rso"}}}, ValueError, "'SGD' would shadow"),
    ({"data_options": {"seed": 3}}, ValueError, "data_options must not set \\['seed'\\]"),
    ({"model_options": [("widths", 2)]}, TypeError, "model_options must be a dict"),
    # checked when the config is built, before any data is loaded (issue 15):
    ({"rso_options": {"meta_iter": 3}}, ValueError,
     "rso_options: meta_iter is not an option of optimizer 'rso'"),
    ({"rso_options": {"meta_iters": -1}}, ValueError,
     "rso_options: meta_iters must be an int >= 0"),
    ({"rso_options": {"meta_iters": 2.0}}, TypeError, "rso_options: meta_iters must be an int"),
    ({"rso_options": {"groups": "foo"}}, ValueError, "rso_options: groups must be None, 'layer'"),
    ({"rso_options": {"groups": "uniform:0"}}, ValueError, "rso_options: groups='uniform:0'"),
    ({"variants": {"K=2": {"optimizer": "rso", "options": {"meta_iters": -2}}}}, ValueError,
     "variants\\['K=2'\\]: meta_iters must be"),
    ({"variants": {"m": {"optimizer": "sgd", "options": {"momentum": -1}}}}, ValueError,
     "variants\\['m'\\]: momentum must be >= 0"),
    ({"backend": "nonsense"}, ValueError, "backend must be one of"),
    ({"dtype": "float16"}, ValueError, "dtype must be one of"),
    ({"data": "imagenet"}, ValueError, "data: unknown data set name 'imagenet'"),
    ({"data": "digits", "data_options": {"n_train": 3}}, ValueError,
     "data_options: \\['n_train'\\] are not options of data 'digits'"),
    ({"seeds": (0, -1)}, ValueError, "seeds must be an int >= 0"),
    ({"seeds": ()}, ValueError, "seeds must be a non-empty sequence"),
    ({"seeds": (1, 1)}, ValueError, "seeds must be distinct"),
    ({"lrs": {"SGD": 0.1, "sgd": 0.2}}, ValueError, "lrs: 'sgd' is given twice"),
    ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
])
def test_bad_configs_name_the_field(kwargs, error, match):
    with pytest.raises(error, match=match):
        CompareConfig(**kwargs)


def test_optimizer_names_are_case_insensitive_and_real_scalars_are_rates():
    config = CompareConfig(optimizers=("SGD", "Adam", "rso"),
                           lrs={"SGD": np.float32(0.25), "ADAM": 3e-3},
                           variants={"Ws": {"optimizer": "RSO", "options": {"w0": "ones"}}})
    assert config.optimizers == ("sgd", "adam", "rso")
    assert config.lr("sgd") == 0.25 and config.lr("adam") == 3e-3
    assert config.arm("Ws") == ("rso", {"w0": "ones"})
    assert make_optimizer("LaRs", 0.1).momentum == 0.9      # the harness default


def test_what_needs_the_model_fails_before_any_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the configuration is bad")

    monkeypatch.setattr(compare, "train", no_training)
    # index lists are checked against the model's 6 parameter arrays, once it is built
    config = CompareConfig(optimizers=("sgd", "adam", "rso"), epochs=1,
                           rso_options={"groups": [[0, 1], [99]]})
    with pytest.raises(ValueError, match="rso_options: groups\\[1\\] holds index 99"):
        run_comparison(config, progress=False)
    with pytest.raises(ValueError, match="rso_options: groups\\[1\\] holds index 99"):
        tune_learning_rates(config, progress=False)
    variant = CompareConfig(optimizers=("sgd", "v"), epochs=1, variants={
        "v": {"optimizer": "rso", "options": {"groups": [[0, 1, 2, 3, 4, 5, 6]]}}})
    with pytest.raises(ValueError, match="variants\\['v'\\]: groups"):
        run_comparison(variant, progress=False)
    with pytest.raises(TypeError, match="model_options: .*hidden_sizes"):
        run_comparison(CompareConfig(model_options={"hidden_sizes": (4,)}), progress=False)


def test_model_and_data_options_reach_their_constructors():
    config = CompareConfig(model="resnet", data="cifar_like", model_options={"widths": [2, 4]},
                           data_options={"n_train": 30, "n_test": 20, "image_size": 8})
    ds = load_dataset(config.data, model=config.model, **config.data_options)
    assert ds.name == "cifar_like" and ds.X_train.shape == (30, 3, 8, 8)
    model = make_model(config.model, ds, **config.model_options)
    assert model.widths == (2, 4) and model.input_shape == (3, 8, 8)
    with pytest.raises(TypeError, match="hidden_sizes"):
        make_model("mlp", data.load_digits(), hidden_sizes=(4,))
    with pytest.raises(ValueError, match="model: convnet1d needs \\(channels, length\\)"):
        make_model("convnet1d", data.load_digits(layout="image"))


def test_a_loader_without_layouts_serves_the_mlp():
    ds = load_dataset("teacher", model="mlp", n_train=40, n_test=10, n_features=5)
    assert ds.X_train.shape == (40, 5)
    with pytest.raises(ValueError, match="model: resnet needs \\(C, H, W\\) images"):
        make_model("resnet", load_dataset("teacher", model="resnet", n_train=40, n_test=10))


def test_tuning_extends_the_grid_beyond_an_edge_winner():
    from rso_ref.compare import LR_EDGE_STEP, LR_GRID_FACTORS

    # Adam for one epoch on the digits: on the five-point grid the largest rate wins
    config = CompareConfig(optimizers=("sgd", "adam"), epochs=1,
                           data_options={"test_fraction": 0.5})
    base = tune_learning_rates(config, progress=False)
    extended = tune_learning_rates(config, extend_edges=2, progress=False)
    grid5 = [DEFAULT_LR["adam"] * f for f in LR_GRID_FACTORS]
    assert base["adam"]["grid"] == grid5 and base["adam"]["best"] == grid5[-1]
    grid = extended["adam"]["grid"]
    assert grid[:5] == grid5 and extended["adam"]["val_accuracy"][:5] == \
        base["adam"]["val_accuracy"]                       # deterministic re-runs
    assert 6 <= len(grid) <= 7
    assert grid[5] == pytest.approx(grid5[-1] * LR_EDGE_STEP, rel=1e-15)
    # the search stops once the winner is interior, or after two extra rates
    best = extended["adam"]["best"]
    assert best == max(zip(extended["adam"]["val_accuracy"], grid),
                       key=lambda t: (t[0], -t[1]))[1]
    assert len(grid) == 7 or best != grid[-1]
    # SGD's winner is interior: nothing is added
    assert extended["sgd"]["grid"] == base["sgd"]["grid"]
    assert base["sgd"]["best"] not in (base["sgd"]["grid"][0], base["sgd"]["grid"][-1])
    with pytest.raises(ValueError, match="extend_edges must be an int >= 0"):
        tune_learning_rates(config, extend_edges=-1, progress=False)


@pytest.mark.torch
def test_a_torch_module_through_as_model_is_compared_like_an_mlp():
    torch = pytest.importorskip("torch")
    from rso_ref.interop.torch import as_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(),
                              torch.nn.Linear(16, 10)).double()
    model = as_model(net, torch.nn.functional.cross_entropy)
    config = CompareConfig(model="mlp", optimizers=("sgd", "rso"), epochs=1, batch_size=128,
                           backend="torch")
    before = [p.detach().clone() for p in net.parameters()]
    report = run_comparison(config, progress=False, model=model)
    assert report["groups"] == [[0, 1], [2, 3]]          # the torch module's layers
    for arm in ("sgd", "rso"):
        (run,) = report["runs"][arm]
        assert run["status"] == "completed" and run["eval_accuracy"] > 0.5  # chance is 0.1
    assert sum(report["runs"]["rso"][0]["steps"]["oracle_calls"]) > 0  # the meta-solve ran on torch
    # the module's own parameters are untouched: the comparison trains copies
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))
    with pytest.raises(ValueError, match="groups"):
        run_comparison(dataclasses.replace(config, rso_options={"groups": [[0], [9]]}),
                       progress=False, model=model)


@pytest.fixture(scope="module")
def small_report():
    """SGD and RSO (K = 3), two seeds, one epoch on the digits: a real report, ~1 s."""
    config = CompareConfig(optimizers=("sgd", "rso"), epochs=1, seeds=(0, 1), batch_size=128,
                           rso_options={"meta_iters": 3})
    return run_comparison(config, progress=False)


def test_gradient_evaluations_count_the_step_gradient_and_the_declared_oracle_calls(
        small_report):
    for arm, records in small_report["runs"].items():
        for run in records:
            evals = compare.gradient_evaluations(run)
            calls = np.asarray(run["steps"]["oracle_calls"])
            assert evals.shape == (len(run["steps"]["loss"]),)
            # each step adds its own gradient plus the oracle calls its StepInfo declared
            assert np.array_equal(np.diff(evals, prepend=0.0), 1.0 + calls)
            assert compare.gradient_evaluations_per_step(run) == pytest.approx(
                evals[-1] / evals.size, rel=1e-12)   # the totals' form agrees, to rounding
    sgd, rso = (small_report["summary"][arm] for arm in ("sgd", "rso"))
    assert sgd["gradient_evaluations_per_step"] == 1.0     # SGD uses the gradient it is given
    # RSO's meta-solve makes at least one oracle call per L-BFGS iteration it runs
    assert rso["gradient_evaluations_per_step"] >= 2.0
    assert rso["gradient_evaluations_per_step"] == pytest.approx(np.mean(
        [compare.gradient_evaluations_per_step(r) for r in small_report["runs"]["rso"]]),
        rel=1e-12)
    # the summary keeps one cost figure; the meta-solve's share alone is this minus 1
    assert set(rso) == {"test_accuracy_mean", "test_accuracy_std", "wall_time_mean",
                        "gradient_evaluations_per_step", "diverged", "n_seeds", "lr"}
    assert compare.gradient_evaluations({"steps": {"oracle_calls": []}}).size == 0


def test_curve_data_has_cost_axes_step_by_step(small_report):
    curves = compare.curve_data(small_report)
    for arm, records in small_report["runs"].items():
        c = curves[arm]
        assert len(c["gradient_evaluations"]) == len(c["wall_time"]) == len(records) == 2
        for run, evals, wall in zip(records, c["gradient_evaluations"], c["wall_time"]):
            assert len(evals) == len(wall) == len(run["steps"]["loss"])
            assert np.all(np.diff(wall) >= 0) and wall[0] > 0
            # training steps only: the run's wall time also holds the evaluations
            assert wall[-1] <= run["wall_time"]


def test_results_table_has_no_spread_for_one_seed(small_report):
    two = compare.summary_table(small_report)
    one_seed = dict(small_report, config=dict(small_report["config"], seeds=[0]),
                    runs={arm: recs[:1] for arm, recs in small_report["runs"].items()})
    one_seed["summary"] = {arm: compare.summarise(recs) for arm, recs in one_seed["runs"].items()}
    one = compare.summary_table(one_seed)
    assert "2 seeds" in two and two.count("±") == 2
    assert "1 seed," in one and "±" not in one
    acc = 100 * one_seed["summary"]["rso"]["test_accuracy_mean"]
    rso_row = next(line for line in one.splitlines() if line.startswith("rso "))
    assert f"{acc:.2f}" in rso_row.split()
    table = [line for line in compare.summary_markdown(one_seed).splitlines()
             if line.startswith("| ")]
    assert table and not any("±" in line for line in table)


def test_results_markdown_is_the_console_table_as_markdown(small_report):
    text = compare.summary_table(small_report).splitlines()
    page = compare.summary_markdown(small_report).splitlines()
    rows = [line for line in page if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(small_report["summary"])         # header + one per arm
    for line, row in zip(text[1:], rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert " ".join(cells).split() == line.split()             # the same cells
    assert page[0] == f"# Results: {text[0]}"
    env = small_report["environment"]
    assert f"rso_ref {env['rso_ref']} on {env['time']}" in page[-1]


def test_environment_records_version_time_and_thread_pools():
    from datetime import datetime, timezone

    from threadpoolctl import threadpool_limits

    from rso_ref.extras import installed_version

    before = datetime.now(timezone.utc).replace(microsecond=0)
    with threadpool_limits(limits=1, user_api="blas"):
        env = compare.environment()
    after = datetime.now(timezone.utc)
    assert env["rso_ref"] == installed_version()
    assert before <= datetime.fromisoformat(env["time"]) <= after   # ISO 8601 with offset
    assert env["numpy"] == np.__version__ and env["python"].count(".") == 2
    blas = [pool for pool in env["threadpools"] if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)   # under the limit


def test_write_report_writes_results_md_beside_report_json(small_report, tmp_path):
    paths = compare.write_report(small_report, tmp_path)
    assert paths["results"] == tmp_path / "results.md"
    assert paths["results"].read_text() == compare.summary_markdown(small_report)
    saved = json.loads(paths["report"].read_text())
    assert saved["environment"] == small_report["environment"]
    assert {"loss_curves", "rso_layer_weights"} <= set(paths)


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plots module would save, drawn and kept open (closed afterwards)."""
    from rso_ref import plots

    figures = []

    def keep(fig, path, dpi=120):
        fig.canvas.draw()
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    yield figures
    for fig in figures:
        plots.pyplot().close(fig)


def test_loss_figure_puts_cost_beside_steps_and_titles_what_it_plots(small_report, drawn,
                                                                     tmp_path):
    compare.write_report(small_report, tmp_path)
    axes = [ax for ax in drawn[0].axes if ax.get_visible()]
    assert [ax.get_xlabel().split(" (")[0] for ax in axes] == [
        "training step", "gradient evaluations", "training time", "epoch"]
    # RSO's line against gradient evaluations ends at its mean cumulative count
    rso_line = axes[1].get_lines()[1]
    ends = [compare.gradient_evaluations(r)[-1] for r in small_report["runs"]["rso"]]
    assert rso_line.get_xdata()[-1] == pytest.approx(np.mean(ends), rel=1e-12)
    assert len({ax.get_ylim() for ax in axes[:3]}) == 1    # one loss scale for the three
    acc = axes[3]
    assert "test accuracy" in acc.get_title().lower() and "test accuracy" in acc.get_ylabel()


@pytest.mark.parametrize("accuracy, panels", [
    ([[], []], ["training step"]),                      # seed rows, all empty: no panel
    ([[0.5, 0.75], [0.5, 1.0]], ["training step", "epoch"]),
])
def test_loss_figure_draws_the_accuracy_panel_only_with_accuracies(drawn, tmp_path, accuracy,
                                                                   panels):
    from rso_ref import plots

    runs = {"sgd": {"step_loss": [[1.0, 0.5, 0.25], [1.0, 0.6, 0.3]],
                    "eval_accuracy": accuracy}}
    plots.plot_loss_curves(runs, tmp_path / "loss.png", window=1)
    (fig,) = drawn
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in axes] == panels
    if len(panels) == 2:   # the mean over seeds, in percent
        np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [50.0, 87.5],
                                   rtol=1e-12)


def test_layer_weight_figure_is_smoothed_with_plain_ticks_and_legend_outside(small_report,
                                                                             drawn, tmp_path):
    from rso_ref import plots

    run = small_report["runs"]["rso"][0]
    w = np.asarray(run["steps"]["w"], dtype=np.float64)
    plots.plot_layer_weights(w, tmp_path / "w.png", window=4)
    (fig,) = drawn
    ax_share, ax_w = fig.axes
    # the bottom band of the stack is layer 1's share, moving-averaged over 4 steps
    share = np.abs(w[:, 0]) / np.abs(w).sum(axis=1)
    band = ax_share.collections[0].get_paths()[0].vertices       # (step, 0)...(step, top)
    top_edge = np.array([band[band[:, 0] == step, 1].max() for step in range(1, len(w) + 1)])
    np.testing.assert_allclose(top_edge, plots.smooth(share, 4), rtol=1e-12)
    assert np.std(top_edge) <= np.std(share)                 # the smoothing smooths
    # plain tick labels (no powers of ten, no mathtext) and the w = 1 reference line
    labels = [t.get_text() for t in ax_w.get_yticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"[-\u2212]?[0-9][0-9,]*(\.[0-9]+)?", t) for t in labels)
    assert any(np.allclose(line.get_ydata(), 1.0) for line in ax_w.get_lines())
    # the legend overlaps neither panel
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in (ax_share, ax_w))
    assert [t.get_text() for t in legend.get_texts()][-1].startswith("w = 1")


def test_learning_rate_search_extends_a_winning_edge_and_breaks_ties_low():
    from rso_ref.lr_search import LR_EDGE_STEP, best_rate, search_learning_rate

    tried = []

    def score(lr):  # increasing in lr: the top edge wins every time
        tried.append(lr)
        return lr

    out = search_learning_rate(score, 1.0, extend_edges=2)
    assert out["grid"] == sorted(tried) and len(tried) == 7
    assert out["best"] == pytest.approx(10.0 * LR_EDGE_STEP ** 2, rel=1e-12)
    assert best_rate({0.1: 0.9, 1.0: 0.9, 3.0: float("nan")}) == 0.1
    with pytest.raises(RuntimeError, match="diverged for adam"):
        best_rate({0.1: float("nan")}, "adam")
    with pytest.raises(ValueError, match="default_lr"):
        search_learning_rate(score, 0.0)
