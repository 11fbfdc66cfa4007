import os
import sys

# One BLAS thread in the grader, as in the student process (sandbox.py): the reference's
# timings set the student's time limits, and on a loaded machine (or with several
# gradings in parallel) threaded BLAS is many times slower, not faster. Set before
# NumPy is first imported; an instructor's own setting wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from autograder.cli import main  # noqa: E402  (after the BLAS setting)

sys.exit(main())
