"""Where an indicator's money comes from (资金来源): the one list, for commands, CLI, importer and audit."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class FundSource(StrEnum):
    """The level of government whose budget the money comes from."""

    CENTRAL = "central"  # 中央
    PROVINCIAL = "provincial"  # 省级
    PREFECTURE = "prefecture"  # 市级
    COUNTY = "county"  # 县级

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(s.value for s in cls)


def parse_fund_source(value: Any) -> str:
    """The plain string stored in events ('provincial'), or ValueError naming the choices."""
    if isinstance(value, FundSource):
        return value.value
    if isinstance(value, str):
        try:
            return FundSource(value.strip().lower()).value
        except ValueError:
            pass
    raise ValueError(f"expected one of {', '.join(FundSource.values())}, got {value!r}")
