"""Checkpoints: round trips, no pickle, integrity checks, history files, atomic saves."""
import hashlib
import json
import multiprocessing
import os
import shutil
import signal

import numpy as np
import pytest

from rso_ref import backend, checkpoint
from rso_ref.checkpoint import Checkpoint, CheckpointError


def _state(xp):
    return {
        "params": [backend.random_normal((3, 2), seed=0, xp=xp),
                   backend.random_normal((2,), seed=1, xp=xp, dtype="float32")],
        "opt": {"count": 7, "lr": 0.125, "mu": (xp.zeros(2), None), "name": "adam", "flag": True},
        "history": [1.5, float("nan"), 2],
    }


def test_round_trip_is_bit_exact_on_every_backend(xp, tmp_path):
    state = _state(xp)
    checkpoint.save(tmp_path / "ck", state)
    back = checkpoint.load(tmp_path / "ck", like=state["params"][0])
    for a, b in zip(back["params"], state["params"]):
        assert a.dtype == b.dtype
        assert backend.device(a) == backend.device(b)  # back on the device it was saved from
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    assert back["opt"]["count"] == 7 and back["opt"]["lr"] == 0.125
    assert isinstance(back["opt"]["mu"], tuple) and back["opt"]["mu"][1] is None
    assert back["opt"]["name"] == "adam" and back["opt"]["flag"] is True
    assert back["history"][0] == 1.5 and np.isnan(back["history"][1])
    assert backend.backend_name(backend.array_namespace(back["params"][0])) == \
        backend.backend_name(xp)


def test_no_pickle_is_needed_to_read(tmp_path, np_xp):
    checkpoint.save(tmp_path / "ck", _state(np_xp))
    with np.load(tmp_path / "ck" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype != object for k in arrays.files)
    json.loads((tmp_path / "ck" / "state.json").read_text())


