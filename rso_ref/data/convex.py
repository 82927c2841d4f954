r"""Convex test problems with a known optimum and known curvature constants.

Two problems, each returned as a record holding its data on a chosen backend, the
minimiser ``x_star``, the optimal value ``f_star``, and strong-convexity and smoothness
constants ``mu``, ``L`` (so convergence results such as the linear rate of Theorem 1 of
the RSO paper can be tested against them):

* :func:`least_squares`: :math:`f(x) = \frac{1}{2m}\|Ax - b\|^2` with the spectrum of
  :math:`A^\top A / m` set exactly (``mu`` and ``L`` are its extreme eigenvalues);
* :func:`logistic_regression`: L2-regularised logistic loss with the spectrum of the
  feature covariance set exactly (``mu``, ``L`` are bounds).

Both objectives are written once with array-API calls, so
:meth:`ConvexProblem.value_and_grad` runs on any backend and :meth:`ConvexProblem.value`
can be traced by autograd (:func:`rso_ref.autodiff.namespace`).

Notes
-----
**Prescribed spectra.** For dimension :math:`d` and condition number :math:`\kappa`
the eigenvalues are geometrically spaced,

.. math::

    \lambda_i = \lambda_{\max}\,\kappa^{-i/(d-1)}, \qquad i = 0, \dots, d-1,

and a matrix with exactly these (squared, scaled) singular values is built from random
orthonormal factors, :math:`A = \sqrt{m}\;U \operatorname{diag}(\sqrt{\lambda}) V^\top`
with :math:`U^\top U = V^\top V = I` (QR of Gaussian matrices, signs fixed so the
factors are Haar distributed [2]_). Then :math:`A^\top A / m = V \operatorname{diag}
(\lambda) V^\top` and its condition number is :math:`\kappa` up to rounding, about
:math:`\epsilon\sqrt{\kappa}` relative.

**Least squares.** The minimiser is set by construction: :math:`b = A x^\star + r`
with :math:`r \perp \operatorname{range}(A)` (:math:`r = \sigma(z - UU^\top z)`,
:math:`z` Gaussian), so :math:`\nabla f(x^\star) = A^\top r / m = 0`. One step of
iterative refinement against the rounded :math:`A` (solved through the known SVD, the
stable form of the normal equations) makes :math:`x^\star` the minimiser of the
stored data to rounding; the construction is verified by requiring
:math:`\|\nabla f(x^\star)\| \le 10^{-13}\,\|\nabla f(0)\|`.
:math:`\mu = \lambda_{\min}` and :math:`L = \lambda_{\max}` are exact.

**Logistic regression.** With labels :math:`t_i \in \{0, 1\}`, :math:`z = Xw` and
:math:`\sigma(z) = 1/(1 + e^{-z})`,

.. math::

    f(w) = \frac1n \sum_i \big(\log(1 + e^{z_i}) - t_i z_i\big) + \frac{\lambda}{2}\|w\|^2,
    \qquad \nabla f(w) = \frac1n X^\top(\sigma(z) - t) + \lambda w,

    \nabla^2 f(w) = \frac1n X^\top \operatorname{diag}\big(\sigma(z)(1 - \sigma(z))\big) X
    + \lambda I.

:math:`\log(1 + e^z)` is evaluated as ``logaddexp(0, z)`` and :math:`\sigma(z)` as
:math:`\exp(-\log(1 + e^{-z}))`, neither of which overflows. The features are
:math:`X = \sqrt n\,U \operatorname{diag}(\sqrt c) V^\top` with :math:`U` orthogonal
to the all-ones vector, so every column has mean zero and the feature covariance
:math:`X^\top X / n` has eigenvalues :math:`c` with condition number :math:`\kappa`.
Labels are drawn as :math:`t_i \sim \operatorname{Bernoulli}(\sigma(x_i^\top w_0))` for
a random teacher :math:`w_0` scaled so that :math:`\operatorname{std}(X w_0) =`
``signal``. Since :math:`0 < \sigma(1-\sigma) \le 1/4`,

.. math::

    \mu \ge \lambda, \qquad L \le \frac{\|X\|_2^2}{4n} + \lambda = \frac{c_{\max}}{4}
    + \lambda,

and these bounds are what the record stores (they are valid for every :math:`w`; the
local constants at :math:`w^\star` are tighter). :math:`w^\star` is found on the host by
Newton's method with a backtracking (Armijo) line search [1]_ until
:math:`\|\nabla f\| \le 10^{-15}\,\|\nabla f(0)\|` or round-off stops progress, and is
accepted only if :math:`\|\nabla f(w^\star)\| \le 10^{-13}\,\|\nabla f(0)\|`.

float32 data are the rounded float64 data; ``x_star`` and ``f_star`` stay those of the
float64 problem, i.e. optimal only to float32 accuracy for the rounded data.

References
----------
.. [1] J. Nocedal, S. J. Wright, *Numerical Optimization*, 2nd ed., Springer (2006),
   Algorithm 3.1 and Chapter 3.3; DOI 10.1007/978-0-387-40065-5.
.. [2] F. Mezzadri, "How to generate random matrices from the classical compact
   groups", Notices of the AMS 54 (2007) 592-604; arXiv:math-ph/0609050.
"""
from __future__ import annotations

