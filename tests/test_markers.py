"""`pytest -m postgres` selects every PostgreSQL test, and only those."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collected(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/test_write_side.py", "tests/test_integrity.py", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    ).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_the_postgres_marker_selects_the_postgres_tests() -> None:
    pg = _collected("-m", "postgres")
    rest = _collected("-m", "not postgres")
    assert pg, "pytest -m postgres selected nothing"
    assert not any("[sqlite]" in t for t in pg), pg
    assert "tests/test_integrity.py::test_inserted_row_in_a_gap_with_a_forged_chain_entry_is_caught" in pg
    assert not any("[postgres]" in t for t in rest), rest
    assert set(pg).isdisjoint(rest) and len(pg) + len(rest) == len(_collected())
