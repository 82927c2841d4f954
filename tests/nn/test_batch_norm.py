"""Batch normalisation, its residual block and the ResNet with it (issue 26).

Backward vs autograd (both modes) and central differences, forward/backward and running
statistics vs ``torch.nn.BatchNorm2d``, the modes, the one update per training step (RSO's
meta evaluations leave the running statistics alone), backends.

Tolerances: float64 identities at 1e-10 relative (testing.RTOL), with an absolute floor of
1e-10 times the array's largest entry for entries that cancel to ~0 (dX of a training-mode
normalisation sums to zero over each channel; a conv bias under it has a zero gradient).
Against torch's BatchNorm2d (same formulas, float64): 1e-10. Across backends the same
operations run in another BLAS: 1e-12 relative to NumPy.
"""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn import ResNet
from rso_ref.nn.batch_norm import (BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, batch_norm_bwd,
                                   batch_norm_fwd, batch_norm_update)
from rso_ref.nn.residual_bn import bn_residual_bwd, bn_residual_fwd
from rso_ref.optim import RSO
from rso_ref.testing import assert_close
from rso_ref.train import evaluate, train

RTOL = 1e-10
RTOL_BACKEND = 1e-12

SHAPES = [(5, 3, 4, 3), (6, 4), (3, 2, 7)]
IDS = ["2d", "dense", "1d"]


def _close(mine, ref, name, rtol=RTOL, scale=None):
    """Close to ``rtol`` relative, with the floor ``rtol * scale`` (default: ``ref``'s largest
    entry; the largest of all gradients where one is exactly zero, a conv bias under a
    training-mode normalisation)."""
    ref = backend.to_numpy(ref)
    scale = float(np.max(np.abs(ref))) if scale is None else scale
    assert_close(mine, ref, rtol=rtol, atol=rtol * scale, err_msg=name, check_namespace=False)


def _largest(arrays):
    return max(float(np.max(np.abs(backend.to_numpy(a)))) for a in arrays)


def _data(x_shape, seed=0):
    rng = np.random.default_rng(seed)
    channels = x_shape[1]
    params = [1.0 + 0.5 * rng.standard_normal(channels), rng.standard_normal(channels)]
    # an offset and a scale per channel: the normalisation has something to remove
    X = 3.0 + 2.0 * rng.standard_normal(x_shape)
    running = (rng.standard_normal(channels), 0.5 + rng.random(channels))
    return params, X, rng.standard_normal(x_shape), running


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("x_shape", SHAPES, ids=IDS)
def test_backward_matches_autograd(x_shape, training):
    params, X, G, running = _data(x_shape)

    def loss(p, G, *, xp):
        return xp.sum(G * batch_norm_fwd(p[1:], p[0], running=running, training=training,
                                         xp=xp)[0])

    _, ref = autodiff.value_and_grad(loss, [X] + params, G)
    _, cache = batch_norm_fwd(params, X, running=running, training=training)
    dX, dparams = batch_norm_bwd(params, cache, G)
    for name, mine, theirs in zip(("dX", "dgamma", "dbeta"), [dX] + dparams, ref):
        _close(mine, theirs, f"{name}: mine vs autograd")
    no_dX, same = batch_norm_bwd(params, cache, G, input_grad=False)
    assert no_dX is None
    assert all(np.array_equal(a, b) for a, b in zip(same, dparams))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_backward_projection_vs_central_differences(xp, training):
    params, X, _, running = _data(SHAPES[0], seed=1)
    running = [backend.asarray(r, xp=xp) for r in running]

    def vjp(p, u):
        cache = batch_norm_fwd(p[1:], p[0], running=running, training=training)[1]
        dX, dparams = batch_norm_bwd(p[1:], cache, u)
        return [dX] + dparams

    def forward(p, *, xp):
        return batch_norm_fwd(p[1:], p[0], running=running, training=training, xp=xp)[0]

    autodiff.check_grads(forward, [backend.asarray(a, xp=xp) for a in [X] + params], vjp)


