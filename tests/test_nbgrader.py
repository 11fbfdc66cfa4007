"""The README's nbgrader commands, run exactly as written, grade like `python -m autograder grade`.

A copy of the course directory (the repository without its environment, build output or
tests) gets `make release` (`python -m autograder release`, what the Makefile runs), then
the other nbgrader command the README names (`nbgrader generate_assignment rnn --force`).
Two students hand in the released folder with their modules: one correct, one that clips
the gradients before adding the regularisation gradient. Their notebook is the released
one, unmodified (students write their code in the .py files): its visible training check
fails, as the small-batch hyperparameters are not filled in, before that function's
graded cell runs. There is no CIFAR-10 data. Then the README's command lines run as
written in a shell in the copy, as a new login's (the copy's `.venv` is the project's
environment, as `make` would have made it; neither PYTHONPATH nor that environment's
bin/ on PATH), and the scores are read from nbgrader's own gradebook.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.config import DEFAULT
from autograder.judging.grade import grade
import conftest
from conftest import ROOT, SOLUTIONS

# grade_id of every autograded cell -> the function whose grader points it earns
GRADED_CELLS = {"rnn_step_forward_graded": "rnn_step_forward",
                "rnn_step_backward_graded": "rnn_step_backward",
                "rnn_forward_graded": "rnn_forward", "rnn_backward_graded": "rnn_backward",
                "word_embedding_forward_graded": "word_embedding_forward",
                "word_embedding_backward_graded": "word_embedding_backward",
                "rnn_classifier_loss_graded": "RNNClassifier.loss",
                "rnn_classifier_predict_graded": "RNNClassifier.predict",
                "rnn_classifier_train_graded": "RNNClassifier.train"}
CLIP_BEFORE_REG = ("""        for w in WEIGHTS:
            grads[w] += self.reg * p[w]
        if self.clip is not None:
            for g in grads.values():
                np.clip(g, -self.clip, self.clip, out=g)""",
                   """        if self.clip is not None:
            for g in grads.values():
                np.clip(g, -self.clip, self.clip, out=g)
        for w in WEIGHTS:
            grads[w] += self.reg * p[w]""")
STUDENTS = {"good": None, "clipfirst": CLIP_BEFORE_REG}
HINT = "clipped before adding reg * W"
# Not part of a course directory as an instructor clones it, or made by running it.
NOT_COPIED = (".git", ".venv", "build", "tests", "bench", "submitted", "autograded", "feedback",
              "gradebook.db", "datasets", "__pycache__", ".pytest_cache", ".ipynb_checkpoints")


def readme_commands() -> dict[str, str]:
    """The nbgrader command lines of the README's nbgrader section, by first subcommand."""
    nbgrader = ".venv/bin/nbgrader "
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## nbgrader\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README.md has no '## nbgrader' section"
    lines = [line.strip() for block in re.findall(r"```\n(.*?)```", section.group(1), re.S)
             for line in block.splitlines() if line.strip().startswith(nbgrader)]
    return {line.split()[1]: line for line in lines}


def fresh_shell() -> dict[str, str]:
    """A new login's, with nothing of a Jupyter or CIFAR-10 set-up inherited."""
    return conftest.fresh_shell("CIFAR10_DIR", "RNN_GRADER_BRIDGE", "JUPYTER_CONFIG_DIR")


