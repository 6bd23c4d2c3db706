"""The `budget-ledger` command group: global options, and every error mapped to its exit code.

Exit codes (the CLI contract): 0 ok; 1 audit/verify found problems; 2 bad input or usage;
3 a ledger invariant refused the request; 4 the store is unreachable or busy.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from cli.render import FORMATS
from ledger.errors import LedgerError


@dataclass
class Context:
    db: str | None
    actor: str
    fmt: str
    _app: Any = field(default=None, repr=False)

    @property
    def app(self) -> Any:
        if self._app is None:
            from ledger.application import BudgetLedger

            self._app = BudgetLedger.open(self.db)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


def default_actor() -> str:
    try:
        return os.environ.get("BUDGET_LEDGER_ACTOR") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


class LedgerGroup(click.Group):
    """Turns ledger errors into their exit codes with one clear line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as e:
            problems = getattr(e, "problems", None) or [str(e)]
            for p in problems:
                click.echo(f"error: {p}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="BUDGET_LEDGER_DB", default=None, metavar="URL",
              help="Event store: a file path / sqlite:///FILE (default ./budget-ledger.db) or "
                   "postgresql+psycopg://USER@HOST:PORT/DB. Env: BUDGET_LEDGER_DB.")
@click.option("--actor", default=None, help="Who records the entries (env BUDGET_LEDGER_ACTOR, else the OS user).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output of query commands; writing commands print {\"id\": ...} with json.")
@click.version_option(package_name="budget-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str | None, fmt: str) -> None:
    """Event-sourced ledger for rural-revitalisation linkage funds (衔接资金).

    \b
    Example:
      budget-ledger --db ledger.db init
      budget-ledger demo --db demo.db
      budget-ledger --db ledger.db balance 城关区
    """
    obj = Context(db=db, actor=actor or default_actor(), fmt=fmt)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def register() -> None:
    """Attach every command module to the group (import order = help order)."""
    from cli import audit, demo, imports, query, write  # noqa: F401


def main() -> None:
    register()
    cli(prog_name="budget-ledger")


if __name__ == "__main__":
    main()
