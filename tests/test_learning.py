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
