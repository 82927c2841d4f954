r"""Fixture kinds: what a port of each kind is called with, and which outputs it is judged on.

A kind couples a list of cases (:mod:`rso_ref.golden.cases`), a *runner* that calls a
port on a case's stored inputs and gathers its outputs into named quantities, and one
tolerance per quantity. The same runner produces the fixture from the reference port
(:mod:`rso_ref.golden.reference`) and the values a port is compared on, so a port is
always called exactly as the reference was.

Port signatures (lists follow the parameter order ``[W1, b1, ..., WL, bL]``). Arrays
come as host NumPy arrays, or, when a port is verified with ``like=`` (an array of
another namespace or device, :func:`rso_ref.golden.verify`), as arrays of that
namespace on that device, oracles included; a port may return arrays of any supported
backend (they are copied to the host for the comparison). Weights ``w`` and scalars
(losses, counts) are always host values:

``lbfgs``
    ``port(fun, x0, *, m, gtol, ftol, maxiter, maxls, c1, c2) -> {"x", "f", "g", "nfev"}``
    with rows ``k = 0..nit`` (row 0 is the start; ``nfev`` cumulative, 1 at row 0);
    ``fun(x) -> (float, ndarray)``.
``rso_meta``
    ``port(value_and_grad, params, w, *, lr, groups, normalize, X, y, activation, loss)
    -> (f, grad_w)``.
``rso_step``
    ``port(value_and_grad, params, *, lr, groups, meta_iters, w0, normalize, safeguard, m,
    c1, c2, maxls, X, y, activation, loss) -> (params, w)``, or a dict with ``"params"``,
    ``"w"`` and optionally ``"loss_before"``, ``"loss_after"``, ``"nfev"``, ``"nit"``,
    ``"safeguarded"`` (checked when given).
    Called ``steps`` times, each from the port's own previous output.

``value_and_grad`` is the stored model on the stored batch, ready to use; ``X``, ``y``,
``activation`` and ``loss`` (as in the ``mlp`` kind) describe the same model, so that a
port can build its own native (say jitted) oracle instead (schema version 2). A port
written to the schema-1 signature, which names none of them and takes no ``**kwargs``,
is called without them.

Every call hands the port fresh copies of the stored inputs; host arrays are read-only
(``writeable=False``), so writing into an input fails in the case that does it and
cannot leak into a later case.
``optim``
    ``port(name, params, grads, **hyper) -> [params after step 1, ..., after step T]``.
``mlp``
    ``port(params, X, y, *, activation, loss) -> (loss, grads)``.
``hvp``
    ``port(params, X, y, v, *, activation, loss) -> Hv`` (list like ``params``).
``eigen``
    ``port(params, X, y, k, *, activation, loss) -> (eigenvalues (k,), eigenvectors (dim, k))``,
    eigenvalues descending, unit eigenvectors as columns in flattened parameter order.
    A port may return each column with either sign, and any orthonormal basis of the
    eigenspace of clustered eigenvalues (:func:`rso_ref.golden.check.eigenvector_error`
    compares up to that freedom); the fixtures store the columns in the sign convention
    of :func:`eigenvector_signs` (largest-magnitude entry positive).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import backend
from . import cases as _cases

__all__ = ["Kind", "KINDS", "EXACT", "CROSS_CPU_SHARE", "eigenvector_signs"]

#: Tolerance value meaning "must be equal" (integers, flags).
EXACT = 0.0

#: Share of a quantity's tolerance that the rounding of another processor may use: a
#: float computed by the reference on another CPU (another BLAS kernel) differs from the
#: stored one by at most ``CROSS_CPU_SHARE * tolerance``. Measured with the reference
#: ports under ``OPENBLAS_CORETYPE`` = Prescott, Haswell and SkylakeX (SCHEMA.md,
#: "Reproducibility"): the largest difference is 1.3e-9 in the L-BFGS quadratic with
#: m = 3 (0.13 % of its 1e-6; 8.3e-10 on an AMD EPYC), every other kind at most 0.0044 %
#: of its tolerance (rso_step params 4.4e-13 of 1e-8). 1 % sits 7.7x above the worst
#: of them, and 100x below the tolerance a port is held to, so an excess over it is a
#: change of the implementation, not rounding.
CROSS_CPU_SHARE = 0.01

_RSO_KEYS = ("lr", "groups", "meta_iters", "w0", "normalize", "safeguard", "m", "c1", "c2",
             "maxls")
_LBFGS_KEYS = ("m", "gtol", "ftol", "maxiter", "maxls", "c1", "c2")
_RSO_OPTIONAL = ("loss_before", "loss_after", "nfev", "nit", "safeguarded")


@dataclass(frozen=True)
class Kind:
    """One fixture kind.

    Attributes
    ----------
    name : str
    build : callable
        ``build() -> list of cases`` (``{"name", "options", "inputs"}``).
    run : callable
        ``run(port, options, inputs, like) -> {quantity: value}``: calls the port on the
        stored ``inputs`` moved to the namespace and device of ``like`` (host NumPy when
        None); a value is a host array, a number, or a (nested) list of them.
    tolerances : dict
        Quantity -> relative tolerance (:data:`EXACT` for exact equality).
    optional : tuple of str
        Quantities a port may leave out.
    eigenvalues_of : dict
        Quantity of eigenvector columns -> the quantity holding their eigenvalues: such
        columns are compared up to sign, and those of clustered eigenvalues through the
        subspace they span (:func:`rso_ref.golden.check.eigenvector_error`).
    """

    name: str
    build: Callable[[], list]
    run: Callable[[Callable, dict, dict, Any], dict]
    tolerances: dict
    optional: tuple = ()
    eigenvalues_of: dict = field(default_factory=dict)


def eigenvector_signs(vectors: Any) -> np.ndarray:
    r"""The eigenvector sign convention of the fixtures: one sign per column.

    ``vectors * eigenvector_signs(vectors)`` has, in every column, its entry of largest
    magnitude positive (on a tie, the first such entry in flattened parameter order).
    An eigenvector is determined only up to sign, and two correct solvers (or one solver
    on two processors) return either; the reference ``eigen`` port applies this
    convention, so the stored vectors do not depend on the machine that wrote them. The
    convention fixes a sign as reliably as the leading entry stands out: where the two
    largest magnitudes (of opposite signs) agree to within a vector's error, rounding
    may pick either, which is why :func:`rso_ref.golden.check.eigenvector_error` aligns
    a port's columns by their dot product with the reference's instead.

    Parameters
    ----------
    vectors : array_like, shape (dim, k)
        Eigenvectors as columns (host values).

    Returns
    -------
    ndarray, shape (k,)
        ``+1.0`` or ``-1.0`` per column (``+1.0`` for a zero column, or one whose
        largest-magnitude entry is NaN).

    Examples
    --------
    >>> eigenvector_signs([[0.6, -0.8], [-0.8, 0.6]]).tolist()
    [-1.0, -1.0]
    >>> eigenvector_signs([[-0.5], [0.5]]).tolist()  # a tie: the first entry decides
    [-1.0]
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"vectors must be a (dim, k) array of columns, got shape {v.shape}")
    if v.shape[0] == 0:
        return np.ones(v.shape[1])
    lead = v[np.argmax(np.abs(v), axis=0), np.arange(v.shape[1])]  # argmax: first on ties
    return np.where(lead < 0.0, -1.0, 1.0)


