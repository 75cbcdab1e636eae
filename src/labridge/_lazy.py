"""Lazy attributes for a package (PEP 562): its public names are imported on first use.

``import labridge`` must stay cheap (the CLI imports it for every command, ``--help`` included)
and still give ``labridge.Client``, ``labridge.enrol`` or ``labridge.sandbox.create_app`` without
a further import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def attributes(
    package: str,
    exports: Mapping[str, tuple[str, str]],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``exports`` is
    ``(module, attribute)`` relative to the package; each of ``submodules`` is imported when
    first reached as an attribute."""
    children = frozenset(submodules)

    def getattr_(name: str) -> Any:
        if name in exports:
            module, attribute = exports[name]
            return getattr(importlib.import_module(module, package), attribute)
        if name in children:
            return importlib.import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted({*exports, *children})

    return getattr_, dir_
