r"""Golden fixtures: stored inputs and reference outputs that a port of RSO must reproduce.

An engineer porting RSO (or any piece of it) to torch, JAX or another language runs
the port on the *stored* inputs of each fixture and compares its outputs with the
stored reference values, quantity by quantity, against documented tolerances. The
fixtures ship inside the package (``rso_ref/golden_fixtures/``, JSON + NPZ, no
pickle); ``SCHEMA.md`` there spells out the conventions a port must follow.

Fixture kinds (one ``<kind>.json`` + ``<kind>.npz`` each, schema version
:data:`SCHEMA_VERSION`):

``lbfgs``
    L-BFGS iterates ``x``, ``f``, ``g`` and cumulative ``nfev`` per iteration on
    Rosenbrock (n = 2, 6) and a 6-D quadratic.
``rso_meta``
    The meta-objective :math:`f(w)` and :math:`\nabla f(w)` of Algorithm 1.
``rso_step``
    Three chained ``rso_step`` calls per option set (groups per array / per layer /
    explicit, ``w0`` uniform / ones, ``normalize``, ``safeguard``, ``K = 0, 1, 5``) on a
    16-8-10 MLP and 20 pooled digits.
``optim``
    Six steps of SGD (momentum, Nesterov, dampening), Adam, AdamW, RMSprop, LAMB, LARS
    and Muon on stored gradients.
``mlp``
    Loss and gradients of three MLPs (ReLU/CE, tanh/MSE, 3-layer GELU/CE).
``hvp``
    Hessian-vector products for two stored directions.
``eigen``
    The top-3 Hessian eigenpairs of a 16-4-10 tanh MLP.

The port signatures are in :mod:`rso_ref.golden.kinds`; the reference implementation
of each is :func:`reference_ports`.

Examples
--------
>>> from rso_ref import golden
>>> report = golden.verify(golden.reference_ports()["mlp"], "mlp")
>>> report.ok
True

Verify a port of ``rso_step`` (say ``my_port.rso_step(value_and_grad, params, *, lr,
groups, meta_iters, w0, normalize, safeguard, m, c1, c2, maxls, X, y, activation, loss)
-> (params, w)``)::

    report = golden.verify(my_port.rso_step, "rso_step")
    print(report.format())

or every kind a module provides (functions named after the kinds)::

    reports = golden.verify_all(my_port)

A port that works on device arrays is called with them by ``like=`` (any array of the
target namespace and device; the comparison happens on the host)::

    report = golden.verify(my_port.rso_step, "rso_step", like=torch.zeros(1, device="cuda"))

Integrity (schema version 2). A fixture directory carries ``MANIFEST.json``
(:mod:`rso_ref.golden.manifest`): the SHA-256 of every file, the number of cases of each
kind and each kind's required quantities. :func:`load` checks it before anything is
read, and the shipped directory's manifest is itself pinned by :data:`MANIFEST_SHA256`,
so a trimmed, edited, truncated or extra file fails with one error naming it. A stored
case without one of its kind's quantities fails verification; it never passes.

Verdicts. Each case is run on fresh copies of its inputs (read-only on the host), so a
port cannot corrupt a later case. A port that raises ``NotImplementedError`` for a case
(or for every case of a kind) has it counted as *skipped*; any other exception is that
case's failure. A report's :attr:`~VerifyReport.status` is ``"FAIL"`` if any case
failed, else ``"PASS"`` if any case was compared, else ``"SKIP"``.

From the command line: ``rso-ref golden verify`` (the library against its own
fixtures: a self-check after installing), ``rso-ref golden verify --port
module[:function] [--kind K]``, ``rso-ref golden check --port module:function --kind K``
(:func:`rso_ref.testing.check_port`) and ``rso-ref golden write DIR``
(:mod:`rso_ref.cli`; this package prints nothing).
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

from . import manifest
from .check import Row, VerifyReport, compare_outputs, run_port
from .kinds import KINDS
from .manifest import FixtureError
from .reference import reference_ports
from .store import Fixture, encode, read_set, write_set

__all__ = [
    "SCHEMA_VERSION", "READABLE_VERSIONS", "KINDS", "FIXTURE_DIR", "MANIFEST_SHA256", "write",
    "write_cases", "load", "verify", "verify_all", "reference_ports", "VerifyReport", "Row",
    "Fixture", "FixtureError",
]

#: Version of the fixture layout and conventions; bumped on any change a port would notice.
#: Version 2 added the manifest, read-only inputs, SKIP, and the model keywords (``X``,
#: ``y``, ``activation``, ``loss``) of the ``rso_meta`` and ``rso_step`` ports.
SCHEMA_VERSION = 2

#: Schema versions :func:`load` reads (version-1 directories have no manifest to check).
READABLE_VERSIONS = (1, 2)

#: The fixtures shipped with the package.
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "golden_fixtures"

#: SHA-256 of the shipped ``MANIFEST.json``: a manifest rewritten to match edited fixtures
#: fails too. Changes only when the fixtures are regenerated on purpose.
MANIFEST_SHA256 = "3dda48fc83cb5269786fb4e93b79406446e4c685836ade54109479ce0cc6f918"


def _document(kind: str, cases: list) -> tuple[dict, dict]:
    """The JSON document and arrays of ``cases`` of one kind, outputs from the reference port."""
    spec, port = KINDS[kind], reference_ports()[kind]
    arrays: dict = {}
    encoded = []
    for case in cases:
        outputs = run_port(kind, port, case)
        encoded.append(encode({"name": case["name"], "options": case["options"],
                               "inputs": case["inputs"], "outputs": outputs},
                              case["name"], arrays))
    document = {"schema_version": SCHEMA_VERSION, "kind": kind,
                "conventions": "rso_ref/golden_fixtures/SCHEMA.md",
                "tolerances": spec.tolerances, "optional_outputs": list(spec.optional),
                "cases": encoded}
    return document, arrays


def write_cases(directory: str | os.PathLike, kind: str, cases: list) -> list[Path]:
    """Write a verifiable fixture set of ``kind`` made of ``cases`` into ``directory``.

    The reference port (:func:`reference_ports`) is run on each case to produce its
    outputs; ``<kind>.json`` and ``<kind>.npz`` are written atomically (replacing a set
    of that kind already there). :func:`verify` with ``fixture_dir=directory`` replays
    them.

    Parameters
    ----------
    directory : path
        Created if missing.
    kind : str
        One of :data:`KINDS`.
    cases : list of dict
        In the builder format of :mod:`rso_ref.golden.cases`: ``{"name", "options",
        "inputs"}`` with inputs nested dicts/lists of host NumPy arrays and numbers.
        Names must be unique.

    Returns
    -------
    list of Path
        The files written, ``MANIFEST.json`` last (rewritten to describe the directory).
    """
    _kinds([kind])
    names = [case["name"] for case in cases]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"cases must be a non-empty list with unique names, got {names}")
    return write_set(directory, kind, *_document(kind, cases)) + [manifest.write(directory)]


def write(directory: str | os.PathLike, kinds: Any = None) -> list[Path]:
    """Regenerate the fixture files into ``directory``.

    Deterministic: on one machine every run writes byte-identical files. Another
    processor's BLAS may round differently, which moves float outputs by far less than
    their tolerances (``SCHEMA.md``, "Reproducibility"). The shipped set is rewritten only
    on purpose, ``write(FIXTURE_DIR)``, and then :data:`MANIFEST_SHA256` must be set to the
    new manifest's hash (until it is, :func:`load` refuses the shipped fixtures).

    Parameters
    ----------
    directory : path
        Created if missing; existing ``<kind>.json``/``<kind>.npz`` are replaced
        atomically, other files are left alone, and ``MANIFEST.json`` is rewritten to
        describe the directory as it then is.
    kinds : iterable of str, optional
        Subset of :data:`KINDS` (default all).

    Returns
    -------
    list of Path
        The files written.
    """
    paths: list[Path] = []
    for kind in _kinds(kinds):
        paths += write_set(directory, kind, *_document(kind, KINDS[kind].build()))
    return paths + [manifest.write(directory)]


def _kinds(kinds: Any) -> list[str]:
    kinds = list(KINDS) if kinds is None else ([kinds] if isinstance(kinds, str) else list(kinds))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown fixture kind(s) {unknown}; known: {list(KINDS)}")
    return kinds


def load(kind: str, fixture_dir: str | os.PathLike | None = None) -> Fixture:
    """Read one fixture set after checking its directory against the manifest.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    fixture_dir : path, optional
        Default: the shipped fixtures, whose manifest must also match
        :data:`MANIFEST_SHA256` (however their directory is named).

    Returns
    -------
    Fixture
        The kind's cases with every array decoded.

    Raises
    ------
    FixtureError
        The directory does not match its manifest (one line naming the file), or a
        schema-2 set has no manifest.
    ValueError
        A file cannot be read as a fixture, or its schema version is not one of
        :data:`READABLE_VERSIONS`.
    FileNotFoundError
        The kind's files are missing (and no manifest says they should be there).
    """
    _kinds([kind])
    directory = Path(FIXTURE_DIR if fixture_dir is None else fixture_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"fixture_dir {directory} is not a directory")
    shipped = directory.resolve() == FIXTURE_DIR
    listed = manifest.check(directory, MANIFEST_SHA256 if shipped else None)
    fixture = read_set(directory, kind)
    if fixture.schema_version not in READABLE_VERSIONS:
        raise ValueError(f"{directory / (kind + '.json')} has schema version "
                         f"{fixture.schema_version}; this rso_ref reads {READABLE_VERSIONS}")
    if listed is None and fixture.schema_version >= 2:
        raise FixtureError(f"{directory / manifest.MANIFEST} is missing (schema version "
                           f"{fixture.schema_version} fixtures carry one)")
    return fixture


def verify(port_fn: Callable, fixture: str | Fixture, *,
           fixture_dir: str | os.PathLike | None = None, like: Any = None) -> VerifyReport:
    """Run a port on every case of a fixture set and compare it with the stored outputs.

    Parameters
    ----------
    port_fn : callable
        The port, with the signature of the fixture kind (:mod:`rso_ref.golden.kinds`).
    fixture : str or Fixture
        A kind (``"rso_step"``), ``"kind/case"`` for one case, or a loaded
        :class:`Fixture`.
    fixture_dir : path, optional
        Where to read fixtures (default: the shipped ones).
    like : array, optional
        Run the port on device arrays: every stored input array (and the oracles built
        from them) is moved to the namespace and device of ``like`` (say a torch CUDA
        tensor, a JAX array or an ``array_api_strict`` array on ``"device1"``) before the
        port is called; its outputs are copied back to the host for the comparison.
        Default: host NumPy inputs.

    Returns
    -------
    VerifyReport
        One row per case and quantity (max relative error, tolerance, worst leaf);
        ``report.status`` (``"PASS"``, ``"FAIL"``, ``"SKIP"``) is the verdict and
        ``report.format()`` a readable table. A case where the port raises (or calls
        ``sys.exit``) is reported in ``report.errors`` with where it raised (a write into
        a read-only input says so), one where it raises ``NotImplementedError`` in
        ``report.skipped``; neither is re-raised.

    Raises
    ------
    FixtureError
        The fixture set holds no case (or does not match its manifest).
    ValueError
        ``"kind/case"`` names no stored case.
    """
    if not callable(port_fn):
        raise TypeError(f"port_fn must be callable, got {type(port_fn).__name__}")
    only = None
    if isinstance(fixture, str):
        kind, _, only = fixture.partition("/")
        fixture = load(kind, fixture_dir)
    elif not isinstance(fixture, Fixture):
        raise TypeError(f"fixture must be a kind name or a Fixture, got {type(fixture).__name__}")
    if not fixture.cases:
        where = f" in {fixture_dir}" if fixture_dir is not None else ""
        raise FixtureError(f"the {fixture.kind} fixture set{where} holds no case: there is "
                           f"nothing to verify (a set emptied of its cases never passes)")
    cases = [c for c in fixture.cases if not only or c["name"] == only]
    if not cases:
        raise ValueError(f"no case {only!r} in the {fixture.kind} fixtures; cases: "
                         f"{[c['name'] for c in fixture.cases]}")
    rows: list[Row] = []
    errors, skipped = [], []
    for case in cases:
        try:
            actual = run_port(fixture.kind, port_fn, case, like)
        except NotImplementedError as exc:
            skipped.append(f"{case['name']}: {exc or 'not implemented by the port'}")
            continue
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failing port is a verdict
            errors.append(f"{case['name']}: {_describe_exception(exc)}{_hint(exc)}")
            continue
        outputs = case.get("outputs")
        rows += compare_outputs(fixture.kind, case["name"], actual,
                                outputs if isinstance(outputs, dict) else {})
    return VerifyReport(fixture.kind, tuple(rows), tuple(errors), tuple(skipped))


def _describe_exception(exc: BaseException) -> str:
    """``"Type: message (raised at file:line in function)"``: the exception and the
    innermost frame of its traceback; a ``SystemExit`` says the port tried to exit."""
    if isinstance(exc, SystemExit):
        text = (f"SystemExit: the port called sys.exit({exc.code!r}) (an exit is not a "
                f"result; a port must return or raise)")
    else:
        text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (raised at {last.filename}:{last.lineno} in {last.name})"
    return text


def _hint(exc: BaseException) -> str:
    """Why a port's exception happened, where the verifier caused it on purpose."""
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        return (" (the port wrote into one of its input arrays, which verify hands out "
                "read-only: copy an input before changing it)")
    return ""


