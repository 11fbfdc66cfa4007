"""The student's self-check, as shipped in the release: public cases only, no secrets."""
import shutil
import subprocess
import sys

import pytest

from autograder.secret import SECRET_FILE
from conftest import RELEASE, SOLUTIONS

KIT = RELEASE / "autograder"


def _student_folder(tmp_path, with_solutions: bool):
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder)
    if with_solutions:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            shutil.copy(SOLUTIONS / name, folder / name)
    return folder


def _check(folder):
    return subprocess.run([sys.executable, "-m", "autograder", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("with_solutions, expected", [
    (False, "Not implemented yet"),
    (True, "Self-check on the public cases: 12 of 12 passed."),
])
def test_check_runs_in_the_students_folder(tmp_path, with_solutions, expected):
    done = _check(_student_folder(tmp_path, with_solutions))
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
    assert "The grader also runs hidden cases" in done.stdout


def test_check_names_the_function_still_losing_points(tmp_path):
    folder = _student_folder(tmp_path, with_solutions=True)
    text = (folder / "rnn_layers.py").read_text()
    (folder / "rnn_layers.py").write_text(text.replace("np.add.at(dW, x, dout)", "dW[x] += dout"))
    done = _check(folder)
    assert "Still losing points: word_embedding_backward" in done.stdout


def test_kit_holds_no_reference_hints_or_secret():
    names = {p.name for p in KIT.rglob("*") if p.is_file()}
    assert not names & {"hints.py", "reference.py", "secret.py", "secret.key", "grade.py"}
    secret = SECRET_FILE.read_text().strip()
    for path in RELEASE.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
