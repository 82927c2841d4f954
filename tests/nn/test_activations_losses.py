"""Activations (ReLU, tanh, exact GELU, flatten) and losses (softmax CE, MSE).

Each hand-written backward is checked against autograd on the same forward code (f64,
1e-10 relative with a floor of 1e-10 x the array's largest entry for entries that
cancel), by <u, J v> against central differences on every backend (check_grads'
1e-6), and against torch's functional twin (1e-10).
"""
import math

import numpy as np
import pytest
import scipy.special

from rso_ref import autodiff, backend
from rso_ref.nn import (
    flatten_bwd,
    flatten_fwd,
    get_activation,
    log_softmax,
    mse,
    mse_bwd,
    one_hot,
    softmax_cross_entropy,
    softmax_cross_entropy_bwd,
)
from rso_ref.testing import assert_close

RTOL = 1e-10  # float64 identity
ACTIVATIONS = ["relu", "tanh", "gelu"]


def _close(mine, ref, what):
    ref = np.asarray(ref)
    assert_close(np.asarray(mine), ref, rtol=RTOL, atol=RTOL * np.max(np.abs(ref)), err_msg=what)


def _inputs(seed=0, shape=(5, 7)):
    # Keep |x| >= 0.05 so that central differences never straddle ReLU's kink at 0.
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)


# -- activations ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_autograd(name):
    fwd, bwd = get_activation(name)
    X, G = _inputs(0), _inputs(1)
    _, (ref,) = autodiff.value_and_grad(lambda p, G, *, xp: xp.sum(G * fwd(p[0], xp=xp)[0]), [X], G)
    _, cache = fwd(X)
    _close(bwd(cache, G), ref, f"{name}: mine vs autograd")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_projection_vs_central_differences(name, xp):
    fwd, bwd = get_activation(name)
    X = backend.asarray(_inputs(2), xp=xp)
    autodiff.check_grads(lambda p, *, xp: fwd(p[0], xp=xp)[0], [X],
                         lambda p, u: [bwd(fwd(p[0])[1], u)])


def test_activation_values(xp):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    X = backend.asarray(x, xp=xp)
    expected = {
        "relu": np.maximum(x, 0.0),
        "tanh": np.tanh(x),
        # exact GELU x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
        "gelu": x * 0.5 * (1.0 + scipy.special.erf(x / math.sqrt(2.0))),
    }
    for name, ref in expected.items():
        Y, _ = get_activation(name)[0](X)
        assert_close(Y, xp.asarray(ref), rtol=RTOL, err_msg=name)  # on X's device too


def test_relu_gradient_is_zero_at_zero(np_xp):
    fwd, bwd = get_activation("relu")
    _, cache = fwd(np_xp.asarray([-1.0, 0.0, 1.0]))
    assert_close(bwd(cache, np_xp.ones(3)), np_xp.asarray([0.0, 0.0, 1.0]), rtol=0)


def test_erf_on_every_backend(xp, on_device):
    x = np.linspace(-4.0, 4.0, 17)
    out = backend.erf(xp.asarray(x))
    on_device(out)
    assert_close(out, xp.asarray(scipy.special.erf(x)), rtol=RTOL)


@pytest.mark.jax
def test_erf_and_a_gelu_mlp_trace_under_jax_jit():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from rso_ref.nn import MLP

    x = np.linspace(-4.0, 4.0, 17)
    out = jax.jit(backend.erf)(jax.numpy.asarray(x))   # no host round trip of a tracer
    np.testing.assert_allclose(np.asarray(out), scipy.special.erf(x), rtol=RTOL)
    model = MLP((3, 4, 2), activation="gelu")
    X, y = np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    params = model.init(0, like=jax.numpy.asarray(X))
    jitted = jax.jit(lambda p, X, y: model.loss(p, X, y))
    value = float(jitted(params, jax.numpy.asarray(X), jax.numpy.asarray(y)))
    assert value == pytest.approx(float(model.loss(model.init(0), X, y)), rel=1e-12)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation must be one of .*'swish'"):
        get_activation("swish")


