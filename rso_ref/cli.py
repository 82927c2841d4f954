"""The ``rso-ref`` command: ``demo``, ``compare``, ``theory``, ``golden`` and ``bench``.

Every option is checked before any training: the experiment's configuration (every
arm's optimizer is built, so a bad option fails in its constructor; the model, the data
set and the backend are looked up) and the output directory (created, and a probe file
written and removed); an option for an optimizer that does not run (``--lr``,
``--meta-iters``, ``--groups``) is refused rather than ignored. A bad option is
reported as one line, ``rso-ref: error: --option: ...``, with exit status 2, never as
a traceback.

Small-model training (``demo``, ``compare``, ``theory``) runs with the BLAS thread
pool limited to ``--blas-threads`` threads (default 1): on tiny matrices a
multi-threaded BLAS only spins, and under load it made the demo's RSO arm 10x slower.
All printing of the library lives here (``golden`` and ``claims`` print nothing).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import benchmarks
from .extras import installed_version, threadpool_limits

__all__ = ["main", "build_parser", "blas_threads", "DEFAULT_BLAS_THREADS"]

#: The default of ``--blas-threads``.
DEFAULT_BLAS_THREADS = 1
#: How long ``rso-ref demo`` takes (15 epochs), as the README and ``--help`` say:
#: 5.05, 5.18, 5.20 and 6.2 s wall (/usr/bin/time) on the idle 2-core development machine.
DEMO_TIME = "about 5 s on an idle 2-core CPU"


class _UsageError(Exception):
    """A command line that does not parse; :func:`main` prints it and returns 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors name the option first (``--seeds: ...``)."""

    def error(self, message: str):  # argparse's hook for every parse error
        raise _UsageError(message[len("argument "):] if message.startswith("argument ")
                          else message)


def _csv(text: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _seeds(text: str) -> tuple[int, ...]:
    try:
        if text.strip().isdigit():
            count = int(text)
            if count < 1:
                raise ValueError(f"seeds must not be empty (a count N gives seeds 0..N-1; "
                                 f"got {count})")
            return tuple(range(count))
        seeds = tuple(int(s) for s in _csv(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    negative = [s for s in seeds if s < 0]
    if negative:
        raise argparse.ArgumentTypeError(f"seeds must be >= 0, got {negative}")
    return seeds


def _lrs(text: str) -> dict:
    out = {}
    for item in _csv(text):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"entries look like name=value, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{item!r}: {exc}") from exc
    return out


def _int_at_least(minimum: int):
    """An argparse ``type`` accepting whole numbers ``>= minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}")
        return value
    return parse


