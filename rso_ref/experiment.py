"""Models and data sets by name, as experiments build them.

The layer below both :mod:`rso_ref.compare` (the harness behind ``rso-ref compare``) and
:mod:`rso_ref.claims`: a model is built by name and sized for a data set
(:func:`make_model`), and a data set is loaded by name with the experiments' fixed
protocol (split seed 0, standardised with training statistics, moved to a backend;
:func:`load_dataset`). Optimizers by name are in :mod:`rso_ref.optim.registry`.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

from . import data as datasets
from .nn import MLP

__all__ = ["MODELS", "LAYOUT", "INPUT_RANK", "make_model", "check_fits", "check_data_options",
           "load_dataset"]


def _mlp(ds: Any, hidden: Sequence[int] = (128, 128), **options: Any) -> MLP:
    n_in = math.prod(ds.input_shape)
    return MLP((n_in, *hidden, ds.n_classes), **options)


def _convnet1d(ds: Any, **options: Any) -> Any:
    from .nn import ConvNet1D

    channels, length = ds.input_shape
    return ConvNet1D(length=length, n_classes=ds.n_classes, in_channels=channels, **options)


def _image_model(kind: str) -> Callable[..., Any]:
    def build(ds: Any, **options: Any) -> Any:
        from . import nn

        return getattr(nn, kind)(input_shape=ds.input_shape, n_classes=ds.n_classes, **options)

    return build


#: Model factories ``(dataset, **model_options) -> model``.
MODELS: dict[str, Callable[..., Any]] = {
    "mlp": _mlp,
    "convnet1d": _convnet1d,
    "convnet2d": _image_model("ConvNet2D"),
    "resnet": _image_model("ResNet"),
}

#: The input layout (:data:`rso_ref.data.LAYOUTS`) each model reads.
LAYOUT: dict[str, str] = {"mlp": "flat", "convnet1d": "image", "convnet2d": "image",
                          "resnet": "image"}

#: The number of input dimensions each model reads (``None``: any, it flattens them).
INPUT_RANK: dict[str, int | None] = {"mlp": None, "convnet1d": 2, "convnet2d": 3, "resnet": 3}
_RANK_TEXT = {2: "(channels, length) inputs", 3: "(C, H, W) images"}

#: Loader arguments the protocol fixes (never data options).
_FIXED = ("seed", "layout", "val_fraction")


def check_fits(name: str, ds: Any) -> None:
    """Check that model ``name`` (a key of :data:`MODELS`) can read dataset ``ds``'s inputs.

    Raises
    ------
    ValueError
        Unknown model, or inputs of another rank than :data:`INPUT_RANK` says (e.g.
        ``convnet1d`` on images); the message starts with ``model``.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    rank = INPUT_RANK[name]
    if rank is not None and len(ds.input_shape) != rank:
        raise ValueError(f"model: {name} needs {_RANK_TEXT[rank]}; {ds.name} has "
                         f"{tuple(ds.input_shape)}")


def make_model(name: str, ds: Any, **options: Any) -> Any:
    """The model ``name`` (a key of :data:`MODELS`) sized for dataset ``ds``.

    ``options`` go to the model's constructor (e.g. ``hidden=(64,)`` for the MLP,
    ``widths=[8, 16]`` for the ResNet); :func:`check_fits` checks the pair first.
    """
    check_fits(name, ds)
    return MODELS[name](ds, **options)


def check_data_options(name: str, options: dict) -> None:
    """Check that data set ``name`` exists and takes ``options``, without loading it.

    Raises
    ------
    ValueError
        Unknown data set (message starts with ``data``); an option its loader does not
        take, one the protocol fixes (``seed``, ``layout``, ``val_fraction``), or a
        missing ``path`` of a file-backed data set (messages start with ``data_options``).
    """
    if name not in datasets.LOADERS:
        raise ValueError(f"data: unknown data set name {name!r}; choose one of "
                         f"{sorted(datasets.LOADERS)}")
    fixed = sorted(set(_FIXED) & set(options))
    if fixed:
        raise ValueError(f"data_options must not set {fixed}: the protocol fixes the split "
                         "seed, the layout (from the model) and the validation share")
    accepted = inspect.signature(datasets.LOADERS[name]).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"data_options: {unknown} are not options of data {name!r} "
                         f"(it takes {sorted(set(accepted) - set(_FIXED))})")
    path = accepted.get("path")
    if path is not None and path.default is inspect.Parameter.empty and "path" not in options:
        raise ValueError(f"data_options: data {name!r} is read from files you have: give "
                         "their directory as data_options={'path': DIR} (rso-ref compare "
                         "--data-path DIR)")


def load_dataset(name: str, *, model: str = "mlp", backend: str = "numpy",
                 dtype: str = "float64", val_fraction: float = 0.0, **options: Any) -> Any:
    """Load data set ``name`` for ``model``: split seed 0, standardised, on ``backend``.

    Parameters
    ----------
    name : str
        A key of :data:`rso_ref.data.LOADERS`.
    model : str, default "mlp"
        The model that will read it (a key of :data:`MODELS`): sets the layout.
    backend, dtype : str
        Where the arrays go (:func:`rso_ref.data.to_backend`).
    val_fraction : float, default 0
        Share of the training data carved out as a validation split (for tuning).
    **options
        Loader options (e.g. ``path="~/cifar"``, ``image_size=16``), checked by
        :func:`check_data_options`.

    Returns
    -------
    Dataset
        Standardised with the training split's statistics only.
    """
    if model not in LAYOUT:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    check_data_options(name, options)
    fixed = {"seed": 0, "val_fraction": val_fraction}
    if "layout" in inspect.signature(datasets.LOADERS[name]).parameters:
        fixed["layout"] = LAYOUT[model]  # a loader without it has flat inputs only
    ds = datasets.load(name, **fixed, **options)
    ds, _, _ = datasets.standardize(ds)
    return datasets.to_backend(ds, backend, dtype=dtype)
