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
# \theta' = \theta - \eta \sum_{i=1}^{n_g} w_i\, g_i, \qquad
# g_i = \nabla_{\theta_i} \mathcal{L}(\theta),
# $$
#
# **Notation** (the same in notebooks 01–04 and 09): $\mathcal{L}$ is the loss, $n_g$ the number
# of groups, $\eta$ the learning rate, $g = \nabla \mathcal{L}(\theta)$ the full
# gradient and $g_i$ its part in group $i$. The paper writes $L$ for all three of loss,
# number of layers and (in Theorem 1) the smoothness constant; here $L$ means only the
# smoothness constant (notebook 04).
#
# The groups $\theta_1, \dots, \theta_{n_g}$ are layers or blocks of a network and
# the weights $w$ are chosen by a small optimisation problem of their own, the
# **meta-objective**
#
# $$
# f(w) = \mathcal{L}\Big(\theta - \eta \sum_i w_i g_i\Big), \qquad
# \frac{\partial f}{\partial w_i}
#   = -\eta\,\big\langle \nabla_{\theta_i} \mathcal{L}(\theta'(w)),\, g_i \big\rangle .
# $$
#
# Algorithm 1 of the paper starts at $w = (1/n_g, \dots, 1/n_g)$ and runs $K$
# iterations of L-BFGS (a quasi-Newton method; notebook 09 explains it) on $f$. This
# notebook makes every piece of that visible on problems with $n_g = 2$ groups, so
# that $f$ is a function of two variables and we can draw it.
#
# Writing $G = [g_1, \dots, g_{n_g}]$ for the matrix whose column $i$ is the gradient of
# group $i$ padded with zeros elsewhere, the step is $\theta' = \theta - \eta G w$. For
# a quadratic $\mathcal{L}(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta$ the
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
# default grouping (one group per array) gives $n_g = 2$ groups. The loss oracle is any
# function `params -> (loss, grads)`.

# %%
A = np.array([[3.0, 1.2], [1.2, 1.0]])
b = np.array([1.0, -1.0])
theta_star = np.linalg.solve(A, b)


def quadratic(params):
    """loss(theta) = 1/2 theta^T A theta - b^T theta over a list of 1-element arrays."""
    theta = np.concatenate(params)
    grad = A @ theta - b
    return 0.5 * theta @ A @ theta - b @ theta, [grad[:1], grad[1:]]


theta0 = [np.array([2.0]), np.array([2.0])]
loss0, grads0 = quadratic(theta0)
lr = 0.5  # stable for GD: lr * lambda_max(A) = 1.78 < 2
print(f"loss(theta0) = {loss0:.4f},  gradient = {np.concatenate(grads0)}")

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
ax.set_title("Meta-objective $f(w) = \\mathcal{L}(\\theta - \\eta G w)$")
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
# $n_g$-dimensional slice through $\theta$.
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
ax.set_title(r"One step from $\theta_0$ on $\mathcal{L}(\theta)$")
ax.legend(loc="lower left", fontsize="small")
plt.show()

# %% [markdown]
# The grey ellipses are level sets of $\mathcal{L}$. The gradient step (orange) leaves
# $\theta_0$ at right angles to the level set through it, a direction far from the one
# that points at the minimum $\star$: it overshoots $\theta^\star$ in the first
# coordinate and falls short in the second, and ends on a higher level set than the
# minimum's. The RSO step (red) rescales the two coordinates of the gradient separately
# and lands on $\theta^\star$.
#
# ### Many steps: GD's zig-zag, RSO and Newton
#
# One step hides how the methods *travel*. Take a more ill-conditioned 2-D quadratic
# $\mathcal{L}(\theta) = \tfrac12 \theta^\top A \theta$, minimum at $0$, whose Hessian
# has eigenvalues 25 and 1 (condition number 25) along axes rotated by 30°, and
# compare 15 steps of
#
# * **GD** with $\eta = 1.8/25$ (just below the stability limit $2/\lambda_{\max}$);
# * **RSO with one group** ($n_g = 1$, the whole $\theta$; $K = 5$): the meta-problem is
#   one-dimensional, so this is the *exact line search* along $-g$;
# * **RSO with one group per coordinate** ($n_g = 2$) and $K = 1$: Algorithm 1 with a
#   single L-BFGS iteration, an inexact meta-solve;
# * **RSO with $n_g = 2$, $K = 5$** (exact meta-solve) and **Newton's method**
#   $\theta' = \theta - A^{-1} g$: by the argument above, the same single step.

