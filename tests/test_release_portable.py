"""The release has the same bytes on every CPU and BLAS (issue: another CPU's OpenBLAS
kernel changed low-order bits of the stored expected outputs).

The only computed file of the release is the self-check's public_cases.bin; it is rebuilt
here under other OpenBLAS kernels and with NumPy's wider SIMD paths turned off, in fresh
processes, and must equal the committed one byte for byte."""
import os
import subprocess
import sys

import numpy as np
import pytest

from autograder.config import DEFAULT
from autograder.judging.selfcheck import QUANTUM_BITS, round_to_scale

COMMITTED = DEFAULT.release_dir / DEFAULT.assignment / "rnnkit" / "judging" / "public_cases.bin"
BUILD = ("import sys; from pathlib import Path; "
         "from autograder.judging.reference import load_reference; "
         "from autograder.judging.selfcheck import write_public_cases; "
         "write_public_cases(load_reference(Path(sys.argv[1])), Path(sys.argv[2]))")
# Kernels OpenBLAS (DYNAMIC_ARCH) can be forced to on any x86_64 CPU, and NumPy features
# that can be disabled at run time (its exp/tanh/sum loops then take other code paths).
MACHINES = {
    "OpenBLAS Prescott kernel": {"OPENBLAS_CORETYPE": "Prescott"},
    "OpenBLAS Sandybridge kernel": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "OpenBLAS SkylakeX kernel, NumPy without AVX-512": {
        "OPENBLAS_CORETYPE": "SkylakeX",
        "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL "
                                    "AVX512_ICL AVX512_SPR"},
}


@pytest.mark.parametrize("machine", MACHINES)
def test_public_cases_are_the_same_bytes_under_another_blas_and_simd(machine, tmp_path):
    if os.uname().machine != "x86_64":
        pytest.skip("OPENBLAS_CORETYPE names x86_64 kernels")
    out = tmp_path / "public_cases.bin"
    env = {**os.environ, **MACHINES[machine], "PYTHONPATH": str(DEFAULT.root)}
    subprocess.run([sys.executable, "-c", BUILD,
                    str(DEFAULT.solutions_dir / DEFAULT.assignment), str(out)],
                   env=env, check=True, cwd=DEFAULT.root, timeout=300)
    assert out.read_bytes() == COMMITTED.read_bytes(), (
        f"public_cases.bin depends on the machine ({machine})")


def test_rounding_absorbs_last_bit_noise():
    """Noise of a few ulps (what another summation order gives) changes no rounded value."""
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1.0, 37.0):
        value = scale * rng.standard_normal((50, 40))
        noisy = value * (1 + 4e-16 * rng.standard_normal(value.shape))
        assert not np.array_equal(value, noisy)
        assert np.array_equal(round_to_scale(value), round_to_scale(noisy))


def test_rounding_stays_far_below_every_tolerance():
    value = np.random.default_rng(1).standard_normal((30, 30))
    error = np.max(np.abs(round_to_scale(value) - value)) / np.max(np.abs(value))
    assert 0 < error <= 2.0 ** -QUANTUM_BITS < 1e-7
    assert round_to_scale(np.float32(0) + np.ones(3, np.float32)).dtype == np.float32
