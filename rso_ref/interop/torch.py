r"""RSO on a user's torch model: a module as a library model, and RSO as a torch optimizer.

Two doors, one algorithm (:func:`rso_ref.rso.rso_step`, Algorithm 1 of the RSO paper):

* :func:`as_model` shows a ``torch.nn.Module`` through the library's model protocol
  (``init``, ``value_and_grad(params, X, y)``, ``loss``, ``predict``, ``layers()``,
  ``blocks()``), so that :func:`rso_ref.rso_step`, :class:`rso_ref.optim.RSO` and
  :func:`rso_ref.train.train` take it as they take :class:`rso_ref.nn.MLP`. It is a
  pure function of the parameters, built on :func:`torch.func.functional_call`:
  detached tensors in, detached tensors out, no autograd graph kept.
* :class:`RSO` is a ``torch.optim.Optimizer`` used like ``torch.optim.LBFGS``:
  ``loss = opt.step(closure)``, parameters updated in place.

Parameters are grouped by their names in ``named_parameters()`` order: ``"layer"``
makes one group per module that owns parameters (a leaf module such as ``Linear`` or
``Conv2d``: the name without its last component), ``"block"`` one group per top-level
child (the first component), and a *key function* ``key(name)`` one group per distinct
key, parameters with key ``None`` or ``False`` in no group (not updated); a boolean
predicate thus selects one group.

Module state
------------
**Buffers** (BatchNorm running statistics). :func:`as_model` never writes them: each
evaluation runs on copies of the module's buffers, so a training-mode BatchNorm
normalises with the batch statistics and the module keeps its running statistics
(put the module in ``eval()`` to evaluate with them). :meth:`RSO.step` updates them
*once per step*, as one call of the closure at :math:`\theta` does: every trial point
of the meta-solve runs the closure too, and afterwards the buffers are restored to
their values after that first call. The buffers guarded are those of every module that
contains one of the optimizer's parameters, with its submodules (found once, at
construction, among the live modules; ``module=`` names the model instead): a module
whose parameters are not optimized and that no such model contains (a separate teacher
network in training mode) is not restored. They are copied before the first call and
after it by reading the modules, with no hook.

**Compiled modules** (``torch.compile(module)``, ``module.compile()``). A step registers
no module hook (a global forward hook makes Dynamo fail, and hooks force recompilation):
restoring buffers is an in-place copy and rewinding the generators sets their state,
neither of which Dynamo guards on, so after the first step (which compiles) steps
compile nothing, and every closure call runs the compiled graph. The generators are
rewound before each call, so compiled random ops (which draw their seeds from them)
repeat too.

**Randomness** (dropout). The meta-objective :math:`f(w)` must be a function of
:math:`w` for L-BFGS to make sense, so :meth:`RSO.step` runs every closure call of a
step from the same state of torch's random generators (CPU, and CUDA for the devices
of the parameters): all trial points see the same dropout masks as the evaluation at
:math:`\theta`. After the step the generators are where one closure call leaves them.
:func:`as_model` draws afresh at each call: call ``module.eval()`` or seed inside the
oracle for a deterministic meta-objective.

**Many processes** (``torch.distributed``, e.g. ``DistributedDataParallel``). When
torch.distributed is initialized with more than one process (or given
``process_group=``), every closure call ends with one small collective over the group:
each rank sends its loss, whether its closure failed, and a checksum of its gradients.
The meta-solve then runs on the *global* loss, the mean of the ranks' losses, and on the
gradients DDP has already averaged, so every rank takes the same decisions, makes the
same closure calls and ends the step with the same parameters. A rank whose closure
raises after its ``backward()`` makes every rank raise in that call (its own error
there, a ``RuntimeError`` naming it elsewhere); one that raises before DDP's gradient
all-reduce leaves the others waiting in it until the process group's ``timeout``.
Gradients that differ across ranks (a module not wrapped in DDP) are refused. Sharded
parameters (FSDP) are refused: the group inner products of the meta-gradient would need
one all-reduce per group and closure call.

Host cost: :meth:`RSO.step` reads each loss as a Python float (one device-to-host
transfer per closure call), and the group inner products of the meta-gradient, as
:func:`rso_ref.rso_step` does on every backend.
"""
from __future__ import annotations

import copy
import gc
import importlib
import math
import numbers
import os
import sys
import warnings
import weakref
from dataclasses import fields, replace
from typing import Any, Callable, Iterable, Sequence

try:
    import torch
    from torch.func import functional_call
except ImportError as exc:  # pragma: no cover - exercised without torch only
    raise ImportError("rso_ref.interop.torch needs torch: pip install 'rso_ref[torch]'") from exc

from ..optim import RSO as _LibraryRSO
from ..optim import StepInfo
from ..validation import check_callable

__all__ = ["TorchModel", "as_model", "name_groups", "RSO"]


