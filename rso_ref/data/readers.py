r"""Readers for MNIST (IDX files) and CIFAR-10/100 (binary batches) a user already has.

Nothing is downloaded and nothing is unpickled: both formats are plain big-endian
binary records, read here with :func:`numpy.frombuffer` after checking every header
field and every size, so a truncated or foreign file fails with a message saying which
file and what was expected.

Notes
-----
**IDX** [1]_ (MNIST): a 4-byte magic number ``0x00 0x00 T D`` (two zero bytes, the
element type ``T`` and the number of dimensions ``D``), then ``D`` big-endian uint32
sizes, then the elements in row-major order, big-endian. Types: ``0x08`` uint8,
``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64.
MNIST images are ``T = 0x08, D = 3`` (magic 2051), labels ``T = 0x08, D = 1`` (2049).
Files may be gzip-compressed (``.gz``), as distributed.

**CIFAR-10 binary version** [2]_: ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
``test_batch.bin``, each a sequence of 3073-byte records: one label byte (0-9), then
1024 red, 1024 green and 1024 blue bytes of a 32x32 image in row-major order. The
"python version" of CIFAR-10 is a pickle and is refused.

**CIFAR-100 binary version** [2]_: ``train.bin`` and ``test.bin``, each a sequence of
3074-byte records: the coarse label byte (0-19), the fine label byte (0-99), then the
3072 pixel bytes as for CIFAR-10. Its "python version" is refused likewise.

Pixels are scaled to :math:`[0, 1]` (divided by 255). float64 by default as everywhere
in rso_ref: the full CIFAR-10 then takes 1.5 GB (``dtype="float32"`` halves it).

References
----------
.. [1] Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits"
   (1998), http://yann.lecun.com/exdb/mnist/ (file format section).
.. [2] A. Krizhevsky, "Learning multiple layers of features from tiny images", tech.
   report, University of Toronto (2009); https://www.cs.toronto.edu/~kriz/cifar.html
"""
from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import check_fraction
from .dataset import Dataset, check_layout
from .splits import split_validation

__all__ = ["read_idx", "load_mnist", "load_cifar10", "load_cifar100", "MNIST_FILES",
           "CIFAR10_FILES", "CIFAR100_FILES"]

#: IDX element-type byte -> big-endian NumPy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: MNIST file stems per split (each may also end in ".gz").
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

#: CIFAR-10 binary batches per split.
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                 "test": ("test_batch.bin",)}

#: CIFAR-100 binary files per split.
CIFAR100_FILES = {"train": ("train.bin",), "test": ("test.bin",)}