# %%
rot = np.array([[np.cos(np.pi / 6), -np.sin(np.pi / 6)], [np.sin(np.pi / 6), np.cos(np.pi / 6)]])
A_ill = rot @ np.diag([25.0, 1.0]) @ rot.T


def ill(params):
    """loss(theta) = 1/2 theta^T A_ill theta, two 1-element arrays."""
    th = np.concatenate(params)
    return 0.5 * th @ A_ill @ th, [(A_ill @ th)[:1], (A_ill @ th)[1:]]


th_start, eta_ill, n_steps = np.array([-2.0, 2.5]), 1.8 / 25.0, 15


def travel(step, n=n_steps):
    points = [th_start]
    for _ in range(n):
        points.append(step(points[-1]))
    return np.array(points)


def rso_travel(groups, K, n=n_steps):
    return travel(lambda th: np.concatenate(rso_step(ill, [th[:1], th[1:]], lr=eta_ill,
                                                     groups=groups, meta_iters=K).params), n)


paths = {"GD": travel(lambda th: th - eta_ill * (A_ill @ th)),
         "RSO, 1 group (exact line search)": rso_travel([[0, 1]], 5),
         "RSO, 2 groups, K = 1": rso_travel([[0], [1]], 1),
         "RSO, 2 groups, K = 5": rso_travel([[0], [1]], 5, n=1),
         "Newton": travel(lambda th: th - np.linalg.solve(A_ill, A_ill @ th), n=1)}
for name, pts in paths.items():
    losses = [ill([q[:1], q[1:]])[0] for q in pts]
    print(f"{name:>33}: loss {losses[0]:.2f} -> after step 1: {losses[1]:.2e},"
          f" after step {len(pts) - 1}: {losses[-1]:.2e}")

t1, t2 = np.linspace(-2.6, 0.6, 101), np.linspace(-0.6, 3.0, 101)
Lill = np.array([[ill([np.array([a]), np.array([c])])[0] for a in t1] for c in t2])
fig, ax = plt.subplots(figsize=(6, 6))
ax.contour(t1, t2, Lill, levels=np.geomspace(0.005, 12, 12), cmap="Greys")
styles = ["o-", "s-", "^-", "D-", "*--"]
for (name, pts), style in zip(paths.items(), styles):
    ax.plot(pts[:, 0], pts[:, 1], style, ms=4, lw=1.2, label=name)
ax.plot(0, 0, "k*", ms=14)
ax.set_xlabel(r"$\theta_1$")
ax.set_ylabel(r"$\theta_2$")
ax.set_aspect("equal")
ax.set_title("15 steps on an ill-conditioned quadratic (condition number 25)")
ax.legend(fontsize="small", loc="lower left")
plt.show()

# %% [markdown]
# What the picture and the printed losses show:
#
# * **GD zig-zags**: with $\eta$ near $2/\lambda_{\max}$ each step overshoots across the
#   narrow direction of the valley, and progress along the long direction (curvature 1)
#   is slow: after 15 steps the loss has dropped from 7.91 to 0.54, a factor of about 15.
# * **RSO with one group** chooses the best step length along $-g$ each time. Its path
#   also zig-zags, with consecutive steps at right angles (the classic exact-line-search
#   pattern), but it goes much further per step: loss $2.3 \cdot 10^{-3}$ after 15 steps.
# * **RSO with two groups and $K = 1$** takes one L-BFGS iteration from $w_0 = (1/2, 1/2)$:
#   a better first step than GD's, but not the best one in its 2-D slice, and after 15
#   steps (loss 0.39) it is barely ahead of GD and far behind the one-group exact line
#   search. More freedom ($n_g = 2$) does not help if the meta-problem is not solved.
# * **RSO with two groups and $K = 5$** solves its 2-D meta-problem exactly; with one
#   group per coordinate that is Newton's step, and both reach the minimum in one step
#   (their markers coincide).
#
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
# The optimum has $w_1 \gg 1 \approx w_2$: RSO takes a step about 80 times
# larger in the flat block than GD could, while keeping the steep block stable. The
# valley is long and narrow (the two axes are scaled very differently), which is why
# L-BFGS, not plain gradient descent, is used on $f$.
#
# ### Training: GD vs RSO with K = 1, 2, 5
#
# Repeating the step from each new point gives the RSO optimizer. We count the
# oracle calls too: each RSO step costs 1 gradient plus `nfev` meta evaluations. The
# loss at $\theta_t$ is plotted at the number of calls made when it became known: for
# GD call $t + 1$, for RSO the calls of the $t$ earlier steps plus this step's gradient
# call (not yet its meta calls).

