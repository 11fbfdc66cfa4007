"""Runs one check on one case: reference in this process, student in the sandbox, judge.

A judge turns (payload, reference output, student output) into a Verdict: the fraction
of the case's points earned, feedback lines and recognised mistakes. JUDGES maps each
`kind` of the check table to its operation and its judge.
"""
import sys
import time
import traceback

import numpy as np

from autograder import serve, train_rules, train_serve
from autograder.checks import Case, Check, case_points, full_name
from autograder.child import classifier_ops, layer_ops
from autograder.compare import Verdict, compare_array, compare_labels, describe, relative_error
from autograder.results import TestResult
from autograder.sandbox import CallTimeout, SandboxError, cut, plain_error
from autograder.validate import InvalidReply, validate

GRAD_NAMES = {name: grads for name, (_, _, grads) in layer_ops.PAIRS.items()}
OUT_NAMES = {name: outs[0] for name, (_, outs, _) in layer_ops.PAIRS.items()}
LETTERS = {"next_h": "N, H", "h": "N, T, H", "out": "N, T, D", "dprev_h": "N, H", "dh0": "N, H",
           "dWx": "D, H", "dWh": "H, H", "db": "H,", "dW": "V, D", "scores": "N, K",
           "W_xh": "D, H", "W_hh": "H, H", "b_h": "H,", "W_hq": "H, K", "b_q": "K,"}


def judge_outputs(check, payload, pairs, reference) -> Verdict:
    """Compare named (expected, got) pairs; the case is right when every output is."""
    comparisons = [compare_array(name, expected, got, check.tolerance, LETTERS.get(name, ""))
                   for name, expected, got in pairs]
    wrong = {c.name: c.reason for c in comparisons if not c.ok}
    lines = [c.message for c in comparisons]
    if wrong:
        lines.append(f"Wrong: {', '.join(wrong)}.")
    verdict = Verdict.of(len(comparisons) - len(wrong), len(comparisons), lines, wrong)
    if reference is not None and wrong:  # hints.py is instructor-only: it uses the reference
        from autograder import hints
        verdict.hints = hints.recognise(check.target, payload, wrong,
                                        {name: got for name, _, got in pairs},
                                        {name: expected for name, expected, _ in pairs},
                                        reference)
    return verdict


def judge_forward(check, payload, expected, got, reference) -> Verdict:
    name = OUT_NAMES[payload["function"]]
    verdict = judge_outputs(check, payload, [(name, expected["out"], got["out"])], reference)
    return _purity(verdict, check.target, got)


def judge_backward(check, payload, expected, got, reference) -> Verdict:
    names = GRAD_NAMES[payload["function"]]
    verdict = judge_outputs(check, payload, list(zip(names, expected["grads"], got["grads"])),
                            reference)
    verdict = _purity(verdict, check.target, got)
    differs = got.get("repeat_differs") or []
    if differs:
        verdict.wrong["repeat"] = "impure"
        verdict.lines.append(f"Called twice on the same cache, {check.target} gave a different "
                             f"{', '.join(differs)} the second time: it changes its cache (or "
                             "keeps state between calls). A backward may be called more than "
                             "once: leave the cache as the forward stored it.")
    _blame_one_pass(verdict, payload["function"], check.target, names, got)
    return verdict


def _purity(verdict: Verdict, target: str, got) -> Verdict:
    """Fail the case when the graded function changed an array it was given."""
    own = [m.split(":", 1)[1] for m in got.get("modified") or [] if m.split(":")[0] == target]
    if own:
        verdict.wrong["purity"] = "impure"
        verdict.lines.append(f"{target} changed {', '.join(own)}, which it was given: a "
                             "function must never modify its inputs (work on a copy, e.g. "
                             "a = a.copy(), or write into new arrays).")
    return verdict


