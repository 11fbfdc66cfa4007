"""The READMEs cannot drift from the code they describe: every verb, make target and
project file they name exists (the numbers and sample outputs are checked by the tests
named beside them: test_coverage, test_student_readme, test_settings, test_notebook).

README.md's commands work from a fresh shell after its setup command (`make release`,
which makes .venv/): each one that runs Python runs the project's environment
(`.venv/bin/...` or a make target whose commands do), or is a student's command of the
student README (tests/test_student_readme.py runs those word for word). The local
grading lines run here; the Dask, Slurm, nbgrader and data lines run in test_dask,
test_batch, test_nbgrader and test_data_download."""
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from autograder.cli import VERBS
import conftest
from conftest import RELEASE, ROOT, SOLUTIONS

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
    kit = ROOT / "assignment" / "rnn" / "rnnkit"
    for verb in KIT_VERBS:
        assert (kit / {"check": "judging/selfcheck.py", "pack": "intake/pack.py"}[verb]).exists(), verb


def _tree_paths(tree: str) -> tuple[set[str], set[str]]:
    """The paths under autograder/ that 'What is where' names (nested by indentation),
    and the folders named without any of their files (which count for all of them)."""
    named, stack = set(), []
    for line in tree.split("\n"):
        match = re.match(r"^( +)([\w/]+(?:\.py)?)(?: |$)", line)
        if not match or not line.startswith("  ") or len(match.group(1)) > 8:
            continue
        depth = len(match.group(1)) // 2 - 1
        stack[depth:] = [match.group(2)]
        named.add("".join(stack))
    leaves = {n for n in named if n.endswith("/") and (n.count("/") > 1 or not any(
        m != n and m.startswith(n) for m in named))}
    return named, leaves


def test_every_grader_module_is_in_the_readme_map():
    """'What is where' names every module of autograder/, at its place in the layers (a
    folder named alone counts for its files)."""
    readme = _text(READMES[0])
    tree = readme.split("## What is where", 1)[1].split("```", 2)[1]
    named, leaves = _tree_paths(tree)
    modules = {p.relative_to(ROOT / "autograder").as_posix()
               for p in (ROOT / "autograder").rglob("*.py")} - {
        "__init__.py", "__main__.py", "cli.py", "config.py", "config_command.py",
        "grade_command.py", "judging/reference.py", "secret.py", "intake/inert.py",
        "sandbox/limits.py", "sandbox/allowlist.py", "sandbox/bwrap.py",
        "judging/compare.py", "judging/validate.py", "integrations/nbgrader_entry.py",
        "classroom/dask_scheduler.py", "classroom/dask_worker.py"}
    missing = sorted(m for m in modules if m not in named and not m.endswith("__init__.py")
                     and not any(m.startswith(folder) for folder in leaves))
    assert missing == [], missing


# ----------------------------------------------------------------- README.md's commands

PROGRAMS = {"make", "python", "python3", "cd", "sbatch", "tar", "git", "scp", "jupyter",
            "nbgrader"}
BARE_PYTHON = re.compile(r"(?<![\w/.-])python3?(?![\w/.-])")  # not .venv/bin/python


def readme_commands(path: Path) -> list[str]:
    """The commands of a README: the lines of its ``` blocks (a trailing `\\` joins the
    next line, a `  # comment` is dropped) and its inline code spans (whitespace made
    single) that start with a program."""
    fenced, prose, inside = [], [], None  # inside: the fence's language, None outside
    for line in _text(path).splitlines():
        if line.strip().startswith("```"):
            inside = line.strip()[3:] if inside is None else None
        elif inside == "":  # a plain block: commands, listings, sample output
            fenced.append(line)
        elif inside is None:
            prose.append(line)
    lines = [line.split("  #")[0].strip()
             for line in re.sub(r"\\\n\s*", " ", "\n".join(fenced)).splitlines()]
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", "\n".join(prose))]
    return [c for c in lines + spans
            if " " in c and (c.split()[0] in PROGRAMS or c.startswith(".venv/bin/"))]


