"""Checkpoints without pickle: arrays in an ``.npz``, everything else in JSON, written atomically.

A *state* is any nesting of dicts (string keys), lists/tuples, arrays of any backend,
Python numbers, strings, booleans and ``None``. :func:`save` writes

* ``arrays.npz``: every array, under a generated key, moved to the host with
  :func:`rso_ref.backend.to_numpy` (bit-exact for float32/float64);
* ``state.json``: the structure, with arrays replaced by ``{"__array__": key}``.

Both go into a temporary directory that is then renamed onto the target (a directory
rename is atomic on POSIX), so a reader never sees a half-written checkpoint. An older
checkpoint at the target is first moved aside to ``.<name>.old`` and removed after the
rename; if a crash falls between the two renames, :func:`load` (and :func:`exists`)
fall back to that older copy. :func:`load` reads with
``numpy.load(allow_pickle=False)`` and moves arrays to the requested namespace.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import numpy as np

from .backend import asarray, to_numpy

__all__ = ["save", "load", "exists", "encode", "decode", "write_json_atomic", "write_text_atomic",
           "write_bytes_atomic", "atomic_path"]

_ARRAY_TAG = "__array__"
_TUPLE_TAG = "__tuple__"


def encode(state: Any, arrays: dict) -> Any:
    """Replace arrays in ``state`` by references, storing them in ``arrays`` (host NumPy)."""
    if isinstance(state, dict):
        for key in state:
            if not isinstance(key, str):
                raise TypeError(f"state dict keys must be strings, got {key!r}")
        return {k: encode(v, arrays) for k, v in state.items()}
    if isinstance(state, tuple):
        return {_TUPLE_TAG: [encode(v, arrays) for v in state]}
    if isinstance(state, list):
        return [encode(v, arrays) for v in state]
    if state is None or isinstance(state, (bool, str)):
        return state
    if isinstance(state, (int, np.integer)):
        return int(state)
    if isinstance(state, (float, np.floating)) and not isinstance(state, np.ndarray):
        return float(state)
    if hasattr(state, "shape") and hasattr(state, "dtype"):
        key = f"a{len(arrays)}"
        arrays[key] = to_numpy(state)
        return {_ARRAY_TAG: key}
    raise TypeError(f"cannot store a value of type {type(state).__name__} in a checkpoint")


def decode(node: Any, arrays: Any, xp: ModuleType | None = None) -> Any:
    """Inverse of :func:`encode`; arrays go to namespace ``xp`` (NumPy when None)."""
    if isinstance(node, dict):
        if set(node) == {_ARRAY_TAG}:
            host = np.array(arrays[node[_ARRAY_TAG]])
            return host if xp is None else asarray(host, xp=xp)
        if set(node) == {_TUPLE_TAG}:
            return tuple(decode(v, arrays, xp) for v in node[_TUPLE_TAG])
        return {k: decode(v, arrays, xp) for k, v in node.items()}
    if isinstance(node, list):
        return [decode(v, arrays, xp) for v in node]
    return node


def save(path: str | os.PathLike, state: Any) -> Path:
    """Write ``state`` to the directory ``path`` atomically (replacing an older one).

    Returns the path. Raises ``TypeError`` for values that cannot be stored without
    pickle.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    skeleton = encode(state, arrays)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        np.savez(tmp / "arrays.npz", **arrays)
        with open(tmp / "state.json", "w", encoding="utf-8") as handle:
            json.dump(skeleton, handle, indent=1, allow_nan=True)
        backup = None
        if path.exists():
            backup = path.with_name(f".{path.name}.old")
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(path, backup)
        os.replace(tmp, path)
        if backup is not None:
            shutil.rmtree(backup)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _complete(path: Path) -> Path | None:
    """``path``, or its ``.old`` copy left by an interrupted :func:`save`, if complete."""
    for candidate in (path, path.with_name(f".{path.name}.old")):
        if (candidate / "state.json").is_file() and (candidate / "arrays.npz").is_file():
            return candidate
    return None


def exists(path: str | os.PathLike) -> bool:
    """True when :func:`load` would find a complete checkpoint at ``path``."""
    return _complete(Path(path)) is not None


def load(path: str | os.PathLike, xp: ModuleType | None = None) -> Any:
    """Read a checkpoint directory written by :func:`save`.

    Falls back to the ``.old`` copy when an interrupted :func:`save` left no
    complete checkpoint at ``path``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a complete checkpoint.
    """
    found = _complete(Path(path))
    if found is None:
        raise FileNotFoundError(f"no complete checkpoint at {path}")
    with open(found / "state.json", encoding="utf-8") as handle:
        skeleton = json.load(handle)
    with np.load(found / "arrays.npz", allow_pickle=False) as arrays:
        return decode(skeleton, arrays, xp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces ``path`` when the block succeeds.

    Write to the yielded path (it keeps ``path``'s suffix, so writers that infer a
    format from it work); on a normal exit it gets mode 0644, readable by all as results
    are meant to be shared (``mkstemp`` would leave 0600), and :func:`os.replace` puts it
    in place, so a reader sees the old file or the whole new one. On an exception it is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_path`, flushed to disk before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically (:func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=True,
                                              default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
