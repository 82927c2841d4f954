"""Tests of rso_ref.autodiff: the autograd namespace, value_and_grad and check_grads.

Tolerances: float64 identities (the same math evaluated by two codes) at 1e-10
relative; central differences at the documented check_grads default (1e-6, over an
expected error of ~1e-10 at eps=1e-6).
"""
import autograd
import numpy as np
import pytest
import scipy.special

from rso_ref import autodiff, backend
from rso_ref.autodiff import _ADDED, _DTYPES, _PASSTHROUGH
from rso_ref.nn import MLP
from rso_ref.testing import assert_close

RTOL = 1e-10  # float64 identity


def _unary_cases(xp):
    """Functions R^(3x4) -> array using every differentiable name of the namespace."""
    idx = np.array([2, 0, 1])
    return {
        "abs": lambda x: xp.abs(x),
        "arith": lambda x: xp.divide(xp.multiply(xp.add(x, 2.0), xp.subtract(x, 0.5)), 3.0 + x * x),
        "negative_pow_square": lambda x: xp.negative(xp.pow(xp.square(x) + 1.0, 1.5)),
        "exp_log": lambda x: xp.exp(x) + xp.log(x * x + 1.0) + xp.log1p(x * x) + xp.expm1(x),
        "sqrt_logaddexp": lambda x: xp.sqrt(x * x + 1.0) + xp.logaddexp(x, 2.0 * x),
        "trig_hyp": lambda x: (xp.tanh(x) + xp.sinh(x) + xp.cosh(x) + xp.sin(x) + xp.cos(x)
                             + xp.atan2(x, 1.0 + x * x)),
        "max_min_clip_where": lambda x: (xp.maximum(x, 0.1) + xp.minimum(x, -0.2)
                                         + xp.clip(x, min=-0.5, max=0.5)
                                         + xp.where(x > 0.0, x * x, x)),
        "reductions": lambda x: (xp.sum(x, axis=0) + xp.prod(x, axis=0) + xp.mean(x, axis=0)
                                 + xp.max(x, axis=0) + xp.min(x, axis=0)),
        "shapes": lambda x: xp.sum(
            xp.squeeze(xp.expand_dims(x, axis=0), axis=0)
            + xp.broadcast_to(x[:1, :], (3, 4))
            + xp.moveaxis(xp.reshape(x, (4, 3)), 0, 1)
            + xp.tril(xp.tile(x, (1, 1))) + xp.triu(x), axis=1) + xp.repeat(x[0, :3], 1),
        "linalg": lambda x: (xp.matmul(x, xp.matrix_transpose(x))
                             + xp.tensordot(x, x, axes=([1], [1])) + xp.outer(x[:, 0], x[:, 1])),
        "added": lambda x: (xp.sum(xp.concat([x, 2.0 * x], axis=0), axis=0)
                            + xp.sum(xp.stack([x, x * x], axis=0), axis=(0, 1))
                            + xp.permute_dims(x, (1, 0))[:, 0]
                            + xp.sum(xp.take(x, idx, axis=0), axis=0)
                            + xp.take_along_axis(x, xp.asarray([[0, 1, 2, 0]]), axis=0)[0]
                            + xp.vecdot(x, x, axis=0)
                            + xp.var(x, axis=0, correction=1.0) + xp.std(x, axis=0)
                            + xp.astype(x, xp.float64)[0] + xp.erf(x)[1]
                            + xp.sum(xp.asarray(x), axis=0)),
    }


CASE_NAMES = list(_unary_cases(autodiff.namespace()))


def test_namespace_is_cached_and_exposes_only_listed_names():
    xp = autodiff.namespace()
    assert xp is autodiff.namespace() and autodiff.is_autograd_namespace(xp)
    assert not autodiff.is_autograd_namespace(backend.namespace("numpy"))
    for name in (*_PASSTHROUGH, *_DTYPES, *_ADDED):
        assert hasattr(xp, name), name
    assert xp.int64 is np.int64 and xp.float64 is np.float64
    with pytest.raises(AttributeError):
        xp.flip  # exists in autograd.numpy but has no derivative rule, so it is left out


