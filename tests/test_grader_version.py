"""grade-all's grader version: an edit to what grades changes it; an edit to a file that
does not grade (store.NOT_GRADING, named by its path in the layers) does not."""
import dataclasses
import shutil

import pytest

from autograder.classroom import store
from autograder.config import DEFAULT

from conftest import ROOT


def test_every_file_named_not_grading_exists():
    missing = sorted(name for name in store.NOT_GRADING if not (ROOT / name).is_file())
    assert missing == [], missing


@pytest.mark.parametrize("name, changes", [
    ("autograder/classroom/pages.py", False),
    ("autograder/judging/engine.py", True),
    ("solutions/rnn/rnn_layers.py", True),
], ids=["report pages", "engine", "reference"])
def test_an_edit_changes_the_version_when_it_can_change_a_grade(tmp_path, monkeypatch, name,
                                                                 changes):
    monkeypatch.setenv("RNN_GRADER_SECRET", "0" * 64)
    for part in store.GRADER_PARTS:
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    config = dataclasses.replace(DEFAULT, root=tmp_path)
    before = store.grader_version(config)
    with open(tmp_path / name, "a", encoding="utf-8") as file:
        file.write("\n# an edit\n")
    assert (store.grader_version(config) != before) == changes
