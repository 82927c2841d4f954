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
# # 09 · L-BFGS, the optimizer inside every RSO step
#
# Every RSO step runs $K$ iterations of L-BFGS on the meta-objective $f(w)$ (notebooks
# 01–04), and `rso_ref.optim.LBFGS` is one of the baselines. This notebook opens that
# box: `rso_ref.lbfgs.minimize`, its memory `rso_ref.lbfgs.History` and the
# strong-Wolfe line search of `rso_ref.linesearch`.
#
# **Notation.** We minimise a smooth $f:\mathbb{R}^n \to \mathbb{R}$ (in RSO, $x$ is the
# weight vector $w$ and $n$ the number of groups). At iterate $x_k$ let
# $g_k = \nabla f(x_k)$. One iteration is
#
# $$
# d_k = -H_k\, g_k, \qquad x_{k+1} = x_k + \alpha_k d_k ,
# $$
#
# with a **direction** $d_k$ and a **step length** $\alpha_k > 0$. $H_k$ is an
# approximation of the *inverse* Hessian $[\nabla^2 f(x_k)]^{-1}$: with the exact
# inverse Hessian and $\alpha_k = 1$ this would be Newton's method. The approximation
# is built from the last $m$ **curvature pairs**
#
# $$
# s_i = x_{i+1} - x_i, \qquad y_i = g_{i+1} - g_i, \qquad \rho_i = \frac{1}{y_i^\top s_i},
# $$
#
# which say how the gradient changed along the steps taken (for a quadratic with
# Hessian $A$, exactly $y_i = A s_i$). $m$ is the **memory**; the "L" in L-BFGS is for
# *limited* memory: $H_k$ is never stored, only the $m$ pairs ($2mn$ numbers).

# %%
import matplotlib.pyplot as plt
import numpy as np
import scipy.optimize

from rso_ref.backend import namespace
from rso_ref.lbfgs import STATUS_MESSAGES, History, inverse_hessian, minimize, two_loop
from rso_ref.linesearch import LINESEARCH_MESSAGES, line_search

xp = namespace("numpy")   # the array namespace History works in (NumPy here)

# %% [markdown]
# ## 1. The BFGS matrix and the two-loop recursion
#
# BFGS starts from $H^0 = \gamma I$ and folds in the pairs, oldest first
# (Nocedal & Wright, *Numerical Optimization*, eq. 7.19 unrolled):
#
# $$
# H \leftarrow V_i^\top H V_i + \rho_i s_i s_i^\top, \qquad V_i = I - \rho_i y_i s_i^\top .
# $$
#
# After each update $H y_i = s_i$ (the **secant equation**: $H$ maps the observed
# gradient change back to the step, as $A^{-1}$ does on a quadratic). Forming $H$
# costs $O(n^2)$ memory; the **two-loop recursion** (N&W Algorithm 7.4) computes
# $H g$ from the pairs alone in $4mn$ multiply-adds. Here it is in ten lines, with the
# pairs as Python lists, oldest first:

# %%
def my_two_loop(g, S, Y, gamma):
    """H g for the BFGS matrix of the pairs (S[i], Y[i]), oldest first, H0 = gamma I."""
    rho = [1.0 / (y @ s) for s, y in zip(S, Y)]
    q, a = g.copy(), []
    for s, y, r in zip(S[::-1], Y[::-1], rho[::-1]):      # newest to oldest
        a.append(r * (s @ q))
        q -= a[-1] * y
    q *= gamma                                           # apply H0 = gamma I
    for s, y, r, ai in zip(S, Y, rho, a[::-1]):          # oldest to newest
        q += (ai - r * (y @ q)) * s
    return q


# %% [markdown]
# A small test: a random symmetric positive definite $A$ ($n = 6$), three steps $s_i$,
# and $y_i = A s_i$. We compare (a) our recursion, (b) the library's `two_loop`, and
# (c) the dense matrix of eq. 7.19 built by `inverse_hessian`, column by column. We
# use $\gamma = s^\top y / y^\top y$ of the newest pair (explained in §3).

# %%
rng = np.random.default_rng(0)
n = 6
M = rng.standard_normal((n, n))
A = M @ M.T + n * np.eye(n)                      # SPD test Hessian
S = [rng.standard_normal(n) for _ in range(3)]
Y = [A @ s for s in S]
gamma = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
g = rng.standard_normal(n)

