"""rso_ref.testing.strategies: each strategy draws what it documents, and rso_ref accepts it.

Properties, not examples: every drawn quadratic is minimised at its x* with the asked
condition number, every drawn grouping is a partition that rso_step accepts, every
invalid one is refused naming ``groups``, drawn MLP cases run on every backend and
device, drawn options and hyperparameters build working optimizers; and without
hypothesis the module still imports and says how to install it.
"""
import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st

from rso_ref import backend
from rso_ref.data.convex import LeastSquares, LogisticRegression
from rso_ref.nn.activations import ACTIVATIONS
from rso_ref.nn.losses import LOSSES
from rso_ref.optim.registry import OPTIMIZERS
from rso_ref.rso import W0_CHOICES, group_directions, meta_objective, resolve_groups, rso_step
from rso_ref.testing import assert_close
from rso_ref.testing import strategies as S
from rso_ref.testing.problems import all_problems, spd_matrix

EPS = np.finfo(np.float64).eps

# The xp fixture is a stateless namespace, safe to share between the examples of a test.
# Few examples per backend: JAX compiles its operations for each new shape (about 2 s
# per drawn MLP); the distributions themselves are covered on NumPy.
XP_SETTINGS = settings(max_examples=5, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])

# Coverage checks look for one example of a kind among fresh draws, without shrinking it.
COVER = settings(max_examples=500, phases=[Phase.generate], database=None, derandomize=True)


def drawn(strategy, predicate):
    """An example of ``strategy`` satisfying ``predicate`` (NoSuchExample if never drawn)."""
    return find(strategy, predicate, settings=COVER)


def half_squared_norm(params):
    """f = 1/2 sum |p_j|^2, grads = params: an oracle for any list of arrays."""
    xp = backend.array_namespace(*params)
    return 0.5 * sum(float(xp.sum(p * p)) for p in params), list(params)


def is_partition(groups, n):
    return sorted(i for g in groups for i in g) == list(range(n)) and all(groups)


# --- quadratics and convex problems -----------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(S.spd_quadratics())
def test_spd_quadratic_is_minimised_at_x_star_with_the_asked_condition(q):
    A, b, x = q.A, q.b, q.x_star
    n = q.dim
    np.testing.assert_array_equal(A, A.T)
    # Eigenvalues: log-spaced in [1, cond]; each is off by rounding, eps |A| n = eps cond n
    # <= 2e-11 for cond <= 1e4, so 1e-8 relative leaves a wide margin and still fails
    # for any other spacing.
    expected = np.logspace(0.0, math.log10(q.cond), n)
    np.testing.assert_allclose(np.linalg.eigvalsh(A), expected, rtol=1e-8)
    np.testing.assert_allclose(np.linalg.cond(A), q.cond, rtol=1e-8)
    assert (q.mu, q.L) == (1.0, q.cond)
    # LU is backward stable: |A x* - b| <= c n eps cond |b|, about 1e-11 |b| here.
    f, g = q.value_and_grad(x)
    assert np.linalg.norm(g) <= 1e-10 * np.linalg.norm(b)
    assert_close(f, q.f_star, rtol=1e-10)
    # x* minimises: f(x* + d) - f* = d'Ad / 2 > 0 for any d.
    d = np.random.default_rng(n).standard_normal(n)
    assert q.value_and_grad(x + d)[0] > q.f_star


@settings(max_examples=15, deadline=None)
@given(S.spd_quadratics(n=(2, 6), cond=1e3))
def test_fixed_condition_number_is_exact(q):
    assert q.cond == 1e3
    np.testing.assert_allclose(np.linalg.cond(q.A), 1e3, rtol=1e-8)  # error ~ eps cond n


def test_spd_quadratic_builder_uses_the_shared_matrix():
    q = S.spd_quadratic(5, 100.0, seed=3)
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(q.A, spd_matrix(5, 100.0, gen))
    np.testing.assert_array_equal(q.b, gen.standard_normal(5))


