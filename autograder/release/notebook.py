"""The student notebook(s): the real `nbgrader generate_assignment`, twice.

generate   in a throw-away course directory (a copy of source_notebooks/<name>, no
           gradebook, no user Jupyter config), so nothing stray lands in the repository
           and a failed run leaves assignment/ untouched; its release folder is copied
           to `dest`.
register   once the release is installed: the same command in the course directory
           itself (its nbgrader_config.py, its gradebook), writing into a throw-away
           release folder, so that the gradebook holds the assignment, its notebooks
           and their cells exactly as released and `nbgrader autograde` can grade.
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


def register(course_root: Path, source_dir: Path, assignment: str) -> None:
    """Record `assignment` and its notebooks' cells in the gradebook of `course_root`."""
    with tempfile.TemporaryDirectory(prefix="nbgrader-register-") as scratch:
        release = Path(scratch) / "release"
        _run_nbgrader(Path(course_root), assignment, release, [
            f"--CourseDirectory.source_directory={Path(source_dir).resolve()}",
            f"--CourseDirectory.release_directory={release}"])


def _run_nbgrader(course: Path, assignment: str, release: Path | None = None,
                  options: list[str] | None = None) -> None:
    """Run generate_assignment in `course`; its release must appear in `release`."""
    release = release if release is not None else course / "release"
    if options is None:  # the scratch course: nbgrader's default layout, no gradebook
        options = ["--no-db", f"--CourseDirectory.root={course}",
                   "--CourseDirectory.source_directory=source",
                   "--CourseDirectory.release_directory=release"]
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
               "--force", "--log-level=WARN", *options]
    env = dict(os.environ)
    # No ~/.jupyter/nbgrader_config.py: only the settings of the course run in (its own
    # nbgrader_config.py, which nbgrader reads from the working directory).
    env["JUPYTER_CONFIG_DIR"] = str(release.parent / ".jupyter")
    env.pop("JUPYTER_CONFIG_PATH", None)
    # nbgrader's gradebook runs the `alembic` command of nbgrader's environment by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not (release / assignment).is_dir():
        output = (done.stdout + done.stderr).strip()
        tail = "\n".join(output.splitlines()[-30:])
        raise NotebookError(f"nbgrader generate_assignment {assignment} failed in {course} "
                            f"(exit code {done.returncode}):\n{tail}")
