r"""Minibatch training loop for any rso_ref model and optimizer, with checkpoint/resume.

One step on minibatch :math:`B_t`:

.. math::

    (\ell_t, g_t) = \big(L_{B_t}(\theta_t), \nabla L_{B_t}(\theta_t)\big), \qquad
    \theta_{t+1}, s_{t+1} = \mathrm{opt.step}(\theta_t, g_t, s_t)

The keywords of the step follow what the optimizer declares in ``optimizer.needs``
(:mod:`rso_ref.optim.contract`): ``Needs.VALUE_AND_GRAD`` (RSO, full-batch L-BFGS)
gets ``value_and_grad`` and ``loss`` on :math:`B_t` and, with ``meta_batch=k`` (only
for optimizers with ``takes_meta_oracle``), ``meta_value_and_grad`` on the first ``k``
examples of :math:`B_t`; ``Needs.HVP`` (Dom-/Bulk-SGD) gets ``hvp_fn(params, v)``, the
Hessian-vector product of :math:`B_t`: exact where the backend has autodiff
(:func:`rso_ref.hessian.hvp` of ``model.loss``: autograd on NumPy, ``torch.func`` on
torch, JAX's own on JAX), a central difference of ``model.value_and_grad`` elsewhere
(:func:`rso_ref.hessian.fd_hvp`: array_api_strict, CuPy). The per-step
diagnostics come from the :class:`~rso_ref.optim.contract.StepInfo` each step returns.

Nothing is lost when a run goes wrong: a non-finite minibatch loss, a
:class:`~rso_ref.validation.NonFiniteError` raised by the step, non-finite parameters
after it, a non-finite loss the optimizer reports, a non-finite evaluation loss or a
non-finite loss of the final parameters (on the last minibatch) ends the run with
``status="diverged"``, the history so far, and the last parameters whose minibatch
loss was finite.

The minibatch order of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e])``,
so a run resumed from the checkpoint written after epoch ``e`` continues bit for bit
as the uninterrupted run would (tested).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import autodiff, checkpoint, hessian, tree
from .backend import array_namespace, check_array, device, index_dtype
from .data import minibatches
from .extras import require
from .optim import Needs, Optimizer
from .validation import NonFiniteError, check_callable, check_finite_loss, check_flag, check_int

__all__ = ["TrainResult", "train", "accuracy", "evaluate"]


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    params : list of arrays
        Final parameters.
    opt_state : dict
        Final optimizer state.
    steps : dict of lists
        Per-step records: ``loss`` (minibatch loss before the step), ``grad_norm``,
        ``time`` (seconds of the step, oracle calls included), and from the step's
        :class:`~rso_ref.optim.contract.StepInfo`: ``nfev`` (its ``oracle_calls``, the
        oracle calls made by the optimizer beyond the minibatch gradient),
        ``hvp_calls`` (Hessian-vector products) and ``w`` (RSO's group weights as a
        list of floats; ``None`` for optimizers without them).
    epochs : dict of lists
        Per-epoch records: ``epoch``, ``train_loss`` (mean minibatch loss),
        ``eval_loss`` and ``eval_accuracy`` (when evaluation data was given).
    status : {"completed", "diverged", "max_steps", "stopped"}
        ``"completed"``: every epoch ran; ``"max_steps"``: ``max_steps`` were taken;
        ``"stopped"``: the callback returned True; ``"diverged"``: a loss or the
        parameters became non-finite (``params`` are then the last ones whose
        minibatch loss was finite, ``opt_state`` the state that went with them).
    message : str
        What happened, naming the step for ``"diverged"`` and ``"stopped"``.
    probes : list of dict
        What ``probe`` returned (not None) after a step, each with its ``"step"`` (the
        number of steps taken) added; empty without a probe. Not checkpointed: a
        resumed run has the probes of its own steps only.
    """

    params: list
    opt_state: dict
    steps: dict = field(default_factory=dict)
    epochs: dict = field(default_factory=dict)
    status: str = "completed"
    message: str = ""
    probes: list = field(default_factory=list)


