"""Golden fixtures that cannot be fooled (schema 2): the manifest, read-only inputs, SKIP.

Each tampering below used to pass verification with a port that returns zero gradients
(or crash with a traceback); now each is one :class:`golden.FixtureError` naming the file,
or a failing row.
"""
import json
import shutil

import numpy as np
import pytest

from rso_ref import backend, golden
from rso_ref.golden import manifest, reference


@pytest.fixture
def fixtures(tmp_path):
    """A private copy of the shipped fixture directory."""
    directory = tmp_path / "fixtures"
    shutil.copytree(golden.FIXTURE_DIR, directory)
    return directory


def _zero_grads_mlp(params, X, y, *, activation, loss):
    """The port the tamperings tried to let through: right loss, zero gradients."""
    value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
    return value, [np.zeros(np.shape(g)) for g in grads]


def test_the_shipped_fixtures_match_their_manifest():
    listed = manifest.check(golden.FIXTURE_DIR, golden.MANIFEST_SHA256)
    assert set(listed["files"]) == {p.name for p in golden.FIXTURE_DIR.iterdir()} - {
        manifest.MANIFEST}
    assert listed["cases"] == {k: len(golden.load(k).cases) for k in golden.KINDS}
    assert listed["required"] == {k: sorted(spec.tolerances)
                                  for k, spec in golden.KINDS.items()}


def test_a_trimmed_kind_fails_naming_its_file(fixtures):
    document = json.loads((fixtures / "optim.json").read_text())
    document["cases"] = document["cases"][:1]
    (fixtures / "optim.json").write_text(json.dumps(document))
    with pytest.raises(golden.FixtureError, match=r"optim\.json does not match its sha256"):
        golden.verify(reference.optim, "optim", fixture_dir=fixtures)


def test_a_trimmed_kind_with_a_resigned_manifest_fails_against_the_pinned_hash(
        fixtures, monkeypatch):
    document = json.loads((fixtures / "mlp.json").read_text())
    document["cases"] = document["cases"][:1]
    (fixtures / "mlp.json").write_text(json.dumps(document))
    manifest.write(fixtures)
    monkeypatch.setattr(golden, "FIXTURE_DIR", fixtures)  # as if installed over the package's
    with pytest.raises(golden.FixtureError, match=r"MANIFEST\.json differs from the manifest "
                                                  r"shipped"):
        golden.verify(_zero_grads_mlp, "mlp")


def test_a_manifest_whose_counts_or_required_quantities_were_edited_fails(fixtures):
    listed = json.loads((fixtures / manifest.MANIFEST).read_text())
    listed["cases"]["mlp"] = 5
    (fixtures / manifest.MANIFEST).write_text(json.dumps(listed))
    with pytest.raises(golden.FixtureError, match=r"mlp\.json does not hold the 5 mlp cases"):
        golden.load("mlp", fixtures)
    listed["cases"]["mlp"] = 3
    listed["required"]["mlp"] = ["loss"]  # "grads no longer required"
    (fixtures / manifest.MANIFEST).write_text(json.dumps(listed))
    with pytest.raises(golden.FixtureError, match=r"required quantities of mlp are \['loss'\]"):
        golden.load("mlp", fixtures)


@pytest.mark.parametrize("damage", ["truncated", "edited", "extra", "missing"])
def test_a_damaged_directory_is_one_error_naming_the_file(fixtures, damage):
    target = fixtures / "mlp.npz"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:-100])
    elif damage == "edited":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 1
        target.write_bytes(bytes(data))
    elif damage == "extra":
        target = fixtures / "mlp_extra.npz"
        target.write_bytes(b"")
    else:
        target.unlink()
    expected = {"truncated": "does not match its sha256", "edited": "does not match its sha256",
                "extra": "is not listed in MANIFEST.json", "missing": "listed in MANIFEST.json "
                                                                      "but missing"}[damage]
    with pytest.raises(golden.FixtureError) as info:
        golden.verify(reference.hvp, "hvp", fixture_dir=fixtures)  # another kind: checked too
    message = str(info.value)
    assert str(target) in message and expected in message and "\n" not in message


