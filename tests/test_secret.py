"""The grading secret is the course's (issue 19): never in git, made on first use (0600),
announced once with how to share it; RNN_GRADER_SECRET overrides it."""
import argparse
import shutil
import stat
import subprocess

import pytest

from autograder import grade_command, secret
from autograder.config import DEFAULT
from conftest import ROOT, SOLUTIONS


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """secret.key at a place where there is none yet, no RNN_GRADER_SECRET."""
    path = tmp_path / "secret.key"
    monkeypatch.setattr(secret, "SECRET_FILE", path)
    monkeypatch.setattr(secret, "_created", [])
    monkeypatch.delenv(secret.ENVIRONMENT, raising=False)
    return path


def test_first_use_makes_a_private_random_secret_once(fresh):
    assert secret.existing_secret() is None and not fresh.exists()  # looking makes none
    first = secret.load_secret()
    assert len(first) == 64 and int(first, 16) >= 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert secret.load_secret() == first == secret.existing_secret()
    notice = secret.creation_notice()
    assert str(fresh) in notice and "RNN_GRADER_SECRET" in notice and "\n" not in notice
    assert [p.name for p in fresh.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_a_secret_made_meanwhile_by_another_process_is_kept(fresh):
    fresh.write_text("the other process's\n")
    secret._create(fresh)  # what a process that found none a moment ago does
    assert secret.load_secret() == b"the other process's"
    assert secret.creation_notice() == ""
    assert [p.name for p in fresh.parent.iterdir()] == ["secret.key"]


def test_the_environment_overrides_the_file_and_makes_none(fresh, monkeypatch):
    monkeypatch.setenv(secret.ENVIRONMENT, "course 2026")
    assert secret.load_secret() == b"course 2026" and not fresh.exists()


def test_an_empty_secret_file_is_an_error_naming_it(fresh):
    fresh.write_text("\n")
    with pytest.raises(ValueError, match=str(fresh)):
        secret.load_secret()


def test_grade_says_once_where_the_secret_it_made_is(fresh, tmp_path, capsys):
    student = tmp_path / "s"
    shutil.copytree(SOLUTIONS, student, ignore=shutil.ignore_patterns("__pycache__"))
    args = argparse.Namespace(submission=student, output=None, no_colour=True)
    assert grade_command.run(args, DEFAULT) == 0
    err = capsys.readouterr().err
    assert err.count("Created the grading secret") == 1 and str(fresh) in err
    secret._created.clear()
    assert grade_command.run(args, DEFAULT) == 0
    assert "Created the grading secret" not in capsys.readouterr().err


def test_the_secret_file_is_not_in_git():
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout (optional resource: git)")
    tracked = subprocess.run(["git", "ls-files", "autograder/secret.key"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert tracked == ""
    ignored = subprocess.run(["git", "check-ignore", "-q", "autograder/secret.key"], cwd=ROOT)
    assert ignored.returncode == 0


def test_the_readme_shows_the_notice_as_printed(fresh, monkeypatch):
    monkeypatch.setattr(secret, "_created", [ROOT.parent / "rnn-homework" / "autograder" / "secret.key"])
    shown = secret.creation_notice().replace(str(ROOT.parent), "/path/to")
    assert shown in (ROOT / "README.md").read_text(encoding="utf-8")
