r"""The manifest of a fixture directory: what must be there, byte for byte, before anything runs.

``MANIFEST.json`` (schema version 2) lists

* ``files``: the SHA-256 of every other file in the directory (``SCHEMA.md`` included);
* ``cases``: the number of cases of each kind present;
* ``required``: each kind's quantities (those of :data:`rso_ref.golden.kinds.KINDS`).

:func:`check` compares a directory with its manifest and raises :class:`FixtureError`
(one line naming the file) on a missing, extra or edited file, a kind with another
number of cases, or required quantities that differ from the code's. A directory of
schema-version-1 sets has no manifest; it is read without these checks.

The manifest is a pure function of the directory's contents (:func:`manifest_bytes`),
so regenerating the fixtures regenerates it byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..checkpoint import write_bytes_atomic
from .kinds import KINDS
from .store import json_bytes

__all__ = ["MANIFEST", "FixtureError", "required_quantities", "manifest_bytes", "write",
           "check"]

#: File name of the manifest inside a fixture directory.
MANIFEST = "MANIFEST.json"

#: The schema version that introduced the manifest, written into it and required of it.
VERSION = 2


class FixtureError(ValueError):
    """A fixture directory that does not match its manifest (the message names the file)."""


def required_quantities(kind: str) -> list[str]:
    """The quantities a stored case of ``kind`` must hold (every quantity of the kind)."""
    return sorted(KINDS[kind].tolerances)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(directory: Path) -> list[Path]:
    """Every regular file of the directory but the manifest, sorted by name (folders,
    such as a cache a tool left there, are not part of a fixture set)."""
    return sorted((p for p in directory.iterdir() if p.name != MANIFEST and p.is_file()),
                  key=lambda p: p.name)


def _case_count(path: Path) -> int:
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise FixtureError(f"{path} is not a readable fixture document: {exc}") from None
    if not isinstance(cases, list):
        raise FixtureError(f"{path}: 'cases' must be a list")
    return len(cases)


def manifest_bytes(directory: str | os.PathLike) -> bytes:
    """The manifest of ``directory`` as it now is (sorted JSON, final newline)."""
    directory = Path(directory)
    files = _files(directory)
    kinds = [k for k in KINDS if (directory / f"{k}.json").is_file()]
    return json_bytes({
        "schema_version": VERSION,
        "files": {p.name: _sha256(p) for p in files},
        "cases": {k: _case_count(directory / f"{k}.json") for k in kinds},
        "required": {k: required_quantities(k) for k in kinds},
    })


def write(directory: str | os.PathLike) -> Path:
    """(Re)write ``directory/MANIFEST.json`` from the directory's contents, atomically."""
    path = Path(directory) / MANIFEST
    write_bytes_atomic(path, manifest_bytes(directory))
    return path


def _read(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FixtureError(f"{path} is not a readable manifest: {exc}") from None
    if not isinstance(manifest, dict) or not all(
            isinstance(manifest.get(key), dict) for key in ("files", "cases", "required")):
        raise FixtureError(f"{path} is not a manifest (needs 'files', 'cases', 'required')")
    if manifest.get("schema_version") != VERSION:
        raise FixtureError(f"{path} has schema_version {manifest.get('schema_version')!r}; "
                           f"this rso_ref reads manifests of version {VERSION}")
    return manifest


def check(directory: str | os.PathLike, pinned_sha256: str | None = None) -> dict | None:
    """Check ``directory`` against its manifest before any fixture is read.

    Parameters
    ----------
    directory : path
    pinned_sha256 : str, optional
        The SHA-256 the manifest file itself must have (the shipped directory's is pinned
        in the package, so a manifest rewritten to match a tampered file fails too).

    Returns
    -------
    dict or None
        The manifest; None for a directory without one (schema-version-1 sets).

    Raises
    ------
    FixtureError
        One line naming the offending file.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        if pinned_sha256 is not None:
            raise FixtureError(f"{path} is missing")
        return None
    if pinned_sha256 is not None and _sha256(path) != pinned_sha256:
        raise FixtureError(f"{path} differs from the manifest shipped with this rso_ref "
                           f"(sha256 pinned in rso_ref.golden.MANIFEST_SHA256)")
    manifest = _read(path)
    listed = manifest["files"]
    for name in sorted(listed):
        if not (directory / name).is_file():
            raise FixtureError(f"{directory / name} is listed in {MANIFEST} but missing")
    for entry in _files(directory):
        if entry.name not in listed:
            raise FixtureError(f"{entry} is not listed in {MANIFEST} (an extra file)")
        if _sha256(entry) != listed[entry.name]:
            raise FixtureError(f"{entry} does not match its sha256 in {MANIFEST} "
                               f"(edited, truncated or replaced)")
    for kind, required in sorted(manifest["required"].items()):
        if kind not in KINDS:
            raise FixtureError(f"{path} names an unknown kind {kind!r}; known: {list(KINDS)}")
        if sorted(required) != required_quantities(kind):
            raise FixtureError(f"{path}: the required quantities of {kind} are {required}, "
                               f"this rso_ref requires {required_quantities(kind)}")
    for kind, count in sorted(manifest["cases"].items()):
        json_path = directory / f"{kind}.json"
        if kind not in manifest["required"] or _case_count(json_path) != count:
            raise FixtureError(f"{json_path} does not hold the {count} {kind} cases "
                               f"{MANIFEST} lists")
    return manifest
