"""Solvers and optimizers off the home device and on JAX (issue 12).

Every ``xp`` case runs here, array_api_strict's second device ``"device1"`` (the stand-in
for a GPU: it refuses to mix devices and to hand arrays to NumPy) and JAX included; each
test asserts that every returned array lives on the device of its inputs (``on_device``)
and that the numbers are NumPy's. The host data the API documents (``w``, losses,
norms) are checked to be host values. ``xp32`` runs float32 on array_api_strict's
float32-only devices. The JAX-only tests compare with NumPy to 1e-12 on reference
problems and on a small MLP, and drive ``rso_step`` with a ``jax.jit``-compiled oracle.
"""
import numpy as np
import pytest

from rso_ref import backend, tree
from rso_ref.hessian import fd_hvp
from rso_ref.lanczos import hutchinson_trace, top_eigenpairs
from rso_ref.lbfgs import History, minimize
from rso_ref.nn import MLP
from rso_ref.optim import LBFGS, RSO, SGD, Adam, BulkSGD, DomSGD, InterpolatedSGD, Muon
from rso_ref.rso import rso_step
from rso_ref.testing.problems import all_problems, extended_rosenbrock
from test_rso import make_params, quartic_oracle

# The same float64 operations in another library or on another device: only the
# summation order of reductions may differ (~1e-16 relative per dot product), which the
# few meta iterations below amplify to well under 1e-12.
TIGHT = 1e-12

#: rso_step options, each crossed with every backend (params of test_rso.make_params:
#: four arrays).
RSO_OPTIONS = {
    "default": {},
    "index_groups": {"groups": [[0, 1], [2, 3]]},
    "layer_groups": {"groups": "layer", "layers": [[0, 1], [2], [3]]},
    "uniform_groups": {"groups": "uniform:2", "layers": [[0], [1], [2], [3]]},
    "normalize": {"normalize": True},
    "safeguard": {"safeguard": True},
    "w0_ones": {"w0": "ones"},
    "w0_previous": {"w0": "previous", "previous_w": [0.4, 0.3, 0.2, 0.1]},
    "w0_array": {"w0": [0.5, 0.1, 0.3, 0.2]},
    "meta_oracle": {"meta_value_and_grad": "other"},
    "meta_iters_0": {"meta_iters": 0},
}


def _rso_run(xp, options, *, w0_on_device=False):
    options = {"meta_iters": 4, **options}
    if options.get("meta_value_and_grad") == "other":
        options["meta_value_and_grad"] = quartic_oracle(xp, coupling=0.1)
    if w0_on_device and "w0" in options and not isinstance(options["w0"], str):
        options["w0"] = xp.asarray(options["w0"], dtype=xp.float64)  # weights on the device
    return rso_step(quartic_oracle(xp), make_params(xp, seed=4), lr=0.05, **options)


@pytest.mark.parametrize("case", RSO_OPTIONS)
def test_rso_step_with_every_option_stays_on_the_device(xp, on_device, case):
    ref = _rso_run(backend.namespace("numpy"), RSO_OPTIONS[case])
    res = _rso_run(xp, RSO_OPTIONS[case], w0_on_device=True)
    on_device(res.params)
    # w and the group norms are documented host float64 arrays, on every backend.
    for host in (res.w, res.grad_norms):
        assert backend.is_numpy(backend.array_namespace(host)) and host.dtype == np.float64
    assert (res.nit, res.nfev, res.safeguarded) == (ref.nit, ref.nfev, ref.safeguarded)
    np.testing.assert_allclose(res.w, ref.w, rtol=TIGHT, atol=TIGHT)
    for p, q in zip(res.params, ref.params):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=TIGHT, atol=TIGHT)
    assert res.loss_after == pytest.approx(ref.loss_after, rel=TIGHT)


def _train_rso(xp, steps=4):
    """Four steps of the RSO optimizer through warm-up, a solve, w reuse and a warm start."""
    opt = RSO(lr=0.05, meta_iters=3, w0="previous", warmup_steps=1, meta_every=2,
              normalize=True, safeguard=True)
    oracle, params = quartic_oracle(xp), make_params(xp, seed=6)
    state = opt.init(params)
    for _ in range(steps):
        loss, grads = oracle(params)
        params, state = opt.step(params, grads, state, value_and_grad=oracle, loss=loss)
    return params, state


def test_rso_optimizer_stays_on_the_device(xp, on_device):
    ref, ref_state = _train_rso(backend.namespace("numpy"))
    params, state = _train_rso(xp)
    on_device(params)
    assert all(type(v) is float for v in state["w"])  # host data, as documented
    np.testing.assert_allclose(state["w"], ref_state["w"], rtol=TIGHT)
    for p, q in zip(params, ref):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=TIGHT, atol=TIGHT)


