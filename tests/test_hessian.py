"""Tests of rso_ref.hessian: exact and finite-difference HVPs, the GGN/functional split,
and the curvature metrics, against dense Hessians built by autograd."""
import autograd
import numpy as np
import pytest

from rso_ref import autodiff, backend, hessian, tree
from rso_ref.lanczos import top_eigenpairs
from rso_ref.nn import MLP
from rso_ref.nn.losses import mse, softmax_cross_entropy

# float64 identities between two exact derivative computations: 1e-10 relative (the
# project default, rso_ref.testing.RTOL) -- the observed disagreement is ~1e-15.
EXACT = 1e-10


def _problem(loss="cross_entropy", seed=0, sizes=(5, 6, 3), n=7):
    """A tiny tanh MLP (smooth, so the functional Hessian is far from zero) and a batch."""
    model = MLP(sizes, activation="tanh", loss=loss)
    params = model.init(seed=seed)
    gen = np.random.default_rng(seed + 1)
    params = [p + 0.3 * gen.standard_normal(p.shape) for p in params]  # non-zero biases
    X = gen.standard_normal((n, sizes[0]))
    y = gen.integers(0, sizes[-1], n)
    if loss == "mse":
        y = gen.standard_normal((n, sizes[-1]))
    v = [gen.standard_normal(p.shape) for p in params]
    return model, params, X, y, v


def _dense_hessian(model, params, X, y):
    """The full Hessian of the batch loss in the flattened parameters, by autograd."""
    xp = autodiff.namespace()
    sizes = [p.size for p in params]

    def flat_loss(theta):
        parts, start = [], 0
        for p, size in zip(params, sizes):
            parts.append(xp.reshape(theta[start:start + size], p.shape))
            start += size
        return model.loss(parts, X, y, xp=xp)

    return autograd.hessian(flat_loss)(tree.flatten(params))


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_hvp_matches_dense_hessian(mode, loss):
    model, params, X, y, v = _problem(loss)
    H = _dense_hessian(model, params, X, y)
    out = hessian.hvp(model.loss, params, v, X, y, mode=mode)
    assert [o.shape for o in out] == [p.shape for p in params]
    assert _rel(tree.flatten(out), H @ tree.flatten(v)) < EXACT


def test_ggn_plus_functional_is_hessian():
    for loss in ("cross_entropy", "mse"):
        model, params, X, y, v = _problem(loss, seed=3)
        full = tree.flatten(hessian.hvp(model.loss, params, v, X, y))
        G = tree.flatten(hessian.ggn_vp(model.forward, params, v, X, y, loss=loss))
        F = tree.flatten(hessian.functional_hvp(model.forward, params, v, X, y, loss=loss))
        # Both terms are O(1) here, so the identity is not won by one of them vanishing.
        assert np.linalg.norm(F) > 0.05 * np.linalg.norm(full)
        assert np.linalg.norm(G) > 0.05 * np.linalg.norm(full)
        assert _rel(G + F, full) < EXACT


def test_ggn_is_jacobian_sandwich_and_psd():
    """G = J^T H_l J with the Jacobian and the output Hessian built densely by autograd."""
    model, params, X, y, v = _problem("cross_entropy", seed=5)
    xp = autodiff.namespace()
    sizes = [p.size for p in params]

    def flat_logits(theta):
        parts, start = [], 0
        for p, size in zip(params, sizes):
            parts.append(xp.reshape(theta[start:start + size], p.shape))
            start += size
        return xp.reshape(model.forward(parts, X, xp=xp), (-1,))

    theta = tree.flatten(params)
    J = autograd.jacobian(flat_logits)(theta)                       # (n*C, P)
    z = model.forward(params, X)
    n, C = z.shape
    Hl = autograd.hessian(
        lambda zz: softmax_cross_entropy(xp.reshape(zz, (n, C)), y, xp=xp)[0]
    )(np.reshape(z, (-1,)))
    G = J.T @ Hl @ J
    out = tree.flatten(hessian.ggn_vp(model.forward, params, v, X, y))
    assert _rel(out, G @ tree.flatten(v)) < EXACT
    # cross-entropy's output Hessian diag(p) - p p^T is PSD, hence so is G (up to rounding)
    assert np.linalg.eigvalsh(G).min() > -1e-12 * np.abs(G).max()


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_output_derivatives_match_nn_losses(loss):
    """Closed forms of hessian.output_grad/output_hvp agree with rso_ref.nn.losses by autograd."""
    gen = np.random.default_rng(0)
    z = gen.standard_normal((6, 4))
    w = gen.standard_normal((6, 4))
    y = gen.integers(0, 4, 6) if loss == "cross_entropy" else gen.standard_normal((6, 4))
    fn = softmax_cross_entropy if loss == "cross_entropy" else mse
    xp = autodiff.namespace()
    f = lambda zz: fn(zz, y, xp=xp)[0]  # noqa: E731
    grad = autograd.grad(f)(z)
    hw = autograd.make_jvp(autograd.grad(f))(z)(w)[1]
    np.testing.assert_allclose(hessian.output_grad(z, y, loss), grad, rtol=EXACT, atol=1e-16)
    np.testing.assert_allclose(hessian.output_hvp(z, y, w, loss), hw, rtol=EXACT, atol=1e-16)


