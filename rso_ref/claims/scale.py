r"""Claim ``table1-scale``: Table 1 and §4.3 of the RSO paper (large-scale accuracy and speed).

Table 1 reports CIFAR-100 / ImageNet accuracies of ResNet-50/152 and ViT-B/16 trained
with SGD, Adam, AdamW and RSO; §4.3 says RSO "reaches 90 % accuracy in 72±3 epochs
(vs. 98±5 for Adam)" on CIFAR-100 and beats Adam's GPT-2 perplexity schedule. None of
this can be run here: the data sets are not shipped and cannot be downloaded, and the
compute is years of this machine (:func:`compute_estimate` measures the machine's
float64 matmul rate and multiplies out). The verdict is computed from those two checks.

What we run instead is the small-scale analogue of §4.3: the number of epochs each
optimizer needs to reach a target test accuracy (MLP on the digits; MNIST-1D in the
full protocol), several seeds, a paired t-test between RSO and Adam (the arms share seeds).

What a user with a cluster can run is :data:`CLUSTER_COMMAND`:
``examples/cluster/table1_resnet18.py`` trains a CIFAR ResNet-18 on CIFAR-10/100 read
from the user's binary files under ``torchrun`` (DistributedDataParallel), with
SGD+momentum, Adam, AdamW and RSO in the paper's setting, several seeds, and writes the
presets' compact ``report.json`` (docs/cluster.md). The claim's protocol says how to read
it; nothing here runs it.

References
----------
.. [1] "Recursive Subspace Optimization" (the copy used names no authors or arXiv id),
       §4.2 Table 1, §4.3.
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image Recognition",
       CVPR 2016, arXiv:1512.03385 (ResNet-50: 3.8e9 multiply-adds per 224² image).
.. [3] A. Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021,
       arXiv:2010.11929 (ViT-B/16: 17.6e9 multiply-adds per 224² image).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import data as datasets
from ..optim.registry import DEFAULT_LR, DEFAULT_OPTIONS
from ..rso import DEFAULT_META_ITERS
from ..metrics import epochs_to_target
from ..plots import pyplot, save_figure
from .common import DIGITS_CLASSES, DIGITS_FEATURES, fmt_e
from .registry import Claim, Evidence, register
from .stability import BATCH_SIZE, LABELS, MLP_HIDDEN, OPTIMIZERS, load_task, train_once
from ..stats import censored_median, mean_std, paired_diff
from ..extras import threadpool_limits


__all__ = ["PAPER_SETTINGS", "matmul_flops_per_second", "compute_estimate",
           "speed_runs", "CLUSTER_COMMAND"]

#: (setting, data set name, multiply-adds per example forward, training examples, epochs).
#: ResNet-50 on 32x32 CIFAR images: about (32/224)^2 of the ImageNet figure.
PAPER_SETTINGS = (
    ("CIFAR-100 ResNet-50", "cifar100", 3.8e9 * (32 / 224) ** 2, 50_000, 100),
    ("ImageNet ResNet-50", "imagenet", 3.8e9, 1_281_167, 90),
    ("ImageNet ViT-B/16", "imagenet", 17.6e9, 1_281_167, 300),
)
#: Gradient evaluations per RSO step at K = 5 (1 + n_fev, measured by ``cost-claims``).
RSO_CALLS_PER_STEP = 7
#: The K that :data:`RSO_CALLS_PER_STEP` was measured at (RSO's default).
RSO_CALLS_K = DEFAULT_META_ITERS
#: Wall-time budget of one claim's full protocol here (seconds).
BUDGET_SECONDS = 300.0
#: Target test accuracies of the analogue.
TARGETS = {"digits": 0.96, "mnist1d": 0.60}
#: Seeds of the analogue, and its most epochs per task (quick: digits only).
SEEDS = 3
MAX_EPOCHS_FULL = {"digits": 20, "mnist1d": 15}
MAX_EPOCHS_QUICK = {"digits": 8}
#: Input features (flat layout) and classes of MNIST-1D.
MNIST1D_FEATURES, MNIST1D_CLASSES = 40, 10
#: The cluster protocol (not run here): the script, its arguments and the command.
CLUSTER_SCRIPT = "examples/cluster/table1_resnet18.py"
CLUSTER_ARGS = ("--data", "DIR", "--dataset", "cifar100", "--arms", "sgd,adam,adamw,rso",
                "--seeds", "0,1,2,3,4", "--epochs", "100", "--out", "table1-cifar100-resnet18")
CLUSTER_COMMAND = " ".join(("torchrun --standalone --nproc_per_node=8", CLUSTER_SCRIPT,
                            *CLUSTER_ARGS))
#: The paper's RSO setting the script uses by default: K, groups, SGD warm-up epochs.
CLUSTER_RSO = {"meta_iters": 6, "groups": "block", "warmup_epochs": 5}
#: The matmul of :func:`matmul_flops_per_second`: size and repeats.
MATMUL_N, MATMUL_REPEATS = 384, 5


def matmul_flops_per_second(n: int = MATMUL_N, repeats: int = MATMUL_REPEATS) -> float:
    """Best float64 matmul rate of this machine (BLAS on one thread), in FLOP/s."""
    gen = np.random.default_rng(0)
    a, b = gen.standard_normal((n, n)), gen.standard_normal((n, n))
    best = np.inf
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best


def compute_estimate(flops_per_second: float) -> list[dict]:
    """Lower bound on the time of one RSO training run per paper setting on this machine.

    Training FLOPs :math:`\\approx 3 \\times 2 \\times` multiply-adds (forward plus
    backward) per example per gradient evaluation, times examples, epochs and the
    :data:`RSO_CALLS_PER_STEP` evaluations of an RSO step; at the measured peak matmul
    rate (real convolutions run slower, so this is optimistic).
    """
    rows = []
    for name, data_name, macs, n_train, epochs in PAPER_SETTINGS:
        flops = 3 * 2 * macs * n_train * epochs * RSO_CALLS_PER_STEP
        rows.append({"setting": name, "data": data_name, "train_flops": flops,
                     "seconds": flops / flops_per_second,
                     "data_available": data_name in datasets.LOADERS})
    return rows


def speed_runs(ds: Any, model: Any, seeds: Sequence[int], max_epochs: int, target: float) -> dict:
    """Epochs to ``target`` per optimizer (default LRs) and seed; censored runs give None."""
    out: dict = {name: {"epochs": [], "curves": []} for name in OPTIMIZERS}
    for seed in seeds:
        for name in OPTIMIZERS:
            result = train_once(ds, model, name, DEFAULT_LR[name], seed, max_epochs)
            curve = list(result.epochs["eval_accuracy"])
            out[name]["curves"].append(curve)
            out[name]["epochs"].append(epochs_to_target(curve, target))
    return out


def _duration(seconds: float) -> str:
    """``seconds`` in the largest unit that keeps the number >= 1 (up to years)."""
    for unit, size in (("years", 365 * 86400.0), ("days", 86400.0), ("hours", 3600.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _censored(values: Sequence[int | None], max_epochs: int) -> np.ndarray:
    """Epochs with never-reached runs counted as ``max_epochs + 1`` (a lower bound)."""
    return np.array([max_epochs + 1 if v is None else v for v in values], dtype=np.float64)


def _plot(results: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for ax, (task, r) in zip(axes[0], results.items()):
        for i, name in enumerate(OPTIMIZERS):
            curves = 100 * np.asarray(r["runs"][name]["curves"])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(axis=0), marker="o", color=f"C{i}",
                    label=LABELS[name])
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=f"C{i}",
                            alpha=0.2)
        ax.axhline(100 * r["target"], color="k", ls="--", label=f"target {100 * r['target']:.0f} %")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%): mean, min-max band over seeds")
        ax.set_title(f"Epochs to target, MLP on {task}")
        ax.set_ylim(100 * r["target"] - 25, 100)
        ax.legend()
    save_figure(fig, path)


def _run(quick: bool, out_dir: Path) -> Evidence:
    rate = matmul_flops_per_second()
    estimates = compute_estimate(rate)
    infeasible = [e for e in estimates if e["seconds"] > BUDGET_SECONDS or not e["data_available"]]
    verdict = "not-testable-here" if infeasible else "holds-under-conditions"
    tasks = {task: (range(SEEDS), epochs)
             for task, epochs in (MAX_EPOCHS_QUICK if quick else MAX_EPOCHS_FULL).items()}
    results = {}
    for task, (seeds, max_epochs) in tasks.items():
        ds, model = load_task(task)
        runs = speed_runs(ds, model, seeds, max_epochs, TARGETS[task])
        cens = {n: _censored(runs[n]["epochs"], max_epochs) for n in OPTIMIZERS}
        results[task] = {"runs": runs, "target": TARGETS[task], "max_epochs": max_epochs,
                         "rso_vs_adam": paired_diff(cens["rso"], cens["adam"]),
                         "rso_vs_sgd": paired_diff(cens["rso"], cens["sgd"]),
                         "final_accuracy": {n: [c[-1] for c in runs[n]["curves"]]
                                            for n in OPTIMIZERS}}
    _plot(results, out_dir / "table1-scale.png")

    est_lines = "\n".join(
        f"| {e['setting']} | {e['train_flops']:.1e} | {_duration(e['seconds'])} | "
        f"{'yes' if e['data_available'] else 'no'} |" for e in estimates)
    analogue = []
    for task, r in results.items():
        cells = []
        for n in OPTIMIZERS:
            reached = [v for v in r["runs"][n]["epochs"] if v is not None]
            epochs = _censored(r["runs"][n]["epochs"], r["max_epochs"])
            m, s = mean_std(epochs)
            median = censored_median(np.where(epochs > r["max_epochs"], np.inf, epochs))
            median_cell = f"> {r['max_epochs']}" if np.isinf(median) else f"{median:g}"
            fm, fs = mean_std(100 * np.asarray(r["final_accuracy"][n]))
            cells.append(f"| {task} | {LABELS[n]} | {median_cell} | {m:.1f} ± {s:.1f} | "
                         f"{len(reached)}/{len(r['runs'][n]['epochs'])} | {fm:.1f} ± {fs:.1f} |")
        analogue.append("\n".join(cells))
    tests = "\n".join(
        f"- {task} (target {100 * r['target']:.0f} %): "
        f"RSO - Adam = {r['rso_vs_adam']['diff']:+.1f} "
        f"epochs, 95 % CI [{r['rso_vs_adam']['lo']:+.1f}, {r['rso_vs_adam']['hi']:+.1f}], "
        f"p = {r['rso_vs_adam']['p']:.3g}; "
        f"RSO - SGD+momentum = {r['rso_vs_sgd']['diff']:+.1f} epochs, "
        f"p = {r['rso_vs_sgd']['p']:.3g}" for task, r in results.items())
    conditions = (
        f"Computed in `_run`: a setting is testable only when its data set has a loader here "
        f"(`rso_ref.data.LOADERS`; there is no network to fetch CIFAR-100, ImageNet or "
        f"OpenWebText) and one RSO run fits the {BUDGET_SECONDS:.0f} s budget at this machine's "
        f"measured peak float64 matmul rate ({rate / 1e9:.1f} GFLOP/s on one thread). "
        f"{len(infeasible)} of {len(estimates)} settings fail this, so Table 1 and §4.3 are "
        "**not testable here**. The small-scale analogue below is evidence about RSO's "
        "convergence speed on small MLPs only; it neither confirms nor refutes the paper's "
        "large-scale numbers. (Every epoch of RSO also costs about "
        f"{RSO_CALLS_PER_STEP} gradient evaluations per step against one for Adam: see "
        "`cost-claims`; epochs-to-target ignores that.)")
    summary = (
        f"| paper setting | training FLOPs (RSO, K = {RSO_CALLS_K}) | lower bound on time here "
        "| data here |\n"
        "| --- | --- | --- | --- |\n" + est_lines
        + "\n\n**Small-scale analogue** of §4.3 (epochs to reach the target test accuracy over "
        "every seed; the median counts runs that never reach it as beyond the budget, the mean "
        "and the paired t-test count them as max_epochs + 1, a lower bound):\n\n"
        "| task | optimizer | epochs to target (median) | (mean ± std) | reached | "
        "final test acc. (%) |\n"
        "| --- | --- | --- | --- | --- | --- |\n" + "\n".join(analogue) + "\n\n" + tests
        + "\n\nPaper (CIFAR-100): RSO 72 ± 3 epochs vs Adam 98 ± 5 to 90 % accuracy.")
    numbers = {"matmul_flops_per_second": rate, "estimates": estimates, "analogue": results,
               "protocol": {t: {"seeds": list(s), "max_epochs": e, "target": TARGETS[t]}
                            for t, (s, e) in tasks.items()}}
    return Evidence(verdict=verdict, conditions=conditions, summary=summary, numbers=numbers,
                    figures=["table1-scale.png"])


def _mlp(features: int, classes: int) -> str:
    return "-".join(str(n) for n in (features, *MLP_HIDDEN, classes))


register(Claim(
    id="table1-scale",
    title="Table 1 and §4.3: RSO's accuracy and convergence speed on CIFAR-100, ImageNet, GPT-2",
    source="RSO paper §4.2 Table 1, §4.3",
    quote=("Table 1: RSO 78.3 % (CIFAR-100 ResNet-50), 79.3 % (ResNet-152), 77.9 % (ImageNet "
           "ResNet-50), 82.1 % (ViT-B/16), above SGD/Adam/AdamW; \"CIFAR-100: Reaches 90% "
           "accuracy in 72±3 epochs (vs. 98±5 for Adam)\"; GPT-2 124M perplexity < 30 in 95K "
           "steps (vs. 125K)"),
    statement=(
        "The large-scale accuracies and epochs-to-target of Table 1 / §4.3. Testable only with "
        "the data sets and the compute; checked by (a) whether a loader for the data set exists "
        "offline and (b) a lower bound on the time of one RSO run (FLOPs of forward+backward × "
        f"examples × epochs × {RSO_CALLS_PER_STEP} gradient evaluations per RSO step at "
        f"K = {RSO_CALLS_K}, at the measured peak "
        "matmul rate). Analogue: epochs for RSO, Adam and "
        f"SGD(momentum {DEFAULT_OPTIONS['sgd']['momentum']:g}) to reach a target "
        "test accuracy on small MLP tasks, paired t-test RSO vs Adam (same seeds)."),
    protocol=(
        f"Compute estimate: float64 {MATMUL_N}×{MATMUL_N} matmul, one BLAS thread, best of "
        f"{MATMUL_REPEATS}. Analogue: MLP "
        f"{_mlp(DIGITS_FEATURES, DIGITS_CLASSES)} on the digits "
        f"(target {100 * TARGETS['digits']:.0f} %), "
        f"default LRs of `rso_ref.compare` (SGD {DEFAULT_LR['sgd']:g}, "
        f"Adam {fmt_e(DEFAULT_LR['adam'])}, RSO {DEFAULT_LR['rso']:g} with layer groups, "
        f"K = {DEFAULT_META_ITERS}), batch {BATCH_SIZE}, {SEEDS} seeds, at most "
        f"{MAX_EPOCHS_QUICK['digits']} (quick) / "
        f"{MAX_EPOCHS_FULL['digits']} (full) epochs; full also MNIST-1D (MLP "
        f"{_mlp(MNIST1D_FEATURES, MNIST1D_CLASSES)}, target {100 * TARGETS['mnist1d']:.0f} %, "
        f"{SEEDS} seeds, "
        f"{MAX_EPOCHS_FULL['mnist1d']} epochs).\n\n"
        "**On a cluster** (not run here; `docs/cluster.md`): with the binary version of "
        "CIFAR-100 (`train.bin`, `test.bin`) in `DIR`, run\n\n"
        f"    {CLUSTER_COMMAND}\n\n"
        "(`--nproc_per_node`: the GPUs of a node; `--dataset cifar10` for CIFAR-10's "
        "`data_batch_*.bin`). It trains a CIFAR ResNet-18 (3x3 stem, no max-pool, plain "
        "`torch.nn`) under DistributedDataParallel with SGD+momentum, Adam, AdamW and RSO "
        f"in the paper's setting (K = {CLUSTER_RSO['meta_iters']}, one group per residual "
        f"block plus the stem and the classifier, {CLUSTER_RSO['warmup_epochs']} epochs of "
        "plain gradient steps first), five seeds, fixed learning rates and a cosine "
        "schedule (the script's `--help`); rank 0 writes `report.json` in the presets' "
        "compact format and its page `README.md`. Read Table 1's cells in "
        "`analysis.arms[arm].test_accuracy_mean_std`, and the test in "
        "`analysis.comparisons`: RSO minus each baseline, paired by seed, 95 % CI and "
        "Holm-adjusted p. Table 1's ordering holds for this setting where RSO is above every "
        "baseline with `p_holm` < 0.05, and is refuted where a baseline is significantly "
        "above RSO; otherwise it is not shown (at 80 % power five paired seeds detect about "
        "1.7 standard deviations of the per-seed differences: 3.72 SE at df = 4). "
        "(A ResNet-18 result speaks for that setting; the paper's rows are ResNet-50/152.) "
        "§4.3 reads from `epochs_to_target_median` (to 90 % of the best arm's final mean "
        "test accuracy, over every seed; None: the median lies beyond the budget) and its "
        "cost from `gradient_evaluations_per_step` and `wall_time_per_run_mean_std` (the "
        "paper's 5-10 % overhead at K = 5). "
        "`ranks/rank-*.json` must agree (parameters, losses, metrics) on every rank."),
    run=_run,
))
