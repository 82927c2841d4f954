"""Side-by-side training runs: every optimizer x every seed on one model and data set.

This is the library behind ``rso-ref demo`` and ``rso-ref compare``; notebooks call it
directly. A run is fully determined by its :class:`CompareConfig`; the report is a plain
dict (JSON-ready) with per-run records and a mean +- std summary per optimizer.
"""
from __future__ import annotations

import importlib.metadata
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .backend import BACKENDS, array_namespace, namespace, to_numpy
from .checkpoint import write_json_atomic, write_text_atomic
from .experiment import MODELS, check_data_options, check_fits, load_dataset, make_model
from .extras import installed_version, threadpool_info
from .lr_search import LR_EDGE_STEP, LR_GRID_FACTORS, search_learning_rate
from .optim.registry import DEFAULT_LR, OPTIMIZERS, canonical_name, check_options, make_optimizer
from .stats import mean_std
from .train import _evaluation_mode, train
from .validation import check_choice, check_int, check_positive

__all__ = [
    "CompareConfig", "run_comparison", "summary_table", "summary_markdown", "write_report",
    "tune_learning_rates", "LR_GRID_FACTORS", "LR_EDGE_STEP", "finished", "curve_data",
    "prepare", "gradient_evaluations", "gradient_evaluations_per_step", "environment",
    "top_class_share", "early_diagnostics", "PROBE_ROWS", "validation_scores", "summarise",
]

#: The dtypes a comparison can run in.
_DTYPES = ("float64", "float32")


def _prefixed(exc: Exception, where: str) -> Exception:
    """``exc`` with ``where: `` in front of its message, keeping TypeError vs ValueError."""
    return (TypeError if isinstance(exc, TypeError) else ValueError)(f"{where}: {exc}")


