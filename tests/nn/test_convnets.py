"""Residual block and the conv models: gradients vs autograd and a torch twin, backends, inputs.

Tolerances: float64 identities at 1e-10 relative (testing.RTOL), with an absolute floor of
1e-10 times the array's largest entry for entries that cancel to ~0. Across backends the
same operations run in another BLAS: 1e-12 relative to NumPy. Parameters drawn from the
same seed must be bit-identical on every backend.
"""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn.convnets import ConvNet1D, ConvNet2D, ResNet
from rso_ref.nn.residual import residual_bwd, residual_fwd
from rso_ref.testing import assert_close
from rso_ref.validation import NonFiniteError

RTOL = 1e-10
RTOL_BACKEND = 1e-12

MODELS = {
    "convnet1d": (lambda **kw: ConvNet1D(length=16, n_classes=4, channels=(3, 5), **kw), (16,)),
    "convnet2d": (lambda **kw: ConvNet2D((2, 8, 8), n_classes=4, channels=(3, 4), **kw), (2, 8, 8)),
    "resnet": (lambda **kw: ResNet((3, 8, 8), n_classes=4, widths=(3, 5), blocks_per_stage=2, **kw),
               (3, 8, 8)),
}


def _batch(name, n=5, seed=0, xp=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n,) + MODELS[name][1])
    y = rng.integers(0, 4, n)
    return (X, y) if xp is None else (backend.asarray(X, xp=xp), backend.asarray(y, xp=xp))


def _close(mine, ref, name, rtol=RTOL):
    ref = backend.to_numpy(ref)
    assert_close(mine, ref, rtol=rtol, atol=rtol * float(np.max(np.abs(ref))), err_msg=name,
                 check_namespace=False)


# -- residual block -------------------------------------------------------------------------

@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (2, 4, 1), (3, 3, 2)],
                         ids=["identity", "projection", "projection-stride2"])
def test_residual_block_backward_matches_autograd(c_in, c_out, stride):
    rng = np.random.default_rng(0)
    shapes = [(c_out, c_in, 3, 3), (c_out,), (c_out, c_out, 3, 3), (c_out,)]
    if stride != 1 or c_in != c_out:
        shapes += [(c_out, c_in, 1, 1), (c_out,)]
    params = [rng.standard_normal(s) for s in shapes]
    X = rng.standard_normal((2, c_in, 6, 5))
    Y, cache = residual_fwd(params, X, stride=stride)
    G = rng.standard_normal(Y.shape)

    def loss(p, G, *, xp):
        return xp.sum(G * residual_fwd(p[1:], p[0], stride=stride, xp=xp)[0])

    _, ref = autodiff.value_and_grad(loss, [X] + params, G)
    dX, dparams = residual_bwd(params, cache, G, stride=stride)
    for j, (mine, theirs) in enumerate(zip([dX] + dparams, ref)):
        _close(mine, theirs, f"{'dX' if j == 0 else f'dparams[{j - 1}]'}: mine vs autograd")


