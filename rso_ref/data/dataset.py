r"""The :class:`Dataset` record and moving one onto an array backend.

Every loader of :mod:`rso_ref.data` returns a :class:`Dataset`: six host NumPy arrays
(features ``X_*`` and targets ``y_*`` of a training, validation and test split) plus
what a model needs to know about them. Data is always made on the host, so every
backend sees identical numbers; :func:`to_backend` then moves a whole record at once.

Conventions
-----------
* Features are ``float64`` (``float32`` on request), shape ``(n, *input_shape)``.
* Class labels are ``int64`` in ``0 .. n_classes - 1``, shape ``(n,)``; regression
  targets are floating, shape ``(n, n_outputs)``, and ``n_classes`` is ``None``.
* A split that was not asked for (validation, usually) is empty: ``n = 0``, with the
  right trailing shape and dtype, so code never needs to test for ``None``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .. import backend

__all__ = ["Dataset", "to_backend", "check_layout", "LAYOUTS"]

#: Feature layouts accepted by the loaders: rows of numbers, or channel-first images.
LAYOUTS = ("flat", "image")

_SPLITS = ("train", "val", "test")


def check_layout(layout: str) -> str:
    """Return ``layout`` if it is one of :data:`LAYOUTS`, else raise ``ValueError``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    return layout


@dataclass(frozen=True, eq=False)
class Dataset:
    r"""Train/validation/test arrays of one data set (host NumPy unless moved).

    Attributes
    ----------
    name : str
        Short name, e.g. ``"digits"``.
    X_train, X_val, X_test : array, shape (n, \*input_shape)
        Features, floating.
    y_train, y_val, y_test : array, shape (n,) or (n, n_outputs)
        ``int64`` class labels, or floating regression targets.
    n_classes : int or None
        Number of classes; ``None`` for regression.
    input_shape : tuple of int
        Shape of one example, e.g. ``(64,)`` or ``(1, 8, 8)``.

    Raises
    ------
    ValueError
        If a split's features and targets differ in length, or an ``X`` does not have
        trailing shape ``input_shape`` (the offending attribute is named).
    """

    name: str
    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any
    X_test: Any
    y_test: Any
    n_classes: int | None
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        for split in _SPLITS:
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if tuple(X.shape[1:]) != shape:
                raise ValueError(f"X_{split} has example shape {tuple(X.shape[1:])}, "
                                 f"but input_shape is {shape}")
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"X_{split} has {X.shape[0]} rows but y_{split} has {y.shape[0]}")

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.X_train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation examples (0 when no validation split was made)."""
        return int(self.X_val.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return int(self.X_test.shape[0])

    def replace(self, **changes: Any) -> "Dataset":
        """Return a copy with some fields replaced (validated again).

        Parameters
        ----------
        **changes
            New values by field name (``name``, ``X_train``, ``y_train``, ``X_val``,
            ``y_val``, ``X_test``, ``y_test``, ``n_classes``, ``input_shape``); the other
            fields are kept.

        Returns
        -------
        Dataset
            A new record; ``self`` is unchanged (records are frozen).

        Raises
        ------
        TypeError
            If a keyword is not a field name.
        ValueError
            If the new record is inconsistent, as in the class's own check.
        """
        return dataclasses.replace(self, **changes)


def to_backend(ds: Dataset, backend_or_xp: str | ModuleType, dtype: Any = None, *,
               device: Any = None) -> Dataset:
    """Return ``ds`` with every array moved to another backend and device.

    Parameters
    ----------
    ds : Dataset
        The record to move (usually host NumPy, as every loader returns it).
    backend_or_xp : str or module
        A backend name (see :data:`rso_ref.backend.BACKENDS`) or an array namespace.
    dtype : {"float64", "float32"} or dtype, optional
        Floating dtype of the features (and of regression targets); float64 by default.
        Class labels become ``int64``, or ``int32`` on a device without 64-bit
        integers (JAX without ``jax_enable_x64``, array_api_strict's ``"no_x64"``): the
        device's default index dtype.
    device : device of that backend, optional
        Where the arrays go (e.g. ``torch.device("cuda")``); default the backend's
        default device.

    Returns
    -------
    Dataset
        Same name, shapes and values (rounded when ``dtype`` is float32).

    Raises
    ------
    TypeError
        If ``ds`` is not a :class:`Dataset`, ``backend_or_xp`` is neither a name nor a
        module, or ``dtype`` is not a floating dtype.
    ValueError, RuntimeError
        If the backend name is unknown or the backend is not installed, or the device
        cannot hold ``dtype`` (:func:`rso_ref.backend.resolve_dtype`).
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a Dataset, got {type(ds).__name__}")
    if isinstance(backend_or_xp, str):
        xp = backend.namespace(backend_or_xp)
    elif isinstance(backend_or_xp, ModuleType):
        xp = backend_or_xp
    else:
        raise TypeError(f"backend_or_xp must be a backend name or an array namespace, "
                        f"got {type(backend_or_xp).__name__}")
    float_dtype = backend.resolve_dtype(xp, dtype, device=device)
    label_dtype = backend.index_dtype(xp, device)
    moved = {}
    for split in _SPLITS:
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        moved[f"X_{split}"] = backend.asarray(X, xp=xp, dtype=float_dtype, device=device)
        if ds.n_classes is None:
            moved[f"y_{split}"] = backend.asarray(y, xp=xp, dtype=float_dtype, device=device)
        else:
            moved[f"y_{split}"] = xp.asarray(backend.to_numpy(y).astype(np.int64),
                                             dtype=label_dtype, device=device)
    return ds.replace(**moved)
