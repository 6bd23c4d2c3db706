"""`budget-ledger audit`: the compliance rules of the seed notices, over the books (read only).

Exit 1 when any finding has severity ``error``, else 0; a bad ``--rules`` file exits 2 naming the
key and its line, before the store is touched.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from cli.main import Context, cli
from cli.query import books, query_options
from cli.render import emit
from ledger.errors import InputError

pass_ctx = click.make_pass_decorator(Context)

COLUMNS = ("rule", "severity", "entity", "unit", "year", "date", "amount", "detail")
TABLE_COLUMNS = ("rule", "severity", "entity", "unit", "amount", "detail")


@cli.command()
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="TOML file overriding thresholds/severities of the bundled rules.toml.")
@click.option("--explain", "explain_rule", default=None, metavar="RULE",
              help="Print the rule's source notice text, scope and thresholds; read no books.")
@query_options()
@pass_ctx
def audit(ctx: Context, rules_file: Path | None, explain_rule: str | None, fmt: str | None,
          as_of: date | None, known_at: datetime | None) -> None:
    """Findings of the compliance rules (docs/audit.md); exit 1 when any is an error.

    The audit date ("today" for deadlines and the 序时进度) is --as-of, else the latest
    effective date in the books.

    \b
    Example:
      budget-ledger audit
      budget-ledger audit --as-of 2025-06-30 --format json
      budget-ledger audit --rules my-rules.toml --known-at 2025-07-01T00:00:00
      budget-ledger audit --explain forward-deadline

    Each rule binds only the funds and units its notice speaks for (its scope: jurisdiction,
    years, tasks, sources, administrative level); see --explain and docs/audit.md.
    """
    from projections.audit import has_errors, load_rules, run_audit

    config = load_rules(rules_file)
    if explain_rule is not None:
        _explain(config, explain_rule, fmt or ctx.fmt)
        return
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


def _explain(config: Any, rule: str, fmt: str) -> None:
    from projections.audit import RULE_IDS
    from projections.audit.config import RuleConfig

    if rule not in RULE_IDS:
        raise InputError(f"--explain: no rule {rule!r}; rules: {', '.join(RULE_IDS)}",
                         field="explain")
    cfg = config.rule(rule)
    common = set(RuleConfig.model_fields)
    data = cfg.model_dump(mode="json")
    scope = {k: data[k] for k in ("jurisdictions", "years", "tasks", "sources", "levels")}
    thresholds = {k: v for k, v in data.items() if k not in common}
    out = {"rule": rule, "enabled": cfg.enabled, "severity": cfg.severity, "notice": cfg.notice,
           "text": cfg.text, "scope": scope, "thresholds": thresholds}
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return

    def shown(v: Any) -> str:
        return ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)

    click.echo(f"{rule} ({cfg.severity}{'' if cfg.enabled else ', disabled'})")
    click.echo(f"  source:  {cfg.notice}")
    click.echo(f"  text:    「{cfg.text}」")
    click.echo("  scope:")
    for k, v in scope.items():
        click.echo(f"    {k:<13} {shown(v) if v else 'any'}")
    click.echo("  thresholds:")
    for k, v in thresholds.items():
        click.echo(f"    {k:<13} {shown(v)}")
