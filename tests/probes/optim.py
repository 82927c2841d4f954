"""Probes of every optimizer of :mod:`rso_ref.optim`: constructor, ``init``, ``step``.

One table (:data:`OPTIMIZERS`) is crossed with generic bad inputs (a bad ``lr``, ``None``
as ``params``, nested Python lists as ``grads``, gradients of another structure, ...),
with pytrees (a bare array, a dict of arrays) and with the dtype rule (float64
gradients must leave float32 parameters float32); the specific probes below it
cover what only one optimizer has (a momentum buffer, Adam's moments, an ``hvp_fn``).
"""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref.optim import (LAMB, LARS, LBFGS, RSO, SGD, Adam, AdamW, BulkSGD, DomSGD,
                           InterpolatedSGD, Muon, Needs, RMSprop)
from rso_ref.validation import NonFiniteError

# name -> (class, constructor keywords); tiny but complete configurations.
OPTIMIZERS = {
    "SGD": (SGD, {"lr": 0.1, "momentum": 0.9}),
    "Adam": (Adam, {"lr": 0.1}),
    "AdamW": (AdamW, {"lr": 0.1}),
    "RMSprop": (RMSprop, {"lr": 0.1, "momentum": 0.5, "centered": True}),
    "LAMB": (LAMB, {"lr": 0.1}),
    "LARS": (LARS, {"lr": 0.1}),
    "Muon": (Muon, {"lr": 0.1}),
    "InterpolatedSGD": (InterpolatedSGD, {"a": 0.5, "b": 1.0, "lr": 0.1, "k": 1}),
    "DomSGD": (DomSGD, {"lr": 0.1, "k": 1}),
    "BulkSGD": (BulkSGD, {"lr": 0.1, "k": 1}),
    "RSO": (RSO, {"lr": 0.1, "meta_iters": 2}),
    "LBFGS": (LBFGS, {}),
}

_CURVATURE = (np.array([[3.0, 0.0], [0.0, 2.0]]), np.array([1.5, 1.0, 0.5]))


def _params(dtype=np.float64):
    return [np.ones((2, 2), dtype), np.ones(3, dtype)]


def _value_and_grad(params):
    """f(p) = sum_j sum c_j p_j^2 / 2 with fixed curvatures; the gradient keeps p's dtype."""
    grads = [c.astype(p.dtype) * p for c, p in zip(_CURVATURE, params)]
    return float(sum(np.sum(g * p) for g, p in zip(grads, params))) / 2, grads


def _hvp(params, v):
    return [c.astype(x.dtype) * x for c, x in zip(_CURVATURE, v)]


def _oracles(opt, hvp=_hvp):
    if opt.needs is Needs.HVP:
        return {"hvp_fn": hvp}
    if opt.needs is Needs.VALUE_AND_GRAD:
        return {"value_and_grad": _value_and_grad}
    return {}


def _make(name, **changes):
    cls, kwargs = OPTIMIZERS[name]
    return cls(**{**kwargs, **changes})


def _step(name, params, grads, state=None, hvp=_hvp, value_and_grad=_value_and_grad):
    """``opt.step`` with the oracles the optimizer needs; ``state="none"`` passes None."""
    opt = _make(name)
    state = opt.init(_params()) if state is None else None if state == "none" else state
    oracles = _oracles(opt, hvp)
    if "value_and_grad" in oracles:
        oracles["value_and_grad"] = value_and_grad
    return opt.step(params, grads, state, **oracles)


def _keeps_float32(result):
    params, state = result
    dtypes = [str(p.dtype) for p in params]
    assert dtypes == ["float32", "float32"], f"params came back as {dtypes}"
    kept = [str(x.dtype) for v in state.values() if isinstance(v, list) for x in v
            if hasattr(x, "dtype")]
    assert all(d == "float32" for d in kept), f"state arrays came back as {kept}"


def _float64_grads_on_float32(name):
    opt = _make(name)
    params = _params(np.float32)
    grads = [np.full((2, 2), 0.5), np.full(3, 0.5)]  # float64
    return opt.step(params, grads, opt.init(params), **_oracles(opt))


