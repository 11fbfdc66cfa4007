"""The grader end to end: full marks, zero for the starter, stable, isolated, valid JSON."""
import dataclasses
import json
import shutil
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from autograder.judging.checks import CHECKS
from autograder.sandbox.child import wire
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from autograder.sandbox.process import SandboxError, StudentProcess
from conftest import RELEASE, ROOT, SOLUTIONS

TARGETS = {check.target for check in CHECKS}


def _copy_solutions(tmp_path, edits=None):
    """The reference in a fresh folder, with {file: (old, new)} replacements."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for name, (old, new) in (edits or {}).items():
        text = (folder / name).read_text()
        assert text.count(old) == 1, old
        (folder / name).write_text(text.replace(old, new))
    return folder


def test_solutions_get_full_marks():
    result = grade(SOLUTIONS, DEFAULT)
    assert result.score == result.max_score == 100
    assert all(t.status == "passed" for t in result.tests)


def test_every_test_name_begins_with_the_function_it_grades():
    result = grade(SOLUTIONS, DEFAULT)
    assert {t.target for t in result.tests} == TARGETS
    assert len({t.name for t in result.tests}) == len(result.tests)


def test_released_starter_scores_zero_with_a_not_implemented_line_per_test():
    if not (RELEASE / "rnn_layers.py").exists():
        pytest.fail("assignment/rnn is missing: run make release")
    result = grade(RELEASE, DEFAULT)
    assert result.score == 0 and result.max_score == 100
    for test in result.tests:
        if test.max_score > 0:  # the rest grade provided code, for information only
            assert "Not implemented yet" in test.output, test.output
            assert test.status == "error"


def test_same_submission_graded_five_times_gives_the_same_result():
    runs = [grade(SOLUTIONS, DEFAULT).to_gradescope() for _ in range(5)]
    for run in runs[1:]:
        assert [(t["name"], t["score"], t["output"]) for t in run["tests"]] == \
               [(t["name"], t["score"], t["output"]) for t in runs[0]["tests"]]


def test_cases_depend_on_the_submission_and_the_secret(tmp_path, monkeypatch):
    first = grade(SOLUTIONS, DEFAULT).tests
    changed = _copy_solutions(tmp_path, {"rnn_layers.py": ('"""Layers', '"""My layers')})
    second = grade(changed, DEFAULT).tests
    monkeypatch.setenv("RNN_GRADER_SECRET", "another course")
    third = grade(SOLUTIONS, DEFAULT).tests
    shapes = [[t.output.splitlines()[0] for t in run] for run in (first, second, third)]
    assert shapes[0] != shapes[1] and shapes[0] != shapes[2]


def test_results_json_is_strict_gradescope_format(tmp_path):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS),
                    "--output", str(out)], cwd=ROOT, check=True, capture_output=True)
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert {"score", "execution_time", "output", "tests"} <= set(data)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_unreadable_submission_still_gives_valid_results(tmp_path):
    junk = tmp_path / "submission.zip"
    junk.write_bytes(b"this is not a zip")
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(junk),
                           "--output", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "not a folder or a readable .zip" in data["output"]


def test_a_hang_costs_only_its_own_tests(tmp_path):
    folder = _copy_solutions(tmp_path, {"rnn_layers.py": (
        "    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)",
        "    while True:\n        pass")})
    result = grade(folder, dataclasses.replace(DEFAULT, timeout_scale=0.05))
    hung = [t for t in result.tests if t.target == "rnn_step_forward"]
    assert all(t.status == "timeout" and t.score == 0 for t in hung)
    others = [t for t in result.tests if t.target in ("rnn_forward", "RNNClassifier.train")]
    assert all(t.status == "passed" for t in others)


@pytest.mark.parametrize("exit_call", ["os._exit(0)", "sys.exit(0)", "raise KeyboardInterrupt"])
def test_exiting_in_a_function_costs_only_that_function(tmp_path, exit_call):
    folder = _copy_solutions(tmp_path, {"rnn_layers.py": (
        "    out = W[x]  # (N, T, D)",
        f"    import os, sys\n    {exit_call}")})
    result = grade(folder, DEFAULT)
    lost = {t.target for t in result.tests if t.score < t.max_score}
    assert lost == {"word_embedding_forward", "word_embedding_backward"}, [t.output for t in result.tests if t.target == "RNNClassifier.loss" and t.score < t.max_score]


def test_wire_rejects_objects_and_malformed_messages():
    message = wire.encode({"a": np.arange(3.0), "b": [1, "x", None]})
    decoded = wire.decode(message)
    np.testing.assert_array_equal(decoded["a"], [0.0, 1.0, 2.0])
    forged = message.replace(b"<f8", b"|O8")
    with pytest.raises(wire.WireError):
        wire.decode(forged)
    with pytest.raises(wire.WireError):
        wire.decode(message[:-4])
    assert isinstance(wire.decode(wire.encode(object())), wire.Unsupported)


def test_detached_background_processes_do_not_outlive_grading(tmp_path):
    marker = tmp_path / "daemon.pid"
    daemon = tmp_path / "daemon.py"
    daemon.write_text(f"import os, time\nopen({str(marker)!r} + '.tmp', 'w').write(str(os.getpid()))\n"
                      f"os.replace({str(marker)!r} + '.tmp', {str(marker)!r})\ntime.sleep(600)\n")
    folder = _copy_solutions(tmp_path, {"rnn_layers.py": (
        "    out = W[x]  # (N, T, D)",
        "    import os, subprocess, sys, time\n"
        f"    if not os.path.exists({str(marker)!r}):  # one daemon (a flood meets the process cap)\n"
        f"        subprocess.Popen([sys.executable, {str(daemon)!r}], start_new_session=True)\n"
        f"    while not os.path.exists({str(marker)!r}):\n"
        "        time.sleep(0.01)\n"
        "    out = W[x]  # (N, T, D)")})
    # Without the jail (no user switch, no namespaces): the subreaper and orphan kill of
    # sandbox.py alone must end the daemon. test_hostile covers the jailed default.
    result = grade(folder, dataclasses.replace(DEFAULT, student_user=None, namespaces=False))
    assert result.score == 100  # the function itself is right
    pid = int(marker.read_text())
    assert not Path(f"/proc/{pid}").exists(), "a detached process outlived grading"


def test_a_syntax_error_is_reported_once_per_function(tmp_path):
    """Not one identical row per case: the report says it once for each function; the
    JSON still lists every test."""
    folder = _copy_solutions(tmp_path, {"rnn_layers.py": (
        "def rnn_step_forward(x, prev_h, Wx, Wh, b):", "def rnn_step_forward(x, prev_h, Wx, Wh, b)")})
    result = grade(folder, DEFAULT)
    report = result.report(colour=False)
    # rnn_classifier.py imports rnn_layers.py: every function fails on the import
    assert report.count("SyntaxError") == len(TARGETS)
    assert all(f"{target}: 0 of" in report for target in TARGETS)
    assert len(result.to_gradescope()["tests"]) == len(result.tests)


def _step_request() -> dict:
    rng = np.random.default_rng(0)
    return {"function": "rnn_step_forward",
            "args": [rng.standard_normal((2, 3)), rng.standard_normal((2, 4)),
                     rng.standard_normal((3, 4)), rng.standard_normal((4, 4)),
                     rng.standard_normal(4)]}


def test_the_module_imported_at_boot_is_not_asked_again(tmp_path):
    """boot(module) asks the import while the grader prepares its cases; the first
    request reads that reply instead of asking again, and gets its own answer."""
    student = StudentProcess(_copy_solutions(tmp_path))
    asked = []
    send = student._send
    student._send = lambda message, deadline: asked.append(message["op"]) or send(message,
                                                                                deadline)
    try:
        student.boot("rnn_layers")
        assert student.importing == "rnn_layers"
        reply = student.request("forward", _step_request(), 30)
        assert "ok" in reply and reply["ok"]["out"].shape == (2, 4)
        assert student.importing == "" and student.imported == {"rnn_layers"}
        student.request("init", {"init": {"input_dim": 3, "hidden_dim": 4,
                                          "num_classes": 2}}, 30)
    finally:
        student.close()
    # once at boot, then rnn_classifier when needed
    assert asked == ["import", "forward", "import", "init"]


def _step_output(request: dict) -> np.ndarray:
    x, prev_h, Wx, Wh, b = request["args"]
    return np.tanh(x @ Wx + prev_h @ Wh + b)


def test_a_request_sent_ahead_is_read_by_its_own_request_even_after_another(tmp_path):
    """send_ahead: the process computes a request while the grader judges the last
    reply; the request() with that payload reads its reply without sending it again.
    Another request in between (an explanation) reads it first and keeps it: each
    payload gets its own answer."""
    student = StudentProcess(_copy_solutions(tmp_path))
    sent = []
    send = student._send
    student._send = lambda message, deadline: sent.append(message["op"]) or send(message,
                                                                               deadline)
    first, second, third = _step_request(), _step_request(), _step_request()
    second["args"][0] = second["args"][0] + 1.0
    third["args"][0] = third["args"][0] - 1.0
    try:
        assert not student.send_ahead("forward", first, 30)  # not running yet: not sent
        student.request("forward", first, 30)
        assert student.send_ahead("forward", second, 30)
        assert not student.send_ahead("forward", third, 30)  # one in flight at a time
        between = student.request("forward", third, 30)  # drains `second` first
        reply = student.request("forward", second, 30)
    finally:
        student.close()
    assert sent == ["import", "forward", "forward", "forward"]
    assert np.allclose(reply["ok"]["out"], _step_output(second))
    assert np.allclose(between["ok"]["out"], _step_output(third))


def test_a_request_sent_ahead_and_lost_with_its_process_fails_in_its_own_turn(tmp_path):
    student = StudentProcess(_copy_solutions(tmp_path))
    ahead = _step_request()
    try:
        student.request("forward", _step_request(), 30)
        assert student.send_ahead("forward", ahead, 30)
        student.kill()
        with pytest.raises(SandboxError, match="stopped while it computed"):
            student.request("forward", ahead, 30)
        assert "ok" in student.request("forward", ahead, 30)  # asked again: a fresh process
    finally:
        student.close()


def test_grading_the_reference_sends_most_cases_ahead(monkeypatch):
    sent = []
    send_ahead = StudentProcess.send_ahead
    monkeypatch.setattr(StudentProcess, "send_ahead",
                        lambda self, *a: sent.append(send_ahead(self, *a)) or sent[-1])
    result = grade(SOLUTIONS, DEFAULT)
    assert result.score == 100.0
    assert sum(sent) >= len(result.tests) // 2, sent


@pytest.mark.parametrize("bug", ["step_backward_dWh_transposed", "backward_dh0_zero",
                                 "forward_h0_ignored"])
def test_cases_sent_ahead_get_the_verdicts_and_feedback_of_one_at_a_time(tmp_path, bug,
                                                                       monkeypatch):
    """Judging case k while the student process computes k+1 changes nothing a student
    sees: wrong backwards (explained by asking the process again) and a wrong forward
    (its callers' cases served by the reference) graded with and without sending ahead."""
    from submissions.bugs import BUGS, apply_bug

    folder = apply_bug(next(b for b in BUGS if b.name == bug), tmp_path / bug)
    ahead = grade(folder, DEFAULT)
    monkeypatch.setattr(StudentProcess, "send_ahead", lambda self, *a: False)
    one_at_a_time = grade(folder, DEFAULT)
    assert ahead.score < 100
    assert [(t.name, t.score, t.status, t.output) for t in ahead.tests] == \
        [(t.name, t.score, t.status, t.output) for t in one_at_a_time.tests]


@pytest.mark.parametrize("module", ["rnn_layers", "rnn_classifier"])
def test_a_fatal_import_at_boot_is_reported_by_the_request_that_needs_it(tmp_path, module):
    """An import asked at boot that ends the process fails the first request of its
    module as an import asked then would; asked for another module, the request goes on
    in a fresh process and the failure waits for its own module's requests."""
    folder = _copy_solutions(tmp_path, {"rnn_layers.py": (
        '"""Layers', 'raise SystemExit(3)\n"""Layers')})
    (folder / "rnn_classifier.py").write_text("raise SystemExit(4)\n")
    other = "rnn_classifier" if module == "rnn_layers" else "rnn_layers"
    student = StudentProcess(folder)
    try:
        student.boot(module)
        with pytest.raises(SandboxError, match=f"Importing {other}.py raised SystemExit"):
            student.request("forward" if other == "rnn_layers" else "init",
                            _step_request() if other == "rnn_layers" else {"init": {}}, 30)
        with pytest.raises(SandboxError, match=f"Importing {module}.py raised SystemExit"):
            student.request("forward" if module == "rnn_layers" else "init",
                            _step_request() if module == "rnn_layers" else {"init": {}}, 30)
    finally:
        student.close()