def test_output_grad_mse_integer_labels_are_one_hot():
    z = np.arange(6.0).reshape(3, 2)
    y = np.array([1, 0, 1])
    onehot = np.eye(2)[y]
    np.testing.assert_array_equal(hessian.output_grad(z, y, "mse"),
                                  hessian.output_grad(z, onehot, "mse"))


def test_fd_hvp_accuracy_and_second_order():
    model, params, X, y, v = _problem("cross_entropy", seed=7)
    exact = tree.flatten(hessian.hvp(model.loss, params, v, X, y))
    oracle = lambda p: model.value_and_grad(p, X, y)  # noqa: E731  (hand-written backward)
    # Default step: delta = u^(1/3)(1 + |theta|) ~ 3e-5 here; truncation ~delta^2 ~ 1e-9 and
    # rounding ~u/delta ~ 1e-11 relative, so 1e-7 leaves a factor ~100 of margin.
    assert _rel(tree.flatten(hessian.fd_hvp(oracle, params, v)), exact) < 1e-7
    # The error is O(eps^2): halving a large step (truncation dominated) divides it by ~4.
    e1 = _rel(tree.flatten(hessian.fd_hvp(oracle, params, v, eps=2e-2)), exact)
    e2 = _rel(tree.flatten(hessian.fd_hvp(oracle, params, v, eps=1e-2)), exact)
    assert 3.5 < e1 / e2 < 4.5
    # Any real type counts as a step (rso_ref.validation), float32 included; bool does not.
    e32 = _rel(tree.flatten(hessian.fd_hvp(oracle, params, v, eps=np.float32(1e-2))), exact)
    # float32(1e-2) = 1e-2 (1 - 2.2e-8): the O(eps^2) error moves by ~4e-8 relative.
    assert e32 == pytest.approx(e2, rel=1e-6)
    with pytest.raises(TypeError, match="eps must be a real number"):
        hessian.fd_hvp(oracle, params, v, eps=True)


def test_fd_hvp_quadratic_on_every_backend(xp):
    """On L = 0.5 θᵀAθ the central difference has no truncation error: only rounding."""
    gen = np.random.default_rng(2)
    B = gen.standard_normal((9, 9))
    A = xp.asarray(B + B.T)
    theta = [xp.asarray(gen.standard_normal(9))]
    v = [xp.asarray(gen.standard_normal(9))]
    oracle = lambda p: (None, [xp.matmul(A, p[0])])  # noqa: E731
    out = hessian.fd_hvp(oracle, theta, v)
    # rounding ~ u * |A θ| / delta with delta ~ 6e-6 * (1 + |θ|): ~1e-10 relative
    expected = xp.matmul(A, v[0])
    err = float(xp.linalg.vector_norm(out[0] - expected) / xp.linalg.vector_norm(expected))
    assert err < 1e-8
    zero = hessian.fd_hvp(oracle, theta, [xp.zeros(9, dtype=xp.float64)])
    assert float(xp.max(xp.abs(zero[0]))) == 0.0


