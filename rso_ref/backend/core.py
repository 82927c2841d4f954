r"""Namespaces, moving arrays, host randomness and the dtype policy.

The public names live in :mod:`rso_ref.backend`, which re-exports them; see its
docstring for the rule they serve.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable, Sequence

import array_api_compat
import array_api_extra
import numpy as np

from ..validation import NonFiniteError

__all__ = [
    "BACKENDS",
    "at",
    "put",
    "one_hot",
    "namespace",
    "array_namespace",
    "backend_name",
    "device",
    "placement",
    "is_numpy",
    "to_numpy",
    "asarray",
    "rng",
    "random_normal",
    "random_uniform",
    "synchronize",
    "resolve_dtype",
    "check_array",
    "check_floating",
    "index_dtype",
    "erf",
    "check_finite",
    "is_traced",
    "check_concrete",
    "private_copy",
    "keep_zero_d",
]

#: Backend names accepted everywhere a ``backend=`` argument appears.
BACKENDS = ("numpy", "cupy", "torch", "array_api_strict", "jax")

_INSTALL_HINT = {
    "numpy": "pip install numpy",
    "cupy": "pip install 'rso_ref[gpu]' (cupy-cuda12x; needs an NVIDIA GPU and CUDA 12 driver)",
    "torch": "pip install torch==2.13.0 (or: pip install 'rso_ref[torch]')",
    "array_api_strict": "pip install array-api-strict (or: pip install 'rso_ref[test]')",
    "jax": "pip install 'jax[cpu]' (or: pip install 'rso_ref[jax]')",
}

#: array-api-compat's test for each backend's namespace (plain or wrapped).
_IS_NAMESPACE = {
    "numpy": array_api_compat.is_numpy_namespace,
    "cupy": array_api_compat.is_cupy_namespace,
    "torch": array_api_compat.is_torch_namespace,
    "array_api_strict": array_api_compat.is_array_api_strict_namespace,
    "jax": array_api_compat.is_jax_namespace,
}

_COMPAT_MODULE = {
    "numpy": "array_api_compat.numpy",
    "cupy": "array_api_compat.cupy",
    "torch": "array_api_compat.torch",
    "array_api_strict": "array_api_strict",
    "jax": "jax.numpy",
}


def at(x: Any, *index: Any) -> Any:
    """Functional updates ``at(x)[idx].set(y)`` / ``.add(y)`` (``array_api_extra.at``).

    In place where the namespace's arrays are writable, a new array where they are
    immutable (JAX).

    Parameters
    ----------
    x : array
        The array to update.
    *index : index, optional
        ``at(x, idx)`` is ``at(x)[idx]``.

    Returns
    -------
    array_api_extra.at
        The updater; call ``.set``, ``.add``, ... on it (after indexing it).

    Raises
    ------
    TypeError
        If ``x`` is not an array (:func:`check_array`).
    """
    check_array(x, "x")
    return array_api_extra.at(x, *index)


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1,
            xp: ModuleType | None = None) -> Any:
    """One-hot encoding of integer labels (``array_api_extra.one_hot``), on their device.

    Parameters
    ----------
    x : array of int
        The labels, each in ``[0, num_classes)``.
    num_classes : int
        Number of classes, at least 1.
    dtype : dtype, optional
        Of the result (default: the namespace's default floating dtype).
    axis : int, default -1
        Where the new class axis goes.
    xp : module, optional
        The namespace of ``x``.

    Returns
    -------
    array
        Shape ``x.shape`` with a ``num_classes`` axis inserted at ``axis``.

    Raises
    ------
    TypeError
        If ``x`` is not an array (of an integer dtype), or ``num_classes`` not an int.
    ValueError
        If ``num_classes < 1``.
    """
    check_array(x, "x")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return array_api_extra.one_hot(x, int(num_classes), dtype=dtype, axis=axis, xp=xp)


def put(x: Any, index: Any, value: Any) -> Any:
    """Return ``x`` with ``x[index] = value``; reassign the result, never reuse ``x``.

    A NumPy array is written in place and returned (the plain assignment: :data:`at`
    spends about 10 us per call in its checks, 14 % of an L-BFGS iteration at
    n = 1000); any other array goes through :data:`at`, in place where the namespace's
    arrays are writeable and a functional update where they are not (JAX).

    Parameters
    ----------
    x : array
        The array to write.
    index : index
        Where (any index the namespace accepts).
    value : array or scalar
        What.

    Returns
    -------
    array
        ``x`` itself (NumPy, and other writeable arrays) or a new array (JAX).

    Raises
    ------
    TypeError
        If ``x`` is not an array.
    """
    if type(x) is np.ndarray:
        x[index] = value
        return x
    return at(x)[index].set(value)  # at checks that x is an array


def namespace(name: str = "numpy") -> ModuleType:
    """Return the array-API namespace of the backend called ``name``.

    Parameters
    ----------
    name : {"numpy", "cupy", "torch", "array_api_strict", "jax"}
        Backend name.

    Returns
    -------
    module
        The array-api-compat wrapped namespace (``array_api_strict`` and ``jax.numpy``
        are compliant as they are). JAX computes in float32 unless
        ``jax.config.update("jax_enable_x64", True)`` was called before its first use;
        a float64 request without it raises (:func:`resolve_dtype`).

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


def array_namespace(*arrays: Any, names: Sequence[str] | None = None) -> ModuleType:
    """Return the common array-API namespace of ``arrays``.

    ``None`` entries and Python scalars are ignored. Lists (parameter trees) are
    searched element by element.

    Parameters
    ----------
    *arrays : array or list of arrays
        The arrays (``None`` and Python scalars are skipped).
    names : sequence of str, optional
        The argument name of each of ``arrays`` (same length), used in the error when
        two devices meet; entries of a list argument are named ``name[i]``.

    Returns
    -------
    module
        The namespace (array-api-compat wrapped where needed); NumPy's when no array
        was given.

    Raises
    ------
    ValueError
        If the arrays come from two different namespaces or devices (both are named,
        and with ``names`` the first argument on each device).
    TypeError
        If an argument is not an array of a supported library.
    """
    if names is not None and len(names) != len(arrays):
        raise ValueError(f"names must name each of the {len(arrays)} arrays, got {len(names)}")
    known = _known_namespace(arrays)
    if known is not None:
        return known
    labelled = list(_label_arrays(arrays, names or [None] * len(arrays)))
    flat = [a for _, a in labelled]
    if not flat:
        got = ", ".join(type(a).__name__ for a in arrays) or "nothing"
        hint = " (convert lists with numpy.asarray)" if any(
            isinstance(a, (list, tuple)) for a in arrays) else ""
        if names and len(names) == 1:
            raise TypeError(f"{names[0]} must be an array, got {got}{hint}")
        raise TypeError(f"array_namespace needs at least one array, got {got}{hint}")
    try:
        xp = array_api_compat.array_namespace(*flat)
    except TypeError as exc:  # the error path only: find out which rule was broken
        raise _namespace_error(labelled) from exc
    first_on: dict[str, str | None] = {}
    for label, a in labelled:
        where = placement(a)
        if where is not None:  # None: a JAX array being traced by jit, placed later
            first_on.setdefault(_placement_text(where), label)
    if len(first_on) > 1:
        where = ", ".join(f"{label} on {dev}" if label else dev for dev, label in first_on.items())
        raise ValueError(f"arrays live on different devices: {where}; move them to one "
                         "device first (rso_ref.backend.asarray(x, like=...))")
    kinds = {type(a) for a in flat}
    if len(kinds) == 1:
        kind = kinds.pop()
        _NAMESPACE_OF_TYPE.setdefault(kind, (xp, _placement_reader(kind, xp)))
    return xp


#: The namespace, and how to read an array's device, of each array type that
#: :func:`array_namespace` has resolved, so that a call on arrays of one known type skips
#: array-api-compat's search (most of a torch call's 45 us: the search and one
#: ``device`` lookup per array).
_NAMESPACE_OF_TYPE: dict[type, tuple[ModuleType, Callable[[Any], Any]]] = {}


def _known_namespace(items: Sequence[Any]) -> ModuleType | None:
    """The namespace of ``items`` when they are arrays of one known type on one device.

    ``None`` (the full search of :func:`array_namespace` decides, and raises where it
    must) for anything else: nested lists, mixed types, two devices, no array.
    """
    leaves = []
    for item in items:
        if isinstance(item, (list, tuple)):
            leaves.extend(item)  # a nested list among them is no array type: full search
        elif item is not None and not isinstance(item, (bool, int, float, complex)):
            leaves.append(item)
    if not leaves:
        return None
    kind = type(leaves[0])
    known = _NAMESPACE_OF_TYPE.get(kind)
    if known is None or any(type(a) is not kind for a in leaves):
        return None
    xp, where = known
    if kind is np.ndarray:  # one device
        return xp
    first = where(leaves[0])
    if any(where(a) != first for a in leaves[1:]):
        return None
    return xp


def _placement_reader(kind: type, xp: ModuleType) -> Callable[[Any], Any]:
    """How :func:`_known_namespace` compares placements of arrays of type ``kind``.

    The standard's ``x.device``, except on JAX: a concrete JAX array is compared by its
    ``sharding`` (one attribute read, where array-api-compat's ``device`` takes 6 us;
    equal shardings mean equal placement, and unequal ones go to the full check), and
    a tracer by array-api-compat's ``device``.
    """
    if not array_api_compat.is_jax_namespace(xp):
        return _device_attribute
    import jax

    if issubclass(kind, jax.Array) and not issubclass(kind, jax.core.Tracer):
        return _device_set
    return placement


def _device_attribute(x: Any) -> Any:
    return x.device


def _device_set(x: Any) -> Any:
    return x.sharding.device_set


def placement(x: Any) -> Any:
    """Return where array ``x`` lives, as one value that compares equal for arrays together.

    The standard's ``x.device``, except for a concrete JAX array: the set of devices its
    shards are on (``x.sharding.device_set``), so that arrays sharded differently over
    the same devices (a weight split by columns, a bias by rows) count as together, as
    they do for ``jax.jit``. ``None`` for a JAX array being traced (placed later).

    Parameters
    ----------
    x : array
        An array of any supported backend.

    Returns
    -------
    object
        The device, or a frozenset of JAX devices, or None.

    Raises
    ------
    TypeError
        If ``x`` is not an array.
    """
    check_array(x, "x")
    if array_api_compat.is_jax_array(x):
        try:
            return frozenset(x.sharding.device_set)
        except AttributeError:  # a tracer (jit, grad) has no sharding
            return None
    return array_api_compat.device(x)


def _placement_text(where: Any) -> str:
    """A placement for messages: the device, or the devices of a sharded JAX array."""
    if isinstance(where, frozenset):
        devices = sorted(str(d) for d in where)
        return devices[0] if len(devices) == 1 else "devices " + ", ".join(devices)
    return str(where)


def _namespace_error(labelled: list) -> Exception:
    """The error for arrays that array-api-compat gives no common namespace.

    ``TypeError`` naming the first argument that is not an array of a supported library;
    else ``ValueError`` naming the namespaces when the arrays come from several; else a
    ``TypeError`` (a single namespace array-api-compat still refused).
    """
    for label, a in labelled:
        if not array_api_compat.is_array_api_obj(a):
            return TypeError(f"{label or 'argument'} must be an array of a supported "
                             f"library, got {type(a).__name__}")
    spaces = set()
    for _, a in labelled:
        try:
            spaces.add(id(array_api_compat.array_namespace(a)))
        except TypeError as exc:
            return TypeError(f"not an array of a supported library: {type(a).__name__} ({exc})")
    if len(spaces) > 1:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__
                        for _, a in labelled})
        return ValueError(f"arrays from different namespaces were mixed: {', '.join(kinds)}; "
                          "move them to one backend first (rso_ref.backend.asarray)")
    return TypeError("array-api-compat found no namespace for these arrays")


