"""The README stays true: its two set-up commands, its install extras and what it says of
CI's OpenBLAS kernel passes (each snippet is run on its own by
tests/test_readme_snippets.py)."""
import re

import pytest
from pathlib import Path


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


def test_ci_then_runs_the_portable_tests_under_each_kernel_the_readme_names():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    tests = _indented_commands(README)[1]
    portable = [i for i, line in enumerate(ci)
                if "python3 -m pytest -m portable -p no:cacheprovider -q" in line]
    assert len(portable) == 1 and portable[0] > ci.index(tests), "after the full run, once"
    assert ci[portable[0]].lstrip().startswith("OPENBLAS_CORETYPE=")
    assert 'kernels="Prescott Haswell SkylakeX"' in ci
    paragraph = next(p for p in README.split("\n\n") if "-m portable" in p)
    assert all(kernel in paragraph for kernel in ("Prescott", "Haswell", "SkylakeX")), paragraph
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert "\n    portable: " in setup, "the portable marker is registered"


def _project() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _extras_installed_by(command: str) -> set[str]:
    match = re.search(r'-e "\.\[([a-z,]+)\]"', command)
    assert match, f"no -e \".[extras]\" in {command!r}"
    return set(match.group(1).split(","))


def test_the_demo_command_installs_the_cli_extra():
    demo = _indented_commands(README)[0]
    assert _extras_installed_by(demo) == {"cli"}
    assert "rso_ref[cli]" not in str(_project()["dependencies"])


def test_the_test_command_installs_every_extra_ci_tests_and_pins_torch_by_constraint():
    # torch and JAX are optional backends (CPU wheels) that CI tests; the notebooks and
    # docs build too. The exact torch pin is CI's (a local CPU wheel), never the extra's.
    tests = _indented_commands(README)[1]
    optional = _project()["optional-dependencies"]
    installed = _extras_installed_by(tests)
    assert installed >= {"test", "torch", "jax", "notebooks", "docs"}
    assert installed <= set(optional), sorted(installed - set(optional))
    assert "-c .ci/constraints.txt" in tests
    pins = [line.strip() for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert "torch==2.13.0" in pins
    assert all("==" not in requirement for requirement in optional["torch"]), optional["torch"]


def test_the_core_install_is_the_numerical_stack_only():
    project = _project()
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in project["dependencies"]}
    assert names == {"numpy", "scipy", "autograd", "array-api-compat", "array-api-extra"}
    optional = project["optional-dependencies"]
    cli = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in optional["cli"]}
    assert cli >= {"matplotlib", "tqdm", "scikit-learn", "threadpoolctl"}
    assert "rso_ref[cli,testing]" in optional["test"]


@pytest.mark.portable
def test_results_at_a_glance_is_what_the_committed_reports_render():
    """The README's verdicts and numbers are generated from theory/: no hand-copied figure."""
    from rso_ref.presets.glance import GLANCE_BEGIN, GLANCE_END, results_at_a_glance

    begin, end = README.index(GLANCE_BEGIN), README.index(GLANCE_END) + len(GLANCE_END)
    assert README[begin:end] == results_at_a_glance(ROOT / "theory"), (
        "re-render with: python3 -c \"from rso_ref.presets.glance import write_glance; "
        "write_glance('README.md', 'theory')\"")


@pytest.mark.portable
def test_glance_lists_every_claim_under_its_verdict(tmp_path):
    import json

    from rso_ref.presets.glance import results_at_a_glance, write_glance

    claims = json.loads((ROOT / "theory" / "report.json").read_text(encoding="utf-8"))["claims"]
    block = results_at_a_glance(ROOT / "theory")
    for cid, claim in claims.items():
        line = next(x for x in block.splitlines() if f"(theory/{cid}.md)" in x)
        word = claim["verdict"].replace("-", " ")
        assert line.startswith(f"  - **{word}** ("), (cid, line[:60])
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="readme"):
        write_glance(readme, ROOT / "theory")
