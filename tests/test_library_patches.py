"""The patches on eventsourcing live in ledger/library_patches.py and refuse a library they were
not written for, loudly, at start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ledger import application, library_patches
from ledger.library_patches import WRITTEN_FOR, LibraryMismatch, check_library


def test_the_installed_library_is_the_pinned_one() -> None:
    check_library()
    library_patches.check_postgres_hooks()
    assert WRITTEN_FOR == "9.5.6"


def test_another_version_is_refused_naming_both_versions() -> None:
    with pytest.raises(LibraryMismatch) as e:
        check_library("9.6.0")
    assert "9.6.0 is installed" in str(e.value) and "eventsourcing[postgres]==9.5.6" in str(e.value)


def test_a_missing_private_hook_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    def insert_events(self: object, stored_events: object, **kwargs: object) -> None:
        return None  # a library that stopped calling the hook

    monkeypatch.setattr(SQLiteApplicationRecorder, "insert_events", insert_events)
    with pytest.raises(LibraryMismatch, match="no longer calls _insert_events"):
        check_library()
    monkeypatch.setattr(SQLiteApplicationRecorder, "_insert_events", lambda self, cursor: None)
    with pytest.raises(LibraryMismatch, match="_insert_events"):
        check_library()


def test_a_missing_retry_wrapper_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from eventsourcing.postgres import PostgresApplicationRecorder

    monkeypatch.setattr(PostgresApplicationRecorder, "insert_events", lambda self, events: None)
    with pytest.raises(LibraryMismatch, match="@retry"):
        library_patches.check_postgres_hooks()


def test_the_patches_are_still_importable_from_the_application() -> None:
    assert application.fold is library_patches.fold
    assert application.stamp_recorded_at is library_patches.stamp_recorded_at


def test_start_up_fails_loudly_on_another_version() -> None:
    code = ("import ledger.library_version as v; v.installed_version = lambda: '9.9.9'; "
            "import ledger.application")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "LibraryMismatch" in res.stderr and "9.9.9 is installed" in res.stderr


def test_a_save_that_changed_its_steps_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """save_aggregates repeats Application.save's private steps; a save without them is refused."""
    from eventsourcing.application import Application

    def save(self: object, *objs: object, **kwargs: object) -> list[object]:
        return []  # a library whose save records some other way

    monkeypatch.setattr(Application, "save", save)
    with pytest.raises(LibraryMismatch, match="Application.save no longer calls"):
        check_library()


def test_save_aggregates_records_like_save(tmp_path: object) -> None:
    """Same events stored, same recordings returned, pending events collected."""
    from ledger.application import BudgetLedger
    from ledger.indicator import Indicator
    from tests.helpers import issue

    app = BudgetLedger.open(f"sqlite:///{tmp_path}/a.db")
    issue(app, "R", "拉萨市", "100万")
    root = app.get_indicator("R")
    root.forward_out(child_id="C", amount=100_000, effective_date=root.effective_date, actor="t",
                     doc="d")
    child = Indicator.receive(parent=root, child_id="C", unit="城关区", amount=100_000,
                              terms=root.terms, doc="d",
                              effective_date=root.effective_date, actor="t")
    assert isinstance(child, Indicator)
    recordings = library_patches.save_aggregates(app, [root, child])
    assert [r.domain_event.originator_id for r in recordings] == [root.id, child.id]
    assert [r.notification.id for r in recordings] == [2, 3]
    assert not root.pending_events and not child.pending_events
    assert app.get_indicator("C").received == 100_000
    app.close()


def test_the_start_up_version_check_reads_what_importlib_metadata_reads() -> None:
    import importlib.metadata

    from ledger.library_version import installed_version

    assert installed_version() == importlib.metadata.version("eventsourcing") == WRITTEN_FOR