def name_groups(names: Sequence[str], how: Any) -> list[list[int]]:
    """Return index lists of the parameters named ``names``, grouped by name.

    Parameters
    ----------
    names : sequence of str
        Parameter names in ``named_parameters()`` order (``"features.0.weight"``).
    how : "layer", "block" or callable
        ``"layer"``: one group per owning module (the name without its last component);
        ``"block"``: one group per top-level child (the first component; parameters of
        the root module itself form one group); a callable ``key(name)``: one group per
        distinct key in order of first appearance, ``None``/``False`` leaves the
        parameter out.

    Returns
    -------
    list of lists of int
        Indices into ``names``.

    Raises
    ------
    ValueError
        If ``how`` is none of these, or selects no parameter.
    """
    if how == "layer":
        def key(name): return name.rpartition(".")[0]
    elif how == "block":
        def key(name): return name.partition(".")[0] if "." in name else ""
    elif callable(how):
        key = how
    else:
        raise ValueError(f"groups must be 'layer', 'block' or a key function of parameter "
                         f"names, got {how!r}")
    found: dict = {}
    for j, name in enumerate(names):
        label = key(name)
        if label is not None and label is not False:
            found.setdefault(label, []).append(j)
    if not found:
        raise ValueError(f"groups={how!r} selects no parameter of {list(names)}")
    return list(found.values())


def _check_device(tensors: Sequence[torch.Tensor], name: str) -> torch.device:
    """The one device of ``tensors``; ``ValueError`` naming ``name`` and both devices else."""
    devices = sorted({str(t.device) for t in tensors})
    if len(devices) > 1:
        raise ValueError(f"{name} live on different devices: {devices}; move them to one device")
    return tensors[0].device


