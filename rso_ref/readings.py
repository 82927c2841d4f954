"""Readings of committed claim reports shared by the claims and the presets.

The README's sentence on the §4.5 ablations is rendered from ``theory/report.json`` by
:func:`readme_sentence`, both by the claim ``ablations`` (:mod:`rso_ref.claims.ablations`,
its page) and by the presets' "results at a glance" block (:mod:`rso_ref.presets.glance`).
It lives below both, with the paper's ablation numbers it compares against, so that the
experiment harness imports nothing from the claims (DESIGN.md, import direction).
"""
from __future__ import annotations

__all__ = ["PAPER_K", "PAPER_GROUPS", "PAPER_GAPS", "ALPHA", "readme_sentence", "sub_reading"]

#: K values of §4.5 and the paper's accuracies (%) and overheads (fractions).
PAPER_K = {2: (77.2, 0.02), 4: (78.8, 0.04), 6: (79.3, 0.06), 16: (79.3, 0.18)}
#: The paper's grouping accuracies (%).
PAPER_GROUPS = {"layer": 77.8, "block": 79.3, "uniform:5": 78.5}
#: The paper's gaps (points) the "higher than" sub-claims are held against, by test name.
PAPER_GAPS = {"K6-K2": PAPER_K[6][0] - PAPER_K[2][0],
              "block-layer": PAPER_GROUPS["block"] - PAPER_GROUPS["layer"]}
#: Level of every test of the ablations (paired t-tests and TOSTs, after Holm over the
#: family ``rso_ref.claims.ablations.HOLM_FAMILY``).
ALPHA = 0.05


_SUB_LABELS = {"K6_beats_K2@steps": "K = 6 above K = 2 at equal steps",
               "K6_beats_K2@evals": "K = 6 above K = 2 at equal gradient evaluations",
               "K16_no_gain@steps": "K = 16 no gain over K = 6 at equal steps",
               "K16_no_gain@evals": "K = 16 no gain over K = 6 at equal gradient evaluations",
               "overhead": "overhead " + " / ".join(f"{100 * overhead:g}"
                                                    for _, overhead in PAPER_K.values()) + " %",
               "blocks_best": "blocks the best grouping"}
_SUB_TESTS = {"K6_beats_K2@steps": "K6-K2@steps", "K6_beats_K2@evals": "K6-K2@evals",
              "K16_no_gain@steps": "K16-K6@steps", "K16_no_gain@evals": "K16-K6@evals",
              "blocks_best": "block-layer"}


def sub_reading(name: str, numbers: dict) -> str:
    """One sub-verdict with the number it rests on, from the stored ``numbers``."""
    verdict = numbers["sub_verdicts"][name]
    if name == "overhead":
        calls = numbers["overhead_calls"]
        return (f"{_SUB_LABELS[name]}: **{verdict}** (oracle calls per step beyond the one "
                "gradient of an SGD step: "
                + ", ".join(f"K = {k}: {float(v):.1f}, i.e. +{100 * float(v):.0f} %"
                            for k, v in calls.items()) + ")")
    test = numbers["tests"].get(_SUB_TESTS[name])
    if test is None:
        return f"{_SUB_LABELS[name]}: **{verdict}** (no test: an epoch exceeds the budget)"
    text = (f"{_SUB_LABELS[name]}: **{verdict}** ({_SUB_TESTS[name].split('@')[0]} "
            f"{test['diff']:+.2f} points, 95 % CI [{test['lo']:+.2f}, {test['hi']:+.2f}], "
            f"Holm p = {test['p_holm']:.2g}")
    tost = numbers["tost"].get(_SUB_TESTS[name])
    if tost is not None:
        text += f", TOST ±{tost['margin']:g} Holm p = {tost['p_holm']:.2g}"
    if verdict == "no-evidence":
        text += f"; detectable at 80 % power: {test['detectable']:.1f} points"
    gap = PAPER_GAPS.get(_SUB_TESTS[name].split("@")[0])
    if verdict == "refuted" and gap is not None and test.get("p_below_gap_holm", 1.0) < ALPHA:
        text += (f"; below the paper's {gap:+.1f}, one-sided Holm p = "
                 f"{test['p_below_gap_holm']:.2g}")
    return text + ")"


def readme_sentence(entry: dict) -> str:
    """The README's statement on the ablations, rendered from ``theory/report.json``.

    ``entry`` is ``report["claims"]["ablations"]``; the README holds this sentence
    verbatim (a test compares them), so its verdict follows the committed page's.
    """
    numbers = entry["numbers"]
    return (f"The §4.5 ablations (`ablations`, {numbers['protocol']['depth']}-layer MLP on the "
            "digits) are "
            f"**{entry['verdict']}** at small scale: "
            + "; ".join(sub_reading(name, numbers) for name in numbers["sub_verdicts"]) + ".")
