import importlib
import re

import numpy as np
import pytest

from rso_ref import backend
from rso_ref.testing import assert_close
from rso_ref.validation import NonFiniteError


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


def test_jax_is_a_backend_name():
    pytest.importorskip("jax")
    xp = backend.namespace("jax")
    assert xp.__name__ == "jax.numpy"
    assert backend.backend_name(backend.array_namespace(xp.asarray([1.0]))) == "jax"


def test_asarray_like_keeps_the_device_of_like(xp, on_device):
    like = xp.zeros(2)
    moved = backend.asarray(np.arange(3.0), like=like)
    on_device(moved)
    assert backend.device(moved) == backend.device(like)
    np.testing.assert_array_equal(backend.to_numpy(moved), np.arange(3.0))


def test_random_draws_go_to_the_requested_device(xp, on_device):
    device = backend.device(xp.zeros(1))
    real = backend.array_namespace(xp.zeros(1))
    a = backend.random_normal((3,), seed=2, xp=real, device=device)
    b = backend.random_uniform((3,), seed=2, xp=real, device=device, dtype="float32")
    on_device(a, b)
    np.testing.assert_array_equal(backend.to_numpy(a), np.random.default_rng(2).standard_normal(3))


def test_device1_really_is_another_device():
    """The stand-in for a GPU refuses to mix with the default device, so the fixture's
    device1 case catches arrays created without the input's device."""
    strict = backend.namespace("array_api_strict")
    import array_api_strict

    a = strict.ones(2, device=array_api_strict.Device("device1"))
    with pytest.raises(ValueError):
        a + strict.ones(2)


def test_two_devices_raise_naming_both_devices_and_the_arguments():
    import array_api_strict

    strict = backend.namespace("array_api_strict")
    params = [strict.ones(2), strict.ones(3, device=array_api_strict.Device("device1"))]
    X = strict.ones(2)
    with pytest.raises(ValueError, match=r"different devices: X on .*CPU_DEVICE.*, "
                                         r"params\[1\] on .*device1"):
        backend.array_namespace(X, params, names=["X", "params"])
    with pytest.raises(ValueError, match=r"CPU_DEVICE.*device1"):
        backend.array_namespace(params)
    with pytest.raises(ValueError, match="names must name each"):
        backend.array_namespace(X, params, names=["X"])


def test_the_known_type_shortcut_still_sees_every_array():
    # array_namespace skips array-api-compat's search for arrays of a type it has seen:
    # arrays inside tuples and nested lists must still be looked at (devices, namespaces).
    import array_api_strict

    strict = backend.namespace("array_api_strict")
    here, there = strict.ones(2), strict.ones(2, device=array_api_strict.Device("device1"))
    backend.array_namespace(here, here)  # the type is now known
    for mixed in ((here, (there,)), (here, [there]), ((here, there),), (here, [[there]])):
        with pytest.raises(ValueError, match="different devices"):
            backend.array_namespace(*mixed)
    with pytest.raises(ValueError, match="different namespaces"):
        backend.array_namespace(np.ones(2), (here,))


def test_float32_only_devices_run_float32(xp32, on_device):
    a = backend.random_normal((4,), seed=0, xp=xp32, dtype="float32")
    on_device(a)
    assert a.dtype == xp32.float32
    moved = backend.asarray(np.ones(2, dtype=np.float32), like=a)
    on_device(moved)
    assert backend.resolve_dtype(xp32, "float32", device=backend.device(a)) == xp32.float32


def test_float64_on_a_float32_only_device_is_one_error_naming_the_device(xp32):
    device = backend.device(xp32.zeros(1, dtype=xp32.float32))
    named = "float64 is not supported on device " + re.escape(repr(device))
    with pytest.raises(ValueError, match=named):
        backend.resolve_dtype(xp32, "float64", device=device)
    with pytest.raises(ValueError, match=named):
        backend.random_normal((2,), xp=xp32, device=device)   # float64 by default: refused
    like = xp32.zeros(1, dtype=xp32.float32)
    with pytest.raises(ValueError, match="float64 is not supported"):
        backend.asarray(np.ones(2), like=like)        # a float64 host array is not rounded


