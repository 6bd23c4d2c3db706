"""Which ``eventsourcing`` is installed, read cheaply enough to check on every start-up.

``ledger/library_patches.py`` patches one exact version of the library. The CLI checks that
version before any command runs — without importing the library (a query whose read models are
current never needs it) and without :mod:`importlib.metadata`, whose imports (email, zipfile,
socket …) cost a query ~40 ms. The patches' private hooks are checked when the library is
first used (:mod:`ledger.library_patches` runs :func:`~ledger.library_patches.check_library`
on import, and :mod:`ledger.application` imports it).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

LIBRARY = "eventsourcing"
WRITTEN_FOR = "9.5.6"


class LibraryMismatch(RuntimeError):
    """The installed eventsourcing is not the one these patches were written for."""


def mismatch(what: str) -> LibraryMismatch:
    return LibraryMismatch(
        f"budget-ledger patches {LIBRARY} {WRITTEN_FOR} (see ledger/library_patches.py) but "
        f"{what}; install the pinned version: pip install '{LIBRARY}[postgres]=={WRITTEN_FOR}'"
    )


def installed_version() -> str:
    """The version in the name of the library's ``.dist-info`` folder beside it (what pip
    installed); :mod:`importlib.metadata` when there is not exactly one."""
    spec = find_spec(LIBRARY)
    if spec is not None and spec.origin:
        found = list(Path(spec.origin).parent.parent.glob(f"{LIBRARY}-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len(LIBRARY) + 1: -len(".dist-info")]
    from importlib import metadata

    return metadata.version(LIBRARY)


def check_version(version: str | None = None) -> None:
    """Raise :class:`LibraryMismatch` unless the installed version is the one patched."""
    found = version if version is not None else installed_version()
    if found != WRITTEN_FOR:
        raise mismatch(f"{found} is installed")