def _quadratic_with_fd_hvp(xp):
    """A convex quadratic with its gradient oracle, and the central-difference HVP."""
    gen = np.random.default_rng(5)
    q, _ = np.linalg.qr(gen.standard_normal((10, 10)))
    A = xp.asarray((q * np.linspace(1.0, 8.0, 10)) @ q.T)
    params = [xp.asarray(gen.standard_normal((2, 3))), xp.asarray(gen.standard_normal(4))]

    def value_and_grad(p):
        g = xp.matmul(A, tree.flatten(p))
        return 0.5 * float(xp.sum(tree.flatten(p) * g)), tree.unflatten(g, p)

    return params, value_and_grad, lambda p, v: fd_hvp(value_and_grad, p, v)


@pytest.mark.parametrize("make", [lambda: DomSGD(lr=0.1, k=2), lambda: BulkSGD(lr=0.1, k=2),
                                  lambda: InterpolatedSGD(0.5, 2.0, lr=0.1, k=3)],
                         ids=["dom", "bulk", "interpolated"])
def test_subspace_sgd_with_a_finite_difference_hvp_stays_on_the_device(xp, on_device, make):
    def run(ns):
        opt = make()
        params, value_and_grad, hvp_fn = _quadratic_with_fd_hvp(ns)
        state = opt.init(params)
        for _ in range(2):
            _, grads = value_and_grad(params)
            params, state = opt.step(params, grads, state, hvp_fn=hvp_fn)
        return params, state

    ref, _ = run(backend.namespace("numpy"))
    params, state = run(xp)
    on_device(params, state["basis"], state["eigenvalues"])
    for p, r in zip(params, ref):
        # The eigenvectors come from an FD operator (error ~1e-10 relative, Lanczos tol
        # 1e-8): backends agree far below that, 1e-9 leaves the products' rounding room.
        np.testing.assert_allclose(backend.to_numpy(p), r, rtol=0, atol=1e-9)


# --- float32-only devices ---------------------------------------------------------------

def test_float32_solvers_run_on_float32_only_devices(xp32, on_device):
    problem = extended_rosenbrock(4)
    x0 = xp32.asarray(problem.x0, dtype=xp32.float32)
    res = minimize(problem.fun(xp32), x0, gtol=1e-3)
    assert res.x.dtype == xp32.float32 and res.fun < problem.value(x0, xp32)
    on_device(res.x, res.jac)
    params = [xp32.asarray(p, dtype=xp32.float32) for p in make_params(np, seed=1)]
    step = rso_step(quartic_oracle(xp32), params, lr=0.05, meta_iters=3, normalize=True,
                    safeguard=True)
    assert all(p.dtype == xp32.float32 for p in step.params)
    assert step.loss_after < step.loss_before
    on_device(step.params)
    opt = LBFGS(m=3)
    lparams = [xp32.reshape(x0, (2, 2))]

    def value_and_grad(p):
        f, g = problem.fun(xp32)(tree.flatten(p))
        return f, tree.unflatten(g, p)

    loss, grads = value_and_grad(lparams)
    new, state = opt.step(lparams, grads, opt.init(lparams), value_and_grad=value_and_grad,
                          loss=loss)
    on_device(new, state["s"], state["y"], state["rho"])
    eig = top_eigenpairs(lambda v: 2.0 * v, 6, 1, tol=1e-5, xp=xp32, dtype="float32",
                         device=backend.device(x0))
    on_device(eig.eigenvalues, eig.eigenvectors)


# --- JAX: equal to NumPy to 1e-12, jitted oracles ---------------------------------------

#: Reference problems where XLA's and NumPy's rounding leave the L-BFGS path unchanged:
#: equal nit and nfev, and x, f equal to 1e-12 (measured: at most 4e-12 on watson_6, so
#: ill-conditioned ones, where ulps part the paths, are left to the 1e-8 comparison of
#: tests/test_lbfgs.py).
JAX_EXACT = ("extended_rosenbrock_10", "powell_singular_8", "wood", "beale", "helical_valley",
             "box_3d", "trigonometric_10", "himmelblau", "matyas", "zakharov_5")


@pytest.fixture
def jnp():
    pytest.importorskip("jax")
    return backend.array_namespace(backend.namespace("jax").asarray([0.0]))


@pytest.fixture(autouse=True)
def _jax_x64(request):
    if "jnp" in request.fixturenames:
        import jax

        jax.config.update("jax_enable_x64", True)


