"""Golden fixtures: regeneration is byte-identical, the reference passes, bugs are caught.

The fixtures are host NumPy files and a port is any callable; the example torch and JAX
ports (examples/ports/, tested in tests/test_example_ports.py) are one cross-backend
check, and the reference itself fed device arrays (``verify(..., like=x)``, on every
``xp`` fixture case) is the other.
"""
import io
import json

import numpy as np
import pytest

from rso_ref import autodiff, golden, rso_step
from rso_ref.golden import reference
from rso_ref.golden.check import eigenvector_error
from rso_ref.golden.kinds import CROSS_CPU_SHARE, KINDS, eigenvector_signs
from rso_ref.golden.store import npz_bytes


def _float_arrays(fixture):
    """(path, array) of every float array a fixture set stores, in document order."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")
        elif isinstance(node, np.ndarray) and node.dtype.kind == "f":
            out.append((path, node))

    walk(fixture.meta["cases"], "")
    return out


def _structure(fixture):
    """The fixture document with every float array replaced by its dtype and shape."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        if isinstance(node, np.ndarray):
            return (str(node.dtype), node.shape) if node.dtype.kind == "f" else node.tolist()
        return node
    return strip(fixture.meta)


@pytest.mark.slow
def test_writing_twice_gives_byte_identical_files(tmp_path):
    first, second = golden.write(tmp_path / "a"), golden.write(tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert sorted(p.name for p in first) == sorted(
        [f"{k}.{ext}" for k in golden.KINDS for ext in ("json", "npz")] + ["MANIFEST.json"])
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.slow
def test_regenerated_fixtures_equal_the_shipped_ones_up_to_rounding(tmp_path):
    """Structure, options, integers and flags exactly; floats within 1 % of the tolerance.

    BLAS kernels round differently on other processors (up to 1.3e-9 in the L-BFGS
    quadratic between OpenBLAS's Prescott and Haswell kernels, 8.3e-10 between the
    machine that wrote the version-1 files and an AMD EPYC); the kinds' tolerances sit
    300x-10,000x above the measured rounding amplification (SCHEMA.md), so a difference
    above 1 % of a tolerance (CROSS_CPU_SHARE) is drift of the implementation.
    Eigenvectors are stored in the sign convention (largest-magnitude entry positive),
    which both sets must follow, and are compared as verify compares them: up to sign,
    and clusters of eigenvalues through their spanned subspace (a sign flip, or another
    basis of a repeated eigenvalue's eigenspace, is not drift).
    """
    golden.write(tmp_path)
    for kind, spec in golden.KINDS.items():
        new, shipped = golden.load(kind, tmp_path), golden.load(kind)
        assert _structure(new) == _structure(shipped), kind
        for (path, a), (_, d) in zip(_float_arrays(new), _float_arrays(shipped)):
            quantity = path.split("/")[3] if "/outputs/" in path else None
            bound = CROSS_CPU_SHARE * spec.tolerances[quantity] if quantity else 1e-13
            if quantity in spec.eigenvalues_of:
                for name, vectors in (("regenerated", a), ("shipped", d)):
                    assert np.all(eigenvector_signs(vectors) == 1.0), (
                        f"{kind}{path}: {name} eigenvectors are not in the sign convention")
                case = shipped.cases[int(path.split("/")[1])]
                err = eigenvector_error(a, d, case["outputs"][spec.eigenvalues_of[quantity]])
            else:
                scale = max(float(np.max(np.abs(d), initial=0.0)), 1e-300)
                err = float(np.max(np.abs(a - d), initial=0.0)) / scale
            assert err <= bound, (f"{kind}{path}: regenerated differs by {err:.2e} relative "
                                  f"(> {bound:.0e}): the implementation drifted; regenerate "
                                  f"with golden.write(golden.FIXTURE_DIR) only for an intended change")


def test_the_pinned_manifest_hash_is_the_shipped_manifest():
    import hashlib

    shipped = (golden.FIXTURE_DIR / "MANIFEST.json").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == golden.MANIFEST_SHA256
    assert golden.manifest.manifest_bytes(golden.FIXTURE_DIR) == shipped


def test_npz_bytes_do_not_depend_on_the_clock_or_insertion_order():
    a = {"b": np.arange(3.0), "a": np.eye(2)}
    first = npz_bytes(a)
    assert npz_bytes({"a": np.eye(2), "b": np.arange(3.0)}) == first
    with np.load(io.BytesIO(first), allow_pickle=False) as archive:
        assert sorted(archive.files) == ["a", "b"]
        np.testing.assert_array_equal(archive["a"], np.eye(2))


def test_shipped_fixtures_are_small_and_versioned():
    files = list(golden.FIXTURE_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 500_000
    for kind in golden.KINDS:
        assert golden.load(kind).schema_version == golden.SCHEMA_VERSION
    assert (golden.FIXTURE_DIR / "SCHEMA.md").is_file()


@pytest.mark.parametrize("kind", list(golden.KINDS))
def test_reference_used_as_a_port_reproduces_every_quantity(kind):
    """The reference meets every quantity to the rounding another CPU may introduce.

    The stored floats were computed on one machine; this one may run another BLAS
    kernel, which rounds differently (DESIGN.md, "Portable numbers"), so the reference
    need not reproduce them bit for bit. Measured with the reference ports on the three
    OpenBLAS kernels of one machine (``OPENBLAS_CORETYPE`` = Prescott, Haswell,
    SkylakeX; largest error over the kernels, per kind): lbfgs 1.3e-9 (g of the m = 3
    quadratic, whose errors grow tenfold every four iterations; 0.13 % of its 1e-6),
    rso_step 4.4e-13 (params, 0.0044 % of 1e-8), eigen 4.9e-15 (vectors) and 1.3e-15
    (values), hvp, mlp, rso_meta and optim at most 1.2e-15 (0.0012 % of 1e-10). The
    bound, CROSS_CPU_SHARE = 1 % of each quantity's tolerance, is the one the
    regeneration test uses: 7.7x above the worst measurement (1e-8 for lbfgs also
    admits the amplification of ~3e-15 relative noise in every evaluation, about 15
    ulp, where a kernel's rounding is 1-2 ulp), and 100x inside the tolerance a port is
    held to, so the reference is not allowed to use the ports' budget. Integers, flags,
    statuses, shapes and structure (EXACT quantities) stay exact: 1 % of 0 is 0.
    """
    report = golden.verify(reference.reference_ports()[kind], kind)
    assert report.ok, report.format()
    assert report.rows, report.format()
    for row in report.rows:
        assert row.error <= CROSS_CPU_SHARE * row.tolerance, (
            f"{row.case} {row.quantity}: {row.error:.2e} > {CROSS_CPU_SHARE:.0%} of "
            f"{row.tolerance:.0e}\n{report.format()}")


#: What each reference port returns on the device of its inputs (the rest is host values:
#: weights w, losses, counts).
_ON_DEVICE = {"lbfgs": lambda out: [out["x"], out["g"]], "rso_meta": lambda out: [],
              "rso_step": lambda out: out["params"], "optim": lambda out: out,
              "mlp": lambda out: out[1], "hvp": lambda out: out, "eigen": lambda out: out}


@pytest.mark.slow  # ~1 s on NumPy and array_api_strict, ~25 s each on torch and eager JAX
def test_reference_ports_fed_device_arrays_reproduce_the_fixtures_there(xp, on_device):
    # Every stored input goes to the device of `like`; the reference runs there, returns
    # its arrays there, and meets the fixtures' own tolerances (the lbfgs rows on torch
    # and JAX differ by ~5e-10 of 1e-6: summation order over 25 iterations). hvp and
    # eigen need an exact product: where the namespace has no autodiff (array_api_strict,
    # CuPy) the case is reported as an error naming fd_hvp, not approximated.
    assert set(_ON_DEVICE) == set(KINDS)
    ports = reference.reference_ports()

    def checked(kind):
        def port(*args, **kwargs):
            out = ports[kind](*args, **kwargs)
            on_device(_ON_DEVICE[kind](out))
            return out
        return port

    exact = autodiff.has_exact_derivatives(xp)
    reports = golden.verify_all({k: checked(k) for k in KINDS}, like=xp.asarray([0.0]))
    for kind, report in reports.items():
        if kind in ("hvp", "eigen") and not exact:
            assert report.errors and all("fd_hvp" in e for e in report.errors), report.format()
        else:
            assert report.ok, report.format()


def _noisy(rel, seed):
    """Multiply each array by (1 + rel * N(0, 1)) entrywise: a float64 port's rounding, inflated."""
    gen = np.random.default_rng(seed)
    return lambda arrays: [a * (1.0 + rel * gen.standard_normal(np.shape(a))) for a in arrays]


def test_tolerances_accept_a_port_with_1e_14_relative_noise_in_every_gradient():
    # 1e-14 is ~50x the rounding of these float64 sums; the chained kinds amplify it by at
    # most ~1e4 (SCHEMA.md, Tolerances), which must stay inside their tolerances.
    def noisy_oracle(oracle, seed):
        perturb = _noisy(1e-14, seed)
        return lambda p: (lambda v, g: (v * (1.0 + 1e-14), perturb(g)))(*oracle(p))

    rso_port = lambda vg, p, **kw: reference.rso_step(noisy_oracle(vg, 0), p, **kw)  # noqa
    lbfgs_port = lambda fun, x0, **kw: reference.lbfgs(  # noqa: E731
        lambda x: (lambda f, g: (f, _noisy(1e-14, 1)([g])[0]))(*fun(x)), x0, **kw)
    for kind, port in (("rso_step", rso_port), ("lbfgs", lbfgs_port)):
        report = golden.verify(port, kind)
        assert report.ok, report.format()
        assert max(row.error for row in report.rows) > 0.0  # the noise did reach the outputs


def _rso_with_sign_error(value_and_grad, params, *, X, y, activation, loss, **options):
    """rso_step whose meta-gradient is +lr <grad L(theta'), g_i> (sign flipped)."""
    flipped = lambda p: (lambda v, g: (v, [-x for x in g]))(*value_and_grad(p))  # noqa: E731
    res = rso_step(value_and_grad, params, meta_value_and_grad=flipped, **options)
    return res.params, res.w


def _failing_quantities(report):
    return {(row.case, row.quantity) for row in report.rows if not row.ok}


def test_verify_detects_a_sign_error_in_the_meta_gradient():
    report = golden.verify(_rso_with_sign_error, "rso_step/groups_layer")
    assert not report.ok
    assert {("groups_layer", "w"), ("groups_layer", "params")} <= _failing_quantities(report)
    text = report.format()
    assert "FAIL" in text and "groups_layer" in text
    meta = golden.verify(lambda *a, **kw: (lambda f, g: (f, -g))(*reference.rso_meta(*a, **kw)),
                         "rso_meta")
    assert _failing_quantities(meta) == {(c, "grad_w") for c in
                                         ("per_array", "layer", "explicit_normalized")}


def test_verify_detects_w0_ones_instead_of_uniform():
    port = lambda vg, p, **kw: reference.rso_step(vg, p, **{**kw, "w0": "ones"})  # noqa
    report = golden.verify(port, "rso_step")
    failing = {case for case, _ in _failing_quantities(report)}
    # every case starting from uniform weights is caught; the w0="ones" case is unchanged
    assert failing == {"groups_none", "groups_layer", "groups_explicit", "layer_normalize",
                       "none_safeguard_k1", "layer_k0"}
    k0 = [r for r in report.rows if r.case == "layer_k0" and r.quantity == "w"][0]
    assert k0.error == pytest.approx(1.0)  # w = (1, 1) against (1/2, 1/2): |1 - .5| / .5


def _adam_port(eps_inside_sqrt):
    """A NumPy Adam/AdamW written from the update rule; optionally with eps inside the sqrt."""
    def port(name, params, grads, *, lr, betas, eps, weight_decay=0.0, amsgrad=False):
        assert name in ("adam", "adamw")
        b1, b2 = betas
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        vmax = [np.zeros_like(p) for p in params]
        out = []
        for t, grad in enumerate(grads, start=1):
            new = []
            for j, (p, g) in enumerate(zip(params, grad)):
                if name == "adamw":
                    p = p * (1.0 - lr * weight_decay)
                else:
                    g = g + weight_decay * p
                m[j] = b1 * m[j] + (1.0 - b1) * g
                v[j] = b2 * v[j] + (1.0 - b2) * g * g
                vmax[j] = np.maximum(vmax[j], v[j])
                vhat = (vmax[j] if amsgrad else v[j]) / (1.0 - b2 ** t)
                denom = np.sqrt(vhat + eps) if eps_inside_sqrt else np.sqrt(vhat) + eps
                new.append(p - lr * (m[j] / (1.0 - b1 ** t)) / denom)
            params = new
            out.append(params)
        return out
    return port


@pytest.mark.parametrize("case", ["adam", "adam_l2_amsgrad", "adamw"])
def test_an_independent_numpy_adam_passes_and_eps_inside_the_sqrt_is_detected(case):
    good = golden.verify(_adam_port(False), f"optim/{case}")
    assert good.ok, good.format()
    bad = golden.verify(_adam_port(True), f"optim/{case}")
    assert not bad.ok and bad.rows[0].error > 100 * bad.rows[0].tolerance, bad.format()


def test_verify_detects_nfev_counted_without_the_start_and_mse_without_the_half():
    def lbfgs_off_by_one(fun, x0, **kw):
        out = reference.lbfgs(fun, x0, **kw)
        return {**out, "nfev": out["nfev"] - 1}

    report = golden.verify(lbfgs_off_by_one, "lbfgs")
    assert {q for _, q in _failing_quantities(report)} == {"nfev"}

    def mse_without_half(params, X, y, *, activation, loss):
        value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
        return (2.0 * value, [2.0 * g for g in grads]) if loss == "mse" else (value, grads)

    report = golden.verify(mse_without_half, "mlp")
    assert _failing_quantities(report) == {("tanh_mse", "loss"), ("tanh_mse", "grads")}


def test_a_port_that_raises_or_returns_the_wrong_shape_is_reported_not_raised():
    def broken(params, X, y, *, activation, loss):
        if activation == "gelu":
            raise ZeroDivisionError("no gelu yet")
        value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
        return value, grads[:-1]

    report = golden.verify(broken, "mlp")
    assert report.status == "FAIL" and not report.ok
    (error,) = report.errors  # the exception and where the port raised it
    assert error.startswith("gelu_ce_3layer: ZeroDivisionError: no gelu yet (raised at ")
    assert error.endswith(" in broken)")
    assert "length 3 vs reference 4" in report.format()


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown fixture kind"):
        golden.verify(reference.mlp, "mlpp")
    with pytest.raises(ValueError, match="no case 'nope'"):
        golden.verify(reference.mlp, "mlp/nope")
    with pytest.raises(TypeError, match="port_fn must be callable"):
        golden.verify(None, "mlp")
    with pytest.raises(FileNotFoundError):
        golden.verify(reference.mlp, "mlp", fixture_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        golden.verify(reference.mlp, "mlp", fixture_dir=golden.FIXTURE_DIR / "mlp.json")



def _copy_fixtures(tmp_path):
    for path in golden.FIXTURE_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def _rewrite(directory, name, document):
    """Edit a fixture file *and* re-sign the directory's manifest, as a deliberate edit
    would: what is left to catch it is the layer behind the manifest."""
    (directory / name).write_text(json.dumps(document))
    golden.manifest.write(directory)


def test_an_emptied_or_edited_case_fails_instead_of_passing(tmp_path):
    directory = _copy_fixtures(tmp_path)
    document = json.loads((directory / "mlp.json").read_text())
    for case in document["cases"]:
        case["outputs"] = {}                      # nothing left to compare against
    document["cases"][0]["outputs"] = {"gradz": {"npz": "x"}}  # a quantity mlp does not have
    _rewrite(directory, "mlp.json", document)
    with pytest.raises(ValueError, match="refers to an array 'x'"):
        golden.verify(reference.mlp, "mlp", fixture_dir=directory)
    document["cases"][0]["outputs"] = {}
    del document["cases"][1]["outputs"]
    _rewrite(directory, "mlp.json", document)
    report = golden.verify(reference.mlp, "mlp", fixture_dir=directory)
    assert report.status == "FAIL"
    assert {(r.case, r.quantity, r.note) for r in report.rows} == {
        (c, q, "missing from the fixture") for c in ("relu_ce", "tanh_mse", "gelu_ce_3layer")
        for q in ("loss", "grads")}


@pytest.mark.parametrize("damage", ["truncate-npz", "not-json", "dangling-reference"])
def test_a_damaged_fixture_file_is_one_error_naming_it(tmp_path, damage):
    directory = _copy_fixtures(tmp_path)
    if damage == "truncate-npz":
        data = (directory / "hvp.npz").read_bytes()
        (directory / "hvp.npz").write_bytes(data[:len(data) // 2])
        name = "hvp.npz"
    elif damage == "not-json":
        (directory / "hvp.json").write_text("{{{")
        name = "hvp.json"
    else:
        document = json.loads((directory / "hvp.json").read_text())
        document["cases"][0]["inputs"]["X"] = {"npz": "no/such/key"}
        (directory / "hvp.json").write_text(json.dumps(document))
        name = "hvp.json"
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        golden.manifest.write(directory)  # re-signing the damage does not hide it either
        golden.verify(reference.hvp, "hvp", fixture_dir=directory)


# The independent torch and JAX ports live in examples/ports/ (torch_port.py, jax_port.py);
# tests/test_example_ports.py verifies them on these fixtures and on drawn cases.


def test_the_optim_fixtures_catch_an_rso_reuse_step_that_ignores_normalize(monkeypatch):
    # Between meta-solves RSO reuses w on the directions the solve used: with
    # normalize=True the unit g_i / ||g_i||. A port that reuses w on the raw g_i fails
    # the one case that reuses w with normalize (rso_reuse_normalized), and only it.
    import rso_ref.optim.rso as rso_optimizer

    assert golden.verify(reference.optim, "optim").ok
    real = rso_optimizer.group_directions
    monkeypatch.setattr(rso_optimizer, "group_directions",
                        lambda grads, groups, normalize=False: real(grads, groups, False))
    report = golden.verify(reference.optim, "optim")
    assert {case for case, _ in _failing_quantities(report)} == {"rso_reuse_normalized"}
