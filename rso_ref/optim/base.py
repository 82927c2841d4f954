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
step (finiteness of the gradients by :func:`rso_ref.tree.all_finite`).
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import tree
from ..backend import array_namespace
from ..validation import NonFiniteError

__all__ = ["begin_step", "store_checked"]


def store_checked(optimizer: Any, **values: Any) -> None:
    """Set the already checked ``values`` as attributes of the frozen ``optimizer``."""
    for name, value in values.items():
        object.__setattr__(optimizer, name, value)


def begin_step(params: Sequence, grads: Sequence, state: Any,
               keys: Sequence[str]) -> tuple[list, list]:
    """Check the arguments of a step and return ``params`` and ``grads`` as lists.

    Raises
    ------
    ValueError
        If ``grads`` does not match ``params`` (count or shapes), if they mix
        namespaces or devices (the first array on each device is named), or if
        ``state`` lacks one of ``keys`` or has extra ones.
    NonFiniteError
        If ``grads`` holds a NaN or an infinity (it would reach the parameters).
    TypeError
        If ``state`` is not a dict, or ``state["count"]`` is not a non-negative int.
    """
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
    if not tree.all_finite(grads, xp=xp):
        raise NonFiniteError(f"grads contains NaN or inf entries (step {count})")
    return params, grads
