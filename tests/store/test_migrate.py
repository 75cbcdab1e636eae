"""Opening a store at the newest revision reads its version row and nothing more (Alembic is
not even imported: most of ``labridge status``'s start-up, issue 11 point 6); a store behind is
still migrated, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from labridge.errors import ConfigurationError
from labridge.store import current_revision, open_store
from labridge.store.engine import head_in_files

from .conftest import head_revision


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert head_in_files() == head_revision()


def test_a_store_behind_the_newest_revision_is_migrated(database_url: str) -> None:
    open_store(database_url).close()
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE repeated_rows"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0005'"))
    open_store(database_url).close()
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert sa.inspect(conn).has_table("repeated_rows")
    engine.dispose()


def test_opening_a_store_at_the_newest_revision_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    probe = (
        "import sys\nfrom labridge.store import open_store\n"
        f"open_store({url!r}).close()\nprint('alembic' in sys.modules)"
    )

    def alembic_imported() -> bool:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
        )
        return done.stdout.strip().splitlines()[-1] == "True"

    assert alembic_imported()  # a new store: migrated, by Alembic
    assert not alembic_imported()  # at head: only its version row read


def test_a_store_a_newer_labridge_migrated_is_refused_with_what_to_do(database_url: str) -> None:
    open_store(database_url).close()
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match="schema this labridge does not know") as caught:
        open_store(database_url)
    assert "newer labridge" in (caught.value.hint or "")
