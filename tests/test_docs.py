"""The documentation site builds with warnings as errors, and shows what it should.

One Sphinx build of ``docs/`` into a temporary folder (``python -m sphinx -W -b html``),
then checks of the pages a reader relies on: the API page of :func:`rso_ref.rso.rso_step`
shows its equation, every command of ``rso-ref`` has a page listing each of its options
(read from :func:`rso_ref.cli.build_parser`, so a new command or option without a page
fails here), the theory pages link to each other, and every notebook has a page.

The notebooks are rendered without being run (``-D nb_execution_mode=off``):
``tests/test_examples.py`` already runs each of them, and running them again here would
add about 1.5 minutes to CI. The full site, with the notebooks' outputs and figures, is
``python -m sphinx -W -b html docs docs/_build/html``. The build writes nothing into the
repository (checked). Without the ``docs`` extra the test is skipped with the reason.
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rso_ref.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "examples").glob("[0-9][0-9]_*.py"))

_MISSING = [name for name in ("sphinx", "numpydoc", "myst_nb", "sphinxarg", "furo", "jupytext")
            if importlib.util.find_spec(name) is None]


def _tree(*folders: Path) -> dict[str, int]:
    """``{path: mtime_ns}`` of every file under ``folders`` (bytecode caches aside)."""
    return {str(p): p.lstat().st_mtime_ns for folder in folders for p in folder.rglob("*")
            if "__pycache__" not in p.parts and not p.is_dir()}


def _text(path: Path) -> str:
    """The text of an HTML page, tags removed (code blocks split words into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of ``parser`` and of its subcommands (``--help`` aside)."""
    found = {s for a in parser._actions for s in a.option_strings
             if s.startswith("--") and s != "--help"}
    for sub in _subcommands(parser).values():
        found |= _option_strings(sub)
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    before = _tree(DOCS, ROOT / "examples", ROOT / "theory", ROOT / "rso_ref")
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "nb_execution_mode=off", str(DOCS), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    assert _tree(DOCS, ROOT / "examples", ROOT / "theory", ROOT / "rso_ref") == before, \
        "the docs build wrote into the repository"
    return out


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(_MISSING), reason=f"docs tools not installed ({', '.join(_MISSING)});"
                       " pip install -e '.[docs,notebooks]'"),
]


def test_front_page_and_guides(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in ("getting-started", "backends", "torch", "checking-a-port", "golden-schema",
                 "examples", "claims", "api/index", "commands/index"):
        assert f'href="{page}.html"' in index, page
        assert (site / f"{page}.html").is_file(), page
    port = _text(site / "checking-a-port.html")
    assert "rso-ref golden verify --port examples/ports/torch_port.py" in port
    assert "check_port(" in port


def test_rso_step_page_shows_its_equation(site):
    page = (site / "api" / "rso.html").read_text(encoding="utf-8")
    assert 'id="rso_ref.rso.rso_step"' in page
    # the meta-objective of the Notes, as MathJax source in a math block
    assert r"f(w) = L(\theta - \eta G w)" in page
    assert 'class="math notranslate nohighlight"' in page


def test_every_command_has_a_page_with_its_options(site):
    commands = _subcommands(build_parser())
    assert {"demo", "compare", "theory", "golden", "bench"} <= set(commands)
    for name, parser in commands.items():
        path = site / "commands" / f"{name}.html"
        assert path.is_file(), f"no page for 'rso-ref {name}' (add docs/commands/{name}.md)"
        page = _text(path)
        missing = [opt for opt in sorted(_option_strings(parser)) if opt not in page]
        assert not missing, (name, missing)


def test_theory_pages_link_to_each_other(site):
    readme = (site / "theory" / "README.html").read_text(encoding="utf-8")
    assert 'href="theorem1-rate.html"' in readme
    assert (site / "theory" / "theorem1-rate.html").is_file()
    assert (site / "theory" / "tables" / "README.html").is_file()


def test_every_notebook_has_a_page(site):
    assert len(NOTEBOOKS) >= 7
    for notebook in NOTEBOOKS:
        page = site / "notebooks" / f"{notebook.stem}.html"
        assert page.is_file(), notebook.name


def test_torch_page_and_the_golden_schema_are_linked_and_rendered(site):
    getting_started = (site / "getting-started.html").read_text(encoding="utf-8")
    assert 'href="torch.html"' in getting_started
    torch_page = _text(site / "torch.html")
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in torch_page
    assert "state_dict" in torch_page and "opt.step(closure)" in torch_page
    schema = (ROOT / "rso_ref" / "golden_fixtures" / "SCHEMA.md").read_text(encoding="utf-8")
    title = schema.splitlines()[0].lstrip("# ").strip()
    assert title in _text(site / "golden-schema.html")
    assert "meta_message" in _text(site / "getting-started.html")


# -- the code blocks of the guides run and print what the page shows ----------------

#: Guides whose ```python blocks are run, each alone in a fresh interpreter in an empty
#: directory; the ```text block right after one is what it must print.
RUN_PAGES = ("torch.md",)
_BLOCK = re.compile(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```\n)?", re.S)
#: Optional libraries: a block importing one is skipped, visibly, where it is missing.
_OPTIONAL = ("torch", "jax")


def _page_blocks() -> list:
    params = []
    for page in RUN_PAGES:
        for k, match in enumerate(_BLOCK.finditer((DOCS / page).read_text(encoding="utf-8"))):
            params.append(pytest.param(match.group(1), match.group(2), id=f"{page}-{k}"))
    return params


def test_every_run_page_has_blocks_and_each_shows_its_output():
    blocks = _page_blocks()
    assert len(blocks) >= 3
    assert all(p.values[1] is not None for p in blocks), [p.id for p in blocks]


@pytest.mark.parametrize("code, printed", _page_blocks())
def test_page_block_runs_alone_and_prints_what_the_page_shows(code, printed, tmp_path):
    for name in _OPTIONAL:
        if re.search(rf"^(import|from) {name}\b", code, flags=re.M) \
                and importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout == printed, f"printed:\n{proc.stdout}\nthe page shows:\n{printed}"


def test_notebooks_that_import_torch_are_listed_for_torch_less_builds():
    # docs/conf.py renders them without outputs where torch is missing (so that the
    # documented `pip install -e ".[docs,notebooks]"` builds); a new one must be listed.
    import ast

    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    needs = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") ==
                 "NOTEBOOK_NEEDS")
    importing = {p.name for p in NOTEBOOKS
                 if re.search(r"^import torch\b", p.read_text(encoding="utf-8"), flags=re.M)}
    assert importing == {name for name, module in needs.items() if module == "torch"}
