"""The ``rso-ref`` command: ``demo``, ``compare``, ``theory``, ``golden`` and ``bench``.

Errors from bad options are printed as one line (``rso-ref: error: ...``) with exit
status 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .benchmarks import BENCHMARKS

__all__ = ["main", "build_parser"]


def _csv(text: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _seeds(text: str) -> tuple[int, ...]:
    try:
        if text.isdigit():
            return tuple(range(int(text)))
        return tuple(int(s) for s in _csv(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"seeds: {exc}") from exc


def _lrs(text: str) -> dict:
    out = {}
    for item in _csv(text):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--lr entries look like name=value, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--lr {item!r}: {exc}") from exc
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rso-ref``."""
    parser = argparse.ArgumentParser(
        prog="rso-ref", description="Reference implementation of Recursive Subspace Optimization.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train an MLP on digits with SGD, Adam and RSO (< 2 min)")
    demo.add_argument("--out", default="rso-ref-out/demo", help="output directory")
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--no-progress", action="store_true")

    cmp_ = sub.add_parser("compare", help="any model x data x optimizers, mean ± std over seeds; "
                                          "--preset runs the paper's tables at small scale")
    cmp_.add_argument("--preset", default=None,
                      help="a preset name (see --list-presets) or 'all': tune, 5 seeds, "
                           "Welch tests, pages")
    cmp_.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    cmp_.add_argument("--model", default=None, help="mlp (default), convnet1d, convnet2d, resnet")
    cmp_.add_argument("--data", default=None, help="digits (default), mnist1d, cifar_like, "
                                                   "mnist, cifar10")
    cmp_.add_argument("--data-path", default=None,
                      help="directory of the files of --data mnist / cifar10")
    cmp_.add_argument("--optimizers", type=_csv, default=None,
                      help="comma list (default sgd,adam,rso)")
    cmp_.add_argument("--epochs", type=int, default=None, help="default 10, or the preset's")
    cmp_.add_argument("--seeds", type=_seeds, default=None,
                      help="a count N (seeds 0..N-1) or a comma list (default 3, or the preset's)")
    cmp_.add_argument("--batch-size", type=int, default=None, help="default 64")
    cmp_.add_argument("--backend", default=None, help="default numpy")
    cmp_.add_argument("--dtype", default=None, choices=("float64", "float32"),
                      help="default float64")
    cmp_.add_argument("--lr", type=_lrs, default=None, help="e.g. sgd=0.05,rso=0.1")
    cmp_.add_argument("--meta-iters", type=int, default=None, help="RSO K")
    cmp_.add_argument("--groups", default=None, help="RSO grouping: layer, block, uniform:N")
    cmp_.add_argument("--tune-lr", action="store_true",
                      help="first choose each optimizer's lr on a validation split "
                           "(the same 5-point grid around its default for every optimizer)")
    cmp_.add_argument("--no-tune", action="store_true",
                      help="with --preset: skip the learning-rate search (defaults)")
    cmp_.add_argument("--out", default=None,
                      help="output directory (default rso-ref-out/compare or "
                           "rso-ref-out/presets[/NAME])")
    cmp_.add_argument("--no-progress", action="store_true")

    theory = sub.add_parser("theory", help="run the papers' claims and write the verdict report")
    theory.add_argument("--quick", action="store_true", help="minutes on a 2-core CPU")
    theory.add_argument("--claim", action="append", default=None, help="claim id (repeatable)")
    theory.add_argument("--out", default=None,
                        help="output directory (default rso-ref-out/theory[-quick])")
    theory.add_argument("--list", action="store_true", help="list the claim ids and exit")

    golden = sub.add_parser("golden", help="write or verify the golden fixtures for ports")
    golden_sub = golden.add_subparsers(dest="action", required=True)
    g_write = golden_sub.add_parser("write", help="regenerate the fixtures into a directory")
    g_write.add_argument("out_dir")
    g_verify = golden_sub.add_parser("verify", help="check a port against the fixtures")
    g_verify.add_argument("--port", required=True,
                          help="'module:function' (with --kind) or 'module' (every kind it defines)")
    g_verify.add_argument("--kind", default=None)
    g_verify.add_argument("--fixtures", default=None, help="fixture directory (default: shipped)")

    bench = sub.add_parser("bench", help="run a benchmark shipped in rso_ref.benchmarks, "
                                         "JSON out")
    bench.add_argument("name", choices=sorted(BENCHMARKS), help="the benchmark")
    bench.add_argument("--quick", action="store_true",
                       help="fewer repeats and sizes; the JSON says \"quick\": true")
    bench.add_argument("--out", default=None,
                       help="JSON output (default ./rso-ref-out/bench/<module>.json)")
    return parser


