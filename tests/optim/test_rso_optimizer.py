"""Tests of rso_ref.optim.RSO: the optimizer contract around Algorithm 1 (rso_ref.rso)."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.optim import RSO, Needs, Optimizer, StepInfo
from rso_ref.rso import rso_step
from rso_ref.testing import assert_close
from rso_ref.validation import NonFiniteError

from test_rso import CountingOracle, make_params, quartic_oracle


def test_declares_what_a_step_needs():
    opt = RSO(lr=0.1)
    assert isinstance(opt, Optimizer)
    assert opt.needs is Needs.VALUE_AND_GRAD and opt.takes_meta_oracle


def test_warmup_meta_every_and_state(np_xp):
    params = make_params(np_xp, seed=9)
    oracle = CountingOracle(quartic_oracle(np_xp))
    opt = RSO(lr=0.05, meta_iters=2, meta_every=3, warmup_steps=2)
    state = opt.init(params)
    assert state == {"count": 0, "w": None}
    calls, infos = [], []
    for _ in range(8):
        loss, grads = oracle.oracle(params)
        before = oracle.calls
        params_new, state, info = opt.step_with_info(params, grads, state,
                                                     value_and_grad=oracle, loss=loss)
        calls.append(oracle.calls - before)
        infos.append(info)
        if state["count"] <= 2:  # warm-up: plain SGD, no meta calls
            for p, q, g in zip(params_new, params, grads):
                assert_close(p, q - 0.05 * g, rtol=0)
        params = params_new
    # steps 3..8: solve at 3, 6; reuse w at 4, 5, 7, 8
    assert calls[:2] == [0, 0]
    assert calls[2] > 0 and calls[5] > 0
    assert calls[3] == calls[4] == calls[6] == calls[7] == 0
    assert [info.oracle_calls for info in infos] == calls
    assert [info.w for info in infos[:2]] == [(1.0,) * len(params)] * 2
    assert infos[3].w == infos[4].w == infos[2].w and infos[6].w == infos[5].w
    assert all(isinstance(v, float) for info in infos for v in info.w)
    assert infos[2].iterations == 2 and infos[3].iterations == 0
    assert state["count"] == 8 and state["w"] == infos[5].w


def test_a_missing_loss_costs_one_counted_oracle_call(np_xp):
    params = make_params(np_xp, seed=1)
    oracle = CountingOracle(quartic_oracle(np_xp))
    opt = RSO(lr=0.05, meta_iters=2)
    _, grads = oracle.oracle(params)
    _, _, info = opt.step_with_info(params, grads, opt.init(params), value_and_grad=oracle)
    assert info.oracle_calls == oracle.calls
    assert info.loss_after < oracle.oracle(params)[0]


def test_every_rso_step_option_is_exposed_and_used(np_xp):
    # m, c1, c2 and maxls reach the meta-solve: the optimizer's step equals rso_step with
    # the same options, which differs from rso_step with the defaults.
    params = make_params(np_xp, seed=5)
    oracle = quartic_oracle(np_xp)
    loss, grads = oracle(params)
    options = {"m": 1, "c1": 0.3, "c2": 0.4, "maxls": 2}
    opt = RSO(lr=0.05, meta_iters=4, **options)
    new, _, info = opt.step_with_info(params, grads, opt.init(params), value_and_grad=oracle,
                                      loss=loss)
    ref = rso_step(oracle, params, lr=0.05, meta_iters=4, **options)
    default = rso_step(oracle, params, lr=0.05, meta_iters=4)
    assert info.w == tuple(ref.w.tolist()) and info.oracle_calls == ref.nfev
    assert info.iterations == ref.nit and info.loss_after == ref.loss_after
    assert (info.w, info.oracle_calls) != (tuple(default.w.tolist()), default.nfev)
    for p, q in zip(new, ref.params):
        assert_close(p, q, rtol=0)


def test_real_and_integer_scalars_of_any_type_are_accepted():
    opt = RSO(lr=np.float32(0.5), meta_iters=np.int64(3), meta_every=np.int32(2),
              c1=np.float64(1e-3), maxls=np.int16(7), w0=np.array([0.5, 0.25]))
    assert (opt.lr, opt.meta_iters, opt.meta_every, opt.c1, opt.maxls) == (0.5, 3, 2, 1e-3, 7)
    assert type(opt.meta_iters) is int and opt.w0 == (0.5, 0.25)
    assert RSO(lr=0.5, w0=[0.5, 0.25]) == opt.__class__(lr=0.5, w0=(0.5, 0.25))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": 0.0}, ValueError, "^lr"), ({"lr": 0.1, "meta_every": 0}, ValueError, "^meta_every"),
    ({"lr": 0.1, "warmup_steps": -1}, ValueError, "^warmup_steps"),
    ({"lr": 0.1, "meta_iters": -2}, ValueError, "^meta_iters"),
    ({"lr": 0.1, "meta_iters": 2.0}, TypeError, "^meta_iters"),
    ({"lr": 0.1, "w0": "zeros"}, ValueError, "^w0"),
    ({"lr": 0.1, "w0": [1.0, float("nan")]}, ValueError, "^w0"),
    ({"lr": 0.1, "normalize": 1}, TypeError, "^normalize"),
    ({"lr": 0.1, "safeguard": "no"}, TypeError, "^safeguard"),
    ({"lr": 0.1, "m": 0}, ValueError, "^m "),
    ({"lr": 0.1, "maxls": 0}, ValueError, "^maxls"),
    ({"lr": 0.1, "c1": 0.0}, ValueError, "0 < c1 < c2 < 1"),
    ({"lr": 0.1, "c1": 0.5, "c2": 0.4}, ValueError, "0 < c1 < c2 < 1"),
    ({"lr": 0.1, "c2": 1.0}, ValueError, "0 < c1 < c2 < 1"),
    # a bad grouping used to pass construction and fail only at init (after data loading)
    ({"lr": 0.1, "groups": "layers"}, ValueError, "^groups must be None, 'layer'"),
    ({"lr": 0.1, "groups": "uniform:x"}, ValueError, "positive integer"),
])
def test_rejects_bad_hyperparameters_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        RSO(**kwargs)


def test_a_string_grouping_needs_its_structure_only_at_init():
    opt = RSO(lr=0.1, groups="uniform:2")  # can be built before the model, for validation
    with pytest.raises(ValueError, match=r"needs the model's layers\(\)"):
        opt.init([np.ones(2)])


def _spoil(grads, value):
    host = backend.to_numpy(grads[1]).copy()
    host[0] = value
    return [grads[0], backend.asarray(host, like=grads[0]), *grads[2:]]


@pytest.mark.parametrize("phase", ["warm-up", "reuse", "solve"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_grads_never_reach_params(xp, phase, value):
    # Before, the warm-up and w-reuse steps applied NaN gradients to the parameters.
    params = make_params(xp, seed=3)
    oracle = quartic_oracle(xp)
    opt = RSO(lr=0.05, meta_iters=2, warmup_steps=1 if phase == "warm-up" else 0,
              meta_every=2)
    state = opt.init(params)
    if phase == "reuse":  # one solve first, so the next step reuses its w
        loss, grads = oracle(params)
        params, state = opt.step(params, grads, state, value_and_grad=oracle, loss=loss)
    loss, grads = oracle(params)
    with pytest.raises(NonFiniteError, match="^grads contains NaN or inf"):
        opt.step(params, _spoil(grads, value), state, value_and_grad=oracle, loss=loss)


def test_state_is_plain_data_that_resumes_bit_for_bit(np_xp):
    # state["w"] is a tuple of floats: what a checkpoint stores as JSON, exactly.
    params = make_params(np_xp, seed=4)
    oracle = quartic_oracle(np_xp)
    opt = RSO(lr=0.05, meta_iters=2, w0="previous")
    state = opt.init(params)
    for _ in range(2):
        loss, grads = oracle(params)
        params, state = opt.step(params, grads, state, value_and_grad=oracle, loss=loss)
    assert isinstance(state["w"], tuple) and all(type(v) is float for v in state["w"])
    copied = {"count": state["count"], "w": tuple(float(repr(v)) for v in state["w"])}
    loss, grads = oracle(params)
    a, _, info_a = opt.step_with_info(params, grads, state, value_and_grad=oracle, loss=loss)
    b, _, info_b = opt.step_with_info(params, grads, copied, value_and_grad=oracle, loss=loss)
    assert info_a == info_b and isinstance(info_a, StepInfo)
    for p, q in zip(a, b):
        assert_close(p, q, rtol=0)


@pytest.mark.parametrize("normalize", [False, True])
def test_a_reuse_step_applies_the_last_w_to_the_directions_the_solve_used(np_xp, normalize):
    # Between meta-solves (meta_every > 1) the step is θ' = θ - η Σ_i w_i d_i with the last
    # solve's w and, with normalize=True, the unit directions d_i = g_i / ||g_i||: the
    # same directions the solve's w was fitted to (rso_ref.rso.group_directions).
    params = make_params(np_xp, seed=3)
    oracle = quartic_oracle(np_xp)
    groups = [[0, 1], [2, 3]]
    opt = RSO(lr=0.05, groups=groups, meta_iters=3, meta_every=2, normalize=normalize)
    state = opt.init(params)
    loss, grads = oracle(params)
    params, state = opt.step(params, grads, state, value_and_grad=oracle, loss=loss)
    w = state["w"]
    loss, grads = oracle(params)
    reused, state, info = opt.step_with_info(params, grads, state, value_and_grad=oracle,
                                             loss=loss)
    assert info.iterations == 0 and info.w == w
    host = [np.asarray(g) for g in grads]
    for i, group in enumerate(groups):
        scale = 1.0
        if normalize:
            scale = 1.0 / np.sqrt(sum(np.sum(host[j] ** 2) for j in group))
        for j in group:
            # a handful of float64 operations: 1e-13 relative
            expected = np.asarray(params[j]) - 0.05 * w[i] * scale * host[j]
            np.testing.assert_allclose(np.asarray(reused[j]), expected, rtol=1e-13, atol=0)
