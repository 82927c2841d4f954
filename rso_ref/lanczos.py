r"""Lanczos eigensolver for the top of a symmetric spectrum, given only ``v -> A v``.

:func:`top_eigenpairs` returns the ``k`` algebraically largest eigenpairs of a
symmetric operator (what :func:`scipy.sparse.linalg.eigsh` computes with
``which="LA"``). It is the thick-restart Lanczos method of Wu and Simon (2000) (for
symmetric operators the same iteration as Stewart's Krylov–Schur and, in exact
arithmetic, as ARPACK's implicitly restarted Lanczos), with full reorthogonalisation:

* the Krylov basis ``V`` (one row per vector) lives on the operator's backend and
  device and only array-API calls touch it (row writes go through
  ``rso_ref.backend.put``, functional on JAX, whose arrays are immutable); the small
  projected matrix ``T = V A Vᵀ`` and its eigendecomposition live on the host in NumPy
  float64;
* every new vector is orthogonalised against the whole basis twice (classical
  Gram–Schmidt, "twice is enough", Giraud et al. 2005), and the Gram–Schmidt coefficients *are*
  the new column of ``T``, so ``T`` stays exact after restarts (arrowhead plus
  tridiagonal) without special cases;
* the Ritz pairs are checked after every matrix–vector product (the projected
  problem is at most ``ncv × ncv``), so the iteration stops at the first product
  that meets the tolerance instead of at the end of a restart cycle;
* a restart keeps the ``k + (ncv - k) // 3`` largest Ritz vectors plus the residual
  direction. Measured on four synthetic spectra of dimension 400 (separated,
  clustered, indefinite, Hessian-like outliers over a bulk; k = 1, 6, 10; three
  seeds), keeping a third used the fewest products: 4038 in all, against 4261 for a
  half, 4185 for a quarter and 4284 for ``eigsh`` at the same tol;
* optionally (``verify=True``) the orthogonal complement of the result is searched for
  a missed copy of a repeated eigenvalue.

:func:`hutchinson_trace` estimates ``tr(A)`` from products with random sign vectors.
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable, NamedTuple

from . import backend
from .validation import check_callable, check_flag, check_int, check_positive

__all__ = ["EigenResult", "top_eigenpairs", "hutchinson_trace"]

#: Host namespace of the small projected problems (NumPy through array-api-compat).
hp = backend.namespace("numpy")
_TINY = float(hp.finfo(hp.float64).tiny)

# Relative asymmetry of the projected matrix above which the operator is refused as
# non-symmetric. Products that are exact to rounding (autograd HVPs, dense matrices)
# sit near eps; central-difference HVPs near eps**(2/3); both are far below this.
_ASYMMETRY_FACTOR = 100.0


class EigenResult(NamedTuple):
    r"""Result of :func:`top_eigenpairs`.

    Attributes
    ----------
    eigenvalues : array, shape (k,)
        Ritz values :math:`\theta_1 \ge \dots \ge \theta_k` (descending).
    eigenvectors : array, shape (dim, k)
        Orthonormal Ritz vectors, column ``i`` belongs to ``eigenvalues[i]``.
    residual_norms : array, shape (k,)
        Lanczos residual estimates :math:`\|A x_i - \theta_i x_i\|` (exact in exact
        arithmetic; no extra products are spent on them).
    n_matvec : int
        Products with the operator.
    n_restarts : int
        Thick restarts performed.
    converged : bool
        Whether every residual met ``tol * max|θ|`` (see :func:`top_eigenpairs`).
    """

    eigenvalues: Any
    eigenvectors: Any
    residual_norms: Any
    n_matvec: int
    n_restarts: int
    converged: bool


def _apply(matvec: Callable, v: Any, dim: int) -> Any:
    w = matvec(v)
    if tuple(getattr(w, "shape", ())) != (dim,):
        raise ValueError(
            f"matvec must map a ({dim},) vector to a ({dim},) vector, got shape "
            f"{tuple(getattr(w, 'shape', ()))}"
        )
    return w


def _orthogonalize(basis: Any, w: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Two passes of classical Gram–Schmidt of ``w`` against the rows of ``basis``.

    Returns the orthogonalised vector and the summed coefficients ``basis @ w``.
    """
    h = xp.matmul(basis, w)
    w = w - xp.matmul(h, basis)
    h2 = xp.matmul(basis, w)
    w = w - xp.matmul(h2, basis)
    return w, hp.astype(backend.to_numpy(h + h2), hp.float64)