def _n_correct(xp, model: Any, params: list, X: Any, y: Any) -> float:
    """Number of rows of ``X`` whose arg-max prediction equals the integer label ``y``."""
    predicted = xp.argmax(model.predict(params, X), axis=1)
    return float(xp.count_nonzero(predicted == y))  # no float64 needed (float32-only devices)


def _n_rows(X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> int:
    """The number of rows of the arrays ``X`` and ``y`` (named ``names``), after checking
    that they are arrays with the same number of rows, at least one (a mean over no rows
    is undefined): ``TypeError`` or ``ValueError`` naming the one at fault."""
    check_array(X, names[0])
    check_array(y, names[1])
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{names[0] if X.ndim == 0 else names[1]} must have a first axis of "
                         f"rows, got a 0-d array")
    n = X.shape[0]
    if n == 0:
        raise ValueError(f"{names[0]} must have at least one row, got shape {tuple(X.shape)}")
    if y.shape[0] != n:
        raise ValueError(f"{names[0]} has {n} rows but {names[1]} has {y.shape[0]}")
    return n


def _check_model(model: Any, methods: tuple[str, ...]) -> None:
    """``TypeError`` naming ``model`` unless it has each of ``methods``."""
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"model must be an rso_ref model with {', '.join(methods)} methods; "
                        f"{type(model).__name__} has no {', '.join(missing)}")


def accuracy(model: Any, params: list, X: Any, y: Any) -> float:
    r"""Fraction of rows of ``X`` whose arg-max prediction equals the integer label ``y``.

    .. math::

        \mathrm{acc} = \frac1n \sum_{i=1}^{n}
        \mathbf 1\big[\arg\max_c\, \mathrm{predict}(\theta, X)_{ic} = y_i\big].

    Parameters
    ----------
    model : rso_ref model
        Has ``predict(params, X)`` returning per-class scores of shape ``(n, C)``
        (log-probabilities for the models of :mod:`rso_ref.nn`).
    params : list of arrays
        The parameters :math:`\theta` to evaluate.
    X : array, shape (n, \*input_shape)
        Inputs, ``n >= 1``, on the backend and device of ``params``.
    y : array of int, shape (n,)
        Class labels in ``0 .. C - 1``, on the same backend and device.

    Returns
    -------
    float
        The accuracy, in :math:`[0, 1]`.

    Raises
    ------
    TypeError
        If ``X`` or ``y`` is not an array, ``params`` not a list of arrays, or ``model``
        has no ``predict``.
    ValueError
        If ``X`` has no rows, or ``y`` another number of rows.
    """
    _check_model(model, ("predict",))
    tree.check_params(params)
    n = _n_rows(X, y)
    return _n_correct(array_namespace(X), model, params, X, y) / n


