"""The grader and the student kit on a second Python (3.10-3.13), as Gradescope runs them.

Gradescope's images bring their own python3 (Ubuntu 22.04: 3.10, 24.04: 3.12); the
students bring any of 3.10-3.13. For each other interpreter found here (the oldest and
the newest that differ from the one running the suite), the real setup.sh builds a
throwaway virtual environment with the NumPy it pins (from the package registry, as on
Gradescope) and grades the reference; then run_autograder grades the reference and a
buggy submission there, and both results must be the ones this interpreter gives. The
self-check kit runs there too. With no second interpreter the tests skip, saying so.

Interpreters are found by what they can do (run, be 3.10-3.13, have venv and ensurepip),
among: python3 and python3.10 ... python3.13 on PATH, $RNN_TEST_PYTHONS (paths separated
by os.pathsep) and pyenv's versions ($PYENV_ROOT, default ~/.pyenv).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.judging.checks import CHECKS

from conftest import RELEASE, ROOT, SOLUTIONS

SUPPORTED = [(3, minor) for minor in range(10, 14)]
PROBE = "import sys, venv, ensurepip; print(sys.version_info[0], sys.version_info[1])"
BUG = ("np.add.at(dW, x, dout)", "dW[x] += dout")  # word_embedding_backward


def _candidates() -> list[str]:
    names = ["python3", *(f"python3.{minor}" for _, minor in SUPPORTED)]
    found = [shutil.which(name) for name in names]
    found += os.environ.get("RNN_TEST_PYTHONS", "").split(os.pathsep)
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found += sorted(glob.glob(os.path.join(pyenv, "versions", "*", "bin", "python3")))
    return [path for path in dict.fromkeys(found) if path]


def _version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run([python, "-I", "-c", PROBE], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        major, minor = map(int, done.stdout.split())
    except ValueError:  # failed, or an interpreter too old to run the probe as meant
        return None
    return (major, minor) if done.returncode == 0 else None


def other_pythons() -> dict[tuple[int, int], str]:
    """version -> interpreter, for the supported versions other than this one."""
    here = sys.version_info[:2]
    by_version = {}
    for python in _candidates():
        version = _version(python)
        if version in SUPPORTED and version != here and version not in by_version:
            by_version[version] = python
    return by_version


def _chosen() -> list[tuple[int, int]]:
    versions = sorted(other_pythons())
    return sorted({versions[0], versions[-1]}) if versions else []


CHOSEN = _chosen()
PARAMS = ([pytest.param(v, id=f"python{v[0]}.{v[1]}") for v in CHOSEN] or
          [pytest.param(None, id="none", marks=pytest.mark.skip(
              reason="no second Python 3.10-3.13 with venv on this machine (optional: "
                     "install one, e.g. Debian's python3, or set RNN_TEST_PYTHONS)"))])


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    subprocess.run([sys.executable, "-m", "autograder", "autograder-zip", "--output", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return out


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RNN_GRADER_SECRET", "PYTHONPATH")}
    return {**env, **extra}


@pytest.fixture(scope="module", params=PARAMS)
def gradescope(request, autograder_zip, tmp_path_factory):
    """/autograder after the real setup.sh ran with the other interpreter."""
    python = other_pythons()[request.param]
    root = tmp_path_factory.mktemp(f"py{request.param[1]}") / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True,
                          text=True, timeout=600,
                          env=_env(AUTOGRADER_ROOT=str(root), AUTOGRADER_BASE_PYTHON=python,
                                   AUTOGRADER_VENV=str(root / "venv")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, request.param, done.stdout


def _submission(folder: Path, bug: tuple[str, str] | None) -> Path:
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if bug:
        text = (folder / "rnn_layers.py").read_text()
        assert text.count(bug[0]) == 1
        (folder / "rnn_layers.py").write_text(text.replace(*bug))
    return folder


def _on_gradescope(root: Path, submission: Path) -> dict:
    """run_autograder on `submission` with the venv setup.sh made."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env=_env(AUTOGRADER_ROOT=str(root)))
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _here(submission: Path, tmp_path: Path) -> dict:
    """The same submission graded by this interpreter (the project's venv)."""
    out = tmp_path / "here.json"
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--output",
                    str(out), "--no-colour"], cwd=ROOT, check=True, capture_output=True,
                   env=_env())
    return json.loads(out.read_text())


def _verdicts(results: dict) -> list[tuple]:
    return [(t["name"], round(t["score"], 6), t["max_score"], t["status"])
            for t in results["tests"]]


def test_setup_uses_the_images_python_and_grades_the_reference(gradescope):
    root, version, stdout = gradescope
    assert f"reference solution graded on Python {version[0]}.{version[1]}." in stdout
    assert "100" in stdout.splitlines()[-1]
    venv_python = root / "venv" / "bin" / "python"
    done = subprocess.run([str(venv_python), "-c", "import sys, numpy; "
                           "print(sys.version_info[:2], numpy.__version__)"],
                          capture_output=True, text=True, check=True)
    setup = (root / "source" / "setup.sh").read_text()
    pin = setup.split("NUMPY_VERSION=")[1].split()[0]
    assert done.stdout.strip() == f"{version} {pin}"


@pytest.mark.parametrize("bug", [None, BUG], ids=["reference", "buggy"])
def test_grades_are_the_same_as_on_this_python(gradescope, tmp_path, bug):
    root, _, _ = gradescope
    submission = _submission(tmp_path / "student", bug)
    there, here = _on_gradescope(root, submission), _here(submission, tmp_path)
    assert _verdicts(there) == _verdicts(here)
    assert there["score"] == here["score"] == (100 if bug is None else there["score"])
    if bug:
        failed = {t["name"].split(":")[0] for t in there["tests"] if t["status"] != "passed"}
        assert failed == {"word_embedding_backward"}


@pytest.mark.parametrize("filled, status", [(False, 1), (True, 0)], ids=["starter", "filled"])
def test_student_kit_runs_there(gradescope, tmp_path, filled, status):
    root, _, _ = gradescope
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets"))
    if filled:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            shutil.copy(SOLUTIONS / name, folder / name)
    done = subprocess.run([str(root / "venv" / "bin" / "python"), "-m", "autograder", "check"],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == status, done.stdout + done.stderr
    assert "Self-check on the public cases: " in done.stdout
    public = sum(case.public for check in CHECKS if check.points for case in check.cases)
    assert (f"{public} of {public} passed" in done.stdout) == filled


def test_student_kit_runs_with_the_oldest_numpy_requirements_allows(tmp_path):
    """requirements.txt's lower bound (student_files.NUMPY_MIN), on the oldest other
    Python that NumPy release has wheels for (it predates 3.13)."""
    from autograder.release.student_files import NUMPY_MIN

    usable = [v for v in sorted(other_pythons()) if v <= (3, 12)]
    if not usable:
        pytest.skip("no second Python 3.10-3.12 on this machine (optional)")
    venv = tmp_path / "venv"
    subprocess.run([other_pythons()[usable[0]], "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--only-binary=:all:",
                    f"numpy~={NUMPY_MIN}.0"], check=True, capture_output=True, timeout=600)
    folder = tmp_path / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets"))
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        shutil.copy(SOLUTIONS / name, folder / name)
    done = subprocess.run([python, "-m", "autograder", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    version = subprocess.run([python, "-c", "import numpy; print(numpy.__version__)"],
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith(NUMPY_MIN + ".")
