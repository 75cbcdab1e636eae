"""docs/library.md is executed: its examples run, in order, in one fresh Python process, and its
reference list is exactly ``labridge.__all__``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import labridge

DOC = Path(__file__).parents[1] / "docs" / "library.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_the_examples_run_in_order(tmp_path: Path) -> None:
    blocks = _blocks()
    assert len(blocks) >= 7
    script = "\n\n".join(
        f"print('--- block {n}')\n{block}" for n, block in enumerate(blocks, start=1)
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # What each example says it shows.
    assert "MIS-1001 would_enrol" in out
    assert "MIS-1002 invalid" in out
    assert "'enrolled': 1" in out
    assert "\n1 skipped\n" in out
    assert "MIS-1001 updated {'EmailAddress': ('aaliyah.barker@example.org', 'a.barker@" in out
    assert re.search(r"\n\d+ learners, \d+ changed, 0 failed\n", out)
    assert (
        (tmp_path / "progress.html")
        .read_text(encoding="utf-8")
        .lower()
        .startswith("<!doctype html>")
    )
    assert "https://example.learningassistant.com" in out


def test_the_reference_lists_every_public_name() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Reference", 1)[1]
    items = re.findall(r"^- (.*?)(?=^- |^\n|\Z)", text, re.S | re.M)
    listed = {name for item in items for name in re.findall(r"`(\w+)`", item.split(" — ")[0])}
    assert listed == set(labridge.__all__)


def test_every_public_name_resolves_without_a_further_import() -> None:
    code = (
        "import labridge\n"
        "for name in labridge.__all__: getattr(labridge, name)\n"
        "app = labridge.sandbox.create_app()\n"
        "print(type(app).__name__, labridge.sandbox.app.create_app is labridge.sandbox.create_app)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Starlette", "True"]


def test_import_labridge_alone_stays_light() -> None:
    code = (
        "import sys, labridge\n"
        "print(sorted(m for m in ('httpx', 'sqlalchemy', 'alembic', 'jinja2', 'lxml') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_clients_public_methods_say_what_they_do() -> None:
    missing = [
        f"{cls.__name__}.{name}"
        for cls in (labridge.Client, labridge.AsyncClient)
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and not (member.fget if isinstance(member, property) else member).__doc__
    ]
    assert missing == []
