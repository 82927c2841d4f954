"""Probes of the ``rso-ref`` training commands: ``demo``, ``compare``, ``theory``, ``bench``.

Each probe runs :func:`rso_ref.cli.main` on a bad command line and returns ``(exit status,
stderr)``; the check wants status 2 and one line ``rso-ref: error: --option: ...``. Every
bad option must be refused before any work, so each call runs with training, the claims
and the benchmarks replaced by a failure: a check that comes too late fails the probe
instead of training.
"""
from __future__ import annotations

import contextlib
import io
import re
from unittest import mock

from probes import Probe


def _cli(*argv, make=None):
    """``call(tmp_path)`` running ``rso-ref *argv``; ``{out}`` in an argument becomes a path
    in ``tmp_path``, where ``make="file"`` puts a regular file and ``make="dir"`` a
    directory."""
    def call(tmp_path):
        from rso_ref.cli import main

        out = tmp_path / "out"
        if make == "file":
            out.write_text("not a directory")
        elif make == "dir":
            out.mkdir()
        err = io.StringIO()
        refuse = mock.Mock(side_effect=AssertionError("work started although an option is bad"))
        with contextlib.ExitStack() as stack:
            for target in ("rso_ref.compare.train", "rso_ref.claims.report.run_claims",
                           "rso_ref.benchmarks.run"):
                stack.enter_context(mock.patch(target, refuse))
            stack.enter_context(contextlib.redirect_stderr(err))
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            status = main([a.replace("{out}", str(out)) for a in argv])
        return status, err.getvalue()
    return call


def _refused(option, text):
    """A check: exit status 2 and one stderr line naming ``option``, then ``text``."""
    def check(result):
        status, err = result
        assert status == 2, (status, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert re.match(rf"rso-ref: error: {re.escape(option)}: .*{text}", err), err
    return check


_FAST = ("--epochs", "1", "--no-progress", "--out", "{out}")

PROBES = [
    # compare: an option for an optimizer that does not run is refused, not ignored
    Probe("rso-ref compare", "--lr for an optimizer not compared",
          _cli("compare", "--optimizers", "sgd,adamw", "--lr", "adam=0.01", *_FAST),
          check=_refused("--lr", "adam not among --optimizers sgd,adamw")),
    Probe("rso-ref compare", "--lr for an optimizer not among the default ones",
          _cli("compare", "--lr", "lamb=0.01", *_FAST),
          check=_refused("--lr", "lamb not among --optimizers sgd,adam,rso")),
    Probe("rso-ref compare", "--meta-iters without rso",
          _cli("compare", "--optimizers", "sgd", "--meta-iters", "3", *_FAST),
          check=_refused("--meta-iters", "sets RSO, which is not among --optimizers sgd")),
    Probe("rso-ref compare", "--groups without rso",
          _cli("compare", "--optimizers", "adam", "--groups", "block", *_FAST),
          check=_refused("--groups", "not among --optimizers adam")),
    Probe("rso-ref compare", "--lr with --tune-lr",
          _cli("compare", "--lr", "sgd=0.1", "--tune-lr", *_FAST),
          check=_refused("--lr", "cannot be combined with --tune-lr")),
    Probe("rso-ref compare", "--out a file", _cli("compare", *_FAST, make="file"),
          check=_refused("--out", "is a file, not a directory")),
    Probe("rso-ref compare", "--out below a file",
          _cli("compare", "--epochs", "1", "--no-progress", "--out", "{out}/sub", make="file"),
          check=_refused("--out", "Not a directory")),
    Probe("rso-ref compare", "--epochs 0", _cli("compare", "--epochs", "0", "--out", "{out}"),
          check=_refused("--epochs", "epochs must be an int >= 1")),
    Probe("rso-ref compare", "--seeds empty", _cli("compare", "--seeds", "0", *_FAST),
          check=_refused("--seeds", "must not be empty")),
    # compare --rerender: analyses stored reports, trains nothing
    Probe("rso-ref compare", "--rerender without --preset",
          _cli("compare", "--rerender", "--out", "{out}", make="dir"),
          check=_refused("--rerender", "applies to --preset runs only")),
    Probe("rso-ref compare", "--rerender with --seeds",
          _cli("compare", "--preset", "table1-digits-mlp", "--rerender", "--seeds", "2",
               "--out", "{out}", make="dir"),
          check=_refused("--rerender", "cannot be combined with --seeds")),
    Probe("rso-ref compare", "--rerender without --out",
          _cli("compare", "--preset", "table1-digits-mlp", "--rerender"),
          check=_refused("--rerender", "needs --out")),
    Probe("rso-ref compare", "--rerender of a directory without a report",
          _cli("compare", "--preset", "table1-digits-mlp", "--rerender", "--out", "{out}",
               make="dir"),
          check=_refused("--out", "holds no report.json")),
    Probe("rso-ref compare", "--rerender all of a directory without reports",
          _cli("compare", "--preset", "all", "--rerender", "--out", "{out}", make="dir"),
          check=_refused("--out", "no NAME/report.json of a preset")),
    # demo
    Probe("rso-ref demo", "--out a file", _cli("demo", *_FAST, make="file"),
          check=_refused("--out", "is a file, not a directory")),
    Probe("rso-ref demo", "--epochs 0", _cli("demo", "--epochs", "0", "--out", "{out}"),
          check=_refused("--epochs", "epochs must be an int >= 1")),
    Probe("rso-ref demo", "--blas-threads negative", _cli("demo", "--blas-threads", "-1"),
          check=_refused("--blas-threads", "expected an int >= 0")),
    # theory
    Probe("rso-ref theory", "--out a file",
          _cli("theory", "--quick", "--out", "{out}", make="file"),
          check=_refused("--out", "is a file, not a directory")),
    Probe("rso-ref theory", "--claim unknown",
          _cli("theory", "--claim", "no-such-claim", "--out", "{out}"),
          check=_refused("--claim", "unknown claim")),
    # bench
    Probe("rso-ref bench", "name unknown", _cli("bench", "no-such-bench"),
          check=_refused("name", "invalid choice")),
    Probe("rso-ref bench", "--out a directory",
          _cli("bench", "lbfgs", "--out", "{out}", make="dir"),
          check=_refused("--out", "is a directory; give the JSON file")),
    Probe("rso-ref bench", "--out below a file", _cli("bench", "lbfgs", "--out", "{out}/b.json",
                                                      make="file"),
          check=_refused("--out", "is a file, not a directory")),
]
