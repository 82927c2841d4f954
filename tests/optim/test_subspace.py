"""Tests of rso_ref.optim.subspace (Dom-SGD, Bulk-SGD, interpolated SGD) on quadratics
with known eigenvectors, on every backend."""
import numpy as np
import pytest

from rso_ref import backend, tree
from rso_ref.optim.subspace import BulkSGD, DomSGD, InterpolatedSGD

# Exact identities in float64: each side is a handful of flops on O(1) numbers, so
# 1e-12 relative to the gradient norm is ~1e4 ulps of slack.
TIGHT = 1e-12


def _quadratic(xp, seed=0, dim=12):
    """L(θ) = ½ θᵀAθ, A = Q diag(λ) Qᵀ, λ = 12, 11, ..., 1; params split in two leaves."""
    gen = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(gen.standard_normal((dim, dim)))
    lam = np.arange(dim, 0, -1.0)
    A = xp.asarray((Q * lam) @ Q.T)
    params = [xp.asarray(gen.standard_normal((3, 2))), xp.asarray(gen.standard_normal(dim - 6))]

    def hvp_fn(p, v):
        return tree.unflatten(xp.matmul(A, tree.flatten(v)), p)

    def grads(p):
        return hvp_fn(p, p)  # ∇L = Aθ

    return Q, params, grads, hvp_fn


def _flat_np(p):
    return backend.to_numpy(tree.flatten(p))


def test_dom_plus_bulk_is_sgd_and_orthogonal(xp):
    Q, params, grads, hvp_fn = _quadratic(xp)
    g = grads(params)
    steps = {}
    for name, opt in {"dom": DomSGD(lr=0.1, k=3), "bulk": BulkSGD(lr=0.1, k=3)}.items():
        new, _ = opt.step(params, g, opt.init(params), hvp_fn=hvp_fn)
        steps[name] = _flat_np(params) - _flat_np(new)        # = lr * (P g) or lr * (I-P) g
    gn = 0.1 * np.linalg.norm(_flat_np(g))
    np.testing.assert_allclose(steps["dom"] + steps["bulk"], 0.1 * _flat_np(g),
                               rtol=0, atol=TIGHT * gn)
    assert abs(steps["dom"] @ steps["bulk"]) <= TIGHT * gn**2
    # the dominant step lies in span(q1, q2, q3) and the bulk step is orthogonal to it
    top = Q[:, :3]
    np.testing.assert_allclose(steps["dom"] - top @ (top.T @ steps["dom"]), 0, atol=1e-8 * gn)
    np.testing.assert_allclose(top.T @ steps["bulk"], 0, atol=1e-8 * gn)


def test_equal_weights_is_sgd(xp):
    _, params, grads, _ = _quadratic(xp, seed=1)
    opt = InterpolatedSGD(1.0, 1.0, lr=0.05, k=3)
    state = opt.init(params)
    p = params
    for _ in range(3):
        p_ref = [x - 0.05 * gx for x, gx in zip(p, grads(p))]
        p, state = opt.step(p, grads(p), state)                # no hvp_fn needed
        np.testing.assert_allclose(_flat_np(p), _flat_np(p_ref), rtol=TIGHT, atol=0)
    assert state["count"] == 3 and state["n_matvec"] == 0 and state["basis"] == []


def test_subspace_is_true_top_k_and_interpolation(xp):
    Q, params, grads, hvp_fn = _quadratic(xp, seed=2)
    opt = InterpolatedSGD(0.5, 2.0, lr=0.1, k=4, tol=1e-10)
    new, state = opt.step(params, grads(params), opt.init(params), hvp_fn=hvp_fn)
    U = backend.to_numpy(state["basis"][0])
    assert U.shape == (12, 4)
    # projector distance to the true top-4 eigenspace (gap 1 after λ4 = 9): Davis-Kahan
    # gives ~tol |A| / gap = 1e-9
    np.testing.assert_allclose(U @ U.T, Q[:, :4] @ Q[:, :4].T, rtol=0, atol=1e-8)
    np.testing.assert_allclose(backend.to_numpy(state["eigenvalues"][0]), [12, 11, 10, 9],
                               atol=1e-8)
    g = _flat_np(grads(params))
    P = Q[:, :4] @ Q[:, :4].T
    expected = _flat_np(params) - 0.1 * (0.5 * P @ g + 2.0 * (g - P @ g))
    np.testing.assert_allclose(_flat_np(new), expected, rtol=0, atol=1e-8 * np.linalg.norm(g))


def test_eigenvectors_recomputed_every_n_steps():
    xp = backend.namespace("numpy")
    _, params, grads, hvp_fn = _quadratic(xp, seed=3)
    calls = []

    def counting_hvp(p, v):
        calls.append(1)
        return hvp_fn(p, v)

    opt = BulkSGD(lr=0.01, k=2, every=3)
    state = opt.init(params)
    spent = []
    for _ in range(6):
        params, state = opt.step(params, grads(params), state, hvp_fn=counting_hvp)
        spent.append(state["n_matvec"])
    # solves at steps 0 and 3 only
    assert spent[0] == spent[1] == spent[2] > 0
    assert spent[3] == spent[4] == spent[5] > spent[2]
    assert len(calls) == spent[-1]


def test_bad_input():
    xp = backend.namespace("numpy")
    _, params, grads, hvp_fn = _quadratic(xp)
    opt = DomSGD(lr=0.1, k=2)
    with pytest.raises(ValueError, match="hvp_fn"):
        opt.step(params, grads(params), opt.init(params))
    with pytest.raises(ValueError, match="k must be"):
        big = DomSGD(lr=0.1, k=13)
        big.step(params, grads(params), big.init(params), hvp_fn=hvp_fn)
    with pytest.raises(ValueError, match="lr"):
        DomSGD(lr=0.0, k=2)
    with pytest.raises(ValueError, match="k"):
        BulkSGD(lr=0.1, k=0)
    with pytest.raises(ValueError, match="every"):
        InterpolatedSGD(1.0, 0.5, lr=0.1, k=2, every=0)
    with pytest.raises(TypeError, match="a must be"):
        InterpolatedSGD("1", 0.5, lr=0.1, k=2)
    with pytest.raises(ValueError, match="grads"):
        opt.step(params, grads(params)[:1], opt.init(params), hvp_fn=hvp_fn)
