"""The generated reference stays generated: docs/cli.md is exactly what `python -m cli.docgen` writes."""

from __future__ import annotations

from pathlib import Path

from cli.docgen import render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_cli_md_equals_the_generators_output() -> None:
    assert (DOCS / "cli.md").read_text("utf-8") == render(), (
        "docs/cli.md is out of date: run `python -m cli.docgen > docs/cli.md`")