def test_residual_identity_skip_refuses_shape_change():
    params = [np.zeros((4, 3, 3, 3)), np.zeros(4), np.zeros((4, 4, 3, 3)), np.zeros(4)]
    with pytest.raises(ValueError, match="identity skip needs stride 1 and in_channels"):
        residual_fwd(params, np.zeros((1, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"params must be \[W1, b1, W2, b2\]"):
        residual_fwd(params[:3], np.zeros((1, 3, 6, 6)))


# -- models ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_value_and_grad_matches_autograd(name, loss):
    model = MODELS[name][0](loss=loss)
    params = model.init(seed=1)
    X, y = _batch(name)
    value, grads = model.value_and_grad(params, X, y)
    ref_value, ref_grads = autodiff.value_and_grad(model.loss, params, X, y)
    assert abs(value - ref_value) <= RTOL * abs(ref_value)
    for j, (mine, ref) in enumerate(zip(grads, ref_grads)):
        _close(mine, ref, f"grads[{j}]: mine vs autograd")


@pytest.mark.parametrize("name", MODELS)
def test_backends_agree_with_numpy(xp, on_device, name):
    model = MODELS[name][0]()
    ref_params = model.init(seed=2)
    params = model.init(seed=2, like=xp.zeros(1, dtype=xp.float64))
    for j, (p, r) in enumerate(zip(params, ref_params)):
        on_device(p)
        assert np.array_equal(backend.to_numpy(p), r), f"params[{j}] differs from numpy's"
    ref_value, ref_grads = model.value_and_grad(ref_params, *_batch(name, seed=3))
    value, grads = model.value_and_grad(params, *_batch(name, seed=3, xp=xp))
    assert abs(value - ref_value) <= RTOL_BACKEND * abs(ref_value)
    for j, (g, r) in enumerate(zip(grads, ref_grads)):
        on_device(g)
        _close(g, r, f"grads[{j}]: {backend.backend_name(xp)} vs numpy", RTOL_BACKEND)
    on_device(model.predict(params, _batch(name, seed=3, xp=xp)[0]))


@pytest.mark.parametrize("name", MODELS)
def test_float32_only_devices_run_float32(xp32, on_device, name):
    # float32 vs the float64 run: the float32 tolerance of testing.RTOL (5e-4), with the
    # same absolute floor (5e-4 x the largest entry) for entries that cancel
    model = MODELS[name][0]()
    X, y = _batch(name, seed=4)
    X32, y32 = xp32.asarray(X.astype(np.float32)), xp32.asarray(y.astype(np.int32))
    params = model.init(seed=4, like=X32)
    value, grads = model.value_and_grad(params, X32, y32)
    on_device(params, grads)
    ref_value, ref_grads = model.value_and_grad(model.init(seed=4), X, y)
    assert abs(value - ref_value) <= 5e-4 * abs(ref_value)
    for j, (g, r) in enumerate(zip(grads, ref_grads)):
        _close(g, r.astype(np.float32), f"grads[{j}]: float32 vs float64", 5e-4)


def test_structure_and_shapes():
    model = ConvNet2D((3, 32, 32))
    assert model.param_shapes() == [(32, 3, 3, 3), (32,), (64, 32, 3, 3), (64,), (4096, 10), (10,)]
    assert model.layers() == model.blocks() == [[0, 1], [2, 3], [4, 5]]
    resnet = MODELS["resnet"][0]()
    # stem, stage 1 (2 identity blocks), stage 2 (projection block, identity block), head
    assert resnet.blocks() == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12, 13, 14, 15],
                               [16, 17, 18, 19], [20, 21]]
    assert resnet.layers()[3:5] == [[6, 7], [8, 9]]
    assert sum(len(ix) for ix in resnet.layers()) == len(resnet.param_shapes())


def test_predict_is_log_probabilities_and_float32_stays(np_xp):
    model = MODELS["convnet2d"][0]()
    params = model.init(seed=0, dtype="float32")
    X, y = _batch("convnet2d")
    X = X.astype(np.float32)
    logp = model.predict(params, X)
    assert logp.dtype == np.float32 and logp.shape == (5, 4)
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=1e-6)  # float32 round-off
    _, grads = model.value_and_grad(params, X, y)
    assert all(g.dtype == np.float32 for g in grads)


def test_convnet1d_accepts_flat_sequences():
    model = MODELS["convnet1d"][0]()
    params = model.init(seed=0)
    X, y = _batch("convnet1d")
    flat = model.value_and_grad(params, X, y)
    channel = model.value_and_grad(params, X[:, None, :], y)
    assert flat[0] == channel[0]
    assert all(np.array_equal(a, b) for a, b in zip(flat[1], channel[1]))


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_is_named(name):
    model = MODELS[name][0]()
    params = model.init(seed=0)
    X, y = _batch(name)
    wrong = np.zeros((5, 7) + MODELS[name][1][1:]) if X.ndim > 2 else np.zeros((5, 2, 16))
    with pytest.raises(ValueError, match=r"X must have shape \(n, "):
        model.loss(params, wrong, y)
    with pytest.raises(ValueError, match=r"X must have shape \(n, "):
        model.loss(params, X[..., :-1], y)
    X_nan = X.copy()
    X_nan.flat[3] = np.nan
    with pytest.raises(NonFiniteError, match="X contains 1 NaN entry"):
        model.value_and_grad(params, X_nan, y)
    with pytest.raises(ValueError, match=r"y holds labels in \[0, 4\], outside \[0, 3\]"):
        model.value_and_grad(params, X, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="y has 4 labels but X has 5 rows"):
        model.value_and_grad(params, X, y[:4])
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        model.value_and_grad(params, X, y.astype(float))
    with pytest.raises(TypeError, match="X has dtype float32 but the params have float64"):
        model.forward(params, X.astype(np.float32))
    with pytest.raises(ValueError, match=r"params\[0\] must have shape"):
        model.forward([p[..., :1] for p in params], X)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvNet2D(kernel_size=2)
    with pytest.raises(ValueError, match="too small for 4 pooling stages"):
        ConvNet2D((1, 8, 8), channels=(2, 2, 2, 2))
    with pytest.raises(ValueError, match="input_shape must be \\(C, H, W\\)"):
        ResNet((8, 8))
    with pytest.raises(ValueError, match="loss must be one of"):
        ConvNet1D(loss="hinge")
    with pytest.raises(ValueError, match=r"channels\[1\] must be an int >= 1, got 0"):
        ConvNet1D(channels=(4, 0))
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        ConvNet2D(kernel_size=3.0)


