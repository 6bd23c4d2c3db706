"""Each audit rule on a scenario built through the real application: the one change that breaks
the rule gives exactly the expected findings (and nothing else); the compliant variant none."""

from __future__ import annotations

import pytest

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.errors import InputError
from projections.audit import RulesConfig
from tests.helpers import allocate, forward, issue, pay, project
from tests.test_audit_scenario import (
    CITY,
    COUNTY,
    REGION,
    audit,
    base,
    everywhere,
    keys,
    only,
    progress,
    rename,
    reverse,
)


def tuned(**sections: dict[str, object]) -> RulesConfig:
    """The default rules with some keys changed, validated like a rules file."""
    data = everywhere().model_dump(by_alias=True)
    for name, values in sections.items():
        data[name.replace("_", "-")].update(values)
    return RulesConfig.model_validate(data)


# ---- forward-deadline (001 §一) -----------------------------------------------------------------


def test_forward_deadline_fires_on_a_late_forward(app: BudgetLedger) -> None:
    base(app, county_date="01-09")  # document dated 01-01: due by 01-06
    found = audit(app)
    assert keys(found) == [("forward-deadline", "error", "C2025", "1000000.00")]
    assert found[0].unit == CITY and found[0].extra["days"] == 8
    assert "due by 2025-01-06" in found[0].detail


def test_forward_deadline_accepts_the_fifth_day(app: BudgetLedger) -> None:
    base(app, county_date="01-06")
    assert audit(app) == []


def test_forward_deadline_fires_on_money_still_held(app: BudgetLedger) -> None:
    base(app, county_amount="80万", industry="56万", work_relief="24万")
    found = audit(app)
    assert keys(found) == [("forward-deadline", "error", "M2025", "200000.00")]
    assert "still holds" in found[0].detail


def test_money_returned_after_the_deadline_is_not_unforwarded(app: BudgetLedger) -> None:
    from ledger.commands import DeallocateCommand, RecoverCommand, build

    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    pay(app, "IND2025", "70万", effective_date="2025-01-26")
    app.deallocate(build(DeallocateCommand, indicator_id="C2025", project_id="WR2025", amount="10万",
                         effective_date="2025-02-14", reason="结余", doc="县财〔2025〕3号"))
    app.recover(build(RecoverCommand, indicator_id="C2025", amount="10万", doc="县财〔2025〕3号",
                      effective_date="2025-02-15", reason="结余"))
    assert app.get_indicator("M2025").available == 10_000_000  # back at the prefecture
    assert audit(app) == []


def test_a_declared_forwarding_unit_is_judged_before_it_forwards(app: BudgetLedger) -> None:
    issue(app, "X", "另一市", "10万", effective_date="2025-01-01", source="central")
    deadlines = ("forward-deadline", "project-refinement-deadline")
    default = [f for f in audit(app) if f.rule in deadlines]
    assert [(f.rule, f.entity) for f in default] == [("project-refinement-deadline", "X")]
    declared = audit(app, config=tuned(units={"forwarding": ["另一市"], "refining": []}))
    assert keys([f for f in declared if f.rule in deadlines]) == [
        ("forward-deadline", "error", "X", "100000.00")]


# ---- project-refinement-deadline (001 §五) ------------------------------------------------------


def test_refinement_deadline_fires_when_allocated_late(app: BudgetLedger) -> None:
    base(app, work_relief_date="02-10")  # received 01-03: due by 02-02
    found = audit(app)
    assert keys(found) == [("project-refinement-deadline", "error", "C2025", "300000.00")]
    assert "fully allocated only on 2025-02-10" in found[0].detail


def test_refinement_deadline_accepts_the_thirtieth_day(app: BudgetLedger) -> None:
    base(app, work_relief_date="02-02")
    assert audit(app) == []


def test_refinement_deadline_waits_for_the_deadline(app: BudgetLedger) -> None:
    base(app, pay_all=False, work_relief_date="02-10")
    assert only(audit(app, "2025-02-02"), "project-refinement-deadline") == []
    found = only(audit(app, "2025-02-03"), "project-refinement-deadline")
    assert keys(found) == [("project-refinement-deadline", "error", "C2025", "300000.00")]
    assert "still unallocated on 2025-02-03" in found[0].detail


# ---- industry-share (003 §三(三)) ---------------------------------------------------------------


def test_industry_share_fires_below_sixty_percent(app: BudgetLedger) -> None:
    base(app, industry="50万", work_relief="50万")
    found = audit(app)
    assert keys(found) == [("industry-share", "warning", COUNTY, "100000.00")]
    assert found[0].year == 2025 and found[0].extra["share"] == "50.00"