def test_flatten_round_trip(xp):
    X = backend.random_normal((3, 2, 4, 5), 3, xp=xp)
    Y, cache = flatten_fwd(X)
    assert tuple(Y.shape) == (3, 40)
    assert_close(Y[1, :], xp.reshape(X[1, ...], (40,)), rtol=0)  # C order per sample
    dX = flatten_bwd(cache, Y)
    assert_close(dX, X, rtol=0)


def test_flatten_backward_matches_autograd_and_differences(xp):
    X = backend.random_normal((3, 2, 4), 4, xp=xp)
    G = backend.random_normal((3, 8), 5, xp=xp)
    if backend.is_numpy(xp):
        _, (ref,) = autodiff.value_and_grad(
            lambda p, G, *, xp: xp.sum(G * flatten_fwd(p[0], xp=xp)[0]), [X], G)
        _close(flatten_bwd(flatten_fwd(X)[1], G), ref, "flatten: mine vs autograd")
    autodiff.check_grads(lambda p, *, xp: flatten_fwd(p[0], xp=xp)[0], [X],
                         lambda p, u: [flatten_bwd(flatten_fwd(p[0])[1], u)])


@pytest.mark.torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    torch = pytest.importorskip("torch")
    twin = {"relu": torch.relu, "tanh": torch.tanh,
            "gelu": lambda t: torch.nn.functional.gelu(t, approximate="none")}[name]
    fwd, bwd = get_activation(name)
    X, G = _inputs(3), _inputs(4)
    tX = torch.from_numpy(X).requires_grad_(True)
    tY = twin(tX)
    tY.backward(torch.from_numpy(G))
    Y, cache = fwd(X)
    mine, theirs = {"Y": Y, "dX": bwd(cache, G)}, {"Y": tY, "dX": tX.grad}
    for key in mine:
        _close(mine[key], theirs[key].detach().numpy(), f"{name} {key}: mine vs torch")


# -- losses -----------------------------------------------------------------------------

def _logits_labels(xp, n=8, c=5, seed=0):
    rng = np.random.default_rng(seed)
    Z, y = rng.standard_normal((n, c)) * 3.0, rng.integers(0, c, n)
    return backend.asarray(Z, xp=xp), backend.asarray(y, xp=xp)


def _mse_pair(xp, n=8, q=3, seed=0):
    rng = np.random.default_rng(seed)
    return [backend.asarray(rng.standard_normal((n, q)), xp=xp) for _ in range(2)]


def test_cross_entropy_value(xp, on_device):
    # -mean_i log softmax(Z)_{i, y_i} written out with NumPy.
    Z, y = _logits_labels(xp)
    loss, cache = softmax_cross_entropy(Z, y)
    assert loss.ndim == 0
    on_device(loss, cache, softmax_cross_entropy_bwd(cache), log_softmax(Z))
    Zn, yn = backend.to_numpy(Z), backend.to_numpy(y)
    ref = -np.mean(Zn[np.arange(8), yn] - np.log(np.sum(np.exp(Zn), axis=1)))
    assert float(loss) == pytest.approx(ref, rel=RTOL)


def test_cross_entropy_is_stable_and_shift_invariant(np_xp):
    # Adding 1e4 to a row does not change softmax; a naive exp would overflow.
    Z, y = _logits_labels(np_xp)
    big = Z + 1e4 * np_xp.reshape(np_xp.arange(8, dtype=np_xp.float64), (8, 1))
    assert float(softmax_cross_entropy(big, y)[0]) == pytest.approx(
        float(softmax_cross_entropy(Z, y)[0]), rel=1e-10)
    logp = log_softmax(big)
    assert_close(np.exp(logp).sum(axis=1), np.ones(8), rtol=1e-12)


def test_losses_are_batch_means(np_xp):
    # The loss of a batch stacked twice equals the loss of the batch.
    Z, y = _logits_labels(np_xp)
    P, T = _mse_pair(np_xp)
    twice = lambda a: np_xp.concat([a, a], axis=0)  # noqa: E731
    assert float(softmax_cross_entropy(twice(Z), twice(y))[0]) == pytest.approx(
        float(softmax_cross_entropy(Z, y)[0]), rel=RTOL)
    assert float(mse(twice(P), twice(T))[0]) == pytest.approx(float(mse(P, T)[0]), rel=RTOL)


