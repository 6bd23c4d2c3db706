"""`budget-ledger audit`: the compliance rules of the seed notices, over the books (read only).

Exit 1 when any finding has severity ``error``, else 0; a bad ``--rules`` file exits 2 naming the
key and its line, before the store is touched.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from cli.main import Context, cli
from cli.query import books, query_options
from cli.render import emit

pass_ctx = click.make_pass_decorator(Context)

COLUMNS = ("rule", "severity", "entity", "unit", "year", "date", "amount", "detail")
TABLE_COLUMNS = ("rule", "severity", "entity", "unit", "amount", "detail")


@cli.command()
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="TOML file overriding thresholds/severities of the bundled rules.toml.")
@query_options()
@pass_ctx
def audit(ctx: Context, rules_file: Path | None, fmt: str | None, as_of: date | None,
          known_at: datetime | None) -> None:
    """Findings of the compliance rules (docs/audit.md); exit 1 when any is an error.

    The audit date ("today" for deadlines and the 序时进度) is --as-of, else the latest
    effective date in the books.

    \b
    Example:
      budget-ledger audit
      budget-ledger audit --as-of 2025-06-30 --format json
      budget-ledger audit --rules my-rules.toml --known-at 2025-07-01T00:00:00
    """
    from projections.audit import has_errors, load_rules, run_audit

    config = load_rules(rules_file)
    engine, view = books(ctx, as_of, known_at)
    findings = run_audit(engine, config, view)
    f = fmt or ctx.fmt
    rows = [x.to_json() for x in findings]
    if f == "json":
        emit(rows, f)
    else:
        emit(rows, f, columns=TABLE_COLUMNS if f == "table" else COLUMNS,
             title=f"audit: {len(rows)} finding(s) (amounts in 元)")
    if has_errors(findings):
        sys.exit(1)
