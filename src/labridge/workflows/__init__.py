"""The use cases, one module each (:mod:`.sync`, :mod:`.enrol`, :mod:`.update`,
:mod:`.pull`), each a coroutine taking an :class:`~labridge.AsyncClient` and a store.

Their entry points and reports are exported from :mod:`labridge` itself (``labridge.sync``,
``labridge.enrol``, ``labridge.update``, ``labridge.pull_progress``): this package's attribute
names are its modules. docs/library.md shows each workflow run from Python.
"""

from __future__ import annotations
