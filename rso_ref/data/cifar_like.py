r"""CIFAR-shaped synthetic images: ten rendered shapes on textured colour backgrounds.

The RSO paper's Table 1 uses CIFAR-100 and ImageNet, which cannot ship with the
library and cannot be downloaded in CI. :func:`make_cifar_like` generates, offline and
from one seed, a 10-class data set with CIFAR-10's layout, ``(n, 3, S, S)`` RGB images
(``S = 32`` by default) with int64 labels, on which the same models and training code
run. It is not a statistical stand-in for natural images; it is designed so that

* the label is carried by *shape* only (colours, position, size, rotation, texture and
  noise are drawn independently of the class), so a model must be invariant to those
  nuisances;
* the shapes move over the whole image, so translation-equivariant convnets beat an MLP
  of similar size;
* near-confusable pairs (square / diamond, bars at 0 / 45 / 90 degrees under rotation
  jitter, disk / ring at small sizes) keep the accuracy of small models well below 100 %.

Recipe
------
For each example, with :math:`c` its class and all draws independent:

1. centre :math:`(x_0, y_0) \sim \mathcal U[-0.3, 0.3]^2` and radius
   :math:`r \sim \mathcal U[0.4, 0.7]` (image coordinates :math:`[-1, 1]^2`), rotation
   :math:`\phi \sim \mathcal U[-\phi_{\max}, \phi_{\max}]` (``max_rotation``, default 20
   degrees);
2. the class's signed distance function :math:`d_c(p)` (negative inside; table
   :data:`SHAPES`) at the local coordinates :math:`p = R_{-\phi}((x, y) - (x_0, y_0))/r`;
3. coverage :math:`m = \operatorname{clip}(1/2 - d_c\, r S / 2, 0, 1)`, i.e. a one-pixel
   linear ramp across the edge (box anti-aliasing);
4. foreground and background colours :math:`f, b \sim \mathcal U[0, 1]^3`, redrawn (at
   most 20 times, then kept) until their luminances differ by at least
   ``min_contrast``, then swapped where needed so that the shape is the brighter
   (with a contrast sign flipping at random, small models stayed near chance within
   a CPU budget);
5. image :math:`x = b (1 - m) + f m + \tau + \sigma \xi`: a background texture
   :math:`\tau` (a sum of three random plane waves per channel, amplitude
   ``texture_scale`` / 3 each, up to 3 cycles per image) and pixel noise
   :math:`\xi \sim \mathcal N(0, 1)` with :math:`\sigma` = ``noise_scale``;
6. features are normalised by the training split's scalar mean and standard deviation.

Labels are balanced within each split (as :func:`~rso_ref.data.make_mnist1d`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import backend
from ..validation import check_fraction, check_int, check_nonnegative
from .dataset import Dataset, check_layout
from .splits import generated_dataset

__all__ = ["make_cifar_like", "SHAPES", "render_shapes"]

_N_CLASSES = 10
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights


def _bar(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(x) - 1.0, np.abs(y) - 0.28)


def _diagonal(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = np.sqrt(0.5)
    return _bar(s * (x + y), s * (y - x))


#: Signed distance (in units of the radius r) of each class's shape, negative inside.
SHAPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "disk": lambda x, y: np.hypot(x, y) - 1.0,
    "square": lambda x, y: np.maximum(np.abs(x), np.abs(y)) - 0.8,
    "triangle": lambda x, y: np.maximum(0.866 * np.abs(x) + 0.5 * y, -y) - 0.5,
    "plus": lambda x, y: np.minimum(_bar(x, y), _bar(y, x)),
    "ring": lambda x, y: np.abs(np.hypot(x, y) - 0.72) - 0.24,
    "horizontal_bar": _bar,
    "vertical_bar": lambda x, y: _bar(y, x),
    "diagonal_bar": _diagonal,
    "cross": lambda x, y: np.minimum(_diagonal(x, y), _diagonal(-x, y)),
    "diamond": lambda x, y: np.abs(x) + np.abs(y) - 1.0,
}


def _colours(n: int, gen: np.random.Generator,
             min_contrast: float) -> tuple[np.ndarray, np.ndarray]:
    fg, bg = gen.random((n, 3)), gen.random((n, 3))
    for _ in range(20):
        low = np.abs((fg - bg) @ _LUMA) < min_contrast
        if not low.any():
            break
        fg[low], bg[low] = gen.random((int(low.sum()), 3)), gen.random((int(low.sum()), 3))
    darker = (fg @ _LUMA) < (bg @ _LUMA)
    fg[darker], bg[darker] = bg[darker], fg[darker].copy()
    return fg, bg


def _texture(n: int, grid: np.ndarray, gen: np.random.Generator,
             scale: float) -> np.ndarray:
    """Per channel: the sum of three random plane waves of up to 3 cycles per image."""
    freq = gen.uniform(0.5, 3.0, (n, 3, 3)) * np.pi          # cycles over [-1, 1] -> rad
    angle = gen.uniform(0.0, np.pi, (n, 3, 3))
    phase = gen.uniform(0.0, 2 * np.pi, (n, 3, 3))
    x, y = grid
    arg = (freq * np.cos(angle))[..., None, None] * x + (freq * np.sin(angle))[..., None, None] * y
    return scale / 3 * np.sin(arg + phase[..., None, None]).sum(axis=2)


def render_shapes(labels: np.ndarray, size: int, gen: np.random.Generator, *,
                  max_rotation: float = 20.0, noise_scale: float = 0.05,
                  texture_scale: float = 0.1, min_contrast: float = 0.25) -> np.ndarray:
    """Images ``(n, 3, size, size)`` of the classes ``labels`` (steps 1-5 of the Recipe)."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    centre = gen.uniform(-0.3, 0.3, (n, 2))
    radius = gen.uniform(0.4, 0.7, n)
    phi = np.deg2rad(gen.uniform(-max_rotation, max_rotation, n))
    fg, bg = _colours(n, gen, min_contrast)
    axis = (np.arange(size) + 0.5) * (2.0 / size) - 1.0      # pixel centres in [-1, 1]
    grid = np.stack(np.meshgrid(axis, axis, indexing="xy"))  # (2, S, S): x right, y down
    dx = grid[0] - centre[:, :1, None]
    dy = grid[1] - centre[:, 1:, None]
    cos, sin = np.cos(phi)[:, None, None], np.sin(phi)[:, None, None]
    r = radius[:, None, None]
    u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r
    sdf = np.empty_like(u)
    for c, shape in enumerate(SHAPES.values()):
        members = labels == c
        sdf[members] = shape(u[members], -v[members])          # -v: y up inside the shape
    coverage = np.clip(0.5 - sdf * r * size / 2, 0.0, 1.0)[:, None]
    images = bg[..., None, None] * (1 - coverage) + fg[..., None, None] * coverage
    images += _texture(n, grid, gen, texture_scale)
    images += noise_scale * gen.standard_normal(images.shape)
    return images


