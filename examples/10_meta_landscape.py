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
# # 10 · The meta-objective f(w) of a real network
#
# Notebook 01 drew the meta-objective on quadratics, where it is a convex bowl. Here
# we draw it for a neural network. Notation (as in notebook 01): $\mathcal{L}$ is the
# training loss, $\theta$ the parameters, split into $n_g$ groups $\theta_1, \dots,
# \theta_{n_g}$ with gradients $g_i = \nabla_{\theta_i}\mathcal{L}(\theta)$, $\eta$ the
# learning rate, and
#
# $$
# f(w) = \mathcal{L}\Big(\theta - \eta \sum_{i=1}^{n_g} w_i g_i\Big) = \mathcal{L}(\theta - \eta G w),
# \qquad
# \nabla f(w) = -\eta\, G^\top \nabla\mathcal{L}(\theta - \eta G w),
# \qquad
# \nabla^2 f(w) = \eta^2\, G^\top \nabla^2\mathcal{L}(\theta - \eta G w)\, G ,
# $$
#
# where column $i$ of $G$ is $g_i$ padded with zeros outside group $i$. The last
# formula is the point of this notebook: $f$ is convex exactly where the loss's
# Hessian $\nabla^2\mathcal{L}$ has no negative curvature *inside the span of the
# group gradients*. The RSO paper's proof sketch of Theorem 1 says "the
# meta-optimization problem is convex in $w$"; that is true when $\mathcal{L}$ is
# convex (the theorem's assumption), and we check here what happens when it is not.
#
# The network: an MLP 64 → 32 → 10 with ReLU on the 8×8 digits, with **layer
# grouping** (a weight matrix and its bias form one group), so $n_g = 2$ and $f$ is a
# function of two numbers that we can draw. $\theta$ is the network after three
# full-batch gradient steps from its initialisation ("trained a little"), and the
# loss is that of one fixed batch of 256 images, so $f$ is a deterministic function.

# %%
import matplotlib.pyplot as plt
import numpy as np

from rso_ref import rso_step, tree
from rso_ref.data import load_digits, standardize
from rso_ref.hessian import hvp
from rso_ref.nn import MLP
from rso_ref.rso import meta_objective

ds, _, _ = standardize(load_digits(seed=0))
X, y = ds.X_train[:256], ds.y_train[:256]           # one fixed batch
model = MLP((64, 32, 10))                           # ReLU, as in notebook 02
groups = model.layers()                             # [[W1, b1], [W2, b2]] -> n_g = 2
LR = 0.1                                            # eta, the library's default for RSO


def oracle(params):
    return model.value_and_grad(params, X, y)


theta = model.init(seed=0)
for _ in range(3):                                  # three gradient steps, step 0.1
    _, g = oracle(theta)
    theta = tree.axpy(-0.1, g, theta)
loss0, grads = oracle(theta)
f = meta_objective(oracle, theta, grads, groups, LR)   # w -> (f(w), grad f(w))
gnorm = [float(np.sqrt(sum(np.sum(grads[j] ** 2) for j in grp))) for grp in groups]
print(f"groups {groups}, n_g = {len(groups)}; loss at theta {loss0:.4f}; "
      f"|g_1| = {gnorm[0]:.3f}, |g_2| = {gnorm[1]:.3f}")

# %% [markdown]
# ## The landscape, the minimiser and RSO's path
#
# We evaluate $f$ on a 41 × 41 grid (one forward and backward pass per point), find
# its minimiser $w^\star$ by running the meta-solve to convergence (`rso_step` with
# $K = 50$; it stops earlier once $f$ no longer decreases above rounding), and draw the
# path of Algorithm 1: $K = 5$ L-BFGS iterations from $w_0 = (1/n_g, 1/n_g)$. L-BFGS is
# deterministic, so iterate $k$ of a $K$-iteration run is the result of `rso_step` with
# `meta_iters=k`.

# %%
K = 5
w1_grid, w2_grid = np.linspace(-10, 70, 41), np.linspace(-20, 40, 41)
F = np.array([[f(np.array([a, b]))[0] for a in w1_grid] for b in w2_grid])
star = rso_step(oracle, theta, lr=LR, groups=groups, meta_iters=50)
path = np.array([rso_step(oracle, theta, lr=LR, groups=groups, meta_iters=k).w
                 for k in range(K + 1)])
f_path = [f(w)[0] for w in path]
f_gd = f(np.ones(2))[0]
print(f"w* = {np.round(star.w, 2)} after {star.nit} iterations ({star.meta_message}); "
      f"f(w*) = {star.loss_after:.4f}")
