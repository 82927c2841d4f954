r"""The inputs of every golden case, built from fixed seeds and stored explicitly.

Nothing here is drawn when a port is verified: :func:`rso_ref.golden.write` calls these
builders once and stores every input array in the fixture ``.npz``; a port reads them
back. The builders only fix *which* numbers are stored (seeds, data rows, options).

Objectives of the L-BFGS cases (``options["objective"]``):

* ``"rosenbrock"`` (chained, SciPy's ``rosen``):
  :math:`f(x) = \sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`;
* ``"quadratic"``: :math:`f(x) = \tfrac12 x^\top A x - b^\top x` with the stored ``A``
  (symmetric positive definite) and ``b``.

Models of the network cases: :class:`rso_ref.nn.mlp.MLP` with the stored parameters
``[W1, b1, ..., WL, bL]`` and 20 of the shipped 8x8 digits (the first two of each class in
file order, pixels divided by 16, 2x2-average-pooled to 16 features).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import backend
from ..data.digits import digits_arrays
from ..nn.mlp import MLP
from ..data.convex import spd_matrix

__all__ = [
    "objective", "lbfgs_cases", "digits_rows", "mlp_params", "mlp_cases", "rso_meta_cases",
    "rso_step_cases", "optim_cases", "hessian_cases", "model_oracle",
]

_LBFGS_DEFAULTS = {"gtol": 1e-5, "ftol": 2.2e-9, "maxls": 20, "c1": 1e-4, "c2": 0.9}


def _rosenbrock(x: Any) -> tuple[float, Any]:
    """Value and gradient on any namespace and device (no in-place writes: JAX).

    The gradient sums the same two terms in the same order as an in-place
    ``g[:-1] = ...; g[1:] += ...`` would, so NumPy's bits do not change.
    """
    xp = backend.array_namespace(x)
    a, b = x[:-1], x[1:]
    t = b - a * a
    zero = xp.zeros_like(x[:1])
    grad = xp.concat([-400.0 * a * t - 2.0 * (1.0 - a), zero]) + xp.concat([zero, 200.0 * t])
    return float(xp.sum(100.0 * t * t + (1.0 - a) ** 2)), grad


def objective(options: dict, inputs: dict) -> Callable[[Any], tuple[float, Any]]:
    """The oracle ``fun(x) -> (f, g)`` of an L-BFGS case (``g`` on the namespace and
    device of ``x`` and of the stored ``A``, ``b``)."""
    name = options["objective"]
    if name == "rosenbrock":
        return _rosenbrock
    if name == "quadratic":
        a, b = inputs["A"], inputs["b"]
        return lambda x: (float(0.5 * (x @ (a @ x)) - b @ x), a @ x - b)
    raise ValueError(f"unknown objective {name!r}")


def _spd(n: int, cond: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``A`` of :func:`rso_ref.data.convex.spd_matrix` and a Gaussian ``b``, one seed."""
    gen = np.random.default_rng(seed)
    return spd_matrix(n, cond, gen), gen.standard_normal(n)


def lbfgs_cases() -> list[dict]:
    """Rosenbrock from (-1.2, 1) to convergence; 6-D Rosenbrock and a quadratic with m = 3.

    The last two stop at ``maxiter`` (25 and 16): errors of 1e-15 in ``f`` and ``g`` grow
    about tenfold every 4 iterations on the quadratic (cond 1e3, m = 3), so longer runs
    would pin rounding, not the algorithm.
    """
    a, b = _spd(6, 1e3, seed=1)
    x6 = np.tile([-1.2, 1.0], 3)
    return [
        {"name": "rosenbrock_2", "options": {"objective": "rosenbrock", "m": 10,
                                             "maxiter": 100, **_LBFGS_DEFAULTS},
         "inputs": {"x0": np.array([-1.2, 1.0])}},
        {"name": "rosenbrock_6_m3", "options": {"objective": "rosenbrock", "m": 3,
                                                "maxiter": 25, **_LBFGS_DEFAULTS},
         "inputs": {"x0": x6}},
        {"name": "quadratic_6_m3", "options": {"objective": "quadratic", "m": 3,
                                               "maxiter": 16, **_LBFGS_DEFAULTS},
         "inputs": {"x0": np.zeros(6), "A": a, "b": b}},
    ]