import abc
import math
import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from .. import backend
from ..validation import check_int, check_nonnegative, check_positive, check_real

__all__ = ["ConvexProblem", "LeastSquares", "LogisticRegression", "least_squares",
           "logistic_regression", "geometric_spectrum", "BlockProblem", "block_problem",
           "BLOCK_DIM", "N_BLOCKS", "ROWS_PER_UNKNOWN", "Quadratic", "spd_matrix",
           "spd_quadratic"]

_VERIFY_RTOL = 1e-13   # accepted relative gradient norm at x_star
_NEWTON_RTOL = 1e-15   # Newton stops here, or when round-off stops progress
_NEWTON_MAXITER = 100
_ARMIJO_C1 = 1e-4      # sufficient-decrease constant (Nocedal & Wright, eq. 3.4)


@dataclass(frozen=True, eq=False)
class ConvexProblem(abc.ABC):
    r"""A strongly convex objective with its optimum (base of the problems of this module).

    Attributes
    ----------
    name : str
        ``"least_squares"``, ``"logistic_regression"`` or ``"quadratic"``.
    A : array, shape (m, d)
        Design (least squares) or feature (logistic) matrix, on the problem's backend.
    b : array, shape (m,)
        Targets (least squares) or 0/1 labels as floats (logistic).
    lam : float
        L2 regularisation :math:`\lambda` (0 for least squares).
    x_star : array, shape (d,)
        The minimiser.
    f_star : float
        :math:`f(x^\star)`.
    mu, L : float
        Strong-convexity and smoothness constants (exact for least squares, bounds for
        logistic regression; see the module Notes).
    cond : float
        The condition number that was prescribed: of :math:`A^\top A` (least squares)
        or of the feature covariance :math:`X^\top X / n` (logistic).
    """

    name: str
    A: Any
    b: Any
    lam: float
    x_star: Any
    f_star: float
    mu: float
    L: float
    cond: float

    @property
    def dim(self) -> int:
        """Number of unknowns :math:`d`."""
        return int(self.A.shape[1])

    @property
    def x0(self) -> Any:
        """A start point: zeros of shape ``(d,)`` like ``x_star``.

        The protocol of :class:`rso_ref.testing.problems.Problem`, so that one test
        minimises either.
        """
        return 0.0 * self.x_star

    def _check_x(self, x: Any) -> ModuleType:
        xp = backend.array_namespace(self.A, x)
        if tuple(x.shape) != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got {tuple(x.shape)}")
        return xp

    @abc.abstractmethod
    def value(self, x: Any, *, xp: ModuleType | None = None) -> Any:
        """The objective :math:`f(x)` (pass the autograd namespace as ``xp`` to trace it).

        Parameters
        ----------
        x : array, shape (d,)
            The point; on the backend of ``A`` unless ``xp`` is given.
        xp : module, optional
            Array namespace to compute with. Default: the namespace of ``A`` and ``x``,
            after checking that they agree and that ``x`` has shape ``(d,)``; an explicit
            ``xp`` (e.g. :func:`rso_ref.autodiff.namespace`) skips both checks.

        Returns
        -------
        array, shape ()
            :math:`f(x)` as a 0-d array of ``xp``.

        Raises
        ------
        ValueError
            If ``x`` does not have shape ``(d,)`` or is on another backend or device
            than ``A`` (only when ``xp`` is None).
        TypeError
            If ``x`` is not an array of a supported library (only when ``xp`` is None).
        """

    @abc.abstractmethod
    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        r"""The objective and its gradient, :math:`(f(x), \nabla f(x))`.

        Parameters
        ----------
        x : array, shape (d,)
            The point, on the backend and device of ``A``.

        Returns
        -------
        value : float
            :math:`f(x)`.
        grad : array, shape (d,)
            :math:`\nabla f(x)`, in the namespace and dtype of ``A`` and ``x``.

        Raises
        ------
        ValueError
            If ``x`` does not have shape ``(d,)`` or is on another backend or device
            than ``A``.
        TypeError
            If ``x`` is not an array of a supported library.
        """


