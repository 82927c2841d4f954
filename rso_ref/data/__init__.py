r"""Data sets and test problems for rso_ref, all made or read on the host, offline.

* :class:`Dataset` and :func:`to_backend` (:mod:`.dataset`): the train/val/test record
  every loader returns, and moving it to a backend.
* :func:`load_digits`, :func:`digits_arrays` (:mod:`.digits`): the UCI 8x8 digits
  (scikit-learn's ``load_digits`` set), shipped with the package (CC BY 4.0).
* :func:`make_mnist1d` (:mod:`.mnist1d`): MNIST-1D generated from a seed.
* :func:`make_cifar_like` (:mod:`.cifar_like`): CIFAR-shaped synthetic images of ten
  shapes, generated from a seed.
* :func:`make_teacher` (:mod:`.teacher`): Gaussian inputs labelled by a random MLP.
* :func:`least_squares`, :func:`logistic_regression` (:mod:`.convex`): convex problems
  with known optimum and curvature constants.
* :func:`load_mnist`, :func:`load_cifar10` (:mod:`.readers`): MNIST IDX files and
  CIFAR-10 binary batches the user already has (no download, no pickle).
* :func:`split_indices`, :func:`split_validation`, :func:`minibatches`,
  :func:`standardize` (:mod:`.splits`).
* :func:`load`: one entry point by name.

Example
-------
>>> from rso_ref import data
>>> ds = data.load("digits", layout="image")
>>> ds.X_train.shape, ds.n_classes
((1438, 1, 8, 8), 10)
>>> ds, mean, std = data.standardize(ds)
"""
from __future__ import annotations

from typing import Any, Callable

from .cifar_like import make_cifar_like
from .convex import (ConvexProblem, LeastSquares, LogisticRegression, least_squares,
                     logistic_regression)
from .dataset import LAYOUTS, Dataset, to_backend
from .digits import digits_arrays, load_digits
from .mnist1d import make_mnist1d
from .readers import load_cifar10, load_mnist, read_idx
from .splits import minibatches, split_arrays, split_indices, split_validation, standardize
from .teacher import make_teacher

__all__ = [
    "Dataset", "to_backend", "LAYOUTS", "load", "LOADERS",
    "load_digits", "digits_arrays", "make_mnist1d", "make_cifar_like", "make_teacher",
    "load_mnist", "load_cifar10", "read_idx",
    "split_indices", "split_arrays", "split_validation", "minibatches", "standardize",
    "ConvexProblem", "LeastSquares", "LogisticRegression", "least_squares", "logistic_regression",
]

#: Loader of each data set name accepted by :func:`load`.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "mnist1d": make_mnist1d,
    "cifar_like": make_cifar_like,
    "teacher": make_teacher,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}


def load(name: str, **kwargs: Any) -> Dataset:
    """Load or generate the data set called ``name`` (a key of :data:`LOADERS`).

    Parameters
    ----------
    name : {"digits", "mnist1d", "cifar_like", "teacher", "mnist", "cifar10"}
        The data set; :data:`LOADERS` maps each name to its loader.
    **kwargs
        Passed on to that loader unchanged: e.g. ``load("mnist1d", seed=1)``,
        ``load("mnist", path="~/data/mnist")`` (``"mnist"`` and ``"cifar10"`` need
        ``path``, the directory of files the user already has).

    Returns
    -------
    Dataset
        What the loader returns.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the known names are listed), or as the loader raises it
        for a bad argument value.
    TypeError, FileNotFoundError, NotADirectoryError
        As the loader raises them: a keyword it does not take or an argument of the
        wrong type; a missing directory or file, or a file where the directory is
        expected (``"mnist"``, ``"cifar10"``).
    """
    if name not in LOADERS:
        raise ValueError(f"unknown data set name {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](**kwargs)
