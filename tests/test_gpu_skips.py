"""Without a CUDA GPU, the gpu tests skip visibly on one summary line (tests/conftest.py)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

_TESTS = '''
import pytest

@pytest.mark.gpu
@pytest.mark.parametrize("i", range(3))
def test_marked(i):
    pass

@pytest.mark.gpu
@pytest.mark.skipif(True, reason="its own reason")
def test_marked_with_its_own_skip():
    pass

@pytest.mark.parametrize("name", ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def test_a_gpu_parameter(name):
    assert name == "numpy"

def test_another_skip():
    pytest.skip("not about GPUs")
'''


def test_gpu_tests_fold_into_one_counted_summary_line(tmp_path):
    # The copied conftest answers "no GPU" whatever this machine has, so the folding is
    # checked on every machine.
    conftest = CONFTEST.read_text() + '\n\ndef _no_gpu_reason():\n    return "stand-in: no GPU"\n'
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_probe.py").write_text(_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-ra", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 2, skipped
    gpu = [line for line in skipped if "stand-in: no GPU" in line]
    assert len(gpu) == 1 and re.match(r"SKIPPED \[5\] conftest\.py:\d+: stand-in: no GPU$",
                                      gpu[0]), skipped
    assert "1 passed, 6 skipped" in run.stdout.splitlines()[-1]
