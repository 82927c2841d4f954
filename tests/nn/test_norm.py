"""Group normalisation and the ResNet with it: backward vs autograd and torch, backends, inputs.

Tolerances: float64 identities at 1e-10 relative (testing.RTOL), with an absolute floor of
1e-10 times the array's largest entry for entries that cancel to ~0 (dX of a normalisation
sums to zero over each group). Across backends the same operations run in another BLAS:
1e-12 relative to NumPy. Against torch's GroupNorm (same formula, float64): 1e-10.
"""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn.convnets import ResNet
from rso_ref.nn.norm import GROUP_NORM_EPS, group_norm_bwd, group_norm_fwd
from rso_ref.nn.residual import residual_bwd, residual_fwd
from rso_ref.testing import assert_close

RTOL = 1e-10
RTOL_BACKEND = 1e-12

# (input shape, groups): 2-D images with groups of 2 channels, layer norm (G = 1),
# instance norm (G = C), one spatial axis.
CASES = [((3, 6, 4, 5), 3), ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4), ((3, 6, 7), 2)]
IDS = ["2d-groups", "layer-norm", "instance-norm", "1d"]


def _close(mine, ref, name, rtol=RTOL):
    ref = backend.to_numpy(ref)
    assert_close(mine, ref, rtol=rtol, atol=rtol * float(np.max(np.abs(ref))), err_msg=name,
                 check_namespace=False)


def _data(x_shape, seed=0):
    rng = np.random.default_rng(seed)
    channels = x_shape[1]
    params = [1.0 + 0.5 * rng.standard_normal(channels), rng.standard_normal(channels)]
    # a channel offset and scale per channel: normalisation has something to remove
    X = 3.0 + 2.0 * rng.standard_normal(x_shape)
    return params, X, rng.standard_normal(x_shape)


@pytest.mark.parametrize("x_shape, groups", CASES, ids=IDS)
def test_backward_matches_autograd(x_shape, groups):
    params, X, G = _data(x_shape)

    def loss(p, G, *, xp):
        return xp.sum(G * group_norm_fwd(p[1:], p[0], groups=groups, xp=xp)[0])

    _, ref = autodiff.value_and_grad(loss, [X] + params, G)
    _, cache = group_norm_fwd(params, X, groups=groups)
    dX, dparams = group_norm_bwd(params, cache, G, groups=groups)
    for name, mine, theirs in zip(("dX", "dgamma", "dbeta"), [dX] + dparams, ref):
        _close(mine, theirs, f"{name}: mine vs autograd")
    no_dX, same = group_norm_bwd(params, cache, G, groups=groups, input_grad=False)
    assert no_dX is None
    assert all(np.array_equal(a, b) for a, b in zip(same, dparams))


@pytest.mark.parametrize("x_shape, groups", CASES[::3], ids=IDS[::3])
def test_backward_projection_vs_central_differences(xp, x_shape, groups):
    params, X, _ = _data(x_shape, seed=1)

    def vjp(p, u):
        cache = group_norm_fwd(p[1:], p[0], groups=groups)[1]
        dX, dparams = group_norm_bwd(p[1:], cache, u, groups=groups)
        return [dX] + dparams

    autodiff.check_grads(lambda p, *, xp: group_norm_fwd(p[1:], p[0], groups=groups, xp=xp)[0],
                         [backend.asarray(a, xp=xp) for a in [X] + params], vjp)


def test_forward_is_the_definition():
    # gamma = 1, beta = 0: every sample's group has mean 0 and (biased) variance
    # var / (var + eps); the affine part then acts per channel.
    x_shape, groups = CASES[0]
    _, X, _ = _data(x_shape, seed=2)
    C = x_shape[1]
    Y, _ = group_norm_fwd([np.ones(C), np.zeros(C)], X, groups=groups)
    Xg = X.reshape(x_shape[0], groups, -1)
    Yg = Y.reshape(x_shape[0], groups, -1)
    np.testing.assert_allclose(Yg.mean(axis=2), 0.0, atol=1e-14)   # ~ eps of O(1) entries
    var = Xg.var(axis=2)
    np.testing.assert_allclose(Yg.var(axis=2), var / (var + GROUP_NORM_EPS), rtol=RTOL)
    gamma, beta = np.arange(1.0, C + 1), -np.arange(C, dtype=float)
    Y2, _ = group_norm_fwd([gamma, beta], X, groups=groups)
    np.testing.assert_allclose(Y2, gamma[None, :, None, None] * Y + beta[None, :, None, None],
                               rtol=RTOL, atol=RTOL)
    # per sample: a sample's output does not depend on the rest of the batch
    Y_first, _ = group_norm_fwd([gamma, beta], X[:1], groups=groups)
    np.testing.assert_array_equal(Y_first, Y2[:1])