@pytest.mark.portable
@pytest.mark.parametrize("name", JAX_EXACT)
def test_minimize_on_jax_equals_numpy(jnp, name):
    problem = next(p for p in all_problems() if p.name == name)
    ref = minimize(problem.fun(backend.namespace("numpy")), problem.x0)
    res = minimize(problem.fun(jnp), jnp.asarray(problem.x0))
    assert backend.backend_name(backend.array_namespace(res.x, res.jac)) == "jax"
    assert (res.nit, res.nfev, res.status) == (ref.nit, ref.nfev, ref.status)
    x = backend.to_numpy(res.x)
    assert np.linalg.norm(x - ref.x) <= TIGHT * max(np.linalg.norm(ref.x), 1.0)
    assert abs(res.fun - ref.fun) <= TIGHT * max(abs(ref.fun), 1.0)


def test_history_push_is_a_functional_update_on_jax(jnp):
    # JAX arrays are immutable: push replaces the stored arrays instead of writing them, in
    # one compiled update that reuses their buffers (donated: O(n) per pair, not O(mn)).
    history = History.empty(2, jnp.zeros(3), jnp)
    first = history.s_hist
    assert history.push(jnp.asarray([1.0, 0.0, 0.0]), jnp.asarray([2.0, 0.0, 0.0]))
    assert history.push(jnp.asarray([0.0, 1.0, 0.0]), jnp.asarray([0.0, 4.0, 0.0]))
    assert history.s_hist is not first and first.is_deleted()  # never read stale, no copy
    np.testing.assert_array_equal(backend.to_numpy(history.s_hist), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(backend.to_numpy(history.rho), [0.5, 0.25])
    assert (history.head, history.size, history.gamma) == (0, 2, 0.25)


def _mlp_problem(xp):
    """A 6-5-3 MLP (cross-entropy) on 20 host-drawn samples, its oracle and parameters."""
    model = MLP([6, 5, 3], activation="tanh")
    gen = np.random.default_rng(0)
    X, y = xp.asarray(gen.standard_normal((20, 6))), xp.asarray(gen.integers(0, 3, 20))
    params = model.init(1, like=X)
    return model, params, lambda p: model.value_and_grad(p, X, y)


@pytest.mark.portable
def test_mlp_solvers_on_jax_equal_numpy(jnp):
    ref_model, ref_params, ref_vg = _mlp_problem(backend.namespace("numpy"))
    model, params, vg = _mlp_problem(jnp)

    def check(a, b):
        for p, q in zip(a, b):
            assert backend.backend_name(backend.array_namespace(p)) == "jax"
            np.testing.assert_allclose(backend.to_numpy(p), q, rtol=TIGHT, atol=TIGHT)

    options = dict(lr=0.5, groups="layer", layers=model.layers(), normalize=True,
                   safeguard=True)
    ref, res = rso_step(ref_vg, ref_params, **options), rso_step(vg, params, **options)
    assert (res.nit, res.nfev) == (ref.nit, ref.nfev)
    np.testing.assert_allclose(res.w, ref.w, rtol=TIGHT)
    check(res.params, ref.params)

    def flat(oracle, like):
        def fun(x):
            f, g = oracle(tree.unflatten(x, like))
            return f, tree.flatten(g)
        return fun

    ref_min = minimize(flat(ref_vg, ref_params), tree.flatten(ref_params), maxiter=15)
    res_min = minimize(flat(vg, params), tree.flatten(params), maxiter=15)
    assert (res_min.nit, res_min.nfev) == (ref_min.nit, ref_min.nfev)
    check([res_min.x], [ref_min.x])

    def lbfgs_steps(p, oracle):
        opt = LBFGS(m=4)
        state = opt.init(p)
        for _ in range(4):
            loss, grads = oracle(p)
            p, state = opt.step(p, grads, state, value_and_grad=oracle, loss=loss)
        return p

    check(lbfgs_steps(params, vg), lbfgs_steps(ref_params, ref_vg))


@pytest.mark.portable
def test_lanczos_on_jax_equals_numpy(jnp):
    gen = np.random.default_rng(2)
    q, _ = np.linalg.qr(gen.standard_normal((30, 30)))
    A = (q * np.linspace(-1.0, 5.0, 30)) @ q.T
    Aj = jnp.asarray(A)
    ref = top_eigenpairs(lambda v: A @ v, 30, 3, tol=1e-10, seed=1, verify=True)
    res = top_eigenpairs(lambda v: Aj @ v, 30, 3, tol=1e-10, seed=1, verify=True, xp=jnp)
    assert backend.backend_name(backend.array_namespace(res.eigenvectors)) == "jax"
    # Same start vector; eigenvalues agree to rounding (tol 1e-10 bounds each run's own
    # error by ~1e-20 here, so what is left is summation order).
    np.testing.assert_allclose(backend.to_numpy(res.eigenvalues), ref.eigenvalues, rtol=TIGHT)
    assert res.n_matvec == ref.n_matvec


def test_rso_step_takes_a_jitted_oracle(jnp):
    import jax

    model = MLP([5, 4, 3], activation="tanh")
    gen = np.random.default_rng(3)
    X, y = jnp.asarray(gen.standard_normal((32, 5))), jnp.asarray(gen.integers(0, 3, 32))
    params = model.init(0, like=X)
    jitted = jax.jit(jax.value_and_grad(lambda p: model.loss(p, X, y, xp=jnp)))
    options = dict(lr=0.5, groups="layer", layers=model.layers(), meta_iters=4)
    res = rso_step(jitted, params, **options)
    ref = rso_step(lambda p: model.value_and_grad(p, X, y), params, **options)  # hand backward
    assert res.loss_after < res.loss_before and (res.nit, res.nfev) == (ref.nit, ref.nfev)
    assert all(isinstance(p, jax.Array) for p in res.params)
    # Compiled autodiff against the eager hand-written backward pass: the same float64
    # quantities in another operation order, ulps apart per call (measured 2e-16 in w).
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-10)


