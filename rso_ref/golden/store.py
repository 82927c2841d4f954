r"""Deterministic storage of fixture sets: one JSON document and one ``.npz`` per kind.

Every number a port is compared against, and every input it is given, lives in the
``.npz``; the JSON holds the structure (which arrays form a case, the options) with
each array replaced by ``{"npz": key}``. Writing is byte-for-byte reproducible:

* JSON with sorted keys, two-space indent, ASCII only and a final newline;
* ``.npz`` entries written with :mod:`zipfile` directly (``numpy.savez`` stamps every
  entry with the current time), uncompressed (deflate output depends on the zlib build),
  in sorted key order, each with the fixed date 1980-01-01 and fixed permissions, and
  each holding a version-1.0 ``.npy`` array in C order.

Reading uses ``numpy.load(allow_pickle=False)``: nothing is ever unpickled.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import write_bytes_atomic

__all__ = ["Fixture", "encode", "decode", "npz_bytes", "json_bytes", "write_set", "read_set"]

_REF = "npz"
#: The earliest date a zip entry can carry; fixed so that files do not depend on the clock.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Fixture:
    """One fixture set: its JSON document (arrays decoded to NumPy) and its file stem.

    Attributes
    ----------
    kind : str
        Fixture kind (``"lbfgs"``, ``"rso_step"``, ...).
    schema_version : int
    meta : dict
        The whole JSON document with every ``{"npz": key}`` replaced by its array.
    """

    kind: str
    schema_version: int
    meta: dict

    @property
    def cases(self) -> list[dict]:
        """The cases, each ``{"name", "options", "inputs", "outputs"}``."""
        return self.meta["cases"]


def encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every array in ``value`` by ``{"npz": key}``, storing it in ``arrays``.

    The key of a new array is its path (lists give ``path/<index>``, dict entries
    ``path/<name>``); an array equal in dtype, shape and bytes to one already in
    ``arrays`` reuses that key, so inputs shared by several cases are stored once.
    Python ints, floats, strings, bools and None stay in the JSON (non-finite floats
    are refused: JSON has no spelling for them).
    """
    if isinstance(value, dict):
        return {k: encode(v, f"{path}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        for key, stored in arrays.items():
            if stored.dtype == value.dtype and stored.shape == value.shape \
                    and stored.tobytes() == value.tobytes():
                return {_REF: key}
        if path in arrays:
            raise ValueError(f"two arrays would be stored under the key {path!r}")
        arrays[path] = value
        return {_REF: path}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path}: non-finite float {value} cannot be stored in JSON")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{path}: cannot store a value of type {type(value).__name__}")


def decode(node: Any, arrays: Any) -> Any:
    """Inverse of :func:`encode`: ``{"npz": key}`` becomes ``arrays[key]``."""
    if isinstance(node, dict):
        if set(node) == {_REF}:
            return np.asarray(arrays[node[_REF]])
        return {k: decode(v, arrays) for k, v in node.items()}
    if isinstance(node, list):
        return [decode(v, arrays) for v in node]
    return node


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive of ``arrays`` that depends on nothing but their contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(arrays[key]),
                                      version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16  # rw-r--r--, whatever the umask
            archive.writestr(info, payload.getvalue())
    return buffer.getvalue()


def json_bytes(document: Any) -> bytes:
    """The JSON text of ``document`` with sorted keys, as UTF-8 bytes ending in a newline."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True,
                       allow_nan=False) + "\n").encode("utf-8")


def write_set(directory: str | os.PathLike, kind: str, document: dict,
              arrays: dict[str, np.ndarray]) -> list[Path]:
    """Write ``<kind>.json`` and ``<kind>.npz`` into ``directory`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    npz_path, json_path = directory / f"{kind}.npz", directory / f"{kind}.json"
    write_bytes_atomic(npz_path, npz_bytes(arrays))
    write_bytes_atomic(json_path, json_bytes(document))
    return [json_path, npz_path]


def read_set(directory: str | os.PathLike, kind: str) -> Fixture:
    """Load ``<kind>.json`` and ``<kind>.npz`` from ``directory`` (no pickle).

    Raises
    ------
    FileNotFoundError
        If either file is missing.
    ValueError
        If a file cannot be read as a fixture (not JSON, not a ``.npz``, truncated,
        an array reference that the ``.npz`` lacks), or the JSON names another kind or
        lacks ``schema_version``; the message names the file.
    """
    directory = Path(directory)
    json_path, npz_path = directory / f"{kind}.json", directory / f"{kind}.npz"
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{json_path} is not a readable fixture document: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != kind \
            or "schema_version" not in document:
        found = document.get("kind") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{json_path} is not a {kind!r} fixture set (kind={found!r})")
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{npz_path} is not a readable fixture archive "
                         f"(truncated or corrupt): {exc}") from None
    try:
        meta = decode(document, arrays)
    except KeyError as exc:
        raise ValueError(f"{json_path} refers to an array {exc} that {npz_path.name} lacks") \
            from None
    return Fixture(kind=kind, schema_version=int(document["schema_version"]), meta=meta)
