"""The report a student reads: grouped per function, a hint once, one error for a
function whose cases all fail alike, NO CREDIT for right outputs that earned nothing;
the Gradescope JSON keeps one valid test per case."""
import json

import numpy as np

from autograder.judging import compare, results
from autograder.judging.results import GradingResult

HINT = "Hint: tanh' is 1 - h**2.\n      提示：tanh 的导数是 1 - h**2。"


def _test(target, case, status="passed", output=(), hints=(), wrong=None, cause="",
          score=None, what="gradients"):
    """A test whose feedback is the case line, then the lines of `output` (a line of
    text, or the judges' lines: compare.Line), then its hints."""
    lines = [output] if isinstance(output, str) else list(output)
    body = "\n".join([f"Case: {case} (N=2 D=3 H=4)", *lines]) if lines else f"Case: {case} (N=2)"
    if hints:
        body += "\n" + "\n".join(hints)
    return results.TestResult(results.TestId(target, what, case),
                              1.0 if score is None else score, 1.0, body, status, list(hints),
                              wrong=dict(wrong or {}), cause=cause,
                              shapes="N=2 D=3 H=4" if lines else "N=2",
                              right=compare.right_lines(lines), gists=compare.gists(lines))


def _compared(name, error: float):
    """compare.py's line for output `name` off by a relative error `error`."""
    return compare.compare_array(name, np.ones(3), np.ones(3) * (1 + error), 1e-6).message


def _wrong_dwx(case, error, hints=()):
    return _test("rnn_step_backward", case, "failed",
                 [_compared("dx", 0.0), _compared("dWx", float(error)), "Wrong: dWx."],
                 hints, {"dWx": "value"}, score=0.0)


def test_failing_cases_are_grouped_under_their_function_with_the_hint_once():
    tests = [_test("rnn_step_forward", "ordinary"),
             _wrong_dwx("ordinary", "3.0e-01", [HINT]), _wrong_dwx("D=H", "7.1e-01"),
             _test("rnn_step_backward", "N=1")]
    report = GradingResult(tests).report(colour=False)
    assert "PASS   1.00/1.00   rnn_step_forward: 1 of 1 case passed" in report
    assert "rnn_step_backward: 1 of 3 cases passed" in report
    assert "FAILED (2 cases: ordinary; D=H)" in report
    assert report.count("dWx: relative error") == 1  # the same mistake, told once
    assert report.count("Hint: tanh'") == 1
    assert "dx: relative error" not in report  # what is right is not repeated
    assert report.index("FAILED (2 cases") < report.index("Hint: tanh'")


def test_a_syntax_error_is_one_error_per_function():
    error = "SyntaxError at rnn_layers.py:22: expected ':'"
    tests = [_test(target, case, "error", error, cause="exception", score=0.0)
             for target in ("rnn_step_forward", "rnn_forward")
             for case in ("ordinary", "N=1", "D=H", "float32")]
    result = GradingResult(tests, output="Score 0 / 100")
    report = result.report(colour=False)
    assert report.count(error) == 2
    assert report.count("ERROR (all 4 cases)") == 2
    # above Gradescope's list of tests: one line per function, the error said once
    assert result.to_gradescope()["output"].splitlines()[2:] == [
        f"{target}: 0 of 4 cases passed ({error})" for target in ("rnn_step_forward",
                                                                 "rnn_forward")]


def test_right_outputs_without_credit_are_not_called_failed():
    gate = "No credit for this case: the large case of this check failed."
    tests = [_wrong_dwx("large inputs", "5.0e-01"),
             _test("rnn_step_backward", "T=1", "failed", [_compared("dx", 0.0), gate],
                   score=0.0)]
    assert tests[1].withheld and not tests[0].withheld
    report = GradingResult(tests).report(colour=False)
    assert "NO CREDIT (1 case: T=1 (N=2 D=3 H=4))" in report
    assert "outputs right" in report and gate in report
    assert "FAILED (1 case: large inputs" in report


def test_the_gradescope_json_keeps_one_test_per_case():
    tests = [_wrong_dwx("ordinary", "3.0e-01", [HINT]), _wrong_dwx("D=H", "7.1e-01"),
             _test("rnn_forward", "ordinary", what="hidden states")]
    data = json.loads(json.dumps(GradingResult(tests, 1.0).to_gradescope(), allow_nan=False))
    assert [t["name"] for t in data["tests"]] == [t.name for t in tests]
    assert all({"name", "score", "max_score", "output", "visibility"} <= set(t)
               for t in data["tests"])
    assert data["score"] == 1.0
