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
# # 01 · RSO from scratch, on quadratics you can draw
#
# Recursive Subspace Optimization (RSO) replaces the gradient step
# $\theta' = \theta - \eta\, g$ by a step with **one weight per group of parameters**:
#
# $$
# \theta' = \theta - \eta \sum_{i=1}^{L} w_i\, g_i, \qquad g_i = \nabla_{\theta_i} L(\theta),
# $$
#
# where the groups $\theta_1, \dots, \theta_L$ are layers or blocks of a network and
# the weights $w$ are chosen by a small optimisation problem of their own, the
# **meta-objective**
#
# $$
# f(w) = L\Big(\theta - \eta \sum_i w_i g_i\Big), \qquad
# \frac{\partial f}{\partial w_i}
#   = -\eta\,\big\langle \nabla_{\theta_i} L(\theta'(w)),\, g_i \big\rangle .
# $$
#
# Algorithm 1 of the paper starts at $w = (1/L, \dots, 1/L)$ and runs $K$ iterations
# of L-BFGS on $f$. This notebook makes every piece of that visible on problems with
# $L = 2$ groups, so that $f$ is a function of two variables and we can draw it.
#
# Writing $G = [g_1, \dots, g_L]$ for the matrix whose column $i$ is the gradient of
# group $i$ padded with zeros elsewhere, the step is $\theta' = \theta - \eta G w$. For
# a quadratic $L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta$ the
# meta-objective is itself a quadratic in $w$, and setting its gradient to zero gives
# the closed form
#
# $$
# \nabla f(w) = -\eta\, G^\top\big(g - \eta A G w\big) = 0
# \quad\Longleftrightarrow\quad
# (G^\top A G)\, w^\star = \frac{G^\top g}{\eta}.
# $$

# %%
import matplotlib.pyplot as plt
import numpy as np

from rso_ref import minimize, rso_step
from rso_ref.rso import meta_objective

# %% [markdown]
# ## A 2-D quadratic with one coordinate per group
#
# Parameters are a *list of arrays*; each array here holds one coordinate, so the
# default grouping (one group per array) gives $L = 2$ groups. The loss oracle is any
# function `params -> (loss, grads)`.

# %%
A = np.array([[3.0, 1.2], [1.2, 1.0]])
b = np.array([1.0, -1.0])
theta_star = np.linalg.solve(A, b)


def quadratic(params):
    """L(theta) = 1/2 theta^T A theta - b^T theta over a list of 1-element arrays."""
    theta = np.concatenate(params)
    grad = A @ theta - b
    return 0.5 * theta @ A @ theta - b @ theta, [grad[:1], grad[1:]]


theta0 = [np.array([2.0]), np.array([2.0])]
loss0, grads0 = quadratic(theta0)
lr = 0.5  # stable for GD: lr * lambda_max(A) = 1.78 < 2
print(f"L(theta0) = {loss0:.4f},  gradient = {np.concatenate(grads0)}")

# %% [markdown]
# ### The meta-objective landscape and the L-BFGS path on it
#
# `rso_ref.rso.meta_objective` builds $f$ and its gradient from the oracle, the point,
# the directions $g_i$, the groups and $\eta$. We evaluate it on a grid, and run the
# same L-BFGS that `rso_step` uses (`rso_ref.minimize`) from $w_0 = (1/2, 1/2)$, with
# a callback that records every iterate.

# %%
groups = [[0], [1]]
f = meta_objective(quadratic, theta0, grads0, groups, lr)


def landscape(f, w1, w2):
    return np.array([[f(np.array([a, c]))[0] for a in w1] for c in w2])


def lbfgs_path(f, w0, iters):
    path = [np.array(w0, dtype=float)]
    minimize(f, np.array(w0, dtype=float), gtol=0.0, ftol=0.0, maxiter=iters,
             callback=lambda x: path.append(np.array(x)))
    return np.array(path)


G = np.diag(np.concatenate(grads0))              # columns: g_1, g_2 (zero-padded)
g = np.concatenate(grads0)
w_closed = np.linalg.solve(G.T @ A @ G, G.T @ g / lr)
path = lbfgs_path(f, [0.5, 0.5], iters=5)
print("closed-form w* =", w_closed, "\nL-BFGS iterates:\n", path)

