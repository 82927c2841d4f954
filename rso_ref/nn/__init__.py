r"""Neural-network building blocks written once against the array API.

Layers are pure forward/backward pairs (``<name>_fwd`` / ``<name>_bwd``), losses are
batch means, initialisers draw on the host, and models hold hyperparameters only
(``init``, ``forward``, ``loss``, ``value_and_grad``, ``predict``, ``layers``,
``blocks``). The same forward code is differentiated by autograd
(:mod:`rso_ref.autodiff`), the oracle the backward passes are tested against.

Conventions: dense weights ``(in, out)`` with :math:`Y = XW + b`; parameters ordered
``[W1, b1, W2, b2, ...]``; ``model.init(seed, like=X)`` creates them in the namespace,
on the device and in the floating dtype of ``X`` (float64 without ``like``), see
:func:`rso_ref.nn.init.placement`.
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
from .batch_norm import (
    BATCH_NORM_EPS,
    BATCH_NORM_MOMENTUM,
    BatchNormCache,
    batch_norm_bwd,
    batch_norm_fwd,
    batch_norm_update,
)
from .conv import conv1d_bwd, conv1d_fwd, conv2d_bwd, conv2d_fwd
from .convnets import ConvNet1D, ConvNet2D, ResNet
from .dense import dense_bwd, dense_fwd
from .init import INITIALIZERS, fans, glorot_uniform, he_normal, lecun_normal, orthogonal
from .losses import (
    LOSSES,
    check_labels,
    log_softmax,
    mse,
    mse_bwd,
    one_hot,
    prepare_targets,
    softmax_cross_entropy,
    softmax_cross_entropy_bwd,
)
from .mlp import MLP
from .norm import GROUP_NORM_EPS, group_norm_bwd, group_norm_fwd
from .pooling import (
    avg_pool_bwd,
    avg_pool_fwd,
    global_avg_pool_bwd,
    global_avg_pool_fwd,
    max_pool_bwd,
    max_pool_fwd,
)
from .residual import residual_bwd, residual_fwd
from .residual_bn import bn_residual_bwd, bn_residual_fwd

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
    "prepare_targets",
    "conv1d_fwd",
    "conv1d_bwd",
    "conv2d_fwd",
    "conv2d_bwd",
    "max_pool_fwd",
    "max_pool_bwd",
    "avg_pool_fwd",
    "avg_pool_bwd",
    "global_avg_pool_fwd",
    "global_avg_pool_bwd",
    "residual_fwd",
    "residual_bwd",
    "group_norm_fwd",
    "group_norm_bwd",
    "GROUP_NORM_EPS",
    "batch_norm_fwd",
    "batch_norm_bwd",
    "batch_norm_update",
    "BatchNormCache",
    "BATCH_NORM_EPS",
    "BATCH_NORM_MOMENTUM",
    "bn_residual_fwd",
    "bn_residual_bwd",
    "MLP",
    "ConvNet1D",
    "ConvNet2D",
    "ResNet",
]
