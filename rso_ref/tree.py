r"""Parameter trees: a list of arrays treated as one vector.

A model's parameters ("params") and its gradients ("grads") are Python lists of arrays
from one array-API namespace, ordered ``[W1, b1, W2, b2, ...]``. This module gives
the vector-space operations on such lists, so that optimizers are written once:

.. math::

    \langle a, b \rangle = \sum_j \operatorname{sum}(a_j \odot b_j), \qquad
    \|a\| = \sqrt{\langle a, a \rangle}.

It also validates *groups*: lists of parameter indices (the blocks ``θ_i`` of the
RSO paper, §2.1) that partition or cover part of the list.

Leaf-wise results are arrays of the leaves' namespace, 0-d leaves included: NumPy
answers arithmetic on a 0-d array with a NumPy scalar, which
:func:`rso_ref.backend.keep_zero_d` turns back into a 0-d array (one ``isinstance`` per
leaf, about 0.4 µs per call on ten leaves).

All functions are pure; none modifies its inputs. Reductions (:func:`vdot`,
:func:`norm`) return Python floats, because their callers (line searches, RSO) branch
on them; on a GPU this is one device-to-host transfer per call.
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Sequence

from .backend import array_namespace, check_array, compiles, fused, keep_zero_d, to_numpy

__all__ = [
    "all_finite",
    "add",
    "sub",
    "scale",
    "axpy",
    "vdot",
    "norm",
    "zeros_like",
    "flatten",
    "unflatten",
    "check_params",
    "check_like",
    "validate_groups",
    "uniform_groups",
    "group_vdots",
    "value_and_group_vdots",
    "copy",
    "mul",
    "maximum",
    "scale_leaves",
    "leaf_norms",
    "update_moment",
    "bias_correction",
    "div_sqrt",
    "trust_ratio",
]

Params = list  # a list of arrays from one namespace


def _check_pair(a: Sequence, b: Sequence, names=("a", "b")) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names[0]} has {len(a)} arrays but {names[1]} has {len(b)}")


def add(a: Sequence, b: Sequence) -> Params:
    """Return :math:`a + b` leaf by leaf.

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(a, b)
    return keep_zero_d([x + y for x, y in zip(a, b)])


def sub(a: Sequence, b: Sequence) -> Params:
    """Return :math:`a - b` leaf by leaf.

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(a, b)
    return keep_zero_d([x - y for x, y in zip(a, b)])


def scale(a: Sequence, s: float) -> Params:
    r"""Return :math:`s\, a` leaf by leaf.

    Parameters
    ----------
    a : list of arrays
        A parameter list.
    s : float
        The scalar.

    Returns
    -------
    list of arrays
        New arrays.
    """
    return keep_zero_d([s * x for x in a])


def axpy(alpha: float, x: Sequence, y: Sequence) -> Params:
    r"""Return :math:`\alpha x + y` leaf by leaf (BLAS ``axpy``).

    Parameters
    ----------
    alpha : float
        The scalar :math:`\alpha`.
    x, y : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(x, y, ("x", "y"))
    return keep_zero_d([alpha * xi + yi for xi, yi in zip(x, y)])


def vdot(a: Sequence, b: Sequence) -> float:
    r"""Return :math:`\langle a, b\rangle = \sum_j \sum a_j \odot b_j` as a float.

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    float
        The inner product, on the host (one transfer for all leaves).
    """
    _check_pair(a, b)
    if not a:
        return 0.0
    xp = array_namespace(list(a), list(b))
    return float(sum(to_numpy(_leaf_products(xp, list(a), list(b))).tolist()))


def norm(a: Sequence) -> float:
    r"""Return the Euclidean norm :math:`\sqrt{\langle a, a\rangle}` of the whole list.

    Parameters
    ----------
    a : list of arrays
        A parameter list.

    Returns
    -------
    float
        :math:`\|a\|`, on the host.
    """
    return math.sqrt(vdot(a, a))


def zeros_like(a: Sequence) -> Params:
    r"""Return a list of zero arrays (:math:`0 \cdot a`) with the shapes, dtypes and devices of ``a``.

    Parameters
    ----------
    a : list of arrays
        A parameter list.

    Returns
    -------
    list of arrays
        Zeros.
    """
    if not a:
        return []
    xp = array_namespace(*a)
    return [xp.zeros_like(x) for x in a]


def flatten(a: Sequence):
    r"""Concatenate the leaves of ``a`` (C order) into one 1-D array, :math:`[\operatorname{vec} a_1; \operatorname{vec} a_2; \dots]`.

    Parameters
    ----------
    a : list of arrays
        A parameter list.

    Returns
    -------
    array
        Of length ``sum(x.size for x in a)``, on the leaves' device.
    """
    if not a:
        raise ValueError("flatten needs at least one array")
    xp = array_namespace(*a)
    return xp.concat([xp.reshape(x, (-1,)) for x in a])