def _add_common(parser: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """``--blas-threads`` (and ``--no-progress``) of the training commands."""
    parser.add_argument("--blas-threads", type=_int_at_least(0), default=DEFAULT_BLAS_THREADS,
                        metavar="N",
                        help=f"BLAS threads while training (default {DEFAULT_BLAS_THREADS}, "
                             "fastest for small models; 0 leaves the BLAS pool as it is)")
    if progress:
        parser.add_argument("--no-progress", action="store_true",
                            help="no progress bars (e.g. in logs)")


#: The seeds of ``rso-ref compare`` without ``--seeds`` (three, for a mean ± std).
_COMPARE_SEEDS = (0, 1, 2)


def _default(name: str) -> Any:
    """The default of the :class:`~rso_ref.compare.CompareConfig` field ``name``."""
    from .compare import CompareConfig

    return CompareConfig.__dataclass_fields__[name].default


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rso-ref``."""
    from .rso import DEFAULT_META_ITERS

    parser = _Parser(
        prog="rso-ref", description="Reference implementation of Recursive Subspace Optimization.")
    parser.add_argument("--version", action="version", version=f"rso-ref {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help=f"train an MLP on digits with SGD, Adam and RSO ({DEMO_TIME})",
        description="Train the digits MLP (64-128-128-10) with SGD+momentum, Adam and RSO "
                    f"(K = 5, one weight per layer), one seed, {DEMO_TIME}. Prints the "
                    "results table and writes it as results.md into --out, with report.json "
                    "(every step; version, time, platform, thread pools), loss_curves.png "
                    "(loss against steps, gradient evaluations and training time; test "
                    "accuracy per epoch) and rso_layer_weights.png.")
    demo.add_argument("--out", default="rso-ref-out/demo", help="output directory")
    demo.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    _add_common(demo)

    cmp_ = sub.add_parser("compare", help="any model x data x optimizers, mean ± std over seeds; "
                                          "--preset runs the paper's tables at small scale")
    cmp_.add_argument("--preset", default=None,
                      help="a preset name (see --list-presets) or 'all': tune, 5 seeds, "
                           "Welch tests, pages")
    cmp_.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    cmp_.add_argument("--model", default=None,
                      help=f"mlp, convnet1d, convnet2d or resnet (default {_default('model')})")
    cmp_.add_argument("--data", default=None,
                      help="digits, mnist1d, cifar_like, teacher, mnist or cifar10 "
                           f"(default {_default('data')})")
    cmp_.add_argument("--data-path", default=None,
                      help="directory of the files of --data mnist / cifar10")
    cmp_.add_argument("--optimizers", type=_csv, default=None,
                      help="comma list, any case (default "
                           f"{','.join(_default('optimizers'))})")
    cmp_.add_argument("--epochs", type=int, default=None,
                      help=f"default {_default('epochs')}, or the preset's")
    cmp_.add_argument("--seeds", type=_seeds, default=None,
                      help="a count N (seeds 0..N-1) or a comma list (default "
                           f"{len(_COMPARE_SEEDS)}, or the preset's)")
    cmp_.add_argument("--batch-size", type=int, default=None,
                      help=f"default {_default('batch_size')}")
    cmp_.add_argument("--backend", default=None, help=f"default {_default('backend')}")
    cmp_.add_argument("--dtype", default=None, choices=("float64", "float32"),
                      help=f"default {_default('dtype')}")
    cmp_.add_argument("--lr", type=_lrs, default=None, help="e.g. sgd=0.05,rso=0.1")
    cmp_.add_argument("--meta-iters", type=int, default=None,
                      help=f"RSO K (default {DEFAULT_META_ITERS})")
    cmp_.add_argument("--groups", default=None, help="RSO grouping: layer, block, uniform:N")
    cmp_.add_argument("--tune-lr", action="store_true",
                      help="first choose each optimizer's lr on a validation split "
                           "(the same 5-point grid around its default for every optimizer)")
    cmp_.add_argument("--no-tune", action="store_true",
                      help="with --preset: skip the learning-rate search (defaults)")
    cmp_.add_argument("--rerender", action="store_true",
                      help="with --preset: analyse the report.json already in --out again and "
                           "rewrite its page (no training; e.g. after a change of the "
                           "statistics)")
    cmp_.add_argument("--out", default=None,
                      help="output directory (default rso-ref-out/compare or "
                           "rso-ref-out/presets[/NAME])")
    _add_common(cmp_)

    theory = sub.add_parser("theory", help="run the papers' claims and write the verdict report")
    theory.add_argument("--quick", action="store_true", help="minutes on a 2-core CPU")
    theory.add_argument("--claim", action="append", default=None, help="claim id (repeatable)")
    theory.add_argument("--out", default=None,
                        help="output directory (default rso-ref-out/theory[-quick])")
    theory.add_argument("--list", action="store_true", help="list the claim ids and exit")
    _add_common(theory, progress=False)

    from .golden.kinds import KINDS

    golden = sub.add_parser("golden", help="verify a port (or this install) against the golden "
                                           "fixtures, check it on drawn cases, or write them")
    golden_sub = golden.add_subparsers(dest="action", required=True)
    g_write = golden_sub.add_parser("write", help="regenerate the fixtures into a directory")
    g_write.add_argument("out_dir", help="directory for the <kind>.json/.npz files and "
                                         "MANIFEST.json (created if missing)")
    port_help = ("the port: 'module' or 'path/to/file.py' (every kind it defines, functions "
                 "named after the kinds), or 'module:function' / 'file.py:function' (one kind: "
                 "--kind, else the function's name)")
    g_verify = golden_sub.add_parser(
        "verify", help="run a port on the stored fixtures; without --port, this rso_ref itself "
                       "(a self-check after installing)")
    g_verify.add_argument("--port", default=None, help=port_help)
    g_verify.add_argument("--kind", default=None,
                          help=f"one kind ({', '.join(KINDS)}) or 'kind/case'")
    g_verify.add_argument("--fixtures", default=None, help="fixture directory (default: shipped)")
    g_check = golden_sub.add_parser(
        "check", help="compare a port with the reference on cases drawn by hypothesis "
                      "(rso_ref.testing.check_port; needs the testing extra)")
    g_check.add_argument("--port", required=True, help="'module:function' or "
                                                       "'file.py:function' (one kind)")
    g_check.add_argument("--kind", default=None, help="the kind (default: the function's name)")
    g_check.add_argument("--examples", type=_int_at_least(1), default=50,
                         help="drawn cases to run (default 50)")
    g_check.add_argument("--seed", type=_int_at_least(0), default=0,
                         help="seed of the draw (default 0)")
    g_check.add_argument("--out", default="rso-ref-out/check-port",
                         help="where a failing case is written as a replayable fixture, in a "
                              "new directory each time (default rso-ref-out/check-port)")
    g_check.add_argument("--strict", action="store_true",
                         help="count a case the port skips (NotImplementedError) as a failure")

    bench = sub.add_parser("bench", help="run a benchmark shipped in rso_ref.benchmarks, "
                                         "JSON out")
    bench.add_argument("name", choices=sorted(benchmarks.BENCHMARKS), help="the benchmark")
    bench.add_argument("--quick", action="store_true",
                       help="fewer repeats and sizes; the JSON says \"quick\": true")
    bench.add_argument("--out", default=None,
                       help="JSON output (default ./rso-ref-out/bench/<module>.json)")
    return parser


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit the BLAS thread pool to ``n`` threads inside the block (``0``: no limit).

    The one limiter of the training commands. NumPy is imported first, as
    ``threadpoolctl`` limits only the libraries already loaded.
    """
    if n == 0:
        yield
        return
    import numpy  # noqa: F401 - loads the BLAS that is to be limited

    with threadpool_limits(n, user_api="blas"):
        yield


def _check_out(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``path`` and write and remove a probe file there, before any work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".rso-ref-probe-"):
            pass
    except FileExistsError:  # mkdir says "File exists" of a file where a directory must go
        raise ValueError(f"{option}: cannot write to {str(out)!r}: it is a file, not a "
                         f"directory") from None
    except OSError as exc:
        raise ValueError(f"{option}: cannot write to {str(out)!r}: "
                         f"{exc.strerror or exc}") from None
    return out


#: CompareConfig fields (the first word of its errors) -> the option that sets them.
_FIELD_OPTIONS = {
    "model": "--model", "data": "--data", "data_options": "--data-path",
    "optimizers": "--optimizers", "epochs": "--epochs", "seeds": "--seeds",
    "batch_size": "--batch-size", "backend": "--backend", "dtype": "--dtype", "lrs": "--lr",
}
#: RSO options (the first word after ``rso_options:``) -> the option that sets them.
_RSO_OPTIONS = {"meta_iters": "--meta-iters", "groups": "--groups"}


def _option_error(exc: Exception) -> Exception:
    """``exc`` from a CompareConfig field, re-worded to start with its command-line option.

    Library errors start with the argument's name (``rso_options: meta_iters must ...``);
    the user of ``rso-ref`` reads the option instead (``--meta-iters: meta_iters must
    ...``). Other errors are returned unchanged.
    """
    message = str(exc)
    match = re.match(r"(\w+)(?::\s*(\w+))?", message)
    if match is None:
        return exc
    field, inner = match.groups()
    option = _RSO_OPTIONS.get(inner) if field == "rso_options" else _FIELD_OPTIONS.get(field)
    if option is None:
        return exc
    if message[match.end(1):].startswith(":"):  # "field: detail" -> "--option: detail"
        message = message[match.end(1) + 1:].lstrip()
    return type(exc)(f"{option}: {message}")


@contextlib.contextmanager
def _options_named() -> Iterator[None]:
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise _option_error(exc) from None


def _run_compare(config, out: Path, progress: bool, tune: bool = False) -> int:
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
    return _run_compare(config, _check_out(args.out), not args.no_progress)


#: ``rso-ref compare`` options a preset fixes (refused together with --preset).
_PRESET_FIXED = ("model", "optimizers", "lr", "meta_iters", "groups", "tune_lr")
#: Options that may change a preset's run, as CompareConfig fields.
_PRESET_OVERRIDES = ("batch_size", "backend", "dtype")
#: Options of a plain ``rso-ref compare`` that are CompareConfig fields of the same name.
_CONFIG_OPTIONS = ("model", "data", "optimizers", "epochs", *_PRESET_OVERRIDES)


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
    if args.rerender:
        raise ValueError("--rerender: applies to --preset runs only")
    rso_options = {}
    if args.meta_iters is not None:
        rso_options["meta_iters"] = args.meta_iters
    if args.groups is not None:
        rso_options["groups"] = args.groups
    config = CompareConfig(seeds=_COMPARE_SEEDS if args.seeds is None else args.seeds,
                           lrs=args.lr or {}, rso_options=rso_options,
                           data_options=_data_options(args), **_given(args, _CONFIG_OPTIONS))
    _check_arm_options(args, config)
    out = _check_out(args.out or "rso-ref-out/compare")
    return _run_compare(config, out, not args.no_progress, tune=args.tune_lr)


def _check_arm_options(args, config) -> None:
    """Refuse an option for an optimizer that does not run (it would be ignored)."""
    arms = list(config.optimizers)
    if args.lr and args.tune_lr:
        raise ValueError("--lr: cannot be combined with --tune-lr (the search chooses every "
                         "optimizer's rate)")
    absent = [label for label in config.lrs if label not in arms]
    if absent:
        raise ValueError(f"--lr: {', '.join(absent)} not among --optimizers {','.join(arms)}")
    if "rso" not in arms:
        for option in ("meta_iters", "groups"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option.replace('_', '-')}: sets RSO, which is not among "
                                 f"--optimizers {','.join(arms)}")


