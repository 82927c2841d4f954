r"""Minibatch training loop for any rso_ref model and optimizer, with checkpoint/resume.

One step on minibatch :math:`B_t`:

.. math::

    (\ell_t, g_t) = \big(L_{B_t}(\theta_t), \nabla L_{B_t}(\theta_t)\big), \qquad
    \theta_{t+1}, s_{t+1} = \mathrm{opt.step}(\theta_t, g_t, s_t)

Optimizers that need the loss oracle itself (RSO, full-batch L-BFGS; they set
``needs_oracle = True``) also get ``value_and_grad`` on :math:`B_t` and, with
``meta_batch=k``, a meta oracle on the first ``k`` examples of :math:`B_t`.

The minibatch order of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e])``,
so a run resumed from the checkpoint written after epoch ``e`` continues bit for bit
as the uninterrupted run would (tested).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import checkpoint, tree
from .backend import array_namespace, backend_name, to_numpy
from .data import minibatches

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
        ``time`` (seconds of the step, oracle calls included), ``nfev`` (extra oracle
        calls made by the optimizer in the step), and ``w`` (RSO weights, when the
        optimizer keeps them; ``None`` otherwise).
    epochs : dict of lists
        Per-epoch records: ``epoch``, ``train_loss`` (mean minibatch loss),
        ``eval_loss`` and ``eval_accuracy`` (when evaluation data was given).
    status : {"completed", "diverged", "max_steps"}
    message : str
    """

    params: list
    opt_state: dict
    steps: dict = field(default_factory=dict)
    epochs: dict = field(default_factory=dict)
    status: str = "completed"
    message: str = ""


def _n_correct(xp, model: Any, params: list, X: Any, y: Any) -> float:
    """Number of rows of ``X`` whose arg-max prediction equals the integer label ``y``."""
    predicted = xp.argmax(model.predict(params, X), axis=1)
    return float(xp.sum(xp.astype(predicted == y, xp.float64)))


def accuracy(model: Any, params: list, X: Any, y: Any) -> float:
    """Fraction of rows of ``X`` whose arg-max prediction equals the integer label ``y``."""
    return _n_correct(array_namespace(X), model, params, X, y) / X.shape[0]


