"""Sphinx configuration of the rso_ref documentation site.

Build (warnings are errors, as in CI's ``tests/test_docs.py``)::

    pip install -e ".[docs,notebooks]"
    python -m sphinx -W -b html docs docs/_build/html

then open ``docs/_build/html/index.html``. Nothing is generated into the source tree:
the API pages are hand-listed ``automodule`` pages, ``notebooks`` and ``theory`` are
symbolic links to ``examples/`` and ``theory/`` (read in place, never copied), and the
executed notebooks are cached by jupyter-cache beside the output folder
(``docs/_build/.jupyter_cache``), so a second build re-runs only notebooks whose code
changed. ``-D nb_execution_mode=off`` renders the notebooks without running them.
Notebooks 07 and 08 run only where torch is installed (``NOTEBOOK_NEEDS``).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))     # rso_ref from this checkout, installed or not

# Notebook kernels inherit this process's environment. Small matrices: one BLAS/OpenMP
# thread is faster, and on a busy 2-core machine busy-waiting pools made the notebooks
# up to 15x slower (measured in tests/test_examples.py).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(DOCS.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)

import rso_ref  # noqa: E402  (after sys.path is set)

project = "rso_ref"
author = "rso_ref developers"
copyright = "rso_ref developers, MIT licence"
release = version = rso_ref.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
]

exclude_patterns = [
    "_build", "conf.py", "README.md", "**/__pycache__", "**.ipynb_checkpoints",
    "notebooks/ports",      # port modules imported by notebook 07, not notebooks
    "notebooks/cluster",    # the torchrun script of docs/cluster.md, not a notebook
]

# -- notebooks: the jupytext percent-format examples, executed with a cache ----------
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "cache"
#: Notebooks that cannot run without an optional library (the ``torch`` extra). The
#: documented install, ``pip install -e ".[docs,notebooks]"``, does not bring it (a
#: default torch wheel is a multi-GB CUDA build): without it these pages are rendered
#: without outputs and the build prints one line saying so (a line, not a warning, so
#: that ``-W`` builds pass). Notebook 06 skips a missing backend itself, visibly.
NOTEBOOK_NEEDS = {
    "07_verifying_a_port.py": "torch",
    "08_rso_in_torch_and_jax.py": "torch",
}
nb_execution_excludepatterns = [
    name for name, module in NOTEBOOK_NEEDS.items() if importlib.util.find_spec(module) is None]
if nb_execution_excludepatterns:
    print(f"rso_ref docs: not executing {', '.join(nb_execution_excludepatterns)}: torch is "
          "not installed (pip install torch --index-url https://download.pytorch.org/whl/cpu; "
          "pip install -e \".[torch]\"); those pages show code without outputs")
nb_execution_in_temp = True        # notebooks that save files write into a temporary folder
nb_execution_timeout = 300         # seconds per cell; each notebook runs in under a minute
nb_execution_raise_on_error = True  # a failing notebook fails the build
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- API reference: autodoc + numpydoc ----------------------------------------------
autosummary_generate = False       # hand-listed pages; nothing is written into docs/
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"         # the numpydoc Parameters section carries the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML -----------------------------------------------------------------------------
html_theme = "furo"
html_title = f"rso_ref {release}"
html_static_path: list[str] = []
suppress_warnings = [
    # The notebooks size their headings as notebooks (a title, then ### sections in
    # places); the jump is cosmetic and the pages render as in Jupyter.
    "myst.header",
]


def _unresolve_linked_targets(app, doctree) -> None:
    """Map links between pages of a linked folder back to their docnames.

    ``notebooks`` and ``theory`` are symbolic links (the pages are read in place, never
    copied). Sphinx resolves a relative link's path through the link, so a link from
    ``theory/README.md`` to ``theorem1-rate.md`` arrives as the real path
    ``<repo>/theory/theorem1-rate``; this puts the linked folder's name back in front.
    """
    from sphinx.addnodes import pending_xref

    srcdir = Path(app.srcdir)
    linked = {str((srcdir / name).resolve()): name for name in ("notebooks", "theory")}
    for node in doctree.findall(pending_xref):
        target = node.get("reftarget", "")
        if node.get("refdomain") != "doc" or not target.startswith("/"):
            continue
        for real, name in linked.items():
            if target.startswith(real + "/"):
                node["reftarget"] = name + target[len(real):]


def setup(app):
    app.connect("doctree-read", _unresolve_linked_targets)
