"""The Gradescope autograder zip: its contents, a deterministic build, and run_autograder
grading a good, a buggy and a hostile submission in a folder that mimics /autograder."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SOLUTIONS


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    subprocess.run([sys.executable, "-m", "autograder", "autograder-zip", "--output", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return out


def test_zip_follows_the_specification_and_holds_no_student_material(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {info.filename: info for info in zf.infolist()}
    for script in ("setup.sh", "run_autograder"):  # at the root of the archive
        assert script in infos
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    assert {"requirements.lock", "autograder/judging/grade.py", "autograder/sandbox/child/worker.py",
            "autograder/secret.key", "solutions/rnn/rnn_layers.py",
            "solutions/rnn/rnn_classifier.py"} <= set(infos)
    for name in infos:
        assert not name.startswith(("tests/", "assignment/", ".venv/", "source_notebooks/"))
        assert "__pycache__" not in name and not name.endswith(".pyc")
        assert infos[name].date_time == (1980, 1, 1, 0, 0, 0)


def test_build_is_deterministic(autograder_zip, tmp_path):
    again = tmp_path / "again.zip"
    subprocess.run([sys.executable, "-m", "autograder", "autograder-zip", "--output", str(again)],
                   cwd=ROOT, check=True, capture_output=True)
    assert again.read_bytes() == autograder_zip.read_bytes()


def test_scripts_are_valid_bash(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)
    setup = (tmp_path / "setup.sh").read_text()
    # the image's own python3 and its own package sources: no PPA, no fixed minor version
    assert 'PYTHON="${AUTOGRADER_BASE_PYTHON:-python3}"' in setup
    assert "ppa" not in setup.lower() and "add-apt-repository" not in setup
    assert "python3.11" not in setup
    # NumPy pinned (not the lock's newer pin, which has no wheel for 3.10), wheels only;
    # tests/test_python_versions.py installs it for real on other Pythons
    assert "NUMPY_VERSION=2.2.6" in setup and '--only-binary=:all: "numpy==$NUMPY_VERSION"' in setup


def _gradescope_root(autograder_zip: Path, tmp_path: Path, submission: Path) -> Path:
    """/autograder as Gradescope lays it out: source/ (the zip), run_autograder copied
    next to it, submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    return root


def _run_autograder(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("RNN_GRADER_SECRET", None)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _submission(tmp_path: Path, old: str = "", new: str = "", file: str = "rnn_layers.py",
                prefix: str = "") -> Path:
    folder = tmp_path / "student"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = (folder / file).read_text()
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    (folder / file).write_text(prefix + text)
    return folder


def _check_format(results: dict) -> None:
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    assert results["output"].startswith("Score ")
    assert isinstance(results["execution_time"], (int, float))
    assert results["tests"]
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


def test_run_autograder_gives_the_reference_full_marks(autograder_zip, tmp_path):
    root = _gradescope_root(autograder_zip, tmp_path, _submission(tmp_path))
    results = _run_autograder(root)
    _check_format(results)
    assert results["score"] == 100


def test_run_autograder_finds_the_bug(autograder_zip, tmp_path):
    buggy = _submission(tmp_path, "np.add.at(dW, x, dout)", "dW[x] += dout")
    results = _run_autograder(_gradescope_root(autograder_zip, tmp_path, buggy))
    _check_format(results)
    assert 0 < results["score"] < 100
    failed = {t["name"].split(":")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert failed == {"word_embedding_backward"}


def test_a_hostile_submission_cannot_write_its_own_score(autograder_zip, tmp_path):
    root = tmp_path / "autograder"
    fake = {"score": 1000, "output": "hacked", "tests": []}
    hostile = _submission(tmp_path, prefix=(
        "import json, sys\n"
        f"open({str(root / 'results' / 'results.json')!r}, 'w').write({json.dumps(fake)!r})\n"
        "sys.exit(0)\n"))
    results = _run_autograder(_gradescope_root(autograder_zip, tmp_path, hostile))
    _check_format(results)
    assert results["score"] == 0 and results["output"] != "hacked"
    assert len(results["tests"]) > 10


def test_results_exist_even_when_the_grader_cannot_run(autograder_zip, tmp_path):
    root = _gradescope_root(autograder_zip, tmp_path, _submission(tmp_path))
    shutil.rmtree(root / "source" / "autograder")  # a broken upload
    results = _run_autograder(root)
    assert results["score"] == 0 and "could not grade" in results["output"]


def test_the_zip_carries_the_secret_in_force(tmp_path):
    out = tmp_path / "course.zip"
    env = {**os.environ, "RNN_GRADER_SECRET": "the course's own secret"}
    subprocess.run([sys.executable, "-m", "autograder", "autograder-zip", "--output", str(out)],
                   cwd=ROOT, check=True, capture_output=True, env=env)
    with zipfile.ZipFile(out) as zf:
        assert zf.read("autograder/secret.key") == b"the course's own secret\n"


def test_the_zip_carries_the_settings_in_force_and_grades_with_them(tmp_path):
    """A zip built with --config holds the file as settings.toml, and run_autograder
    grades with it: here rnn_backward is worth 30 points instead of 15."""
    settings = tmp_path / "course.toml"
    settings.write_text("[points]\nrnn_backward = 30\n")
    out = tmp_path / "course.zip"
    subprocess.run([sys.executable, "-m", "autograder", "autograder-zip", "--output", str(out),
                    "--config", str(settings)], cwd=ROOT, check=True, capture_output=True)
    with zipfile.ZipFile(out) as zf:
        assert zf.read("settings.toml") == settings.read_bytes()
    results = _run_autograder(_gradescope_root(out, tmp_path, _submission(tmp_path)))
    _check_format(results)
    worth = sum(t["max_score"] for t in results["tests"] if t["name"].startswith("rnn_backward:"))
    assert worth == pytest.approx(30)
    assert results["score"] == pytest.approx(115)
