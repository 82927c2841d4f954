"""Pytrees (rso_ref.pytree) and the public entry points that take them.

A pytree run is the list run on the same leaves in the same order, so every comparison
with the list version is exact (tolerance 0): ``rso_step``, each optimizer and
``minimize`` do the same arithmetic on the same arrays, only the packing differs.
"""
from __future__ import annotations

import collections
import functools
import subprocess
import sys

import numpy as np
import pytest

from rso_ref import backend, minimize, optim, pytree
from rso_ref.optim import (LBFGS, BulkSGD, DomSGD, InterpolatedSGD, Needs, Optimizer)
from rso_ref.optim.registry import DEFAULT_LR, OPTIMIZERS, make_optimizer
from rso_ref.rso import rso_step
from rso_ref.testing import assert_close

Point = collections.namedtuple("Point", "x y")

#: The MLP 3-4-2 as a dict of dicts, and the order of its leaves (sorted keys).
LAYERS = {"dense1": {"w": (3, 4), "b": (4,)}, "dense2": {"w": (4, 2), "b": (2,)}}
ORDER = ["dense1/b", "dense1/w", "dense2/b", "dense2/w"]


def mlp_params(xp, seed=0):
    """(tree, the equivalent list in leaf order), the same arrays in both."""
    rng = np.random.default_rng(seed)
    tree = {layer: {k: xp.asarray(0.5 * rng.standard_normal(s)) for k, s in shapes.items()}
            for layer, shapes in LAYERS.items()}
    return tree, [tree[p.split("/")[0]][p.split("/")[1]] for p in ORDER]


def as_tree(leaves):
    b1, w1, b2, w2 = leaves
    return {"dense1": {"w": w1, "b": b1}, "dense2": {"w": w2, "b": b2}}


def mlp_oracle(xp, seed=1):
    """``oracle(list) -> (loss, list)``: tanh MLP, mean squared error, hand gradients."""
    rng = np.random.default_rng(seed)
    X, Y = xp.asarray(rng.standard_normal((8, 3))), xp.asarray(rng.standard_normal((8, 2)))

    def oracle(params):
        b1, w1, b2, w2 = params
        h = xp.tanh(X @ w1 + b1)
        r = h @ w2 + b2 - Y
        d_out = r / 8
        d_h = (d_out @ w2.T) * (1 - h * h)
        grads = [xp.sum(d_h, axis=0), X.T @ d_h, xp.sum(d_out, axis=0), h.T @ d_out]
        return float(xp.sum(r * r)) / 16, grads

    return oracle


def on_trees(oracle):
    """The same oracle on the dict of :func:`as_tree`."""
    def tree_oracle(tree):
        loss, grads = oracle(pytree.flatten(tree)[0])
        return loss, as_tree(grads)
    return tree_oracle


# --- flatten / unflatten ----------------------------------------------------------------

def nested(xp):
    a, b, c, d, e = (xp.asarray(float(v)) * xp.ones(v + 1) for v in range(5))
    return {"z": [a, (b, None)], "a": {"k2": c, "k1": Point(d, [e])}, "n": None}


def test_round_trip_keeps_structure_and_leaves(xp):
    tree = nested(xp)
    leaves, treedef = pytree.flatten(tree)
    rebuilt = pytree.unflatten(treedef, leaves)
    assert rebuilt == tree and rebuilt is not tree  # same containers, same arrays
    assert isinstance(rebuilt["a"]["k1"], Point) and isinstance(rebuilt["z"][1], tuple)
    assert [int(x.shape[0]) for x in leaves] == [4, 5, 3, 1, 2]  # sorted keys, in order
    assert pytree.flatten(nested(xp))[1] == treedef  # equal structure, other arrays


def test_key_paths(xp):
    assert pytree.leaf_paths(nested(xp)) == ["a/k1/x", "a/k1/y/0", "a/k2", "z/0", "z/1/0"]
    assert pytree.leaf_paths(mlp_params(xp)[0]) == ORDER
    assert pytree.leaf_paths(xp.ones(2)) == [""]