@dataclass(frozen=True)
class CompareConfig:
    """Everything that determines a comparison, checked when it is built.

    Each entry of ``optimizers`` is an *arm*: a key of
    :data:`~rso_ref.optim.registry.OPTIMIZERS` in any case (stored in lower case), or a
    label of ``variants``, which maps a label to ``{"optimizer": key, "options": {...}}``
    (e.g. ``{"K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}}`` for an
    ablation). ``rso_options`` apply to the plain ``"rso"`` arm; ``model_options`` go to
    the model's constructor (e.g. ``{"widths": [8, 16]}``) and ``data_options`` to the
    data set's loader (e.g. ``{"path": "~/cifar"}``, ``{"image_size": 16}``).

    Construction checks every field without loading data: names (model, data, backend,
    dtype, optimizers), the loader's options, and every arm's options by building its
    optimizer (:func:`~rso_ref.optim.registry.check_options`, so
    ``rso_options={"meta_iter": 3}`` or ``{"meta_iters": -1}`` fail here). What needs
    the model (RSO's ``groups`` against its layers) is checked by
    :func:`run_comparison` and :func:`tune_learning_rates` before any training. Errors
    start with the field's name (``rso_options: ...``, ``variants['K=2']: ...``).
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
        check_choice(self.model, "model", sorted(MODELS))
        check_choice(self.backend, "backend", BACKENDS)
        check_choice(self.dtype, "dtype", _DTYPES)
        for name in ("model_options", "data_options", "variants", "lrs", "rso_options"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"{name} must be a dict, got {getattr(self, name)!r}")
        check_data_options(self.data, self.data_options)
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        if isinstance(self.seeds, (str, bytes)) or not isinstance(self.seeds, Sequence) \
                or not self.seeds:
            raise ValueError(f"seeds must be a non-empty sequence of ints, got {self.seeds!r}")
        for seed in self.seeds:
            check_int(seed, "seeds", minimum=0)
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        variants = {}
        for label, spec in self.variants.items():
            if not isinstance(label, str) or label.lower() in OPTIMIZERS:
                raise ValueError(f"variants: {label!r} would shadow the optimizer of that name")
            if (not isinstance(spec, dict) or not isinstance(spec.get("optimizer"), str)
                    or spec["optimizer"].lower() not in OPTIMIZERS
                    or not isinstance(spec.get("options", {}), dict)
                    or set(spec) - {"optimizer", "options"}):
                raise ValueError(f"variants: {label!r} must be {{'optimizer': one of "
                                 f"{sorted(OPTIMIZERS)}, 'options': dict}}, got {spec!r}")
            variants[label] = {"optimizer": spec["optimizer"].lower(),
                               "options": dict(spec.get("options", {}))}
        object.__setattr__(self, "variants", variants)
        if isinstance(self.optimizers, str) or not isinstance(self.optimizers, Sequence):
            raise TypeError(f"optimizers must be a sequence of names, got {self.optimizers!r}")
        arms = tuple(self._label(o) for o in self.optimizers)
        unknown = [o for o, a in zip(self.optimizers, arms) if a is None]
        if unknown or not arms or len(set(arms)) != len(arms):
            raise ValueError(f"optimizers must be distinct entries of {sorted(OPTIMIZERS)} (any "
                             f"case) or of variants, got {list(self.optimizers)} "
                             f"(unknown: {unknown})")
        object.__setattr__(self, "optimizers", arms)
        lrs = {}
        for label, lr in self.lrs.items():
            arm = self._label(label)
            if arm is None:
                raise ValueError(f"lrs: {label!r} is neither an optimizer nor a variant")
            if arm in lrs:
                raise ValueError(f"lrs: {arm!r} is given twice (names are case-insensitive)")
            lrs[arm] = check_positive(lr, f"lrs[{label!r}]")
        object.__setattr__(self, "lrs", lrs)
        for where, name, options in self._option_sets():
            try:
                check_options(name, **options)
            except (TypeError, ValueError) as exc:
                raise _prefixed(exc, where) from None

    def _label(self, name: Any) -> str | None:
        """The arm ``name`` spells (an optimizer key in any case, or a variant label)."""
        if isinstance(name, str) and name in self.variants:
            return name
        if isinstance(name, str) and name.lower() in OPTIMIZERS:
            return canonical_name(name)
        return None

    def _option_sets(self) -> list[tuple[str, str, dict]]:
        """``(field, optimizer key, options)`` of ``rso_options`` and of every variant."""
        return [("rso_options", "rso", dict(self.rso_options))] + [
            (f"variants[{label!r}]", spec["optimizer"], dict(spec["options"]))
            for label, spec in self.variants.items()]

    def arm(self, label: str) -> tuple[str, dict]:
        """``(optimizer key, options)`` of the arm ``label``."""
        if label in self.variants:
            spec = self.variants[label]
            return spec["optimizer"], dict(spec["options"])
        return label, dict(self.rso_options) if label == "rso" else {}

    def lr(self, label: str) -> float:
        """The arm's learning rate: ``lrs[label]``, else its optimizer's default."""
        return float(self.lrs.get(label, DEFAULT_LR[self.arm(label)[0]]))

    def _where(self, label: str) -> str:
        """The field that holds the options of arm ``label``."""
        return f"variants[{label!r}]" if label in self.variants else (
            "rso_options" if label == "rso" else f"optimizers[{label!r}]")


def prepare(config: CompareConfig, *, val_fraction: float = 0.0,
            model: Any = None) -> tuple[Any, Any]:
    """Load the data, build the model and check every arm against it; no training.

    Each arm's optimizer is built with the model's structure and initialised on the
    model's parameters, so what only the model can decide (RSO's ``groups`` against its
    layers and blocks) fails here, before :func:`run_comparison` or
    :func:`tune_learning_rates` train anything.

    ``model``, when given, is a model object used instead of building ``config.model``
    (e.g. a torch module through :func:`rso_ref.interop.torch.as_model`, with
    ``config.backend="torch"``); ``config.model`` then only chooses the layout the data
    set is loaded in (``"mlp"``: flat rows; a convnet name: images).

    Returns
    -------
    (Dataset, model)
        The data set (:func:`rso_ref.experiment.load_dataset`, split seed 0) and the model.
    """
    namespace(config.backend)  # fail early and clearly when the backend is missing
    ds = load_dataset(config.data, model=config.model, backend=config.backend,
                      dtype=config.dtype, val_fraction=val_fraction, **config.data_options)
    if model is None:
        check_fits(config.model, ds)
        try:
            model = make_model(config.model, ds, **config.model_options)
        except (TypeError, ValueError) as exc:
            raise _prefixed(exc, "model_options") from None
    params = model.init(0, like=ds.X_train[:1, ...])  # the structure is what is checked
    for label in config.optimizers:
        name, options = config.arm(label)
        try:
            make_optimizer(name, config.lr(label), model, **options).init(params)
        except (TypeError, ValueError) as exc:
            raise _prefixed(exc, config._where(label)) from None
    return ds, model


#: Rows of the test split (the first ones) on which :func:`early_diagnostics` reads the
#: predictions after each early step.
PROBE_ROWS = 128


def top_class_share(model: Any, params: list, X: Any) -> float:
    r"""Share of the rows of ``X`` predicted as the most-predicted class.

    .. math::

        s(\theta) = \max_c \frac1n \#\{i : \arg\max_k\, \mathrm{predict}(\theta,
        X)_{ik} = c\}

    1 on the constant-prediction plateau (every row gets the same class); about
    :math:`1/C` when the predictions are spread like balanced labels.

    Parameters
    ----------
    model : rso_ref model
        Has ``predict(params, X)`` returning per-class scores of shape ``(n, C)``.
    params : list of arrays
    X : array, shape (n, \*input_shape)
        At least one row.

    Returns
    -------
    float
        :math:`s \in [1/C, 1]`.

    Raises
    ------
    ValueError
        If ``X`` has no rows.
    """
    if X.shape[0] == 0:
        raise ValueError(f"X must have at least one row, got shape {tuple(X.shape)}")
    xp = array_namespace(X)
    with _evaluation_mode(model):   # batch normalisations: the running statistics
        predicted = np.asarray(to_numpy(xp.argmax(model.predict(params, X), axis=1)))
    return float(np.bincount(predicted).max() / predicted.shape[0])


def early_diagnostics(steps: dict, probes: list, lr: float) -> dict:
    r"""The early-training diagnostics of one run: step scale and top-class share per step.

    For each probed step :math:`t` (1-based, the parameters after it):
    ``lr_max_w`` is :math:`\eta \max_i |w_i^{(t)}|`, the largest multiplier a group's
    gradient got in step :math:`t` (RSO's group weights ``steps["w"]``; 1 in warm-up, so
    :math:`\eta`), and None for optimizers without group weights (their plain step is
    :math:`\eta` times the gradient or its preconditioned form: the page draws
    :math:`\eta` as their reference line); ``top_class_share`` is
    :func:`top_class_share` on the probe rows.

    Parameters
    ----------
    steps : dict
        :attr:`rso_ref.train.TrainResult.steps` (``"w"`` is read).
    probes : list of dict
        :attr:`rso_ref.train.TrainResult.probes`, each with ``"step"`` and
        ``"top_class_share"``.
    lr : float
        :math:`\eta`.

    Returns
    -------
    dict
        ``{"step": [...], "lr_max_w": [...], "top_class_share": [...]}``.
    """
    ws = [steps["w"][p["step"] - 1] for p in probes]
    return {"step": [p["step"] for p in probes],
            "lr_max_w": [None if w is None else lr * max(abs(v) for v in w) for w in ws],
            "top_class_share": [p["top_class_share"] for p in probes]}


def _probe(model: Any, X_probe: Any, n_steps: int) -> Callable[[int, list], dict | None]:
    """The :func:`~rso_ref.train.train` probe: :func:`top_class_share` over the first
    ``n_steps`` steps, nothing after."""
    def probe(step: int, params: list) -> dict | None:
        if step > n_steps:
            return None
        return {"top_class_share": top_class_share(model, params, X_probe)}
    return probe


def _train_once(config: CompareConfig, ds: Any, model: Any, label: str, lr: float, seed: int,
                X_eval: Any, y_eval: Any, progress: bool, diagnostic_steps: int = 0) -> dict:
    name, options = config.arm(label)
    optimizer = make_optimizer(name, lr, model, **options)
    probe = (_probe(model, ds.X_test[:PROBE_ROWS, ...], diagnostic_steps)
             if diagnostic_steps else None)
    started = time.perf_counter()
    result = train(model, optimizer, ds.X_train, ds.y_train, epochs=config.epochs,
                   batch_size=config.batch_size, seed=seed, X_eval=X_eval, y_eval=y_eval,
                   progress=progress, probe=probe)
    done = bool(result.epochs["epoch"])
    record = {
        "seed": seed, "lr": lr, "status": result.status, "message": result.message,
        "eval_accuracy": result.epochs["eval_accuracy"][-1] if done else float("nan"),
        "eval_loss": result.epochs["eval_loss"][-1] if done else float("nan"),
        "wall_time": time.perf_counter() - started, "steps": result.steps,
        "epochs": result.epochs, "meta_nfev": int(sum(result.steps["oracle_calls"])),
    }
    if diagnostic_steps:
        record["diagnostics"] = early_diagnostics(result.steps, result.probes, lr)
    return record


def tune_learning_rates(config: CompareConfig, *, val_fraction: float = 0.2, seed: int = 0,
                        arms: Sequence[str] | None = None, extend_edges: int = 0,
                        progress: bool = True, log: Callable[[str], Any] | None = None,
                        model: Any = None, seeds: Sequence[int] | None = None) -> dict:
    r"""Choose each arm's learning rate on a validation split.

    The search of :mod:`rso_ref.lr_search` for every arm: the same five-point log grid
    ``DEFAULT_LR[optimizer] * LR_GRID_FACTORS``, so none is tuned more than another
    (``config.epochs`` epochs); the rate with the best final validation accuracy wins
    (ties: the smaller rate; diverged runs score NaN and never win). With several
    ``seeds`` a rate's score is the mean over them,
    :math:`\bar s(\eta) = \frac1S\sum_k s_k(\eta)` (NaN if any diverged). While the winner
    is the smallest or largest rate tried, up to ``extend_edges`` more rates are tried
    beyond it, half a decade apart (``LR_EDGE_STEP``), so that an optimum just outside
    the grid is not missed. The test split is not touched.

    Parameters
    ----------
    seed : int, default 0
        The seed of the validation runs (initialisation and minibatch order).
    arms : sequence of str, optional
        The arms to tune (default: all of ``config.optimizers``).
    extend_edges : int, default 0
        Most rates added beyond an edge winner, per arm.
    model : model object, optional
        Used instead of building ``config.model`` (see :func:`prepare`).
    seeds : sequence of int, optional
        Several seeds instead of ``seed``: each rate is scored on each.

    Returns
    -------
    dict
        ``{arm: {"grid": [...], "val_accuracy": [...], "best": lr}}``, the grid in
        increasing order and the scores (means over ``seeds``) in its order; with
        ``seeds``, also ``"seeds"`` and ``"val_accuracy_seeds"`` (one row per seed).
    """
    requested = tuple(config.optimizers if arms is None else arms)
    arms = tuple(config._label(a) for a in requested)
    unknown = [r for r, a in zip(requested, arms) if a not in config.optimizers]
    if unknown:
        raise ValueError(f"arms must be among config.optimizers {list(config.optimizers)}, "
                         f"got {unknown}")
    check_int(extend_edges, "extend_edges")
    runs_seeds = [check_int(seed, "seed")] if seeds is None else _distinct_seeds(seeds)
    ds, model = prepare(config, val_fraction=val_fraction, model=model)
    table = {}
    for label in arms:
        by_rate: dict[float, list[float]] = {}

        def score(lr: float, label: str = label) -> float:
            by_rate[lr] = [_validation_score(config, ds, model, label, lr, s, progress, log)
                           for s in runs_seeds]
            return float(np.mean(by_rate[lr]))

        table[label] = search_learning_rate(score, DEFAULT_LR[config.arm(label)[0]],
                                            extend_edges=extend_edges, name=label)
        if seeds is not None:
            table[label]["seeds"] = list(runs_seeds)
            table[label]["val_accuracy_seeds"] = [
                [by_rate[lr][k] for lr in table[label]["grid"]] for k in range(len(runs_seeds))]
    return table


def _distinct_seeds(seeds: Sequence[int]) -> list[int]:
    out = [check_int(s, "seeds") for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    return out


def _validation_score(config: CompareConfig, ds: Any, model: Any, label: str, lr: float,
                      seed: int, progress: bool, log: Callable[[str], Any] | None) -> float:
    """One validation run's final accuracy (NaN if it diverged), logged."""
    record = _train_once(config, ds, model, label, lr, seed, ds.X_val, ds.y_val, progress)
    value = record["eval_accuracy"] if record["status"] == "completed" else math.nan
    if log is not None:
        log(f"{label:>10} seed {seed} lr={lr:<8.3g} validation accuracy {100 * value:.2f}% "
            f"({record['wall_time']:.1f} s)")
    return value


