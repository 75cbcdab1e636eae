"""labridge: connect a training provider's MIS to the Learning Assistant e-portfolio.

The library's public names are all here (docs/library.md shows each workflow from Python):

- the clients: :class:`Client` (synchronous) and :class:`AsyncClient`;
- the store: :func:`open_store`; the sources: :func:`open_source` and :func:`load_mapping`;
- the workflows (coroutines taking an :class:`AsyncClient` and a store): :func:`sync`,
  :func:`enrol`, :func:`update`, :func:`pull_progress`, with their options and reports;
- the progress report: :func:`build_progress_report` and :func:`render_progress`;
- the settings of ``labridge.toml``: :func:`load_settings`;
- the errors, all subclasses of :class:`LabridgeError`.

Names are imported on first use, so ``import labridge`` costs almost nothing; subpackages
(``labridge.sandbox``, ``labridge.workflows``, ``labridge.store``...) are reachable the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import attributes

if TYPE_CHECKING:
    from ._version import __version__ as __version__
    from .client import AsyncClient, Client
    from .config import Settings, load_settings
    from .errors import (
        AuthenticationError,
        AuthenticationFault,
        ConfigurationError,
        LabridgeError,
        Problem,
        ProtocolError,
        RefusedError,
        SoapFault,
        TransportError,
    )
    from .reports.formats import ReportFormat
    from .reports.progress_report import ProgressReport, build_progress_report, render_progress
    from .sources.mapping import load_mapping
    from .sources.open import open_source
    from .sources.records import SkippedRecord, SourceRecord
    from .store.engine import Store, open_store
    from .workflows.enrol import EnrolReport, enrol
    from .workflows.enrol import Options as EnrolOptions
    from .workflows.enrol import RecordOutcome as EnrolOutcome
    from .workflows.pull import PullReport
    from .workflows.pull import pull as pull_progress
    from .workflows.sync import SyncReport, sync
    from .workflows.update import Options as UpdateOptions
    from .workflows.update import RecordOutcome as UpdateOutcome
    from .workflows.update import UpdateReport, update

_ERRORS = (
    "AuthenticationError",
    "AuthenticationFault",
    "ConfigurationError",
    "LabridgeError",
    "Problem",
    "ProtocolError",
    "RefusedError",
    "SoapFault",
    "TransportError",
)

#: Public name -> (module, attribute in it).
_EXPORTS: dict[str, tuple[str, str]] = {
    "__version__": ("._version", "__version__"),
    "AsyncClient": (".client", "AsyncClient"),
    "Client": (".client", "Client"),
    "Settings": (".config", "Settings"),
    "load_settings": (".config", "load_settings"),
    **{name: (".errors", name) for name in _ERRORS},
    "open_store": (".store.engine", "open_store"),
    "Store": (".store.engine", "Store"),
    "open_source": (".sources.open", "open_source"),
    "load_mapping": (".sources.mapping", "load_mapping"),
    "SourceRecord": (".sources.records", "SourceRecord"),
    "SkippedRecord": (".sources.records", "SkippedRecord"),
    "sync": (".workflows.sync", "sync"),
    "SyncReport": (".workflows.sync", "SyncReport"),
    "enrol": (".workflows.enrol", "enrol"),
    "EnrolOptions": (".workflows.enrol", "Options"),
    "EnrolReport": (".workflows.enrol", "EnrolReport"),
    "EnrolOutcome": (".workflows.enrol", "RecordOutcome"),
    "update": (".workflows.update", "update"),
    "UpdateOptions": (".workflows.update", "Options"),
    "UpdateReport": (".workflows.update", "UpdateReport"),
    "UpdateOutcome": (".workflows.update", "RecordOutcome"),
    "pull_progress": (".workflows.pull", "pull"),
    "PullReport": (".workflows.pull", "PullReport"),
    "build_progress_report": (".reports.progress_report", "build_progress_report"),
    "render_progress": (".reports.progress_report", "render_progress"),
    "ProgressReport": (".reports.progress_report", "ProgressReport"),
    "ReportFormat": (".reports.formats", "ReportFormat"),
}

_SUBPACKAGES = (
    "client",
    "config",
    "contract",
    "errors",
    "models",
    "reports",
    "sandbox",
    "soap",
    "sources",
    "store",
    "validate",
    "workflows",
)

__getattr__, __dir__ = attributes(__name__, _EXPORTS, _SUBPACKAGES)

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "AuthenticationFault",
    "Client",
    "ConfigurationError",
    "EnrolOptions",
    "EnrolOutcome",
    "EnrolReport",
    "LabridgeError",
    "Problem",
    "ProgressReport",
    "ProtocolError",
    "PullReport",
    "RefusedError",
    "ReportFormat",
    "Settings",
    "SkippedRecord",
    "SoapFault",
    "SourceRecord",
    "Store",
    "SyncReport",
    "TransportError",
    "UpdateOptions",
    "UpdateOutcome",
    "UpdateReport",
    "build_progress_report",
    "enrol",
    "load_mapping",
    "load_settings",
    "open_source",
    "open_store",
    "pull_progress",
    "render_progress",
    "sync",
    "update",
]
