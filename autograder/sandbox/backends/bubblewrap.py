"""Bubblewrap (autograder/sandbox/bwrap.py builds its command): the allow-list root, started as
the student user when the grader is root, never as root."""
import atexit
import json
import os
import shutil
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

from autograder.sandbox import allowlist, bwrap
from autograder.sandbox.backends.base import CHILD_DIR, NAMESPACES_OFF, Backend, Context


class Bubblewrap(Backend):
    name, private_root, own_processes = "bwrap", True, 2  # bwrap's own two processes

    def unavailable(self, ctx: Context) -> str:
        if not ctx.namespaces:
            return NAMESPACES_OFF
        if not bwrap.executable():
            return "bubblewrap (bwrap) is not installed"
        if os.geteuid() == 0 and ctx.uid is None:  # it would map the sandbox onto root
            return "as root it needs a student user to start as (config.student_user)"
        return bwrap.works((json.dumps(self.settings(ctx), sort_keys=True),))

    def settings(self, ctx: Context) -> dict:
        """As root, bwrap starts as the student user; otherwise as the grader's user.
        The student user runs the worker's code from a copy it can read when the
        grader's own is private (run_autograder makes it so on Gradescope)."""
        as_student = os.geteuid() == 0 and ctx.uid is not None
        child_dir = public_child_dir() if as_student and not _readable(CHILD_DIR) \
            else str(CHILD_DIR)
        return {"mode": self.name, "bwrap": bwrap.executable(), "tmpfs_bytes": ctx.tmpfs_bytes,
                "view": allowlist.interpreter_view((child_dir,)).to_json(),
                "child_dir": child_dir, "as_student": as_student,
                "sandbox_uid": ctx.uid if as_student else os.getuid(),
                "sandbox_gid": ctx.gid if as_student else os.getgid()}

    def student_folder(self, folder: str) -> str:
        return bwrap.SUBMISSION

    def command(self, settings: dict, argv: list[str], folder: str) -> list[str]:
        return bwrap.command(settings, argv, folder)

    def preexec(self, settings: dict, folder: str):
        return bwrap.student_preexec(settings, folder)


def _readable(folder: Path) -> bool:
    """Can others read every file of folder (the walk down to it aside: bwrap.py's
    student_preexec makes that reachable)?"""
    return all(p.stat().st_mode & stat.S_IROTH for p in [folder, *folder.glob("*.py")]) \
        and bool(folder.stat().st_mode & stat.S_IXOTH)


@lru_cache(maxsize=None)
def public_child_dir() -> str:
    """A copy of the worker's code (child/*.py: no secret, the student kit ships it)
    that others may read, owned by this user, removed when this process ends. Its
    bytecode comes along where the grader's is compiled (the sources keep their times,
    so it stays valid): the student process then boots without compiling them."""
    folder = Path(tempfile.mkdtemp(prefix="rnn-child-")) / "child"
    folder.mkdir(mode=0o755)
    (folder / "__pycache__").mkdir(mode=0o755)
    for source in [*CHILD_DIR.glob("*.py"), *CHILD_DIR.glob("__pycache__/*.pyc")]:
        copy = folder / source.relative_to(CHILD_DIR)
        shutil.copy2(source, copy)
        copy.chmod(0o644)
    folder.parent.chmod(0o755)
    atexit.register(_remove, folder.parent, os.getpid())
    return str(folder)


def _remove(folder: Path, owner: int) -> None:
    if os.getpid() == owner:  # not in a process forked from the one that made it
        shutil.rmtree(folder, ignore_errors=True)
