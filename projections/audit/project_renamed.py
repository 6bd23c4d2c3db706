"""project-renamed: a project's name is not changed after it was entered.

Source: seed 001 (新财振〔2024〕9号) §五 "项目名称准确录入后，不得随意变更"; seed 004 §三(二)
"项目批准实施后不得随意变更实施内容，确需变更的要按规定履行审批程序".

The ledger only records a rename with the approving document (rename-needs-document), so a
rename is not necessarily a breach; each renamed project is reported for a reviewer to check the
document. One finding per project, listing every rename in order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from projections.audit.base import Books, Finding, finding
from projections.audit.config import PlainRuleConfig

RULE_ID = "project-renamed"


def check(books: Books, cfg: PlainRuleConfig) -> list[Finding]:
    by_project: dict[str, list[Any]] = defaultdict(list)
    for r in books.renames:
        by_project[r.project_id].append(r)
    out: list[Finding] = []
    for prj_id, renames in by_project.items():
        prj = books.projects[prj_id]
        steps = "; ".join(f"{r.effective_date} {r.old_name!r} → {r.new_name!r} ({r.doc})"
                          for r in renames)
        out.append(finding(
            RULE_ID, cfg, prj_id,
            f"renamed {len(renames)} time(s) after entry on {prj.effective_date}: {steps}",
            unit=prj.unit, date=renames[-1].effective_date,
            extra={"original_name": prj.original_name, "name": prj.name,
                   "docs": [r.doc for r in renames]},
        ))
    return out