# %%
w1 = np.linspace(-0.6, 1.6, 121)
w2 = np.linspace(-0.5, 3.0, 121)
F = landscape(f, w1, w2)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
cs = ax.contour(w1, w2, F, levels=np.quantile(F, np.linspace(0, 0.5, 16)), cmap="viridis")
ax.plot(path[:, 0], path[:, 1], "o-", color="C3", label="L-BFGS on f(w)")
ax.plot(*w_closed, "*", ms=16, color="k", label=r"closed form $w^\star$")
ax.plot(1, 1, "s", color="C1", label="w = (1, 1): gradient step")
ax.set_xlabel("$w_1$")
ax.set_ylabel("$w_2$")
ax.set_title("Meta-objective $f(w) = L(\\theta - \\eta G w)$")
ax.legend(loc="upper right", fontsize="small")
plt.show()

# %% [markdown]
# Two things to see. The start $w_0 = (1/2, 1/2)$ is *not* the gradient step
# $w = (1, 1)$: before the meta-solve moves $w$, Algorithm 1's step is half a gradient
# step. And because $f$ is a 2-D quadratic, L-BFGS lands on $w^\star$ within a few
# iterations.
#
# `rso_step` does all of this in one call and returns the new parameters, the weights
# and the bookkeeping (`nfev` counts every evaluation of $f$, each of which is a
# forward **and** backward pass).

# %%
res = rso_step(quadratic, theta0, lr=lr, meta_iters=5)
theta1 = np.concatenate(res.params)
print("w        =", res.w, "  (closed form", w_closed, ")")
print("theta'   =", theta1, "  theta* =", theta_star)
loss_star, _ = quadratic([theta_star[:1], theta_star[1:]])
print(f"loss {res.loss_before:.4f} -> {res.loss_after:.6f}  (minimum {loss_star:.6f}),"
      f" nit={res.nit}, nfev={res.nfev}")
assert np.allclose(res.w, w_closed, rtol=1e-6)

# %% [markdown]
# With **as many groups as coordinates**, $G$ is square and invertible, so
# $G^\top A G w^\star = G^\top g/\eta$ gives $\eta G w^\star = A^{-1} g$: the RSO step is
# the Newton step, and one RSO step reaches $\theta^\star$ exactly. With fewer groups
# than coordinates (every real network) RSO only picks the best point of an
# $L$-dimensional slice through $\theta$.
#
# ### The RSO step vs the gradient step in θ-space

# %%
t1 = np.linspace(-2.5, 3.0, 101)
t2 = np.linspace(-3.5, 3.0, 101)
Lgrid = np.array([[quadratic([np.array([a]), np.array([c])])[0] for a in t1] for c in t2])
th0 = np.concatenate(theta0)
gd = th0 - lr * g

fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.contour(t1, t2, Lgrid, levels=20, cmap="Greys")
ax.annotate("", gd, th0, arrowprops=dict(arrowstyle="->", color="C1", lw=2))
ax.annotate("", theta1, th0, arrowprops=dict(arrowstyle="->", color="C3", lw=2))
ax.plot(*th0, "ko")
ax.plot(*theta_star, "k*", ms=14)
ax.plot([], [], color="C1", label=r"GD: $\theta - \eta g$")
ax.plot([], [], color="C3", label=r"RSO: $\theta - \eta\,(w_1 g_1, w_2 g_2)$")
ax.set_xlabel(r"$\theta_1$")
ax.set_ylabel(r"$\theta_2$")
ax.set_title(r"One step from $\theta_0$ on $L(\theta)$")
ax.legend(loc="lower left", fontsize="small")
plt.show()

# %% [markdown]
# ## A block-scaled quadratic: two groups, very different curvature
#
# Now $\theta \in \mathbb{R}^{20}$ is split into two blocks of 10 coordinates. Block 1
# has Hessian eigenvalues in $[0.5, 1]$, block 2 in $[50, 100]$ (think of two layers
# whose gradients live on very different scales). Gradient descent needs
# $\eta < 2/100$ for stability, so it crawls in block 1. RSO learns one step size per
# block.

# %%
rng = np.random.default_rng(0)


def block(eigs, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((eigs.size, eigs.size)))
    return (Q * eigs) @ Q.T


A1 = block(np.linspace(0.5, 1.0, 10), rng)
A2 = block(np.linspace(50.0, 100.0, 10), rng)
c1, c2 = rng.standard_normal(10), rng.standard_normal(10)   # minimisers of each block


def block_quadratic(params):
    """Sum of 1/2 (x - c)^T A (x - c) over the two blocks; params = [x1, x2]."""
    d1, d2 = params[0] - c1, params[1] - c2
    loss = 0.5 * d1 @ A1 @ d1 + 0.5 * d2 @ A2 @ d2
    return loss, [A1 @ d1, A2 @ d2]


start = [np.zeros(10), np.zeros(10)]
eta = 0.015  # stable for GD: eta * 100 < 2
_, gb = block_quadratic(start)
fb = meta_objective(block_quadratic, start, gb, [[0], [1]], eta)

