r"""Full-batch L-BFGS as an optimizer of the library's contract (:mod:`.contract`).

Each step is one iteration of :func:`rso_ref.lbfgs.minimize` on the flattened
parameters, built from the same public pieces (:class:`rso_ref.lbfgs.History`,
:func:`rso_ref.lbfgs.line_search_with_reset`), so a run of ``k`` steps and
``minimize(..., maxiter=k)`` with zero tolerances visit the same iterates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

from .. import tree
from ..backend import array_namespace, check_concrete
from ..lbfgs import History, line_search_with_reset
from ..linesearch import check_wolfe_constants
from ..validation import check_finite_loss, check_int, check_pair, check_positive
from .base import begin_step, store_checked
from .contract import Needs, Optimizer, StepInfo

__all__ = ["LBFGS"]

#: The keys of an L-BFGS state.
_STATE_KEYS = ("count", "s", "y", "rho", "head", "size", "gamma")

#: The name of the oracle in error messages.
_ORACLE = "value_and_grad"


@dataclass(frozen=True)
class LBFGS(Optimizer):
    r"""Full-batch L-BFGS: one strong-Wolfe L-BFGS iteration per step.

    Each :meth:`step_with_info` takes the direction :math:`d = -H g` by the two-loop
    recursion over the flattened parameters (:func:`rso_ref.tree.flatten`), runs a
    strong-Wolfe line search with ``value_and_grad`` (retried along :math:`-g` after a
    memory reset if it fails) and pushes the new curvature pair into the memory.

    Parameters
    ----------
    m : int, default 10
        Curvature pairs kept.
    lr : float, default 1.0
        First trial step of each line search (divided by :math:`\|d\|_2` while the
        memory is empty), as ``lr`` in ``torch.optim.LBFGS``; any positive real
        (``np.float32(0.1)`` too).
    maxls : int, default 20
        Most oracle calls per line search (a reset retry may use as many again); the
        ``maxls`` of :func:`rso_ref.lbfgs.minimize`.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants, :math:`0 < c_1 < c_2 < 1`.

    Attributes
    ----------
    needs : Needs
        ``Needs.VALUE_AND_GRAD``: a step takes ``value_and_grad`` (and optionally
        ``loss``).
    state : dict
        Returned by :meth:`init` and :meth:`step_with_info`, with the fixed keys

        ``"count"`` (int): steps taken; ``"s"``, ``"y"`` (array ``(m, n)``): the
        curvature pairs, one per row (ring buffer); ``"rho"`` (array ``(m,)``):
        :math:`1/(s_i^\top y_i)`; ``"head"`` (int): row the next pair goes to;
        ``"size"`` (int): valid rows; ``"gamma"`` (float): :math:`\gamma` of N&W eq. 7.20.
        The step's diagnostics (oracle calls, accepted loss, line-search status) are in
        its :class:`~rso_ref.optim.contract.StepInfo`, not in the state.

    Notes
    -----
    A step is pure: it copies the ``(m, n)`` history before writing the new pair, so a
    state can be reused (at the cost of one copy of the history per step). When the line
    search fails (``StepInfo.status`` nonzero, a key of
    :data:`rso_ref.linesearch.LINESEARCH_MESSAGES`) the parameters are returned
    unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda p: (float(p[0] @ p[0]), [2.0 * p[0]])
    >>> opt = LBFGS(m=5)
    >>> params = [np.array([3.0, -4.0])]
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...     params, state, info = opt.step_with_info(params, fn(params)[1], state,
    ...                                              value_and_grad=fn)
    >>> bool(info.loss_after < 1e-20), info.status, state["count"]
    (True, 0, 2)
    """

    m: int = 10
    lr: float = 1.0
    maxls: int = 20
    c1: float = 1e-4
    c2: float = 0.9
    needs: ClassVar[Needs] = Needs.VALUE_AND_GRAD

    def __post_init__(self) -> None:
        c1, c2 = check_wolfe_constants(self.c1, self.c2)
        store_checked(self, m=check_int(self.m, "m", minimum=1),
                      maxls=check_int(self.maxls, "maxls", minimum=1),
                      lr=check_positive(self.lr, "lr"), c1=c1, c2=c2)

    def init(self, params: Sequence) -> dict:
        """Return an empty curvature memory for ``params``.

        Parameters
        ----------
        params : list of arrays
            The parameters (one namespace and device).

        Returns
        -------
        dict
            The keys listed under Attributes, with ``(m, n)`` zero histories on the
            parameters' device and ``size = 0``.

        Raises
        ------
        TypeError
            If ``params`` is not a list of arrays.
        """
        tree.check_params(params)
        flat = tree.flatten(list(params))
        history = History.empty(self.m, flat, array_namespace(flat))
        return {"count": 0, "s": history.s_hist, "y": history.y_hist, "rho": history.rho,
                "head": 0, "size": 0, "gamma": 1.0}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict, *,
                       value_and_grad: Callable[[list], tuple[Any, list]],
                       loss: Any = None) -> tuple[list, dict, StepInfo]:
        r"""One L-BFGS iteration.

        Parameters
        ----------
        params, grads : list of arrays
            Current parameters and :math:`\nabla L` there.
        state : dict
            From :meth:`init` or a previous step.
        value_and_grad : callable
            ``value_and_grad(params) -> (loss, grads)``, used by the line search; every
            call's output is checked
            (:func:`rso_ref.linesearch.evaluate_array_oracle`).
        loss : real scalar, optional
            What ``value_and_grad`` returns as loss at ``params``; when omitted it is
            computed by one extra call.

        Returns
        -------
        params : list of arrays
            The accepted point (``params`` itself when the line search failed).
        state : dict
            The updated memory (a new dict).
        info : StepInfo
            ``oracle_calls``: calls of ``value_and_grad`` made in the step (the one for a
            missing ``loss`` included); ``loss_after``: the loss at the returned params;
            ``status``/``message``: the line search's
            (:data:`rso_ref.linesearch.LINESEARCH_MESSAGES`).

        Raises
        ------
        rso_ref.validation.NonFiniteError
            ``grads`` or the loss at ``params`` holds NaN or inf.
        TypeError, ValueError
            ``grads`` unlike ``params``, a state with other keys or another shape
            (:func:`rso_ref.optim.base.begin_step`), or an oracle output of the wrong
            kind (naming ``value_and_grad``).
        """
        check_concrete(list(params), [f"params[{j}]" for j in range(len(params))], "LBFGS.step",
                       "Compile value_and_grad instead and step eagerly (see "
                       "rso_ref.lbfgs.minimize).")
        params, grads = begin_step(params, grads, state, _STATE_KEYS)
        x, g = tree.flatten(params), tree.flatten(grads)
        xp = array_namespace(x, g)
        if tuple(state["s"].shape) != (self.m, x.shape[0]):
            raise ValueError(f"state holds a history of shape {tuple(state['s'].shape)}, "
                             f"expected {(self.m, x.shape[0])}")
        calls = 0
        if loss is None:
            loss, _ = check_pair(value_and_grad(params), _ORACLE, "at params")
            calls = 1
        loss = check_finite_loss(loss, _ORACLE, "at params")

        def fun(v: Any) -> tuple[Any, Any]:
            value, grad_list = check_pair(value_and_grad(tree.unflatten(v, params)), _ORACLE)
            return value, tree.flatten(list(grad_list))

        history = History(xp.asarray(state["s"], copy=True), xp.asarray(state["y"], copy=True),
                          xp.asarray(state["rho"], copy=True), int(state["head"]),
                          int(state["size"]), float(state["gamma"]), xp)
        ls, _, used = line_search_with_reset(fun, x, loss, g, history, scale=self.lr, c1=self.c1,
                                             c2=self.c2, maxls=self.maxls, budget=2 * self.maxls,
                                             xp=xp, name=_ORACLE)
        if ls.status == 0:
            history.push(ls.x - x, ls.g - g)
            params = tree.unflatten(ls.x, params)
        new_state = {"count": int(state["count"]) + 1, "s": history.s_hist,
                     "y": history.y_hist, "rho": history.rho, "head": history.head,
                     "size": history.size, "gamma": history.gamma}
        info = StepInfo(oracle_calls=calls + used, loss_after=ls.f, status=ls.status,
                        message=ls.message)
        return params, new_state, info
