r"""Array backends: the only module of rso_ref that imports an array library by name.

Every other module receives arrays, asks :func:`array_namespace` for their namespace
``xp`` once, and then calls only functions of the Python array API standard on ``xp``
(https://data-apis.org/array-api/). This module supplies what the standard lacks:

* named backends (``"numpy"``, ``"cupy"``, ``"torch"``, ``"array_api_strict"``) and
  clear errors when one is unknown or missing;
* moving arrays between backends (:func:`to_numpy`, :func:`asarray`);
* a host random number generator, so that every backend sees identical numbers
  (draw with :class:`numpy.random.Generator`, then move);
* :func:`synchronize` for honest timings on GPUs;
* the dtype policy (float64 by default, float32 on request);
* fast paths that need a library's own API (strided window views for convolutions).

Namespaces are the array-api-compat wrappers (``array_api_compat.numpy`` and so on),
so that ``xp.linalg``, ``xp.matmul`` and friends behave the same on every backend.
"""
from __future__ import annotations

import importlib
import itertools
import math
from types import ModuleType
from typing import Any, Sequence

import array_api_compat
import numpy as np

__all__ = [
    "BACKENDS",
    "namespace",
    "array_namespace",
    "backend_name",
    "is_numpy",
    "to_numpy",
    "asarray",
    "rng",
    "random_normal",
    "random_uniform",
    "synchronize",
    "resolve_dtype",
    "check_floating",
    "erf",
    "check_finite",
    "sliding_windows",
    "sliding_windows_adjoint",
]

#: Backend names accepted everywhere a ``backend=`` argument appears.
BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")

_INSTALL_HINT = {
    "numpy": "pip install numpy",
    "cupy": "pip install 'rso_ref[gpu]' (cupy-cuda12x; needs an NVIDIA GPU and CUDA 12 driver)",
    "torch": "pip install torch==2.13.0 (or: pip install 'rso_ref[torch]')",
    "array_api_strict": "pip install array-api-strict (or: pip install 'rso_ref[test]')",
}

_COMPAT_MODULE = {
    "numpy": "array_api_compat.numpy",
    "cupy": "array_api_compat.cupy",
    "torch": "array_api_compat.torch",
    "array_api_strict": "array_api_strict",
}


def namespace(name: str = "numpy") -> ModuleType:
    """Return the array-API namespace of the backend called ``name``.

    Parameters
    ----------
    name : {"numpy", "cupy", "torch", "array_api_strict"}
        Backend name.

    Returns
    -------
    xp : module
        The array-api-compat wrapped namespace (``array_strict`` is compliant as is).

    Raises
    ------
    ValueError
        If ``name`` is not a known backend.
    RuntimeError
        If the backend is not installed, or (CuPy) no CUDA device is usable; the message
        says how to install it.

    Examples
    --------
    >>> xp = namespace("numpy")
    >>> float(xp.sum(xp.ones(3)))
    3.0
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    library = name.split(".")[0]
    try:
        importlib.import_module(library)
        xp = importlib.import_module(_COMPAT_MODULE[name])
    except ImportError as exc:
        raise RuntimeError(
            f"backend {name!r} is not installed ({exc}); install it with: {_INSTALL_HINT[name]}"
        ) from exc
    if name == "cupy":
        _check_cuda_device()
    return xp


def _check_cuda_device() -> None:
    import cupy

    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: CuPy raises its own types
        raise RuntimeError(
            f"backend 'cupy' is installed but no CUDA device is usable ({exc}); "
            "run on a machine with an NVIDIA GPU or choose backend='numpy'"
        ) from exc
    if count < 1:
        raise RuntimeError("backend 'cupy' is installed but this machine has no CUDA GPU")


def array_namespace(*arrays: Any) -> ModuleType:
    """Return the common array-API namespace of ``arrays``.

    ``None`` entries and Python scalars are ignored. Lists (parameter trees) are
    searched element by element.

    Raises
    ------
    ValueError
        If the arrays come from two different namespaces or devices (both are named).
    TypeError
        If an argument is not an array of a supported library.
    """
    flat = list(_iter_arrays(arrays))
    if not flat:
        raise TypeError("array_namespace needs at least one array argument")
    try:
        xp = array_api_compat.array_namespace(*flat)
    except TypeError as exc:
        if "Multiple namespaces" in str(exc):
            names = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in flat})
            raise ValueError(
                f"arrays from different namespaces were mixed: {', '.join(names)}; "
                "move them to one backend first (rso_ref.backend.asarray)"
            ) from exc
        raise TypeError(f"not an array of a supported library: {exc}") from exc
    devices = {str(array_api_compat.device(a)) for a in flat}
    if len(devices) > 1:
        raise ValueError(f"arrays live on different devices: {sorted(devices)}")
    return xp


def _iter_arrays(items):
    for item in items:
        if item is None or isinstance(item, (bool, int, float, complex)):
            continue
        if isinstance(item, (list, tuple)):
            yield from _iter_arrays(item)
        else:
            yield item


def backend_name(xp: ModuleType) -> str:
    """Return the backend name (one of :data:`BACKENDS`) of namespace ``xp``."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    raise ValueError(f"unknown array namespace {getattr(xp, '__name__', xp)!r}")


