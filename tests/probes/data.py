"""Probes of the data loaders and generators (``rso_ref.data``) and the IDX reader.

The file probes write their IDX files and CIFAR-10 batches into the probe's
``tmp_path`` from the format description (independent of the reader). Generators are
called with tiny sizes so that every probe runs in milliseconds.
"""
from __future__ import annotations

import struct

import numpy as np

from probes import Probe
from rso_ref import data
from rso_ref.data.readers import CIFAR10_FILES, MNIST_FILES

_IMAGES, _LABELS = MNIST_FILES["train"]
_TEST_IMAGES, _TEST_LABELS = MNIST_FILES["test"]


def _idx(path, shape, payload=b"", type_byte=0x08):
    """Write an IDX file: magic ``00 00 type ndim``, big-endian uint32 sizes, payload."""
    path.write_bytes(bytes([0, 0, type_byte, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
                     + payload)
    return path


def _mnist_dir(directory, n_train=2, n_test=2, rows=3, cols=3):
    """A valid MNIST directory of tiny images (0 images where asked)."""
    for (image, label), n in (((_IMAGES, _LABELS), n_train),
                              ((_TEST_IMAGES, _TEST_LABELS), n_test)):
        _idx(directory / image, (n, rows, cols), bytes(n * rows * cols))
        _idx(directory / label, (n,), bytes(n))
    return directory


def _mnist_with_train_images(tmp_path, shape, payload=b""):
    """A valid MNIST directory whose training images file has the header ``shape``."""
    _mnist_dir(tmp_path)
    _idx(tmp_path / _IMAGES, shape, payload)
    return data.load_mnist(tmp_path)


def _cifar_dir(directory, record_bytes=3073):
    """Six one-record CIFAR-10 binary batches of ``record_bytes`` bytes each."""
    for name in CIFAR10_FILES["train"] + CIFAR10_FILES["test"]:
        (directory / name).write_bytes(bytes(record_bytes))
    return directory


def _regular_file(tmp_path):
    path = tmp_path / "mnist.tar"
    path.write_bytes(b"not a directory")
    return path


def _check_mnist(ds):
    assert (ds.n_train, ds.n_test) == (2, 2) and ds.X_train.shape == (2, 9), ds
    assert ds.X_train.dtype == np.float64 and ds.y_train.dtype == np.int64


def _check_small(n_train, n_test):
    def check(ds):
        assert (ds.n_train, ds.n_test) == (n_train, n_test), (ds.n_train, ds.n_test)
        assert np.all(np.isfinite(ds.X_train))
    return check


def _check_shape(array, shape):
    assert array.shape == shape, (array.shape, shape)


def _check_empty(array):
    assert array.shape == (0, 4) and array.dtype == np.uint8, (array.shape, array.dtype)


def _check_digits(ds):
    assert (ds.n_train, ds.n_val, ds.n_test) == (1438, 0, 359)
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0


_HUGE = 2**32 - 1

PROBES = [
    # -- load_digits: shipped data, no scikit-learn --------------------------------------
    Probe("rso_ref.data.load_digits", "defaults give the 1438/359 split",
          lambda t: data.load_digits(), check=_check_digits),
    Probe("rso_ref.data.load_digits", "layout 'nhwc'", lambda t: data.load_digits(layout="nhwc"),
          raises=ValueError, match="layout"),
    Probe("rso_ref.data.load_digits", "test_fraction 1.5",
          lambda t: data.load_digits(test_fraction=1.5), raises=ValueError, match="test_fraction"),
    Probe("rso_ref.data.load_digits", "val_fraction -0.1",
          lambda t: data.load_digits(val_fraction=-0.1), raises=ValueError, match="val_fraction"),
    Probe("rso_ref.data.load_digits", "seed a string", lambda t: data.load_digits(seed="0"),
          raises=TypeError, match="seed"),
    Probe("rso_ref.data.load_digits", "stratify a string",
          lambda t: data.load_digits(stratify="yes"), raises=TypeError, match="stratify"),
    # -- generators ---------------------------------------------------------------------
    Probe("rso_ref.data.make_mnist1d", "tiny sizes work",
          lambda t: data.make_mnist1d(n_train=20, n_test=10), check=_check_small(20, 10)),
    Probe("rso_ref.data.make_mnist1d", "n_train -1", lambda t: data.make_mnist1d(n_train=-1),
          raises=ValueError, match="n_train"),
    Probe("rso_ref.data.make_mnist1d", "n_test 1.5", lambda t: data.make_mnist1d(n_test=1.5),
          raises=TypeError, match="n_test"),
    Probe("rso_ref.data.make_mnist1d", "padding reversed",
          lambda t: data.make_mnist1d(padding=(5, 2)), raises=ValueError, match="padding"),
    Probe("rso_ref.data.make_cifar_like", "tiny sizes work",
          lambda t: data.make_cifar_like(n_train=10, n_test=10, image_size=8),
          check=_check_small(10, 10)),
    Probe("rso_ref.data.make_cifar_like", "image_size 0",
          lambda t: data.make_cifar_like(image_size=0), raises=ValueError, match="image_size"),
    Probe("rso_ref.data.make_cifar_like", "n_train None",
          lambda t: data.make_cifar_like(n_train=None), raises=TypeError, match="n_train"),
    Probe("rso_ref.data.make_cifar_like", "min_contrast 2",
          lambda t: data.make_cifar_like(min_contrast=2.0), raises=ValueError,
          match="min_contrast"),
    Probe("rso_ref.data.make_teacher", "tiny sizes work",
          lambda t: data.make_teacher(n_train=8, n_test=4, n_features=3, hidden=(4,)),
          check=_check_small(8, 4)),
    Probe("rso_ref.data.make_teacher", "task 'ranking'",
          lambda t: data.make_teacher(task="ranking"), raises=ValueError, match="task"),
    Probe("rso_ref.data.make_teacher", "hidden (0,)", lambda t: data.make_teacher(hidden=(0,)),
          raises=ValueError, match=r"hidden\[0\]"),
    Probe("rso_ref.data.make_teacher", "noise -1",
          lambda t: data.make_teacher(task="regression", noise=-1.0), raises=ValueError,
          match="noise"),
    # -- read_idx -----------------------------------------------------------------------
    Probe("rso_ref.data.read_idx", "path None", lambda t: data.read_idx(None),
          raises=TypeError, match="path"),
    Probe("rso_ref.data.read_idx", "missing file", lambda t: data.read_idx(t / "absent"),
          raises=FileNotFoundError, match="absent"),
    Probe("rso_ref.data.read_idx", "a directory", lambda t: data.read_idx(t),
          raises=IsADirectoryError, match="is a directory"),
    Probe("rso_ref.data.read_idx", "sizes whose product overflows int64",
          lambda t: data.read_idx(_idx(t / "big.idx", (_HUGE, _HUGE, _HUGE))),
          raises=ValueError, match=r"big\.idx.*more than NumPy can address"),
    Probe("rso_ref.data.read_idx", "sizes (0, 2**32-1, 2**32-1)",
          lambda t: data.read_idx(_idx(t / "zero.idx", (0, _HUGE, _HUGE))),
          raises=ValueError, match=r"zero\.idx.*more than NumPy can address"),
    Probe("rso_ref.data.read_idx", "truncated payload",
          lambda t: data.read_idx(_idx(t / "short.idx", (2, 3), bytes(5))),
          raises=ValueError, match=r"short\.idx: truncated"),
    Probe("rso_ref.data.read_idx", "bad magic number",
          lambda t: data.read_idx(_idx(t / "magic.idx", (1,), bytes(1), type_byte=0x07)),
          raises=ValueError, match=r"magic\.idx: not an IDX file"),
    Probe("rso_ref.data.read_idx", "an empty array is read as one",
          lambda t: data.read_idx(_idx(t / "empty.idx", (0, 4))),
          check=_check_empty),
    # -- load_mnist ---------------------------------------------------------------------
    Probe("rso_ref.data.load_mnist", "a valid tiny directory",
          lambda t: data.load_mnist(_mnist_dir(t)), check=_check_mnist),
    Probe("rso_ref.data.load_mnist", "path None", lambda t: data.load_mnist(None),
          raises=TypeError, match="path"),
    Probe("rso_ref.data.load_mnist", "missing directory", lambda t: data.load_mnist(t / "absent"),
          raises=FileNotFoundError, match=r"directory not found: .*absent"),
    Probe("rso_ref.data.load_mnist", "a regular file, not a directory",
          lambda t: data.load_mnist(_regular_file(t)),
          raises=NotADirectoryError, match=r"not a directory.*mnist\.tar"),
    Probe("rso_ref.data.load_mnist", "images header overflows int64",
          lambda t: _mnist_with_train_images(t, (_HUGE, _HUGE, _HUGE)),
          raises=ValueError, match=rf"{_IMAGES}.*more than NumPy can address"),
    Probe("rso_ref.data.load_mnist", "images header (0, 2**32-1, 2**32-1)",
          lambda t: _mnist_with_train_images(t, (0, _HUGE, _HUGE)),
          raises=ValueError, match=rf"{_IMAGES}.*more than NumPy can address"),
    Probe("rso_ref.data.load_mnist", "a valid pair of files holding 0 images",
          lambda t: data.load_mnist(_mnist_dir(t, n_train=0)),
          raises=ValueError, match=rf"{_IMAGES}: holds no pixels"),
    Probe("rso_ref.data.load_mnist", "images of 0 columns",
          lambda t: data.load_mnist(_mnist_dir(t, cols=0)),
          raises=ValueError, match=rf"{_IMAGES}: holds no pixels"),
    Probe("rso_ref.data.load_mnist", "labels file missing",
          lambda t: (_mnist_dir(t), (t / _TEST_LABELS).unlink(), data.load_mnist(t)),
          raises=FileNotFoundError, match=_TEST_LABELS),
    Probe("rso_ref.data.load_mnist", "dtype int32",
          lambda t: data.load_mnist(_mnist_dir(t), dtype="int32"), raises=TypeError,
          match="dtype"),
    Probe("rso_ref.data.load_mnist", "val_fraction 1.0, before reading files",
          lambda t: data.load_mnist(t / "absent", val_fraction=1.0), raises=ValueError,
          match="val_fraction"),
    # -- load_cifar10 -------------------------------------------------------------------
    Probe("rso_ref.data.load_cifar10", "six one-record batches",
          lambda t: data.load_cifar10(_cifar_dir(t), layout="image"),
          check=lambda ds: _check_shape(ds.X_train, (5, 3, 32, 32))),
    Probe("rso_ref.data.load_cifar10", "path 3", lambda t: data.load_cifar10(3),
          raises=TypeError, match="path"),
    Probe("rso_ref.data.load_cifar10", "missing directory",
          lambda t: data.load_cifar10(t / "absent"), raises=FileNotFoundError,
          match=r"directory not found: .*absent"),
    Probe("rso_ref.data.load_cifar10", "a regular file, not a directory",
          lambda t: data.load_cifar10(_regular_file(t)), raises=NotADirectoryError,
          match=r"not a directory.*mnist\.tar"),
    Probe("rso_ref.data.load_cifar10", "a batch of partial records",
          lambda t: data.load_cifar10(_cifar_dir(t, record_bytes=3074)),
          raises=ValueError, match=r"data_batch_1\.bin: 3074 bytes"),
]