def test_a_list_of_arrays_flattens_to_itself(xp):
    params = mlp_params(xp)[1]
    leaves, treedef = pytree.flatten(params)
    assert leaves == params and leaves is not params and treedef.is_list
    assert treedef.paths == ("0", "1", "2", "3")
    assert pytree.unflatten(treedef, leaves) == params
    bare, bare_def = pytree.flatten(params[0])
    assert bare[0] is params[0] and pytree.unflatten(bare_def, bare) is params[0]


def test_errors_name_the_path(xp):
    with pytest.raises(TypeError, match=r"^params\['dense1'\]\['w'\] is a str, not an array"):
        pytree.flatten({"dense1": {"w": "W", "b": xp.ones(2)}}, "params")
    with pytest.raises(TypeError, match=r"^x\[1\]\.y is a float, not an array"):
        pytree.flatten([xp.ones(1), Point(xp.ones(1), 2.0)], "x")
    like = pytree.flatten(mlp_params(xp)[0])[1]
    grads = as_tree(mlp_params(xp)[1])
    del grads["dense2"]["w"]
    with pytest.raises(ValueError, match=r"^grads does not have the structure of params: "
                                         r"grads\['dense2'\] has keys \['b'\] but "
                                         r"params\['dense2'\] has \['b', 'w'\]"):
        pytree.flatten_like(grads, like, "grads", "params")


@functools.lru_cache(maxsize=None)
def _registered_class():
    """A class registered with JAX (with keys), as flax and equinox modules are."""
    jax = pytest.importorskip("jax")

    class Dense:
        def __init__(self, w, b):
            self.w, self.b = w, b

    jax.tree_util.register_pytree_with_keys(
        Dense, lambda d: (((jax.tree_util.GetAttrKey("w"), d.w),
                           (jax.tree_util.GetAttrKey("b"), d.b)), None),
        lambda _, children: Dense(*children))
    return Dense


def test_leaf_order_is_jax_order(xp):
    jax = pytest.importorskip("jax", reason="JAX not installed: leaf order not compared")
    dense = _registered_class()
    custom = {"layer": dense(xp.ones(2), xp.zeros(1)), "rest": [None, xp.ones(3)]}
    trees = [nested(xp), mlp_params(xp)[0], custom]
    for tree in trees:
        mine = pytree.flatten(tree)[0]
        assert [id(x) for x in mine] == [id(x) for x in jax.tree_util.tree_leaves(tree)]


def test_jax_registered_nodes_round_trip(xp):
    pytest.importorskip("jax", reason="JAX not installed: no registered node to flatten")
    dense = _registered_class()
    tree = {"out": dense(xp.ones((2, 2)), xp.zeros(2))}
    leaves, treedef = pytree.flatten(tree)
    assert treedef.paths == ("out/w", "out/b")
    rebuilt = pytree.unflatten(treedef, leaves)
    assert isinstance(rebuilt["out"], dense) and rebuilt["out"].w is leaves[0]
    with pytest.raises(TypeError, match=r"^params\['out'\]\.b is a str, not an array"):
        pytree.flatten({"out": dense(xp.ones(1), "b")}, "params")


