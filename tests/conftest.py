"""Shared fixtures: the one ``xp`` fixture that runs a test on every available backend.

numpy and array_api_strict always run, the latter twice: on its default device and on
its second device ``"device1"``, the stand-in for a GPU (array_api_strict refuses to mix
devices and refuses to hand such arrays to NumPy, as CuPy and torch-CUDA do). torch
(CPU, float64) and JAX (``jax.numpy`` with ``jax_enable_x64``) run when installed; cupy
runs under the ``gpu`` marker when CuPy and a CUDA device are usable. A backend that is
missing is skipped with its reason shown (``pytest -ra``), never silently dropped.

Tests make their inputs with ``xp.asarray(...)``, ``xp.zeros(...)`` and so on. For a
device case the fixture hands out :class:`DeviceNamespace`, a test-side wrapper whose
creation functions put arrays on that device unless told otherwise; every other name is
the real namespace's. Library code that works from arrays never sees the wrapper: it
asks ``backend.array_namespace`` for the namespace of the arrays it gets, which is the
real one, so an array the library creates without the input's device lands on the
default device and the next operation mixing the two raises. (A test that passes the
wrapper itself as ``xp=`` to a function that has no input array, such as
``backend.random_normal``, asks for that device, as a user passing ``device=`` would.)

``xp32`` runs float32 tests on array_api_strict's float32-only devices: ``"no_float64"``
(like Apple MPS) and ``"no_x64"`` (like JAX without x64: no float64, no int64).

Tests marked ``gpu`` (CuPy, torch on CUDA) need a CUDA GPU. Where none is usable, they
are skipped before they run, with one reason, and reported on one line of the ``-ra``
summary (``SKIPPED [<count>] tests/conftest.py:<line>: no CUDA GPU usable here: ...``)
instead of one line per test, which buried the result.

``on_device(*arrays)`` asserts that every array (lists of arrays included) is an array of
the test's ``xp`` (or ``xp32``) backend and lives on its device.

Tests marked ``portable`` read numbers computed elsewhere (golden fixtures, committed
reports under theory/, published values) or compare two solvers' paths (ours against
scipy, torch.optim, the example ports); ``.ci/run`` runs them again under each OpenBLAS
kernel the CPU has (``OPENBLAS_CORETYPE``), since each kernel rounds differently. A
module that is all of that sort says so with ``pytestmark``, other tests carry the mark
themselves, and the modules in ``_PORTABLE_MODULES`` get it here.
"""
from __future__ import annotations

import types
from typing import Any

import pytest

from rso_ref import backend


#: Creation functions whose ``device=`` defaults to the wrapped device. The ``*_like``
#: functions are left alone: the standard already puts their result on ``x``'s device.
_CREATION = ("asarray", "zeros", "ones", "empty", "full", "arange", "linspace", "eye")


class DeviceNamespace(types.ModuleType):
    """A namespace whose creation functions default to ``device``; the rest delegates.

    Test-side only: it keeps the real namespace's ``__name__`` so that tests asking
    ``backend.backend_name(xp)`` see the real backend.
    """

    def __init__(self, xp: types.ModuleType, device: Any):
        super().__init__(xp.__name__)
        self._xp = xp
        self._device = device

    def __getattr__(self, name: str):
        attr = getattr(self._xp, name)
        if name not in _CREATION:
            return attr

        def create(*args, **kwargs):
            if kwargs.get("device") is None:   # device=None means the default device
                kwargs["device"] = self._device
            return attr(*args, **kwargs)

        return create

    def __repr__(self) -> str:
        return f"<{self._xp.__name__} on {self._device!r} (test wrapper)>"


def _enable_jax_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _real_namespace(name: str) -> types.ModuleType:
    try:
        if name == "jax":
            _enable_jax_x64()
        ns = backend.namespace(name)
    except (RuntimeError, ImportError) as exc:
        pytest.skip(str(exc))
    # As sklearn does: take the namespace from an actual array, not the bare module.
    return backend.array_namespace(ns.asarray([0.0]))


def _strict_on(device_name: str) -> types.ModuleType:
    import array_api_strict

    real = _real_namespace("array_api_strict")
    return DeviceNamespace(real, array_api_strict.Device(device_name))