print(f"plain gradient step w = (1, 1): f = {f_gd:.4f}")
for k, (w, fw) in enumerate(zip(path, f_path)):
    print(f"  iterate {k}: w = {np.round(w, 2)}, f(w) = {fw:.4f}")

# %%
print(f"after K = {K}: f(w_K) - f(w*) = {f_path[K] - star.loss_after:.4f}, "
      f"|w_K - w*| = {np.linalg.norm(path[K] - star.w):.1f}; "
      f"gradient step: f(theta) - f(1, 1) = {loss0 - f_gd:.4f}, "
      f"f(theta) - f(w*) = {loss0 - star.loss_after:.4f}")

# %% [markdown]
# Each L-BFGS iteration moves $w$ by several units along a valley. After $K = 5$ the
# weights are still several units from $w^\star$, yet $f$ is within a small fraction of
# its total decrease: the valley floor is flat, so a large error in $w$ costs little
# in $f$. The plain gradient step $w = (1, 1)$ achieves only a small part of the
# decrease available in this two-dimensional subspace: with $\eta = 0.1$ the best step
# along each layer's gradient is longer than $\eta g_i$ by the factors $w^\star_i$
# printed above: tens of times for the hidden layer, a few times for the output layer.
#
# (The meta-solve to convergence ends with the status printed above: its line search
# — which accepts a trial step only if it satisfies the *strong Wolfe conditions*,
# a sufficient decrease of $f$ and a reduction of $|\partial f/\partial t|$ along the
# search direction — finds no acceptable step any more, because $f$ cannot be
# decreased above its rounding level. Notebook 09 explains L-BFGS and its line search.)

# %% [markdown]
# ## Curvature of f: the Hessian by finite differences of the meta-gradient
#
# `f` returns $\nabla f$ exactly (one backward pass), so the Hessian follows from
# central differences of the gradient, column $j$ being
# $\big(\nabla f(w + h e_j) - \nabla f(w - h e_j)\big) / 2h$. With ReLU, $f$ has kinks
# (lines in the $w$-plane where a hidden unit switches on or off for some image), and
# a difference quotient that straddles one is meaningless. So we use two step sizes:
# $h = 10^{-6}$ measures the curvature of the smooth piece that contains $w$ (a kink
# within $10^{-6}$ is unlikely), and $h = 0.5$ the average curvature over a unit of
# $w$, the scale on which L-BFGS moves. Where the two agree, the number describes $f$.

# %%
def hessian_fd(w, h):
    cols = [(f(w + h * e)[1] - f(w - h * e)[1]) / (2 * h) for e in np.eye(2)]
    H = np.column_stack(cols)
    return 0.5 * (H + H.T)                  # symmetrise the rounding differences


points = {"w0 = (1/n_g, 1/n_g)": path[0], "after K = 5": path[K], "w*": star.w,
          "(10, 0)": np.array([10.0, 0.0]), "(60, 30)": np.array([60.0, 30.0]),
          "(0, 30)": np.array([0.0, 30.0])}
print(f"{'point':>16} {'w':>16} {'eigenvalues, h = 1e-6':>26} {'eigenvalues, h = 0.5':>26}")
eig_at, eig_big = {}, {}
for name, w in points.items():
    e_small, e_big = (np.linalg.eigvalsh(hessian_fd(w, h)) for h in (1e-6, 0.5))
    eig_at[name], eig_big[name] = e_small, e_big
    print(f"{name:>16} {np.array2string(w, precision=2):>16} "
          f"{np.array2string(e_small, precision=6):>26} {np.array2string(e_big, precision=6):>26}")

# %%
ratio = eig_at["w*"][1] / eig_at["w*"][0]
print(f"at w*: largest / smallest eigenvalue = {ratio:.1f}; at w0 the eigenvalues are "
      f"{eig_at['w0 = (1/n_g, 1/n_g)'][1] / eig_at['w*'][1]:.1f} and "
      f"{eig_at['w0 = (1/n_g, 1/n_g)'][0] / eig_at['w*'][0]:.1f} times those at w*")
def disagreement(name):
    return np.max(np.abs(eig_big[name] - eig_at[name]) / np.abs(eig_at[name]))


print("relative difference between h = 0.5 and h = 1e-6, per point:",
      {name: round(float(disagreement(name)), 2) for name in points})
assert min(eig_at["w0 = (1/n_g, 1/n_g)"].min(), eig_at["after K = 5"].min(), eig_at["w*"].min()) > 0
assert eig_at["(60, 30)"][0] < 0

