"""Theorem 1 claims: the figures (matplotlib), drawn from the runs' numbers."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..plots import pyplot, save_figure
from .common import EXACT_K
from .convergence_rules import PAPER_KS, TARGET_RTOL

__all__ = ["plot_gaps", "plot_rates", "plot_eigs", "plot_failures"]

_METHOD_STYLE = {"GD": {"color": "black", "lw": 2},
                 "RSO exact": {"color": "tab:red", "lw": 3, "alpha": 0.6},
                 "RSO scipy tol": {"color": "tab:orange", "lw": 2, "ls": "--"}}


def plot_gaps(rate: dict, path: Path) -> None:
    plt = pyplot()
    conds = rate["conds"]
    fig, axes = plt.subplots(2, len(conds), figsize=(4.4 * len(conds), 8.2), squeeze=False,
                             layout="constrained")
    cmap = plt.get_cmap("viridis")
    for r, kind in enumerate(("least_squares", "logistic")):
        for c, cond in enumerate(conds):
            ax = axes[r][c]
            rows = [x for x in rate["rows"] if x["problem"] == kind and x["cond"] == cond
                    and x["seed"] == rate["seeds"][0]]
            for i, row in enumerate(rows):
                style = _METHOD_STYLE.get(row["method"], {"color": cmap(i / len(rows)),
                                                          "lw": 1.2})
                t = np.arange(1, row["gaps"].size)
                ax.plot(t, np.maximum(row["gaps"][1:], 1e-18), label=row["method"], **style)
            t = np.arange(1, max(x["gaps"].size for x in rows))
            ax.plot(t, rows[0]["C"] / t, "k--", lw=1, label="GD's constant: L‖θ₀−θ*‖²/(2t)")
            ax.axhline(rows[0]["floor"], color="grey", lw=0.8, label="round-off floor")
            ax.axvline(5 * cond, color="grey", lw=0.8, ls=":", label="t = 5κ")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(max(rows[0]["floor"] / 10, 1e-17), None)
            ax.set_title(f"{kind.replace('_', ' ')}, κ = {cond:g}", fontsize=11)
            ax.tick_params(labelsize=9)
            if r == 1:
                ax.set_xlabel("step t (log scale)")
            if c == 0:
                ax.set_ylabel("loss gap f(θₜ) − f*")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6),
               fontsize=10)
    fig.suptitle(f"Theorem 1: loss gap per step, seed {rate['seeds'][0]} (RSO: 4 blocks, "
                 "η = 1/L; GD: η = 1/L); runs stop at round-off", fontsize=12)
    save_figure(fig, path)


def plot_rates(conds: Sequence[float], table: Sequence[dict], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), layout="constrained", sharey=True)
    cmap = plt.get_cmap("viridis")
    methods = [m for m in dict.fromkeys(r["method"] for r in table) if m != "GD"]
    for col, kind in enumerate(("least_squares", "logistic")):
        units = (("speedup_steps", "step"), ("speedup_calls", "oracle call"))
        for row, (key, unit) in enumerate(units):
            ax = axes[row][col]
            for i, m in enumerate(methods):
                sel = [r for r in table if r["problem"] == kind and r["method"] == m
                       and np.isfinite(r[key])]
                if not sel:
                    continue
                style = _METHOD_STYLE.get(m, {"color": cmap(i / len(methods))})
                ax.plot([r["cond"] * (1.06 ** (i - len(methods) / 2)) for r in sel],
                        [r[key] for r in sel], marker="o", label=m, color=style["color"],
                        ls=style.get("ls", "-"))
            ax.axhline(1.0, color="black", lw=1.5, label="GD (η = 1/L)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(list(conds), [f"{c:g}" for c in conds])
            ax.set_xlabel("condition number κ = L/μ", fontsize=10)
            ax.set_title(f"{kind.replace('_', ' ')}: per {unit}", fontsize=11)
            ax.tick_params(labelsize=9)
            if col == 0:
                ax.set_ylabel(f"GD's median / method's median\n(> 1: faster per {unit})",
                              fontsize=10)
    axes[0][1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"Steps and oracle calls to gap ≤ {TARGET_RTOL:g}·gap₀: medians over all "
                 "seeds (runs that never got there counted); missing: a censored median",
                 fontsize=11)
    save_figure(fig, path)


def plot_eigs(conv: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    bins = np.concatenate([-np.logspace(0, -8, 17), np.logspace(-8, 0, 17)])
    ratios = np.array([x["ratio"] for x in conv["convex"]])
    axes[0].hist(np.clip(ratios, -1, 1), bins=bins, color="tab:blue")
    axes[0].set_title(f"convex problems ({ratios.size} (θ, w) points)")
    axes[0].set_xlabel("λ_min / max|λ| of the meta-Hessian (symlog)")
    axes[0].set_ylabel("count")
    groups = sorted({(x["activation"], x["where"]) for x in conv["mlp"]})
    data = [[x["ratio"] for x in conv["mlp"] if (x["activation"], x["where"]) == g]
            for g in groups]
    axes[1].hist([np.clip(d, -1, 1) for d in data], bins=bins, stacked=True,
                 label=[f"{a}: {w}" for a, w in groups])
    ticks = [-1.0, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 1.0]
    for ax in axes:
        ax.set_xscale("symlog", linthresh=1e-8)
        ax.set_xticks(ticks, ["−1", "−1e-3", "−1e-6", "0", "1e-6", "1e-3", "1"])
        ax.axvline(0, color="k", lw=1)
    axes[1].set_title("MLP on digits (RSO training states)")
    axes[1].set_xlabel("λ_min / max|λ| of the meta-Hessian (symlog; < 0: not convex)")
    axes[1].set_ylabel("count")
    axes[1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Theorem 1 (a): is f(w) = L(θ − η Σ wᵢgᵢ) convex in w?")
    save_figure(fig, path)


def plot_failures(desc: dict, pooled: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.2), layout="constrained")
    arms = desc["arms"]
    xs = np.arange(len(arms), dtype=float)
    n_convex = sum(s["convex"] for s in desc["settings"])
    for i, (group, name) in enumerate((("convex", f"convex problems ({n_convex} settings)"),
                                       ("mlp", "MLP tanh on digits"))):
        est = np.array([pooled[group][k]["rate"] for k in arms])
        lo = np.array([pooled[group][k]["lo"] for k in arms])
        hi = np.array([pooled[group][k]["hi"] for k in arms])
        ax.errorbar(xs + 0.08 * (2 * i - 1), est,
                    yerr=[np.nan_to_num(est - lo), np.nan_to_num(hi - est)], marker="os"[i],
                    capsize=3, label=name)
        for s in (x for x in desc["settings"] if x["convex"] == (group == "convex")):
            ax.scatter(xs + 0.08 * (2 * i - 1), [np.mean(s["fail"][k]) for k in arms],
                       s=8, color=f"C{i}", alpha=0.35)
    labels = [f"exact\n(K={EXACT_K})" if k == EXACT_K else "SciPy\ntol" if k == "scipy"
              else str(k) for k in arms]
    ax.set_xticks(xs, labels)
    for k in (k for k in arms if k != "scipy" and k in PAPER_KS):
        ax.axvspan(arms.index(k) - 0.4, arms.index(k) + 0.4, color="tab:red", alpha=0.08)
    ax.set_xlabel("meta L-BFGS iterations K (start w = 1/L); shaded: the paper's K",
                  fontsize=10)
    ax.set_ylabel("fraction of steps with loss(RSO) > loss(GD)", fontsize=10)
    ax.set_ylim(-0.03, 1.03)
    ax.tick_params(labelsize=9)
    ax.set_title("Theorem 1 (b): does each RSO step beat the gradient step? Every K on the "
                 f"same states (RSO K={desc['reference_k']});\n95 % bootstrap intervals over "
                 "runs; dots: single settings", fontsize=11)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
