import importlib

import numpy as np
import pytest

from rso_ref import backend
from rso_ref.testing import assert_close


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="backend must be one of"):
        backend.namespace("tensorflow")


def test_missing_backend_says_how_to_install(monkeypatch):
    real_import = importlib.import_module

    def without_cupy(name):
        if "cupy" in name:
            raise ImportError("No module named 'cupy'")
        return real_import(name)

    monkeypatch.setattr(importlib, "import_module", without_cupy)
    with pytest.raises(RuntimeError, match=r"not installed.*pip install 'rso_ref\[gpu\]'"):
        backend.namespace("cupy")


def test_host_rng_gives_identical_numbers_on_every_backend(xp):
    a = backend.random_normal((4, 3), seed=7, xp=xp)
    expected = np.random.default_rng(7).standard_normal((4, 3))
    assert backend.backend_name(backend.array_namespace(a)) == backend.backend_name(xp)
    np.testing.assert_array_equal(backend.to_numpy(a), expected)


def test_float32_option_rounds_the_float64_draw(xp):
    a = backend.random_normal((5,), seed=1, xp=xp, dtype="float32")
    assert a.dtype == xp.float32
    np.testing.assert_array_equal(backend.to_numpy(a),
                                  np.random.default_rng(1).standard_normal(5).astype(np.float32))


def test_mixed_namespaces_raise_value_error_naming_both():
    strict = backend.namespace("array_api_strict")
    with pytest.raises(ValueError, match="different namespaces") as info:
        backend.array_namespace(np.ones(2), strict.ones(2))
    assert "ndarray" in str(info.value) and "Array" in str(info.value)


def test_array_namespace_searches_lists_and_ignores_scalars(xp):
    a = xp.ones(2)
    assert backend.backend_name(backend.array_namespace([a, [a]], 1.0, None)) == \
        backend.backend_name(xp)


def test_array_namespace_rejects_non_arrays():
    with pytest.raises(TypeError):
        backend.array_namespace("not an array")
    with pytest.raises(TypeError):
        backend.array_namespace()


def test_roundtrip_between_backends(xp):
    host = np.arange(6.0).reshape(2, 3)
    moved = backend.asarray(host, xp=xp)
    back = backend.to_numpy(moved)
    np.testing.assert_array_equal(back, host)
    again = backend.asarray(moved, like=moved)
    assert_close(again, moved, rtol=0)


@pytest.mark.parametrize("bad", ["float16", "int64", 3, "complex128"])
def test_resolve_dtype_rejects_non_float(xp, bad):
    with pytest.raises(TypeError, match="dtype"):
        backend.resolve_dtype(xp, bad)


def test_resolve_dtype_default_is_float64(xp):
    assert backend.resolve_dtype(xp) == xp.float64
    assert backend.resolve_dtype(xp, "float32") == xp.float32
    assert backend.resolve_dtype(xp, xp.float32) == xp.float32


def test_check_floating_names_the_argument(xp):
    with pytest.raises(TypeError, match="x0 must have a real floating dtype"):
        backend.check_floating(xp.asarray([1, 2]), "x0")
    backend.check_floating(xp.asarray([1.0]), "x0")


def test_seed_must_be_explicit():
    with pytest.raises(TypeError, match="seed"):
        backend.rng(None)
    g = np.random.default_rng(3)
    assert backend.rng(g) is g


def test_synchronize_accepts_arrays_and_namespaces(xp):
    backend.synchronize(xp)
    backend.synchronize(xp.ones(1))
    backend.synchronize(None)


@pytest.mark.gpu
def test_cupy_backend_runs_on_a_gpu():
    try:
        cp = backend.namespace("cupy")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    a = backend.random_normal((3,), seed=0, xp=cp)
    np.testing.assert_array_equal(backend.to_numpy(a), np.random.default_rng(0).standard_normal(3))
