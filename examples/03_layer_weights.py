# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Layer-weight dynamics and the "exhaustion" theorem
#
# Every RSO step produces a weight vector $w(t) \in \mathbb{R}^{n_g}$, one entry per group
# (here one group per layer, so $n_g$ is the number of layers; notation as in notebook 01).
# The paper makes two statements about how it evolves:
#
# * **Figure 1 (§4.4).** Early in training the first layer dominates
#   ($w \approx [0.82, 0.15, 0.03, \dots]$ as shares), later the weights move to middle
#   and later layers, and from epoch 31 on they are balanced.
# * **Theorem 2 (§3.2, "exhaustion").** *Layer weights exhibit negative
#   autocorrelation:* $\;\mathbb{E}[w_i(t)\, w_i(t+1)] < 0$ for consecutive iterations
#   within a training phase, read in §2.4 as "a heavily used layer receives less weight
#   in the next iterations".
#
# This notebook measures both on a 5-layer MLP (64 → 32 → 32 → 32 → 32 → 10) trained
# on the digits with Algorithm 1 ($K = 5$, $\eta = 0.1$, one group per layer), five
# seeds, 8 epochs of 23 steps (one setting of `rso-ref theory --quick`). The runs and
# the statistics come from
# `rso_ref.claims.exhaustion`, the module behind `rso-ref theory`; the formulas are
# spelled out here and checked against `rso_ref.metrics`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from rso_ref import metrics
from rso_ref.claims import exhaustion as ex

setting = ex.Setting(model="mlp", groups="layer", lr=0.1, epochs=8)
seeds = [0, 1, 2, 3, 4]
ws = ex.weight_trajectories(setting, seeds=seeds)      # one (steps, L) array per seed
names = ex.group_names(setting)
spe = ex.steps_per_epoch()
w = ws[0]
print(f"{w.shape[0]} steps x {w.shape[1]} layers ({spe} steps per epoch)")
print("fraction of negative weights per layer:", np.round((w < 0).mean(axis=0), 3))

# %% [markdown]
# ## Figure 1: the shares of the layers over training
#
# The paper's weight vectors sum to about 1, so we read them as shares
# $s_i = |w_i| / \sum_j |w_j|$. We plot them per step
# (stacked), print their mean per epoch in the paper's format, and summarise the
# balance by the normalised entropy
#
# $$
# H(s) = -\frac{1}{\log n_g} \sum_i s_i \log s_i \in [0, 1],
# $$
#
# which is 1 for perfectly balanced weights and 0 when one layer takes everything
# (`rso_ref.metrics.weight_entropy`).

# %%
share = np.abs(w) / np.abs(w).sum(axis=1, keepdims=True)
profile = ex.epoch_profile(w, spe)
for epoch, (row, h) in enumerate(zip(profile["share"], profile["entropy"]), start=1):
    print(f"epoch {epoch}: w = {np.round(row, 2).tolist()}   entropy {h:.2f}")

