r"""Multilayer perceptron: dense layers with one activation, and a batch-mean loss.

The model object holds hyperparameters only; the parameters are a list
``[W1, b1, ..., WL, bL]`` with ``Wl`` of shape ``(sizes[l-1], sizes[l])`` and ``bl``
of shape ``(sizes[l],)``.

Notes
-----
For :math:`H_0 = X` and an activation :math:`\sigma`:

.. math::

    H_l = \sigma(H_{l-1} W_l + b_l) \quad (l < L), \qquad Z = H_{L-1} W_L + b_L,

and the loss is the batch mean of softmax cross-entropy or half squared error on
:math:`Z` (see :mod:`rso_ref.nn.losses`). :meth:`MLP.value_and_grad` runs the same
forward code as :meth:`MLP.forward` while keeping each layer's cache, then the
hand-written backward passes in reverse order; the first layer skips
:math:`\partial L/\partial X`, which no parameter needs.
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace, check_finite
from ..validation import check_choice, check_int
from .activations import get_activation
from .dense import dense_bwd, dense_fwd
from .init import INITIALIZERS
from .losses import LOSSES
from .model import ModelBase

__all__ = ["MLP"]

#: Default weight initialiser and orthogonal gain per activation.
_DEFAULT_INIT = {"relu": "he_normal", "gelu": "he_normal", "tanh": "glorot_uniform"}
_ORTHOGONAL_GAIN = {"relu": math.sqrt(2.0), "gelu": math.sqrt(2.0), "tanh": 1.0}


class MLP(ModelBase):
    r"""Fully connected network ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first and outputs (classes) last, e.g. ``(64, 128, 10)``;
        at least two entries.
    activation : {"relu", "tanh", "gelu"}, default "relu"
        Hidden-layer nonlinearity (GELU is the exact erf form).
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        ``"cross_entropy"``: softmax cross-entropy against integer labels ``y`` of shape
        ``(n,)``. ``"mse"``: half squared error against either integer labels (turned
        into one-hot rows) or float targets of shape ``(n, sizes[-1])``.
    init : {"he_normal", "glorot_uniform", "lecun_normal", "orthogonal"}, optional
        Weight initialiser for every layer. Default: He normal for ReLU and GELU
        (He et al. derive it for rectifiers; GELU behaves like one away from 0),
        Glorot uniform for tanh. ``"orthogonal"`` uses gain :math:`\sqrt2` for
        ReLU/GELU and 1 for tanh. Biases start at zero.

    Attributes
    ----------
    sizes : tuple of int
    activation, loss_kind, weight_init : str
    n_classes : int
        ``sizes[-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> model = MLP((4, 8, 3))
    >>> params = model.init(seed=0)
    >>> X, y = np.ones((5, 4)), np.array([0, 1, 2, 0, 1])
    >>> loss, grads = model.value_and_grad(params, X, y)
    >>> [tuple(g.shape) for g in grads]
    [(4, 8), (8,), (8, 3), (3,)]
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu",
                 loss: str = "cross_entropy", init: str | None = None):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"sizes must be a sequence of layer widths such as (64, 128, 10), "
                            f"got {type(sizes).__name__}")
        sizes = tuple(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must hold >= 2 layer widths, got {sizes!r}")
        sizes = tuple(check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes))
        self._act_fwd, self._act_bwd = get_activation(activation)
        check_choice(loss, "loss", sorted(LOSSES))
        init = _DEFAULT_INIT[activation] if init is None else init
        check_choice(init, "init", sorted(INITIALIZERS))
        self.sizes = sizes
        self.activation = activation
        self.loss_kind = loss
        self.weight_init = init
        self._orthogonal_gain = _ORTHOGONAL_GAIN[activation]
        self.n_classes = sizes[-1]
        self._loss_fwd, self._loss_bwd = LOSSES[loss]

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"loss={self.loss_kind!r}, init={self.weight_init!r})")

    @property
    def n_layers(self) -> int:
        """Number of dense layers."""
        return len(self.sizes) - 1

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Return the shapes of ``[W1, b1, W2, b2, ...]``.

        Returns
        -------
        list of tuple of int
            ``[(n0, n1), (n1,), (n1, n2), (n2,), ...]``.
        """
        shapes = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        return shapes

    def layers(self) -> list[list[int]]:
        """Parameter indices per dense layer, weight and bias together: ``[[0, 1], [2, 3], ...]``.

        Returns
        -------
        list of lists of int
            ``[[2 i, 2 i + 1] for each layer i]``.
        """
        return [[2 * i, 2 * i + 1] for i in range(self.n_layers)]

    def blocks(self) -> list[list[int]]:
        """Architectural blocks: each hidden layer, then the output layer (as :meth:`layers`).

        Returns
        -------
        list of lists of int
            The same index lists as :meth:`layers`.
        """
        return self.layers()

    # -- forward --------------------------------------------------------------------
    def _check_X(self, X: Any, params: Sequence, xp: ModuleType) -> None:
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"X must have shape (n, {self.sizes[0]}) (n samples, {self.sizes[0]} features), "
                f"got {tuple(X.shape)}"
            )
        if X.dtype != params[0].dtype:
            raise TypeError(f"X has dtype {X.dtype} but the params have {params[0].dtype}")
        check_finite(X, "X", xp=xp)

    def _forward(self, params: Sequence, X: Any, xp: ModuleType) -> tuple[Any, list]:
        """Logits and the per-layer caches ``(dense_cache, activation_cache)``."""
        self._check_params(params)
        self._check_X(X, params, xp)
        H, caches = X, []
        for i in range(self.n_layers):
            H, dense_cache = dense_fwd(params[2 * i:2 * i + 2], H, xp=xp)
            act_cache = None
            if i < self.n_layers - 1:
                H, act_cache = self._act_fwd(H, xp=xp)
            caches.append((dense_cache, act_cache))
        return H, caches

    def forward(self, params: Sequence, X: Any, *, xp: ModuleType | None = None) -> Any:
        r"""Return the outputs (logits) of the network for inputs ``X``.

        .. math::

            h_0 = X, \qquad h_l = \sigma(h_{l-1} W_l + b_l), \qquad
            z = h_{L-1} W_L + b_L

        Parameters
        ----------
        params : list of arrays
            ``[W1, b1, W2, b2, ...]`` (:meth:`param_shapes`).
        X : array, shape (n, sizes[0])
            The inputs.
        xp : module, optional
            Namespace; found from ``X`` and ``params`` when omitted.

        Returns
        -------
        array, shape (n, n_classes)
            The outputs :math:`z`.

        Raises
        ------
        ValueError
            Wrong shape of ``params`` or ``X``, or NaN/inf in ``X``.
        TypeError
            ``X`` and ``params`` of different dtypes.
        """
        xp = array_namespace(params, X, names=("params", "X")) if xp is None else xp
        return self._forward(params, X, xp)[0]

    def value_and_grad(self, params: Sequence, X: Any, y: Any) -> tuple[float, list]:
        """Return the loss and its gradients, by the hand-written backward passes.

        Parameters
        ----------
        params : list of arrays
            ``[W1, b1, W2, b2, ...]``.
        X : array, shape (n, sizes[0])
            The inputs.
        y : array
            Integer labels ``(n,)``, or targets ``(n, n_classes)`` for MSE.

        Returns
        -------
        loss : float
            The batch-mean loss.
        grads : list of arrays
            Its gradient, shaped like ``params``.

        Raises
        ------
        TypeError
            If ``params`` is not a list of arrays, ``X`` or ``y`` is not an array, or
            ``X`` and ``params`` differ in dtype.
        ValueError
            Wrong shapes of ``params``, ``X`` or ``y``, an empty batch, NaN/inf in ``X``,
            labels out of range.
        """
        xp, value, caches, grad = self._loss_and_output_grad(params, X, y)
        grads: list = [None] * len(params)
        for i in reversed(range(self.n_layers)):
            dense_cache, act_cache = caches[i]
            if act_cache is not None:
                grad = self._act_bwd(act_cache, grad, xp=xp)
            grad, (grads[2 * i], grads[2 * i + 1]) = dense_bwd(
                params[2 * i:2 * i + 2], dense_cache, grad, xp=xp, input_grad=i > 0
            )
        return float(value), grads
