"""Amount parsing and formatting, property-tested: exact 分 in, exact strings out, never a float.

``parse_amount`` is the only door through which amounts typed by people (CLI options, table
cells) enter the ledger, so every form it accepts must round-trip and every near miss — a float,
an exponent, a third decimal in 元, a misplaced thousands separator — must be refused.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.commands import AllocateCommand, IssueCommand, build
from ledger.errors import InputError
from ledger.money import MAX_ENTRY_FEN, AmountError, format_wan, format_yuan, parse_amount

# up to the largest single entry (1 万亿元): above it parse_amount refuses, as test_hardening shows
FEN = st.integers(min_value=1, max_value=MAX_ENTRY_FEN)
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=12)


def with_separators(integer: int) -> str:
    return f"{integer:,}"


@given(FEN)
def test_yuan_round_trip(fen: int) -> None:
    text = format_yuan(fen)
    assert parse_amount(text) == fen
    assert parse_amount(text + "元") == fen
    assert parse_amount(text, default_unit="元") == fen


@given(FEN)
def test_format_yuan_is_two_decimals_in_yuan(fen: int) -> None:
    text = format_yuan(fen)
    whole, _, frac = text.partition(".")
    assert whole.isdigit() and len(frac) == 2 and frac.isdigit()
    assert Decimal(text) * 100 == fen


@given(FEN)
def test_yuan_with_thousands_separators(fen: int) -> None:
    whole, frac = divmod(fen, 100)
    assert parse_amount(f"{with_separators(whole)}.{frac:02d}") == fen
    assert parse_amount(f"{with_separators(whole)}.{frac:02d}元") == fen


@given(FEN, st.sampled_from(["万", "万元"]))
def test_wan_round_trip(fen: int, unit: str) -> None:
    """format_wan prints as many places as a 分 needs, with separators, so nothing is rounded away."""
    assert parse_amount(format_wan(fen) + unit) == fen
    assert parse_amount(format_wan(fen), default_unit="万元") == fen


@given(st.integers(min_value=1, max_value=MAX_ENTRY_FEN // 1_000_000))
def test_whole_wan_is_a_million_fen(wan: int) -> None:
    assert parse_amount(f"{wan}万") == wan * 1_000_000
    assert parse_amount(f"{with_separators(wan)}万元") == wan * 1_000_000


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=999))
def test_three_decimals_in_yuan_refused(whole: int, frac: int) -> None:
    text = f"{whole}.{frac:03d}"
    with pytest.raises(AmountError, match="decimals"):
        parse_amount(text)
    with pytest.raises(AmountError, match="decimals"):
        parse_amount(text + "元")


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**7 - 1))
def test_seven_decimals_in_wan_refused(whole: int, frac: int) -> None:
    with pytest.raises(AmountError, match="decimals"):
        parse_amount(f"{whole}.{frac:07d}万")


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "+", "-"]),
    st.integers(min_value=0, max_value=20),
    st.sampled_from(["", "元", "万"]),
)
def test_exponent_forms_refused(mantissa: int, e: str, sign: str, exponent: int, unit: str) -> None:
    for text in (f"{mantissa}{e}{sign}{exponent}{unit}", f"{mantissa}.5{e}{sign}{exponent}{unit}"):
        with pytest.raises(AmountError):
            parse_amount(text)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_never_accepted(value: float) -> None:
    with pytest.raises(AmountError, match="float"):
        parse_amount(value)
    with pytest.raises(InputError, match="--amount"):
        build(AllocateCommand, indicator_id="I", project_id="P", amount=value, effective_date="2025-01-01")


@given(st.floats(min_value=0.01, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_float_text_with_exponent_or_excess_places_refused(value: float) -> None:
    """repr() of a float is what a careless caller would pass; accept it only when it is an exact
    decimal with at most two places and no exponent (then it is no longer a float, just digits)."""
    text = repr(value)
    exact = "e" not in text.lower() and len(text.partition(".")[2]) <= 2
    if exact:
        assert parse_amount(text) == int(Decimal(text) * 100)
    else:
        with pytest.raises(AmountError):
            parse_amount(text)


@given(DIGITS, st.integers(min_value=0, max_value=12))
def test_thousands_separator_only_in_groups_of_three(digits: str, where: int) -> None:
    """One comma is valid exactly when 1–3 digits precede it and exactly 3 follow."""
    assume(where <= len(digits))
    text = digits[:where] + "," + digits[where:]
    valid = 1 <= where <= 3 and len(digits) - where == 3 and int(digits) > 0
    if valid:
        assert parse_amount(text) == int(digits) * 100
    else:
        with pytest.raises(AmountError):
            parse_amount(text)


@given(FEN, st.sampled_from(["-", "+", "−", "¥", " - "]))
def test_signs_and_currency_symbols_refused(fen: int, prefix: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(prefix + format_yuan(fen))


@given(st.sampled_from(["0", "0.00", "0元", "0万", "0.000000万", "0,000"]))
def test_zero_refused_unless_allowed(text: str) -> None:
    with pytest.raises(AmountError, match="positive"):
        parse_amount(text)
    assert parse_amount(text, allow_zero=True) == 0


@given(FEN)
def test_commands_take_fen_ints_and_yuan_strings_alike(fen: int) -> None:
    fields = dict(unit="U", doc="D", effective_date="2025-01-01", year=2025, task="T", source="central")
    assert build(IssueCommand, amount=fen, **fields).amount == fen
    assert build(IssueCommand, amount=format_yuan(fen), **fields).amount == fen


@given(st.integers(max_value=0))
def test_commands_refuse_non_positive_fen(fen: int) -> None:
    with pytest.raises(InputError, match="--amount"):
        build(AllocateCommand, indicator_id="I", project_id="P", amount=fen, effective_date="2025-01-01")


def test_full_width_digits_read_as_ascii_other_scripts_refused() -> None:
    """Scanned tables carry full-width digits (１，２３４．５); they mean what they show."""
    assert parse_amount("１，２３４．５") == 123_450
    assert parse_amount("１４０８万") == 1_408_000_000
    with pytest.raises(AmountError):
        parse_amount("١٢")  # Arabic-Indic digits are not an amount here


@given(st.integers(min_value=MAX_ENTRY_FEN + 1, max_value=10**30))
def test_amounts_above_the_largest_entry_refused(fen: int) -> None:
    with pytest.raises(AmountError, match="larger than any single entry"):
        parse_amount(format_yuan(fen))
    with pytest.raises(InputError, match="--amount"):
        build(IssueCommand, unit="区", amount=fen, doc="D", effective_date="2025-01-01", year=2025,
              task="T", source="central")