_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict"),
    pytest.param("array_api_strict:device1", id="array_api_strict-device1"),
    pytest.param("torch", id="torch", marks=pytest.mark.torch),
    pytest.param("jax", id="jax", marks=pytest.mark.jax),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]

_PARAMS32 = [
    pytest.param("array_api_strict:no_float64", id="array_api_strict-no_float64"),
    pytest.param("array_api_strict:no_x64", id="array_api_strict-no_x64"),
]


def _make(param: str) -> types.ModuleType:
    name, _, device = param.partition(":")
    return _strict_on(device) if device else _real_namespace(name)


@pytest.fixture(params=_PARAMS)
def xp(request):
    """The array-API namespace of one backend (and device) under test."""
    return _make(request.param)


@pytest.fixture(params=_PARAMS32)
def xp32(request):
    """A namespace on a float32-only device: float32 runs work, float64 is refused."""
    return _make(request.param)


def _device_of_namespace(ns: types.ModuleType) -> Any:
    return backend.device(ns.asarray(0.0, dtype=ns.float32))


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        elif item is not None and not isinstance(item, (bool, int, float)):
            yield item


@pytest.fixture
def on_device(request):
    """``on_device(*arrays)``: assert every array is of the test's backend and on its device.

    Uses the test's ``xp`` (or ``xp32``) fixture; lists and tuples of arrays are
    searched; ``None`` and Python scalars (documented host scalars) are skipped.
    """
    names = [n for n in ("xp", "xp32") if n in request.fixturenames]
    if not names:
        raise RuntimeError("on_device needs the test to use the xp or xp32 fixture")
    ns = request.getfixturevalue(names[0])
    expected, name = _device_of_namespace(ns), backend.backend_name(ns)

    def check(*arrays):
        for i, a in enumerate(_flatten(arrays)):
            got_name = backend.backend_name(backend.array_namespace(a))
            assert got_name == name, f"array {i} is a {got_name} array, expected {name}"
            got = backend.device(a)
            assert got == expected, (f"array {i} (shape {tuple(a.shape)}) is on {got!r}, "
                                     f"expected {expected!r}")

    return check


@pytest.fixture
def np_xp():
    """The NumPy namespace only (for tests that need autograd or scipy)."""
    return backend.namespace("numpy")


# -- gpu tests on a machine without a CUDA GPU: one reason, one summary line -------------

_NO_GPU = pytest.StashKey[str]()


def _no_gpu_reason() -> str | None:
    """Why no ``gpu`` test can run here; None where CuPy or torch has a CUDA device."""
    try:
        backend.namespace("cupy")
        return None
    except RuntimeError as exc:
        cupy = str(exc)
    try:
        import torch
    except ImportError:
        return f"no CUDA GPU usable here: {cupy}; torch is not installed"
    if torch.cuda.is_available():
        return None
    return f"no CUDA GPU usable here: {cupy}; torch has no CUDA device"


#: Modules marked ``portable`` as a whole from here rather than by their own ``pytestmark``:
#: every test in them compares with stored numbers (golden fixtures, pinned nfev/nit,
#: published values such as Moré-Thuente's tables) or with SciPy's path on the same
#: problem (L-BFGS-B, the BenchDFO and BenchSmoothUnbounded peer runs), and they are
#: edited alongside the solvers and fixtures they test, so one list here keeps the mark
#: out of their way.
_PORTABLE_MODULES = ("test_lbfgs.py", "test_linesearch.py", "test_golden.py",
                     "test_golden_cli.py", "test_golden_integrity.py",
                     "test_golden_tolerances.py", "test_more_wild.py",
                     "test_smooth_unbounded.py")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by mark
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in _PORTABLE_MODULES:
            item.add_marker(pytest.mark.portable)
    gpu = [item for item in items if item.get_closest_marker("gpu") is not None]
    reason = _no_gpu_reason() if gpu else None
    if reason is not None:
        for item in gpu:
            item.stash[_NO_GPU] = reason


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before the skip marks and fixtures: a skip raised here is filed under this line, so
    # the -ra summary folds every such test into one line (pytest files a skip from a
    # mark or a fixture under the test's own line: 85 lines, one per gpu test).
    if _NO_GPU in item.stash:
        pytest.skip(item.stash[_NO_GPU])
