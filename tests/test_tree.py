"""Tests of rso_ref.tree: every function against a NumPy computation, on every backend."""
import math

import numpy as np
import pytest

from rso_ref import backend, tree
from rso_ref.testing import assert_close

SHAPES = ((3, 2), (4,), (1,))  # a matrix, a vector and a one-entry leaf


def host_tree(seed, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def on(xp, host):
    return [xp.asarray(x) for x in host]


def assert_tree_close(actual, desired_host, xp, rtol=1e-10):
    # float64 elementwise identities: 1e-10 relative (testing.RTOL); inputs are O(1).
    assert len(actual) == len(desired_host)
    for j, (a, d) in enumerate(zip(actual, desired_host)):
        assert_close(a, xp.asarray(d), rtol=rtol, atol=1e-15, err_msg=f"leaf {j}")


# --- vector-space operations ------------------------------------------------------------

def test_add_sub_scale_axpy_match_numpy(xp):
    a, b = host_tree(0), host_tree(1)
    A, B = on(xp, a), on(xp, b)
    assert_tree_close(tree.add(A, B), [x + y for x, y in zip(a, b)], xp)
    assert_tree_close(tree.sub(A, B), [x - y for x, y in zip(a, b)], xp)
    assert_tree_close(tree.scale(A, -2.5), [-2.5 * x for x in a], xp)
    assert_tree_close(tree.axpy(0.3, A, B), [0.3 * x + y for x, y in zip(a, b)], xp)


@pytest.mark.parametrize("fn", [tree.add, tree.sub, tree.mul, tree.maximum, tree.vdot,
                                lambda a, b: tree.axpy(1.0, a, b),
                                lambda a, b: tree.div_sqrt(a, b, 1e-8),
                                lambda a, b: tree.group_vdots(a, b, [[0]])])
def test_binary_ops_refuse_lists_of_different_length(fn):
    a = host_tree(0)
    with pytest.raises(ValueError, match="has 3 arrays but .* has 2"):
        fn(a, a[:2])


def test_vdot_and_norm_are_floats_matching_numpy(xp):
    a, b = host_tree(2), host_tree(3)
    A, B = on(xp, a), on(xp, b)
    expected = sum(float(np.sum(x * y)) for x, y in zip(a, b))
    got = tree.vdot(A, B)
    assert isinstance(got, float)
    assert math.isclose(got, expected, rel_tol=1e-12)  # a few dozen float64 products
    assert math.isclose(tree.norm(A), math.sqrt(sum(np.sum(x * x) for x in a)), rel_tol=1e-12)
    assert tree.vdot([], []) == 0.0 and tree.norm([]) == 0.0


def test_zeros_like_keeps_shapes_dtypes_namespace(xp):
    A = on(xp, host_tree(4))
    Z = tree.zeros_like(A)
    for z, a in zip(Z, A):
        assert_close(z, xp.zeros_like(a))
        assert float(xp.sum(xp.abs(z))) == 0.0
    assert tree.zeros_like([]) == []


# --- flatten / unflatten / check_like ---------------------------------------------------

def test_flatten_unflatten_round_trip(xp):
    a = host_tree(5)
    A = on(xp, a)
    flat = tree.flatten(A)
    assert_close(flat, xp.asarray(np.concatenate([x.ravel() for x in a])))
    back = tree.unflatten(flat, A)
    assert [tuple(x.shape) for x in back] == [s for s in SHAPES]
    assert_tree_close(back, a, xp, rtol=0)


def test_flatten_and_unflatten_refuse_bad_input(xp):
    with pytest.raises(ValueError, match="at least one array"):
        tree.flatten([])
    A = on(xp, host_tree(5))
    with pytest.raises(ValueError, match="vector must be 1-D"):
        tree.unflatten(xp.zeros((2, 5)), A)
    with pytest.raises(ValueError, match="vector has 10 entries but like holds 11"):
        tree.unflatten(xp.zeros(10), A)


def test_flatten_unflatten_and_norms_handle_0d_leaves(xp):
    A = [xp.asarray([1.0, 2.0]), xp.asarray(3.0)]
    flat = tree.flatten(A)
    assert_close(flat, xp.asarray([1.0, 2.0, 3.0]))
    back = tree.unflatten(flat, A)
    assert tuple(back[1].shape) == () and float(back[1]) == 3.0
    assert tree.leaf_norms(A) == [math.sqrt(5.0), 3.0]
    assert tree.vdot(A, A) == 14.0


def test_leafwise_arithmetic_keeps_0d_leaves_as_arrays(xp):
    # NumPy answers arithmetic on 0-d arrays with a NumPy scalar; every leaf-wise result
    # must still be an array of the input's type, shape () and dtype, with the value of
    # the scalar formula (float64 identities: 1e-10 relative).
    A, B = [xp.asarray(4.0), xp.asarray([1.0])], [xp.asarray(2.0), xp.asarray([3.0])]
    results = {
        "add": (tree.add(A, B), 6.0), "sub": (tree.sub(A, B), 2.0),
        "scale": (tree.scale(A, 0.5), 2.0), "axpy": (tree.axpy(0.5, A, B), 4.0),
        "mul": (tree.mul(A, B), 8.0), "maximum": (tree.maximum(B, A), 4.0),
        "scale_leaves": (tree.scale_leaves(A, [0.25, 1.0]), 1.0),
        "update_moment": (tree.update_moment(A, B, 0.5, order=2), 9.0),
        "bias_correction": (tree.bias_correction(A, 0.5, 1), 8.0),
        "div_sqrt": (tree.div_sqrt(B, A, 0.0), 1.0),
    }
    for name, (out, value) in results.items():
        leaf = out[0]
        assert type(leaf) is type(A[0]), (name, type(leaf))
        assert tuple(leaf.shape) == () and leaf.dtype == A[0].dtype, name
        assert float(leaf) == pytest.approx(value, rel=1e-10), name


def test_check_like_names_the_offending_leaf():
    a = host_tree(0)
    tree.check_like(a, [np.zeros(s) for s in SHAPES])  # passes silently
    with pytest.raises(ValueError, match="grads has 2 arrays but params has 3"):
        tree.check_like(a[:2], a)
    bad = [a[0], np.zeros(5), a[2]]
    with pytest.raises(ValueError, match=r"grads\[1\] has shape \(5,\) but params\[1\] has \(4,\)"):
        tree.check_like(bad, a)
    with pytest.raises(ValueError, match=r"^u has 2 arrays but v has 3"):
        tree.check_like(a[:2], a, name="u", like_name="v")


# --- groups ----------------------------------------------------------------------------

def test_validate_groups_accepts_and_normalises():
    assert tree.validate_groups([(0, np.int64(2)), [1]], 3, require_cover=True) == [[0, 2], [1]]
    assert tree.validate_groups([[1]], 3) == [[1]]  # a partial cover is fine by default


@pytest.mark.parametrize("groups, n, exc, message", [
    ([], 3, ValueError, "at least one group"),
    (None, 3, ValueError, "at least one group"),
    ([[0], []], 3, ValueError, r"groups\[1\] is empty"),
    ([[0, 3]], 3, ValueError, r"groups\[0\] holds index 3, out of range for 3"),
    ([[-1]], 3, ValueError, "out of range"),
    ([[0, 1], [1]], 3, ValueError, r"index 1 is in groups\[0\] and groups\[1\]"),
    ([[0.0]], 3, TypeError, "non-integer index"),
    ([[True]], 3, TypeError, "non-integer index"),
])
def test_validate_groups_refuses_bad_groupings(groups, n, exc, message):
    with pytest.raises(exc, match=message):
        tree.validate_groups(groups, n)


def test_validate_groups_require_cover_lists_missing_indices():
    with pytest.raises(ValueError, match=r"do not cover params indices \[1, 3\]"):
        tree.validate_groups([[0], [2]], 4, require_cover=True)


def test_uniform_groups_merges_units_with_remainder():
    units = [[0, 1], [2], [3, 4], [5], [6]]
    assert tree.uniform_groups(units, 2) == [[0, 1, 2], [3, 4, 5], [6]]
    assert tree.uniform_groups(units, 5) == [[0, 1, 2, 3, 4, 5, 6]]
    assert tree.uniform_groups(units, 1) == units
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="size must be a positive int"):
            tree.uniform_groups(units, bad)


