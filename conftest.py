"""Test-session settings shared by tests/ and verify/."""
import torch

# The toys are small float64 problems: intra-op threads cost far more than they save
# (20-500x slower elementwise ops with 2 threads on the 2-core CI machine).
torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--record", action="store_true",
                     help="write verify/recorded/*.json from this run instead of replaying it (python -m verify.record)")