def _blame_one_pass(verdict, forward: str, backward: str, names, got) -> None:
    """One line saying which pass the wrong gradients point to, never both."""
    values = [n for n in names if verdict.wrong.get(n) in ("value", "nonfinite")]
    if not values:
        return
    broken = [m.split(":", 1)[1] for m in got.get("modified") or [] if m.split(":")[0] == forward]
    if broken or got.get("shared_state"):
        verdict.blame = forward
        what = (f"changed its input {', '.join(broken)}" if broken else
                "changed an array after storing it in its cache, or stores one array for "
                "several time steps (a state updated in place, e.g. prev_h[:] = ... or "
                "prev_h += ...)")
        verdict.lines.append(f"{forward} {what}, so the cache {backward} reads is not what "
                             f"the forward pass computed: fix {forward} first (store a new "
                             "array per step, never modify the inputs).")
        return
    numeric = dict(zip(names, got.get("numeric") or []))
    checked = [n for n in values if isinstance(numeric.get(n), np.ndarray)]
    if not checked:
        return
    grads = dict(zip(names, got["grads"]))
    disagree = [n for n in checked if relative_error(numeric[n], grads[n]) > 1e-4]
    if disagree:
        # true only if the forward is right: a hint, which grade._conclude withholds
        # when the forward fails its own tests (a right backward of a wrong forward
        # disagrees with the forward's numeric gradients too)
        verdict.blame = "backward"
        verdict.hints.append(f"{', '.join(disagree)} also disagree{'s' if len(disagree) == 1 else ''}"
                             f" with numeric gradients of your own {forward}: the bug is in "
                             f"{backward}.")
    else:
        verdict.blame = forward
        verdict.lines.append(f"The wrong gradients agree with numeric gradients of your own "
                             f"{forward}: {backward} fits your forward, so the bug is in "
                             f"{forward}.")


def judge_scores(check, payload, expected, got, reference) -> Verdict:
    verdict = judge_outputs(check, payload, [("scores", expected["scores"], got["scores"])],
                            reference)
    return _purity(verdict, check.target, got)


def judge_loss(check, payload, expected, got, reference) -> Verdict:
    names = classifier_ops.PARAM_NAMES
    # the reference returns the loss as a Python float: compare it at the case's dtype
    dtype = np.dtype(payload["init"].get("dtype", "float64"))
    pairs = [("loss", np.asarray(expected["loss"], dtype=dtype), got["loss"])]
    pairs += [(k, expected["grads"][k], got["grads"].get(k)) for k in names]
    return _purity(judge_outputs(check, payload, pairs, reference), check.target, got)


def judge_predict(check, payload, expected, got, reference) -> Verdict:
    comparison = compare_labels("labels", expected["labels"], got["labels"])
    wrong = {} if comparison.ok else {"labels": comparison.reason}
    verdict = Verdict.of(int(comparison.ok), 1, [comparison.message], wrong)
    return _purity(verdict, check.target, got)


def judge_predict_each(check, payload, expected, got, reference) -> Verdict:
    """predict on single samples, one at a time: every answer of shape (1,) and right."""
    lines, wrong = [], {}
    for i, (want, have) in enumerate(zip(expected["labels"], got["labels"])):
        comparison = compare_labels(f"predict(X[{i}:{i + 1}])", want, have)
        if not comparison.ok:
            wrong[comparison.name] = comparison.reason
            lines.append(comparison.message)
    right = len(expected["labels"]) - len(wrong)
    lines.insert(0, f"{right} of {len(expected['labels'])} single-sample predictions "
                    f"right{'' if wrong else ' ok'}")
    return Verdict.of(right, len(expected["labels"]), lines, wrong)


def judge_init(check, payload, expected, got, reference) -> Verdict:
    lines, wrong = [], {}
    rules = init_rules(payload, expected["params"], got)
    for i, (ok, message) in enumerate(rules):
        lines.append(("ok    " if ok else "WRONG ") + message)
        if not ok:
            wrong[f"rule {i + 1}"] = "rule"
    return Verdict.of(len(rules) - len(wrong), len(rules), lines, wrong)


