"""Root without namespaces (some containers): the student runs as a uid of its own and
reads only what others may; no private root. The grader refuses while its own folders
are within that uid's reach, and says the exact command that puts them out of it."""
import ctypes
import os
import shutil
import stat
from pathlib import Path

import numpy as np

from autograder.sandbox.backends.base import Backend, Context

# Imported before the switch to the unprivileged user when that user cannot read the
# interpreter's own files (e.g. a Python under /root): what submissions use.
PRELOAD = ("copy", "math", "time", "random", "collections", "functools", "itertools",
           "typing", "dataclasses", "warnings", "json", "re", "pickle", "io", "threading",
           "subprocess", "socket", "ctypes", "signal", "atexit", "gc", "traceback",
           "inspect", "contextlib", "operator", "numbers", "statistics", "string", "heapq",
           "bisect", "struct", "pathlib", "glob", "abc", "enum", "types", "weakref",
           "textwrap", "pprint", "queue", "errno", "stat", "hashlib", "base64", "array",
           "datetime", "linecache", "tokenize", "tempfile", "shutil", "secrets", "fractions",
           "decimal", "difflib", "zlib", "csv", "copyreg", "locale", "platform", "logging",
           "argparse",
           # NumPy loads these lazily: load them while the files can still be read
           "numpy.random", "numpy.linalg", "numpy.fft", "numpy.lib.stride_tricks")
GRADER = Path(__file__).resolve().parents[3]  # the folder this grader runs from


class UserSwitch(Backend):
    name, switches_user = "user", True

    def unavailable(self, ctx: Context) -> str:
        return "" if ctx.uid is not None and hasattr(os, "fork") else \
            "the grader is not root, so it cannot switch to an unprivileged user"

    def settings(self, ctx: Context) -> dict:
        readable = world_readable(Path(os.__file__).parent) and \
            world_readable(Path(np.__file__).parent)
        return {"preload": [] if readable else list(PRELOAD)}

    def refusal(self, config, ctx: Context, why_not: list[str]) -> str | None:
        exposed = exposed_to(config, ctx.uid, ctx.gid)
        if not exposed:
            return None
        return (f"Refusing to grade: without namespaces the student's code runs as uid "
                f"{ctx.uid}, which can read {', '.join(exposed)}.\n"
                f"Make them unreachable to others first:\n"
                f"    chmod -R go-rwx {' '.join(exposed)}\n"
                f"or run where namespaces work (a container, or Gradescope), or pass "
                f"--no-isolation if you trust this code.")

    def after_kill(self, settings: dict, since: float) -> None:
        if settings.get("uid") is not None:
            remove_student_leftovers(settings["uid"], since)


def exposed_to(config, uid: int | None, gid: int | None) -> list[str]:
    """The outermost of the grader's folders uid may enter and of the copies of the
    reference and secret it may read."""
    found = set(readable_secrets(config))
    if uid is not None:
        found |= {str(f) for f in grader_folders(config) if enterable(f, uid, gid)}
    kept: list[str] = []
    for path in sorted(found, key=lambda p: (len(Path(p).parts), p)):
        if not any(Path(path).is_relative_to(k) for k in kept):
            kept.append(path)
    return sorted(kept)


def readable_secrets(config) -> list[str]:
    """The copies of the reference and the secret that others could read."""
    candidates = [config.solutions_dir, config.root / "autograder" / "secret.key",
                  *config.hidden_paths]
    return [str(p) for p in candidates if Path(p).exists() and any(
        world_readable(f) for f in [Path(p), *Path(p).rglob("*")] if f.is_file())]


def grader_folders(config) -> list[Path]:
    """The grader's own folders: its checkout (with .git, solutions, tests/submissions),
    the repository that holds it (a worktree's .git is a file naming it), the solutions,
    the folder this grader runs from and every other copy the settings name."""
    folders = [Path(config.root), Path(config.solutions_dir), *map(Path, config.hidden_paths),
               GRADER]
    git = Path(config.root) / ".git"
    if git.is_file():  # a worktree: "gitdir: /main/.git/worktrees/NAME"
        text = git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            folder = Path(config.root, text.split(":", 1)[1].strip()).resolve()
            common = folder / "commondir"
            folders += [folder, (folder / common.read_text().strip()).resolve()
                        if common.is_file() else folder]
    return [f for f in folders if f.exists()]


def enterable(path: Path, uid: int, gid: int | None) -> bool:
    """Can uid (group gid, no other group) walk into path? (Mode bits; ACLs aside.)"""
    real = Path(os.path.realpath(path))
    for folder in [*reversed(real.parents), real]:
        try:
            info = folder.stat()
        except OSError:
            return False
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
        if uid != 0 and not (info.st_mode >> shift) & 1:
            return False
    return True


def world_readable(path: Path) -> bool:
    """Can a user of no group of the owner read path (directories: list and enter)?"""
    path = path.resolve()
    for ancestor in [*reversed(path.parents), path]:
        try:
            mode = ancestor.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH and (ancestor != path or path.is_dir()):
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")  # writable by any user of the host
# System V IPC objects outlive their processes; /proc/sysvipc lists them. Per kind: the
# columns of the id, the creator's uid and the last change (ctime), and how to remove.
SYSV_IPC = {"shm": (1, 9, 13, "shmctl"), "sem": (1, 6, 9, "semctl"), "msg": (1, 9, 13, "msgctl")}
IPC_RMID = 0


def remove_student_leftovers(uid: int, since: float) -> None:
    """Mode "user" (no private root, no IPC namespace): remove what the student's uid
    made since `since` that would outlive it on the host: entries at the top of the
    shared writable folders (child/jail.py lets it write no byte into a file, but it can
    still make entries), and System V shared memory, semaphores and message queues
    (memory the host would keep for good). Run after every process of that uid in this
    grading is dead. A grading running at the same time as the same uid loses its own
    there too; an honest submission needs none of them."""
    for folder in SHARED_FOLDERS:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
                if info.st_uid != uid or info.st_ctime < since - 1:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
    for kind, (id_column, creator_column, ctime_column, control) in SYSV_IPC.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = [line.split() for line in f.readlines()[1:]]
            remove = getattr(ctypes.CDLL(None, use_errno=True), control)
        except (OSError, AttributeError):
            continue
        for row in rows:
            try:
                if int(row[creator_column]) == uid and int(row[ctime_column]) >= since - 1:
                    if kind == "sem":
                        remove(int(row[id_column]), 0, IPC_RMID)
                    else:
                        remove(int(row[id_column]), IPC_RMID, None)
            except (IndexError, ValueError):
                continue
