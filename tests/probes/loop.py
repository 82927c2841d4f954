"""Probes of the training loop (``rso_ref.train``) and the checkpoint files
(``rso_ref.checkpoint``).

Tiny data (20 rows of 6 features, an MLP 6-4-2): a probe that trains runs in milliseconds.
A probe that must fail before any training passes ``callback=_never``, so an error found
only after a step fails the probe with ``AssertionError`` instead of the expected one.
"""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref import checkpoint
from rso_ref.nn import MLP
from rso_ref.optim import SGD
from rso_ref.train import TrainConfig, accuracy, evaluate, train, train_step

_MODEL = MLP((6, 4, 2))
_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((20, 6))
_Y = (_X[:, 0] > 0).astype(np.int64)
_PARAMS = _MODEL.init(seed=0)


def _with(value):
    """The tiny ``X`` with one entry replaced by ``value``."""
    X = _X.copy()
    X[3, 1] = value
    return X


def _never(step, record):
    raise AssertionError("training started although an argument is bad")


def _train(**kwargs):
    """``train`` on the tiny data; ``kwargs`` replace its arguments."""
    arguments = {"model": _MODEL, "optimizer": SGD(lr=0.1), "X": _X, "y": _Y, "epochs": 1,
                 "batch_size": 16, "progress": False, "callback": _never, **kwargs}
    return lambda tmp_path: train(**arguments)


def _file(tmp_path, name="a-file"):
    """A regular file in ``tmp_path``, where a directory is wanted."""
    path = tmp_path / name
    path.write_text("not a directory")
    return path


def _train_in_file(tmp_path):
    return _train(checkpoint_dir=_file(tmp_path) / "run")(tmp_path)


def _resume_short(tmp_path):
    train(_MODEL, SGD(lr=0.1), _X, _Y, epochs=3, batch_size=16, progress=False,
          checkpoint_dir=tmp_path)
    return _train(epochs=2, checkpoint_dir=tmp_path, resume=True)(tmp_path)


def _resume_other(tmp_path):
    train(_MODEL, SGD(lr=0.1), _X, _Y, epochs=1, batch_size=16, progress=False,
          checkpoint_dir=tmp_path)
    return checkpoint.resume(checkpoint.Checkpoint(tmp_path / "last"), fingerprint="other",
                             epochs=1)


def _is_none(value):
    assert value is None, value


def _save_onto_file(tmp_path):
    target = _file(tmp_path)
    try:
        checkpoint.save(target, {"step": 1})
    finally:
        assert target.read_text() == "not a directory", "the file was replaced"


def _is_false(value):
    assert value is False, value


def _atomic(path):
    with checkpoint.atomic_path(path):
        pass


_TRAIN = "rso_ref.train.train"
_CK = "rso_ref.checkpoint."

