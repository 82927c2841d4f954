r"""Pytrees: nested dicts, lists and tuples of arrays, as the flat lists the library computes on.

The numerical code of rso_ref works on *parameter lists* (:mod:`rso_ref.tree`). A
JAX, flax or equinox user holds parameters in a nested container instead, e.g.
``{"dense1": {"w": W1, "b": b1}, "dense2": {"w": W2, "b": b2}}``. This module turns
such a *pytree* into its list of leaves and a :class:`TreeDef` (its structure), and
back, so that the public entry points (:func:`rso_ref.rso.rso_step`, every optimizer of
:mod:`rso_ref.optim`, :func:`rso_ref.lbfgs.minimize`) take pytrees while the
arithmetic stays on lists:

.. math::

    \operatorname{flatten}(\theta) = ([\theta_1, \dots, \theta_n], \tau), \qquad
    \operatorname{unflatten}(\tau, [\theta_1, \dots, \theta_n]) = \theta.

Containers, and the order of their leaves (JAX's, so that a tree has the same leaf
order with or without JAX):

* ``dict``: values in sorted key order;
* ``list`` and ``tuple``: in order; a namedtuple in field order, rebuilt as its type;
* ``None``: an empty subtree (no leaf), as in JAX;
* anything else must be an array (one leaf), or, when JAX is already imported, a node
  of a type JAX has registered as a pytree (flax and equinox modules, classes
  registered with ``jax.tree_util.register_pytree_node``): its children are taken from
  ``jax.tree_util``. JAX is never imported by this module.

A bare array is a one-leaf tree, and a list of arrays flattens to itself (a fast path:
one ``isinstance`` per leaf). Leaves are named by *key paths*: the keys from the root
joined by ``"/"`` (dict key, sequence index, namedtuple field or attribute name), as
``"dense1/w"`` or ``"0/1"`` (:func:`leaf_paths`); error messages write them as Python
subscripts, ``params['dense1']['w']``.

Two trees have the same structure when their :class:`TreeDef` compare equal;
:func:`flatten_like` checks it and names the first path where they differ.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .backend import check_array
from .validation import check_callable, check_pair

__all__ = ["TreeDef", "flatten", "unflatten", "leaf_paths", "flatten_like", "flat_oracle",
           "flat_hvp"]

#: A key path: one ``(key, is_attribute)`` per level, from the root.
Path = tuple


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree: what :func:`unflatten` needs besides the leaves.

    Two trees of the same structure (same containers, dict keys, sequence lengths,
    namedtuple types and JAX node data) have equal treedefs, whatever their leaves.

    Attributes
    ----------
    kind : str
        ``"leaf"``, ``"none"``, ``"dict"``, ``"list"``, ``"tuple"``, ``"namedtuple"``
        or ``"jax"`` (a node JAX flattens).
    node : object
        The namedtuple type; for ``"jax"`` the pair (node type, JAX's one-level
        ``PyTreeDef``); None otherwise.
    keys : tuple of (key, bool)
        One ``(key, is_attribute)`` per child: the dict key, the sequence index, or the
        field/attribute name (``is_attribute`` True).
    children : tuple of TreeDef
        The children's structures, in leaf order.
    num_leaves : int
        The number of leaves.
    is_list : bool
        Whether the tree is a plain list of arrays (its leaves are the tree).
    """

    kind: str
    node: Any = None
    keys: tuple = ()
    children: tuple = ()
    num_leaves: int = field(init=False, repr=False, compare=False)
    is_list: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        leaves = 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)
        object.__setattr__(self, "num_leaves", leaves)
        object.__setattr__(self, "is_list", self.kind == "list" and all(
            c.kind == "leaf" for c in self.children))

    @functools.cached_property
    def paths(self) -> tuple[str, ...]:
        """The key path of each leaf, in leaf order (:func:`leaf_paths`)."""
        return tuple("/".join(str(key) for key, _ in path) for path in _leaf_keys(self, ()))


_LEAF = TreeDef("leaf")
_NONE = TreeDef("none")


@functools.lru_cache(maxsize=64)
def _list_def(n: int) -> TreeDef:
    """The treedef of a list of ``n`` arrays (cached: the fast path builds nothing)."""
    return TreeDef("list", None, tuple((j, False) for j in range(n)), (_LEAF,) * n)


