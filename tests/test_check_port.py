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


def _minimal_rso_step(options, inputs):
    # K = 6 is the least K the cap (5) gets wrong; one chained step, one pair, one group
    assert (options["meta_iters"], options["steps"], options["m"]) == (6, 1, 1), options
    assert len(options["groups"]) == 1, options


def _minimal_mlp(options, inputs):
    assert len(inputs["params"]) == 8, [p.shape for p in inputs["params"]]  # 3 hidden layers
    assert inputs["X"].shape[0] == 2  # the smallest batch drawn


def _minimal_lbfgs(options, inputs):
    assert options["m"] == 1 and inputs["x0"].shape == (2,), (options, inputs)


def _minimal_rso_meta(options, inputs):
    assert len(options["groups"]) == 1 and len(inputs["w"]) == 1, (options, inputs)


def _minimal_optim(options, inputs):
    assert options["optimizer"] == "lars" and len(inputs["grads"]) == 1, options


#: What the shrunk counterexample of each tuned port must look like: with shrinking off
#: check_port still finds a failing case, but a larger one, and these fail.
MINIMAL = {"rso_step": _minimal_rso_step, "mlp": _minimal_mlp, "lbfgs": _minimal_lbfgs,
           "rso_meta": _minimal_rso_meta, "optim": _minimal_optim}

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
    # the counterexample is shrunk to a minimal case, not merely found
    case = golden.load(kind, tmp_path / f"{kind}-seed0").cases[0]
    MINIMAL[kind](case["options"], case["inputs"])
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


# -- the stopping rules of L-BFGS: variants caught at the default 50 examples ------------

def _numpy_port():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "ports" / "numpy_port.py"
    spec = importlib.util.spec_from_file_location("numpy_port_mutant", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mutant(name):
    """The literal NumPy port with one stopping rule changed the way ports get it wrong."""
    port = _numpy_port()
    if name == "ftol without the 1":  # max(|f_k|, |f_k+1|) instead of max(|f_k|, |f_k+1|, 1)
        port.ftol_scale = lambda f_prev, f_new: max(abs(f_prev), abs(f_new))
    elif name == "ftol without the D* confirmation":  # SCHEMA.md's old text, literally
        port.reduction_small = lambda f_prev, f_new, ftol, *step: \
            f_prev - f_new <= ftol * max(abs(f_prev), abs(f_new), 1.0)
    elif name == "gtol on the 2-norm":
        port.gradient_small = lambda g, gtol: float(np.linalg.norm(g)) <= gtol
    elif name == "maxiter + 1":
        return lambda fun, x0, *, maxiter, **kw: port.lbfgs(fun, x0, maxiter=maxiter + 1, **kw)
    elif name == "maxiter - 1":
        def fewer(fun, x0, *, maxiter, **kw):
            return port.lbfgs(fun, x0, maxiter=max(1, maxiter - 1), **kw)
        return fewer
    return port.lbfgs


LBFGS_MUTANTS = ("ftol without the 1", "ftol without the D* confirmation", "gtol on the 2-norm",
                 "maxiter + 1", "maxiter - 1")


@pytest.mark.parametrize("name", LBFGS_MUTANTS)
def test_a_variant_of_an_lbfgs_stopping_rule_is_caught_with_default_settings(name, tmp_path):
    port = _mutant(name)
    assert golden.verify(port, "lbfgs").ok or name.startswith("maxiter"), name
    report = check_port(port, "lbfgs", failure_dir=tmp_path, raise_on_failure=False)
    assert report.status == "FAIL", f"{name}: {report.format()}"
    assert golden.verify(port, "lbfgs", fixture_dir=report.failure_dir).status == "FAIL"


def test_the_literal_port_itself_passes_where_its_mutants_fail(tmp_path):
    report = check_port(_mutant("none"), "lbfgs", failure_dir=tmp_path)
    assert report.status == "PASS" and report.passed == 50


# -- diagnostics -------------------------------------------------------------------------

def _one_iteration_short(fun, x0, *, maxiter, **options):
    out = reference.lbfgs(fun, x0, maxiter=maxiter, **options)
    return {k: v[:-1] if len(v) > 2 else v for k, v in out.items()}


def test_a_shape_mismatch_is_reported_as_such_with_the_iteration_counts(tmp_path):
    report = check_port(_one_iteration_short, "lbfgs", failure_dir=tmp_path,
                        raise_on_failure=False)
    assert report.status == "FAIL" and not report.ok
    assert "x: shape mismatch" in report.message, report.message
    assert "iterations, the reference" in report.message and "(after x0)" in report.message
    assert "error 0.000e+00 > tolerance" not in report.message
    assert "input x0: [" in report.message  # the input values, not only shapes


def test_a_trajectory_names_the_iteration_and_element_with_both_values(tmp_path):
    def late_drift(fun, x0, **options):
        out = reference.lbfgs(fun, x0, **options)
        x = np.array(out["x"])
        x[-1, 0] += 1e-3
        return {**out, "x": x}

    message = check_port(late_drift, "lbfgs", failure_dir=tmp_path,
                         raise_on_failure=False).message
    assert "first iteration out of tolerance:" in message, message
    assert "worst element (" in message and " vs reference " in message, message


def test_a_raising_port_shows_its_traceback(tmp_path):
    def helper():
        raise RuntimeError("deep inside the port")

    def raising(params, X, y, *, activation, loss):
        return helper()

    message = check_port(raising, "mlp", max_examples=2, failure_dir=tmp_path,
                         raise_on_failure=False).message
    assert "the port raised RuntimeError: deep inside the port" in message
    assert "port traceback" in message and "in helper" in message and "in raising" in message


def test_a_port_that_exits_fails_instead_of_ending_the_run(tmp_path):
    import sys

    def exiting(params, X, y, *, activation, loss):
        sys.exit(0)

    report = check_port(exiting, "mlp", max_examples=2, failure_dir=tmp_path,
                        raise_on_failure=False)
    assert report.status == "FAIL" and "sys.exit(0)" in report.message
    verified = golden.verify(exiting, "mlp")
    assert verified.status == "FAIL" and all("sys.exit(0)" in e for e in verified.errors)


def _loss_one_percent_high(params, X, y, *, activation, loss):
    value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
    return 1.01 * value, grads


def test_an_earlier_failure_directory_is_never_overwritten(tmp_path):
    first = check_port(_loss_one_percent_high, "mlp", max_examples=5, failure_dir=tmp_path,
                       raise_on_failure=False).failure_dir
    second = check_port(_loss_one_percent_high, "mlp", max_examples=5, failure_dir=tmp_path,
                        raise_on_failure=False).failure_dir
    assert first == tmp_path / "mlp-seed0" and second == tmp_path / "mlp-seed0-2"
    assert golden.verify(_loss_one_percent_high, "mlp", fixture_dir=first).status == "FAIL"


def test_an_unwritable_failure_dir_keeps_the_mismatch_report(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(AssertionError) as info:
        check_port(_loss_one_percent_high, "mlp", max_examples=5, failure_dir=blocker / "out")
    message = str(info.value)
    assert "disagrees with the reference" in message and "loss: error" in message
    assert "no replay fixture: could not write it under failure_dir" in message


def test_strict_counts_a_skip_as_a_failure(tmp_path):
    def unported(*args, **kwargs):
        raise NotImplementedError("not yet")

    assert check_port(unported, "mlp", max_examples=2, failure_dir=tmp_path).status == "SKIP"
    report = check_port(unported, "mlp", max_examples=2, failure_dir=tmp_path, strict=True,
                        raise_on_failure=False)
    assert report.status == "FAIL" and "strict" in report.message