def evaluate(model: Any, params: list, X: Any, y: Any, batch_size: int = 1024) -> tuple[float, float]:
    r"""Mean loss and accuracy of ``params`` on ``(X, y)``, evaluated in chunks.

    The rows are taken in consecutive chunks :math:`B_1, B_2, \dots` of at most
    ``batch_size`` rows, so memory is bounded whatever ``n``, and the chunk results are
    weighted by their sizes:

    .. math::

        \bar L = \frac1n \sum_k |B_k|\, L_{B_k}(\theta), \qquad
        \mathrm{acc} = \frac1n \sum_k \#\{i \in B_k : \arg\max_c\,
        \mathrm{predict}(\theta, X)_{ic} = y_i\}.

    With a batch-mean ``model.loss`` this is the mean loss over all ``n`` rows (equal to
    one whole-set evaluation up to rounding), whatever ``batch_size`` is.

    Parameters
    ----------
    model : rso_ref model
        Has ``loss(params, X, y)`` (the batch-mean loss, a scalar) and
        ``predict(params, X)`` (per-class scores of shape ``(n, C)``).
    params : list of arrays
        The parameters :math:`\theta` to evaluate.
    X : array, shape (n, \*input_shape)
        Inputs, ``n >= 1``, on the backend and device of ``params``.
    y : array of int, shape (n,)
        Class labels in ``0 .. C - 1``, on the same backend and device.
    batch_size : int, default 1024
        Rows per chunk (>= 1).

    Returns
    -------
    loss : float
        Mean loss :math:`\bar L` over the ``n`` rows.
    accuracy : float
        Fraction of rows predicted correctly, in :math:`[0, 1]`.

    Raises
    ------
    ValueError
        If ``X`` has no rows, ``y`` another number of rows, or ``batch_size < 1``.
    TypeError
        If ``batch_size`` is not an int, ``X`` or ``y`` not an array, ``params`` not a
        list of arrays, or ``model`` has no ``loss`` or ``predict``.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _check_model(model, ("loss", "predict"))
    tree.check_params(params)
    n = _n_rows(X, y)
    xp = array_namespace(X)
    total_loss, total_correct = 0.0, 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)  # the standard leaves out-of-bounds stops undefined
        xb, yb = X[start:stop, ...], y[start:stop]
        rows = xb.shape[0]
        total_loss += rows * float(model.loss(params, xb, yb))
        total_correct += _n_correct(xp, model, params, xb, yb)
    return total_loss / n, total_correct / n


def _take(xp, array, index: np.ndarray):
    """Rows ``index`` (host integers) of ``array``, the index moved to ``array``'s device
    in that device's indexing dtype (int32 where a device has no 64-bit types)."""
    where = device(array)
    return xp.take(array, xp.asarray(index, dtype=index_dtype(xp, where), device=where), axis=0)


def _fingerprint(model, optimizer, batch_size, seed, meta_batch) -> str:
    return json.dumps([repr(model), repr(optimizer), batch_size, seed, meta_batch])