@settings(max_examples=10, deadline=None)
@given(S.spd_quadratics(n=st.sampled_from([1, 7]), cond=st.just(50.0)))
def test_spd_quadratics_take_strategies_and_n_one_has_condition_one(q):
    assert q.dim in (1, 7)
    assert q.cond == (1.0 if q.dim == 1 else 50.0)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"n": 0}, ValueError, "n"),
    ({"n": 2.0}, TypeError, "n"),
    ({"n": (3, 2)}, ValueError, r"n\[1\]"),
    ({"n": (1, 2, 3)}, ValueError, "n"),
    ({"cond": 0.5}, ValueError, "cond"),
    ({"cond": (10.0, 2.0)}, ValueError, r"cond\[1\]"),
    ({"cond": math.nan}, ValueError, "cond"),
    ({"dtype": "float16"}, TypeError, "dtype"),
])
def test_spd_quadratics_refuse_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=f"^{name}"):
        S.spd_quadratics(**kwargs)


def test_spd_quadratic_refuses_a_condition_number_for_n_one():
    with pytest.raises(ValueError, match="^cond must be 1 when n=1"):
        S.spd_quadratic(1, 10.0)


@XP_SETTINGS
@given(data=st.data())
def test_convex_problems_and_quadratics_are_minimised_at_x_star(xp, on_device, data):
    p = data.draw(st.one_of(S.convex_problems(xp=xp), S.spd_quadratics(xp=xp)))
    on_device(p.A, p.b, p.x_star)
    f, g = p.value_and_grad(p.x_star)
    on_device(g)
    f0, g0 = p.value_and_grad(0.0 * p.x_star)
    norm = lambda v: float(xp.linalg.vector_norm(v))  # noqa: E731
    # The convex builders certify 1e-13 on the host, a quadratic's LU about n eps cond;
    # another backend's summation order adds rounding of order eps cond |grad f(0)|
    # (cond <= 1e4).
    assert norm(g) <= 1e-10 * norm(g0)
    # f* may be 0 (a consistent least-squares system): the rounding of f is relative to
    # the size of its terms, of the order of f(0).
    assert_close(f, p.f_star, rtol=1e-10, atol=1e-10 * abs(f0))
    assert 0.0 < p.mu <= p.L
    d = backend.asarray(np.random.default_rng(0).standard_normal(p.dim), like=p.x_star)
    assert p.value_and_grad(p.x_star + d)[0] > p.f_star


@settings(max_examples=10, deadline=None)
@given(S.convex_problems(kinds=["least_squares", "logistic_regression"]))
def test_convex_problems_draw_only_the_asked_kinds(p):
    assert isinstance(p, (LeastSquares, LogisticRegression))


def test_every_convex_kind_is_drawn():
    for kind, cls in zip(S.CONVEX_KINDS, (S.Quadratic, LeastSquares, LogisticRegression)):
        assert isinstance(drawn(S.convex_problems(), lambda p, c=cls: isinstance(p, c)), cls)


def test_convex_problems_refuse_unknown_kinds():
    with pytest.raises(ValueError, match=r"^kinds\[1\] must be one of"):
        S.convex_problems(kinds=["quadratic", "ridge"])
    with pytest.raises(ValueError, match="^kinds must name at least one"):
        S.convex_problems(kinds=[])


@settings(max_examples=25, deadline=None)
@given(S.reference_problems())
def test_problems_come_from_the_reference_set_fresh(problem):
    assert problem.name in {p.name for p in all_problems()}
    again = next(p for p in all_problems() if p.name == problem.name)
    assert problem.x0 is not again.x0
    np.testing.assert_array_equal(problem.x0, again.x0)


@settings(max_examples=10, deadline=None)
@given(S.reference_problems(names=["wood", "beale"]))
def test_problems_draw_only_the_named_ones(problem):
    assert problem.name in ("wood", "beale")


def test_problems_refuse_unknown_names():
    with pytest.raises(ValueError, match="^names must be one of"):
        S.reference_problems(names="rosenbrock")


# --- parameter lists, partitions, groupings ---------------------------------------------

@XP_SETTINGS
@given(data=st.data())
def test_param_lists_of_given_shapes_on_every_backend(xp, on_device, data):
    shapes = [(3, 2), (4,), ()]
    params = data.draw(S.param_lists(shapes, xp=xp))
    on_device(params)
    assert [tuple(p.shape) for p in params] == shapes
    assert all(p.dtype == xp.float64 for p in params)
    single = data.draw(S.param_lists(shapes, xp=xp, dtype="float32"))
    assert all(p.dtype == xp.float32 for p in single)


