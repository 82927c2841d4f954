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
# the Hessian $H = \nabla^2 L(\theta)$:
#
# * Gur-Ari, Roberts & Dyer (2018, arXiv:1812.04754): after a short transient the
#   gradient lies mostly in the **dominant subspace** spanned by the top-$k$
#   eigenvectors of $H$, with $k$ the number of classes.
# * Song, Ahn & Yun (2024, arXiv:2405.16002): yet stepping *only* in that subspace
#   (Dom-SGD) does not train, while stepping only in its orthogonal complement, the
#   **bulk** (Bulk-SGD), trains about as well as SGD.
#
# With $U \in \mathbb{R}^{d \times k}$ the top-$k$ eigenvectors and $P = U U^\top$:
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
# for $\chi$, and `rso_ref.optim.DomSGD` / `BulkSGD`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from rso_ref import tree
from rso_ref.data import load_digits, standardize
from rso_ref.hessian import as_matvec, dominant_alignment, hvp
from rso_ref.lanczos import top_eigenpairs
from rso_ref.nn import MLP
from rso_ref.optim import SGD, BulkSGD, DomSGD

ds, _, _ = standardize(load_digits(seed=0))
X, y = ds.X_train[:256], ds.y_train[:256]       # one fixed batch: a deterministic loss
model = MLP((64, 16, 10))
dim = sum(p.size for p in model.init(seed=0))
K = 10                                          # number of classes
print(f"{dim} parameters, batch of {X.shape[0]}, k = {K}")


def hessian_matvec(params):
    """v -> H(params) v on flat vectors, by forward-over-reverse autodiff."""
    return as_matvec(lambda v: hvp(model.loss, params, v, X, y), params)


def top_eigs(params, k):
    return top_eigenpairs(hessian_matvec(params), dim, k, tol=1e-6, seed=0)


# %% [markdown]
# ## Full-batch SGD, with the alignment $\chi$ measured along the way
#
# Every 20 steps we compute the top-10 eigenpairs by Lanczos (each costs on the order
# of a hundred Hessian-vector products) and the share $\chi$ of the gradient inside
# their span.

# %%
opt = SGD(lr=0.1)
params = model.init(seed=0)
state = opt.init(params)
sgd_loss, chi, chi_steps, spectra = [], [], [], {}
for step in range(101):
    loss, grads = model.value_and_grad(params, X, y)
    if step % 20 == 0:
        eig = top_eigs(params, K)
        chi.append(dominant_alignment(tree.flatten(grads), eig.eigenvectors))
        chi_steps.append(step)
        spectra[step] = eig.eigenvalues
    sgd_loss.append(loss)
    params, state = opt.step(params, grads, state)
print("chi at steps", chi_steps, "=", np.round(chi, 3))
print("top eigenvalues at step 100:", np.round(spectra[100], 2))

# %% [markdown]
# A random direction in $d$ = 1210 dimensions has $\chi \approx \sqrt{k/d} \approx 0.09$
# in a 10-dimensional subspace. At the start the gradient's share is far larger
# (about 0.8): it points into the few directions of highest curvature. On this small
# problem the effect does not last: a 1210-parameter network fits 256 examples
# almost perfectly within a hundred steps, the loss and the top eigenvalues shrink,
# and $\chi$ falls back towards the random level. Gur-Ari et al. observe the
# alignment persisting on larger data sets, where the loss stays well above zero —
# a reminder to check such claims on the problem at hand.
#
# ## The spectrum: a few outliers and a bulk
#
# At step 100 we ask Lanczos for more eigenvalues than classes, to see where the
# large ones stop.

# %%
eig30 = top_eigs(params, 30)
fig, (ax_e, ax_c) = plt.subplots(1, 2, figsize=(11, 4))
ax_e.plot(np.arange(1, 31), eig30.eigenvalues, "o", label="step 100")
ax_e.plot(np.arange(1, K + 1), spectra[0], "x", color="grey", label="step 0 (top 10)")
ax_e.axvline(K + 0.5, color="C3", ls="--", lw=0.8, label="k = number of classes")
ax_e.set_xlabel("index i")
ax_e.set_ylabel(r"eigenvalue $\lambda_i$ of the Hessian")
ax_e.set_title(f"Top Hessian eigenvalues (Lanczos, {eig30.n_matvec} products)")
ax_e.legend()
ax_c.plot(chi_steps, chi, "o-")
ax_c.axhline(np.sqrt(K / dim), color="grey", ls="--", label=r"random direction $\sqrt{k/d}$")
ax_c.set_ylim(0, 1)
ax_c.set_xlabel("SGD step")
ax_c.set_ylabel(r"$\chi = \|P g\| / \|g\|$")
ax_c.set_title("Gradient share in the top-10 eigenspace")
ax_c.legend()
plt.show()

# %% [markdown]
# ## Dom-SGD vs Bulk-SGD vs SGD
#
# Same start, same learning rate, same fixed batch; the projector is recomputed every
# 20 steps. Dom-SGD keeps only $P g$ — the part that carries most of the gradient's
# norm — and Bulk-SGD only the rest.

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
curves["Dom-SGD (P g)"] = train_projected(DomSGD(lr=0.1, k=K, every=20, tol=1e-6))
curves["Bulk-SGD ((I - P) g)"] = train_projected(BulkSGD(lr=0.1, k=K, every=20, tol=1e-6))

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
# Dom-SGD stalls: within the 10 steepest directions the loss is minimised within a
# few steps (they are steep, so gradient steps along them are fast), and after that
# the remaining gradient lies almost entirely outside the subspace, where Dom-SGD
# cannot move. Bulk-SGD, which discards the steep part, keeps training, somewhat
# slower than SGD. The progress of training comes from the many low-curvature
# directions. RSO's per-group weights act on a related tension — one step size cannot
# suit directions of very different curvature (notebook 01).
#
# **Takeaways.** Hessian eigenpairs of a network are computable without forming
# $H$: Lanczos needs only Hessian-vector products. Early in training the gradient
# aligns with the top eigenspace, yet that subspace is not where training happens.