def test_mse_value(xp, on_device):
    P, T = _mse_pair(xp)
    loss, cache = mse(P, T)
    on_device(loss, mse_bwd(cache))
    Pn, Tn = backend.to_numpy(P), backend.to_numpy(T)
    assert float(loss) == pytest.approx(0.5 * np.sum((Pn - Tn) ** 2) / 8, rel=RTOL)


def test_loss_backwards_match_autograd():
    Z, y = _logits_labels(backend.namespace("numpy"))
    _, (ref,) = autodiff.value_and_grad(
        lambda p, y, *, xp: softmax_cross_entropy(p[0], y, xp=xp)[0], [Z], y)
    _close(softmax_cross_entropy_bwd(softmax_cross_entropy(Z, y)[1]), ref, "CE: mine vs autograd")
    P, T = _mse_pair(backend.namespace("numpy"))
    _, (ref,) = autodiff.value_and_grad(lambda p, T, *, xp: mse(p[0], T, xp=xp)[0], [P], T)
    _close(mse_bwd(mse(P, T)[1]), ref, "MSE: mine vs autograd")


def test_loss_backwards_projection_vs_central_differences(xp):
    Z, y = _logits_labels(xp, seed=1)
    autodiff.check_grads(
        lambda p, *, xp: softmax_cross_entropy(p[0], y, xp=xp)[0], [Z],
        lambda p, u: [u * softmax_cross_entropy_bwd(softmax_cross_entropy(p[0], y)[1])])
    P, T = _mse_pair(xp, seed=1)
    autodiff.check_grads(lambda p, *, xp: mse(p[0], T, xp=xp)[0], [P],
                         lambda p, u: [u * mse_bwd(mse(p[0], T)[1])])


@pytest.mark.torch
def test_losses_match_torch():
    # torch: F.cross_entropy (batch mean, same as ours); ours MSE = mse_loss(sum) / (2n).
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    Z, y = _logits_labels(backend.namespace("numpy"))
    P, T = _mse_pair(backend.namespace("numpy"))
    tZ, tP = (torch.from_numpy(a).requires_grad_(True) for a in (Z, P))
    t_ce = F.cross_entropy(tZ, torch.from_numpy(y))
    t_mse = F.mse_loss(tP, torch.from_numpy(T), reduction="sum") / (2 * P.shape[0])
    (t_ce + t_mse).backward()
    ce, ce_cache = softmax_cross_entropy(Z, y)
    sq, sq_cache = mse(P, T)
    mine = {"ce": ce, "dZ": softmax_cross_entropy_bwd(ce_cache), "mse": sq, "dP": mse_bwd(sq_cache)}
    theirs = {"ce": t_ce, "dZ": tZ.grad, "mse": t_mse, "dP": tP.grad}
    for key in mine:
        _close(mine[key], theirs[key].detach().numpy(), f"{key}: mine vs torch")


def test_bad_labels_are_named(np_xp):
    Z, y = _logits_labels(np_xp)
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        softmax_cross_entropy(Z, np_xp.astype(y, np_xp.float64))
    with pytest.raises(ValueError, match=r"labels holds labels in \[-1, .\], outside \[0, 4\]"):
        softmax_cross_entropy(Z, np_xp.where(y == y[0], -1, y))
    with pytest.raises(ValueError, match="labels has 7 labels but logits has 8 rows"):
        softmax_cross_entropy(Z, y[:7])
    with pytest.raises(ValueError, match="target must have the shape"):
        mse(Z, Z[:, :2])


def test_one_hot(xp):
    y = xp.asarray([2, 0, 1])
    Y = one_hot(y, 4, dtype=xp.float64)
    ref = np.eye(4)[[2, 0, 1]]
    assert_close(Y, xp.asarray(ref), rtol=0)  # on y's device too