def _compare_presets(args) -> int:
    from .presets import PRESETS, get_preset, run_preset, write_index, write_preset

    fixed = [f"--{name.replace('_', '-')}" for name in _given(args, _PRESET_FIXED)]
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot be combined with --preset (the preset "
                         "fixes it; run without --preset to choose freely)")
    names = list(PRESETS) if args.preset == "all" else [get_preset(args.preset).name]
    if args.rerender:
        return _rerender_presets(args, names)
    overrides = _given(args, _PRESET_OVERRIDES)
    if args.data is not None:
        overrides.update(data=args.data, data_options=_data_options(args))
    elif args.data_path is not None:
        raise ValueError("--data-path needs --data (mnist or cifar10) with --preset")
    if args.data is not None:  # every preset's model must read the data, before any trains
        from .compare import prepare

        for name in names:
            try:
                prepare(dataclasses.replace(PRESETS[name].config, **overrides))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"--data: {args.data!r} does not suit preset {name}: {exc}"
                                 ) from None
    root = _check_out(args.out or ("rso-ref-out/presets" if args.preset == "all"
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


#: ``rso-ref compare --preset`` options that change a run, refused with --rerender.
_RUN_OPTIONS = ("data", "data_path", "epochs", "seeds", "no_tune", *_PRESET_OVERRIDES)


def _rerender_presets(args, names: Sequence[str]) -> int:
    """``--preset NAME|all --rerender --out DIR``: the stored reports analysed again."""
    from .presets import rerender, rerender_tables

    given = [f"--{name.replace('_', '-')}" for name in _given(args, _RUN_OPTIONS)]
    if given:
        raise ValueError(f"--rerender: cannot be combined with {', '.join(given)} (it trains "
                         "nothing: the stored runs are analysed again)")
    if args.out is None:
        raise ValueError("--rerender: needs --out, the directory of the stored report.json "
                         "(of every preset's directory with --preset all)")
    root = Path(args.out)
    if args.preset == "all":
        stored = [name for name in names if (root / name / "report.json").is_file()]
        if not stored:
            raise ValueError(f"--out: no NAME/report.json of a preset under {root}")
        print(f"wrote {rerender_tables(root, stored)}")
        return 0
    if not (root / "report.json").is_file():
        raise ValueError(f"--out: {root} holds no report.json to analyse again")
    print(f"wrote {rerender(root)['page']}")
    return 0


def _theory(args) -> int:
    from .claims import all_claims, get
    from .claims.report import run_claims, write_report

    if args.list:
        for claim in all_claims():
            print(f"{claim.id:<28} {claim.source}: {claim.title}")
        return 0
    for claim_id in args.claim or ():  # before --out is made
        try:
            get(claim_id)
        except ValueError as exc:
            raise ValueError(f"--claim: {exc}") from None
    out = _check_out(args.out or ("rso-ref-out/theory-quick" if args.quick
                                  else "rso-ref-out/theory"))
    results = run_claims(args.claim, quick=args.quick, out_dir=out, log=print)
    paths = write_report(results, out, quick=args.quick)
    print(f"wrote {paths['index']} and {paths['json']}")
    return 0


def _import_port_module(name: str) -> Any:
    """The module a port spec names: a dotted module name, or a path to a ``.py`` file.

    A file is imported under its path as module name (so a replay command printed from
    ``port.__module__`` names the file again). Any error while importing is one
    ``ValueError`` naming ``--port``.
    """
    try:
        if name.endswith(".py") or os.sep in name or "/" in name:
            path = Path(name)
            if not path.is_file():
                raise ValueError(f"no such file {name!r}")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look the module up there
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # let `--port my_port:fn` find ./my_port.py
        return importlib.import_module(name)
    except SystemExit as exc:  # the module exits while imported: no port to check
        raise ValueError(f"--port: cannot import {name!r}: it called sys.exit({exc.code!r}) "
                         f"while being imported") from None
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is theirs to see
        raise ValueError(f"--port: cannot import {name!r}: {type(exc).__name__}: {exc}") \
            from None


def _check_kind(kind: str | None, *, case: bool = True) -> None:
    """``--kind`` names a golden kind (or ``kind/case`` where ``case``), else one line."""
    from . import golden

    if kind is None:
        return
    name, slash, _ = kind.partition("/")
    if name not in golden.KINDS or (slash and not case):
        allowed = f"one of {list(golden.KINDS)}" + (" (or 'kind/case')" if case else "")
        raise ValueError(f"--kind: must be {allowed}, got {kind!r}")


def _resolve_port(spec: str, kind: str | None) -> dict[str, Any]:
    """``{kind: port}`` for ``--port SPEC [--kind K]`` (``--kind`` already checked).

    ``module`` gives every kind it defines (or the one ``kind`` names); ``module:function``
    gives one port whose kind is ``kind`` or, failing that, the function's own name.
    """
    from . import golden

    module_name, _, attr = spec.rpartition(":") if spec.count(":") else (spec, "", "")
    if not module_name:
        raise ValueError(f"--port: must be 'module', 'file.py', 'module:function' or "
                         f"'file.py:function', got {spec!r}")
    module = _import_port_module(module_name)
    if not attr:
        names = [kind.partition("/")[0]] if kind else list(golden.KINDS)
        ports = {k: getattr(module, k) for k in names if callable(getattr(module, k, None))}
        if not ports:
            raise ValueError(f"--port: {module_name!r} defines no function named "
                             f"{' or '.join(names)}")
        return {kind or k: fn for k, fn in ports.items()}
    port = getattr(module, attr, None)
    if not callable(port):
        raise ValueError(f"--port: {module_name!r} has no function {attr!r}")
    if kind is None:
        if attr not in golden.KINDS:
            raise ValueError(f"--kind: cannot tell which kind {attr!r} ports; name the "
                             f"function after a kind ({', '.join(golden.KINDS)}) or pass --kind")
        kind = attr
    return {kind: port}


def _golden_write(out_dir: str) -> int:
    """``rso-ref golden write OUT_DIR``: regenerate every fixture set; exit status 0."""
    from . import golden

    for path in golden.write(_check_out(out_dir, "out_dir")):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def _golden_verify(port_spec: str | None, kind: str | None, fixture_dir: str | None) -> int:
    """``rso-ref golden verify [--port SPEC] [--kind K] [--fixtures DIR]``.

    Prints one table per kind and a closing count of kinds that PASS, FAIL and SKIP;
    exit status 0 only with no FAIL and at least one PASS, else 1.
    """
    from . import golden

    if fixture_dir is not None and not Path(fixture_dir).is_dir():
        raise ValueError(f"--fixtures: {fixture_dir} is not a directory")
    _check_kind(kind)
    if port_spec is None:
        reference = golden.reference_ports()
        ports = {kind: reference[kind.partition("/")[0]]} if kind else reference
    else:
        ports = _resolve_port(port_spec, kind)
    reports = {k: golden.verify(fn, k, fixture_dir=fixture_dir) for k, fn in ports.items()}
    if port_spec is None:
        print(f"rso_ref {installed_version()} against its own fixtures "
              f"({fixture_dir or golden.FIXTURE_DIR}):\n")
    for report in reports.values():
        print(report.format())
        print()
    by_status = {s: [k for k, r in reports.items() if r.status == s]
                 for s in ("PASS", "FAIL", "SKIP")}
    print("; ".join(f"{s}: {len(ks)}" + (f" ({', '.join(ks)})" if ks else "")
                    for s, ks in by_status.items()))
    return 0 if by_status["PASS"] and not by_status["FAIL"] else 1


def _golden_check(args) -> int:
    """``rso-ref golden check --port SPEC [--kind K] [--examples N] [--seed S] [--out DIR]``.

    Exit status 0 when the port matched the reference on every drawn case it ran, 1 on a
    mismatch (the minimal case is printed and written under ``--out``) or when the port
    skipped every case.
    """
    from .testing import check_port

    if ":" not in args.port:
        raise ValueError(f"--port: check takes one function, 'module:function' or "
                         f"'file.py:function', got {args.port!r}")
    _check_kind(args.kind, case=False)  # check draws its own cases
    (kind, port), = _resolve_port(args.port, args.kind).items()
    try:
        report = check_port(port, kind, max_examples=args.examples, seed=args.seed,
                            failure_dir=_check_out(args.out),
                            strict=bool(getattr(args, "strict", False)))
    except AssertionError as failure:
        print(failure)
        return 1
    print(report.format())
    return 0 if report.status == "PASS" else 1


def _golden(args) -> int:
    if args.action == "write":
        return _golden_write(args.out_dir)
    if args.action == "check":
        return _golden_check(args)
    return _golden_verify(args.port, args.kind, args.fixtures)


def _bench(args) -> int:
    module = benchmarks.BENCHMARKS[args.name]
    out = benchmarks.default_out(module) if args.out is None else Path(args.out)
    if out.is_dir():
        raise ValueError(f"--out: {str(out)!r} is a directory; give the JSON file to write")
    _check_out(out.parent)  # before the benchmark runs for minutes
    argv = (["--quick"] if args.quick else []) + ([] if args.out is None else ["--out", args.out])
    return benchmarks.run(args.name, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rso-ref``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"rso-ref: error: {exc}", file=sys.stderr)
        return 2
    handlers = {"demo": _demo, "compare": _compare, "theory": _theory, "golden": _golden,
                "bench": _bench}
    named = _options_named() if args.command in ("demo", "compare") else contextlib.nullcontext()
    try:
        with blas_threads(getattr(args, "blas_threads", 0)), named:
            return handlers[args.command](args)
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as exc:
        print(f"rso-ref: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
