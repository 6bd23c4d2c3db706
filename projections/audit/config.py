"""The audit rules file: pydantic models over TOML, the bundled ``rules.toml`` as the defaults.

The defaults live in exactly one place, ``rules.toml`` next to this module (the seeds' values).
A user file is laid over them key by key, so it only needs the keys it changes. Any problem —
TOML syntax, an unknown rule or key, a value of the wrong kind — is an :class:`InputError`
(exit 2) naming the file, the ``[section] key`` and its line.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.errors import InputError
from ledger.project import Category, PayeeKind
from ledger.validation import explain

Severity = Literal["error", "warning"]
Percent = Annotated[Decimal, Field(ge=0, le=100)]
Days = Annotated[int, Field(ge=0, le=3660)]
DEFAULT_RULES = "rules.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FundSourceName = Literal["central", "provincial", "prefecture", "county"]
LevelName = Literal["region", "province", "prefecture", "county", "township"]
ALL = "all"


class RuleConfig(_Strict):
    """On/off, severity, the notice the rule comes from, and the funds and units it binds.

    Scope: ``jurisdictions`` names the top units (a region or province, or any area) whose funds
    the notice speaks for — ``["all"]`` for principles several notices repeat; ``years``,
    ``tasks`` and ``sources`` limit the indicators (empty: any); ``levels`` the administrative
    level of the unit the rule binds (empty: any). See docs/audit.md, "Scope".
    """

    enabled: bool
    severity: Severity
    notice: str = ""
    text: str = ""
    jurisdictions: list[str] = Field(default_factory=lambda: [ALL])
    years: list[int] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)
    sources: list[FundSourceName] = Field(default_factory=list)
    levels: list[LevelName] = Field(default_factory=list)


class UnitsConfig(_Strict):
    forwarding: list[str]
    refining: list[str]


class ForwardDeadlineConfig(RuleConfig):
    days: Days


class RefinementDeadlineConfig(RuleConfig):
    days: Days
    #: advance funds (提前下达, dated in December for next year): the clock starts on
    #: 1 January of the budget year ("year-start") or at receipt ("receipt")
    advance_clock: Literal["year-start", "receipt"] = "year-start"


class IndustryShareConfig(RuleConfig):
    min_percent: Percent
    compare_previous_year: bool
    categories: list[Category]
    grace_days: Days


class LabourShareConfig(RuleConfig):
    min_percent: Percent
    categories: list[Category]  # projects carried out by the 以工代赈 method
    work_relief_tasks: list[str] = Field(default_factory=lambda: ["以工代赈任务"])
    central_sources: list[FundSourceName]


class PaymentAheadConfig(RuleConfig):
    tolerance_points: Percent


class TransferAsSpendingConfig(RuleConfig):
    payee_kinds: list[PayeeKind]


class SameYearSpendingConfig(RuleConfig):
    categories: list[Category]


class PlainRuleConfig(RuleConfig):
    """Rules with nothing to tune but on/off and severity."""


class ScheduleConfig(RuleConfig):
    max_points_behind: Percent


class RulesConfig(_Strict):
    """Every rule's settings. Field aliases are the rule ids used in the TOML file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    units: UnitsConfig
    forward_deadline: ForwardDeadlineConfig = Field(alias="forward-deadline")
    project_refinement_deadline: RefinementDeadlineConfig = Field(alias="project-refinement-deadline")
    industry_share: IndustryShareConfig = Field(alias="industry-share")
    labour_share: LabourShareConfig = Field(alias="labour-share")
    payment_ahead_of_progress: PaymentAheadConfig = Field(alias="payment-ahead-of-progress")
    transfer_as_spending: TransferAsSpendingConfig = Field(alias="transfer-as-spending")
    same_year_spending: SameYearSpendingConfig = Field(alias="same-year-spending")
    project_renamed: PlainRuleConfig = Field(alias="project-renamed")
    pooled_sources: PlainRuleConfig = Field(alias="pooled-sources")
    progress_behind_schedule: ScheduleConfig = Field(alias="progress-behind-schedule")

    def rule(self, rule_id: str) -> RuleConfig:
        """The settings of one rule by its id ('forward-deadline')."""
        value = getattr(self, rule_id.replace("-", "_"))
        assert isinstance(value, RuleConfig)
        return value

    @classmethod
    def default(cls) -> RulesConfig:
        return load_rules(None)


def _default_text() -> str:
    return resources.files("projections.audit").joinpath(DEFAULT_RULES).read_text("utf-8")


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{name}: not valid TOML: {e}", field="rules") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of ``[section]`` / ``key`` in the user's file, for the error message."""
    lines = text.splitlines()
    section = loc[0] if loc else None
    key = loc[1] if len(loc) > 1 else None
    current: str | None = None
    header_line: int | None = None
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"^\[\s*\"?([^\]\"]+)\"?\s*\]$", line)
        if m:
            current = m.group(1).strip()
            if current == section:
                header_line = n
            continue
        if current == section and key is not None and re.match(rf"^\"?{re.escape(key)}\"?\s*=", line):
            return n
        if current is None and key is None and re.match(rf"^\"?{re.escape(str(section))}\"?\s*=", line):
            return n
    return header_line


def load_rules(path: str | Path | None) -> RulesConfig:
    """The bundled defaults, with the file at ``path`` (if any) laid over them."""
    data = _parse(_default_text(), DEFAULT_RULES)
    text = ""
    name = DEFAULT_RULES
    if path is not None:
        name = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--rules: cannot read {name}: {e}", field="rules") from None
        data = _merge(data, _parse(text, name))
    try:
        return RulesConfig.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(str(p) for p in err["loc"])
            where = f"[{loc[0]}]" + (f" {loc[1]}" if len(loc) > 1 else "")
            if len(loc) > 2:
                where += f"[{loc[2]}]"
            line = _line_of(text, loc) if text else None
            at = f" (line {line})" if line else ""
            msg = explain(err)
            if err["type"] == "extra_forbidden":
                msg = "unknown " + ("rule" if len(loc) == 1 else "key") + " (see docs/audit.md)"
            shown = "" if err["type"] == "extra_forbidden" else f" (got {err.get('input')!r})"
            problems.append(f"{name}: {where}{at}: {msg}{shown}")
        raise InputError("; ".join(problems), field="rules", problems=problems) from None
