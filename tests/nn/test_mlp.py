"""MLP: hand-written gradients vs autograd and torch, backends, conventions, bad input.

Tolerances: float64 identities at 1e-10 relative (floor 1e-10 x the array's largest
entry for entries that cancel). Across backends the arithmetic is the same up to the
summation order inside matmul/sum, so loss and gradients agree to 1e-12 (same floor).
float32 vs float64: 5e-4 relative (RTOL["float32"]).
"""
import numpy as np
import pytest

from rso_ref import autodiff, backend
from rso_ref.nn import MLP
from rso_ref.testing import RTOL as DTYPE_RTOL
from rso_ref.testing import assert_close
from rso_ref.validation import NonFiniteError

RTOL = 1e-10  # float64 identity
CROSS_BACKEND_RTOL = 1e-12
SIZES = (6, 8, 7, 4)
CASES = [(act, loss) for act in ("relu", "tanh", "gelu") for loss in ("cross_entropy", "mse")]


def _data(n=9, seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, sizes[0])), rng.integers(0, sizes[-1], n)


def _assert_grads(mine, ref, rtol, who):
    assert len(mine) == len(ref)
    for j, (a, d) in enumerate(zip(mine, ref)):
        d = backend.to_numpy(d)
        assert_close(a, d, rtol=rtol, atol=rtol * float(np.max(np.abs(d))),
                     err_msg=f"grads[{j}]: mine vs {who}", check_namespace=False)


@pytest.mark.parametrize("activation, loss", CASES)
def test_value_and_grad_matches_autograd(activation, loss):
    model = MLP(SIZES, activation=activation, loss=loss)
    params, (X, y) = model.init(seed=1), _data()
    value, grads = model.value_and_grad(params, X, y)
    ref_value, ref_grads = autodiff.value_and_grad(model.loss, params, X, y)
    assert value == pytest.approx(ref_value, rel=RTOL)
    _assert_grads(grads, ref_grads, RTOL, "autograd")


def test_mse_with_float_targets_matches_autograd():
    model = MLP(SIZES, activation="tanh", loss="mse")
    params, (X, _) = model.init(seed=2), _data()
    T = np.random.default_rng(5).standard_normal((9, SIZES[-1]))
    value, grads = model.value_and_grad(params, X, T)
    ref_value, ref_grads = autodiff.value_and_grad(model.loss, params, X, T)
    assert value == pytest.approx(ref_value, rel=RTOL)
    _assert_grads(grads, ref_grads, RTOL, "autograd")


def test_mse_integer_labels_mean_one_hot_targets():
    model = MLP(SIZES, loss="mse")
    params, (X, y) = model.init(seed=3), _data()
    assert float(model.loss(params, X, y)) == float(model.loss(params, X, np.eye(4)[y]))


def test_projection_vs_central_differences(xp):
    model = MLP(SIZES, activation="gelu")
    X, y = (backend.asarray(a, xp=xp) for a in _data(seed=4))
    params = model.init(seed=4, like=X)
    autodiff.check_grads(lambda p, *, xp: model.loss(p, X, y, xp=xp), params,
                         lambda p, u: [u * g for g in model.value_and_grad(p, X, y)[1]])


@pytest.mark.parametrize("activation, loss", CASES)
def test_backends_agree(activation, loss, xp, on_device):
    # Same seed -> bit-identical parameters; loss and grads equal to NumPy's to 1e-12.
    model = MLP(SIZES, activation=activation, loss=loss)
    name = backend.backend_name(xp)
    X, y = _data(seed=5)
    Xb, yb = backend.asarray(X, xp=xp), backend.asarray(y, xp=xp)
    params, ref_params = model.init(seed=5, like=Xb), model.init(seed=5)
    for j, (p, r) in enumerate(zip(params, ref_params)):
        assert backend.backend_name(backend.array_namespace(p)) == name
        assert_close(p, r, rtol=0, err_msg=f"params[{j}]", check_namespace=False)
    value, grads = model.value_and_grad(params, Xb, yb)
    ref_value, ref_grads = model.value_and_grad(ref_params, X, y)
    assert isinstance(value, float) and value == pytest.approx(ref_value, rel=CROSS_BACKEND_RTOL)
    on_device(params, grads, model.forward(params, Xb), model.predict(params, Xb),
              model.loss(params, Xb, yb))
    _assert_grads(grads, ref_grads, CROSS_BACKEND_RTOL, "numpy")


