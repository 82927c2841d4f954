r"""Weight initialisers: He normal, Glorot uniform, LeCun normal and orthogonal.

Every initialiser draws on the host with a :class:`numpy.random.Generator`
(:func:`rso_ref.backend.rng`) and then puts the result in the namespace and on the
device of an array ``like`` (:func:`placement`), so a seed gives the same numbers on
every backend and device. Biases are zero (:func:`init_params` creates them the same way).

Fans follow the two weight layouts of :mod:`rso_ref.nn`:

* dense ``(in_features, out_features)``: :math:`n_{in} = ` ``shape[0]``,
  :math:`n_{out} = ` ``shape[1]``;
* convolution ``(out_channels, in_channels, *kernel)`` (torch layout):
  :math:`n_{in} = ` ``in_channels * prod(kernel)``,
  :math:`n_{out} = ` ``out_channels * prod(kernel)``.

Notes
-----
He [1]_, LeCun [2]_, Glorot [3]_ and orthogonal [4]_ initialisation:

.. math::

    \text{he\_normal}: \; W_{ij} \sim \mathcal N(0, 2/n_{in}), \qquad
    \text{lecun\_normal}: \; W_{ij} \sim \mathcal N(0, 1/n_{in}),

    \text{glorot\_uniform}: \; W_{ij} \sim \mathcal U(-a, a), \;
    a = \sqrt{6/(n_{in} + n_{out})}, \; \operatorname{Var} W_{ij} = 2/(n_{in}+n_{out}),

    \text{orthogonal}: \; W = g\,Q, \; Q^\top Q = I \text{ (or } QQ^\top = I).

He/LeCun draw from the plain (untruncated) normal, as torch's ``kaiming_normal_``
does; Keras truncates at two standard deviations instead. The orthogonal factor is
:math:`Q` of the QR decomposition of a Gaussian matrix with the signs of
:math:`\operatorname{diag}(R)` moved into :math:`Q`, which makes :math:`Q` Haar
distributed [5]_.

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers", ICCV (2015);
   arXiv:1502.01852.
.. [2] Y. LeCun, L. Bottou, G. Orr, K.-R. Müller, "Efficient BackProp", in Neural
   Networks: Tricks of the Trade (1998); doi:10.1007/3-540-49430-8_2.
.. [3] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward
   neural networks", AISTATS, PMLR 9:249-256 (2010).
.. [4] A. Saxe, J. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics
   of learning in deep linear neural networks", ICLR (2014); arXiv:1312.6120.
.. [5] F. Mezzadri, "How to generate random matrices from the classical compact
   groups", Notices AMS 54 (2007); arXiv:math-ph/0609050.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .. import backend
from ..validation import check_real

__all__ = [
    "fans", "he_normal", "lecun_normal", "glorot_uniform", "orthogonal", "INITIALIZERS",
    "placement", "init_params", "check_param_shapes",
]


def fans(shape: Sequence[int]) -> tuple[int, int]:
    r"""Return ``(fan_in, fan_out)`` of a dense ``(in, out)`` or conv ``(out, in, *k)`` weight.

    .. math::

        n_{in} = \mathrm{in} \prod_j k_j, \qquad n_{out} = \mathrm{out} \prod_j k_j

    Parameters
    ----------
    shape : tuple of int
        The weight shape.

    Returns
    -------
    fan_in : int
        :math:`n_{in}`.
    fan_out : int
        :math:`n_{out}`.

    Raises
    ------
    ValueError
        If ``shape`` has fewer than 2 axes or a non-positive size.
    """
    shape = _shape(shape)
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"shape must have >= 2 positive sizes (a weight), got {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(s) for s in shape)


def placement(like: Any = None, dtype: Any = None) -> tuple[Any, Any]:
    """Where new parameters go: ``(like, dtype)``, ``dtype`` a dtype of ``like``'s namespace.

    The one place where :mod:`rso_ref.nn` decides the namespace, device and dtype of
    the arrays it creates: the namespace and device of ``like`` (NumPy on the host when
    ``like`` is None), and ``dtype`` if given, else ``like.dtype`` when it is real
    floating, else float64.

    Parameters
    ----------
    like : array, optional
        Any array of the target namespace and device (typically the inputs ``X``).
    dtype : {"float64", "float32"} or dtype of that namespace, optional

    Returns
    -------
    like : array or None
        ``like`` unchanged, for :func:`rso_ref.backend.asarray`.
    dtype : dtype
        The dtype object of the target namespace.

    Raises
    ------
    TypeError
        If ``like`` is not an array of a supported library, or the dtype (given, or
        taken from ``like``) is not float32/float64.
    ValueError
        If ``like``'s device cannot hold the dtype (float64 on a float32-only device, or
        on JAX without ``jax_enable_x64``); the message names the device or the flag.
    """
    if like is None:
        return None, backend.resolve_dtype(backend.namespace("numpy"), dtype)
    message = (f"like must be an array (the new arrays take its namespace, device and dtype), "
               f"got {type(like).__name__}")
    if isinstance(like, (list, tuple)):
        raise TypeError(message)
    try:
        xp = backend.array_namespace(like)
    except TypeError:
        raise TypeError(message) from None
    if dtype is None and xp.isdtype(like.dtype, "real floating"):
        if like.dtype not in (xp.float32, xp.float64):
            raise TypeError(f"like has dtype {like.dtype}; pass dtype='float32' or 'float64'")
        dtype = like.dtype
    return like, backend.resolve_dtype(xp, dtype, device=backend.device(like))


def _put(host, like: Any, dtype: Any):
    """Move a host array to the placement ``(like, dtype)`` of :func:`placement`."""
    return backend.asarray(host, like=like, dtype=dtype)


def _he_normal(shape: tuple[int, ...], gen: Any):
    fan_in, _ = fans(shape)
    return gen.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def _lecun_normal(shape: tuple[int, ...], gen: Any):
    fan_in, _ = fans(shape)
    return gen.standard_normal(shape) * math.sqrt(1.0 / fan_in)


def _glorot_uniform(shape: tuple[int, ...], gen: Any):
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return gen.uniform(-limit, limit, size=shape)


def _orthogonal(shape: tuple[int, ...], gen: Any, gain: float = 1.0):
    fans(shape)  # validates the shape
    rows, cols = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], math.prod(shape[1:]))
    hx = backend.namespace("numpy")
    q, r = hx.linalg.qr(gen.standard_normal((max(rows, cols), min(rows, cols))))
    # Mezzadri (2007), section 5: Q diag(sign(diag R)) is Haar distributed.
    q = q * hx.where(hx.linalg.diagonal(r) < 0.0, -1.0, 1.0)
    matrix = q if rows >= cols else hx.matrix_transpose(q)
    return hx.reshape(gain * matrix, shape)


def he_normal(shape: Sequence[int], seed: Any = 0, *, like: Any = None, dtype: Any = None):
    r"""He (Kaiming) normal: :math:`W_{ij} \sim \mathcal N(0, 2/n_{in})`, for ReLU-like layers.

    Parameters
    ----------
    shape : tuple of int
        Weight shape (dense or conv layout, see the module docstring).
    seed : int or numpy.random.Generator, default 0
        Seed of the host draw (the same numbers on every backend).
    like : array, optional
        The result takes its namespace and device (default NumPy), and its dtype when
        real floating (:func:`placement`).
    dtype : {"float64", "float32"} or dtype, optional
        Overrides the dtype of ``like``; default float64.

    Returns
    -------
    array
        The weight, of shape ``shape``.
    """
    return _put(_he_normal(_shape(shape), backend.rng(seed)), *placement(like, dtype))


def lecun_normal(shape: Sequence[int], seed: Any = 0, *, like: Any = None, dtype: Any = None):
    r"""LeCun normal: :math:`W_{ij} \sim \mathcal N(0, 1/n_{in})`.

    Parameters
    ----------
    shape : tuple of int
        Weight shape (dense or conv layout, see the module docstring).
    seed : int or numpy.random.Generator, default 0
        Seed of the host draw (the same numbers on every backend).
    like : array, optional
        The result takes its namespace and device (default NumPy), and its dtype when
        real floating (:func:`placement`).
    dtype : {"float64", "float32"} or dtype, optional
        Overrides the dtype of ``like``; default float64.

    Returns
    -------
    array
        The weight, of shape ``shape``.
    """
    return _put(_lecun_normal(_shape(shape), backend.rng(seed)), *placement(like, dtype))


def glorot_uniform(shape: Sequence[int], seed: Any = 0, *, like: Any = None, dtype: Any = None):
    r"""Glorot (Xavier) uniform on :math:`[-a, a)`, :math:`a = \sqrt{6/(n_{in}+n_{out})}`.

    Parameters
    ----------
    shape : tuple of int
        Weight shape (dense or conv layout, see the module docstring).
    seed : int or numpy.random.Generator, default 0
        Seed of the host draw (the same numbers on every backend).
    like : array, optional
        The result takes its namespace and device (default NumPy), and its dtype when
        real floating (:func:`placement`).
    dtype : {"float64", "float32"} or dtype, optional
        Overrides the dtype of ``like``; default float64.

    Returns
    -------
    array
        The weight, of shape ``shape``.
    """
    return _put(_glorot_uniform(_shape(shape), backend.rng(seed)), *placement(like, dtype))


def orthogonal(shape: Sequence[int], seed: Any = 0, *, gain: float = 1.0, like: Any = None,
               dtype: Any = None):
    r"""Orthogonal weight times ``gain``: orthonormal columns or rows, whichever fit.

    A dense ``(in, out)`` weight gets :math:`W^\top W = g^2 I` when ``in >= out`` and
    :math:`W W^\top = g^2 I` otherwise. A conv weight is treated as the
    ``(out, in * prod(kernel))`` matrix (as torch's ``orthogonal_`` does).

    Parameters
    ----------
    shape : tuple of int
        Weight shape (dense or conv layout, see the module docstring).
    seed : int or numpy.random.Generator, default 0
        Seed of the host draw (the same numbers on every backend).
    gain : float, default 1.0
        Scale :math:`g`; :math:`\sqrt2` keeps the second moment of ReLU layers as He does.
    like : array, optional
        The result takes its namespace and device (default NumPy), and its dtype when
        real floating (:func:`placement`).
    dtype : {"float64", "float32"} or dtype, optional
        Overrides the dtype of ``like``; default float64.

    Returns
    -------
    array
        The weight, of shape ``shape``.
    """
    gain = check_real(gain, "gain")
    return _put(_orthogonal(_shape(shape), backend.rng(seed), gain), *placement(like, dtype))


#: Initialiser name -> function.
INITIALIZERS = {
    "he_normal": he_normal,
    "lecun_normal": lecun_normal,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
}
# The host draws behind them, by the same names (what init_params threads one generator through).
_HOST_DRAWS = {
    "he_normal": _he_normal,
    "lecun_normal": _lecun_normal,
    "glorot_uniform": _glorot_uniform,
    "orthogonal": _orthogonal,
}


def init_params(shapes: Sequence[tuple[int, ...]], init: str, seed: Any = 0, *,
                like: Any = None, dtype: Any = None, gain: float | None = None) -> list:
    """Parameters of the given shapes: arrays of 2+ dimensions drawn with ``init``, 1-D zero.

    Weights are drawn on the host in list order from one generator seeded by ``seed``,
    so every backend gets identical numbers (float32 is the float64 draw rounded);
    biases use no random numbers. Every array, biases included, is then put in the
    namespace and on the device of ``like`` with the dtype of :func:`placement`,
    resolved once for the whole list. ``gain`` is passed to the orthogonal initialiser
    only.
    """
    like, dtype = placement(like, dtype)
    gen = backend.rng(seed)
    draw = _HOST_DRAWS[init]
    extra = {"gain": check_real(gain, "gain")} if init == "orthogonal" and gain is not None else {}
    zeros = backend.namespace("numpy").zeros
    return [_put(draw(_shape(shape), gen, **extra) if len(shape) > 1 else zeros(_shape(shape)),
                 like, dtype) for shape in shapes]


def check_param_shapes(params: Any, shapes: Sequence[tuple[int, ...]]) -> None:
    """``ValueError`` naming ``params`` unless it is a list of arrays of exactly ``shapes``."""
    count = len(params) if hasattr(params, "__len__") else type(params).__name__
    if count != len(shapes):
        raise ValueError(f"params must be a list of {len(shapes)} arrays, got {count}")
    for j, shape in enumerate(shapes):
        if tuple(params[j].shape) != tuple(shape):
            raise ValueError(
                f"params[{j}] must have shape {tuple(shape)}, got {tuple(params[j].shape)}")
