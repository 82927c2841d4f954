r"""Deterministic splits, minibatch index streams and train-only standardisation.

Everything random here is drawn from a host :class:`numpy.random.Generator` built from
an explicit seed (:func:`rso_ref.backend.rng`), so a split or a batch order is the same
on every machine and backend.

Notes
-----
**Stratified splits.** :func:`split_indices` shuffles the examples, ranks them within
their class (rank :math:`r = 0, 1, \dots, n_c - 1` in the shuffled order), and sorts all
examples by the key

.. math::

    q = \frac{r + 1/2}{n_c},

breaking ties by the shuffled order. Any prefix of that sequence therefore holds each
class in proportion to its size (to within about one example), and the first
:math:`n_\text{test}` examples form the test split, the next :math:`n_\text{val}` the
validation split, the rest the training split. Split sizes are exactly
``round(fraction * n)``. Without stratification the shuffled order is cut directly.

**Standardisation** (:func:`standardize`) is fitted on the training split only,

.. math::

    \mu_j = \frac{1}{n}\sum_{i} X_{ij}, \qquad
    \sigma_j = \Big(\frac{1}{n}\sum_{i} (X_{ij} - \mu_j)^2\Big)^{1/2},

and the same :math:`(\mu, \sigma)` are applied to all splits, so no statistic of the
validation or test data leaks into the inputs. Features that are constant on the
training split (:math:`\sigma_j \le 64\,\epsilon\,|\mu_j|`, i.e. zero up to the
round-off of the mean; e.g. the always-blank corner pixels of the digits) are only
centred (:math:`\sigma_j` is replaced by 1).
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .. import backend
from ..validation import check_fraction, check_int
from .dataset import Dataset

__all__ = ["split_indices", "split_arrays", "split_validation", "minibatches", "standardize"]


def _labels_or_size(y: Any) -> tuple[int, np.ndarray | None]:
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        return check_int(y, "y", 1), None
    labels = np.asarray(backend.to_numpy(y))
    if labels.ndim != 1:
        raise ValueError(f"y must be an int or a 1-D array of labels, got shape {labels.shape}")
    return labels.shape[0], labels


def _stratified_order(labels: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    if not np.issubdtype(labels.dtype, np.integer) or labels.size and labels.min() < 0:
        raise ValueError("stratify=True needs y to hold non-negative integer class labels")
    perm = gen.permutation(labels.shape[0])
    shuffled = labels[perm]
    counts = np.bincount(shuffled)
    by_class = np.argsort(shuffled, kind="stable")  # classes grouped, shuffled order kept
    first = np.cumsum(counts) - counts
    rank = np.empty(labels.shape[0], dtype=np.int64)
    rank[by_class] = np.arange(labels.shape[0]) - first[shuffled[by_class]]
    key = (rank + 0.5) / counts[shuffled]
    return perm[np.argsort(key, kind="stable")]


def split_indices(y: Any, *, test_fraction: float, val_fraction: float = 0.0,
                  seed: int | np.random.Generator = 0, stratify: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train/validation/test index arrays covering ``range(n)``.

    Parameters
    ----------
    y : int or array of shape (n,)
        Class labels (needed when ``stratify``), or just the number of examples.
    test_fraction, val_fraction : float in [0, 1)
        Split sizes are ``round(fraction * n)``; the training split gets the rest and
        must not be empty.
    seed : int or numpy.random.Generator, default 0
        Source of the shuffle (:func:`rso_ref.backend.rng`); the same seed gives the
        same split.
    stratify : bool, default True
        Keep class proportions in every split (see the module Notes).

    Returns
    -------
    train : numpy.ndarray of int64
        Sorted training indices, ``n - n_val - n_test`` of them (at least one).
    val : numpy.ndarray of int64
        Sorted validation indices, ``n_val = round(val_fraction * n)`` of them.
    test : numpy.ndarray of int64
        Sorted test indices, ``n_test = round(test_fraction * n)`` of them.

    Raises
    ------
    TypeError, ValueError
        For a bad ``y``, fraction or seed (the argument is named), or when nothing is
        left for training.
    """
    test_fraction = check_fraction(test_fraction, "test_fraction")
    val_fraction = check_fraction(val_fraction, "val_fraction")
    n, labels = _labels_or_size(y)
    n_test, n_val = round(test_fraction * n), round(val_fraction * n)
    if n_test + n_val >= n:
        raise ValueError(f"test_fraction={test_fraction} and val_fraction={val_fraction} "
                         f"leave no training examples out of {n}")
    gen = backend.rng(seed)
    if stratify:
        if labels is None:
            raise ValueError("stratify=True needs y to be an array of labels, not a size")
        order = _stratified_order(labels, gen)
    else:
        order = gen.permutation(n)
    parts = order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]
    return tuple(np.sort(p).astype(np.int64) for p in parts)


