"""The `budget-ledger` command group: global options, and every error mapped to its exit code.

Exit codes (the CLI contract): 0 ok; 1 audit/verify found problems; 2 bad input or usage;
3 a ledger invariant refused the request; 4 the store is unreachable or busy; 5 an unexpected
internal error (a bug: the traceback is written to the log file named on stderr, see
:func:`error_log_path`); 130 interrupted (Ctrl-C). No traceback ever reaches the user.
"""

from __future__ import annotations

import getpass
import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from cli.render import BOM_KEY, FORMATS
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


EXIT_STORE = 4
EXIT_INTERNAL = 5
EXIT_INTERRUPTED = 130
LOG_ENV = "BUDGET_LEDGER_LOG"


def error_log_path() -> Path:
    """Where unexpected errors leave their traceback: ``$BUDGET_LEDGER_LOG``, else
    ``$XDG_CACHE_HOME/budget-ledger/error.log`` (``~/.cache/budget-ledger/error.log``)."""
    explicit = os.environ.get(LOG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "budget-ledger" / "error.log"


def _write_log(exc: BaseException) -> Path | None:
    path = error_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {datetime.now(UTC).isoformat(timespec='seconds')} "
                    f"budget-ledger {' '.join(sys.argv[1:])}\n")
            f.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _is_store_error(exc: BaseException) -> bool:
    """A database driver's error about the store itself (locked, unreachable, not a database).

    Only modules already imported are consulted, so a SQLite user never loads psycopg here.
    """
    import sqlite3

    if type(exc) is sqlite3.DatabaseError:  # 'file is not a database', 'disk image is malformed'
        return True
    kinds: list[type[BaseException]] = [sqlite3.OperationalError]
    persistence = sys.modules.get("eventsourcing.persistence")
    if persistence is not None:
        kinds.append(persistence.OperationalError)
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None:
        kinds.append(sa_exc.OperationalError)
    pg = sys.modules.get("psycopg")
    if pg is not None:
        kinds.append(pg.OperationalError)
    return isinstance(exc, tuple(kinds))


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# Each command's module, so that running one imports only it (a query never loads the importers,
# the demo or openpyxl); `--help` and the tests load them all with register().
COMMAND_MODULES = {
    **dict.fromkeys(("balance", "progress", "trace", "history", "log", "verify", "rebuild"), "query"),
    **dict.fromkeys(("init", "issue", "forward", "project", "allocate", "deallocate", "pay",
                     "progress-report", "recover", "reverse", "unit"), "write"),
    "import": "imports", "audit": "audit", "demo": "demo", "report": "report",
}


class LedgerGroup(click.Group):
    """The CLI's error boundary: every failure becomes one line on stderr and a documented
    exit code (see the module docstring); never a traceback. Commands load lazily."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            importlib.import_module(f"cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        register()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            rv = super().invoke(ctx)
            ctx.close()  # close the store inside the boundary too
            return rv
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors (exit 2) and --help: click reports them itself
        except LedgerError as e:
            problems = getattr(e, "problems", None) or [str(e)]
            for p in problems:
                click.echo(f"error: {p}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: nothing of an unfinished command was written", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # `budget-ledger log | head`: the reader stopped listening
            try:  # no second error when Python flushes stdout at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            sys.exit(0)
        except Exception as e:  # noqa: BLE001 - the boundary: no traceback reaches the user
            if _is_store_error(e):
                fail(f"the store cannot be used (unreachable, busy, read-only or damaged): "
                     f"{_one_line(e)}", EXIT_STORE)
            internal_error(e)


def internal_error(e: BaseException, what: str = "unexpected internal error") -> NoReturn:
    logged = _write_log(e)
    where = f"traceback in {logged}" if logged else f"could not write {error_log_path()}"
    fail(f"{what} ({type(e).__name__}: {_one_line(e)}); {where} — please report it",
         EXIT_INTERNAL)


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="BUDGET_LEDGER_DB", default=None, metavar="URL",
              help="Event store: a file path / sqlite:///FILE (default ./budget-ledger.db) or "
                   "postgresql+psycopg://USER@HOST:PORT/DB. Env: BUDGET_LEDGER_DB.")
@click.option("--actor", default=None, help="Who records the entries (env BUDGET_LEDGER_ACTOR, else the OS user).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output of query commands; writing commands print {\"id\": ...} with json.")
@click.option("--bom", is_flag=True, envvar="BUDGET_LEDGER_CSV_BOM", default=False,
              help="Start CSV output with a UTF-8 byte-order mark (for Excel on Chinese Windows; "
                   "env BUDGET_LEDGER_CSV_BOM=1).")
@click.version_option(package_name="budget-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str | None, fmt: str, bom: bool) -> None:
    """Event-sourced ledger for rural-revitalisation linkage funds (衔接资金).

    \b
    Example:
      budget-ledger --db ledger.db init
      budget-ledger demo --db demo.db
      budget-ledger --db ledger.db balance 城关区
      budget-ledger --bom --format csv progress > 支出进度.csv
    """
    obj = Context(db=db, actor=actor or default_actor(), fmt=fmt)
    ctx.meta[BOM_KEY] = bom
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def register() -> None:
    """Attach every command module to the group (for --help, the docs and the tests)."""
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(f"cli.{module}")


def main() -> None:
    try:
        from ledger.library_version import check_version

        check_version()  # the patched library's version (exit 5 if wrong); its hooks: on first use
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001 - the boundary covers start-up too
        internal_error(e, "cannot start")
    cli(prog_name="budget-ledger")


if __name__ == "__main__":
    main()
