r"""Cost of one checkpoint save as the step history grows.

:func:`rso_ref.train.train` saves a checkpoint after every epoch. The state (parameters,
optimizer state, per-epoch log) has a fixed size; the per-step history grows by one
row per step. With the history in an append-only file beside the checkpoint
(:class:`rso_ref.checkpoint.Checkpoint`), a save writes the state plus the rows of the
last epoch, so its time should not depend on how many rows came before.

For histories of :math:`N` = 2 000, 20 000 and 200 000 rows (the columns ``train``
records: loss, grad_norm, time, nfev, two RSO weights), with fixed small parameters
(an MLP 64-32-10 and Adam's two moments, float64), this measures, interleaved across
:math:`N`, the median time of a save that appends one epoch of ``new_rows`` = 100
steps, and the sizes of the state and history files. Target:
:math:`t(200\,000) / t(2\,000) \le 2`.

For comparison it also times the layout the history replaced: the whole history in
the JSON state (:func:`rso_ref.checkpoint.save` of a state holding it), with fewer
repeats at large :math:`N` because each such save takes seconds.

Usage: ``rso-ref bench checkpoint [--quick] [--out PATH]`` (or ``python -m
rso_ref.benchmarks.checkpoint_save``); the exit status is 1 when the target is missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from rso_ref.benchmarks import finish, parse_args
from rso_ref.checkpoint import Checkpoint, save

SIZES = (2_000, 20_000, 200_000)
NEW_ROWS = 100  # steps per epoch: the rows each save appends


def _state(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    shapes = [(64, 32), (32,), (32, 10), (10,)]
    params = [rng.standard_normal(s) for s in shapes]
    moments = {"mu": [np.zeros(s) for s in shapes], "nu": [np.zeros(s) for s in shapes]}
    return {"params": params, "opt_state": {"count": epoch, **moments}, "epoch": epoch}


def _grow(history: dict, rows: int, rng: np.random.Generator) -> None:
    """Append ``rows`` steps of the records ``train`` keeps."""
    values = rng.standard_normal((rows, 5))
    for row in values:
        history["loss"].append(float(row[0]))
        history["grad_norm"].append(abs(float(row[1])))
        history["time"].append(abs(float(row[2])) * 1e-3)
        history["nfev"].append(3)
        history["w"].append([float(row[3]), float(row[4])])


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool, directory: Path) -> dict:
    repeats = 5 if quick else 21
    legacy_repeats = {2_000: 3, 20_000: 3, 200_000: 1} if quick else \
        {2_000: 11, 20_000: 7, 200_000: 3}
    rng = np.random.default_rng(0)
    cases = {}
    for n in SIZES:
        history = {"loss": [], "grad_norm": [], "time": [], "nfev": [], "w": []}
        _grow(history, n, rng)
        store = Checkpoint(directory / f"n{n}" / "last")
        store.save(_state(0), history=history)  # the first save writes all n rows
        cases[n] = {"store": store, "history": history, "times": [], "legacy": []}
    for repeat in range(repeats):  # interleaved, so a burst of load hits every size alike
        for n, case in cases.items():
            _grow(case["history"], NEW_ROWS, rng)
            case["times"].append(_timed(lambda: case["store"].save(
                _state(repeat + 1), history=case["history"])))
            if repeat < legacy_repeats[n]:
                legacy = {**_state(repeat + 1), "steps": case["history"]}
                case["legacy"].append(_timed(lambda: save(directory / f"n{n}" / "legacy",
                                                          legacy)))
    rows = []
    for n, case in cases.items():
        path = case["store"].path
        (history_file,) = path.parent.glob("last.history-*.jsonl")
        rows.append({
            "history_rows": n,
            "t_save_median": statistics.median(case["times"]),
            "t_save_min": min(case["times"]),
            "repeats": len(case["times"]),
            "state_json_bytes": (path / "state.json").stat().st_size,
            "history_file_bytes": history_file.stat().st_size,
            "t_legacy_save_median": statistics.median(case["legacy"]),
            "legacy_repeats": len(case["legacy"]),
            "legacy_state_json_bytes": (path.parent / "legacy" / "state.json").stat().st_size,
        })
    first, last = rows[0], rows[-1]
    return {
        "benchmark": "checkpoint_save",
        "new_rows_per_save": NEW_ROWS,
        "per_size": rows,
        "ratio_200k_over_2k": last["t_save_median"] / first["t_save_median"],
        "target_ratio": 2.0,
        "legacy_ratio_200k_over_2k": last["t_legacy_save_median"] / first["t_legacy_save_median"],
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "cpus": os.cpu_count(),
                    "loadavg_1_5_15": list(os.getloadavg()), "directory": str(directory)},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parse_args(parser, "checkpoint_save", argv)
    with tempfile.TemporaryDirectory(prefix="rso-ref-checkpoint-bench-") as directory:
        result = run(args.quick, Path(directory))
    finish(result, args)
    for row in result["per_size"]:
        print(f"{row['history_rows']:>7} rows: save {1e3 * row['t_save_median']:7.2f} ms "
              f"(state {row['state_json_bytes']} B, history {row['history_file_bytes']} B); "
              f"history in the JSON state: {1e3 * row['t_legacy_save_median']:8.1f} ms")
    print(f"t(200k)/t(2k) = {result['ratio_200k_over_2k']:.2f} (target <= 2); "
          f"with the history in the JSON state: {result['legacy_ratio_200k_over_2k']:.1f}")
    print(f"wrote {args.out}")
    return 0 if result["ratio_200k_over_2k"] <= result["target_ratio"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
