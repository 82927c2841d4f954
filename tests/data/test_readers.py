"""MNIST IDX and CIFAR-10 binary readers, on small files written by the tests."""
import gzip
import struct

import numpy as np
import pytest

from rso_ref import data
from rso_ref.data import read_idx
from rso_ref.data.readers import CIFAR10_FILES, MNIST_FILES


def write_idx(path, array, type_byte=0x08, compress=False):
    """An IDX file written from the format description (independent of the reader)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.asarray(array, dtype=dtype[type_byte]).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)
    return path


def make_mnist_dir(directory, n_train=6, n_test=4, rows=5, cols=3, compress=False, seed=0):
    gen = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = gen.integers(0, 256, (n, rows, cols), dtype=np.uint8)
        labels = gen.integers(0, 10, n, dtype=np.uint8)
        image_stem, label_stem = MNIST_FILES[split]
        suffix = ".gz" if compress else ""
        write_idx(directory / (image_stem + suffix), images, compress=compress)
        write_idx(directory / (label_stem + suffix), labels, compress=compress)
        arrays[split] = images, labels
    return arrays


def make_cifar_dir(directory, per_batch=3, seed=0):
    gen = np.random.default_rng(seed)
    arrays = {}
    for split, names in CIFAR10_FILES.items():
        images, labels = [], []
        for name in names:
            img = gen.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            lab = gen.integers(0, 10, per_batch, dtype=np.uint8)
            records = b"".join(bytes([lab[i]]) + img[i].tobytes() for i in range(per_batch))
            (directory / name).write_bytes(records)
            images.append(img)
            labels.append(lab)
        arrays[split] = np.concatenate(images), np.concatenate(labels)
    return arrays


# ----------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("type_byte, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                              (0x0C, np.int32), (0x0D, np.float32),
                                              (0x0E, np.float64)])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_every_type(tmp_path, type_byte, dtype, compress):
    gen = np.random.default_rng(0)
    array = (gen.standard_normal((3, 4, 2)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a.idx.gz" if compress else tmp_path / "a.idx", array, type_byte,
                     compress)
    out = read_idx(path)
    assert out.dtype == dtype and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_idx_corrupted_files_fail_clearly(tmp_path):
    good = write_idx(tmp_path / "good", np.arange(12, dtype=np.uint8).reshape(3, 4))
    raw = good.read_bytes()
    cases = {
        "bad magic number": b"\x01\x02" + raw[2:],
        "bad magic": raw[:2] + b"\x07" + raw[3:],       # unknown type byte
        "truncated: 15 bytes": raw[:-9],                 # header 12 + 12 data bytes
        "has trailing bytes": raw + b"\x00",
        "truncated IDX header": raw[:6],
    }
    for match, payload in cases.items():
        path = tmp_path / "bad"
        path.write_bytes(payload)
        with pytest.raises(ValueError, match=match) as info:
            read_idx(path)
        assert str(path) in str(info.value)  # the file is named
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot be read"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(tmp_path / "missing")


# ----------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_round_trip(tmp_path, compress):
    arrays = make_mnist_dir(tmp_path, compress=compress)
    ds = data.load("mnist", path=tmp_path, layout="image")
    assert ds.name == "mnist" and ds.n_classes == 10 and ds.input_shape == (1, 5, 3)
    for split, (images, labels) in arrays.items():
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        assert X.dtype == np.float64 and y.dtype == np.int64
        np.testing.assert_array_equal(X[:, 0] * 255, images.astype(np.float64))  # k/255*255 = k
        np.testing.assert_array_equal(y, labels)
    flat = data.load_mnist(tmp_path, dtype="float32", val_fraction=0.5, seed=1)
    assert flat.X_train.shape == (3, 15) and flat.n_val == 3 and flat.X_train.dtype == np.float32


def test_load_mnist_errors(tmp_path):
    make_mnist_dir(tmp_path)
    labels = tmp_path / MNIST_FILES["test"][1]
    write_idx(labels, np.zeros(5, dtype=np.uint8))  # 4 test images, 5 labels
    with pytest.raises(ValueError, match="holds 4 images but .* holds 5 labels"):
        data.load_mnist(tmp_path)
    write_idx(labels, np.full(4, 10, dtype=np.uint8))
    with pytest.raises(ValueError, match="label 10 is outside 0-9"):
        data.load_mnist(tmp_path)
    write_idx(labels, np.zeros((4, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="expected a 1-D uint8 IDX array"):
        data.load_mnist(tmp_path)
    labels.unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[.gz\] not found"):
        data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="MNIST directory not found"):
        data.load_mnist(tmp_path / "nowhere")
    with pytest.raises(TypeError, match="dtype must be float64 or float32"):
        data.load_mnist(tmp_path, dtype="int8")


def test_load_mnist_rejects_mismatched_image_sizes(tmp_path):
    make_mnist_dir(tmp_path)
    write_idx(tmp_path / MNIST_FILES["test"][0], np.zeros((4, 6, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"images of shape \(5, 3\) but .* has \(6, 3\)"):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------------- CIFAR-10
def test_load_cifar10_round_trip_and_parent_directory(tmp_path):
    inner = tmp_path / "cifar-10-batches-bin"
    inner.mkdir()
    arrays = make_cifar_dir(inner)
    for where in (inner, tmp_path):
        ds = data.load("cifar10", path=where, layout="image")
        assert ds.input_shape == (3, 32, 32) and (ds.n_train, ds.n_test) == (15, 3)
        for split, (images, labels) in arrays.items():
            X = getattr(ds, f"X_{split}")
            np.testing.assert_array_equal(X * 255, images.astype(np.float64))
            np.testing.assert_array_equal(getattr(ds, f"y_{split}"), labels)
    flat = data.load_cifar10(inner)
    # flat layout keeps the stored channel-major order: R plane, then G, then B
    np.testing.assert_array_equal(flat.X_test[0, 1024:2048] * 255,
                                  arrays["test"][0][0, 1].ravel().astype(np.float64))


def test_load_cifar10_errors(tmp_path):
    make_cifar_dir(tmp_path)
    batch = tmp_path / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-1])
    with pytest.raises(ValueError, match="not a positive multiple of the 3073-byte"):
        data.load_cifar10(tmp_path)
    make_cifar_dir(tmp_path)
    record = bytearray(batch.read_bytes())
    record[0] = 12
    batch.write_bytes(bytes(record))
    with pytest.raises(ValueError, match="label 12 is outside 0-9"):
        data.load_cifar10(tmp_path)
    batch.unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.bin"):
        data.load_cifar10(tmp_path)


def test_load_cifar10_refuses_the_pickle_version(tmp_path):
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    (py / "data_batch_1").write_bytes(b"\x80\x04pickled")
    with pytest.raises(ValueError, match="python version.*binary version"):
        data.load_cifar10(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 binary files"):
        data.load_cifar10(empty)


def _header_only(path, shape):
    """An IDX header (uint8) with ``shape`` and no elements."""
    path.write_bytes(bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape))
    return path


@pytest.mark.parametrize("shape", [(2**32 - 1,) * 3, (0, 2**32 - 1, 2**32 - 1)],
                         ids=["product-overflows-int64", "zero-times-huge"])
def test_read_idx_refuses_sizes_numpy_cannot_address(tmp_path, shape):
    # int64 arithmetic would wrap (first) or accept an empty array NumPy cannot shape
    # (second); both are a ValueError naming the file, for read_idx and load_mnist.
    path = _header_only(tmp_path / "huge.idx", shape)
    with pytest.raises(ValueError, match="more than NumPy can address") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    make_mnist_dir(tmp_path)
    images = _header_only(tmp_path / MNIST_FILES["train"][0], shape)
    with pytest.raises(ValueError, match="more than NumPy can address") as info:
        data.load_mnist(tmp_path)
    assert str(images) in str(info.value)


def test_load_mnist_refuses_zero_images_and_names_the_file(tmp_path):
    make_mnist_dir(tmp_path, n_train=0)  # a valid, consistent pair holding 0 images
    images = tmp_path / MNIST_FILES["train"][0]
    assert read_idx(images).shape == (0, 5, 3)  # as a file it is valid
    with pytest.raises(ValueError, match="holds no pixels") as info:
        data.load_mnist(tmp_path)
    assert str(images) in str(info.value)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_cifar10])
def test_loaders_say_a_file_is_not_a_directory(tmp_path, loader):
    path = tmp_path / "archive.tar.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(NotADirectoryError, match="not a directory") as info:
        loader(path)
    assert str(path) in str(info.value) and "not found" not in str(info.value)
    with pytest.raises(TypeError, match="path must be a str or path"):
        loader(None)
