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

**Cost of the projector.** One Lanczos solve for ``k + 1 = 11`` pairs takes tens of
Hessian-vector products (34–94 in the committed full run; 0.15–0.4 s here), each two
minibatch gradients.
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
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import data, hessian, tree
from ..extras import threadpool_limits
from ..lanczos import EigenResult, top_eigenpairs
from ..nn import MLP
from ..optim.subspace import InterpolatedSGD
from ..stats import bootstrap_ci, mean_std
from .common import DIGITS_CLASSES, DIGITS_FEATURES, DIGITS_TRAIN_ROWS, fraction_word
from .bulk_sgd_figures import (plot_alignment, plot_dom_stalls, plot_energy, plot_interpolation,
                               plot_stability)
from .bulk_sgd_pages import (alignment_texts, dom_stalls_texts, energy_texts,
                             interpolation_texts, stability_texts)
from .bulk_sgd_rules import (  # noqa: F401 (the rules' public names, importable from here)
    ALIGNMENT_FACTOR, ALIGNMENT_SKIP, B_EFFECT_FACTOR, BULK_KEEPS_FRACTION, DOM_STALL_FRACTION,
    ENERGY_MAJORITY, GRADIENTS_PER_PRODUCT, INTERPOLATION_LR_DIVISOR, LOSS_LABEL,
    METHODS, alignment_verdict, best_cells, decrease_ratios, energy_verdict, graded_verdict,
    index_of, is_stable, main_effects, share_reading, stability_verdict)
from .registry import Claim, Evidence, register

__all__ = ["Protocol", "QUICK", "FULL", "LOSSES", "Task", "make_task", "hvp_fn", "dominant_pairs",
           "primed_state", "warmup", "method_runs", "is_stable", "largest_stable_lr",
           "stability_point", "interpolation_grid", "energy_shares", "share_reading"]

