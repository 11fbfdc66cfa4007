"""Shared test set-up: paths, and the reference modules importable by their flat names."""
import os
import sys

from pathlib import Path

import pytest

# The grader runs with one BLAS thread (autograder/__main__.py); so do the gradings the
# tests run in this process (set before NumPy is first imported: pytest does not).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "rnn"
RELEASE = ROOT / "assignment" / "rnn"
CIFAR_SUBSET = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"

# The reference modules are flat (no package), as students receive them.
sys.path.insert(0, str(SOLUTIONS))


@pytest.fixture
def rng():
    return __import__("numpy").random.default_rng(1234)


def require_cifar_subset() -> Path:
    """The real CIFAR-10 subset, or a skip that says why it is missing."""
    if not (CIFAR_SUBSET / "data_batch_1").exists():
        pytest.skip(f"the real CIFAR-10 subset is not at {CIFAR_SUBSET} (optional resource)")
    return CIFAR_SUBSET
