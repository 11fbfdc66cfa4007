"""nbgrader's course configuration: this repository is the course directory.

    source/     -> source_notebooks/   (solutions + hidden tests)
    release/    -> assignment/         (what `make release` produces)
    submitted/, autograded/, feedback/ (nbgrader's defaults; git-ignored)

`nbgrader autograde rnn` runs the hidden test cells, which grade through the same
engine as `python -m autograder grade` (see autograder/nbgrader_bridge.py).
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "rnn"
c.CourseDirectory.source_directory = "source_notebooks"
c.CourseDirectory.release_directory = "assignment"
c.Execute.timeout = 300  # seconds per cell; the CIFAR cells train for a few seconds

# The hidden test cells find the instructor's grader here (never a student's kit).
os.environ.setdefault("RNN_GRADER_BRIDGE",
                      str(Path(__file__).resolve().parent / "autograder" / "nbgrader_entry.py"))