# %% [markdown]
# The meta-objective is still a 2-D quadratic in $w$. Its closed-form minimiser uses the
# block-diagonal $A$ and $G$ with the two zero-padded block gradients as columns:

# %%
A_full = np.block([[A1, np.zeros((10, 10))], [np.zeros((10, 10)), A2]])
Gb = np.zeros((20, 2))
Gb[:10, 0], Gb[10:, 1] = gb[0], gb[1]
gfull = np.concatenate(gb)
wb_closed = np.linalg.solve(Gb.T @ A_full @ Gb, Gb.T @ gfull / eta)
pathb = lbfgs_path(fb, [0.5, 0.5], iters=5)
print("closed-form w* =", wb_closed)

W1 = np.linspace(-5, 120, 126)
W2 = np.linspace(-0.3, 1.8, 126)
Fb = landscape(fb, W1, W2)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.contour(W1, W2, np.log(Fb - Fb.min() + 1e-3), levels=20, cmap="viridis")
ax.plot(pathb[:, 0], pathb[:, 1], "o-", color="C3", label="L-BFGS on f(w)")
ax.plot(*wb_closed, "*", ms=16, color="k", label=r"closed form $w^\star$")
ax.plot(1, 1, "s", color="C1", label="gradient step")
ax.set_xlabel("$w_1$ (flat block)")
ax.set_ylabel("$w_2$ (steep block)")
ax.set_title("Meta-objective, block-scaled quadratic (log scale)")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The optimum has $w_1 \gg 1 \approx w_2$: RSO takes a step about a hundred times
# larger in the flat block than GD could, while keeping the steep block stable. The
# valley is long and narrow (the two axes are scaled very differently), which is why
# L-BFGS, not plain gradient descent, is used on $f$.
#
# ### Training: GD vs RSO with K = 1, 2, 5
#
# Repeating the step from each new point gives the RSO optimizer. We count the
# oracle calls too: each RSO step costs 1 gradient plus `nfev` meta evaluations.

# %%
def run_gd(params, steps):
    losses = []
    for _ in range(steps):
        loss, grads = block_quadratic(params)
        losses.append(loss)
        params = [p - eta * g for p, g in zip(params, grads)]
    return np.array(losses)


def run_rso(params, steps, K):
    losses, calls = [], []
    for _ in range(steps):
        res = rso_step(block_quadratic, params, lr=eta, meta_iters=K)
        losses.append(res.loss_before)
        calls.append(1 + res.nfev)
        params = res.params
    return np.array(losses), np.cumsum(calls)


steps = 25
curves = {"GD": (run_gd(start, 300), np.arange(1, 301))}
for K in (1, 2, 5):
    curves[f"RSO, K={K}"] = run_rso(start, steps, K)
for name, (loss, calls) in curves.items():
    print(f"{name:>9}: loss after {len(loss)} steps {loss[-1]:.2e}, oracle calls {calls[-1]}"
          f" ({calls[-1] / len(loss):.1f} per step)")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for name, (loss, calls) in curves.items():
    ax1.semilogy(np.arange(len(loss))[:steps], loss[:steps], label=name)
    ax2.semilogy(calls, loss, label=name)
ax1.set_xlabel("step")
ax2.set_xlabel("oracle calls (forward + backward passes)")
ax2.set_xlim(0, 300)
for ax in (ax1, ax2):
    ax.set_ylabel("loss (minimum 0)")
    ax.set_ylim(1e-16, None)   # below ~1e-16 relative, float64 rounding takes over
    ax.grid(alpha=0.3)
    ax.legend()
ax1.set_title("Loss per step")
ax2.set_title("Loss per unit of work")
plt.show()

# %% [markdown]
# Per step, RSO wins by orders of magnitude: two step sizes fit two curvature
# scales. Per unit of work the gap is smaller, because each meta-iteration costs a
# forward and a backward pass (and L-BFGS's line search sometimes more than one) —
# the paper's "one forward pass per meta-iteration" undercounts this.
#
# Note what K = 5 costs here. With two groups the meta-problem is solved to
# rounding after a few iterations. The meta-solve has no absolute tolerance (one
# would stop it at $w_0$ once gradients are small); it stops early only when an
# iteration decreased $f$ by no more than its rounding level, or when its line search
# finds no decrease at all (status 2, `res.meta_message`), which can take up to twice
# `maxls` trial points. `nfev` counts every oracle call it made.
#
# **Takeaways.** RSO is an exact line search in the span of the group gradients.
# On a quadratic the meta-solve has a closed form $(G^\top A G) w^\star = G^\top g/\eta$;
# with one group it is the exact line search along $-g$, with one group per coordinate
# it is Newton's method, and in between it adapts one step size per group.
