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


def plot_loss_curves(runs: Mapping[str, Mapping[str, Sequence]], path: str | os.PathLike, *,
                     title: str = "Training loss", window: int = 10) -> Path:
    """Loss per step (smoothed) and evaluation accuracy per epoch, one line per optimizer.

    ``runs`` maps a label to ``{"step_loss": [...], "epoch": [...], "eval_accuracy": [...]}``
    where ``step_loss`` may also be a list of per-seed lists (mean and min-max band drawn).
    """
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for label, run in runs.items():
        losses = np.atleast_2d(np.asarray(run["step_loss"], dtype=np.float64))
        curves = np.array([smooth(row, window) for row in losses])
        steps = np.arange(1, curves.shape[1] + 1)
        (line,) = ax_loss.plot(steps, curves.mean(axis=0), label=label)
        if curves.shape[0] > 1:
            ax_loss.fill_between(steps, curves.min(axis=0), curves.max(axis=0),
                                 color=line.get_color(), alpha=0.2)
        acc = np.atleast_2d(np.asarray(run.get("eval_accuracy", []), dtype=np.float64))
        if acc.size:
            epochs = np.arange(1, acc.shape[1] + 1)
            ax_acc.plot(epochs, 100 * acc.mean(axis=0), marker="o", color=line.get_color(),
                        label=label)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel(f"minibatch loss (moving average, {window} steps)")
    ax_loss.set_title(title)
    ax_loss.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_title("Evaluation accuracy")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    return save_figure(fig, path)


def plot_layer_weights(weights: Sequence[Sequence[float]], path: str | os.PathLike, *,
                       group_names: Sequence[str] | None = None,
                       title: str = "RSO layer weights (paper Figure 1)", window: int = 5) -> Path:
    """RSO weights per group over steps: raw shares and smoothed trajectories.

    Left: each group's share :math:`|w_i| / \\sum_j |w_j|` (stacked), which is how the
    paper's Figure 1 reports ``w``. Right: the raw :math:`w_i` (moving average of
    ``window`` steps), which shows sign changes and scale.
    """
    plt = pyplot()
    w = np.asarray([row for row in weights if row is not None], dtype=np.float64)
    if w.ndim != 2 or w.shape[0] == 0:
        raise ValueError("weights must be a non-empty list of equal-length weight vectors")
    n_groups = w.shape[1]
    names = list(group_names) if group_names is not None else [f"group {i}" for i in range(n_groups)]
    if len(names) != n_groups:
        raise ValueError(f"group_names has {len(names)} names for {n_groups} groups")
    share = np.abs(w) / np.maximum(np.abs(w).sum(axis=1, keepdims=True), np.finfo(float).tiny)
    steps = np.arange(1, w.shape[0] + 1)
    fig, (ax_share, ax_raw) = plt.subplots(1, 2, figsize=(11, 4))
    ax_share.stackplot(steps, share.T, labels=names, alpha=0.85)
    ax_share.set_ylim(0, 1)
    ax_share.set_xlabel("RSO step")
    ax_share.set_ylabel("share |w_i| / sum |w|")
    ax_share.set_title(title)
    ax_share.legend(loc="upper right", fontsize="small")
    for i in range(n_groups):
        ax_raw.plot(steps, smooth(w[:, i], window), label=names[i])
    ax_raw.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax_raw.set_yscale("symlog", linthresh=0.1)
    ax_raw.set_xlabel("RSO step")
    ax_raw.set_ylabel(f"w_i (moving average, {window} steps)")
    ax_raw.set_title("Raw weights (symlog; 1 = plain gradient step)")
    ax_raw.grid(alpha=0.3)
    return save_figure(fig, path)
