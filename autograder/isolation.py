"""Who the student process runs as and what it may see, chosen by what the machine allows.

The modes, strongest first (config.isolation = "auto" takes the first that works here):
- "bwrap": bubblewrap (autograder/bwrap.py) builds a root that holds only the
  allow-list (autograder/allowlist.py: the interpreter, NumPy and their libraries,
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
import json
import os
import stat
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder import allowlist, student_uid, syscall_filter
from autograder import bwrap as bubblewrap

MODES = ("bwrap", "jail", "user", "none")
CHILD_DIR = Path(__file__).resolve().parent / "child"
# Imported before the switch to the unprivileged user when that user cannot read the
# interpreter's own files (e.g. a Python under /root in "user" mode): what submissions use.
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
_warned: set[str] = set()


class IsolationRefused(Exception):
    """No isolation is possible here and --no-isolation was not given."""


def student_ids(config) -> tuple[int | None, int | None]:
    """(uid, gid) the student process runs as, or (None, None) to stay the grader's user."""
    user = config.student_user
    if user == "auto":
        user = student_uid.lease(*config.student_uids) if os.geteuid() == 0 else None
    if user is None or os.geteuid() != 0:
        return None, None  # only root can switch users
    uid = int(user)
    return uid, int(config.student_group if config.student_group is not None else uid)


def choose(config) -> tuple[str, list[str]]:
    """(the mode used, why each stronger mode is not available here)."""
    return _choose(config.isolation, bool(config.namespaces), student_ids(config),
                   _limit_key(config))


@lru_cache(maxsize=None)
def _choose(wanted: str, namespaces: bool, ids: tuple, limit_key: tuple):
    why_not = []
    for mode in MODES:
        if wanted not in ("auto", mode):
            continue
        reason = _unavailable(mode, namespaces, ids, limit_key)
        if not reason:
            return mode, why_not
        why_not.append(f"{mode}: {reason}")
    return "none", why_not


def _unavailable(mode: str, namespaces: bool, ids: tuple, limit_key: tuple) -> str:
    """'' when `mode` works on this machine, else why not (probed, not guessed)."""
    uid, gid = ids
    if mode == "bwrap":
        if not namespaces:
            return "namespaces are turned off (config.namespaces)"
        if not bubblewrap.executable():
            return "bubblewrap (bwrap) is not installed"
        if os.geteuid() == 0 and uid is None:  # bwrap as root maps the sandbox onto root
            return "as root it needs a student user to start as (config.student_user)"
        settings = _bwrap_settings(ids, limit_key)
        return bubblewrap.works((json.dumps(settings, sort_keys=True),))
    if mode == "jail":
        if not namespaces:
            return "namespaces are turned off (config.namespaces)"
        return _jail_works(json.dumps(_child_settings("jail", ids, limit_key)))
    if mode == "user":
        return "" if uid is not None and hasattr(os, "fork") else \
            "the grader is not root, so it cannot switch to an unprivileged user"
    return ""


def settings(config) -> dict:
    """Everything the sandbox and the student process need (plain JSON data)."""
    mode, _ = choose(config)
    ids, limit_key = student_ids(config), _limit_key(config)
    result = _child_settings(mode, ids, limit_key)
    if mode == "bwrap":
        result.update(_bwrap_settings(ids, limit_key))
    result.update(memory_bytes=config.memory_cap, processes=config.max_processes,
                  fallback_processes=config.fallback_processes, cgroups=config.cgroups)
    return result


def refusal(config) -> str | None:
    """Why `grade` / `grade-all` must not run untrusted code here (None: they may)."""
    if config.allow_no_isolation:
        return None
    mode, why_not = choose(config)
    if mode in ("bwrap", "jail"):
        return None
    if mode == "user":
        exposed = _outermost({*_readable_secrets(config), *_enterable_folders(config)})
        if not exposed:
            return None
        return (f"Refusing to grade: without namespaces the student's code runs as uid "
                f"{student_ids(config)[0]}, which can read {', '.join(exposed)}.\n"
                f"Make them unreachable to others first:\n"
                f"    chmod -R go-rwx {' '.join(exposed)}\n"
                f"or run where namespaces work (a container, or Gradescope), or pass "
                f"--no-isolation if you trust this code.")
    reasons = "; ".join(why_not) or "no isolation is available"
    return ("Refusing to grade: the student's code would run as your own user, able to "
            "read the hidden solutions and the grading secret.\n"
            f"Why: {reasons}.\n"
            "Instead: run the grader as root (sudo), in a container (e.g. docker run "
            "--privileged, or any container where you are root), or on Gradescope "
            "(make autograder-zip); or pass --no-isolation if you trust this code.")


def require(config) -> None:
    """Raise IsolationRefused with the message of refusal(config), if any."""
    message = refusal(config)
    if message:
        raise IsolationRefused(message)


# ---- the pieces ------------------------------------------------------------------------

def _limit_key(config) -> tuple:
    return (config.tmpfs_bytes, config.memory_cap, config.max_processes, config.cgroups,
            tuple(str(p) for p in config.hidden_paths))


