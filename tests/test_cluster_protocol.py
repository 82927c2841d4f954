"""The cluster protocol of ``theory/table1-scale`` runs end to end under torchrun.

``examples/cluster/table1_resnet18.py`` is launched with ``torch.distributed.run`` on 2
CPU processes (gloo) over a tiny CIFAR-shaped data set written in the real binary
CIFAR formats, so that the readers are exercised. The launcher runs in its own process
group with a hard timeout; on a timeout only that group is killed, and a hang is a
failure. Also: the CIFAR-100 reader, on the same kind of tiny files.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rso_ref.data.readers import CIFAR10_FILES, load_cifar100
from rso_ref.presets import render_page

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "cluster" / "table1_resnet18.py"
#: Hard limit of one torchrun launch (seconds); a hang fails the test after it.
LAUNCH_TIMEOUT = 150
#: Training records per CIFAR-10 batch file (5 files) and test records.
PER_BATCH, N_TEST = 16, 40


def _images(gen: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Pixels whose mean depends on the label, so that the task is learnable."""
    base = (labels[:, None] * 23 % 200).astype(np.int64)
    return np.clip(base + gen.integers(0, 56, (labels.size, 3072)), 0, 255).astype(np.uint8)


def write_cifar10(directory: Path, seed: int = 0) -> Path:
    """Tiny CIFAR-10 "binary version" batches: label byte, then 3072 pixel bytes."""
    gen = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name in CIFAR10_FILES["train"] + CIFAR10_FILES["test"]:
        n = N_TEST if name == "test_batch.bin" else PER_BATCH
        labels = gen.integers(0, 10, n).astype(np.uint8)
        records = np.concatenate([labels[:, None], _images(gen, labels)], axis=1)
        (directory / name).write_bytes(records.tobytes())
    return directory


