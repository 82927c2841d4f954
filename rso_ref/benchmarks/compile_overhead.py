r"""Cost of :class:`rso_ref.interop.torch.RSO` on a ``torch.compile``-d module, against Adam.

A small CNN (conv 3x3 1->8, BatchNorm, ReLU, conv 3x3 8->16, ReLU, max-pool, linear to
10; float32, random 28x28 images, batch 128, one CPU thread) trains for a few steps,
eager and compiled (``torch.compile(net)``, default backend inductor), with

* ``rso``: RSO (``groups="layer"``, ``meta_iters=5``), each step several closure calls;
* ``adam``: ``torch.optim.Adam``, one forward-backward per step.

Per way it reports the first step's time (compilation included), the median time per
later step, the closure calls per step and the time per closure call, and the graphs
Dynamo compiled during the first step and after it (``recompiles_after_step_1``, which
must be 0). RSO's cost per closure call against Adam's step on the same compiled module
is ``rso_call_vs_adam_step``; the eager figures give the same ratio without compilation.

Usage: ``rso-ref bench compile [--quick] [--backend NAME] [--out PATH]`` (or ``python -m
rso_ref.benchmarks.compile_overhead``).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from typing import Sequence

from rso_ref.benchmarks import finish, parse_args
from rso_ref.benchmarks.torch_steps import timed_steps

BATCH = 128


def _net():
    import torch

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(8)
            self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
            self.head = torch.nn.Linear(16 * 14 * 14, 10)

        def forward(self, x):  # [batch, 1, 28, 28] -> [batch, 10]
            x = torch.relu(self.norm(self.conv1(x)))
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
            return self.head(x.flatten(1))

    torch.manual_seed(0)
    return CNN()


def _run(kind: str, backend: str | None, steps: int) -> dict:
    """One way: ``kind`` in ("rso", "adam"), ``backend`` None for eager."""
    import torch
    from torch._dynamo.utils import counters

    from rso_ref.interop.torch import RSO

    net = _net()
    call = net if backend is None else torch.compile(net, backend=backend)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(BATCH, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (BATCH,), generator=gen)
    opt = (RSO(net.named_parameters(), lr=0.5, meta_iters=5, groups="layer") if kind == "rso"
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    times, per_step, graph_counts = timed_steps(
        opt, lambda: torch.nn.functional.cross_entropy(call(X), y), steps,
        closure_step=kind == "rso",
        probe=lambda: int(counters["stats"]["unique_graphs"]))  # the first step compiles
    later = times[1:]
    return {"t_first_step": times[0], "t_step": statistics.median(later),
            "calls_per_step": statistics.mean(per_step[1:]),
            "t_per_call": sum(later) / sum(per_step[1:]),
            "graphs_first_step": graph_counts[0],  # absolute here, made relative in run
            "recompiles_after_step_1": graph_counts[-1] - graph_counts[0]}


def run(quick: bool, backend: str = "inductor") -> dict:
    """Both optimizers, eager and compiled; returns the JSON record."""
    import torch
    import torch._dynamo

    torch.set_num_threads(1)
    steps = 5 if quick else 20
    load_before = os.getloadavg()
    result: dict = {"benchmark": "compile_overhead", "backend": backend, "batch": BATCH,
                    "steps": steps, "torch": torch.__version__, "python": sys.version.split()[0],
                    "machine": platform.machine(), "threads": 1}
    for kind in ("rso", "adam"):
        result[kind] = {}
        for way, chosen in (("eager", None), ("compiled", backend)):
            torch._dynamo.reset()
            before = 0
            if chosen is not None:
                from torch._dynamo.utils import counters
                before = int(counters["stats"]["unique_graphs"])
            record = _run(kind, chosen, steps)
            if chosen is not None:
                record["graphs_first_step"] = record.pop("graphs_first_step") - before
            else:
                record.pop("graphs_first_step")
                record.pop("recompiles_after_step_1")
            result[kind][way] = record
    for way in ("eager", "compiled"):
        result[f"rso_call_vs_adam_step_{way}"] = (result["rso"][way]["t_per_call"]
                                                  / result["adam"][way]["t_step"])
    result["loadavg_before"], result["loadavg_after"] = load_before, os.getloadavg()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="inductor",
                        help="torch.compile backend (default inductor; aot_eager is fast)")
    args = parse_args(parser, "compile_overhead", argv)
    result = run(args.quick, args.backend)
    finish(result, args)
    for kind in ("rso", "adam"):
        for way in ("eager", "compiled"):
            r = result[kind][way]
            extra = ("" if way == "eager" else
                     f", {r['graphs_first_step']} graph(s) in step 1, "
                     f"{r['recompiles_after_step_1']} after")
            print(f"{kind:>4} {way:>8}: first step {r['t_first_step']:.2f} s, "
                  f"{1e3 * r['t_step']:.2f} ms/step, {r['calls_per_step']:.1f} calls/step, "
                  f"{1e3 * r['t_per_call']:.2f} ms/call{extra}")
    print(f"RSO per closure call / Adam per step: eager "
          f"{result['rso_call_vs_adam_step_eager']:.2f}, compiled "
          f"{result['rso_call_vs_adam_step_compiled']:.2f} ({result['backend']})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
