r"""The loss-side interface every model shares: targets, ``loss``, the output gradient, ``predict``.

A model supplies ``_forward(params, X, xp) -> (outputs, caches)``, the loss pair
``_loss_fwd`` / ``_loss_bwd`` (from :data:`~rso_ref.nn.losses.LOSSES`), ``loss_kind`` and
``n_classes``; :class:`LossHead` adds what follows from them, so that
:class:`~rso_ref.nn.MLP` and the convnets compute their loss the same way.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace
from .losses import log_softmax, prepare_targets

__all__ = ["LossHead"]


class LossHead:
    """Mixin: targets, batch-mean loss, the loss gradient at the outputs, log-probabilities."""

    loss_kind: str
    n_classes: int

    def _targets(self, y: Any, n: int, dtype: Any, xp: ModuleType) -> Any:
        """Validate ``y`` and put it in the form the loss takes (:func:`prepare_targets`)."""
        return prepare_targets(y, self.loss_kind, self.n_classes, n=n, dtype=dtype, xp=xp)

    def loss(self, params: Sequence, X: Any, y: Any, *, xp: ModuleType | None = None) -> Any:
        """Batch-mean loss as a 0-d array (traceable by autograd with ``xp=autodiff.namespace()``).

        ``y``: integer labels of shape ``(n,)``; for ``loss="mse"`` also float targets
        ``(n, n_classes)``. Raises as :meth:`forward`, and for labels that are not
        integers, out of range, or fewer/more than the rows of ``X``.
        """
        xp = array_namespace(*params, X, y) if xp is None else xp
        out, _ = self._forward(params, X, xp)
        return self._loss_fwd(out, self._targets(y, out.shape[0], out.dtype, xp), xp=xp)[0]

    def _loss_and_output_grad(self, params: Sequence, X: Any, y: Any
                              ) -> tuple[ModuleType, Any, list, Any]:
        """``(xp, loss, forward caches, dloss/doutputs)``: where every backward pass starts."""
        xp = array_namespace(*params, X, y)
        out, caches = self._forward(params, X, xp)
        value, loss_cache = self._loss_fwd(out, self._targets(y, out.shape[0], out.dtype, xp),
                                           xp=xp)
        return xp, value, caches, self._loss_bwd(loss_cache, xp=xp)

    def predict(self, params: Sequence, X: Any, *, xp: ModuleType | None = None) -> Any:
        r"""Log-probabilities :math:`\log\operatorname{softmax}` of the outputs, shape ``(n, C)``.

        For ``loss="mse"`` too (the arg-max, the predicted class, is that of the outputs).
        """
        xp = array_namespace(*params, X) if xp is None else xp
        return log_softmax(self.forward(params, X, xp=xp), xp=xp)