def init_rules(payload, expected, got):
    """(ok, message) for each rule of the contract's initialisation."""
    keys_ok = sorted(got["keys"]) == sorted(expected)
    rules = [(keys_ok, f"params has exactly the keys {sorted(expected)} (got {got['keys']})")]
    dtype = payload["init"]["dtype"]
    for name, ref in expected.items():
        value = got["params"].get(name)
        if not isinstance(value, np.ndarray) or value.shape != ref.shape:
            rules.append((False, f"{name}: {describe(value)}; expected shape {ref.shape}"))
            continue
        if value.dtype != np.dtype(dtype):
            rules.append((False, f"{name} has dtype {value.dtype}; expected {dtype}"))
            continue
        if name.startswith("b"):
            rules.append((not value.any(), f"{name} starts at zero"))
        else:
            fan_in = ref.shape[0]
            scaled_std = float(np.std(value.astype(np.float64)) * np.sqrt(fan_in))
            rules.append((0.85 < scaled_std < 1.15 and abs(float(value.mean())) < 0.1,
                          f"{name} ~ N(0, 1) / sqrt({fan_in}): std x sqrt(fan_in) = "
                          f"{scaled_std:.2f} (expected about 1)"))
    return rules


JUDGES = {
    "forward": ("forward", judge_forward),
    "backward": ("backward", judge_backward),
    "init": ("init", judge_init),
    "scores": ("scores", judge_scores),
    "loss": ("loss", judge_loss),
    "predict": ("predict", judge_predict),
    "predict_each": ("predict_each", judge_predict_each),
    # every run of train (scripted or the overfit run) is the same operation
    "train": ("train_trace", train_rules.judge_train),
    "overfit": ("train_trace", train_rules.judge_overfit),
}
OPERATIONS = {"forward": layer_ops.forward, "backward": layer_ops.backward,
              "init": classifier_ops.init, "scores": classifier_ops.scores,
              "loss": classifier_ops.loss, "predict": classifier_ops.predict,
              "predict_each": classifier_ops.predict_each,
              "train_trace": classifier_ops.train}


def kind_of(check: Check, case: Case) -> str:
    """The judge of one case: the case's own, else its check's."""
    return case.kind or check.kind


def expected_output(check: Check, payload: dict, reference, case: Case | None = None):
    """What the reference returns for this case (run here, in the grader's process)."""
    kind = kind_of(check, case) if case is not None else check.kind
    if kind in ("train", "overfit"):
        return train_serve.expected(payload)
    return OPERATIONS[JUDGES[kind][0]](reference, _request(payload, case))


def _request(payload: dict, case: Case | None, names=()) -> dict:
    """What the operation is asked: the payload without what only the grader reads
    (a scripted run's script, the shapes shown in feedback), `served`: the names the
    grader answers; a large case runs its backward once (the repeated call is checked
    on the ordinary cases)."""
    asked = {k: v for k, v in payload.items() if k not in ("grader", "shapes")}
    if names:
        asked["served"] = list(names)
    return {**asked, "repeat": not (case is not None and case.large)}


INTERNAL_ERROR = ("could not grade this part: internal error, not a verdict on your code\n"
                  "      无法批改这一部分：评分程序内部错误，与你的代码无关")
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


