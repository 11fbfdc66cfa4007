"""Runs one check on one case: reference in this process, student in the sandbox, judge.

A judge turns (payload, reference output, student output) into a Verdict: the fraction
of the case's points earned, feedback lines and recognised mistakes. JUDGES maps each
`kind` of the check table to its operation and its judge.
"""
import sys
import time
import traceback

import numpy as np

from autograder import train_rules
from autograder.checks import Case, Check
from autograder.child import classifier_ops, layer_ops
from autograder.compare import Verdict, compare_array, compare_labels, describe, relative_error
from autograder.results import TestResult
from autograder.sandbox import CallTimeout, SandboxError
from autograder.validate import InvalidReply, validate

GRAD_NAMES = {name: grads for name, (_, _, grads) in layer_ops.PAIRS.items()}
OUT_NAMES = {name: outs[0] for name, (_, outs, _) in layer_ops.PAIRS.items()}
LETTERS = {"next_h": "N, H", "h": "N, T, H", "out": "N, T, D", "dprev_h": "N, H", "dh0": "N, H",
           "dWx": "D, H", "dWh": "H, H", "db": "H,", "dW": "V, D", "scores": "N, K",
           "W_xh": "D, H", "W_hh": "H, H", "b_h": "H,", "W_hq": "H, K", "b_q": "K,"}


def judge_outputs(check, payload, pairs, reference) -> Verdict:
    """Compare named (expected, got) pairs; every output is worth the same."""
    comparisons = [compare_array(name, expected, got, check.tolerance, LETTERS.get(name, ""))
                   for name, expected, got in pairs]
    wrong = [c.name for c in comparisons if not c.ok]
    lines = [c.message for c in comparisons]
    if wrong:
        lines.append(f"Wrong: {', '.join(wrong)}.")
    found = []
    if reference is not None:  # hints.py is instructor-only: it computes with the reference
        from autograder import hints
        found = [h for name, expected, got in pairs if name in wrong
                 for h in hints.recognise(check.target, name, payload, expected, got, reference)]
        found = list(dict.fromkeys(found))  # one hint may explain several outputs
    return Verdict(sum(c.ok for c in comparisons) / len(comparisons), lines, found)


def judge_forward(check, payload, expected, got, reference) -> Verdict:
    name = OUT_NAMES[payload["function"]]
    return judge_outputs(check, payload, [(name, expected["out"], got["out"])], reference)


def judge_backward(check, payload, expected, got, reference) -> Verdict:
    names = GRAD_NAMES[payload["function"]]
    if len(got["grads"]) != len(names):
        return Verdict(0.0, [f"expected {len(names)} gradients ({', '.join(names)})"])
    verdict = judge_outputs(check, payload, list(zip(names, expected["grads"], got["grads"])),
                            reference)
    wrong = [line.split(":")[0] for line in verdict.lines if line.endswith("WRONG")]
    verdict.lines += _self_consistency(names, got, wrong)
    return verdict


def _self_consistency(names, got, wrong) -> list[str]:
    """For each wrong gradient: does it agree with numeric gradients of the student's own
    forward? That tells a wrong backward from a wrong forward."""
    lines = []
    for name, analytic, numeric in zip(names, got["grads"], got.get("numeric") or []):
        if (name not in wrong or numeric is None or not isinstance(analytic, np.ndarray)
                or analytic.shape != numeric.shape):
            continue
        error = relative_error(numeric, analytic)
        if error > 1e-4:
            lines.append(f"{name} also disagrees with numeric gradients of your own forward "
                         f"(error {error:.1e}): the bug is in the backward pass.")
        else:
            lines.append(f"{name} agrees with numeric gradients of your own forward: "
                         f"the backward fits your forward, so look at the forward pass.")
    return lines


def judge_scores(check, payload, expected, got, reference) -> Verdict:
    return judge_outputs(check, payload, [("scores", expected["scores"], got["scores"])],
                         reference)