class TorchModel:
    r"""A ``torch.nn.Module`` and a loss through the library's model protocol.

    Built by :func:`as_model`. The parameters are the module's trainable parameters
    (``requires_grad``) in ``named_parameters()`` order; frozen parameters and buffers
    are read from the module. Every method is a pure function of ``params``: it runs
    :func:`torch.func.functional_call` on copies of the buffers, returns detached
    tensors, and never changes the module.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    loss_fn : callable
        ``loss_fn(outputs, y) -> 0-d tensor`` (a batch mean, e.g.
        ``torch.nn.functional.cross_entropy``).

    Attributes
    ----------
    module : torch.nn.Module
        The model, unchanged by every method.
    loss_fn : callable
        The loss.
    names : tuple of str
        The parameter names, in order.
    """

    def __init__(self, module: torch.nn.Module, loss_fn: Callable):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        check_callable(loss_fn, "loss_fn")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError(f"module has no trainable parameters (requires_grad=True): "
                             f"{type(module).__name__}")
        self.module = module
        self.loss_fn = loss_fn
        self.names = tuple(n for n, _ in named)
        self._shapes = [tuple(p.shape) for _, p in named]

    def __repr__(self) -> str:
        return f"as_model({type(self.module).__name__}, names={list(self.names)})"

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Return the shapes of the parameter list, in order.

        Returns
        -------
        list of tuple of int
            One shape per trainable parameter.
        """
        return list(self._shapes)

    def init(self, seed: int = 0, *, like: Any = None, dtype: Any = None) -> list:
        """Return detached copies of the module's current trainable parameters.

        ``seed`` is accepted for the protocol and not used: a torch module draws its
        parameters when it is built. ``like`` (a tensor) puts the copies on its device;
        ``dtype`` (a ``torch.dtype``) casts them; default the module's own.

        Parameters
        ----------
        seed : int, default 0
            Accepted for the protocol and not used.
        like : torch.Tensor, optional
            Puts the copies on its device.
        dtype : torch.dtype, optional
            Casts the copies; default the module's own.

        Returns
        -------
        list of tensors
            The parameters, in ``names`` order.
        """
        device = None if like is None else like.device
        return [p.detach().to(device=device, dtype=dtype, copy=True)
                for n, p in self.module.named_parameters() if n in self.names]

    def _check(self, params: Sequence, X: Any) -> list:
        params = list(params)
        if len(params) != len(self._shapes):
            raise ValueError(f"params has {len(params)} tensors but the module has "
                             f"{len(self._shapes)} trainable parameters")
        for j, (p, shape) in enumerate(zip(params, self._shapes)):
            if not isinstance(p, torch.Tensor) or tuple(p.shape) != shape:
                raise ValueError(f"params[{j}] ({self.names[j]}) must be a tensor of shape "
                                 f"{shape}, got {getattr(p, 'shape', type(p).__name__)}")
        device = _check_device(params, "params")
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch tensor, got {type(X).__name__}")
        if X.device != device:
            raise ValueError(f"X is on device {X.device} but params are on {device}")
        return params

    def _outputs(self, params: Sequence, X: Any) -> torch.Tensor:
        buffers = {n: b.clone() for n, b in self.module.named_buffers()}
        return functional_call(self.module, ({**dict(zip(self.names, params)), **buffers}), (X,))

    def value_and_grad(self, params: Sequence, X: Any, y: Any) -> tuple[torch.Tensor, list]:
        r"""Return the batch loss :math:`L(\theta)` and its gradient :math:`\nabla L(\theta)`.

        Parameters
        ----------
        params : list of tensors
            The trainable parameters.
        X : torch.Tensor
            The inputs.
        y : torch.Tensor
            The targets.

        Returns
        -------
        loss : torch.Tensor
            :math:`L(\theta)`, a detached 0-d tensor.
        grads : list of tensors
            :math:`\nabla L(\theta)`, shaped like ``params``.

        Raises
        ------
        ValueError
            If ``params`` do not match the module's trainable parameters, or ``params``
            and ``X`` are on different devices.
        TypeError
            If ``X`` is not a tensor.
        """
        params = self._check(params, X)
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_(True) for p in params]
            loss = self.loss_fn(self._outputs(leaves, X), y)
            grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        return loss.detach(), [torch.zeros_like(p) if g is None else g
                               for p, g in zip(params, grads)]

    def forward(self, params: Sequence, X: Any) -> torch.Tensor:
        """Return the module's outputs at ``params``.

        No graph is built for detached ``params`` (what :meth:`init` and
        :meth:`value_and_grad` hand out); the call stays differentiable by
        ``torch.func`` transforms, so :func:`rso_ref.hessian.hvp` of :meth:`loss` is exact
        (a ``torch.no_grad`` here would make ``torch.func.grad`` return zeros).

        Parameters
        ----------
        params : list of tensors
            The trainable parameters, in ``names`` order.
        X : torch.Tensor
            The inputs.

        Returns
        -------
        torch.Tensor
            ``module(X)`` with ``params`` in place of its parameters.
        """
        params = self._check(params, X)
        return self._outputs(params, X)

    def loss(self, params: Sequence, X: Any, y: Any, *, xp: Any = None) -> torch.Tensor:
        """Return the batch loss as a 0-d tensor (see :meth:`forward` on graphs).

        Parameters
        ----------
        params : list of tensors
            The trainable parameters.
        X : torch.Tensor
            The inputs.
        y : torch.Tensor
            The targets, as ``loss_fn`` takes them.
        xp : object, optional
            Accepted for the protocol and not used.

        Returns
        -------
        torch.Tensor
            ``loss_fn(forward(params, X), y)``.
        """
        return self.loss_fn(self.forward(params, X), y)

    def predict(self, params: Sequence, X: Any, *, xp: Any = None) -> torch.Tensor:
        r"""Return the log-probabilities :math:`\log\operatorname{softmax}` of the outputs.

        Parameters
        ----------
        params : list of tensors
            The trainable parameters.
        X : torch.Tensor
            The inputs.
        xp : object, optional
            Accepted for the protocol and not used.

        Returns
        -------
        torch.Tensor, shape (n, C)
            Log-probabilities.
        """
        return torch.log_softmax(self.forward(params, X), dim=1)

    def layers(self) -> list[list[int]]:
        """One group per module that owns parameters (:func:`name_groups` ``"layer"``).

        Returns
        -------
        list of lists of int
            Indices into the parameter list.
        """
        return name_groups(self.names, "layer")

    def blocks(self) -> list[list[int]]:
        """One group per top-level child (:func:`name_groups` ``"block"``).

        Returns
        -------
        list of lists of int
            Indices into the parameter list.
        """
        return name_groups(self.names, "block")

    def group_by(self, key: Callable[[str], Any]) -> list[list[int]]:
        """Return groups from a key function of parameter names (:func:`name_groups`).

        Parameters
        ----------
        key : callable
            ``key(name)``; parameters with equal keys form a group, ``None``/``False`` leaves
            a parameter out.

        Returns
        -------
        list of lists of int
            Indices into the parameter list.
        """
        return name_groups(self.names, key)


def as_model(module: torch.nn.Module, loss_fn: Callable) -> TorchModel:
    """Show ``module`` with ``loss_fn(outputs, y)`` to the library as a model.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    loss_fn : callable
        ``loss_fn(outputs, y) -> 0-d tensor``, a batch mean.

    Returns
    -------
    TorchModel
        The model protocol over ``module``.

    Examples
    --------
    >>> import torch
    >>> from rso_ref import rso_step
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> model = as_model(net, torch.nn.functional.cross_entropy)
    >>> X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> res = rso_step(lambda p: model.value_and_grad(p, X, y), model.init(), lr=0.1,
    ...                groups=model.layers())
    >>> bool(res.loss_after <= res.loss_before)
    True
    """
    return TorchModel(module, loss_fn)


class _StepGuard:
    """What one :meth:`RSO.step` must put back: the buffers of the optimizer's modules
    and torch's random generator states.

    The buffers are copied when the guard is entered, before the first closure call, by
    reading the modules directly: no module hook, because a global forward hook makes
    ``torch.compile``'s Dynamo fail and module hooks force recompilation.
    """

    def __init__(self, modules: Iterable[torch.nn.Module], devices: Iterable[torch.device]):
        self._cuda = sorted({d.index or 0 for d in devices if d.type == "cuda"})
        self._modules = [m for m in modules if next(m.buffers(recurse=False), None) is not None]
        self._before: dict[int, dict] = {}
        self._after_first: dict[int, dict] = {}
        self._rng_start = self._rng()
        self._rng_after_first = None

    def _rng(self) -> tuple:
        return torch.get_rng_state(), [torch.cuda.get_rng_state(i) for i in self._cuda]

    def _set_rng(self, state: tuple) -> None:
        torch.set_rng_state(state[0])
        for i, s in zip(self._cuda, state[1]):
            torch.cuda.set_rng_state(s, i)

    @staticmethod
    def _copy(module: torch.nn.Module) -> dict:
        return {n: b.detach().clone() for n, b in module.named_buffers(recurse=False)}

    def __enter__(self) -> "_StepGuard":
        self._before = {id(m): self._copy(m) for m in self._modules}
        return self

    def __exit__(self, *exc) -> None:
        pass

    def first_call_done(self) -> None:
        """Remember the buffers and generator states after the evaluation at theta."""
        self._after_first = {id(m): self._copy(m) for m in self._modules}
        self._rng_after_first = self._rng()

    def rewind_rng(self) -> None:
        """Generators back to their state at the start of the step (before each call)."""
        self._set_rng(self._rng_start)

    def restore(self, succeeded: bool) -> None:
        """Buffers and generators as after the first call (success) or the start (failure)."""
        for module in self._modules:
            before = self._before[id(module)]
            saved = self._after_first.get(id(module), before) if succeeded else before
            for name, buffer in module.named_buffers(recurse=False):
                if name in saved:
                    buffer.copy_(saved[name])
        self._set_rng(self._rng_after_first if succeeded else self._rng_start)


class _GradWatch:
    """Notices gradients edited inside the closure after ``backward()`` (clipping...).

    While active, a post-accumulate-grad hook on each parameter remembers the ``.grad``
    tensor and its version counter as backward leaves it; :meth:`edited` says whether a
    parameter's ``.grad`` was replaced or changed in place since. Single process only:
    DDP writes the averaged gradients after these hooks run.
    """

    def __init__(self, params: Sequence[torch.Tensor], active: bool):
        self._params = [p for p in params if p.requires_grad] if active else []
        self._seen: dict[int, tuple[torch.Tensor, int]] = {}
        self._handles: list = []
        self.warned = False  # one warning per step

    def _hook(self, param: torch.Tensor) -> None:
        self._seen[id(param)] = (param.grad, param.grad._version)

    def __enter__(self) -> "_GradWatch":
        self._handles = [p.register_post_accumulate_grad_hook(self._hook)
                         for p in self._params]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def reset(self) -> None:
        """Forget what the previous closure call's backward left."""
        self._seen.clear()

    def edited(self) -> bool:
        """Whether a ``.grad`` differs from what the last backward left in it."""
        for p in self._params:
            seen = self._seen.get(id(p))
            if seen is not None and (p.grad is not seen[0] or p.grad._version != seen[1]):
                return True
        return False


