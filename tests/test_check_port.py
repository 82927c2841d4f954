"""check_port catches ports tuned to the shipped fixtures.

Each port below passes every shipped case of its kind (asserted) and is wrong elsewhere
in the way real ports go wrong: an argument ignored at the value the fixtures happen to
use, a cap that the fixtures never reach, a loop that stops at the fixtures' depth.
check_port must find a counterexample, report it, and write it as a fixture that
``golden.verify`` replays to the same failure.
"""
import math

import numpy as np
import pytest

from rso_ref import golden
from rso_ref.golden import reference
from rso_ref.testing import check_port

pytest.importorskip("hypothesis")


def _lbfgs_memory_at_least_3(fun, x0, *, m, **options):
    """Keeps at least three pairs (the shipped cases use m = 3 and 10)."""
    return reference.lbfgs(fun, x0, m=max(m, 3), **options)


def _rso_meta_lr_fixed(value_and_grad, params, w, *, lr, **options):
    """Uses the learning rate of the shipped cases, 0.5, whatever it is given."""
    return reference.rso_meta(value_and_grad, params, w, lr=0.5, **options)


def _rso_step_k_capped(value_and_grad, params, *, meta_iters, **options):
    """Caps the meta-solve at the largest K of the shipped cases, 5."""
    return reference.rso_step(value_and_grad, params, meta_iters=min(meta_iters, 5), **options)


def _optim_lars_coefficient_fixed(name, params, grads, **hyper):
    """LARS with its trust coefficient fixed at the shipped 1e-3."""
    if name == "lars":
        hyper = {**hyper, "trust_coefficient": 1e-3}
    return reference.optim(name, params, grads, **hyper)


def _mlp_two_hidden_layers_at_most(params, X, y, *, activation, loss):
    """Forward pass unrolled for at most two hidden layers (the shipped maximum): deeper
    networks lose the activation of every hidden layer after the second."""
    if len(params) <= 6:
        return reference.mlp(params, X, y, activation=activation, loss=loss)
    linear_tail = [np.asarray(p) for p in params]
    # Fold the layers after the second hidden one into one affine map, as the unrolled
    # code does by multiplying through them without an activation.
    W, b = linear_tail[4], linear_tail[5]
    for i in range(6, len(linear_tail), 2):
        W, b = W @ linear_tail[i], b @ linear_tail[i] + linear_tail[i + 1]
    value, _ = reference.mlp(linear_tail[:4] + [W, b], X, y, activation=activation, loss=loss)
    _, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
    return value, grads


TUNED = {"lbfgs": _lbfgs_memory_at_least_3, "rso_meta": _rso_meta_lr_fixed,
         "rso_step": _rso_step_k_capped, "optim": _optim_lars_coefficient_fixed,
         "mlp": _mlp_two_hidden_layers_at_most}


@pytest.mark.portable
@pytest.mark.parametrize("kind", sorted(TUNED))
def test_a_port_tuned_to_the_shipped_cases_passes_them_and_is_caught(kind, tmp_path):
    port = TUNED[kind]
    assert golden.verify(port, kind).ok, "the tuned port must pass the shipped fixtures"
    # The optim kind spreads its cases over seven optimizers and the LARS port is wrong
    # only where trust_coefficient is drawn: about one case in 14, so 100 cases.
    with pytest.raises(AssertionError) as info:
        check_port(port, kind, max_examples=100 if kind == "optim" else 50, seed=0,
                   failure_dir=tmp_path)
    message = str(info.value)
    assert f"disagrees with the reference on a drawn {kind} case" in message
    assert f"--kind {kind}" in message and str(tmp_path) in message
    replay = golden.verify(port, kind, fixture_dir=tmp_path / f"{kind}-seed0")
    assert replay.status == "FAIL", replay.format()
    assert golden.verify(reference.reference_ports()[kind], kind,
                         fixture_dir=tmp_path / f"{kind}-seed0").ok


@pytest.mark.portable
@pytest.mark.parametrize("kind", sorted(golden.KINDS))
def test_the_reference_passes_its_own_differential_check(kind, tmp_path):
    report = check_port(reference.reference_ports()[kind], kind, max_examples=5, seed=1,
                        failure_dir=tmp_path)
    assert report.status == "PASS" and report.passed == report.examples == 5


def test_a_port_that_skips_everything_is_skip_and_a_raising_port_is_a_mismatch(tmp_path):
    def unported(*args, **kwargs):
        raise NotImplementedError("not yet")

    report = check_port(unported, "mlp", max_examples=3, failure_dir=tmp_path)
    assert report.status == "SKIP" and report.passed == 0 and report.skipped >= 1

    def crashing(params, X, y, *, activation, loss):
        return math.sqrt(-1.0)

    with pytest.raises(AssertionError, match="the port raised ValueError: math domain error"):
        check_port(crashing, "mlp", max_examples=3, failure_dir=tmp_path)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="kind must be one of"):
        check_port(reference.mlp, "mlpp")
    with pytest.raises(TypeError, match="port"):
        check_port(None, "mlp")
    with pytest.raises(ValueError, match="max_examples"):
        check_port(reference.mlp, "mlp", max_examples=0)