PROBES = [
    # train: every argument checked before the first step, naming the argument
    Probe(_TRAIN, "X without rows", _train(X=_X[:0], y=_Y[:0]),
          raises=ValueError, match=r"^X must have at least one row, got shape \(0, 6\)"),
    Probe(_TRAIN, "X a list", _train(X=_X.tolist()),
          raises=TypeError, match=r"^X must be an array, got list \(convert it with numpy"),
    Probe(_TRAIN, "X with a NaN", _train(X=_with(np.nan)),
          raises=ValueError, match=r"^X contains 1 NaN entry"),
    Probe(_TRAIN, "X_eval with an inf", _train(X_eval=_with(np.inf), y_eval=_Y),
          raises=ValueError, match=r"^X_eval contains 1 inf entr"),
    Probe(_TRAIN, "y a list", _train(y=_Y.tolist()),
          raises=TypeError, match=r"^y must be an array"),
    Probe(_TRAIN, "y of another length", _train(y=_Y[:5]),
          raises=ValueError, match=r"^X has 20 rows but y has 5"),
    Probe(_TRAIN, "X_eval of another width", _train(X_eval=_X[:, :3], y_eval=_Y),
          raises=ValueError, match=r"^X_eval must have rows of shape \(6,\) .* like X"),
    Probe(_TRAIN, "X_eval of another dtype", _train(X_eval=_X.astype(np.float32), y_eval=_Y),
          raises=ValueError, match=r"^X_eval must have rows .* dtype float64"),
    Probe(_TRAIN, "X_eval without rows", _train(X_eval=_X[:0], y_eval=_Y[:0]),
          raises=ValueError, match=r"^X_eval must have at least one row"),
    Probe(_TRAIN, "y_eval of another length", _train(X_eval=_X, y_eval=_Y[:3]),
          raises=ValueError, match=r"^X_eval has 20 rows but y_eval has 3"),
    Probe(_TRAIN, "y_eval a list", _train(X_eval=_X, y_eval=_Y.tolist()),
          raises=TypeError, match=r"^y_eval must be an array"),
    Probe(_TRAIN, "X_eval without y_eval", _train(X_eval=_X),
          raises=ValueError, match=r"^X_eval and y_eval must be given together"),
    Probe(_TRAIN, "params a bare array", _train(params=_PARAMS[0]),
          raises=TypeError, match=r"^params must be a list of arrays"),
    Probe(_TRAIN, "model None", _train(model=None),
          raises=TypeError, match=r"^model must be an rso_ref model"),
    Probe(_TRAIN, "epochs 0", _train(epochs=0), raises=ValueError, match=r"^epochs must be"),
    Probe(_TRAIN, "checkpoint_dir an int", _train(checkpoint_dir=3),
          raises=TypeError, match=r"^checkpoint_dir must be a str or os.PathLike"),
    Probe(_TRAIN, "checkpoint_dir below a file", _train_in_file,
          raises=NotADirectoryError, match=r"^checkpoint_dir: .*a-file' is a file, not a dir"),
    Probe(_TRAIN, "resume past epochs", _resume_short,
          raises=ValueError, match=r"^epochs=2, but the checkpoint at .* is from epoch 3"),
    # train_step: the same checks, on one minibatch
    Probe("rso_ref.train.train_step", "xb a list",
          lambda t: train_step(_MODEL, SGD(lr=0.1), _PARAMS, {}, _X.tolist(), _Y),
          raises=TypeError, match=r"^xb must be an array"),
    Probe("rso_ref.train.train_step", "meta_batch for SGD",
          lambda t: train_step(_MODEL, SGD(lr=0.1), _PARAMS, {}, _X, _Y, meta_batch=4),
          raises=ValueError, match=r"^meta_batch is for optimizers that take a meta oracle"),
    # TrainConfig: the settings alone, checked when made
    Probe("rso_ref.train.TrainConfig", "batch_size 0",
          lambda t: TrainConfig(epochs=1, batch_size=0),
          raises=ValueError, match=r"^batch_size must be an int >= 1, got 0"),
    Probe("rso_ref.train.TrainConfig", "resume without checkpoint_dir",
          lambda t: TrainConfig(epochs=1, batch_size=4, resume=True),
          raises=ValueError, match=r"^resume=True needs checkpoint_dir"),
    # evaluate / accuracy
    Probe("rso_ref.train.evaluate", "X a list",
          lambda t: evaluate(_MODEL, _PARAMS, _X.tolist(), _Y),
          raises=TypeError, match=r"^X must be an array"),
    Probe("rso_ref.train.evaluate", "X without rows",
          lambda t: evaluate(_MODEL, _PARAMS, _X[:0], _Y[:0]),
          raises=ValueError, match=r"^X must have at least one row"),
    Probe("rso_ref.train.evaluate", "params None", lambda t: evaluate(_MODEL, None, _X, _Y),
          raises=TypeError, match=r"^params must be a list of arrays"),
    Probe("rso_ref.train.evaluate", "batch_size 0",
          lambda t: evaluate(_MODEL, _PARAMS, _X, _Y, batch_size=0),
          raises=ValueError, match=r"^batch_size must be an int >= 1"),
    Probe("rso_ref.train.accuracy", "X a list",
          lambda t: accuracy(_MODEL, _PARAMS, _X.tolist(), _Y),
          raises=TypeError, match=r"^X must be an array"),
    Probe("rso_ref.train.accuracy", "X without rows",
          lambda t: accuracy(_MODEL, _PARAMS, _X[:0], _Y[:0]),
          raises=ValueError, match=r"^X must have at least one row"),
    Probe("rso_ref.train.accuracy", "y of another length",
          lambda t: accuracy(_MODEL, _PARAMS, _X, _Y[:4]),
          raises=ValueError, match=r"^X has 20 rows but y has 4"),
    # checkpoint files
    Probe(_CK + "resume", "another configuration", _resume_other,
          raises=ValueError, match=r"^checkpoint at .* was written by a different configur"),
    Probe(_CK + "resume", "nothing there",
          lambda t: checkpoint.resume(checkpoint.Checkpoint(t / "last"), fingerprint="",
                                      epochs=1), check=_is_none),
    Probe(_CK + "save", "path empty", lambda t: checkpoint.save("", {"step": 1}),
          raises=ValueError, match=r"^path must name a file or directory of its own, got ''"),
    Probe(_CK + "save", "path None", lambda t: checkpoint.save(None, {"step": 1}),
          raises=TypeError, match=r"^path must be a str or os.PathLike, got NoneType"),
    Probe(_CK + "save", "path below a file",
          lambda t: checkpoint.save(_file(t) / "sub", {"step": 1}),
          raises=NotADirectoryError, match=r"^path: .*a-file' is a file, not a directory"),
    Probe(_CK + "save", "path a file", _save_onto_file,
          raises=NotADirectoryError, match=r"^path: .*a-file' is a file, not a checkpoint dir"),
    Probe(_CK + "save", "state holds an object",
          lambda t: checkpoint.save(t / "c", {"a": object()}),
          raises=TypeError, match=r"^state\['a'\]: cannot store a value of type object"),
    Probe(_CK + "load", "path None", lambda t: checkpoint.load(None),
          raises=TypeError, match=r"^path must be a str or os.PathLike"),
    Probe(_CK + "load", "like a list",
          lambda t: checkpoint.load(checkpoint.save(t / "c", {"step": 1}), like=[1.0]),
          raises=TypeError, match=r"^like must be an array, got list"),
    Probe(_CK + "exists", "path empty", lambda t: checkpoint.exists(""),
          raises=ValueError, match=r"^path must name a file or directory of its own"),
    Probe(_CK + "exists", "nothing there", lambda t: checkpoint.exists(t / "none"),
          check=_is_false),
    Probe(_CK + "atomic_path", "path a directory", lambda t: _atomic(t),
          raises=IsADirectoryError, match=r"^path: .* is a directory, not a file"),
    Probe(_CK + "atomic_path", "path empty", lambda t: _atomic(""),
          raises=ValueError, match=r"^path must name a file or directory of its own"),
    Probe(_CK + "write_bytes_atomic", "data a str",
          lambda t: checkpoint.write_bytes_atomic(t / "f", "text"),
          raises=TypeError, match=r"^data must be bytes, got str"),
    Probe(_CK + "write_bytes_atomic", "path below a file",
          lambda t: checkpoint.write_bytes_atomic(_file(t) / "f", b"x"),
          raises=NotADirectoryError, match=r"^path: .*a-file' is a file, not a directory"),
    Probe(_CK + "write_text_atomic", "text bytes",
          lambda t: checkpoint.write_text_atomic(t / "f", b"x"),
          raises=TypeError, match=r"^text must be a str, got bytes"),
    Probe(_CK + "write_json_atomic", "payload holds an object",
          lambda t: checkpoint.write_json_atomic(t / "f.json", {"a": object()}),
          raises=TypeError, match=r"^payload holds a value of type object, which JSON"),
    Probe(_CK + "write_json_atomic", "path None",
          lambda t: checkpoint.write_json_atomic(None, {}),
          raises=TypeError, match=r"^path must be a str or os.PathLike"),
]
