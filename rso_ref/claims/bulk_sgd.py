r"""Claims of the Bulk-SGD paper: dominant/bulk Hessian subspaces and the methods built on them.

The Bulk-SGD paper (only its abstract is available; it names no title, authors or arXiv id)
reports that (1) gradients align with the *dominant subspace* spanned by the top-``k``
Hessian eigenvectors, ``k`` the number of classes; (2) Dom-SGD, which steps inside it,
stalls while Bulk-SGD, which steps in its orthogonal complement, keeps training;
(3) bulk updates "can accelerate convergence but may compromise stability"; (4) the
interpolated update :math:`\theta \leftarrow \theta - \eta\,(a P g + b (I - P) g)`
unifies SGD (1, 1), Dom-SGD (1, 0) and Bulk-SGD (0, 1); (5) "curvature energy is
largely concentrated in the Dominant subspace" for the Gauss–Newton (GGN) and
functional-Hessian terms :math:`H = G + F`.

Every claim runs on one small task (:func:`make_task`): a tanh MLP on the scikit-learn
digits, trained with cross-entropy and with MSE. The Hessian is that of the loss on a
fixed *curvature batch* of the training split; its products are central differences
of the hand-written gradients (:func:`rso_ref.hessian.fd_hvp`, about 2 gradients per
product, relative error ~1e-9 against autograd on this model; tanh keeps the
difference quotient smooth, where ReLU kinks would not). The top eigenpairs come from
:func:`rso_ref.lanczos.top_eigenpairs` (``k + 1`` of them, so :math:`\lambda_{k+1}` is
known too), the optimizers from :mod:`rso_ref.optim.subspace`.

**Cost of the projector.** One Lanczos solve for ``k + 1 = 11`` pairs takes 35–90
Hessian-vector products (0.15–0.4 s here), about 100–300 minibatch gradients.
Recomputing :math:`P` every step would make a Dom/Bulk step 100x dearer than an SGD
step, so the runs recompute it every ``every`` steps (:class:`Protocol`), and the
learning-rate bisection and the (a, b) grid freeze it at the starting point (the
state is primed with the basis computed once, :func:`primed_state`); the cost in
products is reported with every run.

References
----------
.. [1] G. Gur-Ari, D. A. Roberts and E. Dyer, "Gradient descent happens in a tiny
   subspace" (2018). https://arxiv.org/abs/1812.04754
.. [2] M. Song, K. Ahn and C. Yun, "Does SGD really happen in tiny subspaces?" (2024).
   https://arxiv.org/abs/2405.16002
.. [3] J. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
   neural networks typically occurs at the edge of stability", ICLR (2021).
   https://arxiv.org/abs/2103.00065
.. [4] S. P. Singh, G. Bachmann and T. Hofmann, "Analytic insights into structure and
   rank of neural network Hessian maps", NeurIPS (2021). https://arxiv.org/abs/2106.16225
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .. import data, hessian, tree
from ..lanczos import EigenResult, top_eigenpairs
from ..nn import MLP
from ..optim.subspace import InterpolatedSGD
from ..plots import pyplot, save_figure
from .registry import Claim, Evidence, register
from ..stats import bootstrap_ci, mean_std
from ..extras import threadpool_limits


__all__ = ["Protocol", "QUICK", "FULL", "LOSSES", "Task", "make_task", "hvp_fn", "dominant_pairs",
           "primed_state", "warmup", "method_runs", "is_stable", "largest_stable_lr",
           "stability_point", "interpolation_grid", "energy_shares", "share_reading"]

#: The two training losses every claim is run with.
LOSSES = ("cross_entropy", "mse")
#: SGD learning rate per loss (cross-entropy's sharpness is ~10x smaller than MSE's here).
LR = {"cross_entropy": 0.5, "mse": 0.1}
_LANCZOS_TOL = 1e-5
_LOSS_LABEL = {"cross_entropy": "cross-entropy", "mse": "MSE"}


@dataclass(frozen=True)
class Protocol:
    """Sizes of one protocol (quick: run by the tests; full: the rendered pages)."""

    hidden: tuple = (32, 32)
    n_curv: int = 256            # curvature batch (the Hessian's and the evaluation loss's)
    batch: int = 64              # SGD minibatch
    warmup: int = 150            # SGD steps before claims 2-5 start
    probe_every: int = 25        # alignment measured every this many warm-up steps
    seeds: tuple = (0, 1)
    run_steps: int = 60          # claim 2: SGD / Dom / Bulk steps after warm-up
    every: int = 20              # claim 2: projector recomputed every this many steps
    stab_steps: int = 50         # claims 3-4: full-batch steps per run
    n_bisect: int = 4            # claim 3: bisection halvings of the log-lr bracket
    grid: tuple = (0.0, 1.0, 2.0, 4.0)   # claim 4: values of a and of b
    n_hutchinson: int = 16       # claim 5: probes of the Frobenius-norm denominator


QUICK = Protocol()
FULL = Protocol(hidden=(64, 64), n_curv=512, warmup=400, probe_every=25, seeds=(0, 1, 2),
                run_steps=150, every=15, stab_steps=100, n_bisect=6,
                grid=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), n_hutchinson=48)


class Task(NamedTuple):
    """Model, training split and curvature batch of one loss."""

    model: MLP
    X: np.ndarray
    y: np.ndarray
    Xc: np.ndarray
    yc: np.ndarray

    @property
    def k(self) -> int:
        """Dimension of the dominant subspace: the number of classes."""
        return self.model.n_classes

    def loss(self, params: list) -> float:
        """Loss on the curvature batch (the full-batch objective of claims 3-4)."""
        return self.model.value_and_grad(params, self.Xc, self.yc)[0]


@functools.lru_cache(maxsize=None)
def _digits() -> Any:
    return data.standardize(data.load_digits(seed=0))[0]


def make_task(loss: str, protocol: Protocol) -> Task:
    """Standardised digits (1437 training examples), a tanh MLP and the curvature batch.

    The curvature batch is the first ``n_curv`` examples of the (shuffled, stratified)
    training split.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    ds = _digits()
    model = MLP((ds.X_train.shape[1], *protocol.hidden, ds.n_classes), activation="tanh", loss=loss)
    return Task(model, ds.X_train, ds.y_train, ds.X_train[:protocol.n_curv],
                ds.y_train[:protocol.n_curv])


