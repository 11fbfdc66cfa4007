"""The real `nbgrader autograde` gives the same per-function verdicts as our grader.

A temporary course (nbgrader's own layout: source/, release/, submitted/, autograded/,
feedback/, a SQLite gradebook) holds the source notebook; two students submit the
notebook with their modules and the released self-check kit (also named `autograder`,
which must not shadow the grader): one correct, one with clipping applied before the
regularisation gradient. Scores are read from the real gradebook.
"""
import os
import shutil
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from autograder.config import DEFAULT
from autograder.grade import grade
from cifar_fake import write_fake_cifar
from conftest import RELEASE, ROOT, SOLUTIONS, require_cifar_subset

# grade_id of each graded check cell -> the function the grader grades there
CELLS = {"rnn_step_forward_check": "rnn_step_forward",
         "rnn_step_backward_check": "rnn_step_backward",
         "rnn_forward_check": "rnn_forward", "rnn_backward_check": "rnn_backward",
         "word_embedding_forward_check": "word_embedding_forward",
         "word_embedding_backward_check": "word_embedding_backward",
         "rnn_classifier_loss_check": "RNNClassifier.loss",
         "rnn_classifier_gradient_check": "RNNClassifier.loss",
         "rnn_classifier_train_check": "RNNClassifier.train"}
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


def _nbgrader(course, *args, env=None):
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}",
         "--CourseDirectory.course_id=rnn",
         f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"],
        cwd=course, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def _submit(course, student, edit):
    folder = course / "submitted" / student / "rnn"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    shutil.copy(ROOT / "source_notebooks" / "rnn" / "RNN.ipynb", folder / "RNN.ipynb")
    for name in DEFAULT.student_modules:
        shutil.copy(SOLUTIONS / name, folder / name)
    if edit:
        path = folder / "rnn_classifier.py"
        text = path.read_text()
        assert text.count(edit[0]) == 1
        path.write_text(text.replace(*edit))
    return folder


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course autograded by the real nbgrader, with feedback generated."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source_notebooks" / "rnn", course / "source" / "rnn")
    try:
        cifar = require_cifar_subset()
    except pytest.skip.Exception:  # optional real subset absent: fake files suffice
        cifar = write_fake_cifar(tmp_path_factory.mktemp("cifar"), n_per_batch=900)
    env = dict(os.environ, CIFAR10_DIR=str(cifar), OPENBLAS_NUM_THREADS="1",
               RNN_GRADER_BRIDGE=str(ROOT / "autograder" / "nbgrader_entry.py"),
               PATH=f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")
    _nbgrader(course, "db", "assignment", "add", "rnn", env=env)
    for student, edit in STUDENTS.items():
        _nbgrader(course, "db", "student", "add", student, env=env)
        _submit(course, student, edit)
    _nbgrader(course, "generate_assignment", "rnn", "--force", env=env)
    _nbgrader(course, "autograde", "rnn", "--force", env=env)
    _nbgrader(course, "generate_feedback", "rnn", "--force", env=env)
    return course


def _cell_scores(course, student) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {grade_id: (gradebook.find_grade(grade_id, "RNN", "rnn", student).score,
                           gradebook.find_grade(grade_id, "RNN", "rnn", student).max_score)
                for grade_id in CELLS}


@pytest.mark.parametrize("student", STUDENTS)
def test_autograde_verdicts_match_the_grader(course, student):
    cells = _cell_scores(course, student)
    result = grade(course / "autograded" / student / "rnn", DEFAULT)
    for grade_id, target in CELLS.items():
        score, max_score = cells[grade_id]
        grader_full = all(t.score == t.max_score for t in result.tests if t.target == target)
        assert (score == max_score) == grader_full, (student, grade_id, score, max_score)


def test_correct_submission_gets_every_autograded_point(course):
    assert all(score == max_score for score, max_score in _cell_scores(course, "good").values())


def test_buggy_submission_loses_points_only_on_the_loss(course):
    lost = {CELLS[g] for g, (score, top) in _cell_scores(course, "clipfirst").items()
            if score < top}
    assert lost == {"RNNClassifier.loss"}


def test_feedback_shows_the_graders_hint(course):
    html = (course / "feedback" / "clipfirst" / "rnn" / "RNN.html").read_text()
    assert "clipped before adding reg * W" in html


def test_repository_is_an_nbgrader_course_directory():
    class Section(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Section())

        def __setattr__(self, name, value):
            self[name] = value

    root = Section()
    path = ROOT / "nbgrader_config.py"
    exec(path.read_text(), {"get_config": lambda: root, "__file__": str(path)})
    course = root["CourseDirectory"]
    assert (ROOT / course["source_directory"] / "rnn" / "RNN.ipynb").exists()
    assert (ROOT / course["release_directory"] / "rnn" / "RNN.ipynb").exists()