def validation_scores(config: CompareConfig, arm: str, grid: Sequence[float],
                      seeds: Sequence[int], *, val_fraction: float = 0.2,
                      log: Callable[[str], Any] | None = None) -> list[list[float]]:
    r"""Validation accuracy of ``arm`` at every rate of ``grid``, one row per seed.

    :math:`s_k(\eta)`: the accuracy on the validation split (the last ``val_fraction`` of
    the training split, as in :func:`tune_learning_rates`) after ``config.epochs`` epochs
    from seed :math:`k`'s initialisation and minibatch order; NaN for a diverged run.

    Parameters
    ----------
    config : CompareConfig
        Model, data and epochs (its ``lrs`` are ignored).
    arm : str
        One of ``config.optimizers``.
    grid : sequence of float
        The rates.
    seeds : sequence of int
        The seeds, one row each.
    val_fraction : float, default 0.2
        Share of the training split held out for validation.
    log : callable, optional
        Called with one line per run.

    Returns
    -------
    list of list of float
        ``rows[k][j]`` = :math:`s_{k}(\eta_j)`.
    """
    if arm not in config.optimizers:
        raise ValueError(f"arm must be one of {list(config.optimizers)}, got {arm!r}")
    config = replace(config, lrs={})
    ds, model = prepare(config, val_fraction=val_fraction)
    return [[_validation_score(config, ds, model, arm, lr, seed, False, log) for lr in grid]
            for seed in _distinct_seeds(seeds)]


