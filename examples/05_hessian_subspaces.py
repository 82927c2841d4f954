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
# # 05 · Dominant and bulk Hessian subspaces
#
# RSO restricts each step to the span of a few group gradients. A related line of
# work asks which *directions* of parameter space training actually uses, measured by
# the Hessian $H = \nabla^2 \mathcal{L}(\theta)$ of the training loss $\mathcal{L}$:
#
# * Gur-Ari, Roberts & Dyer (2018, arXiv:1812.04754): after a short transient the
#   gradient lies mostly in the **dominant subspace** spanned by the top-$k$
#   eigenvectors of $H$; $k$ is the number of top eigenvectors kept, which they set to
#   the number of classes (here $k = 10$; $k$ is not
#   RSO's number of groups $n_g$ nor its number of meta-iterations $K$).
# * Song, Ahn & Yun (2024, arXiv:2405.16002): yet stepping *only* in that subspace
#   (Dom-SGD) does not train, while stepping only in its orthogonal complement, the
#   **bulk** (Bulk-SGD), trains about as well as SGD.
# * Zakarin & Singh (2025, arXiv:2505.11972) study Bulk-SGD's stability and
#   interpolate between the three methods (last section).
#
# With $d$ the number of parameters, $g = \nabla\mathcal{L}(\theta)$ the gradient, $\eta$
# the learning rate, $U \in \mathbb{R}^{d \times k}$ the top-$k$ eigenvectors and
# $P = U U^\top$:
#
# $$
# \chi(g) = \frac{\|P g\|}{\|g\|}, \qquad
# \text{Dom-SGD: } \theta \leftarrow \theta - \eta\, P g, \qquad
# \text{Bulk-SGD: } \theta \leftarrow \theta - \eta\, (I - P)\, g .
# $$
#
# The tools: exact Hessian-vector products by automatic differentiation
# (`rso_ref.hessian.hvp`, $Hv$ without ever forming $H$), Lanczos for the top
# eigenpairs (`rso_ref.lanczos.top_eigenpairs`), `rso_ref.hessian.dominant_alignment`
# for $\chi$, and `rso_ref.optim.DomSGD` / `BulkSGD` / `InterpolatedSGD`. *Lanczos*
# is an iterative eigensolver: from products $Hv$ alone it builds a small tridiagonal
# matrix whose extreme eigenvalues converge fast to those of $H$.

# %%
import matplotlib.pyplot as plt
import numpy as np

from rso_ref import tree
from rso_ref.data import load_digits, standardize
from rso_ref.hessian import as_matvec, dominant_alignment, hvp
from rso_ref.lanczos import top_eigenpairs
from rso_ref.nn import MLP
from rso_ref.optim import SGD, BulkSGD, DomSGD, InterpolatedSGD

ds, _, _ = standardize(load_digits(seed=0))
X, y = ds.X_train[:256], ds.y_train[:256]       # one fixed batch: a deterministic loss
model = MLP((64, 16, 10))
dim = sum(p.size for p in model.init(seed=0))
k = 10                                          # number of classes
print(f"{dim} parameters, batch of {X.shape[0]}, k = {k}")


def hessian_matvec(params):
    """v -> H(params) v on flat vectors, by forward-over-reverse autodiff."""
    return as_matvec(lambda v: hvp(model.loss, params, v, X, y), params)


def top_eigs(params, k):
    return top_eigenpairs(hessian_matvec(params), dim, k, tol=1e-6, seed=0)


# %% [markdown]
# ## Full-batch SGD, with the alignment $\chi$ measured along the way
#
# Every 20 steps we compute the top-10 eigenpairs by Lanczos (each solve costs some
# tens of Hessian-vector products; the figure legends below give the totals) and the
# share $\chi$ of the gradient inside their span.

# %%
opt = SGD(lr=0.1)
params = model.init(seed=0)
state = opt.init(params)
sgd_loss, chi, chi_steps, spectra = [], [], [], {}
for step in range(101):
    loss, grads = model.value_and_grad(params, X, y)
    if step % 20 == 0:
        eig = top_eigs(params, k)
        chi.append(dominant_alignment(tree.flatten(grads), eig.eigenvectors))
        chi_steps.append(step)
        spectra[step] = eig.eigenvalues
    sgd_loss.append(loss)
    if step < 100:                              # stop at step 100, for the spectrum below
        params, state = opt.step(params, grads, state)
print("chi at steps", chi_steps, "=", np.round(chi, 3))
print("top eigenvalues at step 100:", np.round(spectra[100], 2))