# --- arrays on two devices: one ValueError naming the argument and both devices ----------

@pytest.fixture
def two_devices():
    import array_api_strict as strict

    return strict, strict.Device("device1"), strict.Device("CPU_DEVICE")


def test_minimize_names_a_gradient_on_another_device(two_devices):
    strict, device1, cpu = two_devices
    fun = lambda x: (float(strict.sum(x * x)), strict.asarray([2.0, 2.0], device=cpu))  # noqa: E731
    with pytest.raises(ValueError, match=r"fun returned a gradient on device .*CPU_DEVICE.* "
                                         r"for x on device .*device1.* at x0"):
        minimize(fun, strict.asarray([1.0, 1.0], device=device1))


def test_rso_step_names_params_and_gradients_on_two_devices(two_devices):
    strict, device1, cpu = two_devices
    params = make_params(strict, seed=1)
    moved = [strict.asarray(p, device=device1) for p in params]
    oracle, oracle1 = quartic_oracle(strict), quartic_oracle(strict)
    with pytest.raises(ValueError, match=r"params\[0\] on .*CPU_DEVICE.*params\[1\] on .*device1"):
        rso_step(oracle, [params[0], *moved[1:]], lr=0.1)
    loss, grads = oracle1(moved)
    with pytest.raises(ValueError, match=r"params\[0\] on .*device1.*grads\[0\] on .*CPU_DEVICE"):
        rso_step(oracle, moved, lr=0.1, loss=loss, grads=[strict.asarray(g, device=cpu)
                                                         for g in grads])

    def meta_on_cpu(p):  # evaluates on the host copy: its gradients come back on the CPU
        value, g = oracle([strict.asarray(x, device=cpu) for x in p])
        return value, g

    with pytest.raises(ValueError, match=r"params\[0\] on .*device1.*value_and_grad's grads\[0\] "
                                         r"on .*CPU_DEVICE"):
        rso_step(oracle1, moved, lr=0.1, meta_value_and_grad=meta_on_cpu)


def test_lanczos_refuses_float64_on_a_float32_only_device(xp32):
    where = backend.device(xp32.asarray(0.0, dtype=xp32.float32))
    with pytest.raises(ValueError, match="float64 is not supported on device"):
        top_eigenpairs(lambda v: v, 6, 1, xp=xp32, device=where)
    with pytest.raises(ValueError, match="float64 is not supported on device"):
        hutchinson_trace(lambda v: v, 6, 2, xp=xp32, device=where)


def test_optimizers_name_grads_on_another_device(two_devices):
    strict, device1, cpu = two_devices
    params = [strict.asarray(p, device=device1) for p in make_params(strict, seed=2)]
    grads = [strict.asarray(p, device=cpu) for p in make_params(strict, seed=3)]
    oracle = {"value_and_grad": quartic_oracle(strict)}
    for opt, extra in ((SGD(lr=0.1), {}), (Adam(lr=0.1), {}), (Muon(lr=0.1), {}),
                       (LBFGS(), oracle), (RSO(lr=0.1), oracle)):
        with pytest.raises(ValueError, match=r"params\[0\] on .*device1.*grads\[0\] on "
                                             r".*CPU_DEVICE"):
            opt.step(params, grads, opt.init(params), **extra)