def train(model: Any, optimizer: Any, X: Any, y: Any, *, epochs: int, batch_size: int,
          seed: int = 0, params: list | None = None, X_eval: Any = None, y_eval: Any = None,
          meta_batch: int | None = None, max_steps: int | None = None, progress: bool = True,
          checkpoint_dir: str | Path | None = None, resume: bool = False,
          callback: Callable[[int, dict], Any] | None = None,
          probe: Callable[[int, list], dict | None] | None = None) -> TrainResult:
    """Train ``model`` with ``optimizer`` on ``(X, y)`` for ``epochs`` passes.

    Parameters
    ----------
    model : rso_ref model
        Has ``init``, ``value_and_grad``, ``loss``, ``predict``.
    optimizer : rso_ref.optim.Optimizer
        Any optimizer of the contract (:mod:`rso_ref.optim.contract`); its ``needs``
        decides which oracles each step gets.
    X, y : arrays of one backend
        Training inputs and labels; the backend and dtype of ``X`` are used throughout.
    epochs, batch_size : int
        Passes over the data; minibatch size (the last, smaller batch is kept).
    seed : int
        Seeds the parameter init (when ``params`` is None) and the minibatch order.
    params : list of arrays, optional
        Initial parameters; default ``model.init(seed, dtype=X.dtype, backend=...)``.
    X_eval, y_eval : arrays, optional
        Evaluated (loss, accuracy) after every epoch.
    meta_batch : int, optional
        For optimizers with ``takes_meta_oracle`` (RSO): the meta-objective uses the
        first ``meta_batch`` examples of each minibatch.
    max_steps : int, optional
        Stop after this many steps in total.
    progress : bool
        Show a tqdm progress bar (tqdm comes with the ``cli`` extra; ``progress=False``
        trains without it).
    checkpoint_dir : path, optional
        Write ``checkpoint_dir/last`` after each epoch (:class:`rso_ref.checkpoint.Checkpoint`:
        atomic, integrity-checked, no pickle; the step records go to an append-only
        history file beside it, so a save costs the same at any step). The directory
        is created before the first step.
    resume : bool
        Continue from ``checkpoint_dir/last`` when it exists, up to ``epochs``; a damaged
        checkpoint raises :class:`rso_ref.checkpoint.CheckpointError` instead of
        restarting over it, and one already past ``epochs`` raises ``ValueError`` (its
        parameters are not those of the run asked for).
    callback : callable, optional
        ``callback(step, record)`` after each step; returning True stops the run
        (``status="stopped"``).
    probe : callable, optional
        ``probe(step, params)`` after each step (before ``callback``), with the number of
        steps taken and the parameters after the step, for diagnostics that need the
        parameters (e.g. predictions on a fixed batch); a dict it returns is kept in
        ``TrainResult.probes``, None keeps nothing (a probe limits its own cost so).

    Returns
    -------
    TrainResult
        A run in which a loss or the parameters became NaN/inf ends with
        ``status="diverged"`` and a message naming the step (see the module
        docstring); the parameters returned are the last ones whose minibatch loss was
        finite, and the step history is kept.

    Raises
    ------
    TypeError
        If ``optimizer`` is not an :class:`~rso_ref.optim.Optimizer`, ``model`` lacks a
        method it needs, ``X``, ``y``, ``X_eval`` or ``y_eval`` is not an array,
        ``params`` not a list of arrays, ``checkpoint_dir`` not a path, an integer
        argument not an int, ``progress``/``resume`` not a bool, or ``callback`` or
        ``probe`` not callable.
    ValueError
        Bad ``epochs``, ``batch_size``, ``meta_batch`` (or one given to an optimizer
        without ``takes_meta_oracle``), ``max_steps``, ``seed``; ``X`` without rows or
        ``y`` with another number of rows; ``X_eval`` without ``y_eval`` (or the
        reverse), without rows, with rows of another shape or dtype than ``X``'s, or
        ``y_eval`` with another number of rows; non-finite initial ``params``; or
        ``resume`` from a checkpoint past ``epochs``. All are raised before any
        training.
    NotADirectoryError
        If ``checkpoint_dir`` or one of its parents is a file.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be an rso_ref.optim.Optimizer (subclass it and declare "
                        f"needs), got {type(optimizer).__name__}")
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(seed, "seed")
    check_flag(progress, "progress")
    check_flag(resume, "resume")
    if callback is not None:
        check_callable(callback, "callback")
    if probe is not None:
        check_callable(probe, "probe")
    if (X_eval is None) != (y_eval is None):
        raise ValueError("X_eval and y_eval must be given together")
    _check_model(model, ("value_and_grad", "loss") + (("init",) if params is None else ())
                 + (("predict",) if X_eval is not None else ()))
    if params is not None:
        tree.check_params(params)
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir must be a str or os.PathLike, "
                        f"got {type(checkpoint_dir).__name__}")
    if max_steps is not None:
        check_int(max_steps, "max_steps", minimum=1)
    if meta_batch is not None:
        check_int(meta_batch, "meta_batch", minimum=1)
        if not optimizer.takes_meta_oracle:
            raise ValueError(f"meta_batch is for optimizers that take a meta oracle (RSO); "
                             f"{type(optimizer).__name__} does not")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir")
    n = _n_rows(X, y)
    if X_eval is not None:
        _n_rows(X_eval, y_eval, ("X_eval", "y_eval"))
        _check_like_training(X_eval, X, "X_eval", "X")
        _check_like_training(y_eval, y, "y_eval", "y", dtype=False)
    xp = array_namespace(X, y, X_eval, y_eval, names=["X", "y", "X_eval", "y_eval"])
    if params is None:
        params = model.init(seed=seed, like=X)
    if not tree.all_finite(params):
        raise ValueError("params contains NaN or inf entries: there is nothing finite to "
                         "start from")
    opt_state = optimizer.init(params)
    exact_hvp = autodiff.has_exact_derivatives(xp)
    steps: dict = {"loss": [], "grad_norm": [], "time": [], "nfev": [], "hvp_calls": [], "w": []}
    probes: list = []
    epoch_log: dict = {"epoch": [], "train_loss": [], "eval_loss": [], "eval_accuracy": []}
    first_epoch, step = 0, 0
    fingerprint = _fingerprint(model, optimizer, batch_size, seed, meta_batch)
    store = None
    if checkpoint_dir is not None:  # a file in the way fails now, not after an epoch
        checkpoint._make_directory(Path(checkpoint_dir), "checkpoint_dir")
        store = checkpoint.Checkpoint(Path(checkpoint_dir) / "last")
    if resume and store is not None and store.exists():
        saved, steps = store.load(like=X)  # CheckpointError if damaged: never a silent restart
        if saved["fingerprint"] != fingerprint:
            raise ValueError(f"checkpoint at {store.path} was written by a different configuration")
        if saved["epoch"] > epochs:  # its params and log are past the run asked for
            raise ValueError(f"epochs={epochs}, but the checkpoint at {store.path} is from "
                             f"epoch {saved['epoch']}: resume with epochs >= {saved['epoch']}, "
                             f"or start over in a fresh checkpoint_dir")
        params, opt_state = saved["params"], saved["opt_state"]
        epoch_log = saved["epochs"]
        first_epoch, step = saved["epoch"], saved["step"]

    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    good = (params, opt_state)  # the last params with a finite minibatch loss, and their state
    last_batch = None  # the minibatch of the last step taken here (for the final loss check)
    bar = _progress_bar(total, step, progress, type(optimizer).__name__)
    status, message = "completed", f"trained {epochs} epochs"
    try:
        for epoch in range(first_epoch, epochs):
            epoch_losses = []
            for index in minibatches(n, batch_size, np.random.default_rng([seed, epoch])):
                if max_steps is not None and step >= max_steps:
                    status, message = "max_steps", f"stopped after max_steps={max_steps}"
                    break
                xb, yb = _take(xp, X, index), _take(xp, y, index)
                started = time.perf_counter()
                try:
                    loss, grads = model.value_and_grad(params, xb, yb)
                    loss = check_finite_loss(loss, "model.value_and_grad", "on the minibatch")
                    good = (params, opt_state)
                    oracles = _oracles(optimizer.needs, model, loss, xb, yb, meta_batch, exact_hvp)
                    params, opt_state, info = optimizer.step_with_info(params, grads, opt_state,
                                                                       **oracles)
                    _check_step(params, info, type(optimizer).__name__, xp)
                except NonFiniteError as exc:
                    (params, opt_state), status = good, "diverged"
                    message = (f"training diverged at step {step} (epoch {epoch}): {exc}; "
                               "lower the learning rate")
                    break
                elapsed = time.perf_counter() - started
                last_batch = (xb, yb)
                record = {
                    "loss": loss, "grad_norm": tree.norm(grads), "time": elapsed,
                    "nfev": info.oracle_calls, "hvp_calls": info.hvp_calls,
                    "w": list(info.w) if info.w is not None else None,
                }
                for key, value in record.items():
                    steps[key].append(value)
                epoch_losses.append(loss)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
                if probe is not None:
                    found = probe(step, params)
                    if found is not None:
                        probes.append({"step": step, **found})
                if callback is not None and callback(step, record):
                    status, message = "stopped", f"stopped by callback at step {step}"
                    break
            if status != "completed":
                break
            _log_epoch(epoch_log, epoch, epoch_losses, model, params, X_eval, y_eval)
            if X_eval is not None and not math.isfinite(epoch_log["eval_loss"][-1]):
                (params, opt_state), status = good, "diverged"
                message = (f"training diverged in epoch {epoch}: the evaluation loss is "
                           f"{epoch_log['eval_loss'][-1]}; lower the learning rate")
                break
            if store is not None:  # appends only this epoch's steps to the history file
                store.save({"fingerprint": fingerprint, "params": params, "opt_state": opt_state,
                            "epochs": epoch_log, "epoch": epoch + 1, "step": step}, history=steps)
    finally:
        bar.close()
    if status != "diverged" and last_batch is not None:
        # The loss after the last step is computed by no step: check it here.
        final = float(model.loss(params, *last_batch))
        if not math.isfinite(final):
            (params, opt_state), status = good, "diverged"
            message = (f"training diverged at step {step - 1}: the minibatch loss after the "
                       f"last step is {final}; lower the learning rate")
    return TrainResult(params=params, opt_state=opt_state, steps=steps, epochs=epoch_log,
                       status=status, message=message, probes=probes)


def _check_like_training(a: Any, like: Any, name: str, like_name: str, dtype: bool = True
                         ) -> None:
    """``ValueError`` naming ``name`` unless its rows have the shape (and with ``dtype``, the
    dtype) of ``like``'s."""
    if tuple(a.shape[1:]) != tuple(like.shape[1:]) or (dtype and a.dtype != like.dtype):
        raise ValueError(f"{name} must have rows of shape {tuple(like.shape[1:])}"
                         + (f" and dtype {like.dtype}" if dtype else "")
                         + f" like {like_name}, got shape {tuple(a.shape)}"
                         + (f" and dtype {a.dtype}" if dtype else ""))