# %% [markdown]
# Read the table row by row. Both eigenvalues are positive at $w_0$, after $K = 5$ and
# at $w^\star$: near the route RSO takes, $f$ is convex. On that route and at
# $(60, 30)$ the two step sizes $h$ agree to within the relative differences printed
# (a fifth at most), so these are properties of $f$, not of kinks; at $(10, 0)$ they
# differ by about a third (many kinks, and a curvature that changes within
# $\pm 0.5$), but agree on the sign. At
# $w^\star$ the larger eigenvalue is several times the smaller: along one direction of
# $w$ the function is nearly flat, which is the valley. The curvature also *falls*
# along the path (the eigenvalues at $w_0$ are several times those at $w^\star$): the
# further the step $\theta - \eta G w$ goes, the flatter the loss. At $(60, 30)$ the
# smaller eigenvalue is negative for both step sizes: negative curvature of $f$
# itself. The map below shows where.

# %%
coarse1, coarse2 = w1_grid[::4], w2_grid[::4]
lam_min = np.array([[np.linalg.eigvalsh(hessian_fd(np.array([a, b]), 0.5))[0]
                     for a in coarse1] for b in coarse2])
neg = lam_min < 0
print(f"smallest eigenvalue of the Hessian of f (h = 0.5) on an {neg.shape[0]}x{neg.shape[1]} grid: "
      f"negative at {neg.sum()} of {neg.size} points; most negative {lam_min.min():.2e} at "
      f"w = ({coarse1[np.argmin(lam_min) % neg.shape[1]]:.0f}, "
      f"{coarse2[np.argmin(lam_min) // neg.shape[1]]:.0f})")

fig, ax = plt.subplots(figsize=(7.5, 5.5))
levels = np.quantile(F, np.linspace(0, 1, 25) ** 2)   # dense levels near the minimum
cs = ax.contourf(w1_grid, w2_grid, F, levels=levels, cmap="viridis")
fig.colorbar(cs, ax=ax, label=r"$f(w) = \mathcal{L}(\theta - \eta G w)$")
A1, A2 = np.meshgrid(coarse1, coarse2)
ax.scatter(A1[neg], A2[neg], marker="x", color="white", s=25,
           label=r"$\lambda_{\min}(\nabla^2 f) < 0$")
ax.plot(path[:, 0], path[:, 1], "o-", color="C3", label=f"L-BFGS path, K = {K}")
ax.plot(*star.w, "*", color="gold", ms=16, mec="k", label=r"$w^\star$")
ax.plot(1, 1, "s", color="C1", mec="k", label="gradient step w = (1, 1)")
ax.set_xlabel(r"$w_1$ (hidden layer)")
ax.set_ylabel(r"$w_2$ (output layer)")
ax.set_title("Meta-objective of an MLP 64-32-10 on digits")
ax.legend(loc="lower right", fontsize="small")
plt.show()

# %% [markdown]
# The picture: a curved valley that runs from $w_0$ out to $w^\star$ and bends down
# towards smaller $w_2$ after the fourth iterate; the L-BFGS path follows its floor. $f$ is
# convex around the floor; the white crosses mark where the smaller eigenvalue of
# $\nabla^2 f$ is negative: at large $w_1$ *and* large $w_2$, beyond the minimiser,
# where both layers take long steps at once and the loss surface bends the other way.
# There $f$ is not a bowl.
#
# ## Why the weights land where they do
#
# Along one group alone, a Newton step for $f$ from $w = 0$ predicts the best weight
# from $\partial f / \partial w_i(0) = -\eta \|g_i\|^2$ and
# $\partial^2 f / \partial w_i^2(0) = \eta^2\, g_i^\top \nabla^2\mathcal{L}\, g_i$:
#
# $$
# w_i^{\text{1-D}} = \frac{\|g_i\|^2}{\eta\; g_i^\top \nabla^2\mathcal{L}(\theta)\, g_i}
# = \frac{1}{\eta\, \kappa_i}, \qquad
# \kappa_i = \frac{g_i^\top \nabla^2\mathcal{L}(\theta)\, g_i}{\|g_i\|^2},
# $$
#
# where $\kappa_i$ is the curvature of the loss along the group's gradient. Both groups
# together, the quadratic model of $\mathcal{L}$ at $\theta$ gives notebook 01's
# closed form $(G^\top \nabla^2\mathcal{L}\, G)\, w^{Q} = G^\top g / \eta$. We compute
# both with exact Hessian-vector products (`rso_ref.hessian.hvp`).