def _child_settings(mode: str, ids: tuple, limit_key: tuple) -> dict:
    """What child/jail.py needs for `mode`."""
    uid, gid = ids
    view = allowlist.interpreter_view((str(CHILD_DIR),))
    preload = []
    if mode == "user" and uid is not None and not (
            _world_readable(Path(os.__file__).parent)
            and _world_readable(Path(np.__file__).parent)):
        preload = list(PRELOAD)
    return {"mode": mode, "uid": uid if mode in ("jail", "user") else None,
            "gid": gid if mode in ("jail", "user") else None,
            "view": view.to_json(), "tmpfs_bytes": limit_key[0], "preload": preload,
            "syscall_filter": syscall_filter.program_hex()[0] if mode != "none" else None}


def _bwrap_settings(ids: tuple, limit_key: tuple) -> dict:
    """As root, bwrap starts as the student user (never as root: bwrap.py); otherwise as
    the grader's own user."""
    uid, gid = ids
    view = allowlist.interpreter_view((str(CHILD_DIR),))
    as_student = os.geteuid() == 0 and uid is not None
    return {"mode": "bwrap", "bwrap": bubblewrap.executable(), "view": view.to_json(),
            "tmpfs_bytes": limit_key[0], "as_student": as_student,
            "sandbox_uid": uid if as_student else os.getuid(),
            "sandbox_gid": gid if as_student else os.getgid()}


@lru_cache(maxsize=None)
def _jail_works(child_settings: str) -> str:
    """'' when child/jail.py can build its root here (one throwaway process)."""
    if not hasattr(os, "fork") or not os.path.isdir("/proc/self"):
        return "needs Linux (fork, /proc, namespaces)"
    with tempfile.TemporaryDirectory(prefix="rnn-jail-probe-") as folder:
        try:
            done = subprocess.run([sys.executable, "-I", "-B", str(CHILD_DIR / "jail.py"),
                                   "--probe", child_settings, folder],
                                  capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the jail could not start: {exc}"
    if done.returncode == 0:
        return ""
    detail = done.stderr.decode(errors="replace").strip().splitlines()
    return ("the kernel refuses namespaces to this user"
            + (f" ({detail[-1][:200]})" if detail else ""))


def _readable_secrets(config) -> list[str]:
    """The copies of the reference and the secret that the student user could read."""
    uid, _ = student_ids(config)
    candidates = [config.solutions_dir, config.root / "autograder" / "secret.key",
                  *config.hidden_paths]
    return [str(p) for p in candidates if Path(p).exists() and (uid is None or any(
        _world_readable(f) for f in [Path(p), *Path(p).rglob("*")] if f.is_file()))]


def grader_folders(config) -> list[Path]:
    """The grader's own folders: its checkout (with .git, solutions, tests/submissions),
    the repository that holds it (a worktree's .git is a file naming it), the solutions
    and every other copy the settings name."""
    folders = [Path(config.root), Path(config.solutions_dir), *map(Path, config.hidden_paths),
               Path(__file__).resolve().parent.parent]  # where this grader runs from
    git = Path(config.root) / ".git"
    if git.is_file():  # a worktree: "gitdir: /main/.git/worktrees/NAME"
        text = git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            folder = Path(config.root, text.split(":", 1)[1].strip()).resolve()
            common = folder / "commondir"
            folders += [folder, (folder / common.read_text().strip()).resolve()
                        if common.is_file() else folder]
    return [f for f in folders if f.exists()]


def _outermost(paths) -> list[str]:
    kept: list[str] = []
    for path in sorted(paths, key=lambda p: (len(Path(p).parts), p)):
        if not any(Path(path).is_relative_to(k) for k in kept):
            kept.append(path)
    return sorted(kept)


def _enterable_folders(config) -> list[str]:
    """The grader's folders that the student uid could enter."""
    uid, gid = student_ids(config)
    if uid is None:
        return []
    return [str(f) for f in grader_folders(config) if enterable(f, uid, gid)]


def enterable(path: Path, uid: int, gid: int) -> bool:
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


def _world_readable(path: Path) -> bool:
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


def prepare_folder(folder: Path, config) -> None:
    """Let the student's user read its folder (and nothing else of the grader's tmp)."""
    uid, gid = student_ids(config)
    if uid is None:
        return
    os.chmod(folder.parent, 0o711)  # enter, not list: the rest of it stays the grader's
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, gid)


def warn_if_readable(config, mode: str) -> None:
    """Without a private root (mode: what settings() chose), say once what the student
    process could read (the commands refuse before grading in that case; this is for
    library callers)."""
    _warn_unfiltered(mode)
    if mode in ("bwrap", "jail"):
        return
    exposed = _readable_secrets(config)
    message = ", ".join(exposed)
    if exposed and message not in _warned:
        _warned.add(message)
        uid, _ = student_ids(config)
        who = "the grader's own user" if uid is None else f"uid {uid}"
        print(f"warning: student code ran as {who} without a private root and could "
              f"read {message}; see autograder/isolation.py", file=sys.stderr)


def _warn_unfiltered(mode: str) -> None:
    """Say once when the student process ran without the syscall filter, and why."""
    program, why = syscall_filter.program_hex()
    if mode == "none" or program or "filter" in _warned:
        return
    _warned.add("filter")
    print(f"warning: no syscall filter for the student process ({why}): in mode "
          f"{mode!r} it could open sockets (in \"user\" mode: reach this machine's local "
          "services) and use ptrace; see the README, Isolation", file=sys.stderr)