def split_arrays(name: str, X: np.ndarray, y: np.ndarray, *, n_classes: int | None,
                 test_fraction: float, val_fraction: float = 0.0,
                 seed: int | np.random.Generator = 0, stratify: bool | None = None) -> Dataset:
    r"""Build a :class:`Dataset` by splitting one pool of examples with :func:`split_indices`.

    Parameters
    ----------
    name : str
        Name of the data set (:attr:`Dataset.name`).
    X : numpy.ndarray, shape (n, \*input_shape)
        Features of the whole pool.
    y : numpy.ndarray, shape (n,) or (n, n_outputs)
        Integer class labels (required for stratification) or regression targets.
    n_classes : int or None
        Number of classes; ``None`` for regression. Keyword-only, no default.
    test_fraction, val_fraction : float in [0, 1)
        Shares of the pool for the test and validation splits, as in
        :func:`split_indices` (``val_fraction`` defaults to 0: an empty validation
        split).
    seed : int or numpy.random.Generator, default 0
        Source of the shuffle.
    stratify : bool or None, default None
        Keep class proportions in every split; ``None`` means: stratify when
        ``n_classes`` is given (classification).

    Returns
    -------
    Dataset
        The three splits of ``(X, y)``, each in increasing index order, with
        ``input_shape = X.shape[1:]``.

    Raises
    ------
    TypeError, ValueError
        As :func:`split_indices` raises them (bad fraction or seed, nothing left for
        training, labels that cannot be stratified).
    """
    stratify = n_classes is not None if stratify is None else stratify
    train, val, test = split_indices(y if stratify else len(y), test_fraction=test_fraction,
                                     val_fraction=val_fraction, seed=seed, stratify=stratify)
    return Dataset(name, X[train], y[train], X[val], y[val], X[test], y[test],
                   n_classes, X.shape[1:])


def generated_dataset(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray, n_classes: int, shape: tuple[int, ...], *,
                      val_fraction: float, gen: np.random.Generator) -> Dataset:
    r"""A :class:`Dataset` from generated arrays, normalised by the training examples' scalars.

    Features become :math:`(x - \bar x_{train}) / s_{train}` (one mean and one standard
    deviation over all features of ``x_train``) reshaped to ``(n,) + shape``; then
    ``val_fraction`` of the training examples move to a stratified validation split
    drawn from ``gen``. The two scalars are computed before that split, so they include
    the validation examples (never the test examples).
    """
    mean, std = x_train.mean(), x_train.std()
    ds = Dataset(name, ((x_train - mean) / std).reshape((-1,) + shape), y_train,
                 np.zeros((0,) + shape), np.zeros(0, dtype=np.int64),
                 ((x_test - mean) / std).reshape((-1,) + shape), y_test, n_classes, shape)
    return split_validation(ds, val_fraction, seed=gen) if val_fraction else ds


