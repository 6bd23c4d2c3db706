"""Tables never fold an amount or an id; amounts get separators in tables only; CSV may carry a BOM."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from cli.render import emit, with_separators

register()

ROWS = [{"indicator": "I-c44004c5f3bc881bf2b1-a-rather-long-id", "unit": "堆龙德庆区",
         "task": "巩固拓展脱贫攻坚成果和乡村振兴任务", "received": "180000000000.00",
         "paid": "14080000.50", "ratio": "0.2500", "year": 2025}]


def test_with_separators() -> None:
    assert with_separators("14080000.00") == "14,080,000.00"
    assert with_separators("-1234.50") == "-1,234.50"
    assert with_separators("0.00") == "0.00"


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_a_narrow_terminal_never_folds_amounts_or_ids(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    emit(ROWS, "table", title="t")
    out = capsys.readouterr().out
    assert "180,000,000,000.00" in out and "14,080,000.50" in out
    assert "I-c44004c5f3bc881bf2b1-a-rather-long-id" in out
    assert "0.2500" in out and "2025" in out  # ratios and ints are not amounts
    assert "…" not in out


def test_a_short_table_is_not_padded_to_120_columns(capsys: pytest.CaptureFixture[str]) -> None:
    emit([{"unit": "城关区", "paid": "1.00"}], "table")
    width = max(len(line) for line in capsys.readouterr().out.splitlines())
    assert width < 40


def test_json_and_csv_keep_the_contract_form(capsys: pytest.CaptureFixture[str]) -> None:
    emit(ROWS, "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["received"] == "180000000000.00"
    emit(ROWS, "json")
    assert '"received": "180000000000.00"' in capsys.readouterr().out


def test_bom_starts_csv_with_a_utf8_byte_order_mark(tmp_path: object) -> None:
    db = f"{tmp_path}/l.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "issue", "--to", "城关区", "--amount", "1万", "--doc",
                               "D1", "--date", "2025-01-05", "--year", "2025", "--task",
                               "以工代赈任务", "--source", "provincial"]).exit_code == 0
    plain = runner.invoke(cli, ["--db", db, "--format", "csv", "balance"])
    assert plain.exit_code == 0 and not plain.stdout_bytes.startswith(b"\xef\xbb\xbf")
    res = runner.invoke(cli, ["--db", db, "--bom", "--format", "csv", "balance"])
    assert res.exit_code == 0, res.output
    assert res.stdout_bytes.startswith(b"\xef\xbb\xbfindicator,")
    assert "城关区" in res.stdout_bytes.decode("utf-8-sig")
    env = runner.invoke(cli, ["--db", db, "--format", "csv", "balance"],
                        env={"BUDGET_LEDGER_CSV_BOM": "1"})
    assert env.stdout_bytes.startswith(b"\xef\xbb\xbf")
    js = runner.invoke(cli, ["--db", db, "--bom", "--format", "json", "balance"])
    assert js.stdout_bytes.startswith(b"[")  # the BOM is for CSV only


def test_a_long_table_is_printed_plainly_aligned_and_complete(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Over PLAIN_ROWS rows: no box, one line per row, columns aligned by display width (a CJK
    character is two cells), amounts right-aligned with separators, nothing folded."""
    from rich.cells import cell_len

    import cli.render as render

    monkeypatch.setattr(render, "PLAIN_ROWS", 2)
    rows = [{**ROWS[0], "unit": unit, "paid": paid}
            for unit, paid in (("堆龙德庆区", "14080000.50"), ("拉萨市", "5.00"), ("X", "0.00"))]
    emit(rows, "table", title="balance (元)")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "balance (元)" and len(lines) == 2 + 1 + 3
    assert lines[1].split() == ["indicator", "unit", "task", "received", "paid", "ratio", "year"]
    assert set(lines[2]) <= {"─", " "}
    assert "180,000,000,000.00" in lines[3] and "14,080,000.50" in lines[3]
    # the paid column ends at the same display column on every line (right-aligned)
    ends = {cell_len(line[: line.rindex(p) + len(p)])
            for line, p in zip(lines[3:], ("14,080,000.50", "5.00", "0.00"), strict=True)}
    assert len(ends) == 1
    # the year column starts at the same display column on every line (left-aligned after CJK)
    starts = {cell_len(line[: line.rindex("2025")]) for line in lines[3:]}
    assert len(starts) == 1 and "┃" not in "".join(lines)
