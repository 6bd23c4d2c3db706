"""Every command the ledger accepts, as a pydantic model.

Validation happens here, before any aggregate is loaded: a bad field raises
:class:`~ledger.errors.InputError` naming the field (exit 2) and nothing is written.
Amounts given as strings are parsed by :func:`ledger.money.parse_amount` (元 by default);
plain ints are taken as 分, for callers that already hold exact amounts.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ledger.errors import InputError
from ledger.fund_source import FundSource, parse_fund_source  # noqa: F401 - FundSource re-exported
from ledger.money import AmountError, check_bound, parse_amount
from ledger.project import Category, PayeeKind
from ledger.unit import Level
from ledger.validation import explain


def _fen(value: Any) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"amounts are exact decimals, never floats: {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"amount must be positive, got {value} 分")
        try:
            check_bound(value)
        except AmountError as e:
            raise ValueError(str(e)) from None
        return value
    try:
        return parse_amount(value)
    except AmountError as e:
        raise ValueError(str(e)) from None


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Effective dates are business dates in China (UTC+8). None is earlier than FIRST_DATE, none is
# in the future, and an issuance lies within a year either side of its budget year (提前下达
# in the December before; late issuance in the year after). See docs/guide.md.
FIRST_DATE = date(2000, 1, 1)
CHINA = timezone(timedelta(hours=8))


def today() -> date:
    """Today's business date in China."""
    return datetime.now(CHINA).date()


#: a day already past when this module was loaded, so never in the future
_PAST = today() - timedelta(days=1)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(f"not a calendar date: {value!r} ({e})") from None
    if not isinstance(value, date):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")
    if value < FIRST_DATE:
        raise ValueError(f"{value.isoformat()} is before {FIRST_DATE.isoformat()}, the earliest date the ledger takes")
    if value > _PAST and value > today():  # the clock is read only for a recent date
        raise ValueError(f"{value.isoformat()} is in the future (today is {today().isoformat()} in China)")
    return value


def _percent(value: Any) -> Decimal:
    if isinstance(value, (float, bool)):
        raise ValueError(f"percent must be an exact decimal, got {value!r}")
    try:
        d = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"not a percentage: {value!r}") from None
    if not d.is_finite() or d < 0 or d > 100:
        raise ValueError(f"percent must be between 0 and 100, got {value!r}")
    if d.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"percent has more than two decimals: {value!r}")
    return d


def _one_line(value: str) -> str:
    """Names, units, documents and tasks are one line of printable text: a newline or another
    control character would split a table row, a CSV cell or a log line, and make two names that
    look the same differ."""
    if value.isprintable():  # no Cc, Cf, Zl or Zp character: the usual case, without the loop
        return value
    for ch in value:
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat in ("Zl", "Zp") or (cat == "Cf" and ch not in "\u200d"):
            name = unicodedata.name(ch, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                                                 "\t": "CHARACTER TABULATION"}.get(ch, "control")
            raise ValueError(
                f"must be one line of printable text; it contains U+{ord(ch):04X} ({name})")
    return value


Fen = Annotated[int, BeforeValidator(_fen)]
EffectiveDate = Annotated[date, BeforeValidator(_date)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]
Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_one_line)]
Ident = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\s]+$")]
# validated against FundSource; kept as the plain string the events store ('provincial')
Source = Annotated[str, BeforeValidator(parse_fund_source)]
Year = Annotated[int, Field(ge=1990, le=2100)]
Subject = Annotated[str, Field(pattern=r"^\d{3}(\d{2}){0,2}$")]  # 类 213, 款 21305, 项 2130504


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=False)

    # field name → the CLI option that sets it, so errors name what the user typed
    OPTIONS: ClassVar[dict[str, str]] = {}

    actor: Text = "unknown"


class IssueCommand(Command):
    """下达 a root indicator."""

    OPTIONS = {"indicator_id": "--id", "unit": "--to", "effective_date": "--date"}
    indicator_id: Ident | None = None
    unit: Text
    amount: Fen
    doc: Text
    effective_date: EffectiveDate
    year: Year
    task: Text
    source: Source
    issuer: Text | None = None
    subject: Subject | None = None
    tracking: bool = False
    direct: bool = False
    advance: bool = False

    @field_validator("year")
    @classmethod
    def _near_its_date(cls, year: int, info: ValidationInfo) -> int:
        day = info.data.get("effective_date")
        first, last = date(year - 1, 1, 1), date(year + 1, 12, 31)
        if isinstance(day, date) and not first <= day <= last:
            raise ValueError(
                f"budget year {year} is too far from the date {day.isoformat()} (an issuance for "
                f"{year} is dated from {first.isoformat()} to {last.isoformat()})"
            )
        return year


