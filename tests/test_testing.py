"""rso_ref.testing.assert_close: namespace, device, dtype and shape before values; nested
lists, dicts and scalars; torch.testing's conventions (per-dtype default tolerances,
integers exact, equal_nan / check_dtype / check_device flags); a failure names the worst
leaf, its index, the actual and the desired value and their relative error."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.testing import assert_close
from rso_ref.testing.assertions import ATOL, RTOL, atol_for, rtol_for


def test_an_array_on_another_device_fails_even_with_equal_values():
    import array_api_strict

    strict = backend.namespace("array_api_strict")
    here = strict.asarray([1.0, 2.0])
    there = strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1"))
    with pytest.raises(AssertionError, match=r"device: actual .*CPU_DEVICE.* != desired "
                                             r".*device1"):
        assert_close(here, there)
    with pytest.raises(AssertionError, match=r"at \[1\]\[0\]: device"):
        assert_close([there, [here]], [there, [there]])
    assert_close(there, strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1")))


def test_nested_lists_are_compared_leaf_by_leaf(xp):
    a = [xp.asarray([1.0]), [xp.asarray([2.0, 3.0]), xp.asarray([[4.0]])]]
    assert_close(a, [xp.asarray([1.0]), (xp.asarray([2.0, 3.0]), xp.asarray([[4.0]]))])
    with pytest.raises(AssertionError, match=r"worst at leaf \[1\]\[0\] index \(1,\): actual "
                                             r"3\.0 vs desired 3\.5, relative error 1\.429e-01"):
        assert_close(a, [xp.asarray([1.0]), [xp.asarray([2.0, 3.5]), xp.asarray([[4.0]])]])
    with pytest.raises(AssertionError, match=r"at \[1\]: actual has 2 items, desired 1"):
        assert_close(a, [a[0], a[1][:1]])
    with pytest.raises(AssertionError, match="is a list and the other not"):
        assert_close(a, a[0])
    with pytest.raises(AssertionError, match=r"at \[1\]\[1\]: shape: actual \(1, 1\) != "
                                             r"desired \(1,\)"):
        assert_close(a, [a[0], [a[1][0], xp.asarray([4.0])]])


def test_the_worst_leaf_is_named_not_the_first_failing_one():
    desired = [np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0])]
    actual = [np.array([1.0, 2.0 * (1 + 1e-8)]), np.array([10.0, 20.0, 30.0 * (1 + 1e-6)])]
    with pytest.raises(AssertionError, match=r"2 of 5 entries differ; worst at leaf \[1\] "
                                             r"index \(2,\).*relative error 1\.000e-06"):
        assert_close(actual, desired)
    assert_close(actual, desired, rtol=2e-6)
    assert_close(actual, desired, rtol=0.0, atol=4e-5)


def test_python_and_numpy_scalars():
    assert_close(1.0, 1.0 + 1e-12)
    assert_close([np.float64(2.0), 3], [2.0, 3])
    with pytest.raises(AssertionError, match=r"leaf \[0\].*relative error 5\.000e-01"):
        assert_close([np.float32(1.5), 3], [1.0, 3])
    with pytest.raises(AssertionError, match="a scalar is compared with an array"):
        assert_close(np.array([1.0]), 1.0)


def test_nan_is_equal_to_nan_in_the_same_place_only_with_equal_nan():
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), equal_nan=True)
    with pytest.raises(AssertionError, match=r"1 of 2 entries differ.*unless equal_nan=True"):
        assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    with pytest.raises(AssertionError, match="1 of 2 entries differ"):
        assert_close(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), equal_nan=True)
    with pytest.raises(AssertionError, match="1 of 1 entries differ"):
        assert_close(np.array([1.0]), np.array([np.nan]), equal_nan=True)
    with pytest.raises(AssertionError, match="1 of 1 entries differ"):
        assert_close(np.array([np.inf]), np.array([-np.inf]))


def test_dtype_and_namespace_are_checked_before_values(xp):
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(xp.asarray([1.0], dtype=xp.float32), xp.asarray([1.0], dtype=xp.float64))
    if backend.backend_name(backend.array_namespace(xp.asarray([1.0]))) != "numpy":
        with pytest.raises(AssertionError, match="namespace"):
            assert_close(xp.asarray([1.0]), np.asarray([1.0]))


def test_host_desired_still_allowed_without_namespace_check(xp):
    # devices of two namespaces are not compared; the dtype still is
    actual = xp.asarray([1.0, 2.0], dtype=xp.float64)
    assert_close(actual, np.asarray([1.0, 2.0]), check_namespace=False)
    with pytest.raises(AssertionError, match="dtype: actual float64 != desired float32"):
        assert_close(actual, np.asarray([1.0, 2.0], np.float32), check_namespace=False)


def test_a_bad_tolerance_is_refused_not_a_pass_for_everything():
    with pytest.raises(ValueError, match="rtol"):
        assert_close(1.0, 2.0, rtol=-1.0)
    with pytest.raises(ValueError, match="atol"):
        assert_close(np.ones(2), np.zeros(2), rtol=0, atol=-1)
    with pytest.raises(TypeError, match="rtol"):
        assert_close(1.0, 2.0, rtol="1e-3")
    with pytest.raises(TypeError, match="actual"):
        assert_close(None, None)
    with pytest.raises(TypeError, match="desired"):
        assert_close(np.ones(1), None)


def test_integers_are_compared_without_wraparound():
    with pytest.raises(AssertionError,
                       match=r"actual 0 vs desired 255, relative error 1\.000e\+00"):
        assert_close(np.array([0], np.uint8), np.array([255], np.uint8))
    assert_close(np.array([7], np.int8), np.array([7], np.int8), rtol=0)


# -- torch.testing's conventions ---------------------------------------------------------

def test_integers_and_bool_are_compared_exactly_by_default():
    with pytest.raises(AssertionError, match=r"rtol=0, atol=0.*actual 1000000000001 vs "
                                             r"desired 1000000000000"):
        assert_close(10**12 + 1, 10**12)
    # beyond 2**53, where float64 would round both to the same number
    with pytest.raises(AssertionError, match=r"actual 1152921504606846977 vs desired "
                                             r"1152921504606846976"):
        assert_close(np.array([2**60 + 1]), np.array([2**60]))
    with pytest.raises(AssertionError, match="1 of 2 entries differ"):
        assert_close(np.array([True, False]), np.array([True, True]))
    assert_close(np.array([2**62, -3]), np.array([2**62, -3]))
    assert rtol_for(np.zeros(1, np.int32)) == atol_for(np.zeros(1, np.uint8)) == 0.0
    assert rtol_for(7) == rtol_for(True) == 0.0
    # explicit tolerances apply to integers too, as in torch.testing
    assert_close(np.array([100]), np.array([101]), rtol=0.01)


def test_the_default_tolerance_table():
    assert RTOL == {"float64": 1e-10, "float32": 5e-4, "float16": 1e-3, "bfloat16": 1.6e-2,
                    "complex128": 1e-10, "complex64": 5e-4}
    assert ATOL == {"float64": 0.0, "float32": 0.0, "float16": 1e-5, "bfloat16": 1e-5,
                    "complex128": 0.0, "complex64": 0.0}
    for dtype in ("float16", "float32", "float64", "complex64", "complex128"):
        x = np.zeros(1, dtype)
        assert (rtol_for(x), atol_for(x)) == (RTOL[dtype], ATOL[dtype])
    assert (rtol_for(1.0), atol_for(1.0)) == (1e-10, 0.0)           # Python float: float64
    assert rtol_for(np.zeros(1, np.longdouble)) == RTOL["float64"]  # unknown float: float64's
    with pytest.raises(TypeError, match="x must be"):
        rtol_for(None)
    with pytest.raises(TypeError, match="x must be"):
        atol_for("1.0")


@pytest.mark.parametrize("dtype, close, far", [
    ("float16", 1.0009765625, 1.00390625),   # 1 ulp passes (not held to 1e-10), 4 ulps fail
    ("float32", 1.0001, 1.001),
    ("float64", 1.0 + 1e-11, 1.0 + 1e-9),
    ("complex64", 1.0001 + 0j, 1.001 + 0j),
    ("complex128", 1.0 + 1e-11j, 1.0 + 1e-9j),
])
def test_default_rtol_follows_the_dtype(dtype, close, far):
    one = np.ones(3, dtype)
    assert_close(np.asarray([1.0, close, 1.0], dtype), one)
    with pytest.raises(AssertionError, match=rf"rtol={RTOL[dtype]:g}.*index \(1,\)"):
        assert_close(np.asarray([1.0, far, 1.0], dtype), one)


def test_default_atol_follows_the_dtype_and_only_rtol_means_atol_zero():
    zero16 = np.zeros(1, np.float16)
    assert_close(np.full(1, 5e-6, np.float16), zero16)                       # atol 1e-5
    with pytest.raises(AssertionError, match=r"atol=1e-05"):
        assert_close(np.full(1, 5e-5, np.float16), zero16)
    with pytest.raises(AssertionError, match=r"rtol=0.001, atol=0\)"):      # rtol alone
        assert_close(np.full(1, 5e-6, np.float16), zero16, rtol=1e-3)
    # float32 and float64 are held relatively: no absolute floor by default
    with pytest.raises(AssertionError, match=r"atol=0\)"):
        assert_close(np.full(1, 1e-30, np.float32), np.zeros(1, np.float32))
    with pytest.raises(AssertionError, match=r"atol=0\)"):
        assert_close(np.full(1, 1e-300), np.zeros(1))
    # atol alone: rtol from the table (float32's 5e-4 here)
    assert_close(np.float32(1.0001), np.float32(1.0), atol=0.0)
    with pytest.raises(AssertionError, match=r"rtol=0.0005, atol=1e-06"):
        assert_close(np.float32(1.001), np.float32(1.0), atol=1e-6)


def test_bfloat16_defaults_on_a_backend_that_has_it():
    torch = pytest.importorskip("torch")
    one = torch.ones(2, dtype=torch.bfloat16)
    assert_close(torch.tensor([1.0, 1.0078125], dtype=torch.bfloat16), one)   # 1 ulp
    with pytest.raises(AssertionError, match=r"rtol=0.016.*actual 1.0625 vs desired 1.0"):
        assert_close(torch.tensor([1.0, 1.0625], dtype=torch.bfloat16), one)  # 8 ulps
    assert (rtol_for(one), atol_for(one)) == (1.6e-2, 1e-5)


def test_check_dtype_and_python_numbers_are_weakly_typed():
    f32, f64 = np.array([1.0], np.float32), np.array([1.0001])
    with pytest.raises(AssertionError, match="dtype: actual float32 != desired float64"):
        assert_close(f32, f64)
    assert_close(f32, f64, check_dtype=False)     # the looser entry of the two: float32's
    with pytest.raises(AssertionError, match="rtol=0.0005"):
        assert_close(f32, np.array([1.01]), check_dtype=False)
    assert_close(np.float32(2.0), 2.0)           # a Python float matches any float dtype
    with pytest.raises(AssertionError, match=r"dtype: actual Python int != desired Python "
                                             r"float \(a Python number matches"):
        assert_close(1, 1.0)
    assert_close(1, 1.0, check_dtype=False)
    with pytest.raises(AssertionError, match="dtype: actual int64 != desired Python float"):
        assert_close(np.array(3), 3.0)


def test_check_device_is_separate_from_check_namespace():
    import array_api_strict

    strict = backend.namespace("array_api_strict")
    here = strict.asarray([1.0, 2.0])
    there = strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1"))
    with pytest.raises(AssertionError, match="device"):   # no longer dropped with namespace
        assert_close(here, there, check_namespace=False)
    assert_close(here, there, check_device=False)
    with pytest.raises(AssertionError, match=r"actual 2\.0 vs desired 2\.5"):
        assert_close(here, strict.asarray([1.0, 2.5], device=array_api_strict.Device("device1")),
                     check_device=False)
    with pytest.raises(AssertionError, match="namespace: actual array_api_strict != desired "
                                             "numpy"):
        assert_close(here, np.array([1.0, 2.0]), check_device=False)


def test_dicts_such_as_optimizer_states_compare_keys_then_values():
    from rso_ref.optim.adam import Adam

    params = [np.ones((2, 3)), np.zeros(3)]
    grads = [np.full((2, 3), 0.5), np.ones(3)]
    opt = Adam(lr=0.1)
    state = opt.step(params, grads, opt.init(params))[1]
    again = opt.step(params, grads, opt.init(params))[1]
    assert_close(state, again)
    with pytest.raises(AssertionError, match=r"keys differ: actual only 'extra'; desired "
                                             r"only none"):
        assert_close({**state, "extra": 1}, again)
    worse = {**again, "mu": [again["mu"][0], again["mu"][1] * 2]}
    with pytest.raises(AssertionError, match=r"worst at leaf \['mu'\]\[1\] index \(0,\)"):
        assert_close(state, worse)
    with pytest.raises(AssertionError, match=r"at \['count'\]: .*dtype|not close"):
        assert_close(state, {**again, "count": 2})
    with pytest.raises(AssertionError, match="is a dict and the other not"):
        assert_close(state, list(state.values()))


def test_python_and_numpy_scalars_equal_0d_arrays(xp):
    assert_close(xp.asarray(2.0, dtype=xp.float64), 2.0)
    assert_close(np.float64(2.0), np.array(2.0))
    assert_close([np.array(2.0), 3], [2.0, 3])
    with pytest.raises(AssertionError, match=r"actual 2\.0 vs desired 2\.5"):
        assert_close(xp.asarray(2.0, dtype=xp.float64), 2.5)
    with pytest.raises(AssertionError, match=r"a scalar is compared with an array \(actual "
                                             r"float64, desired ndarray of shape \(1,\)\)"):
        assert_close(np.float64(2.0), np.array([2.0]))


def test_a_failure_says_which_side_is_actual_and_which_desired():
    a, d = np.zeros((2, 3)), np.zeros((2, 3))
    a[1, 2] = 4.0
    with pytest.raises(AssertionError, match=r"index \(1, 2\): actual 4\.0 vs desired 0\.0"):
        assert_close(a, d)
    with pytest.raises(AssertionError, match=r"index \(1, 2\): actual 0\.0 vs desired 4\.0, "
                                             r"relative error 1\.000e\+00, absolute error "
                                             r"4\.000e\+00"):
        assert_close(d, a)
    with pytest.raises(AssertionError, match=r"actual has 1 items, desired 2"):
        assert_close([a], [a, d])


@pytest.mark.parametrize("flag", ["equal_nan", "check_dtype", "check_device",
                                  "check_namespace"])
def test_a_flag_that_is_not_a_bool_is_refused(flag):
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match=flag):
            assert_close(1.0, 1.0, **{flag: bad})


# --- discoverability and settings profiles (not assert_close) ---------------------------

def test_dir_lists_the_lazy_names_and_each_resolves():
    import rso_ref.testing as testing

    names = dir(testing)
    for name in ("check_port", "CheckReport", "param_lists", "gradient_sequences", "arrays",
                 "reference_problems", "settings_profiles", "strategies"):
        assert name in names, name
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    assert testing.param_lists is testing.strategies.param_lists


def test_the_jax_settings_profile_has_no_deadline():
    from hypothesis import HealthCheck, settings

    from rso_ref.testing import JAX_PROFILE, settings_profiles

    assert settings_profiles() == [JAX_PROFILE, "rso_ref-ci"]
    profile = settings.get_profile(JAX_PROFILE)
    assert profile.deadline is None and HealthCheck.too_slow in profile.suppress_health_check
    ci = settings.get_profile("rso_ref-ci")
    assert ci.deadline is None and ci.derandomize and ci.database is None
    with pytest.raises(ValueError, match="^load must be one of"):
        settings_profiles(load="jax")
