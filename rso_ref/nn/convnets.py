r"""Convolutional models: ConvNet1D (MNIST-1D), ConvNet2D (digits, CIFAR-shaped) and a small ResNet.

A model holds hyperparameters only; its parameters are a flat list ``[W1, b1, W2, b2,
...]`` in layer order (residual blocks contribute ``[W1, b1, W2, b2]`` or, with a
projection, ``[W1, b1, W2, b2, Ws, bs]``). Convolution weights are
``(out_channels, in_channels, *kernel)`` and dense weights ``(in, out)``, as in
:mod:`rso_ref.nn.conv` and :mod:`rso_ref.nn.dense`.

Every model is a fixed sequence of layer steps. :meth:`forward` and
:meth:`value_and_grad` run the *same* forward code; the latter keeps each step's cache
and then runs the hand-written backward passes in reverse order (the first layer skips
:math:`\partial L/\partial X`). With ``xp=rso_ref.autodiff.namespace()`` the forward
(and :meth:`loss`) is traced by autograd, the oracle the backward passes are tested
against.

Architectures (``c``: conv with "same" padding ``k // 2`` and ReLU, ``p``: max pool of
size and stride ``pool``, ``fc``: dense output layer, no hidden dense layers):

* :class:`ConvNet1D` / :class:`ConvNet2D`: ``(c - p) x len(channels) - flatten - fc``;
  the defaults are conv32-pool-conv64-pool-fc.
* :class:`ResNet`: stem ``c`` (3x3), then per stage ``blocks_per_stage`` basic residual
  blocks (:mod:`rso_ref.nn.residual`; the first block of every stage after the first
  halves the resolution with stride 2 and a 1x1 projection), global average pooling
  and ``fc``. No normalisation by default; ``norm="group"`` puts a group normalisation
  (:mod:`rso_ref.nn.norm`) after every convolution, before its ReLU or the residual sum,
  ``norm="batch"`` a batch normalisation (:mod:`rso_ref.nn.batch_norm`) there.

A model with batch normalisation also holds state besides its hyperparameters: the
running statistics of every batch-normalisation layer (created and reset by
:meth:`~_LayerModel.init`, updated by ``value_and_grad(..., update_stats=True)``, once
per training step) and the ``training`` flag (True; :meth:`~_LayerModel.evaluating`
switches to the running statistics); :mod:`rso_ref.nn.batch_norm` says when they update
and why RSO's meta evaluations must not update them.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from ..backend import array_namespace, check_finite
from ..validation import check_choice, check_flag, check_int
from .activations import flatten_bwd, flatten_fwd, relu_bwd, relu_fwd
from .batch_norm import batch_norm_bwd, batch_norm_fwd, batch_norm_update
from .conv import conv1d_bwd, conv1d_fwd, conv2d_bwd, conv2d_fwd
from .dense import dense_bwd, dense_fwd
from .init import INITIALIZERS
from .losses import LOSSES
from .model import ModelBase
from .norm import group_norm_bwd, group_norm_fwd
from .pooling import global_avg_pool_bwd, global_avg_pool_fwd, max_pool_bwd, max_pool_fwd
from .residual import residual_bwd, residual_fwd
from .residual_bn import bn_residual_bwd, bn_residual_fwd

__all__ = ["ConvNet1D", "ConvNet2D", "ResNet"]

_CONV = {1: (conv1d_fwd, conv1d_bwd), 2: (conv2d_fwd, conv2d_bwd)}


class _Step(NamedTuple):
    """One layer: ``fwd``/``bwd`` pair, indices of its parameters (None: none), hyperparameters,
    and the indices of its batch normalisations' running statistics (empty: none)."""

    fwd: Callable
    bwd: Callable
    params: tuple[int, ...] | None
    hyper: dict
    stats: tuple[int, ...] = ()


def _positive_ints(values: Any, name: str) -> tuple[int, ...]:
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    if not values:
        raise ValueError(f"{name} must hold at least one positive int, got {values!r}")
    return tuple(check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(values))


