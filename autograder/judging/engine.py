"""Runs one check on one case: reference in this process, student in the sandbox, judge.

Each `kind` of the check table asks one operation (child/functions.KINDS), its reply is
checked by the rules of that kind (validate.py), then judged (judges.py): a Verdict,
the fraction of the case's points earned, feedback lines and recognised mistakes.
"""
import sys
import time
import traceback
from dataclasses import dataclass

from autograder.judging import judges, serve, train_serve
from autograder.judging.checks import Case, Check, case_points, identity_of
from autograder.judging.compare import gists, right_lines
from autograder.sandbox.child import functions
from autograder.judging.judges import JUDGES
from autograder.judging.results import INTERNAL_ERROR, TestResult
from autograder.sandbox.process import CallTimeout, SandboxError, cut, plain_error
from autograder.judging.validate import InvalidReply, validate


def kind_of(check: Check, case: Case) -> str:
    """The judge of one case: the case's own, else its check's."""
    return case.kind or check.kind


def expected_output(check: Check, payload: dict, reference, case: Case | None = None):
    """What the reference returns for this case (run here, in the grader's process)."""
    kind = kind_of(check, case) if case is not None else check.kind
    if kind in ("train", "overfit"):
        return train_serve.expected(payload)
    # the reference is trusted: its backward runs once (the repeat is the student's check)
    asked = {**_request(payload, case), "repeat": False}
    return functions.operation(functions.KINDS[kind])(reference, asked)


def _request(payload: dict, case: Case | None, names=()) -> dict:
    """What the operation is asked: the payload without what only the grader reads
    (a scripted run's script, the shapes shown in feedback), `served`: the names the
    grader answers; a large case runs its backward once (the repeated call is checked
    on the ordinary cases)."""
    asked = {k: v for k, v in payload.items() if k not in ("grader", "shapes")}
    if names:
        asked["served"] = list(names)
    return {**asked, "repeat": not (case is not None and case.large)}


MAX_STUDENT_TEXT = 300  # characters of the student's own exception message shown per test


def call_time_limit(check: Check, reference_seconds: float, config) -> float:
    """Seconds a student's call may take on a case: a generous multiple of the
    reference's own time on the same case plus a floor (the process start, the import,
    the transfer), at most the check's own limit, scaled; never below config.call_time_min."""
    limit = min(check.timeout, config.call_time_floor
                + config.call_time_multiple * reference_seconds)
    return max(limit * config.timeout_scale, config.call_time_min)


def case_share(check: Check, case: Case) -> float:
    """The case's share of its check's points (4 decimals; see checks.case_points)."""
    return case_points(check)[check.cases.index(case)]


@dataclass
class Asked:
    """What one case asks the student process: the operation, the request, and who
    answers the calls the request makes (answering())."""
    op: str
    request: dict
    server: object = None


def ask(check: Check, case: Case, payload: dict, reference) -> Asked:
    server = answering(check, case, payload, reference)
    return Asked(functions.KINDS[kind_of(check, case)],
                 _request(payload, case, getattr(server, "names", ())), server)


