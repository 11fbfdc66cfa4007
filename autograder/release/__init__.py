"""`make release`: solutions/ + source_notebooks/ -> assignment/<name>, then a leak scan.

Phases, each in its own module:
    starter.prepare      reference .py -> starters (regions -> raising stubs) + copies
    leaks.collect        the lines students must never see, from every source
    notebook.generate    the real `nbgrader generate_assignment`, in a scratch course
    leaks.scan           every released file, before anything is installed
    notebook.register    the assignment and its cells into the course's nbgrader gradebook
                         (only for the course's own release folder, assignment/)
    _install             swap the finished folder into place

Everything is built in a temporary folder; assignment/<name> is replaced only once the
scan passed, so a failed release leaves the previous one as it was.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.config import Config
from autograder.release import kit, leaks, notebook, starter, student_files
from autograder.secret import existing_secret
from autograder.release.errors import (BannerError, LeakError, MarkerError, NotebookError,
                                       ReleaseError, StarterError)

__all__ = ["release", "build", "ReleaseError", "MarkerError", "BannerError", "StarterError",
           "NotebookError", "LeakError"]


LOCAL_DATA = ("datasets",)  # folders in the release that belong to the user, not to us


def release(config: Config, release_dir: Path | None = None) -> int:
    """Build and install the student release; print a summary. Exit code: 0 or 1."""
    release_dir = Path(release_dir if release_dir is not None else config.release_dir)
    target = release_dir / config.assignment
    try:
        own_folder = release_dir.resolve() == Path(config.release_dir).resolve()
        lines = build(config, target, register=own_folder)
    except ReleaseError as err:
        print(f"release FAILED: {err}", file=sys.stderr)
        print(f"{_show(target, config.root)} was left unchanged.", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def build(config: Config, target: Path, register: bool = False) -> list[str]:
    """Build the release into a scratch folder, scan it, install it at `target`; with
    `register`, record it in the course's nbgrader gradebook first (a release built
    anywhere else, e.g. by the tests, leaves the instructor's gradebook alone).

    Returns the summary lines; raises a ReleaseError (target untouched) on any failure.
    """
    solution_dir = config.solutions_dir / config.assignment
    source_dir = config.source_dir / config.assignment

    def label(path: Path) -> str:
        return _show(path, config.root)

    files = starter.prepare(solution_dir, config.student_modules, label(solution_dir))
    secrets = leaks.collect_secrets(
        py_files=sorted(solution_dir.glob("*.py")),
        notebooks=sorted(source_dir.glob("*.ipynb")), label=label)
    secret = existing_secret()  # looked for, never made: the release does not depend on it
    if secret:
        secrets[leaks.normalise(secret.decode())] = "the grading secret"
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        stage = Path(scratch) / config.assignment
        notebooks = notebook.generate(config.source_dir, config.assignment, stage)
        for file in files:
            path = stage / file.name
            path.unlink(missing_ok=True)  # never write through a copied symlink
            path.write_bytes(file.data)
        kit_files = kit.write_kit(stage, solution_dir)
        docs = student_files.write_student_files(stage)  # README.md, requirements.txt
        report = leaks.scan(stage, secrets, label=lambda p: str(p.relative_to(stage)))
        written = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
        if register:
            notebook.register(config.root, config.source_dir, config.assignment)
        _install(stage, target)

    summary = [f"release: {_show(target, config.root)}/ ({len(written)} files)"]
    for name in notebooks:
        summary.append(f"  {name:<22} nbgrader generate_assignment")
    for file in files:
        what = (f"starter, {len(file.qualnames)} regions replaced: {', '.join(file.qualnames)}"
                if file.is_starter else "copied unchanged")
        summary.append(f"  {file.name:<22} {what}")
    summary.append(f"  {'rnnkit/':<22} self-check kit ({len(kit_files)} files): "
                   "python -m autograder check")
    if register:
        summary.append(f"  {'gradebook':<22} {config.assignment} and its cells registered for "
                       "nbgrader autograde (the course's nbgrader database)")
    others = sorted(set(written) - set(notebooks) - {file.name for file in files}
                    - set(kit_files) - set(docs))
    if others:
        summary.append(f"  other files from {label(source_dir)}: {', '.join(others)}")
    regions = sum(len(file.qualnames) for file in files)
    summary.append(f"{regions} solution regions replaced; leak scan OK ({report.files} files, "
                   f"{report.secrets} solution / hidden-test lines looked for)")
    return summary


def _install(stage: Path, target: Path) -> None:
    """Replace `target` by a copy of `stage`: copy next to it, then two renames."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.incoming-{os.getpid()}")
    outgoing = target.with_name(f".{target.name}.outgoing-{os.getpid()}")
    try:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(stage, incoming)
        if target.exists():
            _carry_over_local_data(target, incoming)
            os.rename(target, outgoing)
        try:
            os.rename(incoming, target)
        except OSError:
            if outgoing.exists():
                os.rename(outgoing, target)  # put the previous release back
            raise
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.rmtree(outgoing, ignore_errors=True)


def _carry_over_local_data(old: Path, new: Path) -> None:
    """Keep what `make data` put next to the notebook (git-ignored, not part of the release)."""
    for name in LOCAL_DATA:
        if (old / name).exists() and not (new / name).exists():
            os.rename(old / name, new / name)


def _show(path: Path, root: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)