def _norm(w: Any, xp: ModuleType) -> float:
    return float(xp.linalg.vector_norm(w))


def _random_unit(gen: Any, basis: Any, dim: int, xp: ModuleType, dtype, device) -> Any:
    """A random unit vector orthogonal to the rows of ``basis`` (``None``: no basis)."""
    w = xp.asarray(gen.standard_normal(dim), dtype=dtype, device=device)
    if basis is not None:
        w, _ = _orthogonalize(basis, w, xp)
    return w / _norm(w, xp)


def _ritz(T: Any, beta: float, k: int) -> tuple[Any, Any, Any]:
    """Descending Ritz values, vectors (columns) and residual estimates ``|β y_last|``."""
    theta, Y = hp.linalg.eigh(T)
    theta, Y = theta[::-1], Y[:, ::-1]
    return theta, Y, hp.abs(beta * Y[-1, :k])


def _check_symmetric(T: Any, eps: float) -> None:
    scale = max(float(hp.max(hp.abs(T))), _TINY)
    asym = float(hp.max(hp.abs(T - T.T)))
    if asym > _ASYMMETRY_FACTOR * math.sqrt(eps) * scale:
        raise ValueError(
            f"matvec does not look symmetric: the projected matrix V A V^T has relative "
            f"asymmetry {asym / scale:.3g}; Lanczos needs a symmetric operator"
        )