def unflatten(vector: Any, like: Sequence) -> Params:
    """Split a 1-D array into arrays shaped like the leaves of ``like`` (inverse of :func:`flatten`).

    Parameters
    ----------
    vector : array
        1-D, of length ``sum(x.size for x in like)``.
    like : list of arrays
        Gives the shapes.

    Returns
    -------
    list of arrays
        Views or copies of ``vector``'s pieces.

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


def check_params(a: Any, name: str = "params") -> None:
    """Check that ``a`` is a parameter list: a list or tuple of arrays.

    Parameters
    ----------
    a : object
        The value to check.
    name : str, default "params"
        Its name in the error message.

    Raises
    ------
    TypeError
        Naming ``name``, if ``a`` is ``None``, a bare array (wrap it: ``[a]``) or
        another non-sequence, or if an entry is not an array (``name[j]`` named).
    """
    if not isinstance(a, (list, tuple)):
        hint = "; wrap a single array in a list: [x]" if hasattr(a, "shape") else ""
        raise TypeError(f"{name} must be a list of arrays, got {type(a).__name__}{hint}")
    for j, leaf in enumerate(a):
        check_array(leaf, f"{name}[{j}]")


def check_like(a: Sequence, like: Sequence, name: str = "grads", like_name: str = "params") -> None:
    r"""Check that ``a`` matches ``like`` in length and shapes (:math:`\operatorname{shape} a_j = \operatorname{shape} \mathrm{like}_j`).

    Parameters
    ----------
    a : list of arrays
        The list to check.
    like : list of arrays
        The reference list.
    name : str, default "grads"
        The name of ``a`` in the error message.
    like_name : str, default "params"
        The name of ``like`` in the error message.

    Raises
    ------
    ValueError
        Naming ``name``, if the lengths or a shape differ.
    """
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

    Returns
    -------
    list of lists of int
        The groups as lists of Python ints.

    Raises
    ------
    ValueError
        On an empty grouping, an empty group, an index out of range, an index in two
        groups (overlap), or (with ``require_cover``) an index in no group.
    TypeError
        If ``groups`` or one of its groups is not a sequence, or an index is not an
        integer.
    """
    try:
        count = 0 if groups is None else len(groups)
    except TypeError:
        raise TypeError(f"groups must be a list of index lists, got {groups!r}") from None
    if count == 0:
        raise ValueError("groups must contain at least one group")
    seen: dict[int, int] = {}
    out = []
    for gi, group in enumerate(groups):
        try:
            members = list(group)
        except TypeError:
            raise TypeError(f"groups[{gi}] must be a list of indices, got {group!r}") from None
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

    Parameters
    ----------
    units : list of lists of int
        The units, e.g. ``model.layers()``.
    size : int
        Units per group.

    Returns
    -------
    list of lists of int
        The merged groups.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    units = [list(u) for u in units]
    return [sum(units[k:k + size], []) for k in range(0, len(units), size)]


def group_vdots(a: Sequence, b: Sequence, groups: Sequence[Sequence[int]]) -> list[float]:
    r"""Return :math:`\langle a_{G_i}, b_{G_i}\rangle` for each group :math:`G_i` as floats.

    One reduction per leaf and a single transfer to the host for all groups (RSO calls
    this at every meta-objective evaluation; on JAX or a GPU each transfer is a
    synchronisation). The leaf products are summed on the host in group order, so each
    value is bit for bit :func:`vdot` of the group's leaves.

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.
    groups : list of lists of int
        The groups :math:`G_i` (indices into the lists).

    Returns
    -------
    list of float
        One inner product per group, on the host.
    """
    return value_and_group_vdots(None, a, b, groups)[1]


def value_and_group_vdots(value: Any, a: Sequence, b: Sequence,
                          groups: Sequence[Sequence[int]]) -> tuple[float | None, list[float]]:
    r"""Return ``float(value)`` and :func:`group_vdots`, in one transfer where it helps.

    RSO's meta-objective needs, at every trial point, the loss and the :math:`L` group
    inner products. When ``value`` is a 0-d array of the namespace of ``a`` on a backend
    whose pieces are compiled (:func:`rso_ref.backend.compiles`: JAX), it is stacked with
    the leaf products in the same program and all come to the host together: one
    synchronisation per oracle call instead of two. Otherwise ``value`` is converted
    with ``float``.

    Parameters
    ----------
    value : scalar, 0-d array or None
        The loss (None: only the inner products).
    a, b : list of arrays
        Parameter lists of the same shapes.
    groups : list of lists of int
        The groups :math:`G_i` (indices into the lists).

    Returns
    -------
    value : float or None
        ``float(value)``.
    dots : list of float
        One inner product per group, bit for bit :func:`group_vdots`.
    """
    _check_pair(a, b)
    groups = [list(g) for g in groups]
    leaves = sorted({j for g in groups for j in g})
    if not leaves:
        return (None if value is None else float(value)), [0.0] * len(groups)
    left, right = [a[j] for j in leaves], [b[j] for j in leaves]
    xp = array_namespace(left, right)
    if value is not None and compiles(xp) and getattr(value, "shape", None) == () \
            and array_namespace(value) is xp:
        value, *products = to_numpy(_value_and_leaf_products(xp, value, left, right)).tolist()
    else:
        value = None if value is None else float(value)
        products = to_numpy(_leaf_products(xp, left, right)).tolist()
    leaf_dot = dict(zip(leaves, products))
    return value, [float(sum(leaf_dot[j] for j in g)) for g in groups]


