r"""The RSO paper's Table 1 on a cluster: ResNet-18 on CIFAR-10/100, SGD+momentum, AdamW, RSO.

A ``torchrun``-launchable script (one process per GPU, or per CPU slot with gloo)::

    torchrun --standalone --nproc_per_node=8 examples/cluster/table1_resnet18.py \
        --data ~/data/cifar-100-binary --dataset cifar100 --seeds 0,1,2,3,4 \
        --epochs 100 --out table1-cifar100-resnet18

It trains a CIFAR ResNet-18 (3x3 stem, no max-pool; plain ``torch.nn``, no torchvision)
under ``DistributedDataParallel`` with every arm and every seed, then rank 0 writes, into
``--out``, atomically:

* ``report.json``: the compact report of ``rso-ref compare --preset`` (the same keys;
  :func:`rso_ref.presets.compact`), analysed by :func:`rso_ref.presets.analyse` (test
  accuracy mean ± std per arm, the paired t-test (by seed) of RSO against every baseline
  with Holm's adjustment, epochs and gradient evaluations to target, the Table 2 metrics);
* ``README.md``: :func:`rso_ref.presets.render_page` of it (with the command that ran),
  and its figures when matplotlib is installed;

and every rank writes ``ranks/rank-<r>.json`` (per run: the final test metrics, the
step losses and a checksum of the parameters), so that one can check that the ranks
agree.

The data are the "binary versions" of CIFAR-10 (``data_batch_*.bin``, ``test_batch.bin``)
or CIFAR-100 (``train.bin``, ``test.bin``), read by :func:`rso_ref.data.load_cifar10` /
:func:`rso_ref.data.readers.load_cifar100`: nothing is downloaded or unpickled.

RSO runs as the paper describes it (§2.3, §4.5): K = 6 meta-iterations, one group per
architectural block (the stem, each residual block, the classifier), plain gradient
steps at RSO's rate for the first ``--warmup-epochs`` epochs. Each rank's closure computes
the mean loss of its shard of the global batch and calls ``backward()`` (DDP averages the
gradients); :class:`rso_ref.interop.torch.RSO` all-reduces the losses so that every rank
takes the same meta-solve decisions.

Minibatches: every rank draws the same permutation of the training set per (seed, epoch),
cuts it into global batches of ``--batch-size`` (the last partial batch is dropped) and
takes every ``world_size``-th example of each; augmentation (random 4-pixel-padded crop,
horizontal flip) is drawn per rank. The test set is sharded across ranks and its counts
all-reduced, so every rank computes the same test metrics.
"""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rso_ref.checkpoint import write_json_atomic, write_text_atomic
from rso_ref.data import load_cifar10
from rso_ref.data.readers import load_cifar100
from rso_ref.interop.torch import RSO
from rso_ref.presets import analyse, compact, plot_preset, render_page
from rso_ref.stats import mean_std

#: The arms: Table 1's SGD+momentum, Adam, AdamW and RSO.
ARMS = ("sgd", "adam", "adamw", "rso")
#: Default learning rates (no tuning here: choose them per data set, or sweep them).
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "rso": 0.1}
#: Default weight decay (SGD's coupled L2, AdamW's decoupled decay; none for Adam, RSO).
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-4, "adam": 0.0, "adamw": 5e-2, "rso": 0.0}
#: SGD's momentum (the paper's "SGD+Momentum").
MOMENTUM = 0.9
#: The paper's RSO setting: K (§4.5: "K=6 ... (optimal)"), groups ("architectural blocks
#: (best)"), and our reading of §2.3's "standard SGD for the first few epochs".
PAPER_META_ITERS, PAPER_GROUPS, PAPER_WARMUP_EPOCHS = 6, "block", 5
#: Paper counterpart, as the presets write it.
PAPER = ("Table 1 (test accuracy, SGD+momentum / Adam / AdamW / RSO) and Table 2 "
         "(stability metrics)")


# -- model ----------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1-conv) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3x3 stem, four stages of ``blocks`` basic blocks, global pool, fc.

    ``width=64, blocks=(2, 2, 2, 2)`` is ResNet-18 (11.2 M parameters for 10 classes);
    the stages have ``width * (1, 2, 4, 8)`` channels, strides 1, 2, 2, 2.
    """

    def __init__(self, n_classes: int, width: int = 64, blocks: tuple = (2, 2, 2, 2)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        c_in, stages = width, []
        for i, n in enumerate(blocks):
            c_out = width * 2 ** i
            stages.append(nn.Sequential(*[BasicBlock(c_in if j == 0 else c_out, c_out,
                                                     2 if i and j == 0 else 1)
                                          for j in range(n)]))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def block_key(name: str) -> str:
    """RSO group of a parameter: ``stem``, one residual block (``layer2.1``), or ``fc``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0].startswith("layer") else parts[0]


