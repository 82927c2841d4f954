"""Side-by-side training runs: every optimizer x every seed on one model and data set.

This is the library behind ``rso-ref demo`` and ``rso-ref compare``; notebooks call it
directly. A run is fully determined by its :class:`CompareConfig`; the report is a plain
dict (JSON-ready) with per-run records and a mean +- std summary per optimizer.
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import data as datasets
from .backend import namespace
from .checkpoint import write_json_atomic
from .nn import MLP
from .optim import LAMB, LARS, SGD, Adam, AdamW, Muon, RMSprop
from .rso import RSO
from .train import train

__all__ = [
    "OPTIMIZERS", "DEFAULT_LR", "MODELS", "CompareConfig", "make_model", "make_optimizer",
    "run_comparison", "summary_table", "write_report", "tune_learning_rates", "LR_GRID_FACTORS",
    "LR_EDGE_STEP", "finished", "curve_data",
]


def _rso(lr: float, model: Any, **options: Any) -> RSO:
    return RSO(lr=lr, layers=model.layers(), blocks=model.blocks(),
               **{"groups": "layer", "meta_iters": 5, **options})


#: Optimizer factories ``(lr, model, **options) -> optimizer``.
OPTIMIZERS: dict[str, Callable[..., Any]] = {
    "sgd": lambda lr, model, **o: SGD(lr=lr, **{"momentum": 0.9, **o}),
    "adam": lambda lr, model, **o: Adam(lr=lr, **o),
    "adamw": lambda lr, model, **o: AdamW(lr=lr, **{"weight_decay": 1e-2, **o}),
    "rmsprop": lambda lr, model, **o: RMSprop(lr=lr, **o),
    "lamb": lambda lr, model, **o: LAMB(lr=lr, **o),
    "lars": lambda lr, model, **o: LARS(lr=lr, **{"momentum": 0.9, **o}),
    "muon": lambda lr, model, **o: Muon(lr=lr, **o),
    "rso": _rso,
}

#: Default learning rates: the centres of the tuning grids (:func:`tune_learning_rates`).
DEFAULT_LR: dict[str, float] = {
    "sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "lamb": 1e-2, "lars": 0.05,
    "muon": 0.02, "rso": 0.1,
}


def _mlp(ds: Any, hidden: Sequence[int] = (128, 128), **options: Any) -> MLP:
    n_in = int(np.prod(ds.input_shape))
    return MLP((n_in, *hidden, ds.n_classes), **options)


def _convnet1d(ds: Any, **options: Any) -> Any:
    from .nn import ConvNet1D

    if len(ds.input_shape) != 2:
        raise ValueError(f"convnet1d needs (channels, length) inputs; {ds.name} has "
                         f"{ds.input_shape}")
    channels, length = ds.input_shape
    return ConvNet1D(length=length, n_classes=ds.n_classes, in_channels=channels, **options)


def _image_model(kind: str) -> Callable[..., Any]:
    def build(ds: Any, **options: Any) -> Any:
        from . import nn

        if len(ds.input_shape) != 3:
            raise ValueError(f"{kind} needs (C, H, W) images; {ds.name} has {ds.input_shape}")
        return getattr(nn, kind)(input_shape=ds.input_shape, n_classes=ds.n_classes, **options)

    return build


#: Model factories ``(dataset, **model_options) -> model``.
MODELS: dict[str, Callable[..., Any]] = {
    "mlp": _mlp,
    "convnet1d": _convnet1d,
    "convnet2d": _image_model("ConvNet2D"),
    "resnet": _image_model("ResNet"),
}

_LAYOUT = {"mlp": "flat", "convnet1d": "image", "convnet2d": "image", "resnet": "image"}


@dataclass(frozen=True)
class CompareConfig:
    """Everything that determines a comparison.

    Each entry of ``optimizers`` is an *arm*: a key of :data:`OPTIMIZERS`, or a label of
    ``variants``, which maps a label to ``{"optimizer": key, "options": {...}}`` (e.g.
    ``{"K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}}`` for an ablation).
    ``model_options`` go to the model's constructor (e.g. ``{"widths": [8, 16]}``) and
    ``data_options`` to the data set's loader (e.g. ``{"path": "~/cifar"}``,
    ``{"image_size": 16}``). ``rso_options`` apply to the plain ``"rso"`` arm.
    """

    model: str = "mlp"
    data: str = "digits"
    optimizers: tuple[str, ...] = ("sgd", "adam", "rso")
    epochs: int = 10
    seeds: tuple[int, ...] = (0,)
    batch_size: int = 64
    backend: str = "numpy"
    dtype: str = "float64"
    lrs: dict = field(default_factory=dict)
    rso_options: dict = field(default_factory=dict)
    model_options: dict = field(default_factory=dict)
    data_options: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, got {self.model!r}")
        for name in ("model_options", "data_options", "variants", "lrs", "rso_options"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict, got {getattr(self, name)!r}")
        reserved = {"seed", "layout", "val_fraction"} & set(self.data_options)
        if reserved:
            raise ValueError(f"data_options must not set {sorted(reserved)}: compare fixes the "
                             "split seed, the layout (from the model) and the validation share")
        for label, spec in self.variants.items():
            if label in OPTIMIZERS:
                raise ValueError(f"variants: {label!r} would shadow the optimizer of that name")
            if (not isinstance(spec, dict) or spec.get("optimizer") not in OPTIMIZERS
                    or not isinstance(spec.get("options", {}), dict)
                    or set(spec) - {"optimizer", "options"}):
                raise ValueError(f"variants: {label!r} must be {{'optimizer': one of "
                                 f"{sorted(OPTIMIZERS)}, 'options': dict}}, got {spec!r}")
        known = set(OPTIMIZERS) | set(self.variants)
        unknown = [o for o in self.optimizers if o not in known]
        if unknown or not self.optimizers or len(set(self.optimizers)) != len(self.optimizers):
            raise ValueError(f"optimizers must be distinct entries of {sorted(OPTIMIZERS)} or "
                             f"of variants, got {list(self.optimizers)} (unknown: {unknown})")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        for name, lr in self.lrs.items():
            if (name not in known or isinstance(lr, bool)
                    or not (isinstance(lr, (int, float)) and lr > 0)):
                raise ValueError(f"lrs: bad entry {name}={lr!r}")

    def arm(self, label: str) -> tuple[str, dict]:
        """``(optimizer key, options)`` of the arm ``label``."""
        if label in self.variants:
            spec = self.variants[label]
            return spec["optimizer"], dict(spec.get("options", {}))
        return label, dict(self.rso_options) if label == "rso" else {}

    def lr(self, label: str) -> float:
        """The arm's learning rate: ``lrs[label]``, else its optimizer's default."""
        return float(self.lrs.get(label, DEFAULT_LR[self.arm(label)[0]]))


def make_model(name: str, ds: Any, **options: Any) -> Any:
    """The model ``name`` sized for dataset ``ds`` (``options`` go to its constructor)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](ds, **options)


