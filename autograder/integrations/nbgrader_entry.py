"""Run by path from the notebook's hidden test cells: the instructor's grade_function.

The submitted folder holds the students' kit (rnnkit/, and autograder/__main__.py, a
namespace-package shim for `python -m autograder check`); the instructor's package, a
regular package, wins over a namespace package wherever it is on the path, so this file
(run with runpy.run_path) only makes it importable, then exports
autograder.integrations.nbgrader_bridge.grade_function (whose cache lives in that module,
so the submission is graded once per kernel).
"""
import sys
from pathlib import Path

_HOME = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_HOME]:
    sys.path.insert(0, _HOME)

from autograder.integrations.nbgrader_bridge import grade_function  # noqa: E402,F401
