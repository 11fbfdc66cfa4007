"""The notebook's graded cells grade through the same engine as the command line.

Each graded function has one graded cell of its own in source_notebooks/, after the
student's visible checks (so a failing visible check cannot stop it), holding

    import os, runpy
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":  # set by `nbgrader autograde`
        grade_function = runpy.run_path(os.environ["RNN_GRADER_BRIDGE"])["grade_function"]
    else:
        def grade_function(target, points): print(...)
    grade_function("rnn_forward", points=2)

The grading call is visible, not a hidden-test region: nbgrader checksums a cell before
it strips hidden tests, so every released cell with hidden tests is reported as changed
when it is autograded (jupyter/nbgrader#1961). RNN_GRADER_BRIDGE is the path of
nbgrader_entry.py (nbgrader_config.py sets it). When `nbgrader autograde` runs the cell,
the submission's folder is graded once per kernel by autograder.judging.grade.grade (sandboxed,
same secret, same cases as `python -m autograder grade`), the feedback of that
function's failed tests (hints included) is printed, and the cell's value is the partial
credit nbgrader records: points times the fraction of that function's grader points
earned.
"""
import contextlib
import sys
from pathlib import Path

from autograder.config import DEFAULT
from autograder.judging.grade import grade
from autograder.judging.results import GradingResult

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


def credit(result: GradingResult, target: str, points: float) -> float:
    """`points` times the share of `target`'s grader points that `result` earned."""
    tests = [t for t in result.tests if t.function == target]
    if not tests:
        raise ValueError(f"grade_function: the grader has no tests of target {target!r}")
    possible = sum(t.max_score for t in tests)
    earned = sum(t.score for t in tests)
    return round(points * earned / possible, 4) if possible else float(points)


def grade_function(target: str, points: float, folder: str = ".") -> float:
    """Print the grader's feedback for `target`; return the cell's partial credit."""
    # nbgrader gives 0 to a graded cell that wrote anything to stderr: the grader's own
    # warnings must not decide a grade, so they go to stdout with the feedback.
    with contextlib.redirect_stderr(sys.stdout):
        result = graded(Path(folder))
        tests = [t for t in result.tests if t.function == target]
        value = credit(result, target, points)
        earned, possible = sum(t.score for t in tests), sum(t.max_score for t in tests)
        print(f"{target}: {earned:.2f} / {possible:.2f} grader points on the hidden cases, "
              f"{value:g} / {points:g} for this cell")
        for test in tests:
            if test.status != "passed":
                print(f"\n{test.name}\n{test.output}")
    return value