def stage_key(name: str) -> str:
    """RSO group of a parameter: ``stem``, a stage (``layer2``), or ``fc``."""
    return name.split(".")[0]


#: ``--groups`` -> RSO's ``groups`` argument.
GROUPINGS = {"block": block_key, "stage": stage_key, "layer": "layer"}


# -- data -----------------------------------------------------------------------------
def load_data(args: argparse.Namespace, device: torch.device) -> dict:
    """Training and test tensors on ``device``, normalised by the training set's channel
    mean and std."""
    if args.dataset == "cifar10":
        ds = load_cifar10(args.data, layout="image", dtype="float32")
    else:
        ds = load_cifar100(args.data, labels=args.labels, layout="image", dtype="float32")
    mean = ds.X_train.mean(axis=(0, 2, 3), keepdims=True)
    std = ds.X_train.std(axis=(0, 2, 3), keepdims=True)

    def tensor(X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((X - mean) / std).to(device=device, dtype=args.torch_dtype)

    return {"name": ds.name, "n_classes": ds.n_classes, "X_train": tensor(ds.X_train),
            "y_train": torch.from_numpy(ds.y_train).to(device),
            "X_test": tensor(ds.X_test), "y_test": torch.from_numpy(ds.y_test).to(device)}


def augment(X: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the 4-pixel zero-padded image and random horizontal flip."""
    n, _, h, w = X.shape
    padded = F.pad(X, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen).tolist()
    dx = torch.randint(0, 9, (n,), generator=gen).tolist()
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.stack([padded[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(zip(dy, dx))])
    return torch.where(flip.to(X.device)[:, None, None, None], out.flip(3), out)


# -- one run --------------------------------------------------------------------------
def _global_mean(value: torch.Tensor, world: int) -> float:
    value = value.detach().to(torch.float64).clone()
    if world > 1:
        dist.all_reduce(value)
    return float(value) / world


@torch.no_grad()
def evaluate(net: nn.Module, X: torch.Tensor, y: torch.Tensor, rank: int, world: int,
             batch: int) -> tuple[float, float]:
    """Test accuracy and mean loss over the whole test set (sharded, all-reduced), with
    rank 0's BatchNorm statistics on every rank."""
    if world > 1:
        for buffer in net.buffers():
            dist.broadcast(buffer, 0)
    net.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=X.device)
    Xr, yr = X[rank::world], y[rank::world]
    for i in range(0, Xr.shape[0], batch):
        out = net(Xr[i:i + batch])
        totals[0] += (out.argmax(1) == yr[i:i + batch]).sum()
        totals[1] += F.cross_entropy(out.to(torch.float64), yr[i:i + batch], reduction="sum")
        totals[2] += out.shape[0]
    if world > 1:
        dist.all_reduce(totals)
    net.train()
    return float(totals[0] / totals[2]), float(totals[1] / totals[2])


def _optimizer(arm: str, net: nn.Module, lr: float, args: argparse.Namespace):
    decay = args.weight_decay[arm]
    if arm == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=decay)
    if arm == "adam":
        return torch.optim.Adam(net.parameters(), lr=lr, weight_decay=decay)
    if arm == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=decay)
    return RSO(net.named_parameters(), lr=lr, meta_iters=args.meta_iters,
               groups=GROUPINGS[args.groups])


def _schedule(args: argparse.Namespace, epoch: int) -> float:
    """Learning-rate factor of ``epoch`` (0-based): 1, or cosine from 1 towards 0."""
    if args.schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * epoch / args.epochs))


