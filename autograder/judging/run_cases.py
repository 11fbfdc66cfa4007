"""Every case of one grading, in one student process: the reference's answers
prepared ahead, each case asked, judged and appended in the table's order.

Imported by grade.py only once the student process has started: the process boots
while these modules import (its start is out of the critical path).
"""
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.config import Config
from autograder.intake import submission as submissions
from autograder.judging import integrity, serve
from autograder.judging.checks import graded, identity_of
from autograder.judging.conclude import Context, conclude, scale_points
from autograder.judging.engine import (Asked, ask, call_time_limit, case_share,
                                       expected_output, run_case)
from autograder.judging.reference import load_reference
from autograder.judging.results import INTERNAL_ERROR, TestResult
from autograder.sandbox import isolation
from autograder.sandbox.child import functions
from autograder.sandbox.process import StudentProcess
from autograder.secret import grading_seed, load_secret

@dataclass
class Run:
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
                run = Run(student, reference, config, time.monotonic() + config.time_budget,
                           redact, explain=explain)
                tests: list[TestResult] = []
                grade_cases(run, grading_seed(secret, fingerprint), tests,
                             lambda check, case: check.target in targets
                             and (large or not case.large))
                conclude(tests, Context.of(config, scale_points=False))
                runs.append(tests)
        finally:
            student.close()
    return runs


def grade_cases(run: Run, seed: int, tests: list[TestResult],
                 chosen=lambda check, case: True) -> None:
    """Every chosen case of the table, in its order, appended to `tests` as it is
    graded; case j of check i draws its inputs from the seed [seed, i, j]. Two
    processes at work: while the student process boots (and imports the module of the
    first case) or computes a case, the reference answers the cases that come next;
    once a reply is in, the next case is sent before that reply is judged."""
    todo = [(check, case, np.random.default_rng([seed, i, j]))
            for i, check in enumerate(graded(run.config)) for j, case in enumerate(check.cases)
            if chosen(check, case)]
    run.absent = frozenset(m for m in functions.ALL_MODULES
                           if not (run.student.submission_dir / f"{m}.py").is_file())
    answers = _Answers(run, todo)
    run.student.while_waiting(answers.prepare_next)
    run.student.boot(functions.FUNCTIONS[todo[0][0].target].module if todo else "")
    sent: dict[int, Asked] = {}  # cases sent ahead, by index in todo
    try:
        for index, (check, case, _) in enumerate(todo):
            def send_next(following=index + 1):
                _send_ahead(run, todo, answers, following, sent)
            tests.append(_grade_case(run, check, case, answers.get(index),
                                     sent.pop(index, None), send_next))
    finally:
        run.student.while_waiting(None)


class _Answers:
    """The reference's answers to the cases, in the table's order, each prepared once:
    ahead of time while the grader waits for the student process (prepare_next), or
    when its case is asked (get)."""

    def __init__(self, run: "Run", todo: list):
        self.run, self.todo, self.done = run, todo, []

    def prepare_next(self) -> bool:
        """Prepare one more answer; False when every answer is ready."""
        if len(self.done) == len(self.todo):
            return False
        check, case, rng = self.todo[len(self.done)]
        self.done.append(_prepare(self.run, check, case, rng))
        return True

    def get(self, index: int) -> "_Answer":
        while len(self.done) <= index:
            self.prepare_next()
        return self.done[index]


@dataclass
class _Answer:
    """One case's hidden inputs and the reference's reply, made before the student's call;
    seconds: the reference's own time on it (it sets the student's time limit)."""
    payload: dict | None = None
    expected: object = None
    seconds: float = 0.0


def _prepare(run: Run, check, case, rng) -> _Answer:
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


def _grade_case(run: Run, check, case, answer: _Answer, asked: Asked | None = None,
                then=None) -> TestResult:
    """One case: not run when the budget is spent or a function it needs timed out
    before; otherwise graded against the reference's answer, whose time sets the
    student's limit. asked: the case was sent ahead already; then(): see run_case."""
    skipped = _not_run_now(run, check, case, answer)
    if skipped is not None:
        if asked is not None:  # sent ahead, and its reply no longer wanted: stop it
            run.student.kill()
        return skipped
    result = run_case(check, case, answer.payload, answer.expected, run.student,
                      run.reference, deadline=run.deadline, redact=run.redact,
                      time_limit=call_time_limit(check, answer.seconds, run.config),
                      partial_credit=run.config.partial_credit, explain=run.explain,
                      asked=asked, then=then)
    if result.status == "timeout":
        run.timed_out[check.target] = check.target
    return result


def _send_ahead(run: Run, todo: list, answers: "_Answers", index: int, sent: dict) -> None:
    """Send case `index` to the student process now (when it is to run), so that it
    computes while the grader judges the case before."""
    if index >= len(todo):
        return
    check, case, _ = todo[index]
    answer = answers.get(index)
    if _not_run_now(run, check, case, answer) is not None:
        return
    asked = ask(check, case, answer.payload, run.reference)
    limit = call_time_limit(check, answer.seconds, run.config)
    if run.student.send_ahead(asked.op, asked.request, limit, asked.server):
        sent[index] = asked


def _not_run_now(run: Run, check, case, answer: _Answer) -> TestResult | None:
    """The case's result when it is not to be run (the budget spent, a function it
    needs timed out before, no answer, its module absent); None when it is."""
    if time.monotonic() >= run.deadline:
        return not_run(check, case, "the grading time budget ran out", "timeout")
    late = [run.timed_out[f] for f in (check.target, *check.calls) if f in run.timed_out
            and not serve.answered_for(check.target, f)]  # answered: not the student's
    if late:
        run.timed_out.setdefault(check.target, late[0])  # so that its callers stop too
        return not_run(check, case, f"{late[0]} timed out earlier (one time limit per "
                                     "function, not one per test)", "timeout")
    if answer.payload is None:
        return _internal_error(check, case)
    module = functions.FUNCTIONS[check.target].module
    if module in run.absent:  # an extension's (intake refuses a submission without the rest)
        missing = not_run(check, case, MISSING_EXTENSION[0].format(module=module))
        missing.output += "\n      " + MISSING_EXTENSION[1].format(module=module)
        return missing
    return None


# an optional extension's file, absent while the course grades it (required files are
# checked at intake: the submission is refused before any test)
MISSING_EXTENSION = ("{module}.py is not in the submission, and this course grades it (an "
                     "optional extension its instructor turned on): hand it in with the rest",
                     "提交中缺少 {module}.py；本课程评分包含这一扩展，请一并提交。")


def not_run(check, case, reason: str, status: str = "error") -> TestResult:
    return TestResult(identity_of(check, case), 0.0,
                      case_share(check, case), f"Not run: {reason}.", status,
                      cause="timeout" if status == "timeout" else "not_run")


def _internal_error(check, case) -> TestResult:
    return TestResult(identity_of(check, case), 0.0,
                      case_share(check, case), INTERNAL_ERROR, "error", cause="internal")


def every_test(tests: list[TestResult], config: Config) -> list[TestResult]:
    """tests, completed with an internal error for every (check, case) that has no
    result yet, so that the results always list every test, in the table's order."""
    done = {t.identity: t for t in tests}
    return [done.get(identity_of(check, case))
            or _internal_error(check, case) for check in graded(config) for case in check.cases]


def not_graded(reason: str, config: Config) -> list[TestResult]:
    """Every test, not run for `reason` (a submission refused at intake)."""
    tests = [not_run(check, case, reason) for check in graded(config)
             for case in check.cases]
    conclude(tests, Context.of(config), steps=(scale_points,))  # nothing else to say
    return tests
