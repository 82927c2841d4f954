"""Timed optimizer steps on a torch model, shared by the torch benchmarks.

One step of RSO is ``opt.step(closure)`` (the meta-solve calls the closure several
times); one step of a torch.optim baseline is one closure call then ``opt.step()``.
Both are timed the same way, with the closure calls of each step counted.
"""
from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["timed_steps"]


def timed_steps(opt: Any, loss_fn: Callable[[], Any], steps: int, *, closure_step: bool,
                probe: Callable[[], Any] | None = None) -> tuple[list, list, list]:
    """Run ``steps + 1`` optimizer steps and time each.

    Parameters
    ----------
    opt : torch.optim.Optimizer
        The optimizer.
    loss_fn : callable
        ``loss_fn()`` returns the loss tensor of the current parameters (forward only).
    steps : int
        Steps after the first; the first (warm-up or compilation) is returned too.
    closure_step : bool
        True for an optimizer whose ``step`` takes the closure (RSO), False for one
        that steps on the gradients of one closure call.
    probe : callable, optional
        Called after each step; its values are returned.

    Returns
    -------
    times, calls, probes : list
        Wall seconds, closure calls and probe values per step, the first step first.
    """
    count = [0]

    def closure():
        opt.zero_grad()
        count[0] += 1
        loss = loss_fn()
        loss.backward()
        return loss

    times, calls, probes = [], [], []
    for _ in range(steps + 1):
        count[0] = 0
        start = time.perf_counter()
        if closure_step:
            opt.step(closure)
        else:
            closure()
            opt.step()
        times.append(time.perf_counter() - start)
        calls.append(count[0])
        probes.append(None if probe is None else probe())
    return times, calls, probes
