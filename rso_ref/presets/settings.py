r"""Arms across two presets, paired by seed: the literal run vs the paper's setting, and a
compute-matched control beside the preset it controls.

``table1-cifar-resnet`` runs the literal Algorithm 1 on a ResNet without normalisation
(cold start, layer groups, no warm-up); ``table1-cifar-resnet-norm`` the paper's setting
(group normalisation, block groups, §2.3's SGD warm-up). Both have the same data, epochs,
seeds and protocol, so each arm they share is compared across them, paper's setting minus
literal. The runs of one seed in the two presets share the minibatch order (the same
data, batch and ``default_rng([seed, epoch])``) and the seed's draws of the
initialisation (the networks differ by their normalisation layers), so they are paired by
seed (:func:`~rso_ref.presets.analysis.paired_test`) and Holm-adjusted over the shared
arms. For RSO the difference is that of the whole setting (the network's normalisation,
the grouping and the warm-up together), not of one of its parts; for the baselines, that
of the normalisation alone.

A preset with ``control_of`` (``compute-matched-mnist1d-mlp``: the baselines of
``table1-mnist1d-mlp`` at its RSO arm's gradient-evaluation budget) is compared the same
way: the tested preset's arm under test minus each arm of the control, on the same model,
data and seeds (so the same initialisation, and the same minibatch order over the epochs
both ran), Holm-adjusted over the control's arms (:func:`control_comparisons`).
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..stats import holm
from .analysis import conclusion, family_line, holm_family, paired_test
from .protocol import TABLE1_RESNET_BN

__all__ = ["SETTING_PAIRS", "setting_tests", "setting_comparisons", "settings_section",
           "control_comparisons", "control_section", "cross_preset_tests"]

#: ``(literal preset, preset in the paper's setting, its factor study or None)`` triples:
#: the two presets are compared arm by arm; the factor study (a directory beside them)
#: separates RSO's difference into its factors, one at a time.
SETTING_PAIRS = (("table1-cifar-resnet", "table1-cifar-resnet-norm", None),
                 ("table1-cifar-resnet", TABLE1_RESNET_BN, f"{TABLE1_RESNET_BN}-factors"))


def cross_preset_tests(a: dict, b: dict, members: Sequence[tuple[str, str]],
                       name: str) -> dict:
    r"""Arm ``x`` of report ``a`` minus arm ``y`` of report ``b``, paired by seed, per member.

    Parameters
    ----------
    a, b : dict
        Two (compact) preset reports that ran the same seeds.
    members : sequence of (str, str)
        The family: ``(arm of a, arm of b)`` pairs.
    name : str
        The family's name (:func:`~rso_ref.presets.analysis.holm_family`).

    Returns
    -------
    dict
        ``{"family", "comparisons"}``; each comparison: ``arm``, ``reference``,
        :func:`~rso_ref.presets.analysis.paired_test`'s numbers (``diff`` is the mean over
        seeds of :math:`a_x(s) - b_y(s)`), ``p_holm`` over exactly the family and the
        ``conclusion``.

    Raises
    ------
    ValueError
        If an arm pair ran different seeds.
    """
    family = holm_family(members, name)
    names = a["preset"]["name"], b["preset"]["name"]
    rows = [{"arm": x, "reference": y,
             **paired_test(a["runs"][x], b["runs"][y],
                           names=(f"{names[0]}: {x}", f"{names[1]}: {y}"))}
            for x, y in family["members"]]
    for row, p in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = p
        row["conclusion"] = conclusion(row)
    return {"family": family, "comparisons": rows}


def setting_tests(literal: dict, paper: dict) -> dict:
    """The paired test of each shared arm, paper's setting minus literal, Holm-adjusted.

    One member per arm of ``paper`` that ``literal`` has too, in ``paper``'s order
    (:func:`cross_preset_tests`, ``a = paper``, ``b = literal``): ``{"family",
    "comparisons"}``.
    """
    shared = [arm for arm in paper["runs"] if arm in literal["runs"]]
    return cross_preset_tests(paper, literal, [(arm, arm) for arm in shared],
                              "each shared arm, paper's setting minus literal")


def setting_comparisons(literal: dict, paper: dict) -> list[dict]:
    """The comparisons of :func:`setting_tests` (one per shared arm, in ``paper``'s order)."""
    return setting_tests(literal, paper)["comparisons"]


def control_comparisons(tested: dict, control: dict) -> dict:
    """The tested preset's arms under test minus each arm of its control, paired by seed.

    Members: every ``focus`` arm of ``tested`` against every arm of ``control``
    (:func:`cross_preset_tests`, ``a = tested``, ``b = control``).
    """
    members = [(x, y) for x in tested["preset"]["focus"] for y in control["runs"]]
    return cross_preset_tests(tested, control, members,
                              f"{', '.join(tested['preset']['focus'])} against every arm of "
                              "the control")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _test_cells(c: dict) -> list[str]:
    return [f"{100 * c['diff']:+.2f} [{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}]",
            f"{c['p']:.3g}", f"{c['p_holm']:.3g}", f"{c['test']} ({len(c['seeds'])})"]


def settings_section(reports: Sequence[dict], label: Callable[[str, dict], str]) -> list[str]:
    """The index's section for every pair of :data:`SETTING_PAIRS` among ``reports``.

    ``label(arm, config)`` is the arm's display name (:func:`~rso_ref.presets.pages.arm_label`).
    Empty when no pair has both reports.
    """
    by_name = {r["preset"]["name"]: r for r in reports}
    lines: list[str] = []
    for literal_name, paper_name, factors in SETTING_PAIRS:
        if literal_name not in by_name or paper_name not in by_name:
            continue
        literal, paper = by_name[literal_name], by_name[paper_name]
        result = setting_tests(literal, paper)
        lines += [f"## Literal run vs the paper's setting: [{literal_name}]"
                  f"({literal_name}/README.md) vs [{paper_name}]({paper_name}/README.md)", "",
                  f"*Literal:* {literal['preset']['title']}. *Paper's setting:* "
                  f"{paper['preset']['title']}. Same data, epochs, seeds and protocol; each "
                  "shared arm compared paper's setting minus literal, in accuracy points, "
                  "paired by seed: the two runs of a seed share the minibatch order and the "
                  "seed's draws of the initialisation (the networks differ by their "
                  "normalisation layers), and the test is on the per-seed differences. For "
                  "RSO the difference is the whole setting's (normalisation, groups, "
                  "warm-up and rate together)"
                  + (f", separated one factor at a time in [{factors}]({factors}/README.md)"
                     if factors else "") + "; for the baselines the normalisation's.", "",
                  family_line(result["family"],
                              lambda arm: f"paper's {label(arm, paper['config'])}",
                              lambda arm: f"literal {label(arm, literal['config'])}"), "",
                  "| arm | literal (%) | paper's setting (%) | difference [95 % CI] | p | "
                  "p (Holm) | test (pairs) |", "|" + " --- |" * 7]
        for row in result["comparisons"]:
            lit = literal["analysis"]["arms"][row["arm"]]["test_accuracy_mean_std"]
            pap = paper["analysis"]["arms"][row["arm"]]["test_accuracy_mean_std"]
            lines.append(_row([label(row["arm"], paper["config"]),
                               f"{100 * lit[0]:.2f} ± {100 * lit[1]:.2f}",
                               f"{100 * pap[0]:.2f} ± {100 * pap[1]:.2f}", *_test_cells(row)]))
        lines.append("")
    return lines


def control_section(reports: Sequence[dict], label: Callable[[str, dict], str]) -> list[str]:
    """The index's section for every preset of ``reports`` that is the control of another.

    The tested preset's own test against its best baseline first, then its arm under
    test against every arm of the control (:func:`control_comparisons`). Empty without
    such a pair.
    """
    by_name = {r["preset"]["name"]: r for r in reports}
    lines: list[str] = []
    for control in reports:
        tested = by_name.get(control["preset"].get("control_of"))
        if tested is None:
            continue
        result = control_comparisons(tested, control)
        t_name, c_name = tested["preset"]["name"], control["preset"]["name"]
        t_epochs, c_epochs = tested["config"]["epochs"], control["config"]["epochs"]
        own = tested["analysis"]["comparisons"][0]
        lines += [f"## Compute-matched control: [{t_name}]({t_name}/README.md) beside "
                  f"[{c_name}]({c_name}/README.md)", "",
                  f"*Control:* {control['preset']['title']}; its learning rates re-tuned on "
                  f"the validation split at {c_epochs} epochs (the presets' protocol). At "
                  f"{t_epochs} epochs, {label(own['arm'], tested['config'])} − "
                  f"{label(own['reference'], tested['config'])} (the best baseline) is "
                  f"{100 * own['diff']:+.2f} points [{100 * own['lo']:+.2f}, "
                  f"{100 * own['hi']:+.2f}] (Holm p = {own['p_holm']:.3g}, "
                  f"{own['test']}). Below, the same arm ({t_epochs} epochs) minus each arm of "
                  f"the control ({c_epochs} epochs), paired by seed: the same model, data "
                  "and seeds, so the same initialisation, and the same minibatch order over "
                  "the epochs both ran.", "",
                  family_line(result["family"], lambda arm: label(arm, tested["config"]),
                              lambda arm: f"{label(arm, control['config'])} ({c_epochs} "
                              "epochs)"),
                  "", f"| arm ({t_epochs} epochs) | its accuracy (%) | vs ({c_epochs} epochs) "
                  "| its accuracy (%) | lr | difference [95 % CI] | p | p (Holm) | "
                  "test (pairs) | conclusion |", "|" + " --- |" * 10]
        for row in result["comparisons"]:
            mine = tested["analysis"]["arms"][row["arm"]]["test_accuracy_mean_std"]
            theirs = control["analysis"]["arms"][row["reference"]]
            name = label(row["reference"], control["config"])
            lines.append(_row([label(row["arm"], tested["config"]),
                               f"{100 * mine[0]:.2f} ± {100 * mine[1]:.2f}", name,
                               f"{100 * theirs['test_accuracy_mean_std'][0]:.2f} ± "
                               f"{100 * theirs['test_accuracy_mean_std'][1]:.2f}",
                               f"{theirs['lr']:.3g}", *_test_cells(row),
                               conclusion(row, name)]))
        lines.append("")
    return lines
