"""Grading one submission, as a few named phases that always end in valid results.

    load the submission -> run every check's cases in the student process -> conclude
    (the steps after judging, conclude.STEPS: gates, points, hints, "fix X first") ->
    results (written by the caller: JSON, report)

Whatever the submission does, grade() returns a GradingResult with every test: a
failure of the grader itself while grading becomes per-test errors ("internal error,
not a verdict on your code"); only a grader that cannot run at all (its reference or
its secret missing) is flagged `grader_error`, which the command turns into a non-zero
exit status (after writing the results anyway).
"""
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.judging import integrity, serve
from autograder.sandbox import isolation, machine
from autograder.intake import submission as submissions
from autograder.judging.checks import graded, identity_of
from autograder.judging.conclude import Context, conclude, scale_points
from autograder.sandbox.child import functions
from autograder.config import Config
from autograder.judging.engine import (INTERNAL_ERROR, call_time_limit, expected_output, run_case,
                               case_share)
from autograder.judging.reference import load_reference
from autograder.judging.results import GradingResult, TestResult
from autograder.sandbox.process import StudentProcess
from autograder.secret import grading_seed, load_secret


class GraderBroken(Exception):
    """The grader's own installation cannot grade anything (not the submission's fault)."""


def grade(source: Path, config: Config) -> GradingResult:
    start = time.monotonic()
    config = machine.scaled(config)  # a busy machine: longer wall-clock limits
    tests: list[TestResult] = []
    notes: list[str] = []
    broken, unreadable = "", ""
    try:
        with tempfile.TemporaryDirectory(prefix="rnn-grade-", ignore_cleanup_errors=True) as tmp:
            try:
                taken = submissions.intake(Path(source), Path(tmp))
            except submissions.SubmissionError as exc:
                return _nothing_graded(str(exc), start, config)
            notes, unreadable = taken.notes, (taken.unreadable or ("",))[0]
            _run_checks(tests, taken.folder, taken.fingerprint, config, start)
    except GraderBroken as exc:
        broken = str(exc)
        notes = notes + [f"The grader is not installed correctly ({broken}): {INTERNAL_ERROR}"]
    except Exception:  # noqa: BLE001  the grader's bug: the tests not graded say so
        traceback.print_exc(file=sys.stderr)
        notes = notes + ["Some tests " + INTERNAL_ERROR.splitlines()[0] + "."]
    tests = conclude(_every_test(tests, config), Context.of(config))
    result = GradingResult(tests, time.monotonic() - start, grader_error=broken,
                           visibility=config.visibility, load_scale=config.load_scale,
                           unreadable=unreadable)
    result.output = _summary(result, notes)
    return result


@dataclass
class _Run:
    """What the cases of one grading share."""
    student: StudentProcess
    reference: object
    config: Config
    deadline: float  # time.monotonic() when the time budget runs out
    redact: object
    # function -> the function whose time-out stops it (itself, or one it calls)
    timed_out: dict[str, str] = field(default_factory=dict)
    explain: bool = True  # also what only feedback needs (see engine.run_case)
    absent: frozenset = frozenset()  # modules not in the submission (an extension's)


def _run_checks(tests: list[TestResult], folder: Path, fingerprint: str, config: Config,
                start: float) -> None:
    """Every case in one student process (a fresh one after any failure), appended to
    `tests` as it is graded. The reference and the
    secret are read before the student process starts; every process of the
    submission is dead when this returns, before anything is written."""
    reference_folder = config.solutions_dir / config.assignment
    try:
        reference = load_reference(reference_folder)
        secret = load_secret()
    except Exception as exc:  # noqa: BLE001
        raise GraderBroken(f"{type(exc).__name__}: {exc}") from None
    seed = grading_seed(secret, fingerprint)
    isolation.prepare_folder(folder, config)
    student = StudentProcess(folder, settings=isolation.settings(config))
    run = _Run(student, reference, config, start + config.time_budget,
               integrity.Redactor(reference_folder, secret))
    try:
        _grade_cases(run, seed, tests)
    finally:
        student.close()
    # the isolation the grader chose (probed before use), not what the student process
    # reports: code that ran in it could say anything
    isolation.warn_if_readable(config, student.settings.get("mode", ""))


def sweep(source: Path, fingerprints: list[str], targets: set[str], config: Config,
          explain: bool = False, large: bool = True) -> list[list[TestResult]]:
    """The cases of the checks of `targets`, graded once per fingerprint (each seeds its
    hidden cases as a submission with that content would), in one student process:
    how a catalog shows that a bug is caught, or a correct style passes, whatever the
    cases drawn. One list of tests per fingerprint, concluded as in grade(); explain:
    also what only feedback needs (see engine.run_case); large=False leaves out the
    cases sized against numeric differentiation (the same conditions, only bigger)."""
    reference_folder = config.solutions_dir / config.assignment
    reference, secret = load_reference(reference_folder), load_secret()
    redact = integrity.Redactor(reference_folder, secret)
    runs = []
    with tempfile.TemporaryDirectory(prefix="rnn-sweep-", ignore_cleanup_errors=True) as tmp:
        folder, _, _ = submissions.prepare(Path(source), Path(tmp))
        isolation.prepare_folder(folder, config)
        student = StudentProcess(folder, settings=isolation.settings(config))
        try:
            for fingerprint in fingerprints:
                run = _Run(student, reference, config, time.monotonic() + config.time_budget,
                           redact, explain=explain)
                tests: list[TestResult] = []
                _grade_cases(run, grading_seed(secret, fingerprint), tests,
                             lambda check, case: check.target in targets
                             and (large or not case.large))
                conclude(tests, Context.of(config, scale_points=False))
                runs.append(tests)
        finally:
            student.close()
    return runs


