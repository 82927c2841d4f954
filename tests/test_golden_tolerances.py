"""Every documented tolerance is tested at its boundary: 0.5x passes, 2x fails.

Before, the golden tests used either gross errors or 1e-14 noise, so verification with
tolerances ten times looser than documented passed the whole suite. Here a stored output
is moved by exactly ``factor * tol`` relative (one entry of one leaf, the entry of
largest magnitude, so the norm-wise error of :mod:`rso_ref.golden.check` equals it) and
compared with the untouched one.
"""
import copy

import numpy as np
import pytest

from rso_ref import golden
from rso_ref.golden.check import compare_outputs
from rso_ref.golden.kinds import EXACT


def _first_leaf_path(value, path=()):
    """Index path of the first array leaf of a nested list (``()`` for a bare leaf)."""
    if isinstance(value, list):
        return _first_leaf_path(value[0], path + (0,))
    return path


def _moved(outputs, quantity, relative):
    """A deep copy of ``outputs`` whose ``quantity`` is off by ``relative`` (norm-wise)."""
    out = copy.deepcopy(outputs)
    path = _first_leaf_path(out[quantity])
    parent, leaf = None, out[quantity]
    for i in path:
        parent, leaf = leaf, leaf[i]
    moved = np.array(leaf, dtype=np.float64)
    flat = moved.reshape(-1)
    j = int(np.argmax(np.abs(flat)))
    flat[j] += relative * abs(flat[j]) * (1.0 if flat[j] >= 0 else -1.0)
    moved = moved if moved.ndim else float(moved)
    if parent is None:
        out[quantity] = moved
    else:
        parent[path[-1]] = moved
    return out


_BOUNDARY = [(kind, quantity, tol) for kind, spec in golden.KINDS.items()
             for quantity, tol in spec.tolerances.items() if tol != EXACT]


@pytest.mark.parametrize("kind,quantity,tol", _BOUNDARY,
                         ids=[f"{k}-{q}" for k, q, _ in _BOUNDARY])
def test_half_the_tolerance_passes_and_twice_it_fails(kind, quantity, tol):
    case = golden.load(kind).cases[0]
    stored = case["outputs"]
    assert all(r.ok for r in compare_outputs(kind, case["name"], stored, stored))
    rows = {factor: {r.quantity: r for r in compare_outputs(
        kind, case["name"], _moved(stored, quantity, factor * tol), stored)}[quantity]
        for factor in (0.5, 2.0)}
    assert rows[0.5].ok, rows[0.5]
    assert not rows[2.0].ok, rows[2.0]
    # the measured error is the one applied (the relative move of one entry)
    assert rows[2.0].error == pytest.approx(2.0 * tol, rel=1e-4)


def test_the_boundary_holds_through_verify():
    """The same boundary with a port that returns the stored outputs, moved."""
    def port_off_by(relative):
        def mlp(params, X, y, *, activation, loss):
            case = next(c for c in golden.load("mlp").cases
                        if c["inputs"]["params"][0].shape == params[0].shape
                        and c["options"]["activation"] == activation)
            moved = _moved(case["outputs"], "grads", relative)
            return moved["loss"], moved["grads"][:]
        return mlp

    tol = golden.KINDS["mlp"].tolerances["grads"]
    assert golden.verify(port_off_by(0.5 * tol), "mlp").ok
    report = golden.verify(port_off_by(2.0 * tol), "mlp")
    assert {r.quantity for r in report.rows if not r.ok} == {"grads"}


@pytest.mark.parametrize("kind", list(golden.KINDS))
def test_the_code_s_tolerances_are_the_ones_stored_with_the_pinned_fixtures(kind):
    """Loosening a tolerance in code without regenerating (and re-pinning) fails here."""
    assert golden.load(kind).meta["tolerances"] == golden.KINDS[kind].tolerances