def digits_rows() -> tuple[np.ndarray, np.ndarray]:
    """20 digits (two per class, first in file order) pooled to 4x4: (20, 16) in [0, 1], labels.

    Each 8x8 image (pixels / 16) is averaged over 2x2 blocks and flattened row-major;
    the pooling only keeps the stored fixtures small.
    """
    data, labels = digits_arrays()
    rows = np.concatenate([np.flatnonzero(labels == c)[:2] for c in range(10)])
    rows.sort()
    images = data[rows].reshape(-1, 4, 2, 4, 2) / 16.0
    return images.mean(axis=(2, 4)).reshape(-1, 16), labels[rows]


def mlp_params(sizes: tuple, activation: str, seed: int, bias_scale: float = 0.1) -> list:
    """``MLP(sizes).init(seed)`` with biases drawn N(0, bias_scale²) (a zero bias hides bugs)."""
    params = MLP(sizes, activation=activation).init(seed=seed)
    gen = np.random.default_rng(seed + 1000)
    return [p if p.ndim == 2 else bias_scale * gen.standard_normal(p.shape) for p in params]


def model_oracle(options: dict, inputs: dict) -> Callable[[list], tuple[float, list]]:
    """``value_and_grad(params)`` of the case's MLP on its stored batch (``inputs``'
    ``X`` and ``y``, on their namespace and device)."""
    sizes = tuple(int(p.shape[1]) for p in inputs["params"][0::2])
    model = MLP((int(inputs["params"][0].shape[0]),) + sizes,
                activation=options["activation"], loss=options["loss"])
    X, y = inputs["X"], inputs["y"]
    return lambda params: model.value_and_grad(list(params), X, y)


def _network_inputs(sizes: tuple, activation: str, loss: str, seed: int) -> dict:
    X, labels = digits_rows()
    if loss == "mse":
        y = np.random.default_rng(seed + 2000).standard_normal((X.shape[0], sizes[-1]))
    else:
        y = labels
    return {"params": mlp_params(sizes, activation, seed), "X": X, "y": y}


def mlp_cases() -> list[dict]:
    """Forward/backward: ReLU + cross-entropy, tanh + MSE (float targets), 3-layer GELU."""
    specs = [("relu_ce", (16, 8, 10), "relu", "cross_entropy"),
             ("tanh_mse", (16, 8, 10), "tanh", "mse"),
             ("gelu_ce_3layer", (16, 8, 6, 10), "gelu", "cross_entropy")]
    return [{"name": name, "options": {"activation": act, "loss": loss},
             "inputs": _network_inputs(sizes, act, loss, seed=10 + i)}
            for i, (name, sizes, act, loss) in enumerate(specs)]


#: The RSO model: a 16-8-10 ReLU MLP with cross-entropy on the 20 stored digits rows.
_RSO_NET = ((16, 8, 10), "relu", "cross_entropy", 3)
_LAYERS = [[0, 1], [2, 3]]
_WEIGHTS_VS_BIASES = [[0, 2], [1, 3]]


def _rso_inputs() -> dict:
    sizes, act, loss, seed = _RSO_NET
    return _network_inputs(sizes, act, loss, seed)


def rso_meta_cases() -> list[dict]:
    """The meta-objective and its gradient at three stored ``w`` for three groupings."""
    gen = np.random.default_rng(5)
    cases = []
    for name, groups, normalize in (("per_array", None, False), ("layer", _LAYERS, False),
                                    ("explicit_normalized", _WEIGHTS_VS_BIASES, True)):
        n_groups = 4 if groups is None else len(groups)
        ws = [np.full(n_groups, 1.0 / n_groups), np.ones(n_groups),
              gen.uniform(-0.5, 2.0, n_groups)]
        cases.append({"name": name,
                      "options": {"activation": "relu", "loss": "cross_entropy", "lr": 0.5,
                                  "groups": [[j] for j in range(4)] if groups is None
                                  else groups, "normalize": normalize},
                      "inputs": {**_rso_inputs(), "w": ws}})
    return cases