def write_cifar100(directory: Path, n_train: int = 30, n_test: int = 20, seed: int = 0) -> Path:
    """Tiny CIFAR-100 binary files: coarse byte, fine byte, then 3072 pixel bytes."""
    gen = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.bin", n_train), ("test.bin", n_test)):
        fine = gen.integers(0, 100, n).astype(np.uint8)
        coarse = (fine // 5).astype(np.uint8)
        records = np.concatenate([coarse[:, None], fine[:, None], _images(gen, fine)], axis=1)
        (directory / name).write_bytes(records.tobytes())
    return directory


def test_cifar100_reader_reads_fine_and_coarse_labels(tmp_path):
    directory = write_cifar100(tmp_path / "cifar-100-binary")
    raw = np.frombuffer((directory / "train.bin").read_bytes(), np.uint8).reshape(-1, 3074)
    fine = load_cifar100(tmp_path, layout="image")   # the parent directory is found too
    coarse = load_cifar100(directory, labels="coarse", dtype="float32")
    assert (fine.name, fine.n_classes, coarse.n_classes) == ("cifar100", 100, 20)
    assert fine.X_train.shape == (30, 3, 32, 32) and fine.X_test.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(fine.y_train, raw[:, 1])
    np.testing.assert_array_equal(coarse.y_train, raw[:, 0])
    np.testing.assert_array_equal(fine.X_train.reshape(30, -1) * 255, raw[:, 2:])
    assert coarse.X_train.dtype == np.float32 and coarse.X_train.shape == (30, 3072)


def test_cifar100_reader_refuses_bad_files(tmp_path):
    directory = write_cifar100(tmp_path / "c")
    with pytest.raises(ValueError, match="'fine' or 'coarse'"):
        load_cifar100(directory, labels="superclass")
    (directory / "test.bin").write_bytes((directory / "test.bin").read_bytes()[:-1])
    with pytest.raises(ValueError, match="3074-byte CIFAR-100 record"):
        load_cifar100(directory)
    pickled = tmp_path / "cifar-100-python"
    pickled.mkdir()
    (pickled / "train").write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match="refuses to load"):
        load_cifar100(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CIFAR-100 binary files"):
        load_cifar100(tmp_path / "empty")


def launch(args: list[str], timeout: float = LAUNCH_TIMEOUT) -> tuple[str, float]:
    """Run the script under ``torch.distributed.run`` on 2 CPU processes; kill its whole
    process group (and only it) on a timeout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", str(SCRIPT), "--backend", "gloo", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the launcher's own session: its workers
        out, _ = proc.communicate()
        pytest.fail(f"torchrun hung for {timeout} s (killed):\n{out[-3000:]}")
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{out[-5000:]}"
    return out, time.perf_counter() - started


#: The tiny network and run: width 4, one block per stage, 2 epochs, global batch 16.
TINY = ["--width", "4", "--blocks", "1,1,1,1", "--epochs", "2", "--batch-size", "16",
        "--seeds", "0,1", "--eval-batch-size", "20"]


def _check_report(out_dir: Path, arms: tuple[str, ...]) -> dict:
    report = json.loads((out_dir / "report.json").read_text())
    assert set(report) >= {"config", "environment", "model", "dataset", "groups", "runs",
                           "summary", "preset", "tuning", "analysis", "machine"}
    assert report["dataset"] == {"name": "cifar10", "n_train": 5 * PER_BATCH, "n_test": N_TEST,
                                 "input_shape": [3, 32, 32], "n_classes": 10}
    assert list(report["runs"]) == list(arms) == list(report["analysis"]["arms"])
    for arm in arms:
        records = report["runs"][arm]
        assert [r["seed"] for r in records] == [0, 1]
        for r in records:
            assert "steps" not in r   # compact, as the presets write it
            assert r["status"] == "completed" and r["epochs"]["epoch"] == [1, 2]
            assert 0.0 <= r["eval_accuracy"] <= 1.0
        stats = report["analysis"]["arms"][arm]
        assert stats["runs"] == 2 and len(stats["test_accuracy"]) == 2
    assert report["machine"]["world_size"] == 2
    assert report["preset"]["command"].startswith("torchrun --nproc_per_node=2 ")
    page = (out_dir / "README.md").read_text()
    assert f"Command: `{report['preset']['command']}`" in page
    assert "rso-ref compare" not in page and "Not the preset's protocol" not in page
    assert "Fixed learning rates" in page and "optimizers' defaults" not in page
    # The saved (compact) report renders again: what the existing readers do with it.
    assert render_page(report, {}).startswith(f"# {report['preset']['name']}")
    ranks = [json.loads((out_dir / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["runs"].keys() == ranks[1]["runs"].keys() == set(arms)
    for arm in arms:
        for a, b, rec in zip(ranks[0]["runs"][arm], ranks[1]["runs"][arm], report["runs"][arm]):
            assert a == b, f"{arm}: ranks disagree"   # parameters, losses, test metrics
            assert a["eval_accuracy"] == rec["eval_accuracy"]
    return report


@pytest.mark.slow
def test_baselines_run_end_to_end_on_two_ranks(tmp_path):
    data = write_cifar10(tmp_path / "cifar-10-batches-bin")
    out_dir = tmp_path / "out"
    out, _ = launch(["--data", str(tmp_path), "--dataset", "cifar10", "--out", str(out_dir),
                     "--arms", "sgd,adamw", "--no-figures", *TINY])
    assert data.is_dir() and "wrote" in out
    report = _check_report(out_dir, ("sgd", "adamw"))
    assert report["analysis"]["comparisons"] == []   # no RSO arm: nothing under test
    assert report["summary"]["sgd"]["gradient_evaluations_per_step"] == 1.0


def _rso_is_ddp_aware() -> bool:
    """Whether rso_ref.interop.torch.RSO agrees over a process group (issue 24, item 1)."""
    import inspect

    from rso_ref.interop.torch import RSO
    return "process_group" in inspect.signature(RSO).parameters


@pytest.mark.slow
@pytest.mark.skipif(not _rso_is_ddp_aware(),
                    reason="rso_ref.interop.torch.RSO is not DDP-aware yet: each rank's "
                           "meta-solve would decide on its own loss and the ranks deadlock")
def test_rso_arm_runs_end_to_end_on_two_ranks(tmp_path):
    write_cifar10(tmp_path)
    out_dir = tmp_path / "out"
    launch(["--data", str(tmp_path), "--out", str(out_dir), "--arms", "sgd,adamw,rso",
            "--warmup-epochs", "1", "--meta-iters", "2", *TINY])
    report = _check_report(out_dir, ("sgd", "adamw", "rso"))
    rso = report["analysis"]["arms"]["rso"]
    assert rso["gradient_evaluations_per_step"] > 1.0   # the meta-solve ran after warm-up
    assert {c["arm"] for c in report["analysis"]["comparisons"]} == {"rso"}
    assert report["groups"] == ["stem", "layer1.0", "layer2.0", "layer3.0", "layer4.0", "fc"]
    assert (out_dir / "accuracy.png").is_file()


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("table1_resnet18", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_claims_cluster_command_is_the_scripts_and_the_papers_setting():
    from rso_ref.claims import scale

    script = _script()
    assert scale.CLUSTER_COMMAND.split()[3] == scale.CLUSTER_SCRIPT
    assert (ROOT / scale.CLUSTER_SCRIPT).resolve() == SCRIPT
    args = script.parse_args(list(scale.CLUSTER_ARGS))
    assert args.arms == script.ARMS and args.seeds == (0, 1, 2, 3, 4)
    assert {"meta_iters": args.meta_iters, "groups": args.groups,
            "warmup_epochs": args.warmup_epochs} == scale.CLUSTER_RSO
    net = script.ResNet18(100)   # ResNet-18 for CIFAR-100: 11.2 M parameters
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 1) == 11.2
    groups = dict.fromkeys(script.block_key(n) for n, _ in net.named_parameters())
    assert list(groups) == ["stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1",
                            "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"]
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
