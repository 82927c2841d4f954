"""Optimizers by name, with the harness's default learning rates and options.

One table serves every experiment layer: :mod:`rso_ref.compare` (and the presets and
the CLI above it) and :mod:`rso_ref.claims` build their optimizers with
:func:`make_optimizer`, so an option is checked by the optimizer's own constructor
and each default is written once. Names are case-insensitive (``"SGD"`` is ``"sgd"``).
"""
from __future__ import annotations

import inspect
from typing import Any

from .adam import Adam, AdamW
from .contract import Optimizer
from .lamb import LAMB
from .lars import LARS
from .muon import Muon
from .rmsprop import RMSprop
from .rso import RSO
from .sgd import SGD

__all__ = ["OPTIMIZERS", "DEFAULT_LR", "DEFAULT_OPTIONS", "canonical_name", "make_optimizer",
           "check_options"]

#: The optimizer classes by (lower-case) name.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "lamb": LAMB, "lars": LARS,
    "muon": Muon, "rso": RSO,
}

#: Default learning rates: the centres of the tuning grids
#: (:func:`rso_ref.compare.tune_learning_rates`).
DEFAULT_LR: dict[str, float] = {
    "sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "lamb": 1e-2, "lars": 0.05,
    "muon": 0.02, "rso": 0.1,
}

#: Options the harness sets where they differ from the constructor's default (SGD and
#: LARS with momentum, AdamW with decoupled decay, RSO with one group per layer; RSO's
#: K is its own default, :data:`rso_ref.rso.DEFAULT_META_ITERS`). Given options win.
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "sgd": {"momentum": 0.9}, "adamw": {"weight_decay": 1e-2}, "lars": {"momentum": 0.9},
    "rso": {"groups": "layer"},
}

#: Constructor arguments that come from the model, not from the options.
_STRUCTURE = ("layers", "blocks")


def canonical_name(name: Any) -> str:
    """The key of :data:`OPTIMIZERS` that ``name`` spells, in any case.

    Raises
    ------
    ValueError
        If ``name`` is not a string naming one of :data:`OPTIMIZERS`.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return key


def make_optimizer(name: str, lr: float, model: Any = None, **options: Any) -> Optimizer:
    """The optimizer ``name`` with learning rate ``lr`` and ``options``.

    Parameters
    ----------
    name : str
        A key of :data:`OPTIMIZERS`, in any case.
    lr : float
        The learning rate, checked by the constructor.
    model : optional
        A model with ``layers()`` and ``blocks()``; RSO takes its structure for string
        groupings (``"layer"``, ``"block"``, ``"uniform:N"``), unless ``layers`` /
        ``blocks`` are given as options.
    **options
        Constructor options on top of :data:`DEFAULT_OPTIONS`.

    Raises
    ------
    ValueError
        Unknown ``name``, or an option the optimizer does not take (the message starts
        with that option's name and lists the ones it takes); the constructor's own
        ``TypeError``/``ValueError`` for a bad value.
    """
    key = canonical_name(name)
    cls = OPTIMIZERS[key]
    accepted = [p for p in inspect.signature(cls).parameters if p != "lr"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{unknown[0]} is not an option of optimizer {key!r} "
                         f"(its options: {', '.join(sorted(accepted))})")
    kwargs = {**DEFAULT_OPTIONS.get(key, {}), **options}
    if model is not None and all(p in accepted for p in _STRUCTURE):
        kwargs.update({p: getattr(model, p)() for p in _STRUCTURE if p not in options})
    return cls(lr=lr, **kwargs)


def check_options(name: str, **options: Any) -> None:
    """Check ``options`` of optimizer ``name`` by its constructor, before any model exists.

    The optimizer is built with its :data:`DEFAULT_LR` and, where it takes a model
    structure, an empty one: the constructor checks every option's type and range and
    the form of RSO's ``groups`` (``"uniform:0"``, ``"foo"``); that the groups fit a
    model is checked when the optimizer is built with it and initialised.

    Raises
    ------
    ValueError, TypeError
        As :func:`make_optimizer`.
    """
    key = canonical_name(name)
    accepted = inspect.signature(OPTIMIZERS[key]).parameters
    stand_in = {p: [] for p in _STRUCTURE if p in accepted and p not in options}
    make_optimizer(key, DEFAULT_LR[key], **stand_in, **options)