@pytest.mark.torch
@pytest.mark.parametrize("x_shape, groups", CASES, ids=IDS)
def test_matches_torch_group_norm(x_shape, groups):
    torch = pytest.importorskip("torch")
    params, X, G = _data(x_shape, seed=3)
    Y, cache = group_norm_fwd(params, X, groups=groups)
    dX, dparams = group_norm_bwd(params, cache, G, groups=groups)
    layer = torch.nn.GroupNorm(groups, x_shape[1], eps=GROUP_NORM_EPS).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(params[0]))
        layer.bias.copy_(torch.from_numpy(params[1]))
    Xt = torch.from_numpy(X).requires_grad_(True)
    Yt = layer(Xt)
    Yt.backward(torch.from_numpy(G))
    _close(Y, Yt.detach().numpy(), "Y: mine vs torch")
    for name, mine, theirs in zip(("dX", "dgamma", "dbeta"), [dX] + dparams,
                                  (Xt.grad, layer.weight.grad, layer.bias.grad)):
        _close(mine, theirs.numpy(), f"{name}: mine vs torch")


@pytest.mark.parametrize("x_shape, groups", CASES, ids=IDS)
def test_backends_agree_with_numpy(xp, on_device, x_shape, groups):
    params, X, G = _data(x_shape, seed=4)
    Y, cache = group_norm_fwd(params, X, groups=groups)
    ref = [Y, *group_norm_bwd(params, cache, G, groups=groups)[:1],
           *group_norm_bwd(params, cache, G, groups=groups)[1]]
    p_xp = [backend.asarray(p, xp=xp) for p in params]
    Y_xp, cache_xp = group_norm_fwd(p_xp, backend.asarray(X, xp=xp), groups=groups)
    dX_xp, dparams_xp = group_norm_bwd(p_xp, cache_xp, backend.asarray(G, xp=xp), groups=groups)
    for name, mine, theirs in zip(("Y", "dX", "dgamma", "dbeta"),
                                  [Y_xp, dX_xp] + dparams_xp, ref):
        on_device(mine)
        _close(mine, theirs, f"{name}: {backend.backend_name(xp)} vs numpy", RTOL_BACKEND)


def test_bad_input_is_named():
    params = [np.ones(4), np.zeros(4)]
    X = np.zeros((2, 4, 3, 3))
    with pytest.raises(ValueError, match="groups must divide the 4 channels of X, got groups=3"):
        group_norm_fwd(params, X, groups=3)
    with pytest.raises(ValueError, match="groups must be an int >= 1, got 0"):
        group_norm_fwd(params, X, groups=0)
    with pytest.raises(TypeError, match="groups must be an int"):
        group_norm_fwd(params, X, groups=2.0)
    with pytest.raises(ValueError, match=r"X must have shape \(N, C, \*spatial\), got \(2, 4\)"):
        group_norm_fwd(params, np.zeros((2, 4)), groups=2)
    with pytest.raises(ValueError, match=r"params must be \[gamma, beta\] of shape \(4,\) each"):
        group_norm_fwd([np.ones(3), np.zeros(3)], X, groups=2)
    with pytest.raises(ValueError, match="eps must be"):
        group_norm_fwd(params, X, groups=2, eps=0.0)
    _, cache = group_norm_fwd(params, X, groups=2)
    with pytest.raises(ValueError, match="groups must be the forward pass's 2, got 4"):
        group_norm_bwd(params, cache, X, groups=4)


# -- the residual block and the ResNet with normalisation -----------------------------------

@pytest.mark.parametrize("c_in, c_out, stride", [(4, 4, 1), (2, 4, 2)],
                         ids=["identity", "projection-stride2"])
def test_normalised_residual_block_backward_matches_autograd(c_in, c_out, stride):
    rng = np.random.default_rng(5)
    units = [(c_out, c_in, 3, 3), (c_out, c_out, 3, 3)]
    if stride != 1 or c_in != c_out:
        units.append((c_out, c_in, 1, 1))
    params = []
    for shape in units:
        params += [rng.standard_normal(shape), rng.standard_normal(c_out),
                   1.0 + 0.3 * rng.standard_normal(c_out), rng.standard_normal(c_out)]
    X = rng.standard_normal((2, c_in, 6, 5))
    Y, cache = residual_fwd(params, X, stride=stride, norm_groups=2)
    G = rng.standard_normal(Y.shape)

    def loss(p, G, *, xp):
        return xp.sum(G * residual_fwd(p[1:], p[0], stride=stride, norm_groups=2, xp=xp)[0])

    _, ref = autodiff.value_and_grad(loss, [X] + params, G)
    dX, dparams = residual_bwd(params, cache, G, stride=stride, norm_groups=2)
    for j, (mine, theirs) in enumerate(zip([dX] + dparams, ref)):
        _close(mine, theirs, f"{'dX' if j == 0 else f'dparams[{j - 1}]'}: mine vs autograd")
    with pytest.raises(ValueError, match=r"params must be \[W1, b1, g1, be1, W2, b2, g2, be2\]"):
        residual_fwd(params[:6], X, stride=stride, norm_groups=2)


