r"""First-order optimizers sharing one shape: ``init(params)`` and ``step(params, grads, state)``.

Hyperparameters are frozen at construction (names follow torch.optim); the state is a
dict of arrays and numbers with fixed keys (see each class's Attributes), serialisable
without pickle. Every update is built from the pure pieces of :mod:`rso_ref.tree`.
"""
from .adam import Adam, AdamW
from .lamb import LAMB
from .lars import LARS
from .muon import Muon, newton_schulz
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "LAMB", "LARS", "Muon", "newton_schulz"]