def hvp_fn(task: Task) -> Callable[[list, list], list]:
    """``(params, v) -> H v`` of the curvature-batch loss (central difference of gradients)."""
    oracle = lambda q: task.model.value_and_grad(q, task.Xc, task.yc)  # noqa: E731
    return lambda params, v: hessian.fd_hvp(oracle, params, v)


def dominant_pairs(task: Task, params: list) -> EigenResult:
    """Top ``k + 1`` Hessian eigenpairs at ``params`` (``k`` = number of classes)."""
    dim = tree.flatten(params).shape[0]
    hv = hvp_fn(task)
    return top_eigenpairs(hessian.as_matvec(lambda v: hv(params, v), params), dim, task.k + 1,
                          tol=_LANCZOS_TOL)


def primed_state(opt: InterpolatedSGD, pairs: EigenResult) -> dict:
    """Optimizer state holding the top-``k`` basis of ``pairs``, as if computed at step 0.

    With ``count = 1`` the optimizer recomputes the basis at steps ``every, 2 every, ...``
    only, so one Lanczos solve serves many runs from the same starting point.
    """
    return {"count": 1, "basis": [pairs.eigenvectors[:, :opt.k]],
            "eigenvalues": [pairs.eigenvalues[:opt.k]], "n_matvec": 0}


def _batches(n: int, batch: int, seed: int):
    """Endless minibatch indices, epoch after epoch, from one generator."""
    gen = np.random.default_rng(seed)
    while True:
        yield from data.minibatches(n, batch, gen, drop_last=True)


def _chi(grads: list, basis: Any) -> float:
    return hessian.dominant_alignment(tree.flatten(grads), basis)


@functools.lru_cache(maxsize=None)
def warmup(loss: str, seed: int, protocol: Protocol) -> dict:
    r"""SGD from initialisation ``seed`` for ``protocol.warmup`` steps, probing the alignment.

    Every ``probe_every`` steps: the top ``k + 1`` eigenpairs at the current point and
    :math:`\chi = \|P g\|/\|g\|` of the full curvature-batch gradient and of the next
    minibatch gradient. Returns ``{"params", "steps", "chi_full", "chi_batch",
    "eigenvalues", "loss", "n_matvec"}`` (lists per probe; ``params`` at the end).
    Cached: claims 2-5 start from its end point.
    """
    task = make_task(loss, protocol)
    params = task.model.init(seed=seed)
    batches = _batches(task.X.shape[0], protocol.batch, 1000 + seed)
    out = {k: [] for k in ("steps", "chi_full", "chi_batch", "eigenvalues", "loss", "n_matvec")}
    with threadpool_limits(limits=1):  # DESIGN.md: fixed thread counts on 2 cores
        for step in range(protocol.warmup + 1):
            idx = next(batches)
            _, g_batch = task.model.value_and_grad(params, task.X[idx], task.y[idx])
            if step % protocol.probe_every == 0:
                pairs = dominant_pairs(task, params)
                basis = pairs.eigenvectors[:, :task.k]
                value, g_full = task.model.value_and_grad(params, task.Xc, task.yc)
                out["steps"].append(step)
                out["chi_full"].append(_chi(g_full, basis))
                out["chi_batch"].append(_chi(g_batch, basis))
                out["eigenvalues"].append(np.asarray(pairs.eigenvalues).tolist())
                out["loss"].append(value)
                out["n_matvec"].append(pairs.n_matvec)
            if step < protocol.warmup:
                params = tree.axpy(-LR[loss], g_batch, params)
    out["params"] = params
    out["dim"] = int(tree.flatten(params).shape[0])
    return out


# -- claim 2: SGD vs Dom-SGD vs Bulk-SGD -------------------------------------------------
_METHODS = {"SGD": (1.0, 1.0), "Dom-SGD": (1.0, 0.0), "Bulk-SGD": (0.0, 1.0)}


def method_runs(loss: str, seed: int, protocol: Protocol) -> dict:
    """SGD, Dom-SGD and Bulk-SGD from the warm-up end point, same lr and minibatches.

    Returns ``{method: {"loss": [curvature-batch loss per step], "n_matvec": int}}``;
    the projector is recomputed every ``protocol.every`` steps.
    """
    task = make_task(loss, protocol)
    start = warmup(loss, seed, protocol)["params"]
    hv = hvp_fn(task)
    runs = {}
    with threadpool_limits(limits=1):
        for name, (a, b) in _METHODS.items():
            opt = InterpolatedSGD(a, b, lr=LR[loss], k=task.k, every=protocol.every)
            params, state = start, opt.init(start)
            batches = _batches(task.X.shape[0], protocol.batch, 2000 + seed)
            losses = [task.loss(params)]
            for _ in range(protocol.run_steps):
                idx = next(batches)
                _, g = task.model.value_and_grad(params, task.X[idx], task.y[idx])
                params, state = opt.step(params, g, state, hvp_fn=hv)
                losses.append(task.loss(params))
            runs[name] = {"loss": losses, "n_matvec": state["n_matvec"]}
    return runs


def _decrease_ratios(runs: dict) -> dict:
    """Loss decrease of Dom and Bulk over the run, as fractions of SGD's."""
    drop = {m: r["loss"][0] - r["loss"][-1] for m, r in runs.items()}
    return {"Dom-SGD": drop["Dom-SGD"] / drop["SGD"], "Bulk-SGD": drop["Bulk-SGD"] / drop["SGD"],
            "drop": drop}


