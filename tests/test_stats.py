"""rso_ref.stats: argument checks of the shared statistics (their values are tested in
tests/test_claims_registry.py)."""
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