def judge_loss(check, payload, expected, got, reference) -> Verdict:
    names = classifier_ops.PARAM_NAMES
    missing = sorted(set(names) - set(got["grads"]))
    pairs = [("loss", np.asarray(expected["loss"]), got["loss"])]
    pairs += [(k, expected["grads"][k], got["grads"].get(k)) for k in names]
    verdict = judge_outputs(check, payload, pairs, reference)
    loss = got["loss"]
    if isinstance(loss, (float, np.ndarray)) and not np.all(np.isfinite(loss)):
        verdict.hints.append("Hint: the loss overflowed: subtract each row's max score "
                             "before np.exp (softmax does not change).\n"
                             "      提示：计算 softmax 前先减去每行的最大得分，避免 exp 溢出。")
    if missing:
        verdict.lines.append(f"grads has no entry for {', '.join(missing)}")
    return verdict


def judge_predict(check, payload, expected, got, reference) -> Verdict:
    comparison = compare_labels("labels", expected["labels"], got["labels"])
    return Verdict(float(comparison.ok), [comparison.message])


def judge_init(check, payload, expected, got, reference) -> Verdict:
    lines, passed = [], 0
    rules = init_rules(payload, expected["params"], got)
    for ok, message in rules:
        passed += ok
        lines.append(("ok    " if ok else "WRONG ") + message)
    return Verdict(passed / len(rules), lines)


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


def judge_overfit(check, payload, expected, got, reference) -> Verdict:
    """Accuracy of the student's trained parameters, measured with the reference model
    (in the self-check, without a reference, with the student's own predict)."""
    if reference is None:
        return _accuracy_verdict(got["own_accuracy"])
    model_payload = {"init": payload["init"], "params": got["params"], "X": payload["X"]}
    try:
        labels = classifier_ops.predict(reference, model_payload)["labels"]
    except Exception as exc:  # noqa: BLE001  params of the wrong shape: the reference cannot use them
        return Verdict(0.0, [f"the trained params cannot be used: {exc}"])
    return _accuracy_verdict(float(np.mean(labels == payload["y"])))


def _accuracy_verdict(accuracy: float) -> Verdict:
    ok = accuracy >= 0.95
    return Verdict(float(ok), [f"training accuracy after train(): {accuracy:.2f} "
                               f"(needs at least 0.95) {'ok' if ok else 'WRONG'}"])


JUDGES = {
    "forward": ("forward", judge_forward),
    "backward": ("backward", judge_backward),
    "init": ("init", judge_init),
    "scores": ("scores", judge_scores),
    "loss": ("loss", judge_loss),
    "predict": ("predict", judge_predict),
    "train": ("train_trace", train_rules.judge_train),
    "overfit": ("overfit", judge_overfit),
}
OPERATIONS = {"forward": layer_ops.forward, "backward": layer_ops.backward,
              "init": classifier_ops.init, "scores": classifier_ops.scores,
              "loss": classifier_ops.loss, "predict": classifier_ops.predict,
              "overfit": classifier_ops.overfit, "train_trace": classifier_ops.train_trace}


def expected_output(check: Check, payload: dict, reference):
    """What the reference returns for this case (run here, in the grader's process)."""
    return OPERATIONS[JUDGES[check.kind][0]](reference, {**payload, "numeric": False})


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


def run_case(check: Check, case: Case, payload: dict, expected, student, reference=None,
             timeout_scale: float = 1.0, deadline: float | None = None,
             redact=None, time_limit: float | None = None) -> TestResult:
    """Grade one case of one check; never raises for anything the student did.

    reference is None in the student's self-check (public cases with stored expected
    outputs): known-mistake hints need the reference and are skipped there.
    time_limit: seconds for the call (call_time_limit; default check.timeout times
    timeout_scale), capped by deadline (time.monotonic): the global time budget.
    redact(text) -> text filters the feedback (integrity.Redactor: caps it, hides any
    text of the reference that the student process may have found and sent).
    """
    limit = check.timeout * timeout_scale if time_limit is None else time_limit
    if deadline is not None:
        limit = max(min(limit, deadline - time.monotonic()), 0.05)
    try:
        result = _run_case(check, case, payload, expected, student, reference, limit)
    except Exception:  # noqa: BLE001  the grader's own bug: never a verdict on the student
        traceback.print_exc(limit=-4, file=sys.stderr)
        result = TestResult(_test_name(check, case), 0.0, check.points / len(check.cases),
                            f"{_header(case, payload)}\n{INTERNAL_ERROR}", "error")
    if redact is not None:
        result.output = redact(result.output)
    return result


