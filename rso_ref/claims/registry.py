r"""The registry of the papers' claims: each stated precisely, tested, and given a verdict.

A :class:`Claim` holds the paper's words, the precise statement we test, the protocol
and a ``run(quick, out_dir) -> Evidence`` function. :class:`Evidence` carries the
verdict (one of :data:`VERDICTS`), its conditions, a summary with the numbers, the
numbers themselves (JSON-ready, confidence intervals included) and the figures written.
``rso-ref theory`` runs claims and renders one markdown page per claim plus a JSON and an
index (:mod:`rso_ref.claims.report`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["VERDICTS", "Claim", "Evidence", "REGISTRY", "register", "get", "all_claims", "as_jsonable"]

#: Allowed verdicts.
VERDICTS = ("holds", "holds-under-conditions", "refuted", "not-testable-here")


@dataclass(frozen=True)
class Evidence:
    """What running a claim's protocol found.

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    conditions : str
        Markdown: the conditions under which it holds / why refuted / what is not testable.
    summary : str
        Markdown paragraph(s) with the key numbers (and their confidence intervals).
    numbers : dict
        JSON-ready measurements backing the verdict.
    figures : list of str
        PNG file names (relative to the output directory) written by the run.
    """

    verdict: str
    conditions: str
    summary: str
    numbers: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, with the protocol that tests it.

    Attributes
    ----------
    id : str
        Short stable identifier, e.g. ``"theorem1-rate"`` (used by ``--claim``).
    title : str
    source : str
        Paper and section, e.g. ``"RSO paper §3.1, Theorem 1"``.
    quote : str
        The paper's words, quoted briefly.
    statement : str
        Markdown: the precise statement tested (assumptions, quantities, estimator).
    protocol : str
        Markdown: model, data, seeds, budget (quick and full).
    run : callable
        ``run(quick: bool, out_dir: pathlib.Path) -> Evidence``; writes its figures into
        ``out_dir`` and returns the evidence. Deterministic (fixed seeds).
    """

    id: str
    title: str
    source: str
    quote: str
    statement: str
    protocol: str
    run: Callable[[bool, Path], Evidence]


#: All registered claims, by id, in registration order.
REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`REGISTRY` (ids must be unique)."""
    if claim.id in REGISTRY:
        raise ValueError(f"claim id {claim.id!r} is registered twice")
    REGISTRY[claim.id] = claim
    return claim


def get(claim_id: str) -> Claim:
    """The claim called ``claim_id``; ``ValueError`` listing the known ids otherwise."""
    _load_all()
    if claim_id not in REGISTRY:
        raise ValueError(f"unknown claim {claim_id!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[claim_id]


def all_claims() -> list[Claim]:
    """Every registered claim (importing the claim modules registers them)."""
    _load_all()
    return list(REGISTRY.values())


def _load_all() -> None:
    import importlib
    import pkgutil

    from . import __path__ as package_path

    for info in pkgutil.iter_modules(package_path):
        if info.name not in {"registry", "report", "stats"}:
            importlib.import_module(f"{__package__}.{info.name}")


def as_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays in ``value`` into plain Python for JSON."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): as_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
