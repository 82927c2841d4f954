"""Sliding windows (im2col gather) and their adjoint (col2im scatter-add), backend/windows.py.

The windows only copy numbers and the adjoint adds offsets in one fixed order, so every
backend must agree with NumPy bit for bit (np.array_equal, no tolerance). The adjoint
identity <G, windows(x)> = <adjoint(G), x> holds to round-off of two dot products of a
few hundred terms: 1e-12 relative.
"""
import itertools

import numpy as np
import pytest

from rso_ref import autodiff, backend

# (input shape, window, stride, padding): 1-D and 2-D, overlapping and not, padded.
CASES = [
    ((2, 3, 9), 3, 2, 1),
    ((2, 2, 7), (4,), (1,), (0,)),
    ((2, 3, 7, 6), (3, 2), (2, 1), (1, 0)),
    ((1, 2, 6, 6), 2, 2, 0),
    ((2, 1, 5, 5), 3, 1, 2),
]
IDS = ["1d-pad", "1d-k4", "2d-mixed", "2d-pool", "2d-bigpad"]


def _loop_windows(x, window, stride, padding):
    """The definition V[n, c, o, k] = x_pad[n, c, o*s + k], written with Python loops."""
    d = x.ndim - 2
    window, stride, padding = (tuple(v) if isinstance(v, tuple) else (v,) * d
                               for v in (window, stride, padding))
    xp_ = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    out = tuple((s - k) // st + 1 for s, k, st in zip(xp_.shape[2:], window, stride))
    V = np.empty(x.shape[:2] + out + window)
    for o in itertools.product(*(range(m) for m in out)):
        for k in itertools.product(*(range(m) for m in window)):
            src = tuple(oi * si + ki for oi, si, ki in zip(o, stride, k))
            V[(Ellipsis,) + o + k] = xp_[(slice(None), slice(None)) + src]
    return V


@pytest.mark.parametrize("shape, window, stride, padding", CASES, ids=IDS)
def test_windows_match_definition_bit_for_bit(xp, on_device, shape, window, stride, padding):
    x = np.random.default_rng(0).standard_normal(shape)
    V = backend.sliding_windows(backend.asarray(x, xp=xp), window, stride, padding=padding)
    on_device(V)
    ref = _loop_windows(x, window, stride, padding)
    assert V.shape == ref.shape
    assert np.array_equal(backend.to_numpy(V), ref)


@pytest.mark.parametrize("shape, window, stride, padding", CASES, ids=IDS)
def test_adjoint_bit_identical_across_backends_and_is_the_transpose(xp, shape, window, stride,
                                                                    padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    G = rng.standard_normal(_loop_windows(x, window, stride, padding).shape)
    ref = backend.sliding_windows_adjoint(G, shape, stride, padding=padding)
    dx = backend.sliding_windows_adjoint(backend.asarray(G, xp=xp), shape, stride, padding=padding)
    assert tuple(dx.shape) == shape
    assert np.array_equal(backend.to_numpy(dx), ref)
    lhs = np.vdot(G, _loop_windows(x, window, stride, padding))
    rhs = np.vdot(ref, x)
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0)  # two sums of ~200 products


def test_adjoint_counts_overlaps():
    # Windows of 3 with stride 1 over 5 positions cover them 1, 2, 3, 2, 1 times.
    G = np.ones((1, 1, 3, 3))
    assert backend.sliding_windows_adjoint(G, (1, 1, 5), 1).ravel().tolist() == [1, 2, 3, 2, 1]


def test_autograd_namespace_gathers_the_same_windows():
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 6))
    traced = backend.sliding_windows(x, (3, 2), (2, 1), padding=1, xp=autodiff.namespace())
    assert np.array_equal(traced, backend.sliding_windows(x, (3, 2), (2, 1), padding=1))


def test_numpy_path_is_a_view_without_padding(np_xp):
    x = np.zeros((1, 1, 6, 6))
    assert np.shares_memory(backend.sliding_windows(x, 2, 2), x)


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 3, "stride": 0}, "stride must be an int >= 1"),
    ({"window": (3, 3, 3)}, "window must be an int >= 1 or 2 such ints"),
    ({"window": 3, "padding": -1}, "padding must be an int >= 0"),
    ({"window": True}, "window must be"),
    ({"window": 7}, r"window \(7, 7\) is larger than the padded spatial size \(6, 6\)"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        backend.sliding_windows(np.zeros((1, 1, 6, 6)), **kwargs)


@pytest.mark.parametrize("kwargs", [{"window": (2.0, 2)}, {"window": 2, "stride": (1, "1")}])
def test_non_int_entries_are_type_errors_naming_the_argument(kwargs):
    name = "stride" if "stride" in kwargs else "window"
    with pytest.raises(TypeError, match=f"{name} must be an int"):
        backend.sliding_windows(np.zeros((1, 1, 6, 6)), **kwargs)


def test_numpy_integer_geometry_is_accepted():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    expected = backend.sliding_windows(x, 3, 2, padding=1)
    got = backend.sliding_windows(x, np.int64(3), (np.int32(2), 2), padding=np.int8(1))
    assert np.array_equal(got, expected)


def test_bad_input_rank_and_adjoint_shape():
    with pytest.raises(ValueError, match=r"x must be \(N, C, L\) or \(N, C, H, W\)"):
        backend.sliding_windows(np.zeros((2, 6)), 2)
    with pytest.raises(ValueError, match=r"windows must have shape \(1, 1, 3, 3\)"):
        backend.sliding_windows_adjoint(np.zeros((1, 1, 4, 3)), (1, 1, 5), 1)