class LeastSquares(ConvexProblem):
    r""":math:`f(x) = \frac{1}{2m}\|Ax - b\|^2`; made by :func:`least_squares`.

    The gradient is :math:`\nabla f(x) = A^\top(Ax - b)/m` and the Hessian the constant
    :math:`A^\top A/m` (module Notes).

    Attributes
    ----------
    name : str
        ``"least_squares"``.
    A : array, shape (m, d)
        Design matrix, on the problem's backend.
    b : array, shape (m,)
        Targets.
    lam : float
        Always 0 (no regularisation).
    x_star : array, shape (d,)
        The minimiser.
    f_star : float
        :math:`f(x^\star)`, about :math:`\sigma^2 (m - d)/(2m)` for ``noise`` :math:`\sigma`.
    mu, L : float
        Smallest and largest eigenvalue of :math:`A^\top A/m` (exact).
    cond : float
        The prescribed condition number :math:`L/\mu`.
    """

    def value(self, x: Any, *, xp: ModuleType | None = None) -> Any:
        xp = self._check_x(x) if xp is None else xp
        r = xp.matmul(self.A, x) - self.b
        return 0.5 * xp.sum(r * r) / self.A.shape[0]

    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        xp = self._check_x(x)
        m = self.A.shape[0]
        r = xp.matmul(self.A, x) - self.b
        return float(0.5 * xp.sum(r * r) / m), xp.matmul(r, self.A) / m


class LogisticRegression(ConvexProblem):
    r"""L2-regularised logistic loss (module Notes); made by :func:`logistic_regression`.

    .. math::

        f(w) = \frac1n \sum_i \big(\log(1 + e^{x_i^\top w}) - t_i\, x_i^\top w\big)
        + \frac{\lambda}{2}\|w\|^2,

    with :math:`x_i^\top` the rows of ``A`` and :math:`t_i` the entries of ``b``.

    Attributes
    ----------
    name : str
        ``"logistic_regression"``.
    A : array, shape (n, d)
        Feature matrix :math:`X` (columns of mean zero), on the problem's backend.
    b : array, shape (n,)
        The 0/1 labels :math:`t`, as floats.
    lam : float
        L2 regularisation :math:`\lambda > 0`.
    x_star : array, shape (d,)
        The minimiser :math:`w^\star` (Newton's method, certified by its gradient).
    f_star : float
        :math:`f(w^\star)`.
    mu, L : float
        Bounds valid at every :math:`w`: :math:`\mu = \lambda` and
        :math:`L = c_{\max}/4 + \lambda` (module Notes).
    cond : float
        The prescribed condition number of the feature covariance :math:`X^\top X/n`
        (not :math:`L/\mu`).
    """

    def value(self, x: Any, *, xp: ModuleType | None = None) -> Any:
        xp = self._check_x(x) if xp is None else xp
        z = xp.matmul(self.A, x)
        loss = xp.mean(xp.logaddexp(xp.zeros_like(z), z) - self.b * z)
        return loss + 0.5 * self.lam * xp.sum(x * x)

    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        xp = self._check_x(x)
        z = xp.matmul(self.A, x)
        softplus = xp.logaddexp(xp.zeros_like(z), z)
        value = xp.mean(softplus - self.b * z) + 0.5 * self.lam * xp.sum(x * x)
        prob = xp.exp(z - softplus)  # sigma(z) = e^z / (1 + e^z), no overflow
        grad = xp.matmul(prob - self.b, self.A) / self.A.shape[0] + self.lam * x
        return float(value), grad