def test_forward_and_update_are_the_definitions():
    params, X, _, running = _data(SHAPES[0], seed=2)
    C = X.shape[1]
    Y, cache = batch_norm_fwd([np.ones(C), np.zeros(C)], X)
    per_channel = np.moveaxis(Y, 1, 0).reshape(C, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1), 0.0, atol=1e-14)
    var = np.moveaxis(X, 1, 0).reshape(C, -1).var(axis=1)        # biased
    np.testing.assert_allclose(per_channel.var(axis=1), var / (var + BATCH_NORM_EPS), rtol=RTOL)
    np.testing.assert_allclose(cache.var, var, rtol=RTOL)
    assert cache.count == X.shape[0] * X.shape[2] * X.shape[3]
    # the running variance takes the unbiased batch variance, the normalisation the biased
    mean, new_var = batch_norm_update(running, cache)
    m, M = BATCH_NORM_MOMENTUM, cache.count
    np.testing.assert_allclose(mean, (1 - m) * running[0] + m * X.mean(axis=(0, 2, 3)),
                               rtol=RTOL)
    np.testing.assert_allclose(new_var, (1 - m) * running[1] + m * var * M / (M - 1), rtol=RTOL)
    # evaluation mode is the affine map of the running statistics
    Y_eval, _ = batch_norm_fwd(params, X, running=running, training=False)
    shape = (1, C, 1, 1)
    expected = (params[0].reshape(shape) * (X - running[0].reshape(shape))
                / np.sqrt(running[1].reshape(shape) + BATCH_NORM_EPS) + params[1].reshape(shape))
    np.testing.assert_allclose(Y_eval, expected, rtol=RTOL)
    Y_train, _ = batch_norm_fwd(params, X, running=running, training=True)
    assert np.max(np.abs(Y_train - Y_eval)) > 0.1    # the modes differ on this batch


@pytest.mark.torch
@pytest.mark.parametrize("x_shape", [SHAPES[0], (2, 3, 1, 1)], ids=["2d", "two-values"])
def test_matches_torch_batch_norm_2d(x_shape):
    """Forward and backward in training mode, the running statistics after three
    training-mode forward passes, and the evaluation-mode forward and backward after them."""
    torch = pytest.importorskip("torch")
    params, _, _, _ = _data(x_shape, seed=3)
    C = x_shape[1]
    layer = torch.nn.BatchNorm2d(C, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(params[0]))
        layer.bias.copy_(torch.from_numpy(params[1]))
    running = (np.zeros(C), np.ones(C))
    for step in range(3):
        _, X, G, _ = _data(x_shape, seed=10 + step)
        Y, cache = batch_norm_fwd(params, X)
        dX, dparams = batch_norm_bwd(params, cache, G)
        running = batch_norm_update(running, cache)
        layer.zero_grad()
        Xt = torch.from_numpy(X).requires_grad_(True)
        Yt = layer(Xt)
        Yt.backward(torch.from_numpy(G))
        _close(Y, Yt.detach().numpy(), f"Y (step {step}): mine vs torch")
        for name, mine, theirs in zip(("dX", "dgamma", "dbeta"), [dX] + dparams,
                                      (Xt.grad, layer.weight.grad, layer.bias.grad)):
            _close(mine, theirs.numpy(), f"{name} (step {step}): mine vs torch")
        _close(running[0], layer.running_mean.numpy(), f"running mean (step {step})")
        _close(running[1], layer.running_var.numpy(), f"running var (step {step})")
    layer.eval()
    _, X, G, _ = _data(x_shape, seed=20)
    Y, cache = batch_norm_fwd(params, X, running=running, training=False)
    dX, _ = batch_norm_bwd(params, cache, G)
    Xt = torch.from_numpy(X).requires_grad_(True)
    Yt = layer(Xt)
    Yt.backward(torch.from_numpy(G))
    _close(Y, Yt.detach().numpy(), "Y (eval): mine vs torch")
    _close(dX, Xt.grad.numpy(), "dX (eval): mine vs torch")


