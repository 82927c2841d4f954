r"""Verification of a port against stored fixtures: per-quantity error table and verdict.

Error measure
-------------
Each quantity is a (nested list of) arrays. For every leaf array the error is the
*norm-wise relative error*

.. math::

    e = \frac{\max_i |a_i - r_i|}{\max_i |r_i|}

(:math:`a` the port's value, :math:`r` the reference; the absolute error when
:math:`r = 0`), which stays meaningful for entries that are zero or tiny (fresh biases,
converged gradients). A quantity's figure is the largest :math:`e` over its leaves and
the report names the leaf (e.g. ``[2][1]``: step 2, parameter array 1). Integer and
boolean quantities (``nfev``, ``nit``, ``safeguarded``) must be equal. A shape or length
mismatch fails the quantity; its error is then measured on the common leading part.

Eigenvectors (:func:`eigenvector_error`) are compared up to the freedom they have: a
column of a simple eigenvalue up to sign, and the columns of a cluster of eigenvalues
(neighbours closer than :data:`EIGEN_CLUSTER_GAP` relative) through the subspace they
span, i.e. their orthogonal projector :math:`V V^T`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .kinds import EXACT, KINDS

__all__ = ["Row", "VerifyReport", "relative_error", "compare_outputs", "eigenvector_error",
           "eigen_clusters", "EIGEN_CLUSTER_GAP", "TRAJECTORIES"]

#: Eigenvalues closer than this (relative to the largest magnitude among them, the
#: estimate of :math:`\|H\|_2`) form a cluster, whose eigenvectors are compared through
#: the subspace they span. An eigenvector computed to a residual :math:`\|r\|` is off by
#: an angle of about :math:`\|r\|/\mathrm{gap}`; the reference's Lanczos stops at
#: :math:`\|r\| \le 10^{-12}\,\|H\|` (a port's solver to about the same), so at a gap of
#: :math:`10^{-3}\|H\|` a single vector is determined to :math:`10^{-9}`, a tenth of
#: the kind's 1e-8 eigenvector tolerance. Below that gap its error nears the tolerance
#: (at :math:`10^{-4}\|H\|`) and, within a repeated eigenvalue, any orthonormal basis is
#: right, so only the spanned subspace is a well-posed quantity. The same 1e-3 is the gap
#: that :func:`rso_ref.testing.check_port` demands of its drawn ``eigen`` cases.
EIGEN_CLUSTER_GAP = 1e-3


@dataclass(frozen=True)
class Row:
    """One line of a report: a quantity of a case.

    Attributes
    ----------
    case : str
        The case's name.
    quantity : str
        The compared quantity (``"params"``, ``"w"``, ``"nfev"``, ...).
    error : float
        The worst leaf's norm-wise relative error (absolute difference for exact
        quantities; ``inf`` when the quantity is missing or malformed).
    tolerance : float
        The kind's tolerance for the quantity (:data:`~rso_ref.golden.kinds.EXACT` = 0).
    where : str
        Index path of the worst leaf (``"[2][1]"``), ``"-"`` for a single leaf.
    ok : bool
        Whether the quantity is within its tolerance.
    note : str
        Why it failed beyond the number (a shape, a missing quantity), if anything.
    detail : str
        For a failing row, where to look: the first iteration (``lbfgs``) or chained step
        (``rso_step``) out of tolerance, the worst element's index and both values
        (``"iteration 3, element (3, 1): port 0.5 vs reference 0.25"``).
    """

    case: str
    quantity: str
    error: float
    tolerance: float
    where: str
    ok: bool
    note: str = ""
    detail: str = ""

    @property
    def shape_mismatch(self) -> bool:
        """Whether the port's value has another shape or length than the reference's."""
        return "vs reference" in self.note and ("shape" in self.note or "length" in self.note)

    def describe(self) -> str:
        """One line on a failing row, a shape mismatch as such, then where and the notes.

        Otherwise the error against the tolerance; then :attr:`detail` and :attr:`note`.

        Returns
        -------
        str
            E.g. ``"x: shape mismatch, (8, 6) vs reference (9, 6); ..."``.
        """
        tol = "exact" if self.tolerance == EXACT else f"{self.tolerance:.0e}"
        where = f" at {self.where}" if self.where not in ("", "-") else ""
        if self.shape_mismatch:
            text = (f"{self.quantity}: shape mismatch ({self.note}); on the common part "
                    f"error {self.error:.3e}{where} (tolerance {tol})")
        else:
            text = f"{self.quantity}: error {self.error:.3e} > tolerance {tol}{where}"
            if self.note:
                text += f" ({self.note})"
        return text + (f"; {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`rso_ref.golden.verify` for one fixture kind.

    Attributes
    ----------
    kind : str
    rows : tuple of Row
    errors : tuple of str
        Cases where the port raised (``"case: ExceptionType: message"``).
    skipped : tuple of str
        Cases the port declined by raising ``NotImplementedError`` (``"case: message"``).
    """

    kind: str
    rows: tuple
    errors: tuple = ()
    skipped: tuple = ()

    @property
    def status(self) -> str:
        """The verdict: ``"FAIL"``, ``"PASS"`` or ``"SKIP"``.

        ``"FAIL"`` if a quantity is out of tolerance or a case raised; otherwise
        ``"PASS"`` if at least one case was compared, ``"SKIP"`` if none was.
        """
        if self.errors or not all(row.ok for row in self.rows):
            return "FAIL"
        return "PASS" if self.rows else "SKIP"

    @property
    def ok(self) -> bool:
        """True when :attr:`status` is ``"PASS"`` (skipped cases alone are no pass)."""
        return self.status == "PASS"

    @property
    def counts(self) -> dict:
        """Cases that passed, failed and were skipped: ``{"PASS": n, "FAIL": n, "SKIP": n}``."""
        cases = dict.fromkeys(row.case for row in self.rows)
        failed = {row.case for row in self.rows if not row.ok}
        return {"PASS": len([c for c in cases if c not in failed]),
                "FAIL": len(failed) + len(self.errors), "SKIP": len(self.skipped)}

    def format(self) -> str:
        """A fixed-width table: case, quantity, error, tolerance, worst leaf, verdict.

        Returns
        -------
        str
            A heading with the status and counts, one line per row, then one per error
            and per skipped case.
        """
        header = f"{'case':<28} {'quantity':<12} {'max rel err':>11} {'tolerance':>9}  " \
                 f"{'worst at':<10} result"
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        lines = [f"== {self.kind}: {self.status} ({counts})", header, "-" * len(header)]
        for r in self.rows:
            tol = "exact" if r.tolerance == EXACT else f"{r.tolerance:.0e}"
            verdict = "ok" if r.ok else "FAIL"
            extra = "; ".join(x for x in (r.note, "" if r.ok else r.detail) if x)
            lines.append(f"{r.case:<28} {r.quantity:<12} {r.error:>11.3e} {tol:>9}  "
                         f"{r.where:<10} {verdict}{'  (' + extra + ')' if extra else ''}")
        lines += [f"{'ERROR':<28} {msg}" for msg in self.errors]
        lines += [f"{'SKIP':<28} {msg}" for msg in self.skipped]
        return "\n".join(lines)