def top_eigenpairs(matvec: Callable[[Any], Any], dim: int, k: int, *, tol: float = 1e-8,
                   maxiter: int | None = None, ncv: int | None = None, seed: int = 0,
                   verify: bool = False, xp: ModuleType | None = None,
                   dtype: Any = None, device: Any = None) -> EigenResult:
    r"""The ``k`` algebraically largest eigenpairs of a symmetric operator.

    Parameters
    ----------
    matvec : callable
        ``matvec(v) -> A v`` for 1-D arrays of shape ``(dim,)`` of namespace ``xp``.
        ``A`` must be symmetric (a Hessian, a Gauss–Newton matrix, ...).
    dim : int
        Dimension of the operator.
    k : int
        Number of eigenpairs, ``1 <= k <= dim``.
    tol : float, default 1e-8
        Relative residual tolerance (see Notes).
    maxiter : int, optional
        Maximum number of restart cycles; default ``10 * dim`` (as ``eigsh``).
    ncv : int, optional
        Krylov basis size, ``k < ncv <= dim``; default ``min(dim, max(2k + 1, 20))``
        (ARPACK's default in ``eigsh``).
    seed : int, default 0
        Seed of the host generator for the start vector (and for fresh directions after
        an invariant subspace is found), so every backend starts from the same vector.
    verify : bool, default False
        After convergence, search the orthogonal complement of the ``k`` vectors for a
        larger eigenvalue (a missed copy of a repeated eigenvalue) and repeat until none
        is found. Costs one extra ``k = 1`` solve (typically 15-60 products) per check.
    xp : module, optional
        Array namespace of the vectors ``matvec`` takes; default NumPy.
    dtype : dtype or str, optional
        Floating dtype of the vectors; default float64 (refused, naming the device, where
        the device has no float64: :func:`rso_ref.backend.resolve_dtype`).
    device : device, optional
        Device of the vectors (``xp``'s default device when omitted); every array of
        the result lives there.

    Returns
    -------
    EigenResult
        ``eigenvalues`` (descending), ``eigenvectors`` (columns), ``residual_norms``,
        ``n_matvec``, ``n_restarts``, ``converged``.

    Raises
    ------
    ValueError
        If ``k``, ``dim``, ``ncv``, ``maxiter`` or ``tol`` is out of range, ``matvec``
        returns a wrong shape, or the operator is visibly non-symmetric.
    TypeError
        If an integer argument is not an int, ``tol`` is not a real number, ``verify``
        is not a bool or ``matvec`` is not callable.

    Notes
    -----
    After :math:`j` steps the basis satisfies :math:`A V_j^T = V_j^T T_j + \beta_j
    v_{j+1} e_j^T` with :math:`T_j = V_j A V_j^T`. For an eigenpair
    :math:`T_j y = \theta y` the Ritz vector :math:`x = V_j^T y` has the residual

    .. math::

        \|A x - \theta x\| = |\beta_j|\,|e_j^T y|,

    which costs no product [1]_. The iteration stops when the ``k`` largest Ritz
    values all satisfy

    .. math::

        |\beta_j|\,|e_j^T y_i| \le \mathrm{tol}\cdot\max_l |\theta_l|,

    i.e. the residual relative to the current estimate of :math:`\|A\|_2` (a lower
    bound on it). ARPACK (``eigsh``) tests :math:`\le \mathrm{tol}\cdot|\theta_i|`
    per Ritz value, which is stricter for Ritz values much smaller than the largest;
    the two agree for ``k = 1`` and differ by at most the factor
    :math:`\max|\theta| / |\theta_k|`. For well-separated eigenvalues the eigenvalue
    error is of order :math:`\|r\|^2/\mathrm{gap}` and the eigenvector angle of order
    :math:`\|r\|/\mathrm{gap}`.

    A single start vector sees only one direction of each eigenspace, so without
    ``verify`` an exactly repeated eigenvalue is found again only through rounding
    errors, and may be returned once with the next eigenvalue in place of its copies
    (ARPACK has the same blind spot, though it stops later). ``verify=True`` runs Lanczos
    on the deflated operator :math:`(I - XX^T) A (I - XX^T)` from a fresh random vector;
    a Ritz value above :math:`\theta_k` found there replaces :math:`\theta_k` (its
    residual is then measured with one product) and the check repeats. Breakdown (an
    invariant Krylov subspace) is handled by continuing with a random direction
    orthogonal to the basis.

    References
    ----------
    .. [1] K. Wu and H. Simon, "Thick-restart Lanczos method for large symmetric
       eigenvalue problems", SIAM J. Matrix Anal. Appl. 22(2), 602-616 (2000).
       https://doi.org/10.1137/S0895479898334605
    .. [2] G. W. Stewart, "A Krylov–Schur algorithm for large eigenproblems",
       SIAM J. Matrix Anal. Appl. 23(3), 601-614 (2002).
       https://doi.org/10.1137/S0895479800371529
    .. [3] R. B. Lehoucq, D. C. Sorensen and C. Yang, "ARPACK Users' Guide", SIAM
       (1998). https://doi.org/10.1137/1.9780898719628
    .. [4] L. Giraud, J. Langou and M. Rozložník, "The loss of orthogonality in the
       Gram-Schmidt orthogonalization process", Comput. Math. Appl. 50, 1069-1075
       (2005). https://doi.org/10.1016/j.camwa.2005.08.009

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(np.arange(50.0))
    >>> res = top_eigenpairs(lambda v: A @ v, 50, 3)
    >>> np.round(res.eigenvalues, 8).tolist(), res.converged
    ([49.0, 48.0, 47.0], True)
    """
    dim = check_int(dim, "dim", 1)
    k = check_int(k, "k", 1, dim)
    check_callable(matvec, "matvec")
    tol = check_positive(tol, "tol")
    check_flag(verify, "verify")
    if ncv is None:
        m = min(dim, max(2 * k + 1, 20))
    else:
        m = check_int(ncv, "ncv", min(k + 1, dim), dim)
    maxiter = 10 * dim if maxiter is None else check_int(maxiter, "maxiter", 1)
    xp = backend.namespace("numpy") if xp is None else xp
    dtype = backend.resolve_dtype(xp, dtype, device=device)
    gen = backend.rng(seed)
    res = _lanczos(matvec, dim, k, tol, maxiter, m, gen, xp, dtype, device, locked=None)
    while verify and res.converged and k < dim:
        better, spent = _missing_pair(matvec, res, dim, tol, maxiter, gen, xp, dtype, device)
        if better is None:
            return res._replace(n_matvec=res.n_matvec + spent)
        res = better
    return res


