r"""Optimizers of one contract (:mod:`rso_ref.optim.contract`).

``opt = Adam(lr=...)`` checks and freezes the hyperparameters (names follow
torch.optim); ``state = opt.init(params)`` is a dict of arrays and numbers with fixed
keys (see each class's Attributes), serialisable without pickle;
``params, state, info = opt.step_with_info(params, grads, state, **oracles)`` returns
the step's diagnostics as a :class:`StepInfo` and ``opt.step`` the same without it.
Each class declares in ``needs`` (a :class:`Needs`) which oracles its step takes:

* ``Needs.GRADIENT`` (``grads`` only): :class:`SGD`, :class:`Adam`, :class:`AdamW`,
  :class:`RMSprop`, :class:`LAMB`, :class:`LARS`, :class:`Muon`;
* ``Needs.HVP`` (``hvp_fn(params, v) -> H v``): the curvature-subspace SGD
  :class:`InterpolatedSGD`, :class:`DomSGD`, :class:`BulkSGD`;
* ``Needs.VALUE_AND_GRAD`` (``value_and_grad``, optional ``loss``): :class:`RSO`
  (which also takes ``meta_value_and_grad``) and the full-batch :class:`LBFGS`.

Every update is built from the pure pieces of :mod:`rso_ref.tree`; a NaN or inf in
``grads`` raises :class:`rso_ref.validation.NonFiniteError` before it reaches the
parameters.
"""
from .adam import Adam, AdamW
from .contract import Needs, Optimizer, StepInfo
from .lamb import LAMB
from .lars import LARS
from .lbfgs import LBFGS
from .muon import Muon, newton_schulz
from .rmsprop import RMSprop
from .rso import RSO
from .sgd import SGD
from .subspace import BulkSGD, DomSGD, InterpolatedSGD

__all__ = [
    "SGD", "Adam", "AdamW", "RMSprop", "LAMB", "LARS", "Muon", "newton_schulz",
    "InterpolatedSGD", "DomSGD", "BulkSGD", "RSO", "LBFGS", "Optimizer", "Needs", "StepInfo",
]
