"""The use cases, one module each: sync (this issue), then enrol, update and progress."""

from __future__ import annotations