def run_comparison(config: CompareConfig, *, progress: bool = True,
                   log: Callable[[str], Any] | None = None, model: Any = None,
                   diagnostic_epochs: int = 0) -> dict:
    """Train every optimizer of ``config`` with every seed; return the report dict.

    The data split is fixed (seed 0) so seeds vary the initialisation and minibatch
    order only. Test accuracy is measured on the held-out test split after the last
    epoch. ``model``, when given, replaces ``config.model`` (see :func:`prepare`; a
    model whose parameters come with it, like a torch module's, starts every seed from
    the same parameters). ``"environment"`` records the library's version, the start
    time and the machine (:func:`environment`). With ``diagnostic_epochs`` > 0, every
    run record gets ``"diagnostics"`` (:func:`early_diagnostics`) over the steps of its
    first ``diagnostic_epochs`` epochs, read on the first :data:`PROBE_ROWS` test rows
    (one forward pass of those rows per step: the runs take longer, by that, not in
    their ``steps["time"]``).
    """
    check_int(diagnostic_epochs, "diagnostic_epochs")
    ds, model = prepare(config, model=model)
    diagnostic_steps = diagnostic_epochs * math.ceil(ds.n_train / config.batch_size)
    env = environment()
    runs: dict[str, list] = {name: [] for name in config.optimizers}
    for name in config.optimizers:
        for seed in config.seeds:
            record = _train_once(config, ds, model, name, config.lr(name), seed, ds.X_test,
                                 ds.y_test, progress, diagnostic_steps)
            runs[name].append(record)
            if log is not None:
                log(f"{name:>8} seed {seed}: test accuracy {100 * record['eval_accuracy']:.2f}% "
                    f"({record['status']}, {record['wall_time']:.1f} s)")
    summary = {name: summarise(records) for name, records in runs.items()}
    return {"config": asdict(config), "environment": env, "model": repr(model), "dataset": {
        "name": ds.name, "n_train": ds.n_train, "n_test": ds.n_test,
        "input_shape": list(ds.input_shape), "n_classes": ds.n_classes},
        "groups": model.layers(), "runs": runs, "summary": summary}


