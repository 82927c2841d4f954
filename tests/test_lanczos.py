"""Tests of rso_ref.lanczos: thick-restart Lanczos against numpy.linalg.eigh on
matrices with prescribed spectra, on every backend, plus Hutchinson's trace."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.lanczos import hutchinson_trace, top_eigenpairs

N = 150
_GEN = np.random.default_rng(123)
_BULK = _GEN.uniform(-1.0, 1.0, N - 6)

#: name -> spectrum (the first 6 entries are the top of it except for "indefinite").
SPECTRA = {
    "separated": np.concatenate([[10.0, 8.0, 6.5, 5.0, 4.0, 3.0], _BULK]),
    "clustered": np.concatenate([[5.0, 5.0 + 1e-6, 5.0 - 1e-6, 4.0, 4.0 + 1e-7, 3.0], _BULK]),
    "degenerate": np.concatenate([[5.0, 5.0, 5.0, 4.0, 4.0, 3.0], _BULK]),
    "indefinite": np.concatenate([[-20.0, -15.0, 3.0, 2.5, 2.0, 1.8],
                                  _GEN.uniform(-1.0, 1.5, N - 6)]),
}
K = 5


def _matrix(spectrum, seed=0):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(spectrum),) * 2))
    return (Q * spectrum) @ Q.T


def _sin_angle(U, W):
    """Largest principal-angle sine between the column spaces of orthonormal U and W."""
    return float(np.linalg.norm(W - U @ (U.T @ W), 2))


# Plain Lanczos on the spectra without exact repeats; with verify=True on all of them
# (a single Krylov sequence cannot see a second copy of an exactly repeated eigenvalue).
CASES = [(name, False) for name in sorted(SPECTRA) if name != "degenerate"]
CASES += [(name, True) for name in sorted(SPECTRA)]


@pytest.mark.parametrize("name, verify", CASES)
def test_matches_eigh(name, verify):
    A = _matrix(SPECTRA[name])
    evals, evecs = np.linalg.eigh(A)
    evals, evecs = evals[::-1], evecs[:, ::-1]
    scale = np.abs(evals).max()
    res = top_eigenpairs(lambda v: A @ v, N, K, tol=1e-10, verify=verify)
    lam, U = np.asarray(res.eigenvalues), np.asarray(res.eigenvectors)
    assert res.converged and U.shape == (N, K) and lam.shape == (K,)
    assert np.all(np.diff(lam) <= 0)
    # A Ritz value lies within its residual (<= 1e-10 |λ|max) of an eigenvalue, and the
    # k largest Ritz values match the k largest eigenvalues: 1e-8 relative to |λ|max.
    np.testing.assert_allclose(lam, evals[:K], rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(U.T @ U, np.eye(K), rtol=0, atol=1e-12)
    # True residuals agree with the cheap Lanczos estimates and meet the criterion.
    true_res = np.linalg.norm(A @ U - U * lam, axis=0)
    assert np.all(true_res <= 1e-9 * scale)
    np.testing.assert_allclose(np.asarray(res.residual_norms), true_res, rtol=0, atol=1e-12 * scale)
    # Subspace of the top K (there is a gap after the K-th eigenvalue in every spectrum):
    # Davis-Kahan bounds sin(angle) by |R|_F / gap <= ~1e-9 here.
    assert _sin_angle(U, evecs[:, :K]) < 1e-7
    if name == "separated":  # simple eigenvalues: each vector up to sign
        dots = np.abs(np.sum(U * evecs[:, :K], axis=0))
        np.testing.assert_allclose(dots, 1.0, rtol=0, atol=1e-12)


def test_eigenvectors_stay_orthogonal_when_the_top_dwarfs_the_bulk():
    """One eigenvalue of 1e6 over a [-1, 1] bulk, k = 10, tol = 1e-12: the Lanczos
    vectors lose orthogonality in proportion to the spread of the spectrum unless each
    new vector is orthogonalised twice ("twice is enough", ref. [4] of the module).
    Measured: 2e-15 with two classical Gram-Schmidt passes, 7e-11 with one; the bound
    1e-13 (about 500 units of roundoff) lies between them with two decades either side.
    The spectra of ``test_matches_eigh`` (top <= 20) cannot tell the two apart."""
    top = np.concatenate([[1e6], np.linspace(10.0, 2.0, 9)])
    spectrum = np.concatenate([top, np.random.default_rng(5).uniform(-1.0, 1.0, N - 10)])
    A = _matrix(spectrum)
    res = top_eigenpairs(lambda v: A @ v, N, 10, tol=1e-12)
    U = np.asarray(res.eigenvectors)
    assert res.converged
    np.testing.assert_allclose(U.T @ U, np.eye(10), rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(res.eigenvalues), top, rtol=1e-10)


def test_verify_finds_every_copy_of_a_repeated_eigenvalue():
    """Across start vectors, verify=True recovers all three copies of λ = 5."""
    A = _matrix(SPECTRA["degenerate"])
    for seed in range(5):
        res = top_eigenpairs(lambda v: A @ v, N, 4, tol=1e-10, seed=seed, verify=True)
        np.testing.assert_allclose(res.eigenvalues, [5.0, 5.0, 5.0, 4.0], rtol=0, atol=1e-8)


def test_same_result_on_every_backend(xp, on_device):
    A = _matrix(SPECTRA["separated"], seed=1)
    ref = top_eigenpairs(lambda v: A @ v, N, K, tol=1e-10, seed=3)
    Ax = xp.asarray(A)
    where = backend.device(Ax)
    res = top_eigenpairs(lambda v: xp.matmul(Ax, v), N, K, tol=1e-10, seed=3, xp=xp,
                         device=where)
    on_device(res.eigenvalues, res.eigenvectors, res.residual_norms)
    name = backend.backend_name(backend.array_namespace(res.eigenvectors))
    assert name == backend.backend_name(xp)
    assert res.eigenvectors.dtype == xp.float64
    # Same start vector on every backend; only BLAS summation order differs, so the runs
    # take the same path and agree far below the 1e-10 residual tolerance.
    np.testing.assert_allclose(backend.to_numpy(res.eigenvalues), np.asarray(ref.eigenvalues),
                               rtol=1e-12)
    dots = np.sum(backend.to_numpy(res.eigenvectors) * np.asarray(ref.eigenvectors), axis=0)
    np.testing.assert_allclose(np.abs(dots), 1.0, rtol=0, atol=1e-9)
    assert abs(res.n_matvec - ref.n_matvec) <= 1
    D = xp.asarray(_matrix(SPECTRA["degenerate"]))
    res = top_eigenpairs(lambda v: xp.matmul(D, v), N, 4, tol=1e-10, verify=True, xp=xp,
                         device=where)
    on_device(res.eigenvalues, res.eigenvectors, res.residual_norms)  # verify's result too
    np.testing.assert_allclose(backend.to_numpy(res.eigenvalues), [5.0, 5.0, 5.0, 4.0],
                               rtol=0, atol=1e-8)


def test_float32():
    A = _matrix(SPECTRA["separated"], seed=2).astype(np.float32)
    res = top_eigenpairs(lambda v: A @ v, N, 3, tol=1e-5, dtype="float32")
    assert res.eigenvalues.dtype == np.float32 and res.converged
    # float32 round-off on |A| = 10 is ~1e-6; ask for 1e-5 relative to |λ|max.
    np.testing.assert_allclose(res.eigenvalues, [10.0, 8.0, 6.5], rtol=0, atol=1e-4)


def test_invariant_subspace_and_full_space():
    # rank-3 operator: the Krylov space is invariant after 3 products; Lanczos must go on
    # in fresh directions to return 5 eigenpairs (the last two are 0).
    spectrum = np.concatenate([[3.0, 2.0, 1.0], np.zeros(37)])
    A = _matrix(spectrum)
    res = top_eigenpairs(lambda v: A @ v, 40, 5)
    np.testing.assert_allclose(res.eigenvalues, [3, 2, 1, 0, 0], rtol=0, atol=1e-12)
    # k = dim: one cycle over the whole space is exact.
    B = _matrix(np.array([2.0, -1.0, 0.5, 4.0]))
    res = top_eigenpairs(lambda v: B @ v, 4, 4)
    np.testing.assert_allclose(res.eigenvalues, [4.0, 2.0, 0.5, -1.0], rtol=0, atol=1e-13)
    assert res.n_matvec == 4 and res.converged


def test_matvec_count_is_pinned_and_restarts_happen():
    """Known good count on a slow spectrum (k=5, ncv=20): it must not increase.

    87 products when pinned (scipy 1.17's eigsh needs 106 on this matrix at tol 1e-8)."""
    A = _matrix(np.linspace(-1.0, 1.0, 300) ** 3, seed=4)
    res = top_eigenpairs(lambda v: A @ v, 300, K, tol=1e-8)
    assert res.converged and res.n_restarts > 0
    assert res.n_matvec <= 87
    capped = top_eigenpairs(lambda v: A @ v, 300, K, tol=1e-8, maxiter=1)
    assert not capped.converged and capped.n_restarts == 1


def test_bad_input():
    A = np.eye(6)
    mv = lambda v: A @ v  # noqa: E731
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(mv, 6, 7)
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(mv, 6, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        top_eigenpairs(mv, 6, 2.0)
    with pytest.raises(ValueError, match="dim must be"):
        top_eigenpairs(mv, 0, 1)
    with pytest.raises(ValueError, match="tol"):
        top_eigenpairs(mv, 6, 2, tol=0.0)
    with pytest.raises(ValueError, match="ncv"):
        top_eigenpairs(mv, 6, 2, ncv=2)
    with pytest.raises(ValueError, match="matvec must map"):
        top_eigenpairs(lambda v: np.ones(5), 6, 2)
    with pytest.raises(TypeError, match="matvec must be callable"):
        top_eigenpairs(A, 6, 2)
    N_ = np.triu(np.random.default_rng(0).standard_normal((30, 30)))
    with pytest.raises(ValueError, match="symmetric"):
        top_eigenpairs(lambda v: N_ @ v, 30, 2)


def test_arguments_follow_the_shared_validation_rules():
    A = np.diag(np.arange(1.0, 7.0))
    mv = lambda v: A @ v  # noqa: E731
    # any real scalar is a tol (np.float32 was refused); tol bounds the residual, and the
    # eigenvalue error (of order residual**2 / gap, gap 1) is below it
    loose = top_eigenpairs(mv, 6, 2, tol=np.float32(1e-6))
    assert loose.converged and loose.eigenvalues.tolist() == pytest.approx([6.0, 5.0], rel=1e-6)
    with pytest.raises(TypeError, match="tol must be a real number"):
        top_eigenpairs(mv, 6, 2, tol="1e-8")
    with pytest.raises(TypeError, match="verify must be a bool"):
        top_eigenpairs(mv, 6, 2, verify="yes")
    with pytest.raises(TypeError, match="matvec must be callable"):
        hutchinson_trace(A, 6, 2)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        hutchinson_trace(mv, 6, 2.0)


def test_hutchinson_trace(xp):
    D = xp.asarray(np.diag(np.arange(1.0, 11.0)))
    est, _ = hutchinson_trace(lambda v: xp.matmul(D, v), 10, 2, xp=xp, device=backend.device(D))
    assert est == pytest.approx(55.0, rel=1e-14)  # z^T D z = tr D for every sign vector
    B = np.random.default_rng(1).standard_normal((40, 40))
    A = B + B.T
    est, err = hutchinson_trace(lambda v: A @ v, 40, 200, seed=2)
    # a fixed seed: the estimate sits within 4 standard errors of the truth
    assert abs(est - np.trace(A)) < 4 * err
