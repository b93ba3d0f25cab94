"""pytest setup for verify/: the quick configuration (torch threads are set once, in the root conftest.py).

Measurements are cached in the claim modules (functools.lru_cache), so a test and its negative
control share one Monte Carlo run within the session.
"""
import pytest

from verify.verdict import Recorded

#: the default run checks the quick configuration; ``-m slow`` tests run the full one
QUICK = True


def expected_failure(recorded: Recorded | None) -> list:
    """The marks of a case: none (no record, or a recorded holding row), or a strict xfail that accepts
    only the exception of its recorded verdict (``Violated`` or ``Inconclusive``); pair it with
    ``verdict.expect`` in the test body, which reproduces the record either way."""
    if recorded is None or recorded.holds is True:
        return []
    return [pytest.mark.xfail(strict=True, raises=recorded.raises, reason=recorded.reason())]