_CIFAR_SHAPE = (3, 32, 32)
_CIFAR_RECORD = 1 + 3 * 32 * 32
_N_CLASSES = 10


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError) as exc:  # gzip reports corruption as OSError/EOFError
        raise ValueError(f"{path}: cannot be read ({exc})") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or ``.gz``) into a native-endian NumPy array.

    Parameters
    ----------
    path : str or Path
        The file; gzip-compressed when its name ends in ``.gz``.

    Returns
    -------
    numpy.ndarray
        A writeable copy with the shape of the header's sizes and the dtype of its type
        byte (module Notes), in native byte order: e.g. ``uint8`` of shape
        ``(60000, 28, 28)`` for the MNIST training images.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path.
    ValueError
        If the magic number is wrong, the type byte unknown, the header's sizes
        describe an array too large to address, or the file is shorter or longer than
        its header says (the file is named).
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    """
    path = _as_path(path, "path")
    if path.is_dir():
        raise IsADirectoryError(f"IDX path is a directory, not a file: {path}")
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty'}; "
                         f"expected 0000 followed by a type byte in "
                         f"{sorted(hex(t) for t in IDX_TYPES)} and a dimension count)")
    dtype, ndim = np.dtype(IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions "
                         f"need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    # Python integers: a product of uint32 sizes can overflow int64 (and NumPy's int64
    # product wraps silently). The sizes other than zero must also describe an array
    # NumPy can address, or even an empty one (a 0 among them) cannot be shaped.
    nonzero = math.prod(s for s in shape if s) * dtype.itemsize
    if nonzero > np.iinfo(np.intp).max:
        raise ValueError(f"{path}: IDX header sizes {shape} ({dtype.name}) describe an array "
                         f"of {nonzero} bytes, more than NumPy can address (corrupt header?)")
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{path}: {kind}: {len(data)} bytes, but the header (shape {shape}, "
                         f"{dtype.name}) implies {expected}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # native byte order, writeable copy


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {directory}")


def _as_path(path: Any, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{name} must be a str or path, got {type(path).__name__}")
    return Path(path)


def _check_directory(path: str | Path, what: str) -> Path:
    directory = _as_path(path, "path")
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{what} path is not a directory (give the directory that "
                                 f"holds the files): {directory}")
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} directory not found: {directory}")
    return directory


def _feature_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype("float64" if dtype is None else dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from exc
    if resolved not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}")
    return resolved


def _features(pixels: np.ndarray, layout: str, dtype: np.dtype) -> np.ndarray:
    scaled = pixels.astype(dtype) / dtype.type(255)
    return scaled.reshape(pixels.shape[0], -1) if layout == "flat" else scaled


def _check_labels(labels: np.ndarray, path: Path, n_classes: int = _N_CLASSES) -> np.ndarray:
    if labels.size and labels.max() >= n_classes:
        raise ValueError(f"{path}: label {int(labels.max())} is outside 0-{n_classes - 1}")
    return labels.astype(np.int64)


def _mnist_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray, Path]:
    image_path, label_path = (_find(directory, stem) for stem in MNIST_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{image_path}: expected a 3-D uint8 IDX array (magic 2051), got "
                         f"{images.ndim}-D {images.dtype}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{label_path}: expected a 1-D uint8 IDX array (magic 2049), got "
                         f"{labels.ndim}-D {labels.dtype}")
    if images.shape[0] == 0 or 0 in images.shape[1:]:
        raise ValueError(f"{image_path}: holds no pixels (shape {images.shape}; expected the "
                         f"MNIST {split} images, e.g. (60000, 28, 28))")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_path} holds {images.shape[0]} images but {label_path} holds "
                         f"{labels.shape[0]} labels")
    return images[:, None], _check_labels(labels, label_path), image_path


def load_mnist(path: str | Path, *, layout: str = "flat", dtype: Any = None,
               val_fraction: float = 0.0, seed: int | np.random.Generator = 0) -> Dataset:
    """Load MNIST (or Fashion-MNIST, same format) from a directory of IDX files.

    Parameters
    ----------
    path : str or Path
        Directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or ``.gz``.
    layout : {"flat", "image"}, default "flat"
        Features ``(n, rows * cols)`` or ``(n, 1, rows, cols)``.
    dtype : {"float64", "float32"}, optional
        Feature dtype (float64 by default); pixels are divided by 255.
    val_fraction : float in [0, 1), default 0
        Stratified share of the training split moved to a validation split.
    seed : int or numpy.random.Generator, default 0
        Seed of that validation split.

    Returns
    -------
    Dataset
        ``name="mnist"``, ``n_classes=10``, int64 labels; the official train/test split.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path.
    FileNotFoundError
        If the directory or one of the four files is missing.
    NotADirectoryError
        If ``path`` is a file, not a directory.
    ValueError
        If a file is corrupt, of the wrong kind, holds no images, or images and labels
        disagree in number or image size (the file is named).
    """
    check_layout(layout)
    dtype = _feature_dtype(dtype)
    check_fraction(val_fraction, "val_fraction")  # before reading any file
    directory = _check_directory(path, "MNIST")
    X_tr, y_tr, tr_path = _mnist_split(directory, "train")
    X_te, y_te, te_path = _mnist_split(directory, "test")
    if X_tr.shape[1:] != X_te.shape[1:]:
        raise ValueError(f"{tr_path} has images of shape {X_tr.shape[2:]} but {te_path} has "
                         f"{X_te.shape[2:]}")
    X_tr, X_te = _features(X_tr, layout, dtype), _features(X_te, layout, dtype)
    ds = Dataset("mnist", X_tr, y_tr, X_tr[:0], y_tr[:0], X_te, y_te, _N_CLASSES, X_tr.shape[1:])
    return split_validation(ds, val_fraction, seed=seed) if val_fraction else ds


def _cifar_directory(path: str | Path, name: str, files: dict, binary: str, pickled: str,
                     pickled_markers: tuple[str, ...], archive: str) -> Path:
    """The folder holding the binary files of CIFAR-10 or CIFAR-100 (``name``): ``path``
    itself or its ``binary`` subfolder. The pickled "python version" (found by one of
    ``pickled_markers`` in ``path`` or its ``pickled`` subfolder) is refused by name."""
    directory = _check_directory(path, name)
    for candidate in (directory, directory / binary):
        if (candidate / files["test"][0]).is_file():
            return candidate
    for candidate in (directory, directory / pickled):
        if any((candidate / marker).is_file() for marker in pickled_markers):
            raise ValueError(
                f"{candidate} holds the {name} 'python version' (pickled batches), which "
                "rso_ref refuses to load (unpickling can run arbitrary code); download the "
                f"'binary version' ({archive}) from https://www.cs.toronto.edu/~kriz/cifar.html")
    raise FileNotFoundError(f"no {name} binary files ({files['test'][0]}) in "
                            f"{directory} or {directory / binary}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch not found: {path}")
    data = _read_bytes(path)
    if len(data) == 0 or len(data) % _CIFAR_RECORD:
        raise ValueError(f"{path}: {len(data)} bytes is not a positive multiple of the "
                         f"{_CIFAR_RECORD}-byte CIFAR-10 record (truncated or not a binary batch)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    return records[:, 1:].reshape((-1,) + _CIFAR_SHAPE), _check_labels(records[:, 0], path)


def load_cifar10(path: str | Path, *, layout: str = "flat", dtype: Any = None,
                 val_fraction: float = 0.0, seed: int | np.random.Generator = 0) -> Dataset:
    """Load CIFAR-10 from the binary batches of its "binary version".

    Parameters
    ----------
    path : str or Path
        Directory holding ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
        ``test_batch.bin``, or its parent (with ``cifar-10-batches-bin/``).
    layout : {"flat", "image"}, default "flat"
        Features ``(n, 3072)`` (channel-major, as stored) or ``(n, 3, 32, 32)``.
    dtype : {"float64", "float32"}, optional
        Feature dtype (float64 by default); pixels are divided by 255.
    val_fraction : float in [0, 1), default 0
        Stratified share of the training batches moved to a validation split.
    seed : int or numpy.random.Generator, default 0
        Seed of that validation split.

    Returns
    -------
    Dataset
        ``name="cifar10"``, ``n_classes=10``, int64 labels; 50000 / 10000 examples for
        the full set.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path.
    FileNotFoundError
        If the directory or a batch is missing.
    NotADirectoryError
        If ``path`` is a file, not a directory.
    ValueError
        If a batch is not a whole number of records or holds a label above 9, or the
        directory holds the pickled "python version" instead.
    """
    check_layout(layout)
    dtype = _feature_dtype(dtype)
    check_fraction(val_fraction, "val_fraction")  # before reading any file
    directory = _cifar_directory(path, "CIFAR-10", CIFAR10_FILES, "cifar-10-batches-bin",
                                 "cifar-10-batches-py", ("data_batch_1", "test_batch"),
                                 "cifar-10-binary.tar.gz, files data_batch_1.bin ... "
                                 "test_batch.bin")
    splits = {}
    for split, names in CIFAR10_FILES.items():
        batches = [_cifar_batch(directory / name) for name in names]
        pixels = np.concatenate([b[0] for b in batches])
        splits[split] = _features(pixels, layout, dtype), np.concatenate([b[1] for b in batches])
    (X_tr, y_tr), (X_te, y_te) = splits["train"], splits["test"]
    ds = Dataset("cifar10", X_tr, y_tr, X_tr[:0], y_tr[:0], X_te, y_te, _N_CLASSES, X_tr.shape[1:])
    return split_validation(ds, val_fraction, seed=seed) if val_fraction else ds


#: CIFAR-100 label kinds: record byte offset of the label and number of classes.
_CIFAR100_LABELS = {"coarse": (0, 20), "fine": (1, 100)}
_CIFAR100_RECORD = 2 + 3 * 32 * 32


def _cifar100_file(path: Path, labels: str) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-100 file not found: {path}")
    data = _read_bytes(path)
    if len(data) == 0 or len(data) % _CIFAR100_RECORD:
        raise ValueError(f"{path}: {len(data)} bytes is not a positive multiple of the "
                         f"{_CIFAR100_RECORD}-byte CIFAR-100 record (truncated or not a binary "
                         "file)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR100_RECORD)
    offset, n_classes = _CIFAR100_LABELS[labels]
    return (records[:, 2:].reshape((-1,) + _CIFAR_SHAPE),
            _check_labels(records[:, offset], path, n_classes))


def load_cifar100(path: str | Path, *, labels: str = "fine", layout: str = "flat",
                  dtype: Any = None, val_fraction: float = 0.0,
                  seed: int | np.random.Generator = 0) -> Dataset:
    """Load CIFAR-100 from the two files of its "binary version".

    Parameters
    ----------
    path : str or Path
        Directory holding ``train.bin`` and ``test.bin``, or its parent (with
        ``cifar-100-binary/``).
    labels : {"fine", "coarse"}, default "fine"
        The 100 fine classes or the 20 coarse superclasses.
    layout : {"flat", "image"}, default "flat"
        Features ``(n, 3072)`` (channel-major, as stored) or ``(n, 3, 32, 32)``.
    dtype : {"float64", "float32"}, optional
        Feature dtype (float64 by default); pixels are divided by 255.
    val_fraction : float in [0, 1), default 0
        Stratified share of the training file moved to a validation split.
    seed : int or numpy.random.Generator, default 0
        Seed of that validation split.

    Returns
    -------
    Dataset
        ``name="cifar100"``, ``n_classes`` 100 (fine) or 20 (coarse), int64 labels;
        50000 / 10000 examples for the full set.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path.
    FileNotFoundError
        If the directory or a file is missing.
    NotADirectoryError
        If ``path`` is a file, not a directory.
    ValueError
        If ``labels`` is neither "fine" nor "coarse", a file is not a whole number of
        records or holds a label out of range, or the directory holds the pickled
        "python version" instead.
    """
    if labels not in _CIFAR100_LABELS:
        raise ValueError(f"labels must be 'fine' or 'coarse', got {labels!r}")
    check_layout(layout)
    dtype = _feature_dtype(dtype)
    check_fraction(val_fraction, "val_fraction")  # before reading any file
    directory = _cifar_directory(path, "CIFAR-100", CIFAR100_FILES, "cifar-100-binary",
                                 "cifar-100-python", ("train", "test"),
                                 "cifar-100-binary.tar.gz, files train.bin and test.bin")
    splits = {}
    for split, (name,) in CIFAR100_FILES.items():
        pixels, y = _cifar100_file(directory / name, labels)
        splits[split] = _features(pixels, layout, dtype), y
    (X_tr, y_tr), (X_te, y_te) = splits["train"], splits["test"]
    n_classes = _CIFAR100_LABELS[labels][1]
    ds = Dataset("cifar100", X_tr, y_tr, X_tr[:0], y_tr[:0], X_te, y_te, n_classes,
                 X_tr.shape[1:])
    return split_validation(ds, val_fraction, seed=seed) if val_fraction else ds