# %%
def run_gd(params, steps):
    losses = []
    for _ in range(steps):
        loss, grads = block_quadratic(params)
        losses.append(loss)
        params = [p - eta * g for p, g in zip(params, grads)]
    return np.array(losses)


def run_rso(params, steps, K):
    """Loss at each theta_t, and the oracle calls made once that loss is known."""
    losses, calls, done = [], [], 0
    for _ in range(steps):
        res = rso_step(block_quadratic, params, lr=eta, meta_iters=K)
        losses.append(res.loss_before)
        calls.append(done + 1)         # loss_before is known after this step's gradient call
        done += 1 + res.nfev           # the step's gradient call + its meta calls
        params = res.params
    return np.array(losses), np.array(calls)


steps = 25
curves = {"GD": (run_gd(start, 300), np.arange(1, 301))}
for K in (1, 2, 5):
    curves[f"RSO, K={K}"] = run_rso(start, steps, K)
for name, (loss, calls) in curves.items():
    print(f"{name:>9}: loss at step {len(loss) - 1}: {loss[-1]:.2e}, known after {calls[-1]}"
          f" oracle calls")

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
print("lowest loss known after  100 / 200 / 300 oracle calls")
for name, (loss, calls) in curves.items():
    print(f"{name:>9}: " + " / ".join(f"{loss[calls <= budget].min():.1e}" for budget in (100, 200, 300)))

# %% [markdown]
# Per step (left), RSO wins by orders of magnitude, and the larger $K$ the faster:
# two step sizes fit two curvature scales. Per unit of work (right, and the printed
# table) the ranking changes, because each meta-iteration costs at least one forward
# and one backward pass (and L-BFGS's line search sometimes more than one) — the
# paper's "one forward pass per meta-iteration" undercounts this:
#
# * $K = 1$ and $K = 2$ still beat GD per call (after 100 calls: $1.8 \cdot 10^{-3}$ and
#   $1.2 \cdot 10^{-4}$ against GD's 0.32), and $K = 2$ is the best of all per call.
# * $K = 5$ is **behind** GD for its first 200 calls (29 against 0.32 after 100 calls,
#   0.17 against 0.036 after 200) and only overtakes it near 300 calls: each of its
#   steps costs about 50 calls (the loss at step 24 is known after 1208).
#
# Note what K = 5 costs here. With two groups the meta-problem is solved to
# rounding after a few iterations. The meta-solve has no absolute tolerance (one
# would stop it at $w_0$ once gradients are small); it stops early only when an
# iteration decreased $f$ by no more than its rounding level, or when its line search
# finds no decrease at all (status 2, `res.meta_message`), which can take up to twice
# `maxls` trial points. `nfev` counts every oracle call it made.
#
# **Takeaways.** An RSO step minimises the loss over the $n_g$-dimensional slice
# $\theta - \eta G w$ spanned by the group gradients (a *subspace minimisation*), but
# only approximately: $K$ L-BFGS iterations from $w_0 = 1/n_g$, which reach the minimiser
# of the slice only when $K$ is large enough (here $K = 5$ with two groups). On a quadratic
# the exact meta-solution has the closed form $(G^\top A G) w^\star = G^\top g/\eta$; with
# one group it is the exact line search along $-g$, with one group per coordinate it is
# Newton's method, and in between it adapts one step size per group. Per step RSO is
# far ahead of GD; per forward-and-backward pass, only a small $K$ kept that lead here.
#
# ## Exercises
#
# 1. **Curvature ratio.** In the block-scaled quadratic, give block 2 the eigenvalues
#    $[5, 10]$ instead of $[50, 100]$ (with $\eta = 0.15$ so that $\eta\lambda_{\max}$ is
#    unchanged). Predict $w^\star_1$ before computing it.
# 2. **K.** On the first 2-D quadratic, how far is the RSO step from $\theta^\star$ with
#    $K = 1, \dots, 6$?
# 3. **Grouping.** Run 25 RSO steps ($K = 5$) on the block-scaled quadratic with a
#    single group (`groups=[[0, 1]]`). How does the loss compare with two groups, and why?
# 4. **Start of the meta-solve.** Repeat exercise 2 with `w0="ones"` (the gradient step).
#
# The answers are computed in the next cell; run it after trying.