def rso_step_cases() -> list[dict]:
    """Three chained RSO steps for each option set (groups, w0, normalize, safeguard, K)."""
    per_array = [[j] for j in range(4)]
    base = {"activation": "relu", "loss": "cross_entropy", "lr": 0.5, "meta_iters": 5,
            "w0": "uniform", "normalize": False, "safeguard": False, "m": 10, "c1": 1e-4,
            "c2": 0.9, "maxls": 20, "steps": 3}
    variants = [
        ("groups_none", {"groups": per_array}),
        ("groups_layer", {"groups": _LAYERS}),
        ("groups_explicit", {"groups": _WEIGHTS_VS_BIASES}),
        ("layer_w0_ones", {"groups": _LAYERS, "w0": "ones"}),
        ("layer_normalize", {"groups": _LAYERS, "normalize": True, "lr": 0.2}),
        ("none_safeguard_k1", {"groups": per_array, "safeguard": True, "meta_iters": 1,
                               "lr": 2.0}),
        ("layer_k0", {"groups": _LAYERS, "meta_iters": 0}),
    ]
    return [{"name": name, "options": {**base, **change}, "inputs": _rso_inputs()}
            for name, change in variants]


def optim_cases() -> list[dict]:
    """Six steps of each optimizer from stored params on stored gradients of mixed scales."""
    gen = np.random.default_rng(7)
    shapes = [(4, 3), (3,), (3, 2)]
    params = [gen.standard_normal(s) for s in shapes]
    # Entries spanning 1e-4..1 so that eps matters where the second moment is small.
    grads = [[gen.standard_normal(s) * 10.0 ** gen.uniform(-4.0, 0.0, s) for s in shapes]
             for _ in range(6)]
    specs: list[tuple[str, str, dict[str, Any]]] = [
        ("sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9}),
        ("sgd_nesterov_wd", "sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01,
                                    "nesterov": True}),
        ("sgd_dampening", "sgd", {"lr": 0.05, "momentum": 0.5, "dampening": 0.5}),
        ("adam", "adam", {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8}),
        ("adam_l2_amsgrad", "adam", {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6,
                                     "weight_decay": 0.1, "amsgrad": True}),
        ("adamw", "adamw", {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8,
                            "weight_decay": 0.1}),
        ("rmsprop", "rmsprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}),
        ("rmsprop_centered_momentum", "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-8,
                                                  "momentum": 0.9, "centered": True,
                                                  "weight_decay": 0.01}),
        ("lamb", "lamb", {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-6,
                          "weight_decay": 0.01}),
        ("lars", "lars", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                          "trust_coefficient": 1e-3}),
        ("muon_nesterov", "muon", {"lr": 0.02, "momentum": 0.95, "nesterov": True,
                                   "ns_steps": 5, "adam_lr": 3e-4, "adam_betas": [0.9, 0.95],
                                   "adam_eps": 1e-10}),
        ("muon_plain_wd", "muon", {"lr": 0.02, "momentum": 0.9, "nesterov": False,
                                   "weight_decay": 0.1, "ns_steps": 3, "adam_lr": 1e-3,
                                   "adam_betas": [0.9, 0.95], "adam_eps": 1e-10,
                                   "adam_weight_decay": 0.01}),
        # RSO as an optimizer: a warm-up step, then a meta-solve every other step with
        # the last w reused in between, on unit directions (meta-losses: reference.optim_loss).
        ("rso_reuse_normalized", "rso", {"lr": 0.1, "groups": [[0, 1], [2]], "meta_iters": 3,
                                         "meta_every": 2, "warmup_steps": 1,
                                         "normalize": True, "w0": "uniform",
                                         "safeguard": False, "m": 10, "c1": 1e-4,
                                         "c2": 0.9, "maxls": 20}),
        ("rso_every_step_safeguard", "rso", {"lr": 0.5, "groups": [[0], [1], [2]],
                                             "meta_iters": 2, "meta_every": 1,
                                             "warmup_steps": 0, "normalize": False,
                                             "w0": "ones", "safeguard": True, "m": 10,
                                             "c1": 1e-4, "c2": 0.9, "maxls": 20}),
    ]
    return [{"name": name, "options": {"optimizer": opt, "hyper": hyper},
             "inputs": {"params": params, "grads": grads}} for name, opt, hyper in specs]


def hessian_cases() -> list[dict]:
    """A 16-4-10 tanh MLP with cross-entropy on the digits rows; two stored directions ``v``."""
    inputs = _network_inputs((16, 4, 10), "tanh", "cross_entropy", seed=20)
    gen = np.random.default_rng(21)
    inputs["v"] = [[gen.standard_normal(p.shape) for p in inputs["params"]] for _ in range(2)]
    return [{"name": "tanh_ce", "options": {"activation": "tanh", "loss": "cross_entropy",
                                            "k": 3}, "inputs": inputs}]
