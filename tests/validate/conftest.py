"""Fixtures of the validation tests: the sandbox's seed as the reference data LA lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labridge.sandbox.db import SandboxDB
from labridge.validate.lookups import ReferenceData


@pytest.fixture(scope="module")
def seeded() -> Iterator[ReferenceData]:
    """What LA's Get* operations list for the sandbox's seed, read once per module."""
    db = SandboxDB()
    try:
        db.seed("u", "p")
        yield ReferenceData(
            frameworks=db.frameworks(),
            trainers=db.trainers(),
            companies=db.companies(),
            nationalities=db.nationalities(),
            ethnicities=db.ethnicities(),
        )
    finally:
        db.close()


@pytest.fixture
def ref(seeded: ReferenceData) -> ReferenceData:
    return seeded
