"""The student's self-check, as shipped in the release: public cases only, no secrets;
a report a student can act on (notebook order, TODO, fix-first, Next:, exit status)."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from autograder.judging.checks import CHECKS
from autograder.secret import SECRET_FILE
from autograder.judging.selfcheck import NOTEBOOK_SECTIONS
from autograder.sandbox.child import functions
from conftest import RELEASE, ROOT, SOLUTIONS

KIT = RELEASE / "rnnkit"
GRADED = list(dict.fromkeys(c.target for c in CHECKS if c.points > 0))  # notebook order
PROVIDED = {c.target for c in CHECKS if c.points == 0}
ROW = re.compile(r"^  (PASS|FAIL|TODO)  (\S+)", re.MULTILINE)
# public cases of graded checks (provided code's public cases are reported apart)
PUBLIC_CASES = sum(case.public for check in CHECKS if check.points for case in check.cases)


def _student_folder(tmp_path, with_solutions: bool, bug: tuple[str, str] | None = None):
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets"))
    if with_solutions:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            shutil.copy(SOLUTIONS / name, folder / name)
    if bug:
        old, new = bug
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            text = (folder / name).read_text()
            if old in text:
                (folder / name).write_text(text.replace(old, new, 1))
                break
        else:
            raise AssertionError(f"{old!r} is in neither module")
    return folder


def _check(folder, *extra, env=None):
    return subprocess.run([sys.executable, *extra, "-m", "autograder", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=120, env=env)


def _rows(stdout: str) -> dict[str, str]:
    """function -> PASS / FAIL / TODO, from the report's table."""
    return {name: state for state, name in ROW.findall(stdout)}


def test_starter_is_all_todo_in_notebook_order_and_fails(tmp_path):
    done = _check(_student_folder(tmp_path, with_solutions=False))
    assert done.returncode == 1, done.stdout + done.stderr
    assert [name for _, name in ROW.findall(done.stdout)] == GRADED
    assert set(_rows(done.stdout).values()) == {"TODO"}
    assert "ERROR" not in done.stdout
    assert "rnn_step_backward" in done.stdout and "(fix rnn_step_forward first)" in done.stdout
    next_lines = [line for line in done.stdout.splitlines() if line.startswith("Next:")]
    assert next_lines == ["Next: write rnn_step_forward (rnn_layers.py), notebook section "
                          "2.1 Step forward."]
    assert f"Self-check on the public cases: 0 of {PUBLIC_CASES} passed." in done.stdout
    assert "Still losing points: rnn_step_forward, rnn_step_backward" in done.stdout


def test_solutions_pass_everything_and_exit_zero(tmp_path):
    done = _check(_student_folder(tmp_path, with_solutions=True))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _rows(done.stdout) == {name: "PASS" for name in GRADED}
    assert (f"Self-check on the public cases: {PUBLIC_CASES} of {PUBLIC_CASES} passed."
            in done.stdout)
    assert "Still losing points" not in done.stdout
    assert "Next: every public case passes: submit" in done.stdout
    assert "The grader also runs hidden cases" in done.stdout


def test_provided_code_is_neither_counted_nor_listed(tmp_path):
    done = _check(_student_folder(tmp_path, with_solutions=True))
    public = sum(case.public for check in CHECKS if check.points for case in check.cases)
    assert f"{public} of {public} passed" in done.stdout
    for name in PROVIDED:
        assert name not in done.stdout


def test_broken_provided_code_is_reported_and_fails(tmp_path):
    bug = ("self.params = {", "self.params = {'extra': np.zeros(1), ")
    done = _check(_student_folder(tmp_path, with_solutions=True, bug=bug))
    assert done.returncode == 1
    assert "Provided code changed: RNNClassifier.__init__" in done.stdout


