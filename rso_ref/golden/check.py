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
Columns of a *sign-free* quantity (eigenvectors) are compared after flipping each port
column to the sign of the reference column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .kinds import EXACT, KINDS

__all__ = ["Row", "VerifyReport", "relative_error", "compare_outputs"]


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
    """

    case: str
    quantity: str
    error: float
    tolerance: float
    where: str
    ok: bool
    note: str = ""


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
            lines.append(f"{r.case:<28} {r.quantity:<12} {r.error:>11.3e} {tol:>9}  "
                         f"{r.where:<10} {verdict}{'  (' + r.note + ')' if r.note else ''}")
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
    if actual.ndim != 2:
        return actual
    signs = np.where(np.sum(actual * desired, axis=0) < 0.0, -1.0, 1.0)
    return actual * signs


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


def _leaf_error(actual: Any, desired: Any, exact: bool, sign_free: bool) -> tuple[float, str]:
    a, d = np.asarray(actual), np.asarray(desired)
    note = ""
    if a.shape != d.shape:
        note = f"shape {a.shape} vs reference {d.shape}"
        a, d = _common(a, d)
    if exact:
        equal = a.shape == d.shape and bool(np.array_equal(a, d))
        mismatch = 0.0 if equal else float(np.max(np.abs(a.astype(np.float64) - d), initial=0.0))
        if not equal and not note:
            note = f"{a.tolist()} vs reference {d.tolist()}" if d.size <= 8 else "values differ"
        return (mismatch if not equal else 0.0), note or ("" if equal else "differs")
    if sign_free:
        a = _align_columns(a.astype(np.float64), d)
    return relative_error(a, d), note


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
        worst, worst_at, notes = 0.0, "", []
        for where, a, d, note in pairs:
            if a is None:
                worst, notes = float("inf"), notes + [note]
                continue
            err, leaf_note = _leaf_error(a, d, tol == EXACT, quantity in spec.sign_free)
            if leaf_note:
                notes.append(f"{where}: {leaf_note}" if where else leaf_note)
            if err > worst or (err == worst and not worst_at and leaf_note):
                worst, worst_at = err, where
        failed = bool(notes) or not worst <= tol
        rows.append(Row(case, quantity, worst, tol, worst_at or "-", not failed,
                        "; ".join(notes[:2])))
    return rows


def run_port(kind: str, port: Callable, case: dict, like: Any = None) -> dict:
    """Call ``port`` on a stored case through the kind's runner.

    The case's input arrays go to the namespace and device of ``like`` (host NumPy when
    None); the returned quantities are host values.
    """
    return KINDS[kind].run(port, case["options"], case["inputs"], like)