def geometric_spectrum(d: int, cond: float, top: float = 1.0) -> np.ndarray:
    r"""``d`` values from ``top`` down to ``top / cond``, geometrically spaced (Notes)."""
    if d == 1:
        return np.array([float(top)])
    values = top * cond ** (-np.arange(d) / (d - 1))
    values[-1] = top / cond  # the end points exactly as asked
    return values


def _haar_columns(n: int, k: int, gen: np.random.Generator, *, orthogonal_to_ones: bool = False
                  ) -> np.ndarray:
    """``k`` orthonormal columns of length ``n`` (QR with signs fixed, Mezzadri 2007)."""
    G = gen.standard_normal((n, k + orthogonal_to_ones))
    if orthogonal_to_ones:
        G[:, 0] = 1.0
    Q, R = np.linalg.qr(G)
    Q = Q * np.sign(np.diag(R))
    return Q[:, 1:] if orthogonal_to_ones else Q


def _check_problem_args(n: int, d: int, cond: float, top: float, *, n_name: str, top_name: str,
                        extra_rows: int) -> tuple[float, float]:
    """``(cond, top)`` as floats, once the sizes and both numbers are checked."""
    d = check_int(d, "n_features", 1)
    check_int(n, n_name, d + extra_rows)
    cond = check_real(cond, "cond")
    if cond < 1.0:
        raise ValueError(f"cond must be >= 1, got {cond!r}")
    if d == 1 and cond != 1:
        raise ValueError(f"cond must be 1 when n_features=1, got {cond!r}")
    return cond, check_positive(top, top_name)


def _verified(problem: ConvexProblem) -> ConvexProblem:
    """Return the host (NumPy) ``problem`` if its optimum passes the gradient check."""
    _, g_star = problem.value_and_grad(problem.x_star)
    _, g_zero = problem.value_and_grad(np.zeros(problem.dim))
    rel = float(np.linalg.norm(g_star) / np.linalg.norm(g_zero))
    if not rel <= _VERIFY_RTOL:
        raise RuntimeError(f"{problem.name}: |grad f(x_star)| / |grad f(0)| = {rel:.3e} exceeds "
                           f"{_VERIFY_RTOL:g}; the optimum could not be certified")
    return problem


def _moved(host: ConvexProblem, xp: ModuleType | None, dtype: Any, device: Any) -> ConvexProblem:
    xp = backend.namespace("numpy") if xp is None else xp
    dtype = backend.resolve_dtype(xp, dtype, device=device)
    return dataclasses.replace(host, **{k: backend.asarray(getattr(host, k), xp=xp, dtype=dtype,
                                                           device=device)
                                        for k in ("A", "b", "x_star")})


class Quadratic(ConvexProblem):
    r""":math:`f(x) = \tfrac12 x^\top A x - b^\top x` with symmetric positive definite ``A``.

    Made by :func:`spd_quadratic`; :math:`\nabla f(x) = Ax - b`.

    Attributes
    ----------
    name : str
        ``"quadratic"``.
    A : array, shape (n, n)
        The Hessian, eigenvalues log-spaced in :math:`[1, \kappa]`
        (:func:`spd_matrix`).
    b : array, shape (n,)
        The linear term.
    lam : float
        0.
    x_star : array, shape (n,)
        :math:`A^{-1} b`.
    f_star : float
        :math:`-\tfrac12 b^\top x^\star`.
    mu, L : float
        1 and :math:`\kappa`, the extreme eigenvalues of ``A``.
    cond : float
        :math:`\kappa`.
    """

    def value(self, x: Any, *, xp: ModuleType | None = None) -> Any:
        xp = self._check_x(x) if xp is None else xp
        return 0.5 * xp.sum(x * xp.matmul(self.A, x)) - xp.sum(self.b * x)

    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        xp = self._check_x(x)
        ax = xp.matmul(self.A, x)
        return float(0.5 * xp.sum(x * ax) - xp.sum(self.b * x)), ax - self.b