def test_float64_on_jax_without_x64_names_the_flag():
    jax = pytest.importorskip("jax")
    jnp = backend.namespace("jax")
    was = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            backend.resolve_dtype(jnp, "float64")
        with pytest.raises(ValueError, match="jax_enable_x64"):
            backend.asarray(np.ones(2), xp=jnp)
        assert backend.random_normal((2,), xp=jnp, dtype="float32").dtype == jnp.float32
    finally:
        jax.config.update("jax_enable_x64", was)


def test_at_and_one_hot_work_on_every_device(xp, on_device):
    x = xp.zeros(3)
    y = backend.at(x)[1].set(2.0)          # a new array on JAX, in place elsewhere
    np.testing.assert_array_equal(backend.to_numpy(y), [0.0, 2.0, 0.0])
    labels = xp.asarray([2, 0])
    onehot = backend.one_hot(labels, 3, dtype=backend.array_namespace(x).float64)
    on_device(y, onehot)
    np.testing.assert_array_equal(backend.to_numpy(onehot), np.eye(3)[[2, 0]])


def _check_finite_names_the_bad_entries(ns):
    ok = ns.asarray([1.0, 2.0], dtype=ns.float32)
    assert backend.check_finite(ok, "X") is None
    bad = ns.asarray([1.0, float("nan"), float("inf"), float("inf")], dtype=ns.float32)
    with pytest.raises(NonFiniteError, match=r"^X contains 1 NaN and 2 inf entries$"):
        backend.check_finite(bad, "X")
    with pytest.raises(NonFiniteError, match=r"^X contains 2 inf entries$"):
        backend.check_finite(bad[2:], "X")


def test_check_finite_names_nan_and_inf(xp):
    _check_finite_names_the_bad_entries(xp)


def test_check_finite_names_nan_and_inf_on_float32_only_devices(xp32):
    # counted in the device's index dtype: int32 on "no_x64", which has no int64
    _check_finite_names_the_bad_entries(xp32)


@pytest.mark.jax
def test_value_checks_skip_only_arrays_being_traced():
    jax = pytest.importorskip("jax")
    jnp = backend.namespace("jax")
    bad = jnp.asarray([1.0, float("nan")])
    assert not backend.is_traced(bad) and not backend.is_traced(np.ones(2))
    with pytest.raises(NonFiniteError, match="x contains 1 NaN"):
        backend.check_finite(bad)                          # eager JAX: checked
    with pytest.raises(NonFiniteError, match="x contains 1 NaN"):
        jax.grad(lambda v: (backend.check_finite(v), jnp.sum(v))[1])(bad)   # grad: concrete
    seen = []
    jax.jit(lambda v: seen.append(backend.is_traced(v)) or backend.check_finite(v) or v)(bad)
    assert seen == [True]                                  # jit: no values to check
    jax.jit(lambda v: backend.check_finite(bad) or v)(bad)   # closed over: staged, skipped


@pytest.mark.jax
def test_synchronize_blocks_on_jax_arrays(monkeypatch):
    jax = pytest.importorskip("jax")
    jnp = backend.namespace("jax")
    waited = []
    monkeypatch.setattr(jax, "block_until_ready", lambda x: waited.append(x) or x)
    a = [jnp.ones(2), jnp.zeros(3)]
    backend.synchronize(a)
    backend.synchronize(jnp)        # a namespace alone: JAX has no global barrier
    assert waited == [a]


def test_put_writes_a_row_on_every_backend_and_device(xp, on_device):
    x = xp.zeros((3, 2))
    row = xp.asarray([1.0, 2.0])
    out = backend.put(x, (1, slice(None)), row)
    on_device(out)
    assert backend.to_numpy(out).tolist() == [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]
    # NumPy is written in place (the fast path); JAX arrays are never changed in place
    if backend.is_numpy(backend.array_namespace(x)):
        assert out is x
    if backend.backend_name(backend.array_namespace(x)) == "jax":
        assert backend.to_numpy(x).tolist() == [[0.0, 0.0]] * 3