#: The two training losses every claim is run with.
LOSSES = ("cross_entropy", "mse")
#: SGD learning rate per loss (cross-entropy's sharpness is ~10x smaller than MSE's here).
LR = {"cross_entropy": 0.5, "mse": 0.1}
_LANCZOS_TOL = 1e-5


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
    """Standardised digits (:data:`DIGITS_TRAIN_ROWS` rows), a tanh MLP and the curvature batch.

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
        for name, (a, b) in METHODS.items():
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
    lr = stability_point(loss, seed, protocol)["lr_sgd"] / INTERPOLATION_LR_DIVISOR
    grid = protocol.grid
    final = np.empty((len(grid), len(grid)))
    with threadpool_limits(limits=1):
        for i, a in enumerate(grid):
            for j, b in enumerate(grid):
                losses = _frozen_runner(task, start, pairs, a, b, protocol)(lr)
                final[i, j] = losses[-1] if is_stable(losses) else math.inf
    return {"loss": final, "start": task.loss(start), "lr": lr}


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


#: The Lanczos tolerance as the page writes it (1e-5).
_TOL_TEXT = f"{_LANCZOS_TOL:.0e}".replace("e-0", "e-")


def _task_text(p: Protocol) -> str:
    h = "-".join(str(x) for x in p.hidden)
    return (
        f"tanh MLP {DIGITS_FEATURES}-{h}-{DIGITS_CLASSES} on the scikit-learn digits "
        f"(standardised; {DIGITS_TRAIN_ROWS} training "
        "examples), trained with softmax cross-entropy and, separately, with MSE (half "
        "squared error to one-hot targets). Hessian = that of the loss on a fixed curvature "
        f"batch of the first {p.n_curv} training examples, products by central differences of "
        f"the hand-written gradients; top k + 1 = {DIGITS_CLASSES + 1} eigenpairs by "
        f"thick-restart Lanczos (tol {_TOL_TEXT}). Warm-up: plain SGD, batch {p.batch}, "
        f"lr {LR['cross_entropy']:g} (CE) / {LR['mse']:g} (MSE), {p.warmup} steps from "
        f"initialisation seeds {', '.join(map(str, p.seeds))}.")


def _both_protocols(body: Callable[[Protocol], str]) -> str:
    return f"**Quick:** {body(QUICK)}\n\n**Full:** {body(FULL)}"


# -- the claims' runs ----------------------------------------------------------------------
def _run_alignment(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    warmups = {loss: {seed: warmup(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    k = make_task(LOSSES[0], p).k
    numbers = {}
    for loss, runs in warmups.items():
        pooled = [c for w in runs.values() for s, c in zip(np.asarray(w["steps"]), w["chi_full"])
                  if s >= p.warmup // ALIGNMENT_SKIP]
        dim = runs[p.seeds[0]]["dim"]
        share = bootstrap_ci(np.square(pooled), seed=0)
        numbers[loss] = {"chi_full_mean_ci": bootstrap_ci(pooled, seed=0),
                         "chi_batch_mean_ci": bootstrap_ci(
                             [c for w in runs.values() for c in w["chi_batch"]], seed=0),
                         "share_full_mean_ci": share, "share_reading": share_reading(share),
                         "random_baseline": math.sqrt(k / dim), "dim": dim,
                         "chi_full": {s: w["chi_full"] for s, w in runs.items()},
                         "chi_batch": {s: w["chi_batch"] for s, w in runs.items()},
                         "n_matvec_per_probe": {s: w["n_matvec"] for s, w in runs.items()}}
    figure = plot_alignment(p, warmups, numbers, k, out_dir)
    verdict = alignment_verdict([n["share_full_mean_ci"] for n in numbers.values()],
                                [n["chi_full_mean_ci"][1] for n in numbers.values()],
                                [n["random_baseline"] for n in numbers.values()])
    cond, summary = alignment_texts(verdict, numbers)
    return Evidence(verdict, cond, summary, numbers, [figure])


def _run_dom_stalls(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    runs = {loss: {seed: method_runs(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    numbers, ok_dom, ok_bulk = {}, [], []
    for loss, per_seed in runs.items():
        numbers[loss] = {}
        for seed, by_method in per_seed.items():
            ratios = decrease_ratios(by_method)
            numbers[loss][seed] = {
                "ratio_dom": ratios["Dom-SGD"], "ratio_bulk": ratios["Bulk-SGD"],
                "drop": ratios["drop"],
                "n_matvec": {m: r["n_matvec"] for m, r in by_method.items()},
                "final_loss": {m: r["loss"][-1] for m, r in by_method.items()}}
            ok_dom.append(ratios["Dom-SGD"] <= DOM_STALL_FRACTION)
            ok_bulk.append(ratios["Bulk-SGD"] >= BULK_KEEPS_FRACTION)
    figure = plot_dom_stalls(p, runs, LR, out_dir)
    verdict = graded_verdict(ok_dom, ok_bulk)
    cond, summary = dom_stalls_texts(verdict, numbers, ok_dom, ok_bulk, p)
    return Evidence(verdict, cond, summary, numbers, [figure])


def _run_stability(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    numbers = {loss: {seed: stability_point(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    figure = plot_stability(p, numbers, out_dir)
    all_rows = [r for rows in numbers.values() for r in rows.values()]
    verdict = stability_verdict([r["lr_bulk"] > r["lr_sgd"] for r in all_rows],
                                [r["lr_bulk"] < r["edge_k1"] for r in all_rows])
    cond, summary = stability_texts(verdict, numbers)
    return Evidence(verdict, cond, summary, numbers, [figure])


def _run_interpolation(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    grid = np.asarray(p.grid)
    results = {loss: {seed: interpolation_grid(loss, seed, p) for seed in p.seeds}
               for loss in LOSSES}
    figure = plot_interpolation(p, results, out_dir)
    numbers, b_dominates, beats_sgd = {}, [], []
    for loss in LOSSES:
        per_seed = {}
        for seed, r in results[loss].items():
            eff_a, eff_b = main_effects(r["loss"])
            best, diag = best_cells(r["loss"], grid)
            per_seed[seed] = {"loss": r["loss"], "start_loss": r["start"], "lr": r["lr"],
                              "effect_a": eff_a, "effect_b": eff_b, "best": best,
                              "best_scaled_sgd": diag,
                              "sgd_loss": r["loss"][index_of(grid, 1.0), index_of(grid, 1.0)],
                              "n_unstable": int(np.sum(~np.isfinite(r["loss"])))}
            b_dominates.append(eff_b >= B_EFFECT_FACTOR * eff_a)
            beats_sgd.append(best[1] > best[0] and best[2] < diag[2])
        numbers[loss] = per_seed
    verdict = graded_verdict(b_dominates, beats_sgd)
    cond, summary = interpolation_texts(verdict, numbers, b_dominates, beats_sgd)
    return Evidence(verdict, cond, summary, numbers, [figure])


def _run_energy(quick: bool, out_dir: Path) -> Evidence:
    p = _protocol(quick)
    numbers = {loss: {seed: energy_shares(loss, seed, p) for seed in p.seeds} for loss in LOSSES}
    dim = warmup(LOSSES[0], p.seeds[0], p)["dim"]
    k = make_task(LOSSES[0], p).k
    figure = plot_energy(p, numbers, k, dim, out_dir)
    means = {loss: {n: mean_std([numbers[loss][s][n] for s in p.seeds]) for n in ("H", "G", "F")}
             for loss in LOSSES}
    concentrated = [means[loss][n][0] >= ENERGY_MAJORITY for loss in LOSSES for n in ("H", "G")]
    f_less = [means[loss]["F"][0] < means[loss]["G"][0] for loss in LOSSES]
    verdict = energy_verdict(concentrated, f_less)
    cond, summary = energy_texts(verdict, means, concentrated, f_less, n_seeds=len(p.seeds),
                                 k=k, dim=dim)
    return Evidence(verdict, cond, summary, {"shares": numbers, "dim": dim}, [figure])


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
        f"With U the top-k Hessian eigenvectors (k = {DIGITS_CLASSES} classes) at the current "
        "point and "
        "P = U U^T, the alignment chi = ||P g|| / ||g|| of the full-batch gradient g is "
        "(a) far above the value for a random k-dimensional subspace, sqrt(k/d) "
        "(E[chi^2] = k/d), and (b) large: chi >= 1/sqrt(2), i.e. most of the gradient's "
        "squared norm lies in the k-dimensional subspace. Estimator: mean chi over probes "
        f"after the first {fraction_word(ALIGNMENT_SKIP)} of the warm-up, pooled over seeds, "
        "95% percentile-bootstrap "
        "CI. Verdict: *holds* if the CI's lower end clears 1/sqrt(2) for both losses; "
        f"*holds-under-conditions* if it clears only {ALIGNMENT_FACTOR} sqrt(k/d); *refuted* "
        "otherwise. The "
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
        f" Then {p.run_steps} steps of each method (batch {p.batch}, same lr); P recomputed "
        "every "
        f"{p.every} steps (a Lanczos solve costs tens of Hessian-vector products, "
        f"~{GRADIENTS_PER_PRODUCT} gradients each; the evidence counts them).")),
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
        f"(1, 0), Bulk-SGD at (0, 1). On a grid of (a, b) with lr = "
        f"{fraction_word(INTERPOLATION_LR_DIVISOR)} the largest stable "
        "full-batch SGD rate (claim bulk-stability; so "
        f"a = b = {INTERPOLATION_LR_DIVISOR} is SGD at its edge), "
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
