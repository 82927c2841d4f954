r"""Array backends: the one door of rso_ref to array libraries.

Device-path modules (:mod:`rso_ref.nn`, :mod:`rso_ref.optim`, :mod:`rso_ref.tree`,
:mod:`rso_ref.linesearch`, :mod:`rso_ref.lbfgs`, :mod:`rso_ref.lanczos`,
:mod:`rso_ref.hessian`, :mod:`rso_ref.rso`) import no array library, NumPy included:
they receive arrays, ask :func:`array_namespace` for their namespace ``xp`` once, and
then call only functions of the Python array API standard on ``xp``
(https://data-apis.org/array-api/) and the helpers of this package.
``tests/test_import_rules.py`` enforces this. Host-side modules (data, claims, golden,
plots, cli, ...) may use NumPy. This package supplies what the standard lacks:

* named backends (``"numpy"``, ``"cupy"``, ``"torch"``, ``"array_api_strict"``,
  ``"jax"``) and clear errors when one is unknown or missing (:func:`namespace`);
* moving arrays between backends (:func:`to_numpy`, :func:`asarray`) and devices
  (:func:`device`; every array made here takes the device of a ``like`` array or an
  explicit ``device=``);
* what the device path needs from array-api-extra: :data:`at` (functional updates, so
  that immutable JAX arrays work) and :data:`one_hot` (created on the labels' device);
* :func:`index_dtype` (int32 where a device has no int64) and :func:`is_traced` (a JAX
  value inside ``jit``, whose numbers cannot be checked yet);
* a host random number generator, so that every backend sees identical numbers
  (draw with :class:`numpy.random.Generator`, then move);
* :func:`synchronize` for honest timings on GPUs;
* :func:`keep_zero_d`: NumPy answers arithmetic on 0-d arrays with scalars, which the
  leaf-wise arithmetic of parameter lists turns back into 0-d arrays;
* the dtype policy (float64 by default, float32 on request; a device that cannot hold
  the dtype, such as a float32-only device or JAX without ``jax_enable_x64``, is one
  ``ValueError`` naming it, never a silent rounding: :func:`resolve_dtype`);
* fast paths that need a library's own API, in their own modules:
  :mod:`rso_ref.backend.windows` (strided window views for convolutions) and
  :mod:`rso_ref.backend.fusion` (pure array functions that JAX compiles into one program
  while every other backend runs them operation by operation).

Namespaces are the array-api-compat wrappers (``array_api_compat.numpy`` and so on),
so that ``xp.linalg``, ``xp.matmul`` and friends behave the same on every backend.
"""
from . import core, fusion, windows
from .core import (
    BACKENDS,
    array_namespace,
    asarray,
    at,
    put,
    backend_name,
    check_array,
    check_concrete,
    check_finite,
    check_floating,
    device,
    erf,
    index_dtype,
    is_traced,
    is_numpy,
    keep_zero_d,
    namespace,
    one_hot,
    placement,
    private_copy,
    random_normal,
    random_uniform,
    resolve_dtype,
    rng,
    synchronize,
    to_numpy,
)
from .fusion import committed, compiles, fused
from .windows import sliding_windows, sliding_windows_adjoint

__all__ = [*core.__all__, *fusion.__all__, *windows.__all__]
