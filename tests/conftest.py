"""Shared fixtures: the one ``xp`` fixture that runs a test on every available backend.

numpy and array_api_strict always run; torch (CPU, float64) runs when installed; cupy
runs under the ``gpu`` marker when CuPy and a CUDA device are usable. A backend that is
missing is skipped with its reason shown (``pytest -ra``), never silently dropped.
"""
import pytest

from rso_ref import backend

_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict"),
    pytest.param("torch", id="torch", marks=pytest.mark.torch),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]


@pytest.fixture(params=_PARAMS)
def xp(request):
    """The array-API namespace of one backend, built from a real array of it."""
    try:
        ns = backend.namespace(request.param)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    # As sklearn does: take the namespace from an actual array, not the bare module.
    return backend.array_namespace(ns.asarray([0.0]))


@pytest.fixture
def np_xp():
    """The NumPy namespace only (for tests that need autograd or scipy)."""
    return backend.namespace("numpy")
