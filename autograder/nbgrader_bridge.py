"""The notebook's hidden test cells grade through the same engine as the command line.

A hidden region of a check cell in source_notebooks/ holds

    import os, runpy
    grade_function = runpy.run_path(os.environ["RNN_GRADER_BRIDGE"])["grade_function"]
    grade_function("rnn_forward", points=2)

where RNN_GRADER_BRIDGE is the path of nbgrader_entry.py (nbgrader_config.py sets it). When
`nbgrader autograde` runs the cell, the submission's folder is graded once per kernel
by autograder.grade.grade (sandboxed, same secret, same cases as `python -m autograder
grade`), the feedback of that function's failed tests is printed, and the cell's value
is the partial credit nbgrader records: points times the fraction of that function's
grader points earned.
"""
from pathlib import Path

from autograder.config import DEFAULT
from autograder.grade import grade
from autograder.results import GradingResult

_GRADED: dict[Path, GradingResult] = {}


def graded(folder: Path) -> GradingResult:
    """The grader's result for `folder`, computed once per kernel."""
    folder = Path(folder).resolve()
    if folder == (DEFAULT.source_dir / DEFAULT.assignment).resolve():
        # The source notebook, run in place (Jupyter, `nbgrader validate`), uses the
        # reference in solutions/: grade that (the source folder holds no student code).
        folder = (DEFAULT.solutions_dir / DEFAULT.assignment).resolve()
    if folder not in _GRADED:
        _GRADED[folder] = grade(folder, DEFAULT)
    return _GRADED[folder]


def grade_function(target: str, points: float, folder: str = ".") -> float:
    """Print the grader's feedback for `target`; return the partial credit."""
    tests = [t for t in graded(Path(folder)).tests if t.target == target]
    if not tests:
        raise ValueError(f"the grader has no tests of {target!r}")
    possible = sum(t.max_score for t in tests)
    earned = sum(t.score for t in tests)
    print(f"{target}: {earned:.2f} / {possible:.2f} grader points on the hidden cases")
    for test in tests:
        if test.status != "passed":
            print(f"\n{test.name}\n{test.output}")
    return round(points * earned / possible, 4) if possible else float(points)