S_arr, Y_arr = np.array(S), np.array(Y)
rho = 1.0 / np.einsum("ij,ij->i", S_arr, Y_arr)
order = [0, 1, 2]                                # rows holding pairs, oldest first
H_dense = inverse_hessian(S_arr, Y_arr, rho, order, gamma)
Hg_mine = my_two_loop(g, S, Y, gamma)
Hg_lib = two_loop(g, S_arr, Y_arr, rho, order, gamma)
print("max |mine - dense H g|   =", np.abs(Hg_mine - H_dense @ g).max())
print("max |library - dense H g| =", np.abs(Hg_lib - H_dense @ g).max())
print("secant equation, newest pair: max |H y - s| =", np.abs(H_dense @ Y[-1] - S[-1]).max())
print("H symmetric:", np.allclose(H_dense, H_dense.T),
      "  smallest eigenvalue of H:", f"{np.linalg.eigvalsh(H_dense).min():.3g} (> 0)")
assert np.allclose(Hg_mine, H_dense @ g, rtol=1e-12, atol=1e-14)
assert np.allclose(Hg_lib, H_dense @ g, rtol=1e-12, atol=1e-14)

# %% [markdown]
# All three agree to rounding (differences around $10^{-16}$): the recursion *is* the
# dense BFGS product, without ever forming it. The secant equation holds for the newest
# pair, and $H$ is symmetric positive definite, so $d = -Hg$ is a descent direction
# ($g^\top d = -g^\top H g < 0$). Positive definiteness needs $y_i^\top s_i > 0$ for
# every stored pair; the line search below guarantees it.
#
# ### The memory: a ring buffer of $m$ pairs
#
# `History` stores the pairs in two $(m, n)$ arrays used as a ring buffer: a new pair
# overwrites the oldest. `order()` lists the rows holding pairs, oldest first;
# `direction(g)` returns $-H g$ (just $-g$ while the memory is empty); `push(s, y)`
# stores a pair only if $s^\top y > \varepsilon\, y^\top y$ ($\varepsilon$ the machine
# epsilon), and then sets $\gamma = s^\top y / y^\top y$.

# %%
memory = History.empty(2, np.zeros(n), xp)        # m = 2
print("empty: order", memory.order(), " direction == -g:", np.allclose(memory.direction(g), -g))
for i, (s, y) in enumerate(zip(S, Y)):
    stored = memory.push(s, y)
    print(f"push pair {i}: stored={stored}, rows oldest first {memory.order()}, "
          f"gamma={memory.gamma:.4f}")
print("rejected (s^T y < 0):", not memory.push(S[0], -Y[0]))
d_last2 = -my_two_loop(g, S[1:], Y[1:], memory.gamma)   # only the two newest pairs remain
print("direction = -H g from pairs 1, 2 only:", np.allclose(memory.direction(g), d_last2))

# %% [markdown]
# With $m = 2$, the third push overwrote row 0, so the rows now read `[1, 0]` (row 1
# holds pair 1, the oldest kept; row 0 holds pair 2) and the direction uses pairs 1 and
# 2 only: pair 0 is forgotten. A pair with $s^\top y < 0$ (negative curvature along $s$)
# is refused, which keeps $H$ positive definite.
#
# ## 2. The strong-Wolfe line search
#
# Given $d_k$, the step length is chosen by looking at the function along the ray,
# $\phi(\alpha) = f(x_k + \alpha d_k)$, with slope $\phi'(\alpha) = \nabla f(x_k +
# \alpha d_k)^\top d_k$ ($\phi'(0) = g_k^\top d_k < 0$ for a descent direction). A step
# is accepted when it satisfies the **strong Wolfe conditions** with constants
# $0 < c_1 < c_2 < 1$ (defaults $c_1 = 10^{-4}$, $c_2 = 0.9$):
#
# * **sufficient decrease** (Armijo): $\phi(\alpha) \le \phi(0) + c_1\,\alpha\,\phi'(0)$ —
#   the decrease is at least a fraction $c_1$ of what the tangent line promises, which
#   rules out steps that are too long;
# * **curvature**: $|\phi'(\alpha)| \le c_2\,|\phi'(0)|$ — the slope has flattened to a
#   fraction $c_2$ of its initial size, which rules out steps that are too short (and
#   the "strong" version, with the absolute value, also rules out overshooting far up
#   the other side).
#
# The curvature condition implies $y_k^\top s_k = \alpha_k(\phi'(\alpha_k) - \phi'(0))
# \ge \alpha_k (c_2 - 1)\phi'(0) > 0$: exactly what BFGS needs. The search tries at most
# `maxls` points ("max line-search evaluations", default 20), each one call of `fun`
# (value **and** gradient): first bracketing an interval with acceptable steps, then
# shrinking it by cubic interpolation ("zoom", N&W Algorithms 3.5–3.6).
#
# We draw $\phi$ for the first iteration of L-BFGS on the Rosenbrock function
# $f(x) = (1 - x_1)^2 + 100\,(x_2 - x_1^2)^2$ from $x_0 = (-1.2, 1)$, where the memory
# is empty and $d_0 = -g_0$.