# %%
# Answers.
# 1. A1 keeps [0.5, 1]; only the ratio of the two blocks' curvatures changed (10x smaller).
A2_soft = block(np.linspace(5.0, 10.0, 10), np.random.default_rng(1))
soft = [A1, A2_soft]
oracle_soft = lambda p: (sum(0.5 * (x - c) @ M @ (x - c) for x, c, M in zip(p, (c1, c2), soft)),
                         [M @ (x - c) for x, c, M in zip(p, (c1, c2), soft)])
w_soft = rso_step(oracle_soft, start, lr=0.15, meta_iters=20).w
print("1. w* with block 2 in [5, 10], eta = 0.15:", np.round(w_soft, 2),
      " (was", np.round(wb_closed, 2), "with [50, 100], eta = 0.015)")
print("   the flat block's step eta * w1*:", round(0.15 * w_soft[0], 3), "vs", round(eta * wb_closed[0], 3))
# 2. and 4. Distance to theta* after one RSO step, by K, from w0 = 1/2 and w0 = 1.
for K in range(1, 7):
    dist = [np.linalg.norm(np.concatenate(rso_step(quadratic, theta0, lr=lr, meta_iters=K,
                                                   w0=w0).params) - theta_star)
            for w0 in ("uniform", "ones")]
    print(f"2./4. K = {K}: |theta' - theta*| = {dist[0]:.2e} from w0 = 1/2, {dist[1]:.2e} from w0 = 1")
# 3. One group: the exact line search along -g.
one_group = [start]
for _ in range(25):
    one_group.append(rso_step(block_quadratic, one_group[-1], lr=eta, groups=[[0, 1]],
                              meta_iters=5).params)
print(f"3. loss after 25 steps: one group {block_quadratic(one_group[-1])[0]:.2e},"
      f" two groups (K = 5) {curves['RSO, K=5'][0][-1]:.2e} (at step 24)")

# %% [markdown]
# *What the answers show.* (1) $w^\star_1$ is 10 times smaller (7.98 against 79.84), but
# the step the flat block actually takes, $\eta w^\star_1 \approx 1.20$, is the same: it is
# set by the flat block's own curvature (eigenvalues in $[0.5, 1]$). What changed is GD's
# stable $\eta$, which is set by the steep block; $w_1^\star$ measures how much larger than
# GD's step the flat block wants, i.e. the curvature ratio. (2) From $w_0 = 1/2$ the
# distance falls from 2.7 ($K = 1$) to 1.75 ($K = 2$) and to rounding at $K = 3$. (4) From
# $w_0 = 1$ the same K give other points, still 2.1 away at $K = 3$ and within about
# $10^{-3}$ and $10^{-5}$ only at $K = 5$ and $6$: L-BFGS with a Wolfe line search (not
# exact) has no guarantee to finish a 2-D quadratic in a fixed number of iterations, and
# how many it needs depends on where it starts. Small $K$ means an inexact meta-solve
# whose result depends on $w_0$. (3) With one group RSO is only the exact line search
# along $-g$: one step length for two blocks whose curvatures differ by a factor 100,
# so after 25 steps the loss (1.45) is 22 orders of magnitude above the two-group run's.
