"""`rso-ref golden verify` and `rso-ref golden check`: the self-check, port specs, kind
inference, exit statuses, and one line (no traceback) for every failure."""
import textwrap

import pytest

from rso_ref.cli import main

PORT_FILE = '''
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rso_ref.golden import reference


@dataclass
class Settings:  # a dataclass in a file port needs the module registered while it runs
    zero_grads: bool = False


def mlp(params, X, y, *, activation, loss):
    value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
    return value, grads


def zero_grads(params, X, y, *, activation, loss):
    value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
    return value, [np.zeros(np.shape(g)) for g in grads]


def optim(name, params, grads, **hyper):
    if name != "sgd":
        raise NotImplementedError(name)
    return reference.optim(name, params, grads, **hyper)


def helper():
    return None
'''


@pytest.fixture
def port_file(tmp_path):
    path = tmp_path / "my_port.py"
    path.write_text(textwrap.dedent(PORT_FILE))
    return str(path)


def _one_error_line(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert err.startswith("rso-ref: error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_verify_without_a_port_checks_the_library_itself(capsys):
    assert main(["golden", "verify"]) == 0
    out = capsys.readouterr().out
    assert "against its own fixtures" in out
    assert out.rstrip().endswith("PASS: 7 (lbfgs, rso_meta, rso_step, optim, mlp, hvp, eigen); "
                                 "FAIL: 0; SKIP: 0")
    assert main(["golden", "verify", "--kind", "mlp/relu_ce"]) == 0
    assert "PASS: 1 (mlp/relu_ce)" in capsys.readouterr().out


def test_a_file_port_module_verifies_every_kind_it_defines(port_file, capsys):
    assert main(["golden", "verify", "--port", port_file]) == 0
    out = capsys.readouterr().out
    assert "== optim: PASS (3 PASS, 0 FAIL, 11 SKIP)" in out
    assert out.rstrip().endswith("PASS: 2 (optim, mlp); FAIL: 0; SKIP: 0")


def test_the_kind_is_inferred_from_the_function_name_or_named_by_kind(port_file, capsys):
    assert main(["golden", "verify", "--port", f"{port_file}:mlp"]) == 0
    capsys.readouterr()
    assert main(["golden", "verify", "--port", f"{port_file}:zero_grads", "--kind", "mlp"]) == 1
    assert "FAIL: 1 (mlp)" in capsys.readouterr().out
    assert main(["golden", "verify", "--port", f"{port_file}:zero_grads"]) == 2
    _one_error_line(capsys, "--kind: cannot tell which kind 'zero_grads' ports")


def test_a_port_that_only_skips_exits_1(port_file, capsys):
    assert main(["golden", "verify", "--port", f"{port_file}:optim", "--kind",
                 "optim/adam"]) == 1
    assert "SKIP: 1 (optim/adam)" in capsys.readouterr().out


@pytest.mark.parametrize("argv,fragments", [
    (["--port", "{file}:nope"], ["has no function 'nope'"]),
    (["--port", "{file}", "--kind", "hvp"], ["defines no function named hvp"]),
    (["--port", "no_such_module_xyz:mlp"], ["--port: cannot import 'no_such_module_xyz'"]),
    (["--port", "{bad}"], ["--port: cannot import", "SyntaxError"]),
    (["--kind", "nope"], ["--kind: must be one of"]),
    (["--fixtures", "{file}"], ["--fixtures:", "is not a directory"]),
])
def test_every_verify_error_is_one_line(argv, fragments, port_file, tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("x = (\n")
    argv = [a.format(file=port_file, bad=bad) for a in argv]
    assert main(["golden", "verify", *argv]) == 2
    _one_error_line(capsys, *fragments)


def test_a_tampered_fixture_directory_is_one_line_naming_the_file(tmp_path, capsys):
    assert main(["golden", "write", str(tmp_path)]) == 0
    capsys.readouterr()
    (tmp_path / "mlp.npz").write_bytes(b"truncated")
    assert main(["golden", "verify", "--fixtures", str(tmp_path)]) == 2
    _one_error_line(capsys, "mlp.npz does not match its sha256")


def test_check_passes_a_right_port_and_prints_a_replayable_failure(port_file, tmp_path,
                                                                   capsys):
    pytest.importorskip("hypothesis")
    assert main(["golden", "check", "--port", f"{port_file}:mlp", "--examples", "5"]) == 0
    assert "mlp: PASS (5 passed" in capsys.readouterr().out
    out_dir = tmp_path / "failures"
    assert main(["golden", "check", "--port", f"{port_file}:zero_grads", "--kind", "mlp",
                 "--examples", "5", "--out", str(out_dir)]) == 1
    out = capsys.readouterr().out
    replay = f"rso-ref golden verify --port {port_file}:zero_grads --kind mlp --fixtures"
    assert replay in out and (out_dir / "mlp-seed0" / "MANIFEST.json").is_file()
    assert main(["golden", "verify", "--port", f"{port_file}:zero_grads", "--kind", "mlp",
                 "--fixtures", str(out_dir / "mlp-seed0")]) == 1


@pytest.mark.parametrize("argv,fragments", [
    (["--port", "{file}"], ["check takes one function"]),
    (["--port", "{file}:mlp", "--kind", "mlp/relu_ce"], ["--kind: must be one of"]),
    (["--port", "{file}:mlp", "--examples", "0"], ["--examples", ">= 1"]),
])
def test_every_check_error_is_one_line(argv, fragments, port_file, capsys):
    argv = [a.format(file=port_file) for a in argv]
    assert main(["golden", "check", *argv]) == 2
    _one_error_line(capsys, *fragments)


def test_a_port_that_exits_fails_its_cases_and_one_that_exits_on_import_is_one_line(
        tmp_path, capsys):
    exiting = tmp_path / "exiting.py"
    exiting.write_text("import sys\n\ndef mlp(params, X, y, *, activation, loss):\n"
                       "    sys.exit(0)\n")
    assert main(["golden", "verify", "--port", f"{exiting}:mlp"]) == 1
    out = capsys.readouterr().out
    assert "SystemExit: the port called sys.exit(0)" in out and "FAIL: 1 (mlp)" in out
    on_import = tmp_path / "on_import.py"
    on_import.write_text("import sys\nsys.exit(0)\n")
    assert main(["golden", "verify", "--port", f"{on_import}:mlp"]) == 2
    _one_error_line(capsys, "--port: cannot import", "sys.exit(0)")


def test_check_strict_fails_a_port_that_skips(port_file, tmp_path, capsys):
    pytest.importorskip("hypothesis")
    argv = ["golden", "check", "--port", f"{port_file}:optim", "--examples", "2",
            "--out", str(tmp_path)]
    assert main(argv) == 0  # the sgd cases pass, the rest is skipped
    capsys.readouterr()
    assert main(argv + ["--strict"]) == 1
    assert "strict" in capsys.readouterr().out