@settings(max_examples=25, deadline=None)
@given(S.param_lists())
def test_param_lists_default_shapes(params):
    assert 1 <= len(params) <= 4
    assert all(0 <= p.ndim <= 3 and all(1 <= s <= 4 for s in p.shape) for p in params)
    assert all(isinstance(p, np.ndarray) and p.dtype == np.float64 for p in params)


def test_param_lists_go_to_the_device_asked_for():
    import array_api_strict

    xp = backend.namespace("array_api_strict")
    device = array_api_strict.Device("device1")
    params = drawn(S.param_lists([(2,)], xp=xp, device=device), lambda p: True)
    assert backend.device(params[0]) == device


@pytest.mark.parametrize("shapes, error, name", [
    ([(2, -1)], ValueError, r"shapes\[0\]\[1\]"),
    ([3], TypeError, r"shapes\[0\]"),
    ("(2, 3)", TypeError, "shapes"),
])
def test_param_lists_refuse_bad_shapes(shapes, error, name):
    with pytest.raises(error, match=f"^{name}"):
        S.param_lists(shapes)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(1, 8))
def test_partitions_are_partitions(data, n):
    groups = data.draw(S.partitions(n))
    assert is_partition(groups, n)
    assert all(g == sorted(g) for g in groups)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), case=S.mlp_cases())
def test_every_drawn_grouping_is_a_partition_rso_step_accepts(data, case):
    n = len(case.params)
    structure = {"layers": case.model.layers(), "blocks": case.model.blocks()}
    groups = data.draw(S.groupings(n, **structure))
    resolved = resolve_groups(groups, n, **structure)
    assert is_partition(resolved, n)
    res = rso_step(case.value_and_grad, case.params, lr=0.1, groups=groups, meta_iters=1,
                   **structure)
    assert res.w.shape == (len(resolved),)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(1, 6))
def test_without_structure_no_string_grouping_is_drawn(data, n):
    groups = data.draw(S.groupings(n))
    assert groups is None or is_partition(groups, n)


def test_every_named_grouping_is_drawn():
    layers = [[0, 1], [2, 3], [4, 5]]
    strategy = S.groupings(6, layers=layers, blocks=[[0, 1, 2, 3], [4, 5]])
    for form in ("layer", "block", "uniform:4", None):
        assert drawn(strategy, lambda g, f=form: g == f) == form
    assert is_partition(drawn(strategy, lambda g: isinstance(g, list) and len(g) == 6), 6)


def test_groupings_refuse_a_structure_that_does_not_fit():
    with pytest.raises(ValueError, match="^layers is not a grouping of 2 params"):
        S.groupings(2, layers=[[0, 1], [2]])
    with pytest.raises(ValueError, match="^n_params"):
        S.groupings(0)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 5))
def test_every_invalid_grouping_is_rejected_naming_groups(data, n):
    groups = data.draw(S.invalid_groupings(n))
    params = [np.ones(2) for _ in range(n)]
    with pytest.raises((ValueError, TypeError), match="^groups"):
        rso_step(half_squared_norm, params, lr=0.1, groups=groups)


def test_every_kind_of_invalid_grouping_is_drawn():
    strategy = S.invalid_groupings(3)
    kinds = {
        "no group": lambda g: g == [],
        "empty group": lambda g: isinstance(g, list) and [] in g,
        "overlap": lambda g: isinstance(g, list) and g and all(isinstance(x, list) for x in g)
        and sorted(i for x in g for i in x) != sorted(set(i for x in g for i in x)),
        "out of range": lambda g: isinstance(g, list) and any(
            isinstance(i, int) and not isinstance(i, bool) and not 0 <= i < 3
            for x in g if isinstance(x, list) for i in x),
        "non-integer": lambda g: isinstance(g, list) and any(
            isinstance(i, (bool, float, str, type(None))) for x in g if isinstance(x, list)
            for i in x),
        "bad string": lambda g: isinstance(g, str),
        "not a list": lambda g: not isinstance(g, (list, str)),
        "flat list": lambda g: isinstance(g, list) and g and not isinstance(g[0], list),
    }
    for predicate in kinds.values():
        drawn(strategy, predicate)  # raises NoSuchExample when that kind is never drawn


# --- MLP cases, options, optimizers -----------------------------------------------------

