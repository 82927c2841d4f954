"""rso_ref.testing.assert_close: namespace, device, dtype and shape before values; lists."""
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
    assert_close(there, strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1")))


def test_lists_are_compared_item_by_item(xp):
    a = [xp.asarray([1.0]), xp.asarray([2.0, 3.0])]
    assert_close(a, [xp.asarray([1.0]), xp.asarray([2.0, 3.0])])
    with pytest.raises(AssertionError, match="item 1"):
        assert_close(a, [xp.asarray([1.0]), xp.asarray([2.0, 3.5])])
    with pytest.raises(AssertionError, match="2 arrays != 1 arrays"):
        assert_close(a, a[:1])
    with pytest.raises(AssertionError, match="is a list and the other not"):
        assert_close(a, a[0])


def test_host_desired_still_allowed_without_namespace_check(xp):
    assert_close(xp.asarray([1.0, 2.0]), np.asarray([1.0, 2.0]), check_namespace=False)