def _resnet(**kw):
    return ResNet((3, 8, 8), n_classes=4, widths=(4, 8), blocks_per_stage=2, norm="group",
                  norm_groups=2, **kw)


def _batch(n=5, seed=0, xp=None):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, 3, 8, 8)), rng.integers(0, 4, n)
    return (X, y) if xp is None else (backend.asarray(X, xp=xp), backend.asarray(y, xp=xp))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_normalised_resnet_value_and_grad_matches_autograd(loss):
    model = _resnet(loss=loss)
    rng = np.random.default_rng(6)
    # scales away from 1 and shifts away from 0, so their gradients are tested in general
    params = [p + 0.3 * rng.standard_normal(p.shape) if p.ndim == 1 else p
              for p in model.init(seed=1)]
    X, y = _batch(seed=1)
    value, grads = model.value_and_grad(params, X, y)
    ref_value, ref_grads = autodiff.value_and_grad(model.loss, params, X, y)
    assert abs(value - ref_value) <= RTOL * abs(ref_value)
    for j, (mine, ref) in enumerate(zip(grads, ref_grads)):
        _close(mine, ref, f"grads[{j}]: mine vs autograd")


def test_normalised_resnet_backends_agree_with_numpy(xp, on_device):
    model = _resnet()
    ref_params = model.init(seed=2)
    params = model.init(seed=2, like=xp.zeros(1, dtype=xp.float64))
    ref_value, ref_grads = model.value_and_grad(ref_params, *_batch(seed=3))
    value, grads = model.value_and_grad(params, *_batch(seed=3, xp=xp))
    assert abs(value - ref_value) <= RTOL_BACKEND * abs(ref_value)
    for j, (g, r) in enumerate(zip(grads, ref_grads)):
        on_device(g)
        _close(g, r, f"grads[{j}]: {backend.backend_name(xp)} vs numpy", RTOL_BACKEND)


def test_normalised_resnet_structure_and_init():
    plain = ResNet((3, 8, 8), n_classes=4, widths=(4, 8), blocks_per_stage=2)
    model = _resnet()
    # stem conv + norm; two identity blocks of 2 x (conv, norm); a projection block of
    # 3 x (conv, norm); an identity block; the head
    assert model.blocks() == [[0, 1, 2, 3], list(range(4, 12)), list(range(12, 20)),
                              list(range(20, 32)), list(range(32, 40)), [40, 41]]
    assert model.layers()[:3] == [[0, 1], [2, 3], [4, 5]]
    assert sum(len(ix) for ix in model.layers()) == len(model.param_shapes())
    assert [s for s in model.param_shapes() if len(s) > 1] == [
        s for s in plain.param_shapes() if len(s) > 1]
    params, plain_params = model.init(seed=0), plain.init(seed=0)
    # the weights are the plain network's draws; scales start at 1, shifts and biases at 0
    assert all(np.array_equal(a, b) for a, b in zip(
        [p for p in params if p.ndim > 1], [p for p in plain_params if p.ndim > 1]))
    scales = [ix[2] for ix in model.blocks()[:1]] + [4 + 2, 4 + 6]
    assert all(np.array_equal(params[j], np.ones(params[j].shape)) for j in scales)
    assert np.array_equal(params[3], np.zeros(4)) and np.array_equal(params[1], np.zeros(4))
    assert repr(model).endswith("init='he_normal', norm='group', norm_groups=2)")
    assert repr(plain).endswith("init='he_normal')")   # the repr (and fingerprints) of before


def test_normalised_resnet_is_per_sample():
    # no batch statistics: a row's prediction does not depend on the other rows
    model = _resnet()
    params = model.init(seed=3)
    X, _ = _batch(n=6, seed=4)
    # equal up to the round-off of the convolutions' matrix products, whose blocking
    # depends on the batch size (a batch statistic would change the row at O(1))
    np.testing.assert_allclose(model.predict(params, X)[2:3], model.predict(params, X[2:3]),
                               rtol=RTOL_BACKEND)


def test_bad_norm_options_are_named():
    with pytest.raises(ValueError, match="norm must be one of"):
        ResNet((3, 8, 8), widths=(4, 8), norm="layer")
    with pytest.raises(ValueError, match=r"norm_groups must divide every width \(4, 6\), got 4"):
        ResNet((3, 8, 8), widths=(4, 6), norm="group", norm_groups=4)
    with pytest.raises(ValueError, match="norm_groups must be an int >= 1, got 0"):
        ResNet((3, 8, 8), widths=(4, 8), norm="group", norm_groups=0)