def test_integer_hyperparameters_of_any_integer_type():
    # rso_ref.validation: any numbers.Integral is an int (np.int64 from a config array).
    model = ConvNet2D((1, 8, 8), n_classes=np.int64(3), channels=(np.int64(2),),
                      kernel_size=np.int64(3))
    assert model.n_classes == 3 and type(model.n_classes) is int
    assert model.param_shapes() == ConvNet2D((1, 8, 8), n_classes=3, channels=(2,)).param_shapes()


# -- torch twins ----------------------------------------------------------------------------

def _torch_twin(name, model, params, torch):
    """The same network from torch.nn layers, weights copied; returns (module, ours -> theirs)."""
    nn = torch.nn
    tensors = [torch.from_numpy(p) for p in params]
    if name == "resnet":
        class Block(nn.Module):
            def __init__(self, c_in, c_out, stride, project):
                super().__init__()
                self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, dtype=torch.float64)
                self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, dtype=torch.float64)
                self.skip = nn.Conv2d(c_in, c_out, 1, stride, dtype=torch.float64) if project \
                    else nn.Identity()

            def forward(self, x):
                h = self.conv2(torch.relu(self.conv1(x)))
                return torch.relu(h + self.skip(x))

        widths = model.widths
        layers = [nn.Conv2d(3, widths[0], 3, 1, 1, dtype=torch.float64), nn.ReLU()]
        c_in = widths[0]
        for stage, width in enumerate(widths):
            for j in range(model.blocks_per_stage):
                stride = 2 if stage > 0 and j == 0 else 1
                layers.append(Block(c_in, width, stride, stride != 1 or c_in != width))
                c_in = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 4, dtype=torch.float64)]
    else:
        d = len(model.input_shape) - 1
        conv, pool = (nn.Conv1d, nn.MaxPool1d) if d == 1 else (nn.Conv2d, nn.MaxPool2d)
        layers, c_in = [], model.input_shape[0]
        for c_out in model.channels:
            layers += [conv(c_in, c_out, model.kernel_size, padding=model.kernel_size // 2,
                            dtype=torch.float64), nn.ReLU(), pool(model.pool)]
            c_in = c_out
        layers += [nn.Flatten(), nn.Linear(params[-2].shape[0], 4, dtype=torch.float64)]
    net = nn.Sequential(*layers)
    theirs = [p for p in net.parameters()]  # registration order = our parameter order
    with torch.no_grad():
        for t, ours in zip(theirs, tensors):
            t.copy_(ours.T if t.ndim == 2 else ours)  # Linear stores (out, in)
    return net, theirs


@pytest.mark.torch
@pytest.mark.parametrize("name", MODELS)
def test_loss_and_grads_match_torch_twin(name):
    torch = pytest.importorskip("torch")
    model = MODELS[name][0]()
    params = model.init(seed=4)
    X, y = _batch(name, seed=5)
    net, theirs = _torch_twin(name, model, params, torch)
    tX = torch.from_numpy(X if X.ndim > 2 else X[:, None, :])
    t_loss = torch.nn.functional.cross_entropy(net(tX), torch.from_numpy(y))
    t_loss.backward()
    value, grads = model.value_and_grad(params, X, y)
    assert abs(value - t_loss.item()) <= RTOL * abs(value), \
        f"loss: mine {value} vs torch {t_loss.item()}"
    assert len(theirs) == len(grads)
    for j, (mine, t) in enumerate(zip(grads, theirs)):
        ref = t.grad.T if t.ndim == 2 else t.grad
        _close(mine, ref.numpy(), f"grads[{j}] {tuple(mine.shape)}: mine vs torch")