def finished(records: list) -> list:
    """The runs of ``records`` that did not diverge (a diverged run has no final accuracy)."""
    return [r for r in records if r["status"] != "diverged"]


def gradient_evaluations(run: dict) -> np.ndarray:
    r"""Cumulative gradient evaluations after each training step of one run record.

    Step :math:`t` costs :math:`1 + c_t` gradient evaluations: the minibatch gradient
    handed to the optimizer, plus the :math:`c_t` oracle calls the step declared in its
    :class:`~rso_ref.optim.contract.StepInfo` (``oracle_calls``, recorded as
    ``run["steps"]["oracle_calls"]``; RSO's meta-solve, each a forward and a backward pass). So
    entry :math:`t` is :math:`\sum_{s \le t} (1 + c_s)`: for SGD or Adam the step
    count. An RSO step whose meta-solve runs all its K iterations costs at least
    :math:`K + 2` (the step gradient, :math:`f` at :math:`w_0`, then one call or more per
    iteration, as its line search may try several points). Hessian-vector products
    (``StepInfo.hvp_calls``, Dom-/Bulk-SGD) are not counted here.

    Returns
    -------
    numpy.ndarray
        float64, one entry per recorded step (empty when no step was recorded).
    """
    return np.cumsum(1.0 + np.asarray(run["steps"]["oracle_calls"], dtype=np.float64))