def _fresh_state(state):
    assert isinstance(state, dict) and state["count"] == 0, f"init gave {state!r}"


def _as_dict(leaves):
    return {"w": leaves[0], "b": leaves[1]}


def _dict_step(name, grads=None):
    """``opt.step`` on the dict ``{"w": (2, 2), "b": (3,)}``, its oracles on dicts."""
    opt = _make(name)
    params = _as_dict(_params())
    grads = _as_dict(_params()) if grads is None else grads
    oracles = {"value_and_grad": lambda p: _value_and_grad_dict(p),
               "hvp_fn": lambda p, v: _as_dict(_hvp([p["w"], p["b"]], [v["w"], v["b"]]))}
    wanted = {Needs.HVP: ("hvp_fn",), Needs.VALUE_AND_GRAD: ("value_and_grad",)}
    return opt.step(params, grads, opt.init(params),
                    **{k: oracles[k] for k in wanted.get(opt.needs, ())})


def _value_and_grad_dict(params):
    loss, grads = _value_and_grad([params["w"], params["b"]])
    return loss, _as_dict(grads)


def _dict_of_params(result):
    params, _ = result
    assert isinstance(params, dict) and sorted(params) == ["b", "w"], f"params came back {params!r}"
    assert params["w"].shape == (2, 2) and params["b"].shape == (3,)


def _generic(name):
    entry = f"rso_ref.optim.{name}"
    return [
        Probe(entry, "lr negative", lambda _, n=name: _make(n, lr=-1.0),
              raises=ValueError, match=r"^lr must be > 0"),
        Probe(entry, "lr a string", lambda _, n=name: _make(n, lr="0.1"),
              raises=TypeError, match=r"^lr must be a real number"),
        Probe(f"{entry}.init", "params None", lambda _, n=name: _make(n).init(None),
              raises=TypeError, match=r"^params must be an array or a pytree of arrays, got None"),
        Probe(f"{entry}.init", "params a bare array",
              lambda _, n=name: _make(n).init(np.ones(3)), check=_fresh_state),
        Probe(f"{entry}.init", "params nested Python lists",
              lambda _, n=name: _make(n).init([[1.0, 2.0]]),
              raises=TypeError, match=r"^params\[0\]\[0\] is a float, not an array"),
        Probe(f"{entry}.step", "grads None", lambda _, n=name: _step(n, _params(), None),
              raises=TypeError, match=r"^grads must be an array or a pytree of arrays, got None"),
        Probe(f"{entry}.step", "params None",
              lambda _, n=name: _step(n, None, _params()),
              raises=TypeError, match=r"^params must be an array or a pytree of arrays, got None"),
        Probe(f"{entry}.step", "grads Python lists",
              lambda _, n=name: _step(n, _params(), [np.ones((2, 2)).tolist(), [1.0] * 3]),
              raises=TypeError, match=r"^grads\[0\]\[0\]\[0\] is a float, not an array"),
        Probe(f"{entry}.step", "params a dict", lambda _, n=name: _dict_step(n),
              check=_dict_of_params),
        Probe(f"{entry}.step", "grads of another structure",
              lambda _, n=name: _dict_step(n, grads={"w": _params()[0], "c": _params()[1]}),
              raises=ValueError,
              match=r"^grads does not have the structure of params: grads has keys \['c', 'w'\] "
                    r"but params has \['b', 'w'\]"),
        Probe(f"{entry}.step", "state None", lambda _, n=name: _step(n, _params(), _params(),
                                                                     state="none"),
              raises=TypeError, match=r"^state must be the dict returned by init"),
        Probe(f"{entry}.step", "float64 grads for float32 params",
              lambda _, n=name: _float64_grads_on_float32(n), check=_keeps_float32),
    ]


def _sgd_buffer_of_other_shape(_):
    opt = SGD(lr=0.1, momentum=0.9)
    state = {"count": 1, "momentum_buffer": [np.ones((2, 2)), np.ones(4)]}
    return opt.step(_params(), _params(), state)


