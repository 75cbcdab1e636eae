"""`labridge sync` against a sandbox whose companies were emptied (issue 8): refused with the
message and exit code 2, nothing written; `--accept-empty companies` empties the set."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from labridge.cli import app
from labridge.sandbox.server import RunningSandbox


def _sync(env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["sync", "--json", *extra], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_sync_refuses_an_emptied_set_until_accepted(
    sandbox: RunningSandbox, env: dict[str, str]
) -> None:
    code, out, _ = _sync(env)
    assert code == 0
    held = json.loads(out)["companies"]["total"]
    with sandbox.app.state.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM companies"))
    code, out, err = _sync(env)
    assert code == 2
    text = " ".join(err.split())
    assert f"LA returned no companies, the store holds {held}" in text
    assert "labridge sync --accept-empty companies" in text
    assert "Traceback" not in err
    code, out, _ = _sync(env, "--accept-empty", "companies")
    assert code == 0, out
    assert json.loads(out)["companies"] == {"added": 0, "changed": 0, "removed": held, "total": 0}


def test_accept_empty_names_a_known_set(env: dict[str, str]) -> None:
    code, _, err = _sync(env, "--accept-empty", "learners")
    assert code == 2
    assert "the sets are frameworks, trainers, companies" in " ".join(err.split())
