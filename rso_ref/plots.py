"""Matplotlib figures for training runs: loss curves and RSO layer-weight dynamics.

Figures are written to PNG with the non-interactive Agg backend (no display needed) and
atomically (temporary file, then :func:`os.replace`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .checkpoint import atomic_path
from .extras import require

__all__ = ["pyplot", "save_figure", "plot_loss_curves", "plot_layer_weights", "smooth"]


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend unless one is already chosen."""
    require("matplotlib", "cli", "plotting").use("Agg", force=False)
    return require("matplotlib.pyplot", "cli", "plotting")


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (PNG) atomically and close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return Path(path)


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average with a window of at most ``window`` steps."""
    arr = np.asarray(values, dtype=np.float64)
    if window <= 1 or arr.size == 0:
        return arr
    csum = np.cumsum(np.insert(arr, 0, 0.0))
    idx = np.arange(1, arr.size + 1)
    lo = np.maximum(0, idx - window)
    return (csum[idx] - csum[lo]) / (idx - lo)


def _mean_band(rows: Sequence[Sequence[float]], window: int = 1) -> np.ndarray:
    """``(3, n)``: mean, min and max over the rows (seeds) of the smoothed rows."""
    curves = np.array([smooth(row, window) for row in rows], dtype=np.float64)
    return np.stack([curves.mean(axis=0), curves.min(axis=0), curves.max(axis=0)])


#: The loss panels of :func:`plot_loss_curves`: the key of the x values in a run
#: (``None``: the step number), the x-axis label and the panel's title.
_LOSS_PANELS = (
    (None, "training step", "against steps"),
    ("gradient_evaluations", "gradient evaluations (RSO's meta-solve included)",
     "against gradient evaluations"),
    ("wall_time", "training time (s, evaluation excluded)", "against training time"),
)


def plot_loss_curves(runs: Mapping[str, Mapping[str, Sequence]], path: str | os.PathLike, *,
                     title: str = "Training loss", window: int = 10) -> Path:
    r"""Loss against steps, gradient evaluations and time; test accuracy per epoch.

    One line per optimizer; with several seeds the line is the mean over seeds and the
    band their min-max, and the x values of the cost panels are averaged over the seeds
    step by step. The loss is the minibatch loss of each step, a trailing moving
    average over ``window`` steps (:func:`smooth`). Loss against steps flatters an
    optimizer whose step costs more (an RSO step whose meta-solve runs its K iterations
    makes at least :math:`K + 2` gradient evaluations,
    :func:`rso_ref.compare.gradient_evaluations`);
    the panels against gradient evaluations and wall time compare at equal cost.

    Parameters
    ----------
    runs : mapping
        ``{label: {"step_loss": rows, ...}}``, one row per seed (a flat list is one
        seed). Optional keys, each with the same rows: ``"gradient_evaluations"`` and
        ``"wall_time"`` (cumulative, one entry per step; their panel is drawn when every
        run has them) and ``"eval_accuracy"`` (fractions, one per epoch; its panel is
        drawn when some run has at least one value).
        :func:`rso_ref.compare.curve_data` makes this from a report.
    path : path
        The PNG to write (atomically).
    title : str
        The figure's title.
    window : int
        Moving-average window of the loss, in steps.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"runs must be a non-empty mapping of label -> curves, got {runs!r}")
    panels = [(key, xlabel, name) for key, xlabel, name in _LOSS_PANELS
              if key is None or all(key in run for run in runs.values())]
    accuracy = {label: np.atleast_2d(np.asarray(run.get("eval_accuracy", []), dtype=np.float64))
                for label, run in runs.items()}
    with_acc = any(acc.size for acc in accuracy.values())   # seed rows may all be empty
    seeds = max(len(np.atleast_2d(run["step_loss"])) for run in runs.values())
    n_panels = len(panels) + with_acc
    plt = pyplot()
    ticker = require("matplotlib.ticker", "cli", "plotting")
    ncols = min(n_panels, 2)
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 4.0 * nrows), squeeze=False,
                             layout="constrained")
    axes = axes.ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    loss_axes = axes[:len(panels)]
    for i, (label, run) in enumerate(runs.items()):
        color = f"C{i}"
        rows = np.atleast_2d(np.asarray(run["step_loss"], dtype=np.float64))
        loss = _mean_band(rows, window)
        for ax, (key, _, _) in zip(loss_axes, panels):
            x = (np.arange(1, loss.shape[1] + 1) if key is None
                 else np.atleast_2d(np.asarray(run[key], dtype=np.float64)).mean(axis=0))
            ax.plot(x, loss[0], color=color, label=label)
            if rows.shape[0] > 1:
                ax.fill_between(x, loss[1], loss[2], color=color, alpha=0.2, lw=0)
        acc = accuracy[label]
        if acc.size:
            epochs = np.arange(1, acc.shape[1] + 1)
            axes[len(panels)].plot(epochs, 100 * acc.mean(axis=0), marker="o", ms=4,
                                   color=color, label=label)
    for ax, (_, xlabel, name) in zip(loss_axes, panels):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"minibatch loss (moving average, {window} steps)")
        ax.set_title(f"Training loss {name}")
        ax.grid(alpha=0.3)
    if len(panels) > 1:   # the same loss on every panel: one scale to compare them by
        low = min(ax.get_ylim()[0] for ax in loss_axes)
        high = max(ax.get_ylim()[1] for ax in loss_axes)
        for ax in loss_axes:
            ax.set_ylim(low, high)
    if with_acc:
        ax_acc = axes[len(panels)]
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("test accuracy (%)" + (", mean over seeds" if seeds > 1 else ""))
        ax_acc.set_title("Test accuracy after each epoch")
        ax_acc.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax_acc.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title if seeds == 1 else f"{title}: mean over {seeds} seeds, band min to max")
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    return save_figure(fig, path)


