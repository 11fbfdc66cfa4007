"""Grading one submission, as a few named phases that always end in valid results.

    load the submission -> start the student process -> run every check's cases in
    it (run_cases.py) -> conclude (the steps after judging, conclude.STEPS: gates,
    points, hints, "fix X first") -> results (written by the caller: JSON, report)

Two processes work at once: while the student process boots, the grader imports its
judging modules and the reference answers the cases to come (StudentProcess.
while_waiting); while it computes a case, the grader judges the one before
(StudentProcess.send_ahead).

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
from pathlib import Path

from autograder.config import Config
from autograder.intake import submission as submissions
from autograder.judging.reference import load_reference
from autograder.judging.results import INTERNAL_ERROR, GradingResult, TestResult
from autograder.sandbox import isolation, machine
from autograder.sandbox.child import functions
from autograder.sandbox.process import StudentProcess
from autograder.secret import grading_seed, load_secret

# The judging modules (judging/run_cases.py and what it imports) are imported inside
# grade(), once the student process is started: it boots while they import.


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
    from autograder.judging.conclude import Context, conclude
    from autograder.judging.run_cases import every_test

    tests = conclude(every_test(tests, config), Context.of(config))
    result = GradingResult(tests, time.monotonic() - start, grader_error=broken,
                           visibility=config.visibility, load_scale=config.load_scale,
                           unreadable=unreadable)
    result.output = _summary(result, notes)
    return result


def _run_checks(tests: list[TestResult], folder: Path, fingerprint: str, config: Config,
                start: float) -> None:
    """Every case in one student process (a fresh one after any failure), appended to
    `tests` as it is graded. The reference and the secret are read before the student
    process starts (no code of the submission has run yet, whatever the isolation);
    the process boots while the judging modules import; every process of the
    submission is dead when this returns, before anything is written."""
    reference_folder = config.solutions_dir / config.assignment
    try:
        reference = load_reference(reference_folder)
        secret = load_secret()
    except Exception as exc:  # noqa: BLE001
        raise GraderBroken(f"{type(exc).__name__}: {exc}") from None
    isolation.prepare_folder(folder, config)
    student = StudentProcess(folder, settings=isolation.settings(config))
    try:
        student.boot(functions.DESCRIPTIONS[0].module)  # the first graded function's
        from autograder.judging import integrity, run_cases

        run = run_cases.Run(student, reference, config, start + config.time_budget,
                            integrity.Redactor(reference_folder, secret))
        run_cases.grade_cases(run, grading_seed(secret, fingerprint), tests)
    finally:
        student.close()
    # the isolation the grader chose (probed before use), not what the student process
    # reports: code that ran in it could say anything
    isolation.warn_if_readable(config, student.settings.get("mode", ""))


def _summary(result: GradingResult, notes: list[str]) -> str:
    passed = sum(t.status == "passed" for t in result.tests)
    lines = [f"Score {result.score:g} / {result.max_score:g}: {passed} of {len(result.tests)} "
             "tests passed. Inputs are hidden and random; each failed test says what to fix."]
    return "\n".join(lines + notes)


def _nothing_graded(reason: str, start: float, config: Config) -> GradingResult:
    from autograder.judging.run_cases import not_graded

    return GradingResult(not_graded(reason, config), time.monotonic() - start,
                         f"The submission could not be graded: {reason}",
                         visibility=config.visibility, unreadable=reason)
