"""The core works without the ``cli`` extra; a feature that needs it says so in one line.

The 8x8 digits ship with the package (``rso_ref/data/digits.npz``), so
:func:`rso_ref.data.load_digits` is part of the core and needs no scikit-learn.

A fresh interpreter hides matplotlib, tqdm, scikit-learn and threadpoolctl (a meta-path
finder that answers ``ModuleNotFoundError`` for them, as a core-only install would), then
runs the core API and the features that need the extra. Everything it saw comes back as
JSON; each test below checks one part of it.
"""
from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import rso_ref
from rso_ref.cli import main
from rso_ref.extras import require, threadpool_info, threadpool_limits

#: The top-level packages of the ``cli`` extra (pyproject.toml).
CLI_EXTRA = ("matplotlib", "tqdm", "sklearn", "threadpoolctl")

_CHILD = textwrap.dedent('''
    import importlib.abc, json, sys

    HIDDEN = set(sys.argv[1].split(","))

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    out = {}

    import numpy as np
    import rso_ref
    from rso_ref import golden, minimize, rso_step
    from rso_ref.nn import MLP
    from rso_ref.optim import RSO, Adam
    from rso_ref.train import train

    out["after_import"] = sorted(m for m in sys.modules if m.startswith("rso_ref."))

    A, b = np.diag([1.0, 10.0]), np.array([1.0, 1.0])
    res = minimize(lambda x: (float(0.5 * x @ A @ x - b @ x), A @ x - b), np.zeros(2))
    out["minimize"] = [bool(res.success), res["x"].tolist()]

    model = MLP([4, 3, 2])
    params = model.init(seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4)), rng.integers(0, 2, 16)
    loss, grads = model.value_and_grad(params, X, y)
    out["value_and_grad"] = [float(loss), len(grads) == len(params)]

    step = rso_step(lambda p: model.value_and_grad(p, X, y), params, lr=0.1, meta_iters=3)
    out["rso_step"] = [step.loss_before, step.loss_after]

    adam = Adam(lr=1e-2)
    moved, _ = adam.step(params, grads, adam.init(params))
    out["adam_moved"] = bool(any(np.any(p != q) for p, q in zip(moved, params)))

    trained = train(model, RSO(lr=0.1, meta_iters=2), X, y, epochs=1, batch_size=8,
                    progress=False)
    out["train"] = trained.status

    out["golden_mlp"] = golden.verify(golden.reference_ports()["mlp"], "mlp").ok

    def message(call):
        try:
            call()
        except ImportError as exc:
            return str(exc)
        return None

    from rso_ref import plots
    from rso_ref.data import load_digits
    digits = load_digits()
    out["digits"] = [digits.n_train, digits.n_test, float(digits.X_train.max())]
    out["needs_extra"] = {
        "plots": message(plots.pyplot),
        "progress": message(lambda: train(model, Adam(), X, y, epochs=1, batch_size=8)),
        # importing a claim needs no extra; limiting its thread pools does (extras.py)
        "claims": message(lambda: __import__("rso_ref.claims.scale", fromlist=["scale"])
                          .matmul_flops_per_second(n=2, repeats=1)),
    }
    out["hidden_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in HIDDEN)
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def core_only() -> dict:
    run = subprocess.run([sys.executable, "-c", _CHILD, ",".join(CLI_EXTRA)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_importing_rso_ref_loads_no_cli_level_feature(core_only):
    cli_level = ("rso_ref.claims", "rso_ref.benchmarks", "rso_ref.cli", "rso_ref.plots",
                 "rso_ref.presets", "rso_ref.compare")
    loaded = [m for m in core_only["after_import"] if m.startswith(cli_level)]
    assert not loaded, loaded


@pytest.mark.portable
def test_the_core_api_runs_without_the_cli_extra(core_only):
    success, x = core_only["minimize"]
    # The minimiser of 0.5 x'Ax - b'x is A^-1 b = (1, 0.1); gtol 1e-5 over A's scale.
    assert success and x == pytest.approx([1.0, 0.1], abs=1e-5)
    loss, same_length = core_only["value_and_grad"]
    assert loss > 0 and same_length
    before, after = core_only["rso_step"]
    assert after < before
    assert core_only["adam_moved"]
    assert core_only["train"] == "completed"
    assert core_only["golden_mlp"] is True
    assert core_only["digits"] == [1438, 359, 1.0]  # shipped with the package
    assert core_only["hidden_loaded"] == []


@pytest.mark.parametrize("feature, expected", [
    ("plots", "plotting needs matplotlib: pip install 'rso_ref[cli]'"),
    ("progress", "train's progress bar (progress=True) needs tqdm: pip install 'rso_ref[cli]'"),
    ("claims", "controlling the BLAS and OpenMP thread pools needs threadpoolctl: "
               "pip install 'rso_ref[cli]'"),
])
def test_a_feature_of_the_cli_extra_names_it_in_one_line(core_only, feature, expected):
    assert core_only["needs_extra"][feature] == expected


def test_require_returns_the_module_or_names_the_extra():
    assert require("json.decoder", "cli", "reading").__name__ == "json.decoder"
    with pytest.raises(ImportError, match=r"^plotting needs no_such_pkg_3f9: "
                                          r"pip install 'rso_ref\[cli\]'$") as info:
        require("no_such_pkg_3f9.sub", "cli", "plotting")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize("args, error, match", [
    ((1, "cli", "x"), TypeError, "^module_name must be a string"),
    (("json", None, "x"), TypeError, "^extra must be a string"),
    (("json", "cli", ""), ValueError, "^feature must not be empty"),
])
def test_require_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        require(*args)


def test_require_leaves_a_broken_installation_unrenamed(tmp_path, monkeypatch):
    # The package is there but one of its own dependencies is not: the extra would not
    # help, so the original error reaches the user.
    (tmp_path / "half_installed_pkg_3f9").mkdir()
    (tmp_path / "half_installed_pkg_3f9" / "__init__.py").write_text("import absent_dep_3f9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="absent_dep_3f9") as info:
        require("half_installed_pkg_3f9", "cli", "plotting")
    assert "rso_ref[cli]" not in str(info.value)


def test_threadpool_limits_holds_inside_its_block_and_restores_after():
    import numpy as np  # noqa: F401 - loads the BLAS to limit

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before, "NumPy's BLAS is not seen by threadpoolctl"
    with threadpool_limits(1, user_api="blas"):
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def test_version_flag_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    installed = importlib.metadata.version("rso_ref")
    assert capsys.readouterr().out == f"rso-ref {installed}\n"
    assert rso_ref.__version__ == installed  # the fallback tells the same version


def test_the_type_marker_and_the_digits_data_ship_with_the_package():
    root = Path(rso_ref.__file__).parent
    project = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = project["tool"]["setuptools"]["package-data"]["rso_ref"]
    for name in ("py.typed", "data/digits.npz", "data/digits.txt"):
        assert (root / name).is_file() and name in package_data, name
