r"""Neural-network building blocks written once against the array API.

Layers are pure forward/backward pairs (``<name>_fwd`` / ``<name>_bwd``), losses are
batch means, initialisers draw on the host, and models hold hyperparameters only
(``init``, ``forward``, ``loss``, ``value_and_grad``, ``predict``, ``layers``,
``blocks``). The same forward code is differentiated by autograd
(:mod:`rso_ref.autodiff`), the oracle the backward passes are tested against.

Conventions: dense weights ``(in, out)`` with :math:`Y = XW + b`; parameters ordered
``[W1, b1, W2, b2, ...]``; float64 unless asked otherwise.
"""
from .activations import (
    ACTIVATIONS,
    flatten_bwd,
    flatten_fwd,
    gelu_bwd,
    gelu_fwd,
    get_activation,
    relu_bwd,
    relu_fwd,
    tanh_bwd,
    tanh_fwd,
)
from .dense import dense_bwd, dense_fwd
from .init import INITIALIZERS, fans, glorot_uniform, he_normal, lecun_normal, orthogonal
from .losses import (
    LOSSES,
    check_labels,
    log_softmax,
    mse,
    mse_bwd,
    one_hot,
    softmax_cross_entropy,
    softmax_cross_entropy_bwd,
)
from .mlp import MLP

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "relu_fwd",
    "relu_bwd",
    "tanh_fwd",
    "tanh_bwd",
    "gelu_fwd",
    "gelu_bwd",
    "flatten_fwd",
    "flatten_bwd",
    "dense_fwd",
    "dense_bwd",
    "INITIALIZERS",
    "fans",
    "he_normal",
    "lecun_normal",
    "glorot_uniform",
    "orthogonal",
    "LOSSES",
    "check_labels",
    "log_softmax",
    "one_hot",
    "mse",
    "mse_bwd",
    "softmax_cross_entropy",
    "softmax_cross_entropy_bwd",
    "MLP",
]