def is_numpy(xp: ModuleType) -> bool:
    """True when ``xp`` is NumPy (plain or wrapped): NumPy fast paths may be used."""
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array on the host.

    Scalars and NumPy arrays pass through ``numpy.asarray``; CuPy arrays are copied off
    the GPU; torch tensors are detached and moved to the CPU.
    """
    if isinstance(x, (np.ndarray, np.generic, bool, int, float)):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        return np.from_dlpack(x)
    return np.asarray(x)


def asarray(x: Any, like: Any = None, *, xp: ModuleType | None = None, dtype: Any = None):
    """Put ``x`` (array of any backend, or nested sequence) on a backend.

    The target is the namespace of ``like`` or, failing that, ``xp`` (default NumPy).
    Data goes through the host, so any pair of backends works.

    Parameters
    ----------
    x : array_like
    like : array, optional
        An array whose namespace (and device) the result should share.
    xp : module, optional
        Target namespace when ``like`` is not given.
    dtype : dtype or str, optional
        ``"float32"``/``"float64"`` or a dtype of the target namespace; keeps the
        dtype of ``x`` when omitted.
    """
    if like is not None:
        xp = array_namespace(like)
    if xp is None:
        xp = namespace("numpy")
    host = to_numpy(x)
    target_dtype = resolve_dtype(xp, dtype) if dtype is not None else None
    out = xp.asarray(host, dtype=target_dtype)
    if like is not None and backend_name(xp) != "numpy":
        out = xp.asarray(out, device=array_api_compat.device(like))
    return out


def rng(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return a host :class:`numpy.random.Generator`.

    ``seed`` may be an int (a fresh PCG64 generator) or a Generator (returned as is, so
    callers can thread one generator through several draws). ``None`` is refused: all
    randomness in rso_ref is explicit and reproducible.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def random_normal(shape, seed: int | np.random.Generator = 0, *, xp: ModuleType | None = None,
                  dtype: Any = None, scale: float = 1.0):
    """Standard normal draws (times ``scale``) made on the host, then moved to ``xp``.

    The same ``seed`` gives bit-identical numbers on every backend in float64 (float32
    is the float64 draw rounded).
    """
    xp = namespace("numpy") if xp is None else xp
    host = scale * rng(seed).standard_normal(shape)
    return asarray(host, xp=xp, dtype=resolve_dtype(xp, dtype))


def random_uniform(shape, seed: int | np.random.Generator = 0, *, low: float = 0.0,
                   high: float = 1.0, xp: ModuleType | None = None, dtype: Any = None):
    """Uniform draws on ``[low, high)`` made on the host, then moved to ``xp``."""
    xp = namespace("numpy") if xp is None else xp
    host = rng(seed).uniform(low, high, size=shape)
    return asarray(host, xp=xp, dtype=resolve_dtype(xp, dtype))


def synchronize(xp: ModuleType | Any = None) -> None:
    """Wait until queued device work has finished (CuPy, CUDA torch); no-op on CPU.

    ``xp`` may be a namespace or an array. Call it before reading a timer.
    """
    if xp is None:
        return
    if not isinstance(xp, ModuleType):
        xp = array_namespace(xp)
    name = backend_name(xp)
    if name == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif name == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


_DTYPE_NAMES = ("float64", "float32")


def resolve_dtype(xp: ModuleType, dtype: Any = None):
    """Return the floating dtype of ``xp`` meant by ``dtype``.

    ``None`` means float64 (the reference default); strings ``"float64"`` and
    ``"float32"`` or a dtype object of ``xp`` are accepted.

    Raises
    ------
    TypeError
        If ``dtype`` is not a real floating dtype.
    """
    if dtype is None:
        return xp.float64
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"dtype must be one of {_DTYPE_NAMES}, got {dtype!r}")
        return getattr(xp, dtype)
    for name in _DTYPE_NAMES:
        if dtype == getattr(xp, name):
            return getattr(xp, name)
    raise TypeError(f"dtype must be float64 or float32, got {dtype!r}")


def check_floating(x: Any, name: str = "x") -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` has a real floating dtype."""
    xp = array_namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype (float32/float64), got {x.dtype}")


