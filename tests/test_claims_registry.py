"""The claims registry and report writer (the claims themselves are tested in tests/theory)."""
import json

import numpy as np
import pytest

from rso_ref.claims import Claim, Evidence
from rso_ref.claims.report import render_claim, write_report
from rso_ref.claims.stats import bootstrap_ci, mean_std, welch_t


def _claim(cid="demo-claim"):
    return Claim(id=cid, title="A demo", source="Paper §1", quote="it works",
                 statement="x > 0", protocol="one run",
                 run=lambda quick, out: Evidence("holds", "always", "x = 1", {"x": np.float64(1.0)}))


def test_evidence_rejects_unknown_verdicts():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Evidence("probably", "", "")


def test_report_merges_claims_and_renders_pages(tmp_path):
    one, two = _claim("one"), _claim("two")
    write_report([(one, one.run(True, tmp_path), 1.0)], tmp_path, quick=True)
    paths = write_report([(two, two.run(False, tmp_path), 2.0)], tmp_path, quick=False)
    payload = json.loads(paths["json"].read_text())
    assert list(payload["claims"]) == ["one", "two"]
    assert payload["claims"]["one"]["numbers"] == {"x": 1.0}
    assert payload["claims"]["two"]["command"] == "rso-ref theory --claim two"
    index = paths["index"].read_text()
    assert "[one](one.md)" in index and "[two](two.md)" in index
    page = render_claim(one, one.run(True, tmp_path), quick=True, seconds=3)
    assert "**holds**" in page and "rso-ref theory --claim one --quick" in page


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


def test_welch_and_mean_std():
    t, p = welch_t([1.0, 1.1, 0.9, 1.05], [2.0, 2.1, 1.9, 2.05])
    assert t < 0 and p < 1e-4
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0), rel=1e-15))
    assert mean_std([5.0]) == (5.0, 0.0)