# %%
def rosen(x):
    return scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)


x0 = np.array([-1.2, 1.0])
f0, g0 = rosen(x0)
d0 = -g0
alpha_first = 1.0 / np.linalg.norm(g0)           # first trial step with an empty memory
ls = line_search(rosen, x0, f0, g0, d0, alpha0=alpha_first)   # c1=1e-4, c2=0.9
print(f"f(x0) = {f0:.2f}, |g0| = {np.linalg.norm(g0):.1f}, phi'(0) = {g0 @ d0:.1f}")
print("trial steps:", np.round(ls.info.trial_steps, 6), " phi there:", np.round(ls.info.values, 3))
print(f"accepted alpha = {ls.alpha:.6f}, phi = {ls.f:.3f}, status {ls.status}: {ls.message};"
      f" {ls.nfev} calls of fun")

# %%
c1, c2 = 1e-4, 0.9
alphas = np.linspace(0.0, 1.2 * alpha_first, 400)
phi = np.array([rosen(x0 + a * d0)[0] for a in alphas])
dphi = np.array([rosen(x0 + a * d0)[1] @ d0 for a in alphas])
curv_ok = np.abs(dphi) <= c2 * abs(g0 @ d0)
suff_ok = phi <= f0 + c1 * alphas * (g0 @ d0)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(alphas, phi, color="k", label=r"$\phi(\alpha) = f(x_0 + \alpha d_0)$")
ax.plot(alphas, f0 + c1 * alphas * (g0 @ d0), "C0--", label=r"$\phi(0) + c_1 \alpha \phi'(0)$")
ax.fill_between(alphas, 0, 1, where=curv_ok & suff_ok, color="C2", alpha=0.25,
                transform=ax.get_xaxis_transform(), label="both strong-Wolfe conditions hold")
ax.plot(ls.info.trial_steps, ls.info.values, "o", color="C1", ms=8, label="trial points")
ax.plot(ls.alpha, ls.f, "*", color="C3", ms=16, label="accepted step")
ax.set_ylim(0, 200)
ax.set_xlabel(r"step length $\alpha$")
ax.set_ylabel(r"$\phi(\alpha)$")
ax.set_title("First line search on Rosenbrock (empty memory, $d_0 = -g_0$)")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The first trial $\alpha = 1/\|g_0\|$ (printed above) lands far up the valley wall:
# $\phi$ there is about 171, well above $\phi(0) \approx 24.2$, so sufficient decrease fails.
# The zoom interpolates a cubic through the two ends and tries the printed second
# point, which lies in the green region (both conditions hold), and is accepted: two
# calls of `fun` for this iteration. Read the green band from its ends: on the left,
# steps so short that the slope is still steeper than $c_2|\phi'(0)|$ (curvature fails);
# on the right, from $\alpha \approx 0.0017$, $\phi$ is back above the dashed
# Armijo line (sufficient decrease fails). With $c_1 = 10^{-4}$ that line is almost
# horizontal: it only asks for *some* decrease proportional to the step.
#
# ## 3. The scaling of $H^0$: $1/\|g\|$ first, then $\gamma = s^\top y / y^\top y$
#
# The quality of $H_k$ depends a lot on its seed $H_k^0 = \gamma_k I$.
#
# * **First iteration** (empty memory): $d_0 = -g_0$ and nothing is known about the
#   scale of $f$, so the first trial step is $\alpha = 1/\|g_0\|$: the first trial point
#   lies at **distance 1** from $x_0$, whatever the units of $f$ (L-BFGS-B's rule).
# * **Later iterations**: $\gamma_k = s_{k-1}^\top y_{k-1} / y_{k-1}^\top y_{k-1}$
#   (N&W eq. 7.20). On a quadratic $y = As$, and $\gamma$ is $1/\lambda$ for a
#   curvature $\lambda$ of $A$ "seen" along the last step, between $1/\lambda_{\max}$ and
#   $1/\lambda_{\min}$. With this scaling the unit step $\alpha = 1$ is usually accepted
#   straight away, so an iteration costs one call of `fun`.
#
# The result's `trace` records every accepted step (`alpha`, and `nfev`, the calls the
# iteration made):