def evaluate(model: Any, params: list, X: Any, y: Any, batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``params`` on ``(X, y)``, evaluated in chunks."""
    xp = array_namespace(X)
    n = X.shape[0]
    total_loss, total_correct = 0.0, 0.0
    for start in range(0, n, batch_size):
        xb, yb = X[start:start + batch_size, ...], y[start:start + batch_size]
        rows = xb.shape[0]
        total_loss += rows * float(model.loss(params, xb, yb))
        total_correct += _n_correct(xp, model, params, xb, yb)
    return total_loss / n, total_correct / n


def _take(xp, array, index: np.ndarray):
    return xp.take(array, xp.asarray(index), axis=0)


def _fingerprint(model, optimizer, batch_size, seed, meta_batch) -> str:
    return json.dumps([repr(model), repr(optimizer), batch_size, seed, meta_batch])


def train(model: Any, optimizer: Any, X: Any, y: Any, *, epochs: int, batch_size: int,
          seed: int = 0, params: list | None = None, X_eval: Any = None, y_eval: Any = None,
          meta_batch: int | None = None, max_steps: int | None = None, progress: bool = True,
          checkpoint_dir: str | Path | None = None, resume: bool = False,
          callback: Callable[[int, dict], Any] | None = None) -> TrainResult:
    """Train ``model`` with ``optimizer`` on ``(X, y)`` for ``epochs`` passes.

    Parameters
    ----------
    model : rso_ref model
        Has ``init``, ``value_and_grad``, ``loss``, ``predict``.
    optimizer : rso_ref optimizer
        ``init(params)`` and ``step(params, grads, state, ...)``.
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
        For optimizers with ``needs_oracle``: the meta-objective uses the first
        ``meta_batch`` examples of each minibatch.
    max_steps : int, optional
        Stop after this many steps in total.
    progress : bool
        Show a tqdm progress bar.
    checkpoint_dir : path, optional
        Write ``checkpoint_dir/last`` after each epoch (:class:`rso_ref.checkpoint.Checkpoint`:
        atomic, integrity-checked, no pickle; the step records go to an append-only
        history file beside it, so a save costs the same at any step).
    resume : bool
        Continue from ``checkpoint_dir/last`` when it exists; a damaged checkpoint raises
        :class:`rso_ref.checkpoint.CheckpointError` instead of restarting over it.
    callback : callable, optional
        ``callback(step, record)`` after each step; returning True stops the run.

    Returns
    -------
    TrainResult
        A run whose minibatch loss became NaN/inf stops with ``status="diverged"`` and
        a message naming the step; the parameters returned are the last ones whose
        minibatch loss was finite (the loss is checked at the start of each step).
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if meta_batch is not None and (isinstance(meta_batch, bool) or not isinstance(meta_batch, int)
                                   or meta_batch < 1):
        raise ValueError(f"meta_batch must be a positive int, got {meta_batch!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir")
    xp = array_namespace(X, y)
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
    if params is None:
        params = model.init(seed=seed, like=X)
    opt_state = optimizer.init(params)
    needs_oracle = getattr(optimizer, "needs_oracle", False)
    steps: dict = {"loss": [], "grad_norm": [], "time": [], "nfev": [], "w": []}
    epoch_log: dict = {"epoch": [], "train_loss": [], "eval_loss": [], "eval_accuracy": []}
    first_epoch, step = 0, 0
    fingerprint = _fingerprint(model, optimizer, batch_size, seed, meta_batch)
    store = checkpoint.Checkpoint(Path(checkpoint_dir) / "last") if checkpoint_dir is not None \
        else None
    if resume and store is not None and store.exists():
        saved, steps = store.load(xp=xp)  # CheckpointError if damaged: never a silent restart
        if saved["fingerprint"] != fingerprint:
            raise ValueError(f"checkpoint at {store.path} was written by a different configuration")
        params, opt_state = saved["params"], saved["opt_state"]
        epoch_log = saved["epochs"]
        first_epoch, step = saved["epoch"], saved["step"]

    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    last_finite = params  # returned if the very first loss is already non-finite
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
                loss, grads = model.value_and_grad(params, xb, yb)
                if not math.isfinite(loss):
                    params = last_finite
                    status = "diverged"
                    message = (f"training diverged at step {step} (epoch {epoch}): minibatch loss "
                               f"is {loss}; lower the learning rate")
                    break
                last_finite = params
                kwargs = {}
                if needs_oracle:
                    kwargs["value_and_grad"] = lambda p, xb=xb, yb=yb: model.value_and_grad(p, xb, yb)
                    kwargs["loss"] = loss
                    if meta_batch is not None:
                        xm, ym = xb[:meta_batch, ...], yb[:meta_batch]
                        kwargs["meta_value_and_grad"] = lambda p, xm=xm, ym=ym: \
                            model.value_and_grad(p, xm, ym)
                nfev_before = opt_state.get("nfev", 0) if isinstance(opt_state, dict) else 0
                new_params, opt_state = optimizer.step(params, grads, opt_state, **kwargs)
                elapsed = time.perf_counter() - started
                params = new_params
                record = {
                    "loss": loss, "grad_norm": tree.norm(grads), "time": elapsed,
                    "nfev": (opt_state.get("nfev", 0) - nfev_before) if isinstance(opt_state, dict) else 0,
                    "w": _weights(opt_state),
                }
                for key, value in record.items():
                    steps[key].append(value)
                epoch_losses.append(loss)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
                if callback is not None and callback(step, record):
                    status, message = "max_steps", f"stopped by callback at step {step}"
                    break
            if status != "completed":
                break
            _log_epoch(epoch_log, epoch, epoch_losses, model, params, X_eval, y_eval)
            if store is not None:  # appends only this epoch's steps to the history file
                store.save({"fingerprint": fingerprint, "params": params, "opt_state": opt_state,
                            "epochs": epoch_log, "epoch": epoch + 1, "step": step}, history=steps)
    finally:
        bar.close()
    return TrainResult(params=params, opt_state=opt_state, steps=steps, epochs=epoch_log,
                       status=status, message=message)


def _weights(opt_state: Any):
    if isinstance(opt_state, dict) and opt_state.get("w") is not None:
        return [float(v) for v in to_numpy(opt_state["w"])]
    return None


def _log_epoch(log: dict, epoch: int, losses: list, model, params, X_eval, y_eval) -> None:
    log["epoch"].append(epoch + 1)
    log["train_loss"].append(float(np.mean(losses)) if losses else float("nan"))
    if X_eval is not None:
        eval_loss, eval_acc = evaluate(model, params, X_eval, y_eval)
    else:
        eval_loss, eval_acc = float("nan"), float("nan")
    log["eval_loss"].append(eval_loss)
    log["eval_accuracy"].append(eval_acc)


def _progress_bar(total: int, initial: int, enabled: bool, name: str):
    from tqdm import tqdm  # the console bar: tqdm.auto warns in kernels without ipywidgets

    return tqdm(total=total, initial=initial, disable=not enabled, desc=name, unit="step",
                leave=False, dynamic_ncols=True)
