"""Dense layer (forward/backward, conventions, torch twin) and weight initialisers.

Tolerances: float64 identities at 1e-10 relative, with an absolute floor of 1e-10 times
the array's largest entry for entries that cancel to ~0 (their round-off is absolute,
of the order of the array's scale). Central differences at check_grads' 1e-6.
"""
import math

import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn import (
    dense_bwd,
    dense_fwd,
    fans,
    glorot_uniform,
    he_normal,
    lecun_normal,
    orthogonal,
)
from rso_ref.testing import assert_close

RTOL = 1e-10  # float64 identity


def _problem(xp, n=6, p=5, q=4, seed=0):
    rng = np.random.default_rng(seed)
    X, W, b, G = (rng.standard_normal(s) for s in ((n, p), (p, q), (q,), (n, q)))
    return [backend.asarray(a, xp=xp) for a in (X, W, b, G)]


def test_forward_convention(xp, on_device):
    # Weight (in, out), Y = X @ W + b, bias broadcast over rows.
    X, W, b, _ = _problem(xp)
    Y, cache = dense_fwd([W, b], X)
    Xn, Wn, bn = (backend.to_numpy(a) for a in (X, W, b))
    assert_close(Y, xp.asarray(Xn @ Wn + bn[None, :]), rtol=RTOL)  # on X's device too
    assert cache is X
    dX, (dW, db) = dense_bwd([W, b], cache, _problem(xp)[3])
    on_device(dX, dW, db)


def test_backward_matches_autograd():
    # L = sum(G * dense(X)) so that dL/dY = G; autograd differentiates the same forward.
    X, W, b, G = _problem(backend.namespace("numpy"))
    loss = lambda p, G, *, xp: xp.sum(G * dense_fwd(p[1:], p[0], xp=xp)[0])  # noqa: E731
    _, (dX_ref, dW_ref, db_ref) = autodiff.value_and_grad(loss, [X, W, b], G)
    _, cache = dense_fwd([W, b], X)
    dX, (dW, db) = dense_bwd([W, b], cache, G)
    for name, mine, ref in (("dX", dX, dX_ref), ("dW", dW, dW_ref), ("db", db, db_ref)):
        assert_close(mine, ref, rtol=RTOL, atol=RTOL * np.max(np.abs(ref)),
                     err_msg=f"{name}: mine vs autograd")


def test_backward_projection_vs_central_differences(xp):
    X, W, b, _ = _problem(xp, seed=1)

    def vjp(p, u):
        dX, (dW, db) = dense_bwd(p[1:], dense_fwd(p[1:], p[0])[1], u)
        return [dX, dW, db]

    autodiff.check_grads(lambda p, *, xp: dense_fwd(p[1:], p[0], xp=xp)[0], [X, W, b], vjp)


def test_backward_can_skip_input_gradient(np_xp):
    X, W, b, G = _problem(np_xp)
    dX, (dW, db) = dense_bwd([W, b], X, G, input_grad=False)
    assert dX is None
    assert_close(dW, X.T @ G, rtol=RTOL)


def test_feature_mismatch_names_X(np_xp):
    X, W, b, _ = _problem(np_xp)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 5\)"):
        dense_fwd([W, b], X[:, :4])


@pytest.mark.torch
def test_matches_torch_linear():
    # torch.nn.Linear stores (out, in): load W.T and read weight.grad.T back.
    torch = pytest.importorskip("torch")
    X, W, b, G = _problem(backend.namespace("numpy"))
    layer = torch.nn.Linear(5, 4, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W.T))
        layer.bias.copy_(torch.from_numpy(b))
    tX = torch.from_numpy(X).requires_grad_(True)
    tY = layer(tX)
    tY.backward(torch.from_numpy(G))
    Y, cache = dense_fwd([W, b], X)
    dX, (dW, db) = dense_bwd([W, b], cache, G)
    theirs = {"Y": tY, "dX": tX.grad, "dW": layer.weight.grad.T, "db": layer.bias.grad}
    mine = {"Y": Y, "dX": dX, "dW": dW, "db": db}
    for key, ref in theirs.items():
        ref = ref.detach().numpy()
        assert_close(mine[key], ref, rtol=RTOL, atol=RTOL * np.max(np.abs(ref)),
                     err_msg=f"{key}: mine vs torch")


# -- initialisers -----------------------------------------------------------------------

def test_fans_for_dense_and_conv_layouts():
    assert fans((784, 512)) == (784, 512)
    assert fans((16, 3, 5, 5)) == (3 * 25, 16 * 25)  # torch conv layout (out, in, kh, kw)
    assert fans((8, 4, 3)) == (12, 24)
    with pytest.raises(ValueError, match="shape"):
        fans((10,))


SHAPE = (512, 256)  # 131072 draws
# The sample variance s^2 of N iid draws has relative standard deviation
# sqrt((kurtosis - 1) / N): sqrt(2/N) = 0.0039 for a normal, sqrt(0.8/N) = 0.0025 for a
# uniform. Five standard deviations: 0.02 and 0.0125.
NORMAL_VAR_TOL, UNIFORM_VAR_TOL = 5 * math.sqrt(2 / 131072), 5 * math.sqrt(0.8 / 131072)


@pytest.mark.parametrize("init, variance", [(he_normal, 2 / 512), (lecun_normal, 1 / 512)])
def test_normal_initialisers_have_the_right_variance(init, variance):
    W = init(SHAPE, seed=3)
    assert W.shape == SHAPE and W.dtype == np.float64
    assert abs(np.mean(W)) < 5 * math.sqrt(variance / W.size)  # mean 0 within 5 sigma
    assert abs(np.var(W) / variance - 1) < NORMAL_VAR_TOL


def test_glorot_uniform_bounds_and_variance():
    W = glorot_uniform(SHAPE, seed=4)
    limit = math.sqrt(6 / sum(SHAPE))
    assert np.max(np.abs(W)) <= limit
    assert np.max(np.abs(W)) > 0.99 * limit  # the whole interval is used
    assert abs(np.var(W) / (2 / sum(SHAPE)) - 1) < UNIFORM_VAR_TOL


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5)])
def test_orthogonal_is_orthogonal(shape):
    W = orthogonal(shape, seed=5, gain=2.0) / 2.0
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
    assert_close(gram, np.eye(min(shape)), rtol=0, atol=1e-10)


def test_orthogonal_conv_layout():
    W = orthogonal((4, 2, 3, 3), seed=6)  # rows are the 4 filters, each of 18 entries
    M = W.reshape(4, 18)
    assert_close(M @ M.T, np.eye(4), rtol=0, atol=1e-10)


@pytest.mark.parametrize("init", [he_normal, lecun_normal, glorot_uniform, orthogonal])
def test_initialisers_are_deterministic_and_identical_across_backends(init, xp, on_device):
    a = init((6, 3), seed=11, like=xp.zeros(1, dtype=xp.float64))
    assert backend.backend_name(backend.array_namespace(a)) == backend.backend_name(xp)
    assert a.dtype == xp.float64
    ref = init((6, 3), seed=11)
    assert_close(a, ref, rtol=0, check_namespace=False)  # bit-identical to NumPy's draw
    assert not np.array_equal(init((6, 3), seed=12), ref)
    gen = np.random.default_rng(11)  # a Generator is accepted and advanced
    assert_close(init((6, 3), gen), ref, rtol=0)
    f32 = init((6, 3), seed=11, like=xp.zeros(1, dtype=xp.float64), dtype="float32")
    assert f32.dtype == xp.float32
    on_device(a, f32)