# %% [markdown]
# A random direction in $d$ dimensions (printed above) has
# $\chi \approx \sqrt{k/d}$ (the grey line below) in a $k$-dimensional subspace. At the
# start the gradient's share is far larger (the first printed $\chi$): it points into the few directions of highest curvature. On this small
# problem the effect does not last: within a hundred steps the 1210-parameter network
# lowers the loss on its 256 examples by an order of magnitude (the SGD curve below,
# from its start to the loss printed after 100 steps), the top eigenvalues shrink, and $\chi$ drops to the random level (steps 40–60)
# and then stays within about a factor of 2 of it. Gur-Ari et al. observe the
# alignment persisting on larger data sets and networks — a reminder to check such
# claims on the problem at hand.
#
# ## The spectrum at step 100
#
# Gur-Ari et al. describe a few large *outlier* eigenvalues, about one per class,
# separated by a gap from a *bulk* of small ones. At step 100 we ask Lanczos for more
# eigenvalues than classes, to see whether such a gap exists here.

# %%
eig30 = top_eigs(params, 30)
fig, (ax_e, ax_c) = plt.subplots(1, 2, figsize=(11, 4))
ax_e.plot(np.arange(1, 31), eig30.eigenvalues, "o", label="step 100")
ax_e.plot(np.arange(1, k + 1), spectra[0], "x", color="grey", label="step 0 (top 10)")
ax_e.axvline(k + 0.5, color="C3", ls="--", lw=0.8, label="k = number of classes")
ax_e.set_xlabel("index i")
ax_e.set_ylabel(r"eigenvalue $\lambda_i$ of the Hessian")
ax_e.set_title(f"Top Hessian eigenvalues (Lanczos, {eig30.n_matvec} products)")
ax_e.legend()
ax_c.plot(chi_steps, chi, "o-")
ax_c.axhline(np.sqrt(k / dim), color="grey", ls="--", label=r"random direction $\sqrt{k/d}$")
ax_c.set_ylim(0, 1)
ax_c.set_xlabel("SGD step")
ax_c.set_ylabel(r"$\chi = \|P g\| / \|g\|$")
ax_c.set_title("Gradient share in the top-10 eigenspace")
ax_c.legend()
plt.show()
lam = eig30.eigenvalues
print(f"step 100: lambda_1 = {lam[0]:.3f}, lambda_10 = {lam[9]:.3f}, lambda_11 = {lam[10]:.3f}, "
      f"lambda_30 = {lam[29]:.3f}")
print(f"ratios of neighbours lambda_i / lambda_(i+1): largest {np.max(lam[:-1] / lam[1:]):.2f} "
      f"(at i = {np.argmax(lam[:-1] / lam[1:]) + 1}), at i = 10: {lam[9] / lam[10]:.2f}")
print(f"step 0: lambda_1 = {spectra[0][0]:.3f}, lambda_10 = {spectra[0][9]:.3f}")

# %% [markdown]
# **Reading the spectrum.** The eigenvalues decay smoothly: the largest ratio of
# neighbours printed above is modest, and there is no gap at $i = k = 10$ — nothing
# separates ten "outliers" from a "bulk" on this small, nearly fitted network. The
# top-10 eigenvalues at step 0 (grey crosses) are larger than those at step 100: the
# loss has become flatter as it fell. So "dominant subspace" here simply means the
# top-$k$ directions by curvature, a choice of $k$ rather than a feature of the
# spectrum. The right panel repeats $\chi$ over training.

# %% [markdown]
# ## Dom-SGD vs Bulk-SGD vs SGD
#
# Same start, same learning rate, same fixed batch; the projector is recomputed every
# 20 steps. Dom-SGD keeps only $P g$ — the part along the top-$k$ curvature
# directions, which carries most of the gradient's norm only at the start (the $\chi$
# printed above) — and Bulk-SGD only the rest.

# %%
def train_projected(opt, steps=100):
    params = model.init(seed=0)
    state, losses = opt.init(params), []
    for _ in range(steps):
        loss, grads = model.value_and_grad(params, X, y)
        losses.append(loss)
        params, state = opt.step(params, grads, state,
                                 hvp_fn=lambda p, v: hvp(model.loss, p, v, X, y))
    return np.array(losses), state["n_matvec"]


curves = {"SGD": (np.array(sgd_loss[:100]), 0)}
curves["Dom-SGD (P g)"] = train_projected(DomSGD(lr=0.1, k=k, every=20, tol=1e-6))
curves["Bulk-SGD ((I - P) g)"] = train_projected(BulkSGD(lr=0.1, k=k, every=20, tol=1e-6))

