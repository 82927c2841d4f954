"""``minimize`` as a JAX user runs it, against the same oracle on NumPy arrays and optax.

Three arms, the same jitted ``jax.value_and_grad`` oracle and start, side by side:

* ``jax``: :func:`rso_ref.lbfgs.minimize` on JAX arrays (its array work runs as the
  compiled pieces of :mod:`rso_ref.backend.fusion`);
* ``numpy``: the same ``minimize`` on NumPy arrays, the oracle's results brought to the
  host (``float(f)``, ``np.asarray(g)``): what the library costs with NumPy's
  operations around the same oracle;
* ``optax``: ``optax.lbfgs`` (memory 10, its zoom line search) in a jitted
  ``jax.lax.while_loop``, the whole run one compiled program.

on two problems: logistic regression on the digits (64 features, 10 classes: 650
parameters, mean cross-entropy plus :math:`10^{-4}\\|\\theta\\|^2`) and the extended
Rosenbrock function at n = 1e5. Ours run with ``gtol = ftol = 0`` for a fixed number of
iterations; optax runs as many. Time per iteration is the median over interleaved repeats
of a whole run (compilation excluded: each arm runs once before timing). One XLA and one
BLAS thread (:func:`rso_ref.benchmarks.lbfgs_vs_scipy.jax_namespace`).

Run by ``rso-ref bench lbfgs`` (its JSON's ``"jax_native"`` entry); needs JAX (and optax
for the third arm).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from rso_ref.benchmarks import device_work
from rso_ref.lbfgs import minimize

#: The issue's targets: JAX over NumPy (same oracle) and JAX over optax, per iteration.
TARGETS = {"jax_over_numpy": 1.5, "jax_over_optax": 2.0}


def _digits_problem() -> tuple[Callable, np.ndarray]:
    import jax
    import jax.numpy as jnp

    from rso_ref.data import load_digits

    data = load_digits()
    X, targets = jnp.asarray(data.X_train), jax.nn.one_hot(jnp.asarray(data.y_train), 10)
    d = X.shape[1]

    def loss(theta):
        z = X @ jnp.reshape(theta[:d * 10], (d, 10)) + theta[d * 10:]
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(z * targets, axis=1)) \
            + 1e-4 * jnp.sum(theta ** 2)

    return loss, np.zeros(d * 10 + 10)


def _rosenbrock_problem(n: int) -> tuple[Callable, np.ndarray]:
    import jax.numpy as jnp

    def loss(x):
        odd, even = x[0::2], x[1::2]
        return jnp.sum(100.0 * (even - odd ** 2) ** 2 + (1.0 - odd) ** 2)

    return loss, np.tile([-1.2, 1.0], n // 2)


def _optax_runner(loss: Callable, iterations: int) -> Callable | None:
    try:
        import optax
    except ImportError:
        return None
    import jax

    solver = optax.lbfgs(memory_size=10)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def body(carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad,
                                       value_fn=loss)
        return optax.apply_updates(params, updates), state

    @jax.jit
    def run(x0):
        def more(carry):
            return optax.tree_utils.tree_get(carry[1], "count") < iterations
        return jax.lax.while_loop(more, body, (x0, solver.init(x0)))

    return lambda x0: jax.block_until_ready(run(x0))[0]


def _arms(loss: Callable, x0: np.ndarray, iterations: int) -> dict[str, Callable[[], Any]]:
    import jax
    import jax.numpy as jnp

    oracle = jax.jit(jax.value_and_grad(loss))
    opts = {"m": 10, "gtol": 0.0, "ftol": 0.0, "maxiter": iterations}

    def on_host(x):
        value, grad = oracle(x)
        return float(value), np.asarray(grad)

    x0_jax = jnp.asarray(x0)
    arms = {"jax": lambda: minimize(oracle, x0_jax, **opts),
            "numpy": lambda: minimize(on_host, x0, **opts)}
    optax_run = _optax_runner(loss, iterations)
    if optax_run is not None:
        arms["optax"] = lambda: optax_run(x0_jax)
    return arms


def _work_per_iteration(run: Callable[[], Any]) -> dict:
    """Compiled-piece dispatches, device-to-host transfers and oracle calls per iteration
    of one run of ``run`` (:func:`rso_ref.benchmarks.device_work`)."""
    with device_work() as counts:
        result = run()
    return {"compiled_piece_calls": counts["dispatches"] / result.nit,
            "transfers": counts["transfers"] / result.nit,
            "oracle_calls": result.nfev / result.nit}


def _measure(name: str, loss: Callable, x0: np.ndarray, iterations: int, repeats: int) -> dict:
    import jax

    arms = _arms(loss, x0, iterations)
    results = {arm: run() for arm, run in arms.items()}  # compile, warm caches
    times: dict[str, list] = {arm: [] for arm in arms}
    for _ in range(repeats):
        for arm, run in arms.items():
            start = time.perf_counter()
            jax.block_until_ready(run().x if arm != "optax" else run())
            times[arm].append(time.perf_counter() - start)
    nit = {arm: (results[arm].nit if arm != "optax" else iterations) for arm in arms}
    out: dict[str, Any] = {"problem": name, "n": int(x0.size), "iterations": iterations}
    for arm in arms:
        out[arm] = {"nit": nit[arm], "time_per_iteration_ms":
                    1e3 * statistics.median(times[arm]) / max(nit[arm], 1)}
        if arm != "optax":
            out[arm].update(nfev=int(results[arm].nfev), fun=float(results[arm].fun))
        else:
            out[arm]["fun"] = float(loss(results[arm]))
    out["jax"]["per_iteration"] = _work_per_iteration(arms["jax"])
    per = {arm: out[arm]["time_per_iteration_ms"] for arm in arms}
    out["jax_over_numpy"] = per["jax"] / per["numpy"]
    if "optax" in per:
        out["jax_over_optax"] = per["jax"] / per["optax"]
    out["targets"] = TARGETS
    return out


def run(quick: bool) -> list[dict]:
    """The two problems' rows (the caller has set up JAX: x64, one thread)."""
    repeats = 3 if quick else 7
    digits_loss, digits_x0 = _digits_problem()
    rosen_loss, rosen_x0 = _rosenbrock_problem(100_000)
    return [_measure("logistic regression, digits", digits_loss, digits_x0, 56, repeats),
            _measure("extended Rosenbrock", rosen_loss, rosen_x0, 20 if quick else 40, repeats)]