def _label_arrays(items, labels):
    """``(label, array)`` for every array in ``items``; lists are searched, labels indexed."""
    for item, label in zip(items, labels):
        if item is None or isinstance(item, (bool, int, float, complex)):
            continue
        if isinstance(item, (list, tuple)):
            sub = [None if label is None else f"{label}[{i}]" for i in range(len(item))]
            yield from _label_arrays(item, sub)
        else:
            yield label, item


def backend_name(xp: ModuleType) -> str:
    """Return the backend name (one of :data:`BACKENDS`) of namespace ``xp``.

    Parameters
    ----------
    xp : module
        A namespace.

    Returns
    -------
    str
        Its name.

    Raises
    ------
    TypeError
        If ``xp`` is not a namespace (a string, an array).
    ValueError
        If ``xp`` is the namespace of another library.
    """
    _check_namespace(xp)
    for name, test in _IS_NAMESPACE.items():
        if test(xp):
            return name
    raise ValueError(f"xp must be an array namespace of one of {BACKENDS}, got "
                     f"{getattr(xp, '__name__', type(xp).__name__)!r}")


def device(x: Any) -> Any:
    """Return the device of array ``x``, as the standard's ``x.device``.

    Parameters
    ----------
    x : array
        An array of any supported backend.

    Returns
    -------
    device
        Its device (``"cpu"`` for NumPy).

    Raises
    ------
    TypeError
        If ``x`` is not an array.
    """
    check_array(x, "x")
    return array_api_compat.device(x)


