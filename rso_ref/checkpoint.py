r"""Checkpoints without pickle, checked on load, and cheap to save however long the run.

Layout
------
A checkpoint at ``<dir>/<name>`` (for :func:`rso_ref.train.train`, ``<dir>/last``) is

* ``<dir>/<name>/arrays.npz``: every array of the state, moved to the host with
  :func:`rso_ref.backend.to_numpy` (bit-exact for float32/float64); only boolean and
  numeric dtypes are stored, so nothing in it needs pickle to read;
* ``<dir>/<name>/state.json``: ``{"format": 2, "sha256": H, "payload": P}`` where the
  payload ``P`` holds the structure of the state (arrays replaced by references), the
  sha256 of ``arrays.npz`` and, when a step history is kept, its record ``{"file",
  "columns", "rows", "size", "sha256"}``; ``H`` is the sha256 of ``P`` written as
  canonical JSON (sorted keys, no whitespace);
* ``<dir>/<name>.history-<id>.jsonl`` (only with a history, :class:`Checkpoint`): the
  per-step records, one JSON array per line in the order of ``columns``. The file is
  only ever appended to; the checkpoint owns its first ``size`` bytes (``rows`` lines,
  with that sha256). Bytes past them are an append whose save never committed, ignored
  on load and cut off by the next save. A save therefore writes the parameters and the
  steps taken since the previous save, never the whole history again.

Integrity
---------
:meth:`Checkpoint.load` checks ``H`` (so an edited epoch, step or row count is
refused, not resumed from), the sha256 of ``arrays.npz`` and that of the history's
committed bytes. A truncated, corrupted or edited checkpoint, an unknown format (the
format without these records, written before version 2, is not read), or a directory
holding only one of its two files raises :class:`CheckpointError` naming the
checkpoint; only a checkpoint that is not there at all is ``FileNotFoundError``, so a
caller can never mistake a damaged checkpoint for an absent one and overwrite it. The
hashes detect accidents and edits, not forgery: whoever recomputes them can write a
checkpoint that loads.

Atomic save
-----------
The directory is written under a temporary name ``.<name>.tmp-*``; an older
checkpoint is moved aside to ``.<name>.old``, the new one renamed onto ``<name>`` (a
directory rename is atomic on POSIX), and only then is the old copy removed. A save
killed at any point leaves the previous checkpoint or the new one: before the
rename, ``<name>`` or its ``.old`` copy (which :meth:`~Checkpoint.load` falls back to
when ``<name>`` is missing) is the previous checkpoint, whose history bytes are
untouched; after it, ``<name>`` is the new one. The next save puts a moved-aside copy
back, removes the temporaries of killed saves and the history files no checkpoint
uses. A save that fails raises and leaves the previous checkpoint loadable; failing to
remove the old copy after a successful save only warns. One writer per checkpoint at
a time.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .backend import asarray, check_array, to_numpy

__all__ = ["CheckpointError", "Checkpoint", "save", "load", "exists", "resume",
           "write_json_atomic", "write_text_atomic", "write_bytes_atomic", "atomic_path"]

_FORMAT = 2
_STATE, _ARRAYS = "state.json", "arrays.npz"
_ARRAY_TAG = "__array__"
_TUPLE_TAG = "__tuple__"
_NUMERIC_KINDS = "biufc"  # bool, signed/unsigned int, float, complex: stored without pickle


class CheckpointError(ValueError):
    """A checkpoint is there but cannot be trusted: incomplete, corrupted or edited.

    The message starts with the checkpoint's path.
    """


def _encode(state: Any, arrays: dict, where: str) -> Any:
    """Replace arrays in ``state`` by references, storing them in ``arrays`` (host NumPy).

    ``where`` is the key path of ``state`` (``state['opt']['mu'][0]``), named by errors.
    """
    if isinstance(state, dict):
        for key in state:
            if not isinstance(key, str):
                raise TypeError(f"{where}: state dict keys must be strings, got {key!r}")
        if set(state) in ({_ARRAY_TAG}, {_TUPLE_TAG}):
            raise TypeError(f"{where}: a dict whose only key is {next(iter(state))!r} is "
                            f"reserved by the checkpoint format")
        return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(state)]
        return {_TUPLE_TAG: items} if isinstance(state, tuple) else items
    if state is None or isinstance(state, (bool, str)):
        return state
    if isinstance(state, (int, np.integer)):
        return int(state)
    if isinstance(state, (float, np.floating)) and not isinstance(state, np.ndarray):
        return float(state)
    if hasattr(state, "shape") and hasattr(state, "dtype"):
        host = to_numpy(state)
        if host.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"{where} is an array of dtype {host.dtype}; a checkpoint stores "
                            f"only boolean and numeric arrays (this one would need pickle)")
        key = f"a{len(arrays)}"
        arrays[key] = host
        return {_ARRAY_TAG: key}
    raise TypeError(f"{where}: cannot store a value of type {type(state).__name__} in a "
                    f"checkpoint")


def _decode(node: Any, arrays: Mapping[str, Any]) -> Any:
    """Inverse of :func:`_encode`, taking the arrays from ``arrays`` by reference."""
    if isinstance(node, dict):
        if set(node) == {_ARRAY_TAG}:
            return arrays[node[_ARRAY_TAG]]
        if set(node) == {_TUPLE_TAG}:
            return tuple(_decode(v, arrays) for v in node[_TUPLE_TAG])
        return {k: _decode(v, arrays) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    return node


def _plain(value: Any, where: str) -> Any:
    """``value`` as the JSON value it will load back as, or ``TypeError`` naming ``where``.

    History values are what JSON stores exactly: ``None``, bools, strings, ints, floats
    (NaN and inf included; NumPy scalars become Python ones) and lists of these. Tuples
    and arrays are refused: they would come back as lists.
    """
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return value.item()
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where}: a history value must be None, a bool, str, int, float or a "
                    f"list of these, got {type(value).__name__}")


def _canonical_sha256(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _flush(handle: Any) -> None:
    """Push a written file to disk, so a crash after the commit rename cannot lose it."""
    handle.flush()
    os.fsync(handle.fileno())


def _checked_path(path: Any, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path` naming a file or directory of its own.

    ``TypeError`` naming ``name`` unless it is a ``str`` or ``os.PathLike``; ``ValueError``
    for ``""``, ``"."`` or a path ending in ``..``, which name no entry to write.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    out = Path(path)
    if out.name in ("", ".."):
        raise ValueError(f"{name} must name a file or directory of its own, got {str(path)!r}")
    return out


def _make_directory(directory: Path, name: str) -> None:
    """Create ``directory`` and its parents; an ancestor that is a file is reported as
    ``NotADirectoryError`` naming ``name`` and that file (``mkdir`` says "File exists")."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed([directory, *directory.parents])
                        if p.exists() and not p.is_dir()), directory)
        raise NotADirectoryError(f"{name}: {str(blocker)!r} is a file, not a directory"
                                 ) from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class _Log:
    """The committed part of a history file: name, columns, rows, bytes and their hash."""

    def __init__(self, file: str, columns: tuple, rows: int, size: int, digest: Any):
        self.file, self.columns, self.rows, self.size = file, columns, rows, size
        self.digest = digest  # hashlib.sha256 object fed with the first ``size`` bytes

    def record(self) -> dict:
        return {"file": self.file, "columns": list(self.columns), "rows": self.rows,
                "size": self.size, "sha256": self.digest.hexdigest()}