@fused()
def _value_and_leaf_products(xp: ModuleType, value: Any, a: list, b: list) -> Any:
    """``value`` (in the leaves' dtype) followed by :func:`_leaf_products`."""
    products = _leaf_products(xp, a, b)
    return xp.concat([xp.reshape(xp.astype(value, products.dtype), (1,)), products])


@fused()
def _leaf_products(xp: ModuleType, a: list, b: list) -> Any:
    r"""The vector :math:`(\operatorname{sum}(a_j \odot b_j))_j`; one program on JAX."""
    return xp.stack([xp.sum(x * y) for x, y in zip(a, b)])


# ---------------------------------------------------------------------------------------
# Pieces of first-order optimizers (rso_ref.optim builds every update from these).
# ---------------------------------------------------------------------------------------

def copy(a: Sequence) -> Params:
    """Return fresh copies of the leaves of ``a`` (no aliasing of the caller's arrays).

    Parameters
    ----------
    a : list of arrays
        A parameter list.

    Returns
    -------
    list of arrays
        Copies on the same device.
    """
    if not a:
        return []
    xp = array_namespace(*a)
    return [xp.asarray(x, copy=True) for x in a]


def mul(a: Sequence, b: Sequence) -> Params:
    r"""Return :math:`a \odot b` leaf by leaf (elementwise product).

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(a, b)
    return keep_zero_d([x * y for x, y in zip(a, b)])


def maximum(a: Sequence, b: Sequence) -> Params:
    r"""Return :math:`\max(a, b)` elementwise, leaf by leaf.

    Parameters
    ----------
    a, b : list of arrays
        Parameter lists of the same shapes.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(a, b)
    if not a:
        return []
    xp = array_namespace(*a, *b)
    return keep_zero_d([xp.maximum(x, y) for x, y in zip(a, b)])


def scale_leaves(a: Sequence, factors: Sequence[float]) -> Params:
    r"""Return :math:`[s_1 a_1, s_2 a_2, \dots]`: each leaf times its own factor.

    Parameters
    ----------
    a : list of arrays
        A parameter list.
    factors : sequence of float
        One factor :math:`s_j` per leaf.

    Returns
    -------
    list of arrays
        New arrays.
    """
    if len(factors) != len(a):
        raise ValueError(f"factors has {len(factors)} entries but a has {len(a)} arrays")
    return keep_zero_d([s * x for s, x in zip(factors, a)])


def leaf_norms(a: Sequence) -> list[float]:
    r"""Return the Euclidean (Frobenius) norm :math:`\|a_j\|` of each leaf as floats.

    Parameters
    ----------
    a : list of arrays
        A parameter list.

    Returns
    -------
    list of float
        One norm per leaf, on the host.
    """
    if not a:
        return []
    xp = array_namespace(*a)
    return [math.sqrt(float(xp.sum(x * x))) for x in a]


def update_moment(grads: Sequence, moments: Sequence, decay: float, order: int = 1) -> Params:
    r"""Exponential moving average of the ``order``-th power of the gradients.

    .. math::

        m_j \leftarrow \beta\, m_j + (1 - \beta)\, g_j^{k}

    with :math:`\beta` = ``decay`` and :math:`k` = ``order`` (1: first moment, as Adam's
    :math:`m_t`; 2: second raw moment, as Adam's :math:`v_t`; Kingma & Ba 2015,
    Algorithm 1).

    Parameters
    ----------
    grads, moments : list of arrays
        Gradients :math:`g` and the current moments :math:`m` (same shapes).
    decay : float
        :math:`\beta \in [0, 1)`.
    order : {1, 2}
        Power of the gradient that is averaged.

    Returns
    -------
    list of arrays
        The new moments (new arrays).
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    _check_pair(grads, moments, ("grads", "moments"))
    powered = grads if order == 1 else mul(grads, grads)
    return keep_zero_d([decay * m + (1.0 - decay) * g for g, m in zip(powered, moments)])


def bias_correction(moments: Sequence, decay: float, count: int) -> Params:
    r"""Remove the zero-initialisation bias of a moving average after ``count`` updates.

    .. math::

        \hat m_j = \frac{m_j}{1 - \beta^{t}}

    with :math:`\beta` = ``decay`` and :math:`t` = ``count`` (Kingma & Ba 2015, §3).

    Parameters
    ----------
    moments : list of arrays
        The averages :math:`m_j`.
    decay : float
        :math:`\beta \in [0, 1)`.
    count : int
        :math:`t \ge 1`, the number of updates.

    Returns
    -------
    list of arrays
        :math:`\hat m`.

    Raises
    ------
    ValueError
        If ``count`` is not a positive int (the average has had no update yet).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    return scale(moments, 1.0 / (1.0 - decay ** count))