@XP_SETTINGS
@given(data=st.data())
def test_mlp_cases_run_on_every_backend_and_device(xp, on_device, data):
    case = data.draw(S.mlp_cases(xp=xp))
    on_device(case.params, case.X, case.y)
    sizes = case.model.sizes
    assert 1 <= len(sizes) - 2 <= 4 and all(1 <= w <= 6 for w in sizes[1:-1])
    assert case.X.shape[0] == case.y.shape[0]
    loss, grads = case.value_and_grad(case.params)
    on_device(grads)
    host = [backend.to_numpy(p) for p in case.params]
    ref_loss, ref_grads = case.model.value_and_grad(host, backend.to_numpy(case.X),
                                                    backend.to_numpy(case.y))
    # The same float64 operations in another library: only summation order differs.
    assert_close(loss, ref_loss, rtol=1e-10)
    for g, r in zip(grads, ref_grads):
        assert_close(backend.to_numpy(g), r, rtol=1e-10, atol=1e-14)


def test_every_activation_and_loss_is_drawn():
    for activation in ACTIVATIONS:
        drawn(S.mlp_cases(), lambda c, a=activation: c.model.activation == a)
    for loss in LOSSES:
        drawn(S.mlp_cases(), lambda c, k=loss: c.model.loss_kind == k)


def test_mlp_cases_in_float32():
    case = drawn(S.mlp_cases(dtype="float32"), lambda c: c.model.loss_kind == "mse")
    assert all(p.dtype == np.float32 for p in case.params)
    assert case.X.dtype == case.y.dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(data=st.data(), case=S.mlp_cases())
def test_rso_options_are_accepted_and_never_end_above_the_start(data, case):
    groups = data.draw(S.partitions(len(case.params)))
    options = data.draw(S.rso_options(len(groups)))
    res = rso_step(case.value_and_grad, case.params, groups=groups, **options)
    assert res.w.shape == (len(groups),) and np.all(np.isfinite(res.w))
    assert res.nit <= options["meta_iters"]
    # The meta L-BFGS only accepts decreasing steps and the safeguard only a better w:
    # f never ends above its value at w0 ("previous" without previous_w is uniform).
    _, grads = case.value_and_grad(case.params)
    directions, _ = group_directions(grads, groups, options["normalize"])
    f = meta_objective(case.value_and_grad, case.params, directions, groups, options["lr"])
    w0 = options["w0"]
    start = np.full(len(groups), 1.0 / len(groups)) if w0 in ("uniform", "previous") else \
        np.ones(len(groups)) if w0 == "ones" else np.asarray(w0)
    assert res.loss_after <= f(start)[0]


def test_every_w0_is_drawn():
    for w0 in W0_CHOICES:
        drawn(S.rso_options(), lambda o, w=w0: o["w0"] == w)
    explicit = drawn(S.rso_options(3), lambda o: isinstance(o["w0"], list))
    assert len(explicit["w0"]) == 3 and all(-1.0 <= w <= 2.0 for w in explicit["w0"])
    assert drawn(S.rso_options(), lambda o: o["lr"] > 1.0)["lr"] <= 10.0
    assert drawn(S.rso_options(), lambda o: o["lr"] < 1e-2)["lr"] >= 1e-3


@settings(max_examples=40, deadline=None)
@given(case=S.optimizer_cases(), params=S.param_lists())
def test_optimizer_cases_construct_and_take_a_step(case, params):
    # entries are drawn by hypothesis: all-zero parameters (a zero gradient here) occur
    assume(any(np.any(np.abs(p) > 1e-6) for p in params))
    name, hyper = case
    opt = OPTIMIZERS[name](**hyper)
    state = opt.init(params)
    _, grads = half_squared_norm(params)
    oracles = {"value_and_grad": half_squared_norm} if name == "rso" else {}
    new, state = opt.step(params, grads, state, **oracles)
    assert state["count"] == 1
    assert [p.shape for p in new] == [p.shape for p in params]
    assert all(np.all(np.isfinite(p)) for p in new)
    # A step on nonzero gradients moves the parameters.
    assert any(not np.array_equal(a, b) for a, b in zip(new, params))


