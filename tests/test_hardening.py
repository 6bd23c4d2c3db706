"""Hostile input never breaks the ledger: it is refused with a clear message and nothing written,
and whatever is accepted can be queried afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.money import MAX_ENTRY_FEN, format_yuan

register()

ISSUE = ["issue", "--to", "测试区", "--doc", "测〔2025〕1号", "--date", "2025-01-05",
         "--year", "2025", "--task", "以工代赈任务", "--source", "provincial"]
QUERIES = [["balance", "测试区"], ["balance", "--by", "year"], ["log"], ["audit"], ["verify"],
           ["progress", "--by", "unit"]]


def run(db: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--db", str(db), *args])
    return res.exit_code, res.stdout, res.stderr


def log_head(db: Path) -> int:
    app = BudgetLedger.open(str(db))
    try:
        return app.last_position()
    finally:
        app.close()


@pytest.mark.parametrize("amount", ["100000000000000000000", "100000000000000000000元",
                                    "10000000000000001", "1000000000000.01"])
def test_an_amount_above_the_largest_entry_is_refused_and_nothing_written(
        tmp_path: Path, amount: str) -> None:
    db = tmp_path / "l.db"
    assert run(db, "init")[0] == 0
    assert run(db, *ISSUE, "--amount", "1万")[0] == 0
    before = log_head(db)
    code, out, err = run(db, *ISSUE, "--amount", amount)
    assert code == 2, err
    assert "--amount" in err and "larger than any single entry" in err
    assert log_head(db) == before
    for q in QUERIES:
        code, _, err = run(db, *q)
        assert code in (0, 1), (q, err)
        assert "Traceback" not in err and "OverflowError" not in err


def test_the_largest_entry_itself_is_accepted_and_every_query_still_answers(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    largest = format_yuan(MAX_ENTRY_FEN)
    for _ in range(3):  # sums of several maximal entries stay inside 64-bit 分
        code, _, err = run(db, *ISSUE, "--amount", largest)
        assert code == 0, err
    for q in QUERIES:
        code, out, err = run(db, "--format", "json", *q)
        assert code in (0, 1), (q, err)
    code, out, _ = run(db, "--format", "json", "balance", "--by", "year")
    assert "3000000000000.00" in out


@pytest.mark.parametrize("when, year, words", [
    ("2205-03-01", "2025", "in the future"),
    ("0001-01-01", "2025", "before 2000-01-01"),
    ("2021-03-01", "2025", "too far from the date"),
])
def test_dates_outside_the_window_are_refused_and_nothing_written(
        tmp_path: Path, when: str, year: str, words: str) -> None:
    db = tmp_path / "l.db"
    assert run(db, "init")[0] == 0
    before = log_head(db)
    args = [a if a not in ("2025-01-05", "2025") else {"2025-01-05": when, "2025": year}[a]
            for a in ISSUE]
    code, _, err = run(db, *args, "--amount", "1万")
    assert code == 2 and words in err, err
    assert ("--date" in err) or ("--year" in err)
    assert log_head(db) == before


def _immutable(path: Path, on: bool) -> bool:
    import shutil
    import subprocess

    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0


def test_a_read_only_copy_answers_from_its_read_models_and_says_they_lag(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    assert run(db, *ISSUE, "--amount", "1万")[0] == 0
    assert run(db, "balance")[0] == 0  # read models caught up to position 1
    assert run(db, *ISSUE, "--amount", "2万")[0] == 0  # the log is one event ahead
    import sqlite3

    copy = tmp_path / "auditor-copy.db"  # one self-contained file, as an auditor receives it
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    db = copy
    if not _immutable(db, True):
        pytest.skip("chattr +i is not available here: cannot make a read-only store")
    try:
        code, out, err = run(db, "--format", "json", "balance", "测试区")
        assert code == 0, err
        assert "read-only" in err and "1 events behind" in err
        assert [r["received"] for r in __import__("json").loads(out)] == ["10000.00"]
        code, _, err = run(db, *ISSUE, "--amount", "3万")
        assert code == 4 and "read-only" in err and "busy" not in err
    finally:
        _immutable(db, False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ledger.demo_data import build_demo

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    app = BudgetLedger.open(str(db))
    build_demo(app)
    app.close()
    return db


def test_totals_per_year_count_each_yuan_once(demo_db: Path) -> None:
    import json

    code, out, err = run(demo_db, "--format", "json", "balance", "--by", "year")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["issued"] == "2215200000.00"  # the table's 221,520万, once — not once per level
    assert "received" not in row and "forwarded" not in row
    issued, returned = int(row["issued"].replace(".", "")), int(row["returned_to_issuer"].replace(".", ""))
    held = int(row["allocated"].replace(".", "")) + int(row["available"].replace(".", ""))
    assert issued - returned == held


def test_progress_of_one_year_or_task(demo_db: Path) -> None:
    import json

    code, out, _ = run(demo_db, "--format", "json", "progress", "--task", "以工代赈任务")
    assert code == 0
    top = json.loads(out)[0]
    assert (top["unit"], top["received"]) == ("西藏自治区", "50000000.00")
    code, out, _ = run(demo_db, "--format", "json", "progress", "--year", "2024")
    assert (code, json.loads(out)) == (0, [])


def test_unknown_units_are_named_with_suggestions_and_a_unit_can_be_traced(demo_db: Path) -> None:
    import json

    code, out, err = run(demo_db, "balance", "拉萨")
    assert code == 2 and "no unit '拉萨'" in err and "拉萨市" in err and out == ""
    code, _, err = run(demo_db, "progress", "--unit", "拉萨")
    assert code == 2 and "--unit" in err
    code, _, err = run(demo_db, "balance", "拉萨市", "--as-of", "2024-01-01")
    assert code == 0 and "holds no indicator at this point in time" in err
    code, out, err = run(demo_db, "--format", "json", "trace", "堆龙德庆区")
    assert code == 0, err
    tree = json.loads(out)
    assert (tree["kind"], tree["amount"]) == ("unit", "33090000.00")  # the table's 3,309万
    assert {c["kind"] for c in tree["children"]} == {"indicator"}
    code, _, err = run(demo_db, "trace", "堆龙德庆区", "--up")
    assert code == 2 and "is a unit" in err


def test_a_big_import_reports_progress_in_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    rows = ["from,to,以工代赈任务,note", *[f"省,县{i:04d},1," for i in range(1500)]]
    src = tmp_path / "big.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = run(db, "import", "allocations", str(src), "--doc", "测〔2025〕9号", "--date",
                         "2025-01-05", "--year", "2025", "--source", "provincial")
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "(100%)" in ln or "(50%)" in ln]
    assert len(lines) >= 2 and all(" of " in ln for ln in lines), err


def test_trace_up_draws_the_chain_as_dot(demo_db: Path) -> None:
    code, out, err = run(demo_db, "trace", "DL-2025-01:P1", "--up", "--format", "dot")
    assert code == 0, err
    assert out.startswith("digraph trace_up {") and "rankdir=LR" in out
    assert '"DL-2025-01" -> "DL-2025-01:P1" [label="32.00 万元"]' in out
    assert out.count("->") == 4  # root → prefecture → county → project → payment