def train_run(arm: str, seed: int, data: dict, args: argparse.Namespace, rank: int,
              world: int, device: torch.device) -> tuple[dict, dict]:
    """Train one arm with one seed; return its run record and this rank's check record."""
    torch.manual_seed(seed)
    net = ResNet18(data["n_classes"], args.width, args.blocks)
    net = net.to(device=device, dtype=args.torch_dtype)
    model = (DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                     else None) if world > 1 else net)
    lr = args.lr[arm]
    opt = _optimizer(arm, net, lr, args)
    # The paper's warm-up: plain gradient steps at RSO's rate (as rso_ref's warmup_steps).
    warm = torch.optim.SGD(net.parameters(), lr=lr) if arm == "rso" else None
    X, y = data["X_train"], data["y_train"]
    n, batch = X.shape[0], args.batch_size
    per_epoch = n // batch
    if per_epoch == 0:
        raise ValueError(f"--batch-size {batch} exceeds the {n} training examples")
    order = torch.Generator().manual_seed(seed)               # the same on every rank
    crops = torch.Generator().manual_seed(1_000_003 * seed + rank)  # per rank
    steps = {"loss": [], "grad_norm": [], "oracle_calls": [], "time": []}
    epochs = {"epoch": [], "train_loss": [], "eval_accuracy": [], "eval_loss": []}
    status, message = "completed", f"{args.epochs} epochs"
    started = time.perf_counter()
    for epoch in range(args.epochs):
        factor = _schedule(args, epoch)
        for o in (opt, warm):
            for group in (o.param_groups if o is not None else ()):
                group["lr"] = lr * factor
        perm = torch.randperm(n, generator=order)
        losses = []
        for s in range(per_epoch):
            idx = perm[s * batch:(s + 1) * batch][rank::world].to(device)
            xb = augment(X[idx], crops) if args.augment else X[idx]
            yb = y[idx]
            t0 = time.perf_counter()
            if arm == "rso" and len(steps["loss"]) >= args.warmup_epochs * per_epoch:
                def closure():
                    opt.zero_grad()
                    loss = F.cross_entropy(model(xb), yb)   # this rank's shard: local mean
                    loss.backward()                         # DDP averages the gradients
                    return loss
                loss = opt.step(closure)
                calls = opt.last_info.oracle_calls
            else:
                active = warm if arm == "rso" else opt
                active.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                active.step()
                calls = 0
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - t0
            grad_norm = float(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(p.grad.detach().to(torch.float64))
                 for p in net.parameters() if p.grad is not None])))   # one host sync
            value = _global_mean(torch.as_tensor(loss), world)
            for key, v in zip(steps, (value, grad_norm, calls, elapsed)):
                steps[key].append(v)
            losses.append(value)
            if not math.isfinite(value):   # the same value on every rank: all stop
                status, message = "diverged", f"non-finite loss at epoch {epoch + 1}"
                break
        if status == "diverged":
            break
        accuracy, test_loss = evaluate(net, data["X_test"], data["y_test"], rank, world,
                                       args.eval_batch_size)
        epochs["epoch"].append(epoch + 1)
        epochs["train_loss"].append(float(np.mean(losses)))
        epochs["eval_accuracy"].append(accuracy)
        epochs["eval_loss"].append(test_loss)
        if rank == 0 and args.verbose:
            print(f"{arm:>6} seed {seed} epoch {epoch + 1}: loss {epochs['train_loss'][-1]:.4f}"
                  f" test accuracy {100 * accuracy:.2f} %", flush=True)
    done = bool(epochs["epoch"])
    record = {"seed": seed, "lr": lr, "status": status, "message": message,
              "eval_accuracy": epochs["eval_accuracy"][-1] if done else float("nan"),
              "eval_loss": epochs["eval_loss"][-1] if done else float("nan"),
              "wall_time": time.perf_counter() - started, "steps": steps, "epochs": epochs,
              "meta_nfev": int(sum(steps["oracle_calls"]))}
    checksum = float(sum(p.detach().to(torch.float64).sum() for p in net.parameters()))
    check = {"seed": seed, "eval_accuracy": record["eval_accuracy"],
             "eval_loss": record["eval_loss"], "step_loss": steps["loss"],
             "parameter_checksum": checksum}
    return record, check


# -- report ---------------------------------------------------------------------------
def _summary(records: list) -> dict:
    acc = [r["eval_accuracy"] for r in records if r["status"] != "diverged"]
    m, s = mean_std(acc) if acc else (float("nan"), 0.0)
    per_step = [1.0 + r["meta_nfev"] / max(len(r["steps"]["loss"]), 1) for r in records]
    return {"test_accuracy_mean": m, "test_accuracy_std": s,
            "wall_time_mean": float(np.mean([r["wall_time"] for r in records])),
            "gradient_evaluations_per_step": float(np.mean(per_step)),
            "diverged": sum(r["status"] == "diverged" for r in records),
            "n_seeds": len(records), "lr": records[0]["lr"]}


def _environment() -> dict:
    try:
        from rso_ref.compare import environment
        env = environment()
    except ImportError:     # threadpoolctl (the cli extra) is missing
        env = {"python": sys.version.split()[0], "numpy": np.__version__}
    return {**env, "torch": torch.__version__}