def test_zero_dimensional_parameters_stay_arrays_through_a_step():
    # On NumPy, float * 0-d array is a NumPy scalar: tree's leaf-wise arithmetic and
    # rso.apply_weights turn such results back into 0-d arrays (backend.keep_zero_d), so
    # a 0-d parameter stays one through two steps (the second starts from the first's).
    params = [np.asarray(0.5), np.ones(2)]
    for name, cls in OPTIMIZERS.items():
        opt = cls(lr=0.1)
        oracles = {"value_and_grad": half_squared_norm} if name == "rso" else {}
        state = opt.init(params)
        new = params
        for _ in range(2):
            new, state = opt.step(new, half_squared_norm(new)[1], state, **oracles)
            assert all(isinstance(p, np.ndarray) for p in new), name
            assert [p.shape for p in new] == [(), (2,)], name


def test_every_optimizer_and_hyperparameter_is_drawn():
    left_at_default = {"groups", "layers", "blocks", "c1", "c2", "maxls"}
    for name, cls in OPTIMIZERS.items():
        strategy = S.optimizer_cases(name)
        for arg in inspect.signature(cls).parameters:
            if arg not in left_at_default:
                drawn(strategy, lambda c, a=arg: a in c[1])
        assert drawn(strategy, lambda c: True)[0] == name


@settings(max_examples=25, deadline=None)
@given(S.optimizer_cases("sgd"))
def test_sgd_nesterov_is_drawn_only_in_its_valid_form(case):
    _, hyper = case
    if hyper.get("nesterov"):
        assert hyper["momentum"] > 0 and hyper.get("dampening", 0.0) == 0.0


def test_optimizer_cases_refuse_unknown_names():
    with pytest.raises(ValueError, match="^name must be one of"):
        S.optimizer_cases("adagrad")


# --- hypothesis is optional -------------------------------------------------------------

_WITHOUT_HYPOTHESIS = """
import sys
sys.modules["hypothesis"] = None  # any import of hypothesis now raises ImportError
import rso_ref.testing
from rso_ref.testing import strategies as S
calls = {"spd_quadratics": (), "convex_problems": (), "reference_problems": (),
         "arrays": ((2,),), "param_lists": (), "gradient_sequences": ([],),
         "partitions": (3,), "groupings": (3,), "invalid_groupings": (3,),
         "group_weights": (3,), "mlp_cases": (), "rso_options": (), "optimizer_cases": ()}
assert sorted(calls) == sorted(n for n in S.__all__ if n.islower() and n != "spd_quadratic")
for name, args in calls.items():
    try:
        getattr(S, name)(*args)
    except ImportError as exc:
        print(exc)
    else:
        print(name, "did not raise")
print(S.spd_quadratic(3, 10.0).dim)
"""


def test_without_hypothesis_the_module_imports_and_strategies_say_how_to_install():
    out = subprocess.run([sys.executable, "-c", _WITHOUT_HYPOTHESIS], capture_output=True,
                         text=True, timeout=120, check=True).stdout.splitlines()
    assert len(out) == 14
    for line in out[:-1]:
        assert line.endswith("needs hypothesis: pip install 'rso_ref[testing]'"), line
    assert out[-1] == "3"  # the builder needs no hypothesis


# --- values come from hypothesis --------------------------------------------------------

def _decay_on_params(p, g):
    return g + 0.1 * p


def _decay_on_grads(p, g):  # the L2 bug that equal params and grads hide
    return g + 0.1 * g


def test_independent_arrays_shrink_independently_not_to_the_same_array():
    # The bug shows only where params != grads: hypothesis must find it and shrink to a
    # minimal pair that still differs (a seeded generator shrank both to seed 0's array).
    pair = st.tuples(S.param_lists([(3,)]), S.gradient_sequences([np.zeros(3)], steps=1))
    params, grads = find(pair, lambda c: not np.array_equal(
        _decay_on_params(c[0][0], c[1][0][0]), _decay_on_grads(c[0][0], c[1][0][0])),
        settings=settings(database=None, max_examples=500))
    p, g = params[0], grads[0][0]
    assert not np.array_equal(p, g)
    # shrunk as hypothesis.extra.numpy shrinks: towards 0, then simple values such as 1
    assert set(np.abs(np.concatenate([p, g]))) <= {0.0, 1.0}, (p, g)
    assert np.count_nonzero(p) == 0 or np.count_nonzero(g) == 0, (p, g)


