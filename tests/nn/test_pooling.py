"""Max, average and global average pooling: backward vs autograd, ties, torch, backends.

Tolerances: float64 identities 1e-10 relative (testing.RTOL). Max pooling copies numbers,
so its forward and backward agree bit for bit across backends and with torch; averages
round like any sum (1e-12 relative across backends, 1e-10 against torch).
"""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn.pooling import (
    avg_pool_bwd,
    avg_pool_fwd,
    global_avg_pool_bwd,
    global_avg_pool_fwd,
    max_pool_bwd,
    max_pool_fwd,
)
from rso_ref.testing import assert_close

RTOL = 1e-10

POOLS = {"max": (max_pool_fwd, max_pool_bwd), "avg": (avg_pool_fwd, avg_pool_bwd)}
# (input shape, kernel_size, stride): non-overlapping, overlapping, ragged (floor mode).
CASES = [((2, 3, 8), 2, None), ((2, 2, 9), 3, 2), ((2, 3, 6, 6), 2, None),
         ((2, 2, 7, 6), (3, 2), (2, 1)), ((1, 2, 5, 5), 2, None)]
IDS = ["1d", "1d-overlap", "2d", "2d-overlap", "2d-ragged"]


def _run(kind, X, G, kernel_size, stride, xp=None):
    fwd, bwd = POOLS[kind]
    Y, cache = fwd(X, kernel_size=kernel_size, stride=stride, xp=xp)
    return Y, bwd(cache, G, kernel_size=kernel_size, stride=stride, xp=xp)


def _data(x_shape, kernel_size, stride, seed=0):
    # Distinct continuous values: no ties, where autograd's max and ours agree.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(x_shape)
    Y, _ = max_pool_fwd(X, kernel_size=kernel_size, stride=stride)
    return X, rng.standard_normal(Y.shape)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel_size, stride", CASES, ids=IDS)
def test_backward_matches_autograd(kind, x_shape, kernel_size, stride):
    X, G = _data(x_shape, kernel_size, stride)

    def loss(p, G, *, xp):
        return xp.sum(G * POOLS[kind][0](p[0], kernel_size=kernel_size, stride=stride, xp=xp)[0])

    _, (dX_ref,) = autodiff.value_and_grad(loss, [X], G)
    _, dX = _run(kind, X, G, kernel_size, stride)
    assert_close(dX, dX_ref, rtol=RTOL, atol=RTOL * np.max(np.abs(dX_ref)),
                 err_msg="dX: mine vs autograd")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel_size, stride", CASES[1::2], ids=IDS[1::2])
def test_backward_projection_vs_central_differences(xp, kind, x_shape, kernel_size, stride):
    X, _ = _data(x_shape, kernel_size, stride, seed=1)
    fwd, bwd = POOLS[kind]

    def vjp(p, u):
        cache = fwd(p[0], kernel_size=kernel_size, stride=stride)[1]
        return [bwd(cache, u, kernel_size=kernel_size, stride=stride)]

    autodiff.check_grads(lambda p, *, xp: fwd(p[0], kernel_size=kernel_size, stride=stride,
                                               xp=xp)[0],
                         [backend.asarray(X, xp=xp)], vjp)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel_size, stride", CASES, ids=IDS)
def test_backends_agree_with_numpy(xp, on_device, kind, x_shape, kernel_size, stride):
    X, G = _data(x_shape, kernel_size, stride, seed=2)
    ref = _run(kind, X, G, kernel_size, stride)
    mine = _run(kind, backend.asarray(X, xp=xp), backend.asarray(G, xp=xp), kernel_size, stride)
    rtol = 0.0 if kind == "max" else 1e-12  # max pooling only copies numbers
    for name, a, r in zip(("Y", "dX"), mine, ref):
        on_device(a)
        assert_close(a, r, rtol=rtol, err_msg=f"{name}: {backend.backend_name(xp)} vs numpy",
                     check_namespace=False)


def test_max_pool_ties_go_to_the_first_maximum(xp, on_device):
    # Window [[1, 1], [0, 1]] has three tied maxima: all gradient goes to (0, 0), row-major.
    X = backend.asarray(np.array([[[[1.0, 1.0, 0.0, 0.0],
                                    [0.0, 1.0, 0.0, 0.0]]]]), xp=xp)
    G = backend.asarray(np.array([[[[5.0, 7.0]]]]), xp=xp)
    Y, cache = max_pool_fwd(X, kernel_size=2)
    dX = max_pool_bwd(cache, G, kernel_size=2)
    on_device(Y, dX)
    dX = backend.to_numpy(dX)
    assert backend.to_numpy(Y).ravel().tolist() == [1.0, 0.0]
    assert dX[0, 0].tolist() == [[5.0, 0.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_overlapping_windows_add_up():
    # 1-D, kernel 3, stride 1 over [0, 3, 1, 2]: windows [0,3,1], [3,1,2] both pick the 3.
    X = np.array([[[0.0, 3.0, 1.0, 2.0]]])
    Y, cache = max_pool_fwd(X, kernel_size=3, stride=1)
    dX = max_pool_bwd(cache, np.array([[[1.0, 10.0]]]), kernel_size=3, stride=1)
    assert Y.ravel().tolist() == [3.0, 3.0] and dX.ravel().tolist() == [0.0, 11.0, 0.0, 0.0]


def test_global_average_pool(xp):
    X, _ = _data((2, 3, 4, 5), 2, None, seed=3)
    Xb = backend.asarray(X, xp=xp)
    Y, cache = global_avg_pool_fwd(Xb)
    assert_close(Y, backend.asarray(X.mean(axis=(2, 3)), xp=xp), rtol=1e-12)
    G = np.random.default_rng(4).standard_normal((2, 3))
    dX = global_avg_pool_bwd(cache, backend.asarray(G, xp=xp))
    # <G, Y(X)> is linear in X with gradient G / 20 at every position.
    expected = np.broadcast_to(G[:, :, None, None] / 20.0, X.shape)
    assert_close(dX, backend.asarray(np.ascontiguousarray(expected), xp=xp), rtol=RTOL)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"X must have shape \(N, C, L\) or \(N, C, H, W\)"):
        max_pool_fwd(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"X must have shape"):
        global_avg_pool_fwd(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="window .* is larger than the padded spatial size"):
        avg_pool_fwd(np.zeros((1, 1, 3)), kernel_size=4)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        max_pool_fwd(np.zeros((1, 1, 4, 4)), stride=0)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel_size, stride", CASES, ids=IDS)
def test_matches_torch_functional_including_relu_ties(kind, x_shape, kernel_size, stride):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    X, G = _data(x_shape, kernel_size, stride, seed=5)
    X = np.maximum(X, 0.0)  # ReLU outputs: windows of tied zeros
    d = X.ndim - 2
    pool = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d,
            ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d}[kind, d]
    tX = torch.from_numpy(X).requires_grad_(True)
    tY = pool(tX, kernel_size, stride)
    tY.backward(torch.from_numpy(G))
    Y, dX = _run(kind, X, G, kernel_size, stride)
    for key, mine, ref in (("Y", Y, tY), ("dX", dX, tX.grad)):
        ref = ref.detach().numpy()
        assert_close(mine, ref, rtol=RTOL, atol=RTOL * np.max(np.abs(ref)),
                     err_msg=f"{key}: mine vs torch")
