"""After judging: the named steps that revise a grading's tests once every case is judged.

    conclude(tests, Context.of(config))        # grade.grade and run_cases.sweep

Each step has the one signature step(tests, context) -> None and revises the tests in
place (score, status, feedback, hints); STEPS is the list applied in order, like
nbgrader's preprocessors, and every step runs (and is tested) alone. A step reads the
tests' fields (identity, status, score, wrong, hints, blame), never a name or a sentence.
"""
from dataclasses import dataclass

from autograder.judging import hints, serve
from autograder import points
from autograder.judging.checks import CHECKS, calls_of, graded
from autograder.judging.results import TestResult

# A function right on small inputs and wrong on the large one answers by size: the
# large case is there so that numeric gradients cannot earn points (checks.py).
NO_CREDIT_AFTER_LARGE = (
    "No credit for this case: the large case of this check failed, and gradients must be "
    "right at every size (numeric gradients cannot finish there in time).\n"
    "      本用例不计分：本项检查的大规模用例未通过；梯度在任何规模下都必须正确。")


@dataclass(frozen=True)
class Context:
    """What the steps know besides the tests: the checks table's calls, what the grader
    answers, the instructor's points and languages."""
    calls: dict  # function -> the graded functions it calls (its checks' calls)
    answered: frozenset = frozenset()  # (function, callee): the grader answers the callee
    points: dict | None = None  # function -> the factor its points are scaled by
    languages: tuple[str, ...] = ("en", "zh")  # of the hints (settings: hint_languages)
    checks: tuple = CHECKS  # the checks graded (an extension on adds its own)

    @classmethod
    def of(cls, config, scale_points: bool = True) -> "Context":
        """From the checks table and the settings; scale_points=False keeps checks.py's
        points (a sweep compares verdicts, not the instructor's points)."""
        checks = graded(config)
        calls = calls_of(checks)
        answered = frozenset((f, c) for f, callees in calls.items() for c in callees
                             if serve.answered_for(f, c))
        return cls(calls, answered, points.factors(config) if scale_points else None,
                   tuple(config.hint_languages), checks)


def no_credit_after_large_case(tests: list[TestResult], context: Context) -> None:
    """The gate of checks.py: when a check's large case fails, its other cases earn
    nothing (right on small inputs only: numeric gradients, say)."""
    gated = {(t.function, t.check) for t in tests if t.identity.large and t.status != "passed"}
    for test in tests:
        if (not test.identity.large and test.score > 0
                and (test.function, test.check) in gated):
            test.score, test.status = 0.0, "failed"
            test.output += "\n" + NO_CREDIT_AFTER_LARGE


def scale_points(tests: list[TestResult], context: Context) -> None:
    """The instructor's points per function (settings [points]); none: unchanged."""
    points.scale(tests, context.points or {}, context.checks)


def pattern_hints(tests: list[TestResult], context: Context) -> None:
    """Hints that need several cases of one check (hints.PATTERNS)."""
    hints.pattern_hints(tests)


def hints_once_per_function(tests: list[TestResult], context: Context) -> None:
    """Each hint on the first test of its function that has it."""
    hints.once_per_function(tests)


def _failing(tests: list[TestResult]) -> set[str]:
    return {t.function for t in tests if t.status != "passed"}


def note_answered_callees(tests: list[TestResult], context: Context) -> None:
    """The end-to-end view, said once per function, on a test whose outputs were judged
    (after an import error it would tell nothing new): the grader answered callees of
    it that fail their own tests, and with the student's own it would be wrong."""
    failing, told = _failing(tests), set()
    for test in tests:
        answered = [f for f in context.calls.get(test.function, ()) if f in failing
                    and (test.function, f) in context.answered]
        if answered and test.function not in told and test.status in ("passed", "failed"):
            told.add(test.function)
            one = len(answered) == 1
            test.output += (f"\n{test.function} was graded with the grader's "
                            f"{' and '.join(answered)}; yours "
                            f"{'fails its' if one else 'fail their'} own "
                            f"tests, and with {'it' if one else 'them'} "
                            f"{test.function} would not give the right result.")


def fix_callees_first(tests: list[TestResult], context: Context) -> None:
    """"fix X first" on a failed test whose function calls one that fails its own tests
    (not one the grader answered: that is not the culprit); its own hints are withheld,
    and so is a blame on its backward (the evidence may come from the callee)."""
    failing = _failing(tests)
    for test in tests:
        culprits = [f for f in context.calls.get(test.function, ()) if f in failing
                    and (test.function, f) not in context.answered]
        if test.status == "passed" or not culprits:
            continue
        test.hints = []
        if test.blame == "backward":  # said against a forward that is itself wrong
            test.blame = ""
        one = len(culprits) == 1
        test.output += (f"\n{test.function} relies on {', '.join(culprits)}, which "
                        f"{'fails' if one else 'fail'} {'its' if one else 'their'} own "
                        f"tests: fix {culprits[0]} first.")


def show_hints(tests: list[TestResult], context: Context) -> None:
    """The hints of each failed test, once each, in the instructor's languages, last in
    its feedback."""
    for test in tests:
        if test.status == "passed":
            continue
        test.hints = [hints.in_languages(h, context.languages) for h in dict.fromkeys(test.hints)]
        if test.hints:
            test.output += "\n" + "\n".join(test.hints)


# in this order: the gate changes statuses that the hints and "fix X first" read; the
# hints are verified across cases before "fix X first" withholds some, then shown
STEPS = (no_credit_after_large_case, scale_points, pattern_hints, hints_once_per_function,
         note_answered_callees, fix_callees_first, show_hints)


def conclude(tests: list[TestResult], context: Context, steps=STEPS) -> list[TestResult]:
    """tests after every step, in order (revised in place; returned for convenience)."""
    for step in steps:
        step(tests, context)
    return tests
