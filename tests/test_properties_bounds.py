"""Whatever amount and date the parser accepts can be written, and every query still answers."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.commands import FIRST_DATE, today
from ledger.money import MAX_ENTRY_FEN, format_yuan
from tests.helpers import allocate, forward, issue, pay, project

register()

AMOUNTS = st.integers(min_value=1, max_value=MAX_ENTRY_FEN).map(format_yuan)
DAYS = st.dates(min_value=FIRST_DATE, max_value=today())


@given(amount=AMOUNTS, day=DAYS, later=st.integers(min_value=0, max_value=400))
def test_accepted_amounts_and_dates_never_break_a_query(amount: str, day: date, later: int) -> None:
    paid_on = min(day + timedelta(days=later), today())
    tmp = tempfile.mkdtemp(prefix="bl-bounds-")
    try:
        db = f"sqlite:///{tmp}/l.db"
        app = BudgetLedger.open(db)
        d = day.isoformat()
        issue(app, "R", "区", amount, effective_date=d, year=day.year)
        issue(app, "S", "区", amount, effective_date=d, year=day.year, task="少数民族发展任务")
        forward(app, "R", "C", "县", amount, effective_date=d)
        project(app, "P", "县", effective_date=d)
        allocate(app, "C", "P", amount, effective_date=d)
        pay(app, "P", amount, effective_date=paid_on.isoformat())
        app.close()
        for args in (["balance", "--by", "year"], ["balance", "--by", "task"],
                     ["progress", "--by", "month"], ["audit"], ["history", "P"],
                     ["trace", "R"], ["balance", "--as-of", d]):
            res = CliRunner().invoke(cli, ["--db", db, "--format", "json", *args])
            assert res.exit_code in (0, 1), (args, res.output)
            assert "Traceback" not in res.output
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