def _is_array(x: Any) -> bool:
    try:
        check_array(x)
    except TypeError:
        return False
    return True


def _render(name: str, path: Path) -> str:
    """``name`` and ``path`` as a Python subscript: ``params['dense1'][0].w``."""
    return name + "".join(f".{key}" if attr else f"[{key!r}]" for key, attr in path)


def _leaf_keys(treedef: TreeDef, path: Path):
    if treedef.kind == "leaf":
        yield path
    for key, child in zip(treedef.keys, treedef.children):
        yield from _leaf_keys(child, path + (key,))


def _jax_key(entry: Any) -> tuple[Any, bool]:
    """A ``jax.tree_util`` key entry as ``(key, is_attribute)``."""
    if hasattr(entry, "name"):  # GetAttrKey
        return entry.name, True
    if hasattr(entry, "key"):  # DictKey, FlattenedIndexKey
        return entry.key, False
    return getattr(entry, "idx", str(entry)), False  # SequenceKey


def _jax_children(node: Any) -> tuple[Any, tuple, list] | None:
    """``(node data, keys, children)`` of a node JAX has registered; None if JAX is not
    imported or sees ``node`` as a leaf. One level only: the children are not flattened."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    pairs, jdef = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda c: c is not node)
    if len(pairs) == 1 and pairs[0][1] is node:
        return None
    keys = tuple(_jax_key(path[0]) for path, _ in pairs)
    return (type(node), jdef), keys, [child for _, child in pairs]


def _not_an_array(node: Any, name: str, path: Path) -> TypeError:
    hint = ""
    if isinstance(node, (bool, int, float, complex)):
        hint = " (make numbers arrays: xp.asarray)"
    return TypeError(f"{_render(name, path)} is a {type(node).__name__}, not an array{hint}")


def _split(node: Any, name: str, path: Path) -> tuple[str, Any, tuple, Sequence]:
    """The kind, node data, child keys and children of a container node."""
    kind = type(node)
    if kind is dict:
        try:
            keys = sorted(node)
        except TypeError as exc:
            raise TypeError(f"{_render(name, path)} has dict keys that cannot be sorted "
                            f"({exc}); use keys of one type") from None
        return "dict", None, tuple((k, False) for k in keys), [node[k] for k in keys]
    if kind is list or kind is tuple:
        return kind.__name__, None, tuple((j, False) for j in range(len(node))), node
    if isinstance(node, tuple) and hasattr(kind, "_fields"):
        return "namedtuple", kind, tuple((f, True) for f in kind._fields), node
    registered = _jax_children(node)
    if registered is None:
        raise _not_an_array(node, name, path)
    node_data, keys, children = registered
    return "jax", node_data, keys, children


def _flatten_node(node: Any, name: str, path: Path, leaves: list) -> TreeDef:
    if node is None:
        return _NONE
    if _is_array(node):
        leaves.append(node)
        return _LEAF
    kind, node_data, keys, children = _split(node, name, path)
    defs = tuple(_flatten_node(child, name, path + (key,), leaves)
                 for key, child in zip(keys, children))
    return TreeDef(kind, node_data, keys, defs)


def flatten(tree: Any, name: str = "tree") -> tuple[list, TreeDef]:
    r"""Return the leaves of ``tree`` in order and its structure.

    .. math::

        \operatorname{flatten}(\theta) = ([\theta_1, \dots, \theta_n], \tau)

    Parameters
    ----------
    tree : array or pytree of arrays
        A bare array (one leaf), or dicts, lists, tuples and namedtuples nesting arrays
        (``None`` entries are empty subtrees), or nodes JAX has registered when JAX is
        imported (see the module docstring).
    name : str, default "tree"
        The argument's name in error messages.

    Returns
    -------
    leaves : list of arrays
        The leaves in JAX's order (dict values by sorted key); a new list, the arrays
        themselves (not copies). For a list of arrays, the list's entries.
    treedef : TreeDef
        The structure, for :func:`unflatten`.

    Raises
    ------
    TypeError
        If ``tree`` is None (a missing argument rather than an empty tree: inside a
        tree, None is an empty subtree), if a leaf is not an array (its path is named:
        ``params['dense1']['w'] is a str, not an array``), or if a dict's keys cannot be
        sorted.

    Examples
    --------
    >>> import numpy as np
    >>> leaves, treedef = flatten({"w": np.ones((2, 2)), "b": np.zeros(2)})
    >>> [x.shape for x in leaves], treedef.paths
    ([(2,), (2, 2)], ('b', 'w'))
    """
    if type(tree) is list and all(map(_is_array, tree)):
        return list(tree), _list_def(len(tree))
    if tree is None:
        raise TypeError(f"{name} must be an array or a pytree of arrays, got None")
    leaves: list = []
    treedef = _flatten_node(tree, name, (), leaves)
    return leaves, treedef


def _build(treedef: TreeDef, leaves) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "none":
        return None
    children = [_build(child, leaves) for child in treedef.children]
    if kind == "dict":
        return {key: child for (key, _), child in zip(treedef.keys, children)}
    if kind == "list":
        return children
    if kind == "tuple":
        return tuple(children)
    if kind == "namedtuple":
        return treedef.node(*children)
    return sys.modules["jax"].tree_util.tree_unflatten(treedef.node[1], children)


def unflatten(treedef: TreeDef, leaves: Sequence) -> Any:
    r"""Rebuild the tree of structure ``treedef`` from ``leaves`` (inverse of :func:`flatten`).

    .. math::

        \operatorname{unflatten}(\tau, [\theta_1, \dots, \theta_n]) = \theta

    Parameters
    ----------
    treedef : TreeDef
        A structure returned by :func:`flatten`.
    leaves : sequence of arrays
        ``treedef.num_leaves`` arrays, in leaf order.

    Returns
    -------
    array or pytree of arrays
        New containers (dicts with their keys in sorted order, namedtuples of their own
        type) holding ``leaves`` themselves; a new list for a list of arrays.

    Raises
    ------
    TypeError
        If ``treedef`` is not a :class:`TreeDef`.
    ValueError
        If the number of leaves is not ``treedef.num_leaves``.
    """
    if not isinstance(treedef, TreeDef):
        raise TypeError(f"treedef must be a TreeDef returned by flatten, got "
                        f"{type(treedef).__name__}")
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"leaves holds {len(leaves)} arrays but treedef has "
                         f"{treedef.num_leaves} leaves")
    if treedef.is_list:
        return leaves
    return _build(treedef, iter(leaves))


def leaf_paths(tree: Any) -> list[str]:
    """Return the key path of each leaf of ``tree``, in :func:`flatten` order.

    Parameters
    ----------
    tree : array or pytree of arrays
        As for :func:`flatten`.

    Returns
    -------
    list of str
        Keys from the root joined by ``"/"``: dict keys, sequence indices, namedtuple
        field (or JAX attribute) names, as ``"dense1/w"`` or ``"0/1"``; ``""`` for a
        bare array.

    Raises
    ------
    TypeError
        As :func:`flatten` (``tree`` is named ``tree``).

    Examples
    --------
    >>> import numpy as np
    >>> leaf_paths({"dense1": {"w": np.ones(2), "b": np.ones(1)}, "out": [np.ones(3)]})
    ['dense1/b', 'dense1/w', 'out/0']
    """
    return list(flatten(tree)[1].paths)


def _describe(treedef: TreeDef) -> str:
    kind = treedef.kind
    if kind == "leaf":
        return "an array"
    if kind == "none":
        return "None"
    if kind in ("list", "tuple"):
        return f"a {kind} of {len(treedef.children)}"
    if kind == "namedtuple":
        return f"a {treedef.node.__name__}"
    if kind == "jax":
        return f"a {treedef.node[0].__name__} ({treedef.node[1]})"
    return "a dict"


def _difference(a: TreeDef, b: TreeDef, name: str, like_name: str, path: Path) -> str:
    """Where ``a`` (of ``name``) first differs from ``b`` (of ``like_name``), in words."""
    here, there = _render(name, path), _render(like_name, path)
    if (a.kind, a.node, a.keys) == (b.kind, b.node, b.keys):
        for key, child_a, child_b in zip(a.keys, a.children, b.children):
            if child_a != child_b:
                return _difference(child_a, child_b, name, like_name, path + (key,))
    if a.kind == b.kind == "dict":
        return (f"{here} has keys {[k for k, _ in a.keys]} but {there} has "
                f"{[k for k, _ in b.keys]}")
    return f"{here} is {_describe(a)} but {there} is {_describe(b)}"


def flatten_like(tree: Any, like: TreeDef, name: str, like_name: str) -> list:
    r"""Return the leaves of ``tree``, which must have the structure ``like``.

    .. math::

        \operatorname{flatten}(g) = ([g_1, \dots, g_n], \tau_g), \qquad
        \tau_g = \tau_\theta \text{ required}

    Parameters
    ----------
    tree : array or pytree of arrays
        The tree to flatten (gradients, say).
    like : TreeDef
        The structure it must have (of the parameters, say).
    name, like_name : str
        The two arguments' names in error messages.

    Returns
    -------
    list of arrays
        The leaves of ``tree``, in ``like``'s leaf order. Shapes are not compared: the
        list code (:func:`rso_ref.tree.check_like`) does that.

    Raises
    ------
    TypeError
        As :func:`flatten`, naming ``name``.
    ValueError
        If the structures differ; both arguments and the first differing path are
        named (``grads['dense2'] has keys ['b'] but params['dense2'] has ['b', 'w']``).
    """
    leaves, treedef = flatten(tree, name)
    if treedef != like:
        raise ValueError(f"{name} does not have the structure of {like_name}: "
                         f"{_difference(treedef, like, name, like_name, ())}")
    return leaves


def flat_oracle(value_and_grad: Callable | None, treedef: TreeDef,
                name: str = "value_and_grad") -> Callable | None:
    r"""Return the oracle ``value_and_grad`` of pytrees as an oracle of leaf lists.

    .. math::

        \tilde L(\theta_1, \dots, \theta_n) = L(\operatorname{unflatten}(\tau,
        [\theta_1, \dots, \theta_n]))

    Parameters
    ----------
    value_and_grad : callable or None
        ``value_and_grad(params) -> (loss, grads)`` with ``params`` and ``grads`` of
        structure ``treedef``. None (an optional oracle not given) is returned as is.
    treedef : TreeDef
        The structure of the parameters.
    name : str, default "value_and_grad"
        The oracle's name in error messages.

    Returns
    -------
    callable or None
        ``oracle(leaves) -> (loss, grad_leaves)``; ``value_and_grad`` itself when
        ``treedef`` is a plain list of arrays (its leaves are the tree), or None.

    Raises
    ------
    TypeError
        If ``value_and_grad`` is neither callable nor None. When the returned oracle is
        called: if ``value_and_grad`` does not return a pair, or its ``grads`` has a
        leaf that is not an array (``name's grads`` and the path named).
    ValueError
        When the returned oracle is called, if ``grads`` does not have the structure of
        the parameters.
    """
    if value_and_grad is None or treedef.is_list:
        return value_and_grad
    check_callable(value_and_grad, name)

    def on_leaves(leaves: Sequence) -> tuple[Any, list]:
        loss, grads = check_pair(value_and_grad(unflatten(treedef, leaves)), name)
        return loss, flatten_like(grads, treedef, f"{name}'s grads", "params")

    return on_leaves


def flat_hvp(hvp_fn: Callable, treedef: TreeDef, name: str = "hvp_fn") -> Callable:
    r"""Return the Hessian-vector product ``hvp_fn`` of pytrees as one of leaf lists.

    .. math::

        \tilde H(\theta, v) = \operatorname{flatten}(H(\operatorname{unflatten}(\tau,
        \theta))\, \operatorname{unflatten}(\tau, v))

    Parameters
    ----------
    hvp_fn : callable
        ``hvp_fn(params, v) -> H v``, its arguments and result of structure ``treedef``.
    treedef : TreeDef
        The structure of the parameters.
    name : str, default "hvp_fn"
        Its name in error messages.

    Returns
    -------
    callable
        ``hvp(param_leaves, v_leaves) -> Hv_leaves``; ``hvp_fn`` itself when
        ``treedef`` is a plain list of arrays.

    Raises
    ------
    TypeError
        If ``hvp_fn`` is not callable. When the returned function is called: if a leaf
        of the result is not an array (``hvp_fn(params, v)`` and the path named).
    ValueError
        When the returned function is called, if the result does not have the
        structure of the parameters.
    """
    if treedef.is_list:
        return hvp_fn
    check_callable(hvp_fn, name)

    def on_leaves(params: Sequence, v: Sequence) -> list:
        product = hvp_fn(unflatten(treedef, params), unflatten(treedef, v))
        return flatten_like(product, treedef, f"{name}(params, v)", "params")

    return on_leaves
