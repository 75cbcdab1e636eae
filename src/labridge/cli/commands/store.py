"""``labridge store backup``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .. import console
from ..options import ConfigOpt, DbOpt, JsonOpt, settings_from
from ..shell import handles_errors


@handles_errors
def store_backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (mode 0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy a SQLite store to PATH, safely while `labridge run` is writing to it (SQLite's
    online backup). Restore: stop labridge, copy the file back in place of the store. A
    PostgreSQL store: exit code 2 and the pg_dump command to run instead."""
    from ...store import backup

    settings = settings_from(config, db=db)
    done = backup.backup(settings.store.database_url, path, force=force)
    if as_json:
        console.print_json(done.as_dict())
        return
    console.err.print(
        f"Backed up the store {escape(str(done.source))} to [bold]{escape(str(done.path))}"
        f"[/bold] ({done.size / 1_048_576:.1f} MiB, schema revision {done.revision})."
    )