def test_every_python_command_of_the_readme_runs_the_projects_environment():
    """A bare `python` is whatever the shell finds (often no NumPy, or no `python` at all):
    only the student's own commands, run in the student's environment, may use it."""
    commands = readme_commands(READMES[0])
    assert any(c.startswith(".venv/bin/python -m autograder grade ") for c in commands)
    students = set(readme_commands(RELEASE / "README.md"))
    bare = [c for c in commands if BARE_PYTHON.search(c) and c not in students]
    assert bare == [], bare


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_every_make_line_of_the_readme_runs_the_projects_environment():
    """`make -n` (STAMP= : the environment is not rebuilt) prints what each README make
    line runs: every command starts with .venv/bin/."""
    lines = sorted({c for c in readme_commands(READMES[0]) if c.startswith("make ")})
    assert "make release" in lines and any(c.startswith("make grade ") for c in lines)
    for line in lines:
        done = subprocess.run([*line.split(), "-n", "-s", "STAMP="], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{line}: {done.stderr}"
        ran = [c.strip() for c in done.stdout.replace("&&", "\n").splitlines() if c.strip()]
        assert ran and all(c.startswith(".venv/bin/") for c in ran), (line, ran)


def fresh_shell() -> dict[str, str]:
    """A new login's, with no settings file."""
    return conftest.fresh_shell("RNN_GRADER_CONFIG")


def _readme_line(start: str, **places) -> str:
    """README.md's first command that starts with `start`, placeholders filled in."""
    line = next(c for c in readme_commands(READMES[0]) if c.startswith(start))
    line = line.split(" [", 1)[0]  # a synopsis: its options are optional
    if not places:
        return line
    return re.sub(r"(?<![\w/.-])(" + "|".join(map(re.escape, places)) + r")(?![\w/-])",
                  lambda m: str(places[m[1]]), line)


def _shell(line: str) -> str:
    done = subprocess.run(line, shell=True, cwd=ROOT, env=fresh_shell(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def test_the_readmes_grading_lines_work_from_a_fresh_shell(tmp_path):
    results = tmp_path / "results.json"
    _shell(_readme_line(".venv/bin/python -m autograder grade ",
                        SUBMISSION=SOLUTIONS, **{"results.json": results}))
    assert re.search(r'"score": 100(\.0)?,', results.read_text())

    klass = tmp_path / "class"
    shutil.copytree(SOLUTIONS, klass / "alice", ignore=shutil.ignore_patterns("__pycache__"))
    with zipfile.ZipFile(klass / "bob.zip", "w") as zf:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            zf.write(SOLUTIONS / name, name)
    _shell(_readme_line(".venv/bin/python -m autograder grade-all ", SUBMISSIONS=klass,
                        DIR=tmp_path / "out"))
    grades = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert sorted(row.split(",")[0] for row in grades[1:]) == ["alice", "bob"]
    assert all(row.split(",")[1] in ("100", "100.0") for row in grades[1:]), grades


def test_the_readmes_config_line_works_from_a_fresh_shell(tmp_path):
    """On the settings example the README shows: the settings in force, each from it."""
    example = re.search(r"```toml\n(.*?)```", _text(READMES[0]), re.S).group(1)
    settings = tmp_path / "course.toml"
    settings.write_text(example, encoding="utf-8")
    printed = _shell(_readme_line(".venv/bin/python -m autograder config ", FILE=settings))
    assert re.search(rf"points\.rnn_backward += 15 +# {re.escape(str(settings))}$", printed,
                     re.M), printed


def test_the_readmes_self_check_from_the_project_works_from_a_fresh_shell():
    """The release's starter: every function still to write (exit status 1)."""
    line = _readme_line("cd assignment/rnn && ")
    done = subprocess.run(line, shell=True, cwd=ROOT, env=fresh_shell(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Self-check on the public cases: 0 of 16 passed." in done.stdout, done.stdout


def test_the_readmes_restore_line_gives_back_the_old_secret(tmp_path):
    """The upgrade note's `git show` line, writing into a temporary file instead of the
    secret in force."""
    line = _readme_line("git show ")
    if subprocess.run(["git", "cat-file", "-e", line.split()[2]], cwd=ROOT,
                      capture_output=True).returncode != 0:
        pytest.skip("this copy has no git history holding the old secret (optional)")
    restored = tmp_path / "secret.key"
    line = line.replace("> autograder/secret.key", f"> {restored}").replace(
        "chmod 600 autograder/secret.key", f"chmod 600 {restored}")
    assert line.count("autograder/secret.key") == 1, line  # the secret in force: untouched
    _shell(line)
    assert re.fullmatch(r"[0-9a-f]{64}\n?", restored.read_text())
    assert restored.stat().st_mode & 0o777 == 0o600
