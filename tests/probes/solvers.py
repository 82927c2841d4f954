"""Probes of the solvers: :func:`rso_ref.rso_step`, :func:`rso_ref.minimize` and
:func:`rso_ref.optim.newton_schulz`."""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref import minimize, rso_step
from rso_ref.optim import newton_schulz


def _value_and_grad(params):
    """f(p) = |p|^2 / 2 on a parameter list."""
    return float(sum(np.sum(p * p) for p in params)) / 2, [p.copy() for p in params]


def _fun(x):
    return float(np.sum(x * x)) / 2, x.copy()


def _rso(params, oracle=_value_and_grad, **kwargs):
    return rso_step(oracle, params, lr=0.1, meta_iters=2, **kwargs)


def _dict_oracle(params):
    """f(p) = |p|^2 / 2 on the dict {"a": ..., "b": ...}."""
    loss, (ga, gb) = _value_and_grad([params["a"], params["b"]])
    return loss, {"a": ga, "b": gb}


def _bare_array_step(result):
    assert isinstance(result.params, np.ndarray) and result.params.shape == (3,), result.params
    assert result.loss_after < result.loss_before


PROBES = [
    # rso_step
    Probe("rso_ref.rso_step", "params None", lambda _: _rso(None),
          raises=TypeError, match=r"^params must be an array or a pytree of arrays, got None"),
    Probe("rso_ref.rso_step", "params a bare array",
          lambda _: _rso(np.ones(3), lambda p: (float(p @ p) / 2, p.copy())),
          check=_bare_array_step),
    Probe("rso_ref.rso_step", "params Python lists", lambda _: _rso([[1.0, 2.0]]),
          raises=TypeError, match=r"^params\[0\]\[0\] is a float, not an array"),
    Probe("rso_ref.rso_step", "params a dict, oracle returns a list",
          lambda _: _rso({"a": np.ones(2), "b": np.ones(3)},
                         lambda p: (1.0, [p["a"], p["b"]])),
          raises=ValueError, match=r"^value_and_grad's grads does not have the structure of "
                                   r"params: value_and_grad's grads is a list of 2 but params "
                                   r"is a dict"),
    Probe("rso_ref.rso_step", "groups name an unknown key path",
          lambda _: _rso({"a": np.ones(2), "b": np.ones(3)}, _dict_oracle,
                         groups=[["a"], ["c"]]),
          raises=ValueError, match=r"^groups\[1\] names 'c', which is no leaf or subtree"),
    Probe("rso_ref.rso_step", "oracle returns a gradient list of lists",
          lambda _: _rso([np.ones(3)], lambda p: (1.0, [[1.0, 2.0, 3.0]])),
          raises=TypeError, match=r"^value_and_grad's grads\[0\] must be an array, got list"),
    Probe("rso_ref.rso_step", "oracle returns None grads",
          lambda _: _rso([np.ones(3)], lambda p: (1.0, None)),
          raises=TypeError, match=r"^value_and_grad's grads must be a list of arrays"),
    Probe("rso_ref.rso_step", "grads a bare array",
          lambda _: _rso([np.ones(3)], loss=1.0, grads=np.ones(3)),
          raises=ValueError, match=r"^grads does not have the structure of params: grads is "
                                   r"an array but params is a list of 1"),
    Probe("rso_ref.rso_step", "grads None with a loss",
          lambda _: _rso([np.ones(3)], loss=1.0, grads=None),
          raises=ValueError, match=r"^loss was given without grads"),
    Probe("rso_ref.rso_step", "value_and_grad None",
          lambda _: rso_step(None, [np.ones(3)], lr=0.1),
          raises=TypeError, match=r"^value_and_grad must be callable"),
    Probe("rso_ref.rso_step", "lr zero",
          lambda _: rso_step(_value_and_grad, [np.ones(3)], lr=0.0),
          raises=ValueError, match=r"^lr must be > 0"),
    # minimize
    Probe("rso_ref.minimize", "fun returns a gradient list of lists",
          lambda _: minimize(lambda x: (1.0, [[1.0], [2.0]]), np.ones(2)),
          raises=TypeError, match=r"^fun returned a gradient that is not an array"),
    Probe("rso_ref.minimize", "x0 None", lambda _: minimize(_fun, None),
          raises=TypeError, match=r"^x0 must be an array"),
    Probe("rso_ref.minimize", "fun None", lambda _: minimize(None, np.ones(2)),
          raises=TypeError, match=r"^fun must be callable"),
    Probe("rso_ref.minimize", "x0 a dict with an int leaf",
          lambda _: minimize(_fun, {"a": np.ones(2, dtype=np.int64), "b": np.ones(2)}),
          raises=TypeError, match=r"^x0 leaf 'a' must have a real floating dtype"),
    Probe("rso_ref.minimize", "fun returns a gradient of another structure",
          lambda _: minimize(lambda x: (1.0, [x["a"]]), {"a": np.ones(2)}),
          raises=ValueError, match=r"^fun's gradient does not have the structure of x0"),
    Probe("rso_ref.minimize", "gtol negative", lambda _: minimize(_fun, np.ones(2), gtol=-1),
          raises=ValueError, match=r"^gtol must be >= 0"),
    # newton_schulz
    Probe("rso_ref.optim.newton_schulz", "matrix a list of lists",
          lambda _: newton_schulz([[1.0, 0.0], [0.0, 1.0]]),
          raises=TypeError, match=r"^matrix must be an array, got list"),
    Probe("rso_ref.optim.newton_schulz", "matrix 1-D", lambda _: newton_schulz(np.ones(3)),
          raises=ValueError, match=r"^matrix must be 2-D"),
    Probe("rso_ref.optim.newton_schulz", "steps zero",
          lambda _: newton_schulz(np.eye(2), steps=0),
          raises=ValueError, match=r"^steps must be an int >= 1"),
    Probe("rso_ref.optim.newton_schulz", "coefficients a pair",
          lambda _: newton_schulz(np.eye(2), coefficients=(3.0, -4.0)),
          raises=ValueError, match=r"^coefficients must be a triple"),
    Probe("rso_ref.optim.newton_schulz", "coefficient a string",
          lambda _: newton_schulz(np.eye(2), coefficients=(3.0, "b", 2.0)),
          raises=TypeError, match=r"^coefficients\[1\] must be a real number"),
]
