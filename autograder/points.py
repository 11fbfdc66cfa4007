"""The instructor's points per graded function (the settings file's [points] table) and
the optional extensions' share of the total ([lstm] points), applied after judging:
every test of a function is rescaled by the same factor (its check's new points split
over its cases as checks.case_points splits them: 4 decimals that add up exactly), so
the checks' split of its points, partial credit and every verdict stay as they are.

    tests = points.apply(tests, config)   # no [points], no extension on: tests unchanged

With an extension on, it takes its points out of the total (100 by default): the other
functions share the rest in their proportions, the extension's functions split its
points as their checks do (checks.EXTENSION_CHECKS).
"""
import dataclasses

from autograder.checks import CHECKS, EXTENSION_CHECKS, case_points, full_name, graded


def default_points() -> dict[str, float]:
    """Each graded function's points in checks.py (the functions with some)."""
    return _totals(CHECKS)


def _totals(checks) -> dict[str, float]:
    totals: dict[str, float] = {}
    for check in checks:
        if check.points:
            totals[check.target] = totals.get(check.target, 0) + check.points
    return totals


def factors(config) -> dict[str, float]:
    """Graded function -> the factor its points are multiplied by (absent: 1)."""
    defaults = default_points()
    result = {target: new / defaults[target] for target, new in config.points}
    on = [name for name in EXTENSION_CHECKS if getattr(config, name, False)]
    if not on:
        return result
    total = sum({**defaults, **dict(config.points)}.values())
    taken = min(sum(getattr(config, f"{name}_points") for name in on), total)
    for target in defaults:
        result[target] = result.get(target, 1.0) * (total - taken) / total
    for name in on:
        own = _totals(EXTENSION_CHECKS[name])
        result.update({t: getattr(config, f"{name}_points") / sum(own.values()) for t in own})
    return result


def apply(tests: list, config) -> list:
    """tests (results.TestResult), each of a function with new points rescaled in place."""
    scale = factors(config)
    shares = {}
    for check in graded(config):
        if check.target in scale and check.points:
            rescaled = dataclasses.replace(check, points=round(check.points * scale[check.target], 4))
            shares.update({full_name(check, case): share
                           for case, share in zip(check.cases, case_points(rescaled))})
    for test in tests:
        share = shares.get(test.name)
        if share is not None and test.max_score:
            test.score = round(test.score * share / test.max_score, 4)
            test.max_score = share
    return tests