def test_lanczos_on_dense_model_hessian():
    model, params, X, y, _ = _problem("cross_entropy", seed=11, sizes=(4, 8, 3), n=10)
    H = _dense_hessian(model, params, X, y)
    matvec = hessian.as_matvec(lambda w: hessian.hvp(model.loss, params, w, X, y), params)
    res = top_eigenpairs(matvec, H.shape[0], 4, tol=1e-10)
    evals = np.linalg.eigvalsh(H)[::-1]
    assert res.converged
    # Ritz values are within the residual (<= 1e-10 |λ|max) of eigenvalues: 1e-8 is safe.
    np.testing.assert_allclose(res.eigenvalues, evals[:4], rtol=0, atol=1e-8 * abs(evals).max())
    assert hessian.sharpness(matvec, H.shape[0], tol=1e-10) == pytest.approx(evals[0], rel=1e-8)


def test_dominant_alignment(xp):
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((8, 8)))
    U = xp.asarray(Q[:, :3].copy())
    inside = xp.asarray(Q[:, 0] + 2 * Q[:, 2])
    outside = xp.asarray(Q[:, 5].copy())
    mixed = xp.asarray(3 * Q[:, 1] + 4 * Q[:, 6])
    assert hessian.dominant_alignment(inside, U) == pytest.approx(1.0, rel=1e-12)
    assert hessian.dominant_alignment(outside, U) == pytest.approx(0.0, abs=1e-12)
    assert hessian.dominant_alignment(mixed, U) == pytest.approx(3 / 5, rel=1e-12)


def test_subspace_energy_share_exact_and_hutchinson(xp):
    d = np.array([4.0, -3.0, 2.0, 1.0, 0.5, -0.5])
    M = xp.asarray(np.diag(d))
    U = xp.asarray(np.eye(6)[:, :2].copy())
    matvec = lambda v: xp.matmul(M, v)  # noqa: E731
    expected = (16 + 9) / float(np.sum(d**2))
    assert hessian.subspace_energy_share(matvec, U) == pytest.approx(expected, rel=1e-12)
    # For a diagonal M, |M z|^2 = sum d_i^2 z_i^2 = |M|_F^2 for every sign vector z:
    # Hutchinson's estimate is then exact, which tests its normalisation.
    estimate = hessian.subspace_energy_share(matvec, U, n_samples=3)
    assert estimate == pytest.approx(expected, rel=1e-12)
    # Any integer type counts (rso_ref.validation): numpy's int64 gives the same draws.
    assert hessian.subspace_energy_share(matvec, U, n_samples=np.int64(3)) == estimate


def test_energy_share_of_ggn_on_model():
    """On a model the share of H in its own top-k subspace equals sum λ_i^2 / |H|_F^2."""
    model, params, X, y, _ = _problem("cross_entropy", seed=13, sizes=(3, 4, 3), n=6)
    H = _dense_hessian(model, params, X, y)
    matvec = hessian.as_matvec(lambda w: hessian.hvp(model.loss, params, w, X, y), params)
    res = top_eigenpairs(matvec, H.shape[0], 3, tol=1e-12)
    lam = np.linalg.eigvalsh(H)[::-1]
    share = hessian.subspace_energy_share(matvec, res.eigenvectors)
    assert share == pytest.approx(float(np.sum(lam[:3] ** 2) / np.sum(lam**2)), rel=1e-9)
    ggn = hessian.as_matvec(lambda w: hessian.ggn_vp(model.forward, params, w, X, y), params)
    assert 0.0 <= hessian.subspace_energy_share(ggn, res.eigenvectors) <= 1.0


def test_bad_input():
    model, params, X, y, v = _problem()
    with pytest.raises(ValueError, match="v"):
        hessian.hvp(model.loss, params, v[:-1], X, y)
    with pytest.raises(ValueError, match="v\\[0\\]"):
        hessian.hvp(model.loss, params, [v[0].T] + v[1:], X, y)
    with pytest.raises(ValueError, match="mode"):
        hessian.hvp(model.loss, params, v, X, y, mode="backward")
    with pytest.raises(ValueError, match="loss"):
        hessian.ggn_vp(model.forward, params, v, X, y, loss="hinge")
    with pytest.raises(ValueError, match="eps"):
        hessian.fd_hvp(lambda p: model.value_and_grad(p, X, y), params, v, eps=-1.0)
    with pytest.raises(TypeError, match="value_and_grad must be callable"):
        hessian.fd_hvp(None, params, v)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        hessian.hvp("loss", params, v, X, y)
    with pytest.raises(TypeError, match="forward must be callable"):
        hessian.functional_hvp(None, params, v, X, y)
    with pytest.raises(ValueError, match="g is zero"):
        hessian.dominant_alignment(np.zeros(4), np.eye(4)[:, :2])
    with pytest.raises(ValueError, match="eigvecs"):
        hessian.dominant_alignment(np.ones(4), np.eye(5)[:, :2])
    with pytest.raises(ValueError, match="n_samples"):
        hessian.subspace_energy_share(lambda z: z, np.eye(4)[:, :2], n_samples=0)
    with pytest.raises(TypeError, match="matvec must be callable"):
        hessian.subspace_energy_share(np.eye(4), np.eye(4)[:, :2])
    with pytest.raises(TypeError, match="product must be callable"):
        hessian.as_matvec(np.eye(4), params)