def run_case(check: Check, case: Case, payload: dict, expected, student, reference=None,
             timeout_scale: float = 1.0, deadline: float | None = None,
             redact=None, time_limit: float | None = None,
             partial_credit: bool = False, explain: bool = True,
             asked: Asked | None = None, then=None) -> TestResult:
    """Grade one case of one check; never raises for anything the student did.

    reference is None in the student's self-check (public cases with stored expected
    outputs): known-mistake hints need the reference and are skipped there.
    time_limit: seconds for the call (call_time_limit; default check.timeout times
    timeout_scale), capped by deadline (time.monotonic): the global time budget.
    redact(text) -> text filters the feedback (integrity.Redactor: caps it, hides any
    text of the reference that the student process may have found and sent).
    partial_credit: a case earns the share of its parts that are right, instead of its
    points only when all are. explain=False skips what only feedback needs (numeric
    gradients of the student's own forward): the same verdicts, faster.
    asked: what ask() made for this case and StudentProcess.send_ahead sent already;
    then(): called once the reply is in, before it is judged (the grader sends the
    next case then, and judges this one while the student process computes that); where
    a wrong answer is explained by asking the process again (a backward's ordinary
    cases), once the explanation is in.
    """
    limit = check.timeout * timeout_scale if time_limit is None else time_limit
    if deadline is not None:
        limit = max(min(limit, deadline - time.monotonic()), 0.05)
    try:
        result = _run_case(check, case, payload, expected, student, reference, limit,
                           partial_credit, explain, asked, then)
    except Exception:  # noqa: BLE001  the grader's own bug: never a verdict on the student
        traceback.print_exc(limit=-4, file=sys.stderr)
        result = TestResult(identity_of(check, case), 0.0, case_share(check, case),
                            f"{_header(case, payload)}\n{INTERNAL_ERROR}", "error",
                            cause="internal", shapes=_shapes(payload))
    if redact is not None:
        result.output = redact(result.output)
    return result


def _header(case: Case, payload: dict) -> str:
    return f"Case: {case.label} ({_shapes(payload)})"


def _shapes(payload: dict) -> str:
    return str(payload.get("shapes", ""))[:200]


def _run_case(check, case, payload, expected, student, reference, limit,
              partial_credit, explain, asked=None, then=None) -> TestResult:
    """The student's reply: asked within `limit` seconds, validated, then judged."""
    identity, header = identity_of(check, case), _header(case, payload)
    points = case_share(check, case)
    kind = kind_of(check, case)
    judge = JUDGES[kind]

    def failed(text, status="failed", cause="") -> TestResult:
        return TestResult(identity, 0.0, points, f"{header}\n{text}", status, cause=cause,
                          shapes=_shapes(payload))

    until = time.monotonic() + limit  # the explanation below fits in the same limit
    asked = asked or ask(check, case, payload, reference)
    server = asked.server
    try:
        reply = student.request(asked.op, asked.request, limit, server)
    except CallTimeout:
        why = ("a derived gradient takes milliseconds here; numeric gradients (2 forward "
               "passes per input) cannot finish: derive them with the chain rule"
               if case.large else "an infinite loop, or far too slow?")
        seconds = f"{limit:.1f}".rstrip("0").rstrip(".") if limit < 10 else f"{limit:.0f}"
        return failed(f"Did not finish within {seconds} s ({why}).", "timeout", "timeout")
    except SandboxError as exc:
        return failed(cut(str(exc), 400), "error", "crash")
    explaining = explain and check.kind == "backward" and not case.large
    if then is not None and not explaining:  # the next case computes while this is judged
        then()
    numeric_use = _numeric_differentiation(check, server)
    if numeric_use:
        return failed(numeric_use, cause="numeric_gradients")
    refused = (f"\nThe grader refused a call: {server.refused}."
               if getattr(server, "refused", "") else "")
    if not isinstance(reply, dict) or not ("ok" in reply or "error" in reply):
        reply = {"error": {"type": "ProtocolError", "message": "malformed reply"}}
    if "error" in reply:
        error = plain_error(reply["error"], MAX_STUDENT_TEXT)
        cause = "not_implemented" if error["type"] == "NotImplementedError" else "exception"
        result = failed(error_line(error) + refused, "error", cause)
        result.error = _error_fields(error)
        return result
    try:
        got = validate(check.target, kind, payload, expected, reply["ok"])
    except InvalidReply as exc:
        return failed(str(exc) + refused, cause="invalid")
    if isinstance(server, train_serve.TrainRun):  # what train did, as the grader saw it
        got = {**got, **server.record, **server.outcome(got["final"], reference)}
    # known-mistake predictions are computed for ordinary cases only (a large case is
    # there against numeric differentiation: its mistakes show in the other cases)
    verdict = judge(check, payload, expected, got, None if case.large else reference)
    verdict.lines += [refused.strip()] if refused else []
    if explaining and not verdict.blame:
        _explain_backward(verdict, check, payload, got, student, until - time.monotonic())
    if then is not None and explaining:  # after the explanation, which asks the process
        then()
    earned = 1.0 if verdict.ok else (verdict.fraction if partial_credit and not
                                     {"purity", "repeat"} & set(verdict.wrong) else 0.0)
    status = "passed" if verdict.ok else "failed"
    return TestResult(identity, round(points * earned, 4), points,
                      "\n".join([header, *verdict.lines]), status, list(verdict.hints),
                      wrong=dict(verdict.wrong), blame=verdict.blame, shapes=_shapes(payload),
                      right=right_lines(verdict.lines), gists=gists(verdict.lines))