def make_optimizer(name: str, lr: float, model: Any, **options: Any) -> Any:
    """The optimizer ``name`` with learning rate ``lr`` (RSO gets the model's structure)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](lr, model, **options)


def load_dataset(config: CompareConfig, *, val_fraction: float = 0.0) -> Any:
    """Load, standardise (train statistics only) and move the data set to the backend.

    The split is fixed (seed 0); ``val_fraction`` carves a validation split out of the
    data for learning-rate selection.
    """
    loader = datasets.LOADERS.get(config.data)
    accepted = inspect.signature(loader).parameters if loader is not None else {}
    unknown = sorted(set(config.data_options) - set(accepted)) if loader is not None else []
    if unknown:
        raise ValueError(f"data_options: {unknown} are not options of data {config.data!r} "
                         f"(it takes {sorted(set(accepted) - {'seed', 'layout', 'val_fraction'})})")
    path = accepted.get("path")
    if (path is not None and path.default is inspect.Parameter.empty
            and "path" not in config.data_options):
        raise ValueError(f"data {config.data!r} is read from files you have: give their "
                         "directory as data_options={'path': DIR} (rso-ref compare "
                         "--data-path DIR)")
    ds = datasets.load(config.data, seed=0, layout=_LAYOUT[config.model], val_fraction=val_fraction,
                       **config.data_options)
    ds, _, _ = datasets.standardize(ds)
    return datasets.to_backend(ds, config.backend, dtype=config.dtype)


def _train_once(config: CompareConfig, ds: Any, model: Any, label: str, lr: float, seed: int,
                X_eval: Any, y_eval: Any, progress: bool) -> dict:
    name, options = config.arm(label)
    optimizer = make_optimizer(name, lr, model, **options)
    started = time.perf_counter()
    result = train(model, optimizer, ds.X_train, ds.y_train, epochs=config.epochs,
                   batch_size=config.batch_size, seed=seed, X_eval=X_eval, y_eval=y_eval,
                   progress=progress)
    done = bool(result.epochs["epoch"])
    return {
        "seed": seed, "lr": lr, "status": result.status, "message": result.message,
        "eval_accuracy": result.epochs["eval_accuracy"][-1] if done else float("nan"),
        "eval_loss": result.epochs["eval_loss"][-1] if done else float("nan"),
        "wall_time": time.perf_counter() - started, "steps": result.steps,
        "epochs": result.epochs, "meta_nfev": int(sum(result.steps["nfev"])),
    }


#: Multipliers of the default learning rate tried by :func:`tune_learning_rates`; the
#: same five-point log grid for every optimizer, so none is tuned more than another.
LR_GRID_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)


def tune_learning_rates(config: CompareConfig, *, val_fraction: float = 0.2, seed: int = 0,
                        arms: Sequence[str] | None = None, extend_edges: int = 0,
                        progress: bool = True, log: Callable[[str], Any] | None = None) -> dict:
    """Choose each arm's learning rate on a validation split.

    Every arm gets the grid ``DEFAULT_LR[optimizer] * LR_GRID_FACTORS`` (one seed,
    ``config.epochs`` epochs); the rate with the best final validation accuracy wins
    (ties: the smaller rate; diverged runs score NaN and never win). While the winner is
    the smallest or largest rate tried, up to ``extend_edges`` more rates are tried
    beyond it, half a decade apart (``LR_EDGE_STEP``), so that an optimum just outside
    the grid is not missed. The test split is not touched.

    Parameters
    ----------
    arms : sequence of str, optional
        The arms to tune (default: all of ``config.optimizers``).
    extend_edges : int, default 0
        Most rates added beyond an edge winner, per arm.

    Returns
    -------
    dict
        ``{arm: {"grid": [...], "val_accuracy": [...], "best": lr}}``, the grid in
        increasing order.
    """
    arms = tuple(config.optimizers if arms is None else arms)
    unknown = [a for a in arms if a not in config.optimizers]
    if unknown:
        raise ValueError(f"arms must be among config.optimizers {list(config.optimizers)}, "
                         f"got {unknown}")
    if isinstance(extend_edges, bool) or not isinstance(extend_edges, int) or extend_edges < 0:
        raise ValueError(f"extend_edges must be a non-negative int, got {extend_edges!r}")
    ds = load_dataset(config, val_fraction=val_fraction)
    model = make_model(config.model, ds, **config.model_options)
    table = {}
    for label in arms:
        scores: dict[float, float] = {}

        def score(lr: float) -> None:
            record = _train_once(config, ds, model, label, lr, seed, ds.X_val, ds.y_val, progress)
            scores[lr] = record["eval_accuracy"] if record["status"] == "completed" else math.nan
            if log is not None:
                log(f"{label:>10} lr={lr:<8.3g} validation accuracy {100 * scores[lr]:.2f}%")

        for lr in (DEFAULT_LR[config.arm(label)[0]] * f for f in LR_GRID_FACTORS):
            score(lr)
        best = _best_rate(scores, label)
        for _ in range(extend_edges):
            grid = sorted(scores)
            if best not in (grid[0], grid[-1]):
                break
            score(best / LR_EDGE_STEP if best == grid[0] else best * LR_EDGE_STEP)
            best = _best_rate(scores, label)
        grid = sorted(scores)
        table[label] = {"grid": grid, "val_accuracy": [scores[lr] for lr in grid], "best": best}
    return table


#: Factor between successive rates added beyond the grid's edge (half a decade).
LR_EDGE_STEP = math.sqrt(10.0)


def _best_rate(scores: dict, label: str) -> float:
    finite = [(s, lr) for lr, s in scores.items() if s == s]
    if not finite:
        raise RuntimeError(f"every learning rate diverged for {label}")
    return max(finite, key=lambda item: (item[0], -item[1]))[1]


def run_comparison(config: CompareConfig, *, progress: bool = True,
                   log: Callable[[str], Any] | None = None) -> dict:
    """Train every optimizer of ``config`` with every seed; return the report dict.

    The data split is fixed (seed 0) so seeds vary the initialisation and minibatch
    order only. Test accuracy is measured on the held-out test split after the last
    epoch.
    """
    namespace(config.backend)  # fail early and clearly when the backend is missing
    ds = load_dataset(config)
    model = make_model(config.model, ds, **config.model_options)
    runs: dict[str, list] = {name: [] for name in config.optimizers}
    for name in config.optimizers:
        for seed in config.seeds:
            record = _train_once(config, ds, model, name, config.lr(name), seed, ds.X_test,
                                 ds.y_test, progress)
            runs[name].append(record)
            if log is not None:
                log(f"{name:>8} seed {seed}: test accuracy {100 * record['eval_accuracy']:.2f}% "
                    f"({record['status']}, {record['wall_time']:.1f} s)")
    summary = {name: _summarise(records) for name, records in runs.items()}
    return {"config": asdict(config), "model": repr(model), "dataset": {
        "name": ds.name, "n_train": ds.n_train, "n_test": ds.n_test,
        "input_shape": list(ds.input_shape), "n_classes": ds.n_classes},
        "groups": model.layers(), "runs": runs, "summary": summary}


def finished(records: list) -> list:
    """The runs of ``records`` that did not diverge (a diverged run has no final accuracy)."""
    return [r for r in records if r["status"] != "diverged"]


def curve_data(report: dict) -> dict | None:
    """Per-arm step losses and per-epoch accuracies for :func:`~rso_ref.plots.plot_loss_curves`.

    ``None`` when the runs differ in length (e.g. one diverged early) or are empty, as
    the plot averages curves step by step.
    """
    curves = {name: {"step_loss": [r["steps"]["loss"] for r in records],
                     "eval_accuracy": [r["epochs"]["eval_accuracy"] for r in records]}
              for name, records in report["runs"].items()}
    lengths = {len(row) for c in curves.values() for row in c["step_loss"]}
    acc_lengths = {len(row) for c in curves.values() for row in c["eval_accuracy"]}
    return curves if len(lengths) == 1 and len(acc_lengths) == 1 and 0 not in lengths else None


def _summarise(records: list) -> dict:
    # Diverged runs have no final accuracy: they are counted, not averaged.
    acc = np.array([r["eval_accuracy"] for r in finished(records)], dtype=np.float64)
    wall = np.array([r["wall_time"] for r in records], dtype=np.float64)
    steps = sum(len(r["steps"]["loss"]) for r in records)
    return {
        "test_accuracy_mean": float(np.mean(acc)) if acc.size else float("nan"),
        "test_accuracy_std": float(np.std(acc, ddof=1)) if acc.size > 1 else 0.0,
        "wall_time_mean": float(np.mean(wall)),
        "meta_nfev_per_step": sum(r["meta_nfev"] for r in records) / max(steps, 1),
        "diverged": int(sum(r["status"] == "diverged" for r in records)),
        "n_seeds": len(records),
        "lr": records[0]["lr"],
    }


def summary_table(report: dict) -> str:
    """A plain-text results table (one row per optimizer)."""
    config = report["config"]
    lines = [f"{report['model']} on {report['dataset']['name']} "
             f"({config['epochs']} epochs, batch {config['batch_size']}, "
             f"{len(config['seeds'])} seed(s), {config['backend']}/{config['dtype']})",
             f"{'optimizer':>10} {'lr':>8} {'test acc (%)':>16} {'time (s)':>9} "
             f"{'meta calls/step':>16}"]
    for name, s in report["summary"].items():
        lr = s["lr"]
        acc = f"{100 * s['test_accuracy_mean']:.2f} ± {100 * s['test_accuracy_std']:.2f}"
        flag = f"  ({s['diverged']} diverged)" if s["diverged"] else ""
        lines.append(f"{name:>10} {lr:>8.3g} {acc:>16} {s['wall_time_mean']:>9.2f} "
                     f"{s['meta_nfev_per_step']:>16.2f}{flag}")
    return "\n".join(lines)


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``loss_curves.png`` and (with RSO) ``rso_layer_weights.png``."""
    from .plots import plot_layer_weights, plot_loss_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": write_json_atomic(out / "report.json", report)}
    curves = curve_data(report)
    if curves is not None:
        paths["loss_curves"] = plot_loss_curves(
            curves, out / "loss_curves.png",
            title=f"{report['model'].split('(')[0]} on {report['dataset']['name']}")
    if "rso" in report["runs"]:
        weights = [w for w in report["runs"]["rso"][0]["steps"]["w"] if w is not None]
        if weights:
            names = [f"layer {i + 1}" for i in range(len(weights[0]))]
            paths["rso_layer_weights"] = plot_layer_weights(weights, out / "rso_layer_weights.png",
                                                            group_names=names)
    return paths