def spd_matrix(n: int, cond: float, gen: np.random.Generator) -> np.ndarray:
    r"""A random symmetric positive definite ``(n, n)`` matrix with log-spaced eigenvalues.

    :math:`A = \tfrac12 (B + B^\top)` with :math:`B = Q \operatorname{diag}(\lambda) Q^\top`,
    :math:`\lambda_i = \mathrm{cond}^{(i-1)/(n-1)}` (:math:`\lambda = 1` when
    :math:`n = 1`) and :math:`Q` the orthogonal factor of the QR decomposition of an
    ``(n, n)`` Gaussian matrix drawn from ``gen`` (the symmetrisation only removes the
    rounding asymmetry of the product). A host float64 array; :func:`spd_quadratic` and
    :func:`rso_ref.testing.problems.quadratic` use it.
    """
    q, _ = np.linalg.qr(gen.standard_normal((n, n)))
    a = (q * np.logspace(0.0, math.log10(cond), n)) @ q.T
    return 0.5 * (a + a.T)


def spd_quadratic(n: int, cond: float, seed: int | np.random.Generator = 0, *,
                  xp: ModuleType | None = None, dtype: Any = None,
                  device: Any = None) -> Quadratic:
    r"""The quadratic :math:`\tfrac12 x^\top A x - b^\top x` drawn from ``seed``.

    :math:`A` = :func:`spd_matrix` ``(n, cond)`` (eigenvalues
    log-spaced in :math:`[1, \kappa]`, so its condition number is :math:`\kappa` to
    about :math:`n\,\epsilon\,\kappa` relative), then :math:`b \sim N(0, I)` from the
    same generator, and :math:`x^\star = A^{-1} b` by LU (backward stable: the gradient
    :math:`A x^\star - b` is at the rounding level,
    :math:`O(n\,\epsilon\,\kappa)\,\|b\|`).

    Parameters
    ----------
    n : int
        Dimension, at least 1.
    cond : float
        Condition number :math:`\kappa \ge 1` of :math:`A` (1 when ``n = 1``).
    seed : int or numpy.random.Generator, default 0
        Seed of the draw (or the generator itself).
    xp, dtype, device : optional
        Namespace, floating dtype and device of the arrays (module conventions).

    Returns
    -------
    Quadratic
        ``A``, ``b`` and ``x_star`` on ``xp`` and ``device`` in ``dtype``; ``f_star`` is
        the float64 value.

    Raises
    ------
    TypeError, ValueError
        For a bad ``n`` or ``cond`` (named), ``cond != 1`` with ``n = 1``, or a bad
        ``dtype``.
    """
    n = check_int(n, "n", 1)
    cond = check_real(cond, "cond")
    if cond < 1.0:
        raise ValueError(f"cond must be >= 1, got {cond!r}")
    if n == 1 and cond != 1.0:
        raise ValueError(f"cond must be 1 when n=1, got {cond!r}")
    gen = backend.rng(seed)
    A = spd_matrix(n, cond, gen)
    b = gen.standard_normal(n)
    x_star = np.linalg.solve(A, b)
    host = Quadratic("quadratic", A, b, 0.0, x_star, float(-0.5 * (b @ x_star)), 1.0, cond,
                     cond)
    return _moved(host, xp, dtype, device)


def least_squares(n_samples: int = 200, n_features: int = 20, *, cond: float = 100.0,
                  L: float = 1.0, noise: float = 0.1, seed: int | np.random.Generator = 0,
                  xp: ModuleType | None = None, dtype: Any = None,
                  device: Any = None) -> LeastSquares:
    r"""Least squares with the spectrum of :math:`A^\top A/m` set exactly (module Notes).

    Parameters
    ----------
    n_samples, n_features : int
        :math:`m \ge d` rows and :math:`d` columns of :math:`A`.
    cond : float, default 100
        :math:`\kappa(A^\top A) = L/\mu` (1 when ``n_features=1``).
    L : float, default 1
        Largest eigenvalue of the Hessian :math:`A^\top A / m`.
    noise : float, default 0.1
        Scale :math:`\sigma` of the residual at the optimum:
        :math:`f^\star \approx \sigma^2 (m - d) / (2m)`.
    seed : int or numpy.random.Generator, default 0
        Seed of the host generator (:func:`rso_ref.backend.rng`) that draws the random
        factors, the optimum and the noise; the same seed gives the same problem.
    xp : module, optional
        Backend of the returned arrays (default NumPy).
    dtype : {"float64", "float32"}, optional
    device : device of ``xp``, optional
        Where the arrays go (default the namespace's default device).

    Returns
    -------
    LeastSquares
        ``mu = L / cond`` and ``L`` exact, ``lam = 0``.

    Raises
    ------
    ValueError
        For a bad size, ``cond < 1``, ``L <= 0`` or ``noise < 0`` (named).
    RuntimeError
        If the optimum fails its gradient check (not expected for ``cond < 1e12``).
    """
    cond, L = _check_problem_args(n_samples, n_features, cond, L, n_name="n_samples",
                                  top_name="L", extra_rows=0)
    noise = check_nonnegative(noise, "noise")
    gen = backend.rng(seed)
    m, d = n_samples, n_features
    U, V = _haar_columns(m, d, gen), _haar_columns(d, d, gen)
    s = np.sqrt(m * geometric_spectrum(d, cond, L))
    A = (U * s) @ V.T
    x_star = gen.standard_normal(d)
    z = gen.standard_normal(m)
    b = A @ x_star + noise * (z - U @ (U.T @ z))
    x_star = x_star + V @ ((U.T @ (b - A @ x_star)) / s)  # one refinement step via the SVD
    host = LeastSquares("least_squares", A, b, 0.0, x_star, 0.0, L / cond, float(L), float(cond))
    host = dataclasses.replace(host, f_star=float(host.value(x_star)))
    return _moved(_verified(host), xp, dtype, device)


