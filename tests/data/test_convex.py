"""Convex problems: prescribed spectra, certified optima, and value_and_grad on every backend."""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.data import least_squares, logistic_regression
from rso_ref.data.convex import geometric_spectrum
from rso_ref.testing import assert_close

MAKERS = {"least_squares": least_squares, "logistic": logistic_regression}


def _grad_norm_ratio(problem):
    _, g_star = problem.value_and_grad(problem.x_star)
    _, g_zero = problem.value_and_grad(0.0 * problem.x_star)
    return np.linalg.norm(backend.to_numpy(g_star)) / np.linalg.norm(backend.to_numpy(g_zero))


@pytest.mark.parametrize("cond", [1.0, 1e3, 1e6])
def test_least_squares_spectrum_and_optimum(cond):
    p = least_squares(60, 8, cond=cond, L=2.0, seed=1)
    s = np.linalg.svd(p.A, compute_uv=False)
    hess_eigs = s ** 2 / 60
    # SVD finds singular values to ~eps * s_max; relative error on the condition number
    # of A^T A is ~2 eps sqrt(cond) <= 1e-12 here, inside the 1e-10 identity tolerance.
    assert (s[0] / s[-1]) ** 2 == pytest.approx(cond, rel=1e-10)
    assert hess_eigs[0] == pytest.approx(p.L, rel=1e-10) and p.L == 2.0
    assert hess_eigs[-1] == pytest.approx(p.mu, rel=1e-10) and p.mu == 2.0 / cond
    assert _grad_norm_ratio(p) < 1e-12  # certified to 1e-13 at construction
    x_lstsq = np.linalg.lstsq(p.A, p.b, rcond=None)[0]
    # both solve the same problem; they agree to eps * cond(A) = eps * sqrt(cond)
    np.testing.assert_allclose(p.x_star, x_lstsq, rtol=0, atol=1e-12 * np.linalg.norm(x_lstsq))
    assert p.f_star == pytest.approx(0.5 * np.sum((p.A @ x_lstsq - p.b) ** 2) / 60, rel=1e-12)
    assert p.f_star > 0 and p.lam == 0.0


@pytest.mark.parametrize("cond", [1.0, 1e2, 1e6])
def test_logistic_covariance_spectrum_and_optimum(cond):
    p = logistic_regression(80, 6, cond=cond, lam=1e-3, top=3.0, seed=2)
    X = p.A
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-13)  # centred features
    s = np.linalg.svd(X, compute_uv=False)
    assert (s[0] / s[-1]) ** 2 == pytest.approx(cond, rel=1e-10)  # as for least squares
    assert s[0] ** 2 / 80 == pytest.approx(3.0, rel=1e-12)
    assert set(np.unique(p.b)) == {0.0, 1.0}
    assert _grad_norm_ratio(p) < 1e-12
    assert p.mu == 1e-3 and p.L == pytest.approx(3.0 / 4 + 1e-3, rel=1e-15)


def test_logistic_curvature_lies_between_mu_and_L():
    p = logistic_regression(80, 6, cond=50.0, lam=1e-2, seed=0)
    gen = np.random.default_rng(0)
    for w in (p.x_star, np.zeros(6), 3.0 * gen.standard_normal(6)):
        z = p.A @ w
        s = 1 / (1 + np.exp(-z))
        H = (p.A.T * (s * (1 - s))) @ p.A / 80 + p.lam * np.eye(6)
        eigs = np.linalg.eigvalsh(H)
        assert p.mu <= eigs[0] * (1 + 1e-12) and eigs[-1] <= p.L * (1 + 1e-12)
    # the bound is attained at w = 0, where sigma (1 - sigma) = 1/4 for every example
    H0 = p.A.T @ p.A / 80 / 4 + p.lam * np.eye(6)
    assert np.linalg.eigvalsh(H0)[-1] == pytest.approx(p.L, rel=1e-12)


