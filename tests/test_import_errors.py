"""Malformed files and commands: each is refused with its exit code and a row-level message, and
the store stays byte-for-byte what it was (SQLite file hashed before and after).

The store under test is the demo ledger (the Tibet table, projects and payments), so checks run
against a ledger that already holds money, projects and vouchers.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.demo_data import DOC, GONGGU, MINZU, YIGONG, build_demo
from ledger.imports import allocation_indicator_id
from projections.updater import Projector

register()

ALLOC = ["import", "allocations", "{file}", "--doc", "测试〔2025〕1号", "--date", "2025-01-05",
         "--year", "2025", "--source", "provincial"]
T1 = "from,to,T1,T2,note\n"
CG_GONGGU = allocation_indicator_id(DOC, "拉萨市", "城关区", GONGGU)
DL_YIGONG = allocation_indicator_id(DOC, "拉萨市", "堆龙德庆区", YIGONG)
PRJ = "project,unit,name,category,date,doc,indicator,indicator_doc,indicator_task,amount\n"
PAY = "voucher,project,indicator,payee,payee_kind,amount,date,labour,doc\n"


@dataclass
class Case:
    name: str
    content: bytes | str
    args: list[str]
    code: int
    expect: list[str]  # fragments of stderr (row, column, value, why)
    suffix: str = ".csv"


def alloc(name: str, body: str, code: int, *expect: str, extra: tuple[str, ...] = ()) -> Case:
    return Case(name, body, [*ALLOC, *extra], code, list(expect))


def projects(name: str, body: str, code: int, *expect: str) -> Case:
    return Case(name, PRJ + body, ["import", "projects", "{file}"], code, list(expect))


def payments(name: str, body: str, code: int, *expect: str) -> Case:
    return Case(name, PAY + body, ["import", "payments", "{file}"], code, list(expect))


def workbook(*rows: list[object], formulas: bool = False, title: str = "Sheet") -> bytes:
    """An .xlsx as openpyxl writes it: formula cells carry no stored value."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def merged_amount_workbook() -> bytes:
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["from", "to", "T1"], ["A", "B", 10], ["A", "C", None]):
        ws.append(row)
    ws.merge_cells("C2:C3")  # one amount over two rows: filled down, it would count twice
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsx(name: str, content: bytes, code: int, *expect: str, extra: tuple[str, ...] = ()) -> Case:
    return Case(name, content, [*ALLOC, *extra], code, list(expect), ".xlsx")


SKIP_DOC = ["import", "allocations", "{file}", "--doc", DOC, "--date", "2024-12-23", "--year",
            "2025", "--source", "provincial", "--tracking", "--advance", "--skip-existing"]
SAME_ROWS = "from,to," + GONGGU + "\n西藏自治区,拉萨市,14994\n拉萨市,城关区,922\n"


def skip_existing(name: str, args: list[str], *expect: str) -> Case:
    return Case(name, SAME_ROWS, args, 2, list(expect))


def changed(option: str, value: str | None) -> list[str]:
    """SKIP_DOC with ``option`` given another value (or, a flag, dropped when value is None)."""
    if value is None:
        return [a for a in SKIP_DOC if a != option]
    i = SKIP_DOC.index(option)
    return [*SKIP_DOC[: i + 1], value, *SKIP_DOC[i + 2 :]]


