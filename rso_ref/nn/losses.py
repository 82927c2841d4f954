r"""Batch-mean losses with their backward passes: softmax cross-entropy and MSE.

Each loss is ``<name>(outputs, targets, *, xp=None) -> (loss, cache)`` with ``loss`` a
0-d array of ``xp``, and ``<name>_bwd(cache, *, xp=None) -> d_outputs``
(:math:`\partial L/\partial\,\text{outputs}`, the upstream gradient of the loss itself
being 1).

Notes
-----
For logits :math:`Z \in \mathbb{R}^{n\times C}`, integer labels :math:`y_i` and
one-hot rows :math:`Y`:

.. math::

    \log p_{ic} = Z_{ic} - m_i - \log\sum_k e^{Z_{ik} - m_i}, \quad m_i = \max_k Z_{ik},

    L_{\mathrm{CE}} = -\frac1n \sum_i \log p_{i y_i}, \qquad
    \frac{\partial L_{\mathrm{CE}}}{\partial Z} = \frac{P - Y}{n}

(subtracting the row maximum :math:`m_i` keeps ``exp`` from overflowing and does not
change :math:`\log p`). For predictions :math:`\hat Y` and targets :math:`T` of shape
``(n, q)``:

.. math::

    L_{\mathrm{MSE}} = \frac{1}{2n}\sum_{i,j} (\hat Y_{ij} - T_{ij})^2, \qquad
    \frac{\partial L_{\mathrm{MSE}}}{\partial \hat Y} = \frac{\hat Y - T}{n}.

.. warning::
   MSE conventions differ by constant factors. Ours is *half the squared error, summed
   over outputs, averaged over the batch*; torch's ``F.mse_loss`` (``reduction="mean"``)
   averages over outputs too and drops the half: ``ours = mse_loss(pred, target) * q / 2``
   ``= mse_loss(pred, target, reduction="sum") / (2 n)``.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

from ..backend import array_namespace, check_finite, is_traced, one_hot

__all__ = [
    "prepare_targets",
    "log_softmax",
    "one_hot",
    "check_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_bwd",
    "mse",
    "mse_bwd",
    "LOSSES",
]


def log_softmax(logits: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Return the row-wise log-softmax of ``(n, C)`` logits, computed stably.

    .. math::

        \log\operatorname{softmax}(z)_{ic} = z_{ic} - \max_k z_{ik}
            - \log \sum_k e^{z_{ik} - \max_k z_{ik}}

    Parameters
    ----------
    logits : array, shape (n, C)
        The logits :math:`z`.
    xp : module, optional
        Namespace; found from ``logits`` when omitted.

    Returns
    -------
    array, shape (n, C)
        Log-probabilities.
    """
    xp = array_namespace(logits) if xp is None else xp
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def check_labels(labels: Any, n_classes: int, *, n: int | None = None, name: str = "y",
                 rows: str = "X", xp: ModuleType | None = None) -> None:
    """Check integer class labels in ``[0, n_classes)``, one per row of ``rows``.

    Inside ``jax.jit`` the labels' extremes have no values yet
    (:func:`rso_ref.backend.is_traced`): their dtype and shape are checked, their range is
    not (check the data eagerly first).

    Parameters
    ----------
    labels : array
        The labels.
    n_classes : int
        The number of classes :math:`C`.
    n : int, optional
        The number of rows the labels must match.
    name : str, default "y"
        The labels' argument name, for messages.
    rows : str, default "X"
        The rows' argument name, for messages.
    xp : module, optional
        Namespace; found from ``labels`` when omitted.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer array (float labels are refused, not rounded).
    ValueError
        If ``labels`` is not 1-D, has other than ``n`` entries, or a label is out of
        range; the message names ``name`` (and ``rows`` for a length mismatch).
    """
    xp = array_namespace(labels) if xp is None else xp
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels, got shape {tuple(labels.shape)}")
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"{name} has {labels.shape[0]} labels but {rows} has {n} rows")
    low, high = xp.min(labels), xp.max(labels)
    if is_traced(low):
        return
    low, high = int(low), int(high)
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"{name} holds labels in [{low}, {high}], outside [0, {n_classes - 1}] "
            f"for {n_classes} classes"
        )


