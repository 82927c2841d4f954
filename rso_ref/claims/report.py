"""Run claims and render the theory report: one markdown page per claim, an index, JSON."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

from ..checkpoint import write_json_atomic, write_text_atomic
from .registry import Claim, Evidence, all_claims, as_jsonable, get

__all__ = ["run_claims", "render_claim", "write_report"]


def command_for(claim: Claim, quick: bool) -> str:
    """The shell command that reproduces ``claim``."""
    return f"rso-ref theory --claim {claim.id}" + (" --quick" if quick else "")


def run_claims(ids: Iterable[str] | None = None, *, quick: bool = False,
               out_dir: str | Path = "rso-ref-out/theory",
               log: Callable[[str], None] | None = None) -> list[tuple[Claim, Evidence, dict]]:
    """Run the claims ``ids`` (all when None), writing figures into ``out_dir``.

    ``log``, when given, receives one line per claim started and finished (the
    command line passes ``print``; the library itself never prints). Each result is
    ``(claim, evidence, run)`` where ``run`` records the wall time in seconds and the
    1-minute load average (``os.getloadavg``) at the start and the end, so a page says
    how busy the machine was while its timings were taken.
    """
    claims = all_claims() if ids is None else [get(i) for i in ids]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for claim in claims:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        if log is not None:
            log(f"running {claim.id} ({'quick' if quick else 'full'}) ...")
        evidence = claim.run(quick, out)
        run = {"seconds": time.perf_counter() - started,
               "load_average": [load_before, os.getloadavg()[0]], "cpu_count": os.cpu_count()}
        if log is not None:
            log(f"  {claim.id}: {evidence.verdict} ({run['seconds']:.1f} s)")
        results.append((claim, evidence, run))
    return results


def _run_line(claim: Claim, quick: bool, run: dict) -> str:
    """The page's reproduce line: command, protocol, wall time and load average."""
    line = (f"`{command_for(claim, quick)}` ({'quick' if quick else 'full'} protocol, "
            f"{run['seconds']:.0f} s here")
    if "load_average" in run:
        before, after = run["load_average"]
        line += (f"; 1-minute load average {before:.1f} at the start and {after:.1f} at the "
                 f"end on {run['cpu_count']} CPUs")
    return line + ")"


def render_claim(claim: Claim, evidence: Evidence, *, quick: bool, run: dict) -> str:
    """Markdown page of one claim; ``run`` is the record :func:`run_claims` returns."""
    figures = "\n".join(f"![{name}]({name})" for name in evidence.figures)
    return f"""# {claim.title}

- **id:** `{claim.id}`
- **source:** {claim.source}
- **verdict:** **{evidence.verdict}**
- **reproduce:** {_run_line(claim, quick, run)}

> {claim.quote}

## Statement tested
{claim.statement}

## Protocol
{claim.protocol}

## Verdict: {evidence.verdict}
{evidence.conditions}

## Evidence
{evidence.summary}

{figures}
"""


_TABLES_NOTE = ("The paper's Tables 1-2 and §4.5 ablations at small scale, as `rso-ref compare "
                "--preset` runs with five seeds and paired tests, are in "
                "[tables/](tables/README.md).\n\n")
#: Written into the index when the directory holds the second review's record.
_REVIEW_NOTE = ("What the second review of these pages changed, verdict by verdict (old → new, "
                "with the number each rests on): [second-review.md](second-review.md).\n\n")


@contextmanager
def _locked(directory: Path):
    """Hold an exclusive lock on ``directory/.report.lock`` (POSIX ``flock``).

    Where there is no ``fcntl`` (Windows) nothing is locked: runs into one directory
    must then not overlap.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(directory / ".report.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_report(results: list, out_dir: str | Path, *, quick: bool) -> dict[str, Path]:
    """Write ``<id>.md`` per claim and update ``report.json`` and the index ``README.md``.

    Claims already in ``out_dir/report.json`` and not re-run are kept, so claims can be
    run one at a time into the same directory, by several processes at once: the
    read-merge-write of ``report.json`` holds a lock, so no writer drops another's claim.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        return _merge_report(results, out, quick=quick)


def _merge_report(results: list, out: Path, *, quick: bool) -> dict[str, Path]:
    previous = out / "report.json"
    payload = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else {}
    claims = payload.get("claims", {})
    for claim, evidence, run in results:
        write_text_atomic(out / f"{claim.id}.md",
                          render_claim(claim, evidence, quick=quick, run=run))
        claims[claim.id] = {
            "title": claim.title, "source": claim.source, "verdict": evidence.verdict,
            "quick": quick, "conditions": evidence.conditions,
            "numbers": as_jsonable(evidence.numbers), "figures": evidence.figures,
            "seconds": run["seconds"], "load_average": run.get("load_average"),
            "cpu_count": run.get("cpu_count"), "command": command_for(claim, quick)}
    rows = [f"| [{cid}]({cid}.md) | {c['title']} | {c['source']} | **{c['verdict']}** | "
            f"{'quick' if c['quick'] else 'full'} |" for cid, c in claims.items()]
    write_text_atomic(out / "README.md",
                      "# Claims of the papers and their verdicts\n\n"
                      "Each page states a claim precisely, the protocol that tests it, the verdict "
                      "and its evidence, and the command that reproduces it.\n\n"
                      + (_TABLES_NOTE if (out / "tables").is_dir() else "")
                      + (_REVIEW_NOTE if (out / "second-review.md").is_file() else "")
                      + "| id | claim | source | verdict | protocol |\n"
                      + "| --- | --- | --- | --- | --- |\n"
                      + "\n".join(rows) + "\n")
    return {"index": out / "README.md",
            "json": write_json_atomic(previous, {"claims": claims})}


