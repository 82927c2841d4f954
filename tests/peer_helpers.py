"""Helpers of the peer tests: one BLAS thread, failure messages, SciPy's benchmark sources.

:func:`one_blas_thread` is a module-scoped autouse fixture for the test modules that
import it: the peer runs work on vectors of 1 to 65 entries, where a multi-threaded BLAS
only adds contention (the three peer modules ran 3-4x slower with OpenBLAS's default
threads on a busy 2-core machine).

The peer tests compare :mod:`rso_ref.testing.more_wild` and
:mod:`rso_ref.testing.smooth_unbounded` with SciPy's own benchmark code
(``benchmarks/benchmarks/cutest/dfovec.py`` and friends), which lives only in SciPy's
repository. Point ``RSO_REF_SCIPY_SOURCE`` at a SciPy checkout or at a git directory of
SciPy (read at its ``HEAD``); without one, the tests that need it skip with a reason.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

#: Where to look when ``RSO_REF_SCIPY_SOURCE`` is not set (a mirror of SciPy's
#: repository on the development machines).
DEFAULT_SOURCES = ("/work/.mirror/scipy+scipy/repo",)


def peer_failure(case, row: dict) -> str:
    """What a failed peer run reports: the case's origin and start, the verdict's reason,
    and both solvers' value, evaluations, status and our message."""
    scipy_row, ours = row["scipy"], row["ours"]
    return (f"{case.origin} from {np.ravel(case.x0).tolist()}: {row['reason']}; SciPy "
            f"f={scipy_row['f']:.10g} nfev={scipy_row['nfev']} status={scipy_row['status']}, "
            f"ours f={ours['f']:.10g} nfev={ours['nfev']} status={ours['status']} "
            f"({ours['message']})")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Run the module's tests with one BLAS thread (unlimited without threadpoolctl)."""
    try:
        from rso_ref.extras import threadpool_limits
        limiter = threadpool_limits(1, user_api="blas")
    except ImportError:   # threadpoolctl (the cli extra) missing: leave BLAS as it is
        yield
        return
    with limiter:
        yield


def _roots() -> list[Path]:
    given = os.environ.get("RSO_REF_SCIPY_SOURCE")
    return [Path(given)] if given else [Path(p) for p in DEFAULT_SOURCES]


def read_source(path: str) -> str:
    """The text of ``path`` (relative to SciPy's repository root), or skip the test.

    Parameters
    ----------
    path : str
        E.g. ``"benchmarks/benchmarks/cutest/dfovec.py"``.

    Returns
    -------
    str
        The file's text: from the work tree when the root has one, else from ``HEAD``.
    """
    for root in _roots():
        if (root / path).is_file():
            return (root / path).read_text()
        if root.is_dir():
            try:
                out = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{path}"],
                                     capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.SubprocessError):   # no git here
                continue
            if out.returncode == 0:
                return out.stdout
    pytest.skip(f"SciPy's source ({path}) not found: set RSO_REF_SCIPY_SOURCE to a SciPy "
                "checkout or git directory")


def load_module(path: str, directory: Path) -> ModuleType:
    """Write SciPy's ``path`` into ``directory`` and import it as a top-level module.

    Parameters
    ----------
    path : str
        The file, relative to SciPy's repository root.
    directory : pathlib.Path
        A scratch directory (``tmp_path_factory``).

    Returns
    -------
    module
        The imported module, named after the file (``scipy_bench_<stem>``).
    """
    target = directory / Path(path).name
    target.write_text(read_source(path))
    name = f"scipy_bench_{target.stem}"
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