def erf(x: Any, *, xp: ModuleType | None = None):
    r"""The error function :math:`\operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}\,dt`.

    The array API standard has no ``erf``; this picks one per backend: the namespace's
    own ``xp.erf`` when it has one (torch; the autograd namespace of
    :func:`rso_ref.autodiff.namespace`, which keeps it differentiable), SciPy's for
    NumPy, CuPy's ``cupyx.scipy.special.erf`` on the GPU, and a round trip through
    SciPy on the host for ``array_api_strict`` (a test backend).

    Parameters
    ----------
    x : array
        Real floating input.
    xp : module, optional
        Namespace of ``x``; found from ``x`` when omitted.
    """
    xp = array_namespace(x) if xp is None else xp
    own = getattr(xp, "erf", None)
    if own is not None:
        return own(x)
    name = backend_name(xp)
    if name == "cupy":
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    import scipy.special

    if name == "numpy":
        return scipy.special.erf(x)
    host = to_numpy(x)
    return xp.asarray(scipy.special.erf(host), dtype=x.dtype, device=array_api_compat.device(x))


def check_finite(x: Any, name: str = "x", *, xp: ModuleType | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` if ``x`` holds NaN or ±inf.

    One reduction first (``sum(x)`` is finite whenever every entry is, unless the sum
    overflows); the elementwise test runs only when that sum is not finite, so the
    common case costs a single pass without temporaries.
    """
    xp = array_namespace(x) if xp is None else xp
    if bool(xp.isfinite(xp.sum(x))):
        return
    bad = int(xp.sum(xp.astype(xp.logical_not(xp.isfinite(x)), xp.int64)))
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or inf entries")


# -- sliding windows (im2col) -----------------------------------------------------------

def _spatial_tuple(value: Any, d: int, name: str, minimum: int) -> tuple[int, ...]:
    """``value`` (int or length-``d`` sequence of ints) as a ``d``-tuple, each >= ``minimum``."""
    items = (value,) * d if isinstance(value, (int, np.integer)) else tuple(value)
    if (len(items) != d or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                               or v < minimum for v in items)):
        raise ValueError(
            f"{name} must be an int >= {minimum} or {d} such ints (one per spatial axis), "
            f"got {value!r}"
        )
    return tuple(int(v) for v in items)


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

    ``array_api_strict`` and the autograd namespace of :mod:`rso_ref.autodiff` (which
    must be traced, so must not see NumPy's strided views) take the generic paths.
    """
    try:
        name = backend_name(xp)
    except ValueError:  # the autograd namespace is none of the named backends
        return None
    return None if name == "array_api_strict" else name


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
    window : int or tuple of int
        Window size per spatial axis (an int is used for every axis).
    stride : int or tuple of int, default 1
    padding : int or tuple of int, default 0
        Zeros added before and after each spatial axis.
    xp : module, optional
        Namespace of ``x``; found from ``x`` when omitted. Pass it explicitly (as the
        autograd namespace of :func:`rso_ref.autodiff.namespace`) to trace the gather.

    Returns
    -------
    windows : array, shape (N, C, *O, *K)
        A strided *view* of the (padded) input, not to be written to, on NumPy
        (``numpy.lib.stride_tricks.sliding_window_view``, read-only), CuPy
        (``as_strided``) and torch (``Tensor.unfold``); on other namespaces (``array_api_strict``, autograd)
        a new array gathered with ``xp.take`` and precomputed flat indices. All paths
        give bit-identical values (they only copy numbers).

    Raises
    ------
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
    xp = array_namespace(x) if xp is None else xp
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
    index = xp.asarray(flat, **_device_kwargs(x))
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
    windows : array of shape (N, C, *O, *K), or sequence of arrays of shape (N, C, *O)
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
    masks : sequence of boolean arrays of shape (N, C, *O), optional
        With a sequence ``windows`` only: ``G[..., k]`` is taken as
        ``where(masks[k], windows[k], 0)`` (max pooling's routing), which NumPy applies
        while writing (``copyto``/``add`` with ``where=``) instead of making a temporary.
    xp : module, optional

    Returns
    -------
    dx : array, shape ``input_shape``

    Raises
    ------
    ValueError
        If ``windows`` does not have the shape :func:`sliding_windows` gives for
        ``input_shape`` (or a sequence does not hold one array per offset).

    Notes
    -----
    No ``add.at`` scatter: one strided-slice accumulation per window offset
    (:math:`\prod_i K_i` of them), each over ``N C prod(O)`` entries. NumPy, CuPy and
    torch add in place into a view of the padded result; other namespaces use
    ``__setitem__`` on the same slices. When windows do not overlap (stride >= window
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
        if disjoint:
            dx[target] = source
        elif library is None:
            dx[target] = dx[target] + source
        else:
            view = dx[target]  # basic slicing gives a writable view on these libraries
            view += source
    if not any(padding):
        return dx
    return dx[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in
                                                 zip(padding, input_shape[2:]))]
