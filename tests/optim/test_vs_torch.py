"""SGD, Adam, AdamW and RMSprop against torch.optim in float64 over 50 steps.

Both sides get the same random gradients (drawn on the host, independent of the
parameters) and every option combination; our optimizers run on NumPy, torch.optim on
float64 CPU tensors.
"""
import itertools

import numpy as np
import pytest

from rso_ref.optim import SGD, Adam, AdamW, RMSprop

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.torch, pytest.mark.portable]

SHAPES = ((5, 3), (3,), (2, 2, 2))
STEPS = 50

SGD_CASES = [
    dict(lr=0.05, momentum=m, dampening=d, weight_decay=wd, nesterov=n)
    for m, d, wd, n in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 0.01), (False, True))
    if not n or (m > 0 and d == 0)
]
ADAM_CASES = [dict(lr=0.01, betas=(0.85, 0.995), eps=1e-8, weight_decay=wd, amsgrad=a)
              for wd, a in itertools.product((0.0, 0.05), (False, True))]
RMSPROP_CASES = [dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=wd, momentum=m, centered=c)
                 for wd, m, c in itertools.product((0.0, 0.01), (0.0, 0.8), (False, True))]

CASES = ([(SGD, torch.optim.SGD, kw) for kw in SGD_CASES]
         + [(Adam, torch.optim.Adam, kw) for kw in ADAM_CASES]
         + [(AdamW, torch.optim.AdamW, kw) for kw in ADAM_CASES]
         + [(RMSprop, torch.optim.RMSprop, kw) for kw in RMSPROP_CASES])


def case_id(case):
    cls, _, kw = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


@pytest.mark.parametrize("mine_cls, theirs_cls, kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_matches_torch_optim(np_xp, mine_cls, theirs_cls, kwargs):
    rng = np.random.default_rng(0)
    p0 = [rng.standard_normal(s) for s in SHAPES]
    grad_seq = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]

    theirs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in p0]
    torch_opt = theirs_cls(theirs, **kwargs)
    opt = mine_cls(**kwargs)
    mine = [np_xp.asarray(p) for p in p0]
    state = opt.init(mine)
    for step, grads in enumerate(grad_seq, start=1):
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()
        mine, state = opt.step(mine, grads, state)
        if step % 10 == 0:
            for j, (a, t) in enumerate(zip(mine, theirs)):
                # Same float64 rule, different operation order (lerp vs. multiply-add):
                # 1e-10 relative, atol 1e-12 for entries of O(1) params passing near 0.
                np.testing.assert_allclose(
                    a, t.detach().numpy(), rtol=1e-10, atol=1e-12,
                    err_msg=f"params[{j}] after {step} steps: mine (actual) vs torch (desired)")
    assert state["count"] == STEPS