def _grade_cases(run: _Run, seed: int, tests: list[TestResult],
                 chosen=lambda check, case: True) -> None:
    """Every chosen case of the table, in its order, appended to `tests` as it is
    graded; case j of check i draws its inputs from the seed [seed, i, j]. The student
    process boots, and imports the module of the first case, while the reference
    answers every case (two processes at work)."""
    todo = [(check, case, np.random.default_rng([seed, i, j]))
            for i, check in enumerate(graded(run.config)) for j, case in enumerate(check.cases)
            if chosen(check, case)]
    run.absent = frozenset(m for m in functions.ALL_MODULES
                           if not (run.student.submission_dir / f"{m}.py").is_file())
    run.student.boot(functions.FUNCTIONS[todo[0][0].target].module if todo else "")
    answers = [_prepare(run, check, case, rng) for check, case, rng in todo]
    for (check, case, _), answer in zip(todo, answers):
        tests.append(_grade_case(run, check, case, answer))


@dataclass
class _Answer:
    """One case's hidden inputs and the reference's reply, made before the student's call;
    seconds: the reference's own time on it (it sets the student's time limit)."""
    payload: dict | None = None
    expected: object = None
    seconds: float = 0.0


def _prepare(run: _Run, check, case, rng) -> _Answer:
    """The case's inputs and the reference's reply; an empty _Answer when the grader's
    own case or reference fails."""
    try:
        payload = case.make(rng)
        began = time.perf_counter()
        expected = expected_output(check, payload, run.reference, case)
        return _Answer(payload, expected, time.perf_counter() - began)
    except Exception:  # noqa: BLE001  the grader's own case or reference failed
        traceback.print_exc(file=sys.stderr)
        return _Answer()


def _grade_case(run: _Run, check, case, answer: _Answer) -> TestResult:
    """One case: not run when the budget is spent or a function it needs timed out
    before; otherwise graded against the reference's answer, whose time sets the
    student's limit."""
    if time.monotonic() >= run.deadline:
        return _not_run(check, case, "the grading time budget ran out", "timeout")
    late = [run.timed_out[f] for f in (check.target, *check.calls) if f in run.timed_out
            and not serve.answered_for(check.target, f)]  # answered: not the student's
    if late:
        run.timed_out.setdefault(check.target, late[0])  # so that its callers stop too
        return _not_run(check, case, f"{late[0]} timed out earlier (one time limit per "
                                     "function, not one per test)", "timeout")
    if answer.payload is None:
        return _internal_error(check, case)
    module = functions.FUNCTIONS[check.target].module
    if module in run.absent:  # an extension's (intake refuses a submission without the rest)
        missing = _not_run(check, case, MISSING_EXTENSION[0].format(module=module))
        missing.output += "\n      " + MISSING_EXTENSION[1].format(module=module)
        return missing
    result = run_case(check, case, answer.payload, answer.expected, run.student,
                      run.reference, deadline=run.deadline, redact=run.redact,
                      time_limit=call_time_limit(check, answer.seconds, run.config),
                      partial_credit=run.config.partial_credit, explain=run.explain)
    if result.status == "timeout":
        run.timed_out[check.target] = check.target
    return result


# an optional extension's file, absent while the course grades it (required files are
# checked at intake: the submission is refused before any test)
MISSING_EXTENSION = ("{module}.py is not in the submission, and this course grades it (an "
                     "optional extension its instructor turned on): hand it in with the rest",
                     "提交中缺少 {module}.py；本课程评分包含这一扩展，请一并提交。")


def _summary(result: GradingResult, notes: list[str]) -> str:
    passed = sum(t.status == "passed" for t in result.tests)
    lines = [f"Score {result.score:g} / {result.max_score:g}: {passed} of {len(result.tests)} "
             "tests passed. Inputs are hidden and random; each failed test says what to fix."]
    return "\n".join(lines + notes)


def _not_run(check, case, reason: str, status: str = "error") -> TestResult:
    return TestResult(identity_of(check, case), 0.0,
                      case_share(check, case), f"Not run: {reason}.", status,
                      cause="timeout" if status == "timeout" else "not_run")


def _internal_error(check, case) -> TestResult:
    return TestResult(identity_of(check, case), 0.0,
                      case_share(check, case), INTERNAL_ERROR, "error", cause="internal")


def _every_test(tests: list[TestResult], config: Config) -> list[TestResult]:
    """tests, completed with an internal error for every (check, case) that has no
    result yet, so that the results always list every test, in the table's order."""
    done = {t.identity: t for t in tests}
    return [done.get(identity_of(check, case))
            or _internal_error(check, case) for check in graded(config) for case in check.cases]


def _nothing_graded(reason: str, start: float, config: Config) -> GradingResult:
    tests = [_not_run(check, case, reason) for check in graded(config)
             for case in check.cases]
    conclude(tests, Context.of(config), steps=(scale_points,))  # nothing else to say
    return GradingResult(tests, time.monotonic() - start,
                         f"The submission could not be graded: {reason}",
                         visibility=config.visibility, unreadable=reason)
