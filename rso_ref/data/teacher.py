r"""Synthetic teacher-student data: a random MLP labels Gaussian inputs.

The classical controlled setting for studying how a (student) network learns a target
of known form [1]_: inputs are standard normal, the targets are the outputs of a fixed
random "teacher" MLP, so the Bayes-optimal predictor is known and a student of the same
architecture can reach zero excess loss.

Notes
-----
With inputs :math:`x \sim \mathcal N(0, I_d)`, hidden widths :math:`h_1, \dots, h_k`,
weights :math:`W_l \in \mathbb R^{h_{l-1}\times h_l}` with i.i.d. entries
:math:`\mathcal N(0, 1/h_{l-1})` (variance-preserving, LeCun scaling), zero biases and
:math:`\tanh` hidden activations, the teacher is

.. math::

    z_0 = x, \quad z_l = \tanh(z_{l-1} W_l)\ (l \le k), \quad
    f(x) = z_k W_{k+1} \in \mathbb R^{q}.

*Classification*: :math:`y = \arg\max_c f(x)_c` (no label noise, so a large enough
student can reach 100 %). *Regression*: :math:`y = f(x) + \sigma\varepsilon`,
:math:`\varepsilon \sim \mathcal N(0, I_q)`; the Bayes risk under the MSE loss of
:mod:`rso_ref.nn.losses` (half the squared error summed over outputs) is
:math:`q\sigma^2/2`.

Train, validation and test examples are independent draws of the same distribution,
all from one seeded stream (teacher weights first, then the inputs). Classes are
balanced only on average over teachers: for one teacher the class frequencies vary
(default arguments, seed 0: the smallest class holds 2.9 % and the largest 15.9 % of
the training examples).

References
----------
.. [1] S. Goldt, M. Advani, A. M. Saxe, F. Krzakala, L. Zdeborová, "Dynamics of
   stochastic gradient descent for two-layer neural networks in the teacher-student
   setup", NeurIPS 2019; arXiv:1906.08632.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import backend
from ..validation import check_int, check_nonnegative
from .dataset import Dataset
from .splits import split_validation

__all__ = ["TASKS", "make_teacher"]

#: Target kinds of :func:`make_teacher`.
TASKS = ("classification", "regression")


def _teacher_outputs(X: np.ndarray, weights: Sequence[np.ndarray]) -> np.ndarray:
    z = X
    for W in weights[:-1]:
        z = np.tanh(z @ W)
    return z @ weights[-1]


def make_teacher(*, n_train: int = 1000, n_test: int = 1000, n_features: int = 20,
                 hidden: Sequence[int] = (32,), n_outputs: int = 10,
                 task: str = "classification", noise: float = 0.0,
                 seed: int | np.random.Generator = 0, val_fraction: float = 0.0) -> Dataset:
    r"""Draw a teacher MLP and label Gaussian inputs with it (see the module Notes).

    Parameters
    ----------
    n_train, n_test : int
        Number of training and test examples.
    n_features : int, default 20
        Input dimension :math:`d`.
    hidden : sequence of int, default (32,)
        Hidden widths of the teacher (may be empty: a linear teacher).
    n_outputs : int, default 10
        Number of classes (classification, >= 2) or of regression outputs.
    task : {"classification", "regression"}
    noise : float, default 0
        Standard deviation :math:`\sigma` of the Gaussian noise added to regression
        targets; must be 0 for classification.
    seed : int or numpy.random.Generator, default 0
        The one stream everything is drawn from: teacher weights, then inputs, then
        regression noise, then the validation split.
    val_fraction : float in [0, 1), default 0
        Share of the training examples moved to a validation split.

    Returns
    -------
    Dataset
        ``name="teacher"``; int64 labels with ``n_classes=n_outputs``, or float64
        targets of shape ``(n, n_outputs)`` with ``n_classes=None``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    hidden = tuple(hidden)
    sizes = {"n_train": (n_train, 1), "n_test": (n_test, 0), "n_features": (n_features, 1),
             "n_outputs": (n_outputs, 2 if task == "classification" else 1),
             **{f"hidden[{i}]": (h, 1) for i, h in enumerate(hidden)}}
    for name, (value, low) in sizes.items():
        check_int(value, name, low)
    noise = check_nonnegative(noise, "noise")
    if task == "classification" and noise:
        raise ValueError("noise applies to task='regression' only; got noise != 0 "
                         "with task='classification'")
    gen = backend.rng(seed)
    widths = (n_features,) + hidden + (n_outputs,)
    weights = [gen.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    X = gen.standard_normal((n_train + n_test, n_features))
    f = _teacher_outputs(X, weights)
    if task == "classification":
        y, n_classes = np.argmax(f, axis=1).astype(np.int64), n_outputs
    else:
        y, n_classes = f + noise * gen.standard_normal(f.shape), None
    empty_y = np.zeros((0,) + y.shape[1:], dtype=y.dtype)
    ds = Dataset("teacher", X[:n_train], y[:n_train], np.zeros((0, n_features)), empty_y,
                 X[n_train:], y[n_train:], n_classes, (n_features,))
    return split_validation(ds, val_fraction, seed=gen) if val_fraction else ds
