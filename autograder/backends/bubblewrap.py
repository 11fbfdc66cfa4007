"""Bubblewrap (autograder/bwrap.py builds its command): the allow-list root, started as
the student user when the grader is root, never as root."""
import json
import os

from autograder import allowlist, bwrap
from autograder.backends.base import CHILD_DIR, NAMESPACES_OFF, Backend, Context


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
        """As root, bwrap starts as the student user; otherwise as the grader's user."""
        as_student = os.geteuid() == 0 and ctx.uid is not None
        return {"mode": self.name, "bwrap": bwrap.executable(), "tmpfs_bytes": ctx.tmpfs_bytes,
                "view": allowlist.interpreter_view((str(CHILD_DIR),)).to_json(),
                "as_student": as_student,
                "sandbox_uid": ctx.uid if as_student else os.getuid(),
                "sandbox_gid": ctx.gid if as_student else os.getgid()}

    def student_folder(self, folder: str) -> str:
        return bwrap.SUBMISSION

    def command(self, settings: dict, argv: list[str], folder: str) -> list[str]:
        return bwrap.command(settings, argv, folder)

    def preexec(self, settings: dict, folder: str):
        return bwrap.student_preexec(settings, folder)
