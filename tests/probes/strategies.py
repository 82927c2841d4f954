"""Probes of the hypothesis strategies of ``rso_ref.testing`` (and ``atol_for``,
``settings_profiles``): a bad argument is refused when the strategy is built, naming
the argument, never when hypothesis first draws from it."""
from __future__ import annotations

import numpy as np

from probes import Probe


def _build(name, *args, **kwargs):
    def call(tmp_path):
        import rso_ref.testing as testing

        return getattr(testing, name)(*args, **kwargs)
    return call


def _is_strategy(value):
    from hypothesis.strategies import SearchStrategy

    assert isinstance(value, SearchStrategy), type(value)


def _equals(expected):
    def check(value):
        assert value == expected, (value, expected)
    return check


def _lists_the_profiles(value):
    assert {"rso_ref-jax", "rso_ref-ci"} <= set(value), value


_T = "rso_ref.testing."

PROBES = [
    Probe(_T + "arrays", "negative extent", _build("arrays", (2, -1)),
          raises=ValueError, match=r"^shape\[1\] must be an int >= 0"),
    Probe(_T + "arrays", "negative scale", _build("arrays", (2,), scale=-1.0),
          raises=ValueError, match=r"^scale must be > 0"),
    Probe(_T + "arrays", "a valid shape", _build("arrays", (2, 3)), check=_is_strategy),
    Probe(_T + "gradient_sequences", "like None", _build("gradient_sequences", None),
          raises=TypeError, match=r"^like must be an array or a list of arrays"),
    Probe(_T + "gradient_sequences", "zero steps",
          _build("gradient_sequences", [np.ones(2)], steps=(0, 2)),
          raises=ValueError, match=r"^steps\[0\] must be an int >= 1"),
    Probe(_T + "param_lists", "shapes a string", _build("param_lists", shapes="x"),
          raises=TypeError, match=r"^shapes must be a sequence of shapes"),
    Probe(_T + "group_weights", "no groups", _build("group_weights", 0),
          raises=ValueError, match=r"^n_groups must be an int >= 1"),
    Probe(_T + "groupings", "no params", _build("groupings", 0),
          raises=ValueError, match=r"^n_params must be an int >= 1"),
    Probe(_T + "invalid_groupings", "negative params", _build("invalid_groupings", -1),
          raises=ValueError, match=r"^n_params must be an int >= 1"),
    Probe(_T + "partitions", "no params", _build("partitions", 0),
          raises=ValueError, match=r"^n_params must be an int >= 1"),
    Probe(_T + "rso_options", "no groups", _build("rso_options", 0),
          raises=ValueError, match=r"^n_groups must be an int >= 1"),
    Probe(_T + "mlp_cases", "unknown dtype", _build("mlp_cases", dtype="bogus"),
          raises=TypeError, match=r"^dtype must be one of"),
    Probe(_T + "optimizer_cases", "unknown optimizer", _build("optimizer_cases", "nope"),
          raises=ValueError, match=r"^name must be one of"),
    Probe(_T + "reference_problems", "unknown problem", _build("reference_problems", "nope"),
          raises=ValueError, match=r"^names must be one of"),
    Probe(_T + "spd_quadratics", "cond below 1", _build("spd_quadratics", cond=0.5),
          raises=ValueError, match=r"^cond must be >= 1"),
    Probe(_T + "convex_problems", "unknown kind", _build("convex_problems", kinds="nope"),
          raises=ValueError, match=r"^kinds must be one of"),
    Probe(_T + "atol_for", "None", _build("atol_for", None),
          raises=TypeError, match=r"^x must be an array or a number"),
    Probe(_T + "atol_for", "float16", _build("atol_for", np.ones(1, np.float16)),
          check=_equals(1e-5)),
    Probe(_T + "settings_profiles", "unknown profile", _build("settings_profiles", "nope"),
          raises=ValueError, match=r"^load must be one of"),
    Probe(_T + "settings_profiles", "registers both", _build("settings_profiles"),
          check=_lists_the_profiles),
]
