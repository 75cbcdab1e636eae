"""Start-up (issue 11 point 6): ``import labridge.cli`` (what every ``labridge`` command, --help
included, imports first) loads none of the heavy libraries; the commands import them when they
run. bench/startup.py measures the time; this only checks what is imported."""

from __future__ import annotations

import json
import subprocess
import sys

from labridge import config
from labridge.cli import options

HEAVY = ("sqlalchemy", "alembic", "jinja2", "lxml", "httpx", "starlette", "apscheduler")


def _imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_import_labridge_cli_loads_none_of_the_heavy_libraries() -> None:
    modules = _imported_after("import labridge.cli")
    loaded = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert loaded == []
    assert "labridge.store" not in modules
    assert "labridge.config" not in modules


def test_the_probe_sees_a_heavy_import_when_there_is_one() -> None:
    modules = _imported_after("import labridge.cli\nimport labridge.store")
    assert "sqlalchemy" in {m.split(".")[0] for m in modules}


def test_the_settings_file_name_the_help_shows_is_the_one_config_reads() -> None:
    assert options.CONFIG_FILE == config.CONFIG_FILE