def test_jax_is_never_imported():
    code = ("import sys, numpy as np; from rso_ref import pytree; "
            "pytree.flatten({'a': [np.ones(2), None], 'b': (np.ones(1),)}); "
            "assert 'jax' not in sys.modules, 'flatten imported JAX'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- rso_step ---------------------------------------------------------------------------

RSO_OPTIONS = ({"groups": None}, {"groups": [[0, 1], [3, 2]], "w0": "ones"},
               {"groups": [[0, 1], [3, 2]], "normalize": True, "safeguard": True})


def _assert_same_step(tree_result, list_result):
    assert_close(tree_result.params, as_tree(list_result.params), rtol=0, atol=0)
    assert_close(tree_result.w, list_result.w, rtol=0, atol=0)
    assert (tree_result.loss_before, tree_result.loss_after, tree_result.nfev, tree_result.nit) \
        == (list_result.loss_before, list_result.loss_after, list_result.nfev, list_result.nit)


@pytest.mark.parametrize("options", RSO_OPTIONS, ids=["per-leaf", "ones", "normalized"])
def test_rso_step_on_a_dict_is_the_list_step(xp, options, on_device):
    tree, params = mlp_params(xp)
    oracle = mlp_oracle(xp)
    mine = rso_step(on_trees(oracle), tree, lr=0.5, meta_iters=3, **options)
    ref = rso_step(oracle, params, lr=0.5, meta_iters=3, **options)
    _assert_same_step(mine, ref)
    assert sorted(mine.params) == ["dense1", "dense2"] and sorted(mine.params["dense2"]) == \
        ["b", "w"]
    on_device(pytree.flatten(mine.params)[0])


def test_rso_step_with_given_grads_and_meta_oracle(xp):
    tree, params = mlp_params(xp)
    oracle, meta = mlp_oracle(xp), mlp_oracle(xp, seed=2)
    loss, grads = oracle(params)
    mine = rso_step(on_trees(oracle), tree, lr=0.5, loss=loss, grads=as_tree(grads),
                    meta_value_and_grad=on_trees(meta))
    ref = rso_step(oracle, params, lr=0.5, loss=loss, grads=grads, meta_value_and_grad=meta)
    _assert_same_step(mine, ref)


def test_groups_by_key_path_are_groups_by_index(xp):
    tree, params = mlp_params(xp)
    oracle = mlp_oracle(xp)
    by_path = rso_step(on_trees(oracle), tree, lr=0.5,
                       groups=[["dense1"], ["dense2/w", "dense2/b"]])
    by_index = rso_step(oracle, params, lr=0.5, groups=[[0, 1], [3, 2]])
    _assert_same_step(by_path, by_index)
    on_list = rso_step(oracle, params, lr=0.5, groups=[["0", "1"], [3, "2"]])
    assert_close(on_list.params, by_index.params, rtol=0, atol=0)


def test_an_unknown_key_path_is_named(xp):
    tree = mlp_params(xp)[0]
    with pytest.raises(ValueError, match=r"^groups\[1\] names 'dense3', which is no leaf or "
                                         r"subtree of params \(its leaves: dense1/b, dense1/w"):
        rso_step(on_trees(mlp_oracle(xp)), tree, lr=0.5, groups=[["dense1"], ["dense3"]])
    with pytest.raises(ValueError, match=r"^groups\[0\] names 'dense1/w/0'"):
        rso_step(on_trees(mlp_oracle(xp)), tree, lr=0.5, groups=[["dense1/w/0"]])
    with pytest.raises(TypeError, match=r"^groups\[0\] must be a list of indices or key "
                                        r"paths, got 'dense1'"):
        rso_step(on_trees(mlp_oracle(xp)), tree, lr=0.5, groups=["dense1", "dense2"])


def test_rso_step_oracle_of_another_structure_is_named(xp):
    tree = mlp_params(xp)[0]
    oracle = mlp_oracle(xp)

    def wrong(t):
        loss, grads = on_trees(oracle)(t)
        grads["dense1"]["w"] = [grads["dense1"]["w"]]
        return loss, grads

    with pytest.raises(ValueError, match=r"^value_and_grad's grads does not have the structure "
                                         r"of params: value_and_grad's grads\['dense1'\]\['w'\] "
                                         r"is a list of 1 but params\['dense1'\]\['w'\] is an "
                                         r"array"):
        rso_step(wrong, tree, lr=0.5)


# --- every optimizer --------------------------------------------------------------------

#: The optimizers outside the registry, with options that fit the 4-leaf MLP.
UNREGISTERED = {"lbfgs": LBFGS(), "interpolated_sgd": InterpolatedSGD(a=0.5, b=1.0, lr=0.1, k=1),
                "dom_sgd": DomSGD(lr=0.1, k=1), "bulk_sgd": BulkSGD(lr=0.1, k=1)}
ALL_OPTIMIZERS = {**{name: make_optimizer(name, DEFAULT_LR[name], groups=None)
                     if name == "rso" else make_optimizer(name, DEFAULT_LR[name])
                     for name in OPTIMIZERS}, **UNREGISTERED}


def test_the_table_holds_every_optimizer():
    exported = {getattr(optim, n) for n in optim.__all__}
    classes = {c for c in exported if isinstance(c, type) and issubclass(c, Optimizer)
               and c is not Optimizer}
    assert classes == {type(opt) for opt in ALL_OPTIMIZERS.values()}


def _curvature_hvp(xp):
    def hvp(params, v):
        return [(1.0 + j) * x for j, x in enumerate(v)]
    return hvp


def _run(opt, params, oracle, hvp, pack, steps=3):
    """``steps`` steps from ``params``; ``pack`` turns a list into the run's structure."""
    state = opt.init(params)
    infos = []
    for _ in range(steps):
        loss, grads = oracle(params)
        keywords = {Needs.GRADIENT: {}, Needs.HVP: {"hvp_fn": hvp},
                    Needs.VALUE_AND_GRAD: {"value_and_grad": oracle, "loss": loss}}[opt.needs]
        params, state, info = opt.step_with_info(params, grads, state, **keywords)
        infos.append(info)
    return params, state, infos


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_every_optimizer_on_a_dict_is_the_list_optimizer(xp, name, on_device):
    opt = ALL_OPTIMIZERS[name]
    tree, params = mlp_params(xp)
    oracle, hvp = mlp_oracle(xp), _curvature_hvp(xp)

    def tree_hvp(t, v):
        return as_tree(hvp(pytree.flatten(t)[0], pytree.flatten(v)[0]))

    mine, mine_state, mine_infos = _run(opt, tree, on_trees(oracle), tree_hvp, as_tree)
    ref, ref_state, ref_infos = _run(opt, params, oracle, hvp, list)
    assert isinstance(mine, dict) and pytree.leaf_paths(mine) == ORDER
    assert_close(mine, as_tree(ref), rtol=0, atol=0, err_msg=name)
    assert_close({k: v for k, v in mine_state.items() if v is not None},
                 {k: v for k, v in ref_state.items() if v is not None}, rtol=0, atol=0)
    assert mine_infos == ref_infos
    on_device(pytree.flatten(mine)[0])


# --- minimize ---------------------------------------------------------------------------

def rosen(xp):
    """Rosenbrock on a flat x, as ``fun(x) -> (f, g)``."""
    def fun(x):
        a, b = x[:-1], x[1:]
        f = xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)
        zero = xp.zeros(1, dtype=x.dtype)
        g = xp.concat([-400.0 * a * (b - a * a) - 2.0 * (1.0 - a), zero]) \
            + xp.concat([zero, 200.0 * (b - a * a)])
        return float(f), g
    return fun