def answering(check: Check, case: Case, payload: dict, reference):
    """Who answers the calls this case's graded function makes by name (contract
    revision 3): the reference (serve.Server) while a function is graded on its own,
    a train_serve.TrainRun for every run of train (scripted: no reference needed);
    None where nothing is answered (the self-check has no reference)."""
    kind = kind_of(check, case)
    if kind == "train" or (kind == "overfit" and reference is not None):
        return train_serve.TrainRun(payload, reference if kind == "overfit" else None)
    if reference is None or check.target not in serve.SERVED:
        return None
    return serve.Server(reference, check.target, payload,
                        count_forwards=kind in ("backward", "loss", "scores"))


def _explain_backward(verdict, check, payload, got, student, limit) -> None:
    """Wrong gradients: ask the student process for numeric gradients of its own
    forward, to say which pass is wrong (only then: it costs 2 forwards per input)."""
    names = judges.GRAD_NAMES[payload["function"]]
    if limit < 0.05 or not any(verdict.wrong.get(n) in ("value", "nonfinite") for n in names):
        return
    try:
        reply = student.request("numeric", payload, limit)
        numeric = validate(check.target, "numeric", payload, {"numeric": None},
                           reply["ok"])["numeric"]
    except (CallTimeout, SandboxError, InvalidReply, KeyError, TypeError):
        return  # no explanation: the verdict stands as it is
    # one numeric gradient per float argument, in order: the backward's outputs
    floats = [g for arg, g in zip(payload["args"], numeric) if arg.dtype.kind == "f"]
    judges.blame_one_pass(verdict, payload["function"], check.target, names,
                    {**got, "numeric": floats})


def _numeric_differentiation(check, server) -> str:
    """A backward (or a loss) that called the forward functions far more often than
    deriving the gradients needs, counted here as the grader answered them, gets no
    credit. (A forward the submission keeps under another name is not seen: the large
    cases are what numeric differentiation cannot finish, checks.py.)"""
    limit = getattr(server, "limit", None)
    if limit is None or server.forward_calls <= limit:
        return ""
    return (f"{check.target} called the forward functions more than {limit} times (a "
            f"derived {'backward' if check.kind == 'backward' else 'loss'} needs at most "
            f"{limit}; the grader answered them and counted): it computes numeric "
            "gradients instead of deriving them. No credit: derive the gradients with "
            "the chain rule.")


def error_line(error: dict) -> str:
    """One line for an exception raised in the student process (a sandbox.plain_error, or
    TestResult.error), capped: the student's own text must not carry the hidden inputs
    out wholesale."""
    where = f" at {error['where']}" if error["where"] else ""
    if error["type"] == "NotImplementedError":
        return f"Not implemented yet{where}: {error['message']}"
    if error.get("student_error"):
        return f"Wrong return value: {error['message']}"
    return f"{error['type']}{where}: {error['message']}"


def _error_fields(error: dict) -> dict:
    """The student's exception (a sandbox.plain_error: each field typed and capped
    there) as the result's fields: type, where (as the student process wrote it), file,
    line, message, student_error."""
    return {key: error[key] for key in ("type", "where", "file", "line", "message",
                                        "student_error")}