steps = np.arange(1, w.shape[0] + 1)
fig, (ax_s, ax_h) = plt.subplots(1, 2, figsize=(11, 4))
ax_s.stackplot(steps, share.T, labels=names, alpha=0.85)
ax_s.set_ylim(0, 1)
ax_s.set_xlabel("RSO step")
ax_s.set_ylabel(r"share $s_i = |w_i|\, /\, \Sigma_j |w_j|$")
ax_s.set_title("Layer shares (seed 0)")
ax_s.legend(loc="upper right", fontsize="small")
for k, wk in enumerate(ws):
    entropy = [metrics.weight_entropy(row) for row in wk]
    ax_h.plot(steps, entropy, alpha=0.4, color=f"C{k}")
    ax_h.plot(np.arange(1, len(wk) // spe + 1) * spe - spe / 2,
              ex.epoch_profile(wk, spe)["entropy"], "o-", color=f"C{k}", label=f"seed {seeds[k]}")
ax_h.axhline(1.0, color="grey", ls="--", lw=0.8)
ax_h.set_xlabel("RSO step")
ax_h.set_ylabel("normalised entropy of the shares")
ax_h.set_title("Balance: per step, and epoch means")
ax_h.legend()
plt.show()

# %% [markdown]
# The qualitative picture matches part of Figure 1: the first layer has the largest
# share early and the shares become more even over training. The first layer's early
# share is well below the paper's 0.82, though, and this is a short run on a tiny
# network; `rso-ref theory` runs the longer protocol with confidence intervals.
#
# ## Theorem 2 read literally: $\mathbb{E}[w_i(t)\,w_i(t+1)] < 0$
#
# A product of two consecutive weights is negative only if the weight **changes sign**
# between the two steps. The RSO weights are mostly positive (printed above: the
# first layers never change sign, the last ones occasionally), so almost all products
# are positive.
#
# How sure can we be with five runs? The steps of one run are not independent (each
# weight depends on the last), so the **seeds** are the units of replication. Each
# statistic below is pooled over the five runs, with a 95% **cluster-bootstrap**
# interval: draw five seeds with replacement, pool their steps, recompute, 1000 times,
# keep the middle 95% (`rso_ref.stats.cluster_bootstrap`). That interval describes the
# spread between runs; it cannot decide a test with five seeds (if all five lie on one
# side of zero, so does every resample, which would happen by chance with probability
# $2 \cdot 2^{-5} = 1/16$). What decides is a **one-sample t-test of the five runs' own
# values** against the null, with $5 - 1 = 4$ degrees of freedom (`seed_t_test`).

# %%
phase_len = ex.PHASE_EPOCHS * spe      # a "training phase": 2 epochs
for i, name in enumerate(names):
    r = ex.product_reading([wk[:, i] for wk in ws], phase_len, n_boot=1000)
    p = 2 * min(r["p_below"], r["p_above"])
    direct = metrics.lag1_product_mean(ws[0][:, i])          # whole run, seed 0
    print(f"{name}: mean w(t) w(t+1) = {r['estimate']:7.2f}  95% CI [{r['lo']:6.2f}, "
          f"{r['hi']:6.2f}]  seeds < 0: {sum(v < 0 for v in r['per_seed'])}/5  "
          f"t = {r['t']:5.2f}, p = {p:.2g}   (rso_ref.metrics, seed 0: {direct:6.2f})")

# %% [markdown]
# **Reading the output.** Every layer's mean product is positive in all five runs
# (0/5 seeds below zero), and the t-test on the five runs' means gives t = 3.73 to 5.17
# (p = 0.0067 to 0.02, 4 degrees of freedom): positive, the opposite of the claim.
#
# As written, the theorem cannot hold while the weights stay positive — and with
# $w_i > 0$ every layer moves *down* its gradient, which is what a sensible step does.
# The statement the paper's prose suggests is about **fluctuations**: a weight that is
# above its typical level now tends to be below it next step. That is a *negative
# centred autocorrelation*,
#
# $$
# \hat\rho_1 = \frac{\sum_t (w_t - \bar w)(w_{t+1} - \bar w)}{\sum_t (w_t - \bar w)^2},
# $$
#
# with $\bar w$ the mean over the phase (so that the slow trend of training is not
# counted as correlation). One caveat before measuring: even for a sequence with **no
# temporal order at all** (shuffled in time), $\hat\rho_1$ is biased downwards, to
# $\rho_0 = -1/n$ for phases of $n$ steps. "Negative" must mean "below $\rho_0$".
#
# As above, $\hat\rho_1$ is pooled over the five runs (sums of all runs' products over
# sums of their squares) with a 95% cluster-bootstrap interval over the seeds, and the
# t-test takes each run's own $\hat\rho_1 - \rho_0$.

# %%
rho = [ex.autocorrelation_reading([wk[:, i] for wk in ws], phase_len, n_boot=1000)
       for i in range(len(names))]
est = np.array([r["estimate"] for r in rho])
err = np.array([[r["estimate"] - r["lo"], r["hi"] - r["estimate"]] for r in rho]).T
null = rho[0]["reference"]
for name, r in zip(names, rho):
    print(f"{name}: rho = {r['estimate']:+.3f}  95% CI [{r['lo']:+.3f}, {r['hi']:+.3f}]  "
          f"seeds below rho_0: {sum(v < null for v in r['per_seed'])}/5  "
          f"t = {r['t']:+.2f}, p = {2 * min(r['p_below'], r['p_above']):.2g}")
print(f"null rho_0 = {null:+.3f}")
print("whole-run rho (rso_ref.metrics, seed 0):",
      np.round([metrics.lag1_autocorrelation(w[:, i]) for i in range(len(names))], 3))

fig, (ax_r, ax_sc) = plt.subplots(1, 2, figsize=(11, 4))
ax_r.errorbar(np.arange(len(names)), est, yerr=err, fmt="o", capsize=4)
ax_r.axhline(null, color="C3", ls="--", label=r"no-order null $\rho_0 = -1/n$")
ax_r.axhline(0.0, color="grey", lw=0.8)
ax_r.set_xticks(np.arange(len(names)), names)
ax_r.set_ylabel(r"phase-centred lag-1 autocorrelation $\hat\rho_1$")
ax_r.set_title("Centred reading of Theorem 2 (95% CI over seeds)")
ax_r.legend()
phase = ex.phase_ids(w.shape[0], phase_len)
c = w[:, 0] - (np.bincount(phase, weights=w[:, 0]) / np.bincount(phase))[phase]
same = phase[:-1] == phase[1:]
ax_sc.scatter(c[:-1][same], c[1:][same], s=10, alpha=0.6)
ax_sc.axhline(0, color="grey", lw=0.8)
ax_sc.axvline(0, color="grey", lw=0.8)
ax_sc.set_xlabel(r"$w_1(t) - \bar w_1$ (phase mean removed)")
ax_sc.set_ylabel(r"$w_1(t+1) - \bar w_1$")
ax_sc.set_title(f"{names[0]}, seed 0: consecutive fluctuations")
plt.show()

# %% [markdown]
# **Reading the output.** The pooled estimates all lie below the null
# $\rho_0 = -0.022$, from $-0.096$ (L5) to $-0.038$ (L3), but every interval (left panel,
# and the printed lines) contains it, and the runs disagree: in each layer only 3 or 4
# of the 5 seeds lie below $\rho_0$, and the t-tests on the runs' own
# $\hat\rho_1 - \rho_0$ give t = +0.17 to +0.38 (p = 0.72 to 0.88). The t is positive
# while the pooled estimate is negative because pooling weights each run by its
# $\sum (w_t - \bar w)^2$, so the runs with the largest spikes dominate it, while the
# t-test weighs the five runs equally. Either way there is no evidence on these runs that
# a layer's weight, once above its phase level, is pushed below it at the next step (nor
# that it stays above).
# The right panel shows the same for the first layer: consecutive
# fluctuations $(w_1(t) - \bar w_1,\ w_1(t+1) - \bar w_1)$. Most points form a tight
# cluster slightly below zero on both axes, with no visible tilt; a few isolated spikes
# (single steps where $w_1$ jumped by 20–85) appear once far right (the spike, followed
# by an ordinary value) and once far up (an ordinary value, followed by the spike).
# Exhaustion would tilt the cluster from upper left to lower right (a negative slope).
# The rare spikes dominate the sums in $\hat\rho_1$, which is why the intervals are wide.
# The whole-run values printed last (one seed, no phase centring, so the slow trend of
# training counts as correlation) are larger for the last layers (0.26, 0.35): that is the
# drift the phase centring removes, not evidence for or against the theorem.
#
# ## "A heavily used layer gets less weight next step"
#
# The most literal test of the prose: at each step find the layer with the largest
# weight and check whether it is still the largest at the next step. Against what?
# The chance level $1/n_g$ is too weak (a layer that is heavy throughout stays on top
# often), so we compare with surrogates that permute time independently in each
# layer's column of the shares: each layer keeps its distribution of shares, the
# temporal order is gone. Below the surrogates is reversion (exhaustion), above is
# persistence; a shuffle of whole rows inside each phase would keep the phase's drift
# in the null and could never show persistence.

# %%
top = ex.direction_test(ws, phase_len, n_surrogates=100, n_boot=1000)
print(f"top layer is top again at the next step: {top['stay']:.3f} "
      f"(95% CI [{top['stay_lo']:.3f}, {top['stay_hi']:.3f}], {top['n_pairs']} step pairs; "
      f"chance 1/n_g = {top['chance']:.3f})")
print(f"per-layer time-shuffled surrogates:      {top['null']:.3f} "
      f"(95% range [{top['null_lo']:.3f}, {top['null_hi']:.3f}])")
print(f"effect (observed - surrogates): {top['estimate']:+.3f} "
      f"(95% CI [{top['lo']:+.3f}, {top['hi']:+.3f}]); seeds below: "
      f"{sum(v < 0 for v in top['per_seed'])}/5, t = {top['t']:+.2f}, "
      f"p = {2 * min(top['p_below'], top['p_above']):.2g}")

# %% [markdown]
# **Reading the output.** The top layer is top again at the next step in 60.9% of the
# 900 step pairs, far above chance ($1/n_g = 0.2$) because the first layer holds the
# largest share most of the time. The surrogates, which keep each layer's distribution
# of shares but destroy the order in time, give 0.588 (95% range 0.562–0.612), and the
# observed 0.609 lies inside that range. Per run, the observed rate exceeds the run's
# own surrogate mean in 4 of the 5 seeds: effect +0.021 (95% CI +0.006 to +0.032),
# t = +2.86, p = 0.046 on 4 degrees of freedom. That is no reversion (which would put it
# below), and at most weak persistence, the opposite of exhaustion: one test at 5%, not
# corrected for the others in this notebook. Most of what is seen is explained by which
# layer is usually heavy, not by a step-to-step mechanism.
#
# ## The growth of $\sum_i |w_i|$
#
# The shares hide the scale of $w$. Since $w_i = 1$ is the plain SGD step for group $i$,
# $\sum_i |w_i| / n_g$ is the average step multiplier RSO applies to $\eta$. How does it
# evolve over training?

# %%
total = [np.abs(wk).sum(axis=1) for wk in ws]
for k, tot in enumerate(total):
    per_epoch = tot[: len(tot) // spe * spe].reshape(-1, spe).mean(axis=1)
    print(f"seed {seeds[k]}: mean sum|w| per epoch", np.round(per_epoch, 1))
fig, ax = plt.subplots(figsize=(6, 3.5))
for k, tot in enumerate(total):
    ax.plot(steps, tot, color=f"C{k}", alpha=0.7, label=f"seed {seeds[k]}")
ax.axhline(len(names), color="grey", ls="--", lw=0.8, label=r"$n_g$ (all $w_i = 1$, SGD)")
ax.set_yscale("log")
ax.set_xlabel("RSO step")
ax.set_ylabel(r"$\sum_i |w_i|$")
ax.set_title("Total layer weight over training")
ax.legend()
plt.show()

# %% [markdown]
# $\sum_i |w_i|$ stays above $n_g = 5$ (the dashed SGD level) at almost every step (every
# seed dips below it a few times, down to about 2 in the plot): the epoch means printed
# above lie between 11.2 and 96.8, so RSO multiplies $\eta = 0.1$ by about 2 to 19 on
# average per layer, and step to step the total varies over two orders of magnitude. In
# the second half of training it grows: seed 0 from 11–14 in epochs 2–4 to 43.5 in
# epoch 8, seed 1 from 14–21 to 77.7, and every seed ends between 43.5 and 89.7. A
# plausible reading (not tested here): as the loss falls, the gradients shrink, and the
# meta-solve scales $w$ up to keep the step $\eta \sum_i w_i g_i$ useful, so $\eta$ acts
# as a scale for the search rather than as the step size. This is also why the paper's
# shares (which divide by $\sum_j |w_j|$) say nothing about how large the steps are.
#
# **What the exhaustion theorem does and does not say.**
#
# * As written, $\mathbb{E}[w_i(t) w_i(t+1)] < 0$ requires the weights to flip sign
#   between consecutive steps. It is false for RSO runs whose weights stay positive,
#   and no proof in the paper supports it.
# * Its centred reading (negative lag-1 autocorrelation of the fluctuations) is a
#   testable statement. It must be compared with the $-1/n$ small-sample bias, and on
#   these runs it is not distinguishable from it.
# * With a handful of runs, the runs are the sample: a bootstrap over five seeds can
#   draw an interval, but a test needs the t distribution with $C - 1$ degrees of
#   freedom on the runs' own values.
# * "The dominant layer gets less weight next step" is evidence of a mechanism only
#   if the top layer stays on top less often than under surrogates that keep each
#   layer's distribution of shares; staying on top more often is persistence, the
#   opposite.
# * None of these readings says anything about the convergence of training, and the
#   "curriculum" of Figure 1 is a statement about slow trends (epochs), which a lag-1
#   statistic within a phase deliberately removes.
#
# `rso-ref theory` runs the full protocol (more settings, seeds and epochs) and writes
# the verdicts to `theory/`.
#
# ## Exercises
#
# 1. **The $-1/n$ bias.** Shuffle a series in time (no order at all) and compute its
#    phase-centred lag-1 autocorrelation many times. What is the mean, for phases of
#    $n = 46$ steps?
# 2. **Entropy.** What is $H(s)$ for $w = (1, 1, 1, 1, 1)$, and for $w = (10, 0, 0, 0, 0)$?
#    What does the printed epoch 8 entropy (0.96) say, then?
# 3. **Scale.** Multiply every $w(t)$ by 10. Which of the statistics of this notebook
#    change: shares, entropy, $\hat\rho_1$, the mean product $w_i(t) w_i(t+1)$?
#
# The answers are computed in the next cell; run it after trying.

# %%
# Answers.
# 1. Pure noise, phase-centred, phases of 46 steps (the -1/n null).
noise_rng = np.random.default_rng(0)
rhos = [np.mean([metrics.lag1_autocorrelation(chunk)
                 for chunk in np.split(noise_rng.permutation(w[:, 0]), len(w) // phase_len)])
        for _ in range(500)]
print(f"1. mean rho of time-shuffled phases: {np.mean(rhos):+.4f}   (-1/n = {-1 / phase_len:+.4f})")
# 2. Entropy of balanced and of one-layer weights.
print("2. H(ones) =", round(metrics.weight_entropy(np.ones(5)), 3),
      "  H(10, 0, 0, 0, 0) =", round(metrics.weight_entropy(np.array([10.0, 0, 0, 0, 0])), 3))
# 3. Which statistics are scale-invariant?
w10 = 10 * w
growth = metrics.lag1_product_mean(w10[:, 0]) / metrics.lag1_product_mean(w[:, 0])
print("3. shares equal:", np.allclose(np.abs(w10) / np.abs(w10).sum(1, keepdims=True), share),
      " rho equal:", np.isclose(metrics.lag1_autocorrelation(w10[:, 0]),
                                metrics.lag1_autocorrelation(w[:, 0])),
      f" mean product x{growth:.0f}")

# %% [markdown]
# *What the answers show.* (1) Even a sequence with no temporal order gives a mean
# $\hat\rho_1$ near $-1/n$ (printed side by side), which is why the null line of the
# figure is not at 0. (2) $H = 1$ for equal weights and $0$ when one layer takes
# everything; 0.96 at epoch 8 means nearly balanced shares. (3) Shares, entropy and
# $\hat\rho_1$ do not depend on the scale of $w$; the raw product $w_i(t)w_i(t+1)$ grows
# 100-fold, so its size (and the growth of $\sum|w|$ above) says nothing about its sign.
