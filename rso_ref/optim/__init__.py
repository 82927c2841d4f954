r"""Optimizers sharing one shape: ``init(params)`` and ``step(params, grads, state, ...)``.

Hyperparameters are frozen at construction (names follow torch.optim); the state is a
dict of arrays and numbers with fixed keys (see each class's Attributes), serialisable
without pickle. Every update is built from the pure pieces of :mod:`rso_ref.tree`.

First-order: :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`,
:class:`LAMB`, :class:`LARS`, :class:`Muon`. Curvature-subspace SGD:
:class:`InterpolatedSGD`, :func:`DomSGD`, :func:`BulkSGD` (their ``step`` also takes
``hvp_fn``). Oracle-driven (``needs_oracle = True``; ``step`` also takes
``value_and_grad``): :class:`RSO` and the full-batch :class:`LBFGS`.
"""
from ..lbfgs import LBFGS
from ..rso import RSO
from .adam import Adam, AdamW
from .lamb import LAMB
from .lars import LARS
from .muon import Muon, newton_schulz
from .rmsprop import RMSprop
from .sgd import SGD
from .subspace import BulkSGD, DomSGD, InterpolatedSGD

__all__ = [
    "SGD", "Adam", "AdamW", "RMSprop", "LAMB", "LARS", "Muon", "newton_schulz",
    "InterpolatedSGD", "DomSGD", "BulkSGD", "RSO", "LBFGS",
]
