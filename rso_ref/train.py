r"""Minibatch training loop for any rso_ref model and optimizer, with checkpoint/resume.

Three layers, as in flax's training examples: :func:`train_step` takes one step on one
minibatch, a private epoch function takes the steps of one pass and says why it stopped
early, and :func:`train` checks its arguments once (:class:`TrainConfig`), resumes
(:func:`rso_ref.checkpoint.resume`), runs the epochs and saves a checkpoint after each.

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
loss was finite (one rollback, whichever check fired).

The minibatch order of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e])``,
so a run resumed from the checkpoint written after epoch ``e`` continues bit for bit
as the uninterrupted run would (tested).

A model with batch normalisation (``model.has_running_stats``, e.g.
:class:`rso_ref.nn.ResNet` with ``norm="batch"``) trains in its training mode and
updates its running statistics once per step, from the step's own gradient evaluation
at :math:`\theta_t` (``value_and_grad(..., update_stats=True)``); the optimizer's
oracles (RSO's meta-solve) do not update them. :func:`evaluate` and :func:`accuracy`
run in the model's evaluation mode (its ``evaluating()`` context: the running
statistics). Such a run cannot be checkpointed (:mod:`rso_ref.nn.batch_norm`).

Callbacks follow the one stop rule of rso_ref (SciPy's, as in
:func:`rso_ref.lbfgs.minimize`): ``callback(step, record)`` returns None, and raises
:class:`StopIteration` to stop the run (``status="stopped"``). A callback that returns
anything else (an old ``return True``) raises ``TypeError`` instead of being ignored.
"""
from __future__ import annotations

import json
import math
import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from . import autodiff, checkpoint, hessian, tree
from .backend import array_namespace, check_array, check_finite, device, index_dtype
from .data import minibatches
from .extras import require
from .lbfgs import _stop_requested
from .optim import Needs, Optimizer
from .validation import NonFiniteError, check_callable, check_finite_loss, check_flag, check_int

__all__ = ["TrainConfig", "TrainResult", "train", "train_step", "accuracy", "evaluate"]