def test_bad_input_is_named():
    params = [np.ones(4), np.zeros(4)]
    X = np.zeros((2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"X must have shape \(N, C, \*spatial\), got \(4,\)"):
        batch_norm_fwd(params, np.zeros(4))
    with pytest.raises(ValueError, match=r"params must be \[gamma, beta\] of shape \(4,\) each"):
        batch_norm_fwd([np.ones(3), np.zeros(3)], X)
    with pytest.raises(ValueError, match="eps must be"):
        batch_norm_fwd(params, X, eps=0.0)
    with pytest.raises(ValueError, match=r"running must be \(mean, var\) of shape \(4,\)"):
        batch_norm_fwd(params, X, training=False)
    with pytest.raises(ValueError, match="more than one value per channel"):
        batch_norm_fwd(params, X[:1, :, :1, :1])
    _, eval_cache = batch_norm_fwd(params, X, running=(np.zeros(4), np.ones(4)), training=False)
    with pytest.raises(ValueError, match="this cache is from evaluation mode"):
        batch_norm_update((np.zeros(4), np.ones(4)), eval_cache)
    _, cache = batch_norm_fwd(params, X + np.arange(9.0).reshape(1, 1, 3, 3))
    for momentum in (0.0, 1.5):
        with pytest.raises(ValueError, match="momentum must be"):
            batch_norm_update((np.zeros(4), np.ones(4)), cache, momentum=momentum)


# -- the residual block and the ResNet with batch normalisation -----------------------------

@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("c_in, c_out, stride", [(4, 4, 1), (2, 4, 2)],
                         ids=["identity", "projection-stride2"])
def test_residual_block_backward_matches_autograd(c_in, c_out, stride, training):
    rng = np.random.default_rng(5)
    units = [(c_out, c_in, 3, 3), (c_out, c_out, 3, 3)]
    if stride != 1 or c_in != c_out:
        units.append((c_out, c_in, 1, 1))
    params = []
    for shape in units:
        params += [rng.standard_normal(shape), rng.standard_normal(c_out),
                   1.0 + 0.3 * rng.standard_normal(c_out), rng.standard_normal(c_out)]
    running = [(rng.standard_normal(c_out), 0.5 + rng.random(c_out)) for _ in units]
    X = rng.standard_normal((3, c_in, 6, 5))
    kw = {"stride": stride, "running": running, "training": training}
    Y, cache = bn_residual_fwd(params, X, **kw)
    assert len(cache.norms) == len(units)
    G = rng.standard_normal(Y.shape)

    def loss(p, G, *, xp):
        return xp.sum(G * bn_residual_fwd(p[1:], p[0], xp=xp, **kw)[0])

    _, ref = autodiff.value_and_grad(loss, [X] + params, G)
    dX, dparams = bn_residual_bwd(params, cache, G, stride=stride)
    for j, (mine, theirs) in enumerate(zip([dX] + dparams, ref)):
        _close(mine, theirs, f"{'dX' if j == 0 else f'dparams[{j - 1}]'}: mine vs autograd",
               scale=_largest(ref))
    with pytest.raises(ValueError, match=r"params must be \[W1, b1, g1, be1, W2, b2, g2, be2\]"):
        bn_residual_fwd(params[:6], X, stride=stride)
    with pytest.raises(ValueError, match="running must hold the"):
        bn_residual_fwd(params, X, stride=stride, training=False)


def _resnet(**kw):
    return ResNet((3, 8, 8), n_classes=4, widths=(4, 8), blocks_per_stage=2, norm="batch", **kw)


def _batch(n=6, seed=0, xp=None):
    rng = np.random.default_rng(seed)
    X, y = 1.0 + rng.standard_normal((n, 3, 8, 8)), rng.integers(0, 4, n)
    return (X, y) if xp is None else (backend.asarray(X, xp=xp), backend.asarray(y, xp=xp))


def _moved(params, seed):
    """Scales away from 1 and shifts away from 0, so their gradients are tested in general."""
    rng = np.random.default_rng(seed)
    return [p + 0.3 * rng.standard_normal(p.shape) if p.ndim == 1 else p for p in params]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_resnet_value_and_grad_matches_autograd(mode):
    model = _resnet()
    params = _moved(model.init(seed=1), 6)
    X, y = _batch(seed=1)
    model.value_and_grad(params, *_batch(seed=9), update_stats=True)   # running stats != init
    with model.evaluating() if mode == "eval" else _nothing():
        value, grads = model.value_and_grad(params, X, y)
        ref_value, ref_grads = autodiff.value_and_grad(model.loss, params, X, y)
    assert abs(value - ref_value) <= RTOL * abs(ref_value)
    for j, (mine, ref) in enumerate(zip(grads, ref_grads)):
        _close(mine, ref, f"grads[{j}] ({mode}): mine vs autograd", scale=_largest(ref_grads))


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_resnet_structure_modes_and_running_statistics():
    model = _resnet()
    assert model.has_running_stats and not ResNet((3, 8, 8), norm="group").has_running_stats
    assert "norm='batch'" in repr(model) and "norm_groups" not in repr(model)
    group = ResNet((3, 8, 8), n_classes=4, widths=(4, 8), blocks_per_stage=2, norm="group",
                   norm_groups=2)
    assert model.param_shapes() == group.param_shapes()   # same parameters, other layer
    params = model.init(seed=0)
    # one (mean, var) per normalisation: the stem's, then 2 + 2 in the first stage's blocks,
    # 3 (with the projection) + 2 in the second stage's
    assert len(model.running_stats) == 1 + 2 + 2 + 3 + 2
    assert all(np.array_equal(m, np.zeros_like(m)) and np.array_equal(v, np.ones_like(v))
               for m, v in model.running_stats)
    X, y = _batch(seed=2)
    before = model.running_stats
    model.value_and_grad(params, X, y)                     # default: no update
    model.loss(params, X, y)
    assert model.running_stats is before
    model.value_and_grad(params, X, y, update_stats=True)
    assert not np.array_equal(model.running_stats[0][0], before[0][0])
    with model.evaluating():
        assert not model.training
        eval_out = model.forward(params, X)
        assert evaluate(model, params, X, y)[0] == pytest.approx(
            float(model.loss(params, X, y)), rel=1e-12)
    assert model.training
    assert np.max(np.abs(eval_out - model.forward(params, X))) > 1e-3   # the modes differ
    # evaluate() switches to evaluation mode by itself
    with model.evaluating():
        expected = evaluate(model, params, X, y)
    assert evaluate(model, params, X, y) == expected
    with model.evaluating(), pytest.raises(ValueError, match="needs training mode"):
        model.value_and_grad(params, X, y, update_stats=True)
    with pytest.raises(TypeError, match="update_stats must be a bool"):
        model.value_and_grad(params, X, y, update_stats=1)
    model.init(seed=0)                                     # init resets them
    assert all(np.array_equal(m, np.zeros_like(m)) for m, _ in model.running_stats)
    fresh = _resnet()
    with fresh.evaluating(), pytest.raises(ValueError, match="call init"):
        fresh.forward(params, X)


def test_resnet_eval_matches_torch_after_the_same_updates():
    """The stem (conv, batch norm, ReLU) against torch after three training steps' updates:
    the running statistics and the evaluation-mode output are torch's."""
    torch = pytest.importorskip("torch")
    model = ResNet((3, 8, 8), n_classes=4, widths=(4,), norm="batch")
    params = model.init(seed=3)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).double()
    norm = torch.nn.BatchNorm2d(4, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(params[0]))
        conv.bias.copy_(torch.from_numpy(params[1]))
    for step in range(3):
        X, y = _batch(seed=30 + step)
        model.value_and_grad(params, X, y, update_stats=True)
        norm(conv(torch.from_numpy(X)))
    _close(model.running_stats[0][0], norm.running_mean.detach().numpy(), "running mean")
    _close(model.running_stats[0][1], norm.running_var.detach().numpy(), "running var")
    norm.eval()
    X, _ = _batch(seed=40)
    from rso_ref.nn import conv2d_fwd   # the stem's output in evaluation mode, by hand
    stem = conv2d_fwd(params[:2], X, padding=1)[0]
    mine = batch_norm_fwd(params[2:4], stem, running=model.running_stats[0], training=False)[0]
    _close(mine, norm(conv(torch.from_numpy(X))).detach().numpy(), "stem output (eval)")


