"""An indicator's terms (指标要素): what a forward copies from parent to child, as one value.

Year, task (任务), fund source, functional subject (支出功能分类科目), and the tracking (追踪),
direct (直达) and advance (提前下达) flags. They are fixed when an indicator is created and a
child carries its parent's unchanged (``child-inherits-parent``), except that a forward may
refine the subject to a 项级 subject below it. The unit, issuer and document are not terms: they
are who holds the money and under which paper, and differ from parent to child.

In the log the terms are one field, ``terms``, stored by ``IndicatorTermsAsDict`` (:mod:`ledger.transcodings`) as
``{"_type_": "indicator_terms", "_data_": {"year": …, "task": …, …}}`` (events of class
version 2). Version 1 events, written before this value existed, hold the same seven fields
loose at the top level; :meth:`IndicatorTerms.upcast` turns them into the value on load.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

#: the event field that holds the terms, and the transcoding's name in the stored JSON
TERMS_FIELD = "terms"
TRANSCODING_NAME = "indicator_terms"


@dataclass(frozen=True, slots=True)
class IndicatorTerms:
    """The terms an indicator holds its money under; immutable, compared by value."""

    year: int
    task: str
    source: str
    subject: str | None
    tracking: bool
    direct: bool
    advance: bool

    def refined(self, subject: str) -> IndicatorTerms:
        """The same terms under a (checked) 项级 subject below this one's."""
        return replace(self, subject=subject)

    @classmethod
    def upcast(cls, state: dict[str, Any]) -> None:
        """A version 1 creation event's state, loose fields → one ``terms`` value, in place."""
        state[TERMS_FIELD] = cls(**{name: state.pop(name) for name in FIELD_NAMES})


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(IndicatorTerms))
