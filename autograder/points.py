"""The instructor's points per graded function (the settings file's [points] table),
applied after judging: every test of a function is scaled by the same factor, so the
checks' split of its points, partial credit and every verdict stay as they are.

    points.scale(tests, points.factors(config))   # no [points] table: unchanged

(the step conclude.scale_points, after judging)
"""
from autograder.checks import CHECKS


def default_points() -> dict[str, float]:
    """Each graded function's points in checks.py (the functions with some)."""
    totals: dict[str, float] = {}
    for check in CHECKS:
        if check.points:
            totals[check.target] = totals.get(check.target, 0) + check.points
    return totals


def factors(config) -> dict[str, float]:
    """function -> the factor its points are scaled by (the settings' [points] table)."""
    return {target: new / default_points()[target] for target, new in config.points}


def scale(tests: list, factors: dict[str, float]) -> list:
    """tests (results.TestResult), each of a function in factors rescaled in place."""
    for test in tests:
        factor = factors.get(test.function)
        if factor is not None:
            test.score = round(test.score * factor, 4)
            test.max_score = round(test.max_score * factor, 4)
    return tests