def rosen_on_dict(xp):
    """The same function on ``{"m": (2, 3), "v": (4,)}``: m raveled, then v."""
    flat_fun = rosen(xp)

    def fun(x):
        f, g = flat_fun(xp.concat([xp.reshape(x["m"], (-1,)), x["v"]]))
        return f, {"m": xp.reshape(g[:6], (2, 3)), "v": g[6:]}
    return fun


X0 = [-1.2, 1.0, -0.5, 0.8, 1.1, -1.0, 0.9, 1.2, -0.7, 0.4]


def test_minimize_on_a_dict_is_the_flat_run(xp, on_device):
    x0 = {"m": xp.reshape(xp.asarray(X0[:6], dtype=xp.float64), (2, 3)),
          "v": xp.asarray(X0[6:], dtype=xp.float64)}
    seen = []
    mine = minimize(rosen_on_dict(xp), x0, maxiter=30, callback=lambda x: seen.append(x))
    ref = minimize(rosen(xp), xp.asarray(X0, dtype=xp.float64), maxiter=30)
    # Same iterates: fun gets the flat iterate's pieces and its gradient is concatenated back.
    expected = {"m": xp.reshape(ref.x[:6], (2, 3)), "v": ref.x[6:]}
    assert_close(mine.x, expected, rtol=0, atol=0)
    assert_close(mine.jac, {"m": xp.reshape(ref.jac[:6], (2, 3)), "v": ref.jac[6:]},
                 rtol=0, atol=0)
    assert (mine.fun, mine.nit, mine.nfev, mine.status) == (ref.fun, ref.nit, ref.nfev,
                                                            ref.status)
    assert len(seen) == mine.nit and sorted(seen[0]) == ["m", "v"]
    assert tuple(seen[0]["m"].shape) == (2, 3)
    on_device(pytree.flatten(mine.x)[0], pytree.flatten(mine.jac)[0])
    v = xp.ones(10, dtype=xp.float64)
    assert_close(mine.hess_inv @ v, ref.hess_inv @ v, rtol=0, atol=0)


