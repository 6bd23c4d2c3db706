"""Packaging: what the wheel ships, what a query imports, and a lock file that matches the pins."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def test_the_wheel_ships_every_package_of_the_three_and_not_bench() -> None:
    """Each directory with an ``__init__.py`` under ledger/, projections/ and cli/ is matched by
    the find patterns (a missing ``ledger.imports`` once broke ``demo`` in a wheel install); bench/
    and tests/ are not."""
    from fnmatch import fnmatch

    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]

    def shipped(name: str) -> bool:
        return any(fnmatch(name, pattern) for pattern in include)

    found = [".".join(init.parent.relative_to(ROOT).parts) for init in ROOT.glob("*/**/__init__.py")
             if ".venv" not in init.parts and "build" not in init.parts]
    ours = [p for p in found if p.split(".")[0] in ("ledger", "projections", "cli")]
    assert {"ledger.imports", "projections.audit"} <= set(ours)
    assert all(shipped(p) for p in ours), [p for p in ours if not shipped(p)]
    assert not any(shipped(p) for p in found if p.split(".")[0] in ("bench", "tests"))


def test_floors_match_what_eventsourcing_needs() -> None:
    import importlib.metadata as m

    deps = PYPROJECT["project"]["dependencies"]
    assert "eventsourcing[postgres]==9.5.6" in deps
    needed = [r for r in m.requires("eventsourcing") or [] if 'extra == "postgres"' in r]
    assert needed and all("psycopg" in r for r in needed)
    floor = re.search(r">=\s*([\d.]+)", needed[0]).group(1)  # type: ignore[union-attr]
    ours = next(d for d in deps if d.startswith("psycopg"))
    assert f">={floor}" in ours, (ours, needed)


def test_the_lock_file_pins_every_dependency_at_an_allowed_version() -> None:
    lock = {}
    for line in (ROOT / "requirements.lock").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[name.lower().replace("_", "-")] = version
    assert lock["eventsourcing"] == "9.5.6"
    for dep in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]:
        name = re.split(r"[\[<>=!~ ]", dep, maxsplit=1)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is not in requirements.lock"


def test_a_sqlite_query_never_imports_the_postgres_driver(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cli.main import cli, register\n"
        "register()\n"
        f"db = {str(tmp_path / 'l.db')!r}\n"
        "r = CliRunner().invoke(cli, ['--db', db, 'issue', '--to', '拉萨市', '--amount', '1万', "
        "'--doc', 'D1', '--date', '2025-01-05', '--year', '2025', '--task', 't', '--source', 'county'])\n"
        "assert r.exit_code == 0, r.output\n"
        "for q in (['balance', '拉萨市'], ['log'], ['verify'], ['trace', '--help']):\n"
        "    r = CliRunner().invoke(cli, ['--db', db, *q])\n"
        "    assert r.exit_code == 0, (q, r.output)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool') "
        "or m == 'eventsourcing.postgres')\n"
        "print(loaded)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout
