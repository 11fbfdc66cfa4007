"""Grading one submission, as a few named phases that always end in valid results.

    load the submission -> run every check's cases in the student process -> score
    (with "fix X first" notes) -> results (written by the caller: JSON, report)

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

from autograder import integrity, isolation, machine, points, serve
from autograder import submission as submissions
from autograder.checks import ALL_CHECKS, full_name, graded
from autograder.config import Config
from autograder.engine import (INTERNAL_ERROR, call_time_limit, expected_output, run_case,
                               case_share)
from autograder.reference import load_reference
from autograder.results import GradingResult, TestResult
from autograder.sandbox import StudentProcess
from autograder.secret import grading_seed, load_secret


class GraderBroken(Exception):
    """The grader's own installation cannot grade anything (not the submission's fault)."""


def grade(source: Path, config: Config) -> GradingResult:
    start = time.monotonic()
    config = machine.scaled(config)  # a busy machine: longer wall-clock limits
    tests: list[TestResult] = []
    notes: list[str] = []
    broken = ""
    try:
        with tempfile.TemporaryDirectory(prefix="rnn-grade-", ignore_cleanup_errors=True) as tmp:
            try:
                folder, fingerprint, notes = submissions.prepare(Path(source), Path(tmp))
            except submissions.SubmissionError as exc:
                return _nothing_graded(str(exc), start, config)
            _run_checks(tests, folder, fingerprint, config, start)
    except GraderBroken as exc:
        broken = str(exc)
        notes = notes + [f"The grader is not installed correctly ({broken}): {INTERNAL_ERROR}"]
    except Exception:  # noqa: BLE001  the grader's bug: the tests not graded say so
        traceback.print_exc(file=sys.stderr)
        notes = notes + ["Some tests " + INTERNAL_ERROR.splitlines()[0] + "."]
    tests = points.apply(_every_test(tests, config), config)
    _conclude(tests, config.hint_languages)
    result = GradingResult(tests, time.monotonic() - start, grader_error=broken,
                           visibility=config.visibility, load_scale=config.load_scale)
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
    # (target, what) of the checks whose large case failed: their other cases earn
    # nothing (checks.py puts the large case first)
    gated: set = field(default_factory=set)
    explain: bool = True  # also what only feedback needs (see engine.run_case)


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
                _conclude(tests, config.hint_languages)
                runs.append(tests)
        finally:
            student.close()
    return runs


def _grade_cases(run: _Run, seed: int, tests: list[TestResult],
                 chosen=lambda check, case: True) -> None:
    """Every chosen case of the table, in its order, appended to `tests` as it is
    graded; case j of check i draws its inputs from the seed [seed, i, j]. The student
    process boots while the reference answers every case (two processes at work)."""
    run.student.boot()
    todo = [(check, case, np.random.default_rng([seed, i, j]))
            for i, check in enumerate(graded(run.config)) for j, case in enumerate(check.cases)
            if chosen(check, case)]
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
    result = run_case(check, case, answer.payload, answer.expected, run.student,
                      run.reference, deadline=run.deadline, redact=run.redact,
                      time_limit=call_time_limit(check, answer.seconds, run.config),
                      partial_credit=run.config.partial_credit, explain=run.explain)
    if result.status == "timeout":
        run.timed_out[check.target] = check.target
    if case.large and result.status != "passed":
        run.gated.add((check.target, check.what))
    elif result.score > 0 and (check.target, check.what) in run.gated:
        result.score, result.status = 0.0, "failed"
        result.output += "\n" + NO_CREDIT_AFTER_LARGE
    return result


# A function right on small inputs and wrong on the large one answers by size: the
# large case is there so that numeric gradients cannot earn points (checks.py).
NO_CREDIT_AFTER_LARGE = (
    "No credit for this case: the large case of this check failed, and gradients must be "
    "right at every size (numeric gradients cannot finish there in time).\n"
    "      本用例不计分：本项检查的大规模用例未通过；梯度在任何规模下都必须正确。")


def _conclude(tests: list[TestResult], languages=("en", "zh")) -> None:
    """What needs every test: hints verified across a function's cases, then "fix X
    first" where a function it calls fails (its own hints are then withheld: the
    evidence may come from the function it calls), then the hints shown. (The overfit
    run is judged on its own as SGD: train_rules.judge_overfit.)"""
    from autograder import hints  # instructor-only (it uses the reference)
    hints.across(tests)
    failing = {t.target for t in tests if t.status != "passed"}
    calls = {check.target: check.calls for check in ALL_CHECKS}
    told: set[str] = set()
    for test in tests:  # (a function the grader answered is not the target's culprit)
        culprits = [f for f in calls.get(test.target, ()) if f in failing
                    and not serve.answered_for(test.target, f)]
        answered = [f for f in calls.get(test.target, ()) if f in failing
                    and serve.answered_for(test.target, f)]
        # the end-to-end view, feedback only: said once, on a test whose outputs were
        # judged (after an import error it would tell nothing new)
        if answered and test.target not in told and test.status in ("passed", "failed"):
            told.add(test.target)
            test.output += (f"\n{test.target} was graded with the grader's "
                            f"{' and '.join(answered)}; yours "
                            f"{'fails its' if len(answered) == 1 else 'fail their'} own "
                            f"tests, and with {'it' if len(answered) == 1 else 'them'} "
                            f"{test.target} would not give the right result.")
        if test.status == "passed":
            continue
        if culprits:
            test.hints = []
            if test.blame == "backward":  # said against a forward that is itself wrong
                test.blame = ""
            test.output += (f"\n{test.target} relies on {', '.join(culprits)}, which "
                            f"{'fails' if len(culprits) == 1 else 'fail'} "
                            f"{'its' if len(culprits) == 1 else 'their'} own tests: "
                            f"fix {culprits[0]} first.")
        test.hints = [hints.in_languages(h, languages) for h in dict.fromkeys(test.hints)]
        if test.hints:
            test.output += "\n" + "\n".join(test.hints)


def _summary(result: GradingResult, notes: list[str]) -> str:
    passed = sum(t.status == "passed" for t in result.tests)
    lines = [f"Score {result.score:g} / {result.max_score:g}: {passed} of {len(result.tests)} "
             "tests passed. Inputs are hidden and random; each failed test says what to fix."]
    return "\n".join(lines + notes)


def _not_run(check, case, reason: str, status: str = "error") -> TestResult:
    return TestResult(full_name(check, case), 0.0,
                      case_share(check, case), f"Not run: {reason}.", status,
                      case=case.label, cause="timeout" if status == "timeout" else "not_run")


def _internal_error(check, case) -> TestResult:
    return TestResult(full_name(check, case), 0.0,
                      case_share(check, case), INTERNAL_ERROR, "error", case=case.label,
                      cause="internal")


def _every_test(tests: list[TestResult], config: Config) -> list[TestResult]:
    """tests, completed with an internal error for every (check, case) that has no
    result yet, so that the results always list every test, in the table's order."""
    done = {t.name: t for t in tests}
    return [done.get(full_name(check, case)) or _internal_error(check, case)
            for check in graded(config) for case in check.cases]


def _nothing_graded(reason: str, start: float, config: Config) -> GradingResult:
    tests = [_not_run(check, case, reason) for check in graded(config) for case in check.cases]
    return GradingResult(points.apply(tests, config), time.monotonic() - start,
                         f"The submission could not be graded: {reason}",
                         visibility=config.visibility)