def test_float32_only_devices_run_float32_and_refuse_float64(xp32, on_device):
    model = MLP(SIZES)
    X, y = _data(seed=8)
    X32, y32 = xp32.asarray(X.astype(np.float32)), xp32.asarray(y.astype(np.int32))
    params = model.init(seed=8, like=X32)
    value, grads = model.value_and_grad(params, X32, y32)
    on_device(params, grads, model.predict(params, X32))
    assert all(g.dtype == xp32.float32 for g in grads)
    ref_value, ref_grads = model.value_and_grad(model.init(seed=8), X, y)
    assert value == pytest.approx(ref_value, rel=DTYPE_RTOL["float32"])
    _assert_grads(grads, [g.astype(np.float32) for g in ref_grads], DTYPE_RTOL["float32"],
                  "float64")
    with pytest.raises(ValueError, match="float64 is not supported on device"):
        model.init(seed=8, like=X32, dtype="float64")


def test_a_nan_input_is_named_on_float32_only_devices(xp32):
    # The count of bad entries runs in the device's index dtype: int32 on "no_x64".
    model = MLP(SIZES)
    X, y = _data(seed=8)
    X[2, 3], X[4, 1] = np.nan, -np.inf
    X32, y32 = xp32.asarray(X.astype(np.float32)), xp32.asarray(y.astype(np.int32))
    params = model.init(seed=8, like=X32, dtype="float32")
    with pytest.raises(NonFiniteError, match="^X contains 1 NaN and 1 inf entries$"):
        model.value_and_grad(params, X32, y32)


def test_float32_follows_float64(np_xp):
    model = MLP(SIZES)
    p32, p64 = model.init(seed=6, dtype="float32"), model.init(seed=6)
    X, y = _data(seed=6)
    value, grads = model.value_and_grad(p32, X.astype(np.float32), y)
    assert all(g.dtype == np.float32 for g in grads)
    ref_value, ref_grads = model.value_and_grad(p64, X, y)
    assert value == pytest.approx(ref_value, rel=DTYPE_RTOL["float32"])
    ref32 = [g.astype(np.float32) for g in ref_grads]
    _assert_grads(grads, ref32, DTYPE_RTOL["float32"], "float64")


@pytest.mark.torch
@pytest.mark.parametrize("activation, loss", CASES)
def test_matches_torch(activation, loss):
    # torch twin: nn.Linear layers loaded with W.T (torch stores (out, in)); loss
    # F.cross_entropy (batch mean, as ours) or mse_loss(sum) / (2n) (our half-SSE mean).
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = MLP(SIZES, activation=activation, loss=loss)
    params, (X, y) = model.init(seed=7), _data(seed=7)
    linears = [torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(SIZES[:-1], SIZES[1:])]
    with torch.no_grad():
        for i, layer in enumerate(linears):
            layer.weight.copy_(torch.from_numpy(params[2 * i].T))
            layer.bias.copy_(torch.from_numpy(params[2 * i + 1]))
    act = {"relu": torch.relu, "tanh": torch.tanh,
           "gelu": lambda t: F.gelu(t, approximate="none")}[activation]
    h = torch.from_numpy(X)
    for i, layer in enumerate(linears):
        h = layer(h) if i == len(linears) - 1 else act(layer(h))
    ty = torch.from_numpy(y)
    if loss == "cross_entropy":
        t_loss = F.cross_entropy(h, ty)
    else:
        t_loss = F.mse_loss(h, F.one_hot(ty, SIZES[-1]).double(), reduction="sum") / (2 * len(y))
    t_loss.backward()
    theirs = {"loss": t_loss.detach().numpy()}
    for i, layer in enumerate(linears):
        theirs[f"dW{i + 1}"] = layer.weight.grad.T.numpy()
        theirs[f"db{i + 1}"] = layer.bias.grad.numpy()
    value, grads = model.value_and_grad(params, X, y)
    mine = {"loss": np.asarray(value)}
    for i in range(len(linears)):
        mine[f"dW{i + 1}"], mine[f"db{i + 1}"] = grads[2 * i], grads[2 * i + 1]
    for key, ref in theirs.items():
        assert_close(mine[key], ref, rtol=RTOL, atol=RTOL * float(np.max(np.abs(ref))),
                     err_msg=f"{key}: mine vs torch")


# -- conventions ------------------------------------------------------------------------

def test_parameter_layout_and_structure():
    model = MLP((64, 128, 10))
    params = model.init()
    assert [tuple(p.shape) for p in params] == [(64, 128), (128,), (128, 10), (10,)]
    assert all(p.dtype == np.float64 for p in params)
    assert not np.any(params[1]) and not np.any(params[3])  # zero biases
    assert model.layers() == [[0, 1], [2, 3]] and model.blocks() == [[0, 1], [2, 3]]
    assert model.n_classes == 10 and model.loss_kind == "cross_entropy"
    assert model.weight_init == "he_normal"
    assert MLP((4, 3), activation="tanh").weight_init == "glorot_uniform"