def test_products_on_two_devices_are_refused_naming_both():
    strict = pytest.importorskip("array_api_strict")
    one = strict.asarray(np.ones(3), device=strict.Device("device1"))
    default = strict.asarray(np.ones(3))
    pattern = r"params\[0\] on .*device1.*v\[0\] on .*CPU_DEVICE"
    with pytest.raises(ValueError, match=pattern):
        hessian.fd_hvp(lambda q: (0.0, q), [one], [default])
    with pytest.raises(ValueError, match=pattern):  # not the TypeError about autodiff
        hessian.hvp(lambda q, *, xp: xp.sum(q[0]), [one], [default])


def _rel_tree(mine, ref):
    """Relative error of a product returned on any backend against a NumPy one."""
    return _rel(tree.flatten([backend.to_numpy(m) for m in mine]), tree.flatten(ref))


def test_exact_products_off_numpy_where_the_namespace_has_autodiff(xp, on_device):
    # torch (torch.func) and JAX (jax.jvp of jax.grad) give the exact H v, G v and F v of
    # the MLP equal to autograd's on NumPy (float64 identity: 1e-10, observed ~1e-15), on
    # the input's device and detached. array_api_strict (both devices) and CuPy have no
    # autodiff: hvp refuses, naming fd_hvp, which then works on the device (1e-7 as in
    # test_fd_hvp_accuracy_and_second_order).
    model, params, X, y, v = _problem("cross_entropy", seed=17)
    ref = hessian.hvp(model.loss, params, v, X, y)
    moved = [xp.asarray(p) for p in params]
    v_dev, X_dev, y_dev = [xp.asarray(w) for w in v], xp.asarray(X), xp.asarray(y)
    if not autodiff.has_exact_derivatives(xp):
        with pytest.raises(TypeError, match="fd_hvp"):
            hessian.hvp(model.loss, moved, v_dev, X_dev, y_dev)
        out = hessian.fd_hvp(lambda p: model.value_and_grad(p, X_dev, y_dev), moved, v_dev)
        on_device(out)
        assert _rel_tree(out, ref) < 1e-7
        return
    for mode in autodiff.HVP_MODES:
        out = hessian.hvp(model.loss, moved, v_dev, X_dev, y_dev, mode=mode)
        on_device(out)
        assert not any(getattr(o, "requires_grad", False) for o in out)
        assert _rel_tree(out, ref) < EXACT, mode
    for product in (hessian.ggn_vp, hessian.functional_hvp):
        out = product(model.forward, moved, v_dev, X_dev, y_dev)
        on_device(out)
        assert _rel_tree(out, product(model.forward, params, v, X, y)) < EXACT, product.__name__


def test_output_derivatives_and_energy_share_stay_on_the_device():
    # array_api_strict refuses to mix devices: a one-hot table or identity made on the
    # default device would raise. Values equal NumPy's (same arithmetic, 1e-12).
    strict = pytest.importorskip("array_api_strict")
    device = strict.Device("device1")
    gen = np.random.default_rng(5)
    z, w, y = gen.standard_normal((6, 3)), gen.standard_normal((6, 3)), gen.integers(0, 3, 6)
    zd, wd, yd = (strict.asarray(a, device=device) for a in (z, w, y))
    for loss in hessian.LOSSES:
        for mine, ref in [(hessian.output_grad(zd, yd, loss), hessian.output_grad(z, y, loss)),
                          (hessian.output_hvp(zd, yd, wd, loss),
                           hessian.output_hvp(z, y, w, loss))]:
            assert mine.device == device
            np.testing.assert_allclose(backend.to_numpy(mine), ref, rtol=1e-12, atol=0)
    M = np.diag([4.0, -3.0, 2.0, 1.0])
    Md, U = strict.asarray(M, device=device), strict.asarray(np.eye(4)[:, :2], device=device)
    share = hessian.subspace_energy_share(lambda v: strict.matmul(Md, v), U)
    assert share == pytest.approx((16 + 9) / 30, rel=1e-12)


