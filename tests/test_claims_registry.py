"""The claims registry and report writer (the claims themselves are tested in tests/theory)."""
import json

import numpy as np
from scipy import stats
import pytest

from rso_ref.claims import Claim, Evidence
from rso_ref.claims.report import render_claim, write_report
from rso_ref.stats import (bootstrap_ci, detectable_effect, holm, mean_std, normal_ppf,
                            normal_sf, proportion_ci,
                            tost_diff, welch_diff)


def _claim(cid="demo-claim"):
    return Claim(id=cid, title="A demo", source="Paper §1", quote="it works",
                 statement="x > 0", protocol="one run",
                 run=lambda quick, out: Evidence("holds", "always", "x = 1", {"x": np.float64(1.0)}))


def test_evidence_rejects_unknown_verdicts():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Evidence("probably", "", "")


def test_report_merges_claims_and_renders_pages(tmp_path):
    one, two = _claim("one"), _claim("two")
    run = {"seconds": 1.0, "load_average": [0.5, 1.25], "cpu_count": 2}
    write_report([(one, one.run(True, tmp_path), run)], tmp_path, quick=True)
    paths = write_report([(two, two.run(False, tmp_path), {"seconds": 2.0})], tmp_path,
                         quick=False)
    payload = json.loads(paths["json"].read_text())
    assert list(payload["claims"]) == ["one", "two"]
    assert payload["claims"]["one"]["numbers"] == {"x": 1.0}
    assert payload["claims"]["two"]["command"] == "rso-ref theory --claim two"
    index = paths["index"].read_text()
    assert "[one](one.md)" in index and "[two](two.md)" in index
    assert payload["claims"]["one"]["load_average"] == [0.5, 1.25]
    page = render_claim(one, one.run(True, tmp_path), quick=True, run=run)
    assert "**holds**" in page and "rso-ref theory --claim one --quick" in page
    assert "load average 0.5 at the start and 1.2 at the end on 2 CPUs" in page


def test_concurrent_report_writers_keep_every_claim(tmp_path):
    """Two processes merging into one report.json at once must not drop a claim."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        pool.map(_write_one, [(str(tmp_path), f"c{i}") for i in range(12)])
    payload = json.loads((tmp_path / "report.json").read_text())
    assert sorted(payload["claims"]) == sorted(f"c{i}" for i in range(12))


def _write_one(args):
    out, cid = args
    claim = _claim(cid)
    write_report([(claim, claim.run(True, out), {"seconds": 0.0})], out, quick=True)


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    gen = np.random.default_rng(0)
    small = gen.standard_normal(50)
    large = gen.standard_normal(5000)
    est, lo, hi = bootstrap_ci(small, n_boot=500)
    assert lo < est < hi
    _, lo2, hi2 = bootstrap_ci(large, n_boot=500)
    assert (hi2 - lo2) < (hi - lo) / 5  # width ~ 1/sqrt(n): 10x more data, ~1/10 the width
    _, blo, bhi = bootstrap_ci(small, n_boot=500, block=5)
    assert blo < est < bhi
    with pytest.raises(ValueError, match="block"):
        bootstrap_ci(small, block=0)


def test_welch_diff_matches_the_textbook_formula():
    gen = np.random.default_rng(0)
    a, b = gen.normal(1.0, 1.0, 6), gen.normal(0.0, 2.0, 5)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    d = welch_diff(a, b)
    # closed forms evaluated in a different order: agreement to rounding, 1e-12
    np.testing.assert_allclose([d["t"], d["p"], d["lo"], d["hi"]],
                               [t, 2 * stats.t.sf(abs(t), df), t * np.sqrt(va + vb) - half,
                                t * np.sqrt(va + vb) + half], rtol=1e-12)
    assert d["diff"] == pytest.approx(a.mean() - b.mean(), rel=1e-15)
    assert welch_diff([1.0, 1.1, 0.9, 1.05], [2.0, 2.1, 1.9, 2.05])["t"] < 0


def test_holm_adjustment():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1) = 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02],
                               rtol=1e-15)
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    adjusted = holm([float("nan"), 0.01])
    assert np.isnan(adjusted[0]) and adjusted[1] == 0.01
    assert holm([]) == []


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0), rel=1e-15))
    assert mean_std([5.0]) == (5.0, 0.0)


def test_claims_cite_papers_not_files_outside_the_repository():
    """Sources and the committed theory/ pages name papers, never a path like shared/papers/."""
    from pathlib import Path

    from rso_ref.claims import all_claims

    claims = all_claims()
    assert len(claims) >= 14
    for claim in claims:
        assert "shared/" not in claim.source and ".txt" not in claim.source, claim.id
    theory = Path(__file__).resolve().parents[1] / "theory"
    for path in [*theory.glob("*.md"), theory / "report.json", *theory.glob("tables/**/*.md")]:
        assert "shared/papers" not in path.read_text(encoding="utf-8"), path.name


def test_tost_declares_equivalence_only_inside_the_margin():
    gen = np.random.default_rng(1)
    a, b = gen.normal(0.0, 0.1, 40), gen.normal(0.02, 0.1, 40)
    inside = tost_diff(a, b, 0.2)
    assert inside["equivalent"] and inside["p"] < 0.05
    assert -0.2 < inside["lo"] < inside["diff"] < inside["hi"] < 0.2
    outside = tost_diff(a, b, 0.01)  # the 90 % interval (about ±0.04) is wider than ±0.01
    assert not outside["equivalent"] and outside["p"] > 0.05
    shifted = tost_diff(a + 1.0, b, 0.2)  # a real difference of 1 is not "equivalent"
    assert not shifted["equivalent"] and shifted["lo"] > 0.2
    # p is the larger one-sided p: equals alpha exactly where an interval bound meets the margin
    margin = -inside["lo"] if -inside["lo"] > inside["hi"] else inside["hi"]
    assert tost_diff(a, b, margin)["p"] == pytest.approx(0.05, rel=1e-9)
    with pytest.raises(ValueError, match="margin"):
        tost_diff(a, b, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        tost_diff(a, b, 0.1, alpha=0.6)


def test_proportion_ci_is_clopper_pearson():
    p, lo, hi = proportion_ci(0, 100)
    assert p == 0 and lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-9)
    p, lo, hi = proportion_ci(7, 20)
    # Beta quantiles of the exact interval (closed form via scipy.stats.beta)
    assert lo == pytest.approx(stats.beta.ppf(0.025, 7, 14), rel=1e-9)
    assert hi == pytest.approx(stats.beta.ppf(0.975, 8, 13), rel=1e-9)
    with pytest.raises(ValueError, match="successes"):
        proportion_ci(5, 4)
    with pytest.raises(ValueError, match="trials"):
        proportion_ci(0, 0)


def test_detectable_effect_is_2_8_standard_errors_at_5_percent_and_80_percent():
    assert detectable_effect(1.0) == pytest.approx(1.959964 + 0.841621, rel=1e-6)
    assert detectable_effect(0.5, power=0.5) == pytest.approx(0.5 * 1.959964, rel=1e-6)
    with pytest.raises(ValueError, match="power"):
        detectable_effect(1.0, power=1.0)


def test_normal_tail_and_quantile_are_the_standard_normal():
    assert normal_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    np.testing.assert_allclose(normal_sf(np.array([0.0, 1.959963984540054, np.inf])),
                               [0.5, 0.025, 0.0], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="q"):
        normal_ppf(1.0)
