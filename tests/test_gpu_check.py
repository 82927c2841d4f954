"""rso-ref bench gpu: one line and exit 0 without a GPU; FLOPs counted per GEMM; the JSON."""
import json

import pytest

from rso_ref import backend, benchmarks
from rso_ref.benchmarks import gpu_check, median_time
from rso_ref.cli import main as cli_main


def test_it_is_registered_as_bench_gpu():
    assert benchmarks.BENCHMARKS["gpu"] == "gpu_check"


def test_without_a_gpu_one_line_and_exit_0(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "gpu_missing", lambda: "stand-in: no CUDA device")
    out = tmp_path / "gpu.json"
    assert cli_main(["bench", "gpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ["gpu check skipped: no usable CUDA GPU (stand-in: no CUDA device)"]
    assert not out.exists()


def test_gpu_missing_says_why_on_this_machine():
    try:
        backend.namespace("cupy")
    except RuntimeError as exc:
        assert gpu_check.gpu_missing() == str(exc).splitlines()[0]
    else:
        assert gpu_check.gpu_missing() is None


def test_flops_count_every_gemm_of_forward_and_backward():
    n, sizes = 4096, (784, 512, 512, 10)
    gemms = []  # (m, k, n) of every matrix product, written out one by one
    for a, b in zip(sizes[:-1], sizes[1:]):
        gemms.append((n, a, b))              # forward  H W
    for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        gemms.append((a, n, b))              # backward dW = H^T dZ
        if layer > 0:
            gemms.append((n, b, a))          # backward dH = dZ W^T (none for the first layer)
    counted = gpu_check.mlp_gemm_flops(sizes, n)
    assert counted["total"] == sum(2 * m * k * q for m, k, q in gemms)
    assert counted["forward"] == sum(2 * m * k * q for m, k, q in gemms[:3])


def _wall_timer(fn, repeats, warmup):
    seconds = median_time(fn, repeats, warmup=warmup)
    return {"gpu_s": seconds, "cpu_s": seconds}


@pytest.fixture
def numpy_stand_in(monkeypatch):
    """The check run on NumPy with small sizes: the JSON it assembles, not a GPU timing."""
    real = backend.namespace
    monkeypatch.setattr(gpu_check, "gpu_missing", lambda: None)
    monkeypatch.setattr(gpu_check.backend, "namespace", lambda name: real("numpy"))
    monkeypatch.setattr(gpu_check, "_device_info", lambda: {"name": "numpy stand-in"})
    monkeypatch.setattr(gpu_check, "_median_gpu_s", _wall_timer)
    monkeypatch.setattr(gpu_check, "BATCH", 32)
    monkeypatch.setattr(gpu_check, "PEAK_N", {"float32": 64, "float64": 64})


def test_the_json_reports_fractions_of_the_measured_peak(numpy_stand_in, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--skip-tests", "--repeats", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["gpu_tests"] == {"ran": False, "reason": "--skip-tests"}
    per_call = gpu_check.mlp_gemm_flops(gpu_check.SIZES, 32)["total"] / 1e9
    for case in result["mlp"]:
        peak = result["peak"][case["dtype"]]["gflops"]
        assert case["gflop_per_call"] == per_call
        assert case["gflops"] == pytest.approx(per_call / case["gpu_s"], rel=1e-12)
        assert case["fraction_of_peak"] == pytest.approx(case["gflops"] / peak, rel=1e-12)
    assert [c["dtype"] for c in result["mlp"]] == ["float32", "float64"]
    assert result["meets_target"] == (result["mlp"][0]["fraction_of_peak"] >= 0.5)
    assert result["rso_step"]["oracle_calls"] >= 2 and result["quick"] is False
    assert "numpy stand-in: MLP float32" in capsys.readouterr().out


def test_failing_gpu_tests_fail_the_command(numpy_stand_in, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "_gpu_tests", lambda: {"ran": True, "passed": False,
                                                          "returncode": 1, "summary": "1 failed"})
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--repeats", "1", "--out", str(out)]) == 1
    assert json.loads(out.read_text())["gpu_tests"]["summary"] == "1 failed"


@pytest.mark.gpu
@pytest.mark.skipif(gpu_check.gpu_missing() is not None, reason="needs CuPy and a CUDA GPU")
def test_the_check_on_a_real_gpu(tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--quick", "--skip-tests", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert all(0 < case["fraction_of_peak"] for case in result["mlp"])
    assert result["rso_step"]["oracle_calls"] >= 2