# -- claims 3-4: full-batch runs from the warm-up point with a frozen projector ---------------
def _full_batch_run(task: Task, start: list, opt: InterpolatedSGD, state: dict, steps: int,
                    hv: Callable) -> list:
    """Curvature-batch losses of ``steps`` full-batch steps (stops at the first non-finite)."""
    params, losses = start, []
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is an outcome here
        for _ in range(steps):
            value, g = task.model.value_and_grad(params, task.Xc, task.yc)
            losses.append(value)
            if not (math.isfinite(value) and all(np.all(np.isfinite(x)) for x in g)):
                return losses[:-1] + [math.inf]
            params, state = opt.step(params, g, state, hvp_fn=hv)
        losses.append(task.loss(params))
    return [v if math.isfinite(v) else math.inf for v in losses]


def is_stable(losses: list) -> bool:
    r"""A run is stable when no loss is non-finite or above the first one.

    Stricter than "does not diverge": a catapult (a spike that later comes back down,
    Lewkowycz et al. 2020, arXiv:2003.02218) counts as unstable. On a quadratic the loss
    of gradient descent is non-increasing exactly when every mode satisfies
    :math:`|1 - \eta\lambda_i| \le 1`, so this is the empirical counterpart of
    :math:`\eta \le 2/\lambda_1`.
    """
    return all(math.isfinite(v) for v in losses) and max(losses) <= losses[0]


def largest_stable_lr(run_at: Callable[[float], list], lr0: float, n_bisect: int) -> float:
    r"""Largest learning rate whose run :func:`is_stable`, by doubling then log-bisection.

    Starting at ``lr0`` (halved until stable), the rate is doubled until a run is
    unstable, then the bracket ``[stable, unstable]`` is halved ``n_bisect`` times in
    :math:`\log\eta` (final resolution :math:`2^{2^{-n}}`). Assumes stability is
    monotone in the rate; returns the largest stable rate found.
    """
    lo = lr0
    for _ in range(20):
        if is_stable(run_at(lo)):
            break
        lo /= 2.0
    hi = lo * 2.0
    for _ in range(20):
        if not is_stable(run_at(hi)):
            break
        lo, hi = hi, hi * 2.0
    for _ in range(n_bisect):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if is_stable(run_at(mid)) else (lo, mid)
    return lo


def _frozen_runner(task: Task, start: list, pairs: EigenResult, a: float, b: float,
                   protocol: Protocol) -> Callable[[float], list]:
    """``lr -> losses`` of the interpolated method with the projector of ``pairs`` frozen."""
    hv = hvp_fn(task)

    def run_at(lr: float) -> list:
        opt = InterpolatedSGD(a, b, lr=lr, k=task.k, every=protocol.stab_steps + 1)
        return _full_batch_run(task, start, opt, primed_state(opt, pairs), protocol.stab_steps, hv)

    return run_at


@functools.lru_cache(maxsize=None)
def _start_pairs(loss: str, seed: int, protocol: Protocol) -> EigenResult:
    task = make_task(loss, protocol)
    with threadpool_limits(limits=1):
        return dominant_pairs(task, warmup(loss, seed, protocol)["params"])


@functools.lru_cache(maxsize=None)
def stability_point(loss: str, seed: int, protocol: Protocol) -> dict:
    r"""Largest stable lr of full-batch SGD and Bulk-SGD at the warm-up point, with
    :math:`\lambda_1` and :math:`\lambda_{k+1}` there."""
    task = make_task(loss, protocol)
    start = warmup(loss, seed, protocol)["params"]
    pairs = _start_pairs(loss, seed, protocol)
    lam = np.asarray(pairs.eigenvalues)
    with threadpool_limits(limits=1):
        lr_sgd = largest_stable_lr(_frozen_runner(task, start, pairs, 1.0, 1.0, protocol),
                                   1.0 / lam[0], protocol.n_bisect)
        lr_bulk = largest_stable_lr(_frozen_runner(task, start, pairs, 0.0, 1.0, protocol),
                                    1.0 / lam[0], protocol.n_bisect)
    return {"lr_sgd": lr_sgd, "lr_bulk": lr_bulk, "lambda_1": float(lam[0]),
            "lambda_k1": float(lam[task.k]), "edge_1": 2.0 / lam[0], "edge_k1": 2.0 / lam[task.k]}


def interpolation_grid(loss: str, seed: int, protocol: Protocol) -> dict:
    r"""Loss after ``stab_steps`` full-batch steps for every (a, b) of ``protocol.grid``.

    The rate is half the largest stable rate of full-batch SGD found by
    :func:`stability_point`, so the diagonal cell ``a = b = 2`` is SGD at its empirical
    edge and cells ``a = b > 2`` are beyond it. Returns ``{"loss": array (len(grid),
    len(grid)) indexed [a, b] (``inf`` when the run is unstable), "start": float,
    "lr": float}``.
    """
    task = make_task(loss, protocol)
    start = warmup(loss, seed, protocol)["params"]
    pairs = _start_pairs(loss, seed, protocol)
    lr = stability_point(loss, seed, protocol)["lr_sgd"] / 2.0
    grid = protocol.grid
    final = np.empty((len(grid), len(grid)))
    with threadpool_limits(limits=1):
        for i, a in enumerate(grid):
            for j, b in enumerate(grid):
                losses = _frozen_runner(task, start, pairs, a, b, protocol)(lr)
                final[i, j] = losses[-1] if is_stable(losses) else math.inf
    return {"loss": final, "start": task.loss(start), "lr": lr}


def _index(grid: Any, value: float) -> int:
    return int(np.argmin(np.abs(np.asarray(grid) - value)))


def _best_cells(final: np.ndarray, grid: Any) -> tuple[list, list]:
    """``[a, b, loss]`` of the best stable cell overall and of the best on the diagonal a = b
    (SGD with rate ``a * lr``); loss ``inf`` when none is stable."""
    finite = np.where(np.isfinite(final), final, np.inf)
    i, j = np.unravel_index(int(np.argmin(finite)), finite.shape)
    d = int(np.argmin(np.diag(finite)))
    return ([float(grid[i]), float(grid[j]), float(finite[i, j])],
            [float(grid[d]), float(grid[d]), float(finite[d, d])])


