"""The README stays true: its two set-up commands and its code snippets."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _indented_commands(text):
    return [line.strip() for line in text.splitlines() if line.startswith("    pip install")
            or line.startswith("    python3 -m pip install")]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = _indented_commands(README)
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.endswith("rso-ref demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), "the README's test command must be the one .ci/run runs"


SNIPPETS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippets_run(index):
    # Snippets build on each other (model, params, X, y), as a reader runs them in order.
    namespace: dict = {}
    for code in SNIPPETS[:index + 1]:
        exec(compile(code, f"README snippet {index}", "exec"), namespace)


def test_jax_is_an_extra_that_the_test_command_installs():
    # JAX is optional (a CPU wheel) but CI tests it: the extra exists, the README's test
    # command (hence .ci/run) installs it, and array-api-extra is a core dependency.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["optional-dependencies"]["jax"] == ["jax[cpu]>=0.4.30"]
    assert any(d.startswith("array-api-extra>=") for d in project["dependencies"])
    extras = re.search(r'-e "\.\[([a-z,]+)\]"', _indented_commands(README)[1]).group(1)
    assert set(extras.split(",")) >= {"test", "torch", "jax", "notebooks"}