def test_industry_share_of_exactly_sixty_percent_passes(app: BudgetLedger) -> None:
    base(app, industry="60万", work_relief="40万")
    assert audit(app) == []


def test_industry_share_fires_below_the_previous_year(app: BudgetLedger) -> None:
    base(app, 2024, industry="80万", work_relief="20万")
    base(app, 2025, industry="70万", work_relief="30万")
    found = audit(app)
    assert keys(found) == [("industry-share", "warning", COUNTY, "100000.00")]
    assert "below 2024's share 80.00%" in found[0].detail
    without = tuned(industry_share={"compare_previous_year": False})
    assert audit(app, config=without) == []


def test_industry_share_is_judged_after_the_grace_days(app: BudgetLedger) -> None:
    base(app, industry="50万", work_relief="50万")
    assert only(audit(app, "2025-02-02"), "industry-share") == []  # received 01-03, +30 days
    assert len(only(audit(app, "2025-02-03"), "industry-share")) == 1


# ---- labour-share (002) -------------------------------------------------------------------------


def test_labour_share_fires_when_it_can_no_longer_be_reached(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    pay(app, "IND2025", "70万", effective_date="2025-01-26")
    progress(app, "WR2025", "100", "2025-01-25")
    pay(app, "WR2025", "25万", effective_date="2025-01-26")
    pay(app, "WR2025", "2万", effective_date="2025-01-26", labour=True)
    assert audit(app) == []  # 2 万 paid + 3 万 unpaid could still reach the 4.5 万: not yet
    pay(app, "WR2025", "3万", effective_date="2025-01-27")
    found = audit(app)
    assert keys(found) == [("labour-share", "error", "WR2025", "25000.00")]  # 4.5 万 − 2 万
    assert found[0].extra["share"] == "6.67" and "fully paid" in found[0].detail


def test_labour_share_counts_only_central_funding(app: BudgetLedger) -> None:
    base(app)  # 4.5 万 labour of 30 万 central: exactly 15 %
    issue(app, "LOCAL", COUNTY, "10万", effective_date="2025-01-27", source="county")
    allocate(app, "LOCAL", "WR2025", "10万", effective_date="2025-01-28")
    pay(app, "WR2025", "10万", effective_date="2025-01-29", indicator_id="LOCAL")
    assert audit(app) == []  # the county's own matching money is not the base
    found = audit(app, config=tuned(labour_share={"central_sources": ["central", "county"]}))
    assert keys(found) == [("labour-share", "error", "WR2025", "15000.00")]  # 15 % of 40 万 − 4.5 万


# ---- payment-ahead-of-progress (000 §二, 004 §三(四)) --------------------------------------------


def _ahead(app: BudgetLedger) -> str:
    base(app, pay_all=False)
    progress(app, "WR2025", "100", "2025-01-25")
    pay(app, "WR2025", "25万", effective_date="2025-01-26")
    pay(app, "WR2025", "5万", effective_date="2025-01-26", labour=True, payee_kind="individual")
    progress(app, "IND2025", "50", "2025-01-25")
    return pay(app, "IND2025", "70万", effective_date="2025-01-26")


def test_payment_ahead_of_progress_fires_even_when_progress_catches_up(app: BudgetLedger) -> None:
    _ahead(app)
    progress(app, "IND2025", "100", "2025-02-20")
    found = audit(app)
    assert keys(found) == [("payment-ahead-of-progress", "error", "IND2025", "350000.00")]
    assert found[0].extra["payment"] == "IND2025:P1" and found[0].extra["still_ahead"] is False
    on_the_day = only(audit(app, "2025-01-31"), "payment-ahead-of-progress")
    assert on_the_day[0].extra["still_ahead"] is True


def test_payment_within_progress_passes_and_tolerance_is_configurable(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "WR2025", "100", "2025-01-25")
    pay(app, "WR2025", "25万", effective_date="2025-01-26")
    pay(app, "WR2025", "5万", effective_date="2025-01-26", labour=True, payee_kind="individual")
    progress(app, "IND2025", "50", "2025-01-25")
    pay(app, "IND2025", "35万", effective_date="2025-01-26")  # exactly 50 % of 70 万
    progress(app, "IND2025", "100", "2025-02-20")
    pay(app, "IND2025", "35万", effective_date="2025-02-21")
    assert audit(app) == []


def test_payment_ahead_within_tolerance_or_reversed_passes(app: BudgetLedger) -> None:
    payment = _ahead(app)
    progress(app, "IND2025", "100", "2025-02-20")
    assert only(audit(app, config=tuned(payment_ahead_of_progress={"tolerance_points": 50})),
                "payment-ahead-of-progress") == []
    reverse(app, payment, "2025-02-21")
    pay(app, "IND2025", "70万", effective_date="2025-02-21")
    assert audit(app) == []


def test_a_payment_before_any_progress_report_is_ahead(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    pay(app, "IND2025", "1万", effective_date="2025-01-26")
    found = only(audit(app), "payment-ahead-of-progress")
    assert keys(found) == [("payment-ahead-of-progress", "error", "IND2025", "10000.00")]


# ---- transfer-as-spending (000 §二, 004 §三(四)) -------------------------------------------------


def test_transfer_as_spending_fires_per_payment_to_an_account_or_unit(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    progress(app, "WR2025", "100", "2025-01-25")
    p1 = pay(app, "IND2025", "70万", effective_date="2025-01-26", payee="县财政专户",
             payee_kind="fiscal-account")
    pay(app, "WR2025", "25万", effective_date="2025-01-26", payee="某乡人民政府",
        payee_kind="government-unit")
    p3 = pay(app, "WR2025", "5万", effective_date="2025-01-26", labour=True, payee_kind="household")
    found = audit(app)
    assert keys(found) == [("transfer-as-spending", "error", p1, "700000.00"),
                           ("transfer-as-spending", "error", "WR2025:P1", "250000.00")]
    assert "拨入财政专户" in found[0].detail and "以拨代支" in found[1].detail
    assert p3 not in {f.entity for f in found}
    reverse(app, p1, "2025-02-01")
    assert [f.entity for f in audit(app)] == ["WR2025:P1"]


# ---- same-year-spending (004 §二) ---------------------------------------------------------------


def test_courtyard_money_unpaid_at_year_end_fires(app: BudgetLedger) -> None:
    base(app, work_relief_category="庭院经济", pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    pay(app, "IND2025", "70万", effective_date="2025-01-26")
    progress(app, "WR2025", "100", "2025-01-25")
    pay(app, "WR2025", "20万", effective_date="2025-12-31", payee="农户", payee_kind="household")
    pay(app, "WR2025", "10万", effective_date="2026-01-10", payee="农户", payee_kind="household")
    assert only(audit(app, "2025-12-31"), "same-year-spending") == []  # the year is not over
    found = audit(app, "2026-02-01")
    assert keys(found) == [("same-year-spending", "warning", "WR2025", "100000.00")]
    assert "not paid by 2025-12-31" in found[0].detail


def test_courtyard_money_paid_within_the_year_passes(app: BudgetLedger) -> None:
    base(app, work_relief_category="庭院经济")
    assert audit(app, "2026-02-01") == []


# ---- project-renamed (001 §五) ------------------------------------------------------------------


def test_a_renamed_project_is_reported_as_a_warning(app: BudgetLedger) -> None:
    base(app)
    assert audit(app) == []
    rename(app, "IND2025", "某县设施农业项目", "2025-02-01")
    found = audit(app)
    assert keys(found) == [("project-renamed", "warning", "IND2025", None)]
    assert found[0].extra["original_name"] == "项目 IND2025"
    assert found[0].extra["docs"] == ["县乡振〔2025〕8号"]
    assert only(audit(app, "2025-01-31"), "project-renamed") == []  # before the rename


# ---- pooled-sources (000 §三, 004 §三(二)) ------------------------------------------------------


def test_one_voucher_on_two_funding_lines_is_pooled(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    progress(app, "WR2025", "100", "2025-01-25")
    first = pay(app, "IND2025", "70万", effective_date="2025-01-26", voucher="付2025-001")
    pay(app, "WR2025", "25万", effective_date="2025-01-26", voucher="付2025-001")
    pay(app, "WR2025", "5万", effective_date="2025-01-26", labour=True, voucher="付2025-002")
    found = audit(app)
    assert keys(found) == [("pooled-sources", "error", first, "950000.00")]
    assert found[0].extra["payments"] == ["IND2025:P1", "WR2025:P1"]


def test_the_ledger_refuses_pooled_payments(app: BudgetLedger) -> None:
    """The write side makes the rule's other cases impossible: nothing is written."""
    base(app, pay_all=False)
    issue(app, "LOCAL", COUNTY, "10万", effective_date="2025-01-05", source="county")
    allocate(app, "LOCAL", "IND2025", "10万", effective_date="2025-01-21")
    count = app.last_position()
    with pytest.raises(InputError, match="--indicator"):
        pay(app, "IND2025", "1万")  # two lines: which source pays must be named
    with pytest.raises(inv.UnknownEntity):
        pay(app, "WR2025", "1万", indicator_id="LOCAL")  # not a line of that project
    with pytest.raises(inv.PaymentExceedsFunding):
        pay(app, "IND2025", "11万", indicator_id="LOCAL")  # more than the line holds
    pay(app, "IND2025", "1万", indicator_id="LOCAL", voucher="V")
    with pytest.raises(inv.DuplicateId):
        pay(app, "IND2025", "1万", indicator_id="C2025", voucher="V")  # one voucher, two lines
    assert app.last_position() == count + 1
    assert only(audit(app), "pooled-sources") == []


def test_pooled_rows_the_ledger_cannot_write_are_still_found(app: BudgetLedger) -> None:
    """Read models from elsewhere (or damaged): a payment off its project's lines, a line paid
    beyond its funding. Written into the read models directly, since no command can."""
    from datetime import date

    from sqlalchemy import insert, update

    from projections import journal as jn
    from projections.audit import run_audit
    from projections.tables import JournalRow, PaymentRow
    from tests.test_audit_scenario import books

    base(app)
    engine = books(app)
    view = jn.View(as_of=date(2025, 3, 1))
    with engine.begin() as conn:
        conn.execute(update(PaymentRow).where(PaymentRow.payment_id == "WR2025:P1")
                     .values(indicator_id="M2025"))
        (line,) = jn.lines(conn, view, JournalRow.project_id == "IND2025")
        conn.execute(insert(JournalRow).values(
            position=10**9, indicator_id=line.indicator_id, project_id="IND2025", bucket="paid",
            amount=80_000_000 - line.paid, effective_date=date(2025, 2, 1),
            recorded_at="2000-01-01T00:00:00.000000+00:00"))
    found = only(run_audit(engine, RulesConfig.default(), view), "pooled-sources")
    assert keys(found) == [("pooled-sources", "error", "WR2025:P1", "255000.00"),
                           ("pooled-sources", "error", "IND2025<-C2025", "100000.00")]


# ---- progress-behind-schedule (003 §三(四), 004 §三(四)) -----------------------------------------


def test_progress_behind_schedule_fires_up_the_hierarchy(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    pay(app, "IND2025", "20万", effective_date="2025-01-26")
    # 2025-07-01: day 182 of 365 = 49.86 %; paid 20 % everywhere up the chain; the gap is
    # 182/365 of 100 万, rounded up to the 分, less the 20 万 paid
    found = audit(app, "2025-07-01")
    assert keys(found) == [
        ("progress-behind-schedule", "warning", REGION, "298630.14"),
        ("progress-behind-schedule", "warning", CITY, "298630.14"),
        ("progress-behind-schedule", "warning", COUNTY, "298630.14"),
    ]
    assert found[2].extra == {"progress": "20.00", "schedule": "49.86"}


def test_progress_on_schedule_or_within_tolerance_passes(app: BudgetLedger) -> None:
    base(app, pay_all=False)
    progress(app, "IND2025", "100", "2025-01-25")
    pay(app, "IND2025", "20万", effective_date="2025-01-26")
    assert audit(app, "2025-03-13") == []  # day 72: 19.73 % ≤ 20 %
    assert audit(app, "2025-07-01", tuned(progress_behind_schedule={"max_points_behind": 30})) == []


def test_advance_funds_are_not_behind_before_their_year(app: BudgetLedger) -> None:
    issue(app, "ADV", REGION_ADV, "10万", effective_date="2024-12-20", year=2025, advance=True)
    forward(app, "ADV", "ADV-C", "某县2", "10万", effective_date="2024-12-20")
    project(app, "P-ADV", "某县2", "产业发展", effective_date="2024-12-21")
    allocate(app, "ADV-C", "P-ADV", "10万", effective_date="2024-12-21")
    assert only(audit(app, "2024-12-31"), "progress-behind-schedule") == []
    assert len(only(audit(app, "2025-01-02"), "progress-behind-schedule")) == 2


REGION_ADV = "另一区"


def test_disabled_rules_report_nothing(app: BudgetLedger) -> None:
    base(app, industry="50万", work_relief="50万")
    assert audit(app, config=tuned(industry_share={"enabled": False})) == []
    downgraded = audit(app, config=tuned(industry_share={"severity": "error"}))
    assert [f.severity for f in downgraded] == ["error"]