def _oracles(needs: Needs, model: Any, loss: float, xb: Any, yb: Any, meta_batch: int | None,
             exact_hvp: bool) -> dict:
    """The keyword oracles of one step on the minibatch ``(xb, yb)``, as ``needs`` declares."""
    if needs is Needs.VALUE_AND_GRAD:
        oracles = {"value_and_grad": lambda p: model.value_and_grad(p, xb, yb), "loss": loss}
        if meta_batch is not None:
            xm, ym = xb[:meta_batch, ...], yb[:meta_batch]
            oracles["meta_value_and_grad"] = lambda p: model.value_and_grad(p, xm, ym)
        return oracles
    if needs is Needs.HVP:
        if exact_hvp:
            return {"hvp_fn": lambda p, v: hessian.hvp(model.loss, p, v, xb, yb)}
        return {"hvp_fn": lambda p, v: hessian.fd_hvp(
            lambda q: model.value_and_grad(q, xb, yb), p, v)}
    return {}


def _check_step(params: list, info: Any, name: str, xp: Any) -> None:
    """Raise :class:`NonFiniteError` if a step left non-finite parameters or loss."""
    if not tree.all_finite(params, xp=xp):
        raise NonFiniteError("the step made the parameters non-finite")
    if info.loss_after is not None:
        check_finite_loss(info.loss_after, name, "after the step")


def _log_epoch(log: dict, epoch: int, losses: list, model, params, X_eval, y_eval) -> None:
    log["epoch"].append(epoch + 1)
    log["train_loss"].append(float(np.mean(losses)) if losses else float("nan"))
    if X_eval is not None:
        eval_loss, eval_acc = evaluate(model, params, X_eval, y_eval)
    else:
        eval_loss, eval_acc = float("nan"), float("nan")
    log["eval_loss"].append(eval_loss)
    log["eval_accuracy"].append(eval_acc)


class _NoBar:
    """The progress bar when ``progress=False``: training then needs no tqdm (cli extra)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, initial: int, enabled: bool, name: str):
    if not enabled:
        return _NoBar()
    # The console bar: tqdm.auto warns in kernels without ipywidgets.
    tqdm = require("tqdm", "cli", "train's progress bar (progress=True)").tqdm
    return tqdm(total=total, initial=initial, desc=name, unit="step", leave=False,
                dynamic_ncols=True)
