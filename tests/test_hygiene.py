"""Test-suite hygiene: hypothesis tests obey the profile chosen in conftest (dev / ci)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_hypothesis_test_overrides_the_profiles_example_count() -> None:
    offenders = [f"{p.name}:{n}" for p in sorted(TESTS.glob("*.py")) if p.name != "conftest.py"
                 for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
                 if re.search(r"\bmax_examples\s*=", line) and "re.search" not in line]
    assert not offenders, f"max_examples set outside conftest.py's profiles: {offenders}"