@pytest.mark.jax
def test_jax_hvp_is_compiled_for_a_returning_loss_and_eager_otherwise():
    # Lanczos calls hvp with the same model.loss many times: from the second call the
    # product is jax.jit-compiled and cached (one trace per shape), with the same values
    # as the eager product (1e-10, float64 identity). A fresh lambda per call is never
    # compiled (it would recompile every time), and a loss that needs concrete data
    # (Python control flow on X, traced under jit only) falls back to the eager product.
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jxp = backend.namespace("jax")
    model, params, X, y, v = _problem("cross_entropy", seed=19)
    ref = hessian.hvp(model.loss, params, v, X, y)
    moved = [[jxp.asarray(a) for a in tree_] for tree_ in (params, v)]
    Xj, yj = jxp.asarray(X), jxp.asarray(y)
    before = autodiff._jax_jitted_product.cache_info().currsize
    for _ in range(3):
        assert _rel_tree(hessian.hvp(model.loss, *moved, Xj, yj), ref) < EXACT
    assert autodiff._jax_jitted_product.cache_info().currsize == before + 1
    for _ in range(3):
        out = hessian.hvp(lambda p, a, b, *, xp: model.loss(p, a, b, xp=xp), *moved, Xj, yj)
        assert _rel_tree(out, ref) < EXACT
    assert autodiff._jax_jitted_product.cache_info().currsize == before + 1

    def concrete(p, a, b, *, xp):
        if float(xp.max(xp.abs(a))) > 1e6:  # concrete under jax.grad, traced under jax.jit
            raise ValueError("inputs too large")
        return model.loss(p, a, b, xp=xp)

    for _ in range(3):
        assert _rel_tree(hessian.hvp(concrete, *moved, Xj, yj), ref) < EXACT
    assert (concrete, "forward-over-reverse") in autodiff._JAX_EAGER  # tried once, then eager


def test_fd_hvp_in_float32_on_float32_only_devices(xp32, on_device):
    # The float32 step delta ~ 5e-3 (1 + |theta|) (fd_hvp's Notes) on a smooth (tanh) MLP:
    # truncation ~delta^2 and rounding ~u/delta, both ~1e-5 here; measured 5e-5 against
    # the exact float64 product, so 1e-3 leaves a margin of 20.
    model, params, X, y, v = _problem("cross_entropy", seed=23)
    ref = hessian.hvp(model.loss, params, v, X, y)
    f32 = [[xp32.asarray(a, dtype=xp32.float32) for a in t] for t in (params, v)]
    Xd, yd = xp32.asarray(X, dtype=xp32.float32), xp32.asarray(y.astype(np.int32))
    out = hessian.fd_hvp(lambda p: model.value_and_grad(p, Xd, yd), *f32)
    on_device(out)
    assert all(o.dtype == xp32.float32 for o in out)
    assert _rel_tree(out, ref) < 1e-3


@pytest.mark.gpu
@pytest.mark.torch
def test_exact_hvp_of_torch_cuda_tensors_stays_on_the_gpu():
    # torch.func runs where the tensors are: the product of CUDA tensors is on CUDA and
    # equals autograd's NumPy product (float64 identity on another device: 1e-10).
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    model, params, X, y, v = _problem("cross_entropy", seed=29)
    cuda = [[torch.as_tensor(a, device="cuda") for a in t] for t in (params, v)]
    Xc, yc = torch.as_tensor(X, device="cuda"), torch.as_tensor(y, device="cuda")
    out = hessian.hvp(model.loss, *cuda, Xc, yc)
    assert all(o.device.type == "cuda" and not o.requires_grad for o in out)
    assert _rel_tree(out, hessian.hvp(model.loss, params, v, X, y)) < EXACT
