"""Grading one submission, as a few named phases that always end in valid results.

    load the submission -> run every check's cases in the student process -> score
    (with "fix X first" notes) -> results (written by the caller: JSON, report)
"""
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import integrity, isolation
from autograder import submission as submissions
from autograder.checks import CHECKS
from autograder.config import Config
from autograder.engine import expected_output, run_case
from autograder.reference import load_reference
from autograder.results import GradingResult, TestResult
from autograder.sandbox import StudentProcess
from autograder.secret import grading_seed, load_secret


def grade(source: Path, config: Config) -> GradingResult:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rnn-grade-") as tmp:
        try:
            folder, fingerprint, notes = submissions.prepare(Path(source), Path(tmp))
        except submissions.SubmissionError as exc:
            return _nothing_graded(str(exc), start)
        tests = _run_checks(folder, fingerprint, config, start)
    _add_fix_first_notes(tests)
    result = GradingResult(tests, time.monotonic() - start)
    result.output = _summary(result, notes)
    return result


def _run_checks(folder: Path, fingerprint: str, config: Config, start: float) -> list[TestResult]:
    """Every case in one student process (a fresh one after any failure), then the
    numeric-gradient probe. The reference and the secret are read before the student
    process starts; every process of the submission is dead when this returns, before
    anything is written."""
    reference_folder = config.solutions_dir / config.assignment
    reference = load_reference(reference_folder)
    secret = load_secret()
    seed = grading_seed(secret, fingerprint)
    redact = integrity.Redactor(reference_folder, secret)
    isolation.prepare_folder(folder, config)
    student = StudentProcess(folder, settings=isolation.settings(config))
    deadline = start + config.time_budget
    tests = []
    try:
        for i, check in enumerate(CHECKS):
            for j, case in enumerate(check.cases):
                if time.monotonic() >= deadline:
                    tests.append(_not_run(check, case, "the grading time budget ran out"))
                    continue
                payload = case.make(np.random.default_rng([seed, i, j]))
                expected = expected_output(check, payload, reference)
                tests.append(run_case(check, case, payload, expected, student, reference,
                                      config.timeout_scale, deadline=deadline,
                                      redact=redact))
        _probe_numeric_backwards(tests, student, seed, config, deadline)
    finally:
        student.close()
    isolation.warn_if_readable(config, student.jail_status)
    return tests


def _probe_numeric_backwards(tests, student, seed, config, deadline) -> None:
    """No credit for a backward function that differentiates numerically (timed on a
    larger hidden case against the student's own forward; see integrity.py)."""
    for k, target in enumerate(integrity.PROBES):
        own = [t for t in tests if t.target == target]
        if not any(t.score > 0 for t in own) or time.monotonic() >= deadline:
            continue
        timeout = min(10.0 * config.timeout_scale, max(deadline - time.monotonic(), 0.1))
        why = integrity.probe_speed(student, target, np.random.default_rng([seed, 99, k]),
                                    config.numeric_backward_ratio, timeout)
        if why:
            for test in own:
                test.score, test.status = 0.0, "failed"
                test.output += f"\n{why}"


def _add_fix_first_notes(tests: list[TestResult]) -> None:
    """When a test fails and a function it calls fails too, say which to fix first."""
    failing = {t.target for t in tests if t.status != "passed"}
    calls = {check.target: check.calls for check in CHECKS}
    for test in tests:
        culprits = [f for f in calls.get(test.target, ()) if f in failing]
        if test.status != "passed" and culprits:
            test.output += (f"\n{test.target} relies on {', '.join(culprits)}, which "
                            f"{'fails' if len(culprits) == 1 else 'fail'} "
                            f"{'its' if len(culprits) == 1 else 'their'} own tests: "
                            f"fix {culprits[0]} first.")


def _summary(result: GradingResult, notes: list[str]) -> str:
    passed = sum(t.status == "passed" for t in result.tests)
    lines = [f"Score {result.score:g} / {result.max_score:g}: {passed} of {len(result.tests)} "
             "tests passed. Inputs are hidden and random; each failed test says what to fix."]
    return "\n".join(lines + notes)


def _not_run(check, case, reason: str) -> TestResult:
    return TestResult(f"{check.target}: {check.what}, {case.label}", 0.0,
                      check.points / len(check.cases), f"Not run: {reason}.", "error")


def _nothing_graded(reason: str, start: float) -> GradingResult:
    tests = [_not_run(check, case, reason) for check in CHECKS for case in check.cases]
    return GradingResult(tests, time.monotonic() - start,
                         f"The submission could not be graded: {reason}")
