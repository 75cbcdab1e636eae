"""The flags the commands share, and the settings they build from them (flags, then the
environment, then ``labridge.toml``, then defaults)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from . import console

#: The settings file looked for here: :data:`labridge.config.CONFIG_FILE`, spelled again so that
#: ``--help`` does not import the settings (tests/test_startup.py checks that the two agree).
CONFIG_FILE = "labridge.toml"

if TYPE_CHECKING:
    from ..config import Settings


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=f"Settings file (default: ./{CONFIG_FILE} if present)."),
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="LA base URL. Env: LABRIDGE_URL.", show_default=False)
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--username", help="LA web-service user. Env: LABRIDGE_USERNAME.", show_default=False
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a SQLAlchemy URL or a SQLite file path (relative to this directory). Env: "
        "LABRIDGE_DATABASE_URL. Default: [store] database_url, else labridge.db beside "
        "labridge.toml (or here when there is none).",
        show_default=False,
    ),
]
ContractOpt = Annotated[
    Path | None,
    typer.Option(
        "--contract",
        help="TOML of [contract...] overrides of LA's wire names (as `labridge doctor "
        "--write-overrides` writes), over labridge.toml's [contract].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True,
        help="Log more (-v info, -vv debug and the libraries' lines: HTTP requests, migrations).",
    ),
]  # fmt: skip
CreateOpt = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Make a new store if there is none at the store's path or URL (without it, a "
        "missing store is an error: a mistyped path must not start an empty one).",
    ),
]


SourceArg = Annotated[
    Path | None,
    typer.Argument(help="A CSV export or an ILR XML file. Omit it with --sql.", show_default=False),
]
SqlOpt = Annotated[
    str | None,
    typer.Option("--sql", help="A SELECT on the MIS database, columns named as in a CSV."),
]
SourceDbOpt = Annotated[
    str | None,
    typer.Option("--source-db", help="SQLAlchemy URL of the MIS database for --sql."),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="The CSV file's text encoding (default: [source] encoding, else utf-8); cp1252 for "
        "Windows exports.",
        show_default=False,
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML: renames, value maps, defaults, ILR mappings."),
]


def database_url(value: str) -> str:
    """A bare path means a SQLite file; anything with ``://`` is a SQLAlchemy URL."""
    return value if "://" in value else f"sqlite:///{value}"


def settings_from(
    config: Path | None,
    url: str | None = None,
    username: str | None = None,
    db: str | None = None,
    contract_file: Path | None = None,
) -> Settings:
    """Load the settings and make their effective contract the active one (once per command)."""
    flags = {
        "la": {"url": url, "username": username},
        "store": {"database_url": db and database_url(db)},
    }
    from .. import contract
    from ..config import load_settings
    from .local_store import where

    settings = load_settings(flags, os.environ, config, contract_file)
    logging.getLogger("labridge.config").info("%s", where(settings))
    for note in settings.la.notes:
        console.err.print(f"[cyan]note:[/cyan] {escape(note)}")
    contract.activate(settings.catalogue())
    return settings