def test_minimize_promotes_float32_and_float64_leaves(xp):
    x0 = {"m": xp.reshape(xp.asarray(X0[:6], dtype=xp.float32), (2, 3)),
          "v": xp.asarray(X0[6:], dtype=xp.float64)}
    mine = minimize(rosen_on_dict(xp), x0, maxiter=10)
    # The promoted start: the float32 leaf's values (rounded to float32), in float64.
    start = [float(v) for v in np.asarray(X0[:6], np.float32)] + X0[6:]
    ref = minimize(rosen(xp), xp.asarray(start, dtype=xp.float64), maxiter=10)
    assert mine.x["m"].dtype == mine.x["v"].dtype == xp.float64
    assert_close(mine.x, {"m": xp.reshape(ref.x[:6], (2, 3)), "v": ref.x[6:]}, rtol=0, atol=0)


def test_minimize_tree_errors_name_the_leaf(xp):
    x0 = {"m": xp.ones((2, 3)), "v": xp.ones(4)}
    with pytest.raises(ValueError, match=r"^fun returned a gradient of shape \(6,\) at 'm' for "
                                         r"an x0 leaf of shape \(2, 3\)"):
        minimize(lambda x: (1.0, {"m": xp.ones(6), "v": xp.ones(4)}), x0)
    with pytest.raises(TypeError, match=r"^fun's gradient\['v'\]\[0\] is a float, not an array"):
        minimize(lambda x: (1.0, {"m": xp.ones((2, 3)), "v": [1.0]}), x0)
    with pytest.raises(TypeError, match=r"^x0 leaf 'v' must have a real floating dtype"):
        minimize(rosen_on_dict(xp), {"m": xp.ones((2, 3)), "v": xp.ones(4, dtype=xp.int32)})


def test_minimize_array_x0_is_unchanged(xp):
    x0 = xp.reshape(xp.asarray(X0, dtype=xp.float64), (2, 5))
    res = minimize(lambda x: (float(xp.sum(x * x)), 2.0 * x), x0)
    assert tuple(res.x.shape) == tuple(res.jac.shape) == (2, 5)
    assert backend.backend_name(backend.array_namespace(res.x)) == backend.backend_name(xp)


def test_optim_rso_takes_groups_by_key_path(xp):
    # The optimizer form resolves key-path groups as rso_step does (the pytree wrapper
    # passes the leaf paths), and equals the same groups by index.
    tree, params = mlp_params(xp)
    oracle = mlp_oracle(xp)
    loss, grads = oracle(params)
    by_path = optim.RSO(lr=0.5, meta_iters=3, groups=[["dense1"], ["dense2/w", "dense2/b"]])
    mine = by_path.step_with_info(tree, as_tree(grads), by_path.init(tree),
                                  value_and_grad=on_trees(oracle), loss=loss)
    by_index = optim.RSO(lr=0.5, meta_iters=3, groups=[[0, 1], [3, 2]])
    ref = by_index.step_with_info(params, grads, by_index.init(params), value_and_grad=oracle,
                                  loss=loss)
    assert mine[2].w == ref[2].w and mine[1] == ref[1]
    assert_close(mine[0], as_tree(ref[0]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="'dense3', which is no leaf"):
        optim.RSO(lr=0.5, groups=[["dense3"]]).init(tree)