def build_report(args: argparse.Namespace, data: dict, runs: dict, world: int,
                 device: torch.device, started: float, command: str) -> dict:
    """The report in the presets' format (:func:`rso_ref.presets.run_preset`'s keys)."""
    net = ResNet18(data["n_classes"], args.width, args.blocks)
    grouping = GROUPINGS[args.groups]
    names = [n for n, _ in net.named_parameters()]
    groups = (sorted({n.rpartition(".")[0] for n in names}, key=names.index)
              if grouping == "layer" else list(dict.fromkeys(grouping(n) for n in names)))
    resnet = "ResNet-18" if (args.width, tuple(args.blocks)) == (64, (2, 2, 2, 2)) else \
        f"ResNet (width {args.width}, blocks {','.join(map(str, args.blocks))})"
    name = f"table1-{data['name']}-resnet18"
    report = {
        "config": {"model": "resnet18", "data": data["name"], "optimizers": list(args.arms),
                   "epochs": args.epochs, "seeds": list(args.seeds),
                   "batch_size": args.batch_size, "backend": "torch", "dtype": args.dtype,
                   "lrs": {a: args.lr[a] for a in args.arms},
                   "weight_decay": {a: args.weight_decay[a] for a in args.arms},
                   "momentum": MOMENTUM, "schedule": args.schedule, "augment": args.augment,
                   "rso_options": {"meta_iters": args.meta_iters, "groups": args.groups,
                                   "warmup_epochs": args.warmup_epochs},
                   "model_options": {"width": args.width, "blocks": list(args.blocks)},
                   "data_options": {"path": str(args.data), "labels": args.labels
                                    if data["name"] == "cifar100" else None},
                   "variants": {}, "world_size": world, "device": str(device.type)},
        "environment": _environment(),
        "model": f"{resnet}, {sum(p.numel() for p in net.parameters())} parameters",
        "dataset": {"name": data["name"], "n_train": int(data["X_train"].shape[0]),
                    "n_test": int(data["X_test"].shape[0]),
                    "input_shape": list(data["X_train"].shape[1:]),
                    "n_classes": data["n_classes"]},
        "groups": groups, "runs": runs,
        "summary": {arm: _summary(records) for arm, records in runs.items()},
        "preset": {"name": name, "title": f"{resnet} on {data['name']}; RSO with K = "
                   f"{args.meta_iters}, {args.groups} groups, {args.warmup_epochs} warm-up "
                   "epochs", "paper": PAPER, "reference": None, "focus": ["rso"],
                   "shared_lr": None, "tuned": False, "diagnostic_epochs": 0,
                   "lr_grid_factors": [], "lr_edge_extensions": 0,
                   "changed_from_preset": [], "command": command},
        "tuning": None,
    }
    report["analysis"] = analyse(report, focus=("rso",))
    report["machine"] = {"wall_time_s": time.perf_counter() - started,
                         "load_average": list(os.getloadavg()), "cpu_count": os.cpu_count(),
                         "world_size": world,
                         "device": (torch.cuda.get_device_name(device)
                                    if device.type == "cuda" else "cpu")}
    return report


def write_outputs(report: dict, out: Path, figures: bool) -> None:
    """``report.json`` (compact), the figures (if asked and possible) and ``README.md``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    if figures:
        try:
            paths = plot_preset(report, out)
        except ImportError as exc:
            print(f"no figures: {exc}", file=sys.stderr)
    write_json_atomic(out / "report.json", compact(report))
    write_text_atomic(out / "README.md", page(report, paths))


def page(report: dict, figures: dict) -> str:
    """:func:`rso_ref.presets.render_page`, with this script's command and the words on
    its fixed learning rates in place of the preset command and the preset's tuning."""
    n = len(report["config"]["seeds"])
    fixed = "Fixed learning rates (the command's `--lr-*`; not tuned on a validation split). "
    note = ("> Learning rates fixed by the command, not tuned as the presets tune them; "
            f"{n} seeds" + (" (fewer than five: a quick look, not evidence)." if n < 5 else "."))
    lines = []
    for line in render_page(report, figures).splitlines():
        if line.startswith("Command: `"):
            line = f"Command: `{report['preset']['command']}`." + line.partition("`.")[2]
        elif line.startswith("> **Not the preset's protocol**"):
            line = note
        elif line.startswith("Learning rates were not tuned"):
            line = "Learning rates were not tuned: each arm ran at its `--lr-*` (table above)."
        lines.append(line.replace("Default learning rates. ", fixed))
    return "\n".join(lines) + "\n"


