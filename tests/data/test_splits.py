"""The Dataset record, to_backend, splits, minibatches and train-only standardisation."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.data import (Dataset, minibatches, split_indices, split_validation, standardize,
                          to_backend)
from rso_ref.testing import assert_close


def _toy(n_train=30, n_test=12, n_classes=3, seed=0):
    gen = np.random.default_rng(seed)
    return Dataset("toy", gen.normal(2.0, 3.0, (n_train, 4)), np.arange(n_train) % n_classes,
                   np.zeros((0, 4)), np.zeros(0, dtype=np.int64),
                   gen.normal(2.0, 3.0, (n_test, 4)), np.arange(n_test) % n_classes,
                   n_classes, (4,))


# ----------------------------------------------------------------------------- Dataset
def test_dataset_checks_shapes_and_names_the_split():
    ds = _toy()
    assert (ds.n_train, ds.n_val, ds.n_test) == (30, 0, 12)
    with pytest.raises(ValueError, match="X_test has 12 rows but y_test has 11"):
        ds.replace(y_test=ds.y_test[:11])
    with pytest.raises(ValueError, match="X_train has example shape"):
        ds.replace(input_shape=(5,))


def test_to_backend_moves_every_array_with_the_policy_dtypes(xp):
    ds = _toy()
    moved = to_backend(ds, xp)
    assert moved.name == "toy" and moved.n_classes == 3 and moved.input_shape == (4,)
    for split in ("train", "val", "test"):
        X, y = getattr(moved, f"X_{split}"), getattr(moved, f"y_{split}")
        assert X.dtype == xp.float64 and y.dtype == xp.int64
        assert backend.backend_name(backend.array_namespace(X)) == backend.backend_name(xp)
        # moving is a copy of the same float64 numbers: exact
        np.testing.assert_array_equal(backend.to_numpy(X), getattr(ds, f"X_{split}"))
        np.testing.assert_array_equal(backend.to_numpy(y), getattr(ds, f"y_{split}"))
    assert to_backend(ds, xp, dtype="float32").X_train.dtype == xp.float32


def _arrays(ds):
    return [getattr(ds, f"{kind}_{split}") for kind in "Xy" for split in ("train", "val", "test")]


def test_to_backend_puts_every_array_on_the_requested_device(xp, on_device):
    real, device = backend.array_namespace(xp.zeros(1)), backend.device(xp.zeros(1))
    moved = to_backend(_toy(), real, device=device)
    on_device(_arrays(moved))
    np.testing.assert_array_equal(backend.to_numpy(moved.X_train), _toy().X_train)


def test_to_backend_on_a_float32_only_device(xp32, on_device):
    real, device = backend.array_namespace(xp32.zeros(1)), backend.device(xp32.zeros(1))
    moved = to_backend(_toy(), real, dtype="float32", device=device)
    on_device(_arrays(moved))
    assert moved.X_train.dtype == real.float32
    # labels take the device's index dtype: int32 where it has no int64 ("no_x64")
    assert moved.y_train.dtype == real.__array_namespace_info__().default_dtypes(
        device=device)["indexing"]
    np.testing.assert_array_equal(backend.to_numpy(moved.y_train), _toy().y_train)
    with pytest.raises(ValueError, match="float64 is not supported on device"):
        to_backend(_toy(), real, device=device)


def test_to_backend_keeps_regression_targets_floating():
    ds = _toy()
    reg = ds.replace(n_classes=None, y_train=np.ones((30, 2)), y_test=np.ones((12, 2)),
                     y_val=np.ones((0, 2)))
    moved = to_backend(reg, "numpy", dtype="float32")
    assert moved.y_train.dtype == np.float32 and moved.y_train.shape == (30, 2)


def test_to_backend_rejects_bad_arguments():
    with pytest.raises(TypeError, match="ds must be a Dataset"):
        to_backend({"X": 1}, "numpy")
    with pytest.raises(ValueError, match="backend must be one of"):
        to_backend(_toy(), "tensorflow")
    with pytest.raises(TypeError, match="backend_or_xp must be a backend name"):
        to_backend(_toy(), np.zeros(3))
    with pytest.raises(TypeError, match="dtype must be"):
        to_backend(_toy(), "numpy", dtype="int32")


# ----------------------------------------------------------------------------- splits
@pytest.mark.parametrize("stratify", [True, False])
def test_split_indices_partition_range_n_and_repeat_per_seed(stratify):
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val, test = split_indices(y, test_fraction=0.2, val_fraction=0.1, seed=3,
                                     stratify=stratify)
    assert (len(train), len(val), len(test)) == (70, 10, 20)  # round(fraction * 100)
    joined = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(joined), np.arange(100))  # disjoint and complete
    again = split_indices(y, test_fraction=0.2, val_fraction=0.1, seed=3, stratify=stratify)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = split_indices(y, test_fraction=0.2, val_fraction=0.1, seed=4, stratify=stratify)
    assert not np.array_equal(test, other[2])


def test_stratified_split_keeps_class_proportions_within_one_example():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    for seed in range(5):
        train, val, test = split_indices(y, test_fraction=0.2, val_fraction=0.1, seed=seed)
        for part, share in ((test, 0.2), (val, 0.1), (train, 0.7)):
            counts = np.bincount(y[part], minlength=4)
            # Any prefix of the interleaved order holds round(share * n_c) +- 1 of class c.
            assert np.all(np.abs(counts - share * np.bincount(y)) <= 1.0 + 1e-12), (seed, counts)


def test_split_indices_rejects_bad_arguments():
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=r"test_fraction must be in \[0, 1\)"):
        split_indices(y, test_fraction=1.0)
    with pytest.raises(ValueError, match="leave no training examples"):
        split_indices(y, test_fraction=0.6, val_fraction=0.4)
    with pytest.raises(TypeError, match="val_fraction must be a real number"):
        split_indices(y, test_fraction=0.2, val_fraction="0.1")
    with pytest.raises(ValueError, match="needs y to be an array of labels"):
        split_indices(10, test_fraction=0.2)
    with pytest.raises(ValueError, match="non-negative integer class labels"):
        split_indices(np.linspace(0, 1, 10), test_fraction=0.2)
    with pytest.raises(TypeError, match="seed must be"):
        split_indices(10, test_fraction=0.2, stratify=False, seed=None)


def test_split_validation_moves_training_examples_only():
    ds = _toy(n_train=40)
    out = split_validation(ds, 0.25, seed=1)
    assert (out.n_train, out.n_val, out.n_test) == (30, 10, 12)
    rows = np.concatenate([out.X_train, out.X_val])
    assert np.array_equal(np.sort(rows[:, 0]), np.sort(ds.X_train[:, 0]))
    assert out.X_test is ds.X_test
    with pytest.raises(ValueError, match="already has a validation split"):
        split_validation(out, 0.1)


# ----------------------------------------------------------------------------- minibatches
@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (1, 5), (0, 2)])
def test_minibatches_cover_every_index_once_per_epoch(n, batch_size):
    batches = list(minibatches(n, batch_size, 0))
    assert all(b.dtype == np.int64 for b in batches)
    assert all(len(b) == batch_size for b in batches[:-1])
    joined = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
    assert np.array_equal(np.sort(joined), np.arange(n))


def test_minibatches_shuffle_per_seed_and_drop_last():
    first = np.concatenate(list(minibatches(20, 6, 7)))
    assert np.array_equal(first, np.concatenate(list(minibatches(20, 6, 7))))
    assert not np.array_equal(first, np.arange(20))
    # One generator threaded through two epochs gives two different orders.
    gen = np.random.default_rng(0)
    e1, e2 = (np.concatenate(list(minibatches(20, 6, gen))) for _ in range(2))
    assert not np.array_equal(e1, e2)
    dropped = list(minibatches(20, 6, 7, drop_last=True))
    assert [len(b) for b in dropped] == [6, 6, 6]
    assert np.array_equal(np.concatenate(dropped), first[:18])
    ordered = list(minibatches(7, 3, shuffle=False))
    assert np.array_equal(np.concatenate(ordered), np.arange(7))


def test_minibatches_reject_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        next(minibatches(10, 0, 0))
    with pytest.raises(TypeError, match="n must be an int"):
        next(minibatches(10.0, 2, 0))
    with pytest.raises(TypeError, match="seed_or_rng is required"):
        next(minibatches(10, 2))


# ----------------------------------------------------------------------------- standardize
def test_standardize_uses_training_statistics_only(xp):
    ds = to_backend(_toy(n_train=50, n_test=20), xp)
    out, mean, std = standardize(ds)
    Xtr, Xte = backend.to_numpy(out.X_train), backend.to_numpy(out.X_test)
    # Centring with the exact training mean leaves round-off of the mean (~1e-16 * |X|).
    np.testing.assert_allclose(Xtr.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Xtr.std(axis=0), 1.0, rtol=1e-12)
    assert np.all(np.abs(Xte.mean(axis=0)) > 1e-3)  # a different sample: not centred
    host = backend.to_numpy(ds.X_train)
    assert_close(mean, xp.asarray(host.mean(axis=0)))
    assert_close(std, xp.asarray(host.std(axis=0)))
    assert_close(out.X_test, (ds.X_test - mean) / std)
    assert out.y_train is ds.y_train


def test_standardize_leaves_constant_features_centred_not_scaled():
    ds = _toy()
    X = ds.X_train.copy()
    X[:, 1] = 0.3  # constant: computed std is round-off, not zero
    X[:, 2] = 0.0
    out, _, std = standardize(ds.replace(X_train=X))
    assert std[1] == 1.0 and std[2] == 1.0
    np.testing.assert_allclose(out.X_train[:, 1:3], 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="no training examples"):
        standardize(ds.replace(X_train=X[:0], y_train=ds.y_train[:0]))