def div_sqrt(a: Sequence, b: Sequence, eps: float) -> Params:
    r"""Return :math:`a_j / (\sqrt{b_j} + \epsilon)` leaf by leaf (``eps`` outside the root).

    This is the preconditioning of Adam and RMSprop as torch.optim writes it.

    Parameters
    ----------
    a, b : list of arrays
        Numerators :math:`a_j` and (non-negative) :math:`b_j`, same shapes.
    eps : float
        :math:`\epsilon`.

    Returns
    -------
    list of arrays
        New arrays.
    """
    _check_pair(a, b)
    if not a:
        return []
    xp = array_namespace(*a, *b)
    return keep_zero_d([x / (xp.sqrt(y) + eps) for x, y in zip(a, b)])


def trust_ratio(params: Sequence, updates: Sequence, *, coefficient: float = 1.0,
                weight_decay: float = 0.0) -> list[float]:
    r"""Return the layer-wise trust ratios of LARS and LAMB, one float per leaf.

    .. math::

        r_j = \begin{cases}
            \dfrac{\eta\, \|p_j\|}{\|u_j\| + \lambda \|p_j\|}
                & \text{if } \|p_j\| > 0 \text{ and } \|u_j\| + \lambda \|p_j\| > 0, \\
            1 & \text{otherwise,}
        \end{cases}

    where :math:`\eta` = ``coefficient``, :math:`\lambda` = ``weight_decay`` and the
    norms are Frobenius norms of whole leaves. LAMB (You et al. 2020, Algorithm 2) uses
    :math:`\eta = 1, \lambda = 0` with :math:`u_j` its full update; LARS (You et al.
    2017, Algorithm 1) uses the trust coefficient :math:`\eta`, its weight decay and
    :math:`u_j = g_j`. The fallback ratio 1 (a zero-initialised layer, a zero update)
    is the convention of common implementations; neither paper states one.

    Parameters
    ----------
    params, updates : list of arrays
        :math:`p` and :math:`u` (same shapes).
    coefficient : float, default 1
        :math:`\eta`.
    weight_decay : float, default 0
        :math:`\lambda`.

    Returns
    -------
    list of float
        :math:`r_j` per leaf, on the host.
    """
    _check_pair(params, updates, ("params", "updates"))
    ratios = []
    for p_norm, u_norm in zip(leaf_norms(params), leaf_norms(updates)):
        denominator = u_norm + weight_decay * p_norm
        ok = p_norm > 0.0 and denominator > 0.0
        ratios.append(coefficient * p_norm / denominator if ok else 1.0)
    return ratios


def all_finite(arrays: Sequence, *, xp: ModuleType | None = None) -> bool:
    r"""Tell whether every entry of every array in ``arrays`` is finite.

    One reduction per array and a single transfer to the host in the common case:
    :math:`\sum_j \sum_k a_{jk}` is finite whenever every entry is, unless the sum
    overflows; only then are the entries tested one by one, so that large finite
    values are never reported as non-finite.

    Parameters
    ----------
    arrays : list of arrays
        Arrays of one namespace.
    xp : module, optional
        Their namespace; found from ``arrays`` when omitted.

    Returns
    -------
    bool
        False if any entry is NaN or infinite.
    """
    arrays = list(arrays)
    if not arrays:
        return True
    xp = array_namespace(*arrays) if xp is None else xp
    if bool(_total_is_finite(xp, arrays)):
        return True
    return all(bool(xp.all(xp.isfinite(a))) for a in arrays)


@fused()
def _total_is_finite(xp: ModuleType, arrays: list) -> Any:
    r"""Whether :math:`\sum_j \sum_k a_{jk}` is finite (one program on JAX)."""
    total = xp.sum(arrays[0])
    for a in arrays[1:]:
        total = total + xp.sum(a)
    return xp.isfinite(total)
