"""The claims registry and report writer (the claims themselves are tested in tests/theory)."""
import json

import numpy as np
from scipy import stats
import pytest

from rso_ref.claims import Claim, Evidence
from rso_ref.claims.report import render_claim, write_report
from rso_ref.stats import (bootstrap_ci, censored_median, cluster_bootstrap, detectable_effect,
                           holm, mean_std, normal_ppf, normal_sf, one_sided_diff, paired_diff,
                           proportion_ci, tost_diff, welch_diff)


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


def test_detectable_effect_uses_t_quantiles():
    # (t_{0.975, 8} + t_{0.8, 8}) = 2.306 + 0.889: the 3.19 SE at df = 8
    assert detectable_effect(1.0, df=8) == pytest.approx(
        stats.t.ppf(0.975, 8) + stats.t.ppf(0.8, 8), rel=1e-12)
    assert 3.19 < detectable_effect(1.0, df=8) < 3.20
    assert detectable_effect(2.0, df=4) == pytest.approx(2 * detectable_effect(1.0, df=4),
                                                         rel=1e-15)
    # fewer degrees of freedom need a larger effect; the normal limit is 2.80 SE
    assert detectable_effect(1.0, df=4) > detectable_effect(1.0, df=8) > \
        detectable_effect(1.0, df=np.inf)
    assert detectable_effect(1.0, df=np.inf) == pytest.approx(1.959964 + 0.841621, rel=1e-6)
    assert detectable_effect(0.5, df=np.inf, power=0.5) == pytest.approx(0.5 * 1.959964,
                                                                         rel=1e-6)
    with pytest.raises(ValueError, match="power"):
        detectable_effect(1.0, df=8, power=1.0)
    with pytest.raises(ValueError, match="df"):
        detectable_effect(1.0, df=0)
    with pytest.raises(TypeError, match="df"):
        detectable_effect(1.0)  # the degrees of freedom must be stated


def test_paired_diff_matches_the_textbook_formula_and_beats_welch_on_shared_seeds():
    gen = np.random.default_rng(3)
    seed_effect = gen.normal(0.0, 2.0, 6)           # shared by both arms of a seed
    a = seed_effect + 0.5 + gen.normal(0.0, 0.1, 6)
    b = seed_effect + gen.normal(0.0, 0.1, 6)
    d = a - b
    se = d.std(ddof=1) / np.sqrt(d.size)
    t = d.mean() / se
    half = stats.t.ppf(0.975, d.size - 1) * se
    r = paired_diff(a, b)
    # the closed form evaluated in another order: agreement to rounding, 1e-12
    np.testing.assert_allclose([r["t"], r["p"], r["lo"], r["hi"], r["se"]],
                               [t, 2 * stats.t.sf(abs(t), d.size - 1), d.mean() - half,
                                d.mean() + half, se], rtol=1e-12)
    assert r["df"] == d.size - 1 and r["test"] == "paired t"
    # the seed effect cancels in the pairs, not in Welch's pooled spread
    assert r["p"] < 0.01 and welch_diff(a, b)["p"] > 0.5
    assert welch_diff(a, b)["test"] == "Welch"
    with pytest.raises(ValueError, match="equal lengths"):
        paired_diff(a, b[:-1])
    with pytest.raises(ValueError, match="at least two"):
        paired_diff([1.0], [2.0])


def test_one_sided_and_tost_paired_use_the_paired_statistic():
    gen = np.random.default_rng(4)
    base = gen.normal(0.0, 1.0, 8)
    a, b = base + 0.3 + gen.normal(0, 0.05, 8), base + gen.normal(0, 0.05, 8)
    d = a - b
    t = (d.mean() - 0.5) / (d.std(ddof=1) / np.sqrt(d.size))
    assert one_sided_diff(a, b, 0.5, "less", paired=True) == pytest.approx(
        stats.t.cdf(t, d.size - 1), rel=1e-12)
    assert one_sided_diff(a, b, 0.5, "greater", paired=True) == pytest.approx(
        stats.t.sf(t, d.size - 1), rel=1e-12)
    equivalent = tost_diff(a - 0.3, b, 0.2, paired=True)
    assert equivalent["equivalent"] and equivalent["df"] == 7
    assert not tost_diff(a - 0.3, b, 0.2)["equivalent"]  # Welch: the seed spread swamps it
    with pytest.raises(ValueError, match="alternative"):
        one_sided_diff(a, b, 0.0, "two-sided")
    with pytest.raises(TypeError, match="paired"):
        tost_diff(a, b, 0.1, paired=1)


def test_cluster_bootstrap_resamples_seeds_not_steps():
    gen = np.random.default_rng(5)
    # five runs whose steps share a run-level offset: steps are not independent
    runs = [gen.normal(offset, 0.1, 400) for offset in gen.normal(-0.2, 0.3, 5)]
    r = cluster_bootstrap(runs, n_boot=2000, seed=0)
    pooled = np.concatenate(runs)
    assert r["estimate"] == pytest.approx(pooled.mean(), rel=1e-12)
    assert r["lo"] < r["estimate"] < r["hi"] and r["n_clusters"] == 5
    # the interval is about the spread of the five offsets, ~10x the iid one over 2000 steps
    _, lo, hi = bootstrap_ci(pooled, n_boot=500)
    assert (r["hi"] - r["lo"]) > 5 * (hi - lo)
    # every resample is a multiset of whole runs: the interval lies within the run means
    means = [run.mean() for run in runs]
    assert min(means) <= r["lo"] and r["hi"] <= max(means)
    with pytest.raises(ValueError, match="clusters"):
        cluster_bootstrap([[1.0, 2.0]])
    with pytest.raises(ValueError, match="clusters"):
        cluster_bootstrap([[1.0], []])


def test_censored_median_counts_runs_that_never_reach():
    inf = np.inf
    assert censored_median([3.0, 1.0, 2.0]) == 2.0
    assert censored_median([3.0, 1.0, 2.0, 4.0]) == 2.5
    # two of five never reach: still the third order statistic, not the mean of the others
    assert censored_median([1.0, 9.0, inf, 2.0, np.nan]) == 9.0
    assert censored_median([1.0, inf, inf]) == inf     # the median lies beyond the budget
    assert censored_median([1.0, 2.0, inf, inf]) == inf
    with pytest.raises(ValueError, match="times"):
        censored_median([])
    with pytest.raises(ValueError, match="nonnegative"):
        censored_median([-1.0, 2.0])


def test_normal_tail_and_quantile_are_the_standard_normal():
    assert normal_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    np.testing.assert_allclose(normal_sf(np.array([0.0, 1.959963984540054, np.inf])),
                               [0.5, 0.025, 0.0], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="q"):
        normal_ppf(1.0)