# %%
G_cols = [[grads[j] if j in grp else np.zeros_like(grads[j]) for j in range(len(grads))]
          for grp in groups]                       # column i of G, as a parameter list
HG = [hvp(model.loss, theta, gi, X, y) for gi in G_cols]
GHG = np.array([[tree.vdot(gi, hg) for hg in HG] for gi in G_cols])
Gg = np.array([tree.vdot(gi, grads) for gi in G_cols])
kappa = np.diag(GHG) / Gg                          # g_i^T g = |g_i|^2
w_quad = np.linalg.solve(GHG, Gg / LR)
print("curvature along each group's gradient kappa_i =", np.round(kappa, 4))
print("1-D Newton weights 1/(eta kappa_i)            =", np.round(1 / (LR * kappa), 2))
print("quadratic-model weights w^Q                   =", np.round(w_quad, 2))
print(f"RSO after K = {K}                              =", np.round(path[K], 2))
print("minimiser w*                                  =", np.round(star.w, 2))

# %% [markdown]
# The estimates explain the *scale*: the weights are in the tens because $\eta = 0.1$
# is small compared with $1/\kappa_i$, the step the curvature along $g_i$ allows.
# RSO's $w_i$ is a step length $\eta w_i$ counted in units of $\eta$ (halving $\eta$
# doubles the weights: exercise 1). They do not get the split between the layers
# right: the 1-D estimates ignore the coupling of the groups (the off-diagonal entries
# of $G^\top\nabla^2\mathcal{L}\,G$), and the quadratic model $w^Q$, which includes it,
# lands near the second or third L-BFGS iterate, well short of $w^\star$ in $w_1$.
# The rest is the curvature falling along the valley (table above): the quadratic
# model at $\theta$ overestimates how soon the loss turns up again.
#
# ### Connection with notebook 02
#
# There the weights of the digits MLP (64 → 128 → 128 → 10, $n_g = 3$, minibatches of 64,
# $K = 5$) settle between about 5 and 15. We repeat that training for 40 steps and, at
# every fourth step, also run the meta-solve to convergence on the same minibatch.

# %%
model3 = MLP((64, 128, 128, 10))
groups3, theta3 = model3.layers(), model3.init(seed=0)
rng = np.random.default_rng(0)
w5, w50, gain = [], [], []
for step in range(40):
    idx = rng.choice(len(ds.y_train), 64, replace=False)
    batch = (ds.X_train[idx], ds.y_train[idx])
    oracle3 = lambda p, b=batch: model3.value_and_grad(p, *b)  # noqa: E731
    res = rso_step(oracle3, theta3, lr=LR, groups=groups3, meta_iters=K)
    if step % 4 == 0:
        full = rso_step(oracle3, theta3, lr=LR, groups=groups3, meta_iters=50)
        w5.append(res.w)
        w50.append(full.w)
        gain.append((res.loss_before - res.loss_after) / (res.loss_before - full.loss_after))
    theta3 = res.params
print(f"median w, K = {K}:         {np.round(np.median(w5, axis=0), 2)}")
print(f"median w, converged:     {np.round(np.median(w50, axis=0), 2)}")
print(f"range of converged w:    {np.round(np.min(w50, axis=0), 1)} to "
      f"{np.round(np.max(w50, axis=0), 1)}")
print(f"median share of the converged decrease reached with K = {K}: {np.median(gain):.3f}")

# %% [markdown]
# The weights of 02 are mostly a property of $K = 5$, not of the minimiser. The
# converged weights look entirely different: the first layer's is several times
# larger, the other two scatter around zero, negative on some batches, and all of them
# vary widely from batch to batch (a flat valley floor determines $w^\star$ poorly).
# The truncated meta-solve starts at $1/n_g$ for every layer and walks a few iterations,
# so it returns moderate weights for all layers — which already achieve most of the
# decrease the converged solve gets.
#
# ### What this says about "convex in $w$"
#
# The formula $\nabla^2 f = \eta^2 G^\top \nabla^2\mathcal{L}\, G$ makes $f$ convex
# whenever $\mathcal{L}$ is, so under Theorem 1's assumptions (a strongly convex loss)
# the claim holds. For a network it fails: the table and the map show negative
# eigenvalues of $\nabla^2 f$ at weights of the size the converged meta-solve reaches.
# What holds here is convexity *near the valley floor*, which is enough for L-BFGS to
# go from $w_0$ to $w^\star$ — but it is an observation on one network at one
# $\theta$, not a guarantee, and an argument that relies on convexity of $f$ does not
# carry over to networks.
#
# **Takeaways.** The meta-objective of a real network is a curved valley, convex near
# its floor and non-convex beyond it. RSO's weights are $1/\eta$ times the step length
# the local curvature allows along each layer's gradient; with $K = 5$ they stop well
# short of the minimiser but capture most of the decrease.

