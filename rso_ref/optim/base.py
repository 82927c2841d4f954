r"""What every optimizer of :mod:`rso_ref.optim` checks at the top of a step.

An optimizer is a frozen dataclass of hyperparameters subclassing
:class:`rso_ref.optim.contract.Optimizer`, with two pure methods,

.. code-block:: python

    state = opt.init(params)                                   # dict with fixed keys
    params, state, info = opt.step_with_info(params, grads, state, **oracles)

``params`` and ``grads`` are lists of arrays of one namespace (:mod:`rso_ref.tree`).
The state is plain data: a ``"count"`` (int, steps taken) and lists of arrays or
tuples of floats, so it can be written with :mod:`rso_ref.checkpoint` (``.npz`` +
JSON, no pickle). A list that an option leaves unused (say the momentum buffer when
``momentum=0``) is empty, so that the keys of the state depend on the class alone.
Hyperparameters are checked with :mod:`rso_ref.validation`.

:func:`store_checked` writes the checked (plain ``float``/``int``) hyperparameters back
onto the frozen instance, so that ``lr=np.float32(0.1)`` is stored, compared and
printed as ``0.1``. :func:`begin_step` holds the input checks run at the top of every
step (finiteness of the gradients by :func:`rso_ref.tree.all_finite`), and
:func:`check_state_like` the check of a state list against the parameters.

**Dtypes.** The new parameters keep each parameter's dtype, as torch.optim's in-place
updates do: a gradient of another floating dtype (float64 gradients for float32
parameters, say) is cast to its parameter's dtype at the top of the step, so the
update and the state are computed in the parameters' precision.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import tree
from ..backend import array_namespace
from ..validation import NonFiniteError

__all__ = ["begin_step", "check_state_like", "store_checked"]


def store_checked(optimizer: Any, **values: Any) -> None:
    """Set the already checked ``values`` as attributes of the frozen ``optimizer``."""
    for name, value in values.items():
        object.__setattr__(optimizer, name, value)


def check_state_like(state: dict, key: str, like: Sequence, like_name: str = "params") -> None:
    """Check that ``state[key]`` is a list of arrays shaped like ``like``.

    Parameters
    ----------
    state : dict
        An optimizer state.
    key : str
        The key of a per-parameter list (a moment, a momentum buffer).
    like : list of arrays
        The parameters it must match.
    like_name : str, default "params"
        The name of ``like`` in the error message.

    Raises
    ------
    TypeError
        If ``state[key]`` is not a list of arrays.
    ValueError
        If its length or a shape differs from ``like`` (a state made by ``init`` for
        other parameters).
    """
    name = f"state[{key!r}]"
    tree.check_params(state[key], name)
    if len(state[key]) != len(like):
        raise ValueError(f"{name} holds {len(state[key])} arrays but {like_name} has "
                         f"{len(like)}: the state was made by init for other params")
    tree.check_like(state[key], like, name, like_name)


def begin_step(params: Sequence, grads: Sequence, state: Any, keys: Sequence[str],
               like: Sequence[str] = ()) -> tuple[list, list]:
    """Check the arguments of a step and return ``params`` and ``grads`` as lists.

    Each gradient whose dtype differs from its parameter's is cast to the parameter's
    dtype (torch.optim keeps the parameter's dtype), so the step returns parameters of
    the dtypes given.

    Parameters
    ----------
    params, grads : list of arrays
        The step's parameters and gradients.
    state : dict
        The state passed to the step.
    keys : sequence of str
        The keys the state must have.
    like : sequence of str, default ()
        The keys of ``state`` that the step uses as lists shaped like ``params``
        (:func:`check_state_like`).

    Returns
    -------
    params, grads : list of arrays
        As lists; ``grads`` in the dtypes of ``params``.

    Raises
    ------
    TypeError
        If ``params`` or ``grads`` is not a list of arrays (``None``, a bare array, a
        nested Python list), if ``state`` is not a dict, if ``state["count"]`` is not a
        non-negative int, or if a list of ``like`` is not a list of arrays.
    ValueError
        If ``grads`` does not match ``params`` (count or shapes), if they mix
        namespaces or devices (the first array on each device is named), if ``state``
        lacks one of ``keys`` or has extra ones, or if a list of ``like`` does not
        match ``params``.
    NonFiniteError
        If ``grads`` holds a NaN or an infinity (it would reach the parameters).
    """
    tree.check_params(params, "params")
    tree.check_params(grads, "grads")
    params, grads = list(params), list(grads)
    tree.check_like(grads, params)
    xp = array_namespace(params, grads, names=["params", "grads"]) if params else None
    if not isinstance(state, dict):
        raise TypeError(f"state must be the dict returned by init, got {type(state).__name__}")
    if set(state) != set(keys):
        raise ValueError(f"state must have keys {sorted(keys)}, got {sorted(state)}")
    count = state["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise TypeError(f"state['count'] must be a non-negative int, got {count!r}")
    for key in like:
        check_state_like(state, key, params)
    grads = [g if g.dtype == p.dtype else xp.astype(g, p.dtype) for p, g in zip(params, grads)]
    if not tree.all_finite(grads, xp=xp):
        raise NonFiniteError(f"grads contains NaN or inf entries (step {count})")
    return params, grads
