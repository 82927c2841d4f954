r"""Optional dependencies: one line that names the extra to install.

The core of :mod:`rso_ref` (``minimize``, ``rso_step``, the optimizers, the models of
:mod:`rso_ref.nn`, :func:`rso_ref.golden.verify`) needs only the numerical stack
(NumPy, SciPy, autograd, array-api-compat, array-api-extra). Figures, progress bars,
the digits data set and BLAS thread limits live in the ``cli`` extra; torch and JAX in
their own. Every lazy import of such a library goes through :func:`require`, so a
missing one is reported the same way everywhere::

    ImportError: the digits data set needs sklearn: pip install 'rso_ref[cli]'

Thread pools (DESIGN.md: BLAS and OpenMP pools fight on small machines, so claims,
benchmarks and the training commands fix their thread counts) are limited and recorded
through :func:`threadpool_limits` and :func:`threadpool_info`, the one door to
threadpoolctl.

This module imports no array library; it is safe on the device path and the host.
"""
from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType
from typing import Any

__all__ = ["require", "installed_version", "threadpool_limits", "threadpool_info"]


def require(module_name: str, extra: str, feature: str) -> ModuleType:
    r"""Import ``module_name``, or say which extra of rso_ref provides it.

    Parameters
    ----------
    module_name : str
        Dotted name of the module to import, e.g. ``"matplotlib.pyplot"``.
    extra : str
        The optional-dependency group of rso_ref that installs it, e.g. ``"cli"``.
    feature : str
        What the caller was about to do, in a few words (``"plotting"``); it starts
        the error message.

    Returns
    -------
    ModuleType
        The imported module.

    Raises
    ------
    TypeError
        If an argument is not a string.
    ValueError
        If an argument is empty.
    ImportError
        ``"<feature> needs <top-level package>: pip install 'rso_ref[<extra>]'"`` when the
        package is not installed; the original error is chained as ``__cause__``.
        An import error raised *inside* an installed package (a broken installation)
        propagates unchanged.

    Examples
    --------
    >>> from rso_ref.extras import require
    >>> require("json", "cli", "reading JSON").__name__
    'json'
    """
    for name, value in (("module_name", module_name), ("extra", extra), ("feature", feature)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
        if not value:
            raise ValueError(f"{name} must not be empty")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        top = module_name.split(".")[0]
        if error.name is not None and error.name.split(".")[0] != top:
            raise  # a dependency of the package itself is missing: not ours to rename
        raise ImportError(f"{feature} needs {top}: pip install 'rso_ref[{extra}]'") from error


def installed_version() -> str:
    r"""The version of rso_ref that is installed: its package metadata, as pip sees it.

    Falls back to :data:`rso_ref.__version__` when the package runs from a source tree
    that was never installed (no metadata); both come from the same release.

    Returns
    -------
    str
        A PEP 440 version string, e.g. ``"0.1.0"``.
    """
    try:
        return importlib.metadata.version("rso_ref")
    except importlib.metadata.PackageNotFoundError:
        from . import __version__

        return __version__


def _threadpoolctl() -> ModuleType:
    """threadpoolctl, or the ``ImportError`` naming the ``cli`` extra."""
    return require("threadpoolctl", "cli", "controlling the BLAS and OpenMP thread pools")


def threadpool_limits(limits: int | dict | str | None, user_api: str | None = None) -> Any:
    r"""Limit the native thread pools inside a ``with`` block (threadpoolctl).

    Parameters
    ----------
    limits : int, dict, str or None
        Most threads per pool (``1``: one thread), or any other ``limits`` that
        ``threadpoolctl.threadpool_limits`` takes; ``None`` changes nothing.
    user_api : {None, "blas", "openmp"}, default None
        Limit only the BLAS or only the OpenMP pools; ``None`` limits both.

    Returns
    -------
    threadpoolctl.threadpool_limits
        The context manager; the previous limits come back when its block exits.

    Raises
    ------
    ImportError
        Naming the ``cli`` extra when threadpoolctl is not installed.

    Notes
    -----
    Only libraries already loaded are limited: import the array library (NumPy, whose
    BLAS is the usual target) before entering the block.

    Examples
    --------
    >>> import numpy as np
    >>> from rso_ref.extras import threadpool_limits
    >>> with threadpool_limits(1, user_api="blas"):
    ...     _ = np.ones((64, 64)) @ np.ones((64, 64))
    """
    return _threadpoolctl().threadpool_limits(limits=limits, user_api=user_api)


def threadpool_info() -> list[dict]:
    r"""The native thread pools loaded in this process, as threadpoolctl reports them.

    Returns
    -------
    list of dict
        One dict per pool with at least ``user_api`` (``"blas"`` or ``"openmp"``),
        ``internal_api`` (the library, e.g. ``"openblas"``), ``version`` and
        ``num_threads`` (under any limit in force at the call).

    Raises
    ------
    ImportError
        Naming the ``cli`` extra when threadpoolctl is not installed.
    """
    return _threadpoolctl().threadpool_info()
