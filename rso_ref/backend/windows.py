r"""Sliding windows (the gather of im2col) and their adjoint, with per-library fast paths.

:func:`sliding_windows` returns a strided view where the library has one (NumPy, CuPy,
torch) and a gather with precomputed flat indices elsewhere (``array_api_strict``, the
autograd namespace); :func:`sliding_windows_adjoint` is its transpose (col2im). Both are
re-exported by :mod:`rso_ref.backend`; :mod:`rso_ref.nn.conv` and
:mod:`rso_ref.nn.pooling` build on them.
"""
from __future__ import annotations

import itertools
import math
import numbers
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from ..validation import check_int
from .core import array_namespace, at, backend_name, index_dtype

__all__ = ["sliding_windows", "sliding_windows_adjoint"]


def _spatial_tuple(value: Any, d: int, name: str, minimum: int) -> tuple[int, ...]:
    """``value`` (int or length-``d`` sequence of ints) as a ``d``-tuple, each >= ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * d
    if not isinstance(value, (tuple, list)) or len(value) != d:
        raise ValueError(
            f"{name} must be an int >= {minimum} or {d} such ints (one per spatial axis), "
            f"got {value!r}"
        )
    return tuple(check_int(v, name, minimum) for v in value)


def _window_geometry(shape: tuple, window: Any, stride: Any, padding: Any
                     ) -> tuple[tuple, tuple, tuple, tuple]:
    """Validated ``(window, stride, padding, out_size)`` for an ``(N, C, *spatial)`` shape."""
    d = len(shape) - 2
    if d not in (1, 2):
        raise ValueError(
            f"x must be (N, C, L) or (N, C, H, W) (1 or 2 spatial axes), got shape {tuple(shape)}"
        )
    window = _spatial_tuple(window, d, "window", 1)
    stride = _spatial_tuple(stride, d, "stride", 1)
    padding = _spatial_tuple(padding, d, "padding", 0)
    padded = tuple(s + 2 * p for s, p in zip(shape[2:], padding))
    if any(k > s for k, s in zip(window, padded)):
        raise ValueError(
            f"window {window} is larger than the padded spatial size {padded} of x "
            f"(shape {tuple(shape)}, padding {padding})"
        )
    out = tuple((s - k) // st + 1 for s, k, st in zip(padded, window, stride))
    return window, stride, padding, out


def _fast_library(xp: ModuleType) -> str | None:
    """``"numpy"``, ``"cupy"`` or ``"torch"`` when ``xp`` has strided views, else None.

    ``array_api_strict``, JAX (immutable arrays, no views) and the autograd namespace of
    :mod:`rso_ref.autodiff` (which must be traced, so must not see NumPy's strided
    views) take the generic paths.
    """
    try:
        name = backend_name(xp)
    except ValueError:  # the autograd namespace is none of the named backends
        return None
    return name if name in ("numpy", "cupy", "torch") else None


def _device_kwargs(x: Any) -> dict:
    # Standard arrays carry ``.device``; an autograd Box does not (and lives on the host).
    device = getattr(x, "device", None)
    return {} if device is None else {"device": device}


def _zero_pad(x: Any, padding: tuple, xp: ModuleType, library: str | None):
    """Zero padding of ``padding[i]`` on both sides of spatial axis ``i`` of ``x``."""
    if not any(padding):
        return x
    if library in ("numpy", "cupy"):
        pad = ((0, 0), (0, 0)) + tuple((p, p) for p in padding)
        return (np if library == "numpy" else _cupy()).pad(x, pad)
    if library == "torch":
        import torch.nn.functional as F

        # F.pad lists the last axis first.
        return F.pad(x, tuple(q for p in reversed(padding) for q in (p, p)))
    for axis, p in enumerate(padding, start=2):
        if p:
            shape = list(x.shape)
            shape[axis] = p
            zeros = xp.zeros(tuple(shape), dtype=x.dtype, **_device_kwargs(x))
            x = xp.concat([zeros, x, zeros], axis=axis)
    return x


def _cupy():
    import cupy

    return cupy


def sliding_windows(x: Any, window: Any, stride: Any = 1, *, padding: Any = 0,
                    xp: ModuleType | None = None):
    r"""All windows of ``x`` over its 1 or 2 spatial axes (the gather of im2col).

    For an input of shape ``(N, C, *S)`` with ``d = len(S)`` in {1, 2} spatial axes,
    zero-padded by ``padding`` on both sides of every spatial axis, returns ``V`` of
    shape ``(N, C, *O, *K)`` with ``K = window`` and

    .. math::

        V[n, c, o_1, \dots, o_d, k_1, \dots, k_d] = \tilde x[n, c, o_1 s_1 + k_1, \dots,
        o_d s_d + k_d], \qquad O_i = \lfloor (S_i + 2 p_i - K_i) / s_i \rfloor + 1,

    where :math:`\tilde x` is the padded input (torch's ``unfold`` convention [1]_).

    Parameters
    ----------
    x : array, shape (N, C, L) or (N, C, H, W)
        The input.
    window : int or tuple of int
        Window size per spatial axis (an int is used for every axis).
    stride : int or tuple of int, default 1
        Step between windows per spatial axis.
    padding : int or tuple of int, default 0
        Zeros added before and after each spatial axis.
    xp : module, optional
        Namespace of ``x``; found from ``x`` when omitted. Pass it explicitly (as the
        autograd namespace of :func:`rso_ref.autodiff.namespace`) to trace the gather.

    Returns
    -------
    array, shape ``(N, C, *O, *K)``
        A strided *view* of the (padded) input, not to be written to, on NumPy
        (``numpy.lib.stride_tricks.sliding_window_view``, read-only), CuPy
        (``as_strided``) and torch (``Tensor.unfold``); on other namespaces
        (``array_api_strict``, JAX, autograd) a new array gathered with ``xp.take`` and
        precomputed flat indices. All paths give bit-identical values (they only copy
        numbers).

    Raises
    ------
    TypeError
        If ``x`` is not an array, or an entry of ``window``, ``stride`` or ``padding``
        is not an int.
    ValueError
        If ``x`` does not have 1 or 2 spatial axes, an argument is not a positive int
        (non-negative for ``padding``) or tuple of the right length, or a window is
        larger than the padded input.

    Notes
    -----
    Consumers copy the view once, in the layout their matrix product wants (see
    :mod:`rso_ref.nn.conv`); :func:`sliding_windows_adjoint` is the transpose.

    References
    ----------
    .. [1] K. Chellapilla, S. Puri, P. Simard, "High performance convolutional neural
       networks for document processing", IWFHR (2006); https://inria.hal.science/inria-00112631

    Examples
    --------
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> sliding_windows(x, 3, 2)[0, 0]
    array([[0., 1., 2.],
           [2., 3., 4.]])
    """
    xp = array_namespace(x, names=["x"]) if xp is None else xp
    shape = tuple(x.shape)
    window, stride, padding, out = _window_geometry(shape, window, stride, padding)
    d = len(window)
    library = _fast_library(xp)
    x = _zero_pad(x, padding, xp, library)
    if library == "numpy":
        view = np.lib.stride_tricks.sliding_window_view(x, window, axis=tuple(range(2, 2 + d)))
        return view[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    if library == "cupy":
        steps = tuple(a * s for a, s in zip(x.strides[2:], stride))
        return _cupy().lib.stride_tricks.as_strided(x, shape[:2] + out + window,
                                                    x.strides[:2] + steps + x.strides[2:])
    if library == "torch":
        for axis in range(d):
            x = x.unfold(2 + axis, window[axis], stride[axis])
        return x
    # Generic gather: flat index of every (output position, window offset) pair.
    padded = tuple(x.shape[2:])
    grids = np.meshgrid(*(np.arange(o) * s for o, s in zip(out, stride)),
                        *(np.arange(k) for k in window), indexing="ij")
    coords = [grids[i] + grids[d + i] for i in range(d)]
    flat = np.ravel_multi_index(coords, padded).reshape(-1)
    device = _device_kwargs(x)
    index = xp.asarray(flat, dtype=index_dtype(xp, device.get("device")), **device)
    gathered = xp.take(xp.reshape(x, shape[:2] + (math.prod(padded),)), index, axis=2)
    return xp.reshape(gathered, shape[:2] + out + window)


def sliding_windows_adjoint(windows: Any, input_shape: Sequence[int], stride: Any = 1, *,
                            padding: Any = 0, window: Any = None, masks: Sequence | None = None,
                            xp: ModuleType | None = None):
    r"""Transpose of :func:`sliding_windows`: add every window back where it came from.

    Given ``G`` of shape ``(N, C, *O, *K)`` (the gradient with respect to the windows),
    returns ``dx`` of shape ``input_shape`` with

    .. math::

        dx[n, c, i] = \sum_{o, k:\; o s + k - p = i} G[n, c, o, k],

    the scatter-add of col2im. Windows that overlap (stride smaller than the window)
    add up; entries that fall into the zero padding are dropped.

    Parameters
    ----------
    windows : array of shape ``(N, C, *O, *K)``, or sequence of arrays of shape ``(N, C, *O)``
        Any strides (a permuted view of a matrix product is fine). A sequence holds
        ``G[..., k]`` for every window offset ``k`` in row-major order (what a
        layer computes offset by offset, as max pooling does), which saves stacking.
    input_shape : tuple of int
        ``(N, C, *S)``, the shape of the ``x`` given to :func:`sliding_windows`.
    stride, padding : int or tuple of int
        As given to :func:`sliding_windows`.
    window : int or tuple of int, optional
        The window size; required when ``windows`` is a sequence, read from its shape
        otherwise.
    masks : sequence of bool arrays of shape ``(N, C, *O)``, optional
        With a sequence ``windows`` only: ``G[..., k]`` is taken as
        ``where(masks[k], windows[k], 0)`` (max pooling's routing), which NumPy applies
        while writing (``copyto``/``add`` with ``where=``) instead of making a temporary.
    xp : module, optional
        Namespace of ``windows``; found from it when omitted.

    Returns
    -------
    array, shape ``input_shape``
        :math:`dx`.

    Raises
    ------
    ValueError
        If ``windows`` does not have the shape :func:`sliding_windows` gives for
        ``input_shape`` (or a sequence does not hold one array per offset).

    Notes
    -----
    No ``add.at`` scatter: one strided-slice accumulation per window offset
    (:math:`\prod_i K_i` of them), each over ``N C prod(O)`` entries. NumPy, CuPy and
    torch add in place into a view of the padded result; other namespaces write the
    same slices with :data:`rso_ref.backend.at` (``__setitem__`` where arrays are
    writable, a functional update on JAX). When windows do not overlap (stride >= window
    on every axis) every entry receives at most one value and the slices are assigned
    instead of added. All backends run the same steps in the same (row-major) order,
    so their results are bit-identical.
    """
    input_shape = tuple(int(s) for s in input_shape)
    parts = None if hasattr(windows, "shape") else list(windows)
    if parts is None:
        window = tuple(windows.shape[len(input_shape):])
    elif window is None:
        raise ValueError("window is required when windows is a sequence of per-offset arrays")
    first = windows if parts is None else parts[0]
    xp = array_namespace(first) if xp is None else xp
    window, stride, padding, out = _window_geometry(input_shape, window, stride, padding)
    lead = input_shape[:2] + out
    offsets = list(itertools.product(*(range(k) for k in window)))
    if parts is None and tuple(windows.shape) != lead + window:
        raise ValueError(
            f"windows must have shape {lead + window} for input_shape {input_shape}, stride "
            f"{stride}, padding {padding}; got {tuple(windows.shape)}"
        )
    if masks is not None and (parts is None or len(masks) != len(offsets)
                              or any(tuple(m.shape) != lead for m in masks)):
        raise ValueError(f"masks must be {len(offsets)} arrays of shape {lead}, one per "
                         "entry of a sequence windows")
    if parts is not None and (len(parts) != len(offsets)
                              or any(tuple(g.shape) != lead for g in parts)):
        raise ValueError(
            f"windows must hold {len(offsets)} arrays of shape {lead} (one per offset of "
            f"window {window}), got {[tuple(g.shape) for g in parts]}"
        )
    library = _fast_library(xp)
    padded = input_shape[:2] + tuple(s + 2 * p for s, p in zip(input_shape[2:], padding))
    disjoint = all(s >= k for s, k in zip(stride, window))
    covered = disjoint and all(s == k and o * s == n
                               for s, k, o, n in zip(stride, window, out, padded[2:]))
    make = xp.empty if covered and masks is None else xp.zeros
    dx = make(padded, dtype=first.dtype, **_device_kwargs(first))
    zero = None
    for j, offset in enumerate(offsets):
        target = (slice(None), slice(None)) + tuple(
            slice(k, k + s * (o - 1) + 1, s) for k, s, o in zip(offset, stride, out))
        source = windows[(Ellipsis,) + offset] if parts is None else parts[j]
        if masks is not None and library == "numpy":
            view = dx[target]
            if disjoint:
                np.copyto(view, source, where=masks[j])
            else:
                np.add(view, source, out=view, where=masks[j])
            continue
        if masks is not None:
            zero = xp.zeros_like(source) if zero is None else zero
            source = xp.where(masks[j], source, zero)
        if library is None:
            update = at(dx, target)
            dx = update.set(source, xp=xp) if disjoint else update.add(source, xp=xp)
        elif disjoint:
            dx[target] = source
        else:
            view = dx[target]  # basic slicing gives a writable view on these libraries
            view += source
    if not any(padding):
        return dx
    return dx[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in
                                                 zip(padding, input_shape[2:]))]
