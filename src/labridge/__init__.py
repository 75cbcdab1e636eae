"""labridge: connect a training provider's MIS to the Learning Assistant e-portfolio."""

from __future__ import annotations

__version__ = "0.1.0"