@pytest.mark.parametrize("case", CASE_NAMES)
def test_namespace_functions_match_numpy(case, np_xp):
    # The same expression on plain NumPy (array-API wrapped) and on the namespace.
    x = np.random.default_rng(1).uniform(0.2, 1.5, size=(3, 4))
    mine = _unary_cases(autodiff.namespace())[case](x)
    if case == "added":  # no numpy twin for erf/take_along_axis: evaluate the pieces by hand
        desired = (3.0 * x.sum(0) + (x + x * x).sum(0) + x.T[:, 0] + x[[2, 0, 1]].sum(0)
                   + x[[0, 1, 2, 0], [0, 1, 2, 3]] + (x * x).sum(0) + x.var(0, ddof=1)
                   + x.std(0) + x[0] + scipy.special.erf(x)[1] + x.sum(0))
    else:
        desired = _unary_cases(np_xp)[case](x)
    assert_close(np.asarray(mine), np.asarray(desired), rtol=RTOL)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_namespace_functions_differentiate_in_both_modes(case):
    # Reverse mode vs central differences, and forward-over-reverse (make_jvp of grad)
    # vs reverse-over-reverse (make_hvp): both need VJP and JVP rules for every primitive.
    xp = autodiff.namespace()
    fun = _unary_cases(xp)[case]
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 1.5, size=(3, 4))  # away from the kinks of abs/max/clip/where
    v = rng.standard_normal((3, 4))
    autodiff.check_grads(lambda p, *, xp: fun(p[0]), [x])
    scalar = lambda z: xp.sum(fun(z) ** 2)  # noqa: E731
    hvp_rr = autograd.make_hvp(scalar)(x)[0](v)
    _, hvp_fr = autograd.make_jvp(autograd.grad(scalar))(x)(v)
    assert_close(hvp_fr, hvp_rr, rtol=RTOL, atol=RTOL * np.max(np.abs(hvp_rr)))


def test_erf_derivative_is_the_gaussian_density():
    xp = autodiff.namespace()
    x = np.linspace(-3.0, 3.0, 13)
    assert_close(xp.erf(x), scipy.special.erf(x), rtol=RTOL)
    g = autograd.elementwise_grad(xp.erf)(x)
    assert_close(g, 2.0 / np.sqrt(np.pi) * np.exp(-x * x), rtol=RTOL)
    _, jvp = autograd.make_jvp(xp.erf)(x)(np.ones_like(x))
    assert_close(jvp, g, rtol=RTOL)


def test_value_and_grad_known_gradient():
    # L(W, b) = sum(tanh(x W + b)): dL/dW = x^T (1 - tanh^2), dL/db = column sums of it.
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)

    def loss(params, x, *, xp):
        return xp.sum(xp.tanh(xp.matmul(x, params[0]) + params[1]))

    value, grads = autodiff.value_and_grad(loss, [W, b], x)
    t = np.tanh(x @ W + b)
    assert isinstance(value, float) and value == pytest.approx(t.sum(), rel=RTOL)
    assert all(isinstance(g, np.ndarray) for g in grads)
    assert_close(grads[0], x.T @ (1.0 - t * t), rtol=RTOL)
    assert_close(grads[1], (1.0 - t * t).sum(0), rtol=RTOL)


def test_value_and_grad_refuses_non_numpy():
    import array_api_strict

    loss = lambda p, *, xp: xp.sum(p[0])  # noqa: E731
    with pytest.raises(TypeError, match=r"params\[0\].*NumPy arrays only"):
        autodiff.value_and_grad(loss, [array_api_strict.asarray([1.0])])
    with pytest.raises(TypeError, match="params must be a list"):
        autodiff.value_and_grad(loss, np.ones(2))
    with pytest.raises(TypeError, match=r"args\[0\]"):
        autodiff.value_and_grad(lambda p, a, *, xp: xp.sum(p[0]), [np.ones(2)],
                                array_api_strict.asarray([1.0]))


@pytest.mark.torch
def test_value_and_grad_refuses_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch.Tensor"):
        autodiff.value_and_grad(lambda p, *, xp: xp.sum(p[0]), [torch.ones(2)])


def test_check_grads_catches_a_wrong_derivative(xp):
    # f(x) = x^3 elementwise: right VJP 3x^2 u passes on every backend, 2x^2 u fails.
    x = [backend.random_normal((4, 3), 5, xp=xp)]
    cube = lambda p, *, xp: p[0] ** 3  # noqa: E731
    analytic, numeric = autodiff.check_grads(cube, x, lambda p, u: [3.0 * p[0] ** 2 * u])
    assert analytic == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(AssertionError, match="central difference"):
        autodiff.check_grads(cube, x, lambda p, u: [2.0 * p[0] ** 2 * u])


