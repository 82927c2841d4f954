r"""Parameter trees: a list of arrays treated as one vector.

A model's parameters ("params") and its gradients ("grads") are Python lists of arrays
from one array-API namespace, ordered ``[W1, b1, W2, b2, ...]``. This module gives
the vector-space operations on such lists, so that optimizers are written once:

.. math::

    \langle a, b \rangle = \sum_j \operatorname{sum}(a_j \odot b_j), \qquad
    \|a\| = \sqrt{\langle a, a \rangle}.

It also validates *groups*: lists of parameter indices (the blocks ``θ_i`` of the
RSO paper, §2.1) that partition or cover part of the list.

All functions are pure; none modifies its inputs. Reductions (:func:`vdot`,
:func:`norm`) return Python floats, because their callers (line searches, RSO) branch
on them; on a GPU this is one device-to-host transfer per call.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .backend import array_namespace

__all__ = [
    "add",
    "sub",
    "scale",
    "axpy",
    "vdot",
    "norm",
    "zeros_like",
    "flatten",
    "unflatten",
    "check_like",
    "validate_groups",
    "uniform_groups",
    "group_vdots",
]

Params = list  # a list of arrays from one namespace


def _check_pair(a: Sequence, b: Sequence, names=("a", "b")) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names[0]} has {len(a)} arrays but {names[1]} has {len(b)}")


def add(a: Sequence, b: Sequence) -> Params:
    """Return ``a + b`` leaf by leaf."""
    _check_pair(a, b)
    return [x + y for x, y in zip(a, b)]


def sub(a: Sequence, b: Sequence) -> Params:
    """Return ``a - b`` leaf by leaf."""
    _check_pair(a, b)
    return [x - y for x, y in zip(a, b)]


def scale(a: Sequence, s: float) -> Params:
    """Return ``s * a`` leaf by leaf."""
    return [s * x for x in a]


def axpy(alpha: float, x: Sequence, y: Sequence) -> Params:
    r"""Return :math:`\alpha x + y` leaf by leaf (BLAS ``axpy``)."""
    _check_pair(x, y, ("x", "y"))
    return [alpha * xi + yi for xi, yi in zip(x, y)]


def vdot(a: Sequence, b: Sequence) -> float:
    r"""Return :math:`\langle a, b\rangle = \sum_j \sum a_j \odot b_j` as a float."""
    _check_pair(a, b)
    if not a:
        return 0.0
    xp = array_namespace(*a, *b)
    return float(sum(float(xp.sum(x * y)) for x, y in zip(a, b)))


def norm(a: Sequence) -> float:
    r"""Return the Euclidean norm :math:`\sqrt{\langle a, a\rangle}` of the whole list."""
    return math.sqrt(vdot(a, a))


def zeros_like(a: Sequence) -> Params:
    """Return a list of zero arrays with the shapes, dtypes and devices of ``a``."""
    if not a:
        return []
    xp = array_namespace(*a)
    return [xp.zeros_like(x) for x in a]


def flatten(a: Sequence):
    """Concatenate the leaves of ``a`` (C order) into one 1-D array."""
    if not a:
        raise ValueError("flatten needs at least one array")
    xp = array_namespace(*a)
    return xp.concat([xp.reshape(x, (-1,)) for x in a])


def unflatten(vector: Any, like: Sequence) -> Params:
    """Split a 1-D array into arrays shaped like the leaves of ``like`` (inverse of flatten).

    Raises
    ------
    ValueError
        If ``vector`` is not 1-D or its length is not the total size of ``like``.
    """
    xp = array_namespace(vector)
    if vector.ndim != 1:
        raise ValueError(f"vector must be 1-D, got shape {tuple(vector.shape)}")
    sizes = [math.prod(x.shape) for x in like]
    if vector.shape[0] != sum(sizes):
        raise ValueError(f"vector has {vector.shape[0]} entries but like holds {sum(sizes)}")
    out, start = [], 0
    for x, size in zip(like, sizes):
        out.append(xp.reshape(vector[start:start + size], tuple(x.shape)))
        start += size
    return out


def check_like(a: Sequence, like: Sequence, name: str = "grads", like_name: str = "params") -> None:
    """Raise ``ValueError`` naming ``name`` unless ``a`` matches ``like`` in length and shapes."""
    if len(a) != len(like):
        raise ValueError(f"{name} has {len(a)} arrays but {like_name} has {len(like)}")
    for j, (x, y) in enumerate(zip(a, like)):
        if tuple(x.shape) != tuple(y.shape):
            raise ValueError(
                f"{name}[{j}] has shape {tuple(x.shape)} but {like_name}[{j}] has {tuple(y.shape)}"
            )


def validate_groups(groups: Sequence[Sequence[int]], n_params: int, *,
                    require_cover: bool = False) -> list[list[int]]:
    """Check a grouping of parameter indices and return it as a list of int lists.

    Parameters
    ----------
    groups : sequence of sequences of int
        Each group lists indices into a params list of length ``n_params``.
    n_params : int
        Length of the params list.
    require_cover : bool, default False
        Also demand that every index appears in some group.

    Raises
    ------
    ValueError
        On an empty grouping, an empty group, an index out of range, an index in two
        groups (overlap), or (with ``require_cover``) an index in no group.
    TypeError
        If an index is not an integer.
    """
    if groups is None or len(groups) == 0:
        raise ValueError("groups must contain at least one group")
    seen: dict[int, int] = {}
    out = []
    for gi, group in enumerate(groups):
        members = list(group)
        if not members:
            raise ValueError(f"groups[{gi}] is empty")
        for idx in members:
            if isinstance(idx, bool) or not isinstance(idx, int) and not hasattr(idx, "__index__"):
                raise TypeError(f"groups[{gi}] holds a non-integer index {idx!r}")
            idx = int(idx)
            if not 0 <= idx < n_params:
                raise ValueError(f"groups[{gi}] holds index {idx}, out of range for {n_params} params")
            if idx in seen:
                raise ValueError(f"groups overlap: index {idx} is in groups[{seen[idx]}] and groups[{gi}]")
            seen[idx] = gi
        out.append([int(i) for i in members])
    if require_cover and len(seen) != n_params:
        missing = sorted(set(range(n_params)) - set(seen))
        raise ValueError(f"groups do not cover params indices {missing}")
    return out


def uniform_groups(units: Sequence[Sequence[int]], size: int) -> list[list[int]]:
    """Merge consecutive units (e.g. layers) into groups of ``size`` units each.

    The last group takes the remainder. This is the paper's "uniform groups of 5"
    grouping (§4.5) with ``size=5`` applied to the model's layers.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    units = [list(u) for u in units]
    return [sum(units[k:k + size], []) for k in range(0, len(units), size)]


def group_vdots(a: Sequence, b: Sequence, groups: Sequence[Sequence[int]]) -> list[float]:
    r"""Return :math:`\langle a_{G_i}, b_{G_i}\rangle` for each group :math:`G_i`."""
    _check_pair(a, b)
    return [vdot([a[j] for j in g], [b[j] for j in g]) for g in groups]
