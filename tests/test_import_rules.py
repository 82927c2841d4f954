"""The import rules of DESIGN.md, read from the source (``ast``) and checked by importing.

1. Array libraries: every module of ``rso_ref`` is classified below. The device path (``nn``,
   ``optim``, ``tree``, ``pytree``, ``linesearch``, ``lbfgs`` with ``objective`` and
   ``numdiff``, ``lanczos``, ``hessian``, ``rso``, and ``validation`` which they use) imports
   no array library, NumPy included, at any level (module top, inside a function,
   ``importlib.import_module("...")``); ``rso_ref/backend/`` is the one door to them; each
   host-side module may import the libraries listed for it and no other. A new module fails the test
   until it is classified here.
2. Importing the device path loads no host-side module of rso_ref and no library beyond
   the three that ``rso_ref.backend`` needs (NumPy, array-api-compat, array-api-extra,
   which the device path reaches only through ``backend.at``/``backend.one_hot``): autograd, SciPy,
   torch and friends load only when a host-side feature is used.
3. Import direction: nothing below the experiment harness (``cli``, ``presets``,
   ``compare``) imports it; ``compare`` does not import ``presets``, and only ``cli``
   imports ``cli``. ``presets`` imports nothing from ``claims``: the constants and
   readings both need live below both (``stats``, ``readings``).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import rso_ref

PACKAGE = Path(rso_ref.__file__).resolve().parent

#: The array libraries (and SciPy / autograd, which bring NumPy arrays with them).
ARRAY_LIBRARIES = frozenset({"numpy", "cupy", "cupyx", "torch", "jax", "jaxlib",
                             "array_api_strict", "array_api_compat", "array_api_extra",
                             "autograd", "scipy"})

#: Modules (files, or packages ending in "/") on the device path: no array library.
DEVICE_PATH = ("nn/", "optim/", "tree.py", "pytree.py", "linesearch.py", "lbfgs.py",
               "objective.py", "numdiff.py", "lanczos.py", "hessian.py", "rso.py",
               "validation.py")
#: The one door to array libraries.
BACKEND = "backend/"
#: Host-side modules and the array libraries each may import.
HOST = {
    "__init__.py": set(),
    "autodiff.py": {"autograd", "numpy", "scipy", "torch", "jax"},  # exact HVPs: torch.func, jax.jvp (lazy)
    "benchmarks/": {"numpy", "scipy", "torch", "cupy", "cupyx", "jax"},  # timings against
                                                  # SciPy, torch, optax (JAX oracles);
                                                  # gpu_check times CuPy GEMMs
    "checkpoint.py": {"numpy"},
    "claims/": {"numpy"},
    "cli.py": {"numpy"},
    "compare.py": {"numpy"},
    "data/": {"numpy", "scipy"},
    "experiment.py": {"numpy"},
    "extras.py": set(),                           # optional dependencies: require()
    "golden/": {"numpy"},
    "lr_search.py": set(),                        # the learning-rate search: plain Python
    "interop/": {"torch"},                        # rso_ref.interop.torch (torch extra)
    "metrics.py": {"numpy"},
    "plots.py": {"numpy"},
    "presets/": {"numpy"},
    "readings.py": set(),                         # readings of committed reports: plain Python
    "stats.py": {"numpy", "scipy"},
    "testing/": {"numpy"},
    "train.py": {"numpy"},
}
#: The experiment harness, above everything else.
HARNESS = ("rso_ref.cli", "rso_ref.presets", "rso_ref.compare")


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _classify(relative: str) -> str | None:
    """The key of DEVICE_PATH / BACKEND / HOST that covers ``relative``, or None."""
    for key in (*DEVICE_PATH, BACKEND, *HOST):
        if relative == key or (key.endswith("/") and relative.startswith(key)):
            return key
    return None


def _module_name(path: Path) -> str:
    parts = ("rso_ref",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module that ``source`` (of module ``module``) imports, fully qualified,
    wherever the import statement is.

    ``from . import x`` counts as importing the package and, where ``x`` is a module of
    rso_ref, ``package.x``; literal ``importlib.import_module("x")`` and
    ``__import__("x")`` calls count too.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if _is_module(f"{target}.{alias.name}"))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")):
            found.add(node.args[0].value)
    return found


def _is_module(name: str) -> bool:
    """True for a module or package of rso_ref (other names imported from one are not)."""
    if not name.startswith("rso_ref."):
        return False
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _file_imports(path: Path) -> set[str]:
    return _imports(path.read_text(), _module_name(path), path.name == "__init__.py")


def _libraries(imports: set[str]) -> set[str]:
    return {name.split(".")[0] for name in imports} & ARRAY_LIBRARIES


def _within(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def test_every_module_is_classified():
    unclassified = [_relative(p) for p in _sources() if _classify(_relative(p)) is None]
    assert not unclassified, (
        f"classify {unclassified} in tests/test_import_rules.py: on the device path "
        "(no array library) or host-side (which libraries it may import)")


def test_the_import_scanner_sees_every_form():
    """The scanner itself (a scanner that found nothing would pass every module)."""
    source = ("import numpy.linalg\n"
              "from . import registry, compare\n"
              "from .. import compare as harness\n"
              "from ..presets.pages import render_page\n"
              "def f():\n    from scipy import sparse\n"
              "def g():\n    import importlib\n    importlib.import_module('torch')\n"
              "h = __import__('cupy')\n")
    found = _imports(source, "rso_ref.claims.probe")
    assert _libraries(found) == {"numpy", "scipy", "torch", "cupy"}
    assert {"rso_ref.claims", "rso_ref.claims.registry", "rso_ref.compare",
            "rso_ref.presets.pages"} <= found
    assert "rso_ref.claims.compare" not in found and "rso_ref.presets.pages.render_page" \
        not in found   # names that are not modules
    assert "rso_ref.cli" in _imports("from . import cli", "rso_ref", is_package=True)


def test_device_path_imports_no_array_library():
    bad = {_relative(p): sorted(_libraries(_file_imports(p))) for p in _sources()
           if _classify(_relative(p)) in DEVICE_PATH and _libraries(_file_imports(p))}
    assert not bad, f"device-path modules import array libraries (use rso_ref.backend): {bad}"


def test_host_modules_import_only_their_listed_libraries():
    bad = {}
    for path in _sources():
        key = _classify(_relative(path))
        extra = _libraries(_file_imports(path)) - HOST.get(key, ARRAY_LIBRARIES)
        if extra:
            bad[_relative(path)] = sorted(extra)
    assert not bad, f"array libraries beyond those allowed in HOST: {bad}"


def _loaded_after(statement: str) -> dict:
    code = ("import json, sys\n" + statement + "\n"
            "print(json.dumps({'libraries': sorted({m.split('.')[0] for m in sys.modules}),"
            " 'rso_ref': sorted(m for m in sys.modules if m.startswith('rso_ref'))}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.splitlines()[-1])


_DEVICE_MODULES = tuple("rso_ref." + key.rstrip("/").removesuffix(".py") for key in DEVICE_PATH)


@pytest.mark.parametrize("statement", [
    "import rso_ref.optim",
    "import " + ", ".join(_DEVICE_MODULES),
], ids=["optim", "whole-device-path"])
def test_importing_the_device_path_loads_no_host_side_library(statement):
    loaded = _loaded_after(statement)
    extra = sorted(set(loaded["libraries"]) & ARRAY_LIBRARIES
                   - {"numpy", "array_api_compat", "array_api_extra"})
    assert not extra, f"{statement!r} loads {extra}"
    host = [m for m in loaded["rso_ref"]
            if m != "rso_ref" and _classify_module(m) not in (*DEVICE_PATH, BACKEND)]
    assert not host, f"{statement!r} loads host-side modules {host}"


def _classify_module(name: str) -> str | None:
    parts = name.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    relative = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    return _classify(_relative(relative))


def test_nothing_below_the_harness_imports_it():
    bad = {}
    for path in _sources():
        if not _within(_module_name(path), HARNESS):
            hits = sorted(m for m in _file_imports(path) if _within(m, HARNESS))
            if hits:
                bad[_relative(path)] = hits
    assert not bad, f"modules below cli/presets/compare import them: {bad}"


def test_the_harness_imports_downwards_only():
    harness = [p for p in _sources() if _within(_module_name(p), HARNESS)]
    upward = {"rso_ref.compare": ("rso_ref.presets", "rso_ref.cli"),
              "rso_ref.presets": ("rso_ref.cli",)}
    bad = {}
    for path in harness:
        for module, above in upward.items():
            if _within(_module_name(path), (module,)):
                hits = sorted(m for m in _file_imports(path) if _within(m, above))
                if hits:
                    bad[_relative(path)] = hits
    assert not bad, f"the harness imports upwards (cli -> presets -> compare): {bad}"


def test_presets_import_nothing_from_claims():
    """DESIGN.md: the harness never imports claims; what both need lives below both."""
    bad = {_relative(p): hits for p in _sources()
           if _within(_module_name(p), ("rso_ref.presets",))
           and (hits := sorted(m for m in _file_imports(p) if _within(m, ("rso_ref.claims",))))}
    assert not bad, f"presets import claims (move the shared names below both): {bad}"


def test_golden_imports_nothing_from_the_testing_kit():
    """The fixtures are generated from the library, never from the kit that checks ports
    against them (the kit imports golden); shared problem builders live in data."""
    bad = {_relative(p): hits for p in _sources()
           if _within(_module_name(p), ("rso_ref.golden",))
           and (hits := sorted(m for m in _file_imports(p) if _within(m, ("rso_ref.testing",))))}
    assert not bad, f"golden imports the testing kit: {bad}"