@pytest.mark.parametrize("activation", ["relu", "gelu", "tanh"])
def test_forward_over_reverse_hvp_of_mlp_loss(activation):
    # Hessian-vector product of the MLP loss: forward-over-reverse = reverse-over-reverse
    # (1e-10), and both = central difference of the hand-written gradient (1e-6).
    model = MLP((5, 6, 3), activation=activation)
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
    params = model.init(seed=1)
    v = [rng.standard_normal(p.shape) for p in params]
    xp = autodiff.namespace()
    loss = lambda p: model.loss(p, X, y, xp=xp)  # noqa: E731
    rr = autograd.make_hvp(loss)(params)[0](v)
    _, fr = autograd.make_jvp(autograd.grad(loss))(params)(v)
    eps = 1e-6
    plus = model.value_and_grad([p + eps * d for p, d in zip(params, v)], X, y)[1]
    minus = model.value_and_grad([p - eps * d for p, d in zip(params, v)], X, y)[1]
    for j, (a, b, gp, gm) in enumerate(zip(fr, rr, plus, minus)):
        scale = np.max(np.abs(b))
        assert_close(a, b, rtol=RTOL, atol=RTOL * scale, err_msg=f"Hv[{j}] fwd-rev vs rev-rev")
        assert_close((gp - gm) / (2 * eps), b, rtol=1e-6, atol=1e-6 * scale,
                     err_msg=f"Hv[{j}] finite difference vs autograd")


def test_jvp_vjp_hvp_on_a_known_function():
    # f(W, b) = tanh(x W + b) (a (5, 2) array) and the scalar s = sum(f^2) / 2, with
    # closed forms: J v = (1 - t^2) * (x dW + db); J^T u = (x^T g, sum_rows g) with
    # g = (1 - t^2) * u; and H v of s from the chain rule, written out below.
    rng = np.random.default_rng(6)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    dW, db, u = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((5, 2))

    def f(p, *, xp):
        return xp.tanh(xp.matmul(x, p[0]) + p[1])

    t = np.tanh(x @ W + b)
    s = 1.0 - t * t
    value, tangent = autodiff.jvp(f, [W, b], [dW, db])
    assert_close(value, t, rtol=RTOL)
    assert_close(tangent, s * (x @ dW + db), rtol=RTOL)
    value, pullback = autodiff.vjp(f, [W, b])
    g = s * u
    cotangent = pullback(u)
    assert_close(value, t, rtol=RTOL)
    assert_close(cotangent[0], x.T @ g, rtol=RTOL)
    assert_close(cotangent[1], g.sum(0), rtol=RTOL)
    # s(theta) = sum(t^2)/2: ds/dz = t * s_z with s_z = 1 - t^2, d2s/dz2 = s_z^2 - 2 t^2 s_z
    # elementwise, so H v = J_z^T (d2s/dz2 * (x dW + db)) for z = x W + b.
    dz = x @ dW + db
    hz = (s * s - 2.0 * t * t * s) * dz
    for mode in autodiff.HVP_MODES:
        out = autodiff.hvp(lambda p, *, xp: 0.5 * xp.sum(f(p, xp=xp) ** 2), [W, b], [dW, db],
                           mode=mode)
        assert_close(out[0], x.T @ hz, rtol=RTOL, err_msg=mode)
        assert_close(out[1], hz.sum(0), rtol=RTOL, err_msg=mode)


def test_jvp_vjp_hvp_refuse_bad_input():
    import array_api_strict

    f = lambda p, *, xp: xp.sum(p[0] ** 3)  # noqa: E731
    with pytest.raises(ValueError, match="mode must be one of"):
        autodiff.hvp(f, [np.ones(2)], [np.ones(2)], mode="backward")
    strict = [array_api_strict.asarray([1.0, 2.0])]
    # array_api_strict has no autodiff: one TypeError naming the entry and fd_hvp.
    with pytest.raises(TypeError, match=r"params\[0\].*NumPy arrays only.*fd_hvp"):
        autodiff.hvp(f, strict, strict)
    with pytest.raises(TypeError, match=r"params\[0\].*NumPy arrays only"):
        autodiff.jvp(f, strict, strict)
    with pytest.raises(TypeError, match=r"params\[0\].*NumPy arrays only"):
        autodiff.vjp(f, strict)
    # Two namespaces mixed: a ValueError naming both (the backend's rule), not a guess.
    with pytest.raises(ValueError, match="array_api_strict.*numpy|numpy.*array_api_strict"):
        autodiff.hvp(f, [np.ones(2)], strict)
    with pytest.raises(TypeError, match="v must be a list"):
        autodiff.hvp(f, [np.ones(2)], np.ones(2))