def gradient_evaluations_per_step(run: dict) -> float:
    r"""Mean gradient evaluations per training step of one run record (1.0 without steps).

    :math:`1 + \bar c`: the record's total ``meta_nfev`` (the sum of its steps'
    ``oracle_calls``) over its number of steps, ``len(run["steps"]["loss"])``; 1 for
    optimizers that use only the gradient they are handed. It equals the last entry of
    :func:`gradient_evaluations` over the number of steps.

    The step count comes from the per-step records, so ``run`` must keep ``"steps"``: the
    records of a saved preset report (:func:`rso_ref.presets.compact` drops them) raise
    ``KeyError``; their analysis keeps this number per arm
    (``report["analysis"]["arms"][arm]["gradient_evaluations_per_step"]``).
    """
    return 1.0 + run["meta_nfev"] / max(len(run["steps"]["loss"]), 1)


def curve_data(report: dict) -> dict | None:
    """Per-arm, per-seed curves for :func:`~rso_ref.plots.plot_loss_curves`.

    Each arm maps to lists with one row per seed: ``step_loss`` (the minibatch loss of
    each step), ``gradient_evaluations`` (:func:`gradient_evaluations`), ``wall_time``
    (cumulative seconds spent in the training steps, evaluation excluded) and
    ``eval_accuracy`` (test accuracy after each epoch). ``None`` when the runs differ in
    length (e.g. one diverged early) or are empty, as the plot averages curves step by
    step.
    """
    curves = {name: {"step_loss": [r["steps"]["loss"] for r in records],
                     "gradient_evaluations": [gradient_evaluations(r) for r in records],
                     "wall_time": [np.cumsum(np.asarray(r["steps"]["time"], dtype=np.float64))
                                   for r in records],
                     "eval_accuracy": [r["epochs"]["eval_accuracy"] for r in records]}
              for name, records in report["runs"].items()}
    lengths = {len(row) for c in curves.values() for row in c["step_loss"]}
    acc_lengths = {len(row) for c in curves.values() for row in c["eval_accuracy"]}
    return curves if len(lengths) == 1 and len(acc_lengths) == 1 and 0 not in lengths else None


def summarise(records: list) -> dict:
    """One arm's summary over its runs: test accuracy mean and std over the finished runs
    (diverged runs are counted, not averaged), mean wall time and gradient evaluations per
    step, the diverged count, the number of seeds and the rate.

    Parameters
    ----------
    records : list of dict
        The arm's run records (:func:`run_comparison`'s ``runs[arm]``), at least one.

    Returns
    -------
    dict
        ``{"test_accuracy_mean", "test_accuracy_std", "wall_time_mean",
        "gradient_evaluations_per_step", "diverged", "n_seeds", "lr"}``.
    """
    acc = [r["eval_accuracy"] for r in finished(records)]
    acc_mean, acc_std = mean_std(acc) if acc else (float("nan"), 0.0)
    return {
        "test_accuracy_mean": acc_mean,
        "test_accuracy_std": acc_std,
        "wall_time_mean": float(np.mean([r["wall_time"] for r in records])),
        "gradient_evaluations_per_step": float(np.mean(
            [gradient_evaluations_per_step(r) for r in records])),
        "diverged": int(sum(r["status"] == "diverged" for r in records)),
        "n_seeds": len(records),
        "lr": records[0]["lr"],
    }


def environment() -> dict:
    """Where, when and with what a report is made, for ``report.json``.

    Timings in a report mean little without the machine and the thread pools they ran
    with (one BLAS thread or two made the demo's RSO arm 2 s or 70-100 s under load).

    Returns
    -------
    dict
        ``rso_ref`` (the installed version, :func:`~rso_ref.extras.installed_version`),
        ``time`` (now, ISO 8601 with the UTC offset), ``platform``, ``python``,
        ``numpy`` and ``scipy`` (versions) and ``threadpools``: for each thread pool
        loaded in this process (:func:`rso_ref.extras.threadpool_info`), its ``user_api``
        (``"blas"`` or ``"openmp"``), ``internal_api`` (the library), ``version`` and
        ``num_threads`` at the time of the call, i.e. under the caller's limit
        (``rso-ref`` trains with one BLAS thread, :func:`rso_ref.cli.blas_threads`).

    Raises
    ------
    ImportError
        Naming the ``cli`` extra when threadpoolctl is not installed.
    """
    return {
        "rso_ref": installed_version(),
        "time": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": importlib.metadata.version("scipy"),
        "threadpools": [{key: pool.get(key) for key in
                         ("user_api", "internal_api", "version", "num_threads")}
                        for pool in threadpool_info()],
    }