fig, ax = plt.subplots(figsize=(6, 4))
for label, (losses, n_matvec) in curves.items():
    ax.semilogy(losses, label=f"{label}" + (f", {n_matvec} HVPs" if n_matvec else ""))
ax.set_xlabel("step")
ax.set_ylabel("training loss (fixed batch)")
ax.set_title("Stepping in the dominant vs the bulk subspace")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
for label, (losses, _) in curves.items():
    print(f"{label:>22}: loss after 100 steps {losses[-1]:.3f}")

# %% [markdown]
# Dom-SGD stalls: within the 10 steepest directions the loss drops for the first
# twenty or so steps (the curve), and then hardly moves: what is left to gain lies
# mostly outside the subspace, where Dom-SGD cannot move. Bulk-SGD, which discards the steep part, keeps training, somewhat
# slower than SGD. The progress of training comes from the many low-curvature
# directions. RSO's per-group weights act on a related tension — one step size cannot
# suit directions of very different curvature (notebook 01).
#
# ## Interpolated steps and stability limits (Zakarin & Singh, 2025)
#
# The three methods are special cases of one step with a weight $a$ on the dominant
# part and $b$ on the bulk part (`InterpolatedSGD(a, b, ...)`):
#
# $$
# \theta \leftarrow \theta - \eta\,\big(a\, P g + b\, (I - P)\, g\big),
# \qquad (a, b) = (1, 1)\text{: SGD}, \quad (1, 0)\text{: Dom-SGD}, \quad (0, 1)\text{: Bulk-SGD}.
# $$
#
# **Stability limit.** On a quadratic with Hessian $H$, a gradient step multiplies the
# error's component along an eigenvector with eigenvalue $\lambda$ by $1 - \eta\lambda$;
# it shrinks only if $|1 - \eta\lambda| < 1$, i.e. $\eta < 2/\lambda$. So SGD needs
# $\eta < 2/\lambda_1$. In the interpolated step the dominant directions see the step
# $a\eta$ and the bulk directions $b\eta$, so the limits become
# $a\,\eta\,\lambda_1 < 2$ and $b\,\eta\,\lambda_{k+1} < 2$: damping the dominant
# part ($a < 1$) raises the largest stable learning rate from $2/\lambda_1$ towards
# $2/\lambda_{k+1}$. The papers' point is that a network is not a quadratic: $P$ is
# recomputed only every few steps and the eigenvectors move in between, so a step that
# drops the dominant part can still push the iterate along the *current* sharp
# directions. Below: $\eta = 3$, far above $2/\lambda_1$ at the start, for several
# $a$ with $b = 1$, 60 steps, $P$ recomputed every 10 steps.

# %%
ETA_BIG = 3.0
lam1_0, lam11_0 = top_eigs(model.init(seed=0), k + 1).eigenvalues[[0, k]]
print(f"at step 0: lambda_1 = {lam1_0:.2f} (2/lambda_1 = {2 / lam1_0:.2f}), "
      f"lambda_11 = {lam11_0:.2f} (2/lambda_11 = {2 / lam11_0:.2f}); eta = {ETA_BIG}")


def train_interpolated(a, steps=60):
    opt = InterpolatedSGD(a, 1.0, lr=ETA_BIG, k=k, every=10, tol=1e-4)
    params = model.init(seed=0)
    state, losses = opt.init(params), []
    for _ in range(steps):
        loss, grads = model.value_and_grad(params, X, y)
        losses.append(loss)
        if not np.isfinite(loss) or loss > 1e3:     # diverged: stop
            break
        params, state = opt.step(params, grads, state,
                                 hvp_fn=lambda p, v: hvp(model.loss, p, v, X, y))
    return np.array(losses)


interp = {a: train_interpolated(a) for a in (0.0, 0.5, 1.0, 1.5)}
fig, ax = plt.subplots(figsize=(6, 4))
for a, losses in interp.items():
    ax.semilogy(losses, "o-" if len(losses) < 10 else "-", ms=3, label=f"a = {a}, b = 1")
    status = "diverged" if len(losses) < 60 else f"loss after 60 steps {losses[-1]:.3f}"
    print(f"a = {a}: {status}, highest loss {losses.max():.3g}")