def test_group_vdots_sum_to_vdot_on_a_partition(xp):
    a, b = host_tree(6), host_tree(7)
    A, B = on(xp, a), on(xp, b)
    groups = [[0, 2], [1]]
    got = tree.group_vdots(A, B, groups)
    expected = [float(np.sum(a[0] * b[0]) + np.sum(a[2] * b[2])), float(np.sum(a[1] * b[1]))]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert math.isclose(sum(got), tree.vdot(A, B), rel_tol=1e-12)


def test_group_vdots_is_vdot_per_group_with_one_host_transfer(xp, monkeypatch):
    # RSO's meta-gradient: one device-to-host transfer per evaluation, not one per group.
    A, B = on(xp, host_tree(6)), on(xp, host_tree(7))
    groups = [[2, 0], [1]]
    transfers = []
    real = tree.to_numpy
    monkeypatch.setattr(tree, "to_numpy", lambda x: transfers.append(x) or real(x))
    got = tree.group_vdots(A, B, groups)
    assert len(transfers) == 1 and all(type(v) is float for v in got)
    assert got == [tree.vdot([A[2], A[0]], [B[2], B[0]]), tree.vdot([A[1]], [B[1]])]  # bit for bit


def test_value_and_group_vdots_brings_the_loss_with_the_products(xp, monkeypatch):
    # RSO's meta-objective: the loss and the group products in one transfer per trial
    # where the loss is a device scalar of a compiled backend (JAX); the numbers are
    # float(value) and group_vdots, bit for bit, everywhere.
    A, B = on(xp, host_tree(6)), on(xp, host_tree(7))
    groups = [[2, 0], [1]]
    value = xp.sum(A[0] * A[0])
    transfers, combined = [], []
    real, real_combined = tree.to_numpy, tree._value_and_leaf_products
    monkeypatch.setattr(tree, "to_numpy", lambda x: transfers.append(x) or real(x))
    monkeypatch.setattr(tree, "_value_and_leaf_products",
                        lambda *args: combined.append(1) or real_combined(*args))
    got_value, got = tree.value_and_group_vdots(value, A, B, groups)
    assert len(transfers) == 1 and len(combined) == int(backend.compiles(xp))
    assert type(got_value) is float and got_value == float(value)
    assert got == tree.group_vdots(A, B, groups)
    assert tree.value_and_group_vdots(None, A, B, groups)[0] is None


