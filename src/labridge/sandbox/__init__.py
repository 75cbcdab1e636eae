"""The offline sandbox of LA's SOAP services: its own database, seed data and server-side rules."""

from __future__ import annotations
