r"""Cost of :class:`rso_ref.interop.torch.RSO` under DistributedDataParallel, 2 ranks.

An MLP 784-256-10 (float32, random data, batch 512, RSO with ``groups="layer"``,
``meta_iters=5``) trains for a few steps three ways, one CPU thread per process:

* ``single``: one process, the whole batch;
* ``ddp``: two processes (gloo, a file store, on this machine), each with
  ``DistributedDataParallel`` and half of the batch; RSO agrees over the group once per
  closure call (one ``all_gather`` of three numbers per rank);
* ``allgather``: the time of that agreement alone, on the same two processes;
* ``adam_t_step``: ``torch.optim.Adam`` on the same model, single and DDP: one
  forward-backward per step, so DDP's own cost per closure call.

Per way it reports the median wall time per step, the closure calls per step and the
wall time per closure call. The difference in time per call is DDP's gradient
all-reduce plus RSO's agreement, less the half batch each rank computes. The ranks make
the same closure calls and end with identical parameters (``ranks_same_calls``,
``ranks_identical``); in float32 the global loss (a mean of two half-batch means) and
the single run's differ by rounding, so after some steps the meta-solves of the two
ways may branch apart (``same_calls_as_single``).

Usage: ``rso-ref bench ddp [--quick] [--out PATH]`` (or ``python -m
rso_ref.benchmarks.ddp_overhead``). The two ranks are processes of this module
(``--rank R --folder DIR``), killed if they have not finished after ``DEADLINE_S``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from rso_ref.benchmarks import finish, parse_args
from rso_ref.benchmarks.torch_steps import timed_steps

SIZES = (784, 256, 10)
BATCH = 512
WORLD = 2
DEADLINE_S = 600


def _setup(rank: int, world: int, steps: int, kind: str = "rso"):
    import torch

    from rso_ref.interop.torch import RSO

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.Tanh(),
                              torch.nn.Linear(SIZES[1], SIZES[2]))
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(BATCH, SIZES[0], generator=gen)
    y = torch.randint(0, SIZES[2], (BATCH,), generator=gen)
    rows = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    model = net if world == 1 else torch.nn.parallel.DistributedDataParallel(net)
    opt = (RSO(model.named_parameters(), lr=0.5, meta_iters=5, groups="layer") if kind == "rso"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    times, per_step, _ = timed_steps(
        opt, lambda: torch.nn.functional.cross_entropy(model(X[rows]), y[rows]), steps,
        closure_step=kind == "rso")  # the first step warms up, untimed
    params = [p.detach().clone() for p in net.parameters()]
    return times[1:], per_step[1:], params


def _summary(times: list, calls: list) -> dict:
    step = statistics.median(times)
    return {"t_step": step, "calls_per_step": statistics.mean(calls), "calls": calls,
            "t_per_call": sum(times) / sum(calls)}


def _rank_main(rank: int, folder: Path, steps: int) -> int:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder / 'store'}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=120))
    try:
        times, calls, params = _setup(rank, WORLD, steps)
        adam = _summary(*_setup(rank, WORLD, steps, "adam")[:2])
        probe = torch.zeros(3, dtype=torch.float64)
        out = [torch.empty_like(probe) for _ in range(WORLD)]
        gather = []
        for _ in range(50):
            start = time.perf_counter()
            dist.all_gather(out, probe)
            gather.append(time.perf_counter() - start)
        result = {**_summary(times, calls), "t_allgather": statistics.median(gather),
                  "adam_t_step": adam["t_step"]}
        torch.save(params, folder / f"params{rank}.pt")
        (folder / f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()
    return 0


def _run_ranks(steps: int) -> tuple[list[dict], object]:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "GLOO_SOCKET_IFNAME": "lo0" if sys.platform == "darwin" else "lo"}
        procs = [subprocess.Popen([sys.executable, "-m", "rso_ref.benchmarks.ddp_overhead",
                                   "--rank", str(rank),
                                   "--folder", tmp, "--steps", str(steps)], env=env)
                 for rank in range(WORLD)]
        deadline = time.monotonic() + DEADLINE_S
        try:
            for proc in procs:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for proc in procs:  # only the processes started here
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if any(proc.returncode for proc in procs):
            raise RuntimeError(f"a rank failed: exit codes {[p.returncode for p in procs]}")
        ranks = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(WORLD)]
        return ranks, [torch.load(folder / f"params{r}.pt") for r in range(WORLD)]


def run(quick: bool) -> dict:
    import torch

    steps = 5 if quick else 20
    torch.set_num_threads(1)
    times, calls, params = _setup(0, 1, steps)
    single = _summary(times, calls)
    adam_single = _summary(*_setup(0, 1, steps, "adam")[:2])["t_step"]
    ranks, ddp_params = _run_ranks(steps)
    ddp = ranks[0]
    diff = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ddp_params[0], params))
    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg(), "threads_per_process": 1,
                    "torch": torch.__version__},
        "model": f"MLP {SIZES}, float32", "batch": BATCH, "world": WORLD, "steps": steps,
        "single": single,
        "ddp": {k: v for k, v in ddp.items() if k not in ("t_allgather", "adam_t_step")},
        "adam_t_step": {"single": adam_single, "ddp": ddp["adam_t_step"]},
        "t_allgather": ddp["t_allgather"],
        "ranks_same_calls": ranks[0]["calls"] == ranks[1]["calls"],
        "ranks_identical": all(torch.equal(a, b) for a, b in zip(*ddp_params)),
        "same_calls_as_single": ranks[0]["calls"] == single["calls"],
        "step_time_ratio": ddp["t_step"] / single["t_step"],
        "call_time_ratio": ddp["t_per_call"] / single["t_per_call"],
        "max_rel_param_diff_vs_single": diff,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--rank" in argv:
        rank_parser = argparse.ArgumentParser()
        rank_parser.add_argument("--rank", type=int, required=True)
        rank_parser.add_argument("--folder", type=Path, required=True)
        rank_parser.add_argument("--steps", type=int, required=True)
        ns = rank_parser.parse_args(argv)
        return _rank_main(ns.rank, ns.folder, ns.steps)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parse_args(parser, "ddp_overhead", argv)
    result = run(args.quick)
    finish(result, args)
    for way in ("single", "ddp"):
        r = result[way]
        print(f"{way:>6}: {1e3 * r['t_step']:.1f} ms/step, {r['calls_per_step']:.1f} closure "
              f"calls/step, {1e3 * r['t_per_call']:.2f} ms/call")
    print(f"ddp/single: {result['step_time_ratio']:.2f} x per step, "
          f"{result['call_time_ratio']:.2f} x per call; RSO's all_gather "
          f"{1e6 * result['t_allgather']:.0f} us")
    print(f"ranks: same closure calls {result['ranks_same_calls']}, identical parameters "
          f"{result['ranks_identical']}; against single: same calls "
          f"{result['same_calls_as_single']}, max rel. param diff "
          f"{result['max_rel_param_diff_vs_single']:.1e} (float32)")
    adam = result["adam_t_step"]
    print(f"  adam: {1e3 * adam['single']:.2f} ms/step single, {1e3 * adam['ddp']:.2f} ms/step "
          "ddp (one forward-backward per step: DDP's own cost per closure call)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