def _main_effects(final: np.ndarray) -> tuple[float, float]:
    """Ranges of the row and column means of log10 loss over stable cells: (a effect, b effect)."""
    ok = np.isfinite(final)
    logs = np.log10(np.where(ok, final, 1.0))

    def spread(axis: int) -> float:
        counts = ok.sum(axis=axis)
        means = (logs * ok).sum(axis=axis)[counts > 0] / counts[counts > 0]
        return float(means.max() - means.min()) if means.size else 0.0

    return spread(1), spread(0)


# -- claim 5: GGN and functional-Hessian energy ----------------------------------------------
def energy_shares(loss: str, seed: int, protocol: Protocol) -> dict:
    r"""Frobenius-energy share inside the top-``k`` Hessian eigenspace of H, G and F.

    At the warm-up point; :func:`rso_ref.hessian.subspace_energy_share` with
    ``n_hutchinson`` Rademacher probes for :math:`\|M\|_F^2` (the same probes for the
    three matrices). Also returns :math:`\|G\|_F^2/\|H\|_F^2` and
    :math:`\|F\|_F^2/\|H\|_F^2` estimates through the shares' numerators.
    """
    task = make_task(loss, protocol)
    params = warmup(loss, seed, protocol)["params"]
    basis = _start_pairs(loss, seed, protocol).eigenvectors[:, :task.k]
    forward = task.model.forward
    kind = task.model.loss_kind
    hv = hvp_fn(task)
    products = {
        "H": lambda v: hv(params, v),
        "G": lambda v: hessian.ggn_vp(forward, params, v, task.Xc, task.yc, loss=kind),
        "F": lambda v: hessian.functional_hvp(forward, params, v, task.Xc, task.yc, loss=kind),
    }
    with threadpool_limits(limits=1):
        return {name: hessian.subspace_energy_share(hessian.as_matvec(prod, params), basis,
                                                    n_samples=protocol.n_hutchinson, seed=seed)
                for name, prod in products.items()}


# -- rendering helpers ---------------------------------------------------------------------
def _protocol(quick: bool) -> Protocol:
    return QUICK if quick else FULL