def tree_hash(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file (and symlink target) under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(
                os.readlink(p).encode() if p.is_symlink() else p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def _run(command, cwd, env, shell=False):
    done = subprocess.run(command, cwd=cwd, env=env, shell=shell, capture_output=True,
                          text=True, timeout=1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} failed:\n{output[-4000:]}"
    return output


def _submit(course: Path, student: str, edit) -> None:
    folder = course / "submitted" / student / "rnn"
    shutil.copytree(course / "assignment" / "rnn", folder,
                    ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    for name in DEFAULT.student_modules:
        shutil.copy(SOLUTIONS / name, folder / name)
    if edit:
        path = folder / "rnn_classifier.py"
        text = path.read_text()
        assert text.count(edit[0]) == 1
        path.write_text(text.replace(*edit))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(course folder, assignment/ hashes after make release, output of the README's
    nbgrader commands)."""
    course = tmp_path_factory.mktemp("course") / "rnn-course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (course / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = fresh_shell()
    _run([sys.executable, "-m", "autograder", "release"], course, env)
    released = tree_hash(course / "assignment")
    commands = readme_commands()
    output = ""
    if "generate_assignment" in commands:
        output += _run(commands["generate_assignment"], course, env, shell=True)
    for student, edit in STUDENTS.items():
        _submit(course, student, edit)
    output += _run(commands["autograde"], course, env, shell=True)
    return course, released, output


def _gradebook_scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """grade_id -> (score, max_score) of every autograded cell of the student's notebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "rnn") as gradebook:
        notebook = gradebook.find_submission_notebook("RNN", "rnn", student)
        return {g.name: (g.score, g.max_score) for g in notebook.grades
                if g.cell.cell_type == "code"}


def _expected_credit(result, target: str, points: float) -> float:
    """The rule the README states: points times the share of the function's grader points."""
    tests = [t for t in result.tests if t.target == target]
    assert tests, target
    return round(points * sum(t.score for t in tests) / sum(t.max_score for t in tests), 4)


@pytest.fixture(scope="module")
def grader_results(course):
    """`python -m autograder grade` of every submitted folder (the grade of record)."""
    folder = course[0] / "submitted"
    return {student: grade(folder / student / "rnn", DEFAULT) for student in STUDENTS}


def test_readme_names_the_commands_that_grade_and_give_feedback():
    commands = readme_commands()
    assert commands.get("autograde") == (".venv/bin/nbgrader autograde rnn && "
                                         ".venv/bin/nbgrader generate_feedback rnn")
    assert commands.get("generate_assignment") == ".venv/bin/nbgrader generate_assignment rnn --force"


def test_readme_commands_name_the_environments_nbgrader():
    """A plain `nbgrader` exists only in a shell where the environment is activated: the
    README's lines name the environment's own (the course fixture runs them in a shell
    without it on PATH)."""
    for line in readme_commands().values():
        for command in line.split("&&"):
            assert command.split()[0] == ".venv/bin/nbgrader", line
    assert (ROOT / ".venv" / "bin" / "nbgrader").exists()


@pytest.mark.parametrize("student", STUDENTS)
def test_each_graded_cell_earns_the_graders_credit_for_its_function(course, grader_results,
                                                                     student):
    scores = _gradebook_scores(course[0], student)
    assert set(scores) == set(GRADED_CELLS), "autograded cells in the gradebook"
    for grade_id, target in GRADED_CELLS.items():
        score, max_score = scores[grade_id]
        expected = _expected_credit(grader_results[student], target, max_score)
        assert score == pytest.approx(expected, abs=1e-4), (student, grade_id, score, expected)


def test_correct_submission_gets_every_autograded_point(course):
    assert all(score == top for score, top in _gradebook_scores(course[0], "good").values())


def test_buggy_submission_loses_part_of_the_loss_cell_only(course):
    scores = _gradebook_scores(course[0], "clipfirst")
    lost = {grade_id for grade_id, (score, top) in scores.items() if score < top}
    assert lost == {"rnn_classifier_loss_graded"}
    score, top = scores["rnn_classifier_loss_graded"]
    assert 0 < score < top  # partial credit, as the grader gives


def test_a_failing_visible_check_does_not_stop_the_graded_cell(course):
    notebook = nbformat.read(course[0] / "autograded" / "good" / "rnn" / "RNN.ipynb", 4)
    cells = {cell.get("id"): cell for cell in notebook.cells}
    errors = [o for o in cells["rnn_classifier_train_check"].outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "NotImplementedError"  # hyperparameters not set
    score, top = _gradebook_scores(course[0], "good")["rnn_classifier_train_graded"]
    assert score == top


def test_feedback_shows_the_graders_hint(course):
    feedback = course[0] / "feedback"
    assert HINT in (feedback / "clipfirst" / "rnn" / "RNN.html").read_text(encoding="utf-8")
    assert HINT not in (feedback / "good" / "rnn" / "RNN.html").read_text(encoding="utf-8")


def test_no_nbgrader_command_changes_anything_in_assignment(course):
    folder, released, _ = course
    assert tree_hash(folder / "assignment") == released


def test_nbgrader_release_folder_holds_only_what_nbgrader_generates(course):
    folder = course[0]
    if "generate_assignment" not in readme_commands():
        pytest.skip("the README names no generate_assignment command")
    nbgrader_release = folder / "build" / "nbgrader" / "release" / "rnn"
    # the notebook and the source folder's data (the quatrains), nothing of ours
    assert sorted(p.name for p in nbgrader_release.iterdir()) == ["RNN.ipynb", "data"]
    assert ((nbgrader_release / "RNN.ipynb").read_bytes()
            == (folder / "assignment" / "rnn" / "RNN.ipynb").read_bytes())


def test_no_checksum_warnings_on_unmodified_notebooks(course):
    output = course[2]
    assert "checksum" not in output.lower(), [line for line in output.splitlines()
                                               if "checksum" in line.lower()]
    assert "has changed" not in output


def test_without_data_the_cifar_cells_skip_with_a_note(course):
    notebook = nbformat.read(course[0] / "autograded" / "good" / "rnn" / "RNN.ipynb", 4)
    cifar = [cell for cell in notebook.cells if cell.cell_type == "code"
             and cell.source.startswith("%%needs_cifar")]
    load = next(cell for cell in notebook.cells if cell.get("id") == "cifar10_load")
    assert len(cifar) >= 5
    # Under autograde the notebook never loads CIFAR-10 (data or not): it would cost time.
    assert "Autograding: CIFAR-10 is not loaded" in "".join(o.get("text", "") for o in load.outputs)
    for cell in [load, *cifar]:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.get("id")
    for cell in cifar:
        assert "Skipped while autograding" in "".join(o.get("text", "") for o in cell.outputs)


def test_repository_is_an_nbgrader_course_directory():
    class Section(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Section())

        def __setattr__(self, name, value):
            self[name] = value

    root = Section()
    path = ROOT / "nbgrader_config.py"
    saved = os.environ.get("RNN_GRADER_BRIDGE")
    try:
        exec(path.read_text(), {"get_config": lambda: root, "__file__": str(path)})
        assert Path(os.environ["RNN_GRADER_BRIDGE"]) == ROOT / "autograder" / "integrations" / "nbgrader_entry.py"
    finally:
        os.environ.pop("RNN_GRADER_BRIDGE", None)
        if saved is not None:
            os.environ["RNN_GRADER_BRIDGE"] = saved
    course = root["CourseDirectory"]
    assert (ROOT / course["source_directory"] / "rnn" / "RNN.ipynb").exists()
    # nbgrader's release folder is not the student release: generate_assignment --force
    # removes the folder it writes to, starters, kit and downloaded data included.
    release = (ROOT / course["release_directory"]).resolve()
    assert release.parts[:len(ROOT.parts) + 1] == (*ROOT.parts, "build")
