"""Run the probe battery (``tests/probes``): bad input at every public entry point
gives a clear error naming the argument, or a correct result."""
from __future__ import annotations

import re

import pytest

from probes import all_probes, entry_points

PROBES = all_probes()


def test_probe_ids_are_unique():
    ids = [p.id for p in PROBES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_entry_point_has_a_probe():
    probed = {p.entry for p in PROBES}
    missing = sorted(entry_points() - probed)
    assert not missing, f"entry points without a probe in tests/probes: {missing}"


def test_every_probe_names_an_entry_point():
    unknown = sorted({p.entry for p in PROBES} - entry_points())
    assert not unknown, f"probes of names that are not entry points: {unknown}"


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_probe(probe, tmp_path):
    if probe.raises is not None:
        with pytest.raises(probe.raises) as info:
            probe.call(tmp_path)
        message = str(info.value)
        assert re.search(probe.match, message), (
            f"{type(info.value).__name__} message {message!r} does not match {probe.match!r}")
    else:
        probe.check(probe.call(tmp_path))
