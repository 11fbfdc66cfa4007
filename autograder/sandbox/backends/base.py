"""The protocol every isolation backend follows, and what they share.

A backend is one way of fencing the student process in (bubblewrap, the own jail, a
user switch, nothing). The grader asks it, through isolation.py: does it work here
(`unavailable`), what the student process needs (`settings`), may a grading run
(`refusal`); and, for each student process that sandbox.py starts: the folder the
process sees (`student_folder`), the command (`command`), the step between fork and
exec (`preexec`), and what to clean after it (`after_kill`).
"""
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import allowlist, syscall_filter

CHILD_DIR = Path(__file__).resolve().parent.parent / "child"
NAMESPACES_OFF = "namespaces are turned off (config.namespaces)"


@dataclass(frozen=True)
class Context:
    """What a backend decides by (hashable: its probes are cached by it)."""
    namespaces: bool  # config.namespaces: False never uses them
    uid: int | None  # the student's uid and gid, None: stay the grader's user
    gid: int | None
    tmpfs_bytes: int  # size of each of the student's tmpfs


class Backend:
    """No isolation: the defaults every hook falls back to."""
    name = "none"
    private_root = False  # the student process sees only the allow-list
    switches_user = False  # child/jail.py drops to the student's uid (and sets NPROC after)
    filtered = True  # the syscall filter is loaded in the student process
    own_processes = 0  # its own processes that count against the student's RLIMIT_NPROC

    def unavailable(self, ctx: Context) -> str:
        """'' when it works on this machine, else why not (probed, not guessed)."""
        return ""

    def settings(self, ctx: Context) -> dict:
        """Its own entries of the student process's settings (plain JSON data)."""
        return {}

    def refusal(self, config, ctx: Context, why_not: list[str]) -> str | None:
        """Why `grade` must not run untrusted code with it here (None: it may)."""
        return None

    def student_folder(self, folder: str) -> str:
        return folder

    def command(self, settings: dict, argv: list[str], folder: str) -> list[str]:
        return argv

    def preexec(self, settings: dict, folder: str):
        """None, or a callable run as the grader's user between fork and exec (last)."""
        return None

    def after_kill(self, settings: dict, since: float) -> None:
        """After every process of the student is dead."""


def student_settings(backend: Backend, ctx: Context) -> dict:
    """Everything child/jail.py needs to fence the student process in with `backend`."""
    view = allowlist.interpreter_view((str(CHILD_DIR),))
    switch = backend.switches_user
    return {"mode": backend.name, "uid": ctx.uid if switch else None,
            "gid": ctx.gid if switch else None, "view": view.to_json(),
            "tmpfs_bytes": ctx.tmpfs_bytes, "preload": [],
            "syscall_filter": syscall_filter.program_hex()[0] if backend.filtered else None,
            **backend.settings(ctx)}
