"""The instructor's points per graded function (the settings file's [points] table) and
the optional extensions' share of the total ([lstm] points), applied after judging:
every test of a function is rescaled by the same factor (a case of a check gets its share
of the check's new points as checks.case_points splits them: 4 decimals that add up
exactly), so the checks' split of its points, partial credit and every verdict stay.

    points.scale(tests, points.factors(config), graded(config))  # the step
                                                # conclude.scale_points, after judging

With an extension on, it takes its points out of the total (100 by default): the other
functions share the rest in their proportions, the extension's functions split its
points as their checks do (checks.EXTENSION_CHECKS).
"""
import dataclasses

from autograder.judging.checks import (CHECKS, EXTENSION_CHECKS, case_points, extension_on,
                                       identity_of)


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
    on = [name for name in EXTENSION_CHECKS if extension_on(config, name)]
    if not on:
        return result
    own_points = {**default_extension_points(), **dict(config.extension_points)}
    total = sum({**defaults, **dict(config.points)}.values())
    taken = min(sum(own_points[name] for name in on), total)
    for target in defaults:
        result[target] = result.get(target, 1.0) * (total - taken) / total
    for name in on:
        own = _totals(EXTENSION_CHECKS[name])
        result.update({t: own_points[name] / sum(own.values()) for t in own})
    return result


def default_extension_points() -> dict[str, float]:
    """Each optional extension's points when on and the settings give none: its checks'."""
    return {name: sum(_totals(checks).values()) for name, checks in EXTENSION_CHECKS.items()}


def _shares(factors: dict[str, float], checks) -> dict:
    """identity -> the case's share of its check's points times its function's factor."""
    shares = {}
    for check in checks:
        if check.target in factors and check.points:
            rescaled = dataclasses.replace(
                check, points=round(check.points * factors[check.target], 4))
            shares.update({identity_of(check, case): share
                           for case, share in zip(check.cases, case_points(rescaled))})
    return shares


def scale(tests: list, factors: dict[str, float], checks=CHECKS) -> list:
    """tests (results.TestResult), each of a function in factors rescaled in place: to
    its case's share when its check is in `checks`, else times the factor."""
    shares = _shares(factors, checks)
    for test in tests:
        factor = factors.get(test.function)
        if factor is None:
            continue
        new_max = shares.get(test.identity, round(test.max_score * factor, 4))
        test.score = round(test.score * new_max / test.max_score, 4) if test.max_score else 0.0
        test.max_score = new_max
    return tests
