r"""The 8x8 handwritten digits (UCI optical recognition of digits), shipped with rso_ref.

1797 grey-level images of the digits 0-9 (about 180 per class), 8x8 pixels with
integer intensities 0-16: the UCI "Optical Recognition of Handwritten Digits" test
set [1]_, exactly as ``sklearn.datasets.load_digits`` gives it (same rows, same order).
The arrays ship inside this package as ``rso_ref/data/digits.npz`` (uint8, compressed,
about 45 kB), so no download and no scikit-learn are needed; the file's SHA-256 is
checked on every load. The RSO paper's small-scale demos and this library's examples
train on it.

Notes
-----
Pixel values are divided by 16, so features lie in :math:`[0, 1]`. Measured on the
full set: feature mean 0.305, std 0.376; class counts 174-183. The default split is
stratified, 80 % train / 20 % test (1438 / 359 examples), seed 0.

**Licence and source.** The data set is licensed under Creative Commons Attribution
4.0 International (CC BY 4.0) by its authors, E. Alpaydin and C. Kaynak, and
distributed by the UCI Machine Learning Repository [1]_; ``digits.npz`` was written
once from scikit-learn's copy of it (scikit-learn 1.9.1). ``rso_ref/data/digits.txt``,
beside the file, states the same and how the file was made.

References
----------
.. [1] E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
   Learning Repository (1998); DOI 10.24432/C50P49; licence CC BY 4.0.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from ..validation import check_flag
from .dataset import Dataset, check_layout
from .splits import split_arrays

__all__ = ["load_digits", "digits_arrays", "DIGITS_FILE", "DIGITS_SHA256"]

#: The shipped arrays: ``images`` uint8 (1797, 64) in 0..16 and ``labels`` uint8 (1797,).
DIGITS_FILE = Path(__file__).with_name("digits.npz")

#: SHA-256 of :data:`DIGITS_FILE`; a file that does not match is refused.
DIGITS_SHA256 = "af104d81e7cd419be5f343d23c6ca2e4e4ff847b06636260802df8e903c6183f"

_N, _PIXELS = 1797, 64
_SHAPES = {"flat": (64,), "image": (1, 8, 8)}


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as stored: pixel intensities and labels, unscaled and unsplit.

    Returns
    -------
    images : numpy.ndarray, shape (1797, 64), float64
        Pixel intensities, whole numbers in 0..16, each row an 8x8 image in row-major
        order; equal to ``sklearn.datasets.load_digits().data``.
    labels : numpy.ndarray, shape (1797,), int64
        The digit of each row, 0..9; equal to ``sklearn.datasets.load_digits().target``.

    Raises
    ------
    ValueError
        If the shipped file ``rso_ref/data/digits.npz`` is missing, altered (its SHA-256
        differs from :data:`DIGITS_SHA256`) or not the arrays it should hold; the
        message names the file.
    """
    path = DIGITS_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: the digits data file that ships with rso_ref cannot be "
                         f"read ({exc}); reinstall rso_ref") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest} differs from the recorded {DIGITS_SHA256}: "
                         "the digits data file was altered or corrupted; reinstall rso_ref")
    try:
        with np.load(path, allow_pickle=False) as stored:
            images, labels = stored["images"], stored["labels"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not the digits arrays ({exc})") from exc
    if images.shape != (_N, _PIXELS) or labels.shape != (_N,) \
            or images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 images (1797, 64) and labels (1797,), got "
                         f"{images.dtype} {images.shape} and {labels.dtype} {labels.shape}")
    return images.astype(np.float64), labels.astype(np.int64)


def load_digits(*, layout: str = "flat", test_fraction: float = 0.2, val_fraction: float = 0.0,
                seed: int | np.random.Generator = 0, stratify: bool = True) -> Dataset:
    """The 8x8 digits as a split :class:`Dataset` (host NumPy, float64 in [0, 1]).

    The UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak,
    1998; UCI Machine Learning Repository, DOI 10.24432/C50P49; licence CC BY 4.0),
    shipped with rso_ref: the same 1797 examples as ``sklearn.datasets.load_digits``,
    read from ``rso_ref/data/digits.npz`` without scikit-learn (:func:`digits_arrays`).

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

    Raises
    ------
    ValueError
        If ``layout`` or a fraction is out of range, or the shipped data file is
        missing or altered (:func:`digits_arrays`; the file is named).
    TypeError
        If ``stratify`` is not a bool, or as :func:`rso_ref.data.split_indices` raises
        it for a fraction or ``seed`` of the wrong type.
    """
    check_layout(layout)
    stratify = check_flag(stratify, "stratify")
    images, labels = digits_arrays()
    X = (images / 16.0).reshape((-1,) + _SHAPES[layout])
    return split_arrays("digits", X, labels, n_classes=10, test_fraction=test_fraction,
                        val_fraction=val_fraction, seed=seed, stratify=stratify)
