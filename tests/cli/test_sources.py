"""The sources a data officer really has, through the CLI: a Windows-encoded export, a header
from another system, a SQL query's time limit from labridge.toml."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labridge.cli import app

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _windows_export(tmp_path: Path) -> Path:
    text = SAMPLE.read_text(encoding="utf-8")
    assert "Zoë" not in text
    path = tmp_path / "mis-export.csv"
    # One learner's forename with a letter Windows-1252 writes as one byte (0xEB).
    lines = text.splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[1] = "Zoë"
    lines[1] = ",".join(cells)
    path.write_bytes("".join(lines).encode("cp1252"))
    return path


def test_a_windows_export_is_explained_then_read_with_encoding(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    path = _windows_export(tmp_path)
    runner = CliRunner()
    refused = runner.invoke(
        app, ["enrol", str(path), "--dry-run", "--create", "--json"], env=shared_env
    )
    assert refused.exit_code == 2
    assert "mis-export.csv line 2 is not UTF-8" in refused.stderr
    assert "--encoding cp1252" in " ".join(refused.stderr.split())
    args = ["enrol", str(path), "--dry-run", "--create", "--json", "--encoding", "cp1252"]
    read = runner.invoke(app, args, env=shared_env)
    assert read.exit_code == 1, read.stderr  # the sample's invalid rows
    assert json.loads(read.stdout)["would_enrol"] == 42
    # The same from labridge.toml's [source] encoding.
    (tmp_path / "labridge.toml").write_text('[source]\nencoding = "cp1252"\n', encoding="utf-8")
    again = runner.invoke(
        app, ["enrol", str(path), "--dry-run", "--create", "--json"], env=shared_env
    )
    assert json.loads(again.stdout)["would_enrol"] == 42


def test_a_wrong_header_is_one_error_not_one_per_row(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("learner_id", "Learner Ref", 1)
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["enrol", str(path), "--dry-run", "--create"], env=shared_env)
    assert result.exit_code == 2
    err = " ".join(result.stderr.split())
    assert err.count("no column for learner_id") == 1
    assert '"Learner Ref" = "learner_id"' in err
    assert "is missing" not in err  # no per-row REQUIRED problems