def _adam_state_of_no_params(_):
    opt = Adam()
    return opt.step([np.ones(3)], [np.ones(3)], opt.init([]))


def _muon_state_of_other_params(_):
    opt = Muon()
    return opt.step(_params(), _params(), opt.init([np.ones(2), np.ones(3)]))


SPECIFIC = [
    Probe("rso_ref.optim.SGD.step", "momentum buffer of another shape",
          _sgd_buffer_of_other_shape,
          raises=ValueError, match=r"^state\['momentum_buffer'\]\[1\] has shape \(4,\)"),
    Probe("rso_ref.optim.SGD", "nesterov without momentum",
          lambda _: SGD(lr=0.1, nesterov=True),
          raises=ValueError, match=r"^nesterov=True needs momentum > 0"),
    Probe("rso_ref.optim.Adam.step", "state of init([]) for one param",
          _adam_state_of_no_params,
          raises=ValueError, match=r"^state\['mu'\] holds 0 arrays but params has 1"),
    Probe("rso_ref.optim.Adam", "betas a float", lambda _: Adam(betas=0.9),
          raises=ValueError, match=r"^betas must be a pair"),
    Probe("rso_ref.optim.Muon.step", "state of other params", _muon_state_of_other_params,
          raises=ValueError, match=r"^state\['momentum_buffer'\] holds 0 arrays"),
    Probe("rso_ref.optim.LARS.step", "grads lists of floats",
          lambda _: _step("LARS", [np.ones(3)], [[1.0, 2.0, 3.0]],
                          state=LARS(lr=0.1).init([np.ones(3)])),
          raises=TypeError, match=r"^grads\[0\]\[0\] is a float, not an array"),
    Probe("rso_ref.optim.DomSGD.step", "hvp_fn returns NaN",
          lambda _: _step("DomSGD", _params(), _params(),
                          hvp=lambda p, v: [x * np.nan for x in v]),
          raises=NonFiniteError, match=r"^hvp_fn\(params, v\) returned NaN or inf"),
    Probe("rso_ref.optim.DomSGD.step", "hvp_fn returns a float",
          lambda _: _step("DomSGD", _params(), _params(), hvp=lambda p, v: 1.0),
          raises=TypeError, match=r"the output of hvp_fn\(params, v\) must be a list of arrays"),
    Probe("rso_ref.optim.BulkSGD.step", "hvp_fn returns arrays of other shapes",
          lambda _: _step("BulkSGD", _params(), _params(), hvp=lambda p, v: [np.ones(5)]),
          raises=ValueError, match=r"the output of hvp_fn\(params, v\) has 1 arrays"),
    Probe("rso_ref.optim.InterpolatedSGD.step", "hvp_fn not callable",
          lambda _: _step("InterpolatedSGD", _params(), _params(), hvp=None),
          raises=TypeError, match=r"^hvp_fn must be callable"),
    Probe("rso_ref.optim.DomSGD", "k zero", lambda _: DomSGD(lr=0.1, k=0),
          raises=ValueError, match=r"^k must be an int >= 1"),
    Probe("rso_ref.optim.RSO.step", "value_and_grad returns Python lists",
          lambda _: _step("RSO", _params(), _params(),
                          value_and_grad=lambda p: (1.0, [x.tolist() for x in p])),
          raises=TypeError, match=r"^value_and_grad's grads\[0\] must be an array"),
    Probe("rso_ref.optim.RSO", "groups unknown", lambda _: RSO(lr=0.1, groups="layers"),
          raises=ValueError, match=r"^groups must be"),
    Probe("rso_ref.optim.LBFGS.step", "value_and_grad returns a lone loss",
          lambda _: _step("LBFGS", _params(), _params(), value_and_grad=lambda p: 1.0),
          raises=TypeError, match=r"^value_and_grad must return a pair"),
    Probe("rso_ref.optim.LBFGS", "m zero", lambda _: LBFGS(m=0),
          raises=ValueError, match=r"^m must be an int >= 1"),
]

PROBES = [probe for name in OPTIMIZERS for probe in _generic(name)] + SPECIFIC