def _plain(value: float, _position: object = None) -> str:
    """A tick label without powers of ten: ``-1``, ``0``, ``0.5``, ``10,000``."""
    return f"{value:,.0f}" if abs(value) >= 1 else f"{value:g}"


def plot_layer_weights(weights: Sequence[Sequence[float]], path: str | os.PathLike, *,
                       group_names: Sequence[str] | None = None,
                       title: str = "RSO layer weights (paper Figure 1)",
                       window: int = 20) -> Path:
    r"""RSO's group weights over the steps: smoothed shares and the weights themselves.

    Left: each group's share :math:`|w_i| / \sum_j |w_j|`, stacked, as the paper's
    Figure 1 reports ``w``; a trailing moving average over ``window`` steps, since the
    per-step shares of a minibatch meta-solve are mostly noise. Right: the weights
    :math:`w_i` (same moving average) on an axis that is linear within :math:`\pm 1`
    and logarithmic beyond, with the plain gradient step :math:`w = 1`
    (:math:`\theta' = \theta - \eta g`) drawn: shares alone would hide that on
    minibatches :math:`|w|` keeps growing (see the design notes on unbounded ``w``).

    Parameters
    ----------
    weights : sequence of sequences of float
        One weight vector per step, all of the same length (``None`` rows are skipped).
    path : path
        The PNG to write (atomically).
    group_names : sequence of str, optional
        A name per group (default ``group 0``, ``group 1``, ...).
    title : str
        The title of the shares panel.
    window : int
        Moving-average window, in steps.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    w = np.asarray([row for row in weights if row is not None], dtype=np.float64)
    if w.ndim != 2 or w.shape[0] == 0:
        raise ValueError("weights must be a non-empty list of equal-length weight vectors")
    n_groups = w.shape[1]
    names = list(group_names) if group_names is not None else [f"group {i}" for i in range(n_groups)]
    if len(names) != n_groups:
        raise ValueError(f"group_names has {len(names)} names for {n_groups} groups")
    plt = pyplot()
    ticker = require("matplotlib.ticker", "cli", "plotting")
    share = np.abs(w) / np.maximum(np.abs(w).sum(axis=1, keepdims=True), np.finfo(float).tiny)
    smoothed_share = np.array([smooth(column, window) for column in share.T])
    steps = np.arange(1, w.shape[0] + 1)
    fig, (ax_share, ax_raw) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    ax_share.stackplot(steps, smoothed_share, labels=names, alpha=0.85)
    ax_share.set_ylim(0, 1)
    ax_share.set_xlim(steps[0], steps[-1])
    ax_share.set_xlabel("RSO step")
    ax_share.set_ylabel(f"share |w_i| / Σ_j |w_j| (moving average, {window} steps)")
    ax_share.set_title(title)
    for i in range(n_groups):
        ax_raw.plot(steps, smooth(w[:, i], window), color=f"C{i}")
    ax_raw.axhline(1.0, color="k", lw=1.0, ls="--", label="w = 1: the plain gradient step")
    ax_raw.set_yscale("symlog", linthresh=1.0)
    ax_raw.yaxis.set_major_formatter(ticker.FuncFormatter(_plain))
    ax_raw.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax_raw.set_xlabel("RSO step")
    ax_raw.set_ylabel(f"w_i (moving average, {window} steps)")
    ax_raw.set_title("Weights w_i (linear within ±1, logarithmic beyond)")
    ax_raw.set_xlim(steps[0], steps[-1])
    ax_raw.margins(y=0.03)
    ax_raw.grid(alpha=0.3)
    handles = (ax_share.get_legend_handles_labels()[0]
               + ax_raw.get_legend_handles_labels()[0])
    labels = names + ["w = 1: the plain gradient step"]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    return save_figure(fig, path)
