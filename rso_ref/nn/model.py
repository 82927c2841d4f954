r"""What every model shares: ``init``, the parameter check, targets, ``loss``, ``predict``.

A model supplies ``param_shapes()``, ``weight_init`` and ``_orthogonal_gain`` (the
parameter side), ``_forward(params, X, xp) -> (outputs, caches)``, the loss pair
``_loss_fwd`` / ``_loss_bwd`` (from :data:`~rso_ref.nn.losses.LOSSES`), ``loss_kind`` and
``n_classes`` (the loss side); :class:`ModelBase` adds what follows from them, so that
:class:`~rso_ref.nn.MLP` and the convnets draw their parameters and compute their loss
the same way.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

from .. import tree
from ..backend import array_namespace, check_array
from .init import check_param_shapes, init_params
from .losses import log_softmax, prepare_targets

__all__ = ["ModelBase"]


class ModelBase:
    """Mixin: parameters drawn and checked, targets, batch-mean loss, its output gradient,
    log-probabilities."""

    loss_kind: str
    n_classes: int
    weight_init: str
    #: Gain of the orthogonal initialiser (used only when ``weight_init == "orthogonal"``).
    _orthogonal_gain: float

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the parameter list, in order."""
        raise NotImplementedError

    def init(self, seed: int = 0, *, like: Any = None, dtype: Any = None) -> list:
        """Draw the parameters: weights with the model's initialiser, biases zero.

        Weights are drawn in parameter order from one host generator seeded by ``seed``,
        so every backend gets identical numbers (float32 is the float64 draw rounded).

        Parameters
        ----------
        seed : int or numpy.random.Generator, default 0
        like : array, optional
            Every parameter is created in the namespace and on the device of ``like``
            (typically the inputs ``X``); default NumPy.
        dtype : {"float64", "float32"} or dtype, optional
            Default ``like.dtype`` when it is real floating, else float64
            (:func:`rso_ref.nn.init.placement`).

        Returns
        -------
        list of arrays
            Shaped as :meth:`param_shapes`.

        Raises
        ------
        TypeError
            If ``seed`` is neither an int nor a Generator.
        ValueError
            If ``seed`` is negative.
        """
        return init_params(self.param_shapes(), self.weight_init, seed, like=like, dtype=dtype,
                           gain=self._orthogonal_gain)

    def _check_params(self, params: Sequence) -> None:
        check_param_shapes(params, self.param_shapes())

    @staticmethod
    def _check_batch(params: Sequence, X: Any, y: Any) -> None:
        """``TypeError`` unless ``params`` is a list of arrays and ``X``, ``y`` are arrays;
        ``ValueError`` for an empty batch (the batch mean of no samples is undefined)."""
        tree.check_params(params, "params")
        check_array(X, "X")
        check_array(y, "y")
        if X.ndim >= 1 and X.shape[0] == 0:
            raise ValueError(f"X holds no samples (shape {tuple(X.shape)}): the batch-mean "
                             "loss needs at least one row")

    def _targets(self, y: Any, n: int, dtype: Any, xp: ModuleType) -> Any:
        """Validate ``y`` and put it in the form the loss takes (:func:`prepare_targets`)."""
        return prepare_targets(y, self.loss_kind, self.n_classes, n=n, dtype=dtype, xp=xp)

    def loss(self, params: Sequence, X: Any, y: Any, *, xp: ModuleType | None = None) -> Any:
        """Batch-mean loss as a 0-d array (traceable by autograd with ``xp=autodiff.namespace()``).

        ``y``: integer labels of shape ``(n,)``; for ``loss="mse"`` also float targets
        ``(n, n_classes)``. Raises as :meth:`forward`, and for labels that are not
        integers, out of range, or fewer/more than the rows of ``X``.

        Raises
        ------
        TypeError
            If ``params`` is not a list of arrays, or ``X`` or ``y`` is not an array (a
            Python list: convert it with ``numpy.asarray``).
        ValueError
            If ``X`` has no rows (an empty batch), or as :meth:`forward`.
        """
        # with xp given (autograd tracing), params may be a traced sequence: not checked here
        self._check_batch(params if xp is None else [], X, y)
        xp = array_namespace(params, X, y, names=("params", "X", "y")) if xp is None else xp
        out, _ = self._forward(params, X, xp)
        return self._loss_fwd(out, self._targets(y, out.shape[0], out.dtype, xp), xp=xp)[0]

    def _loss_and_output_grad(self, params: Sequence, X: Any, y: Any
                              ) -> tuple[ModuleType, Any, list, Any]:
        """``(xp, loss, forward caches, dloss/doutputs)``: where every backward pass starts."""
        self._check_batch(params, X, y)
        xp = array_namespace(params, X, y, names=("params", "X", "y"))
        out, caches = self._forward(params, X, xp)
        value, loss_cache = self._loss_fwd(out, self._targets(y, out.shape[0], out.dtype, xp),
                                           xp=xp)
        return xp, value, caches, self._loss_bwd(loss_cache, xp=xp)

    def predict(self, params: Sequence, X: Any, *, xp: ModuleType | None = None) -> Any:
        r"""Log-probabilities :math:`\log\operatorname{softmax}` of the outputs, shape ``(n, C)``.

        For ``loss="mse"`` too (the arg-max, the predicted class, is that of the outputs).
        """
        xp = array_namespace(params, X, names=("params", "X")) if xp is None else xp
        return log_softmax(self.forward(params, X, xp=xp), xp=xp)