def _fmt_ci(est: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


_TASK_TEXT = (
    "tanh MLP 64-{h}-10 on the scikit-learn digits (standardised; 1437 training "
    "examples), trained with softmax cross-entropy and, separately, with MSE (half "
    "squared error to one-hot targets). Hessian = that of the loss on a fixed curvature "
    "batch of the first {n} training examples, products by central differences of the "
    "hand-written gradients; top k + 1 = 11 eigenpairs by thick-restart Lanczos "
    "(tol 1e-5). Warm-up: plain SGD, batch 64, lr 0.5 (CE) / 0.1 (MSE), {w} steps from "
    "initialisation seeds {s}.")


def _task_text(p: Protocol) -> str:
    h = "-".join(str(x) for x in p.hidden)
    return _TASK_TEXT.format(h=h, n=p.n_curv, w=p.warmup, s=", ".join(map(str, p.seeds)))


def _both_protocols(body: Callable[[Protocol], str]) -> str:
    return f"**Quick:** {body(QUICK)}\n\n**Full:** {body(FULL)}"


# -- claim 1 -----------------------------------------------------------------------------------
def share_reading(share_ci: Sequence[float]) -> str:
    r"""Read a mean squared-norm share :math:`\chi^2 = \|Pg\|^2/\|g\|^2` against one half.

    ``share_ci`` is ``(mean, lo, hi)``: "more than half" when ``lo`` >= 1/2, "less than
    half" when ``hi`` < 1/2, otherwise "about half (the CI contains 1/2)". The page's
    words come from here, so they cannot contradict the numbers.
    """
    _, lo, hi = share_ci
    if lo >= 0.5:
        return "more than half"
    if hi < 0.5:
        return "less than half"
    return "about half (the CI contains 1/2)"


def _run_alignment(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    numbers, verdict_rows = {}, []
    for ax, loss in zip(axes, LOSSES):
        pooled = []
        for seed in p.seeds:
            w = warmup(loss, seed, p)
            steps = np.asarray(w["steps"])
            color = f"C{seed}"
            ax.plot(steps, w["chi_full"], marker="o", color=color,
                    label=f"full-batch g, seed {seed}")
            ax.plot(steps, w["chi_batch"], ls=":", marker=".", color=color,
                    label=f"minibatch g, seed {seed}")
            pooled += [c for s, c in zip(steps, w["chi_full"]) if s >= p.warmup // 4]
        dim = warmup(loss, p.seeds[0], p)["dim"]
        baseline = math.sqrt(10 / dim)
        ci = bootstrap_ci(pooled, seed=0)
        share = bootstrap_ci(np.square(pooled), seed=0)
        batch_pooled = [c for seed in p.seeds for c in warmup(loss, seed, p)["chi_batch"]]
        ci_batch = bootstrap_ci(batch_pooled, seed=0)
        numbers[loss] = {"chi_full_mean_ci": ci, "chi_batch_mean_ci": ci_batch,
                         "share_full_mean_ci": share, "share_reading": share_reading(share),
                         "random_baseline": baseline, "dim": dim,
                         "chi_full": {s: warmup(loss, s, p)["chi_full"] for s in p.seeds},
                         "chi_batch": {s: warmup(loss, s, p)["chi_batch"] for s in p.seeds},
                         "n_matvec_per_probe": {s: warmup(loss, s, p)["n_matvec"] for s in p.seeds}}
        verdict_rows.append((loss, ci, baseline, share))
        ax.axhline(baseline, color="k", ls="--", lw=1, label=r"random subspace $\sqrt{k/d}$")
        ax.axhline(1 / math.sqrt(2), color="grey", ls="-.", lw=1, label=r"$\chi^2 = 1/2$")
        ax.set_ylim(0, 1)
        ax.set_xlabel("SGD step")
        ax.set_title(f"{_LOSS_LABEL[loss]} (d = {dim}, k = 10)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"$\chi = \|P g\| / \|g\|$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", fontsize=9,
               ncol=4, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle("Gradient alignment with the top-10 Hessian eigenspace during SGD")
    save_figure(fig, out_dir / "bulk-alignment.png")
    strong = all(share_reading(share) == "more than half" for *_, share in verdict_rows)
    above = all(ci[1] >= 5 * base for _, ci, base, _ in verdict_rows)
    verdict = "holds" if strong else ("holds-under-conditions" if above else "refuted")
    readings = "; ".join(f"{_LOSS_LABEL[loss]}: {share_reading(share)} (mean χ² = "
                         f"{_fmt_ci(*share)})" for loss, _, _, share in verdict_rows)
    if strong:
        cond = ("More than half of the gradient's squared norm lies in the top-k eigenspace "
                f"for both losses (the 95 % CI of the mean share χ² lies above 1/2): {readings}.")
    elif above:
        cond = ("Alignment is far above chance (lower CI bound of the mean χ >= 5x the "
                "random-subspace value sqrt(k/d)) for both losses, but the top-k eigenspace "
                "does not hold a clear majority of the gradient's squared norm for every "
                f"loss. The share χ² = ‖Pg‖²/‖g‖², mean over probes and seeds: {readings}. "
                "Where the share is not above 1/2 'aligned' holds in the relative sense only; "
                "the minibatch gradient is less aligned than the full-batch one.")
    else:
        cond = ("For at least one loss the alignment is not clearly above the "
                "random-subspace baseline.")
    summary = "\n".join(
        f"- **{_LOSS_LABEL[loss]}**: mean chi of the full-batch gradient after the first "
        f"quarter of training {_fmt_ci(*ci)} (95% bootstrap CI over probes and seeds), mean "
        f"squared-norm share χ² {_fmt_ci(*share)}; minibatch gradient "
        f"{_fmt_ci(*numbers[loss]['chi_batch_mean_ci'])}; random "
        f"baseline sqrt(k/d) = {base:.3f}."
        for loss, ci, base, share in verdict_rows)
    return Evidence(verdict, cond, summary, numbers, ["bulk-alignment.png"])


# -- claim 2 -----------------------------------------------------------------------------------
#: Claim 2 criteria: Dom's loss decrease at most this fraction of SGD's ...
DOM_STALL_FRACTION = 0.25
#: ... and Bulk's at least this fraction of SGD's, for every seed and loss.
BULK_KEEPS_FRACTION = 0.5


def _run_dom_stalls(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    numbers, ok_dom, ok_bulk = {}, [], []
    colors = {"SGD": "C0", "Dom-SGD": "C3", "Bulk-SGD": "C2"}
    for ax, loss in zip(axes, LOSSES):
        per_seed = {}
        for seed in p.seeds:
            runs = method_runs(loss, seed, p)
            ratios = _decrease_ratios(runs)
            per_seed[seed] = {"ratio_dom": ratios["Dom-SGD"], "ratio_bulk": ratios["Bulk-SGD"],
                              "drop": ratios["drop"],
                              "n_matvec": {m: r["n_matvec"] for m, r in runs.items()},
                              "final_loss": {m: r["loss"][-1] for m, r in runs.items()}}
            ok_dom.append(ratios["Dom-SGD"] <= DOM_STALL_FRACTION)
            ok_bulk.append(ratios["Bulk-SGD"] >= BULK_KEEPS_FRACTION)
            for m, r in runs.items():
                ax.plot(np.arange(len(r["loss"])), r["loss"], color=colors[m],
                        alpha=0.9 if seed == p.seeds[0] else 0.45,
                        label=m if seed == p.seeds[0] else None)
        numbers[loss] = per_seed
        ax.set_yscale("log")
        ax.set_xlabel(f"step after {p.warmup} SGD warm-up steps")
        ax.set_ylabel("loss on the curvature batch")
        ax.set_title(f"{_LOSS_LABEL[loss]}, lr {LR[loss]}, P every {p.every} steps")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.subplots_adjust(wspace=0.35)
    fig.suptitle("SGD vs Dom-SGD (P g) vs Bulk-SGD ((I - P) g) from the same point "
                 "(one line per seed)")
    save_figure(fig, out_dir / "bulk-dom-stalls.png")
    if all(ok_dom) and all(ok_bulk):
        verdict, cond = "holds", (
            f"For every seed and both losses Dom-SGD's loss decrease is <= "
            f"{DOM_STALL_FRACTION:.0%} of SGD's while Bulk-SGD's is >= {BULK_KEEPS_FRACTION:.0%}.")
    elif any(ok_dom) or any(ok_bulk):
        verdict, cond = "holds-under-conditions", (
            f"Only part of the criteria holds: Dom stalls (<= {DOM_STALL_FRACTION:.0%} of SGD's "
            f"decrease) in {sum(ok_dom)}/{len(ok_dom)} runs, Bulk keeps >= "
            f"{BULK_KEEPS_FRACTION:.0%} in {sum(ok_bulk)}/{len(ok_bulk)} runs.")
    else:
        verdict, cond = "refuted", ("Dom-SGD does not stall and Bulk-SGD does not keep pace "
                                    "in any run.")
    lines = []
    for loss in LOSSES:
        rd = [v["ratio_dom"] for v in numbers[loss].values()]
        rb = [v["ratio_bulk"] for v in numbers[loss].values()]
        lines.append(f"- **{_LOSS_LABEL[loss]}**: decrease relative to SGD's over "
                     f"{p.run_steps} steps — Dom-SGD {', '.join(f'{r:.3f}' for r in rd)}, "
                     f"Bulk-SGD {', '.join(f'{r:.3f}' for r in rb)} (per seed).")
    mv = numbers[LOSSES[0]][p.seeds[0]]["n_matvec"]
    lines.append(f"- Cost: Dom/Bulk spent {mv['Dom-SGD']} / {mv['Bulk-SGD']} Hessian-vector "
                 f"products ({_LOSS_LABEL[LOSSES[0]]}, seed {p.seeds[0]}) for "
                 f"{p.run_steps} steps, i.e. ~{2 * mv['Bulk-SGD'] / p.run_steps:.0f} extra "
                 "gradient evaluations per step with P recomputed every "
                 f"{p.every} steps.")
    return Evidence(verdict, cond, "\n".join(lines), numbers, ["bulk-dom-stalls.png"])


# -- claim 3 -----------------------------------------------------------------------------------
def _run_stability(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    numbers = {loss: {seed: stability_point(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, loss in zip(axes, LOSSES):
        rows = numbers[loss]
        x = np.arange(len(p.seeds))
        ax.bar(x - 0.2, [r["lr_sgd"] for r in rows.values()], 0.4, label="SGD (full batch)")
        ax.bar(x + 0.2, [r["lr_bulk"] for r in rows.values()], 0.4, label="Bulk-SGD (frozen P)")
        for i, r in enumerate(rows.values()):
            ax.hlines(r["edge_1"], i - 0.4, i + 0.4, colors="k", linestyles="--",
                      label=r"$2/\lambda_1$" if i == 0 else None)
            ax.hlines(r["edge_k1"], i - 0.4, i + 0.4, colors="C3", linestyles=":",
                      label=r"$2/\lambda_{k+1}$" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_xticks(x, [f"seed {s}" for s in p.seeds])
        ax.set_ylabel(f"largest stable lr ({p.stab_steps} steps)")
        ax.set_title(_LOSS_LABEL[loss])
    fig.subplots_adjust(wspace=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4,
               fontsize=9, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("Largest stable learning rate at the warm-up point (bisection)")
    save_figure(fig, out_dir / "bulk-stability.png")
    all_rows = [r for rows in numbers.values() for r in rows.values()]
    larger = [r["lr_bulk"] > r["lr_sgd"] for r in all_rows]
    short = [r["lr_bulk"] < r["edge_k1"] for r in all_rows]
    if all(larger) and all(short):
        verdict, cond = "holds", (
            "Bulk-SGD tolerates a larger learning rate than SGD in every run, yet stays below "
            "the quadratic-model edge 2/lambda_{k+1}: removing the top-k directions buys "
            "stability only in part; curvature outside the frozen projector limits it.")
    elif all(larger):
        verdict, cond = "holds-under-conditions", (
            "Bulk-SGD tolerates a larger learning rate than SGD in every run and reaches the "
            "quadratic-model edge 2/lambda_{k+1} in some: no loss of stability beyond what "
            "the quadratic model predicts was seen at this horizon.")
    else:
        verdict, cond = "refuted", (
            "In at least one run Bulk-SGD's largest stable learning rate is not above SGD's.")
    lines = [f"- **{_LOSS_LABEL[loss]}, seed {s}**: SGD {r['lr_sgd']:.3g} "
             f"(= {r['lr_sgd'] / r['edge_1']:.2f} x 2/lambda_1), Bulk-SGD {r['lr_bulk']:.3g} "
             f"(= {r['lr_bulk'] / r['edge_1']:.2f} x 2/lambda_1 = "
             f"{r['lr_bulk'] / r['edge_k1']:.2f} x 2/lambda_(k+1)); lambda_1 = "
             f"{r['lambda_1']:.3g}, lambda_(k+1) = {r['lambda_k1']:.3g}."
             for loss in LOSSES for s, r in numbers[loss].items()]
    return Evidence(verdict, cond, "\n".join(lines), numbers, ["bulk-stability.png"])


# -- claim 4 -----------------------------------------------------------------------------------
#: Claim 4 criterion: the main effect of b on log10 loss is at least this multiple of a's.
B_EFFECT_FACTOR = 3.0


def _run_interpolation(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    grid = np.asarray(p.grid)
    results = {loss: {seed: interpolation_grid(loss, seed, p) for seed in p.seeds}
               for loss in LOSSES}
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    fig.subplots_adjust(wspace=0.4)
    numbers, b_dominates, beats_sgd = {}, [], []
    for ax, loss in zip(axes, LOSSES):
        seed0 = p.seeds[0]
        res = results[loss][seed0]
        shown = np.log10(np.where(np.isfinite(res["loss"]), res["loss"], np.nan))
        im = ax.imshow(shown, origin="lower", cmap="viridis", aspect="auto")
        for i in range(len(grid)):
            for j in range(len(grid)):
                if not np.isfinite(res["loss"][i, j]):
                    ax.text(j, i, "x", ha="center", va="center", color="red", fontsize=11)
        for name, (a, b) in _METHODS.items():
            ax.annotate(name, (_index(grid, b), _index(grid, a)), color="white", fontsize=10,
                        ha="center", va="bottom", xytext=(0, 6), textcoords="offset points",
                        bbox={"boxstyle": "round", "fc": "black", "alpha": 0.5})
        ax.set_xticks(range(len(grid)), [f"{v:g}" for v in grid])
        ax.set_yticks(range(len(grid)), [f"{v:g}" for v in grid])
        fig.colorbar(im, ax=ax, label=f"log10 loss after {p.stab_steps} steps")
        ax.set_xlabel("b (weight of the bulk part (I - P) g)")
        ax.set_ylabel("a (weight of the dominant part P g)")
        ax.set_title(f"{_LOSS_LABEL[loss]}, seed {seed0}, lr = lr*_SGD / 2 = {res['lr']:.3g}")
        per_seed = {}
        for seed, r in results[loss].items():
            eff_a, eff_b = _main_effects(r["loss"])
            best, diag = _best_cells(r["loss"], grid)
            per_seed[seed] = {"loss": r["loss"], "start_loss": r["start"], "lr": r["lr"],
                              "effect_a": eff_a, "effect_b": eff_b, "best": best,
                              "best_scaled_sgd": diag,
                              "sgd_loss": r["loss"][_index(grid, 1.0), _index(grid, 1.0)],
                              "n_unstable": int(np.sum(~np.isfinite(r["loss"])))}
            b_dominates.append(eff_b >= B_EFFECT_FACTOR * eff_a)
            beats_sgd.append(best[1] > best[0] and best[2] < diag[2])
        numbers[loss] = per_seed
    fig.suptitle(r"Interpolated update $\theta \leftarrow \theta - \eta\,(a P g + b (I-P) g)$ "
                 "(x: unstable)")
    save_figure(fig, out_dir / "bulk-interpolation.png")
    if all(b_dominates) and all(beats_sgd):
        verdict, cond = "holds", (
            f"In every run the bulk weight b moves the final log-loss >= {B_EFFECT_FACTOR:g}x "
            "more than the dominant weight a, and the best stable (a, b) has b > a and beats "
            "the best stable scaled SGD (a = b) on the grid: weighting the bulk up is more "
            "than a larger learning rate.")
    elif any(b_dominates) or any(beats_sgd):
        verdict, cond = "holds-under-conditions", (
            f"b dominates a (>= {B_EFFECT_FACTOR:g}x effect) in {sum(b_dominates)}/"
            f"{len(b_dominates)} runs; the best stable cell has b > a and beats the best "
            f"scaled SGD (a = b) in "
            f"{sum(beats_sgd)}/{len(beats_sgd)} runs.")
    else:
        verdict, cond = "refuted", "The bulk weight does not govern the loss in any run."
    lines = [f"- **{_LOSS_LABEL[loss]}, seed {s}**: main effect on log10 loss of a "
             f"{r['effect_a']:.3f}, of b {r['effect_b']:.3f}; best (a, b) = "
             f"({r['best'][0]:g}, {r['best'][1]:g}) with loss {r['best'][2]:.4g}; best scaled "
             f"SGD a = b = {r['best_scaled_sgd'][0]:g}: {r['best_scaled_sgd'][2]:.4g}; SGD (1, 1): "
             f"{r['sgd_loss']:.4g} (start {r['start_loss']:.4g}); {r['n_unstable']} unstable cells."
             for loss in LOSSES for s, r in numbers[loss].items()]
    return Evidence(verdict, cond, "\n".join(lines), numbers, ["bulk-interpolation.png"])


# -- claim 5 -----------------------------------------------------------------------------------
#: Claim 5 criterion: "largely concentrated" = mean share of H and of G at least this.
ENERGY_MAJORITY = 0.5


def _run_energy(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    numbers = {loss: {seed: energy_shares(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    dim = warmup(LOSSES[0], p.seeds[0], p)["dim"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = ("H", "G", "F")
    width = 0.35
    for j, loss in enumerate(LOSSES):
        values = np.array([[numbers[loss][s][n] for n in names] for s in p.seeds])
        x = np.arange(len(names)) + (j - 0.5) * width
        ax.bar(x, values.mean(axis=0), width, label=_LOSS_LABEL[loss], alpha=0.8)
        for row in values:
            ax.plot(x, row, "k.", ms=5)
    ax.axhline(10 / dim, color="k", ls="--", lw=1, label="random subspace bound k/d")
    ax.set_xticks(np.arange(len(names)), ["Hessian H", "Gauss-Newton G", "functional F"])
    ax.set_ylabel(r"$\|P M P\|_F^2 / \|M\|_F^2$")
    ax.set_yscale("log")
    ax.set_title("Curvature energy inside the top-10 Hessian eigenspace (dots: seeds)")
    ax.legend(fontsize=9)
    save_figure(fig, out_dir / "bulk-ggn-energy.png")
    means = {loss: {n: mean_std([numbers[loss][s][n] for s in p.seeds]) for n in names}
             for loss in LOSSES}
    concentrated = [means[loss][n][0] >= ENERGY_MAJORITY for loss in LOSSES for n in ("H", "G")]
    f_less = [means[loss]["F"][0] < means[loss]["G"][0] for loss in LOSSES]
    if all(concentrated) and all(f_less):
        verdict, cond = "holds", (
            f"For both losses at least {ENERGY_MAJORITY:.0%} of the Frobenius energy of H and of "
            "the GGN G lies in the top-k eigenspace, and the functional Hessian F is less "
            "concentrated there than G.")
    elif any(concentrated):
        verdict, cond = "holds-under-conditions", (
            f"The share reaches {ENERGY_MAJORITY:.0%} for only part of (loss, H/G): "
            f"{sum(concentrated)}/{len(concentrated)}; F less concentrated than G for "
            f"{sum(f_less)}/{len(f_less)} losses.")
    else:
        verdict, cond = "refuted", ("The curvature energy is not concentrated in the top-k "
                                    "eigenspace.")
    lines = [f"- **{_LOSS_LABEL[loss]}**: share of H {means[loss]['H'][0]:.3f} ± "
             f"{means[loss]['H'][1]:.3f}, of G {means[loss]['G'][0]:.3f} ± "
             f"{means[loss]['G'][1]:.3f}, of F {means[loss]['F'][0]:.3f} ± "
             f"{means[loss]['F'][1]:.3f} (mean ± sd over {len(p.seeds)} seeds; random "
             f"k-subspace bound k/d = {10 / dim:.4f})." for loss in LOSSES]
    return Evidence(verdict, cond, "\n".join(lines), {"shares": numbers, "dim": dim},
                    ["bulk-ggn-energy.png"])


#: The study is known here by its abstract alone, which gives no title, authors or arXiv id.
_SOURCE = "Bulk-SGD paper (abstract only; title, authors and arXiv id not given)"

register(Claim(
    id="bulk-alignment",
    title="Gradients align with the dominant (top-k) Hessian subspace during training",
    source=_SOURCE,
    quote="Recent work has highlighted a surprising alignment between gradients and the top "
          "eigenspace of the Hessian -- termed the Dominant subspace -- during neural network "
          "training.",
    statement=(
        "With U the top-k Hessian eigenvectors (k = 10 classes) at the current point and "
        "P = U U^T, the alignment chi = ||P g|| / ||g|| of the full-batch gradient g is "
        "(a) far above the value for a random k-dimensional subspace, sqrt(k/d) "
        "(E[chi^2] = k/d), and (b) large: chi >= 1/sqrt(2), i.e. most of the gradient's "
        "squared norm lies in the k-dimensional subspace. Estimator: mean chi over probes "
        "after the first quarter of the warm-up, pooled over seeds, 95% percentile-bootstrap "
        "CI. Verdict: *holds* if the CI's lower end clears 1/sqrt(2) for both losses; "
        "*holds-under-conditions* if it clears only 5 sqrt(k/d); *refuted* otherwise. The "
        "alignment of the minibatch gradient is reported alongside."),
    protocol=_both_protocols(lambda p: _task_text(p) + f" chi probed every {p.probe_every} steps."),
    run=_run_alignment))

register(Claim(
    id="bulk-dom-stalls",
    title="Dom-SGD stalls while Bulk-SGD keeps decreasing the loss",
    source=_SOURCE + "; Song, Ahn and Yun (2024), arXiv:2405.16002",
    quote="we study Bulk-SGD, a variant of SGD that restricts updates to the orthogonal "
          "complement of the Dominant subspace",
    statement=(
        "From the same warm-up point, with the same learning rate and minibatch sequence, run "
        "SGD (g), Dom-SGD (P g) and Bulk-SGD ((I - P) g). Let D_m be the decrease of the "
        "curvature-batch loss over the run. Verdict *holds* if, for every seed and both "
        f"losses, D_Dom <= {DOM_STALL_FRACTION} D_SGD (Dom stalls) and D_Bulk >= "
        f"{BULK_KEEPS_FRACTION} D_SGD (Bulk keeps training); *holds-under-conditions* if "
        "only some runs meet a criterion; *refuted* if none does."),
    protocol=_both_protocols(lambda p: _task_text(p) + (
        f" Then {p.run_steps} steps of each method (batch 64, same lr); P recomputed every "
        f"{p.every} steps (a Lanczos solve costs 35-90 Hessian-vector products, "
        "~2 gradients each).")),
    run=_run_dom_stalls))

register(Claim(
    id="bulk-stability",
    title="Bulk-SGD's largest stable learning rate vs SGD's, 2/lambda_1 and 2/lambda_(k+1)",
    source=_SOURCE,
    quote="updates along the Bulk subspace, corresponding to flatter directions in the loss "
          "landscape, can accelerate convergence but may compromise stability",
    statement=(
        "On the quadratic model at the warm-up point, full-batch SGD is stable for "
        "lr < 2/lambda_1 and Bulk-SGD with the exact projector for lr < 2/lambda_(k+1). "
        "Measured: the largest lr whose run stays finite and ends no higher than it started "
        "(doubling then log-bisection, assuming monotonicity). Tested: (i) lr*_Bulk > lr*_SGD "
        "in every run (removing the sharp directions relaxes the limit), and (ii) lr*_Bulk < "
        "2/lambda_(k+1) (the bulk step is less stable than the quadratic model promises — "
        "our reading of 'may compromise stability'). *holds*: (i) and (ii) in every run; "
        "*holds-under-conditions*: (i) only; *refuted*: (i) fails somewhere. Note that in a "
        "nonlinear network lr*_SGD may exceed 2/lambda_1 (edge-of-stability "
        "self-stabilisation, Cohen et al. 2021)."),
    protocol=_both_protocols(lambda p: _task_text(p) + (
        f" Each trial: {p.stab_steps} full-batch steps on the curvature batch; Bulk-SGD's "
        "projector computed once at the start point and frozen (one solve serves all "
        f"trials); {p.n_bisect} bisection halvings.")),
    run=_run_stability))

register(Claim(
    id="bulk-interpolation",
    title="Interpolated updates a P g + b (I - P) g: the bulk weight governs the loss decrease",
    source=_SOURCE,
    quote="To balance these effects, we introduce interpolated gradient methods that unify "
          "SGD, Dom-SGD, and Bulk-SGD.",
    statement=(
        "The update theta <- theta - lr (a P g + b (I - P) g) equals SGD at (1, 1), Dom-SGD at "
        "(1, 0), Bulk-SGD at (0, 1). On a grid of (a, b) with lr = half the largest stable "
        "full-batch SGD rate (claim bulk-stability; so a = b = 2 is SGD at its edge), "
        "the loss after N full-batch steps is measured (unstable runs marked). Tested: (i) "
        f"the main effect of b on log10 loss (range of its column means over stable cells) is "
        f">= {B_EFFECT_FACTOR:g}x that of a; (ii) the best stable cell has b > a and a lower "
        "loss than every stable scaled SGD (a = b) cell — weighting the bulk up accelerates "
        "beyond what a larger learning rate gives. *holds*: both in every run; "
        "*holds-under-conditions*: some; *refuted*: none."),
    protocol=_both_protocols(lambda p: _task_text(p) + (
        f" Grid a, b in {{{', '.join(f'{v:g}' for v in p.grid)}}}, {p.stab_steps} "
        "full-batch steps per cell, projector frozen at the start point.")),
    run=_run_interpolation))

register(Claim(
    id="bulk-ggn-energy",
    title="Curvature energy of the GGN and the functional Hessian in the dominant subspace",
    source=_SOURCE + "; Singh, Bachmann and Hofmann (2021), arXiv:2106.16225",
    quote="we empirically connect this subspace decomposition to the Generalized Gauss-Newton "
          "and Functional Hessian terms, showing that curvature energy is largely concentrated "
          "in the Dominant subspace",
    statement=(
        "With H = G + F (G = J^T (d^2 l/dz^2) J the GGN, F the functional Hessian) and P the "
        "projector on the top-k eigenvectors of H, the energy share ||P M P||_F^2 / "
        "||M||_F^2 (numerator exact from k products, denominator by Hutchinson) of M = H, "
        "G, F at the warm-up point. A random k-subspace holds at most k/d on average. "
        f"*holds*: mean share of H and of G >= {ENERGY_MAJORITY} for both losses and F's "
        "share below G's; *holds-under-conditions*: some of the four shares reach it; "
        "*refuted*: none."),
    protocol=_both_protocols(lambda p: _task_text(p) + (
        f" GGN and functional-Hessian products by autograd; {p.n_hutchinson} Rademacher "
        "probes.")),
    run=_run_energy))
