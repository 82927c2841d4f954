import math

import numpy as np
import pytest

from rso_ref import metrics


def test_gradient_norm_std_is_the_unbiased_std():
    values = [1.0, 2.0, 4.0]
    assert metrics.gradient_norm_std(values) == pytest.approx(np.std(values, ddof=1), rel=1e-15)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.gradient_norm_std([1.0])


def test_loss_variance_ignores_a_linear_trend():
    t = np.arange(200.0)
    trend = 5.0 - 0.01 * t
    assert metrics.loss_variance(trend, window=21) == pytest.approx(0.0, abs=1e-24)
    noise = np.where(t % 2 == 0, 0.1, -0.1)
    # alternating +-0.1 about a linear trend: the odd centred window mean is +-0.1/21
    expected = (0.1 * (1 - 1 / 21)) ** 2
    assert metrics.loss_variance(trend + noise, window=21) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="odd"):
        metrics.loss_variance(trend, window=4)


def test_lr_sensitivity_range_skips_diverged_runs():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    scores = [0.80, 0.95, 0.96, 0.955, float("nan")]
    lo, hi, decades = metrics.lr_sensitivity_range(lrs, scores, tolerance=0.01)
    assert (lo, hi) == (1e-3, 1e-1)
    assert decades == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError, match="diverged"):
        metrics.lr_sensitivity_range([1.0], [float("nan")])


def test_weight_entropy_extremes():
    assert metrics.weight_entropy([1, 1, 1, 1]) == pytest.approx(1.0, rel=1e-15)
    assert metrics.weight_entropy([1, 0, 0]) == 0.0
    assert 0 < metrics.weight_entropy([0.82, 0.15, 0.03]) < 0.6


def test_lag1_statistics_distinguish_the_two_readings_of_theorem_2():
    alternating = np.array([1.2, 0.8] * 50)
    # Positive weights: the raw product mean is positive although the series alternates.
    assert metrics.lag1_product_mean(alternating) > 0
    assert metrics.lag1_autocorrelation(alternating) == pytest.approx(-0.99, abs=0.011)
    smooth = np.linspace(0, 1, 100)
    assert metrics.lag1_autocorrelation(smooth) > 0.9
    with pytest.raises(ValueError, match="constant"):
        metrics.lag1_autocorrelation(np.ones(5))
    assert math.isfinite(metrics.lag1_product_mean([1.0, -1.0]))


def test_epochs_to_target():
    assert metrics.epochs_to_target([0.5, 0.8, 0.9, 0.95], 0.9) == 3
    assert metrics.epochs_to_target([0.5, 0.8], 0.9) is None


def test_gradient_norm_cv_is_std_over_mean():
    values = [1.0, 2.0, 4.0]
    assert metrics.gradient_norm_cv(values) == pytest.approx(
        np.std(values, ddof=1) / np.mean(values), rel=1e-15)
    assert metrics.gradient_norm_cv([2.0, 4.0, 8.0]) == pytest.approx(
        metrics.gradient_norm_cv(values), rel=1e-15)          # scale-free


def test_gradient_covariance_trace_matches_numpy_cov():
    g = np.random.default_rng(0).normal(size=(12, 7))
    assert metrics.gradient_covariance_trace(g) == pytest.approx(np.trace(np.cov(g.T)), rel=1e-12)
    assert metrics.gradient_covariance_trace(np.ones((4, 3))) == 0.0
    with pytest.raises(ValueError, match="gradients"):
        metrics.gradient_covariance_trace(np.ones((1, 3)))
    with pytest.raises(ValueError, match="gradients"):
        metrics.gradient_covariance_trace(np.ones(3))


def test_gradient_covariance_trace_least_squares_closed_form():
    # Least squares L_i(theta) = (x_i . theta - y_i)^2 / 2 has the per-sample gradient
    # g_i = x_i (x_i . theta - y_i). A minibatch of B samples drawn with replacement has
    # tr Cov[g_B] = tr(Sigma) / B, Sigma the population (ddof=0) covariance of the g_i.
    # Enumerating all n^B equally likely ordered minibatches gives the exact distribution;
    # the estimator (ddof=1) over those N rows is N/(N-1) times the exact trace.
    gen = np.random.default_rng(1)
    n, d, batch = 5, 3, 3
    X, y, theta = gen.normal(size=(n, d)), gen.normal(size=n), gen.normal(size=d)
    per_sample = X * (X @ theta - y)[:, None]
    exact = np.sum(per_sample.var(axis=0)) / batch
    index = np.array(np.meshgrid(*[np.arange(n)] * batch, indexing="ij")).reshape(batch, -1).T
    batch_grads = np.stack([X[i].T @ (X[i] @ theta - y[i]) / batch for i in index])
    rows = batch_grads.shape[0]
    estimate = metrics.gradient_covariance_trace(batch_grads) * (rows - 1) / rows
    assert estimate == pytest.approx(exact, rel=1e-12)  # float64 sums of 125 rows


def test_moving_average_residuals_are_the_loss_minus_its_centred_mean():
    gen = np.random.default_rng(7)
    losses = gen.random(30)
    smooth, residual = metrics.moving_average_residuals(losses, 5)
    assert smooth.shape == residual.shape == (26,)
    # t = 2..27: the mean of losses[t-2 : t+3], summed in another order (1e-12 relative)
    expected = np.array([losses[t - 2:t + 3].mean() for t in range(2, 28)])
    np.testing.assert_allclose(smooth, expected, rtol=1e-12)
    np.testing.assert_allclose(residual + smooth, losses[2:28], rtol=1e-12)
    assert metrics.loss_variance(losses, 5) == pytest.approx(np.mean(residual ** 2), rel=1e-15)
    with pytest.raises(ValueError, match="odd"):
        metrics.moving_average_residuals(losses, 4)
