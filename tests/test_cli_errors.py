"""The CLI's error boundary: every failure is one line on stderr and a documented exit code.

Exit codes: 0 ok · 1 audit/verify found problems · 2 bad input · 3 invariant refused ·
4 store unreachable or busy · 5 unexpected internal error (traceback logged) · 130 interrupted.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import EXIT_INTERNAL, EXIT_INTERRUPTED, cli, register
from ledger.application import BudgetLedger

register()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args), env=env)
    return res.exit_code, res.stdout, res.stderr


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_db_on_a_file_that_is_not_a_database_is_one_line_and_exit_4(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a ledger, just some words that fill more than a header\n" * 3)
    before = sha(bogus)
    for args in (["balance"], ["log"], ["verify"], ["init"], [
            "issue", "--to", "测试区", "--amount", "1万", "--doc", "D1", "--date", "2025-01-05",
            "--year", "2025", "--task", "以工代赈任务", "--source", "provincial"]):
        code, out, err = run("--db", str(bogus), *args)
        assert code == 4, (args, err)
        assert err.strip().splitlines() == [
            f"error: --db: cannot open the store: {bogus} is not a SQLite database (not a ledger file)"]
        assert "Traceback" not in out + err
    assert sha(bogus) == before


def test_db_on_a_directory_or_a_missing_folder_is_exit_4(tmp_path: Path) -> None:
    code, _, err = run("--db", str(tmp_path), "balance")
    assert code == 4 and "is a directory" in err and "Traceback" not in err
    code, _, err = run("--db", str(tmp_path / "nope" / "x.db"), "balance")
    assert code == 4 and "does not exist" in err
    assert not (tmp_path / "nope").exists()


@pytest.mark.postgres
def test_db_on_a_postgres_database_that_does_not_exist_says_so_at_once() -> None:
    import time

    base = os.environ.get("BUDGET_LEDGER_TEST_PG")
    if not base:
        pytest.skip("BUDGET_LEDGER_TEST_PG is not set: PostgreSQL tests skipped")
    url = base.rsplit("/", 1)[0] + "/bl_no_such_db_here"
    start = time.monotonic()
    code, _, err = run("--db", url, "balance")
    assert code == 4, err
    assert 'database "bl_no_such_db_here" does not exist' in err
    assert "couldn't get a connection" not in err
    assert len(err.strip().splitlines()) == 1
    assert time.monotonic() - start < 4


def test_an_unexpected_error_is_logged_and_exits_5_not_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(cls: object, url: str | None = None) -> BudgetLedger:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(BudgetLedger, "open", classmethod(boom))
    log = tmp_path / "logs" / "err.log"
    code, out, err = run("--db", str(tmp_path / "l.db"), "balance",
                         env={"BUDGET_LEDGER_LOG": str(log)})
    assert code == EXIT_INTERNAL == 5
    assert len(err.strip().splitlines()) == 1
    assert "RuntimeError: something nobody expected" in err and str(log) in err
    assert "Traceback" not in out + err
    logged = log.read_text("utf-8")
    assert "Traceback (most recent call last)" in logged and "something nobody expected" in logged


def test_the_log_goes_under_the_cache_dir_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BudgetLedger, "open", classmethod(lambda cls, url=None: 1 / 0))
    monkeypatch.delenv("BUDGET_LEDGER_LOG", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = run("--db", str(tmp_path / "l.db"), "balance")
    assert code == 5
    log = tmp_path / "cache" / "budget-ledger" / "error.log"
    assert str(log) in err and "ZeroDivisionError" in log.read_text("utf-8")


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(cls: object, url: str | None = None) -> BudgetLedger:
        raise KeyboardInterrupt

    monkeypatch.setattr(BudgetLedger, "open", classmethod(interrupted))
    code, out, err = run("--db", str(tmp_path / "l.db"), "balance")
    assert code == EXIT_INTERRUPTED == 130
    assert "interrupted" in err and "Traceback" not in out + err and "Aborted" not in err


def test_a_store_error_from_the_driver_is_exit_4(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def locked(cls: object, url: str | None = None) -> BudgetLedger:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(BudgetLedger, "open", classmethod(locked))
    code, _, err = run("--db", str(tmp_path / "l.db"), "balance")
    assert code == 4 and "database is locked" in err and "Traceback" not in err


def test_usage_errors_still_exit_2(tmp_path: Path) -> None:
    code, _, err = run("--db", str(tmp_path / "l.db"), "balance", "--by", "nonsense")
    assert code == 2 and "Invalid value" in err


# ---- input the write side must refuse, naming the option, with nothing written ---------------

ISSUE = ["issue", "--to", "拉萨市", "--amount", "100万", "--doc", "藏财〔2025〕1号", "--date",
         "2025-01-05", "--year", "2025", "--task", "以工代赈任务", "--source", "provincial",
         "--id", "I-ROOT"]


def _head(db: Path) -> tuple[int, str]:
    from ledger.integrity import head_digest

    app = BudgetLedger.open(str(db))
    try:
        return head_digest(app)
    finally:
        app.close()


def test_forward_to_the_holder_itself_is_refused_naming_to(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    assert run("--db", str(db), *ISSUE)[0] == 0
    before = _head(db)
    code, out, err = run("--db", str(db), "forward", "--parent", "I-ROOT", "--to", "拉萨市",
                         "--amount", "10万", "--doc", "拉财〔2025〕2号", "--date", "2025-01-06")
    assert code == 2, err
    assert err.startswith("error: --to:") and "itself" in err and "拉萨市" in err
    assert _head(db) == before
    code, _, err = run("--db", str(db), "forward", "--parent", "I-ROOT", "--to", "城关区",
                       "--amount", "10万", "--doc", "拉财〔2025〕2号", "--date", "2025-01-06")
    assert code == 0, err


@pytest.mark.parametrize(("option", "value"), [
    ("--to", "拉萨\n市"), ("--doc", "藏财〔2025〕\r1号"), ("--task", "以工代赈\t任务"),
    ("--issuer", "西藏\x00财政厅"), ("--to", "拉萨\u2028市")])
def test_control_characters_in_text_fields_are_refused_naming_the_option(
        tmp_path: Path, option: str, value: str) -> None:
    db = tmp_path / "l.db"
    assert run("--db", str(db), "init")[0] == 0
    before = _head(db)
    args = list(ISSUE)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    code, _, err = run("--db", str(db), *args)
    assert code == 2, err
    assert err.startswith(f"error: {option}: must be one line of printable text")
    assert _head(db) == before


def test_a_newline_in_a_project_name_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    assert run("--db", str(db), "init")[0] == 0
    before = _head(db)
    code, _, err = run("--db", str(db), "project", "add", "--id", "P1", "--unit", "城关区",
                       "--name", "蔬菜\n大棚", "--category", "产业发展", "--date", "2025-01-10")
    assert code == 2 and err.startswith("error: --name: must be one line") and "U+000A" in err
    assert _head(db) == before


def test_fund_source_is_one_enum_for_commands_and_cli() -> None:
    from cli.write import issue
    from ledger.commands import IssueCommand, build
    from ledger.errors import InputError
    from ledger.fund_source import FundSource

    option = next(p for p in issue.params if p.name == "source")
    assert tuple(option.type.choices) == FundSource.values() == (  # type: ignore[attr-defined]
        "central", "provincial", "prefecture", "county")
    fields = dict(unit="拉萨市", amount="1万", doc="D", effective_date="2025-01-05", year=2025,
                  task="以工代赈任务")
    cmd = build(IssueCommand, source=FundSource.COUNTY, **fields)
    assert cmd.source == "county" and type(cmd.source) is str  # events keep the plain string
    with pytest.raises(InputError, match="--source: expected one of central, provincial"):
        build(IssueCommand, source="national", **fields)


def test_a_wrong_library_version_stops_start_up_with_one_line_and_exit_5(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import ledger.library_version as v; v.installed_version = lambda: '9.9.9'; "
            "from cli.main import main; main()")
    res = subprocess.run([sys.executable, "-c", code, "--db", str(tmp_path / "l.db"), "balance"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "BUDGET_LEDGER_LOG": str(tmp_path / "err.log")})
    assert res.returncode == 5, res.stderr
    assert res.stderr.startswith("error: cannot start (LibraryMismatch:") and "9.9.9" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_damaged_sqlite_file_is_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def damaged(cls: object, url: str | None = None) -> BudgetLedger:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(BudgetLedger, "open", classmethod(damaged))
    code, _, err = run("--db", str(tmp_path / "l.db"), "balance")
    assert code == 4 and "malformed" in err


def test_a_programming_error_from_the_driver_is_a_bug_not_a_store_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def bug(cls: object, url: str | None = None) -> BudgetLedger:
        raise sqlite3.ProgrammingError("Incorrect number of bindings supplied")

    monkeypatch.setattr(BudgetLedger, "open", classmethod(bug))
    code, _, err = run("--db", str(tmp_path / "l.db"), "balance",
                       env={"BUDGET_LEDGER_LOG": str(tmp_path / "e.log")})
    assert code == 5 and "ProgrammingError" in err


def test_a_question_mark_in_a_sqlite_path_is_refused_before_any_file_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "a?b"
    folder.mkdir()
    code, _, err = run("--db", str(folder / "l.db"), "init")
    assert code == 2 and "cannot contain '?'" in err
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())


def test_every_command_is_mapped_to_the_module_that_defines_it() -> None:
    """Commands load lazily by name (a query imports only cli.query): the map must be exact."""
    from cli.main import COMMAND_MODULES
    from cli.main import cli as group

    register()
    defined = {name: cmd.callback.__module__ for name, cmd in group.commands.items()
               if cmd.callback is not None}
    assert {name: f"cli.{module}" for name, module in COMMAND_MODULES.items()} == defined


def test_a_query_does_not_import_the_other_command_modules(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from cli.main import main; sys.argv = ['budget-ledger', '--db', "
            f"{str(tmp_path / 'l.db')!r}, 'balance']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('cli.', 'openpyxl', 'ledger.imports', "
            "'sqlalchemy.orm', 'pydantic'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert "cli.query" in out
    # nor the ORM (the read models are Core tables) nor pydantic
    for other in ("cli.imports", "cli.demo", "cli.report", "cli.write", "openpyxl", "ledger.imports",
                  "sqlalchemy.orm", "pydantic"):
        assert other not in out, out
