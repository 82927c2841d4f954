"""The shipped 8x8 digits, the teacher-student data and the load() dispatcher."""
from fractions import Fraction

import numpy as np
import pytest

from rso_ref import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_digits_shapes_dtypes_and_range(digits):
    assert (digits.n_train, digits.n_val, digits.n_test) == (1438, 0, 359)  # round(0.2 * 1797)
    assert digits.X_train.shape == (1438, 64) and digits.X_train.dtype == np.float64
    assert digits.y_train.dtype == np.int64 and digits.n_classes == 10
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0  # 0..16 divided by 16


def test_digits_split_is_stratified_and_deterministic(digits):
    total = np.bincount(np.concatenate([digits.y_train, digits.y_test]))
    assert total.sum() == 1797 and total.min() >= 174
    # stratified: each class's test share is round(0.2 * n_c) to within one example
    assert np.all(np.abs(np.bincount(digits.y_test) - 0.2 * total) <= 1.0 + 1e-12)
    again = data.load_digits()
    assert np.array_equal(again.X_test, digits.X_test)
    other = data.load_digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_digits_image_layout_and_validation_split(digits):
    img = data.load_digits(layout="image", val_fraction=0.1)
    assert img.input_shape == (1, 8, 8) and img.X_test.shape == (359, 1, 8, 8)
    assert (img.n_train, img.n_val) == (1258, 180)
    assert np.array_equal(img.X_test.reshape(359, 64), digits.X_test)  # same test split
    with pytest.raises(ValueError, match="layout must be one of"):
        data.load_digits(layout="nhwc")


def test_shipped_digits_equal_scikit_learns_exactly():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = sklearn_datasets.load_digits()
    images, labels = data.digits_arrays()
    assert images.dtype == bunch.data.dtype and labels.dtype == bunch.target.dtype
    assert np.array_equal(images, bunch.data) and np.array_equal(labels, bunch.target)
    ds = data.load_digits(test_fraction=0.0, stratify=False)
    assert np.array_equal(ds.X_train, bunch.data / 16.0)  # the same division as before


def test_shipped_digits_file_is_small_checked_and_licensed():
    from rso_ref.data import digits

    assert digits.DIGITS_FILE.stat().st_size < 100_000
    licence = digits.DIGITS_FILE.with_name("digits.txt").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "10.24432/C50P49" in licence
    assert "CC BY 4.0" in data.load_digits.__doc__ and "10.24432/C50P49" in digits.__doc__


def test_a_tampered_digits_file_is_a_clear_error_naming_it(tmp_path, monkeypatch):
    from rso_ref.data import digits

    copy = tmp_path / "digits.npz"
    raw = bytearray(digits.DIGITS_FILE.read_bytes())
    raw[-40] ^= 1
    copy.write_bytes(bytes(raw))
    monkeypatch.setattr(digits, "DIGITS_FILE", copy)
    with pytest.raises(ValueError, match="SHA-256 .* altered or corrupted") as info:
        data.load_digits()
    assert str(copy) in str(info.value)
    monkeypatch.setattr(digits, "DIGITS_FILE", tmp_path / "gone.npz")
    with pytest.raises(ValueError, match="gone.npz: the digits data file"):
        data.load_digits()


def test_teacher_classification_is_deterministic_and_learnable_by_construction():
    ds = data.make_teacher(n_train=300, n_test=100, n_features=5, hidden=(8,), n_outputs=3, seed=4)
    assert ds.X_train.shape == (300, 5) and ds.y_train.dtype == np.int64
    assert set(np.unique(ds.y_train)) <= {0, 1, 2} and ds.n_classes == 3
    same = data.make_teacher(n_train=300, n_test=100, n_features=5, hidden=(8,), n_outputs=3,
                             seed=4)
    assert np.array_equal(same.X_test, ds.X_test) and np.array_equal(same.y_test, ds.y_test)
    # Inputs are standard normal: sample moments within ~5 standard errors (1/sqrt(1500)).
    X = ds.X_train
    assert abs(X.mean()) < 5 / np.sqrt(X.size) and abs(X.std() - 1) < 5 / np.sqrt(X.size)


def test_teacher_regression_targets_and_noise():
    clean = data.make_teacher(n_train=200, n_test=50, task="regression", n_outputs=2, seed=1)
    noisy = data.make_teacher(n_train=200, n_test=50, task="regression", n_outputs=2, seed=1,
                              noise=0.5, val_fraction=0.25)
    assert clean.n_classes is None and clean.y_train.shape == (200, 2)
    assert clean.y_val.shape == (0, 2) and noisy.y_val.shape == (50, 2)
    # Same teacher and inputs (noise is drawn last): the test targets differ by the noise only.
    residual = noisy.y_test - clean.y_test
    assert np.array_equal(noisy.X_test, clean.X_test)
    assert 0.35 < residual.std() < 0.65  # 100 draws of N(0, 0.25): std 0.5 +- ~0.035


@pytest.mark.parametrize("kwargs, match", [
    ({"task": "ranking"}, "task must be one of"),
    ({"noise": 0.1}, "noise applies to task='regression' only"),
    ({"hidden": (8, 0)}, r"hidden\[1\] must be an int >= 1"),
    ({"n_outputs": 1}, "n_outputs must be an int >= 2"),
    ({"task": "regression", "noise": -1.0}, "noise must be >= 0"),
    ({"task": "regression", "noise": float("nan")}, "noise must be finite"),
])
def test_teacher_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_teacher(**kwargs)


def test_load_dispatches_by_name_and_names_unknown_ones():
    ds = data.load("teacher", n_train=20, n_test=5, seed=0)
    assert ds.name == "teacher" and ds.n_train == 20
    assert set(data.LOADERS) >= {"digits", "mnist1d", "teacher"}
    with pytest.raises(ValueError, match=r"unknown data set name 'imagenet'.*digits"):
        data.load("imagenet")


def test_sizes_must_be_ints():
    with pytest.raises(TypeError, match="n_train must be an int"):
        data.make_teacher(n_train=10.0)
    with pytest.raises(TypeError, match="n_test must be an int"):
        data.make_mnist1d(n_test=True)


def test_real_scalars_of_any_type_are_accepted_and_used_as_floats():
    # The shared rule (rso_ref.validation): a Fraction is a real number like 0.25; it was
    # refused before. The result must be exactly the float run's.
    half = Fraction(1, 2)
    noisy = data.make_teacher(task="regression", n_outputs=2, noise=half, n_train=20, n_test=5)
    ref = data.make_teacher(task="regression", n_outputs=2, noise=0.5, n_train=20, n_test=5)
    assert np.array_equal(noisy.y_train, ref.y_train) and noisy.y_train.dtype == np.float64
    shapes = data.make_cifar_like(n_train=10, n_test=0, image_size=8, min_contrast=half)
    assert np.array_equal(shapes.X_train, data.make_cifar_like(
        n_train=10, n_test=0, image_size=8, min_contrast=0.5).X_train)
    problem = data.least_squares(20, 4, cond=Fraction(10), noise=np.float32(0.5))
    assert type(problem.cond) is float and problem.cond == 10.0
    with pytest.raises(TypeError, match=r"padding\[1\] must be an int"):
        data.make_mnist1d(n_train=10, n_test=0, padding=(36, 60.0))
