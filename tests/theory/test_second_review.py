"""theory/second-review.md lists verdicts old -> new: every "new" entry of a claim's page is
the committed value in theory/report.json (the rule functions' tests recompute those)."""
import json
from pathlib import Path

import pytest

_THEORY = Path(__file__).resolve().parents[2] / "theory"


def _rows():
    lines = (_THEORY / "second-review.md").read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| page")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table
            if not set(line) <= set("|- ")]


def _lookup(entry: dict, key: str):
    if key == "verdict":
        return entry["verdict"]
    value = entry["numbers"]
    for part in key.split("."):
        value = value[part]
    return value


@pytest.mark.portable
def test_every_new_verdict_on_the_review_page_is_the_committed_one():
    claims = json.loads((_THEORY / "report.json").read_text(encoding="utf-8"))["claims"]
    checked = 0
    for page, key, old, new, basis in _rows():
        if page not in claims:     # a preset's row: its page's own tests cover it
            continue
        assert _lookup(claims[page], key) == new, (page, key)
        assert basis and old, (page, key)
        checked += 1
    assert checked >= 12
    # every claim whose verdict word changed is listed
    listed = {(page, key) for page, key, *_ in _rows()}
    assert ("theorem2-exhaustion", "verdict") in listed