def _run_compare(config, out: str, progress: bool, tune: bool = False) -> int:
    import dataclasses

    from .compare import run_comparison, summary_table, tune_learning_rates, write_report

    tuning = None
    if tune:
        tuning = tune_learning_rates(config, progress=progress, log=print)
        config = dataclasses.replace(config, lrs={name: t["best"] for name, t in tuning.items()})
    report = run_comparison(config, progress=progress, log=print)
    if tuning is not None:
        report["lr_tuning"] = tuning
    print()
    print(summary_table(report))
    paths = write_report(report, out)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0


def _demo(args) -> int:
    from .compare import CompareConfig

    config = CompareConfig(model="mlp", data="digits", optimizers=("sgd", "adam", "rso"),
                           epochs=args.epochs, seeds=(0,))
    return _run_compare(config, args.out, not args.no_progress)


#: ``rso-ref compare`` options a preset fixes (refused together with --preset).
_PRESET_FIXED = ("model", "optimizers", "lr", "meta_iters", "groups", "tune_lr")
#: Options that may change a preset's run, as CompareConfig fields.
_PRESET_OVERRIDES = ("batch_size", "backend", "dtype")


def _given(args, names: Sequence[str]) -> dict:
    """The options among ``names`` the user set (``None`` and an unset flag's False are not)."""
    return {name: getattr(args, name) for name in names
            if getattr(args, name) is not None and getattr(args, name) is not False}


def _data_options(args) -> dict:
    return {"path": args.data_path} if args.data_path is not None else {}


def _compare(args) -> int:
    from .compare import CompareConfig

    if args.list_presets:
        from .presets import PRESETS

        for preset in PRESETS.values():
            print(f"{preset.name:<26} {preset.title}")
        return 0
    if args.preset is not None:
        return _compare_presets(args)
    if args.no_tune:
        raise ValueError("--no-tune applies to --preset runs only")
    rso_options = {}
    if args.meta_iters is not None:
        rso_options["meta_iters"] = args.meta_iters
    if args.groups is not None:
        rso_options["groups"] = args.groups
    given = _given(args, _PRESET_OVERRIDES)
    config = CompareConfig(model=args.model or "mlp", data=args.data or "digits",
                           optimizers=tuple(args.optimizers or ("sgd", "adam", "rso")),
                           epochs=10 if args.epochs is None else args.epochs,
                           seeds=(0, 1, 2) if args.seeds is None else tuple(args.seeds),
                           lrs=args.lr or {},
                           rso_options=rso_options, data_options=_data_options(args), **given)
    return _run_compare(config, args.out or "rso-ref-out/compare", not args.no_progress,
                        tune=args.tune_lr)


def _compare_presets(args) -> int:
    from .presets import PRESETS, get_preset, run_preset, write_index, write_preset

    fixed = [f"--{name.replace('_', '-')}" for name in _given(args, _PRESET_FIXED)]
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot be combined with --preset (the preset "
                         "fixes it; run without --preset to choose freely)")
    names = list(PRESETS) if args.preset == "all" else [get_preset(args.preset).name]
    overrides = _given(args, _PRESET_OVERRIDES)
    if args.data is not None:
        overrides.update(data=args.data, data_options=_data_options(args))
    elif args.data_path is not None:
        raise ValueError("--data-path needs --data (mnist or cifar10) with --preset")
    root = Path(args.out or ("rso-ref-out/presets" if args.preset == "all"
                             else f"rso-ref-out/presets/{names[0]}"))
    reports = []
    for name in names:
        print(f"== preset {name}")
        report = run_preset(name, seeds=args.seeds, epochs=args.epochs, tune=not args.no_tune,
                            overrides=overrides, progress=not args.no_progress, log=print)
        out = root / name if args.preset == "all" else root
        paths = write_preset(report, out)
        print(f"wrote {paths['page']}")
        reports.append(report)
    if args.preset == "all":
        print(f"wrote {write_index(reports, root)}")
    return 0


def _theory(args) -> int:
    from .claims import all_claims
    from .claims.report import run_claims, write_report

    if args.list:
        for claim in all_claims():
            print(f"{claim.id:<28} {claim.source}: {claim.title}")
        return 0
    out = args.out or ("rso-ref-out/theory-quick" if args.quick else "rso-ref-out/theory")
    results = run_claims(args.claim, quick=args.quick, out_dir=out)
    paths = write_report(results, out, quick=args.quick)
    print(f"wrote {paths['index']} and {paths['json']}")
    return 0


def _golden(args) -> int:
    from . import golden

    if args.action == "write":
        return golden.golden_write(args.out_dir)
    return golden.golden_verify(args.port, kind=args.kind, fixture_dir=args.fixtures)


def _bench(args) -> int:
    from . import benchmarks

    argv = (["--quick"] if args.quick else []) + ([] if args.out is None else ["--out", args.out])
    return benchmarks.run(args.name, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rso-ref``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"demo": _demo, "compare": _compare, "theory": _theory, "golden": _golden,
                "bench": _bench}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, RuntimeError, FileNotFoundError) as exc:
        print(f"rso-ref: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
