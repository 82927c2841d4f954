"""Every notebook in examples/ runs from top to bottom without an error.

Each ``examples/NN_*.py`` is a jupytext percent-format notebook. The test converts it to
an nbformat notebook and executes it cell by cell with a real Jupyter kernel
(``nbclient``) in a temporary working directory, so a notebook that raises, or whose
``assert`` cells fail, fails its test. The packages are the project's ``notebooks``
extra (``pip install -e ".[notebooks]"``); without them the tests are skipped with the
reason.
"""
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))
#: Notebooks that compare two implementations' paths (a torch port with the reference).
PORTABLE = ("07_verifying_a_port",)
CELL_TIMEOUT = 120  # seconds per cell; each notebook is written to run in under a minute

_MISSING = [name for name in ("jupytext", "nbclient", "ipykernel")
            if importlib.util.find_spec(name) is None]


def test_examples_are_found():
    # Guards the glob: an empty parametrization would silently test nothing.
    assert len(NOTEBOOKS) >= 7, [p.name for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.skipif(bool(_MISSING), reason=f"notebook runner not installed ({', '.join(_MISSING)});"
                    " pip install -e '.[notebooks]'")
@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.stem, marks=[pytest.mark.portable] if p.stem in PORTABLE else [])
    for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    # 07 and 08 train torch models (the torch extra); the docs build renders them
    # without outputs where torch is missing (docs/conf.py NOTEBOOK_NEEDS).
    if re.search(r"^import torch\b", path.read_text(encoding="utf-8"), flags=re.M) \
            and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed; pip install -e '.[torch]' (CPU wheel: see README)")
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    # The kernel runs this interpreter, whatever kernelspecs the machine has; the
    # notebook must find rso_ref from its temporary directory, installed or not.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Small matrices: one BLAS/OpenMP thread is faster, and on a busy 2-core machine
    # busy-waiting thread pools made these notebooks up to 15x slower (measured).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.kernel_manager_class = _this_python_kernel_manager()
    client.execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors, errors


def _this_python_kernel_manager():
    """A kernel manager whose ``python3`` kernel is ``sys.executable -m ipykernel``."""
    from jupyter_client.manager import KernelManager

    class ThisPythonKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]

    return ThisPythonKernelManager