@pytest.mark.parametrize("bug, culprit, state, dependants", [
    (("np.add.at(dW, x, dout)", "dW[x] += dout"), "word_embedding_backward", "FAIL", []),
    (("np.tanh(", "np.arctan("), "rnn_step_forward", "FAIL", ["rnn_step_backward"]),
    (("dh0 = dprev_h", "dh0 = np.zeros_like(h0)"), "rnn_backward", "FAIL", []),
    (("### BEGIN SOLUTION\n        h, cache", "### BEGIN SOLUTION\n        raise "
      "NotImplementedError('RNNClassifier.loss: not implemented yet')\n        h, cache"),
     "RNNClassifier.loss", "TODO", ["RNNClassifier.predict", "RNNClassifier.train"]),
])
def test_one_bug_names_that_function_first(tmp_path, bug, culprit, state, dependants):
    done = _check(_student_folder(tmp_path, with_solutions=True, bug=bug))
    assert done.returncode == 1, done.stdout + done.stderr
    rows = _rows(done.stdout)
    assert rows[culprit] == state, done.stdout
    assert {name for name, s in rows.items() if s == "PASS"} <= set(GRADED) - {culprit}
    for name in dependants:
        if rows[name] != "PASS":
            assert re.search(rf"^  \w+  {re.escape(name)} .*\(fix {re.escape(culprit)} first\)",
                             done.stdout, re.MULTILINE), done.stdout
    verb = "write" if state == "TODO" else "fix"
    section = NOTEBOOK_SECTIONS[culprit]
    assert f"Next: {verb} {culprit} (" in done.stdout and f"section {section}." in done.stdout
    assert f"notebook 第 {functions.SECTION_NUMBERS[culprit]} 节" in done.stdout


def test_points_are_on_the_graders_scale_with_the_public_share():
    from autograder.judging.checks import identity_of
    from autograder.judging.results import GradingResult, TestResult
    from autograder.judging.selfcheck import report

    total = sum(check.points for check in CHECKS)
    public = sum(check.points / len(check.cases) for check in CHECKS
                 for case in check.cases if case.public)
    tests = [TestResult(identity_of(check, case),
                        check.points / len(check.cases), check.points / len(check.cases), "")
             for check in CHECKS for case in check.cases if case.public]
    text = report(GradingResult(tests))
    assert total == 100
    assert (f"Points, on the grader's 100-point scale: the public cases cover {public:.2f} "
            f"of them, and those you pass are worth {public:.2f}; the hidden cases decide "
            f"the other {100 - public:.2f}.") in text
    for check in CHECKS:
        if check.points:
            worth = sum(c.points for c in CHECKS if c.target == check.target)
            assert re.search(rf"PASS  {re.escape(check.target)} +\S+ +{worth:g} of 100", text)


def test_sections_are_the_notebooks_headings_in_the_notebooks_order():
    """Every graded function names the heading of its notebook section; CHECKS lists the
    functions in the notebook's order."""
    notebook = json.loads((ROOT / "source_notebooks" / "rnn" / "RNN.ipynb").read_text())
    headings = [line.lstrip("#").strip() for cell in notebook["cells"]
                if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines() if line.startswith("#")]
    # the optional extensions' functions (checks.EXTENSION_CHECKS) have sections too
    assert [t for t in NOTEBOOK_SECTIONS if t in GRADED] == GRADED
    positions = []
    for target, section in NOTEBOOK_SECTIONS.items():
        found = [i for i, heading in enumerate(headings) if heading.startswith(section)]
        assert found, f"{target}: no heading '{section}' in RNN.ipynb"
        positions += found[:1] if target in GRADED else []
    assert positions == sorted(positions), "CHECKS is not in the notebook's order"


def test_without_numpy_the_kit_says_what_to_install(tmp_path):
    folder = _student_folder(tmp_path, with_solutions=True)
    blocker = tmp_path / "no-numpy" / "numpy"  # an interpreter on which numpy is missing
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'numpy'\", name='numpy')\n")
    import os
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    done = _check(folder, env=env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "needs NumPy" in done.stderr
    assert "pip install -r requirements.txt" in done.stderr


def test_kit_holds_no_reference_hints_or_secret():
    names = {p.name for p in KIT.rglob("*") if p.is_file()}
    assert not names & {"hints.py", "reference.py", "secret.py", "secret.key", "grade.py"}
    secret = SECRET_FILE.read_text().strip()
    for path in RELEASE.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