def test_optimum_is_a_minimum_along_random_directions():
    gen = np.random.default_rng(5)
    for p in (least_squares(40, 5, cond=10.0), logistic_regression(40, 5, cond=10.0)):
        for _ in range(5):
            d = gen.standard_normal(p.dim)
            d *= 1e-3 / np.linalg.norm(d)
            f = p.value_and_grad(p.x_star + d)[0]
            # f - f* >= mu/2 |d|^2 (strong convexity), up to round-off of f (~1e-16 |f|)
            assert f - p.f_star >= 0.5 * p.mu * 1e-6 * (1 - 1e-6) - 1e-15 * abs(p.f_star)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_value_and_grad_on_every_backend_equals_numpy(xp, name):
    host = MAKERS[name](50, 7, cond=30.0, seed=3)
    moved = MAKERS[name](50, 7, cond=30.0, seed=3, xp=xp)
    assert backend.backend_name(backend.array_namespace(moved.A)) == backend.backend_name(xp)
    assert moved.f_star == host.f_star and moved.mu == host.mu and moved.L == host.L
    x_host = np.random.default_rng(1).standard_normal(7)
    f_host, g_host = host.value_and_grad(x_host)
    f, g = moved.value_and_grad(xp.asarray(x_host))
    assert isinstance(f, float)
    # same float64 formula on another library: reductions may be ordered differently,
    # a few ulps per term over ~350 terms -> far below 1e-12
    assert f == pytest.approx(f_host, rel=1e-12)
    assert_close(g, xp.asarray(g_host), rtol=1e-12, atol=1e-15 * np.linalg.norm(g_host))
    assert float(moved.value(xp.asarray(x_host))) == pytest.approx(f_host, rel=1e-12)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_problem_and_its_gradient_live_on_the_requested_device(xp, on_device, name):
    real, device = backend.array_namespace(xp.zeros(1)), backend.device(xp.zeros(1))
    p = MAKERS[name](20, 3, cond=5.0, seed=0, xp=real, device=device)
    on_device(p.A, p.b, p.x_star)
    f, g = p.value_and_grad(p.x_star)
    assert isinstance(f, float)
    on_device(g)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_gradient_matches_central_differences_on_every_backend(xp, name):
    p = MAKERS[name](30, 4, cond=10.0, seed=0, xp=xp)
    x = backend.random_normal((4,), 7, xp=xp)
    autodiff.check_grads(lambda v, xp: p.value(v[0], xp=xp), [x],
                         vjp=lambda v, u: [u * p.value_and_grad(v[0])[1]])


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_gradient_equals_autograd_of_the_same_value_code(name):
    p = MAKERS[name](30, 4, cond=10.0, seed=0)
    x = np.random.default_rng(2).standard_normal(4)
    value, (grad,) = autodiff.value_and_grad(lambda v, xp: p.value(v[0], xp=xp), [x])
    f, g = p.value_and_grad(x)
    assert value == pytest.approx(f, rel=1e-14)
    np.testing.assert_allclose(g, grad, rtol=1e-12, atol=1e-15)  # same expressions, exact


def test_float32_problem_and_logistic_does_not_overflow():
    p = logistic_regression(30, 4, seed=0, dtype="float32")
    assert p.A.dtype == np.float32 and p.x_star.dtype == np.float32
    f, g = p.value_and_grad(np.full(4, 1e4, dtype=np.float32))  # huge logits: no inf/NaN
    assert np.isfinite(f) and np.all(np.isfinite(g))


def test_geometric_spectrum_end_points_are_exact():
    v = geometric_spectrum(5, 1e4, 2.0)
    assert v[0] == 2.0 and v[-1] == 2.0 / 1e4
    np.testing.assert_allclose(v[1:] / v[:-1], 10.0 ** -1, rtol=1e-14)


@pytest.mark.parametrize("maker, kwargs, match", [
    (least_squares, {"cond": 0.5}, "cond must be >= 1"),
    (least_squares, {"n_samples": 5, "n_features": 8}, "n_samples must be an int >= 8"),
    (least_squares, {"L": -1.0}, "L must be > 0"),
    (least_squares, {"noise": -0.1}, "noise must be"),
    (least_squares, {"n_features": 1, "cond": 10.0}, "cond must be 1 when n_features=1"),
    (logistic_regression, {"lam": 0.0}, "lam must be > 0"),
    (logistic_regression, {"n_samples": 20, "n_features": 20}, "n_samples must be an int >= 21"),
    (logistic_regression, {"top": float("inf")}, "top must be"),
])
def test_bad_arguments_are_named(maker, kwargs, match):
    with pytest.raises(ValueError, match=match):
        maker(**kwargs)


def test_value_and_grad_checks_x():
    p = least_squares(10, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(3,\)"):
        p.value_and_grad(np.zeros(4))
    torch_xp = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="different namespaces"):
        p.value_and_grad(torch_xp.zeros(3, dtype=torch_xp.float64))
