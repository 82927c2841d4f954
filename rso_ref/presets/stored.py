"""A committed preset report analysed and rendered again, without training.

A preset's ``report.json`` (:func:`~rso_ref.presets.pages.compact`) keeps every run's
seed, status, final test accuracy, per-epoch curves and meta-solve count, and its
analysis keeps the per-arm numbers that needed the per-step records
(:data:`~rso_ref.presets.analysis.STEP_STATISTICS`). That is all
:func:`~rso_ref.presets.analysis.analyse` needs, so a change of the analysis (a test, a
median, a family) reaches the committed pages by :func:`rerender`, with the raw numbers
unchanged; only ``curves.png``, drawn from the per-step records, is kept as it was.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .analysis import analyse
from .pages import write_index, write_preset

__all__ = ["reanalyse", "load_report", "rerender", "rerender_tables"]


def reanalyse(report: dict) -> dict:
    """A copy of a preset report with its ``"analysis"`` made again by :func:`analyse`.

    The preset's ``reference`` and ``focus`` come from ``report["preset"]``; every other
    key is the report's own (the same objects, not copies).
    """
    preset = report["preset"]
    return {**report, "analysis": analyse(report, reference=preset["reference"],
                                          focus=tuple(preset["focus"]))}


def load_report(directory: str | Path) -> dict:
    """``directory/report.json``, parsed."""
    return json.loads((Path(directory) / "report.json").read_text(encoding="utf-8"))


def rerender(directory: str | Path, *, lr_seeds: dict | None = None) -> dict[str, Path]:
    """Analyse ``directory/report.json`` again and rewrite its page, figures and report.

    Parameters
    ----------
    directory : str or Path
        A preset's output directory (``report.json``; ``curves.png`` is kept).
    lr_seeds : dict, optional
        :func:`rso_ref.presets.lr_seeds.score_grid_seeds`'s result, stored in the report
        as ``"lr_seeds"`` (the LR range on the mean over seeds).

    Returns
    -------
    dict
        :func:`~rso_ref.presets.pages.write_preset`'s paths.
    """
    report = load_report(directory)
    if lr_seeds is not None:
        report["lr_seeds"] = lr_seeds
    return write_preset(reanalyse(report), directory)


def rerender_tables(root: str | Path, names: Sequence[str],
                    lr_seeds: dict[str, dict] | None = None) -> Path:
    """:func:`rerender` each preset of ``names`` under ``root``, then write the index.

    The index (:func:`~rso_ref.presets.pages.write_index`) covers every
    ``root/NAME/report.json`` written by a preset (it has ``"preset"``), in ``PRESETS``
    order: those of ``names``
    as just written, the others as stored.
    """
    from .protocol import PRESETS

    root = Path(root)
    seeds = lr_seeds or {}
    for name in names:
        rerender(root / name, lr_seeds=seeds.get(name))
    reports = [load_report(root / name) for name in PRESETS
               if (root / name / "report.json").is_file()]
    return write_index([r for r in reports if "preset" in r], root)