def verify_all(ports: Mapping[str, Callable] | ModuleType, *,
               fixture_dir: str | os.PathLike | None = None,
               like: Any = None) -> dict[str, VerifyReport]:
    """:func:`verify` every kind the port provides.

    Parameters
    ----------
    ports : mapping of str to callable, or module
        Kind names to port functions, or a module whose functions are named after the
        kinds (``lbfgs``, ``rso_meta``, ``rso_step``, ``optim``, ``mlp``, ``hvp``,
        ``eigen``); kinds it lacks are not run.
    fixture_dir : path, optional
        As in :func:`verify`.
    like : array, optional
        As in :func:`verify`.

    Returns
    -------
    dict of str to VerifyReport
        ``{kind: report}`` for every kind provided.
    """
    if isinstance(ports, ModuleType):
        ports = {k: getattr(ports, k) for k in KINDS if callable(getattr(ports, k, None))}
    elif not isinstance(ports, Mapping):
        raise TypeError(f"ports must be a mapping or a module, got {type(ports).__name__}")
    _kinds(list(ports))
    if not ports:
        raise ValueError(f"ports provides none of the kinds {list(KINDS)}")
    return {kind: verify(fn, kind, fixture_dir=fixture_dir, like=like)
            for kind, fn in ports.items()}
