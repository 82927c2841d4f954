"""rso_ref.testing.assert_close: namespace, device, dtype and shape before values; nested
lists and scalars; a failure names the worst leaf, its index and relative error."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.testing import assert_close


def test_an_array_on_another_device_fails_even_with_equal_values():
    import array_api_strict

    strict = backend.namespace("array_api_strict")
    here = strict.asarray([1.0, 2.0])
    there = strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1"))
    with pytest.raises(AssertionError, match=r"device .*CPU_DEVICE.* != .*device1"):
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
    with pytest.raises(AssertionError, match=r"at \[1\]: 2 items != 1 items"):
        assert_close(a, [a[0], a[1][:1]])
    with pytest.raises(AssertionError, match="is a list and the other not"):
        assert_close(a, a[0])
    with pytest.raises(AssertionError, match=r"at \[1\]\[1\]: shape \(1, 1\) != \(1,\)"):
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


def test_nan_is_equal_to_nan_in_the_same_place_only():
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    with pytest.raises(AssertionError, match="1 of 2 entries differ"):
        assert_close(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError, match="1 of 1 entries differ"):
        assert_close(np.array([np.inf]), np.array([-np.inf]))


def test_dtype_and_namespace_are_checked_before_values(xp):
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(xp.asarray([1.0], dtype=xp.float32), xp.asarray([1.0], dtype=xp.float64))
    if backend.backend_name(backend.array_namespace(xp.asarray([1.0]))) != "numpy":
        with pytest.raises(AssertionError, match="namespace"):
            assert_close(xp.asarray([1.0]), np.asarray([1.0]))


def test_host_desired_still_allowed_without_namespace_check(xp):
    assert_close(xp.asarray([1.0, 2.0]), np.asarray([1.0, 2.0]), check_namespace=False)


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