def test_rso_meta_evaluations_leave_the_running_statistics_alone():
    """A run with RSO updates the running statistics once per step, from the gradient
    evaluation at the parameters the step starts from: replaying exactly those updates
    gives the run's statistics. Had the meta-solve's evaluations (several per step) updated
    them too, they would differ."""
    model = _resnet()
    X, y = _batch(n=8, seed=4)
    seen = []
    optimizer = RSO(lr=0.05, meta_iters=2, groups="block", blocks=model.blocks())
    result = train(model, optimizer, X, y, epochs=3, batch_size=8, seed=2, progress=False,
                   probe=lambda step, params: seen.append(params))
    assert result.status == "completed" and len(seen) == 3
    assert sum(result.steps["oracle_calls"]) > 3           # the meta-solves evaluated
    replay = _resnet()
    start = replay.init(seed=2)
    for params in [start] + seen[:-1]:                     # full batch: order does not matter
        replay.value_and_grad(params, X, y, update_stats=True)
    for (m, v), (rm, rv) in zip(model.running_stats, replay.running_stats):
        _close(m, rm, "running mean vs one update per step")
        _close(v, rv, "running var vs one update per step")
    with pytest.raises(ValueError, match="checkpoint_dir: a checkpoint holds the parameters"):
        train(model, optimizer, X, y, epochs=1, batch_size=8, progress=False,
              checkpoint_dir="unused")


def test_resnet_on_every_backend(xp, on_device):
    model = _resnet()
    X, y = _batch(seed=5)
    params = _moved(model.init(seed=0), 7)
    value, grads = model.value_and_grad(params, X, y, update_stats=True)
    stats = model.running_stats
    with model.evaluating():
        eval_out = model.forward(params, X)
    X_xp, y_xp = _batch(seed=5, xp=xp)
    model_xp = _resnet()
    params_xp = [backend.asarray(p, xp=xp) for p in params]
    model_xp.init(seed=0, like=X_xp)
    on_device(*[a for pair in model_xp.running_stats for a in pair])
    value_xp, grads_xp = model_xp.value_and_grad(params_xp, X_xp, y_xp, update_stats=True)
    assert value_xp == pytest.approx(value, rel=RTOL_BACKEND)
    for j, (mine, ref) in enumerate(zip(grads_xp, grads)):
        on_device(mine)
        _close(mine, ref, f"grads[{j}]: {backend.backend_name(xp)} vs numpy", RTOL_BACKEND,
               scale=_largest(grads))
    for (m, v), (rm, rv) in zip(model_xp.running_stats, stats):
        on_device(m, v)
        _close(m, rm, "running mean", RTOL_BACKEND)
        _close(v, rv, "running var", RTOL_BACKEND)
    with model_xp.evaluating():
        _close(model_xp.forward(params_xp, X_xp), eval_out, "eval forward", RTOL_BACKEND)
