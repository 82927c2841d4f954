"""Executable checks of the RSO and Bulk-SGD papers' claims (rendered into ``theory/``).

Each module registers one or more :class:`~rso_ref.claims.registry.Claim`; ``rso-ref
theory [--quick] [--claim ID]`` runs them (:mod:`rso_ref.claims.report`).
"""
from .registry import REGISTRY, VERDICTS, Claim, Evidence, all_claims, get, register

__all__ = ["REGISTRY", "VERDICTS", "Claim", "Evidence", "all_claims", "get", "register"]