# %%
res = minimize(rosen, x0)
print(" k   alpha      calls   f after")
for t in res.trace[:8]:
    print(f"{t.nit:2d}  {t.alpha:9.6f}  {t.nfev:3d}    {t.f:.4g}")
alphas_run = np.array([t.alpha for t in res.trace])
calls_run = np.array([t.nfev for t in res.trace])
print(f"... over all {res.nit} iterations: alpha = 1 accepted in {np.sum(alphas_run == 1.0)},"
      f" one call of fun in {np.sum(calls_run == 1)}")

# %% [markdown]
# The first iteration is the one we drew (step 0.000847, two calls). From the second on
# the scaled direction $-H_k g_k$ already has about the right length, and the printed
# counts show that the unit step is accepted at the first trial in most iterations.
#
# ## 4. Reading the result of `minimize`: `nit`, `nfev`, `status`, `message`
#
# `minimize` returns SciPy's `OptimizeResult`. The fields:
#
# * `x`, `fun`, `jac`: the last accepted iterate, $f$ and $\nabla f$ there.
# * `nit`: **iterations**, i.e. accepted steps.
# * `nfev`: **calls of `fun`** (each returns $f$ and $\nabla f$: one forward and one
#   backward pass in RSO), including the call at $x_0$ and every line-search trial;
#   `njev` counts gradients (the same here).
# * `status` and `message`: why it stopped; `success` is `status == 0`.
# * `hess_inv`: $H_k$ as an operator (`hess_inv @ v` by the two-loop recursion,
#   `hess_inv.todense()` by eq. 7.19); `trace`: the steps, as above.

# %%
print({k: res[k] for k in ("nit", "nfev", "njev", "status", "success")})
print("message:", res.message)
print("x =", res.x, f" f = {res.fun:.2e}")
print("nfev = 1 (at x0) + sum of the calls per iteration =", 1 + calls_run.sum())
assert res.nfev == 1 + calls_run.sum()
print("\nall stops (status, message):")
for reason, (code, text) in STATUS_MESSAGES.items():
    print(f"  {reason:>12}: {code:2d}  {text}")

# %% [markdown]
# The run converged (status 0) by the gradient test $\|g\|_\infty \le$ `gtol` $=10^{-5}$
# after the printed `nit` iterations and `nfev` calls: `nfev` exceeds `nit` by the call at
# $x_0$ plus the extra line-search trials. Status 1 means a limit (`maxiter`, `maxfun`)
# was hit, 2 that no progress was possible, 99 a stop asked by the callback. Two
# limits, side by side:

# %%
for label, options in {"maxiter=10": dict(maxiter=10), "maxls=2": dict(maxls=2),
                       "maxls=3": dict(maxls=3)}.items():
    r = minimize(rosen, x0, **options)
    print(f"{label:>10}: nit={r.nit:2d} nfev={r.nfev:2d} status={r.status} f={r.fun:.3g}"
          f"  {r.message}")

# %% [markdown]
# * `maxiter=10` stops after 10 iterations with status 1; the iterate is still far from
#   the minimum.
# * `maxls=2` allows only two trial points per line search. At some iteration neither
#   trial satisfies both conditions; L-BFGS then clears its memory and retries along
#   $-g$ (also with two trials), and when that fails too it stops with status 2 and the
#   line search's reason in brackets (`LINESEARCH_MESSAGES[1]` here).
# * `maxls=3` already suffices on this problem: the run is identical to the default.
#
# The line-search codes are:

# %%
for code, text in LINESEARCH_MESSAGES.items():
    print(f"  {code}: {text}")

# %% [markdown]
# ### Against SciPy's L-BFGS-B
#
# `minimize` follows the interface and stopping tests of
# `scipy.optimize.minimize(method="L-BFGS-B")` (without bounds), so the two can be
# compared directly:

# %%
ref = scipy.optimize.minimize(scipy.optimize.rosen, x0, jac=scipy.optimize.rosen_der,
                              method="L-BFGS-B")
print(f"rso_ref: nit={res.nit} nfev={res.nfev} f={res.fun:.2e}  ({res.message})")
print(f"SciPy  : nit={ref.nit} nfev={ref.nfev} f={ref.fun:.2e}  ({ref.message})")

# %% [markdown]
# The same number of iterations and nearly the same number of calls (one apart), and
# both reach $x^\star = (1, 1)$; they are not identical because SciPy's line search is a
# different algorithm (Moré–Thuente, with $c_1 = 10^{-3}$), so the accepted steps, and
# hence the iterates, differ. They also stopped by different tests: ours by the gradient
# test (f about $10^{-15}$), SciPy's by its relative-reduction test (`ftol`), at f about
# $10^{-12}$.
#
# ## 5. How much memory? $m$ on an ill-conditioned quadratic
#
# On Rosenbrock ($n = 2$) the memory matters little (exercise 2 prints by how much). It
# matters more when $n$ is large and the
# problem ill-conditioned: a quadratic in $n = 100$ variables whose Hessian has
# eigenvalues spread log-uniformly over $[1, 10^3]$ (condition number $10^3$).

# %%
n_big = 100
Q, _ = np.linalg.qr(rng.standard_normal((n_big, n_big)))
A_big = (Q * np.logspace(0, 3, n_big)) @ Q.T
b_big = rng.standard_normal(n_big)


def quad(x):
    return 0.5 * x @ A_big @ x - b_big @ x, A_big @ x - b_big


memories = [1, 2, 5, 10, 20, 50]
runs = {mm: minimize(quad, np.zeros(n_big), m=mm, gtol=1e-6) for mm in memories}
for mm, r in runs.items():
    print(f"m = {mm:2d}: nit = {r.nit:3d}, nfev = {r.nfev:3d}, status {r.status}")
print(f"m = 1 -> m = 50: {runs[1].nit} -> {runs[50].nit} iterations "
      f"({1 - runs[50].nit / runs[1].nit:.0%} fewer)")

# %% [markdown]
# More memory, fewer iterations: from $m = 1$ to $m = 50$ the count drops by the
# fraction printed last. The gain is gradual because each pair adds curvature information along
# one direction only, and the cost of one direction grows like $4mn$. The default
# $m = 10$ is the usual compromise. For RSO's meta-problem, $n$ is the number of groups
# (1 to 20 in these notebooks) and $K$ is usually at most 20, so the memory holds at
# most $K$ pairs and $m$ plays a role only when $m < K$ (notebook 07 runs $K = 30$, where
# the default memory of 10 pairs does fill).
#
# ## 6. How RSO calls it
#
# `rso_step` calls `minimize(f, w0, gtol=0, ftol=0, maxiter=K, maxls=maxls, ...)`. With
# both tolerances zero the run does $K$ iterations unless it truly cannot make
# progress: a line search fails (status 2), or a callback finds that the last iteration
# decreased $f$ by no more than $4\varepsilon|f|$, the rounding level, and stops it
# (status 99, reported by `rso_step` as converged). Its `nfev` (the step's meta calls)
# counts the call at $w_0$ too, so a meta-solve that does all $K$ iterations costs at
# least $K + 1$ forward-and-backward passes, more when a line search needs several
# trials. That is why notebook 02 counts `oracle_calls` rather than $K$.
#
# **Takeaways.** L-BFGS multiplies the gradient by a BFGS inverse-Hessian estimate
# built from the last $m$ pairs $(s_i, y_i)$, via the two-loop recursion (checked
# against the dense eq. 7.19 above). A strong-Wolfe line search picks the step and
# keeps $s^\top y > 0$. The first trial step is $1/\|g_0\|$, later ones are 1 with
# $H^0 = \gamma I$, $\gamma = s^\top y / y^\top y$. `nit` counts accepted steps and
# `nfev` calls of `fun`, including the one at $x_0$ and all line-search trials.
#
# ## Exercises
#
# 1. **The curvature constant.** Rerun `minimize(rosen, x0, c2=...)` with $c_2 = 0.5$
#    and $0.1$. Predict first: does a stricter curvature condition raise or lower `nit`?
#    `nfev`?
# 2. **No memory.** Run with `m=1` on Rosenbrock and on `quad`. Which suffers more?
# 3. **Units.** Multiply $f$ (and its gradient) by 1000. Which parts of L-BFGS are
#    invariant? Compare `nit` and the first accepted `alpha`.
# 4. **Secant equation.** After `res = minimize(quad, ..., m=5, maxiter=8)`, check that
#    `res.hess_inv @ y = s` for the newest pair ($s, y$ from the last two iterates; use
#    a callback with `intermediate_result`).
#
# The answers are computed in the next cell; run it after trying.

