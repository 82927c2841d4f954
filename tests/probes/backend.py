"""Probes of every callable in ``rso_ref.backend.__all__``."""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref import backend as b
from rso_ref.validation import NonFiniteError

_B = "rso_ref.backend"


def _numpy_namespace():
    return b.namespace("numpy")


def _math():
    """A module with an ``asarray`` that is no backend of rso_ref."""
    import types

    module = types.ModuleType("fake_arrays")
    module.asarray = lambda x: x
    return module


def _unexpected(result):
    raise AssertionError(f"unexpected result {result!r}")


def _is_none(result):
    assert result is None, f"expected None, got {result!r}"


def _is_false(result):
    assert result is False, f"expected False, got {result!r}"


def _fuse_with(**options):
    return b.fused(**options)(lambda xp, x, k: x)


def _fused_products(_):
    """A fused function runs as written on NumPy: the same result as the plain call."""
    xp = _numpy_namespace()
    double = b.fused(static_argnames=("k",))(lambda xp, x, k: k * x)
    return double(xp, xp.ones(3), 2), double


def _doubles(result):
    out, double = result
    np.testing.assert_array_equal(out, 2.0 * np.ones(3))
    assert double.__wrapped__ is not None  # functools.wraps keeps the function


def _traced_start(_):
    """check_concrete inside jax.jit (skipped without JAX)."""
    import pytest

    jax = pytest.importorskip("jax")
    return jax.jit(lambda x: b.check_concrete([x], ["x0"], "minimize", "Jit fun instead.")
                   or x)(np.ones(2))