#: Source folders whose frames a warning skips to point at the user's ``opt.step``.
_INTERNAL = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
             os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside rso_ref and torch, for the caller."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def _process_group(process_group: Any) -> Any:
    """The group :class:`RSO` agrees over, or None for one process.

    ``None`` means the default group when ``torch.distributed`` is initialized with
    more than one process; a group of one process is None too.
    """
    available = torch.distributed.is_available()
    if process_group is None:
        if not (available and torch.distributed.is_initialized()):
            return None
        process_group = torch.distributed.group.WORLD
    elif not (available and torch.distributed.is_initialized()):
        raise ValueError("process_group was given but torch.distributed is not initialized: "
                         "call torch.distributed.init_process_group first")
    return process_group if torch.distributed.get_world_size(process_group) > 1 else None


def _modules_of(params: Sequence[torch.Tensor], module: torch.nn.Module | None
                ) -> list[torch.nn.Module]:
    """Every module whose buffers a step guards: ``module`` and its submodules if given,
    else every live module that contains one of ``params`` (found once, by one scan of
    the garbage collector's objects), with its submodules (parameter-free ones such as
    a BatchNorm without affine weights included)."""
    if module is not None:
        roots = [module]
    else:
        ids = {id(p) for p in params}
        # type(), not isinstance(): isinstance reads __class__, which some objects
        # (deprecated torch aliases) answer with a warning
        roots = [obj for obj in gc.get_objects() if issubclass(type(obj), torch.nn.Module)
                 and any(id(p) in ids for p in obj.parameters())]
    found: dict[int, torch.nn.Module] = {}
    for root in roots:
        for m in root.modules():
            found.setdefault(id(m), m)
    return list(found.values())