# %%
# Answers.
# 1. A stricter c2 demands a flatter slope: more trials per search, better steps.
for c2_ in (0.9, 0.5, 0.1):
    r = minimize(rosen, x0, c2=c2_)
    print(f"1. c2 = {c2_}: nit = {r.nit}, nfev = {r.nfev}")
# 2. m = 1 against the default m = 10.
for name, fun, start in (("rosen", rosen, x0), ("quad", quad, np.zeros(n_big))):
    r1, r10 = minimize(fun, start, m=1, gtol=1e-6), minimize(fun, start, m=10, gtol=1e-6)
    print(f"2. {name}: nit m=1 {r1.nit}, m=10 {r10.nit} (ratio {r1.nit / r10.nit:.2f})")
# 3. Scaling f by 1000 scales g, y by 1000, so gamma and H by 1/1000: d = -H g is unchanged,
#    and the first trial 1/|g| is 1000x shorter, but the first *point* is the same distance 1.
r_big = minimize(lambda x: tuple(1000 * v for v in rosen(x)), x0)
print(f"3. nit {res.nit} -> {r_big.nit}, first alpha {res.trace[0].alpha:.3g}"
      f" -> {r_big.trace[0].alpha:.3g} (x 1/1000), accepted first step length"
      f" {res.trace[0].alpha * np.linalg.norm(g0):.4f} -> {r_big.trace[0].alpha * 1000 * np.linalg.norm(g0):.4f}")
# 4. The secant equation for the newest stored pair.
pairs = []
r4 = minimize(quad, np.zeros(n_big), m=5, maxiter=8,
              callback=lambda intermediate_result: pairs.append(
                  (intermediate_result.x - intermediate_result.x_prev, intermediate_result.jac)))
s_new = pairs[-1][0]
y_new = pairs[-1][1] - pairs[-2][1]
print(f"4. max |H y - s| = {np.abs(r4.hess_inv @ y_new - s_new).max():.1e}"
      f" (|s| = {np.linalg.norm(s_new):.2f})")

# %% [markdown]
# *What the answers show.* (1) A stricter $c_2$ lowers `nit` (better steps) but raises
# `nfev` (more trials per search): with $c_2 = 0.9$ the run is cheapest in calls, which is
# why it is the default for quasi-Newton methods. (2) $m = 1$ costs both problems about
# a fifth more iterations (the printed ratios are close): with so little memory the
# quadratic's wide spectrum hurts only slightly more, in relative terms, than
# Rosenbrock's curved valley. (3) The run is
# unchanged up to one iteration that rounding can move: $\gamma$ and $H$ scale by
# $1/1000$, so the directions are the same, and the first trial step $1/\|g_0\|$ shrinks
# by 1000 so that the first point is again at distance 1; only the accepted $\alpha$
# changes units. (4) $H y = s$ holds for the newest pair (here exactly: in the first loop
# $a = \rho\, s^\top y = 1$ cancels $q = y$). For older pairs it does not hold in general
# (try `pairs[-2]`): each BFGS update keeps only the newest secant equation exactly.
