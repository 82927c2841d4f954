"""Models and initialisers create their parameters where ``like`` lives.

``model.init(seed, like=X)`` takes the namespace, the device and (when it is real
floating) the dtype of ``X``; an explicit ``dtype`` wins; without ``like`` it is NumPy
float64. The numbers are the host draw of ``seed`` on every backend, so values are
compared exactly (rtol 0; float32 is the float64 draw rounded, compared after the same
rounding).
"""
import inspect

import numpy as np
import pytest

from rso_ref import backend
from rso_ref.nn import MLP, ConvNet1D, ConvNet2D, ResNet, he_normal, init, orthogonal

strict = pytest.importorskip("array_api_strict")

# (model, shape of one input row), small enough that the forward pass takes milliseconds.
MODELS = {
    "mlp": (lambda: MLP((6, 5, 3)), (6,)),
    "convnet1d": (lambda: ConvNet1D(length=12, n_classes=3, channels=(2, 3)), (12,)),
    "convnet2d": (lambda: ConvNet2D((1, 8, 8), n_classes=3, channels=(2, 3)), (1, 8, 8)),
    "resnet": (lambda: ResNet((3, 8, 8), n_classes=3, widths=(2, 3), blocks_per_stage=1),
               (3, 8, 8)),
}


def _batch(name, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + MODELS[name][1]), rng.integers(0, 3, n)


def _devices(arrays):
    return {str(a.device) for a in arrays}


@pytest.mark.parametrize("name", MODELS)
def test_one_init_signature(name):
    signature = inspect.signature(MODELS[name][0]().init)
    assert list(signature.parameters) == ["seed", "like", "dtype"]
    assert signature.parameters["seed"].default == 0
    for keyword in ("like", "dtype"):
        assert signature.parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY
        assert signature.parameters[keyword].default is None


@pytest.mark.parametrize("name", MODELS)
def test_init_and_training_stay_on_the_device_of_like(name):
    # array_api_strict's second device: an array made on the default device and mixed in
    # raises, so a bias (or a one-hot table) created without a device is caught here.
    device = strict.Device("device1")
    model = MODELS[name][0]()
    X, y = _batch(name)
    Xd, yd = strict.asarray(X, device=device), strict.asarray(y, device=device)
    params = model.init(3, like=Xd)
    assert [tuple(p.shape) for p in params] == model.param_shapes()
    assert _devices(params) == {str(device)}
    assert all(p.dtype == strict.float64 for p in params)
    for j, (p, r) in enumerate(zip(params, model.init(3))):
        assert np.array_equal(backend.to_numpy(p), r), f"params[{j}] differs from numpy's"
    value, grads = model.value_and_grad(params, Xd, yd)
    assert _devices(grads) == {str(device)}
    assert model.predict(params, Xd).device == device
    assert value == pytest.approx(model.value_and_grad(model.init(3), X, y)[0], rel=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_like_sets_the_dtype(dtype):
    torch = pytest.importorskip("torch")
    model = MLP((6, 5, 3))
    X = torch.zeros((2, 6), dtype=getattr(torch, dtype))
    params = model.init(1, like=X)
    assert all(isinstance(p, torch.Tensor) and p.dtype == X.dtype for p in params)
    assert all(p.device == X.device for p in params)
    host = [r.astype(dtype) for r in model.init(1)]  # float32: the float64 draw rounded
    assert all(np.array_equal(backend.to_numpy(p), r) for p, r in zip(params, host))


def _has_cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.torch
@pytest.mark.skipif(not _has_cuda(), reason="torch with a CUDA GPU is needed")
def test_torch_cuda_like_puts_every_parameter_on_the_gpu():
    import torch

    X = torch.zeros((2, 6), dtype=torch.float64, device="cuda")
    params = MLP((6, 5, 3)).init(0, like=X)
    assert all(p.device == X.device for p in params)  # biases included


@pytest.mark.gpu
@pytest.mark.torch
@pytest.mark.skipif(not _has_cuda(), reason="torch with a CUDA GPU is needed")
@pytest.mark.parametrize("name", MODELS)
def test_torch_cuda_forward_and_backward_stay_on_the_gpu(name):
    # The loss on the GPU is the float64 CPU loss up to the summation order of cuBLAS
    # (1e-12 relative, as across CPU backends).
    import torch

    model = MODELS[name][0]()
    X, y = _batch(name)
    Xd = torch.as_tensor(X, device="cuda")
    yd = torch.as_tensor(y, device="cuda")
    params = model.init(3, like=Xd)
    value, grads = model.value_and_grad(params, Xd, yd)
    assert _devices(grads) == {str(Xd.device)}
    assert model.predict(params, Xd).device == Xd.device
    assert value == pytest.approx(model.value_and_grad(model.init(3), X, y)[0], rel=1e-12)


def test_dtype_precedence():
    model = MLP((6, 5, 3))
    x32 = strict.asarray(np.zeros((2, 6)), dtype=strict.float32)
    assert all(p.dtype == strict.float32 for p in model.init(like=x32))
    assert all(p.dtype == strict.float64 for p in model.init(like=x32, dtype="float64"))
    assert all(p.dtype == strict.float64 for p in model.init(like=x32, dtype=strict.float64))
    labels = strict.asarray(np.zeros(2, dtype=np.int64))  # not floating: the float64 default
    assert all(p.dtype == strict.float64 for p in model.init(like=labels))
    assert all(p.dtype == np.float64 and isinstance(p, np.ndarray) for p in model.init())
    assert all(p.dtype == np.float32 for p in model.init(dtype="float32"))


def test_initialisers_take_like_too():
    device = strict.Device("device1")
    like = strict.zeros(1, dtype=strict.float32, device=device)
    for draw in (he_normal, orthogonal):
        W = draw((5, 4), 7, like=like)
        assert W.device == device and W.dtype == strict.float32
        assert np.array_equal(backend.to_numpy(W), draw((5, 4), 7).astype(np.float32))


def test_placement_and_errors_that_name_like():
    like, dtype = init.placement(None, "float32")
    assert like is None and dtype == np.float32
    x = strict.zeros(1, dtype=strict.float32)
    assert init.placement(x) == (x, strict.float32)
    with pytest.raises(TypeError, match="like must be an array"):
        MLP((6, 5, 3)).init(like="torch")  # the backend name of the old signature
    with pytest.raises(TypeError, match="like must be an array"):
        MLP((6, 5, 3)).init(like=[x])
    with pytest.raises(TypeError, match="like has dtype float16"):
        MLP((6, 5, 3)).init(like=np.zeros(1, dtype=np.float16))
    with pytest.raises(TypeError, match="dtype must be"):
        MLP((6, 5, 3)).init(like=x, dtype="int32")


@pytest.mark.parametrize("name", MODELS)
def test_parameters_and_data_on_two_devices_name_both(name):
    model = MODELS[name][0]()
    X, y = _batch(name)
    params = model.init(3, like=strict.asarray(X, device=strict.Device("device1")))
    Xh, yh = strict.asarray(X), strict.asarray(y)
    match = r"different devices: params\[0\] on .*device1.*, X on .*CPU_DEVICE"
    for call in (lambda: model.value_and_grad(params, Xh, yh), lambda: model.loss(params, Xh, yh),
                 lambda: model.predict(params, Xh)):
        with pytest.raises(ValueError, match=match):
            call()