def relative_error(actual: Any, desired: Any) -> float:
    """Norm-wise relative error ``max|a - r| / max|r|`` (absolute when ``r`` is all zero)."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    if r.size == 0:
        return 0.0
    diff = float(np.max(np.abs(a - r)))
    if not np.isfinite(diff):
        return float("inf")
    scale = float(np.max(np.abs(r)))
    return diff / scale if scale > 0.0 else diff


def _align_columns(actual: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """``actual`` with each column flipped to the sign of its dot product with the matching
    ``desired`` column (why not by the sign convention: :func:`eigenvector_error`, Notes)."""
    if actual.ndim != 2:
        return actual
    signs = np.where(np.sum(actual * desired, axis=0) < 0.0, -1.0, 1.0)
    return actual * signs


def eigen_clusters(eigenvalues: Any, gap: float = EIGEN_CLUSTER_GAP) -> list[list[int]]:
    r"""Group descending eigenvalues into clusters of neighbours closer than ``gap`` relative.

    Consecutive eigenvalues :math:`\lambda_i, \lambda_{i+1}` (as given, descending) are
    in one cluster when :math:`|\lambda_i - \lambda_{i+1}| < \mathrm{gap}\cdot
    \max_j |\lambda_j|`; a cluster is a maximal run of such neighbours.

    Parameters
    ----------
    eigenvalues : array_like, shape (k,)
    gap : float, default :data:`EIGEN_CLUSTER_GAP`

    Returns
    -------
    list of list of int
        Column indices, one list per cluster (a simple eigenvalue is a list of one).

    Examples
    --------
    >>> eigen_clusters([3.0, 2.0, 2.0 - 1e-6, 1.0])
    [[0], [1, 2], [3]]
    """
    values = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return []
    scale = float(np.max(np.abs(values)))
    groups = [[0]]
    for i in range(1, values.size):
        if abs(values[i - 1] - values[i]) < gap * scale:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def eigenvector_error(actual: Any, desired: Any, eigenvalues: Any = None) -> float:
    r"""Norm-wise relative error of eigenvector columns, up to the freedom they have.

    * A column whose eigenvalue is simple (no neighbour within :data:`EIGEN_CLUSTER_GAP`)
      is determined up to sign: the port's column is flipped to the reference's sign
      (by the sign of their dot product, see Notes), then compared entry by entry.
      These columns together give
      :math:`\max|a - r| / \max|R|` over the whole reference matrix :math:`R`, the
      measure of every other quantity.
    * The columns :math:`V_C` of a cluster :math:`C` of eigenvalues
      (:func:`eigen_clusters`) are determined only as a subspace (any rotation of a basis
      of a repeated eigenvalue's eigenspace is as right as any other), so they are
      compared through their orthogonal projectors:
      :math:`\max|A_C A_C^T - R_C R_C^T| / \max|R_C R_C^T|`. For a single unit vector
      this is at most about twice the column's own relative error (:math:`aa^T - rr^T
      \approx \delta r^T + r\delta^T`), so the same tolerance applies.

    The figure is the largest of these. Clusters are found on the *reference*
    eigenvalues, which must also be separated from the next eigenvalue not returned (a
    fixture's case is chosen so); the port's columns are taken in the reference's order.

    Parameters
    ----------
    actual : array_like, shape (dim, k)
        The port's eigenvectors as columns (either sign, any basis of a cluster).
    desired : array_like, shape (dim, k)
        The reference's eigenvectors as columns.
    eigenvalues : array_like, shape (k,), optional
        The reference eigenvalues (descending). Without them every column is compared
        on its own, up to sign.

    Returns
    -------
    float
        The worst error (``inf`` when the port's values are not finite).

    Raises
    ------
    ValueError
        If either array is not 2-D.

    Notes
    -----
    The fixtures store every column in the convention of
    :func:`~rso_ref.golden.kinds.eigenvector_signs` (largest-magnitude entry positive),
    but a port's columns are aligned by :math:`\operatorname{sign}(a^T r)` rather than
    normalised to that convention. Both give the same sign whenever the column's leading
    entry stands out, and a wrong vector fails either way; they differ where the two
    largest magnitudes (of opposite signs) agree to within the vector's error. There the
    convention's sign is decided by rounding, and a correct port could be flipped and
    fail by a relative error of 2, while :math:`|a^T r| \approx 1` for any column within
    tolerance, so the dot product's sign is never in doubt. The convention is for
    storage: it makes the stored vectors independent of the machine that wrote them.

    Examples
    --------
    >>> import numpy as np
    >>> c, s = np.cos(0.3), np.sin(0.3)
    >>> reference = np.eye(4)[:, :3]
    >>> rotated = reference @ np.array([[-1.0, 0, 0], [0, c, -s], [0, s, c]])
    >>> eigenvector_error(rotated, reference, [3.0, 2.0, 2.0]) < 1e-15
    True
    >>> eigenvector_error(rotated, reference, [3.0, 2.0, 1.0]) > 0.1
    True
    """
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    if a.ndim != 2 or r.ndim != 2:
        raise ValueError(f"eigenvectors must be (dim, k) arrays of columns, got shapes "
                         f"{a.shape} and {r.shape}")
    a, r = _common(a, r)  # a shape mismatch is measured on the common leading block
    if r.size == 0:
        return 0.0
    k = r.shape[1]
    values = [] if eigenvalues is None else np.asarray(eigenvalues, np.float64).reshape(-1)[:k]
    groups = eigen_clusters(values)
    groups += [[j] for j in range(len(values), k)]  # columns without an eigenvalue: alone
    single = [g[0] for g in groups if len(g) == 1]
    errors = [0.0]
    if single:
        aligned = _align_columns(a[:, single], r[:, single])
        diff = float(np.max(np.abs(aligned - r[:, single])))
        if not np.isfinite(diff):
            return float("inf")
        scale = float(np.max(np.abs(r)))
        errors.append(diff / scale if scale > 0.0 else diff)
    for cluster in (g for g in groups if len(g) > 1):
        errors.append(relative_error(a[:, cluster] @ a[:, cluster].T,
                                     r[:, cluster] @ r[:, cluster].T))
    return max(errors)


def _common(actual: np.ndarray, desired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leading blocks of both arrays with the shape they share (for a mismatch's error)."""
    if actual.ndim != desired.ndim:
        return actual.reshape(-1)[:0], desired.reshape(-1)[:0]
    index = tuple(slice(0, min(a, d)) for a, d in zip(actual.shape, desired.shape))
    return actual[index], desired[index]


def _leaves(actual: Any, desired: Any, where: str, out: list) -> None:
    """Pair up leaves of two nestings: ``(where, actual, desired, note)``."""
    if isinstance(desired, list):
        if not isinstance(actual, list):
            out.append((where, None, None, f"expected a list of {len(desired)} at {where}"))
            return
        if len(actual) != len(desired):
            out.append((where, None, None,
                        f"length {len(actual)} vs reference {len(desired)} at {where or 'top'}"))
        for i, (a, d) in enumerate(zip(actual, desired)):
            _leaves(a, d, f"{where}[{i}]", out)
        return
    out.append((where, actual, desired, ""))


#: Kinds whose quantities are sequences over a leading axis, and that axis's name: the
#: rows of an L-BFGS run (row 0 is x0) and the chained steps of ``rso_step``.
TRAJECTORIES = {"lbfgs": "iteration", "rso_step": "step"}


def _value(x: Any) -> str:
    return repr(x.item()) if isinstance(x, np.generic) else repr(x)


def _locate(a: np.ndarray, d: np.ndarray, exact: bool, tol: float,
            axis_name: str | None) -> str:
    """Where two same-shape arrays differ: the first trajectory row out of tolerance, the
    worst (or for exact values the first) differing element and both values there."""
    if a.size == 0 or a.shape != d.shape:
        return ""
    a64, d64 = a.astype(np.float64), d.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - d64)
    diff = np.where(np.isnan(a64) & np.isnan(d64), 0.0, np.where(np.isnan(diff), np.inf, diff))
    if exact:
        bad = diff > 0.0
        if not bad.any():
            return ""
        index = np.unravel_index(int(np.argmax(bad)), a.shape) if a.ndim else ()
    else:
        index = np.unravel_index(int(np.argmax(diff)), a.shape) if a.ndim else ()
    parts = []
    if axis_name and a.ndim >= 1:
        scale = float(np.max(np.abs(d64))) if d64.size else 0.0
        rows = diff.reshape(a.shape[0], -1).max(axis=1) / (scale if scale > 0.0 else 1.0)
        over = np.nonzero(rows > tol)[0]
        if over.size:
            parts.append(f"first {axis_name} out of tolerance: {int(over[0])}")
    element = tuple(int(i) for i in index)
    label = f"element {element}" if element else "value"
    parts.append(f"{'first differing' if exact else 'worst'} {label}: port "
                 f"{_value(a[index])} vs reference {_value(d[index])}")
    return ", ".join(parts)


def _leaf_error(actual: Any, desired: Any, exact: bool, eigenvalues: Any = None,
                tol: float = 0.0, axis_name: str | None = None) -> tuple[float, str, str]:
    """Error, note and location detail of one leaf; ``eigenvalues`` (the reference's)
    marks a leaf of eigenvector columns (:func:`eigenvector_error`)."""
    a, d = np.asarray(actual), np.asarray(desired)
    note = ""
    full_a, full_d = a, d
    if a.shape != d.shape:
        note = f"shape {a.shape} vs reference {d.shape}"
        if axis_name and a.ndim == d.ndim and a.ndim >= 1 and a.shape[1:] == d.shape[1:]:
            first = 1 if axis_name == "iteration" else 0  # row 0 of a run is x0
            note += (f": the port has {a.shape[0] - first} {axis_name}s, the reference "
                     f"{d.shape[0] - first}" + (" (after x0)" if first else ""))
        a, d = _common(a, d)
    if exact:
        equal = full_a.shape == full_d.shape and bool(np.array_equal(a, d))
        detail = "" if equal else _locate(a, d, True, 0.0, axis_name)
        mismatch = 0.0 if equal else float(np.max(np.abs(a.astype(np.float64) - d), initial=0.0))
        if not equal and not note:
            note = f"{a.tolist()} vs reference {d.tolist()}" if d.size <= 8 else "values differ"
        return (mismatch if not equal else 0.0), note or ("" if equal else "differs"), detail
    if eigenvalues is not None and a.ndim == 2:
        return eigenvector_error(a, d, eigenvalues), note, ""
    error = relative_error(a, d)
    detail = _locate(a, d, False, tol, axis_name) if (error > tol or note) else ""
    return error, note, detail


def compare_outputs(kind: str, case: str, actual: dict, desired: dict) -> list[Row]:
    """Rows of one case: each quantity of the reference against the port's value.

    A quantity of the kind that the stored case lacks, or a stored quantity the kind
    does not know, is a failing row: an emptied or edited fixture never passes.
    """
    spec = KINDS[kind]
    rows = [Row(case, quantity, float("inf"), tol, "", False, "missing from the fixture")
            for quantity, tol in spec.tolerances.items() if quantity not in desired]
    for quantity, reference in desired.items():
        if quantity not in spec.tolerances:
            rows.append(Row(case, quantity, float("inf"), 0.0, "", False,
                            f"not a quantity of the {kind} kind"))
            continue
        tol = spec.tolerances[quantity]
        if quantity not in actual:
            if quantity in spec.optional:
                continue
            rows.append(Row(case, quantity, float("inf"), tol, "", False, "not returned"))
            continue
        pairs: list = []
        _leaves(actual[quantity], reference, "", pairs)
        eigenvalues = None
        if quantity in spec.eigenvalues_of:  # up to sign, clusters as subspaces
            eigenvalues = desired.get(spec.eigenvalues_of[quantity], ())
            eigenvalues = eigenvalues if isinstance(eigenvalues, np.ndarray) else ()
        worst, worst_at, notes, details = 0.0, "", [], []
        axis_name = TRAJECTORIES.get(kind)
        for where, a, d, note in pairs:
            if a is None:
                worst, notes = float("inf"), notes + [note]
                continue
            err, leaf_note, detail = _leaf_error(a, d, tol == EXACT, eigenvalues, tol,
                                                 axis_name if not where else None)
            if leaf_note:
                notes.append(f"{where}: {leaf_note}" if where else leaf_note)
            if detail:
                details.append(f"{where}: {detail}" if where else detail)
            if err > worst or (err == worst and not worst_at and leaf_note):
                worst, worst_at = err, where
        failed = bool(notes) or not worst <= tol
        rows.append(Row(case, quantity, worst, tol, worst_at or "-", not failed,
                        "; ".join(notes[:2]), "; ".join(details[:2]) if failed else ""))
    return rows


def run_port(kind: str, port: Callable, case: dict, like: Any = None) -> dict:
    """Call ``port`` on a stored case through the kind's runner.

    The case's input arrays go to the namespace and device of ``like`` (host NumPy when
    None); the returned quantities are host values.
    """
    return KINDS[kind].run(port, case["options"], case["inputs"], like)
