"""rso_ref.stats: argument checks of the shared statistics (their values are tested in
tests/test_claims_registry.py)."""
import subprocess
import sys

import numpy as np
import pytest

from rso_ref.stats import bootstrap_ci


@pytest.mark.parametrize("kwargs, error, match", [
    ({"block": 2.5}, TypeError, "block must be an int"),
    ({"block": 11}, ValueError, r"block must be an int in \[1, 10\]"),
    ({"n_boot": 0}, ValueError, "n_boot must be an int >= 1"),
    ({"n_boot": 100.0}, TypeError, "n_boot must be an int"),
    ({"alpha": "0.05"}, TypeError, "alpha must be a real number"),
    ({"alpha": 1.0}, ValueError, r"alpha must lie in \(0, 1\)"),
])
def test_bootstrap_arguments_are_checked_and_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        bootstrap_ci(np.arange(10.0), **kwargs)


def test_bootstrap_accepts_numpy_integers_as_sizes():
    values = np.random.default_rng(1).standard_normal(30)
    assert bootstrap_ci(values, n_boot=np.int64(200), block=np.int32(3)) == \
        bootstrap_ci(values, n_boot=200, block=3)


def test_the_cli_parser_path_does_not_import_scipy_stats():
    # rso-ref --help builds the parser, which imports compare for mean_std; scipy.stats
    # (~360 ms, a third of --help) loads only when a test statistic is computed.
    code = ("import sys, rso_ref.compare, rso_ref.stats; "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