# -- command line ---------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``--help``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, type=Path,
                   help="directory of the binary CIFAR files (or its parent)")
    p.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    p.add_argument("--labels", choices=("fine", "coarse"), default="fine",
                   help="CIFAR-100 labels: 100 fine classes or 20 superclasses")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--arms", default="sgd,adamw,rso",
                   help=f"comma-separated, among {','.join(ARMS)}")
    p.add_argument("--seeds", type=_ints, default=(0, 1, 2), help="comma-separated, >= 2")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=128,
                   help="global batch (split over the ranks; a multiple of their number)")
    p.add_argument("--eval-batch-size", type=int, default=500)
    for arm in ARMS:
        p.add_argument(f"--lr-{arm}", type=float, default=DEFAULT_LR[arm])
        p.add_argument(f"--weight-decay-{arm}", type=float, default=DEFAULT_WEIGHT_DECAY[arm])
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                   help="learning-rate factor per epoch, the same for every arm")
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no random crop / flip")
    p.add_argument("--meta-iters", type=int, default=PAPER_META_ITERS, help="RSO's K")
    p.add_argument("--groups", choices=tuple(GROUPINGS), default=PAPER_GROUPS,
                   help="RSO groups: residual blocks, stages or layers")
    p.add_argument("--warmup-epochs", type=int, default=PAPER_WARMUP_EPOCHS,
                   help="plain gradient steps at RSO's rate before RSO")
    p.add_argument("--width", type=int, default=64, help="channels of the first stage")
    p.add_argument("--blocks", type=_ints, default=(2, 2, 2, 2),
                   help="basic blocks per stage (2,2,2,2: ResNet-18)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--backend", choices=("auto", "nccl", "gloo"), default="auto",
                   help="process-group backend (auto: nccl with CUDA, else gloo)")
    p.add_argument("--timeout-minutes", type=float, default=30.0,
                   help="collective timeout: a hung rank fails the job after this")
    p.add_argument("--no-figures", dest="figures", action="store_false")
    p.add_argument("--verbose", action="store_true", help="rank 0 prints every epoch")
    args = p.parse_args(argv)
    args.arms = tuple(a.strip().lower() for a in args.arms.split(",") if a.strip())
    unknown = sorted(set(args.arms) - set(ARMS))
    if unknown or not args.arms or len(set(args.arms)) != len(args.arms):
        p.error(f"--arms must be distinct names among {','.join(ARMS)}, got {args.arms}")
    if len(args.seeds) < 2 or len(set(args.seeds)) != len(args.seeds):
        p.error("--seeds needs two or more distinct seeds (the tests need a spread)")
    if min(args.epochs, args.batch_size, args.width, args.meta_iters, *args.blocks) < 1 \
            or args.warmup_epochs < 0 or len(args.blocks) != 4:
        p.error("--epochs, --batch-size, --width, --meta-iters and four --blocks must be "
                ">= 1, --warmup-epochs >= 0")
    args.lr = {a: getattr(args, f"lr_{a}") for a in ARMS}
    args.weight_decay = {a: getattr(args, f"weight_decay_{a}") for a in ARMS}
    args.torch_dtype = getattr(torch, args.dtype)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every arm with every seed under torch.distributed; rank 0 writes the report."""
    started = time.perf_counter()
    args = parse_args(argv)
    cuda = torch.cuda.is_available() and args.backend != "gloo"
    backend = args.backend if args.backend != "auto" else ("nccl" if cuda else "gloo")
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend, timeout=timedelta(minutes=args.timeout_minutes))
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = (torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda
              else torch.device("cpu"))
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} is not a multiple of the "
                         f"{world} ranks")
    command = shlex.join(["torchrun", f"--nproc_per_node={world}",
                          os.path.relpath(__file__)] + sys.argv[1:])
    try:
        data = load_data(args, device)
        runs, checks = {}, {}
        for arm in args.arms:
            runs[arm], checks[arm] = [], []
            for seed in args.seeds:
                record, check = train_run(arm, seed, data, args, rank, world, device)
                runs[arm].append(record)
                checks[arm].append(check)
                if rank == 0:
                    print(f"{arm:>6} seed {seed}: test accuracy "
                          f"{100 * record['eval_accuracy']:.2f} % ({record['status']}, "
                          f"{record['wall_time']:.1f} s)", flush=True)
        (args.out / "ranks").mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out / "ranks" / f"rank-{rank}.json",
                          {"rank": rank, "world_size": world, "runs": checks})
        if rank == 0:
            report = build_report(args, data, runs, world, device, started, command)
            write_outputs(report, args.out, args.figures)
            print(f"wrote {args.out / 'report.json'} and {args.out / 'README.md'}", flush=True)
        if distributed:
            dist.barrier()
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
