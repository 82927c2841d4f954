"""Probes of the port-checking kit: ``assert_close``, ``rtol_for``, ``check_port``,
``golden.verify`` and ``rso-ref golden verify|check|write``.

A wrong tolerance must be refused (never pass everything), a port that exits or a fixture
set without cases must give a clear failure, and a failure directory that cannot be
written must not hide the mismatch. The ``check_port`` probes draw few cases (< 1 s).
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys

import numpy as np

from probes import Probe


def _assert_close(*args, **kwargs):
    def call(tmp_path):
        from rso_ref.testing import assert_close

        return assert_close(*args, **kwargs)
    return call


def _rtol_for(x):
    def call(tmp_path):
        from rso_ref.testing import rtol_for

        return rtol_for(x)
    return call


def _equals(expected):
    def check(result):
        assert result == expected, result
    return check


def _mlp_port(kind):
    """Ports of the mlp kind: right, 1 % high, exiting, not ported."""
    from rso_ref.golden import reference

    def right(params, X, y, *, activation, loss):
        return reference.mlp(params, X, y, activation=activation, loss=loss)

    def high(params, X, y, *, activation, loss):
        value, grads = reference.mlp(params, X, y, activation=activation, loss=loss)
        return 1.01 * value, grads

    def exiting(params, X, y, *, activation, loss):
        sys.exit(0)

    def unported(*args, **kwargs):
        raise NotImplementedError("not ported")

    return {"right": right, "high": high, "exiting": exiting, "unported": unported}[kind]


def _check_port(port=None, kind="mlp", **kwargs):
    def call(tmp_path):
        from rso_ref.testing import check_port

        fn = _mlp_port(port) if isinstance(port, str) else port
        kwargs.setdefault("failure_dir", tmp_path / "fail")
        if kwargs["failure_dir"] == "UNDER_A_FILE":
            (tmp_path / "a_file").write_text("not a directory")
            kwargs["failure_dir"] = tmp_path / "a_file" / "out"
        return check_port(fn, kind, **{"max_examples": 2, **kwargs})
    return call


def _fail_report(*fragments):
    def check(report):
        assert report.status == "FAIL" and not report.ok, report.format()
        for fragment in fragments:
            assert fragment in report.message, report.message
    return check


def _verify(port="right", fixture="mlp", emptied=False):
    def call(tmp_path):
        from rso_ref import golden

        fixture_dir = None
        if emptied:  # a copy of the mlp set with its cases removed, manifest rewritten
            fixture_dir = tmp_path / "fixtures"
            fixture_dir.mkdir()
            for name in ("mlp.json", "mlp.npz"):
                shutil.copy(golden.FIXTURE_DIR / name, fixture_dir / name)
            document = json.loads((fixture_dir / "mlp.json").read_text())
            document["cases"] = []
            (fixture_dir / "mlp.json").write_text(json.dumps(document))
            golden.manifest.write(fixture_dir)
        fn = _mlp_port(port) if isinstance(port, str) else port
        return golden.verify(fn, fixture, fixture_dir=fixture_dir)
    return call


def _cli(*argv, port_source=None):
    """``rso-ref *argv`` -> (status, stdout, stderr); ``{port}`` is a file holding
    ``port_source``, ``{out}`` a path in tmp_path, ``{file}`` a regular file there."""
    def call(tmp_path):
        from rso_ref.cli import main

        port = tmp_path / "the_port.py"
        if port_source is not None:
            port.write_text(port_source)
        (tmp_path / "file").write_text("not a directory")
        subs = {"{port}": str(port), "{out}": str(tmp_path / "out"),
                "{file}": str(tmp_path / "file")}
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = [a for a in argv]
            for key, value in subs.items():
                args = [a.replace(key, value) for a in args]
            status = main(args)
        return status, out.getvalue(), err.getvalue()
    return call


def _status(expected, *fragments, stream="err"):
    def check(result):
        status, out, err = result
        text = err if stream == "err" else out
        assert status == expected, (status, out, err)
        for fragment in fragments:
            assert fragment in text, text
    return check


EXITING_PORT = "import sys\n\ndef mlp(params, X, y, *, activation, loss):\n    sys.exit(0)\n"
EXIT_ON_IMPORT = "import sys\nsys.exit(0)\n"


PROBES = [
    # -- assert_close: tolerances, None, integer wraparound ---------------------------
    Probe("rso_ref.testing.assert_close", "rtol negative", _assert_close(1.0, 2.0, rtol=-1.0),
          raises=ValueError, match="rtol"),
    Probe("rso_ref.testing.assert_close", "atol negative",
          _assert_close(np.ones(2), np.zeros(2), rtol=0, atol=-1),
          raises=ValueError, match="atol"),
    Probe("rso_ref.testing.assert_close", "rtol a string", _assert_close(1.0, 2.0, rtol="1e-3"),
          raises=TypeError, match="rtol"),
    Probe("rso_ref.testing.assert_close", "atol NaN",
          _assert_close(1.0, 2.0, atol=float("nan")), raises=ValueError, match="atol"),
    Probe("rso_ref.testing.assert_close", "both None", _assert_close(None, None),
          raises=TypeError, match="actual"),
    Probe("rso_ref.testing.assert_close", "desired None", _assert_close(np.ones(1), None),
          raises=TypeError, match="desired"),
    Probe("rso_ref.testing.assert_close", "uint8 0 vs 255 (no wraparound)",
          _assert_close(np.array([0], np.uint8), np.array([255], np.uint8)),
          raises=AssertionError, match=r"actual 0 vs desired 255, relative error 1\.000e\+00"),
    Probe("rso_ref.testing.assert_close", "zero tolerances on equal values",
          _assert_close(np.arange(3.0), np.arange(3.0), rtol=0, atol=0), check=_equals(None)),
    Probe("rso_ref.testing.assert_close", "Python int 10**12+1 vs 10**12 (exact)",
          _assert_close(10**12 + 1, 10**12), raises=AssertionError, match=r"rtol=0, atol=0"),
    Probe("rso_ref.testing.assert_close", "NaN vs NaN without equal_nan",
          _assert_close(np.array([np.nan]), np.array([np.nan])), raises=AssertionError,
          match="equal_nan"),
    # -- assert_close: flags that are not bools -------------------------------------------
    Probe("rso_ref.testing.assert_close", "equal_nan a string",
          _assert_close(1.0, 1.0, equal_nan="yes"), raises=TypeError, match="equal_nan"),
    Probe("rso_ref.testing.assert_close", "check_dtype an int",
          _assert_close(1.0, 1.0, check_dtype=1), raises=TypeError, match="check_dtype"),
    Probe("rso_ref.testing.assert_close", "check_device None",
          _assert_close(1.0, 1.0, check_device=None), raises=TypeError, match="check_device"),
    Probe("rso_ref.testing.assert_close", "check_namespace a string",
          _assert_close(1.0, 1.0, check_namespace="no"), raises=TypeError,
          match="check_namespace"),
    Probe("rso_ref.testing.assert_close", "dict keys differ",
          _assert_close({"m": 1.0}, {"v": 1.0}), raises=AssertionError,
          match="keys differ: actual only 'm'; desired only 'v'"),
    Probe("rso_ref.testing.assert_close", "None inside a dict",
          _assert_close({"m": None}, {"m": 1.0}), raises=AssertionError,
          match=r"at \['m'\]: actual is None"),
    # -- rtol_for / atol_for --------------------------------------------------------------
    Probe("rso_ref.testing.rtol_for", "float32 array", _rtol_for(np.zeros(1, np.float32)),
          check=_equals(5e-4)),
    Probe("rso_ref.testing.rtol_for", "float16 array (not float64's 1e-10)",
          _rtol_for(np.zeros(1, np.float16)), check=_equals(1e-3)),
    Probe("rso_ref.testing.rtol_for", "a Python float", _rtol_for(1.0), check=_equals(1e-10)),
    Probe("rso_ref.testing.rtol_for", "a Python int (exact)", _rtol_for(1), check=_equals(0.0)),
    Probe("rso_ref.testing.rtol_for", "an int64 array (exact)", _rtol_for(np.arange(2)),
          check=_equals(0.0)),
    Probe("rso_ref.testing.rtol_for", "None", _rtol_for(None), raises=TypeError, match="x must"),
    Probe("rso_ref.testing.rtol_for", "a string", _rtol_for("float32"), raises=TypeError,
          match="x must"),
    # -- check_port -------------------------------------------------------------------
    Probe("rso_ref.testing.check_port", "port None", _check_port(None), raises=TypeError,
          match="port"),
    Probe("rso_ref.testing.check_port", "kind unknown", _check_port("right", kind="mlpp"),
          raises=ValueError, match="kind"),
    Probe("rso_ref.testing.check_port", "kind not a str", _check_port("right", kind=3),
          raises=TypeError, match="kind"),
    Probe("rso_ref.testing.check_port", "max_examples 0", _check_port("right", max_examples=0),
          raises=ValueError, match="max_examples"),
    Probe("rso_ref.testing.check_port", "raise_on_failure not a bool",
          _check_port("right", raise_on_failure="no"), raises=TypeError,
          match="raise_on_failure"),
    Probe("rso_ref.testing.check_port", "failure_dir not a path",
          _check_port("right", failure_dir=3), raises=TypeError, match="failure_dir"),
    Probe("rso_ref.testing.check_port", "mismatch with raise_on_failure=False",
          _check_port("high", raise_on_failure=False),
          check=_fail_report("loss: error", "worst value: port", "input X: ")),
    Probe("rso_ref.testing.check_port", "failure_dir under a file keeps the mismatch",
          _check_port("high", failure_dir="UNDER_A_FILE"), raises=AssertionError,
          match=r"(?s)loss: error.*no replay fixture: could not write it under failure_dir"),
    Probe("rso_ref.testing.check_port", "port calls sys.exit(0)",
          _check_port("exiting", raise_on_failure=False),
          check=_fail_report("the port raised SystemExit: the port called sys.exit(0)")),
    Probe("rso_ref.testing.check_port", "strict: a skip fails",
          _check_port("unported", strict=True, raise_on_failure=False),
          check=_fail_report("strict")),
    Probe("rso_ref.testing.check_port", "optimizers for another kind",
          _check_port("right", optimizers=["adam"]), raises=ValueError,
          match="optimizers selects cases of the optim kind"),
    Probe("rso_ref.testing.check_port", "optimizers unknown",
          _check_port(lambda *a, **k: None, kind="optim", optimizers="adagrad"),
          raises=ValueError, match="optimizers must be one of"),
    Probe("rso_ref.testing.check_port", "where not callable", _check_port("right", where=3),
          raises=TypeError, match="where"),
    Probe("rso_ref.testing.check_port", "seed not an int", _check_port("right", seed=1.5),
          raises=TypeError, match="seed"),
    Probe("rso_ref.testing.check_port", "lbfgs_direction port returns None",
          _check_port(lambda S, Y, g: None, kind="lbfgs_direction", raise_on_failure=False),
          check=_fail_report("direction: shape mismatch", "shape None vs reference")),
    # -- golden.verify ----------------------------------------------------------------
    Probe("rso_ref.golden.verify", "port not callable", _verify(port=3), raises=TypeError,
          match="port_fn"),
    Probe("rso_ref.golden.verify", "unknown case", _verify(fixture="mlp/nope"),
          raises=ValueError, match="no case 'nope'"),
    Probe("rso_ref.golden.verify", "fixture set emptied of cases", _verify(emptied=True),
          raises=ValueError, match="holds no case"),
    Probe("rso_ref.golden.verify", "port calls sys.exit(0)", _verify(port="exiting"),
          check=lambda r: (r.status == "FAIL" and all("sys.exit(0)" in e for e in r.errors))
          or (_ for _ in ()).throw(AssertionError(r.format()))),
    # -- the command line ---------------------------------------------------------------
    Probe("rso-ref golden verify", "port calls sys.exit(0)",
          _cli("golden", "verify", "--port", "{port}:mlp", port_source=EXITING_PORT),
          check=_status(1, "SystemExit: the port called sys.exit(0)", "FAIL: 1 (mlp)",
                        stream="out")),
    Probe("rso-ref golden verify", "port exits on import",
          _cli("golden", "verify", "--port", "{port}:mlp", port_source=EXIT_ON_IMPORT),
          check=_status(2, "--port: cannot import", "sys.exit(0)")),
    Probe("rso-ref golden verify", "--fixtures not a directory",
          _cli("golden", "verify", "--fixtures", "{file}"), check=_status(2, "--fixtures")),
    Probe("rso-ref golden verify", "--kind unknown", _cli("golden", "verify", "--kind", "mlpp"),
          check=_status(2, "--kind")),
    Probe("rso-ref golden check", "port calls sys.exit(0)",
          _cli("golden", "check", "--port", "{port}:mlp", "--examples", "2", "--out", "{out}",
               port_source=EXITING_PORT),
          check=_status(1, "sys.exit(0)", stream="out")),
    Probe("rso-ref golden check", "--out is a file",
          _cli("golden", "check", "--port", "{port}:mlp", "--out", "{file}",
               port_source=EXITING_PORT), check=_status(2, "--out")),
    Probe("rso-ref golden check", "--port without a function",
          _cli("golden", "check", "--port", "{port}", port_source=EXITING_PORT),
          check=_status(2, "--port")),
    Probe("rso-ref golden write", "out_dir is a file", _cli("golden", "write", "{file}"),
          check=_status(2, "out_dir")),
]