def test_check_grads_draws_its_directions_on_the_device_of_x():
    # array_api_strict refuses to mix its two devices, so a direction made on the default
    # device would raise here; the numbers are the same host draws as on NumPy.
    import array_api_strict

    device = array_api_strict.Device("device1")
    x_host = np.random.default_rng(8).standard_normal((4, 3))
    x = [array_api_strict.asarray(x_host, device=device)]
    cube = lambda p, *, xp: p[0] ** 3  # noqa: E731
    on_device = autodiff.check_grads(cube, x, lambda p, u: [3.0 * p[0] ** 2 * u])
    on_numpy = autodiff.check_grads(cube, [x_host], lambda p, u: [3.0 * p[0] ** 2 * u])
    assert on_device == pytest.approx(on_numpy, rel=1e-12)  # same draws, same arithmetic


def test_check_grads_validates_its_arguments():
    x = [np.ones(3)]
    cube = lambda p, *, xp: p[0] ** 3  # noqa: E731
    with pytest.raises(TypeError, match="fun must be callable"):
        autodiff.check_grads(None, x)
    with pytest.raises(TypeError, match="vjp must be callable"):
        autodiff.check_grads(cube, x, "backward")
    with pytest.raises(ValueError, match="eps must be > 0"):
        autodiff.check_grads(cube, x, eps=0.0)
    with pytest.raises(TypeError, match="rtol must be a real number"):
        autodiff.check_grads(cube, x, rtol="1e-6")
    assert autodiff.check_grads(cube, x, eps=np.float32(1e-6))[0] == pytest.approx(
        autodiff.check_grads(cube, x)[0], rel=1e-12)  # the analytic side does not use eps


def _tanh_layer(x):
    """``f(W, b) = tanh(x W + b)`` and ``s = sum(f^2) / 2`` on the inputs ``x``."""
    def f(p, *, xp):
        return xp.tanh(xp.matmul(x, p[0]) + p[1])

    return f, lambda p, *, xp: 0.5 * xp.sum(f(p, xp=xp) ** 2)


def test_jvp_vjp_hvp_are_exact_on_torch_and_jax_and_stay_there(xp, on_device):
    # torch.func and JAX differentiate the same array-API code as autograd does on NumPy:
    # equal to 1e-10 (float64 identity; observed ~1e-16), results on the input's device.
    # Backends without autodiff (array_api_strict on any device, CuPy) are refused.
    rng = np.random.default_rng(6)
    x, u = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    host = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    tangent = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    dev, dev_t = [xp.asarray(a) for a in host], [xp.asarray(a) for a in tangent]
    f, s = _tanh_layer(xp.asarray(x))
    if not autodiff.has_exact_derivatives(xp):
        with pytest.raises(TypeError, match="fd_hvp"):
            autodiff.hvp(s, dev, dev_t)
        return
    value, jv = autodiff.jvp(f, dev, dev_t)
    cot = autodiff.vjp(f, dev)[1](xp.asarray(u))
    products = {mode: autodiff.hvp(s, dev, dev_t, mode=mode) for mode in autodiff.HVP_MODES}
    f_ref, s_ref = _tanh_layer(x)
    ref_value, ref_jv = autodiff.jvp(f_ref, host, tangent)
    ref_cot = autodiff.vjp(f_ref, host)[1](u)
    ref_hv = autodiff.hvp(s_ref, host, tangent)
    on_device(value, jv, cot, *products.values())
    assert_close(backend.to_numpy(value), ref_value, rtol=RTOL)
    assert_close(backend.to_numpy(jv), ref_jv, rtol=RTOL)
    for mine, ref in zip(cot, ref_cot):
        assert_close(backend.to_numpy(mine), ref, rtol=RTOL)
    for mode, out in products.items():
        for mine, ref in zip(out, ref_hv):
            assert_close(backend.to_numpy(mine), ref, rtol=RTOL, err_msg=mode)
            assert not getattr(mine, "requires_grad", False)  # torch: detached