def _table(report: dict) -> tuple[str, list[str], list[list[str]]]:
    """The results table's caption, column names and rows of cells (one per arm)."""
    config = report["config"]
    seeds = len(config["seeds"])
    caption = (f"{report['model']} on {report['dataset']['name']} "
               f"({config['epochs']} epochs, batch {config['batch_size']}, "
               f"{seeds} seed{'s' if seeds > 1 else ''}, {config['backend']}/{config['dtype']})")
    columns = ["optimizer", "lr", "test acc (%)", "time (s)", "grad evals/step"]
    rows = []
    for name, s in report["summary"].items():
        acc = f"{100 * s['test_accuracy_mean']:.2f}"
        if s["n_seeds"] - s["diverged"] > 1:   # one seed has no spread: the bare mean
            acc += f" ± {100 * s['test_accuracy_std']:.2f}"
        if s["diverged"]:
            acc += f" ({s['diverged']} of {s['n_seeds']} diverged)"
        rows.append([name, f"{s['lr']:.3g}", acc, f"{s['wall_time_mean']:.2f}",
                     f"{s['gradient_evaluations_per_step']:.2f}"])
    return caption, columns, rows


#: What the results table's columns mean (under the table in ``results.md``).
_COLUMNS_NOTE = (
    "Test accuracy after the last epoch (mean ± std over the seeds that did not diverge; "
    "the bare value for one seed). Time: seconds per run, training and evaluation. Grad "
    "evals/step: gradient evaluations per training step, the minibatch gradient plus the "
    "oracle calls the optimizer declared (RSO's meta-solve).")


def summary_table(report: dict) -> str:
    """The results table as aligned plain text (one row per optimizer), for the console."""
    caption, columns, rows = _table(report)
    widths = [max(len(cell) for cell in column) for column in zip(columns, *rows)]
    lines = ["  ".join([row[0].ljust(widths[0])]   # names left, numbers right
                      + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])])
             for row in (columns, *rows)]
    return "\n".join([caption, *lines])


def summary_markdown(report: dict) -> str:
    """The results table as a markdown page: caption, table, column notes, provenance."""
    caption, columns, rows = _table(report)
    env = report.get("environment")
    made = (f"Made by rso_ref {env['rso_ref']} on {env['time']} (Python {env['python']}, "
            f"{env['platform']}); the full record is `report.json`." if env else
            "The full record is `report.json`.")
    lines = [f"# Results: {caption}", "",
             "| " + " | ".join(columns) + " |",
             "| --- |" + " ---: |" * (len(columns) - 1),
             *("| " + " | ".join(row) + " |" for row in rows),
             "", _COLUMNS_NOTE, "", made]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``results.md``, ``loss_curves.png`` and ``rso_layer_weights.png``.

    ``results.md`` is :func:`summary_markdown`; ``loss_curves.png`` is drawn when the
    runs have equal lengths (:func:`curve_data`), ``rso_layer_weights.png`` when an arm
    is called ``"rso"`` and recorded weights (its first seed's). Every file is written
    atomically.
    """
    from .plots import plot_layer_weights, plot_loss_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": write_json_atomic(out / "report.json", report),
             "results": write_text_atomic(out / "results.md", summary_markdown(report))}
    curves = curve_data(report)
    if curves is not None:
        paths["loss_curves"] = plot_loss_curves(
            curves, out / "loss_curves.png",
            title=f"{report['model'].split('(')[0]} on {report['dataset']['name']}")
    if "rso" in report["runs"]:
        run = report["runs"]["rso"][0]
        weights = [w for w in run["steps"]["w"] if w is not None]
        if weights:
            names = [f"layer {i + 1}" for i in range(len(weights[0]))]
            paths["rso_layer_weights"] = plot_layer_weights(
                weights, out / "rso_layer_weights.png", group_names=names,
                title=f"RSO layer weights, seed {run['seed']} (paper Figure 1)")
    return paths