def _host(value: Any) -> Any:
    """Nested lists of arrays (any backend)/numbers -> the same nesting of float64/int64
    NumPy values."""
    if isinstance(value, (list, tuple)):
        return [_host(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    array = backend.to_numpy(value)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return array.astype(np.float64) if array.ndim else float(array)


def _on(value: Any, like: Any) -> Any:
    """Stored inputs (nested lists/dicts of host arrays) as fresh arrays of ``like``'s
    namespace and device; fresh *read-only* NumPy copies when ``like`` is None.

    Every call makes new copies (the stored arrays, shared between cases, are never
    handed out), and the runners call it for every call of a port, so a port that writes
    into its inputs (in place, or through an alias such as ``torch.from_numpy``) cannot
    change another call or case: on the host the write itself fails
    (``writeable=False``) and is reported as the port's error for that case.
    """
    if isinstance(value, dict):
        return {k: _on(v, like) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_on(v, like) for v in value]
    if not isinstance(value, np.ndarray):
        return value
    fresh = np.array(value)
    if like is not None:
        return backend.asarray(fresh, like=like)
    fresh.setflags(write=False)
    return fresh


_MODEL_KEYWORDS = ("X", "y", "activation", "loss")


def _takes_model(port: Callable) -> bool:
    """Whether ``port`` accepts the model keywords of schema 2 (by name or ``**kwargs``);
    a port written to the schema-1 signature does not, and is called without them."""
    try:
        parameters = inspect.signature(port).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: assume schema 2
        return True
    names = {p.name for p in parameters}
    return any(p.kind is p.VAR_KEYWORD for p in parameters) or set(_MODEL_KEYWORDS) <= names


def _model_spec(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    """The keywords that let a port build its own oracle (fresh copies of the batch and
    the model's spec), or none for a schema-1 port."""
    if not _takes_model(port):
        return {}
    return {"X": _on(inputs["X"], like), "y": _on(inputs["y"], like),
            "activation": options["activation"], "loss": options["loss"]}


def _run_lbfgs(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    moved = _on(inputs, like)
    out = port(_cases.objective(options, moved), moved["x0"],
               **{k: options[k] for k in _LBFGS_KEYS})
    return {k: np.asarray(_host(out[k])) for k in ("x", "f", "g", "nfev")}


def _run_rso_meta(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    oracle = _cases.model_oracle(options, _on({k: inputs[k] for k in ("params", "X", "y")},
                                              like))
    fs, grads = [], []
    for w in inputs["w"]:  # host weights, as rso_step's w
        f, g = port(oracle, _on(inputs["params"], like), _on(w, None), lr=options["lr"],
                    groups=options["groups"], normalize=options["normalize"],
                    **_model_spec(port, options, inputs, like))
        fs.append(_host(f))
        grads.append(np.asarray(_host(g)))
    return {"f": np.array(fs), "grad_w": np.stack(grads)}


def _run_rso_step(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    moved = _on(inputs, like)
    oracle = _cases.model_oracle(options, moved)  # the oracle keeps its own copies
    params = _on(inputs["params"], like)
    out: dict[str, list] = {"params": [], "w": []}
    for _ in range(options["steps"]):
        result = port(oracle, params, **{k: options[k] for k in _RSO_KEYS},
                      **_model_spec(port, options, inputs, like))
        if not isinstance(result, dict):
            result = dict(zip(("params", "w"), result))
        host = [np.asarray(p) for p in _host(list(result["params"]))]
        out["params"].append(host)
        params = _on(host, like)  # the next step starts from this output, on the device
        out["w"].append(np.asarray(_host(result["w"])))
        for key in _RSO_OPTIONAL:
            if key in result:
                out.setdefault(key, []).append(_host(result[key]))
    return {k: np.array(v) if k != "params" else v for k, v in out.items()}


def _run_optim(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    moved = _on(inputs, like)
    steps = port(options["optimizer"], moved["params"], moved["grads"], **options["hyper"])
    return {"params": _host(list(steps))}


def _run_mlp(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    moved = _on(inputs, like)
    loss, grads = port(moved["params"], moved["X"], moved["y"],
                       activation=options["activation"], loss=options["loss"])
    return {"loss": _host(loss), "grads": _host(list(grads))}


def _run_hvp(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    products = []
    for v in inputs["v"]:
        moved = _on({k: inputs[k] for k in ("params", "X", "y")}, like)
        products.append(port(moved["params"], moved["X"], moved["y"], _on(v, like),
                             activation=options["activation"], loss=options["loss"]))
    return {"hv": _host([list(p) for p in products])}


def _run_eigen(port: Callable, options: dict, inputs: dict, like: Any) -> dict:
    moved = _on(inputs, like)
    values, vectors = port(moved["params"], moved["X"], moved["y"], options["k"],
                           activation=options["activation"], loss=options["loss"])
    return {"eigenvalues": np.asarray(_host(values)), "eigenvectors": np.asarray(_host(vectors))}


#: Relative tolerances, justified in SCHEMA.md ("Tolerances"): single float64 evaluations
#: 1e-10; chained computations loosened by the measured amplification of 1e-15 noise.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("lbfgs", _cases.lbfgs_cases, _run_lbfgs,
         {"x": 1e-6, "f": 1e-6, "g": 1e-6, "nfev": EXACT}),
    Kind("rso_meta", _cases.rso_meta_cases, _run_rso_meta, {"f": 1e-10, "grad_w": 1e-10}),
    Kind("rso_step", _cases.rso_step_cases, _run_rso_step,
         {"params": 1e-8, "w": 1e-8, "loss_before": 1e-8, "loss_after": 1e-8,
          "nfev": EXACT, "nit": EXACT, "safeguarded": EXACT}, optional=_RSO_OPTIONAL),
    Kind("optim", _cases.optim_cases, _run_optim, {"params": 1e-10}),
    Kind("mlp", _cases.mlp_cases, _run_mlp, {"loss": 1e-10, "grads": 1e-10}),
    Kind("hvp", _cases.hessian_cases, _run_hvp, {"hv": 1e-10}),
    Kind("eigen", _cases.hessian_cases, _run_eigen,
         {"eigenvalues": 1e-10, "eigenvectors": 1e-8},
         eigenvalues_of={"eigenvectors": "eigenvalues"}),
)}
