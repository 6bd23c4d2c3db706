"""Row schemas: one pydantic model per file kind; a bad cell becomes a :class:`Problem` naming its
row, column and raw value (the wording of :mod:`ledger.validation`, shared with the commands)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)

from ledger.commands import EffectiveDate, Ident, Subject
from ledger.imports.problems import Problem, refuse
from ledger.imports.reading import RawTable
from ledger.money import AmountError, parse_amount
from ledger.project import Category, PayeeKind
from ledger.validation import explain, no_control_characters

#: row-number columns: ignored (with a note)
ROW_NUMBER_NAMES = frozenset({"序号", "编号", "行号", "no", "no.", "#"})
#: cells that mean "nothing" in an allocation table
ZERO_CELLS = frozenset({"", "-", "－", "—"})
TRUE_CELLS = frozenset({"yes", "y", "true", "1", "是", "x", "✓"})
FALSE_CELLS = frozenset({"", "no", "n", "false", "0", "否"})


def _table_amount(value: Any, info: ValidationInfo) -> int:
    """A table cell: '-' or empty is 0; else an exact amount in the table's unit (suffix allowed)."""
    text = "" if value is None else str(value).strip()
    if text in ZERO_CELLS:
        return 0
    unit = (info.context or {}).get("unit", "元")
    try:
        return parse_amount(text, unit, allow_zero=True)
    except AmountError as e:
        raise ValueError(str(e)) from None


def _positive_amount(value: Any, info: ValidationInfo) -> int:
    unit = (info.context or {}).get("unit", "元")
    try:
        return parse_amount(str(value).strip(), unit)
    except AmountError as e:
        raise ValueError(str(e)) from None


def _flag(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in TRUE_CELLS:
        return True
    if text in FALSE_CELLS:
        return False
    raise ValueError("expected yes/no (also true/false, 1/0, 是/否; empty means no)")


TableAmount = Annotated[int, BeforeValidator(_table_amount)]
PositiveAmount = Annotated[int, BeforeValidator(_positive_amount)]
Flag = Annotated[bool, BeforeValidator(_flag)]
#: a name (unit, document, task, payee …): one line of visible text
Name = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(no_control_characters)]
Voucher = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_control_characters)]


class Row(BaseModel):
    """A file row; field names are the column names (errors name the column the user sees)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AllocationRow(Row):
    """One transfer of an edge-list table: ``from`` passes ``amounts[task]`` on to ``to``."""

    holder: Name
    to: Name
    amounts: dict[str, TableAmount]
    note: str | None = None
    area: Name | None = None  # the geographic parent of ``to`` (default: ``from``)


class ProjectRow(Row):
    """A project, and optionally one funding line of it (one row per line; repeat the project)."""

    project: Ident
    unit: Name
    name: Name
    category: Category
    date: EffectiveDate
    doc: Name | None = None
    indicator: Ident | None = None
    indicator_doc: Name | None = None
    indicator_task: Name | None = None
    amount: PositiveAmount | None = None
    subject: Subject | None = None  # the line's functional subject refined to 项级 (2130504)


class PaymentRow(Row):
    """One payment (支付); the voucher is its natural key."""

    voucher: Voucher
    project: Ident
    indicator: Ident | None = None
    payee: Name
    payee_kind: PayeeKind = PayeeKind.ENTERPRISE
    amount: PositiveAmount
    date: EffectiveDate
    labour: Flag = False
    doc: Name | None = None


PROJECT_COLUMNS = {"required": ("project", "unit", "name", "category", "date"),
                   "optional": ("doc", "indicator", "indicator_doc", "indicator_task", "amount",
                                "subject")}
PAYMENT_COLUMNS = {"required": ("voucher", "project", "payee", "amount", "date"),
                   "optional": ("indicator", "payee_kind", "labour", "doc")}

R = TypeVar("R", bound=Row)


def validate(
    model: type[R], table: RawTable, n: int, raw: Mapping[str, str], data: dict[str, Any],
    columns: Mapping[str, str], context: dict[str, Any],
) -> tuple[R | None, list[Problem]]:
    """Validate one row; every bad cell becomes a Problem naming its column and raw value."""
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            column = loc[1] if loc[:1] == ["amounts"] and len(loc) > 1 else (
                columns.get(loc[0], loc[0]) if loc else None
            )
            value = raw.get(column) if column else None
            why = explain(err, missing="is empty; this column is required")
            problems.append(Problem(table.file, n, column, value or None, why))
        return None, problems


def merged_amounts(table: RawTable, n: int, raw: Mapping[str, str],
                   columns: Sequence[str]) -> list[Problem]:
    """An amount copied from a merged range (xlsx) would count the money twice: refused."""
    return [
        Problem(table.file, n, c, raw[c],
                f"this cell is part of the merged range {table.merged[(n, c)]}; an amount "
                "belongs to one row — unmerge it and put each row's amount in its own cell")
        for c in columns if (n, c) in table.merged and raw.get(c)
    ]


def is_row_number(name: str) -> bool:
    """A row-number column (序号, No.): never data, ignored with a note."""
    return "".join(unicodedata.normalize("NFKC", name).split()).lower() in ROW_NUMBER_NAMES


def check_columns(table: RawTable, spec: Mapping[str, Sequence[str]]) -> list[str]:
    """The header against the file kind's columns; returns the row-number columns to ignore."""
    required, optional = spec["required"], spec["optional"]
    ignored = [c for c in table.header if is_row_number(c) and c not in (*required, *optional)]
    missing = [c for c in required if c not in table.header]
    unknown = [c for c in table.header if c not in (*required, *optional, *ignored)]
    why = []
    if missing:
        why.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        why.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if why:
        expected = ",".join([*required, *optional])
        raise refuse(table.file, f"wrong header: {'; '.join(why)} (expected {expected})",
                     table.header_row)
    table.notes.extend(f"{table.file}: column {c} is a row number: ignored" for c in ignored)
    return ignored


def simple_rows(
    model: type[R], table: RawTable, spec: Mapping[str, Sequence[str]], unit: str,
    problems: list[Problem],
) -> Iterator[tuple[int, R]]:
    """Each row of a projects / payments file that validates; bad cells go to ``problems``."""
    ignored = check_columns(table, spec)
    for n, raw in table.records():
        data = {k: v for k, v in raw.items() if v != "" and k not in ignored}
        row, bad = validate(model, table, n, raw, data, {}, {"unit": unit})
        problems += bad
        problems += merged_amounts(table, n, raw, ("amount",))
        if row is not None:
            yield n, row