def test_forward_is_x_at_w_plus_b(np_xp):
    model = MLP(SIZES, activation="tanh")
    params, (X, _) = model.init(seed=8), _data(seed=8)
    W1, b1, W2, b2, W3, b3 = params
    ref = np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    assert_close(model.forward(params, X), ref, rtol=RTOL)
    logp = model.predict(params, X)
    assert_close(logp, ref - np.log(np.sum(np.exp(ref), axis=1, keepdims=True)), rtol=RTOL)


def test_loss_is_a_batch_mean():
    model = MLP(SIZES)
    params, (X, y) = model.init(seed=9), _data(seed=9)
    doubled = model.loss(params, np.concatenate([X, X]), np.concatenate([y, y]))
    assert doubled.ndim == 0
    assert float(doubled) == pytest.approx(float(model.loss(params, X, y)), rel=RTOL)
    assert model.value_and_grad(params, X, y)[0] == pytest.approx(float(model.loss(params, X, y)),
                                                                  rel=RTOL)


def test_orthogonal_option():
    model = MLP((8, 5, 3), init="orthogonal")
    W1 = model.init(seed=10)[0]
    assert_close(W1.T @ W1, 2.0 * np.eye(5), rtol=0, atol=1e-10)  # gain sqrt(2) for ReLU


def test_init_is_deterministic():
    model = MLP(SIZES)
    a, b, c = model.init(seed=11), model.init(seed=11), model.init(seed=12)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], c[0])


# -- bad input --------------------------------------------------------------------------

def test_bad_input_errors_name_the_argument():
    model = MLP(SIZES)
    params, (X, y) = model.init(), _data()
    with pytest.raises(ValueError, match=r"X must have shape \(n, 6\)"):
        model.value_and_grad(params, X[:, :5], y)
    with pytest.raises(ValueError, match=r"y holds labels in \[0, 4\], outside \[0, 3\]"):
        model.value_and_grad(params, X, np.where(y == y[0], 4, y))
    bad = X.copy()
    bad[2, 3] = np.nan
    with pytest.raises(NonFiniteError, match="X contains 1 NaN entry"):
        model.value_and_grad(params, bad, y)
    bad[2, 3] = np.inf
    with pytest.raises(NonFiniteError, match="X contains 1 inf entry"):
        model.loss(params, bad, y)
    with pytest.raises(ValueError, match="y has 8 labels but X has 9 rows"):
        model.value_and_grad(params, X, y[:8])
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        model.value_and_grad(params, X, y.astype(np.float64))
    with pytest.raises(TypeError, match="X has dtype float32"):
        model.forward(params, X.astype(np.float32))
    with pytest.raises(ValueError, match="params must be a list of 6 arrays, got 4"):
        model.forward(params[:4], X)
    with pytest.raises(ValueError, match=r"params\[2\] must have shape \(8, 7\)"):
        model.forward(params[:2] + [params[2].T] + params[3:], X)
    with pytest.raises(ValueError, match=r"y must be integer labels of shape \(9,\) or float"):
        MLP(SIZES, loss="mse").loss(params, X, np.ones((9, 3)))


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "swish"}, "activation must be one of"),
    ({"loss": "hinge"}, "loss must be one of"),
    ({"init": "zeros"}, "init must be one of"),
])
def test_bad_hyperparameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(SIZES, **kwargs)


@pytest.mark.parametrize("sizes, error, match", [
    ((5,), ValueError, "sizes must hold >= 2 layer widths"),
    ((5, 0), ValueError, r"sizes\[1\] must be an int >= 1, got 0"),
    ((5, 2.0), TypeError, r"sizes\[1\] must be an int"),
    ((5, True), TypeError, r"sizes\[1\] must be an int"),
])
def test_bad_sizes(sizes, error, match):
    # rso_ref.validation: a wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises(error, match=match):
        MLP(sizes)


def test_sizes_of_any_integer_type():
    model = MLP((np.int64(5), 3))
    assert model.sizes == (5, 3) and all(type(s) is int for s in model.sizes)


@pytest.mark.jax
def test_jitted_jax_gradient_of_the_loss_equals_the_hand_backward():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = backend.namespace("jax")
    model = MLP(SIZES, activation="tanh")
    X, y = (jnp.asarray(a) for a in _data(seed=9))
    params = model.init(seed=9, like=X)
    oracle = jax.jit(jax.value_and_grad(lambda p: model.loss(p, X, y)))
    value, grads = oracle(params)
    ref_value, ref_grads = model.value_and_grad(params, X, y)
    assert float(value) == pytest.approx(ref_value, rel=RTOL)
    _assert_grads(grads, ref_grads, RTOL, "jax.grad under jit")
