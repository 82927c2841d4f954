"""Run claims and render the theory report: one markdown page per claim, an index, JSON."""
from __future__ import annotations

import json
import time
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
               log: Callable[[str], None] | None = None) -> list[tuple[Claim, Evidence, float]]:
    """Run the claims ``ids`` (all when None), writing figures into ``out_dir``.

    ``log``, when given, receives one line per claim started and finished (the
    command line passes ``print``; the library itself never prints).
    """
    claims = all_claims() if ids is None else [get(i) for i in ids]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for claim in claims:
        started = time.perf_counter()
        if log is not None:
            log(f"running {claim.id} ({'quick' if quick else 'full'}) ...")
        evidence = claim.run(quick, out)
        elapsed = time.perf_counter() - started
        if log is not None:
            log(f"  {claim.id}: {evidence.verdict} ({elapsed:.1f} s)")
        results.append((claim, evidence, elapsed))
    return results


def render_claim(claim: Claim, evidence: Evidence, *, quick: bool, seconds: float) -> str:
    """Markdown page of one claim."""
    figures = "\n".join(f"![{name}]({name})" for name in evidence.figures)
    return f"""# {claim.title}

- **id:** `{claim.id}`
- **source:** {claim.source}
- **verdict:** **{evidence.verdict}**
- **reproduce:** `{command_for(claim, quick)}` ({'quick' if quick else 'full'} protocol, {seconds:.0f} s here)

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
                "--preset` runs with five seeds and Welch tests, are in "
                "[tables/](tables/README.md).\n\n")


def write_report(results: list, out_dir: str | Path, *, quick: bool) -> dict[str, Path]:
    """Write ``<id>.md`` per claim and update ``report.json`` and the index ``README.md``.

    Claims already in ``out_dir/report.json`` and not re-run are kept, so claims can be
    run one at a time into the same directory.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "report.json"
    payload = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else {}
    claims = payload.get("claims", {})
    for claim, evidence, seconds in results:
        write_text_atomic(out / f"{claim.id}.md",
                          render_claim(claim, evidence, quick=quick, seconds=seconds))
        claims[claim.id] = {
            "title": claim.title, "source": claim.source, "verdict": evidence.verdict,
            "quick": quick, "conditions": evidence.conditions,
            "numbers": as_jsonable(evidence.numbers), "figures": evidence.figures,
            "seconds": seconds, "command": command_for(claim, quick)}
    rows = [f"| [{cid}]({cid}.md) | {c['title']} | {c['source']} | **{c['verdict']}** | "
            f"{'quick' if c['quick'] else 'full'} |" for cid, c in claims.items()]
    write_text_atomic(out / "README.md",
                      "# Claims of the papers and their verdicts\n\n"
                      "Each page states a claim precisely, the protocol that tests it, the verdict "
                      "and its evidence, and the command that reproduces it.\n\n"
                      + (_TABLES_NOTE if (out / "tables").is_dir() else "")
                      + "| id | claim | source | verdict | protocol |\n| --- | --- | --- | --- | --- |\n"
                      + "\n".join(rows) + "\n")
    return {"index": out / "README.md",
            "json": write_json_atomic(previous, {"claims": claims})}