def split_validation(ds: Dataset, val_fraction: float, *, seed: int | np.random.Generator = 0,
                     stratify: bool | None = None) -> Dataset:
    """Move ``round(val_fraction * n_train)`` training examples into the validation split.

    The test split is untouched; an existing validation split is refused rather than
    silently replaced.

    Parameters
    ----------
    ds : Dataset
        A host (NumPy) record with an empty validation split, before
        :func:`~rso_ref.data.to_backend`.
    val_fraction : float in [0, 1)
        Share of the training examples to move; the training split must keep at least
        one.
    seed : int or numpy.random.Generator, default 0
        Source of the shuffle (:func:`split_indices`).
    stratify : bool or None, default None
        Keep class proportions in both splits; ``None`` means: when ``ds`` has classes
        (``ds.n_classes`` is not None).

    Returns
    -------
    Dataset
        ``ds`` with the chosen examples moved from ``X_train``/``y_train`` to
        ``X_val``/``y_val``, each split in its original order.

    Raises
    ------
    ValueError
        If ``ds`` already has a validation split, or as :func:`split_indices` raises
        it (bad ``val_fraction``, nothing left for training).
    TypeError
        As :func:`split_indices` raises it (a ``seed`` that is neither an int nor a
        Generator).
    """
    if ds.n_val:
        raise ValueError(f"ds already has a validation split of {ds.n_val} examples")
    stratify = ds.n_classes is not None if stratify is None else stratify
    train, val, _ = split_indices(ds.y_train if stratify else ds.n_train, test_fraction=0.0,
                                  val_fraction=val_fraction, seed=seed, stratify=stratify)
    X, y = ds.X_train, ds.y_train
    return ds.replace(X_train=X[train], y_train=y[train], X_val=X[val], y_val=y[val])


def minibatches(n: int, batch_size: int, seed_or_rng: int | np.random.Generator | None = None,
                *, shuffle: bool = True, drop_last: bool = False) -> Iterator[np.ndarray]:
    """Yield the index arrays of one epoch of minibatches over ``range(n)``.

    Parameters
    ----------
    n : int
        Number of examples (>= 0).
    batch_size : int
        Examples per batch (>= 1); the last batch is smaller when ``batch_size`` does
        not divide ``n``, and is dropped when ``drop_last``.
    seed_or_rng : int or numpy.random.Generator, optional
        Source of the permutation; required when ``shuffle``. Passing a Generator lets a
        caller draw successive epochs from one stream.
    shuffle : bool, default True
        Visit the examples in a random order (otherwise ``0, 1, ..., n - 1``).
    drop_last : bool, default False
        Leave out the last batch when it is smaller than ``batch_size`` (its
        ``n % batch_size`` examples are then not visited this epoch).

    Yields
    ------
    numpy.ndarray of int64
        Indices of one batch. Without ``drop_last`` every index appears exactly once
        per epoch.
    """
    n = check_int(n, "n", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    if shuffle:
        if seed_or_rng is None:
            raise TypeError("seed_or_rng is required when shuffle=True (randomness is explicit)")
        order = backend.rng(seed_or_rng).permutation(n).astype(np.int64)
    else:
        order = np.arange(n, dtype=np.int64)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def standardize(ds: Dataset) -> tuple[Dataset, Any, Any]:
    r"""Centre and scale every feature with the training split's statistics.

    Parameters
    ----------
    ds : Dataset
        On any backend; the arithmetic uses the namespace of ``ds.X_train``.

    Returns
    -------
    standardized : Dataset
        ``(X - mean) / std`` for all three splits; targets unchanged.
    mean, std : array of shape ``input_shape``
        The training statistics used (``std`` is 1 where a feature is constant).

    Raises
    ------
    ValueError
        If the training split is empty.
    """
    if ds.n_train == 0:
        raise ValueError("ds has no training examples to fit the standardisation on")
    xp = backend.array_namespace(ds.X_train, ds.X_val, ds.X_test)
    backend.check_floating(ds.X_train, "ds.X_train")
    mean = xp.mean(ds.X_train, axis=0)
    std = xp.std(ds.X_train, axis=0)
    # A constant column's computed std is round-off of the mean, at most ~log2(n) eps |mean|
    # with pairwise summation; 64 eps |mean| covers n up to 2**64 and marks it constant.
    constant = std <= 64 * xp.finfo(std.dtype).eps * xp.abs(mean)
    std = xp.where(constant, xp.ones_like(std), std)
    scaled = {f"X_{s}": (getattr(ds, f"X_{s}") - mean) / std for s in ("train", "val", "test")}
    return ds.replace(**scaled), mean, std