CASES = [
    # ---- issue 10: aggregate columns and rows, structure, names, --skip-existing
    alloc("a 合计 column that does not add up", "from,to,T1,T2,合计\nA,B,10,5,16\nA,C,1,,1\n", 2,
          "row 2, column 合计, value '16'", "sum to 15.00 万元, not 16.00 万元"),
    alloc("a 小计 column with a bad amount", "from,to,T1,小计\nA,B,10,十\n", 2,
          "row 2, column 小计, value '十'"),
    alloc("a subtotal row", "from,to,T1\n西藏自治区,拉萨市,10\n西藏自治区,拉萨市小计,10\n", 2,
          "row 3, column to, value '拉萨市小计'", "subtotal or total row"),
    alloc("a total row", "from,to,T1\n西藏自治区,拉萨市,10\n总计,,10\n", 2,
          "row 3, column from, value '总计'", "subtotal or total row"),
    alloc("a short row", T1 + "A,B,10,,\nA,C,5\n", 2, "row 3, column T2",
          "has 3 cells but the header 5", "never read as zeros"),
    alloc("an unclosed quote", T1 + 'A,B,10,,\nA,C,"5,,\nA,D,1,,\n', 2, "row 3",
          "never closed"),
    alloc("a quoted unit over two lines", T1 + 'A,"B\nC",10,,\n', 2, "row 2, column to",
          "one line"),
    alloc("a control character in a unit", T1 + "A,B\u2028x,10,,\n", 2, "row 2, column to",
          "U+2028"),
    alloc("a tab in a unit", T1 + "A\tB,C,10,,\n", 2, "row 2, column from", "U+0009"),
    alloc("a control character in a task name", "from,to,T\x071\nA,B,10\n", 2, "row 1",
          "header column 'T\\x071'", "U+0007"),
    alloc("a newline in --doc", T1 + "A,B,10,,\n", 2, "--doc", "one line",
          extra=("--doc", "测试\n1号")),
    projects("projects: a newline in a name",
             f"P1,城关区,\"n\nm\",产业发展,2025-06-01,,{CG_GONGGU},,,1万\n", 2,
             "row 2, column name", "one line"),
    payments("payments: a control character in the payee",
             "V1,CG-2025-01,,某\x1b公司,enterprise,100,2025-06-01,no,\n", 2,
             "row 2, column payee", "U+001B"),
    payments("payments: a short row", "V1,CG-2025-01,,某公司,enterprise,100,2025-06-01\n", 2,
             "row 2, column labour", "has 7 cells but the header 9"),
    xlsx("xlsx: a formula without a stored value",
         workbook(["from", "to", "T1"], ["A", "B", "=C3+C4"], ["B", "C", 5], ["B", "D", 4],
                  title="分配表"), 2,
         "row 2, column T1, value '=C3+C4'", "sheet '分配表', cell C2", "formula without a stored"),
    xlsx("xlsx: an amount in a merged range", merged_amount_workbook(), 2,
         "row 3, column T1, value '10'", "merged range C2:C3"),
    xlsx("xlsx: --sheet names no sheet", workbook(["from", "to", "T1"], ["A", "B", 1]), 2,
         "--sheet", "no sheet '第二页'", "sheets: Sheet", extra=("--sheet", "第二页")),
    alloc("--sheet on a CSV file", T1 + "A,B,10,,\n", 2, "--sheet", "not an .xlsx",
          extra=("--sheet", "x")),
    skip_existing("--skip-existing: another year", changed("--year", "2024"),
                  "row 2, column " + GONGGU, "other terms", "year 2025 → 2024"),
    skip_existing("--skip-existing: another source", changed("--source", "central"),
                  "source provincial → central"),
    skip_existing("--skip-existing: a flag dropped", changed("--advance", None),
                  "advance yes → no"),
    skip_existing("--skip-existing: a flag added", [*SKIP_DOC, "--direct"], "direct no → yes"),
    # ---- allocation tables: the file
    alloc("empty file", "", 2, "the file is empty"),
    alloc("blank lines only", "\n\n  \n", 2, "the file is empty"),
    alloc("header only", T1, 2, "no data rows"),
    alloc("header without to", "from,unit,T1\nA,B,1\n", 2, "row 1", "wrong header", "to"),
    alloc("header without tasks", "from,to,note\nA,B,x\n", 2, "no task column"),
    alloc("duplicate header column", "from,to,T1,T1\nA,B,1,2\n", 2, "row 1", "twice"),
    Case("GBK bytes", "from,to,以工代赈任务\n西藏自治区,拉萨市,1\n".encode("gbk"), ALLOC, 2,
         ["row 1", "not valid utf-8", "--encoding gbk"]),
    Case("invalid UTF-8 in a later row", b"from,to,T1\nA,B,1\nA,C,\xff\xfe\n", ALLOC, 2,
         ["row 3", "not valid utf-8", "ff fe"]),
    alloc("too many cells", T1 + "A,B,1,2,n,extra\n", 2, "row 2", "'extra'", "header only 5"),
    Case("not a workbook", b"this is not a zip", ALLOC, 2, ["not a readable .xlsx"], ".xlsx"),
    # ---- allocation tables: cells
    alloc("unknown unit suffix", T1 + "A,B,5千,1,\n", 2, "row 2, column T1, value '5千'",
          "not an amount"),
    alloc("float-like amount", T1 + "A,B,1e5,1,\n", 2, "row 2, column T1, value '1e5'"),
    alloc("negative amount", T1 + "A,B,1,-5,\n", 2, "row 2, column T2, value '-5'"),
    alloc("three decimals in 元", T1 + "A,B,1.005,1,\n", 2, "value '1.005'", "3 decimals",
          extra=("--unit", "元")),
    alloc("amount above the largest single entry", T1 + "A,B,\"100,000,000,000,000\",,\n", 2,
          "row 2, column T1", "larger than any single entry"),
    alloc("seven decimals in 万元", T1 + "A,B,1.0000001,,\n", 2, "7 decimals"),
    alloc("bad thousands separator", T1 + 'A,B,"1,40,8",,\n', 2, "value '1,40,8'"),
    alloc("empty from", T1 + ",B,1,,\n", 2, "row 2, column from", "required"),
    alloc("several bad rows all reported", T1 + "A,B,1e5,,\nA,C,1,,\nA,D,x,,\n", 2,
          "row 2, column T1", "row 4, column T1", "2 problems"),
    # ---- allocation tables: the shape and the numbers
    alloc("forwards more than it holds", T1 + "A,B,10,,\nB,C,6,,\nB,D,5,,\n", 3,
          "row 4, column T1", "holder B forwards 11.00 万元", "receives 10.00 万元",
          "over by 1.00 万元", "available-non-negative"),
    alloc("forwards a task it never received", T1 + "A,B,10,-,\nB,C,4,3,\n", 3,
          "row 3, column T2", "holder B", "receives nothing in this task", "over by 3.00 万元"),
    alloc("cycle", T1 + "A,B,10,,\nB,C,5,,\nC,B,1,,\n", 2, "cycle: B → C → B", "rows 3, 4"),
    alloc("unit forwarding to itself", T1 + "A,A,10,,\n", 2, "row 2, column to", "itself"),
    alloc("duplicate row", T1 + "A,B,10,,\nA,C,1,,\nA,B,10,,\n", 2, "row 4", "duplicate row",
          "row 2"),
    alloc("receives twice and forwards", T1 + "A,B,10,,\nA,C,5,,\nB,C,3,,\nC,D,1,,\n", 2,
          "row 5, column T1", "C receives T1 on rows 3, 4"),
    alloc("expect-total mismatch", T1 + "A,B,10,,\nA,C,5,,\n", 2, "column T1",
          "sum to 15.00 万元, expected 16.00 万元", "short by 1.00 万元",
          extra=("--expect-total", "T1=16")),
    alloc("expect-total names no task", T1 + "A,B,10,,\n", 2, "--expect-total", "T9",
          extra=("--expect-total", "T9=10")),
    alloc("expect-total bad amount", T1 + "A,B,10,,\n", 2, "--expect-total T1",
          extra=("--expect-total", "T1=1e5")),
    alloc("bad --date", T1 + "A,B,10,,\n", 2, "--date", extra=("--date", "2025-02-30")),
    alloc("bad --year", T1 + "A,B,10,,\n", 2, "--year", extra=("--year", "1800")),
    alloc("unknown --unit", T1 + "A,B,10,,\n", 2, "--unit", extra=("--unit", "千元")),
    Case("same document again", "from,to," + GONGGU + "\n西藏自治区,拉萨市,14994\n拉萨市,城关区,922\n",
         ["import", "allocations", "{file}", "--doc", DOC, "--date", "2024-12-23", "--year",
          "2025", "--source", "provincial", "--tracking", "--advance"], 2,
         ["already imported", "--skip-existing"]),
    # ---- projects
    Case("projects: misspelt column", "projct,unit,name,category,date\nX,城关区,n,产业发展,2025-02-01\n",
         ["import", "projects", "{file}"], 2,
         ["row 1", "wrong header", "missing column project", "unknown column projct"]),
    projects("projects: bad category", "P1,城关区,n,养老,2025-02-01,,,,,\n", 2,
             "row 2, column category, value '养老'"),
    projects("projects: impossible date", "P1,城关区,n,产业发展,2025-02-30,,,,,\n", 2,
             "row 2, column date", "not a calendar date"),
    projects("projects: id with a space", "P 1,城关区,n,产业发展,2025-02-01,,,,,\n", 2,
             "column project", "spaces"),
    projects("projects: already recorded", "CG-2025-01,城关区,n,产业发展,2025-06-01,,,,,\n", 2,
             "every project in this file is already recorded", "--skip-existing"),
    projects("projects: unknown indicator", "P1,城关区,n,产业发展,2025-06-01,,I-nope,,,10万\n", 3,
             "row 2, column amount", "no indicator 'I-nope'", "entity-exists"),
    projects("projects: more than the indicator holds",
             f"P1,城关区,n,产业发展,2025-06-01,,{CG_GONGGU},,,400万\n"
             f"P2,城关区,n,产业发展,2025-06-02,,{CG_GONGGU},,,30万\n", 3,
             "row 3, column amount", "available-non-negative", "short by 80000.00 元"),
    projects("projects: indicator of another unit",
             f"P1,林周县,n,产业发展,2025-06-01,,{CG_GONGGU},,,1万\n", 3,
             "row 2", "project-funded-by-own-unit"),
    projects("projects: amount without source", "P1,城关区,n,产业发展,2025-06-01,,,,,1万\n", 2,
             "row 2, column indicator", "needs its source"),
    projects("projects: source without amount",
             f"P1,城关区,n,产业发展,2025-06-01,,{CG_GONGGU},,,\n", 2, "row 2, column amount"),
    projects("projects: doc and task match nothing",
             f"P1,城关区,n,产业发展,2025-06-01,,,{DOC},以工代赈任务,1万\n", 3,
             "row 2, column indicator_doc", "no indicator of document", "以工代赈任务"),
    projects("projects: same project, other name",
             f"P1,城关区,n,产业发展,2025-06-01,,{CG_GONGGU},,,1万\n"
             f"P1,城关区,m,产业发展,2025-06-01,,,{DOC},{MINZU},1万\n", 2,
             "row 3, column name", "on row 2"),
    projects("projects: duplicate funding line",
             f"P1,城关区,n,产业发展,2025-06-01,,{CG_GONGGU},,,1万\n"
             f"P1,城关区,n,产业发展,2025-06-01,,,{DOC},{GONGGU},1万\n", 2,
             "row 3, column indicator", "duplicate funding line"),
    # ---- payments
    payments("payments: duplicate voucher in the file",
             "V1,CG-2025-01,,某公司,enterprise,100,2025-06-01,no,\n"
             "V1,CG-2025-01,,某公司,enterprise,100,2025-06-02,no,\n", 2,
             "row 3, column voucher, value 'V1'", "already on row 2"),
    payments("payments: voucher already in the ledger",
             "CG-V0001,CG-2025-01,,某公司,enterprise,100,2025-06-01,no,\n", 2,
             "every voucher in this file is already recorded"),
    payments("payments: one known voucher among new ones",
             "V9,CG-2025-01,,某公司,enterprise,100,2025-06-01,no,\n"
             "CG-V0001,CG-2025-01,,某公司,enterprise,100,2025-06-01,no,\n", 2,
             "row 3, column voucher", "already recorded as payment CG-2025-01:P1"),
    payments("payments: unknown project", "V1,NO-SUCH,,某公司,enterprise,100,2025-06-01,no,\n", 3,
             "row 2", "no project 'NO-SUCH'"),
    payments("payments: more than the funding line",
             "V1,CG-2025-01,,某公司,enterprise,2999999.99,2025-06-01,no,\n"
             "V2,CG-2025-01,,某公司,enterprise,0.02,2025-06-01,no,\n", 3,
             "row 3, column amount", "payment-within-funding-line", "short by 0.01 元"),
    payments("payments: labour flag not yes/no",
             "V1,CG-2025-01,,某公司,enterprise,100,2025-06-01,maybe,\n", 2,
             "row 2, column labour, value 'maybe'"),
    payments("payments: unknown payee kind",
             "V1,CG-2025-01,,某公司,company,100,2025-06-01,no,\n", 2, "column payee_kind"),
    payments("payments: zero amount", "V1,CG-2025-01,,某公司,enterprise,0,2025-06-01,no,\n", 2,
             "column amount, value '0'", "positive"),
    payments("payments: missing payee", "V1,CG-2025-01,,,enterprise,100,2025-06-01,no,\n", 2,
             "row 2, column payee", "required"),
    payments("payments: two lines, no indicator",
             "V1,DL-2025-02,,某社,enterprise,100,2025-06-01,no,\n", 2,
             "row 2", "2 funding lines", "name the one"),
    payments("payments: dated before the project was registered",
             "V1,DL-2025-01,,某公司,enterprise,100,2025-01-10,no,\n", 3,
             "row 2", "dated-after-its-entity"),
    payments("payments: three decimals", "V1,CG-2025-01,,某公司,enterprise,100.005,2025-06-01,no,\n",
             2, "value '100.005'", "3 decimals"),
]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    app = BudgetLedger.open(str(path))
    build_demo(app)
    projector = Projector(app)
    projector.catch_up()
    projector.engine.dispose()
    app.close()
    return path