#: The keys of a step record (:func:`train_step`), in the order of ``TrainResult.steps``
#: and of the columns of a checkpoint's history file.
STEP_KEYS = ("loss", "grad_norm", "time", "oracle_calls", "hvp_calls", "w")
#: The keys of ``TrainResult.epochs``.
EPOCH_KEYS = ("epoch", "train_loss", "eval_loss", "eval_accuracy")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run, checked once, when it is made.

    :func:`train` builds one from its keywords; every check of a setting alone is
    here, the checks against the model, optimizer and data are in :func:`train`.

    Parameters
    ----------
    epochs : int
        Passes over the data (>= 1).
    batch_size : int
        Minibatch size (>= 1; the last, smaller batch of an epoch is kept).
    seed : int, default 0
        Seeds the parameter init (when :func:`train` gets no ``params``) and the
        minibatch order (>= 0).
    meta_batch : int, optional
        Rows of each minibatch for the meta-objective of an optimizer with
        ``takes_meta_oracle`` (RSO; >= 1).
    max_steps : int, optional
        Stop after this many steps in total (>= 1).
    progress : bool, default True
        Show a tqdm progress bar.
    checkpoint_dir : str or os.PathLike, optional
        Where ``last`` is written after each epoch (kept as a :class:`~pathlib.Path`).
    resume : bool, default False
        Continue from ``checkpoint_dir/last``; needs ``checkpoint_dir``.
    callback : callable, optional
        ``callback(step, record) -> None``; raising :class:`StopIteration` stops the run.
    probe : callable, optional
        ``probe(step, params) -> dict or None``, after each step, before ``callback``.

    Raises
    ------
    TypeError
        If an integer setting is not an int, ``progress`` or ``resume`` not a bool,
        ``checkpoint_dir`` not a path, or ``callback`` or ``probe`` not callable.
    ValueError
        If an integer setting is out of range, or ``resume=True`` comes without
        ``checkpoint_dir``.
    """

    epochs: int
    batch_size: int
    seed: int = 0
    meta_batch: int | None = None
    max_steps: int | None = None
    progress: bool = True
    checkpoint_dir: Path | None = None
    resume: bool = False
    callback: Callable[[int, dict], None] | None = None
    probe: Callable[[int, list], dict | None] | None = None

    def __post_init__(self) -> None:
        checked = {"epochs": check_int(self.epochs, "epochs", minimum=1),
                   "batch_size": check_int(self.batch_size, "batch_size", minimum=1),
                   "seed": check_int(self.seed, "seed")}
        check_flag(self.progress, "progress")
        check_flag(self.resume, "resume")
        for name in ("callback", "probe"):
            if getattr(self, name) is not None:
                check_callable(getattr(self, name), name)
        if self.checkpoint_dir is not None:
            if not isinstance(self.checkpoint_dir, (str, os.PathLike)):
                raise TypeError(f"checkpoint_dir must be a str or os.PathLike, "
                                f"got {type(self.checkpoint_dir).__name__}")
            checked["checkpoint_dir"] = Path(self.checkpoint_dir)
        for name in ("max_steps", "meta_batch"):
            if getattr(self, name) is not None:
                checked[name] = check_int(getattr(self, name), name, minimum=1)
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir")
        for name, value in checked.items():
            object.__setattr__(self, name, value)


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
        Per-step records (:func:`train_step`): ``loss`` (minibatch loss before the
        step), ``grad_norm``, ``time`` (seconds of the step, oracle calls included), and
        from the step's :class:`~rso_ref.optim.contract.StepInfo`: ``oracle_calls`` (the
        oracle calls made by the optimizer beyond the minibatch gradient; RSO's
        meta-solve), ``hvp_calls`` (Hessian-vector products) and ``w`` (RSO's group
        weights as a list of floats; ``None`` for optimizers without them).
    epochs : dict of lists
        Per-epoch records: ``epoch``, ``train_loss`` (mean minibatch loss),
        ``eval_loss`` and ``eval_accuracy`` (when evaluation data was given).
    status : {"completed", "diverged", "max_steps", "stopped"}
        ``"completed"``: every epoch ran; ``"max_steps"``: ``max_steps`` were taken;
        ``"stopped"``: the callback raised :class:`StopIteration`; ``"diverged"``: a
        loss or the parameters became non-finite (``params`` are then the last ones
        whose minibatch loss was finite, ``opt_state`` the state that went with them).
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


def _evaluation_mode(model: Any) -> AbstractContextManager:
    """``model.evaluating()`` (batch normalisations on their running statistics) for a
    ``with`` block, or a context that does nothing for a model without one."""
    evaluating = getattr(model, "evaluating", None)
    return nullcontext() if evaluating is None else evaluating()


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
    with _evaluation_mode(model):
        return _n_correct(array_namespace(X), model, params, X, y) / n


def evaluate(model: Any, params: list, X: Any, y: Any,
             batch_size: int = 1024) -> tuple[float, float]:
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
    with _evaluation_mode(model):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)  # the standard leaves out-of-bounds stops undefined
            xb, yb = X[start:stop, ...], y[start:stop]
            rows = xb.shape[0]
            total_loss += rows * float(model.loss(params, xb, yb))
            total_correct += _n_correct(xp, model, params, xb, yb)
    return total_loss / n, total_correct / n


class _NonFiniteStart(NonFiniteError):
    """The minibatch loss at the parameters a step was given is not finite: those
    parameters are no rollback target (the step's own failures leave them one)."""


def train_step(model: Any, optimizer: Any, params: list, state: dict, xb: Any, yb: Any, *,
               meta_batch: int | None = None) -> tuple[list, dict, dict]:
    r"""Take one optimizer step on the minibatch ``(xb, yb)``; return its record.

    The step of :func:`train`, on its own:

    .. math::

        (\ell, g) = \big(L_B(\theta), \nabla L_B(\theta)\big), \qquad
        (\theta^+, s^+) = \mathrm{opt.step}(\theta, g, s, \text{oracles of } B)

    where :math:`B` is the minibatch, :math:`L_B` the batch-mean ``model.loss`` on it,
    and the oracles are those ``optimizer.needs`` declares (module docstring). Nothing
    is modified in place: on any error the caller still holds ``params`` and ``state``.

    Parameters
    ----------
    model : rso_ref model
        Has ``value_and_grad(params, X, y) -> (loss, grads)`` and ``loss(params, X, y)``.
    optimizer : rso_ref.optim.Optimizer
        Any optimizer of the contract (:mod:`rso_ref.optim.contract`).
    params : list of arrays
        :math:`\theta`, on the backend and device of ``xb``.
    state : dict
        :math:`s`, the optimizer state that goes with ``params`` (``optimizer.init``).
    xb : array, shape (b, \*input_shape)
        The minibatch inputs, ``b >= 1``.
    yb : array, shape (b,)
        The minibatch labels.
    meta_batch : int, optional
        For optimizers with ``takes_meta_oracle`` (RSO): the meta-objective uses the
        first ``meta_batch`` rows of the minibatch.

    Returns
    -------
    params : list of arrays
        :math:`\theta^+`.
    state : dict
        :math:`s^+`.
    record : dict
        ``{"loss": float, "grad_norm": float, "time": float, "oracle_calls": int,
        "hvp_calls": int, "w": list of float or None}``: :math:`\ell`,
        :math:`\|g\|_2`, the seconds the step took (oracle calls included) and the
        step's :class:`~rso_ref.optim.contract.StepInfo` (``w`` as a list). One row of
        :attr:`TrainResult.steps`.

    Raises
    ------
    NonFiniteError
        If :math:`\ell` is not finite, the optimizer raises it (a NaN gradient, an RSO
        meta-solve that blows up), or the step leaves non-finite parameters or reports a
        non-finite loss after the step.
    TypeError
        If ``optimizer`` is not an :class:`~rso_ref.optim.Optimizer`, ``model`` lacks
        ``value_and_grad`` or ``loss``, ``params`` is not a list of arrays, ``xb`` or
        ``yb`` not an array, or ``meta_batch`` not an int.
    ValueError
        If ``xb`` has no rows or ``yb`` another number of rows, ``meta_batch < 1``, or
        ``meta_batch`` is given to an optimizer without ``takes_meta_oracle``.

    Examples
    --------
    >>> import numpy as np
    >>> from rso_ref.nn import MLP
    >>> from rso_ref.optim import SGD
    >>> model, opt = MLP((2, 3, 2)), SGD(lr=0.1)
    >>> params = model.init(seed=0)
    >>> xb, yb = np.ones((4, 2)), np.array([0, 1, 0, 1])
    >>> params, state, record = train_step(model, opt, params, opt.init(params), xb, yb)
    >>> sorted(record)
    ['grad_norm', 'hvp_calls', 'loss', 'oracle_calls', 'time', 'w']
    """
    _check_optimizer(optimizer)
    _check_model(model, ("value_and_grad", "loss"))
    tree.check_params(params)
    _n_rows(xb, yb, ("xb", "yb"))
    if meta_batch is not None:
        meta_batch = _check_meta_batch(meta_batch, optimizer)
    return _step(model, optimizer, params, state, xb, yb, meta_batch,
                 array_namespace(xb, yb, names=["xb", "yb"]))


def _step(model: Any, optimizer: Any, params: list, state: dict, xb: Any, yb: Any,
          meta_batch: int | None, xp: Any) -> tuple[list, dict, dict]:
    """:func:`train_step` after its checks (done once per run by :func:`train`)."""
    started = time.perf_counter()
    try:
        # the one evaluation per step that updates running statistics (batch norm)
        update = {"update_stats": True} if getattr(model, "has_running_stats", False) else {}
        loss, grads = model.value_and_grad(params, xb, yb, **update)
        loss = check_finite_loss(loss, "model.value_and_grad", "on the minibatch")
    except NonFiniteError as exc:
        raise _NonFiniteStart(str(exc)) from None
    oracles = _oracles(optimizer.needs, model, loss, xb, yb, meta_batch, xp)
    params, state, info = optimizer.step_with_info(params, grads, state, **oracles)
    if not tree.all_finite(params, xp=xp):
        raise NonFiniteError("the step made the parameters non-finite")
    if info.loss_after is not None:
        check_finite_loss(info.loss_after, type(optimizer).__name__, "after the step")
    return params, state, {
        "loss": loss, "grad_norm": tree.norm(grads), "time": time.perf_counter() - started,
        "oracle_calls": info.oracle_calls, "hvp_calls": info.hvp_calls,
        "w": list(info.w) if info.w is not None else None}


def _oracles(needs: Needs, model: Any, loss: float, xb: Any, yb: Any, meta_batch: int | None,
             xp: Any) -> dict:
    """The keyword oracles of one step on the minibatch ``(xb, yb)``, as ``needs`` declares."""
    if needs is Needs.VALUE_AND_GRAD:
        oracles = {"value_and_grad": lambda p: model.value_and_grad(p, xb, yb), "loss": loss}
        if meta_batch is not None:
            xm, ym = xb[:meta_batch, ...], yb[:meta_batch]
            oracles["meta_value_and_grad"] = lambda p: model.value_and_grad(p, xm, ym)
        return oracles
    if needs is Needs.HVP:
        if autodiff.has_exact_derivatives(xp):
            return {"hvp_fn": lambda p, v: hessian.hvp(model.loss, p, v, xb, yb)}
        return {"hvp_fn": lambda p, v: hessian.fd_hvp(
            lambda q: model.value_and_grad(q, xb, yb), p, v)}
    return {}


class _Stop(NamedTuple):
    """Why a run ended: a :attr:`TrainResult.status` and its message."""

    status: str
    message: str


class _RunLog:
    """A run between two steps: its parameters and optimizer state, the last ones whose
    minibatch loss was finite (the one rollback target), the step and epoch records,
    the probes, and the epochs and steps done."""

    def __init__(self, params: list, opt_state: dict, steps: dict | None = None,
                 epochs: dict | None = None, epoch: int = 0, step: int = 0):
        self.params, self.opt_state = params, opt_state
        self.good = (params, opt_state)
        self.steps = {k: [] for k in STEP_KEYS} if steps is None else steps
        self.epochs = {k: [] for k in EPOCH_KEYS} if epochs is None else epochs
        self.epoch, self.step = epoch, step
        self.probes: list = []
        self.last_batch: tuple | None = None  # the minibatch of the last step taken here

    @classmethod
    def resumed(cls, saved: dict, steps: dict) -> _RunLog:
        """The run saved in a checkpoint state (:meth:`checkpoint_state`)."""
        return cls(saved["params"], saved["opt_state"], steps, saved["epochs"],
                   saved["epoch"], saved["step"])

    def checkpoint_state(self, fingerprint: str) -> dict:
        """What a checkpoint stores besides the step history (the format written since
        checkpoints have a history; :func:`rso_ref.checkpoint.resume` reads it)."""
        return {"fingerprint": fingerprint, "params": self.params, "opt_state": self.opt_state,
                "epochs": self.epochs, "epoch": self.epoch, "step": self.step}

    def add_step(self, params: list, opt_state: dict, record: dict, batch: tuple) -> None:
        self.good = (self.params, self.opt_state)  # the step found their loss finite
        self.params, self.opt_state, self.last_batch = params, opt_state, batch
        for key, value in record.items():
            self.steps[key].append(value)
        self.step += 1

    def add_probe(self, found: dict | None) -> None:
        if found is not None:
            self.probes.append({"step": self.step, **found})

    def add_epoch(self, epoch: int, losses: list, model: Any, X_eval: Any, y_eval: Any) -> None:
        self.epochs["epoch"].append(epoch + 1)
        self.epochs["train_loss"].append(float(np.mean(losses)) if losses else float("nan"))
        if X_eval is not None:
            eval_loss, eval_acc = evaluate(model, self.params, X_eval, y_eval)
        else:
            eval_loss, eval_acc = float("nan"), float("nan")
        self.epochs["eval_loss"].append(eval_loss)
        self.epochs["eval_accuracy"].append(eval_acc)
        self.epoch = epoch + 1

    def diverge(self, message: str, *, current_is_finite: bool = False) -> _Stop:
        """The one divergence path: back to the last parameters (and state) whose
        minibatch loss was finite; ``current_is_finite`` when the current ones are."""
        if current_is_finite:
            self.good = (self.params, self.opt_state)
        self.params, self.opt_state = self.good
        return _Stop("diverged", f"training diverged {message}; lower the learning rate")

    def check_last_step(self, model: Any) -> _Stop | None:
        """The loss after the last step, which no step computes: a divergence if not finite."""
        if self.last_batch is None:
            return None
        final = float(model.loss(self.params, *self.last_batch))
        if math.isfinite(final):
            return None
        return self.diverge(f"at step {self.step - 1}: the minibatch loss after the last step "
                            f"is {final}")

    def result(self, stop: _Stop) -> TrainResult:
        return TrainResult(params=self.params, opt_state=self.opt_state, steps=self.steps,
                           epochs=self.epochs, status=stop.status, message=stop.message,
                           probes=self.probes)


class _Data(NamedTuple):
    """The checked training and evaluation arrays of a run, and their namespace."""

    X: Any
    y: Any
    X_eval: Any
    y_eval: Any
    xp: Any


def _train_epoch(model: Any, optimizer: Any, data: _Data, epoch: int, config: TrainConfig,
                 run: _RunLog, bar: Any) -> _Stop | None:
    """Take the steps of epoch ``epoch`` and log it; return why the run must stop
    (max_steps, the callback, a divergence), or None when the epoch completed."""
    losses = []
    order = minibatches(data.X.shape[0], config.batch_size,
                        np.random.default_rng([config.seed, epoch]))
    for index in order:
        if config.max_steps is not None and run.step >= config.max_steps:
            return _Stop("max_steps", f"stopped after max_steps={config.max_steps}")
        xb, yb = _take(data.xp, data.X, index), _take(data.xp, data.y, index)
        try:
            params, opt_state, record = _step(model, optimizer, run.params, run.opt_state,
                                              xb, yb, config.meta_batch, data.xp)
        except NonFiniteError as exc:
            return run.diverge(f"at step {run.step} (epoch {epoch}): {exc}",
                               current_is_finite=not isinstance(exc, _NonFiniteStart))
        run.add_step(params, opt_state, record, (xb, yb))
        losses.append(record["loss"])
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
        if config.probe is not None:
            run.add_probe(config.probe(run.step, params))
        if config.callback is not None and _stop_requested(config.callback, run.step, record):
            return _Stop("stopped", f"stopped by callback at step {run.step}")
    run.add_epoch(epoch, losses, model, data.X_eval, data.y_eval)
    eval_loss = run.epochs["eval_loss"][-1]
    if data.X_eval is not None and not math.isfinite(eval_loss):
        return run.diverge(f"in epoch {epoch}: the evaluation loss is {eval_loss}")
    return None


def train(model: Any, optimizer: Any, X: Any, y: Any, *, epochs: int, batch_size: int,
          seed: int = 0, params: list | None = None, X_eval: Any = None, y_eval: Any = None,
          meta_batch: int | None = None, max_steps: int | None = None, progress: bool = True,
          checkpoint_dir: str | Path | None = None, resume: bool = False,
          callback: Callable[[int, dict], None] | None = None,
          probe: Callable[[int, list], dict | None] | None = None) -> TrainResult:
    """Train ``model`` with ``optimizer`` on ``(X, y)`` for ``epochs`` passes.

    Parameters stay the list of arrays of the model's ``init`` (which checkpoints store
    as such); pytrees of parameters (:mod:`rso_ref.pytree`) are for the optimizers and
    :func:`rso_ref.rso.rso_step` called directly.

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
        Continue from ``checkpoint_dir/last`` when it exists, up to ``epochs``
        (:func:`rso_ref.checkpoint.resume`); a damaged checkpoint raises
        :class:`rso_ref.checkpoint.CheckpointError` instead of restarting over it, and
        one already past ``epochs`` raises ``ValueError`` (its parameters are not those
        of the run asked for).
    callback : callable, optional
        ``callback(step, record)`` after each step, with the number of steps taken and
        the step's record (:func:`train_step`). It returns None; raising
        :class:`StopIteration` stops the run (``status="stopped"``, SciPy's rule, the
        same as :func:`rso_ref.lbfgs.minimize`'s).
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
        ``probe`` not callable (all before any training); or, during training, if
        ``callback`` returns something other than None (raise :class:`StopIteration`
        to stop).
    ValueError
        Bad ``epochs``, ``batch_size``, ``meta_batch`` (or one given to an optimizer
        without ``takes_meta_oracle``), ``max_steps``, ``seed``; ``X`` without rows or
        ``y`` with another number of rows; ``X_eval`` without ``y_eval`` (or the
        reverse), without rows, with rows of another shape or dtype than ``X``'s, or
        ``y_eval`` with another number of rows; a NaN or inf in ``X``, ``X_eval`` or
        floating ``y``/``y_eval`` (:class:`~rso_ref.validation.NonFiniteError`);
        non-finite initial ``params``; ``checkpoint_dir`` for a model with running
        statistics (batch normalisation); or
        ``resume`` from a checkpoint past ``epochs``. All are raised before any
        training.
    NotADirectoryError
        If ``checkpoint_dir`` or one of its parents is a file.

    See Also
    --------
    train_step : One step of the loop, on its own.
    """
    _check_optimizer(optimizer)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed,
                         meta_batch=meta_batch, max_steps=max_steps, progress=progress,
                         checkpoint_dir=checkpoint_dir, resume=resume, callback=callback,
                         probe=probe)
    data = _checked_data(model, optimizer, config, X, y, X_eval, y_eval, params)
    if config.checkpoint_dir is not None and getattr(model, "has_running_stats", False):
        raise ValueError("checkpoint_dir: a checkpoint holds the parameters and optimizer "
                         "state, not the running statistics of the model's batch "
                         "normalisations; train it without checkpoint_dir")
    if params is None:
        params = model.init(seed=config.seed, like=X)
    if not tree.all_finite(params):
        raise ValueError("params contains NaN or inf entries: there is nothing finite to "
                         "start from")
    run = _RunLog(params, optimizer.init(params))
    fingerprint = json.dumps([repr(model), repr(optimizer), config.batch_size, config.seed,
                              config.meta_batch])  # a changed format orphans checkpoints
    store = None
    if config.checkpoint_dir is not None:  # a file in the way fails now, not after an epoch
        checkpoint._make_directory(config.checkpoint_dir, "checkpoint_dir")
        store = checkpoint.Checkpoint(config.checkpoint_dir / "last")
        found = checkpoint.resume(store, fingerprint=fingerprint, epochs=config.epochs,
                                  like=X) if config.resume else None
        run = run if found is None else _RunLog.resumed(*found)
    per_epoch = math.ceil(X.shape[0] / config.batch_size)
    bar = _progress_bar(min(config.max_steps or math.inf, config.epochs * per_epoch),
                        run.step, config.progress, type(optimizer).__name__)
    stop = None
    try:
        for epoch in range(run.epoch, config.epochs):
            stop = _train_epoch(model, optimizer, data, epoch, config, run, bar)
            if stop is not None:
                break
            if store is not None:  # appends only this epoch's steps to the history file
                store.save(run.checkpoint_state(fingerprint), history=run.steps)
    finally:
        bar.close()
    if stop is None or stop.status != "diverged":
        stop = run.check_last_step(model) or stop
    return run.result(stop or _Stop("completed", f"trained {config.epochs} epochs"))