# --- optimizer pieces ------------------------------------------------------------------

def test_copy_equals_but_does_not_alias(xp):
    a = host_tree(8)
    A = on(xp, a)
    C = tree.copy(A)
    assert_tree_close(C, a, xp, rtol=0)
    assert all(c is not x for c, x in zip(C, A))
    host = host_tree(8)
    copied = tree.copy(host)
    copied[0][0, 0] = 99.0
    assert host[0][0, 0] != 99.0
    assert tree.copy([]) == []


def test_mul_maximum_scale_leaves_match_numpy(xp):
    a, b = host_tree(9), host_tree(10)
    A, B = on(xp, a), on(xp, b)
    assert_tree_close(tree.mul(A, B), [x * y for x, y in zip(a, b)], xp)
    assert_tree_close(tree.maximum(A, B), [np.maximum(x, y) for x, y in zip(a, b)], xp)
    assert_tree_close(tree.scale_leaves(A, [2.0, -1.0, 0.5]),
                      [2.0 * a[0], -a[1], 0.5 * a[2]], xp)
    with pytest.raises(ValueError, match="factors has 2 entries but a has 3"):
        tree.scale_leaves(A, [1.0, 2.0])


def test_leaf_norms_are_frobenius_norms(xp):
    a = host_tree(11)
    got = tree.leaf_norms(on(xp, a))
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, [np.linalg.norm(x) for x in a], rtol=1e-12)
    assert tree.leaf_norms([]) == []