def digest(db: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        h.update(suffix.encode() + (p.read_bytes() if p.exists() and suffix != "-shm" else b""))
    return h.hexdigest()


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_input_is_refused_and_nothing_written(case: Case, demo_store: Path,
                                                        tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    shutil.copy(demo_store, db)
    src = tmp_path / f"input{case.suffix}"
    if isinstance(case.content, bytes):
        src.write_bytes(case.content)
    else:
        src.write_text(case.content, encoding="utf-8")
    before = digest(db)
    args = [a.replace("{file}", str(src)) for a in case.args]
    res = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert res.exit_code == case.code, res.output
    for fragment in case.expect:
        assert fragment.lower() in res.stderr.lower(), (fragment, res.stderr)
    if case.code != 2 or "--" not in case.expect[0]:  # usage errors never reach a file row
        assert src.name in res.stderr or "--" in res.stderr, res.stderr
    assert res.stdout == ""
    assert digest(db) == before


def test_a_good_file_after_the_bad_ones_still_imports(demo_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    shutil.copy(demo_store, db)
    src = tmp_path / "p.csv"
    src.write_text(PAY + "V-NEW,CG-2025-01,,某公司,enterprise,\"1,000.50\",2025-06-01,no,\n",
                   encoding="utf-8")
    res = CliRunner().invoke(cli, ["--db", str(db), "import", "payments", str(src)])
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(str(db))
    assert "V-NEW" in app.get_project("CG-2025-01").vouchers
    app.close()
    assert digest(db) != digest(demo_store)
