"""The example ports in examples/ports/ (torch, JAX) pass the golden fixtures and agree
with the reference on drawn cases (``rso_ref.testing.check_port``).

The ports are examples, not a package: they are loaded by path. A kind a port defines
must PASS its fixtures; the only cases allowed to be skipped are the optimizers
torch.optim has no class for. ``check_port`` draws the default 50 cases per kind for
torch and few for JAX, to keep the file near a minute on two cores (the JAX port
compiles its functions anew for every drawn shape, about 1-2 s per case); run the JAX
port with ``max_examples=50`` by hand or with ``rso-ref golden check`` for a deeper look.

Cases whose exact ``nfev``/``nit`` rounding alone decides (a meta-solve stopping at the
rounding level of f, where two correct float64 implementations branch differently) are
not drawn: ``check_port`` admits only cases the reference reproduces under 1e-15 oracle
noise (:mod:`rso_ref.testing.ports`, "Cases decided by rounding").
"""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from rso_ref import golden
from rso_ref.testing import check_port

PORTS = Path(__file__).resolve().parent.parent / "examples" / "ports"

#: Every test here compares a port's path with the reference's or with the fixtures.
pytestmark = pytest.mark.portable

#: Kinds each example port defines.
TORCH_KINDS = ("mlp", "hvp", "rso_meta", "rso_step", "optim")
JAX_KINDS = ("mlp", "hvp", "rso_meta", "rso_step")

#: Optimizer fixture cases torch.optim must reproduce, and those it has no class for.
TORCH_OPTIM_CASES = {"sgd_momentum", "sgd_nesterov_wd", "sgd_dampening", "adam",
                     "adam_l2_amsgrad", "adamw", "rmsprop", "rmsprop_centered_momentum"}
NOT_IN_TORCH_OPTIM = {"lamb", "lars", "muon_nesterov", "muon_plain_wd", "rso_reuse_normalized",
                      "rso_every_step_safeguard"}

#: Drawn cases per kind: torch cases take ~0.01-0.15 s, JAX cases ~1-2 s (compilation).
TORCH_EXAMPLES = 50
JAX_EXAMPLES = 4

#: Kinds of the NumPy port written literally from SCHEMA.md (no rso_ref code in it).
NUMPY_KINDS = ("lbfgs", "rso_meta", "rso_step")
#: Its drawn cases per kind (~0.01-0.05 s each); the deep check is
#: ``RSO_REF_LITERAL_PORT_EXAMPLES=2000 pytest tests/test_example_ports.py -k literal``.
NUMPY_EXAMPLES = int(os.environ.get("RSO_REF_LITERAL_PORT_EXAMPLES", "100"))


def _load(name: str, library: str):
    if library != "numpy":
        pytest.importorskip(library)
    spec = importlib.util.spec_from_file_location(f"example_port_{name}", PORTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def torch_port():
    return _load("torch_port", "torch")


@pytest.fixture(scope="module")
def numpy_port():
    return _load("numpy_port", "numpy")


@pytest.fixture(scope="module")
def jax_port():
    return _load("jax_port", "jax")


def _cases(report, outcome):
    """Case names of a report that passed (``"PASS"``) or were skipped (``"SKIP"``)."""
    if outcome == "SKIP":
        return {entry.split(":")[0] for entry in report.skipped}
    failed = {row.case for row in report.rows if not row.ok}
    return {row.case for row in report.rows} - failed


@pytest.mark.torch
def test_the_torch_port_passes_every_fixture_it_implements(torch_port):
    import torch

    dtype = torch.get_default_dtype()
    reports = golden.verify_all(torch_port)
    assert set(reports) == set(TORCH_KINDS)
    for kind, report in reports.items():
        assert report.status == "PASS", report.format()
        if kind != "optim":
            assert not report.skipped, report.format()
    optim = reports["optim"]
    assert _cases(optim, "PASS") == TORCH_OPTIM_CASES, optim.format()
    assert _cases(optim, "SKIP") == NOT_IN_TORCH_OPTIM, optim.format()
    assert torch.get_default_dtype() == dtype  # the port builds float64 tensors explicitly


@pytest.mark.jax
def test_the_jax_port_passes_every_fixture_it_implements(jax_port):
    reports = golden.verify_all(jax_port)
    assert set(reports) == set(JAX_KINDS)
    for report in reports.values():
        assert report.status == "PASS" and not report.skipped, report.format()


@pytest.mark.torch
@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_the_torch_port_agrees_with_the_reference_on_drawn_cases(torch_port, kind, tmp_path):
    report = check_port(getattr(torch_port, kind), kind, max_examples=TORCH_EXAMPLES,
                        failure_dir=tmp_path)
    assert report.status == "PASS" and report.passed == TORCH_EXAMPLES
    if kind != "optim":
        assert report.skipped == 0


@pytest.mark.slow  # ~3-7 s a kind: every drawn shape is compiled anew
@pytest.mark.jax
@pytest.mark.parametrize("kind", JAX_KINDS)
def test_the_jax_port_agrees_with_the_reference_on_drawn_cases(jax_port, kind, tmp_path):
    report = check_port(getattr(jax_port, kind), kind, max_examples=JAX_EXAMPLES,
                        failure_dir=tmp_path)
    assert report.status == "PASS" and report.passed == JAX_EXAMPLES


@pytest.mark.parametrize("port", [pytest.param("torch_port", marks=pytest.mark.torch),
                                  pytest.param("jax_port", marks=pytest.mark.jax)])
def test_an_activation_or_loss_a_port_lacks_is_not_implemented_so_verify_skips_it(port,
                                                                                  request):
    module = request.getfixturevalue(port)
    params = [np.ones((2, 3)), np.zeros(3)]
    X, y = np.ones((4, 2)), np.zeros(4, dtype=np.int64)
    with pytest.raises(NotImplementedError, match="softplus"):
        module.mlp(params, X, y, activation="softplus", loss="cross_entropy")
    with pytest.raises(NotImplementedError, match="hinge"):
        module.mlp(params, X, y, activation="tanh", loss="hinge")


def test_the_literal_numpy_port_imports_nothing_from_rso_ref():
    source = (PORTS / "numpy_port.py").read_text()
    assert "import rso_ref" not in source and "from rso_ref" not in source


def test_the_literal_numpy_port_passes_every_fixture_it_implements(numpy_port):
    reports = golden.verify_all(numpy_port)
    assert set(reports) == set(NUMPY_KINDS)
    for report in reports.values():
        assert report.status == "PASS" and not report.skipped, report.format()


@pytest.mark.parametrize("kind", NUMPY_KINDS)
def test_the_literal_numpy_port_agrees_with_the_reference_on_drawn_cases(
        numpy_port, kind, tmp_path):
    """SCHEMA.md is the whole truth: a port written from it alone matches the reference on
    drawn cases, the stopping rules of L-BFGS at the scales where their variants differ
    included (:mod:`rso_ref.testing.ports`)."""
    report = check_port(getattr(numpy_port, kind), kind, max_examples=NUMPY_EXAMPLES,
                        failure_dir=tmp_path)
    assert report.status == "PASS" and report.passed == NUMPY_EXAMPLES, report.format()