def _lanczos(matvec, dim, k, tol, maxiter, m, gen, xp, dtype, device, locked) -> EigenResult:
    """Thick-restart Lanczos on ``matvec``, started in the complement of the rows of ``locked``."""
    eps = float(xp.finfo(dtype).eps)
    V = xp.zeros((m + 1, dim), dtype=dtype, device=device)  # basis vectors are rows
    H = hp.zeros((m + 1, m))                       # H[:j, :j] = T_j, H[j, j-1] = beta_j
    V = backend.put(V, (0, slice(None)), _random_unit(gen, locked, dim, xp, dtype, device))
    kept, n_matvec, n_restarts = 0, 0, 0
    while True:
        for j in range(kept, m):
            w = _apply(matvec, V[j, :], dim)
            n_matvec += 1
            size = _norm(w, xp)
            w, H[:j + 1, j] = _orthogonalize(V[:j + 1, :], w, xp)
            beta = _norm(w, xp)
            if beta <= 100 * eps * size or beta == 0.0:
                # invariant subspace: exact Ritz pairs so far; go on in a fresh direction
                beta = 0.0
                if j + 1 < m:
                    basis = V[:j + 1, :] if locked is None else xp.concat([locked, V[:j + 1, :]])
                    V = backend.put(V, (j + 1, slice(None)),
                                    _random_unit(gen, basis, dim, xp, dtype, device))
            else:
                V = backend.put(V, (j + 1, slice(None)), w / beta)
            H[j + 1, j] = beta
            if j + 1 < k:
                continue
            T = H[:j + 1, :j + 1]
            _check_symmetric(T, eps)
            theta, Y, res = _ritz(0.5 * (T + T.T), beta, k)
            scale = max(float(hp.max(hp.abs(theta))), _TINY)
            done = bool(hp.all(res <= tol * scale))
            if done or j + 1 == dim:
                return _result(V[:j + 1, :], theta, Y, res, n_matvec, n_restarts, done, k,
                               xp, dtype, device)
        if n_restarts >= maxiter:
            return _result(V[:m, :], theta, Y, res, n_matvec, n_restarts, False, k, xp, dtype,
                           device)
        # thick restart (Wu and Simon 2000, §3): keep the largest Ritz vectors and the
        # residual direction
        kept = k + (m - k) // 3
        n_restarts += 1
        kept_rows = xp.matmul(xp.asarray(Y[:, :kept].T.copy(), dtype=dtype, device=device),
                              V[:m, :])
        V = backend.put(V, (slice(None, kept), slice(None)), kept_rows)
        V = backend.put(V, (kept, slice(None)), V[m, :])
        s = H[m, m - 1] * Y[m - 1, :kept]          # coupling of the kept vectors to v_{m+1}
        H[:] = 0.0
        H[:kept, :kept] = hp.diag(theta[:kept])
        H[kept, :kept] = s


