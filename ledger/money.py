"""Exact money: integer 分 (fen) inside, decimal strings outside. Never a float."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分

# digits with optional thousands separators, optional fraction; nothing else
_NUMBER = r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
_AMOUNT = re.compile(rf"^{_NUMBER}\s*(?P<unit>万元|万|元)?$", re.ASCII)

UNITS = {"元": FEN_PER_YUAN, "万元": FEN_PER_WAN, "万": FEN_PER_WAN}
_MAX_DECIMALS = {FEN_PER_YUAN: 2, FEN_PER_WAN: 6}

# The largest single entry: 10¹² 元 (1 万亿元). A national year of linkage funds is under 2,000亿元,
# so this leaves room, while every sum the read models take stays far inside a signed 64-bit 分
# (9.2 × 10¹⁸): a store's BIGINT never overflows and every query keeps answering.
MAX_ENTRY_FEN = 10**12 * FEN_PER_YUAN


class AmountError(ValueError):
    """An amount string that is not an exact, non-negative decimal in a known unit."""


def parse_amount(text: object, default_unit: str = "元", *, allow_zero: bool = False) -> int:
    """Parse '1408万', '1408万元', '14080000元', '14,080,000.5' into integer 分.

    Rejects floats like '1e5', signs, more decimals than 分 allows, unknown unit suffixes
    and empty strings. A bare number is in ``default_unit``.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
        raise AmountError(f"expected a decimal string, got {type(text).__name__} {text!r}")
    if isinstance(text, Decimal):
        text = format(text, "f")
    # full-width digits and separators from scanned tables (１，２３４．５) read as ASCII; other
    # scripts' digits do not match the ASCII-only pattern
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if not raw:
        raise AmountError("empty amount")
    m = _AMOUNT.match(raw)
    if not m:
        raise AmountError(
            f"not an amount: {raw!r} (expected digits with up to two decimals in 元, "
            "optionally suffixed 元/万/万元; no signs, exponents or other units)"
        )
    unit = m.group("unit") or default_unit
    if unit not in UNITS:
        raise AmountError(f"unknown unit {unit!r}")
    scale = UNITS[unit]
    frac = m.group("frac") or ""
    if len(frac) > _MAX_DECIMALS[scale]:
        raise AmountError(
            f"{raw!r} has {len(frac)} decimals; at most {_MAX_DECIMALS[scale]} in {unit} (1 分)"
        )
    integer = int(m.group("int").replace(",", ""))
    fen = integer * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
    if fen == 0 and not allow_zero:
        raise AmountError(f"amount must be positive, got {raw!r}")
    check_bound(fen)
    return fen


def check_bound(fen: int) -> None:
    """Refuse an entry larger than :data:`MAX_ENTRY_FEN` (one 万亿元)."""
    if fen > MAX_ENTRY_FEN:
        raise AmountError(
            f"amount {format_yuan(fen)} 元 is larger than any single entry can be "
            f"(at most {format_yuan(MAX_ENTRY_FEN)} 元, 1 万亿元)"
        )


def format_yuan(fen: int) -> str:
    """'14080000.00' — the contract's JSON form: 元 with exactly two decimals."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{q}.{r:02d}"


def format_wan(fen: int) -> str:
    """'1,408.00' 万元 as printed in the notices (rounding never hides a 分: extra places shown)."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), FEN_PER_WAN)
    frac = f"{r:06d}".rstrip("0")
    frac = frac.ljust(2, "0")
    return f"{sign}{q:,}.{frac}"


def fen_to_decimal(fen: int) -> Decimal:
    """元 as an exact Decimal."""
    return Decimal(fen) / FEN_PER_YUAN


def ratio(numerator: int, denominator: int, places: int = 4) -> str:
    """A decimal string with ``places`` places, e.g. '0.2500'; '0.0000' when nothing was received."""
    if denominator == 0:
        return "0." + "0" * places
    q = Decimal(numerator) / Decimal(denominator)
    return str(q.quantize(Decimal(1).scaleb(-places)))
