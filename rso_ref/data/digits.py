r"""The 8x8 handwritten digits of scikit-learn (UCI optical recognition of digits).

1797 grey-level images of the digits 0-9 (about 180 per class), 8x8 pixels with
integer intensities 0-16, shipped inside scikit-learn [1]_ (no download). The RSO
paper's small-scale demos and this library's examples train on it.

Notes
-----
Pixel values are divided by 16, so features lie in :math:`[0, 1]`. Measured on the
full set: feature mean 0.305, std 0.376; class counts 174-183. The default split is
stratified, 80 % train / 20 % test (1438 / 359 examples), seed 0.

References
----------
.. [1] E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
   Learning Repository (1998); DOI 10.24432/C50P49. Loaded by
   ``sklearn.datasets.load_digits``.
"""
from __future__ import annotations

import numpy as np

from ..extras import require
from .dataset import Dataset, check_layout
from .splits import split_arrays

__all__ = ["load_digits"]

_SHAPES = {"flat": (64,), "image": (1, 8, 8)}


def load_digits(*, layout: str = "flat", test_fraction: float = 0.2, val_fraction: float = 0.0,
                seed: int | np.random.Generator = 0, stratify: bool = True) -> Dataset:
    """The scikit-learn digits as a split :class:`Dataset` (host NumPy, float64 in [0, 1]).

    Parameters
    ----------
    layout : {"flat", "image"}, default "flat"
        Features of shape ``(n, 64)`` or channel-first images ``(n, 1, 8, 8)``.
    test_fraction, val_fraction : float in [0, 1)
        Sizes of the test and validation splits (fractions of all 1797 examples).
    seed : int or numpy.random.Generator, default 0
        Seed of the split.
    stratify : bool, default True
        Keep class proportions in every split.

    Returns
    -------
    Dataset
        ``name="digits"``, ``n_classes=10``, int64 labels.
    """
    check_layout(layout)
    # Imported here: importing scikit-learn costs about a second.
    bunch = require("sklearn.datasets", "cli", "the digits data set").load_digits()
    X = (np.asarray(bunch.data, dtype=np.float64) / 16.0).reshape((-1,) + _SHAPES[layout])
    y = np.asarray(bunch.target, dtype=np.int64)
    return split_arrays("digits", X, y, n_classes=10, test_fraction=test_fraction,
                        val_fraction=val_fraction, seed=seed, stratify=stratify)