def _check_optimizer(optimizer: Any) -> None:
    """``TypeError`` unless ``optimizer`` is of the optimizer contract."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be an rso_ref.optim.Optimizer (subclass it and declare "
                        f"needs), got {type(optimizer).__name__}")


def _check_meta_batch(meta_batch: Any, optimizer: Any) -> int:
    """``meta_batch`` as an int >= 1 for an optimizer that takes a meta oracle."""
    meta_batch = check_int(meta_batch, "meta_batch", minimum=1)
    if not optimizer.takes_meta_oracle:
        raise ValueError(f"meta_batch is for optimizers that take a meta oracle (RSO); "
                         f"{type(optimizer).__name__} does not")
    return meta_batch


def _checked_data(model: Any, optimizer: Any, config: TrainConfig, X: Any, y: Any,
                  X_eval: Any, y_eval: Any, params: list | None) -> _Data:
    """The checks of :func:`train` that need more than one setting: the model has what the
    run calls, the data and evaluation data are arrays of one namespace and device with
    matching rows, ``meta_batch`` suits the optimizer."""
    if (X_eval is None) != (y_eval is None):
        raise ValueError("X_eval and y_eval must be given together")
    _check_model(model, ("value_and_grad", "loss") + (("init",) if params is None else ())
                 + (("predict",) if X_eval is not None else ()))
    if params is not None:
        tree.check_params(params)
    if config.meta_batch is not None:
        _check_meta_batch(config.meta_batch, optimizer)
    _n_rows(X, y)
    if X_eval is not None:
        _n_rows(X_eval, y_eval, ("X_eval", "y_eval"))
        _check_like_training(X_eval, X, "X_eval", "X")
        _check_like_training(y_eval, y, "y_eval", "y", dtype=False)
    xp = array_namespace(X, y, X_eval, y_eval, names=["X", "y", "X_eval", "y_eval"])
    # A NaN in the data is the data's fault, not a divergence of the run: refuse it here,
    # once, rather than let the first step that meets it report "diverged".
    for array, name in ((X, "X"), (y, "y"), (X_eval, "X_eval"), (y_eval, "y_eval")):
        if array is not None and xp.isdtype(array.dtype, "real floating"):
            check_finite(array, name, xp=xp)
    return _Data(X, y, X_eval, y_eval, xp)


def _take(xp, array, index: np.ndarray):
    """Rows ``index`` (host integers) of ``array``, the index moved to ``array``'s device
    in that device's indexing dtype (int32 where a device has no 64-bit types)."""
    where = device(array)
    return xp.take(array, xp.asarray(index, dtype=index_dtype(xp, where), device=where), axis=0)


def _check_like_training(a: Any, like: Any, name: str, like_name: str, dtype: bool = True
                         ) -> None:
    """``ValueError`` naming ``name`` unless its rows have the shape (and with ``dtype``, the
    dtype) of ``like``'s."""
    if tuple(a.shape[1:]) != tuple(like.shape[1:]) or (dtype and a.dtype != like.dtype):
        raise ValueError(f"{name} must have rows of shape {tuple(like.shape[1:])}"
                         + (f" and dtype {like.dtype}" if dtype else "")
                         + f" like {like_name}, got shape {tuple(a.shape)}"
                         + (f" and dtype {a.dtype}" if dtype else ""))


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
