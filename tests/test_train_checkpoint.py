"""train's checkpoints: the step history restored exactly, a damaged checkpoint refused."""
import json

import numpy as np
import pytest

from rso_ref.checkpoint import CheckpointError
from rso_ref.nn import MLP
from rso_ref.optim import SGD
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
