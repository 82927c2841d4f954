"""Every ```python snippet of README.md runs on its own and prints what the README shows.

A reader copies one snippet, not the page: each runs in a fresh interpreter (no state
from the snippets above it), in an empty directory. The ```text block right after a
snippet is what the README says it prints; stdout must be exactly that.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")

#: A ```python block and, when a ```text block follows it (one blank line between), its output.
_SNIPPET = re.compile(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```\n)?", re.S)
#: Optional libraries: a snippet importing one is skipped, visibly, where it is missing.
_OPTIONAL = ("torch", "jax")


def _snippets() -> list:
    """``pytest.param(code, printed)`` per snippet, named after the section it is in."""
    params = []
    for match in _SNIPPET.finditer(README):
        headings = re.findall(r"^#+ (.+)$", README[:match.start()], flags=re.M)
        name = re.sub(r"\W+", "-", headings[-1].lower()).strip("-") if headings else "top"
        params.append(pytest.param(match.group(1), match.group(2), id=name))
    return params


SNIPPETS = _snippets()


def test_the_readme_has_snippets_and_each_shows_its_output():
    # The tour says "the block after it is what it prints": every snippet has one.
    assert len(SNIPPETS) >= 6
    missing = [p.id for p in SNIPPETS if p.values[1] is None]
    assert not missing, f"snippets without a ```text output block: {missing}"


@pytest.mark.portable
@pytest.mark.parametrize("code, printed", SNIPPETS)
def test_snippet_runs_alone_and_prints_what_the_readme_shows(code, printed, tmp_path):
    for name in _OPTIONAL:
        if re.search(rf"^(import|from) {name}\b", code, flags=re.M) \
                and importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    # One BLAS/OpenMP thread: on a busy 2-core machine pools that spin make it slower.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == printed, f"printed:\n{proc.stdout}\nthe README shows:\n{printed}"