def _test_name(check: Check, case: Case) -> str:
    return f"{check.target}: {check.what}, {case.label}"


def _header(case: Case, payload: dict) -> str:
    return f"Case: {case.label} ({str(payload.get('shapes', ''))[:200]})"


def _run_case(check, case, payload, expected, student, reference, limit) -> TestResult:
    """The student's reply: asked within `limit` seconds, validated, then judged."""
    name, header = _test_name(check, case), _header(case, payload)
    points = check.points / len(check.cases)
    op, judge = JUDGES[check.kind]
    try:
        reply = student.request(op, {**payload, "numeric": check.kind == "backward"}, limit)
    except CallTimeout:
        return TestResult(name, 0.0, points, f"{header}\nDid not finish within "
                          f"{limit:.2g} s (an infinite loop, or far too slow?).", "timeout")
    except SandboxError as exc:
        return TestResult(name, 0.0, points, f"{header}\n{_cut(str(exc), 400)}", "error")
    if not isinstance(reply, dict) or not ("ok" in reply or "error" in reply):
        reply = {"error": {"type": "ProtocolError", "message": "malformed reply"}}
    if "error" in reply:
        return TestResult(name, 0.0, points, f"{header}\n{_error_line(reply['error'])}", "error")
    try:
        got = validate(check.target, op, payload, expected, reply["ok"])
    except InvalidReply as exc:
        return TestResult(name, 0.0, points, f"{header}\n{exc}", "failed")
    numeric = _numeric_differentiation(check, payload, got)
    if numeric:
        return TestResult(name, 0.0, points, f"{header}\n{numeric}", "failed")
    verdict = judge(check, payload, expected, got, reference)
    status = "passed" if verdict.fraction >= 1 else "failed"
    text = "\n".join([header, *verdict.lines, *verdict.hints])
    return TestResult(name, points * verdict.fraction, points, text, status,
                      verdict.hints)


def _numeric_differentiation(check, payload, got) -> str:
    """A backward that called its forward functions far more often than deriving the
    gradients needs (counted in the student process) gets no credit."""
    if check.kind != "backward" or not isinstance(got, dict):
        return ""
    calls = got.get("forward_calls")
    limit = _forward_call_limit(payload)
    if type(calls) is not int or calls <= limit:
        return ""
    return (f"{check.target} called the forward functions {calls} times (a derived "
            f"backward needs at most {limit}): it computes numeric gradients instead of "
            f"deriving them. No credit: derive the gradients with the chain rule.")


def _forward_call_limit(payload: dict) -> int:
    """How many forward calls a derived backward may make (recomputing the forward,
    even step by step); numeric differentiation needs 2 per input entry."""
    x = payload["args"][0]
    steps = x.shape[1] if payload["function"] == "rnn_forward" and x.ndim == 3 else 1
    return 2 * steps + 4


def _error_line(error) -> str:
    """One line for an exception raised in the student process (data, not trusted),
    capped: the student's own text must not carry the hidden inputs out wholesale."""
    error = error if isinstance(error, dict) else {}
    kind = _cut(str(error.get("type", "Error")), 80)
    message = _cut(str(error.get("message", "")), MAX_STUDENT_TEXT)
    where = f" at {_cut(str(error['where']), 120)}" if error.get("where") else ""
    if kind == "NotImplementedError":
        return f"Not implemented yet{where}: {message}"
    if error.get("student_error") is True:
        return f"Wrong return value: {message}"
    return f"{kind}{where}: {message}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 30] + " [... cut: message too long]"
