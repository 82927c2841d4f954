"""End-to-end learning checks on real data with a plain SGD + momentum loop.

The loops are written out here (not through rso_ref.train) so that they test the
models, gradients and data on their own.
"""
import numpy as np
import pytest

from rso_ref import data, nn


def sgd_momentum(model, ds, *, epochs, lr, batch_size=32, momentum=0.9, seed=0):
    params = model.init(seed=seed)
    velocity = [np.zeros_like(p) for p in params]
    for epoch in range(epochs):
        for idx in data.minibatches(ds.n_train, batch_size, np.random.default_rng([seed, epoch])):
            _, grads = model.value_and_grad(params, ds.X_train[idx], ds.y_train[idx])
            velocity = [momentum * v + g for v, g in zip(velocity, grads)]
            params = [p - lr * v for p, v in zip(params, velocity)]
    return params


def test_accuracy(model, params, X, y):
    return float(np.mean(np.argmax(model.predict(params, X), axis=1) == y))


test_accuracy.__test__ = False  # a helper, not a test


def test_mlp_reaches_97_percent_on_digits():
    ds, _, _ = data.standardize(data.load_digits(seed=0))
    model = nn.MLP((64, 128, 10))
    params = sgd_momentum(model, ds, epochs=20, lr=0.02)
    acc = test_accuracy(model, params, ds.X_test, ds.y_test)
    assert acc >= 0.97, f"digits MLP test accuracy {acc:.4f} < 0.97"


@pytest.mark.slow
def test_convnet_beats_mlp_on_mnist1d():
    # Published baselines (Greydanus 2020): MLP ~68 %, CNN ~94 % with long training. With
    # this short budget we measured MLP 0.522 and ConvNet1D 0.779 (seed 0; 30 and 15
    # epochs give 0.581 and 0.884); the assertion is the ordering with a 10-point margin.
    ds, _, _ = data.standardize(data.make_mnist1d(seed=0))
    mlp, cnn = nn.MLP((40, 100, 100, 10)), nn.ConvNet1D(channels=(16, 32))
    mlp_acc = test_accuracy(mlp, sgd_momentum(mlp, ds, epochs=10, lr=0.01, batch_size=64),
                            ds.X_test, ds.y_test)
    cnn_acc = test_accuracy(cnn, sgd_momentum(cnn, ds, epochs=6, lr=0.01, batch_size=64),
                            ds.X_test, ds.y_test)
    assert cnn_acc > mlp_acc + 0.10, f"ConvNet1D {cnn_acc:.3f} vs MLP {mlp_acc:.3f}"
