import json

import numpy as np
import pytest

from rso_ref import backend, checkpoint


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
    back = checkpoint.load(tmp_path / "ck", xp=xp)
    for a, b in zip(back["params"], state["params"]):
        assert a.dtype == b.dtype
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
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        checkpoint.load(tmp_path / "missing")


def test_write_json_atomic(tmp_path):
    path = checkpoint.write_json_atomic(tmp_path / "r.json", {"x": np.float64(1.5), "v": np.arange(3)})
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