# %% [markdown]
# ## Exercises
#
# 1. **Learning rate.** Set `LR = 0.05` and rerun. How do $w^\star$ and $f(w^\star)$
#    change, and why?
# 2. **Number of iterations $K$.** How many iterations does the meta-solve need to
#    reach $f(w^\star)$ to four decimals? What fraction of the decrease
#    $f(w_0) - f(w^\star)$ does $K = 5$ achieve?
# 3. **Start $w_0$.** Start the meta-solve at the gradient step, `w0="ones"`. Does it
#    reach the same $w^\star$?
# 4. **Activation.** Use `MLP((64, 32, 10), activation="tanh")`. Is the negative
#    curvature a ReLU artefact?
#
# The answers follow; try first.

# %% [markdown]
# ---
# ## Answers

# %% [markdown]
# **1.** The step is $\theta - \eta G w$, so only the product $\eta w$ matters: halving
# $\eta$ doubles $w^\star$ exactly and leaves $f(w^\star)$ unchanged (up to the
# meta-solve's stopping point).

# %%
star_half = rso_step(oracle, theta, lr=LR / 2, groups=groups, meta_iters=50)
print(f"eta = {LR}: w* = {np.round(star.w, 2)}, f = {star.loss_after:.5f};  "
      f"eta = {LR / 2}: w* = {np.round(star_half.w, 2)}, f = {star_half.loss_after:.5f}")

# %% [markdown]
# **2.** The loss after $k$ iterations, and the share of the achievable decrease:

# %%
f_star = star.loss_after
for k in (1, 2, 3, 5, 8, 12):
    fk = rso_step(oracle, theta, lr=LR, groups=groups, meta_iters=k).loss_after
    print(f"K = {k:>2}: f = {fk:.4f}, share of f(w0) - f(w*) achieved "
          f"{(f_path[0] - fk) / (f_path[0] - f_star):.3f}")

# %% [markdown]
# Most of the decrease comes in the first few iterations; the rest is the slow walk
# along the flat valley floor, which moves $w$ a lot and $f$ little.
#
# **3.** From $w_0 = (1, 1)$:

# %%
star_ones = rso_step(oracle, theta, lr=LR, groups=groups, meta_iters=50, w0="ones")
print(f"w0 = uniform: w* = {np.round(star.w, 3)}, f = {star.loss_after:.6f}")
print(f"w0 = ones:    w* = {np.round(star_ones.w, 3)}, f = {star_ones.loss_after:.6f}")

# %% [markdown]
# Both starts lie in the convex region around the valley and end at the same
# minimiser, up to the meta-solve's stopping accuracy (the floor is flat, so $w$ is
# determined less precisely than $f$). From a start on a non-convex flank this need
# not hold.
#
# **4.** With tanh, $f$ is smooth (no kinks); the smallest eigenvalue of its Hessian
# on the same coarse grid:

# %%
model_t = MLP((64, 32, 10), activation="tanh")
theta_t = model_t.init(seed=0)
oracle_t = lambda p: model_t.value_and_grad(p, X, y)  # noqa: E731
for _ in range(3):
    theta_t = tree.axpy(-0.1, oracle_t(theta_t)[1], theta_t)
f_t = meta_objective(oracle_t, theta_t, oracle_t(theta_t)[1], groups, LR)


def lam_min_t(w, h=1e-4):
    cols = [(f_t(w + h * e)[1] - f_t(w - h * e)[1]) / (2 * h) for e in np.eye(2)]
    return np.linalg.eigvalsh(0.5 * (np.column_stack(cols) + np.column_stack(cols).T))[0]


lam_t = np.array([[lam_min_t(np.array([a, b])) for a in coarse1] for b in coarse2])
star_t = rso_step(oracle_t, theta_t, lr=LR, groups=groups, meta_iters=50)
print(f"tanh: negative smallest eigenvalue at {(lam_t < 0).sum()} of {lam_t.size} grid points "
      f"(most negative {lam_t.min():.2e}); w* = {np.round(star_t.w, 2)}")

# %% [markdown]
# The count printed above answers the question: wherever it is non-zero, the smooth
# network's meta-objective has negative curvature too, so non-convexity is not caused
# by ReLU's kinks; it comes from the loss surface bending along long steps. (The
# minimiser differs because the network differs.)
