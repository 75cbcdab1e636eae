"""Pure checks of source data before it is sent to LA: UK identifiers, dates and code lists.

Nothing here does I/O. Each ``check_*`` function returns the value in its normal form or raises
:class:`labridge.validate.uk.InvalidValueError` (a ``ValueError``) saying what is wrong and how
to fix it.
"""

from __future__ import annotations
