"""pytest setup for verify/: the quick configuration (torch threads are set once, in the root conftest.py).

Measurements are cached in the claim modules (functools.lru_cache), so a test and its negative
control share one Monte Carlo run within the session.
"""
#: the default run checks the quick configuration; ``-m slow`` tests run the full one
QUICK = True
