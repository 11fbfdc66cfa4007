"""Who the student process runs as and what it may see, chosen by what the machine allows.

Each mode is a backend of autograder/sandbox/backends/ (one class each, one protocol); this
module picks one, once, from the settings, and asks it. The modes, strongest first (config.isolation = "auto" takes the first that works here):
- "bwrap": bubblewrap (autograder/sandbox/bwrap.py) builds a root that holds only the
  allow-list (autograder/sandbox/allowlist.py: the interpreter, NumPy and their libraries,
  read-only), a copy of the submission on a size-capped tmpfs, a private capped /tmp,
  a /proc of its own PID namespace, no network. No other path of the host exists for
  the student, wherever the grader and its solutions are installed.
- "jail": where bwrap is not installed, our own jail (child/jail.py) builds the same
  root with the same list (pivot_root into a tmpfs); needs root or user namespaces.
- "user": root where the kernel refuses namespaces (Gradescope's containers may): the
  student runs as a uid of its own (student_uid.py), which reads only what others may
  read. It cannot hide world-readable files the grader does not know of; so the grader
  refuses unless its own folders (the checkout with .git, the solutions, the secret, the
  repository a worktree belongs to, config.hidden_paths) are out of others' reach, and
  prints the exact chmod to run; gradescope_files/run_autograder makes them so.
- "none": not root and no user namespaces (Ubuntu 24.04 restricts them by default):
  `grade` and `grade-all` refuse to run untrusted code, unless --no-isolation.
Never root outside: as root, every mode runs the student as its own unprivileged uid
(bwrap too: it is started as that user, bwrap.py); a grader that is not root, its own.
Always, besides: a syscall filter (syscall_filter.py: no socket, no ptrace, ...) where
libseccomp is installed, a separate process with limits for its whole tree (limits.py,
or rlimits), deadlines and a kill that leaves nothing, a minimal environment (no
RNN_GRADER_SECRET), data-only replies, and the reference never in the student process.
"""
import os
import sys
from functools import lru_cache
from pathlib import Path

from autograder.sandbox import backends, student_uid, syscall_filter
from autograder.sandbox.backends import user
from autograder.sandbox.backends.base import CHILD_DIR, Context, student_settings

MODES = backends.MODES
_warned: set[str] = set()
__all__ = ["CHILD_DIR", "MODES", "IsolationRefused", "choose", "settings", "refusal",
           "require", "prepare_folder", "warn_if_readable", "student_ids"]


class IsolationRefused(Exception):
    """No isolation is possible here and --no-isolation was not given."""


def student_ids(config) -> tuple[int | None, int | None]:
    """(uid, gid) the student process runs as, or (None, None) to stay the grader's user."""
    user_id = config.student_user
    if user_id == "auto":
        user_id = student_uid.lease(*config.student_uids) if os.geteuid() == 0 else None
    if user_id is None or os.geteuid() != 0:
        return None, None  # only root can switch users
    uid = int(user_id)
    return uid, int(config.student_group if config.student_group is not None else uid)


def _context(config) -> Context:
    uid, gid = student_ids(config)
    return Context(bool(config.namespaces), uid, gid, config.tmpfs_bytes)


def choose(config) -> tuple[str, list[str]]:
    """(the mode used, why each stronger mode is not available here)."""
    return _choose(config.isolation, _context(config))


@lru_cache(maxsize=None)
def _choose(wanted: str, ctx: Context) -> tuple[str, list[str]]:
    why_not, privileged = [], _privileged(ctx.uid)
    for backend in backends.BACKENDS:
        if wanted not in ("auto", backend.name):
            continue
        reason = privileged if backend is not backends.named(None) else ""
        reason = reason or backend.unavailable(ctx)
        if not reason:
            return backend.name, why_not
        why_not.append(f"{backend.name}: {reason}")
    return "none", why_not


def _privileged(uid: int | None) -> str:
    """Why uid must not be the student's ('' when it may): root, or the owner of the
    grader's own files."""
    owners = {0, user.GRADER.stat().st_uid, (user.GRADER / "autograder").stat().st_uid}
    if uid is not None and uid in owners:
        return (f"the student user {uid} is root or owns the grader's files "
                f"(config.student_user)")
    return ""


def settings(config) -> dict:
    """Everything the sandbox and the student process need (plain JSON data)."""
    mode, _ = choose(config)
    result = student_settings(backends.named(mode), _context(config))
    result.update(memory_bytes=config.memory_cap, processes=config.max_processes,
                  fallback_processes=config.fallback_processes, cgroups=config.cgroups)
    return result


def refusal(config) -> str | None:
    """Why `grade` / `grade-all` must not run untrusted code here (None: they may)."""
    if config.allow_no_isolation:
        return None
    mode, why_not = choose(config)
    return backends.named(mode).refusal(config, _context(config), why_not)


def require(config) -> None:
    """Raise IsolationRefused with the message of refusal(config), if any."""
    message = refusal(config)
    if message:
        raise IsolationRefused(message)


def prepare_folder(folder: Path, config) -> None:
    """Let the student's user read its folder (and nothing else of the grader's tmp)."""
    uid, gid = student_ids(config)
    if uid is None:
        return
    os.chmod(folder.parent, 0o711)  # enter, not list: the rest of it stays the grader's
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, gid)


def warn_if_readable(config, mode: str) -> None:
    """Say once what the student process could do that the commands would have refused
    (this is for library callers): run without the syscall filter; without a private
    root (mode: what settings() chose), read the reference or the secret."""
    backend, (uid, gid) = backends.named(mode), student_ids(config)
    if backend.filtered and not syscall_filter.program_hex()[0] and "filter" not in _warned:
        _warned.add("filter")
        print(f"warning: no syscall filter for the student process "
              f"({syscall_filter.program_hex()[1]}): in mode {mode!r} it could open "
              "sockets (without namespaces: reach this machine's local services) and use "
              "ptrace; see the README, Isolation", file=sys.stderr)
    if backend.private_root:
        return
    exposed = user.exposed_to(config, uid, gid) if uid is not None else [
        str(p) for p in (config.solutions_dir, config.root / "autograder" / "secret.key",
                         *config.hidden_paths) if Path(p).exists()]
    message = ", ".join(exposed)
    if exposed and message not in _warned:
        _warned.add(message)
        who = "the grader's own user" if uid is None else f"uid {uid}"
        print(f"warning: student code ran as {who} without a private root and could "
              f"read {message}; see autograder/sandbox/isolation.py", file=sys.stderr)
