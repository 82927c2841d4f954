"""conv1d/conv2d: definition, backward vs autograd and central differences, torch, backends.

Tolerances: float64 identities at 1e-10 relative (testing.RTOL), with an absolute floor of
1e-10 times the array's largest entry for entries that cancel to ~0. Other backends run
the same operations in another BLAS/order: 1e-12 relative to NumPy (sums of <= 100
products carry ~1e-14 relative round-off). float32 results are checked for dtype only.
"""
import itertools

import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn.conv import conv1d_bwd, conv1d_fwd, conv2d_bwd, conv2d_fwd
from rso_ref.testing import assert_close

RTOL = 1e-10  # float64 identity
RTOL_BACKEND = 1e-12

LAYERS = {1: (conv1d_fwd, conv1d_bwd), 2: (conv2d_fwd, conv2d_bwd)}
# (d, input shape, weight shape, stride, padding)
CASES = [
    (1, (3, 2, 11), (4, 2, 3), 1, 1),
    (1, (2, 3, 10), (2, 3, 4), 3, 2),
    (2, (2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
    (2, (3, 2, 8, 7), (3, 2, 3, 2), (2, 1), (0, 1)),
    (2, (2, 4, 5, 5), (5, 4, 1, 1), 2, 0),
]
IDS = ["1d-same", "1d-stride3", "2d-same", "2d-mixed", "2d-1x1-stride2"]


def _problem(xp, x_shape, w_shape, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    return [backend.asarray(a, xp=xp) for a in arrays]


def _loop_conv(X, W, b, stride, padding):
    """Cross-correlation by its definition (loops over output positions), NumPy."""
    d = X.ndim - 2
    stride, padding = (v if isinstance(v, tuple) else (v,) * d for v in (stride, padding))
    Xp = np.pad(X, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    k = W.shape[2:]
    out = tuple((s - kk) // st + 1 for s, kk, st in zip(Xp.shape[2:], k, stride))
    Y = np.empty((X.shape[0], W.shape[0]) + out)
    for o in itertools.product(*(range(m) for m in out)):
        patch = Xp[(slice(None), slice(None)) + tuple(
            slice(oi * si, oi * si + ki) for oi, si, ki in zip(o, stride, k))]
        Y[(slice(None), slice(None)) + o] = np.tensordot(patch, W, axes=(range(1, 2 + d),
                                                                      range(1, 2 + d))) + b
    return Y


def _grads(d, X, W, b, G, stride, padding, xp=None):
    fwd, bwd = LAYERS[d]
    Y, cache = fwd([W, b], X, stride=stride, padding=padding, xp=xp)
    dX, (dW, db) = bwd([W, b], cache, G, stride=stride, padding=padding, xp=xp)
    return {"Y": Y, "dX": dX, "dW": dW, "db": db}


def _close(mine, ref, name, rtol=RTOL):
    ref_np = backend.to_numpy(ref)
    assert_close(mine, ref, rtol=rtol, atol=rtol * float(np.max(np.abs(ref_np))),
                 err_msg=name, check_namespace=False)


@pytest.mark.parametrize("d, x_shape, w_shape, stride, padding", CASES, ids=IDS)
def test_forward_is_cross_correlation(xp, on_device, d, x_shape, w_shape, stride, padding):
    X, W, b = _problem(xp, x_shape, w_shape)
    Y, _ = LAYERS[d][0]([W, b], X, stride=stride, padding=padding)
    on_device(Y)
    ref = _loop_conv(*(backend.to_numpy(a) for a in (X, W, b)), stride, padding)
    _close(Y, ref, "Y: mine vs loop definition")


@pytest.mark.parametrize("d, x_shape, w_shape, stride, padding", CASES, ids=IDS)
def test_backward_matches_autograd(d, x_shape, w_shape, stride, padding):
    # L = sum(G * conv(X)) so that dL/dY = G; autograd differentiates the same forward.
    X, W, b = _problem(backend.namespace("numpy"), x_shape, w_shape)
    Y, _ = LAYERS[d][0]([W, b], X, stride=stride, padding=padding)
    G = np.random.default_rng(5).standard_normal(Y.shape)

    def loss(p, G, *, xp):
        return xp.sum(G * LAYERS[d][0](p[1:], p[0], stride=stride, padding=padding, xp=xp)[0])

    _, (dX_ref, dW_ref, db_ref) = autodiff.value_and_grad(loss, [X, W, b], G)
    mine = _grads(d, X, W, b, G, stride, padding)
    for key, ref in (("dX", dX_ref), ("dW", dW_ref), ("db", db_ref)):
        _close(mine[key], ref, f"{key}: mine vs autograd")


@pytest.mark.parametrize("d, x_shape, w_shape, stride, padding", CASES[::2], ids=IDS[::2])
def test_backward_projection_vs_central_differences(xp, d, x_shape, w_shape, stride, padding):
    X, W, b = _problem(xp, x_shape, w_shape, seed=1)
    fwd, bwd = LAYERS[d]

    def vjp(p, u):
        dX, dparams = bwd(p[1:], fwd(p[1:], p[0], stride=stride, padding=padding)[1], u,
                          stride=stride, padding=padding)
        return [dX] + dparams

    autodiff.check_grads(
        lambda p, *, xp: fwd(p[1:], p[0], stride=stride, padding=padding, xp=xp)[0], [X, W, b], vjp
    )


@pytest.mark.parametrize("d, x_shape, w_shape, stride, padding", CASES, ids=IDS)
def test_backends_agree_with_numpy(xp, on_device, d, x_shape, w_shape, stride, padding):
    np_xp = backend.namespace("numpy")
    ref_inputs = _problem(np_xp, x_shape, w_shape, seed=2)
    Y = LAYERS[d][0](ref_inputs[1:], ref_inputs[0], stride=stride, padding=padding)[0]
    G = np.random.default_rng(3).standard_normal(Y.shape)
    ref = _grads(d, *ref_inputs, G, stride, padding)
    mine = _grads(d, *_problem(xp, x_shape, w_shape, seed=2), backend.asarray(G, xp=xp),
                  stride, padding)
    for key in ref:
        on_device(mine[key])
        _close(mine[key], ref[key], f"{key}: {backend.backend_name(xp)} vs numpy", RTOL_BACKEND)


def test_input_grad_false_skips_dX_and_float32_stays(np_xp):
    X, W, b = (a.astype(np.float32) for a in _problem(np_xp, (2, 3, 6, 6), (4, 3, 3, 3)))
    Y, cache = conv2d_fwd([W, b], X, padding=1)
    dX, (dW, db) = conv2d_bwd([W, b], cache, np.ones_like(Y), padding=1, input_grad=False)
    assert dX is None
    assert Y.dtype == dW.dtype == db.dtype == np.float32


@pytest.mark.parametrize("fwd, X, W, b, match", [
    (conv2d_fwd, (2, 2, 6, 6), (4, 3, 3, 3), (4,), r"X must have shape \(N, C, H, W\) with C = 3"),
    (conv2d_fwd, (2, 3, 6), (4, 3, 3, 3), (4,), r"X must have shape \(N, C, H, W\)"),
    (conv1d_fwd, (2, 3, 6), (4, 3, 3, 3), (4,),
     r"W must have shape \(out_channels, in_channels, k\)"),
    (conv1d_fwd, (2, 3, 6), (4, 3, 3), (3,), r"b must have shape \(4,\)"),
    (conv1d_fwd, (2, 3, 2), (4, 3, 3), (4,), "window .* is larger than the padded spatial size"),
])
def test_bad_shapes_are_named(fwd, X, W, b, match):
    with pytest.raises(ValueError, match=match):
        fwd([np.zeros(W), np.zeros(b)], np.zeros(X))


@pytest.mark.torch
@pytest.mark.parametrize("d, x_shape, w_shape, stride, padding", CASES, ids=IDS)
def test_matches_torch_functional(d, x_shape, w_shape, stride, padding):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    X, W, b = _problem(backend.namespace("numpy"), x_shape, w_shape, seed=4)
    tX, tW, tb = (torch.from_numpy(a).requires_grad_(True) for a in (X, W, b))
    conv = F.conv1d if d == 1 else F.conv2d
    tY = conv(tX, tW, tb, stride=stride, padding=padding)
    G = np.random.default_rng(6).standard_normal(tuple(tY.shape))
    tY.backward(torch.from_numpy(G))
    mine = _grads(d, X, W, b, G, stride, padding)
    theirs = {"Y": tY, "dX": tX.grad, "dW": tW.grad, "db": tb.grad}
    for key, ref in theirs.items():
        _close(mine[key], ref.detach().numpy(), f"{key}: mine vs torch")