def softmax_cross_entropy(logits: Any, labels: Any, *, xp: ModuleType | None = None
                          ) -> tuple[Any, Any]:
    r"""Batch-mean softmax cross-entropy of ``(n, C)`` logits against integer labels.

    Parameters
    ----------
    logits : array, shape (n, C)
        The logits.
    labels : int array, shape (n,)
        Class indices in ``[0, C)``.
    xp : module, optional
        Namespace; found from ``logits`` when omitted.

    Returns
    -------
    loss : 0-d array
        :math:`-\frac1n\sum_i \log p_{i y_i}`.
    cache : tuple
        ``(P, Y)``: softmax probabilities and one-hot labels, for the backward pass.

    Raises
    ------
    TypeError, ValueError
        Bad ``labels`` (see :func:`check_labels`) or non-2-D ``logits``.
    """
    xp = array_namespace(logits, labels) if xp is None else xp
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}")
    n, n_classes = logits.shape
    check_labels(labels, n_classes, n=n, name="labels", rows="logits", xp=xp)
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    expd = xp.exp(shifted)
    total = xp.sum(expd, axis=1, keepdims=True)
    targets = one_hot(labels, n_classes, dtype=logits.dtype, xp=xp)
    loss = -xp.sum(targets * (shifted - xp.log(total))) / n
    return loss, (expd / total, targets)


def softmax_cross_entropy_bwd(cache: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Gradient :math:`(P - Y)/n` of :func:`softmax_cross_entropy` w.r.t. the logits.

    Parameters
    ----------
    cache : tuple
        ``(P, Y)``, from :func:`softmax_cross_entropy`.
    xp : module, optional
        Namespace; found from ``cache`` when omitted.

    Returns
    -------
    array, shape (n, C)
        :math:`\partial L/\partial z`.
    """
    probs, targets = cache
    return (probs - targets) / probs.shape[0]


def mse(pred: Any, target: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Half squared error summed over outputs, averaged over the batch.

    Parameters
    ----------
    pred, target : array, shape (n, q)
        Predictions :math:`\hat Y` and targets :math:`T`.
    xp : module, optional
        Namespace; found from ``pred`` when omitted.

    Returns
    -------
    loss : 0-d array
        :math:`\frac{1}{2n}\sum_{ij}(\hat Y_{ij} - T_{ij})^2`.
    cache : array
        The residual :math:`\hat Y - T`.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    xp = array_namespace(pred, target) if xp is None else xp
    if tuple(pred.shape) != tuple(target.shape) or pred.ndim < 1:
        raise ValueError(
            f"target must have the shape of pred {tuple(pred.shape)}, got {tuple(target.shape)}"
        )
    residual = pred - target
    return 0.5 * xp.sum(residual * residual) / pred.shape[0], residual


def mse_bwd(cache: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Gradient :math:`(\hat Y - T)/n` of :func:`mse` w.r.t. the predictions.

    Parameters
    ----------
    cache : array
        The residual, from :func:`mse`.
    xp : module, optional
        Namespace; found from ``cache`` when omitted.

    Returns
    -------
    array, shape (n, q)
        :math:`\partial L/\partial \hat Y`.
    """
    return cache / cache.shape[0]


#: Loss name -> (forward, backward).
LOSSES: dict[str, tuple[Callable, Callable]] = {
    "cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_bwd),
    "mse": (mse, mse_bwd),
}


def prepare_targets(y: Any, loss_kind: str, n_classes: int, *, n: int, dtype: Any,
                    xp: ModuleType) -> Any:
    """Validate a model's targets ``y`` and put them in the form its loss takes.

    Cross-entropy takes integer labels in ``[0, n_classes)``; MSE takes integer labels
    (one-hot encoded here) or floating targets of shape ``(n, n_classes)`` and dtype
    ``dtype``. Errors name the argument ``y``.

    Parameters
    ----------
    y : array
        Integer labels ``(n,)``, or floating targets ``(n, n_classes)`` for MSE.
    loss_kind : {"cross_entropy", "mse"}
        The model's loss.
    n_classes : int
        The number of outputs.
    n : int
        The number of rows of the batch.
    dtype : dtype
        The model's floating dtype.
    xp : module
        The namespace of the batch.

    Returns
    -------
    array
        ``y`` as the loss takes it: the labels, or floating targets ``(n, n_classes)``.
    """
    if loss_kind == "cross_entropy" or xp.isdtype(y.dtype, "integral"):
        check_labels(y, n_classes, n=n, name="y", xp=xp)
        return y if loss_kind == "cross_entropy" else one_hot(y, n_classes, dtype=dtype, xp=xp)
    if tuple(y.shape) != (n, n_classes):
        raise ValueError(
            f"y must be integer labels of shape ({n},) or float targets of shape "
            f"({n}, {n_classes}), got {tuple(y.shape)} of dtype {y.dtype}"
        )
    if y.dtype != dtype:
        raise TypeError(f"y has dtype {y.dtype} but the outputs have {dtype}")
    check_finite(y, "y", xp=xp)
    return y
