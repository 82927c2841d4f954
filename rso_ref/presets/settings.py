r"""One arm across two presets that differ in their setting: the literal run vs the paper's.

``table1-cifar-resnet`` runs the literal Algorithm 1 on a ResNet without normalisation
(cold start, layer groups, no warm-up); ``table1-cifar-resnet-norm`` the paper's setting
(group normalisation, block groups, §2.3's SGD warm-up). Both have the same data, epochs,
seeds and protocol, so each arm they share is compared across them by Welch's t-test on
the per-seed test accuracies (:func:`~rso_ref.stats.welch_diff`), Holm-adjusted over the
shared arms of the pair. For RSO the difference is that of the whole setting (the network's
normalisation, the grouping and the warm-up together), not of one of its parts; for the
baselines, that of the normalisation alone.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..stats import holm, welch_diff

__all__ = ["SETTING_PAIRS", "setting_comparisons", "settings_section"]

#: ``(literal preset, preset in the paper's setting)`` pairs compared arm by arm.
SETTING_PAIRS = (("table1-cifar-resnet", "table1-cifar-resnet-norm"),)


def setting_comparisons(literal: dict, paper: dict) -> list[dict]:
    r"""Welch's test of each shared arm, paper's setting minus literal, Holm-adjusted.

    Parameters
    ----------
    literal, paper : dict
        The two presets' (compact) reports.

    Returns
    -------
    list of dict
        One per arm of ``paper`` that ``literal`` has too, in ``paper``'s order:
        ``arm``, ``literal`` and ``paper`` (per-seed test accuracies of the finished
        runs, from each report's analysis) and :func:`~rso_ref.stats.welch_diff`'s
        ``diff, lo, hi, t, p`` of paper minus literal, with ``p_holm``.
    """
    rows = []
    for arm, stats in paper["analysis"]["arms"].items():
        if arm not in literal["analysis"]["arms"]:
            continue
        a, b = stats["test_accuracy"], literal["analysis"]["arms"][arm]["test_accuracy"]
        rows.append({"arm": arm, "paper": a, "literal": b, **welch_diff(a, b)})
    for row, p in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = p
    return rows


def settings_section(reports: Sequence[dict], label: Callable[[str, dict], str]) -> list[str]:
    """The index's section for every pair of :data:`SETTING_PAIRS` among ``reports``.

    ``label(arm, config)`` is the arm's display name (:func:`~rso_ref.presets.pages.arm_label`).
    Empty when no pair has both reports.
    """
    by_name = {r["preset"]["name"]: r for r in reports}
    lines: list[str] = []
    for literal_name, paper_name in SETTING_PAIRS:
        if literal_name not in by_name or paper_name not in by_name:
            continue
        literal, paper = by_name[literal_name], by_name[paper_name]
        lines += [f"## Literal run vs the paper's setting: [{literal_name}]"
                  f"({literal_name}/README.md) vs [{paper_name}]({paper_name}/README.md)", "",
                  f"*Literal:* {literal['preset']['title']}. *Paper's setting:* "
                  f"{paper['preset']['title']}. Same data, epochs, seeds and protocol; each "
                  "shared arm compared by Welch's t-test (paper's setting minus literal, "
                  "accuracy points), Holm-adjusted over the shared arms. For RSO the "
                  "difference is the whole setting's (normalisation, groups and warm-up "
                  "together); for the baselines the normalisation's.", "",
                  "| arm | literal (%) | paper's setting (%) | difference [95 % CI] | p | "
                  "p (Holm) |", "|" + " --- |" * 6]
        for row in setting_comparisons(literal, paper):
            lit = literal["analysis"]["arms"][row["arm"]]["test_accuracy_mean_std"]
            pap = paper["analysis"]["arms"][row["arm"]]["test_accuracy_mean_std"]
            lines.append(
                f"| {label(row['arm'], paper['config'])} | {100 * lit[0]:.2f} ± "
                f"{100 * lit[1]:.2f} | {100 * pap[0]:.2f} ± {100 * pap[1]:.2f} | "
                f"{100 * row['diff']:+.2f} [{100 * row['lo']:+.2f}, {100 * row['hi']:+.2f}] | "
                f"{row['p']:.3g} | {row['p_holm']:.3g} |")
        lines.append("")
    return lines