def _missing_pair(matvec, res: EigenResult, dim, tol, maxiter, gen, xp, dtype, device
                  ) -> tuple[EigenResult | None, int]:
    """Look for an eigenvalue above the k-th one in the complement of the found vectors.

    Runs Lanczos (k = 1) on :math:`P A P`, :math:`P = I - X X^T`, from a random vector
    orthogonal to :math:`X`. Returns the improved result (the k-th pair dropped) or
    ``None`` when no larger eigenvalue exists, and the number of products spent.
    """
    X = xp.matrix_transpose(res.eigenvectors)      # rows
    project = lambda v: v - xp.matmul(xp.matmul(X, v), X)  # noqa: E731
    k = X.shape[0]
    m = min(dim - k, 20)
    deflated = lambda v: project(matvec(project(v)))  # noqa: E731
    found = _lanczos(deflated, dim, 1, tol, maxiter, m, gen, xp, dtype, device, X)
    theta = backend.to_numpy(res.eigenvalues)
    scale = max(float(hp.max(hp.abs(theta))), _TINY)
    lam = float(found.eigenvalues[0])
    if not found.converged or lam <= float(theta[-1]) + tol * scale:
        return None, found.n_matvec
    x = found.eigenvectors[:, 0]
    residual = _norm(_apply(matvec, x, dim) - lam * x, xp)   # one product: the true residual
    order = hp.argsort(-hp.concat([theta[:-1], hp.asarray([lam])]), stable=True)
    vectors = xp.concat([res.eigenvectors[:, :k - 1], found.eigenvectors], axis=1)
    values = hp.concat([theta[:-1], hp.asarray([lam])])[order]
    old_residuals = backend.to_numpy(res.residual_norms)[:-1]
    residuals = hp.concat([old_residuals, hp.asarray([residual])])[order]
    better = EigenResult(
        eigenvalues=xp.asarray(values, dtype=dtype, device=device),
        eigenvectors=xp.take(vectors, xp.asarray(order, device=device), axis=1),
        residual_norms=xp.asarray(residuals, dtype=dtype, device=device),
        n_matvec=res.n_matvec + found.n_matvec + 1,
        n_restarts=res.n_restarts + found.n_restarts,
        converged=True,
    )
    return better, 0


def _result(basis, theta, Y, res, n_matvec, n_restarts, converged, k, xp, dtype, device
            ) -> EigenResult:
    vectors = xp.matmul(xp.matrix_transpose(basis),
                        xp.asarray(Y[:, :k].copy(), dtype=dtype, device=device))
    return EigenResult(
        eigenvalues=xp.asarray(theta[:k].copy(), dtype=dtype, device=device),
        eigenvectors=vectors,
        residual_norms=xp.asarray(res.copy(), dtype=dtype, device=device),
        n_matvec=n_matvec,
        n_restarts=n_restarts,
        converged=converged,
    )


def hutchinson_trace(matvec: Callable[[Any], Any], dim: int, n_samples: int, *, seed: int = 0,
                     xp: ModuleType | None = None, dtype: Any = None,
                     device: Any = None) -> tuple[float, float]:
    r"""Estimate :math:`\operatorname{tr}(A)` by Hutchinson's method, with its standard error.

    Parameters
    ----------
    matvec : callable
        ``matvec(v) -> A v`` on 1-D arrays of shape ``(dim,)``.
    dim, n_samples : int
        Operator dimension and number of probe vectors (products).
    seed : int, default 0
        Seed of the host generator drawing the Rademacher probes.
    xp : module, optional
        Namespace of the probes (default NumPy).
    dtype : dtype, optional
        Their dtype (default float64).
    device : device, optional
        Their device (default the namespace's default device).

    Returns
    -------
    estimate : float
        Sample mean of :math:`z^T A z`.
    std_error : float
        Its standard error (``nan`` for one sample).

    Notes
    -----
    With Rademacher probes :math:`z_i \in \{\pm 1\}^{n}`,
    :math:`\mathbb{E}[z^T A z] = \operatorname{tr}(A)` and
    :math:`\operatorname{Var}[z^T A z] = 2\sum_{i \ne j} A_{ij}^2` [5]_.

    References
    ----------
    .. [5] M. F. Hutchinson, "A stochastic estimator of the trace of the influence
       matrix for Laplacian smoothing splines", Commun. Stat. Simul. Comput. 19(2),
       433-450 (1990). https://doi.org/10.1080/03610919008812866
    """
    check_callable(matvec, "matvec")
    dim = check_int(dim, "dim", 1)
    n_samples = check_int(n_samples, "n_samples", 1)
    xp = backend.namespace("numpy") if xp is None else xp
    dtype = backend.resolve_dtype(xp, dtype, device=device)
    gen = backend.rng(seed)
    samples = hp.empty(n_samples)
    for i in range(n_samples):
        z = xp.asarray(gen.choice([-1.0, 1.0], size=dim), dtype=dtype, device=device)
        samples[i] = float(xp.sum(z * _apply(matvec, z, dim)))
    err = float(hp.std(samples, correction=1)) / math.sqrt(n_samples) if n_samples > 1 else math.nan
    return float(hp.mean(samples)), err