def _balanced_labels(n: int, gen: np.random.Generator) -> np.ndarray:
    return gen.permutation(np.arange(n) % _N_CLASSES).astype(np.int64)


def make_cifar_like(*, n_train: int = 5000, n_test: int = 1000, image_size: int = 32,
                    seed: int | np.random.Generator = 0, layout: str = "flat",
                    max_rotation: float = 20.0, noise_scale: float = 0.05,
                    texture_scale: float = 0.1, min_contrast: float = 0.25,
                    val_fraction: float = 0.0) -> Dataset:
    """Generate the CIFAR-shaped shapes data set (module Recipe).

    Parameters
    ----------
    n_train, n_test : int, default 5000, 1000
        Examples per split, labels balanced within each split.
    image_size : int, default 32
        Side ``S`` of the square images (CIFAR's 32; 16 renders 4x fewer pixels). At
        least 8.
    seed : int or numpy.random.Generator, default 0
        The only source of randomness: the same seed gives the same arrays.
    layout : {"flat", "image"}, default "flat"
        ``(n, 3 S S)`` features (as the other loaders), or ``(n, 3, S, S)``
        channels-first images for convnets.
    max_rotation : float, default 20
        Largest absolute rotation of a shape, in degrees.
    noise_scale, texture_scale : float, default 0.05, 0.1
        Pixel-noise standard deviation and background-texture amplitude (images in [0, 1]
        before both).
    min_contrast : float in [0, 1), default 0.25
        Smallest luminance difference between shape and background.
    val_fraction : float in [0, 1), default 0
        Stratified share of the training examples moved to a validation split.

    Returns
    -------
    Dataset
        ``name="cifar_like"``, ``n_classes=10``, float64 features, int64 labels.

    Examples
    --------
    >>> ds = make_cifar_like(n_train=20, n_test=10, image_size=16, layout="image")
    >>> ds.X_train.shape, ds.n_classes
    ((20, 3, 16, 16), 10)
    """
    check_layout(layout)
    for name, value, low in (("n_train", n_train, 1), ("n_test", n_test, 0),
                             ("image_size", image_size, 8)):
        check_int(value, name, low)
    options = {name: check_nonnegative(value, name) for name, value in (
        ("max_rotation", max_rotation), ("noise_scale", noise_scale),
        ("texture_scale", texture_scale))}
    options["min_contrast"] = check_fraction(min_contrast, "min_contrast")
    gen = backend.rng(seed)
    y_train, y_test = _balanced_labels(n_train, gen), _balanced_labels(n_test, gen)
    x_train = render_shapes(y_train, image_size, gen, **options)
    x_test = render_shapes(y_test, image_size, gen, **options)
    shape = (3, image_size, image_size) if layout == "image" else (3 * image_size ** 2,)
    return generated_dataset("cifar_like", x_train, y_train, x_test, y_test, _N_CLASSES, shape,
                             val_fraction=val_fraction, gen=gen)