def run_case(check: Check, case: Case, payload: dict, expected, student, reference=None,
             timeout_scale: float = 1.0, deadline: float | None = None,
             redact=None, time_limit: float | None = None,
             partial_credit: bool = False, explain: bool = True) -> TestResult:
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
    """
    limit = check.timeout * timeout_scale if time_limit is None else time_limit
    if deadline is not None:
        limit = max(min(limit, deadline - time.monotonic()), 0.05)
    try:
        result = _run_case(check, case, payload, expected, student, reference, limit,
                           partial_credit, explain)
    except Exception:  # noqa: BLE001  the grader's own bug: never a verdict on the student
        traceback.print_exc(limit=-4, file=sys.stderr)
        result = TestResult(full_name(check, case), 0.0, case_share(check, case),
                            f"{_header(case, payload)}\n{INTERNAL_ERROR}", "error",
                            case=case.label, cause="internal")
    if redact is not None:
        result.output = redact(result.output)
    return result


def _header(case: Case, payload: dict) -> str:
    return f"Case: {case.label} ({str(payload.get('shapes', ''))[:200]})"


def _run_case(check, case, payload, expected, student, reference, limit,
              partial_credit, explain) -> TestResult:
    """The student's reply: asked within `limit` seconds, validated, then judged."""
    name, header = full_name(check, case), _header(case, payload)
    points = case_share(check, case)
    op, judge = JUDGES[kind_of(check, case)]

    def failed(text, status="failed", cause="") -> TestResult:
        return TestResult(name, 0.0, points, f"{header}\n{text}", status, case=case.label,
                          cause=cause)

    until = time.monotonic() + limit  # the explanation below fits in the same limit
    server = answering(check, case, payload, reference)
    names = getattr(server, "names", ())
    try:
        reply = student.request(op, _request(payload, case, names), limit, server)
    except CallTimeout:
        why = ("a derived gradient takes milliseconds here; numeric gradients (2 forward "
               "passes per input) cannot finish: derive them with the chain rule"
               if case.large else "an infinite loop, or far too slow?")
        seconds = f"{limit:.1f}".rstrip("0").rstrip(".") if limit < 10 else f"{limit:.0f}"
        return failed(f"Did not finish within {seconds} s ({why}).", "timeout", "timeout")
    except SandboxError as exc:
        return failed(cut(str(exc), 400), "error", "crash")
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
        result = failed(_error_line(error) + refused, "error", cause)
        result.error = _error_fields(error)
        return result
    try:
        got = validate(check.target, op, payload, expected, reply["ok"])
    except InvalidReply as exc:
        return failed(str(exc) + refused, cause="invalid")
    if isinstance(server, train_serve.TrainRun):  # what train did, as the grader saw it
        got = {**got, **server.record, **server.outcome(got["final"], reference)}
    # known-mistake predictions are computed for ordinary cases only (a large case is
    # there against numeric differentiation: its mistakes show in the other cases)
    verdict = judge(check, payload, expected, got, None if case.large else reference)
    verdict.lines += [refused.strip()] if refused else []
    if explain and check.kind == "backward" and not case.large and not verdict.blame:
        _explain_backward(verdict, check, payload, got, student, until - time.monotonic())
    earned = 1.0 if verdict.ok else (verdict.fraction if partial_credit and not
                                     {"purity", "repeat"} & set(verdict.wrong) else 0.0)
    status = "passed" if verdict.ok else "failed"
    return TestResult(name, round(points * earned, 4), points,
                      "\n".join([header, *verdict.lines]), status, list(verdict.hints),
                      case=case.label, wrong=dict(verdict.wrong), blame=verdict.blame)


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
    names = GRAD_NAMES[payload["function"]]
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
    _blame_one_pass(verdict, payload["function"], check.target, names,
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


def _error_line(error: dict) -> str:
    """One line for an exception raised in the student process (a sandbox.plain_error), capped:
    the student's own text must not carry the hidden inputs out wholesale."""
    where = f" at {error['where']}" if error["where"] else ""
    if error["type"] == "NotImplementedError":
        return f"Not implemented yet{where}: {error['message']}"
    if error["student_error"]:
        return f"Wrong return value: {error['message']}"
    return f"{error['type']}{where}: {error['message']}"


def _error_fields(error: dict) -> dict:
    """The student's exception (a sandbox.plain_error) as fields: type, file, line, message."""
    file, _, rest = error["where"].partition(":")
    line = rest.split(" ", 1)[0]
    return {"type": error["type"], "file": file,
            "line": int(line) if line.isascii() and line.isdigit() else None,
            "message": error["message"]}


