"""CIFAR-shaped synthetic shapes: layout, balance, determinism, the rendering recipe, errors."""
import numpy as np
import pytest

from rso_ref import data
from rso_ref.data import cifar_like


@pytest.fixture(scope="module")
def small():
    return data.make_cifar_like(n_train=50, n_test=30, image_size=16, layout="image")


def test_layout_dtypes_and_balanced_labels(small):
    assert small.X_train.shape == (50, 3, 16, 16) and small.X_test.shape == (30, 3, 16, 16)
    assert small.X_train.dtype == np.float64 and small.y_train.dtype == np.int64
    assert small.n_classes == 10 and small.name == "cifar_like"
    assert np.array_equal(np.bincount(small.y_train), np.full(10, 5))
    assert np.array_equal(np.bincount(small.y_test), np.full(10, 3))
    # normalised with the training split's scalar statistics
    assert abs(small.X_train.mean()) < 1e-12 and abs(small.X_train.std() - 1) < 1e-12
    flat = data.make_cifar_like(n_train=50, n_test=30, image_size=16)
    assert flat.X_train.shape == (50, 768)
    assert np.array_equal(flat.X_train, small.X_train.reshape(50, -1))


def test_same_seed_same_arrays_other_seed_other_arrays(small):
    again = data.load("cifar_like", n_train=50, n_test=30, image_size=16, layout="image")
    assert np.array_equal(again.X_train, small.X_train)
    assert np.array_equal(again.y_test, small.y_test)
    other = data.make_cifar_like(n_train=50, n_test=30, image_size=16, layout="image", seed=1)
    assert not np.allclose(other.X_train, small.X_train)


def test_validation_split_is_carved_from_training():
    ds = data.make_cifar_like(n_train=100, n_test=10, image_size=8, val_fraction=0.2)
    assert (ds.n_train, ds.n_val, ds.n_test) == (80, 20, 10)


def _render(label, size=64, **kwargs):
    gen = np.random.default_rng(3)
    return cifar_like.render_shapes(np.full(8, label), size, gen, noise_scale=0.0,
                                    texture_scale=0.0, **kwargs)


def test_noiseless_pixels_mix_background_and_shape_colours():
    images = _render(list(cifar_like.SHAPES).index("square"))
    for img in images:
        pixels = img.reshape(3, -1).T
        bg = pixels[0]                                # a corner pixel is background
        # every pixel is bg + m (fg - bg) with one m in [0, 1] for all three channels
        far = np.abs(pixels - bg).sum(axis=1)
        fg = pixels[np.argmax(far)]
        direction = fg - bg
        m = (pixels - bg) @ direction / (direction @ direction)
        np.testing.assert_allclose(pixels, bg + m[:, None] * direction, atol=1e-12)
        assert m.min() >= -1e-12 and m.max() <= 1 + 1e-12
        # the shape is the brighter of the two (luma weights of the module)
        assert fg @ cifar_like._LUMA > bg @ cifar_like._LUMA


def test_disk_covers_pi_r_squared():
    size, n = 64, 20
    images = cifar_like.render_shapes(np.zeros(n, dtype=np.int64), size, np.random.default_rng(5),
                                      noise_scale=0.0, texture_scale=0.0)   # class 0: disk
    replay = np.random.default_rng(5)        # render_shapes draws the centres, then the radii
    replay.uniform(-0.3, 0.3, (n, 2))
    radius_px = replay.uniform(0.4, 0.7, n) * size / 2
    for img, r in zip(images, radius_px):
        pixels = img.reshape(3, -1).T
        bg = pixels[0]
        direction = pixels[np.argmax(np.abs(pixels - bg).sum(axis=1))] - bg
        coverage = ((pixels - bg) @ direction / (direction @ direction)).sum()
        # a one-pixel linear edge ramp integrates to the exact area up to O(1/r) of the
        # curvature: within 1 % for radii of 12-23 pixels
        assert coverage == pytest.approx(np.pi * r ** 2, rel=0.01)


def test_signed_distances_have_the_right_sign():
    inside = {name: (0.0, 0.0) for name in cifar_like.SHAPES}
    inside["ring"] = (0.72, 0.0)                  # on the ring; its centre is the hole
    for name, shape in cifar_like.SHAPES.items():
        x, y = (np.array([v]) for v in inside[name])
        assert shape(x, y)[0] < 0, name
        assert shape(np.array([1.5]), np.array([1.5]))[0] > 0, name
    assert cifar_like.SHAPES["ring"](np.array([0.0]), np.array([0.0]))[0] > 0   # the hole
    hbar, vbar = cifar_like.SHAPES["horizontal_bar"], cifar_like.SHAPES["vertical_bar"]
    assert hbar(np.array([0.9]), np.array([0.0]))[0] < 0 < vbar(np.array([0.9]),
                                                                np.array([0.0]))[0]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_train": 0}, ValueError, "n_train"),
    ({"n_train": 2.5}, TypeError, "n_train"),
    ({"image_size": 4}, ValueError, "image_size"),
    ({"noise_scale": -1.0}, ValueError, "noise_scale"),
    ({"min_contrast": 1.0}, ValueError, "min_contrast"),
    ({"layout": "nhwc"}, ValueError, "layout"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_cifar_like(**{"n_train": 10, "n_test": 10, **kwargs})
