"""Tests of rso_ref.optim.subspace (Dom-SGD, Bulk-SGD, interpolated SGD) on quadratics
with known eigenvectors, on every backend."""
import numpy as np
import pytest

from rso_ref import backend, tree
from rso_ref.optim import Needs, Optimizer
from rso_ref.optim.subspace import BulkSGD, DomSGD, InterpolatedSGD
from rso_ref.validation import NonFiniteError

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

    def unused_hvp(p, v):
        raise AssertionError("a == b needs no eigenvectors")

    for _ in range(3):
        p_ref = [x - 0.05 * gx for x, gx in zip(p, grads(p))]
        p, state, info = opt.step_with_info(p, grads(p), state, hvp_fn=unused_hvp)
        np.testing.assert_allclose(_flat_np(p), _flat_np(p_ref), rtol=TIGHT, atol=0)
        assert info.hvp_calls == 0
    assert state["count"] == 3 and state["n_matvec"] == 0 and state["basis"] == []


def test_subspace_is_true_top_k_and_interpolation(xp, on_device):
    Q, params, grads, hvp_fn = _quadratic(xp, seed=2)
    opt = InterpolatedSGD(0.5, 2.0, lr=0.1, k=4, tol=1e-10)
    new, state = opt.step(params, grads(params), opt.init(params), hvp_fn=hvp_fn)
    on_device(new, state["basis"], state["eigenvalues"])  # Lanczos ran on the params' device
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
    spent, per_step = [], []
    for _ in range(6):
        before = len(calls)
        params, state, info = opt.step_with_info(params, grads(params), state,
                                                 hvp_fn=counting_hvp)
        spent.append(state["n_matvec"])
        assert info.hvp_calls == len(calls) - before
        per_step.append(info.hvp_calls)
    # solves at steps 0 and 3 only
    assert spent[0] == spent[1] == spent[2] > 0
    assert spent[3] == spent[4] == spent[5] > spent[2]
    assert len(calls) == spent[-1] == sum(per_step)
    assert per_step[1] == per_step[2] == per_step[4] == per_step[5] == 0


def test_bad_input():
    xp = backend.namespace("numpy")
    _, params, grads, hvp_fn = _quadratic(xp)
    opt = DomSGD(lr=0.1, k=2)
    with pytest.raises(TypeError, match="hvp_fn"):  # required on every step
        opt.step(params, grads(params), opt.init(params))
    with pytest.raises(TypeError, match="^hvp_fn must be callable"):
        opt.step(params, grads(params), opt.init(params), hvp_fn=None)
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


@pytest.mark.parametrize("cls", [DomSGD, BulkSGD])
def test_dom_and_bulk_are_classes_of_the_contract(cls):
    # They used to be functions returning an InterpolatedSGD, which train could not run.
    opt = cls(lr=0.1, k=2)
    assert isinstance(opt, Optimizer) and type(opt) is cls and not isinstance(opt, InterpolatedSGD)
    assert cls.needs is Needs.HVP is InterpolatedSGD.needs
    assert repr(opt) == f"{cls.__name__}(lr=0.1, k=2, every=1, tol=1e-06, seed=0)"
    weights = {DomSGD: (1.0, 0.0), BulkSGD: (0.0, 1.0)}[cls]
    assert (opt.a, opt.b) == weights


@pytest.mark.parametrize("make", [lambda: DomSGD(lr=0.1, k=2), lambda: BulkSGD(lr=0.1, k=2),
                                  lambda: InterpolatedSGD(0.5, 1.0, lr=0.1, k=2)],
                         ids=["dom", "bulk", "interpolated"])
def test_same_step_as_interpolated_sgd(make):
    xp = backend.namespace("numpy")
    _, params, grads, hvp_fn = _quadratic(xp, seed=4)
    opt = make()
    twin = InterpolatedSGD(opt.a, opt.b, lr=opt.lr, k=opt.k)
    new, _ = opt.step(params, grads(params), opt.init(params), hvp_fn=hvp_fn)
    ref, _ = twin.step(params, grads(params), twin.init(params), hvp_fn=hvp_fn)
    np.testing.assert_array_equal(_flat_np(new), _flat_np(ref))


def test_non_finite_grads_raise_before_any_hvp():
    xp = backend.namespace("numpy")
    _, params, grads, _ = _quadratic(xp)
    g = grads(params)
    g[1] = xp.asarray(np.full(g[1].shape, np.nan))

    def unused_hvp(p, v):
        raise AssertionError("no Lanczos on NaN gradients")

    opt = BulkSGD(lr=0.1, k=2)
    with pytest.raises(NonFiniteError, match="^grads"):
        opt.step(params, g, opt.init(params), hvp_fn=unused_hvp)


def test_integer_hyperparameters_of_any_integer_type():
    opt = InterpolatedSGD(np.float32(0.5), 1, lr=np.float64(0.1), k=np.int64(3),
                          every=np.int32(2), seed=np.uint8(4))
    assert (opt.a, opt.b, opt.k, opt.every, opt.seed) == (0.5, 1.0, 3, 2, 4)
    assert all(type(v) is int for v in (opt.k, opt.every, opt.seed))
    with pytest.raises(TypeError, match="^k must be an int"):
        DomSGD(lr=0.1, k=2.0)
    with pytest.raises(ValueError, match="^seed"):
        DomSGD(lr=0.1, k=2, seed=-1)
