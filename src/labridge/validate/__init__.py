"""Pre-flight checks of learner records before anything is sent to LA.

- :mod:`.uk`: the UK data rules (ULN, NI number, postcode, e-mail, dates, gender, ILR codes),
  pure functions: each ``check_*`` returns the value in its normal form or raises
  :class:`~labridge.validate.uk.InvalidValueError` (a ``ValueError``) saying what is wrong and
  how to fix it;
- :mod:`.lookups`: :class:`~labridge.validate.lookups.ReferenceData`, LA's reference data
  (courses, units, companies, trainers, codes) loaded once from the store, which resolves a
  source's names and ids;
- :mod:`.learners`: a whole record read into an :class:`~labridge.models.EnrolmentUser` and
  checked (:func:`~labridge.validate.learners.check_all`).

Only :meth:`ReferenceData.load <labridge.validate.lookups.ReferenceData.load>` reads (the
store); the checks themselves do no I/O.
"""

from __future__ import annotations