def is_numpy(xp: ModuleType) -> bool:
    """Tell whether ``xp`` is NumPy (plain or wrapped), so that NumPy fast paths may be used.

    Parameters
    ----------
    xp : module
        A namespace.

    Returns
    -------
    bool
        True for NumPy.

    Raises
    ------
    TypeError
        If ``xp`` is not a namespace (:func:`_check_namespace`).
    """
    _check_namespace(xp)
    return array_api_compat.is_numpy_namespace(xp)


def _check_namespace(xp: Any, name: str = "xp") -> None:
    """``TypeError`` naming ``name`` unless ``xp`` looks like a namespace (has ``asarray``)."""
    if array_api_compat.is_array_api_obj(xp) or not callable(getattr(xp, "asarray", None)):
        raise TypeError(f"{name} must be an array namespace (a module such as "
                        f"rso_ref.backend.namespace('numpy')), got {type(xp).__name__}")


def keep_zero_d(leaves: list) -> list:
    r"""Return ``leaves`` with every NumPy scalar made a 0-d NumPy array again.

    NumPy answers arithmetic on 0-d arrays (``0.1 * x``, ``x + y``, ``np.sqrt(x)``) with
    a NumPy scalar, not an array; the other backends (CuPy, torch, JAX,
    array_api_strict) keep 0-d arrays. Leaf-wise arithmetic on parameter lists
    (:mod:`rso_ref.tree`, :func:`rso_ref.rso.apply_weights`) passes its results through
    this, so that a 0-d parameter stays a 0-d array of the same dtype, on every backend.

    Parameters
    ----------
    leaves : list
        Results of leaf-wise arithmetic.

    Returns
    -------
    list
        ``leaves`` itself when it holds no NumPy scalar (the common case: one
        ``isinstance`` per leaf), else a new list.

    Raises
    ------
    TypeError
        If ``leaves`` is not a list.
    """
    if not isinstance(leaves, list):
        raise TypeError(f"leaves must be a list, got {type(leaves).__name__}")
    for leaf in leaves:
        if isinstance(leaf, np.generic):
            return [np.asarray(r) if isinstance(r, np.generic) else r for r in leaves]
    return leaves


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array on the host.

    Scalars and NumPy arrays pass through ``numpy.asarray``; CuPy arrays are copied off
    the GPU; torch tensors are detached and moved to the CPU.

    Parameters
    ----------
    x : array or scalar
        An array of any supported backend.

    Returns
    -------
    numpy.ndarray
        A host copy (or ``x`` itself when it is a NumPy array).

    Raises
    ------
    TypeError
        If ``x`` is ``None``, a string or bytes.
    """
    if isinstance(x, (np.ndarray, np.generic, bool, int, float)):
        return np.asarray(x)
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"x must be an array or a number, got {type(x).__name__}")
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        return np.from_dlpack(x)
    return np.asarray(x)


def asarray(x: Any, like: Any = None, *, xp: ModuleType | None = None, dtype: Any = None,
            device: Any = None):
    """Put ``x`` (array of any backend, or nested sequence) on a backend and device.

    The target is the namespace and device of ``like`` or, failing that, ``xp``
    (default NumPy) and ``device`` (default: the namespace's default device). Data goes
    through the host, so any pair of backends and devices works.

    Parameters
    ----------
    x : array_like
        An array of any backend, or a nested sequence of numbers.
    like : array, optional
        An array whose namespace and device the result shares.
    xp : module, optional
        Target namespace when ``like`` is not given.
    dtype : dtype or str, optional
        ``"float32"``/``"float64"`` or a dtype of the target namespace; keeps the
        dtype of ``x`` when omitted.
    device : device, optional
        Target device when ``like`` is not given (a device of the target namespace).

    Returns
    -------
    array
        ``x`` on the target namespace and device.

    Raises
    ------
    ValueError
        If both ``like`` and ``device`` are given, or the target device cannot hold
        the (given or kept) floating dtype: float64 on a float32-only device, or on JAX
        without ``jax_enable_x64`` (:func:`resolve_dtype`); nothing is silently rounded.
    """
    if like is not None:
        if device is not None:
            raise ValueError("pass like or device, not both (like already fixes the device)")
        xp = array_namespace(like)
        device = array_api_compat.device(like)
    if xp is None:
        xp = namespace("numpy")
    host = to_numpy(x)
    if dtype is None and host.dtype.name in _DTYPE_NAMES:
        dtype = host.dtype.name
    target_dtype = resolve_dtype(xp, dtype, device=device) if dtype is not None else None
    return xp.asarray(host, dtype=target_dtype, device=device)


def rng(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return a host :class:`numpy.random.Generator`.

    ``seed`` may be an int (a fresh PCG64 generator) or a Generator (returned as is, so
    callers can thread one generator through several draws). ``None`` is refused: all
    randomness in rso_ref is explicit and reproducible.

    Parameters
    ----------
    seed : int or numpy.random.Generator, default 0
        The seed, or a generator.

    Returns
    -------
    numpy.random.Generator
        A new PCG64 generator, or ``seed`` itself.

    Raises
    ------
    TypeError
        If ``seed`` is neither an int nor a Generator (``None`` included).
    ValueError
        If ``seed`` is a negative int.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))


def random_normal(shape, seed: int | np.random.Generator = 0, *, xp: ModuleType | None = None,
                  dtype: Any = None, scale: float = 1.0, device: Any = None):
    """Draw standard normal numbers (times ``scale``) on the host, then move them to ``xp``.

    The same ``seed`` gives bit-identical numbers on every backend and device in
    float64 (float32 is the float64 draw rounded). ``device`` is a device of ``xp``
    (default its default device); ``dtype`` defaults to float64 (:func:`resolve_dtype`).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the draw.
    seed : int or numpy.random.Generator, default 0
        Seed, or a generator to draw from (:func:`rng`).
    xp : module, optional
        Target namespace (default NumPy).
    dtype : dtype or str, optional
        Default float64.
    scale : float, default 1.0
        Standard deviation.
    device : device, optional
        Target device of ``xp``.

    Returns
    -------
    array
        The draw, on ``xp`` and ``device``.
    """
    xp = namespace("numpy") if xp is None else xp
    host = scale * rng(seed).standard_normal(shape)
    return asarray(host, xp=xp, dtype=resolve_dtype(xp, dtype, device=device), device=device)


def random_uniform(shape, seed: int | np.random.Generator = 0, *, low: float = 0.0,
                   high: float = 1.0, xp: ModuleType | None = None, dtype: Any = None,
                   device: Any = None):
    """Draw uniform numbers on ``[low, high)`` on the host, then move them to ``xp``.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the draw.
    seed : int or numpy.random.Generator, default 0
        Seed, or a generator to draw from (:func:`rng`).
    low, high : float, default 0.0, 1.0
        The interval.
    xp : module, optional
        Target namespace (default NumPy).
    dtype : dtype or str, optional
        Default float64.
    device : device, optional
        Target device of ``xp``.

    Returns
    -------
    array
        The draw, on ``xp`` and ``device`` (as :func:`random_normal`).
    """
    xp = namespace("numpy") if xp is None else xp
    host = rng(seed).uniform(low, high, size=shape)
    return asarray(host, xp=xp, dtype=resolve_dtype(xp, dtype, device=device), device=device)


def synchronize(xp: ModuleType | Any = None) -> None:
    """Wait until queued device work has finished (CuPy, CUDA torch, JAX); no-op on CPU.

    ``xp`` may be a namespace or an array (or a list of arrays). Call it before reading a
    timer. JAX dispatches asynchronously even on the CPU and has no global barrier: pass
    the arrays whose computation is being timed, and this blocks until they are ready.

    Parameters
    ----------
    xp : module or array or list of arrays, optional
        What to wait for.
    """
    if xp is None:
        return
    arrays = None
    if not isinstance(xp, ModuleType):
        arrays, xp = xp, array_namespace(xp, names=["xp"])
    name = backend_name(xp)
    if name == "jax" and arrays is not None:
        import jax

        jax.block_until_ready(arrays)
    elif name == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif name == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


_DTYPE_NAMES = ("float64", "float32")


def resolve_dtype(xp: ModuleType, dtype: Any = None, *, device: Any = None):
    """Return the floating dtype of ``xp`` meant by ``dtype``, checked against ``device``.

    ``None`` means float64 (the reference default); strings ``"float64"`` and
    ``"float32"`` or a dtype object of ``xp`` are accepted. The dtype must be one the
    device holds, as the namespace's inspection API
    (``xp.__array_namespace_info__().dtypes(device=...)``) reports: float32-only devices
    (Apple MPS; array_api_strict's ``"no_float64"`` and ``"no_x64"``) and JAX without
    64-bit mode refuse float64 here, once, instead of rounding it silently.

    Parameters
    ----------
    xp : module
        Target namespace.
    dtype : {"float64", "float32"} or dtype of ``xp``, optional
        The dtype meant; None means float64.
    device : device of ``xp``, optional
        Default: the namespace's default device.

    Returns
    -------
    dtype
        The dtype object of ``xp``.

    Raises
    ------
    TypeError
        If ``dtype`` is not a real floating dtype.
    ValueError
        If the device does not support the dtype; the message names the device, and on
        JAX the ``jax_enable_x64`` flag.
    """
    if dtype is None:
        name = "float64"
    elif isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"dtype must be one of {_DTYPE_NAMES}, got {dtype!r}")
        name = dtype
    else:
        matches = [n for n in _DTYPE_NAMES if dtype == getattr(xp, n)]
        if not matches:
            raise TypeError(f"dtype must be float64 or float32, got {dtype!r}")
        name = matches[0]
    _check_device_dtype(xp, name, device)
    return getattr(xp, name)


def _check_device_dtype(xp: ModuleType, name: str, device: Any) -> None:
    """``ValueError`` naming the device (or JAX's flag) when it cannot hold dtype ``name``."""
    info = getattr(xp, "__array_namespace_info__", None)
    if name == "float32" or info is None:
        return
    if name in info().dtypes(device=device, kind="real floating"):
        return
    if array_api_compat.is_jax_namespace(xp):
        raise ValueError(f"dtype {name} on JAX needs 64-bit mode: call "
                         "jax.config.update('jax_enable_x64', True) before creating arrays, "
                         "or pass dtype='float32'")
    where = f"device {device!r}" if device is not None else "the default device"
    raise ValueError(f"dtype {name} is not supported on {where} of {backend_name(xp)}; "
                     "pass dtype='float32'")


def index_dtype(xp: ModuleType, device: Any = None):
    """Return the default index dtype of ``device`` in ``xp``.

    ``int64``, or ``int32`` where the device has no 64-bit integers (JAX without
    ``jax_enable_x64``, array_api_strict's ``"no_x64"``), as the namespace's inspection
    API reports it (``array_api_extra.default_dtype(xp, "indexing", device=device)``).

    Parameters
    ----------
    xp : module
        The namespace.
    device : device, optional
        One of its devices (default: the namespace's default device).

    Returns
    -------
    dtype or None
        The index dtype; ``None`` for a namespace without the inspection API
        (autograd's), whose ``asarray`` then keeps the host dtype.

    Raises
    ------
    TypeError
        If ``xp`` is not a namespace.
    """
    _check_namespace(xp)
    if not hasattr(xp, "__array_namespace_info__"):
        return None
    return array_api_extra.default_dtype(xp, "indexing", device=device)


def check_array(x: Any, name: str = "x") -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` is an array of a supported library.

    A Python list, a scalar or ``None`` where an array is expected is a mistake the
    array code would otherwise report as a missing ``shape``/``dtype`` attribute.

    Parameters
    ----------
    x : object
        The value to check.
    name : str, default "x"
        Its name in the error message.

    Raises
    ------
    TypeError
        If ``x`` is not an array of NumPy, CuPy, torch, JAX, array_api_strict or
        autograd (``array_api_compat.is_array_api_obj``).
    """
    if not array_api_compat.is_array_api_obj(x):
        hint = " (convert it with numpy.asarray)" if isinstance(x, (list, tuple)) else ""
        raise TypeError(f"{name} must be an array, got {type(x).__name__}{hint}")


def check_floating(x: Any, name: str = "x") -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` has a real floating dtype.

    Parameters
    ----------
    x : array
        The array to check.
    name : str, default "x"
        Its name in the error message.

    Raises
    ------
    TypeError
        If ``x`` is not an array, or its dtype is not a real floating dtype.
    """
    check_array(x, name)
    xp = array_namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype (float32/float64), got {x.dtype}")


def erf(x: Any, *, xp: ModuleType | None = None):
    r"""Return the error function of ``x``, elementwise.

    .. math::

        \operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}\,dt

    The array API standard has no ``erf``; this picks one per backend: the namespace's
    own ``xp.erf`` when it has one (torch; the autograd namespace of
    :func:`rso_ref.autodiff.namespace`, which keeps it differentiable), SciPy's for
    NumPy, CuPy's ``cupyx.scipy.special.erf`` on the GPU, ``jax.scipy.special.erf`` on
    JAX (traceable, so a jitted GELU model works), and a round trip through SciPy on the
    host for ``array_api_strict`` (a test backend), back on the input's device.

    Parameters
    ----------
    x : array
        Real floating input.
    xp : module, optional
        Namespace of ``x``; found from ``x`` when omitted.

    Returns
    -------
    array
        :math:`\operatorname{erf}(x)`, on the namespace and device of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not an array (with ``xp`` omitted).
    """
    xp = array_namespace(x, names=["x"]) if xp is None else xp
    own = getattr(xp, "erf", None)
    if own is not None:
        return own(x)
    name = backend_name(xp)
    if name == "cupy":
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    if name == "jax":
        import jax.scipy.special

        return jax.scipy.special.erf(x)
    import scipy.special

    if name == "numpy":
        return scipy.special.erf(x)
    host = to_numpy(x)
    return xp.asarray(scipy.special.erf(host), dtype=x.dtype, device=array_api_compat.device(x))


def is_traced(x: Any) -> bool:
    """Tell whether ``x`` is an abstract JAX value being traced.

    Inside ``jax.jit``, ``jax.vmap``, ... its numbers do not exist yet, so checks on
    values must skip it.

    Concrete JAX arrays (eager code, and the inputs that ``jax.grad`` does not
    differentiate) are not traced and are checked as any other array.

    Parameters
    ----------
    x : object
        Any value.

    Returns
    -------
    bool
        True for a JAX tracer.
    """
    if not array_api_compat.is_jax_array(x):
        return False
    import jax

    if not isinstance(x, jax.core.Tracer):
        return False
    try:  # a tracer of eager autodiff (jax.grad outside jit) still holds its numbers
        bool(jax.numpy.any(jax.numpy.ravel(x)[:1]))
    except jax.errors.ConcretizationTypeError:
        return True
    return False


def private_copy(x: Any, xp: ModuleType) -> Any:
    """Return ``x`` as an array no one else can write: a copy, or ``x`` itself if immutable.

    A solver that keeps an array it handed to user code (an iterate given to ``fun``, a
    gradient ``fun`` returned and may overwrite, as torch's ``.grad`` is) keeps a copy of
    it. Arrays that cannot be written (JAX's; ``array_api_compat.is_writeable_array``)
    need none, and skipping it saves a dispatched copy per oracle call.

    Parameters
    ----------
    x : array
        The array.
    xp : module
        Its namespace.

    Returns
    -------
    array
        ``x`` (immutable) or a new array equal to it.

    Raises
    ------
    TypeError
        If ``x`` is not an array.
    """
    check_array(x, "x")
    return xp.asarray(x, copy=True) if array_api_compat.is_writeable_array(x) else x


def check_concrete(arrays: Sequence, labels: Sequence[str], caller: str, instead: str) -> None:
    """Raise ``TypeError`` if an array of ``arrays`` is being traced (:func:`is_traced`).

    The host-driven solvers branch on the values of what they compute (the line search's
    Wolfe tests, the number of oracle calls), so they cannot be traced by ``jax.jit``:
    inside it an array has no numbers yet, and JAX's own error ("Abstract tracer value
    encountered where concrete value is expected") says neither which argument nor what
    to do. The message names both.

    Parameters
    ----------
    arrays : sequence of arrays
        The arrays to check (a parameter list, the leaves of a start point).
    labels : sequence of str
        How the message names each array (``"params[0]"``, ``"x0"``).
    caller : str
        The function that cannot be traced, e.g. ``"rso_step"``.
    instead : str
        What to compile instead, a sentence.

    Raises
    ------
    TypeError
        If one of ``arrays`` is a JAX tracer without values.
    """
    for x, label in zip(arrays, labels):
        if is_traced(x):
            raise TypeError(
                f"{caller} cannot run inside jax.jit (or another JAX transformation that "
                f"traces its arguments): {label} is a traced value whose numbers do not exist "
                f"yet, and {caller} decides on the host from the values it computes (line-search "
                f"tests, how many oracle calls to make). {instead}")


def check_finite(x: Any, name: str = "x", *, xp: ModuleType | None = None) -> None:
    """Raise :class:`~rso_ref.validation.NonFiniteError` naming ``name`` if ``x`` holds NaN or ±inf.

    One reduction first (``sum(x)`` is finite whenever every entry is, unless the sum
    overflows); the elementwise tests run only when that sum is not finite, so the
    common case costs a single pass without temporaries. The message counts the NaN and
    the infinite entries, counted in the device's index dtype (:func:`index_dtype`:
    int32 where the device has no int64), so it names them on every device. Inside
    ``jax.jit`` that sum has no value yet (:func:`is_traced`; even for a concrete array
    closed over, the reduction is staged) and nothing is checked: check the data eagerly
    before jitting a function of it.

    Parameters
    ----------
    x : array
        The array to check.
    name : str, default "x"
        Its name in the error message.
    xp : module, optional
        Its namespace; found from ``x`` when omitted.

    Raises
    ------
    TypeError
        If ``x`` is not an array (with ``xp`` omitted).
    rso_ref.validation.NonFiniteError
        If an entry is NaN or infinite (a ``ValueError``).
    """
    if xp is None:
        check_array(x, name)
        xp = array_namespace(x)
    total = xp.sum(x)
    if is_traced(total) or bool(xp.isfinite(total)):
        return
    counts = {kind: _count(test(x), xp) for kind, test in (("NaN", xp.isnan), ("inf", xp.isinf))}
    bad = sum(counts.values())
    if bad:
        found = " and ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        raise NonFiniteError(f"{name} contains {found} {'entry' if bad == 1 else 'entries'}")


def _count(mask: Any, xp: ModuleType) -> int:
    """Number of true entries of the boolean array ``mask``, summed in its device's index dtype."""
    if hasattr(xp, "__array_namespace_info__"):
        dtype = index_dtype(xp, array_api_compat.device(mask))
    else:  # autograd's namespace: NumPy's int64
        dtype = xp.int64
    return int(xp.sum(xp.astype(mask, dtype), dtype=dtype))