def test_overwrite_replaces_and_leaves_no_temporaries(tmp_path, np_xp):
    checkpoint.save(tmp_path / "ck", {"a": np_xp.ones(2)})
    checkpoint.save(tmp_path / "ck", {"a": np_xp.zeros(3)})
    assert checkpoint.load(tmp_path / "ck")["a"].shape == (3,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, np_xp):
    checkpoint.save(tmp_path / "ck", {"a": np_xp.ones(2)})
    with pytest.raises(TypeError, match="cannot store"):
        checkpoint.save(tmp_path / "ck", {"a": object()})
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "ck")["a"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_bad_keys_and_missing_checkpoints_raise(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        checkpoint.save(tmp_path / "ck", {1: 2})
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing"):
        checkpoint.load(tmp_path / "missing")


def test_write_json_atomic(tmp_path):
    path = checkpoint.write_json_atomic(tmp_path / "r.json",
                                        {"x": np.float64(1.5), "v": np.arange(3)})
    assert json.loads(path.read_text()) == {"x": 1.5, "v": [0, 1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_crash_between_the_two_renames_falls_back_to_the_old_copy(tmp_path, np_xp):
    checkpoint.save(tmp_path / "ck", {"a": np_xp.ones(2)})
    (tmp_path / "ck").rename(tmp_path / ".ck.old")  # as save leaves it mid-swap
    assert checkpoint.exists(tmp_path / "ck")
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "ck")["a"], np.ones(2))
    assert not checkpoint.exists(tmp_path / "other")


def test_write_text_atomic_replaces_whole_files_readable_by_all(tmp_path):
    path = checkpoint.write_text_atomic(tmp_path / "page.md", "first")
    checkpoint.write_text_atomic(path, "second")
    assert path.read_text() == "second"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["page.md"]  # no temporary file left


def test_atomic_path_leaves_the_target_untouched_on_error(tmp_path):
    target = checkpoint.write_text_atomic(tmp_path / "fig.png", "old")
    with pytest.raises(RuntimeError, match="boom"):
        with checkpoint.atomic_path(target) as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path   # writers see the suffix
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


# --- item 4: nothing that needs pickle is written, and a refusal comes first ---------

@pytest.mark.parametrize("bad", [np.array([{"a": 1}, None], dtype=object), np.array(["x", "yz"]),
                                 np.array([b"x"]), np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
                                 np.array(["2020-01-01"], dtype="datetime64[D]")],
                         ids=["object", "str", "bytes", "structured", "datetime"])
def test_non_numeric_arrays_are_refused_before_the_old_checkpoint_is_touched(tmp_path, bad):
    checkpoint.save(tmp_path / "ck", {"a": np.ones(2)})
    before = {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()}
    with pytest.raises(TypeError, match=r"^state\['opt'\]\['mu'\]\[1\] is an array of dtype"):
        checkpoint.save(tmp_path / "ck", {"opt": {"mu": (np.zeros(2), bad)}})
    assert {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()} == before
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "ck")["a"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_a_dict_that_would_read_back_as_an_array_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"^state\['x'\]: a dict whose only key is '__array__'"):
        checkpoint.save(tmp_path / "ck", {"x": {"__array__": "a0"}})


# --- item 5: integrity -----------------------------------------------------------------

def _two_saves(directory):
    """A checkpoint saved twice with a history (so its history file has been appended to)."""
    ck = Checkpoint(directory / "ck")
    steps = {"loss": [0.5, float("nan")], "w": [[1.0, 2.0], None]}
    ck.save({"params": [np.arange(6.0).reshape(3, 2)], "step": 2, "name": "sgd"}, history=steps)
    steps["loss"].append(0.25)
    steps["w"].append([3.0, 4.0])
    ck.save({"params": [np.arange(6.0).reshape(3, 2) + 1], "step": 3, "name": "sgd"},
            history=steps)
    return ck


def _history_file(ck):
    (found,) = ck.path.parent.glob("ck.history-*.jsonl")
    return found


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _refused(ck, match=None):
    with pytest.raises(CheckpointError, match=match) as info:
        Checkpoint(ck.path).load()
    assert str(info.value).startswith(str(ck.path))  # the message names the checkpoint
    return info


@pytest.mark.parametrize("which", ["state.json", "arrays.npz", "history"])
def test_every_single_byte_flip_is_refused(tmp_path, which):
    ck = _two_saves(tmp_path)
    target = _history_file(ck) if which == "history" else ck.path / which
    original = target.read_bytes()
    for offset in range(len(original)):
        _flip(target, offset)
        _refused(ck)
        target.write_bytes(original)
    assert Checkpoint(ck.path).load()[0]["step"] == 3


@pytest.mark.parametrize("which", ["state.json", "arrays.npz", "history"])
def test_truncated_files_are_refused(tmp_path, which):
    ck = _two_saves(tmp_path)
    target = _history_file(ck) if which == "history" else ck.path / which
    original = target.read_bytes()
    for size in (0, 1, len(original) // 2, len(original) - 1):
        target.write_bytes(original[:size])
        _refused(ck)


@pytest.mark.parametrize("edit", [
    lambda doc: doc["payload"]["state"].update(step=4),
    lambda doc: doc["payload"]["history"].update(rows=2),
    lambda doc: doc["payload"]["history"].update(size=doc["payload"]["history"]["size"] - 1),
    lambda doc: doc["payload"]["state"]["params"].append(1.0),
], ids=["step", "rows", "size", "structure"])
def test_edited_numbers_are_refused_not_resumed_from(tmp_path, edit):
    ck = _two_saves(tmp_path)
    document = json.loads((ck.path / "state.json").read_text())
    edit(document)
    (ck.path / "state.json").write_text(json.dumps(document))
    _refused(ck, "state.json does not match its sha256")


_OLD_FORMAT = json.dumps({"a": {"__array__": "a0"}}).encode()  # state.json before format 2


@pytest.mark.parametrize("content", [b"", b"[" * 100_000, b"{}", b"[1, 2]", b'"text"',
                                     b"\xff\xfe\x00", _OLD_FORMAT],
                         ids=["empty", "deep", "object", "list", "string", "binary", "old-format"])
def test_a_state_file_that_is_not_one_is_refused(tmp_path, content):
    ck = _two_saves(tmp_path)
    (ck.path / "state.json").write_bytes(content)
    _refused(ck, "state.json is not a checkpoint state")


def test_another_format_is_refused(tmp_path):
    ck = _two_saves(tmp_path)
    document = json.loads((ck.path / "state.json").read_text())
    document["format"] = 1
    (ck.path / "state.json").write_text(json.dumps(document))
    _refused(ck, "checkpoint format 1, this version of rso_ref reads format 2")


def _rehash(ck, edit_payload):
    """Edit the payload and recompute every hash: what only a deliberate forger does."""
    document = json.loads((ck.path / "state.json").read_text())
    payload = document["payload"]
    edit_payload(payload)
    payload["arrays_sha256"] = hashlib.sha256((ck.path / "arrays.npz").read_bytes()).hexdigest()
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    document["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (ck.path / "state.json").write_text(json.dumps(document))


def test_load_never_unpickles_even_a_rehashed_object_array(tmp_path):
    ck = _two_saves(tmp_path)
    np.savez(ck.path / "arrays.npz", a0=np.array([{"evil": 1}], dtype=object))
    _rehash(ck, lambda payload: None)
    _refused(ck, "arrays.npz is not a pickle-free npz file")


@pytest.mark.parametrize("edit", [
    lambda payload: payload["state"].update(params=[{"__array__": "a7"}]),
    lambda payload: payload["history"].update(file="../elsewhere.jsonl"),
    lambda payload: payload["history"].update(columns=["loss"]),
    lambda payload: payload.update(history=[1]),
], ids=["missing-array", "file-name", "columns", "history-shape"])
def test_a_rehashed_inconsistent_payload_is_still_one_error(tmp_path, edit):
    ck = _two_saves(tmp_path)
    _rehash(ck, edit)
    _refused(ck)


def test_garbage_arrays_file_with_a_recomputed_hash_is_refused(tmp_path):
    ck = _two_saves(tmp_path)
    (ck.path / "arrays.npz").write_bytes(b"PK\x03\x04 not really a zip")
    _rehash(ck, lambda payload: None)
    _refused(ck, "arrays.npz is not a pickle-free npz file")


@pytest.mark.parametrize("missing", ["state.json", "arrays.npz", "history"])
def test_a_checkpoint_missing_one_file_is_an_error_not_absent(tmp_path, missing):
    ck = _two_saves(tmp_path)
    (_history_file(ck) if missing == "history" else ck.path / missing).unlink()
    assert checkpoint.exists(ck.path)  # so that train refuses it instead of starting over
    _refused(ck, "missing")


def test_an_empty_directory_is_an_incomplete_checkpoint(tmp_path):
    (tmp_path / "ck").mkdir()
    assert checkpoint.exists(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="incomplete checkpoint, state.json and arrays.npz"):
        checkpoint.load(tmp_path / "ck")


# --- item 6: the history file --------------------------------------------------------

def test_history_round_trip_keeps_values_and_order(tmp_path):
    ck = _two_saves(tmp_path)
    state, history = Checkpoint(ck.path).load()
    assert state["step"] == 3 and state["name"] == "sgd"
    np.testing.assert_array_equal(state["params"][0], np.arange(6.0).reshape(3, 2) + 1)
    assert list(history) == ["loss", "w"]
    assert history["loss"][0] == 0.5 and np.isnan(history["loss"][1]) and history["loss"][2] == 0.25
    assert history["w"] == [[1.0, 2.0], None, [3.0, 4.0]]


def test_a_save_writes_only_the_new_rows(tmp_path):
    ck = Checkpoint(tmp_path / "ck")
    steps = {"loss": [], "nfev": []}
    sizes = []
    for epoch in range(4):
        steps["loss"].extend(float(i) / 7 for i in range(1000 * epoch, 1000 * (epoch + 1)))
        steps["nfev"].extend([np.int64(3)] * 1000)  # NumPy scalars are stored as numbers
        before = _history_file(ck).read_bytes() if epoch else b""
        ck.save({"params": [np.ones(3)], "epoch": epoch}, history=steps)
        after = _history_file(ck).read_bytes()
        assert after.startswith(before)          # appended, the committed rows untouched
        assert after.count(b"\n") - before.count(b"\n") == 1000
        sizes.append((ck.path / "state.json").stat().st_size)
    # The state file does not grow with the history (it used to hold all of it).
    assert max(sizes) - min(sizes) <= 2
    _, history = Checkpoint(ck.path).load()
    assert history == {"loss": steps["loss"], "nfev": [3] * 4000}


def test_a_torn_append_is_ignored_on_load_and_cut_by_the_next_save(tmp_path):
    ck = _two_saves(tmp_path)
    history_file = _history_file(ck)
    committed = history_file.read_bytes()
    with open(history_file, "ab") as handle:
        handle.write(b'[0.75,[5.0,6')     # what a save killed during its append leaves
    resumed = Checkpoint(ck.path)
    state, history = resumed.load()
    assert state["step"] == 3 and len(history["loss"]) == 3
    history["loss"].append(0.125)
    history["w"].append(None)
    resumed.save({"step": 4}, history=history)
    assert history_file.read_bytes() == committed + b"[0.125,null]\n"
    assert Checkpoint(ck.path).load()[1]["loss"][3] == 0.125


def test_a_new_writer_starts_a_new_history_file_and_removes_the_old_one(tmp_path):
    ck = _two_saves(tmp_path)
    old_file = _history_file(ck)
    Checkpoint(ck.path).save({"step": 1}, history={"loss": [9.0]})
    assert not old_file.exists()
    assert Checkpoint(ck.path).load() == ({"step": 1}, {"loss": [9.0]})
    checkpoint.save(ck.path, {"step": 0})   # no history: no history file either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert Checkpoint(ck.path).load() == ({"step": 0}, None)


@pytest.mark.parametrize("history, error, match", [
    ({"loss": [1.0, 2.0], "w": [None]}, ValueError, "equal lengths"),
    ({"loss": [1.0], "w": [None]}, ValueError, "a history only grows"),
    ({"loss": [1.0, 2.0, 3.0]}, ValueError, r"columns \['loss'\] differ"),
    ({"loss": [1.0, 2.0, 3.0], "w": [None, None, (1.0, 2.0)]}, TypeError,
     r"^history\['w'\]\[2\]: a history value must be"),
    ({"loss": [1.0, 2.0, np.ones(2)], "w": [None] * 3}, TypeError, r"^history\['loss'\]\[2\]"),
    ([1.0], TypeError, "history must be a dict"),
], ids=["lengths", "shrinks", "columns", "tuple", "array", "not-a-dict"])
def test_bad_histories_are_refused_before_anything_is_written(tmp_path, history, error, match):
    ck = Checkpoint(tmp_path / "ck")
    ck.save({"step": 2}, history={"loss": [0.5, 0.25], "w": [None, None]})
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(error, match=match):
        ck.save({"step": 3}, history=history)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


# --- item 6: atomicity -----------------------------------------------------------------
# The tests below fail if save deleted the old checkpoint and then renamed the new one
# into place instead of moving the old one aside first (checked by making that change):
# a final rename that fails after the delete leaves no checkpoint (load raises
# FileNotFoundError, not the previous state); a kill during the delete leaves half a
# directory (CheckpointError "incomplete"), and the warning test sees no old copy to
# remove. The hand-built half-swapped state of the fallback test above cannot tell.

def _versions(directory):
    """Save version A, then return (checkpoint, A's history, B's state, B's history)."""
    ck = Checkpoint(directory / "ck")
    history = {"loss": [float(i) for i in range(10)], "w": [[float(i)] for i in range(10)]}
    ck.save({"params": [np.full(4, 1.0)], "step": 10}, history=history)
    grown = {key: list(column) for key, column in history.items()}
    grown["loss"] += [float(i) for i in range(10, 15)]
    grown["w"] += [[float(i)] for i in range(10, 15)]
    return ck, history, {"params": [np.full(4, 2.0)], "step": 15}, grown


def _which_version(path, old_history, new_history):
    """'old' or 'new', after checking that the whole loaded checkpoint is that version."""
    state, history = Checkpoint(path).load()
    version = {10: "old", 15: "new"}[state["step"]]
    value = {"old": 1.0, "new": 2.0}[version]
    np.testing.assert_array_equal(state["params"][0], np.full(4, value))
    assert history == {"old": old_history, "new": new_history}[version]
    return version


def test_a_failing_final_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    ck, old, new_state, new = _versions(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(src).startswith(".ck.tmp-"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        ck.save(new_state, history=new)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _which_version(ck.path, old, new) == "old"
    # The same writer then succeeds, its uncommitted append cut off first.
    ck.save(new_state, history=new)
    assert _which_version(ck.path, old, new) == "new"
    assert len([p for p in tmp_path.iterdir()]) == 2  # ck and its history file only


def test_a_failing_removal_of_the_old_copy_only_warns(tmp_path, monkeypatch):
    ck, old, new_state, new = _versions(tmp_path)
    real_rmtree = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if str(path).endswith(".ck.old"):
            raise PermissionError("busy")
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.warns(RuntimeWarning, match=r"checkpoint saved at .*ck, but removing .*\.ck\.old"):
        assert ck.save(new_state, history=new) == ck.path
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert _which_version(ck.path, old, new) == "new"
    ck.save(new_state, history=new)            # the next save removes the leftover
    assert not (tmp_path / ".ck.old").exists()


# The file-system operations of a save, at each of which a child process is killed.
_STEPS = [(os, "mkdir"), (os, "fsync"), (os, "replace"), (os, "unlink"), (shutil, "rmtree")]


def _count_steps(kill_at):
    """Patch the operations of _STEPS to count calls, SIGKILLing this process at call
    ``kill_at``; return the counter."""
    calls = [0]
    for module, name in _STEPS:
        def counted(*args, _real=getattr(module, name), **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return _real(*args, **kwargs)
        setattr(module, name, counted)
    return calls


def _save_in_child(ck, state, history, kill_at):
    _count_steps(kill_at)
    ck.save(state, history=history)


@pytest.mark.parametrize("writer", ["resumed", "new"])
def test_a_save_killed_at_any_step_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch,
                                                                         writer):
    def setup(directory):
        ck, old, new_state, new = _versions(directory)
        if writer == "new":
            ck = Checkpoint(ck.path)
        return ck, old, new_state, new

    # Count the steps of an undisturbed save (in this process, patches undone after).
    with monkeypatch.context() as patch:
        for module, name in _STEPS:
            patch.setattr(module, name, getattr(module, name))
        ck, old, new_state, new = setup(tmp_path / "dry")
        calls = _count_steps(kill_at=0)
        ck.save(new_state, history=new)
        n_steps = calls[0]
    assert n_steps >= 8
    context = multiprocessing.get_context("fork")
    seen = []
    for kill_at in range(1, n_steps + 2):
        ck, old, new_state, new = setup(tmp_path / f"kill{kill_at}")
        child = context.Process(target=_save_in_child, args=(ck, new_state, new, kill_at))
        child.start()
        child.join()
        assert child.exitcode == (0 if kill_at > n_steps else -signal.SIGKILL)
        seen.append(_which_version(ck.path, old, new))
        # The next save (by a writer that resumes) removes whatever the killed one left.
        resumed = Checkpoint(ck.path)
        _, history = resumed.load()
        history["loss"].append(99.0)
        history["w"].append(None)
        resumed.save({"params": [np.full(4, 3.0)], "step": len(history["loss"])}, history=history)
        names = sorted(p.name for p in ck.path.parent.iterdir())
        assert names[0] == "ck" and len(names) == 2 and names[1].startswith("ck.history-")
        assert Checkpoint(ck.path).load()[1] == history
    assert seen[0] == "old" and seen[-1] == "new" and seen == sorted(seen, reverse=True)
