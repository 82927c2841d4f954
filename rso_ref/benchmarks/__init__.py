"""Timing benchmarks shipped with the package; ``rso-ref bench NAME`` runs one.

Each benchmark is a module of this package with ``main(argv=None) -> int`` taking
``--quick`` (fewer repeats; the JSON then says ``"quick": true``) and ``--out PATH``.
Results never go into the package or over the recorded results of the source tree
(``benchmarks/results/``): the default is ``./rso-ref-out/bench/<name>.json`` under the
current directory. ``rso-ref bench`` runs only the modules of :data:`BENCHMARKS`, by
import, never a file found by path.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

__all__ = ["BENCHMARKS", "run", "default_out", "parse_args", "finish", "median_time",
           "device_work"]

#: ``rso-ref bench`` name -> module of this package.
BENCHMARKS: dict[str, str] = {
    "lbfgs": "lbfgs_vs_scipy",
    "models": "models_vs_torch",
    "lanczos": "lanczos_vs_eigsh",
    "rso": "rso_overhead",
    "checkpoint": "checkpoint_save",
    "gpu": "gpu_check",
    "peer": "peer_suite",
    "ddp": "ddp_overhead",
    "rso-host": "rso_host_cost",
    "compile": "compile_overhead",
}


def default_out(module: str) -> Path:
    """``./rso-ref-out/bench/<module>.json``, resolved against the current directory now."""
    return Path.cwd() / "rso-ref-out" / "bench" / f"{module}.json"


def parse_args(parser: argparse.ArgumentParser, module: str,
               argv: Sequence[str] | None) -> argparse.Namespace:
    """Add the common ``--quick`` and ``--out`` options to ``parser`` and parse ``argv``.

    ``module`` is the benchmark's module name (the last part of ``__name__``); it names
    the default output file (:func:`default_out`).
    """
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and sizes (minutes); the JSON says quick: true")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON output (default ./rso-ref-out/bench/{module}.json)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = default_out(module)
    return args


def finish(result: dict, args: argparse.Namespace) -> Path:
    """Write ``result`` with ``"quick"`` set from ``args`` to ``args.out`` (atomically)."""
    from ..checkpoint import write_json_atomic

    return write_json_atomic(args.out, {**result, "quick": bool(args.quick)})


def median_time(fn: Callable[[], object], repeats: int, *, warmup: int = 0) -> float:
    """Median wall time (s) of ``repeats`` calls of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def device_work() -> Iterator[dict]:
    """Count the solvers' device work while the block runs.

    Yields a dict whose ``"dispatches"`` counts calls of the library's fused pieces with a
    namespace that compiles them (:func:`rso_ref.backend.compiles`: one compiled-program
    dispatch each; NumPy runs them as plain functions, uncounted) and ``"transfers"`` the
    ``to_numpy`` calls of :mod:`rso_ref.lbfgs`, :mod:`rso_ref.linesearch`,
    :mod:`rso_ref.rso` and :mod:`rso_ref.tree` on arrays that are not NumPy's
    (device-to-host transfers). The counting wrappers are removed on exit.
    """
    from rso_ref import lbfgs, linesearch, rso, tree
    from rso_ref.backend import compiles, fusion

    counts = {"dispatches": 0, "transfers": 0}
    real_call, real_to_numpy = fusion._Fused.__call__, tree.to_numpy
    modules = (lbfgs, linesearch, rso, tree)

    def counting_call(self, xp, *args, **kwargs):
        counts["dispatches"] += int(compiles(xp))
        return real_call(self, xp, *args, **kwargs)

    def counting_to_numpy(x):
        counts["transfers"] += int(not type(x).__module__.startswith("numpy"))
        return real_to_numpy(x)

    fusion._Fused.__call__ = counting_call
    for module in modules:
        module.to_numpy = counting_to_numpy
    try:
        yield counts
    finally:
        fusion._Fused.__call__ = real_call
        for module in modules:
            module.to_numpy = real_to_numpy


def run(name: str, argv: Sequence[str] | None = None) -> int:
    """Import the benchmark ``name`` (a key of :data:`BENCHMARKS`) and call its ``main``."""
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {sorted(BENCHMARKS)}, got {name!r}")
    module = importlib.import_module(f"{__name__}.{BENCHMARKS[name]}")
    return module.main(argv)