ax.set_xlabel("step")
ax.set_ylabel("training loss (fixed batch)")
ax.set_title(rf"Interpolated steps at $\eta$ = {ETA_BIG} (a = 1: SGD, a = 0: Bulk-SGD)")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# **Reading the result.** A step beyond the quadratic limit is not fatal for a
# network: at $\eta\lambda_1 > 2$ the loss first jumps and the iterate moves to a
# flatter region, where the step becomes stable again (compare the losses printed
# above with their highest values). Pushing the dominant part harder ($a = 1.5$) makes
# things worse, as the limit $a\eta\lambda_1 < 2$ predicts. Damping it
# ($a = 0.5$) gives the smallest spike and the lowest final loss here; removing it altogether (Bulk-SGD,
# $a = 0$) is *not* the most stable choice: its loss spikes higher than SGD's and ends
# highest of the runs that converge. The quadratic picture explains only part of this.
# $\eta$ exceeds $2/\lambda_{k+1}$ (printed above), so it predicts that the bulk
# directions are unstable too, but with a growth factor per step of
# $|1 - \eta\lambda_{k+1}|$, smaller than SGD's $|1 - \eta\lambda_1|$: by that picture
# Bulk-SGD would be the tamest, and the printed spikes say the opposite. The excess
# comes from what a quadratic leaves out: between two eigen-solves the sharp
# directions rotate out of the stale $P$, and Bulk-SGD gives them the full step. This is Zakarin & Singh's observation that steps along
# the flat directions can accelerate training but compromise stability, and the reason
# for interpolating. (One seed, one batch, one $\eta$: exercise 3 varies $\eta$.)
#
# **Takeaways.** Hessian eigenpairs of a network are computable without forming
# $H$: Lanczos needs only Hessian-vector products. Early in training the gradient
# aligns with the top eigenspace, yet that subspace is not where training happens.

# %% [markdown]
# ## Exercises
#
# 1. **Random baseline.** Check numerically that a random unit vector has
#    $\chi \approx \sqrt{k/d}$ in the top-$k$ eigenspace at step 100.
# 2. **How many directions?** Rerun Dom-SGD with $k = 30$ (the 30 eigenvectors computed
#    above). Does a larger dominant subspace let it train?
# 3. **Learning rate.** At $\eta = 1$, do SGD and Bulk-SGD ($a = 0$) still differ in
#    stability? Predict from $2/\lambda_1$ first.
#
# The answers follow; try first.

# %% [markdown]
# ---
# ## Answers
#
# **1.** Average $\chi$ over random directions:

# %%
rng = np.random.default_rng(0)
chi_random = [dominant_alignment(v / np.linalg.norm(v), eig30.eigenvectors[:, :k])
              for v in rng.standard_normal((200, dim))]
print(f"mean chi of 200 random directions {np.mean(chi_random):.3f}, "
      f"sqrt(k/d) = {np.sqrt(k / dim):.3f}")

# %% [markdown]
# They agree: $\|P v\|^2$ of a random unit vector has mean $k/d$.
#
# **2.** Dom-SGD with $k = 30$:

# %%
dom30, _ = train_projected(DomSGD(lr=0.1, k=30, every=20, tol=1e-6))
print(f"Dom-SGD loss after 100 steps: k = {k}: {curves['Dom-SGD (P g)'][0][-1]:.3f}, "
      f"k = 30: {dom30[-1]:.3f}; SGD: {curves['SGD'][0][-1]:.3f}")

# %% [markdown]
# Compare the printed losses: more directions let Dom-SGD go further, but 30 of the
# $d$ directions still leave most of the gradient's useful part outside the
# subspace once the steep directions are fitted, so it stays behind SGD.
#
# **3.** At $\eta = 1$, $\eta\lambda_1$ at the start is printed below; if it is above 2,
# SGD starts outside the quadratic limit.

# %%
ETA_BIG = 1.0
print(f"eta * lambda_1 at step 0 = {ETA_BIG * lam1_0:.2f}, "
      f"eta * lambda_(k+1) = {ETA_BIG * lam11_0:.2f}")
for a in (0.0, 1.0):
    losses = train_interpolated(a)
    print(f"a = {a}: highest loss {losses.max():.3f} (start {losses[0]:.3f}), "
          f"loss after {len(losses)} steps {losses[-1]:.4f}")

# %% [markdown]
# Neither loss rises above its start (compare "highest" with "start"). For Bulk-SGD
# ($a = 0$) that is the quadratic prediction: $\eta\lambda_{k+1}$ (printed) is below 2.
# For SGD ($a = 1$) $\eta\lambda_1 > 2$ at step 0, yet the loss does not rise: the
# quadratic limit says that the component along the top eigenvector grows, not that
# the loss must rise at once, and the curvature falls as training proceeds (as the
# spectra of the $\eta = 0.1$ run above show between steps 0 and 100). At this
# $\eta$ the difference between the two is one of speed, not of stability.