class Checkpoint:
    r"""A checkpoint directory with an optional append-only step history beside it.

    Parameters
    ----------
    path : path
        The checkpoint directory ``<dir>/<name>``; its history file is
        ``<dir>/<name>.history-<id>.jsonl`` (module docstring).

    Raises
    ------
    TypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    ValueError
        If ``path`` names no directory of its own (``""``, ``"."``).

    Notes
    -----
    A history is a dict of equal-length lists (columns), one entry per step, that only
    grows between saves. :meth:`save` appends the rows added since the checkpoint this
    object last loaded or saved, so one save costs :math:`O(\text{state} + \text{new
    rows})`. An object that has not loaded or saved yet starts a new history file; the
    one of an older checkpoint at ``path`` is removed once the new one is committed.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> ck = Checkpoint(tempfile.mkdtemp() + "/last")
    >>> steps = {"loss": [0.5, 0.25]}
    >>> _ = ck.save({"params": [np.ones(2)], "step": 2}, history=steps)
    >>> steps["loss"].append(0.125)
    >>> _ = ck.save({"params": [np.zeros(2)], "step": 3}, history=steps)  # appends one row
    >>> state, history = Checkpoint(ck.path).load()
    >>> state["step"], history
    (3, {'loss': [0.5, 0.25, 0.125]})
    """

    def __init__(self, path: str | os.PathLike):
        self.path = _checked_path(path)
        self._backup = self.path.with_name(f".{self.path.name}.old")
        self._log: _Log | None = None

    def exists(self) -> bool:
        """Tell whether a checkpoint (or its ``.old`` copy) is at :attr:`path`.

        Returns
        -------
        bool
            True when something is there that :meth:`load` reads or refuses with
            :class:`CheckpointError`; False only when nothing is.
        """
        return any(p.exists() or p.is_symlink() for p in (self.path, self._backup))

    def load(self, like: Any = None) -> tuple[Any, dict | None]:
        """Read and check the checkpoint; return ``(state, history)``.

        Arrays go to the namespace and device of the array ``like`` (host NumPy arrays
        when None), so a run on a GPU or a second device resumes there; ``history`` is the dict of
        columns saved with the state, or None when it was saved without one. Falls back
        to the ``.old`` copy when an interrupted save left none at :attr:`path`. A later
        :meth:`save` of this object appends to the history loaded here.

        Parameters
        ----------
        like : array, optional
            An array of the target namespace and device.

        Returns
        -------
        state : object
            The saved nesting, arrays on ``like``'s backend and device.
        history : dict of lists or None
            The columns saved with the state.

        Raises
        ------
        FileNotFoundError
            If there is no checkpoint at :attr:`path` (:meth:`exists` is False).
        CheckpointError
            If there is one but it is incomplete, corrupted, edited or of another format.
        TypeError
            If ``like`` is neither None nor an array.
        """
        if like is not None:
            check_array(like, "like")
        if self.path.exists() or self.path.is_symlink():
            found = self.path
        elif self._backup.exists():
            found = self._backup
        else:
            raise FileNotFoundError(f"no checkpoint at {self.path}")
        where = str(self.path) if found == self.path else f"{self.path} (its copy {found.name})"
        missing = [name for name in (_STATE, _ARRAYS) if not (found / name).is_file()]
        if missing:
            raise CheckpointError(f"{where}: incomplete checkpoint, {' and '.join(missing)} "
                                  f"missing")
        payload = self._payload(found / _STATE, where)
        if _file_sha256(found / _ARRAYS) != payload["arrays_sha256"]:
            raise CheckpointError(f"{where}: {_ARRAYS} does not match the sha256 recorded in "
                                  f"{_STATE} (truncated, corrupted or replaced)")
        # The two handlers below are reached only by files whose hashes were recomputed
        # after an edit; they keep the promise of one error type for those too.
        try:
            with np.load(found / _ARRAYS, allow_pickle=False) as npz:
                host = {key: npz[key] for key in npz.files}
        except (ValueError, EOFError, zipfile.BadZipFile) as error:
            raise CheckpointError(f"{where}: {_ARRAYS} is not a pickle-free npz file "
                                  f"({type(error).__name__}: {error})") from error
        arrays = host if like is None else {k: asarray(v, like=like) for k, v in host.items()}
        try:
            state = _decode(payload["state"], arrays)
            history, log = self._read_history(payload["history"], where)
        except CheckpointError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, RecursionError) as error:
            raise CheckpointError(f"{where}: inconsistent checkpoint "
                                  f"({type(error).__name__}: {error})") from error
        self._log = log
        return state, history

    @staticmethod
    def _payload(state_file: Path, where: str) -> dict:
        """The payload of ``state.json`` after checking its format and sha256."""
        try:
            document = json.loads(state_file.read_bytes())
            form, digest, payload = document["format"], document["sha256"], document["payload"]
            matches = _canonical_sha256(payload) == digest
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise CheckpointError(f"{where}: {_STATE} is not a checkpoint state of format "
                                  f"{_FORMAT} ({type(error).__name__}: {error})") from None
        if form != _FORMAT:
            raise CheckpointError(f"{where}: checkpoint format {form!r}, this version of rso_ref "
                                  f"reads format {_FORMAT}")
        if not matches:
            raise CheckpointError(f"{where}: {_STATE} does not match its sha256 (edited or "
                                  f"corrupted)")
        if not isinstance(payload, dict) or set(payload) != {"arrays_sha256", "history", "state"}:
            raise CheckpointError(f"{where}: {_STATE} has a payload of the wrong shape")
        return payload

    def _read_history(self, record: Any, where: str) -> tuple[dict | None, _Log | None]:
        if record is None:
            return None, None
        name, size = record["file"], record["size"]
        columns, rows = tuple(record["columns"]), record["rows"]
        if not isinstance(name, str) or Path(name).name != name \
                or not name.startswith(f"{self.path.name}.history-"):
            raise CheckpointError(f"{where}: bad history file name {name!r}")
        try:
            with open(self.path.parent / name, "rb") as handle:
                data = handle.read(size)
        except FileNotFoundError:
            raise CheckpointError(f"{where}: its history file {name} is missing") from None
        if len(data) != size:
            raise CheckpointError(f"{where}: history file {name} is truncated ({len(data)} of "
                                  f"{size} committed bytes)")
        digest = hashlib.sha256(data)
        if digest.hexdigest() != record["sha256"]:
            raise CheckpointError(f"{where}: history file {name} does not match its sha256 "
                                  f"(edited or corrupted)")
        table = json.loads(b"[" + data.replace(b"\n", b",")[:-1] + b"]") if data else []
        if not len(table) == rows == data.count(b"\n") \
                or any(not isinstance(row, list) or len(row) != len(columns) for row in table):
            raise CheckpointError(f"{where}: history file {name} does not hold {rows} rows of "
                                  f"{len(columns)} columns")
        history = {c: [row[j] for row in table] for j, c in enumerate(columns)}
        return history, _Log(name, columns, rows, size, digest)

    def save(self, state: Any, history: Mapping[str, list] | None = None) -> Path:
        """Write ``state`` (and the new rows of ``history``) atomically; return :attr:`path`.

        Parameters
        ----------
        state : nesting of dicts (str keys), lists, tuples, arrays, numbers, str, None
            Arrays must have a boolean or numeric dtype.
        history : dict of lists, optional
            Per-step columns of equal length holding JSON values (:func:`_plain`); the
            rows this object has not committed yet are appended.

        Returns
        -------
        pathlib.Path
            :attr:`path`.

        Raises
        ------
        TypeError
            For a value that cannot be stored without pickle (an object, string or
            structured array, a tuple in the history, ...), naming its key path. Raised
            before anything is written: the previous checkpoint stays as it was.
        ValueError
            If ``history`` is not an extension of the one this object committed.
        NotADirectoryError
            If :attr:`path` or one of its parents is a file (never replaced).
        """
        arrays: dict = {}
        skeleton = _encode(state, arrays, "state")
        columns, blob, rows = self._new_rows(history)
        parent = self.path.parent
        _make_directory(parent, "path")
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"path: {str(self.path)!r} is a file, not a checkpoint "
                                     f"directory (it is not replaced)")
        self._recover()
        log, fresh = self._append(columns, blob, rows) if history is not None else (None, None)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=parent))
        try:
            with open(tmp / _ARRAYS, "wb") as handle:
                np.savez(handle, **arrays)
                _flush(handle)
            payload = {"arrays_sha256": _file_sha256(tmp / _ARRAYS),
                       "history": None if log is None else log.record(), "state": skeleton}
            document = {"format": _FORMAT, "sha256": _canonical_sha256(payload),
                        "payload": payload}
            with open(tmp / _STATE, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1, allow_nan=True)
                _flush(handle)
            if self.path.exists() or self.path.is_symlink():
                os.replace(self.path, self._backup)
            os.replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if fresh is not None:
                fresh.unlink(missing_ok=True)
            if self._backup.exists() and not self.path.exists():
                with contextlib.suppress(OSError):  # load falls back to the copy anyway
                    os.replace(self._backup, self.path)
            raise
        _fsync_dir(parent)
        self._log = log
        self._discard(keep=None if log is None else log.file)
        return self.path

    def _new_rows(self, history: Mapping[str, list] | None) -> tuple[tuple, bytes, int]:
        """Columns, the encoded rows not committed yet, and the total row count."""
        if history is None:
            return (), b"", 0
        if not isinstance(history, Mapping) or not all(isinstance(c, str) for c in history):
            raise TypeError(f"history must be a dict of lists with string keys, got {history!r}")
        columns = tuple(history)
        lengths = {c: len(history[c]) for c in columns}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"history columns must have equal lengths, got {lengths}")
        rows = next(iter(lengths.values()), 0)
        start = 0
        if self._log is not None:
            if columns != self._log.columns:
                raise ValueError(f"history columns {list(columns)} differ from "
                                 f"{list(self._log.columns)} committed to {self.path}")
            if rows < self._log.rows:
                raise ValueError(f"history has {rows} rows but {self.path} already holds "
                                 f"{self._log.rows}; a history only grows")
            start = self._log.rows
        lines = [json.dumps([_plain(history[c][i], f"history[{c!r}][{i}]") for c in columns],
                            allow_nan=True, separators=(",", ":")) + "\n"
                 for i in range(start, rows)]
        return columns, "".join(lines).encode("utf-8"), rows

    def _append(self, columns: tuple, blob: bytes, rows: int) -> tuple[_Log, Path | None]:
        """Write ``blob`` after the committed history (or to a new file); return the log
        it commits with, and the new file if one was started."""
        old = self._log
        if old is None:
            name = f"{self.path.name}.history-{secrets.token_hex(8)}.jsonl"
            fresh = self.path.parent / name
            with open(fresh, "xb") as handle:
                handle.write(blob)
                _flush(handle)
            return _Log(name, columns, rows, len(blob), hashlib.sha256(blob)), fresh
        with open(self.path.parent / old.file, "r+b") as handle:
            handle.truncate(old.size)  # drop the rows of a save that never committed
            handle.seek(old.size)
            handle.write(blob)
            _flush(handle)
        digest = old.digest.copy()
        digest.update(blob)
        return _Log(old.file, columns, rows, old.size + len(blob), digest), None

    def _recover(self) -> None:
        """Undo what a killed save left: put a moved-aside checkpoint back, drop temporaries."""
        if self._backup.exists():
            if self.path.exists() or self.path.is_symlink():
                _remove(self._backup)
            else:
                os.replace(self._backup, self.path)
        stem = glob.escape(self.path.name)
        for stale in self.path.parent.glob(f".{stem}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _discard(self, keep: str | None) -> None:
        """After a commit: remove the old copy and unused history files, warning on failure."""
        stem = glob.escape(self.path.name)
        unused = [p for p in self.path.parent.glob(f"{stem}.history-*.jsonl") if p.name != keep]
        for victim in [self._backup, *unused]:
            try:
                _remove(victim)
            except OSError as error:
                warnings.warn(f"checkpoint saved at {self.path}, but removing {victim} failed "
                              f"({error}); the next save retries", RuntimeWarning, stacklevel=3)


def _fsync_dir(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Step-record columns renamed since checkpoints were first written: ``{old: new}``.
#: ``train`` once recorded StepInfo's ``oracle_calls`` as ``"nfev"`` (a name that in
#: SciPy counts every evaluation, the one at x0 included); :func:`resume` reads the old
#: name, so a checkpoint written before the rename resumes and keeps appending.
_RENAMED_COLUMNS = {"nfev": "oracle_calls"}


def resume(store: Checkpoint, *, fingerprint: str, epochs: int,
           like: Any = None) -> tuple[dict, dict] | None:
    """Load the checkpoint a training run continues from, after checking it is that run's.

    The checkpoint of :func:`rso_ref.train.train`: a state ``{"fingerprint", "params",
    "opt_state", "epochs", "epoch", "step"}`` saved with the step history. A later
    :meth:`Checkpoint.save` of ``store`` appends to the history returned here.

    Parameters
    ----------
    store : Checkpoint
        The run's checkpoint (``checkpoint_dir/last``).
    fingerprint : str
        What the run that wrote it must have been (model, optimizer and the settings
        that decide the steps, as :func:`rso_ref.train.train` writes it).
    epochs : int
        The epochs the resuming run asks for; the checkpoint may not be past them.
    like : array, optional
        The arrays are read onto this array's namespace and device (:meth:`Checkpoint.load`).

    Returns
    -------
    tuple of (dict, dict) or None
        ``(state, history)``, or None when there is no checkpoint (a fresh start).

    Raises
    ------
    CheckpointError
        If a checkpoint is there but damaged: never a silent restart over it.
    ValueError
        If it was written by another configuration, or is from an epoch past ``epochs``
        (its parameters and log are past the run asked for).
    """
    if not store.exists():
        return None
    state, history = store.load(like=like)
    if state["fingerprint"] != fingerprint:
        raise ValueError(f"checkpoint at {store.path} was written by a different configuration")
    if state["epoch"] > epochs:
        raise ValueError(f"epochs={epochs}, but the checkpoint at {store.path} is from "
                         f"epoch {state['epoch']}: resume with epochs >= {state['epoch']}, "
                         f"or start over in a fresh checkpoint_dir")
    if history is not None and store._log is not None \
            and any(c in _RENAMED_COLUMNS for c in history):
        # Same columns in the same order, new names: the rows already committed stay as
        # they are, and the next save records the new names.
        history = {_RENAMED_COLUMNS.get(c, c): v for c, v in history.items()}
        store._log.columns = tuple(history)
    return state, history


def save(path: str | os.PathLike, state: Any) -> Path:
    """Write ``state`` to the directory ``path`` atomically, without a history.

    Shorthand for ``Checkpoint(path).save(state)``; see :meth:`Checkpoint.save`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint directory.
    state : object
        As in :meth:`Checkpoint.save`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return Checkpoint(path).save(state)


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Return the state of the checkpoint at ``path`` (:meth:`Checkpoint.load` without the history).

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint directory.
    like : array, optional
        An array of the target namespace and device.

    Returns
    -------
    object
        The saved state.
    """
    return Checkpoint(path).load(like)[0]


def exists(path: str | os.PathLike) -> bool:
    """Tell whether something is at ``path`` that :func:`load` reads or refuses.

    See :meth:`Checkpoint.exists`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint directory.

    Returns
    -------
    bool
        As :meth:`Checkpoint.exists`.
    """
    return Checkpoint(path).exists()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Give a temporary file beside ``path`` that replaces ``path`` when the block succeeds.

    Write to the yielded path (it keeps ``path``'s suffix, so writers that infer a
    format from it work); on a normal exit it gets mode 0644, readable by all as results
    are meant to be shared (``mkstemp`` would leave 0600), and :func:`os.replace` puts it
    in place, so a reader sees the old file or the whole new one. On an exception it is
    removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.

    Yields
    ------
    pathlib.Path
        The temporary file to write to.

    Raises
    ------
    TypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    ValueError
        If ``path`` names no file of its own (``""``, ``"."``).
    IsADirectoryError, NotADirectoryError
        If ``path`` is a directory, or one of its parents a file.
    """
    path = _checked_path(path)
    _make_directory(path.parent, "path")
    if path.is_dir():
        raise IsADirectoryError(f"path: {str(path)!r} is a directory, not a file")
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
    """Write ``data`` to ``path`` through :func:`atomic_path`, flushed to disk before the rename.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : bytes
        Its new content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`write_bytes_atomic`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    text : str
        Its new content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically (:func:`write_text_atomic`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    payload : object
        JSON data; NumPy scalars and arrays are converted.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``payload`` holds a value JSON cannot store, naming its type.
    """
    return write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=True,
                                              default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"payload holds a value of type {type(value).__name__}, which JSON "
                    f"cannot store")