def test_a_minimal_array_shrinks_towards_zero_and_then_one():
    assert np.array_equal(find(S.arrays((2, 2)), lambda a: True), np.zeros((2, 2)))
    one = find(S.arrays((3,)), lambda a: np.count_nonzero(a) == 1,
               settings=settings(database=None))
    assert sorted(np.abs(one)) == [0.0, 0.0, 1.0]


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_elements_and_scale_choose_the_entries(data):
    a = data.draw(S.arrays((4,), elements=st.floats(2.0, 3.0), scale=10.0))
    assert np.all((20.0 <= a) & (a <= 30.0))
    params = data.draw(S.param_lists([(2,), ()], scale=1e-3))
    assert all(np.all(np.abs(p) <= 1e-3) for p in params)
    seq = data.draw(S.gradient_sequences(params, steps=(2, 3), elements=st.just(0.5)))
    assert 2 <= len(seq) <= 3 and all(np.all(g == 0.5) for step in seq for g in step)
    assert [[g.shape for g in step] for step in seq] == [[(2,), ()]] * len(seq)


@XP_SETTINGS
@given(data=st.data())
def test_gradient_sequences_follow_the_namespace_device_and_dtype_of_like(xp, on_device, data):
    like = data.draw(S.param_lists([(3,), (2, 2)], xp=xp, dtype="float32"))
    seq = data.draw(S.gradient_sequences(like, steps=2))
    on_device(*[g for step in seq for g in step])
    assert all(g.dtype == xp.float32 for step in seq for g in step)
    single = data.draw(S.gradient_sequences(like[0], steps=3))
    assert len(single) == 3 and all(tuple(g.shape) == (3,) for g in single)


def test_bad_elements_scale_and_like_are_named():
    with pytest.raises(TypeError, match="^elements"):
        S.arrays((2,), elements=[1.0])
    with pytest.raises(ValueError, match="^scale"):
        S.param_lists(scale=0.0)
    with pytest.raises(ValueError, match="^like"):
        S.gradient_sequences([])
    with pytest.raises(ValueError, match="^steps"):
        S.gradient_sequences([np.zeros(2)], steps=0)


def test_strategy_reprs_are_the_public_calls():
    assert repr(S.param_lists([(2, 3)])) == "param_lists(shapes=[(2, 3)])"
    assert repr(S.optimizer_cases("adam")) == "optimizer_cases(name='adam')"
    assert repr(S.spd_quadratics(n=3)) == "spd_quadratics(cond=(1.0, 10000.0), n=3)"
    for name in S.__all__:
        if name.islower() and name != "spd_quadratic":
            args = (3,) if name in ("partitions", "groupings", "invalid_groupings",
                                    "group_weights") else ((2,),) if name == "arrays" else \
                ([np.zeros(2)],) if name == "gradient_sequences" else ()
            assert repr(getattr(S, name)(*args)).startswith(f"{name}("), name


def test_reference_and_convex_problems_share_one_protocol():
    from rso_ref.lbfgs import minimize

    problems = [drawn(S.reference_problems(names="beale"), lambda p: True),
                drawn(S.convex_problems(kinds="quadratic"), lambda p: p.dim > 1)]
    for p in problems:
        assert p.x0.shape == (p.dim,)
        value, grad = p.value_and_grad(p.x0)
        assert isinstance(value, float) and grad.shape == (p.dim,)
        res = minimize(p.value_and_grad, p.x0, gtol=1e-10)
        assert_close(res.fun, p.f_star, rtol=1e-8, atol=1e-12)


def test_default_entries_are_zero_or_far_from_underflow():
    # X = 6.9e-308 times a weight underflows to a subnormal, which XLA on CPU flushes to
    # zero: JAX and NumPy then disagree at a ReLU kink although both are right. The
    # default entries are 0 or at least 1e-150 in magnitude, so that never happens.
    from hypothesis.errors import NoSuchExample

    tiny = lambda a: bool(np.any((np.abs(a) > 0.0) & (np.abs(a) < 1e-150)))  # noqa: E731
    with pytest.raises(NoSuchExample):
        drawn(S.arrays((6,)), tiny)
    assert drawn(S.arrays((6,)), lambda a: bool(np.any(a == 0.0))) is not None
