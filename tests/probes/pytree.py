"""Probes of :mod:`rso_ref.pytree`: flattening, structure checks and lifted oracles."""
from __future__ import annotations

import numpy as np

from probes import Probe
from rso_ref import pytree

_TREE = {"dense1": {"w": np.ones((2, 2)), "b": np.ones(2)}, "out": [np.ones(3)]}


def _treedef():
    return pytree.flatten(_TREE)[1]


def _round_trip(result):
    assert sorted(result) == ["dense1", "out"] and result["out"][0].shape == (3,), result


PROBES = [
    Probe("rso_ref.pytree.flatten", "leaf a string",
          lambda _: pytree.flatten({"dense1": {"w": "W1"}}, "params"),
          raises=TypeError, match=r"^params\['dense1'\]\['w'\] is a str, not an array"),
    Probe("rso_ref.pytree.flatten", "tree None", lambda _: pytree.flatten(None, "params"),
          raises=TypeError, match=r"^params must be an array or a pytree of arrays, got None"),
    Probe("rso_ref.pytree.flatten", "dict keys of two types",
          lambda _: pytree.flatten({1: np.ones(1), "a": np.ones(1)}, "params"),
          raises=TypeError, match=r"^params has dict keys that cannot be sorted"),
    Probe("rso_ref.pytree.unflatten", "too few leaves",
          lambda _: pytree.unflatten(_treedef(), [np.ones(1)]),
          raises=ValueError, match=r"^leaves holds 1 arrays but treedef has 3 leaves"),
    Probe("rso_ref.pytree.unflatten", "treedef a list",
          lambda _: pytree.unflatten([1, 2], [np.ones(1)]),
          raises=TypeError, match=r"^treedef must be a TreeDef returned by flatten, got list"),
    Probe("rso_ref.pytree.unflatten", "round trip",
          lambda _: pytree.unflatten(*reversed(pytree.flatten(_TREE))), check=_round_trip),
    Probe("rso_ref.pytree.leaf_paths", "leaf a list of numbers",
          lambda _: pytree.leaf_paths({"w": [1.0, 2.0]}),
          raises=TypeError, match=r"^tree\['w'\]\[0\] is a float, not an array"),
    Probe("rso_ref.pytree.flatten_like", "a key missing",
          lambda _: pytree.flatten_like({"dense1": {"w": np.ones((2, 2))}, "out": [np.ones(3)]},
                                        _treedef(), "grads", "params"),
          raises=ValueError, match=r"^grads does not have the structure of params: "
                                   r"grads\['dense1'\] has keys \['w'\] but "
                                   r"params\['dense1'\] has \['b', 'w'\]"),
    Probe("rso_ref.pytree.flat_oracle", "oracle a string",
          lambda _: pytree.flat_oracle("loss", _treedef()),
          raises=TypeError, match=r"^value_and_grad must be callable"),
    Probe("rso_ref.pytree.flat_oracle", "oracle returns a lone loss",
          lambda _: pytree.flat_oracle(lambda p: 1.0, _treedef())(pytree.flatten(_TREE)[0]),
          raises=TypeError, match=r"^value_and_grad must return a pair"),
    Probe("rso_ref.pytree.flat_hvp", "hvp_fn None",
          lambda _: pytree.flat_hvp(None, _treedef()),
          raises=TypeError, match=r"^hvp_fn must be callable"),
    Probe("rso_ref.pytree.flat_hvp", "hvp_fn returns a float",
          lambda _: pytree.flat_hvp(lambda p, v: 1.0, _treedef())(pytree.flatten(_TREE)[0],
                                                                  pytree.flatten(_TREE)[0]),
          raises=TypeError, match=r"^hvp_fn\(params, v\) is a float, not an array"),
]