def _newton(problem: LogisticRegression) -> np.ndarray:
    """Damped Newton iterations on a host (NumPy) logistic problem; returns the minimiser."""
    X, lam = problem.A, problem.lam
    n, d = X.shape
    w = np.zeros(d)
    f, g = problem.value_and_grad(w)
    g0 = np.linalg.norm(g)
    for _ in range(_NEWTON_MAXITER):
        gnorm = np.linalg.norm(g)
        if gnorm <= _NEWTON_RTOL * g0:
            break
        z = X @ w
        p = np.exp(z - np.logaddexp(0.0, z))  # sigma(z) without overflow
        H = (X.T * (p * (1.0 - p))) @ X / n + lam * np.eye(d)
        step = np.linalg.solve(H, g)
        decrement = float(g @ step)
        alpha = 1.0
        while alpha >= 2.0 ** -40:  # backtracking, Nocedal & Wright Algorithm 3.1
            f_new, g_new = problem.value_and_grad(w - alpha * step)
            # Near the optimum f changes by less than its round-off; a smaller gradient
            # is then the only reliable sign of progress.
            if f_new <= f - _ARMIJO_C1 * alpha * decrement or np.linalg.norm(g_new) < gnorm:
                break
            alpha /= 2.0
        else:
            break  # round-off floor: no step improves f or |grad f|
        w, f, g = w - alpha * step, f_new, g_new
    return w


def logistic_regression(n_samples: int = 500, n_features: int = 20, *, cond: float = 100.0,
                        lam: float = 1e-2, top: float = 1.0, signal: float = 2.0,
                        seed: int | np.random.Generator = 0, xp: ModuleType | None = None,
                        dtype: Any = None, device: Any = None) -> LogisticRegression:
    r"""L2-regularised logistic regression with a set feature-covariance spectrum.

    Parameters
    ----------
    n_samples, n_features : int
        :math:`n \ge d + 1` examples and :math:`d` features.
    cond : float, default 100
        Condition number of the feature covariance :math:`X^\top X / n`.
    lam : float, default 1e-2
        Regularisation :math:`\lambda > 0` (the strong-convexity bound).
    top : float, default 1
        Largest eigenvalue :math:`c_{\max}` of the feature covariance.
    signal : float, default 2
        Standard deviation of the teacher logits :math:`X w_0` (larger: cleaner labels).
    seed : int or numpy.random.Generator, default 0
        Seed of the host generator (:func:`rso_ref.backend.rng`) that draws the random
        factors, the teacher and the labels; the same seed gives the same problem.
    xp : module, optional
        Backend of the returned arrays (default NumPy).
    dtype : {"float64", "float32"}, optional
    device : device of ``xp``, optional
        Where the arrays go (default the namespace's default device).

    Returns
    -------
    LogisticRegression
        ``mu = lam`` and ``L = top / 4 + lam`` (bounds, module Notes).

    Raises
    ------
    ValueError
        For a bad size, ``cond < 1``, ``top <= 0``, ``lam <= 0`` or ``signal < 0``.
    RuntimeError
        If Newton's method cannot certify the optimum.
    """
    # extra_rows=1, n >= d + 1: d centred orthonormal columns must fit
    cond, top = _check_problem_args(n_samples, n_features, cond, top, n_name="n_samples",
                                    top_name="top", extra_rows=1)
    lam = check_positive(lam, "lam")
    signal = check_nonnegative(signal, "signal")
    gen = backend.rng(seed)
    n, d = n_samples, n_features
    U = _haar_columns(n, d, gen, orthogonal_to_ones=True)
    V = _haar_columns(d, d, gen)
    X = (U * np.sqrt(n * geometric_spectrum(d, cond, top))) @ V.T
    w0 = gen.standard_normal(d)
    logits = X @ w0
    logits *= signal / max(np.std(logits), np.finfo(float).tiny)
    t = (gen.random(n) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float64)
    host = LogisticRegression("logistic_regression", X, t, float(lam), np.zeros(d), 0.0,
                              float(lam), top / 4.0 + lam, float(cond))
    w_star = _newton(host)
    host = dataclasses.replace(host, x_star=w_star, f_star=float(host.value(w_star)))
    return _moved(_verified(host), xp, dtype, device)


