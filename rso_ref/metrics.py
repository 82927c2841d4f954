r"""Training-stability metrics (the RSO paper's Table 2) and layer-weight statistics.

The paper reports "Gradient Norm Std", "Loss Variance" and an "LR Sensitivity Range"
(§4.2, Table 2) without defining them. The definitions used here are:

Gradient-norm std
    :math:`\operatorname{std}_t \|\nabla L_{B_t}(\theta_t)\|` over the steps ``t`` of a
    window (by default the second half of training, after the transient), with the
    unbiased (``ddof=1``) estimator.
Gradient variance
    the trace of the covariance of the minibatch gradient at a fixed :math:`\theta`,
    :math:`\operatorname{tr}\operatorname{Cov}_B[\nabla L_B(\theta)]`, estimated from
    several minibatch gradients drawn at that :math:`\theta`
    (:func:`gradient_covariance_trace`); the abstract's "gradient variance".
Gradient-norm coefficient of variation
    the same standard deviation divided by the mean norm over the window; scale-free, so
    optimizers whose gradients end at different sizes compare (used by the presets of
    :mod:`rso_ref.presets`; it grows as the mean norm shrinks, so an arm that converges
    further reads as more variable).
Loss variance
    the variance of the minibatch loss about its centred moving average of width
    ``window`` steps over the same steps, which removes the downward trend that
    would otherwise dominate a plain variance.
LR sensitivity range
    over a log-spaced grid of learning rates, the interval ``[lo, hi]`` of rates whose
    final score is within ``tolerance`` of the best score on the grid, with its width in
    decades :math:`\log_{10}(hi/lo)`; rates that diverged count as failures.

Epochs to target (§4.3, "convergence speed")
    the first epoch whose evaluation accuracy reaches a target; runs that never reach
    it are censored (``None``), not averaged.

Layer weights (Figure 1, Theorem 2): the normalised entropy of :math:`|w|` and the
lag-1 statistics of each weight's trajectory.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = [
    "budget_epochs",
    "second_half",
    "gradient_norm_std",
    "gradient_norm_cv",
    "gradient_covariance_trace",
    "moving_average_residuals",
    "loss_variance",
    "lr_sensitivity_range",
    "epochs_to_target",
    "weight_entropy",
    "lag1_product_mean",
    "lag1_autocorrelation",
]


def _as_1d(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def second_half(values: Sequence[float]) -> np.ndarray:
    """Return the last ``ceil(n/2)`` entries: the default measurement window.

    Parameters
    ----------
    values : sequence of float
        A per-step series.

    Returns
    -------
    numpy.ndarray
        ``values[n // 2:]`` as float64.
    """
    arr = np.asarray(values, dtype=np.float64)
    return arr[len(arr) // 2:]


def gradient_norm_std(grad_norms: Sequence[float]) -> float:
    r"""Return the unbiased standard deviation of the gradient norms.

    .. math::

        \sqrt{\frac{1}{T-1} \sum_{t=1}^{T} \big(\|g_t\| - \overline{\|g\|}\big)^2}

    Parameters
    ----------
    grad_norms : sequence of float
        :math:`\|g_t\|` per step, at least two.

    Returns
    -------
    float
        The standard deviation.
    """
    arr = _as_1d(grad_norms, "grad_norms")
    if arr.size < 2:
        raise ValueError("grad_norms needs at least 2 values")
    return float(np.std(arr, ddof=1))


def gradient_norm_cv(grad_norms: Sequence[float]) -> float:
    r"""Return the coefficient of variation of the gradient norms.

    .. math:: \operatorname{std}_t \|g_t\| \,/\, \operatorname{mean}_t \|g_t\|

    Parameters
    ----------
    grad_norms : sequence of float
        :math:`\|g_t\|` per step, at least two.

    Returns
    -------
    float
        The unbiased standard deviation over the mean.
    """
    arr = _as_1d(grad_norms, "grad_norms")
    return gradient_norm_std(arr) / float(np.mean(arr))


def gradient_covariance_trace(gradients: Sequence[Sequence[float]]) -> float:
    r"""Return the unbiased estimate of the trace of the minibatch-gradient covariance.

    With :math:`m` minibatch gradients :math:`g_1, \dots, g_m` taken at one fixed
    :math:`\theta` (flattened to vectors),

    .. math::

        \widehat{\operatorname{tr}\operatorname{Cov}} = \frac{1}{m-1} \sum_{b=1}^{m}
        \|g_b - \bar g\|^2, \qquad \bar g = \frac{1}{m} \sum_{b=1}^{m} g_b,

    an unbiased estimate of :math:`\operatorname{tr}\operatorname{Cov}_B[\nabla
    L_B(\theta)] = \mathbb{E}_B \|\nabla L_B(\theta) - \nabla L(\theta)\|^2` when the
    minibatches are drawn independently; it equals ``np.trace(np.cov(gradients.T))``.
    This is the "gradient variance" of the RSO paper's abstract, measured at the
    :math:`\theta` an optimizer visits rather than along its moving trajectory.

    Parameters
    ----------
    gradients : array_like, shape (m, d)
        One flattened minibatch gradient per row, :math:`m \ge 2`.

    Returns
    -------
    float
        The estimate (0 when all rows are equal).
    """
    arr = np.asarray(gradients, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"gradients must be 2-D with at least 2 rows (one minibatch gradient "
                         f"per row), got shape {arr.shape}")
    centred = arr - arr.mean(axis=0)
    return float(np.sum(centred ** 2) / (arr.shape[0] - 1))


def moving_average_residuals(losses: Sequence[float], window: int = 21
                             ) -> tuple[np.ndarray, np.ndarray]:
    r"""Return the centred moving average of the loss and the loss's residuals about it.

    .. math::

        \bar\ell_t = \frac{1}{w} \sum_{|s - t| \le (w-1)/2} \ell_s, \qquad
        r_t = \ell_t - \bar\ell_t

    over the ``t`` where the full window fits (:math:`n - w + 1` values).

    Parameters
    ----------
    losses : sequence of float
        The loss :math:`\ell_t` per step (at least ``window`` values).
    window : int, default 21
        The odd window length :math:`w`.

    Returns
    -------
    smooth : numpy.ndarray
        :math:`\bar\ell_t`.
    residual : numpy.ndarray
        :math:`r_t`.
    """
    arr = _as_1d(losses, "losses")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd int, got {window}")
    if arr.size < window:
        raise ValueError(f"losses has {arr.size} values, fewer than window={window}")
    smooth = np.convolve(arr, np.full(window, 1.0 / window), mode="valid")
    half = window // 2
    return smooth, arr[half:arr.size - half] - smooth


def loss_variance(losses: Sequence[float], window: int = 21) -> float:
    r"""Return the variance of the loss about its centred moving average.

    .. math::

        \frac{1}{n-w+1} \sum_{t} \big(\ell_t - \bar\ell_t\big)^2

    with :math:`\bar\ell_t` of :func:`moving_average_residuals`, over the ``t`` where the
    full window fits. ``window`` must be odd.

    Parameters
    ----------
    losses : sequence of float
        The loss :math:`\ell_t` per step.
    window : int, default 21
        The odd window length :math:`w`.

    Returns
    -------
    float
        The variance about the moving average.
    """
    _, residual = moving_average_residuals(losses, window)
    return float(np.mean(residual ** 2))


def lr_sensitivity_range(lrs: Sequence[float], scores: Sequence[float], *,
                         tolerance: float = 0.01, higher_is_better: bool = True
                         ) -> tuple[float, float, float]:
    r"""Return the range of learning rates whose score is within ``tolerance`` of the best.

    .. math::

        Q = \{\eta_j : |s_j - s^\star| \le \mathrm{tolerance}\}, \qquad
        \mathrm{decades} = \log_{10} \frac{\max Q}{\min Q},

    with :math:`s^\star` the best score.

    Non-finite scores (diverged runs) never qualify. Returns ``(lo, hi, decades)``;
    the qualifying rates need not be contiguous on the grid: the range spans the
    smallest to the largest qualifying rate.

    Parameters
    ----------
    lrs : sequence of float
        The learning-rate grid :math:`\eta_j` (positive).
    scores : sequence of float
        The score of each rate (accuracy, or a loss with ``higher_is_better=False``).
    tolerance : float, default 0.01
        How far from the best score a rate may be.
    higher_is_better : bool, default True
        Whether the best score is the largest.

    Returns
    -------
    lo, hi : float
        The smallest and largest qualifying rates.
    decades : float
        :math:`\log_{10}(hi / lo)`.
    """
    lrs_arr, sc = _as_1d(lrs, "lrs"), _as_1d(scores, "scores")
    if lrs_arr.shape != sc.shape:
        raise ValueError(f"lrs has {lrs_arr.size} values but scores has {sc.size}")
    if np.any(lrs_arr <= 0):
        raise ValueError("lrs must be positive")
    finite = np.isfinite(sc)
    if not finite.any():
        raise ValueError("no finite score: every learning rate diverged")
    signed = sc if higher_is_better else -sc
    best = np.max(signed[finite])
    ok = finite & (signed >= best - tolerance)
    lo, hi = float(lrs_arr[ok].min()), float(lrs_arr[ok].max())
    return lo, hi, math.log10(hi / lo)


def epochs_to_target(eval_accuracy: Sequence[float], target: float) -> int | None:
    r"""Return the first epoch (1-based) whose evaluation accuracy reaches ``target``.

    .. math::

        t^\star = \min\{t \ge 1 : \mathrm{acc}_t \ge \mathrm{target}\}

    Parameters
    ----------
    eval_accuracy : sequence of float
        Evaluation accuracy after each epoch.
    target : float
        The accuracy to reach.

    Returns
    -------
    int or None
        :math:`t^\star`, or None when no epoch reaches ``target``.
    """
    for epoch, acc in enumerate(_as_1d(eval_accuracy, "eval_accuracy"), start=1):
        if acc >= target:
            return epoch
    return None


def weight_entropy(w: Sequence[float]) -> float:
    r"""Return the normalised entropy of the layer weights.

    .. math::

        \frac{H(p)}{\log L} = -\frac{1}{\log L} \sum_{i=1}^{L} p_i \log p_i, \qquad
        p = \frac{|w|}{\sum_i |w_i|}.

    1 means perfectly balanced weights, 0 one group taking everything (Figure 1's
    "early layers dominate" vs "balanced distribution").

    Parameters
    ----------
    w : sequence of float
        The ``L`` weights of one step.

    Returns
    -------
    float
        The normalised entropy, in :math:`[0, 1]`.
    """
    arr = np.abs(_as_1d(w, "w"))
    if arr.size < 2:
        raise ValueError("w needs at least 2 groups")
    total = arr.sum()
    if total == 0:
        raise ValueError("w is all zeros")
    p = arr / total
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / math.log(arr.size))


def lag1_product_mean(trajectory: Sequence[float]) -> float:
    r"""Return the raw sample mean of :math:`w_i(t)\, w_i(t+1)`: Theorem 2 read literally.

    .. math::

        \frac{1}{T-1} \sum_{t=1}^{T-1} w_i(t)\, w_i(t+1)

    Parameters
    ----------
    trajectory : sequence of float
        One weight's values :math:`w_i(1), \dots, w_i(T)`, at least two.

    Returns
    -------
    float
        The mean product.
    """
    arr = _as_1d(trajectory, "trajectory")
    if arr.size < 2:
        raise ValueError("trajectory needs at least 2 values")
    return float(np.mean(arr[:-1] * arr[1:]))


def lag1_autocorrelation(trajectory: Sequence[float]) -> float:
    r"""Return the centred lag-1 autocorrelation :math:`\hat\rho_1` of one weight's trajectory.

    .. math::

        \hat\rho_1 = \frac{\sum_t (w_t - \bar w)(w_{t+1} - \bar w)}{\sum_t (w_t - \bar w)^2}

    Parameters
    ----------
    trajectory : sequence of float
        One weight's values over steps.

    Returns
    -------
    float
        :math:`\hat\rho_1`.
    """
    arr = _as_1d(trajectory, "trajectory")
    if arr.size < 3:
        raise ValueError("trajectory needs at least 3 values")
    centred = arr - arr.mean()
    denom = float(np.sum(centred ** 2))
    if denom == 0:
        raise ValueError("trajectory is constant: autocorrelation undefined")
    return float(np.sum(centred[:-1] * centred[1:]) / denom)


def budget_epochs(evals_per_epoch: dict[str, float], epochs: int
                  ) -> tuple[float, dict[str, int]]:
    r"""The cheapest arm's gradient-evaluation budget, and how many epochs each arm gets in it.

    .. math::

        B = E \min_a g_a, \qquad e_a = \lfloor B / g_a \rfloor,

    with :math:`g_a` the mean gradient evaluations (meta-solve included) per epoch of arm
    :math:`a` and :math:`E` the epochs every arm ran. Reading arm :math:`a`'s test accuracy
    after epoch :math:`e_a` compares the arms at (at most) equal cost; the training
    loop has no schedule that depends on the run's length, so that reading is what a run
    of :math:`e_a` epochs would give. The cheapest arm is read at its last epoch.

    Parameters
    ----------
    evals_per_epoch : dict of str to float
        :math:`g_a` per arm (positive).
    epochs : int
        :math:`E` (positive).

    Returns
    -------
    budget : float
        :math:`B`.
    epochs_in_budget : dict of str to int
        :math:`e_a` per arm; 0 where one epoch of the arm already costs more than :math:`B`.

    Raises
    ------
    ValueError
        If ``evals_per_epoch`` is empty or holds a non-positive value, or ``epochs`` < 1.
    """
    if not evals_per_epoch or not all(v > 0 for v in evals_per_epoch.values()):
        raise ValueError(f"evals_per_epoch must hold positive values, got {evals_per_epoch}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    budget = epochs * min(evals_per_epoch.values())
    # the relative slack keeps the cheapest arm at E epochs despite round-off in B / g
    return budget, {arm: min(epochs, int(math.floor(budget / g * (1 + 1e-12))))
                    for arm, g in evals_per_epoch.items()}
