"""The student notebook(s): the real `nbgrader generate_assignment`, run in a scratch course.

nbgrader works in a throw-away course directory (a copy of source_notebooks/<name>, no
gradebook, no user Jupyter config), so nothing stray lands in the repository and a failed
run leaves assignment/ untouched. Its release folder is then copied to `dest`.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.release.errors import NotebookError

# What never travels from the source folder to students (nbgrader skips most of it too).
IGNORED = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store", "gradebook.db")


def generate(source_dir: Path, assignment: str, dest: Path) -> list[str]:
    """Release `source_dir/<assignment>` into `dest` (created); the notebooks' names."""
    source = source_dir / assignment
    notebooks = sorted(path.name for path in source.glob("*.ipynb")) if source.is_dir() else []
    if not notebooks:
        raise NotebookError(f"{source}: no source notebook (*.ipynb) to release")
    with tempfile.TemporaryDirectory(prefix="nbgrader-course-") as course:
        course = Path(course)
        shutil.copytree(source, course / "source" / assignment,
                        ignore=shutil.ignore_patterns(*IGNORED))
        _run_nbgrader(course, assignment)
        shutil.copytree(course / "release" / assignment, dest, dirs_exist_ok=True)
    return notebooks


def _run_nbgrader(course: Path, assignment: str) -> None:
    command = [
        sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
        "--force", "--no-db", "--log-level=WARN",
        f"--CourseDirectory.root={course}",
        "--CourseDirectory.source_directory=source",
        "--CourseDirectory.release_directory=release",
    ]
    env = dict(os.environ)
    # Only this course's settings: no ~/.jupyter/nbgrader_config.py, no repo config.
    env["JUPYTER_CONFIG_DIR"] = str(course / ".jupyter")
    env.pop("JUPYTER_CONFIG_PATH", None)
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not (course / "release" / assignment).is_dir():
        output = (done.stdout + done.stderr).strip()
        tail = "\n".join(output.splitlines()[-30:])
        raise NotebookError(f"nbgrader generate_assignment {assignment} failed "
                            f"(exit code {done.returncode}):\n{tail}")
