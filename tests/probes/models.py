"""Probes of the models of :mod:`rso_ref.nn`: constructor, ``init``, ``value_and_grad``,
``loss``.

Every model gets the same bad batches (Python lists for ``X`` or ``y``, an empty
batch, ``None`` parameters) and bad seeds; the constructor probes are per model.
"""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref.nn import MLP, ConvNet1D, ConvNet2D, ResNet

# name -> (factory of a tiny model, a batch of two samples); two classes each.
MODELS = {
    "MLP": (lambda: MLP((4, 3, 2)), np.ones((2, 4))),
    "ConvNet1D": (lambda: ConvNet1D(length=4, n_classes=2, channels=(2,)), np.ones((2, 1, 4))),
    "ConvNet2D": (lambda: ConvNet2D(input_shape=(1, 4, 4), n_classes=2, channels=(2,)),
                  np.ones((2, 1, 4, 4))),
    "ResNet": (lambda: ResNet(input_shape=(1, 4, 4), n_classes=2, widths=(2,)),
               np.ones((2, 1, 4, 4))),
}
_Y = np.array([0, 1])


def _call(name, method, X=None, y=None, params="init"):
    make, batch = MODELS[name]
    model = make()
    params = model.init(0) if isinstance(params, str) else params
    return getattr(model, method)(params, batch if X is None else X(batch),
                                  _Y if y is None else y)


def _generic(name):
    entry = f"rso_ref.nn.{name}"
    make = MODELS[name][0]
    probes = [
        Probe(f"{entry}.init", "seed negative", lambda _, m=make: m().init(seed=-1),
              raises=ValueError, match=r"^seed must be a non-negative int"),
        Probe(f"{entry}.init", "seed a float", lambda _, m=make: m().init(seed=0.5),
              raises=TypeError, match=r"^seed must be an int"),
    ]
    for method in ("value_and_grad", "loss"):
        probes += [
            Probe(f"{entry}.{method}", "X a Python list",
                  lambda _, n=name, m=method: _call(n, m, X=lambda b: b.tolist()),
                  raises=TypeError, match=r"^X must be an array, got list.*numpy\.asarray"),
            Probe(f"{entry}.{method}", "y a Python list",
                  lambda _, n=name, m=method: _call(n, m, y=[0, 1]),
                  raises=TypeError, match=r"^y must be an array, got list"),
            Probe(f"{entry}.{method}", "empty batch",
                  lambda _, n=name, m=method: _call(n, m, X=lambda b: b[:0], y=_Y[:0]),
                  raises=ValueError, match=r"^X holds no samples"),
            Probe(f"{entry}.{method}", "params None",
                  lambda _, n=name, m=method: _call(n, m, params=None),
                  raises=TypeError, match=r"^params must be a list of arrays, got NoneType"),
        ]
    return probes


PROBES = [probe for name in MODELS for probe in _generic(name)] + [
    Probe("rso_ref.nn.MLP", "sizes an int", lambda _: MLP(5),
          raises=TypeError, match=r"^sizes must be a sequence of layer widths"),
    Probe("rso_ref.nn.MLP", "one layer width", lambda _: MLP((5,)),
          raises=ValueError, match=r"^sizes must hold >= 2 layer widths"),
    Probe("rso_ref.nn.ConvNet1D", "length zero", lambda _: ConvNet1D(length=0),
          raises=ValueError, match=r"^length must be an int >= 1"),
    Probe("rso_ref.nn.ConvNet2D", "input_shape an int", lambda _: ConvNet2D(input_shape=8),
          raises=ValueError, match=r"^input_shape must be \(C, H, W\)"),
    Probe("rso_ref.nn.ResNet", "kernel_size even", lambda _: ResNet(kernel_size=2),
          raises=ValueError, match=r"^kernel_size must be odd"),
    Probe("rso_ref.nn.ResNet", "widths None", lambda _: ResNet(widths=None),
          raises=TypeError, match=r"^widths\[0\] must be an int"),
]
