"""The READMEs cannot drift from the code they describe: every verb, make target and
project file they name exists (the numbers and sample outputs are checked by the tests
named beside them: test_coverage, test_student_readme, test_settings, test_notebook)."""
import re
from pathlib import Path

import pytest

from autograder.cli import VERBS
from conftest import ROOT

READMES = [ROOT / "README.md", ROOT / "assignment" / "rnn" / "README.md",
           ROOT / "autograder" / "release" / "student" / "README.md"]
KIT_VERBS = {"check", "pack"}  # the student kit's `python -m autograder` (release/kit.py)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_autograder_verb_named_exists(readme):
    verbs = set(re.findall(r"python -m autograder ([a-z][a-z-]*)", _text(readme)))
    known = set(VERBS) if readme == READMES[0] else KIT_VERBS
    assert verbs and verbs <= known, verbs - known


def test_every_make_target_named_exists():
    makefile = _text(ROOT / "Makefile")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", _text(READMES[0])))
    assert named and named <= targets, named - targets


@pytest.mark.parametrize("readme", READMES[:1], ids=["README.md"])
def test_every_project_file_named_exists(readme):
    paths = set(re.findall(r"`((?:autograder|tests|bench|solutions|source_notebooks)/"
                           r"[\w/.-]+\.(?:py|md|toml|j2|ipynb|sh|tsv))`", _text(readme)))
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert paths and missing == [], missing


def test_the_kit_has_the_verbs_the_student_readme_names():
    kit = ROOT / "assignment" / "rnn" / "autograder"
    for verb in KIT_VERBS:
        assert (kit / f"{'selfcheck' if verb == 'check' else verb}.py").exists(), verb


def test_every_grader_module_is_in_the_readme_map():
    """'What is where' names every module of autograder/ (a folder counts for its files)."""
    readme = _text(READMES[0])
    tree = readme.split("## What is where", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"^\s+([\w/]+(?:\.py)?)/?\s", tree, flags=re.M))
    modules = {p.relative_to(ROOT / "autograder").as_posix()
               for p in (ROOT / "autograder").glob("*.py")} - {
        "__init__.py", "__main__.py", "cli.py", "config.py", "config_command.py",
        "grade_command.py", "reference.py", "secret.py", "inert.py", "limits.py",
        "allowlist.py", "bwrap.py", "compare.py", "validate.py", "nbgrader_entry.py",
        "dask_scheduler.py", "dask_worker.py"}
    missing = sorted(m for m in modules if m not in named)
    assert missing == [], missing
