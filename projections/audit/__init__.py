"""Compliance audit: the rules stated in the seed notices, checked on the read models.

One module per rule (``RULE_ID`` and ``check``), thresholds in ``rules.toml`` (the seeds'
values) loaded through :class:`RulesConfig`; :func:`run_audit` runs them. See docs/audit.md.
"""

from projections.audit.base import Finding
from projections.audit.config import RulesConfig, load_rules
from projections.audit.runner import RULE_IDS, has_errors, run_audit

__all__ = ["RULE_IDS", "Finding", "RulesConfig", "has_errors", "load_rules", "run_audit"]