# ------------------------------------------------------------------ problems in blocks
#: Unknowns of :func:`block_problem` by default (the convex settings of the RSO claims).
BLOCK_DIM = 40
#: Contiguous blocks (separate arrays, one RSO group each) of :func:`block_problem`.
N_BLOCKS = 4
#: Rows (least squares) and samples (logistic regression) per unknown in :func:`block_problem`.
ROWS_PER_UNKNOWN = {"least_squares": 5, "logistic": 10}


@dataclass(frozen=True)
class BlockProblem:
    """A convex problem whose unknown is split into contiguous blocks (separate arrays).

    Attributes
    ----------
    problem : ConvexProblem
        The problem on the full vector.
    sizes : tuple of int
        Block lengths.
    """

    problem: ConvexProblem
    sizes: tuple

    def split(self, x: np.ndarray) -> list:
        """The blocks of a full vector ``x`` (views)."""
        return list(np.split(np.asarray(x), np.cumsum(self.sizes)[:-1]))

    def value_and_grad(self, blocks: Sequence) -> tuple[float, list]:
        """The oracle over the list of blocks (what RSO sees)."""
        value, grad = self.problem.value_and_grad(np.concatenate(list(blocks)))
        return value, self.split(grad)

    def loss(self, blocks: Sequence, *, xp: Any) -> Any:
        """:math:`f` of the concatenated blocks, traceable by autograd (``xp`` given)."""
        return self.problem.value(xp.concat(list(blocks)), xp=xp)

    def gap(self, blocks: Sequence) -> float:
        r""":math:`f(\theta) - f^\star`."""
        return float(self.problem.value(np.concatenate(list(blocks)))) - self.problem.f_star


def block_problem(kind: str, cond: float, *, dim: int = BLOCK_DIM, n_blocks: int = N_BLOCKS,
                  seed: int = 0) -> BlockProblem:
    r"""Least squares or L2 logistic regression with :math:`L/\mu` = ``cond``, in blocks.

    Least squares: :math:`d` = ``dim`` unknowns, :math:`m = 5d` rows, Hessian spectrum
    geometric from :math:`L = 1` to :math:`\mu = 1/\kappa`. Logistic regression:
    :math:`n = 10d` samples, feature covariance of condition number :math:`\kappa` and top
    eigenvalue 1, :math:`\lambda = (1/4)/(\kappa - 1)` so that the global bounds
    :math:`\mu = \lambda`, :math:`L = 1/4 + \lambda` have :math:`L/\mu = \kappa`. The
    unknown is cut into ``n_blocks`` contiguous blocks (:func:`numpy.array_split` sizes).
    """
    if kind == "least_squares":
        problem = least_squares(ROWS_PER_UNKNOWN[kind] * dim, dim, cond=cond, seed=seed)
    elif kind == "logistic":
        problem = logistic_regression(ROWS_PER_UNKNOWN[kind] * dim, dim, cond=cond,
                                      lam=0.25 / (cond - 1.0), seed=seed)
    else:
        raise ValueError(f"kind must be 'least_squares' or 'logistic', got {kind!r}")
    sizes = tuple(len(b) for b in np.array_split(np.arange(dim), n_blocks))
    return BlockProblem(problem, sizes)