PROBES = [
    Probe(f"{_B}.check_concrete", "concrete NumPy arrays",
          lambda _: b.check_concrete([np.ones(2)], ["x"], "f", "."), check=_is_none),
    Probe(f"{_B}.check_concrete", "a traced array", _traced_start, raises=TypeError,
          match=r"^minimize cannot run inside jax\.jit .*: x0 is a traced value.*Jit fun"),
    Probe(f"{_B}.placement", "a list", lambda _: b.placement([1.0, 2.0]),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.placement", "a NumPy array", lambda _: b.placement(np.ones(2)),
          check=lambda where: None if where == "cpu" else _unexpected(where)),
    Probe(f"{_B}.committed", "a string namespace", lambda _: b.committed("jax", []),
          raises=TypeError, match=r"^xp must be an array namespace"),
    Probe(f"{_B}.committed", "a bare array",
          lambda _: b.committed(_numpy_namespace(), np.ones(2)),
          raises=TypeError, match=r"^arrays must be a list or tuple of arrays, got ndarray"),
    Probe(f"{_B}.committed", "NumPy arrays as they are",
          lambda _: (lambda a: (a, b.committed(_numpy_namespace(), [a])))(np.ones(2)),
          check=lambda r: None if r[1][0] is r[0] else _unexpected(r)),
    Probe(f"{_B}.private_copy", "a list", lambda _: b.private_copy([1.0], _numpy_namespace()),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.private_copy", "a writeable NumPy array is copied",
          lambda _: (lambda a: (a, b.private_copy(a, _numpy_namespace())))(np.ones(2)),
          check=lambda r: None if r[1] is not r[0] and np.array_equal(r[0], r[1])
          else _unexpected(r)),
    Probe(f"{_B}.compiles", "a string", lambda _: b.compiles("jax"),
          raises=TypeError, match=r"^xp must be an array namespace"),
    Probe(f"{_B}.compiles", "NumPy's namespace", lambda _: b.compiles(_numpy_namespace()),
          check=_is_false),
    Probe(f"{_B}.fused", "one name as a string", lambda _: _fuse_with(static_argnames="k"),
          raises=TypeError, match=r"^static_argnames must be a sequence of parameter names, "
                                  r"got 'k'; wrap one name in a tuple"),
    Probe(f"{_B}.fused", "an unknown name", lambda _: _fuse_with(donate_argnames=("y",)),
          raises=ValueError, match=r"^donate_argnames names 'y', which is not a parameter"),
    Probe(f"{_B}.fused", "the namespace named static", lambda _: _fuse_with(
          static_argnames=("xp",)), raises=ValueError, match=r"^static_argnames names 'xp'"),
    Probe(f"{_B}.fused", "runs as written on NumPy", _fused_products, check=_doubles),
    Probe(f"{_B}.namespace", "unknown backend", lambda _: b.namespace("tensorflow"),
          raises=ValueError, match=r"^backend must be one of"),
    Probe(f"{_B}.array_namespace", "a string", lambda _: b.array_namespace("abc"),
          raises=TypeError, match=r"must be an array of a supported library, got str"),
    Probe(f"{_B}.array_namespace", "a named string",
          lambda _: b.array_namespace(np.ones(2), "abc", names=["x", "y"]),
          raises=TypeError, match=r"^y must be an array of a supported library, got str"),
    Probe(f"{_B}.array_namespace", "only Python lists",
          lambda _: b.array_namespace([1.0, 2.0]),
          raises=TypeError, match=r"needs at least one array, got list.*numpy\.asarray"),
    Probe(f"{_B}.array_namespace", "names of another length",
          lambda _: b.array_namespace(np.ones(2), names=["x", "y"]),
          raises=ValueError, match=r"^names must name each of the 1 arrays"),
    Probe(f"{_B}.backend_name", "a string", lambda _: b.backend_name("numpy"),
          raises=TypeError, match=r"^xp must be an array namespace"),
    Probe(f"{_B}.backend_name", "another library's module", lambda _: b.backend_name(_math()),
          raises=ValueError, match=r"^xp must be an array namespace of one of"),
    Probe(f"{_B}.device", "a list", lambda _: b.device([1.0, 2.0]),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.is_numpy", "a string", lambda _: b.is_numpy("numpy"),
          raises=TypeError, match=r"^xp must be an array namespace"),
    Probe(f"{_B}.is_numpy", "an array", lambda _: b.is_numpy(np.ones(2)),
          raises=TypeError, match=r"^xp must be an array namespace.*got ndarray"),
    Probe(f"{_B}.index_dtype", "a string", lambda _: b.index_dtype("numpy"),
          raises=TypeError, match=r"^xp must be an array namespace"),
    Probe(f"{_B}.keep_zero_d", "None", lambda _: b.keep_zero_d(None),
          raises=TypeError, match=r"^leaves must be a list"),
    Probe(f"{_B}.to_numpy", "None", lambda _: b.to_numpy(None),
          raises=TypeError, match=r"^x must be an array or a number, got NoneType"),
    Probe(f"{_B}.to_numpy", "a string", lambda _: b.to_numpy("abc"),
          raises=TypeError, match=r"^x must be an array or a number, got str"),
    Probe(f"{_B}.asarray", "like and device", lambda _: b.asarray(np.ones(2), like=np.ones(2),
                                                                  device="cpu"),
          raises=ValueError, match=r"^pass like or device, not both"),
    Probe(f"{_B}.asarray", "dtype float16", lambda _: b.asarray(np.ones(2), dtype="float16"),
          raises=TypeError, match=r"^dtype must be one of"),
    Probe(f"{_B}.rng", "seed negative", lambda _: b.rng(-1),
          raises=ValueError, match=r"^seed must be a non-negative int, got -1"),
    Probe(f"{_B}.rng", "seed None", lambda _: b.rng(None),
          raises=TypeError, match=r"^seed must be an int or a numpy Generator"),
    Probe(f"{_B}.random_normal", "seed negative", lambda _: b.random_normal(3, seed=-1),
          raises=ValueError, match=r"^seed must be a non-negative int"),
    Probe(f"{_B}.random_uniform", "seed a float", lambda _: b.random_uniform(3, seed=1.5),
          raises=TypeError, match=r"^seed must be an int"),
    Probe(f"{_B}.synchronize", "a string", lambda _: b.synchronize("abc"),
          raises=TypeError, match=r"^xp must be an array"),
    Probe(f"{_B}.resolve_dtype", "float16",
          lambda _: b.resolve_dtype(_numpy_namespace(), "float16"),
          raises=TypeError, match=r"^dtype must be one of"),
    Probe(f"{_B}.check_array", "a list", lambda _: b.check_array([1.0], "X"),
          raises=TypeError, match=r"^X must be an array, got list.*numpy\.asarray"),
    Probe(f"{_B}.check_floating", "integers", lambda _: b.check_floating(np.arange(3), "X"),
          raises=TypeError, match=r"^X must have a real floating dtype"),
    Probe(f"{_B}.check_floating", "a list", lambda _: b.check_floating([1.0], "X"),
          raises=TypeError, match=r"^X must be an array, got list"),
    Probe(f"{_B}.check_finite", "NaN", lambda _: b.check_finite(np.array([1.0, np.nan]), "X"),
          raises=NonFiniteError, match=r"^X contains 1 NaN entry$"),
    Probe(f"{_B}.check_finite", "a list", lambda _: b.check_finite([1.0], "X"),
          raises=TypeError, match=r"^X must be an array, got list"),
    Probe(f"{_B}.erf", "a list", lambda _: b.erf([0.5]),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.is_traced", "a string", lambda _: b.is_traced("abc"), check=_is_false),
    Probe(f"{_B}.put", "a list", lambda _: b.put([1.0, 2.0], 0, 5.0),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.at", "a string", lambda _: b.at("abc"),
          raises=TypeError, match=r"^x must be an array, got str"),
    Probe(f"{_B}.one_hot", "labels a list", lambda _: b.one_hot([0, 1], 3),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.one_hot", "num_classes zero", lambda _: b.one_hot(np.array([0, 1]), 0),
          raises=ValueError, match=r"^num_classes must be >= 1"),
    Probe(f"{_B}.sliding_windows", "window zero",
          lambda _: b.sliding_windows(np.ones((1, 1, 5)), 0),
          raises=ValueError, match=r"^window must be an int >= 1"),
    Probe(f"{_B}.sliding_windows", "x a list",
          lambda _: b.sliding_windows([[[1.0, 2.0, 3.0]]], 2),
          raises=TypeError, match=r"^x must be an array, got list"),
    Probe(f"{_B}.sliding_windows_adjoint", "stride zero",
          lambda _: b.sliding_windows_adjoint(np.ones((1, 1, 2, 2)), (1, 1, 5), 0),
          raises=ValueError, match=r"^stride must be an int >= 1"),
]
