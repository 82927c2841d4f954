"""rso_ref.interop.torch.RSO under torch.distributed: 2 CPU processes, gloo, DDP.

Each test starts two processes of this file (``python this_file SCENARIO RANK DIR``)
that meet through a file store in the test's temporary directory, run a scenario and
save what they saw; the test compares it with a single-process run on the whole batch,
computed here. A hard deadline turns a hang into a failure: the test then kills the
two processes it started (by their ``Popen`` handles, nothing else). The process
group's own timeout (``PG_TIMEOUT_S``) ends a collective that waits on a dead rank.
"""
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from rso_ref.interop.torch import RSO  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow,
              pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                 reason="torch.distributed with gloo is not available")]

F = torch.nn.functional
WORLD = 2
N = 64                 # rows of the whole batch; each rank's closure takes N / WORLD of them
STEPS = 5
KW = {"lr": 0.5, "meta_iters": 5, "groups": "layer"}
PG_TIMEOUT_S = 30      # a collective waiting on a dead rank raises after this
RAISE_PG_TIMEOUT_S = 5  # the same where a rank raises on purpose
DEADLINE_S = 90        # the test fails (and kills its processes) after this
#: float64, 5 steps: the global loss is the mean of two half-batch means instead of one
#: mean over 64 rows (a few ulp apart), and each step's meta-solve may amplify that by
#: its conditioning; 1e-8 leaves 7 orders of magnitude of room.
RTOL = 1e-8


# -- models and data, shared by the ranks and the single-process reference ----------

def _mlp():
    torch.manual_seed(0)
    f64 = {"dtype": torch.float64}
    return torch.nn.Sequential(torch.nn.Linear(5, 8, **f64), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3, **f64))


def _cnn():
    torch.manual_seed(0)
    f64 = {"dtype": torch.float64}
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, **f64), torch.nn.BatchNorm2d(4, **f64), torch.nn.Tanh(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3, **f64))


def _batch(shape):
    gen = torch.Generator().manual_seed(1)
    return (torch.randn(N, *shape, generator=gen, dtype=torch.float64),
            torch.randint(0, 3, (N,), generator=gen))


class _CPUSyncBatchNorm2d(torch.nn.BatchNorm2d):
    """SyncBatchNorm for CPU tensors: batch statistics summed over the ranks.

    torch's ``SyncBatchNorm`` refuses CPU tensors ("expected input tensor to be on GPU")
    and its kernels (``batch_norm_stats``) have no CPU version; this stand-in does what
    it does in training mode with a differentiable all-reduce: normalise with the mean
    and biased variance of the global batch, update the running statistics with the
    unbiased one.
    """

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = x.new_tensor([x.numel() / c])
        stats = all_reduce(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
        shape = (1, c, 1, 1)
        return ((x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
                * self.weight.view(shape) + self.bias.view(shape))


def _sync_batchnorm(net):
    """torch's ``convert_sync_batchnorm`` if it runs on CPU, else the stand-in."""
    probe = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.BatchNorm2d(1, dtype=torch.float64)))
    try:
        probe(torch.zeros(2, 1, 1, 1, dtype=torch.float64))
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(net), "torch"
    except ValueError:
        for name, child in net.named_children():
            if isinstance(child, torch.nn.BatchNorm2d):
                new = _CPUSyncBatchNorm2d(child.num_features, dtype=torch.float64)
                new.load_state_dict(child.state_dict())
                setattr(net, name, new)
        return net, "stand-in"


def _train(net, opt, X, y):
    """STEPS steps; per step the closure calls and a random draw at each call."""
    record = {"losses": [], "calls": [], "draws": []}
    for _ in range(STEPS):
        calls, draws = [0], []

        def closure():
            opt.zero_grad()
            calls[0] += 1
            draws.append(float(torch.rand(())))
            loss = F.cross_entropy(net(X), y)
            loss.backward()
            return loss

        record["losses"].append(float(opt.step(closure).detach()))
        record["calls"].append(calls[0])
        record["draws"].append(draws)
    return record