def _odd_kernel(value: Any) -> int:
    value = check_int(value, "kernel_size", minimum=1)
    if value % 2 == 0:
        raise ValueError(f"kernel_size must be odd (same padding k // 2), got {value!r}")
    return value


class _LayerModel(ModelBase):
    """Shared machinery: parameter layout, init, validation, forward, backward.

    Subclasses call :meth:`_build_start` and the ``_add_*`` helpers in ``__init__``.
    """

    n_classes: int
    loss_kind: str
    weight_init: str
    input_shape: tuple[int, ...]
    # Orthogonal init: gain sqrt(2) keeps the second moment through ReLUs, as He does.
    _orthogonal_gain = math.sqrt(2.0)

    def _build_start(self, input_shape: tuple[int, ...], n_classes: Any, loss: Any,
                     init: Any) -> None:
        self.input_shape = input_shape
        self.n_classes = check_int(n_classes, "n_classes", minimum=1)
        check_choice(loss, "loss", sorted(LOSSES))
        check_choice(init, "init", sorted(INITIALIZERS))
        self.loss_kind, self.weight_init = loss, init
        self._loss_fwd, self._loss_bwd = LOSSES[loss]
        self._steps: list[_Step] = []
        self._shapes: list[tuple[int, ...]] = []
        self._layers: list[list[int]] = []
        self._blocks: list[list[int]] = []
        self._norm_scales: list[int] = []
        # per batch normalisation: the index of its gamma; its running (mean, var)
        self._stat_scales: list[int] = []
        self.running_stats: list[tuple[Any, Any]] | None = None
        self.training = True

    def _new_layer(self, weight_shape: tuple[int, ...], bias_size: int) -> list[int]:
        first = len(self._shapes)
        self._shapes += [weight_shape, (bias_size,)]
        self._layers.append([first, first + 1])
        return [first, first + 1]

    def _new_norm(self, channels: int) -> list[int]:
        """Indices of a new normalisation layer's ``[gamma, beta]`` (gamma starts at 1)."""
        first = len(self._shapes)
        self._shapes += [(channels,), (channels,)]
        self._layers.append([first, first + 1])
        self._norm_scales.append(first)
        return [first, first + 1]

    def _new_stats(self, norm: list[int]) -> int:
        """Index of the running statistics of the batch normalisation with ``[gamma, beta]``
        at ``norm``."""
        self._stat_scales.append(norm[0])
        return len(self._stat_scales) - 1

    def _add(self, pair: tuple[Callable, Callable], params: Sequence[int] | None = None,
             stats: tuple[int, ...] = (), **hyper: Any) -> None:
        self._steps.append(_Step(pair[0], pair[1], None if params is None else tuple(params),
                                 hyper, stats))

    def _add_conv_relu(self, d: int, c_in: int, c_out: int, k: int, norm: str | None = None,
                       norm_groups: int | None = None) -> list[int]:
        """Conv, group (``norm="group"``, ``norm_groups`` groups) or batch (``"batch"``)
        normalisation, ReLU; the parameters' indices."""
        idx = self._new_layer((c_out, c_in) + (k,) * d, c_out)
        self._add(_CONV[d], idx, padding=k // 2)
        if norm is not None:
            scale = self._new_norm(c_out)
            if norm == "group":
                self._add((group_norm_fwd, group_norm_bwd), scale, groups=norm_groups)
            else:
                self._add((batch_norm_fwd, batch_norm_bwd), scale,
                          stats=(self._new_stats(scale),))
            idx = idx + scale
        self._add((relu_fwd, relu_bwd))
        return idx

    def _add_head(self, features: int) -> None:
        idx = self._new_layer((features, self.n_classes), self.n_classes)
        self._add((dense_fwd, dense_bwd), idx)
        self._blocks.append(idx)

    # -- parameters ------------------------------------------------------------------
    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the parameter list, in order."""
        return list(self._shapes)

    def init(self, seed: int = 0, *, like: Any = None, dtype: Any = None) -> list:
        """Draw the parameters (:meth:`ModelBase.init`); normalisation scales start at 1.

        Normalisation parameters are 1-D, so they take no random numbers: the weights
        drawn are those of the same network without normalisation.
        """
        params = super().init(seed, like=like, dtype=dtype)
        for j in self._norm_scales:
            params[j] = params[j] + 1.0
        if self._stat_scales:   # running mean 0 and variance 1, where the params are
            self.running_stats = [(params[j] * 0.0, params[j] * 0.0 + 1.0)
                                  for j in self._stat_scales]
        return params

    @property
    def has_running_stats(self) -> bool:
        """Whether the model has batch normalisations (running statistics, two modes)."""
        return bool(self._stat_scales)

    @contextmanager
    def evaluating(self) -> Iterator[Any]:
        """Evaluation mode inside the ``with`` block: batch normalisations use the running
        statistics (no effect on a model without them); the mode before is restored."""
        before, self.training = self.training, False
        try:
            yield self
        finally:
            self.training = before

    def layers(self) -> list[list[int]]:
        """Parameter indices per conv/dense layer, weight and bias together."""
        return [list(ix) for ix in self._layers]

    def blocks(self) -> list[list[int]]:
        """Parameter indices per architectural block (conv stages or residual blocks, then head)."""
        return [list(ix) for ix in self._blocks]

    # -- validation ------------------------------------------------------------------
    def _input(self, X: Any, xp: ModuleType) -> Any:
        """``X`` in the layout of the first layer (subclasses may accept more forms)."""
        return X

    def _check_X(self, X: Any, params: Sequence, xp: ModuleType) -> Any:
        given = tuple(X.shape)
        X = self._input(X, xp)
        if X.ndim != 1 + len(self.input_shape) or tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(
                f"X must have shape (n, {', '.join(map(str, self.input_shape))}) "
                f"(n samples, {self.input_shape[0]} channels, spatial size "
                f"{self.input_shape[1:]}), got {given}"
            )
        if X.dtype != params[0].dtype:
            raise TypeError(f"X has dtype {X.dtype} but the params have {params[0].dtype}")
        check_finite(X, "X", xp=xp)
        return X

    # -- forward / backward ------------------------------------------------------------
    def _running(self, step: _Step) -> dict:
        """The mode and running statistics a step with batch normalisations takes."""
        if not step.stats:
            return {}
        if self.training:
            running = None
        elif self.running_stats is None:
            raise ValueError("evaluation mode needs the running statistics of the batch "
                             "normalisations: call init (or train the model) first")
        else:
            running = [self.running_stats[i] for i in step.stats]
        if step.fwd is batch_norm_fwd:
            running = None if running is None else running[0]
        return {"running": running, "training": self.training}

    def _forward(self, params: Sequence, X: Any, xp: ModuleType) -> tuple[Any, list]:
        """Outputs (logits) and the cache of every step."""
        self._check_params(params)
        H = self._check_X(X, params, xp)
        caches = []
        for step in self._steps:
            if step.params is None:
                H, cache = step.fwd(H, xp=xp, **step.hyper)
            else:
                H, cache = step.fwd([params[j] for j in step.params], H, xp=xp,
                                    **step.hyper, **self._running(step))
            caches.append(cache)
        return H, caches

    def _update_stats(self, caches: list) -> None:
        """Move the running statistics towards the batch's of one training-mode forward."""
        if not self.training:
            raise ValueError("update_stats=True needs training mode (the batch statistics); "
                             "the model is in evaluation mode")
        stats = list(self.running_stats or [None] * len(self._stat_scales))
        for step, cache in zip(self._steps, caches):
            norm_caches = [cache] if step.fwd is batch_norm_fwd else getattr(cache, "norms", ())
            for i, norm_cache in zip(step.stats, norm_caches):
                if stats[i] is None:   # params not from init: start at mean 0, variance 1
                    stats[i] = (norm_cache.mean * 0.0, norm_cache.mean * 0.0 + 1.0)
                stats[i] = batch_norm_update(stats[i], norm_cache)
        self.running_stats = stats

    def forward(self, params: Sequence, X: Any, *, xp: ModuleType | None = None) -> Any:
        """Logits of shape ``(n, n_classes)`` (array-API only, traceable by autograd).

        Raises
        ------
        ValueError
            Wrong number or shapes of ``params``, wrong shape of ``X``, NaN/inf in ``X``.
        TypeError
            ``X`` and ``params`` of different dtypes.
        """
        xp = array_namespace(params, X, names=("params", "X")) if xp is None else xp
        return self._forward(params, X, xp)[0]

    def value_and_grad(self, params: Sequence, X: Any, y: Any, *,
                       update_stats: bool = False) -> tuple[float, list]:
        """Loss (float) and gradients (list like ``params``) by the hand-written backward passes.

        ``update_stats=True`` (training mode, a model with batch normalisations) also moves
        the running statistics towards this batch's, when the loss is finite: the one call
        per training step that does (:mod:`rso_ref.nn.batch_norm`). Default False: the
        call is a pure function of its arguments, as RSO's meta evaluations need.
        """
        check_flag(update_stats, "update_stats")
        xp, value, caches, grad = self._loss_and_output_grad(params, X, y)
        if update_stats and self._stat_scales and math.isfinite(float(value)):
            self._update_stats(caches)
        grads: list = [None] * len(params)
        first = min(i for i, step in enumerate(self._steps) if step.params is not None)
        for i in range(len(self._steps) - 1, first - 1, -1):
            step, cache = self._steps[i], caches[i]
            if step.params is None:
                grad = step.bwd(cache, grad, xp=xp, **step.hyper)
                continue
            grad, dparams = step.bwd([params[j] for j in step.params], cache, grad, xp=xp,
                                     input_grad=i > first, **step.hyper)
            for j, g in zip(step.params, dparams):
                grads[j] = g
        return float(value), grads


class _PlainConvNet(_LayerModel):
    """``(conv - relu - maxpool) x len(channels) - flatten - dense`` over ``d`` spatial axes."""

    def _build(self, input_shape: tuple[int, ...], n_classes: Any, channels: Any,
               kernel_size: Any, pool: Any, loss: Any, init: Any) -> None:
        self._build_start(input_shape, n_classes, loss, init)
        self.channels = _positive_ints(channels, "channels")
        self.kernel_size = _odd_kernel(kernel_size)
        self.pool = check_int(pool, "pool", minimum=1)
        d = len(input_shape) - 1
        size, c_in = input_shape[1:], input_shape[0]
        for c_out in self.channels:
            self._blocks.append(self._add_conv_relu(d, c_in, c_out, self.kernel_size))
            self._add((max_pool_fwd, max_pool_bwd), kernel_size=self.pool)
            size, c_in = tuple(s // self.pool for s in size), c_out
            if min(size) < 1:
                raise ValueError(
                    f"input of spatial size {input_shape[1:]} is too small for "
                    f"{len(self.channels)} pooling stages of size {self.pool}"
                )
        self._add((flatten_fwd, flatten_bwd))
        self._add_head(c_in * math.prod(size))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_shape={self.input_shape}, "
                f"n_classes={self.n_classes}, "
                f"channels={self.channels}, kernel_size={self.kernel_size}, pool={self.pool}, "
                f"loss={self.loss_kind!r}, init={self.weight_init!r})")


class ConvNet1D(_PlainConvNet):
    r"""1-D convnet for sequences such as MNIST-1D (length 40, 10 classes).

    Parameters
    ----------
    length : int, default 40
        Sequence length ``L``.
    n_classes : int, default 10
        Number of outputs.
    channels : sequence of int, default (32, 64)
        Output channels of the conv stages (conv k, ReLU, max pool).
    kernel_size : int, default 5
        Odd; "same" padding ``k // 2``.
    pool : int, default 2
        Max-pool size and stride.
    in_channels : int, default 1
        Input channels.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        ``"mse"`` takes integer labels (one-hot targets) or float targets ``(n, C)``.
    init : {"he_normal", "glorot_uniform", "lecun_normal", "orthogonal"}, default "he_normal"

    Notes
    -----
    Inputs are ``(n, in_channels, L)``; with one input channel, ``(n, L)`` (the layout
    of MNIST-1D's data arrays) is accepted too and read as ``(n, 1, L)``.

    Examples
    --------
    >>> import numpy as np
    >>> model = ConvNet1D(channels=(4,))
    >>> params = model.init(seed=0)
    >>> model.forward(params, np.zeros((3, 40))).shape
    (3, 10)
    """

    def __init__(self, length: int = 40, n_classes: int = 10, channels: Sequence[int] = (32, 64),
                 kernel_size: int = 5, pool: int = 2, in_channels: int = 1,
                 loss: str = "cross_entropy", init: str = "he_normal"):
        shape = (check_int(in_channels, "in_channels", minimum=1),
                 check_int(length, "length", minimum=1))
        self._build(shape, n_classes, channels, kernel_size, pool, loss, init)

    def _input(self, X: Any, xp: ModuleType) -> Any:
        if X.ndim == 2 and self.input_shape[0] == 1:
            return xp.reshape(X, (X.shape[0], 1, X.shape[1]))
        return X


class ConvNet2D(_PlainConvNet):
    r"""2-D convnet for images: ``(n, C, H, W)`` inputs, e.g. 8x8 digits or 3x32x32 CIFAR.

    Parameters
    ----------
    input_shape : (int, int, int), default (1, 8, 8)
        ``(C, H, W)`` of one image; ``(3, 32, 32)`` for CIFAR-shaped data.
    n_classes : int, default 10
        Number of outputs.
    channels : sequence of int, default (32, 64)
        Output channels of the conv stages: the default is conv32-pool-conv64-pool-fc.
    kernel_size : int, default 3
        Odd, square; "same" padding ``k // 2``.
    pool : int, default 2
        Max-pool size and stride.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        As in :class:`ConvNet1D`.
    init : str, default "he_normal"
        As in :class:`ConvNet1D`.

    Examples
    --------
    >>> import numpy as np
    >>> model = ConvNet2D((3, 32, 32))
    >>> [tuple(s) for s in model.param_shapes()]
    [(32, 3, 3, 3), (32,), (64, 32, 3, 3), (64,), (4096, 10), (10,)]
    """

    def __init__(self, input_shape: Sequence[int] = (1, 8, 8), n_classes: int = 10,
                 channels: Sequence[int] = (32, 64), kernel_size: int = 3, pool: int = 2,
                 loss: str = "cross_entropy", init: str = "he_normal"):
        shape = _positive_ints(input_shape, "input_shape")
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
        self._build(shape, n_classes, channels, kernel_size, pool, loss, init)


class ResNet(_LayerModel):
    r"""Small residual network (basic blocks, optional group or batch norm) for images.

    Parameters
    ----------
    input_shape : (int, int, int), default (3, 32, 32)
        ``(C, H, W)`` of one image.
    n_classes : int, default 10
        Number of outputs.
    widths : sequence of int, default (16, 32)
        Channels per stage; the stem maps the input to ``widths[0]`` channels.
    blocks_per_stage : int, default 1
        Residual blocks per stage (the first of a later stage halves the resolution).
    kernel_size : int, default 3
        Odd, square.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        As in :class:`ConvNet1D`.
    init : str, default "he_normal"
        As in :class:`ConvNet1D`.
    norm : {None, "group", "batch"}, default None
        None: no normalisation (the parameters and outputs of earlier versions).
        ``"group"``: a group normalisation with ``norm_groups`` groups and its own
        scale and shift after every convolution (stem, both convolutions of a block,
        the projection), as torch-vision's ``BasicBlock`` places batch normalisation
        (:mod:`rso_ref.nn.norm`). ``"batch"``: a batch normalisation there, the
        ResNet of the paper (:mod:`rso_ref.nn.batch_norm`; running statistics and a
        training/evaluation mode, see the module docstring).
    norm_groups : int, default 4
        Groups of each normalisation (must divide every width); used with
        ``norm="group"`` only.

    Notes
    -----
    :meth:`blocks` returns the stem, each residual block (its 4 or 6 parameters
    together, 8 or 12 with normalisation) and the head, the grouping the RSO paper
    suggests for deep networks ("we group consecutive layers (e.g., ResNet blocks)").
    :meth:`layers` lists every convolution, every normalisation (its scale and shift)
    and the head as layers of their own.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image
       recognition", CVPR (2016); arXiv:1512.03385.

    Examples
    --------
    >>> model = ResNet((3, 8, 8), widths=(4, 8))
    >>> model.blocks()
    [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13]]
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), n_classes: int = 10,
                 widths: Sequence[int] = (16, 32), blocks_per_stage: int = 1,
                 kernel_size: int = 3, loss: str = "cross_entropy", init: str = "he_normal",
                 norm: str | None = None, norm_groups: int = 4):
        shape = _positive_ints(input_shape, "input_shape")
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
        self._build_start(shape, n_classes, loss, init)
        self.widths = _positive_ints(widths, "widths")
        self.blocks_per_stage = check_int(blocks_per_stage, "blocks_per_stage", minimum=1)
        self.kernel_size = k = _odd_kernel(kernel_size)
        if norm is not None:
            check_choice(norm, "norm", ["group", "batch"])
        self.norm = norm
        self.norm_groups = check_int(norm_groups, "norm_groups", minimum=1)
        groups = self.norm_groups if norm == "group" else None
        if groups is not None and any(w % groups for w in self.widths):
            raise ValueError(f"norm_groups must divide every width {self.widths}, got "
                             f"{groups}")
        self._blocks.append(self._add_conv_relu(2, shape[0], self.widths[0], k, norm, groups))
        c_in = self.widths[0]
        for stage, width in enumerate(self.widths):
            for j in range(self.blocks_per_stage):
                stride = 2 if stage > 0 and j == 0 else 1
                units = [((width, c_in, k, k), width), ((width, width, k, k), width)]
                if stride != 1 or c_in != width:
                    units.append(((width, c_in, 1, 1), width))
                idx: list[int] = []
                stats: list[int] = []
                for weight_shape, channels in units:
                    idx += self._new_layer(weight_shape, channels)
                    if norm is not None:
                        scale = self._new_norm(channels)
                        idx += scale
                        if norm == "batch":
                            stats.append(self._new_stats(scale))
                if norm == "batch":
                    self._add((bn_residual_fwd, bn_residual_bwd), idx, stats=tuple(stats),
                              stride=stride)
                else:
                    self._add((residual_fwd, residual_bwd), idx, stride=stride,
                              **({} if groups is None else {"norm_groups": groups}))
                self._blocks.append(idx)
                c_in = width
        self._add((global_avg_pool_fwd, global_avg_pool_bwd))
        self._add_head(c_in)

    def __repr__(self) -> str:
        norm = ("" if self.norm is None else f", norm={self.norm!r}"
                + (f", norm_groups={self.norm_groups}" if self.norm == "group" else ""))
        return (f"ResNet(input_shape={self.input_shape}, n_classes={self.n_classes}, "
                f"widths={self.widths}, blocks_per_stage={self.blocks_per_stage}, "
                f"kernel_size={self.kernel_size}, loss={self.loss_kind!r}, "
                f"init={self.weight_init!r}{norm})")