def _check_replicated(params: Sequence[torch.Tensor]) -> None:
    """Refuse sharded parameters (FSDP): RSO needs each rank to hold whole tensors."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return  # no sharded tensor without a process group
    sharded = []  # fully_shard's DTensor, FullyShardedDataParallel's FlatParameter
    for module, name in (("torch.distributed.tensor", "DTensor"),
                         ("torch.distributed.fsdp._flat_param", "FlatParameter")):
        try:
            sharded.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # pragma: no cover - other torch versions
            pass
    for j, p in enumerate(params):
        if isinstance(p, tuple(sharded)):
            raise ValueError(f"params[{j}] is a sharded parameter ({type(p).__name__}, FSDP): "
                             "RSO needs whole replicated tensors on every rank, as "
                             "DistributedDataParallel keeps them (see docs/torch.md, "
                             "'Many processes')")


#: The defaults of :class:`RSO`, read from :class:`rso_ref.optim.RSO` (its dataclass
#: fields), so that each is written once.
_DEFAULTS = {field.name: field.default for field in fields(_LibraryRSO)}

#: The options of :class:`RSO` kept in every param group, equal across groups.
_SHARED = ("meta_iters", "w0", "normalize", "safeguard", "m", "c1", "c2", "maxls")

#: The keys a param group given to :class:`RSO` may set.
_PER_GROUP = frozenset({"params", "lr", "param_names"})


def _check_lr(lr: Any) -> float:
    """A param group's lr as a float; ``ValueError`` unless finite and > 0."""
    if isinstance(lr, torch.Tensor) and lr.numel() == 1:
        lr = lr.item()
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    return float(lr)