@pytest.mark.parametrize("order", [1, 2])
def test_update_moment_is_an_exponential_average(xp, order):
    g, m = host_tree(12), host_tree(13)
    got = tree.update_moment(on(xp, g), on(xp, m), 0.9, order=order)
    assert_tree_close(got, [0.9 * mi + 0.1 * gi ** order for gi, mi in zip(g, m)], xp)


def test_update_moment_refuses_other_orders():
    g = host_tree(0)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        tree.update_moment(g, g, 0.9, order=3)


def test_bias_correction_undoes_zero_initialisation(xp):
    # A constant gradient g averaged t times from zero is (1 - beta^t) g; correction gives g.
    g = host_tree(14)
    G = on(xp, g)
    m = tree.zeros_like(G)
    for _ in range(7):
        m = tree.update_moment(G, m, 0.8)
    assert_tree_close(tree.bias_correction(m, 0.8, 7), g, xp)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="count must be a positive int"):
            tree.bias_correction(G, 0.8, bad)


def test_div_sqrt_puts_eps_outside_the_root(xp):
    a, b = host_tree(15), [np.abs(x) for x in host_tree(16)]
    got = tree.div_sqrt(on(xp, a), on(xp, b), 0.25)
    assert_tree_close(got, [x / (np.sqrt(y) + 0.25) for x, y in zip(a, b)], xp)


def test_trust_ratio_formula_and_fallbacks(xp):
    p = [np.array([3.0, 4.0]), np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 2.0])]
    u = [np.array([0.0, 10.0]), np.array([1.0, 1.0]), np.zeros(2), np.zeros(2)]
    P, U = on(xp, p), on(xp, u)
    # LAMB form: ||p|| / ||u||; 1 when either norm is zero.
    assert tree.trust_ratio(P, U) == [0.5, 1.0, 1.0, 1.0]
    # LARS form: eta ||p|| / (||u|| + wd ||p||); a zero update with decay is not a fallback.
    got = tree.trust_ratio(P, U, coefficient=0.1, weight_decay=0.5)
    np.testing.assert_allclose(got, [0.1 * 5 / 12.5, 1.0, 0.1 / 0.5, 0.1 / 0.5], rtol=1e-15)
    with pytest.raises(ValueError, match="params has 4 arrays but updates has 3"):
        tree.trust_ratio(P, U[:3])


def test_functions_do_not_modify_their_inputs(xp):
    a, b = host_tree(17), [np.abs(x) + 0.1 for x in host_tree(18)]
    A, B = on(xp, a), on(xp, b)
    calls = [tree.add(A, B), tree.sub(A, B), tree.scale(A, 2.0), tree.axpy(2.0, A, B),
             tree.mul(A, B), tree.maximum(A, B), tree.scale_leaves(A, [1.0, 2.0, 3.0]),
             tree.update_moment(A, B, 0.5, 2), tree.bias_correction(A, 0.5, 1),
             tree.div_sqrt(A, B, 1.0), tree.unflatten(tree.flatten(A), A), tree.copy(A)]
    tree.trust_ratio(A, B)
    assert len(calls) == 12
    assert_tree_close(A, a, xp, rtol=0)
    assert_tree_close(B, b, xp, rtol=0)


def test_mixed_namespaces_are_refused(xp):
    if backend.backend_name(xp) == "numpy":
        pytest.skip("needs a second backend")
    a = host_tree(19)
    with pytest.raises(ValueError, match="different namespaces"):
        tree.vdot(on(xp, a), a)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_all_finite_tests_entries_not_the_sum():
    # The sum of 1e308 entries overflows although every entry is finite.
    assert tree.all_finite([np.full(3, 1e308), np.ones(2)])
    assert not tree.all_finite([np.ones(2), np.array([1.0, np.nan])])
    assert not tree.all_finite([np.array([np.inf, -np.inf])])  # inf - inf is NaN, still caught
    assert tree.all_finite([])