class ForwardCommand(Command):
    """转下达: a child indicator of ``parent_id`` for ``unit``. Terms given here must equal the parent's."""

    OPTIONS = {
        "child_id": "--id",
        "parent_id": "--parent",
        "unit": "--to",
        "effective_date": "--date",
    }
    parent_id: Ident
    child_id: Ident | None = None
    unit: Text
    amount: Fen
    doc: Text
    effective_date: EffectiveDate
    year: Year | None = None
    task: Text | None = None
    source: Source | None = None
    subject: Subject | None = None  # the parent's, or a 项级 subject below it
    tracking: bool | None = None
    direct: bool | None = None
    advance: bool | None = None

    def expected_terms(self) -> dict[str, object]:
        """Terms the child must share with its parent (``subject`` may refine instead)."""
        keys = ("year", "task", "source", "tracking", "direct", "advance")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class AddProjectCommand(Command):
    OPTIONS = {"project_id": "--id", "effective_date": "--date"}
    project_id: Ident
    unit: Text
    name: Text
    category: Category
    effective_date: EffectiveDate
    doc: Text | None = None


class AllocateCommand(Command):
    OPTIONS = {"indicator_id": "--indicator", "project_id": "--project", "effective_date": "--date"}
    indicator_id: Ident
    project_id: Ident
    amount: Fen
    effective_date: EffectiveDate
    doc: Text | None = None
    subject: Subject | None = None  # refines the line's functional subject (项级)


class PayCommand(Command):
    OPTIONS = {
        "indicator_id": "--indicator",
        "project_id": "--project",
        "effective_date": "--date",
        "payee_kind": "--payee-kind",
    }
    project_id: Ident
    amount: Fen
    effective_date: EffectiveDate
    payee: Text
    indicator_id: Ident | None = None
    payee_kind: PayeeKind = PayeeKind.ENTERPRISE
    voucher: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    labour: bool = False
    doc: Text | None = None


class ProgressCommand(Command):
    OPTIONS = {"project_id": "--project", "effective_date": "--date"}
    project_id: Ident
    percent: Percent
    effective_date: EffectiveDate
    doc: Text | None = None


class RecoverCommand(Command):
    """收回: to the parent indicator (``to="parent"``; a root: to its issuer) or into the same
    level's pool (``to="pool"``, 同级统筹: a new pool indicator ``pool_id`` of the same unit)."""

    OPTIONS = {"indicator_id": "--indicator", "effective_date": "--date", "pool_id": "--pool-id"}
    indicator_id: Ident
    amount: Fen
    doc: Text
    effective_date: EffectiveDate
    reason: Text
    to: Literal["parent", "pool"] = "parent"
    pool_id: Ident | None = None


class DeallocateCommand(Command):
    OPTIONS = {"indicator_id": "--indicator", "project_id": "--project", "effective_date": "--date"}
    indicator_id: Ident
    project_id: Ident
    amount: Fen
    effective_date: EffectiveDate
    reason: Text
    doc: Text | None = None


class ReverseCommand(Command):
    OPTIONS = {"payment_id": "PAYMENT_ID", "effective_date": "--date"}
    payment_id: Ident
    effective_date: EffectiveDate
    reason: Text
    doc: Text | None = None


class RenameProjectCommand(Command):
    OPTIONS = {"project_id": "--id", "new_name": "--name", "effective_date": "--date"}
    project_id: Ident
    new_name: Text
    doc: Text
    effective_date: EffectiveDate
    reason: Text | None = None


class SetUnitCommand(Command):
    """Declare or correct a unit's administrative level and geographic area (``unit set``)."""

    OPTIONS = {"unit": "UNIT", "effective_date": "--date", "direct_county": "--direct-county"}
    unit: Text
    level: Level
    area: Text | None = None
    direct_county: bool = False
    effective_date: EffectiveDate
    doc: Text | None = None


C = TypeVar("C", bound=Command)


def describe_errors(model: type[Command], error: ValidationError) -> list[str]:
    """One line per bad field: '--amount: not an amount: ...'."""
    lines = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else "?"
        option = model.OPTIONS.get(field, "--" + field.replace("_", "-"))
        msg = explain(err)
        value = err.get("input")
        hidden = err["type"] == "missing" or isinstance(value, dict) or repr(value) in msg
        shown = "" if hidden else f" (got {value!r})"
        lines.append(f"{option}: {msg}{shown}")
    return lines


def build(model: type[C], **fields: Any) -> C:
    """Validate ``fields`` into ``model`` or raise InputError naming every bad field."""
    try:
        return model(**fields)
    except ValidationError as e:
        problems = describe_errors(model, e)
        first = e.errors()[0]["loc"]
        raise InputError(
            "; ".join(problems), field=str(first[0]) if first else None, problems=problems
        ) from None