class RSO(torch.optim.Optimizer):
    r"""Recursive Subspace Optimization as a ``torch.optim`` optimizer, used like LBFGS.

    .. math::

        \theta \leftarrow \theta - \eta \sum_i w_i^{*} g_i, \qquad
        w^{*} \approx \arg\min_w L\Big(\theta - \eta \sum_i w_i g_i\Big)
        \ \text{(K L-BFGS iterations)}

    One :meth:`step` is :func:`rso_ref.rso_step` (through :class:`rso_ref.optim.RSO`)
    with the closure as the oracle: the closure is called at :math:`\theta` for the
    loss and the gradients :math:`g_i`, and at every trial point
    :math:`\theta'(w)` of the meta-solve, with the trial parameters written into the
    tensors.

    Parameters
    ----------
    params : iterable of tensors, of ``(name, tensor)`` pairs, or of param-group dicts
        As every ``torch.optim`` optimizer. Pass ``model.named_parameters()`` (or
        ``module=``) for groupings by name. A param-group dict may set ``lr`` and
        nothing else (see Notes, *Param groups*).
    lr : float
        :math:`\eta > 0`, the default of each param group's ``lr``
        (``param_groups[i]["lr"]``, read at every step, so learning-rate schedulers work).
    meta_iters : int, default :data:`rso_ref.rso.DEFAULT_META_ITERS`
        :math:`K`.
    groups : None, "layer", "block", "uniform:N", list of lists of int, or callable
        ``None``: one group per parameter tensor. ``"layer"``, ``"block"`` and a key
        function of parameter names as in :func:`name_groups` (these need names);
        ``"uniform:N"`` merges ``N`` consecutive layers; index lists into the
        parameters in param-group order.
    w0 : {"uniform", "ones", "previous"} or sequence of float, default "uniform"
        Start of each meta-solve, as in :func:`rso_ref.rso_step`.
    normalize : bool, default False
        Use unit group directions :math:`g_i / \|g_i\|`.
    safeguard : bool, default False
        Never return a point worse than the plain gradient step.
    m : int, default 10
        Memory of the meta L-BFGS.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants of its line search, :math:`0 < c_1 < c_2 < 1`.
    maxls : int, default 20
        Most closure calls per line search.
    module : torch.nn.Module, optional
        The module the parameters belong to, to name them (instead of
        ``named_parameters()``) and to guard its buffers (instead of every live module
        that contains the parameters).
    process_group : torch.distributed.ProcessGroup, optional
        The ranks that take each step together (the group of the
        ``DistributedDataParallel`` module). Default: the default group when
        ``torch.distributed`` is initialized with more than one process, else none.

    Attributes
    ----------
    state : dict
        ``state[first parameter] = {"count": int, "w": tuple of float or None}``: steps
        taken and the last weights (the start of ``w0="previous"``), as torch's LBFGS
        keeps its global state; round-trips through ``state_dict``.
    last_info : StepInfo or None
        Diagnostics of the last step (oracle calls, ``w``, meta iterations, status).

    Notes
    -----
    The closure re-evaluates the loss with autograd and returns it, as for
    ``torch.optim.LBFGS``; gradients are reset to ``None`` before each call, and after
    the step ``.grad`` holds :math:`\nabla L(\theta)` at the parameters the step started
    from. BatchNorm buffers change once per step and every call of a step sees the same
    random numbers (see the module documentation). If the step raises (an error in the
    closure, a non-finite loss at :math:`\theta`), the parameters, the buffers and the
    random generators are as before the step. A closure that leaves no gradient (never
    calls ``backward()``) is a ``RuntimeError``.

    *Param groups.* RSO's groups (``groups``) and torch's param groups are independent:
    RSO's groups index the parameters in param-group order and set the meta-variables
    :math:`w_i`; a param group only sets the learning rate of its tensors. With
    :math:`\eta_{g(j)}` the ``lr`` of the param group holding tensor :math:`j`, a step is

    .. math::

        \theta'_j = \theta_j - w_{i(j)}\, \eta_{g(j)}\, d_j, \qquad
        d_j = g_j \ \text{or, with normalize,}\ d_j = g_j / \|g_{i(j)}\|,

    :math:`i(j)` the RSO group of tensor :math:`j` and :math:`\|g_i\|` the norm of
    the whole (unscaled) group gradient. An RSO group that spans param groups with
    different ``lr`` thus moves each tensor at its own group's rate under one weight
    :math:`w_i`. With one ``lr`` everywhere this is the step above. The other options
    (``meta_iters``, ``groups``, ``w0``, ``normalize``, ``safeguard``, ``m``, ``c1``,
    ``c2``, ``maxls``) are one per optimizer: a param group that sets one of them, or
    any other option (``weight_decay``, ``momentum``...), is refused at construction,
    naming it. All of them are stored in every param group (``groups`` as index
    lists), so ``state_dict``/``load_state_dict`` round-trip them; a loaded or edited
    value that differs across param groups is refused, naming it.

    Under ``torch.distributed`` (module documentation, *Many processes*) the loss the
    meta-solve sees is the mean of the ranks' closure losses, and the step returns that
    global loss as a 0-d tensor on every rank (for equal shards, the loss of the whole
    batch); every rank runs the closure equally often and ends with equal parameters.

    .. warning::

        The closure's gradients *are* the meta-gradient: at every trial point
        :math:`\theta'(w)` the step reads :math:`\partial f / \partial w_i =
        -\eta \langle \nabla L(\theta'(w)), g_i \rangle` from ``.grad``. Clipping
        (``clip_grad_norm_``) or any other edit of ``.grad`` inside the closure makes it
        the derivative of another function than the loss the closure returns, so the
        meta line search takes more calls or stops early; at :math:`\theta` it changes
        the directions :math:`g_i` too. Clip outside RSO (its step is bounded by the
        line search on the loss) or not at all. A step warns when it sees ``.grad``
        changed after ``backward()`` in a single process (a post-accumulate-grad hook and
        the tensor's version counter); under DDP, which writes the averaged gradients
        after those hooks, it cannot tell and does not warn.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 2)
    >>> X, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    >>> opt = RSO(net.named_parameters(), lr=0.1, groups="layer")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = torch.nn.functional.cross_entropy(net(X), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)
    """

    def __init__(self, params: Any, lr: float, *,
                 meta_iters: int = _DEFAULTS["meta_iters"], groups: Any = _DEFAULTS["groups"],
                 w0: Any = _DEFAULTS["w0"], normalize: bool = _DEFAULTS["normalize"],
                 safeguard: bool = _DEFAULTS["safeguard"], m: int = _DEFAULTS["m"],
                 c1: float = _DEFAULTS["c1"], c2: float = _DEFAULTS["c2"],
                 maxls: int = _DEFAULTS["maxls"], module: torch.nn.Module | None = None,
                 process_group: Any = None):
        self._built = False
        super().__init__(params, {"lr": lr})
        flat = self._params()
        _check_device(flat, "params")
        _check_replicated(flat)
        self._group = _process_group(process_group)
        names = self._names(flat, module)
        structure: dict = {}
        if callable(groups) or (isinstance(groups, str) and (
                groups in ("layer", "block") or groups.startswith("uniform:"))):
            if names is None:
                raise ValueError(f"groups={groups!r} needs parameter names: pass "
                                 "model.named_parameters() or module=")
            if callable(groups):
                groups = name_groups(names, groups)
            else:
                structure = {"layers": name_groups(names, "layer"),
                             "blocks": name_groups(names, "block")}
        self.names = names
        self.last_info: StepInfo | None = None
        self._module_refs = [weakref.ref(m) for m in _modules_of(flat, module)]
        self._rso = _LibraryRSO(lr=lr, groups=groups, meta_iters=meta_iters, w0=w0,
                                normalize=normalize, safeguard=safeguard, m=m, c1=c1, c2=c2,
                                maxls=maxls, **structure)
        self._rso.init(flat)  # groups fit the parameters
        # Every hyperparameter lives in each param group (as torch.optim keeps them), so
        # that state_dict/load_state_dict round-trip it; groups as resolved index lists.
        shared = {key: getattr(self._rso, key) for key in _SHARED}
        shared["groups"] = [list(g) for g in self._rso._groups(len(flat), None)]
        shared["w0"] = w0 if isinstance(w0, str) else tuple(float(v) for v in w0)
        for group in self.param_groups:
            _check_lr(group["lr"])
            group.update(copy.deepcopy(shared))
        self.defaults.update(copy.deepcopy(shared))
        self._built = True

    def add_param_group(self, param_group: dict) -> None:
        """Add a param group at construction; refused afterwards.

        Parameters
        ----------
        param_group : dict
            ``{"params": ..., "lr": ..., "param_names": ...}``; no other key.

        Raises
        ------
        ValueError
            After construction (RSO's groups index the parameters it was built with),
            or if the group sets an option other than ``lr`` (RSO's options are one per
            optimizer), naming it.
        """
        if getattr(self, "_built", False):
            raise ValueError("RSO fixes its parameters at construction (its groups index "
                             "them): build a new RSO to add parameters")
        if isinstance(param_group, dict):
            refused = sorted(set(param_group) - _PER_GROUP)
            if refused:
                raise ValueError(f"RSO takes {refused} for all param groups only (pass "
                                 "them to RSO(...)); a param group may set only 'lr'")
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load ``state_dict`` (the state and every param group's hyperparameters).

        Parameters
        ----------
        state_dict : dict
            From :meth:`state_dict`.

        Raises
        ------
        ValueError
            If the loaded hyperparameters are invalid or differ across param groups where
            RSO needs one value; the optimizer is then left as it was.
        """
        before = (copy.deepcopy(self._options()), dict(self.state))
        super().load_state_dict(state_dict)
        try:
            self._configured()
        except Exception:
            for group, options in zip(self.param_groups, before[0]):
                group.update(options)
            self.state.clear()
            self.state.update(before[1])
            raise

    def _guarded_modules(self) -> list[torch.nn.Module]:
        """The live modules whose buffers a step restores."""
        return [m for m in (ref() for ref in self._module_refs) if m is not None]

    def _options(self) -> list[dict]:
        """Each param group's options (everything but ``params``)."""
        return [{k: v for k, v in group.items() if k != "params"} for group in self.param_groups]

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _names(self, flat: list, module: torch.nn.Module | None) -> tuple[str, ...] | None:
        if module is not None:
            owned = {id(p): n for n, p in module.named_parameters()}
            for j, p in enumerate(flat):
                if id(p) not in owned:
                    raise ValueError(f"params[{j}] (shape {tuple(p.shape)}) is not a parameter "
                                     f"of module ({type(module).__name__})")
            return tuple(owned[id(p)] for p in flat)
        if all("param_names" in group for group in self.param_groups):
            return tuple(n for group in self.param_groups for n in group["param_names"])
        return None

    def _configured(self) -> tuple[_LibraryRSO, list[float] | None]:
        """The library optimizer for this step and the per-tensor lr scales.

        Reads every hyperparameter from ``param_groups`` (schedulers and
        ``load_state_dict`` write there). Returns ``(rso, None)`` when every group has
        one ``lr`` (the plain step), else ``(rso, scales)`` with ``rso.lr`` the largest
        ``lr`` and ``scales[j]`` = lr of tensor ``j``'s group / ``rso.lr``.
        """
        first = self.param_groups[0]
        for key in ("groups", *_SHARED):
            for group in self.param_groups[1:]:
                if group[key] != first[key]:
                    raise ValueError(f"RSO takes one {key} for all param groups, got "
                                     f"{first[key]!r} and {group[key]!r}")
        lrs = [_check_lr(group["lr"]) for group in self.param_groups]
        options = {key: first[key] for key in _SHARED}
        options["groups"] = [list(g) for g in first["groups"]]
        options["lr"] = max(lrs)
        current = {key: getattr(self._rso, key) for key in options}
        current["groups"] = [list(g) for g in self._rso._groups(len(self._params()), None)]
        if options != current:
            self._rso = replace(self._rso, **options)
            self._rso.init(self._params())  # groups fit the parameters
        if len(set(lrs)) == 1:
            return self._rso, None
        scales = [lr / options["lr"] for group, lr in zip(self.param_groups, lrs)
                  for _ in group["params"]]
        return self._rso, scales

    @staticmethod
    def _directions(rso: _LibraryRSO, grads: list, scales: list[float]
                    ) -> tuple[_LibraryRSO, list]:
        r"""Per-tensor lr: :math:`d_j = (\eta_{g(j)}/\eta) g_j`, with the unit group
        direction taken first under ``normalize`` (so that scaling does not cancel)."""
        if rso.normalize:
            groups = rso._groups(len(grads), None)
            grads = list(grads)
            for members in groups:
                norm = float(torch.sqrt(sum(torch.sum(grads[j].double() ** 2)
                                            for j in members)))
                for j in members:
                    grads[j] = grads[j] / norm if norm > 0 else torch.zeros_like(grads[j])
            rso = replace(rso, normalize=False)
        return rso, [g * s for g, s in zip(grads, scales)]

    @staticmethod
    def _evaluate(closure: Callable, params: list) -> tuple[Any, float, list]:
        """Run the closure once on this rank: (what it returned, loss, gradients)."""
        for p in params:
            p.grad = None
        loss = closure()
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise TypeError("closure must return the loss as a scalar (a one-element "
                                f"tensor or a float), got a tensor of shape {tuple(loss.shape)}")
            value = float(loss.detach())
        elif isinstance(loss, numbers.Real) and not isinstance(loss, bool):
            value = float(loss)
        else:
            raise TypeError("closure must return the loss (a one-element tensor or a float), "
                            f"got {type(loss).__name__}")
        if all(p.grad is None for p in params):
            raise RuntimeError("the closure left no gradient in any parameter: it must call "
                               "loss.backward() before returning the loss")
        grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                 for p in params]
        return loss, value, grads

    def _call(self, closure: Callable, params: list, watch: _GradWatch
              ) -> tuple[Any, float, list]:
        """One closure call, agreed over the process group: (returned, loss, gradients).

        Raises on every rank if the closure raised on any rank.
        """
        watch.reset()
        if self._group is None:
            returned, value, grads = self._evaluate(closure, params)
            if watch.edited() and not watch.warned:
                watch.warned = True
                warnings.warn("the closure changed .grad after backward() (gradient clipping "
                              "or another edit): RSO's meta-gradient is read from .grad, so "
                              "it no longer matches the loss (see the RSO docstring)",
                              UserWarning, stacklevel=_caller_level())
            return returned, value, grads
        try:
            returned, value, grads = self._evaluate(closure, params)
        except Exception as error:
            try:
                self._agree(params, math.nan, None, failed=True)
            finally:
                raise error
        value = self._agree(params, value, grads, failed=False)
        if isinstance(returned, torch.Tensor):
            returned = torch.tensor(value, dtype=returned.dtype, device=returned.device)
        return returned, value, grads

    def _agree(self, params: list, value: float, grads: list | None, *, failed: bool) -> float:
        """Gather (loss, failed, gradient checksum) from every rank; return the mean loss.

        One ``all_gather`` of three numbers per rank, so every rank reads the same values
        and takes the same decision: raise if a rank failed or the gradients differ.
        """
        group = self._group
        backend = str(torch.distributed.get_backend(group))
        device = torch.device("cpu") if "gloo" in backend else params[0].device
        checksum = (torch.stack([g.sum(dtype=torch.float64) for g in grads]).sum()
                    if grads else torch.zeros((), dtype=torch.float64))
        mine = torch.stack([torch.tensor(value, dtype=torch.float64),
                            torch.tensor(float(failed), dtype=torch.float64),
                            checksum.cpu()]).to(device)
        gathered = [torch.empty_like(mine) for _ in range(torch.distributed.get_world_size(group))]
        torch.distributed.all_gather(gathered, mine, group=group)
        table = torch.stack(gathered).cpu().tolist()
        if failed:
            return math.nan  # the caller raises its own error
        bad = [r for r, row in enumerate(table) if row[1]]
        if bad:
            raise RuntimeError(f"RSO.step: the closure raised on rank(s) {bad} of the process "
                               "group (see their errors); every rank stops this step")
        sums = [row[2] for row in table]
        if any(x != sums[0] and not (math.isnan(x) and math.isnan(sums[0])) for x in sums):
            raise RuntimeError("RSO.step: the gradients differ across the ranks of the process "
                               "group; RSO needs them averaged over the ranks, as "
                               "DistributedDataParallel does in backward()")
        return math.fsum(row[0] for row in table) / len(table)

    @staticmethod
    def _write(params: list, values: Sequence) -> None:
        for p, v in zip(params, values):
            p.copy_(v)

    @torch.no_grad()
    def step(self, closure: Callable) -> Any:  # type: ignore[override]
        """Take one RSO step.

        Parameters
        ----------
        closure : callable
            Re-evaluates the model: zeroes the gradients, computes the loss, calls
            ``backward()`` and returns the loss.

        Returns
        -------
        torch.Tensor or float
            What the closure returned at the starting parameters; under a process
            group, the global loss (the mean over the ranks) of the same type.

        Raises
        ------
        TypeError
            If ``closure`` is None or does not return the loss as a one-element tensor
            or a real number (``None``, a string, a list, a tensor of several elements).
        rso_ref.validation.NonFiniteError
            If the loss or a gradient at the starting parameters is NaN or inf.
        RuntimeError
            If the closure left no gradient (never called ``backward()``); under a
            process group, on every rank if the closure raised on another rank or the
            gradients differ across ranks.
        """
        if closure is None:
            raise TypeError("RSO.step() missing the closure: pass a closure that "
                            "re-evaluates the model and returns the loss")
        closure = torch.enable_grad()(closure)
        params = self._params()
        rso, scales = self._configured()
        state = self.state[params[0]]
        start = {"count": state.get("count", 0), "w": state.get("w")}
        saved = [p.detach().clone() for p in params]
        guard = _StepGuard(self._guarded_modules(), (p.device for p in params))
        watch = _GradWatch(params, active=self._group is None)
        try:
            with guard, watch:
                original, loss, grads = self._call(closure, params, watch)
                guard.first_call_done()

                def oracle(trial: list) -> tuple[float, list]:
                    self._write(params, trial)
                    guard.rewind_rng()
                    return self._call(closure, params, watch)[1:]

                if scales is None:
                    solver, directions = rso, grads
                else:
                    solver, directions = self._directions(rso, grads, scales)
                new, new_state, info = solver.step_with_info(
                    saved, directions, start, value_and_grad=oracle, loss=loss)
        except BaseException:
            self._write(params, saved)
            guard.restore(succeeded=False)
            raise
        self._write(params, new)
        guard.restore(succeeded=True)
        for p, g in zip(params, grads):
            p.grad = g
        state.update(new_state)
        self.last_info = info
        return original