def test_a_schema_1_directory_without_manifest_is_still_read(fixtures):
    (fixtures / manifest.MANIFEST).unlink()
    document = json.loads((fixtures / "mlp.json").read_text())
    document["schema_version"] = 1
    (fixtures / "mlp.json").write_text(json.dumps(document))
    assert golden.load("mlp", fixtures).schema_version == 1
    assert golden.verify(reference.mlp, "mlp", fixture_dir=fixtures).ok
    with pytest.raises(golden.FixtureError, match=r"MANIFEST\.json is missing"):
        golden.load("hvp", fixtures)  # a schema-2 set always carries one
    document["schema_version"] = 3
    (fixtures / "mlp.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"mlp\.json has schema version 3"):
        golden.load("mlp", fixtures)


def test_a_port_that_writes_into_its_inputs_fails_that_case_with_a_hint():
    def scribbler(params, X, y, *, activation, loss):
        X[0, 0] = 1.0  # in place: the read-only copy refuses
        return reference.mlp(params, X, y, activation=activation, loss=loss)

    report = golden.verify(scribbler, "mlp")
    assert report.status == "FAIL" and len(report.errors) == 3
    assert all("wrote into one of its input arrays" in e for e in report.errors)


def test_a_port_that_corrupts_its_inputs_cannot_affect_a_later_case():
    """Inputs are fresh copies per call: un-protecting and overwriting them (as an alias
    through another framework could) changes nothing for the next case or the fixture."""
    def corrupter(name, params, grads, **hyper):
        out = reference.optim(name, params, grads, **hyper)
        for array in list(params) + [g for step in grads for g in step]:
            array.setflags(write=True)
            array[...] = np.nan
        return out

    first = golden.verify(corrupter, "optim")
    n_cases = len(golden.load("optim").cases)
    assert first.ok and first.counts == {"PASS": n_cases, "FAIL": 0, "SKIP": 0}
    assert golden.verify(reference.optim, "optim").ok  # the stored fixture is untouched


def test_not_implemented_is_skip_and_a_kind_of_skips_is_no_pass():
    def partial(name, params, grads, **hyper):
        if name in ("lamb", "lars", "muon"):
            raise NotImplementedError(f"{name} is not ported")
        return reference.optim(name, params, grads, **hyper)

    report = golden.verify(partial, "optim")
    assert report.status == "PASS" and report.ok
    assert report.counts == {"PASS": 10, "FAIL": 0, "SKIP": 4}
    assert "SKIP" in report.format() and "lamb is not ported" in report.format()

    def nothing(*args, **kwargs):
        raise NotImplementedError

    none = golden.verify(nothing, "mlp")
    assert none.status == "SKIP" and not none.ok and none.counts["SKIP"] == 3


def test_rso_ports_receive_the_model_so_they_can_build_their_own_oracle():
    seen = []

    def port(value_and_grad, params, *, X, y, activation, loss, **options):
        seen.append((X.shape, y.dtype.kind, activation, loss, X.flags.writeable))
        own = lambda p: reference.mlp(p, X, y, activation=activation, loss=loss)  # noqa: E731
        return reference.rso_step(own, params, **options)

    assert golden.verify(port, "rso_step/layer_k0").ok
    assert seen == [((20, 16), "i", "relu", "cross_entropy", False)] * 3


def _corrupter(name, params, grads, **hyper):
    """The reference optimizer port, which then overwrites every input it was handed."""
    out = reference.optim(name, params, grads, **hyper)
    for array in list(params) + [g for step in grads for g in step]:
        if hasattr(array, "setflags"):
            array.setflags(write=True)
        array[...] = np.nan
    return [[backend.to_numpy(p).copy() for p in step] for step in out]


def test_inputs_on_another_backend_are_fresh_copies_too(xp):
    """With ``like=`` (no read-only flag exists there) every call still gets its own
    copies: the stored arrays, which equal inputs of several cases share, stay intact."""
    like = xp.asarray([0.0])
    if not hasattr(like, "__setitem__") or "jax" in type(like).__module__:
        pytest.skip("immutable arrays cannot be overwritten")
    report = golden.verify(_corrupter, "optim", like=like)
    n_cases = len(golden.load("optim").cases)
    assert report.ok and report.counts == {"PASS": n_cases, "FAIL": 0, "SKIP": 0}, \
        report.format()


def test_a_schema_1_rso_port_without_the_model_keywords_is_still_called():
    def rso_step_v1(value_and_grad, params, *, lr, groups, meta_iters, w0, normalize,
                    safeguard, m, c1, c2, maxls):
        return reference.rso_step(value_and_grad, params, lr=lr, groups=groups,
                                  meta_iters=meta_iters, w0=w0, normalize=normalize,
                                  safeguard=safeguard, m=m, c1=c1, c2=c2, maxls=maxls)

    def rso_meta_v1(value_and_grad, params, w, *, lr, groups, normalize):
        return reference.rso_meta(value_and_grad, params, w, lr=lr, groups=groups,
                                  normalize=normalize)

    assert golden.verify(rso_step_v1, "rso_step").ok
    assert golden.verify(rso_meta_v1, "rso_meta").ok


def test_a_folder_inside_a_fixture_directory_is_not_part_of_the_set(tmp_path):
    (tmp_path / "cache").mkdir()
    golden.write(tmp_path, kinds="mlp")
    assert golden.verify(reference.mlp, "mlp", fixture_dir=tmp_path).ok


def test_the_shipped_directory_is_pinned_however_it_is_named(monkeypatch, fixtures):
    manifest.write(fixtures)  # a valid manifest, but not the shipped one
    (fixtures / "extra.txt").write_text("x")
    manifest.write(fixtures)
    monkeypatch.setattr(golden, "FIXTURE_DIR", fixtures.resolve())
    with pytest.raises(golden.FixtureError, match="differs from the manifest shipped"):
        golden.load("mlp", fixtures / ".." / fixtures.name)