def _single(make, shape):
    """The reference: one process, the whole batch."""
    net = make()
    X, y = _batch(shape)
    record = _train(net, RSO(net.named_parameters(), **KW), X, y)
    record["state"] = {k: v.clone() for k, v in net.state_dict().items()}
    return record


# -- the rank side -------------------------------------------------------------------

def _rank_run(scenario, rank, folder):
    torch.manual_seed(100 + rank)  # each rank its own random stream, as in real runs
    make, shape = {"mlp": (_mlp, (5,)), "cnn": (_cnn, (1, 6, 6)),
                   "raise": (_mlp, (5,))}[scenario]
    net, sync = make(), None
    if scenario == "cnn":
        net, sync = _sync_batchnorm(net)
    ddp = torch.nn.parallel.DistributedDataParallel(net)
    X, y = _batch(shape)
    rows = slice(rank * N // WORLD, (rank + 1) * N // WORLD)
    opt = RSO(ddp.named_parameters(), **KW)
    if scenario == "raise":
        return _raise_run(ddp, opt, X[rows], y[rows], rank, folder)
    record = _train(ddp, opt, X[rows], y[rows])
    record["state"] = {k: v.clone() for k, v in net.state_dict().items()}
    record["sync"] = sync
    record["fsdp"] = _fsdp_refusal() if scenario == "mlp" else None
    return record


def _fsdp_refusal():
    """What RSO says of fully_shard's sharded parameters (None: no FSDP in this torch)."""
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:
        return None
    net = _mlp()
    fully_shard(net)
    try:
        RSO(net.parameters(), lr=0.1)
    except ValueError as exc:
        return str(exc)
    return "accepted"


def _raise_run(ddp, opt, X, y, rank, folder):
    """Rank 1 raises at the third closure call of a step: after backward, then before."""
    calls, failing = [0], [None]

    def closure():
        opt.zero_grad()
        calls[0] += 1
        if rank == 1 and calls[0] == 3 and failing[0] == "before":
            raise ValueError("rank 1 fails on purpose before forward")
        loss = F.cross_entropy(ddp(X), y)
        loss.backward()
        if rank == 1 and calls[0] == 3 and failing[0] == "after":
            raise ValueError("rank 1 fails on purpose after backward")
        return loss

    opt.step(closure)
    before = [p.detach().clone() for p in ddp.parameters()]
    # 1. after backward: every collective of the call has matched, so every rank
    #    learns it at once and raises; nothing moved, the group stays usable
    failing[0], calls[0] = "after", 0
    try:
        opt.step(closure)
        caught = None
    except Exception as exc:
        caught = f"{type(exc).__name__}: {exc}"
    unchanged = all(torch.equal(a, b) for a, b in zip(ddp.parameters(), before))
    failing[0] = None
    opt.step(closure)
    record = {"caught": caught, "unchanged": unchanged,
              "params": [p.detach().clone() for p in ddp.parameters()]}
    torch.save(record, folder / f"rank{rank}.pt")
    # 2. before forward: the other rank waits in DDP's gradient all-reduce, which only
    #    the process group's timeout ends; the error leaves the process
    failing[0], calls[0] = "before", 0
    opt.step(closure)
    return None


def _rank_main(scenario, rank, folder):
    folder = Path(folder)
    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=RAISE_PG_TIMEOUT_S if scenario == "raise"
                                 else PG_TIMEOUT_S)
    dist.init_process_group("gloo", init_method=f"file://{folder / 'store'}", rank=rank,
                            world_size=WORLD, timeout=timeout)
    try:
        record = _rank_run(scenario, rank, folder)
        if record is not None:
            torch.save(record, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


# -- the test side -------------------------------------------------------------------

def _launch(scenario, folder):
    """Run the scenario on WORLD processes; [(returncode, stderr)], or fail on a hang."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "GLOO_SOCKET_IFNAME": "lo0" if sys.platform == "darwin" else "lo",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    logs = [open(folder / f"rank{rank}.err", "w+") for rank in range(WORLD)]
    procs = [subprocess.Popen([sys.executable, __file__, scenario, str(rank), str(folder)],
                              stdout=subprocess.DEVNULL, stderr=log, env=env)
             for rank, log in enumerate(logs)]
    deadline = time.monotonic() + DEADLINE_S
    try:
        for proc in procs:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{scenario}: the ranks did not finish within {DEADLINE_S} s (a hang)")
    finally:
        for proc in procs:   # only the processes this test started
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        outcome = []
        for proc, log in zip(procs, logs):
            log.seek(0)
            outcome.append((proc.returncode, log.read()))
            log.close()
    return outcome


def _assert_ok(outcome):
    for rank, (code, err) in enumerate(outcome):
        assert code == 0, f"rank {rank} exited with {code}:\n{err[-3000:]}"


def _assert_state_close(actual, desired, rtol):
    assert actual.keys() == desired.keys()
    for key in desired:
        a, d = actual[key], desired[key]
        if d.is_floating_point():
            torch.testing.assert_close(a, d, rtol=rtol, atol=rtol * float(d.abs().max()),
                                       msg=lambda m, key=key: f"{key}: {m}")
        else:
            assert torch.equal(a, d), key


def _check_against_single(tmp_path, scenario, make, shape):
    _assert_ok(_launch(scenario, tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    single = _single(make, shape)
    for key, value in ranks[0]["state"].items():   # identical ranks, bit for bit
        assert torch.equal(value, ranks[1]["state"][key]), key
    assert ranks[0]["calls"] == ranks[1]["calls"] == single["calls"]
    assert ranks[0]["losses"] == ranks[1]["losses"]  # the global loss on every rank
    torch.testing.assert_close(torch.tensor(ranks[0]["losses"]),
                               torch.tensor(single["losses"]), rtol=RTOL, atol=0)
    _assert_state_close(ranks[0]["state"], single["state"], RTOL)
    for record in ranks:  # one random state per step, on each rank: all calls draw alike
        assert all(len(set(draws)) == 1 for draws in record["draws"])
        assert len({draws[0] for draws in record["draws"]}) == STEPS
    return ranks, single


def test_ddp_mlp_equals_one_process_on_the_whole_batch(tmp_path):
    ranks, _ = _check_against_single(tmp_path, "mlp", _mlp, (5,))
    # and FSDP's sharded parameters are refused at construction, naming FSDP
    for record in ranks:
        assert record["fsdp"] is None or "sharded parameter (DTensor, FSDP)" in record["fsdp"]


def test_ddp_cnn_with_sync_batchnorm_equals_one_process_on_the_whole_batch(tmp_path):
    # BatchNorm over the global batch, as BatchNorm2d over the whole batch in one
    # process: E[x^2] - mean^2 here, two passes in torch's kernel, a few ulp apart in
    # float64 on standardised inputs, so the same RTOL holds
    ranks, single = _check_against_single(tmp_path, "cnn", _cnn, (1, 6, 6))
    assert ranks[0]["sync"] in ("torch", "stand-in")
    # running statistics moved once per step, as one closure call moves them
    assert int(ranks[0]["state"]["1.num_batches_tracked"]) == STEPS


def test_a_rank_that_raises_brings_every_rank_down_with_an_error(tmp_path):
    outcome = _launch("raise", tmp_path)  # fails the test on a hang
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # raised after backward: both ranks raise in the same step, nothing moved, and the
    # next step runs in lock-step again
    assert ranks[1]["caught"] == "ValueError: rank 1 fails on purpose after backward"
    assert ranks[0]["caught"].startswith("RuntimeError: RSO.step: the closure raised on "
                                         "rank(s) [1] of the process group")
    assert ranks[0]["unchanged"] and ranks[1]["unchanged"]
    for a, b in zip(ranks[0]["params"], ranks[1]["params"]):
        assert torch.equal(a, b)
    # raised before forward: rank 0 waits in DDP's all-reduce until the group's timeout
    assert [code != 0 for code, _ in outcome] == [True] * WORLD
    assert "ValueError: rank 1 fails on purpose before forward" in outcome[1][1]
    assert "Timed out" in outcome[0][1] or "timeout" in outcome[0][1].lower()


if __name__ == "__main__":
    _rank_main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
