"""pytest setup for verify/: two torch threads (the budget is 2 cores) and the quick configuration.

Measurements are cached in the claim modules (functools.lru_cache), so a test and its negative
control share one Monte Carlo run within the session.
"""
import torch

torch.set_num_threads(2)

#: the default run checks the quick configuration; ``-m slow`` tests run the full one
QUICK = True
