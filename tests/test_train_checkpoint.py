"""train's checkpoints: the step history restored exactly, a damaged checkpoint refused."""
import json

import numpy as np
import pytest

from rso_ref import backend
from rso_ref.checkpoint import CheckpointError
from rso_ref.nn import MLP
from rso_ref.optim import RSO, SGD, Adam
from rso_ref.train import train

MODEL = MLP((6, 16, 3))


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)


def _run(checkpoint_dir, epochs, resume=False):
    X, y = _data()
    return train(MODEL, SGD(lr=0.1, momentum=0.9), X, y, epochs=epochs, batch_size=20, seed=1,
                 progress=False, checkpoint_dir=checkpoint_dir, resume=resume)


def test_resume_restores_the_step_history_exactly(tmp_path):
    straight = _run(None, 3)
    first = _run(tmp_path, 2)
    resumed = _run(tmp_path, 3, resume=True)
    assert list(resumed.steps) == list(straight.steps)
    for key, column in first.steps.items():
        assert resumed.steps[key][:len(column)] == column          # timings included
        if key != "time":
            assert resumed.steps[key] == straight.steps[key]


def test_each_epoch_appends_its_steps_to_the_history_file(tmp_path):
    result = _run(tmp_path, 3)
    (history,) = tmp_path.glob("last.history-*.jsonl")
    assert history.read_bytes().count(b"\n") == len(result.steps["loss"]) == 3 * 5
    state = json.loads((tmp_path / "last" / "state.json").read_text())["payload"]["state"]
    assert "grad_norm" not in state and state["step"] == 15


@pytest.mark.parametrize("damage", ["drop-arrays", "drop-state", "edit-step", "drop-history"])
def test_resume_refuses_a_damaged_checkpoint_instead_of_starting_over(tmp_path, damage):
    _run(tmp_path, 2)
    last = tmp_path / "last"
    if damage == "drop-arrays":
        (last / "arrays.npz").unlink()
    elif damage == "drop-state":
        (last / "state.json").unlink()
    elif damage == "drop-history":
        next(tmp_path.glob("last.history-*.jsonl")).unlink()
    else:
        document = json.loads((last / "state.json").read_text())
        document["payload"]["state"]["step"] = 0
        (last / "state.json").write_text(json.dumps(document))
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match=str(last)):
        _run(tmp_path, 3, resume=True)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize("make_opt", [lambda: Adam(lr=1e-2),
                                      lambda: RSO(lr=0.2, meta_iters=2, groups="layer",
                                                  layers=MODEL.layers(), w0="previous")],
                         ids=["adam", "rso-previous"])
def test_resume_on_the_device_of_the_data_continues_bit_for_bit(xp, on_device, tmp_path,
                                                                make_opt):
    # The checkpoint is read back onto the data's namespace and device (array_api_strict's
    # device1 refuses to mix devices at the first resumed step otherwise); the resumed run
    # equals the uninterrupted one on that device exactly, optimizer state included.
    X, y = (xp.asarray(a) for a in _data())

    def run(epochs, **kwargs):
        return train(MODEL, make_opt(), X, y, epochs=epochs, batch_size=20, seed=1,
                     progress=False, **kwargs)

    straight = run(3)
    run(2, checkpoint_dir=tmp_path)
    resumed = run(3, checkpoint_dir=tmp_path, resume=True)
    on_device(resumed.params)
    for p, q in zip(resumed.params, straight.params):
        np.testing.assert_array_equal(backend.to_numpy(p), backend.to_numpy(q))
    assert resumed.steps["loss"] == straight.steps["loss"]
    assert resumed.steps["w"] == straight.steps["w"]


def test_resume_refuses_a_checkpoint_past_the_requested_epochs(tmp_path):
    # Before, epochs=2 resumed from epoch 3 returned "completed, trained 2 epochs" with
    # epoch 3's params and log. torch/flax users resume to reach a target epoch: one that
    # is already behind the checkpoint is a mistake, named with both numbers.
    _run(tmp_path, 3)
    with pytest.raises(ValueError, match=r"^epochs=2, but the checkpoint at .* is from epoch 3"):
        _run(tmp_path, 2, resume=True)
    done = _run(tmp_path, 3, resume=True)  # the run asked for is the one saved: nothing to do
    assert done.status == "completed" and done.epochs["epoch"] == [1, 2, 3]
    assert len(done.steps["loss"]) == 3 * 5


def test_a_file_in_place_of_checkpoint_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    def never(step, record):
        raise AssertionError("trained although checkpoint_dir is unusable")

    X, y = _data()
    for where in (blocker, blocker / "sub"):
        with pytest.raises(NotADirectoryError, match=r"^checkpoint_dir: .*a-file' is a file"):
            train(MODEL, SGD(lr=0.1), X, y, epochs=1, batch_size=20, progress=False,
                  checkpoint_dir=where, callback=never)


def test_a_checkpoint_with_the_old_nfev_column_resumes_and_keeps_appending(tmp_path):
    # Checkpoints written before the step records named StepInfo's oracle_calls
    # "oracle_calls" called the column "nfev". Rewrite a checkpoint's column names to the
    # old ones (rehashing its state.json, as the old code wrote it): it resumes bit for
    # bit, the record comes back under the new name, and the next save records that name.
    from rso_ref.checkpoint import _canonical_sha256

    straight = _run(None, 4)
    _run(tmp_path, 2)
    state_file = tmp_path / "last" / "state.json"
    document = json.loads(state_file.read_text())
    columns = document["payload"]["history"]["columns"]
    columns[columns.index("oracle_calls")] = "nfev"
    document["sha256"] = _canonical_sha256(document["payload"])
    state_file.write_text(json.dumps(document))
    _run(tmp_path, 3, resume=True)
    resumed = _run(tmp_path, 4, resume=True)
    assert list(resumed.steps) == list(straight.steps)
    assert resumed.steps["oracle_calls"] == straight.steps["oracle_calls"] == [0] * 20
    assert resumed.steps["loss"] == straight.steps["loss"]
    for p, q in zip(resumed.params, straight.params):
        np.testing.assert_array_equal(p, q)
    saved = json.loads(state_file.read_text())["payload"]["history"]["columns"]
    assert "oracle_calls" in saved and "nfev" not in saved
